//! The public REST routes, Binance's request weights, 429/418, and depth answers.
//!
//! Owns: routing (`/api/v3/*` spot, `/fapi/v1/*` USD-M), parameter checks with Binance's error
//! codes, the rolling-minute weight window with its back-off and ban, the REST faults once
//! armed, and the depth answer: the capture's own snapshot verbatim (faithful mode), a stale
//! book (fault), or the exchange's book at the replay point. Must not touch: the clock or the
//! book (read under the market lock, copied, formatted outside it).
//!
//! Weights (as Binance counts them): spot depth limit 1–100 → 5, 101–500 → 25, 501–1000 → 50,
//! 1001–5000 → 250; spot exchangeInfo 20, time 1, ping 1; futures depth 5/10/20/50 → 2, 100 → 5,
//! 500 → 10, 1000 → 20; futures exchangeInfo 1, time 1, ping 1; klines: spot 2 whatever the
//! limit (default 500, max 1000), USD-M and COIN-M by limit [1,100) → 1, [100,500) → 2,
//! [500,1000] → 5, > 1000 → 10 (default 500, max 1500) — the figures of Binance's spot
//! `rest-api.md` "Kline/Candlestick data" and of the USD-M and COIN-M "Kline/Candlestick Data"
//! pages (developers.binance.com, derivatives/…/market-data/rest-api/Kline-Candlestick-Data).
//! A limit above the maximum is served as the maximum. Over the limit: 429 with
//! `Retry-After` (seconds until enough weight leaves the window); asking again during that
//! back-off: 418 with a ban of 2 minutes, doubling with each further ban (capped at 3 days).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::{Instant, sleep, sleep_until};

use super::http::{RequestHead, Response};
use super::{FaultKind, Shared, bump, lock};
use microstate_core::market::Market;
use microstate_core::num::{SCALE, Symbol, format_decimal};
use microstate_core::wire::Level;

/// The weight window.
const WINDOW: Duration = Duration::from_secs(60);
/// First ban after ignoring a 429 (Binance: "from 2 minutes to 3 days").
const FIRST_BAN: Duration = Duration::from_secs(120);
const MAX_BAN: Duration = Duration::from_secs(3 * 24 * 3600);
/// Back-off set by an injected 429, and ban set by an injected 418.
const INJECTED_RETRY_429: u64 = 1;
const INJECTED_RETRY_418: u64 = 2;
/// How long a request waits for the reader to have seen the symbols.
const CATALOG_WAIT: Duration = Duration::from_secs(5);

/// Which API family a path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    Spot,
    Futures,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Depth,
    ExchangeInfo,
    Time,
    Ping,
}

/// Weights, bans and armed REST faults (one window for the whole exchange: every client is
/// 127.0.0.1, which is how Binance would count them too).
#[derive(Default)]
pub(crate) struct RestState {
    window: VecDeque<(Instant, u32)>,
    used: u32,
    backoff_until: Option<Instant>,
    ban_until: Option<Instant>,
    bans: u32,
    pub fail_429: u32,
    pub fail_418: u32,
    pub fail_500: u32,
    pub slow: VecDeque<Duration>,
    pub stale: u32,
}

enum Admit {
    Ok,
    TooMany { retry_after: u64 },
    Banned { retry_after: u64 },
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

impl RestState {
    fn prune(&mut self, now: Instant) {
        while let Some(&(t, w)) = self.window.front() {
            if now.duration_since(t) < WINDOW {
                break;
            }
            self.window.pop_front();
            self.used -= w;
        }
    }

    fn admit(&mut self, now: Instant, weight: u32, limit: u32) -> Admit {
        self.prune(now);
        if let Some(b) = self.ban_until.filter(|b| *b > now) {
            return Admit::Banned {
                retry_after: ceil_secs(b - now),
            };
        }
        if self.backoff_until.is_some_and(|b| b > now) {
            self.bans += 1;
            let ban = FIRST_BAN
                .saturating_mul(1u32 << (self.bans - 1).min(16))
                .min(MAX_BAN);
            self.ban_until = Some(now + ban);
            self.backoff_until = None;
            return Admit::Banned {
                retry_after: ceil_secs(ban),
            };
        }
        if self.used.saturating_add(weight) > limit {
            // When will enough weight have left the window for this request to fit?
            let mut freed = 0u32;
            let mut at = now + WINDOW;
            for &(t, w) in &self.window {
                freed += w;
                if self.used - freed + weight <= limit {
                    at = t + WINDOW;
                    break;
                }
            }
            let retry_after = ceil_secs(at.saturating_duration_since(now));
            self.backoff_until = Some(now + Duration::from_secs(retry_after));
            return Admit::TooMany { retry_after };
        }
        self.window.push_back((now, weight));
        self.used += weight;
        Admit::Ok
    }
}

/// Weight used in the last minute.
pub(crate) fn weight_used(shared: &Shared) -> u32 {
    let mut r = lock(&shared.rest);
    r.prune(Instant::now());
    r.used
}

/// Arms a REST fault.
pub(crate) fn arm(shared: &Shared, kind: &FaultKind) {
    let mut r = lock(&shared.rest);
    match kind {
        FaultKind::Rest429 { count } => r.fail_429 += count,
        FaultKind::Rest418 { count } => r.fail_418 += count,
        FaultKind::Rest500 { count } => r.fail_500 += count,
        FaultKind::SlowDepth { delay } => r.slow.push_back(*delay),
        FaultKind::StaleDepth { .. } => r.stale += 1,
        _ => {}
    }
}

/// Answers one request.
pub(crate) async fn handle(shared: &Arc<Shared>, req: &RequestHead) -> Response {
    bump(&shared.counters.http_requests);
    let r = with_weight(shared, route(shared, req).await);
    match r.status {
        400 => bump(&shared.counters.sent_400),
        418 => bump(&shared.counters.sent_418),
        429 => bump(&shared.counters.sent_429),
        500 => bump(&shared.counters.sent_500),
        503 => bump(&shared.counters.sent_503),
        _ => {}
    }
    r
}

/// Adds `X-MBX-USED-WEIGHT-1M` where the route did not (unknown paths, bad requests), so every
/// answer carries it.
pub(crate) fn with_weight(shared: &Shared, r: Response) -> Response {
    if r.headers.iter().any(|(n, _)| *n == WEIGHT_HEADER) {
        return r;
    }
    let used = weight_used(shared).to_string();
    r.with_header(WEIGHT_HEADER, used)
}

const WEIGHT_HEADER: &str = "X-MBX-USED-WEIGHT-1M";

fn bad_param(name: &str) -> Response {
    Response::error(
        400,
        -1100,
        &format!(
            "Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
        ),
    )
}

async fn route(shared: &Arc<Shared>, req: &RequestHead) -> Response {
    let kline_market = match req.path.as_str() {
        "/api/v3/klines" => Some(Market::Spot),
        "/fapi/v1/klines" => Some(Market::UsdM),
        "/dapi/v1/klines" => Some(Market::CoinM),
        _ => None,
    };
    if let Some(market) = kline_market {
        return if req.method == "GET" {
            klines(shared, market, req).await
        } else {
            Response::error(
                405,
                -1000,
                &format!("Method {} not allowed; use GET", req.method),
            )
        };
    }
    let (api, endpoint) = match req.path.as_str() {
        "/api/v3/depth" => (Api::Spot, Endpoint::Depth),
        "/api/v3/exchangeInfo" => (Api::Spot, Endpoint::ExchangeInfo),
        "/api/v3/time" => (Api::Spot, Endpoint::Time),
        "/api/v3/ping" => (Api::Spot, Endpoint::Ping),
        "/fapi/v1/depth" => (Api::Futures, Endpoint::Depth),
        "/fapi/v1/exchangeInfo" => (Api::Futures, Endpoint::ExchangeInfo),
        "/fapi/v1/time" => (Api::Futures, Endpoint::Time),
        "/fapi/v1/ping" => (Api::Futures, Endpoint::Ping),
        p => {
            return Response::error(
                404,
                -1000,
                &format!(
                    "Unknown path {p:?}: this exchange serves /api/v3 and /fapi/v1 depth, exchangeInfo, time, ping, and /api/v3, /fapi/v1, /dapi/v1 klines"
                ),
            );
        }
    };
    if req.method != "GET" {
        return Response::error(
            405,
            -1000,
            &format!("Method {} not allowed; use GET", req.method),
        );
    }

    // The limit decides the weight, so it is read first; a bad one costs the default weight.
    let mut limit_error = None;
    let limit = match (endpoint, req.param("limit")) {
        (Endpoint::Depth, Some(l)) => match (api, l.parse::<u32>()) {
            (Api::Spot, Ok(n)) if n >= 1 => n.min(5000),
            (Api::Futures, Ok(n)) if [5, 10, 20, 50, 100, 500, 1000].contains(&n) => n,
            (Api::Futures, Ok(_)) => {
                limit_error = Some(Response::error(
                    400,
                    -1130,
                    "Invalid data sent for a parameter: limit must be one of 5, 10, 20, 50, 100, 500, 1000.",
                ));
                500
            }
            _ => {
                limit_error = Some(bad_param("limit"));
                if api == Api::Spot { 100 } else { 500 }
            }
        },
        _ => match api {
            Api::Spot => 100,
            Api::Futures => 500,
        },
    };
    let weight = match (api, endpoint) {
        (_, Endpoint::Time | Endpoint::Ping) => 1,
        (Api::Spot, Endpoint::ExchangeInfo) => 20,
        (Api::Futures, Endpoint::ExchangeInfo) => 1,
        (Api::Spot, Endpoint::Depth) => match limit {
            0..=100 => 5,
            101..=500 => 25,
            501..=1000 => 50,
            _ => 250,
        },
        (Api::Futures, Endpoint::Depth) => match limit {
            0..=50 => 2,
            51..=100 => 5,
            101..=500 => 10,
            _ => 20,
        },
    };
    weighted(shared, weight, || async move {
        match limit_error {
            Some(e) => e,
            None => match endpoint {
                Endpoint::Ping => Response::json(200, "{}".into()),
                Endpoint::Time => Response::json(
                    200,
                    format!("{{\"serverTime\":{}}}", server_time_ms(shared).await),
                ),
                Endpoint::ExchangeInfo => exchange_info(shared, api, req).await,
                Endpoint::Depth => depth(shared, api, req, limit as usize).await,
            },
        }
    })
    .await
}

/// Admits `weight` against the per-minute limit: 429 past it, 418 while banned, else
/// `answer()`. Every answer carries the used-weight header, as Binance's do.
async fn weighted<F: std::future::Future<Output = Response>>(
    shared: &Arc<Shared>,
    weight: u32,
    answer: impl FnOnce() -> F,
) -> Response {
    let admit =
        lock(&shared.rest).admit(Instant::now(), weight, shared.settings.weight_limit_per_min);
    let used = weight_used(shared).to_string();
    let resp = match admit {
        Admit::TooMany { retry_after } => too_many(shared, retry_after),
        Admit::Banned { retry_after } => banned(retry_after),
        Admit::Ok => answer().await,
    };
    resp.with_header(WEIGHT_HEADER, used)
}

/// Binance's kline intervals (the local exchange serves `1m` only).
const INTERVALS: &[&str] = &[
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    "1M",
];

/// `GET /api/v3/klines`, `/fapi/v1/klines`, `/dapi/v1/klines`: parameters checked as Binance
/// does, the weight admitted, then the klines of the store at the replay point.
async fn klines(shared: &Arc<Shared>, market: Market, req: &RequestHead) -> Response {
    let max = if market == Market::Spot { 1000 } else { 1500 };
    // The limit decides the weight, so it is read first; a bad one costs the default weight.
    let mut bad = None;
    let limit = match req.param("limit").map(str::parse::<u32>) {
        None => 500,
        Some(Ok(n)) => n.clamp(1, max),
        Some(Err(_)) => {
            bad = Some(bad_param("limit"));
            500
        }
    };
    let weight = match market {
        Market::Spot => 2,
        Market::UsdM | Market::CoinM => match limit {
            0..=99 => 1,
            100..=499 => 2,
            500..=1000 => 5,
            _ => 10,
        },
    };
    weighted(shared, weight, || async move {
        match bad {
            Some(e) => e,
            None => kline_answer(shared, market, req, limit as usize).await,
        }
    })
    .await
}

async fn kline_answer(
    shared: &Arc<Shared>,
    market: Market,
    req: &RequestHead,
    limit: usize,
) -> Response {
    let Some(sym_text) = req.param("symbol").filter(|s| !s.is_empty()) else {
        return Response::error(
            400,
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        );
    };
    let Some(interval) = req.param("interval").filter(|s| !s.is_empty()) else {
        return Response::error(
            400,
            -1102,
            "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
        );
    };
    if interval != "1m" {
        return Response::error(
            400,
            -1120,
            if INTERVALS.contains(&interval) {
                "Invalid interval: this local exchange serves 1m klines only."
            } else {
                "Invalid interval."
            },
        );
    }
    let time = |name: &str| -> Result<Option<u64>, Response> {
        match req.param(name) {
            None => Ok(None),
            Some(v) => v.parse::<u64>().map(Some).map_err(|_| bad_param(name)),
        }
    };
    let (start, end) = match (time("startTime"), time("endTime")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    if let (Some(a), Some(b)) = (start, end)
        && a > b
    {
        return Response::error(400, -1023, "Start time is greater than end time.");
    }
    let Some(sym) = parse_symbol(sym_text) else {
        return invalid_symbol();
    };
    catalog_ready(shared).await;
    let listed = lock(&shared.catalog).symbols.contains_key(&sym);
    let now = server_time_ms(shared).await;
    let m = lock(&shared.market);
    if !(listed || m.klines.knows(sym)) {
        drop(m);
        return invalid_symbol();
    }
    let rows = m.klines.select(sym, market, start, end, limit, now);
    drop(m);
    bump(&shared.counters.klines_served);
    Response::json(200, super::klines::body(&rows))
}

fn too_many(shared: &Shared, retry_after: u64) -> Response {
    Response::error(
        429,
        -1003,
        &format!(
            "Too much request weight used; current limit is {} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
            shared.settings.weight_limit_per_min
        ),
    )
    .with_header("Retry-After", retry_after.to_string())
}

fn banned(retry_after: u64) -> Response {
    Response::error(
        418,
        -1003,
        &format!("Way too much request weight used; IP banned for {retry_after} s. Please use WebSocket Streams for live updates to avoid bans."),
    )
    .with_header("Retry-After", retry_after.to_string())
}

/// Exchange time at the replay point: the latest `E` passed, else the first in the source
/// (once the reader has looked), else the wall clock.
async fn server_time_ms(shared: &Shared) -> u64 {
    let known = || {
        let t = lock(&shared.market).exchange_time_ms;
        t.or_else(|| lock(&shared.catalog).first_event_ms)
    };
    if known().is_none() {
        catalog_ready(shared).await;
    }
    known().unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    })
}

/// Waits (bounded) until the reader has looked far enough ahead to know the symbols.
async fn catalog_ready(shared: &Shared) {
    let mut rx = shared.catalog_ready.subscribe();
    let _ = tokio::time::timeout(CATALOG_WAIT, rx.wait_for(|v| *v)).await;
}

/// Whether `sym` trades on `api`, as far as the data says.
fn known(shared: &Shared, api: Api, sym: Symbol) -> bool {
    let cat = lock(&shared.catalog);
    cat.symbols.get(&sym).is_some_and(|i| match i.futures {
        None => true,
        Some(f) => f == (api == Api::Futures),
    })
}

fn invalid_symbol() -> Response {
    Response::error(400, -1121, "Invalid symbol.")
}

fn parse_symbol(s: &str) -> Option<Symbol> {
    // Binance wants upper case here.
    if s.bytes().any(|c| c.is_ascii_lowercase()) {
        return None;
    }
    Symbol::new(s.as_bytes())
}

/// Quote assets recognised when splitting a symbol, longest first among overlaps.
const QUOTES: &[&str] = &[
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "DAI", "BTC", "ETH", "BNB", "EUR", "TRY",
    "BRL", "GBP", "AUD", "JPY", "USD",
];

/// `BTCUSDT` → (`BTC`, `USDT`); `BTCUSD_PERP` → (`BTC`, `USD`). Best effort.
fn split_assets(sym: &str) -> (String, String) {
    let pair = sym.split('_').next().unwrap_or(sym);
    for q in QUOTES {
        if let Some(base) = pair.strip_suffix(q)
            && !base.is_empty()
        {
            return (base.to_string(), (*q).to_string());
        }
    }
    (pair.to_string(), String::new())
}

async fn exchange_info(shared: &Arc<Shared>, api: Api, req: &RequestHead) -> Response {
    catalog_ready(shared).await;
    let wanted: Option<Vec<String>> = match (req.param("symbol"), req.param("symbols")) {
        (Some(s), _) => Some(vec![s.to_string()]),
        (None, Some(list)) => match serde_json::from_str::<Vec<String>>(list) {
            Ok(v) => Some(v),
            Err(_) => {
                return Response::error(
                    400,
                    -1100,
                    "Illegal characters found in parameter 'symbols'; expected a JSON list like [\"BTCUSDT\"].",
                );
            }
        },
        _ => None,
    };
    let server_time = server_time_ms(shared).await;
    let cat = lock(&shared.catalog);
    let mut listed = Vec::new();
    for sym in &cat.order {
        let Some(info) = cat.symbols.get(sym) else {
            continue;
        };
        if info.futures.is_some_and(|f| f != (api == Api::Futures)) {
            continue;
        }
        if wanted
            .as_ref()
            .is_some_and(|w| !w.iter().any(|x| x == sym.as_str()))
        {
            continue;
        }
        let (base, quote) = split_assets(sym.as_str());
        let (pp, qp) = info.decimals.unwrap_or((8, 8));
        // The tick the data shows; no filter where it has not shown one yet.
        let filters: Vec<Value> = info
            .tick
            .map(|t| {
                let dec = |m: u64| format!("{}.{:08}", m / SCALE, m % SCALE);
                json!({
                    "filterType": "PRICE_FILTER", "minPrice": dec(t),
                    "maxPrice": "1000000.00000000", "tickSize": dec(t),
                })
            })
            .into_iter()
            .collect();
        listed.push(match api {
            Api::Spot => json!({
                "symbol": sym.as_str(), "status": "TRADING",
                "baseAsset": base, "baseAssetPrecision": 8,
                "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
                "isSpotTradingAllowed": true, "permissions": ["SPOT"],
                "filters": filters,
            }),
            Api::Futures => json!({
                "symbol": sym.as_str(), "pair": sym.as_str().split('_').next().unwrap_or(""),
                "contractType": if sym.as_str().contains('_') { "CURRENT_QUARTER" } else { "PERPETUAL" },
                "status": "TRADING", "baseAsset": base, "quoteAsset": quote.clone(),
                "marginAsset": quote, "pricePrecision": pp, "quantityPrecision": qp,
                "filters": filters,
            }),
        });
    }
    drop(cat);
    if let Some(w) = &wanted
        && listed.len() < w.len()
    {
        return invalid_symbol();
    }
    let body: Value = json!({
        "timezone": "UTC",
        "serverTime": server_time,
        "rateLimits": [{
            "rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
            "limit": shared.settings.weight_limit_per_min,
        }],
        "exchangeFilters": [],
        "symbols": listed,
    });
    Response::json(200, body.to_string())
}

/// A depth answer taken under the market lock.
enum Ready {
    Verbatim(String),
    Book {
        last: u64,
        times: Option<(u64, u64)>,
        bids: Vec<Level>,
        asks: Vec<Level>,
        stale: bool,
    },
}

async fn depth(shared: &Arc<Shared>, api: Api, req: &RequestHead, limit: usize) -> Response {
    let Some(sym_text) = req.param("symbol").filter(|s| !s.is_empty()) else {
        return Response::error(
            400,
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        );
    };
    let Some(sym) = parse_symbol(sym_text) else {
        return invalid_symbol();
    };
    catalog_ready(shared).await;
    if !known(shared, api, sym) {
        return invalid_symbol();
    }
    // Armed REST faults, in a fixed order.
    let injected = {
        let mut r = lock(&shared.rest);
        let now = Instant::now();
        if r.fail_500 > 0 {
            r.fail_500 -= 1;
            Some(Response::error(
                500,
                -1001,
                "Internal error; unable to process your request. Please try again.",
            ))
        } else if r.fail_418 > 0 {
            r.fail_418 -= 1;
            r.ban_until = Some(now + Duration::from_secs(INJECTED_RETRY_418));
            Some(
                Response::error(418, -1003, "Way too much request weight used; IP banned.")
                    .with_header("Retry-After", INJECTED_RETRY_418.to_string()),
            )
        } else if r.fail_429 > 0 {
            r.fail_429 -= 1;
            r.backoff_until = Some(now + Duration::from_secs(INJECTED_RETRY_429));
            Some(
                Response::error(429, -1003, "Too much request weight used.")
                    .with_header("Retry-After", INJECTED_RETRY_429.to_string()),
            )
        } else {
            None
        }
    };
    if let Some(r) = injected {
        return r;
    }
    let slow = lock(&shared.rest).slow.pop_front();
    if let Some(d) = slow {
        sleep(d).await;
    }
    let want_stale = lock(&shared.rest).stale > 0;
    let deadline = Instant::now() + shared.settings.depth_wait;
    let ready = loop {
        let changed = shared.market_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        match take_depth(shared, api, sym, limit, want_stale) {
            Some(Ok(r)) => break r,
            Some(Err(resp)) => return resp,
            None => {}
        }
        tokio::select! {
            _ = &mut changed => {}
            _ = sleep_until(deadline) => return not_synced(sym),
        }
    };
    bump(&shared.counters.snapshots_served);
    match ready {
        Ready::Verbatim(body) => {
            bump(&shared.counters.faithful_served);
            Response::json(200, body)
        }
        Ready::Book {
            last,
            times,
            bids,
            asks,
            stale,
        } => {
            if stale {
                bump(&shared.counters.stale_served);
                let mut r = lock(&shared.rest);
                r.stale = r.stale.saturating_sub(1);
            }
            let decimals = lock(&shared.catalog)
                .symbols
                .get(&sym)
                .and_then(|i| i.decimals);
            Response::json(200, depth_body(last, times, &bids, &asks, decimals))
        }
    }
}

fn not_synced(sym: Symbol) -> Response {
    Response::error(
        503,
        -1007,
        &format!(
            "Timeout waiting for response from backend server: the book for {sym} is not synced at the current replay point."
        ),
    )
}

/// One attempt at a depth answer: `None` while the book is not ready yet.
fn take_depth(
    shared: &Shared,
    api: Api,
    sym: Symbol,
    limit: usize,
    want_stale: bool,
) -> Option<Result<Ready, Response>> {
    let mut m = lock(&shared.market);
    if let Some(p) = m.pending.as_mut()
        && p.symbol == sym
        && !p.taken
    {
        p.taken = true;
        let body = String::from_utf8_lossy(&p.body).into_owned();
        drop(m);
        shared.snapshot_taken.notify_one();
        return Some(Ok(Ready::Verbatim(body)));
    }
    let times = match api {
        Api::Spot => None,
        Api::Futures => m
            .exchange_time_ms
            .map(|e| (e, m.transact_time_ms.unwrap_or(e))),
    };
    let current = m
        .engine
        .symbol(sym)
        .filter(|s| s.sync.is_synced())
        .map(|s| s.book());
    if want_stale
        && let (Some(lag), Some(cur)) = (m.lag.as_ref(), current)
        && let Some(old) = lag.engine.symbol(sym).filter(|s| s.sync.is_synced())
        && old.book().last_update_id < cur.last_update_id
    {
        let b = old.book();
        return Some(Ok(Ready::Book {
            last: b.last_update_id,
            times,
            bids: b.bids.top(limit).collect(),
            asks: b.asks.top(limit).collect(),
            stale: true,
        }));
    }
    if let Some(b) = current {
        return Some(Ok(Ready::Book {
            last: b.last_update_id,
            times,
            bids: b.bids.top(limit).collect(),
            asks: b.asks.top(limit).collect(),
            stale: false,
        }));
    }
    if m.ended {
        return Some(Err(not_synced(sym)));
    }
    None
}

/// Writes a mantissa with exactly `places` decimals when that is exact (as Binance pads), else
/// the shortest exact form.
fn push_decimal(out: &mut String, m: u64, places: Option<u8>) {
    if let Some(p) = places.filter(|p| *p <= 8) {
        let unit = 10u64.pow(8 - p as u32);
        if m.is_multiple_of(unit) {
            let int = m / SCALE;
            let frac = (m % SCALE) / unit;
            let _ = if p == 0 {
                write!(out, "{int}")
            } else {
                write!(out, "{int}.{frac:0w$}", w = p as usize)
            };
            return;
        }
    }
    let _ = format_decimal(m, out);
}

/// `{"lastUpdateId":N[,"E":..,"T":..],"bids":[["p","q"],..],"asks":[..]}`.
fn depth_body(
    last: u64,
    times: Option<(u64, u64)>,
    bids: &[Level],
    asks: &[Level],
    decimals: Option<(u8, u8)>,
) -> String {
    let (pp, qp) = match decimals {
        Some((p, q)) => (Some(p), Some(q)),
        None => (None, None),
    };
    let mut s = String::with_capacity(64 + (bids.len() + asks.len()) * 40);
    let _ = write!(s, "{{\"lastUpdateId\":{last}");
    if let Some((e, t)) = times {
        let _ = write!(s, ",\"E\":{e},\"T\":{t}");
    }
    for (name, side) in [("bids", bids), ("asks", asks)] {
        let _ = write!(s, ",\"{name}\":[");
        for (i, l) in side.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str("[\"");
            push_decimal(&mut s, l.price.0, pp);
            s.push_str("\",\"");
            push_decimal(&mut s, l.qty.0, qp);
            s.push_str("\"]");
        }
        s.push(']');
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use microstate_core::num::{Price, Qty};

    #[test]
    fn decimals_pad_like_binance() {
        let mut s = String::new();
        push_decimal(&mut s, 6_173_763_000_000, Some(8));
        assert_eq!(s, "61737.63000000");
        s.clear();
        push_decimal(&mut s, 6_394_390_000_000, Some(2));
        assert_eq!(s, "63943.90");
        s.clear();
        push_decimal(&mut s, 123, Some(2));
        assert_eq!(s, "0.00000123");
        s.clear();
        push_decimal(&mut s, 500_000_000, Some(0));
        assert_eq!(s, "5");
    }

    #[test]
    fn depth_body_shape() {
        let l = |p: u64, q: u64| Level {
            price: Price(p * SCALE),
            qty: Qty(q * SCALE),
        };
        let b = depth_body(
            7,
            Some((1, 2)),
            &[l(10, 1)],
            &[l(11, 2), l(12, 3)],
            Some((1, 0)),
        );
        assert_eq!(
            b,
            r#"{"lastUpdateId":7,"E":1,"T":2,"bids":[["10.0","1"]],"asks":[["11.0","2"],["12.0","3"]]}"#
        );
    }

    #[test]
    fn weights_429_then_418() {
        let mut r = RestState::default();
        let t0 = Instant::now();
        for _ in 0..12 {
            assert!(matches!(r.admit(t0, 5, 60), Admit::Ok));
        }
        let Admit::TooMany { retry_after } = r.admit(t0, 5, 60) else {
            panic!("expected 429");
        };
        assert_eq!(retry_after, 60);
        let Admit::Banned { retry_after: ban } = r.admit(t0, 5, 60) else {
            panic!("expected 418");
        };
        assert!(ban > retry_after);
        // After the ban the window has emptied.
        assert!(matches!(
            r.admit(t0 + Duration::from_secs(121), 5, 60),
            Admit::Ok
        ));
    }

    #[test]
    fn assets() {
        assert_eq!(split_assets("BTCUSDT"), ("BTC".into(), "USDT".into()));
        assert_eq!(split_assets("BLZETH"), ("BLZ".into(), "ETH".into()));
        assert_eq!(split_assets("BTCUSD_PERP"), ("BTC".into(), "USD".into()));
        assert_eq!(split_assets("RUNEEUR"), ("RUNE".into(), "EUR".into()));
    }
}
