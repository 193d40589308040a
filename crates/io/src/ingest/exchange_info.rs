//! The venue's instrument list: exchangeInfo's symbols, their status, tick and lot sizes.
//!
//! Owns: asking exchangeInfo once (inside the session's request-weight budget) and reading
//! what the live session needs from it — which symbols exist (a symbol typed on the screen is
//! checked against them, and the add prompt completes from them) and each one's
//! `PRICE_FILTER` `tickSize` and `LOT_SIZE` `stepSize` (prices drawn on the symbol's tick).
//! Must not touch: the engine or the screen (the driver hands the list on).

use std::collections::BTreeMap;
use std::time::Duration;

use microstate_config::RestConfig;
use microstate_core::market::Market;
use microstate_core::num::{Price, Symbol};
use serde::Deserialize;

use super::snapshots::{SharedBudget, spend_when_allowed};

/// One listed symbol as the live session uses it.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed {
    /// `TRADING`, `BREAK`, `SETTLING`, …
    pub status: String,
    /// `PRICE_FILTER` `tickSize`, exact (`None`: the filter is missing, or 0 as Binance writes
    /// for "no rule", or finer than the project's 8 decimals).
    pub tick: Option<Price>,
    /// `LOT_SIZE` `stepSize`.
    pub step: Option<f64>,
}

/// Every symbol exchangeInfo lists, by name.
pub type Listing = BTreeMap<Symbol, Listed>;

#[derive(Deserialize)]
struct Body {
    symbols: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    symbol: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    filters: Vec<Filter>,
}

#[derive(Deserialize)]
struct Filter {
    #[serde(rename = "filterType")]
    kind: String,
    #[serde(rename = "tickSize", default)]
    tick: Option<String>,
    #[serde(rename = "stepSize", default)]
    step: Option<String>,
}

/// exchangeInfo's path on `market`.
pub fn path(market: Market) -> &'static str {
    match market {
        Market::Spot => "/api/v3/exchangeInfo",
        Market::UsdM => "/fapi/v1/exchangeInfo",
        Market::CoinM => "/dapi/v1/exchangeInfo",
    }
}

/// Its request weight as Binance counts it: spot 20, futures 1.
pub fn weight(market: Market) -> u32 {
    match market {
        Market::Spot => 20,
        Market::UsdM | Market::CoinM => 1,
    }
}

/// Reads an exchangeInfo body. Symbols whose names the project cannot hold are skipped.
pub fn parse(body: &[u8]) -> Result<Listing, String> {
    let b: Body = serde_json::from_slice(body).map_err(|e| format!("exchangeInfo: {e}"))?;
    let size = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    Ok(b.symbols
        .into_iter()
        .filter_map(|e| {
            let sym = Symbol::new(e.symbol.as_bytes())?;
            let find = |k: &str| e.filters.iter().find(|f| f.kind == k);
            Some((
                sym,
                Listed {
                    status: e.status.unwrap_or_else(|| "TRADING".into()),
                    tick: find("PRICE_FILTER")
                        .and_then(|f| f.tick.as_deref())
                        .and_then(|t| Price::parse(t.as_bytes()).ok())
                        .filter(|p| !p.is_zero()),
                    step: find("LOT_SIZE").and_then(|f| size(&f.step)),
                },
            ))
        })
        .collect())
}

/// Asks `base`'s exchangeInfo for every symbol of `market` (waiting for room in `budget`).
pub async fn fetch(
    base: &str,
    market: Market,
    timeout: Duration,
    rest: &RestConfig,
    mut budget: SharedBudget,
) -> Result<Listing, String> {
    spend_when_allowed(&mut budget, weight(market)).await;
    let url = format!("{}{}", base.trim_end_matches('/'), path(market));
    let r = super::http::get(&url, timeout, rest)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if r.status != 200 {
        return Err(format!("{url}: HTTP {}", r.status));
    }
    parse(&r.body).map_err(|e| format!("{url}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_steps_and_status_are_read_from_the_filters() {
        let body = br#"{"timezone":"UTC","symbols":[
            {"symbol":"BTCUSDT","status":"TRADING","filters":[
                {"filterType":"PRICE_FILTER","minPrice":"0.01","maxPrice":"1000000","tickSize":"0.01000000"},
                {"filterType":"LOT_SIZE","minQty":"0.00001","maxQty":"9000","stepSize":"0.00001000"}]},
            {"symbol":"LRCBTC","status":"BREAK","filters":[
                {"filterType":"PRICE_FILTER","tickSize":"0.00000001"}]},
            {"symbol":"NOFILTERS"},
            {"symbol":"ZERO","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.00000000"}]}]}"#;
        let l = parse(body).expect("parses");
        let s = |n: &str| Symbol::new(n.as_bytes()).expect("symbol");
        assert_eq!(l.len(), 4);
        let btc = &l[&s("BTCUSDT")];
        assert_eq!(
            (btc.tick, btc.step),
            (Some(Price(1_000_000)), Some(0.00001))
        );
        assert_eq!(btc.status, "TRADING");
        assert_eq!(l[&s("LRCBTC")].tick, Some(Price(1)));
        assert_eq!(l[&s("LRCBTC")].status, "BREAK");
        assert_eq!(l[&s("NOFILTERS")].tick, None);
        assert_eq!(l[&s("ZERO")].tick, None);
        assert!(parse(b"{\"code\":-1121}").is_err());
    }
}
