//! `export`: captures and recordings through the replay engine, out as hive-partitioned Parquet
//! (book, trades, features, signals, events) for DuckDB, Polars and Spark.
//!
//! Owns: the export options on the command line, wiring the replay player to the exporter,
//! and the report. Must not touch: the tables and files (the export crate), the player (the
//! drive crate), market logic.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use microstate_core::market::Market;
use microstate_drive::replay::{Player, PlayerOptions, ReplayOptions, play_out};
use microstate_export::{ExportOptions, ExportReport, Exporter, Table, WriteSettings};

use super::report;
use super::setup::{init_logging, parse_duration_arg};

#[derive(clap::Args, Debug)]
pub struct ExportCmd {
    /// Capture files or folders (every format `replay` reads, and .msrec recordings).
    #[arg(required = true, value_name = "FILE_OR_DIR")]
    files: Vec<PathBuf>,
    /// Output folder: OUT/<table>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/part-<n>.parquet.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Tables to write, comma-separated (default: all).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "TABLE,...",
        default_value = "book,trades,features,signals,events"
    )]
    tables: Vec<String>,
    /// Levels per side in the book table (default: [export] depth, 20).
    #[arg(long, value_name = "N")]
    depth: Option<usize>,
    /// One book, features and signals row per symbol per DURATION of exchange event time (the
    /// first at or after each multiple), instead of one per change.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    every: Option<Duration>,
    /// Replace the part files of an earlier export of the same partitions (default: refuse,
    /// writing nothing).
    #[arg(long)]
    overwrite: bool,
    /// Force the sync rules (default: read from the data).
    #[arg(long, value_enum)]
    market: Option<Market>,
    /// Stop at the first malformed frame or line (nothing is written then).
    #[arg(long)]
    strict: bool,
    /// Config file (features, models, stale_after, [export]).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Also write what was exported (rows, files, errors, the replay summary) as JSON to PATH
    /// ('-' for stdout).
    #[arg(long, value_name = "PATH|-")]
    summary_json: Option<String>,
}

pub fn run(a: ExportCmd) -> anyhow::Result<ExitCode> {
    let (cfg, _) = microstate::config::load(a.config.as_deref())?;
    init_logging(None);
    let mut tables = Vec::new();
    for t in &a.tables {
        let t = Table::parse(t.trim())
            .ok_or_else(|| microstate_export::ExportError::UnknownTable(t.clone()))?;
        if !tables.contains(&t) {
            tables.push(t);
        }
    }
    let needs_features = tables.contains(&Table::Features) || tables.contains(&Table::Signals);
    // Books and trades alone need no features: the engine keeps books only, as fast as it goes.
    let features = if needs_features {
        cfg.features.params()
    } else {
        None
    };
    let x = &cfg.export;
    let opts = ExportOptions {
        out: a.out.clone(),
        tables: tables.clone(),
        depth: a.depth.unwrap_or(x.depth),
        every_ns: a.every.map(|d| d.as_nanos().min(u64::MAX as u128) as u64),
        overwrite: a.overwrite,
        stale_after_ns: cfg.connection.stale_after.as_nanos() as u64,
        features,
        decimal_precision: x.decimal_precision,
        write: WriteSettings {
            row_group_rows: x.row_group_rows,
            batch_rows: x.batch_rows,
            zstd_level: x.zstd_level,
            metadata: Vec::new(),
        },
    };
    let exporter = Exporter::create(opts)?;
    let player_opts = PlayerOptions {
        replay: ReplayOptions {
            market: a.market,
            strict: a.strict,
            features,
            ..ReplayOptions::default()
        },
        // No seeking: no checkpoints (an engine clone every 30 s would grow with the input).
        checkpoint_every_ns: u64::MAX,
        latency: false,
        models: tables
            .contains(&Table::Signals)
            .then(|| microstate_drive::replay::load_models(&cfg)),
        ..PlayerOptions::default()
    };
    let mut player = Player::open(&a.files, player_opts)
        .with_context(|| format!("opening {}", show_paths(&a.files)))?;
    let exporter = Arc::new(Mutex::new(exporter));
    let shared = exporter.clone();
    player.set_observer(Box::new(move |e| {
        if let Ok(mut x) = shared.lock() {
            x.after_frame(e);
        }
    }));
    let started = Instant::now();
    let outcome = play_out(player, started)?;
    let exporter = Arc::try_unwrap(exporter)
        .map_err(|_| anyhow::anyhow!("the exporter is still in use"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("the exporter was poisoned"))?;
    let written = exporter
        .finish()
        .with_context(|| format!("exporting to {}", a.out.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    let summary = outcome.summary();
    let frames = outcome.engine.stats.frames;
    eprint!("{}", text(&written, frames, elapsed, &a.out));
    if outcome.errors_total > 0 {
        eprintln!(
            "warning: {} frames or lines could not be used and were left out (the rest was \
             exported):",
            outcome.errors_total
        );
        for e in &outcome.errors {
            eprintln!("  {e}");
        }
        if outcome.errors_total as usize > outcome.errors.len() {
            eprintln!(
                "  … and {} more",
                outcome.errors_total as usize - outcome.errors.len()
            );
        }
    }
    if let Some(dest) = &a.summary_json {
        let json = serde_json::json!({
            "export": {
                "out": a.out.display().to_string(),
                "tables": written.rows.iter().map(|(t, n)| (t.name().to_string(), serde_json::json!(n)))
                    .collect::<serde_json::Map<_, _>>(),
                "files": written.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                "replaced": written.removed.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                "symbols": written.symbols,
                "frames": frames,
                "elapsed_s": elapsed,
            },
            "summary": summary,
        });
        report::json_out(&json, dest)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn show_paths(p: &[PathBuf]) -> String {
    p.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The readable account (stderr).
fn text(r: &ExportReport, frames: u64, elapsed_s: f64, out: &std::path::Path) -> String {
    let rows = r
        .rows
        .iter()
        .map(|(t, n)| format!("{} {n}", t.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let rate = if elapsed_s > 0.0 {
        frames as f64 / elapsed_s
    } else {
        0.0
    };
    let mut s = format!(
        "exported {frames} frames of {} to {} in {elapsed_s:.2} s ({rate:.0} frames/s): rows {rows}; {} files\n",
        r.symbols.join(", "),
        out.display(),
        r.files.len()
    );
    if !r.removed.is_empty() {
        s += &format!(
            "replaced: {} part files of an earlier export removed\n",
            r.removed.len()
        );
    }
    s
}
