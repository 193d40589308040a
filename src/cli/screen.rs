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

/// A consumer of a collector's NATS stream on the screen (`live --source nats://…`): the
/// consumer and its engine on their own thread and runtime, the screen on this one; the
/// screen's commands have nothing to act on (no sockets, no recording).
pub fn bus(
    cfg: Config,
    symbols: Vec<Symbol>,
    url: String,
    start: microstate_io::bus::Start,
    duration: Option<Duration>,
) -> anyhow::Result<microstate_drive::bus_source::BusOutcome> {
    use microstate_drive::bus_source::{self, ConsumeOptions, Until};
    let (vtx, vrx) = tokio::sync::watch::channel(Arc::new(View::default()));
    let (screen, _driver) = command::live_channel();
    let stop = Stop::new();
    let mut session = stop.shutdown().or_after(duration);
    let every = view_every(&cfg);
    let ui_opts = ui_options(&cfg)?;
    let source = Source::Live {
        endpoint: url.clone(),
    };
    let engine = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || -> anyhow::Result<bus_source::BusOutcome> {
            runtime()?.block_on(async move {
                let view = Publisher::new(vtx, every, source);
                Ok(bus_source::consume(
                    &cfg,
                    &url,
                    &symbols,
                    ConsumeOptions {
                        start,
                        until: Until::Stopped,
                        status_every: None,
                    },
                    Some(view),
                    async move { session.recv().await },
                )
                .await?)
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
    shown?;
    Ok(outcome)
}

/// A live session on the screen: the engine and its sockets on their own thread and runtime
/// (with `local`, a local exchange they connect to: where its klines come from is shown beside
/// the context), the screen on this one; quitting the screen stops the session, `duration`
/// stops only the session (its last view stays up).
// Each argument is one independent choice of its two callers (live, demo).
#[allow(clippy::too_many_arguments)]
pub fn live(
    cfg: Config,
    symbols: Vec<Symbol>,
    source: Source,
    setup: RecordSetup,
    recording: Option<Recording>,
    local: Option<ExchangeConfig>,
    duration: Option<Duration>,
    publish: Option<String>,
) -> anyhow::Result<LiveOutcome> {
    // `[api]` with the command line's flags already laid over it.
    // `[api]` with the command line's flags already laid over it; bound (and said) before
    // the screen takes the terminal.
    let api = match microstate_api::ApiOptions::from_config(&cfg.api)? {
        Some(a) => Some((super::serve::bind(a.clone())?, a)),
        None => None,
    };
    let (vtx, vrx) = tokio::sync::watch::channel(Arc::new(View::default()));
    let api_views = vrx.clone();
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
                let bus = match &publish {
                    Some(url) => Some(
                        microstate_io::bus::BusPublisher::start(url, &cfg.nats, cfg.live.market)
                            .await?,
                    ),
                    None => None,
                };
                let mut opts = LiveOptions::new(cfg, symbols);
                opts.bus = bus;
                opts.recording = recording;
                opts.record = Some(setup);
                opts.models = Some(models);
                opts.learner = learner;
                opts.history_sources = sources;
                let mut view = Publisher::new(vtx, every, source).with_alerts(rules);
                // The API runs on this runtime beside the driver, until the screen quits.
                let server = match api {
                    None => None,
                    Some((bound, a)) => {
                        let events = microstate_api::event_channel(&a.cfg);
                        view = view.with_events(events.clone());
                        Some(bound.serve(api_views, events, session.clone())?)
                    }
                };
                let shutdown = session.or_after(duration);
                let out = live::run_with(opts, Some(driver), Some(view), shutdown).await;
                if let Some(h) = server {
                    let _ = tokio::time::timeout(Duration::from_secs(3), h.join()).await;
                }
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
    api: Option<microstate_api::ApiOptions>,
) -> anyhow::Result<Player> {
    let (vtx, vrx) = tokio::sync::watch::channel(Arc::new(View::default()));
    let api_views = vrx.clone();
    let events = api.as_ref().map(|a| microstate_api::event_channel(&a.cfg));
    let bound = api.map(super::serve::bind).transpose()?;
    let serves_api = bound.is_some();
    if let Some(tx) = &events {
        microstate_drive::replay::attach_event_tap(&mut player, tx.clone());
    }
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
            let mut view = Publisher::new(vtx, every, source)
                .with_alerts(rules)
                .with_api(serves_api);
            let r = play_view(&mut player, &driver, epoch, &mut view, &session);
            driver.events.send(command::Event::Ended);
            (player, r)
        })
        .context("starting the replay thread")?;
    let shown = runtime()?.block_on(async {
        stop.on_ctrl_c_or_terminate();
        // The API runs on the screen's runtime (the player is a plain thread), until it quits.
        let server = match (bound, events) {
            (Some(b), Some(events)) => Some(b.serve(api_views, events, stop.shutdown())?),
            _ => None,
        };
        let r = microstate::ui::run(vrx, screen, ui_options(cfg)?, stop.shutdown()).await;
        stop.stop();
        if let Some(h) = server {
            let _ = tokio::time::timeout(Duration::from_secs(3), h.join()).await;
        }
        r
    });
    stop.stop();
    let (player, r) = engine
        .join()
        .map_err(|_| anyhow::anyhow!("the replay thread panicked"))?;
    shown?;
    r?;
    Ok(player)
}
