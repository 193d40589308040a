//! `[alerts]`: what raises an alert (price levels, imbalance, large trades, gaps, stale,
//! resyncs) and whether the terminal bell rings.
//!
//! Owns: this section's types, defaults and checks. Must not touch: evaluating alerts (the
//! core's `alerts` module does, from these numbers), showing them (the screen).

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Alerts: shown on the screen and written to the log; a threshold of 0 turns its alert off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Ring the terminal bell on every new alert.
    pub bell: bool,
    /// A gap in a depth stream.
    pub gap: bool,
    /// A symbol with no depth update for `live.stale_after`.
    pub stale: bool,
    /// A book resynced.
    pub resync: bool,
    /// |imbalance| over the top `imbalance_levels` levels at or beyond this (0 < x ≤ 1; 0: off).
    pub imbalance: f64,
    /// 1, 5 or 10.
    pub imbalance_levels: u32,
    /// One taker order of at least this size in the base asset (0: off).
    pub large_trade_base: f64,
    /// … or of at least this notional in the quote asset (0: off).
    pub large_trade_quote: f64,
    /// Price levels: `{ symbol = "BTCUSDT", price = 62000.0 }` alerts when the mid crosses it.
    pub prices: Vec<PriceAlertConfig>,
}

/// One price level to watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceAlertConfig {
    pub symbol: String,
    pub price: f64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            bell: false,
            gap: true,
            stale: true,
            resync: true,
            imbalance: 0.0,
            imbalance_levels: 5,
            large_trade_base: 0.0,
            large_trade_quote: 0.0,
            prices: Vec::new(),
        }
    }
}

impl AlertsConfig {
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if !(self.imbalance.is_finite() && (0.0..=1.0).contains(&self.imbalance)) {
            return Err(ConfigError::invalid(
                origin,
                "alerts.imbalance",
                self.imbalance.to_string(),
                "must be between 0 (off) and 1",
            ));
        }
        if ![1, 5, 10].contains(&self.imbalance_levels) {
            return Err(ConfigError::invalid(
                origin,
                "alerts.imbalance_levels",
                self.imbalance_levels.to_string(),
                "must be 1, 5 or 10",
            ));
        }
        for (key, v) in [
            ("alerts.large_trade_base", self.large_trade_base),
            ("alerts.large_trade_quote", self.large_trade_quote),
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
        for p in &self.prices {
            let symbol_ok = !p.symbol.is_empty()
                && p.symbol.len() <= 23
                && p.symbol
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !symbol_ok {
                return Err(ConfigError::invalid(
                    origin,
                    "alerts.prices.symbol",
                    format!("{:?}", p.symbol),
                    "is not a symbol (letters and digits, e.g. \"BTCUSDT\")",
                ));
            }
            if !(p.price.is_finite() && p.price > 0.0) {
                return Err(ConfigError::invalid(
                    origin,
                    "alerts.prices.price",
                    p.price.to_string(),
                    format!("must be a price > 0 (for {})", p.symbol),
                ));
            }
        }
        Ok(())
    }
}
