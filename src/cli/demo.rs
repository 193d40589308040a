//! `demo` (and no arguments at all): a local exchange serves a bundled real capture and the
//! live client connects to it — the whole live path, offline.
//!
//! Owns: the `demo` command line (duration, headless, speed, summary). Must not touch: the
//! exchange or the live driver themselves; the demo's settings (capture, loop, synthetic
//! history, weights) are the library's `microstate::demo`, shared with the soak test.

use std::process::ExitCode;
use std::time::Duration;

use microstate::config::{Config, EndpointsConfig};
use microstate_core::view::Source;

use super::setup::{init_logging, parse_duration_arg, runtime, wants_screen};

#[derive(clap::Args, Debug)]
pub struct DemoCmd {
    /// Stop after this long (default: 20 s headless, until you quit on the screen).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    duration: Option<Duration>,
    /// Run without the terminal screen (also when stdout is not a terminal).
    #[arg(long)]
    headless: bool,
    /// Replay speed of the bundled capture.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Write the summary as JSON to PATH ('-' for stdout) at the end.
    #[arg(long, value_name = "PATH|-")]
    summary_json: Option<String>,
    /// Folder holding the models (pressure/, context/). Default: `models.dir` if it holds one,
    /// else models/ beside the binary, in the data dir, or in the source tree.
    #[arg(long, value_name = "DIR")]
    models: Option<std::path::PathBuf>,
    #[command(flatten)]
    api: super::serve::ApiArgs,
}

impl Default for DemoCmd {
    /// The demo on the screen, at the capture's own pace, until the user quits.
    fn default() -> Self {
        DemoCmd {
            duration: None,
            headless: false,
            speed: 1.0,
            summary_json: None,
            models: None,
            api: super::serve::ApiArgs::default(),
        }
    }
}

pub fn run(a: DemoCmd) -> anyhow::Result<ExitCode> {
    let DemoCmd {
        duration,
        headless,
        speed,
        summary_json: json,
        models,
        api,
    } = a;
    let btc = microstate::demo::symbol();
    let screen = wants_screen(headless);
    if screen {
        let (mut cfg, _) = microstate::config::load(None)?;
        api.options(&mut cfg)?;
        init_logging(Some(&cfg.ui.log_path()));
        microstate::config::resolve_models(&mut cfg, models.as_deref());
        let capture = "bundled BTCUSDT 2024-08-08 via a local exchange".to_string();
        let setup = super::live::record_setup(&cfg, &[btc]);
        let outcome = super::screen::live(
            microstate::demo::client_config(cfg, speed),
            vec![btc],
            Source::Demo { capture },
            setup,
            None,
            Some(microstate::demo::exchange_config(speed)?),
            duration,
            None,
        )?;
        return super::live::finish(outcome, json.as_deref());
    }
    init_logging(None);
    let mut base = Config::default();
    microstate::config::resolve_models(&mut base, models.as_deref());
    let api = api.options(&mut base)?;
    let duration = duration.unwrap_or(Duration::from_secs(20));
    let xcfg = microstate::demo::exchange_config(speed)?;
    let sources = xcfg.kline_sources();
    let outcome = runtime()?.block_on(async move {
        let handle = microstate_exchange::start(xcfg).await?;
        eprintln!(
            "Demo: a local Binance-compatible exchange on {} replays a real Binance spot BTCUSDT \
             capture (2024-08-08, bundled) at {speed}×, looped, after a synthetic 1-minute \
             history (no real klines of that day are bundled); the live client below is the \
             same one that connects to Binance. Ctrl-C stops.",
            handle.addr()
        );
        let cfg = Config {
            endpoints: EndpointsConfig::local(&handle.ws_base(), &handle.rest_base()),
            ..microstate::demo::client_config(base, speed)
        };
        let outcome =
            super::live::session(cfg, vec![btc], Some(duration), None, sources, api, None).await;
        handle.shutdown().await;
        outcome
    })?;
    super::live::finish(outcome, json.as_deref())
}
