//! `demo` (and no arguments at all): a local exchange serves a bundled real capture and the
//! live client connects to it — the whole live path, offline.
//!
//! Owns: the bundled capture and the demo's exchange settings, among them the context history
//! it serves. Must not touch: the exchange or the live driver themselves.
//!
//! No real 1-minute klines of the capture's time (2024-08-08 23:54 UTC) exist in the project
//! (`../shared/data` has 2024-02/03 and 2025-05/08), so the exchange serves a synthetic history
//! ending at the capture's first mid: the context is ready within a second, and the screen
//! says "synthetic history" beside it. The capture loops; the context keeps its history through
//! every loop (the exchange's clock jumps back, the context's minutes do not).

use std::process::ExitCode;
use std::time::Duration;

use microstate::config::{Config, EndpointsConfig};
use microstate_core::num::Symbol;
use microstate_core::view::Source;
use microstate_exchange::{ExchangeConfig, ExchangeSource};

use super::setup::{init_logging, parse_duration_arg, runtime, wants_screen};

/// A real excerpt of a Binance spot capture (hftbacktest, MIT; see assets/demo/README.md).
const DEMO_CAPTURE: &[u8] = include_bytes!("../../assets/demo/btcusdt_20240808-excerpt.gz");

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
}

impl Default for DemoCmd {
    /// The demo on the screen, at the capture's own pace, until the user quits.
    fn default() -> Self {
        DemoCmd {
            duration: None,
            headless: false,
            speed: 1.0,
            summary_json: None,
        }
    }
}

/// Seed of the demo's synthetic history (the same history every run).
const HISTORY_SEED: u64 = 20_240_808;

/// The demo's local exchange: the bundled capture, looped, at `speed`, with a synthetic
/// 1-minute history before it (labelled as such wherever it is shown).
fn exchange(btc: Symbol, speed: f64) -> anyhow::Result<ExchangeConfig> {
    let source = ExchangeSource::Memory {
        name: "bundled btcusdt_20240808 excerpt".into(),
        bytes: DEMO_CAPTURE,
        symbol: Some(btc),
    };
    let history = microstate_exchange::klines::synthetic_history_for(
        &source,
        microstate_exchange::synthetic::HISTORY_MINUTES,
        HISTORY_SEED,
    )?;
    let mut xcfg = ExchangeConfig::new(source);
    xcfg.speed = microstate_exchange::Speed::Factor(speed);
    xcfg.looped = true;
    xcfg.klines = history;
    Ok(xcfg)
}

pub fn run(a: DemoCmd) -> anyhow::Result<ExitCode> {
    let DemoCmd {
        duration,
        headless,
        speed,
        summary_json: json,
    } = a;
    let btc: Symbol = "BTCUSDT".parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let screen = wants_screen(headless);
    if screen {
        let (cfg, _) = microstate::config::load(None)?;
        init_logging(Some(&cfg.ui.log_path()));
        let capture = "bundled BTCUSDT 2024-08-08 via a local exchange".to_string();
        let setup = super::live::record_setup(&cfg, &[btc]);
        let outcome = super::screen::live(
            cfg,
            vec![btc],
            Source::Demo { capture },
            setup,
            None,
            Some(exchange(btc, speed)?),
            duration,
            None,
        )?;
        return super::live::finish(outcome, json.as_deref());
    }
    init_logging(None);
    let duration = duration.unwrap_or(Duration::from_secs(20));
    let xcfg = exchange(btc, speed)?;
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
            ..Config::default()
        };
        let outcome =
            super::live::session(cfg, vec![btc], Some(duration), None, sources, None).await;
        handle.shutdown().await;
        anyhow::Ok(outcome)
    })?;
    super::live::finish(outcome, json.as_deref())
}
