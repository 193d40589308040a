//! The screen with a driver behind it: which thread runs what, on which runtime, through which
//! channels. The one place this wiring is written, for live sessions (and the demo) and replays.
//!
//! Owns: the driver's thread and runtime, the view/command/event channels, the session's
//! [`Stop`] (given by Ctrl-C/SIGTERM, and when the screen closes). Must not touch: what the
//! driver or the screen do.
//!
//! ```text
//!  thread "engine" | "replay": driver ──Arc<View> (watch)──▶ main thread: ui::run
//!                                     ◀──── Command ────────
//!                                     ───── Event ─────────▶
//!  Stop (Ctrl-C, SIGTERM, screen closed) ──▶ Shutdown of both
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use microstate::config::{Config, EndpointsConfig};
use microstate_core::num::Symbol;
use microstate_core::view::{Source, View};
use microstate_drive::command;
use microstate_drive::live::{self, LiveOptions, LiveOutcome};
use microstate_drive::publish::Publisher;
use microstate_drive::recording::{RecordSetup, Recording};
use microstate_drive::replay::{Player, play_view};
use microstate_drive::shutdown::Stop;
use microstate_exchange::ExchangeConfig;

use super::report;
use super::setup::{alert_rules, runtime, ui_options};

/// How often the driver publishes: the screen's frame rate.
fn view_every(cfg: &Config) -> Duration {
    Duration::from_secs_f64(1.0 / f64::from(cfg.ui.fps.max(1)))
}

/// A live session on the screen: the engine and its sockets on their own thread and runtime
/// (with `local`, a local exchange they connect to: where its klines come from is shown beside
/// the context), the screen on this one; quitting the screen stops the session, `duration`
/// stops only the session (its last view stays up).
pub fn live(
    cfg: Config,
    symbols: Vec<Symbol>,
    source: Source,
    setup: RecordSetup,
    recording: Option<Recording>,
    local: Option<ExchangeConfig>,
    duration: Option<Duration>,
) -> anyhow::Result<LiveOutcome> {
    let (vtx, vrx) = tokio::sync::watch::channel(Arc::new(View::default()));
    let (screen, driver) = command::live_channel();
    let stop = Stop::new();
    let session = stop.shutdown();
    let every = view_every(&cfg);
    let ui_opts = ui_options(&cfg)?;
    let rules = alert_rules(&cfg);
    let engine = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || -> anyhow::Result<LiveOutcome> {
            runtime()?.block_on(async move {
                let (cfg, xh, sources) = match local {
                    Some(x) => {
                        let sources = x.kline_sources();
                        let h = microstate_exchange::start(x).await?;
                        let cfg = Config {
                            endpoints: EndpointsConfig::local(&h.ws_base(), &h.rest_base()),
                            ..cfg
                        };
                        (cfg, Some(h), sources)
                    }
                    None => (cfg, None, Default::default()),
                };
                let (models, learner) = super::setup::live_models(&cfg);
                let mut opts = LiveOptions::new(cfg, symbols);
                opts.recording = recording;
                opts.record = Some(setup);
                opts.models = Some(models);
                opts.learner = learner;
                opts.history_sources = sources;
                let view = Publisher::new(vtx, every, source).with_alerts(rules);
                let shutdown = session.or_after(duration);
                let out = live::run_with(opts, Some(driver), Some(view), shutdown).await;
                if let Some(h) = xh {
                    h.shutdown().await;
                }
                Ok(out)
            })
        })
        .context("starting the engine thread")?;
    let shown = runtime()?.block_on(async {
        stop.on_ctrl_c_or_terminate();
        microstate::ui::run(vrx, screen, ui_opts, stop.shutdown()).await
    });
    stop.stop();
    let outcome = engine
        .join()
        .map_err(|_| anyhow::anyhow!("the engine thread panicked"))??;
    report::recordings(&outcome.recordings)?;
    shown?;
    Ok(outcome)
}

/// A replay on the screen: the player on its own thread, the screen on this one. Returns the
/// player where the screen left it.
pub fn replay(
    mut player: Player,
    files: &[PathBuf],
    cfg: &Config,
    epoch: std::time::Instant,
) -> anyhow::Result<Player> {
    let (vtx, vrx) = tokio::sync::watch::channel(Arc::new(View::default()));
    let (screen, driver) = command::replay_channel();
    let stop = Stop::new();
    let session = stop.shutdown();
    let every = view_every(cfg);
    let rules = alert_rules(cfg);
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name().map_or_else(
                || f.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let source = Source::Replay {
        files: names.join(", "),
    };
    let engine = std::thread::Builder::new()
        .name("replay".into())
        .spawn(move || {
            let mut view = Publisher::new(vtx, every, source).with_alerts(rules);
            let r = play_view(&mut player, &driver, epoch, &mut view, &session);
            driver.events.send(command::Event::Ended);
            (player, r)
        })
        .context("starting the replay thread")?;
    let shown = runtime()?.block_on(async {
        stop.on_ctrl_c_or_terminate();
        microstate::ui::run(vrx, screen, ui_options(cfg)?, stop.shutdown()).await
    });
    stop.stop();
    let (player, r) = engine
        .join()
        .map_err(|_| anyhow::anyhow!("the replay thread panicked"))?;
    shown?;
    r?;
    Ok(player)
}
