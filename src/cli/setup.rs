//! What every subcommand sets up the same way: logging, whether the screen opens, the async
//! runtime, the screen's settings, and the parsers of argument values.
//!
//! Owns: those few decisions. Must not touch: what a subcommand does.

use std::time::Duration;

use anyhow::Context;
use microstate::config::Config;
use microstate_core::num::Symbol;
use microstate_drive::replay::TimeArg;

/// Logs go to stderr, or to `file` while the screen runs (the screen owns the terminal).
pub fn init_logging(file: Option<&std::path::Path>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("MICROSTATE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(if file.is_some() { "info" } else { "warn" }));
    let opened = file.and_then(|p| {
        if let Some(d) = p.parent() {
            let _ = std::fs::create_dir_all(d);
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    let _ = match opened {
        Some(f) => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::sync::Mutex::new(f))
            .with_ansi(false)
            .try_init(),
        None => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            // Colour codes only for a person at a terminal, never into a file or a pipe.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// The screen opens unless `--headless`, or when stdin/stdout are not a terminal (scripts,
/// pipes, CI): then the run is headless and says so.
pub fn wants_screen(headless: bool) -> bool {
    use std::io::IsTerminal;
    if headless {
        return false;
    }
    let tty = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if !tty {
        eprintln!("(not a terminal: running headless; --headless says so explicitly)");
    }
    tty
}

/// Screen settings from the config.
pub fn ui_options(cfg: &Config) -> anyhow::Result<microstate::ui::UiOptions> {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Ok(microstate::ui::UiOptions {
        fps: cfg.ui.fps,
        theme: microstate::ui::Theme::new(&cfg.ui.theme, no_color),
        bindings: microstate::ui::Bindings::with_overrides(&cfg.ui.keys)
            .map_err(|e| anyhow::anyhow!(e))?,
        panels: microstate::ui::PanelOptions {
            tape: cfg.ui.tape.show,
            volume: cfg.ui.volume.show,
            tape_large: (
                (cfg.ui.tape.large_base > 0.0).then_some(cfg.ui.tape.large_base),
                (cfg.ui.tape.large_quote > 0.0).then_some(cfg.ui.tape.large_quote),
            ),
            bell: cfg.alerts.bell,
            ladder: microstate::ui::state::LadderOptions {
                contiguous: cfg.ui.ladder.contiguous,
                quote: cfg.ui.ladder.quote_sizes,
                levels: cfg.ui.ladder.levels,
            },
            hidden_panels: cfg.ui.layout.hidden(),
        },
        mouse: cfg.ui.mouse,
    })
}

/// The alert rules of `[alerts]` (price levels on symbols that do not parse were refused when the
/// config was read).
pub fn alert_rules(cfg: &Config) -> microstate_core::alerts::AlertRules {
    let a = &cfg.alerts;
    let on = |x: f64| (x > 0.0).then_some(x);
    microstate_core::alerts::AlertRules {
        prices: a
            .prices
            .iter()
            .filter_map(|p| {
                Some(microstate_core::alerts::PriceLevel {
                    symbol: Symbol::new(p.symbol.as_bytes())?,
                    price: p.price,
                })
            })
            .collect(),
        imbalance: on(a.imbalance),
        imbalance_levels: a.imbalance_levels as usize,
        large_base: on(a.large_trade_base),
        large_quote: on(a.large_trade_quote),
        gap: a.gap,
        stale: a.stale,
        resync: a.resync,
    }
}

/// The runtime of a driver or of the screen.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // Current-thread: the engine loop and the sockets share one core without cross-thread
    // wake-ups (BUILD-NOTES: 13.6 µs vs 66 µs loopback round trips).
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn parse_symbols(raw: &[String]) -> anyhow::Result<Vec<Symbol>> {
    raw.iter()
        .map(|s| s.parse::<Symbol>().map_err(|e| anyhow::anyhow!(e)))
        .collect()
}

pub fn parse_speed_arg(s: &str) -> Result<microstate_io::record::Speed, String> {
    microstate_io::record::Speed::parse(s)
}

pub fn parse_time_arg(s: &str) -> Result<TimeArg, String> {
    TimeArg::parse(s)
}

pub fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    microstate::config::parse_duration(s)
}

/// Resolved pressure samples kept per symbol for the online learner.
const LEARN_QUEUE: usize = 4096;

/// The models a live session runs, and the pressure model's online learner (candle, on its own
/// thread: the train crate's) when `[models.pressure] online` is on and a pressure model is
/// loaded. The drive crate never links candle: it only sees the learner's trait.
pub fn live_models(
    cfg: &Config,
) -> (
    std::sync::Arc<microstate_core::ml::signals::Models>,
    Option<Box<dyn microstate_core::ml::prequential::PressureLearner + Send>>,
) {
    use microstate_train::online::{LearnerThread, OnlineOptions, Prior};
    let p = &cfg.models.pressure;
    if !p.online {
        return (microstate_drive::models::load_models(cfg), None);
    }
    let models = microstate_drive::models::load_models_with(cfg, LEARN_QUEUE);
    let learner = models.pressure.as_ref().ok().and_then(|m| {
        let opts = OnlineOptions {
            lr: p.online_lr,
            l2_prior: p.online_l2_prior,
            publish_every: p.online_publish_every,
            ..Default::default()
        };
        match LearnerThread::spawn(Prior::of(m), opts, LEARN_QUEUE) {
            Ok(t) => Some(Box::new(t) as Box<_>),
            Err(e) => {
                tracing::warn!("the pressure model's online learner did not start: {e}");
                None
            }
        }
    });
    (models, learner)
}
