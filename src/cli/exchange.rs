//! `exchange`: the local Binance-compatible exchange over captures or a synthetic market,
//! until Ctrl-C (or the end of a capture that does not loop).
//!
//! Owns: the subcommand's arguments and the address line on stdout. Must not touch: the
//! exchange itself (`microstate_exchange`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use microstate_core::market::Market;
use microstate_drive::shutdown::Stop;
use microstate_exchange::{ExchangeConfig, ExchangeSource};

use super::setup::{init_logging, parse_duration_arg, parse_symbols, runtime};

#[derive(clap::Args, Debug)]
pub struct ExchangeCmd {
    /// Capture files or folders to serve.
    #[arg(long = "capture", value_name = "FILE")]
    captures: Vec<PathBuf>,
    /// Serve a seeded synthetic market instead of captures.
    #[arg(long, conflicts_with = "captures")]
    synthetic: bool,
    /// Seed of the synthetic market.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Symbols of the synthetic market (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "BTCUSDT,ETHUSDT")]
    symbols: Vec<String>,
    /// Market of the synthetic data.
    #[arg(long, value_enum, default_value = "spot")]
    market: Market,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Replay speed: a factor of real time (0.1 … 1000), or `max`.
    #[arg(long, default_value = "1")]
    speed: String,
    /// Start the capture again at its end (clients are disconnected and resync).
    #[arg(long = "loop")]
    looped: bool,
    /// Inject a fault (repeatable); see the exchange module docs for the forms.
    #[arg(long = "fault", value_name = "SPEC")]
    faults: Vec<String>,
    /// Server ping interval.
    #[arg(long, value_parser = parse_duration_arg, default_value = "20s")]
    ping_interval: Duration,
    /// Drop clients that do not answer a ping within this.
    #[arg(long, value_parser = parse_duration_arg, default_value = "60s")]
    pong_timeout: Duration,
    /// 1-minute kline CSVs served on /api/v3, /fapi/v1 and /dapi/v1 klines (the formats
    /// `eval --context-data` reads), each `FILE` (symbol from its name) or `SYMBOL=FILE`.
    /// The synthetic market serves its own 24 h history without this.
    #[arg(long, value_name = "[SYMBOL=]FILE", num_args = 1..)]
    klines: Vec<String>,
    /// Frames queued per WebSocket client before the exchange drops it as too slow
    /// ("queue full: client too slow"); raise it for many symbols against a debug client.
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    client_queue: u64,
}

pub fn run(a: ExchangeCmd) -> anyhow::Result<ExitCode> {
    init_logging(None);
    let mut served = microstate_exchange::klines::load_files(&a.klines)?;
    let source = if a.synthetic {
        let syms = parse_symbols(&a.symbols)?;
        let mut sc = microstate_exchange::synthetic::SyntheticConfig::new(a.seed, syms);
        sc.market = a.market;
        let src = microstate_exchange::synthetic::SyntheticSource::new(sc);
        served.extend(src.history_klines(microstate_exchange::synthetic::HISTORY_MINUTES));
        ExchangeSource::Sources(vec![Box::new(src)])
    } else if a.captures.is_empty() && served.is_empty() {
        anyhow::bail!("nothing to serve: give --capture FILE..., --klines FILE... or --synthetic");
    } else if a.captures.is_empty() {
        ExchangeSource::Sources(Vec::new())
    } else {
        ExchangeSource::Captures(a.captures)
    };
    let mut cfg = ExchangeConfig::new(source);
    cfg.klines = served;
    // A synthetic market has no original session whose snapshot timing could be
    // reproduced: its snapshots are always the book at the current point.
    cfg.faithful_snapshots = !a.synthetic;
    cfg.listen = a.listen;
    cfg.speed =
        microstate_exchange::Speed::parse(&a.speed).map_err(|e| anyhow::anyhow!("--{e}"))?;
    cfg.looped = a.looped;
    cfg.ping_interval = a.ping_interval;
    cfg.pong_timeout = a.pong_timeout;
    cfg.client_queue = usize::try_from(a.client_queue).unwrap_or(usize::MAX);
    for f in &a.faults {
        cfg.faults.push(
            microstate_exchange::parse_fault(f)
                .map_err(|e| anyhow::anyhow!("--fault {f:?}: {e}"))?,
        );
    }
    let looped = a.looped;
    runtime()?.block_on(async move {
        let handle = microstate_exchange::start(cfg).await?;
        // Whoever reads the address may close the pipe after it: a write error on
        // stdout must not take the exchange down.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", handle.bound_addr());
        let _ = out.flush();
        drop(out);
        eprintln!(
            "serving: WebSocket {} (…/stream?streams=, /ws/, /public/…, /market/…), REST {} (/api/v3/…, /fapi/v1/…). Ctrl-C stops.",
            handle.ws_base(),
            handle.rest_base()
        );
        let stop = Stop::new();
        stop.on_ctrl_c();
        let mut shutdown = stop.shutdown();
        tokio::select! {
            _ = shutdown.recv() => {}
            _ = handle.finished(), if !looped => {
                eprintln!("end of the capture");
            }
        }
        handle.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
