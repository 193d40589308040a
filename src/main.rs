//! The `microstate-tui` binary: command line, logging, and the edges where errors become messages.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use microstate::market::Market;
use microstate::record::hftbacktest::HftSource;
use microstate::run::{ReplayOptions, replay_paths, replay_sources};
use microstate::summary::Summary;

/// A real excerpt of a Binance spot capture (hftbacktest, MIT; see assets/demo/README.md).
const DEMO_CAPTURE: &[u8] = include_bytes!("../assets/demo/btcusdt_20240808-excerpt.gz");

#[derive(Parser, Debug)]
#[command(
    name = "microstate-tui",
    version,
    about = "Market-microstructure monitor for Binance order books",
    long_about = "Keeps exactly synced L2 order books from Binance diff-depth streams and REST \
snapshots, and replays recorded captures through the same engine.\n\n\
Run with no command to replay the bundled real BTCUSDT excerpt (works offline).",
    after_help = "Examples:\n  \
microstate-tui                                   # offline demo on a bundled real capture\n  \
microstate-tui replay capture.gz --headless      # replay, print a readable summary\n  \
microstate-tui replay day1.gz day2.gz --headless --summary-json -   # JSON summary to stdout"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Replay captures (hftbacktest collector files, cryptofeed raw captures) through the engine.
    ///
    /// Formats are detected from content; gzip is detected from the bytes. Day files of one
    /// capture (btcusdt_20240808.gz, btcusdt_20240809.gz) continue each other; cryptofeed's
    /// X.http.N and X.ws.N files are paired and merged by time. A folder means every capture in it.
    Replay {
        /// Capture files or folders.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Run without the terminal screen, as fast as possible, and print a summary.
        #[arg(long)]
        headless: bool,
        /// Write the summary as JSON to PATH ('-' for stdout) instead of the readable text.
        #[arg(long, value_name = "PATH|-")]
        summary_json: Option<String>,
        /// Force the sync rules (default: read from the data: a diff with `pu` is futures).
        #[arg(long, value_enum)]
        market: Option<Market>,
        /// Stop at the first malformed frame or line (default: count it, report it, go on).
        #[arg(long)]
        strict: bool,
    },
    /// Replay the bundled real BTCUSDT spot excerpt and show the resulting book (offline).
    Demo,
}

fn main() -> ExitCode {
    init_logging();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("MICROSTATE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Demo) {
        Command::Replay {
            files,
            headless,
            summary_json,
            market,
            strict,
        } => {
            if !headless {
                anyhow::bail!(
                    "the terminal screen is not built yet; run the replay with --headless \
                     (add --summary-json - for JSON)"
                );
            }
            let opts = ReplayOptions {
                market,
                strict,
                ..ReplayOptions::default()
            };
            let outcome = replay_paths(&files, &opts)?;
            emit(&outcome.summary(), summary_json.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            let reader = flate2::read::GzDecoder::new(DEMO_CAPTURE);
            let src = HftSource::from_reader(
                "bundled btcusdt_20240808 excerpt",
                Box::new(std::io::BufReader::new(reader)),
                "BTCUSDT".parse().ok(),
            );
            let outcome = replay_sources(vec![Box::new(src)], &ReplayOptions::default())?;
            println!(
                "Demo: replayed the first {} frames of a real Binance spot BTCUSDT capture \
                 (2024-08-08, bundled) through the engine.\n",
                outcome.engine.stats.frames
            );
            emit(&outcome.summary(), None)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes the summary as JSON to a path or stdout, or as text to stdout.
fn emit(summary: &Summary, json: Option<&str>) -> anyhow::Result<()> {
    match json {
        Some("-") => {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer(&mut out, summary)?;
            writeln!(out)?;
        }
        Some(path) => {
            let text = serde_json::to_string_pretty(summary)?;
            std::fs::write(path, text + "\n")
                .with_context(|| format!("writing the summary to {path}"))?;
        }
        None => print!("{}", render_text(summary)),
    }
    Ok(())
}

/// A readable summary: counts and the top of each book.
fn render_text(s: &Summary) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    for sym in &s.symbols {
        let d = &sym.depth_updates;
        let _ = writeln!(
            o,
            "{} ({}) — {}   frames {}  diffs applied {}  dropped before sync {}  gaps {}  resyncs {}  \
             crossed {}  trades {}  bookTicker check {}/{}",
            sym.symbol,
            sym.market,
            sym.state.to_uppercase(),
            sym.frames,
            d.applied,
            d.dropped_before_sync,
            sym.gaps,
            sym.resyncs,
            sym.crossed_events,
            sym.trades,
            sym.book_ticker_check.matched,
            sym.book_ticker_check.compared,
        );
        let f = &sym.final_book;
        let _ = writeln!(
            o,
            "  last update id {}   levels {} bids / {} asks",
            f.last_update_id.map_or("-".to_string(), |u| u.to_string()),
            f.bid_levels,
            f.ask_levels
        );
        let _ = writeln!(
            o,
            "  {:>16} {:>14} | {:<16} {:<14}",
            "bid qty", "bid", "ask", "ask qty"
        );
        for i in 0..f.bids.len().max(f.asks.len()).min(5) {
            let (bp, bq) = f
                .bids
                .get(i)
                .map_or(("", ""), |l| (l[0].as_str(), l[1].as_str()));
            let (ap, aq) = f
                .asks
                .get(i)
                .map_or(("", ""), |l| (l[0].as_str(), l[1].as_str()));
            let _ = writeln!(o, "  {bq:>16} {bp:>14} | {ap:<16} {aq:<14}");
        }
        o.push('\n');
    }
    if s.errors_total > 0 {
        let _ = writeln!(o, "{} frames or lines could not be used:", s.errors_total);
        for e in &s.errors {
            let _ = writeln!(o, "  {e}");
        }
    }
    if let Some(r) = &s.run {
        let _ = writeln!(
            o,
            "{} frames in {:.3} s ({:.0} frames/s, including decompression)",
            s.frames_total, r.elapsed_s, r.frames_per_s
        );
    }
    o
}
