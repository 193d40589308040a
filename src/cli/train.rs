//! `train context|pressure`: builds the data set and trains through the train crate, saves the
//! model, prints the report ([`super::report`]).
//!
//! Owns: the subcommand's arguments and the order of the steps. Must not touch: the recipes
//! (`microstate_train`), the model files' format (`microstate_io::models`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use super::report;
use super::setup::parse_duration_arg;

#[derive(Subcommand, Debug)]
pub enum TrainCmd {
    /// The 15/30 min price-context model, from 1-minute kline CSVs.
    Context {
        /// 1-minute kline CSVs (each file one symbol's continuous history).
        #[arg(long, required = true, value_name = "FILE", num_args = 1..)]
        data: Vec<PathBuf>,
        /// Output folder (default: <models.dir>/context).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Seed of the initial weights and the batch order.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Walk-forward folds to report besides the main split (0: none).
        #[arg(long, default_value_t = 3)]
        folds: usize,
        /// Upper limit of training epochs (early stopping usually ends sooner).
        #[arg(long, default_value_t = 30)]
        max_epochs: usize,
        /// Config file (gap rule, label threshold).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// The ≈1 s order-book pressure model, from captures or recordings.
    Pressure {
        /// Captures or recordings (the last part of each is held out).
        #[arg(long, required = true, value_name = "FILE", num_args = 1..)]
        data: Vec<PathBuf>,
        /// Output folder (default: <models.dir>/pressure).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Label horizon in event time (default: models.pressure.horizon).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
        horizon: Option<Duration>,
        /// Dead band, `0.5vol`, `1spread`, `1tick` or `0.5bps` (default:
        /// models.pressure.dead_band).
        #[arg(long, value_name = "BAND")]
        dead_band: Option<String>,
        /// Also evaluate leaving each capture out in turn (trained on the others, run as live
        /// on it); the table is printed and stored in the model's metadata.
        #[arg(long)]
        loco: bool,
        /// An MLP, or the logistic baseline through the same code.
        #[arg(long, value_enum, default_value = "mlp")]
        kind: PressureKind,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum PressureKind {
    Mlp,
    Logistic,
}

pub fn run(cmd: TrainCmd) -> anyhow::Result<ExitCode> {
    use microstate_train::context::{self as context_train, ContextTrainOptions};
    match cmd {
        TrainCmd::Pressure {
            data,
            out,
            seed,
            horizon,
            dead_band,
            loco,
            kind,
            config,
        } => {
            use microstate_train::pressure::{
                self as pt, PressureDataOptions, PressureTrainOptions,
            };
            let (cfg, _) = microstate::config::load(config.as_deref())?;
            let out = out.unwrap_or_else(|| PathBuf::from(&cfg.models.dir).join("pressure"));
            let started = std::time::Instant::now();
            let pc = &cfg.models.pressure;
            let dopts = PressureDataOptions {
                params: cfg.features.params().unwrap_or_default(),
                horizon_ns: horizon.unwrap_or(pc.horizon).as_nanos() as u64,
                throttle_ns: pc.throttle.as_nanos() as u64,
                dead_band: match dead_band {
                    Some(b) => microstate_core::ml::DeadBand::parse(&b)
                        .map_err(|e| anyhow::anyhow!("--dead-band: {e}"))?,
                    None => pc.dead_band,
                },
                ..PressureDataOptions::default()
            };
            let ds = pt::build_dataset(&pt::group_captures(&data), &dopts)?;
            eprintln!(
                "{} series, {} samples (train {}, validation {}, test {}), data {}",
                ds.series.len(),
                ds.series.iter().map(|s| s.samples.len()).sum::<usize>(),
                ds.count(pt::Part::Train),
                ds.count(pt::Part::Validation),
                ds.count(pt::Part::Test),
                ds.digest
            );
            let mut opts = PressureTrainOptions::default();
            opts.train.seed = seed;
            if matches!(kind, PressureKind::Logistic) {
                opts.hidden.clear();
            }
            let mut t = pt::train_pressure(&ds, &opts, &command_line(), &created_by())?;
            let loco = if loco {
                let lo = super::data::live_eval_options(&cfg, dopts.params);
                let rows = microstate_train::pressure_eval::leave_one_capture_out(
                    &pt::group_captures(&data),
                    &dopts,
                    &opts,
                    &lo,
                )?;
                if let Ok(v) = toml::Value::try_from(&rows) {
                    t.meta.details.insert("leave_one_capture_out".into(), v);
                }
                Some(rows)
            } else {
                None
            };
            microstate_io::models::save_model(&out, &t.meta, &t.weights)?;
            report::trained_pressure(&out, started.elapsed().as_secs_f64(), &t, loco.as_deref());
            Ok(ExitCode::SUCCESS)
        }
        TrainCmd::Context {
            data,
            out,
            seed,
            folds,
            max_epochs,
            config,
        } => {
            let (cfg, _) = microstate::config::load(config.as_deref())?;
            let out = out.unwrap_or_else(|| PathBuf::from(&cfg.models.dir).join("context"));
            let started = std::time::Instant::now();
            let series = super::data::read_kline_files(&data)?;
            let mut opts = ContextTrainOptions::default();
            opts.train.seed = seed;
            opts.train.max_epochs = max_epochs;
            opts.folds = folds;
            opts.max_fill = cfg.models.context.max_gap_fill.as_secs() / 60;
            opts.z_threshold = cfg.models.context.z_threshold;
            opts.trend = cfg.models.context.trend();
            let ds = context_train::build_dataset(&series, opts.max_fill, &opts.trend);
            eprintln!(
                "{} rows from {} files ({} segments, {} minutes filled): {} samples, data {}",
                ds.rows,
                ds.files.len(),
                ds.segments,
                ds.filled_minutes,
                ds.samples.len(),
                ds.digest
            );
            let t = context_train::train_context(&ds, &opts, &command_line(), &created_by())?;
            microstate_io::models::save_model(&out, &t.meta, &t.weights)?;
            report::trained_context(&out, started.elapsed().as_secs_f64(), &t);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn created_by() -> String {
    format!("microstate-tui {}", env!("CARGO_PKG_VERSION"))
}

/// The command line as typed, for a model's metadata (`microstate-tui train …`).
fn command_line() -> String {
    let mut parts = vec!["microstate-tui".to_string()];
    for a in std::env::args().skip(1) {
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
            parts.push(format!("'{}'", a.replace('\'', "'\\''")));
        } else {
            parts.push(a);
        }
    }
    parts.join(" ")
}
