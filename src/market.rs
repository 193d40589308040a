//! Which Binance market a symbol trades on.
//!
//! Owns: the market names used on the command line, in config and in summaries. Must not touch:
//! anything else.

use std::fmt;

use crate::num::Symbol;

/// A Binance market.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Market {
    /// Spot (`api.binance.com`, `stream.binance.com`).
    Spot,
    /// USD-M futures (`fapi.binance.com`, `fstream.binance.com`).
    #[value(name = "usdm")]
    UsdM,
    /// COIN-M futures (`dapi.binance.com`, `dstream.binance.com`).
    #[value(name = "coinm")]
    CoinM,
}

impl Market {
    pub fn as_str(self) -> &'static str {
        match self {
            Market::Spot => "spot",
            Market::UsdM => "usdm",
            Market::CoinM => "coinm",
        }
    }

    /// The futures market a symbol belongs to: COIN-M symbols carry an underscore
    /// (`BTCUSD_PERP`, `ETHUSD_240927`), USD-M perpetuals do not.
    pub fn futures_for(symbol: Symbol) -> Market {
        if symbol.as_str().contains('_') {
            Market::CoinM
        } else {
            Market::UsdM
        }
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
