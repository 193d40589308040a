//! `[ui.tape]`, `[ui.volume]`, `[ui.ladder]` and `[ui.layout]`: the time & sales and
//! volume-at-price panels — shown at start or not, and what the tape highlights as a large
//! trade; how the ladder is drawn; which panels the screen starts without.
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

/// The depth ladder (`d` and `$` toggle the first two while running).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LadderConfig {
    /// Every tick in the visible range, empty levels included (as a DOM shows it), instead of
    /// only the levels the book has.
    pub contiguous: bool,
    /// Sizes as notional in the quote currency instead of the base asset.
    pub quote_sizes: bool,
    /// Rows per side at most (0: as many as the panel holds).
    pub levels: usize,
}

/// Most rows per side `ui.ladder.levels` may ask for.
pub const LADDER_MAX_LEVELS: usize = 500;

impl LadderConfig {
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if self.levels > LADDER_MAX_LEVELS {
            return Err(ConfigError::invalid(
                origin,
                "ui.ladder.levels",
                self.levels.to_string(),
                format!("must be 0 (as many as fit) to {LADDER_MAX_LEVELS}"),
            ));
        }
        Ok(())
    }
}

/// The panels that can be hidden, by name (F2…F7 toggle them while running).
pub const PANEL_NAMES: [&str; 6] = [
    "ladder",
    "chart",
    "gauges",
    "interpretation",
    "latency",
    "symbols",
];

/// Which panels the screen starts without.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LayoutConfig {
    /// Panel names (see [`PANEL_NAMES`]).
    pub hide: Vec<String>,
}

impl LayoutConfig {
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        match self
            .hide
            .iter()
            .find(|n| !PANEL_NAMES.contains(&n.as_str()))
        {
            Some(n) => Err(ConfigError::invalid(
                origin,
                "ui.layout.hide",
                n.clone(),
                format!("is not a panel (one of {})", PANEL_NAMES.join(", ")),
            )),
            None => Ok(()),
        }
    }

    /// Per name in [`PANEL_NAMES`]: hidden?
    pub fn hidden(&self) -> [bool; 6] {
        PANEL_NAMES.map(|n| self.hide.iter().any(|h| h == n))
    }
}
