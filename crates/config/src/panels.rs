//! `[ui.tape]` and `[ui.volume]`: the time & sales and volume-at-price panels — shown at start
//! or not, and what the tape highlights as a large trade.
//!
//! Owns: these sections' types, defaults and checks. Must not touch: drawing (the screen).

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Time & sales (`t` toggles it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TapeConfig {
    /// Shown at start.
    pub show: bool,
    /// A taker order of at least this size in the base asset is highlighted (0: off).
    pub large_base: f64,
    /// … or of at least this notional in the quote asset (0: off).
    pub large_quote: f64,
}

impl Default for TapeConfig {
    fn default() -> Self {
        TapeConfig {
            show: false,
            large_base: 0.0,
            large_quote: 50_000.0,
        }
    }
}

impl TapeConfig {
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        for (key, v) in [
            ("ui.tape.large_base", self.large_base),
            ("ui.tape.large_quote", self.large_quote),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ConfigError::invalid(
                    origin,
                    key,
                    v.to_string(),
                    "must be a size ≥ 0 (0: off)",
                ));
            }
        }
        Ok(())
    }
}

/// Volume at price beside the ladder (`v` toggles it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VolumeConfig {
    /// Shown at start.
    pub show: bool,
}
