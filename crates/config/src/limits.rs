//! `[limits]`: bounds on everything whose size the input decides — bytes per capture line or
//! frame, levels per diff or snapshot side, symbols per session, feature-window entries, and
//! the run of stale diffs taken as a broken chain.
//!
//! Owns: the section's type, defaults (the core's `Limits::default`, in TOML units) and check.
//! Must not touch: what a tripped bound does (the core and the readers count it and go on),
//! other sections.

use serde::{Deserialize, Serialize};

use crate::ConfigError;
use crate::units::size_str;
use microstate_core::limits::Limits;

/// Smallest line cap accepted: a real Binance snapshot line (5,000 levels a side) is ~250 KB.
pub const MIN_LINE_BYTES: u64 = 64 << 10;
/// Largest line cap accepted: past it a single line could take a good share of memory.
pub const MAX_LINE_BYTES: u64 = 1 << 30;

/// Bounds on what the input decides; a bound that trips is counted and named, never a crash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Bytes of one capture line or frame; longer ones are skipped while read.
    #[serde(with = "size_str")]
    pub max_line_bytes: u64,
    /// Levels on one side of one diff or snapshot; more and it is refused whole.
    pub max_levels: usize,
    /// Symbols kept per session; frames of further symbols are refused.
    pub max_symbols: usize,
    /// Entries kept per feature-window stream, whatever the exchange clock says.
    pub max_window_entries: usize,
    /// Stale diffs in a row, while synced, taken as a gap (the book's id ran ahead).
    pub max_stale_run: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = Limits::default();
        LimitsConfig {
            max_line_bytes: l.max_line_bytes as u64,
            max_levels: l.max_levels,
            max_symbols: l.max_symbols,
            max_window_entries: l.max_window_entries,
            max_stale_run: l.max_stale_run,
        }
    }
}

impl LimitsConfig {
    /// The core's caps.
    pub fn limits(&self) -> Limits {
        Limits {
            max_line_bytes: usize::try_from(self.max_line_bytes).unwrap_or(usize::MAX),
            max_levels: self.max_levels,
            max_symbols: self.max_symbols,
            max_window_entries: self.max_window_entries,
            max_stale_run: self.max_stale_run,
        }
    }

    /// Every cap above zero; the line cap between 64 KiB and 1 GiB.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if !(MIN_LINE_BYTES..=MAX_LINE_BYTES).contains(&self.max_line_bytes) {
            return Err(ConfigError::invalid(
                origin,
                "limits.max_line_bytes",
                crate::format_size(self.max_line_bytes),
                "must be from 64KiB to 1GiB",
            ));
        }
        let zero = [
            ("limits.max_levels", self.max_levels as u64),
            ("limits.max_symbols", self.max_symbols as u64),
            ("limits.max_window_entries", self.max_window_entries as u64),
            ("limits.max_stale_run", self.max_stale_run),
        ];
        for (key, v) in zero {
            if v == 0 {
                return Err(ConfigError::invalid(origin, key, "0", "must be positive"));
            }
        }
        Ok(())
    }
}
