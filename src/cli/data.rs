//! What `train` and `eval` share: reading kline files, and how the pressure model runs "as
//! live" from the config.
//!
//! Owns: those two helpers. Must not touch: the subcommands' arguments or output.

use std::path::PathBuf;

/// Kline CSVs, saying on stderr where each has gaps.
pub fn read_kline_files(
    files: &[PathBuf],
) -> anyhow::Result<Vec<microstate_io::record::klines::KlineSeries>> {
    let mut out = Vec::new();
    for f in files {
        let s = microstate_io::record::klines::read_klines(f)?;
        if !s.gaps.is_empty() {
            let missing: u64 = s.gaps.iter().map(|g| g.missing).sum();
            eprintln!(
                "{}: {} gaps, {missing} minutes missing (short gaps filled, long ones restart the history)",
                f.display(),
                s.gaps.len()
            );
        }
        out.push(s);
    }
    Ok(out)
}

/// How `eval` and `train pressure --loco` run the pressure model: as live, from the config.
pub fn live_eval_options(
    cfg: &microstate::config::Config,
    params: microstate_core::features::FeatureParams,
) -> microstate_train::pressure_eval::LiveEvalOptions {
    let p = &cfg.models.pressure;
    microstate_train::pressure_eval::LiveEvalOptions {
        params,
        throttle_ns: p.throttle.as_nanos() as u64,
        gate: microstate_drive::models::pressure_gate(cfg, 0),
        online: p.online.then(|| microstate_train::online::OnlineOptions {
            lr: p.online_lr,
            l2_prior: p.online_l2_prior,
            publish_every: p.online_publish_every,
            ..Default::default()
        }),
        stale_after_ns: cfg.connection.stale_after.as_nanos() as u64,
        ..Default::default()
    }
}
