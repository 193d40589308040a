//! The context history of a live session: the 1-minute klines each symbol's context lacks,
//! asked for at start, after a gap and when a recording starts, so the context is ready from the
//! first seconds and a gap is refilled instead of warming up for four hours again.
//!
//! Owns: the kline task (one request at a time, inside the session's shared request-weight
//! budget, so at most one request in flight per symbol), per symbol what is in flight and when
//! to ask again (back-off after answers that did not help and after rate limits), the estimate
//! of the exchange's clock the wants are computed on, and when every context was first ready.
//! Must not touch: the engine (the driver feeds the answers; this module only reads what the
//! engine says it wants), the recording (the driver's journal records each answer's request and
//! response, like a snapshot's), sockets (io's [`fetch_klines`]).
//!
//! # Which clock
//! [`Engine::context_wants`] needs "now" on the clock the context's minutes are stamped with:
//! the exchange's event time. Live on Binance that is the wall clock give or take the latency;
//! the local exchange runs on its replay clock (a capture's time, or the synthetic market's,
//! which starts 2024-01-01), so the wall clock would ask for minutes the exchange has never
//! seen. The estimate here is the newest of: a frame's event time against its receive time,
//! and a time-endpoint answer (the clock probe) against ours. Before either exists — the first
//! request goes out before the first frame — the request carries no `startTime`/`endTime`:
//! Binance (and the local exchange) then answer the most recent klines by their own clock,
//! which is exactly the lookback wanted at start, whatever that clock says. (Waiting for the
//! time endpoint instead would delay the first seed by a round trip and fail when the probe is
//! off.) Once the clock is known, wants are asked as ranges, paged by [`fetch_klines`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use microstate_core::engine::{Engine, KLINE_WANT_MARGIN};
use microstate_core::ml::context::{LOOKBACK, MINUTE_MS};
use microstate_core::num::{Nanos, Symbol};
use microstate_core::summary::KlineReport;
use microstate_io::ingest::klines::{
    KlineFetchError, KlineSource, fetch_klines, fetch_recent_klines,
};
use microstate_io::ingest::snapshots::SharedBudget;
use microstate_io::ingest::{IngestMsg, IngestStats};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Minutes asked for at most: the lookback and the margin the engine asks on top (older
/// minutes cannot help: after a longer gap the fetched minutes stand on their own).
const MAX_MINUTES: i64 = LOOKBACK as i64 + KLINE_WANT_MARGIN + 1;

/// One request to the kline task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KlineAsk {
    pub symbol: Symbol,
    /// Open times `start ..= end` (ms) on the exchange's clock; `None`: the most recent.
    pub range: Option<(i64, i64)>,
    /// Without a range: how many of the most recent.
    pub limit: u32,
}

/// Starts the kline task: it answers each [`KlineAsk`] with [`IngestMsg::Klines`] or
/// [`IngestMsg::KlinesFailed`] on the ingest queue, in order, one request at a time.
pub fn spawn(
    src: KlineSource,
    budget: SharedBudget,
    tx: mpsc::Sender<IngestMsg>,
    stats: Arc<IngestStats>,
) -> (mpsc::UnboundedSender<KlineAsk>, JoinHandle<()>) {
    let (ask_tx, ask_rx) = mpsc::unbounded_channel();
    (ask_tx, tokio::spawn(task(src, budget, ask_rx, tx, stats)))
}

async fn task(
    src: KlineSource,
    mut budget: SharedBudget,
    mut asks: mpsc::UnboundedReceiver<KlineAsk>,
    tx: mpsc::Sender<IngestMsg>,
    stats: Arc<IngestStats>,
) {
    while let Some(ask) = asks.recv().await {
        stats.kline_requests.fetch_add(1, Ordering::Relaxed);
        let got = match ask.range {
            Some((start, end)) => fetch_klines(&src, ask.symbol, start, end, &mut budget).await,
            None => fetch_recent_klines(&src, ask.symbol, ask.limit, &mut budget)
                .await
                .map(|p| vec![p]),
        };
        let msg = match got {
            Ok(pages) => {
                stats
                    .klines_ok
                    .fetch_add(pages.len() as u64, Ordering::Relaxed);
                IngestMsg::Klines {
                    symbol: ask.symbol,
                    pages,
                }
            }
            Err(e) => {
                stats.kline_errors.fetch_add(1, Ordering::Relaxed);
                let retry_after = match &e {
                    KlineFetchError::RateLimited {
                        status,
                        retry_after,
                        ..
                    } => {
                        let c = if *status == 429 {
                            &stats.rest_429
                        } else {
                            &stats.rest_418
                        };
                        c.fetch_add(1, Ordering::Relaxed);
                        Some(*retry_after)
                    }
                    _ => None,
                };
                IngestMsg::KlinesFailed {
                    symbol: ask.symbol,
                    reason: e.to_string(),
                    retry_after,
                }
            }
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}

/// The exchange's clock as last seen, as an offset from ours (ms), with when it was seen.
#[derive(Clone, Copy, Debug, Default)]
struct ExchangeClock {
    /// (our wall time of the observation, ns; exchange − ours, ms), newest kept.
    newest: Option<(u64, i64)>,
}

impl ExchangeClock {
    fn observe(&mut self, at_wall_ns: u64, offset_ms: i64) {
        if self.newest.is_none_or(|(t, _)| at_wall_ns >= t) {
            self.newest = Some((at_wall_ns, offset_ms));
        }
    }

    /// The exchange's time at our wall time `wall_ms`, once anything was seen.
    fn now_ms(&self, wall_ms: i64) -> Option<i64> {
        self.newest.map(|(_, off)| wall_ms + off)
    }
}

/// What the context history of each symbol needs from the kline task, and what came of it.
pub struct ContextFill {
    /// `None`: no kline requests in this session (no task, or it stopped).
    tx: Option<mpsc::UnboundedSender<KlineAsk>>,
    in_flight: HashSet<Symbol>,
    /// Per symbol: answers in a row that did not help, and when to ask again.
    failures: HashMap<Symbol, u32>,
    next_try: HashMap<Symbol, Instant>,
    clock: ExchangeClock,
    retry_min: Duration,
    retry_max: Duration,
    started: Instant,
    /// When every symbol's context was first ready, after the start.
    ready_after: Option<Duration>,
}

/// A symbol's context in three numbers: minutes held, last minute (ms), ready.
pub type ContextMark = (usize, Option<i64>, bool);

fn mark(engine: &Engine, symbol: Symbol) -> ContextMark {
    engine
        .symbol(symbol)
        .and_then(|st| st.signals.as_deref())
        .map_or((0, None, false), |sig| {
            let s = sig.context_state();
            (s.history_minutes(), s.last_ts(), s.is_ready())
        })
}

impl ContextFill {
    /// `tx` is the kline task's request queue (`None`: never ask). Answers that did not help
    /// are asked again after `retry_min`, doubling up to `retry_max`.
    pub fn new(
        tx: Option<mpsc::UnboundedSender<KlineAsk>>,
        retry_min: Duration,
        retry_max: Duration,
        started: Instant,
    ) -> ContextFill {
        ContextFill {
            tx,
            in_flight: HashSet::new(),
            failures: HashMap::new(),
            next_try: HashMap::new(),
            clock: ExchangeClock::default(),
            retry_min,
            retry_max,
            started,
            ready_after: None,
        }
    }

    /// A frame received at `recv` carried exchange event time `event_ms`.
    pub fn on_event_time(&mut self, recv: Nanos, event_ms: u64) {
        self.clock
            .observe(recv.0, event_ms as i64 - (recv.0 / 1_000_000) as i64);
    }

    /// A clock-probe sample: exchange − ours (ns) at our wall time `wall_ns`.
    pub fn on_clock_sample(&mut self, wall_ns: u64, offset_ns: i64) {
        self.clock.observe(wall_ns, offset_ns.div_euclid(1_000_000));
    }

    /// Asks for what each symbol's context lacks at our wall time `wall_ms`, unless a request
    /// for it is in flight or it is backing off.
    pub fn ask(&mut self, engine: &Engine, wall_ms: i64, now: Instant) {
        if self.tx.is_none() {
            return;
        }
        let exchange_now = self.clock.now_ms(wall_ms);
        for w in engine.context_wants(exchange_now.unwrap_or(wall_ms)) {
            if self.in_flight.contains(&w.symbol)
                || self.next_try.get(&w.symbol).is_some_and(|&t| t > now)
            {
                continue;
            }
            let ask = match exchange_now {
                Some(_) => KlineAsk {
                    symbol: w.symbol,
                    range: Some((
                        w.start_ms.max(w.end_ms - (MAX_MINUTES - 1) * MINUTE_MS),
                        w.end_ms,
                    )),
                    limit: 0,
                },
                // Without the exchange's clock a hole cannot be told from a clock difference:
                // only a context that is not ready asks, for the most recent minutes.
                None if mark(engine, w.symbol).2 => continue,
                None => recent(w.symbol, w.minutes()),
            };
            self.send(ask);
        }
    }

    /// A recording starts: the whole lookback again for every symbol (not in flight), so the
    /// recording replays with a ready context from its first second.
    pub fn ask_for_recording(&mut self, engine: &Engine, wall_ms: i64) {
        let exchange_now = self.clock.now_ms(wall_ms);
        let symbols: Vec<Symbol> = engine.symbols().iter().map(|s| s.symbol).collect();
        for symbol in symbols {
            if self.in_flight.contains(&symbol) {
                continue;
            }
            let ask = match exchange_now {
                Some(now) => {
                    let end = now - now.rem_euclid(MINUTE_MS) - MINUTE_MS;
                    KlineAsk {
                        symbol,
                        range: Some((end - (MAX_MINUTES - 1) * MINUTE_MS, end)),
                        limit: 0,
                    }
                }
                None => recent(symbol, MAX_MINUTES),
            };
            self.send(ask);
        }
    }

    fn send(&mut self, ask: KlineAsk) {
        if let Some(tx) = &self.tx {
            if tx.send(ask).is_ok() {
                self.in_flight.insert(ask.symbol);
            } else {
                self.tx = None;
            }
        }
    }

    /// Before `symbol`'s answer is fed: its context as it was.
    pub fn before_answer(&self, engine: &Engine, symbol: Symbol) -> ContextMark {
        mark(engine, symbol)
    }

    /// After `symbol`'s answer was fed: an answer that changed nothing (a market with no
    /// klines for the range, an exchange behind our estimate of its clock) backs off.
    pub fn after_answer(&mut self, engine: &Engine, symbol: Symbol, before: ContextMark) {
        self.in_flight.remove(&symbol);
        let after = mark(engine, symbol);
        let helped = (after.2 && !before.2) || after.1 > before.1 || after.0 > before.0;
        if helped {
            self.failures.remove(&symbol);
            self.next_try.remove(&symbol);
        } else {
            self.back_off(symbol, None);
        }
        self.check_ready(engine);
    }

    /// `symbol`'s request failed: ask again after the back-off, or after the server's
    /// `Retry-After` when it limited the rate.
    pub fn on_failed(&mut self, symbol: Symbol, retry_after: Option<Duration>) {
        self.in_flight.remove(&symbol);
        self.back_off(symbol, retry_after);
    }

    fn back_off(&mut self, symbol: Symbol, at_least: Option<Duration>) {
        let n = self.failures.entry(symbol).or_insert(0);
        *n += 1;
        let wait = self
            .retry_min
            .saturating_mul(1 << (*n - 1).min(16))
            .min(self.retry_max)
            .max(at_least.unwrap_or_default());
        self.next_try.insert(symbol, Instant::now() + wait);
    }

    /// Notes when every symbol's context is first ready.
    pub fn check_ready(&mut self, engine: &Engine) {
        if self.ready_after.is_none()
            && !engine.symbols().is_empty()
            && engine.symbols().iter().all(|st| mark(engine, st.symbol).2)
        {
            let after = self.started.elapsed();
            tracing::info!(
                after_s = after.as_secs_f64(),
                "context ready for every symbol"
            );
            self.ready_after = Some(after);
        }
    }

    /// The session ends: no more requests.
    pub fn stop(&mut self) {
        self.tx = None;
    }

    /// The summary's part, from the task's counters and what was seen here.
    pub fn report(&self, stats: &IngestStats) -> KlineReport {
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        KlineReport {
            requests: load(&stats.kline_requests),
            answers: load(&stats.klines_ok),
            errors: load(&stats.kline_errors),
            context_ready_after_s: self.ready_after.map(|d| d.as_secs_f64()),
        }
    }
}

/// The most recent `minutes` klines, plus the minute in progress (the exchange's answer ends
/// with it) and one to spare.
fn recent(symbol: Symbol, minutes: i64) -> KlineAsk {
    KlineAsk {
        symbol,
        range: None,
        limit: (minutes.clamp(1, MAX_MINUTES) + 2) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_clock_observation_wins() {
        let mut c = ExchangeClock::default();
        assert_eq!(c.now_ms(1_000), None);
        c.observe(2_000_000_000, -500);
        c.observe(1_000_000_000, 70_000);
        assert_eq!(c.now_ms(10_000), Some(9_500), "an older sample is ignored");
        c.observe(3_000_000_000, -60_000_000);
        assert_eq!(c.now_ms(100_000_000), Some(40_000_000));
    }

    #[test]
    fn recent_asks_cover_the_lookback_and_the_minute_in_progress() {
        let s = Symbol::new(b"BTCUSDT").expect("symbol");
        assert_eq!(recent(s, 251).limit, 253);
        assert_eq!(recent(s, 100_000).limit, MAX_MINUTES as u32 + 2);
        assert_eq!(recent(s, 0).limit, 3);
    }
}
