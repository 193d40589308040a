//! Fetching recent 1-minute klines over REST (Binance or the local exchange), so the context
//! model has its 4 hours of history from the first second and a gap is refilled instead of
//! warming up again.
//!
//! Owns: the kline requests of a symbol/market/time range (paged at the market's maximum
//! limit), waiting for the request-weight budget the snapshots use ([`Budget`]), honouring the
//! server's `X-MBX-USED-WEIGHT-1M`, turning 429/418 into a typed error with the server's
//! `Retry-After`, and parsing the answer exactly ([`microstate_core::wire::klines`]). Must not
//! touch: the engine (the answers go to whoever asked, which feeds them through
//! `Engine::on_frame` with the symbol as hint, like a snapshot), the recording file (the answer
//! says which records it makes: [`KlineFetch::records`]).
//!
//! A driver asks `Engine::context_wants(now)` which minutes each symbol lacks, fetches them
//! here with one request in flight per symbol, feeds and records the answers, and backs off
//! when an answer did not help (a market that has no klines for the range).

use std::time::Duration;

use tokio::time::Instant;

use super::http::{self, HttpError};
use super::snapshots::{WeightBudget, spend_when_allowed};
use super::{endpoints, now_nanos};
use crate::record::format::Record;
use microstate_core::market::Market;
use microstate_core::num::{Nanos, Symbol};
use microstate_core::wire::ParseError;
use microstate_core::wire::klines::{WireKline, parse_klines};

const MINUTE_MS: i64 = 60_000;

/// One answered kline request: what was asked, when, and the body as it came.
#[derive(Clone, Debug)]
pub struct KlineFetch {
    pub symbol: Symbol,
    pub url: String,
    pub sent: Nanos,
    pub recv: Nanos,
    /// The response body, byte for byte (what a recording stores and replay feeds).
    pub body: Vec<u8>,
    /// The body parsed (exact decimals).
    pub klines: Vec<WireKline>,
}

impl KlineFetch {
    /// The two records a recording takes for this answer, as for a depth snapshot: the request
    /// with its URL and the response with the symbol and the body. Replay feeds the response
    /// to the engine, which recognises a kline answer and seeds the context from it.
    pub fn records(&self, id: u64) -> [Record; 2] {
        [
            Record::RestRequest {
                id,
                sent_wall_ns: self.sent.0,
                url: self.url.clone(),
            },
            Record::RestResponse {
                id,
                symbol: Some(self.symbol.to_string()),
                recv_wall_ns: self.recv.0,
                status: 200,
                body: self.body.clone(),
            },
        ]
    }

    /// `(minute_ms, close)` of the minutes that were over when the answer arrived (an
    /// in-progress kline's close is only the latest trade).
    pub fn closes(&self) -> Vec<(i64, f64)> {
        let now_ms = self.recv.0 / 1_000_000;
        self.klines
            .iter()
            .filter(|k| k.closed_at(now_ms))
            .map(|k| k.close_sample())
            .collect()
    }
}

/// Why klines could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum KlineFetchError {
    #[error("{url}: {source}")]
    Http {
        url: String,
        #[source]
        source: HttpError,
    },
    /// 429 (too much weight) or 418 (IP ban): nothing may be asked before `retry_after`.
    #[error("HTTP {status} from {url}: rate limited, retry after {} s", retry_after.as_secs())]
    RateLimited {
        status: u16,
        url: String,
        retry_after: Duration,
    },
    #[error("HTTP {status} from {url}: {body}")]
    Status {
        status: u16,
        url: String,
        body: String,
    },
    #[error("{url}: not a kline answer: {source}")]
    Parse {
        url: String,
        #[source]
        source: ParseError,
    },
    #[error("bad kline range {start_ms}..={end_ms} (start after end)")]
    BadRange { start_ms: i64, end_ms: i64 },
}

/// Where and how to ask.
#[derive(Clone, Debug)]
pub struct KlineSource {
    /// REST base URL (`https://api.binance.com`, `http://127.0.0.1:PORT`).
    pub base: String,
    pub market: Market,
    /// Whole request timeout.
    pub timeout: Duration,
    /// Bounds on each answer (head, body, longest `Retry-After`).
    pub rest: microstate_config::RestConfig,
}

/// Fetches the 1-minute klines of `symbol` opening in `start_ms ..= end_ms`, in as few
/// requests as the market's maximum limit allows, each after waiting for `budget` (a
/// [`super::snapshots::Budget`], or the session's [`super::snapshots::SharedBudget`]). Returns
/// one [`KlineFetch`] per request, in time order. Stops early when the exchange has nothing
/// further (an empty or short page).
pub async fn fetch_klines(
    src: &KlineSource,
    symbol: Symbol,
    start_ms: i64,
    end_ms: i64,
    budget: &mut impl WeightBudget,
) -> Result<Vec<KlineFetch>, KlineFetchError> {
    if start_ms > end_ms {
        return Err(KlineFetchError::BadRange { start_ms, end_ms });
    }
    let max = endpoints::klines_max_limit(src.market) as i64;
    let mut out = Vec::new();
    let mut from = start_ms - start_ms.rem_euclid(MINUTE_MS);
    while from <= end_ms {
        let minutes = ((end_ms - from) / MINUTE_MS + 1).min(max);
        // Each page's range holds at most `limit` klines, so every market's rule for choosing
        // within a range (spot and USD-M from the start, COIN-M from the end) gives them all.
        let to = from + (minutes - 1) * MINUTE_MS + (MINUTE_MS - 1);
        let (url, weight) = endpoints::klines_request(
            &src.base,
            src.market,
            symbol,
            from,
            to.min(end_ms),
            minutes as u32,
        );
        let page = fetch_page(src, symbol, url, weight, budget).await?;
        let last = page.klines.last().map(|k| k.open_time_ms as i64);
        let full = page.klines.len() as i64 >= minutes;
        out.push(page);
        match last {
            Some(l) if full => from = l + MINUTE_MS,
            _ => break,
        }
    }
    Ok(out)
}

/// Fetches the `limit` most recent 1-minute klines of `symbol` as the exchange's own clock
/// sees them (no `startTime`/`endTime`: Binance then answers the latest `limit`, the minute in
/// progress included). One request (`limit` is clamped to the market's maximum). For a client
/// that does not know the exchange's clock yet: the local exchange's replay clock and its
/// synthetic market run on their own time, not the wall clock.
pub async fn fetch_recent_klines(
    src: &KlineSource,
    symbol: Symbol,
    limit: u32,
    budget: &mut impl WeightBudget,
) -> Result<KlineFetch, KlineFetchError> {
    let (url, weight) = endpoints::klines_recent_request(&src.base, src.market, symbol, limit);
    fetch_page(src, symbol, url, weight, budget).await
}

/// One request, once `budget` allows its weight.
async fn fetch_page(
    src: &KlineSource,
    symbol: Symbol,
    url: String,
    weight: u32,
    budget: &mut impl WeightBudget,
) -> Result<KlineFetch, KlineFetchError> {
    if spend_when_allowed(budget, weight).await {
        tracing::info!(%symbol, "klines waited for the request-weight budget");
    }
    let sent = now_nanos();
    let resp = http::get(&url, src.timeout, &src.rest)
        .await
        .map_err(|source| KlineFetchError::Http {
            url: url.clone(),
            source,
        })?;
    let recv = now_nanos();
    if let Some(used) = resp
        .header("x-mbx-used-weight-1m")
        .and_then(|v| v.trim().parse().ok())
    {
        budget.note_server_used(Instant::now(), used);
    }
    match resp.status {
        200 => {
            let klines = parse_klines(&resp.body).map_err(|source| KlineFetchError::Parse {
                url: url.clone(),
                source,
            })?;
            Ok(KlineFetch {
                symbol,
                url,
                sent,
                recv,
                body: resp.body,
                klines,
            })
        }
        status @ (429 | 418) => {
            // Without a Retry-After: a 429 waits out the minute, a 418 (ban) at least 2 min.
            let default = Duration::from_secs(if status == 429 { 60 } else { 120 });
            let retry_after = http::retry_after(&resp, default, src.rest.retry_after_max);
            // Every REST request of this IP stops, not only the klines.
            budget.block_until(Instant::now() + retry_after);
            Err(KlineFetchError::RateLimited {
                status,
                url,
                retry_after,
            })
        }
        status => Err(KlineFetchError::Status {
            status,
            body: String::from_utf8_lossy(&resp.body[..resp.body.len().min(300)]).into_owned(),
            url,
        }),
    }
}
