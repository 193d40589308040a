//! `eval`: the context model on klines, or the pressure model on captures, against baselines.
//!
//! Owns: the subcommand's arguments, finding the model folder, the sample filters. Must not
//! touch: the evaluation itself (`microstate_train`), the report's layout ([`super::report`]).

use std::path::PathBuf;
use std::process::ExitCode;

use super::data::{live_eval_options, read_kline_files};
use super::report;

#[derive(clap::Args, Debug)]
pub struct EvalCmd {
    /// Captures or recordings for the pressure model.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    data: Vec<PathBuf>,
    /// 1-minute kline CSVs (Binance 12-column, or headered OHLCV; gzip or plain) for the
    /// context model.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    context_data: Vec<PathBuf>,
    /// Models folder (holding context/ and pressure/), or one model's folder. Default: the
    /// config's models.dir (the shipped models).
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// Print the tables as JSON to PATH ('-' for stdout) instead of text.
    #[arg(long, value_name = "PATH|-")]
    json: Option<String>,
    /// Only the model's held-out test period (recorded in its metadata).
    #[arg(long)]
    held_out: bool,
    /// Only samples from this UTC time on (`2025-08-01`, `2025-08-01 12:00:00`, or ms).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Only samples whose outcome is known by this UTC time.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only the last N minutes of each file (quick checks).
    #[arg(long, value_name = "N")]
    last_minutes: Option<usize>,
    /// Config file (context thresholds, gap rule).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// `2025-08-01`, `2025-08-01 12:00:00` (UTC) or epoch ms.
fn parse_eval_time(flag: &str, s: &str) -> anyhow::Result<i64> {
    let t = if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') {
        format!("{s} 00:00:00")
    } else {
        s.to_string()
    };
    microstate_io::record::klines::parse_time(&t).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

/// The model's own folder: `root` if it holds a model, else `root/name`.
fn model_dir(root: PathBuf, name: &str) -> PathBuf {
    if root.join(microstate_core::ml::meta::META_FILE).is_file() {
        root
    } else {
        root.join(name)
    }
}

pub fn run(a: EvalCmd) -> anyhow::Result<ExitCode> {
    use microstate_train::context::{self as context_train, EvalFilter};
    if !a.data.is_empty() {
        return run_pressure(a);
    }
    if a.context_data.is_empty() {
        anyhow::bail!(
            "nothing to evaluate: give --context-data FILE... (1-minute klines) for the context model"
        );
    }
    let (cfg, _) = microstate::config::load(a.config.as_deref())?;
    let root = a.model.unwrap_or_else(|| PathBuf::from(&cfg.models.dir));
    let dir = model_dir(root, "context");
    let mut model = microstate_io::models::load_context(&dir, &cfg.models.context)?;
    let mut series = read_kline_files(&a.context_data)?;
    if let Some(n) = a.last_minutes {
        for s in &mut series {
            context_train::keep_last_minutes(s, n);
        }
    }
    let max_fill = cfg.models.context.max_gap_fill.as_secs() / 60;
    let ds = context_train::build_dataset(&series, max_fill, &cfg.models.context.trend());
    let filter = EvalFilter {
        from_ms: a
            .from
            .as_deref()
            .map(|s| parse_eval_time("--from", s))
            .transpose()?,
        until_ms: a
            .until
            .as_deref()
            .map(|s| parse_eval_time("--until", s))
            .transpose()?,
        held_out: a.held_out,
    };
    if a.held_out && context_train::test_start_ms(&model.meta).is_none() {
        anyhow::bail!(
            "--held-out: {} does not record its test period",
            dir.display()
        );
    }
    let report = context_train::eval_context(
        &mut model,
        &ds,
        &filter,
        cfg.models.context_label_index(),
        &dir.display().to_string(),
        context_train::BOOTSTRAP_REPS,
    )?;
    if report.n == 0 {
        anyhow::bail!(
            "no samples to evaluate in {} (each file needs more than {} minutes of prices, inside --from/--until/--held-out)",
            report.files.join(", "),
            microstate_core::ml::context::LOOKBACK + 30
        );
    }
    report::eval_context(&report, a.json.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

/// `eval --data`: the pressure model on the test part of captures.
fn run_pressure(a: EvalCmd) -> anyhow::Result<ExitCode> {
    use microstate_train::pressure_eval as pe;
    if !a.context_data.is_empty() {
        anyhow::bail!("give either --data (pressure) or --context-data (context), not both");
    }
    let (cfg, _) = microstate::config::load(a.config.as_deref())?;
    let root = a.model.unwrap_or_else(|| PathBuf::from(&cfg.models.dir));
    let dir = model_dir(root, "pressure");
    let params = cfg.features.params().unwrap_or_default();
    let model = microstate_io::models::load_pressure(&dir, &params)?;
    let captures = microstate_train::pressure::group_captures(&a.data);
    let report = pe::eval_live(
        &model,
        &captures,
        &live_eval_options(&cfg, params),
        &dir.display().to_string(),
    )?;
    report::eval_pressure(&report, a.json.as_deref())?;
    Ok(ExitCode::SUCCESS)
}
