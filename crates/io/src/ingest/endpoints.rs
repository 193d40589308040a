//! Stream names and URLs, exactly as Binance routes them.
//!
//! Owns: turning (market, symbols, settings) into WebSocket URLs and REST paths. Must not touch:
//! sockets. Spot: one combined stream `/stream?streams=…` on the spot base. USD-M: two routed
//! sockets on the futures base — `/public/stream?streams=…` for `@depth…` and `@bookTicker`,
//! `/market/stream?streams=…` for `@trade`/`@aggTrade` (the routed URLs that replaced the
//! legacy ones on 2026-04-23). A connection carries at most `max_streams` streams; more open
//! more connections.

use microstate_config::Config;
use microstate_core::market::Market;
use microstate_core::num::Symbol;

/// One WebSocket connection to open: its URL and the symbols whose depth it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsPlan {
    pub url: String,
    pub streams: Vec<String>,
    /// Symbols whose diff-depth stream is on this connection (they resync when it drops).
    pub depth_symbols: Vec<Symbol>,
}

fn depth_stream(cfg: &Config, s: Symbol) -> String {
    // `@depth` alone is the 1000 ms spot / 250 ms futures default speed.
    match cfg.live.depth_speed.as_str() {
        "1000ms" if cfg.live.market == Market::Spot => format!("{}@depth", s.lower()),
        "250ms" if cfg.live.market != Market::Spot => format!("{}@depth", s.lower()),
        speed => format!("{}@depth@{speed}", s.lower()),
    }
}

/// A stream name, and the symbol whose book it carries (depth streams only).
type Stream = (String, Option<Symbol>);

/// The connections to open for `symbols`.
pub fn ws_plans(cfg: &Config, symbols: &[Symbol]) -> Vec<WsPlan> {
    let market = cfg.live.market;
    let base = cfg.endpoints.ws(market).trim_end_matches('/');
    // Per symbol, its book streams (depth, bookTicker) and its trade stream.
    let per_symbol = symbols.iter().map(|&s| {
        let mut book: Vec<Stream> = vec![(depth_stream(cfg, s), Some(s))];
        if cfg.live.book_ticker {
            book.push((format!("{}@bookTicker", s.lower()), None));
        }
        let trade: Stream = (format!("{}@{}", s.lower(), cfg.live.trade_stream), None);
        (book, trade)
    });
    let routes: Vec<(String, Vec<Stream>)> = match market {
        // One socket; each symbol's streams stay together so a symbol rarely straddles two.
        Market::Spot => vec![(
            format!("{base}/stream"),
            per_symbol
                .flat_map(|(mut book, trade)| {
                    book.push(trade);
                    book
                })
                .collect(),
        )],
        // The routed sockets: book data on /public, trades on /market.
        Market::UsdM | Market::CoinM => {
            let (book, trade): (Vec<Vec<Stream>>, Vec<Stream>) = per_symbol.unzip();
            vec![
                (
                    format!("{base}/public/stream"),
                    book.into_iter().flatten().collect(),
                ),
                (format!("{base}/market/stream"), trade),
            ]
        }
    };
    let max = cfg.connection.max_streams.max(1);
    let mut plans = Vec::new();
    for (path, streams) in routes {
        for chunk in streams.chunks(max) {
            plans.push(WsPlan {
                url: format!(
                    "{path}?streams={}",
                    chunk
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join("/")
                ),
                streams: chunk.iter().map(|(n, _)| n.clone()).collect(),
                depth_symbols: chunk.iter().filter_map(|(_, s)| *s).collect(),
            });
        }
    }
    plans
}

/// The combined-stream URL for `path` (`…/stream`) carrying `streams`.
pub fn plan_url(path: &str, streams: &[String]) -> String {
    format!("{path}?streams={}", streams.join("/"))
}

/// One symbol's streams, grouped by the socket path they go on (the same routing as
/// [`ws_plans`]): `(path, streams, carries its depth)`. What a symbol added while running
/// subscribes to, and what removing it unsubscribes.
pub fn symbol_streams(cfg: &Config, s: Symbol) -> Vec<(String, Vec<String>, bool)> {
    let base = cfg.endpoints.ws(cfg.live.market).trim_end_matches('/');
    let mut book = vec![depth_stream(cfg, s)];
    if cfg.live.book_ticker {
        book.push(format!("{}@bookTicker", s.lower()));
    }
    let trade = format!("{}@{}", s.lower(), cfg.live.trade_stream);
    match cfg.live.market {
        Market::Spot => {
            book.push(trade);
            vec![(format!("{base}/stream"), book, true)]
        }
        Market::UsdM | Market::CoinM => vec![
            (format!("{base}/public/stream"), book, true),
            (format!("{base}/market/stream"), vec![trade], false),
        ],
    }
}

/// The shortest spacing of control messages (`SUBSCRIBE`, `UNSUBSCRIBE`) on one connection.
///
/// Binance's limits (developers.binance.com, "WebSocket Streams" for spot and "Websocket
/// Market Streams" for USD-M and COIN-M futures): spot accepts at most 5 incoming messages per
/// second per connection — a PING frame, a PONG frame and a JSON control message each count —
/// and futures 10; a connection past the limit is disconnected (IPs disconnected repeatedly
/// may be banned). A connection listens to at most 1024 streams (`connection.max_streams`).
/// One request every 250 ms (4/s) on spot and 125 ms (8/s) on futures leaves room for the
/// pongs and pings of the same second.
pub fn control_gap(market: Market) -> std::time::Duration {
    match market {
        Market::Spot => std::time::Duration::from_millis(250),
        Market::UsdM | Market::CoinM => std::time::Duration::from_millis(125),
    }
}

/// The path part of a plan's URL (without the stream list).
pub fn plan_path(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// REST depth snapshot URL and its request weight as Binance counts it (`snapshot.spot_limit`
/// on spot, `snapshot.futures_limit` on USD-M and COIN-M).
pub fn depth_request(cfg: &Config, s: Symbol) -> (String, u32) {
    let market = cfg.live.market;
    let base = cfg.endpoints.rest(market).trim_end_matches('/');
    let (path, limit) = match market {
        Market::Spot => ("/api/v3/depth", cfg.snapshot.spot_limit),
        Market::UsdM => ("/fapi/v1/depth", cfg.snapshot.futures_limit),
        Market::CoinM => ("/dapi/v1/depth", cfg.snapshot.futures_limit),
    };
    (
        format!("{base}{path}?symbol={s}&limit={limit}"),
        depth_weight(market, limit),
    )
}

/// Request weight of a depth snapshot of `limit` levels, from Binance's tables.
pub fn depth_weight(market: Market, limit: u32) -> u32 {
    match market {
        Market::Spot => spot_depth_weight(limit),
        Market::UsdM | Market::CoinM => futures_depth_weight(limit),
    }
}

/// Most klines one request may ask for: spot 1000, USD-M and COIN-M 1500 (Binance's documented
/// maxima; see [`klines_weight`]).
pub fn klines_max_limit(market: Market) -> u32 {
    match market {
        Market::Spot => 1000,
        Market::UsdM | Market::CoinM => 1500,
    }
}

/// Request weight of a kline request as Binance documents it:
/// - spot `GET /api/v3/klines`: 2, whatever the limit (default 500, max 1000) —
///   <https://github.com/binance/binance-spot-api-docs/blob/master/rest-api.md> "Kline/Candlestick
///   data";
/// - USD-M `GET /fapi/v1/klines` and COIN-M `GET /dapi/v1/klines`: by limit, [1,100) → 1,
///   [100,500) → 2, [500,1000] → 5, > 1000 → 10 (default 500, max 1500) —
///   <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Kline-Candlestick-Data>,
///   <https://developers.binance.com/docs/derivatives/coin-margined-futures/market-data/rest-api/Kline-Candlestick-Data>.
pub fn klines_weight(market: Market, limit: u32) -> u32 {
    match market {
        Market::Spot => 2,
        Market::UsdM | Market::CoinM => match limit {
            0..=99 => 1,
            100..=499 => 2,
            500..=1000 => 5,
            _ => 10,
        },
    }
}

/// The path of the 1-minute kline endpoint of a market.
pub fn klines_path(market: Market) -> &'static str {
    match market {
        Market::Spot => "/api/v3/klines",
        Market::UsdM => "/fapi/v1/klines",
        Market::CoinM => "/dapi/v1/klines",
    }
}

/// URL and weight of one request for the 1-minute klines of `s` opening in
/// `start_ms ..= end_ms`, at most `limit` of them (clamped to the market's maximum).
pub fn klines_request(
    base: &str,
    market: Market,
    s: Symbol,
    start_ms: i64,
    end_ms: i64,
    limit: u32,
) -> (String, u32) {
    let limit = limit.clamp(1, klines_max_limit(market));
    (
        format!(
            "{}{}?symbol={s}&interval=1m&startTime={start_ms}&endTime={end_ms}&limit={limit}",
            base.trim_end_matches('/'),
            klines_path(market)
        ),
        klines_weight(market, limit),
    )
}

/// URL and weight of one request for the `limit` most recent 1-minute klines of `s` (no time
/// range: the exchange answers by its own clock, the minute in progress included).
pub fn klines_recent_request(base: &str, market: Market, s: Symbol, limit: u32) -> (String, u32) {
    let limit = limit.clamp(1, klines_max_limit(market));
    (
        format!(
            "{}{}?symbol={s}&interval=1m&limit={limit}",
            base.trim_end_matches('/'),
            klines_path(market)
        ),
        klines_weight(market, limit),
    )
}

/// Server time URL (weight 1 on both markets).
pub fn time_url(cfg: &Config) -> String {
    let market = cfg.live.market;
    let base = cfg.endpoints.rest(market).trim_end_matches('/');
    match market {
        Market::Spot => format!("{base}/api/v3/time"),
        _ => format!("{base}/fapi/v1/time"),
    }
}

/// Spot `/api/v3/depth` weight by limit: 1–100 → 5, 101–500 → 25, 501–1000 → 50, 1001–5000 →
/// 250 (<https://github.com/binance/binance-spot-api-docs/blob/master/rest-api.md> "Order book").
pub fn spot_depth_weight(limit: u32) -> u32 {
    match limit {
        0..=100 => 5,
        101..=500 => 25,
        501..=1000 => 50,
        _ => 250,
    }
}

/// USD-M `/fapi/v1/depth` and COIN-M `/dapi/v1/depth` weight by limit (one table for both):
/// 5–50 → 2, 100 → 5, 500 → 10, 1000 → 20
/// (<https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Order-Book>,
/// <https://developers.binance.com/docs/derivatives/coin-margined-futures/market-data/rest-api/Order-Book>).
pub fn futures_depth_weight(limit: u32) -> u32 {
    match limit {
        0..=50 => 2,
        51..=100 => 5,
        101..=500 => 10,
        _ => 20,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syms(v: &[&str]) -> Vec<Symbol> {
        v.iter().map(|s| s.parse().expect("symbol")).collect()
    }

    #[test]
    fn spot_is_one_combined_stream() {
        let cfg = Config::default();
        let p = ws_plans(&cfg, &syms(&["btcusdt", "ethusdt"]));
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].url,
            "wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker/btcusdt@trade/ethusdt@depth@100ms/ethusdt@bookTicker/ethusdt@trade"
        );
        assert_eq!(p[0].depth_symbols, syms(&["BTCUSDT", "ETHUSDT"]));
        let (url, w) = depth_request(&cfg, syms(&["btcusdt"])[0]);
        assert_eq!(
            url,
            "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000"
        );
        assert_eq!(w, 50);
    }

    #[test]
    fn usdm_uses_the_routed_public_and_market_sockets() {
        let mut cfg = Config::default();
        cfg.live.market = Market::UsdM;
        cfg.live.trade_stream = "aggTrade".into();
        let p = ws_plans(&cfg, &syms(&["btcusdt"]));
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[0].url,
            "wss://fstream.binance.com/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker"
        );
        assert_eq!(p[0].depth_symbols, syms(&["BTCUSDT"]));
        assert_eq!(
            p[1].url,
            "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade"
        );
        assert!(p[1].depth_symbols.is_empty());
        let (url, w) = depth_request(&cfg, syms(&["btcusdt"])[0]);
        assert_eq!(
            url,
            "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
        );
        assert_eq!(w, 20);
        assert_eq!(time_url(&cfg), "https://fapi.binance.com/fapi/v1/time");
        cfg.live.market = Market::CoinM;
        let (url, w) = depth_request(&cfg, syms(&["btcusd_perp"])[0]);
        assert!(
            url.ends_with("/dapi/v1/depth?symbol=BTCUSD_PERP&limit=1000"),
            "{url}"
        );
        assert_eq!(w, 20);
    }

    #[test]
    fn split_past_the_stream_limit() {
        let mut cfg = Config::default();
        cfg.connection.max_streams = 4;
        let p = ws_plans(&cfg, &syms(&["a1", "a2", "a3"]));
        assert_eq!(
            p.iter().map(|x| x.streams.len()).collect::<Vec<_>>(),
            vec![4, 4, 1]
        );
        let total: usize = p.iter().map(|x| x.depth_symbols.len()).sum();
        assert_eq!(total, 3);
    }

    #[test]
    fn kline_requests_and_weights() {
        let s = syms(&["btcusdt"])[0];
        let (u, w) = klines_request("http://127.0.0.1:9/", Market::Spot, s, 1, 2, 5000);
        assert_eq!(
            u,
            "http://127.0.0.1:9/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1&endTime=2&limit=1000"
        );
        assert_eq!(w, 2);
        let (u, w) = klines_request("https://fapi.binance.com", Market::UsdM, s, 1, 2, 1500);
        assert!(
            u.starts_with("https://fapi.binance.com/fapi/v1/klines?") && u.ends_with("limit=1500")
        );
        assert_eq!(w, 10);
        let (u, _) = klines_request("h://x", Market::CoinM, s, 1, 2, 0);
        assert!(u.contains("/dapi/v1/klines?") && u.ends_with("limit=1"));
        assert_eq!(
            [1, 99, 100, 499, 500, 1000, 1001, 1500].map(|l| klines_weight(Market::UsdM, l)),
            [1, 1, 2, 2, 5, 5, 10, 10]
        );
        assert_eq!(klines_weight(Market::Spot, 1000), 2);
        let (u, w) = klines_recent_request("http://h:1", Market::UsdM, s, 253);
        assert_eq!(
            u,
            "http://h:1/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=253"
        );
        assert_eq!(w, 2);
        let (u, _) = klines_recent_request("http://h:1", Market::Spot, s, 5000);
        assert!(u.ends_with("/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1000"));
    }

    #[test]
    fn weights() {
        assert_eq!(
            [100, 101, 1000, 5000].map(spot_depth_weight),
            [5, 25, 50, 250]
        );
        assert_eq!(
            [5, 50, 100, 500, 1000].map(futures_depth_weight),
            [2, 2, 5, 10, 20]
        );
    }
}
