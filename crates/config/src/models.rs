//! `[models]` with `[models.pressure]`, `[models.context]` and `[models.interpret]`: where the
//! model folders are, the label horizons, thresholds and live scoring of the in-process models.
//!
//! Owns: these sections' types, defaults and checks. Must not touch: model files (the io crate
//! loads them from [`ModelsConfig::dir`]), inference (the core's `ml`), other sections.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::units::duration_str;
use crate::{ConfigError, format_duration};

/// The in-process models and the interpretation layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// Folder holding `pressure/` and `context/` (each `model.toml` + `model.safetensors`);
    /// relative paths are from the working directory; when that holds no model, the shipped
    /// ones are looked for beside the binary, in the data dir and in the source tree.
    /// `--models DIR` (live, record, replay, demo) overrides.
    pub dir: String,
    pub pressure: PressureModelConfig,
    pub context: ContextModelConfig,
    pub interpret: InterpretConfig,
}

/// The ≈1 s order-book pressure model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PressureModelConfig {
    /// Label horizon: the mid change over this much event time.
    #[serde(with = "duration_str")]
    pub horizon: Duration,
    /// Mid changes smaller than this are FLAT (training; a model keeps its own): `"0.5vol"`
    /// (half the EWMA volatility over the horizon), `"1spread"`, `"1tick"` or `"0.5bps"`.
    pub dead_band: microstate_core::ml::DeadBand,
    /// Infer at most this often in event time; `0s` = on every feature update.
    #[serde(with = "duration_str")]
    pub throttle: Duration,
    /// Live scoring keeps the last this many resolved predictions.
    pub score_window: usize,
    /// Calibration buckets of live scoring (equal-width in the top probability).
    pub calibration_buckets: usize,
    /// The live edge (model vs the best baseline, Brier) is taken over the last this many
    /// resolved predictions.
    pub edge_window: usize,
    /// No direction is shown before this many predictions have been scored.
    pub edge_min_scored: usize,
    /// A direction is shown only while the edge exceeds this (Brier points).
    pub min_edge: f64,
    /// The out-of-range guard: an input more than this many widths of its training range
    /// (0.5–99.5 % quantiles) outside it is out of range…
    pub guard_tolerance: f64,
    /// …and no direction is shown while at least `guard_share` of the last `guard_window`
    /// predictions had one.
    pub guard_window: usize,
    pub guard_share: f64,
    /// Adapt the model to each symbol online (candle, its own thread), test-then-train.
    pub online: bool,
    /// The online learner's step size (Adam, on the output layer), its pull back toward the
    /// shipped prior (L2 on the difference), and how many updates between published weights.
    pub online_lr: f64,
    pub online_l2_prior: f64,
    pub online_publish_every: usize,
}

/// The 15/30 min price-context model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextModelConfig {
    /// Which horizon's forecast gives the label the interpretation reads: `15m` or `30m`.
    #[serde(with = "duration_str")]
    pub label_horizon: Duration,
    /// A directional call (only where the model showed skill out of sample) is BULLISH /
    /// BEARISH when |drift| / sigma reaches this, else NEUTRAL.
    pub z_threshold: f64,
    /// The trend (what the last 15 / 30 min did, in units of a typical move of that length)
    /// turns BULLISH / BEARISH at |z| ≥ this …
    pub trend_enter_z: f64,
    /// … and back to NEUTRAL below this (hysteresis; at most `trend_enter_z`).
    pub trend_exit_z: f64,
    /// Missing minutes up to this are filled with the last price; a longer gap restarts the
    /// history (warming up again).
    #[serde(with = "duration_str")]
    pub max_gap_fill: Duration,
}

/// The interpretation table's thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InterpretConfig {
    /// Below this top class probability the pressure is "no clear pressure".
    pub min_pressure_confidence: f64,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        ModelsConfig {
            dir: "models".into(),
            pressure: PressureModelConfig::default(),
            context: ContextModelConfig::default(),
            interpret: InterpretConfig::default(),
        }
    }
}

impl Default for PressureModelConfig {
    fn default() -> Self {
        PressureModelConfig {
            horizon: Duration::from_secs(1),
            dead_band: microstate_core::ml::DeadBand::Vol(0.5),
            throttle: Duration::from_millis(100),
            score_window: 1000,
            calibration_buckets: 10,
            edge_window: 1000,
            edge_min_scored: 200,
            min_edge: 0.0,
            guard_tolerance: 1.0,
            guard_window: 20,
            guard_share: 0.5,
            online: true,
            online_lr: 1e-4,
            online_l2_prior: 1e-2,
            online_publish_every: 10,
        }
    }
}

impl Default for ContextModelConfig {
    fn default() -> Self {
        ContextModelConfig {
            label_horizon: Duration::from_secs(15 * 60),
            z_threshold: 0.25,
            trend_enter_z: microstate_core::ml::context::TREND_ENTER_Z,
            trend_exit_z: microstate_core::ml::context::TREND_EXIT_Z,
            max_gap_fill: Duration::from_secs(5 * 60),
        }
    }
}

impl Default for InterpretConfig {
    fn default() -> Self {
        InterpretConfig {
            min_pressure_confidence: 0.5,
        }
    }
}

impl ContextModelConfig {
    /// The trend thresholds as the core takes them.
    pub fn trend(&self) -> microstate_core::ml::context::TrendParams {
        microstate_core::ml::context::TrendParams {
            enter_z: self.trend_enter_z,
            exit_z: self.trend_exit_z,
        }
    }
}

impl ModelsConfig {
    /// Index into `ml::context::HORIZONS_MIN` of the label horizon (validated).
    pub fn context_label_index(&self) -> usize {
        let m = (self.context.label_horizon.as_secs() / 60) as usize;
        microstate_core::ml::context::HORIZONS_MIN
            .iter()
            .position(|&h| h == m)
            .unwrap_or(0)
    }

    /// Each sub-section's checks, pressure first.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        self.pressure.validate(origin)?;
        self.context.validate(origin)?;
        self.interpret.validate(origin)
    }
}

impl PressureModelConfig {
    /// A positive horizon, score window and bucket count; positive edge/guard windows, a guard
    /// share in (0, 1], non-negative tolerances, a positive learning rate.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if self.horizon.is_zero() {
            return Err(ConfigError::invalid(
                origin,
                "models.pressure.horizon",
                "\"0s\"",
                "must be positive",
            ));
        }
        if self.score_window == 0 || self.calibration_buckets == 0 {
            return Err(ConfigError::invalid(
                origin,
                "models.pressure.score_window / calibration_buckets",
                format!("{} / {}", self.score_window, self.calibration_buckets),
                "must be positive",
            ));
        }
        if self.edge_window == 0 || self.guard_window == 0 || self.online_publish_every == 0 {
            return Err(ConfigError::invalid(
                origin,
                "models.pressure.edge_window / guard_window / online_publish_every",
                format!(
                    "{} / {} / {}",
                    self.edge_window, self.guard_window, self.online_publish_every
                ),
                "must be positive",
            ));
        }
        if !(self.guard_share > 0.0 && self.guard_share <= 1.0) {
            return Err(ConfigError::invalid(
                origin,
                "models.pressure.guard_share",
                self.guard_share.to_string(),
                "must be above 0 and at most 1",
            ));
        }
        for (key, v) in [
            ("models.pressure.guard_tolerance", self.guard_tolerance),
            ("models.pressure.online_l2_prior", self.online_l2_prior),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ConfigError::invalid(
                    origin,
                    key,
                    v.to_string(),
                    "must be zero or positive",
                ));
            }
        }
        if !(self.online_lr.is_finite() && self.online_lr > 0.0) {
            return Err(ConfigError::invalid(
                origin,
                "models.pressure.online_lr",
                self.online_lr.to_string(),
                "must be positive",
            ));
        }
        if !self.min_edge.is_finite() {
            return Err(ConfigError::invalid(
                origin,
                "models.pressure.min_edge",
                self.min_edge.to_string(),
                "must be a number",
            ));
        }
        Ok(())
    }
}

impl ContextModelConfig {
    /// A label horizon the model forecasts, a finite threshold ≥ 0, a gap fill in whole minutes
    /// (the model's history is per minute).
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let lh = self.label_horizon;
        if !microstate_core::ml::context::HORIZONS_MIN
            .iter()
            .any(|&h| Duration::from_secs(h as u64 * 60) == lh)
        {
            return Err(ConfigError::invalid(
                origin,
                "models.context.label_horizon",
                format!("{:?}", format_duration(lh)),
                "must be one of the context model's horizons: \"15m\" or \"30m\"",
            ));
        }
        if !(self.z_threshold.is_finite() && self.z_threshold >= 0.0) {
            return Err(ConfigError::invalid(
                origin,
                "models.context.z_threshold",
                self.z_threshold.to_string(),
                "must be zero or positive",
            ));
        }
        let (enter, exit) = (self.trend_enter_z, self.trend_exit_z);
        if !(enter.is_finite() && exit.is_finite() && 0.0 <= exit && exit <= enter) {
            return Err(ConfigError::invalid(
                origin,
                "models.context.trend_exit_z",
                format!("{exit} (trend_enter_z {enter})"),
                "must be zero or positive and at most models.context.trend_enter_z",
            ));
        }
        if !self.max_gap_fill.as_millis().is_multiple_of(60_000) {
            return Err(ConfigError::invalid(
                origin,
                "models.context.max_gap_fill",
                format!("{:?}", format_duration(self.max_gap_fill)),
                "must be whole minutes",
            ));
        }
        Ok(())
    }
}

impl InterpretConfig {
    /// A probability.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let c = self.min_pressure_confidence;
        if !(0.0..=1.0).contains(&c) {
            return Err(ConfigError::invalid(
                origin,
                "models.interpret.min_pressure_confidence",
                c.to_string(),
                "must be between 0 and 1",
            ));
        }
        Ok(())
    }
}
