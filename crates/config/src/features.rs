//! `[features]`: the feature engine's windows, depths, OFI levels, depth band and EWMA
//! half-life, and their conversion to the core's `FeatureParams`.
//!
//! Owns: the section's type, defaults (the core's `FeatureParams::default`, in TOML units) and
//! check. Must not touch: the rules themselves (the core's `FeatureParams::validate` owns them,
//! so replay and tests that build parameters by hand get the same checks), other sections.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;
use crate::units::{duration_str, durations_str, exact_array};

/// The feature engine (see the core's `features` module for the definitions, README "Features").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesConfig {
    /// Compute features per symbol (off: books only).
    pub enabled: bool,
    /// Three window lengths, ascending, in exchange event time.
    #[serde(with = "durations_str")]
    pub windows: [Duration; microstate_core::features::N_WINDOWS],
    /// Three top-N depths, ascending.
    #[serde(with = "exact_array")]
    pub depth_levels: [usize; microstate_core::features::N_DEPTHS],
    /// Levels 1..k summed in the multi-level OFI.
    pub ofi_levels: usize,
    /// Half-width in bps of the depth band around mid.
    pub depth_band_bps: u32,
    /// Half-life of the EWMA volatility (event time).
    #[serde(with = "duration_str")]
    pub ewma_half_life: Duration,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        let p = microstate_core::features::FeatureParams::default();
        FeaturesConfig {
            enabled: true,
            windows: p.windows_ns.map(Duration::from_nanos),
            depth_levels: p.depth_levels,
            ofi_levels: p.ofi_levels,
            depth_band_bps: p.band_bps,
            ewma_half_life: Duration::from_nanos(p.ewma_half_life_ns),
        }
    }
}

impl FeaturesConfig {
    /// The engine's parameters; `None` when disabled.
    pub fn params(&self) -> Option<microstate_core::features::FeatureParams> {
        self.enabled
            .then(|| microstate_core::features::FeatureParams {
                windows_ns: self
                    .windows
                    .map(|d| d.as_nanos().min(u64::MAX as u128) as u64),
                depth_levels: self.depth_levels,
                ofi_levels: self.ofi_levels,
                band_bps: self.depth_band_bps,
                ewma_half_life_ns: self.ewma_half_life.as_nanos().min(u64::MAX as u128) as u64,
            })
    }

    /// The core's rules for feature parameters; nothing is checked while features are off.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if let Some(p) = self.params()
            && let Err(why) = p.validate()
        {
            return Err(ConfigError::invalid(
                origin,
                "features",
                format!("{self:?}"),
                why,
            ));
        }
        Ok(())
    }
}
