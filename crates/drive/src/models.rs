//! The models a driver hands the engine, loaded from the folder the config names.
//!
//! Owns: turning the config's `[models]` section and the model files into the engine's
//! [`Models`]. Must not touch: the file format (`microstate_io::models`), inference (the core).

use std::sync::Arc;

use microstate_config::Config;
use microstate_core::ml::signals::Models;

/// When the pressure direction is held back, from `[models.pressure]`; `learn_queue` resolved
/// samples are kept per symbol for an online learner (0 when none is attached).
pub fn pressure_gate(
    cfg: &Config,
    learn_queue: usize,
) -> microstate_core::ml::signals::PressureGate {
    let p = &cfg.models.pressure;
    microstate_core::ml::signals::PressureGate {
        edge_window: p.edge_window,
        edge_min_scored: p.edge_min_scored,
        min_edge: p.min_edge,
        guard_tolerance: p.guard_tolerance as f32,
        guard_window: p.guard_window,
        guard_share: p.guard_share,
        learn_queue,
    }
}

/// Loads the models named by the config (`models.dir`); a missing or mismatched model becomes
/// the reason shown in its place, and everything else runs.
pub fn load_models(cfg: &Config) -> Arc<Models> {
    load_models_with(cfg, 0)
}

/// [`load_models`] keeping up to `learn_queue` resolved pressure samples per symbol for an
/// online learner the caller attaches (0: none).
pub fn load_models_with(cfg: &Config, learn_queue: usize) -> Arc<Models> {
    let dir = std::path::Path::new(&cfg.models.dir);
    let m = &cfg.models;
    let context = microstate_io::models::load_context(
        &microstate_io::models::model_dir(dir, "context"),
        &m.context,
    )
    .map_err(|e| e.to_string());
    if let Err(e) = &context {
        tracing::warn!("context model not loaded: {e}");
    }
    let pressure = microstate_io::models::load_pressure(
        &microstate_io::models::model_dir(dir, "pressure"),
        &cfg.features.params().unwrap_or_default(),
    )
    .map_err(|e| e.to_string());
    if let Err(e) = &pressure {
        tracing::warn!("pressure model not loaded: {e}");
    }
    Arc::new(Models {
        context,
        pressure: if cfg.features.params().is_some() {
            pressure
        } else {
            Err("features are off ([features] enabled = false)".into())
        },
        pressure_throttle_ns: m.pressure.throttle.as_nanos() as u64,
        score_window: m.pressure.score_window,
        score_buckets: m.pressure.calibration_buckets,
        pressure_gate: pressure_gate(cfg, learn_queue),
        stale_after_ns: cfg.connection.stale_after.as_nanos() as u64,
        context_label: m.context_label_index(),
        max_gap_fill_min: m.context.max_gap_fill.as_secs() / 60,
        thresholds: microstate_core::ml::interpret::Thresholds {
            min_pressure_confidence: m.interpret.min_pressure_confidence as f32,
        },
    })
}
