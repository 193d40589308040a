//! Which Binance market a symbol trades on.
//!
//! Owns: the market names used on the command line, in config and in summaries. Must not touch:
//! anything else.

use std::fmt;

use crate::num::Symbol;

/// A Binance market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Market {
    /// Spot (`api.binance.com`, `stream.binance.com`).
    Spot,
    /// USD-M futures (`fapi.binance.com`, `fstream.binance.com`).
    UsdM,
    /// COIN-M futures (`dapi.binance.com`, `dstream.binance.com`).
    CoinM,
}

impl Market {
    /// Every market, in the order the CLI lists them.
    pub const ALL: [Market; 3] = [Market::Spot, Market::UsdM, Market::CoinM];

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

impl std::str::FromStr for Market {
    type Err = String;

    /// `spot`, `usdm` or `coinm` (the names the CLI, the config and the summary use).
    fn from_str(s: &str) -> Result<Market, String> {
        Market::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s:?} is not a market: use spot, usdm or coinm"))
    }
}
