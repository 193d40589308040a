//! The headless summary: what a run did to each symbol, as JSON, and as text for a person
//! ([`text`]).
//!
//! Owns: the summary's shape (a stable contract for scripts and tests) and its readable form.
//! Must not touch: I/O (the binary writes what these functions return).

pub mod text;

use serde::Serialize;

use crate::engine::{Engine, SymbolState};
use crate::latency::Percentiles;
use crate::wire::Level;

/// Levels per side in `final`.
pub const FINAL_LEVELS: usize = 10;

#[derive(Serialize, Debug, Clone)]
pub struct Summary {
    pub symbols: Vec<SymbolSummary>,
    /// Frames read, over all symbols, including those that failed.
    pub frames_total: u64,
    /// Frames or lines that could not be used (malformed, unreadable).
    pub errors_total: u64,
    /// The first errors, each naming file and line.
    pub errors: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    /// Digest (hex) of every engine output, frame by frame (`replay --digest`): identical for
    /// any speed and pauses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Per-stage latency percentiles (since start and over the window) and clock offsets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<crate::latency::LatencySummary>,
    /// Connection facts of a live run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveReport>,
    /// A NATS consumer's run (`live --source nats://…`): what it read from the bus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus: Option<BusReport>,
    /// Bounds that turned input away (`[limits]`), by name; absent when none tripped.
    #[serde(skip_serializing_if = "crate::limits::LimitCounters::is_clear")]
    pub limits: crate::limits::LimitCounters,
}

/// What a live run's connections did.
#[derive(Serialize, Debug, Clone, Default)]
pub struct LiveReport {
    pub ever_connected: bool,
    /// The last thing that went wrong, for a person.
    pub last_failure: Option<String>,
    pub frames_received: u64,
    /// Frames dropped because the engine could not keep up (they surface as gaps and resyncs).
    pub frames_shed: u64,
    /// Frames the engine refused (malformed).
    pub frames_refused: u64,
    pub pings_answered: u64,
    pub snapshot_requests: u64,
    pub snapshots_ok: u64,
    pub snapshot_errors: u64,
    pub snapshot_budget_waits: u64,
    /// Snapshot requests that first waited out a back-off (failed requests, snapshots that did
    /// not sync the book).
    pub snapshot_backoffs: u64,
    pub rest_429: u64,
    pub rest_418: u64,
    /// HTTP 200 answers to a depth request that were not a snapshot (counted, asked again).
    pub snapshots_unusable: u64,
    /// Times the snapshot scheduler panicked and was restarted with its queue intact.
    pub snapshot_task_restarts: u64,
    /// Frames about symbols nobody subscribed to: counted and dropped, never a new book.
    pub unsolicited_frames: u64,
    /// Why the session stopped on its own (a task it needs gave up); the exit code is then 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fatal: Option<String>,
    /// Symbols stale at the end of the run.
    pub stale_symbols: Vec<String>,
    /// Times a symbol turned stale during the run.
    pub stale_events: u64,
    /// What our client adds: a frame's receive time → the engine has applied it (ns).
    pub apply_latency_ns: Percentiles,
    /// Clock-offset samples from the exchange's time endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockReport>,
    pub connections: Vec<SlotReport>,
    /// The kline requests that seed and refill the context history.
    pub klines: KlineReport,
    /// Seconds from the session's start until every symbol asked for had been synced at least
    /// once (null: some never was).
    pub time_to_all_synced_s: Option<f64>,
    pub elapsed_s: f64,
    /// `--publish nats://…`: what the collector published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus: Option<BusReport>,
}

/// The NATS fan-out's side of a run: a collector's publisher (`published`) or a consumer
/// (`consumed`).
#[derive(Serialize, Debug, Clone, Default)]
pub struct BusReport {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<BusPublished>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed: Option<BusConsumed>,
}

/// What a collector's publisher did.
#[derive(Serialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusPublished {
    /// Messages the server acknowledged (raw and signals).
    pub published: u64,
    /// Messages dropped because the publisher's queue was full (NATS slower than the feed).
    pub dropped: u64,
    /// Publishes that failed or were never acknowledged (the server away).
    pub errors: u64,
    /// Times fresh snapshots of every synced symbol were asked for so consumers resync:
    /// after publish errors once publishing works again, and every `nats.snapshot_every`.
    pub resnapshots: u64,
    /// `.signals` messages queued.
    pub signals: u64,
}

/// What a consumer read from the bus.
#[derive(Serialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusConsumed {
    /// Raw messages fed to the engine, messages that could not be read, frames refused.
    pub messages: u64,
    pub read_errors: u64,
    pub refused: u64,
    /// Stream sequences of the first and last message fed (0: none).
    pub first_seq: u64,
    pub last_seq: u64,
    /// Collector receive → applied here (ns; wall clocks of both hosts), over the messages
    /// published after the consumer started.
    pub receive_to_applied_ns: Percentiles,
}

/// The context history's kline requests in a live run.
#[derive(Serialize, Debug, Clone, Copy, Default)]
pub struct KlineReport {
    /// Requests asked of the kline task, answers (pages) that parsed, requests that failed.
    pub requests: u64,
    pub answers: u64,
    pub errors: u64,
    /// Seconds from the session's start until every symbol's context was ready (null: never).
    pub context_ready_after_s: Option<f64>,
}

/// The exchange clock against ours, from the time endpoint (exchange − local, ns).
#[derive(Serialize, Debug, Clone, Copy, Default)]
pub struct ClockReport {
    pub samples: u64,
    /// The sample with the shortest round trip (the most certain): offset and round trip.
    pub best_offset_ns: i64,
    pub best_rtt_ns: u64,
    pub last_offset_ns: i64,
}

/// One logical connection (a URL kept up across reconnects).
#[derive(Serialize, Debug, Clone, Default)]
pub struct SlotReport {
    pub url: String,
    pub attempts: u64,
    pub connections: u64,
    pub failures: u64,
    /// Unplanned disconnects.
    pub disconnects: u64,
    pub last_disconnect: Option<String>,
    pub server_shutdowns: u64,
    /// Make-before-break switch-overs completed.
    pub switch_overs: u64,
}

/// How the run went (not part of the market state: differs between runs).
#[derive(Serialize, Debug, Clone)]
pub struct RunInfo {
    pub elapsed_s: f64,
    pub frames_per_s: f64,
    /// Replay speed (`max` or a factor like `10x`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<String>,
    /// How late paced frames were fed against their due time, ns (paced replays only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pacing_late_ns: Option<Percentiles>,
}

#[derive(Serialize, Debug, Clone)]
pub struct SymbolSummary {
    pub symbol: String,
    /// `spot`, `usdm`, `coinm`, or `unknown` before any depth data.
    pub market: String,
    /// `synced` only while the book is provably continuous; `syncing` before the first sync;
    /// `resyncing` after a gap until a snapshot bridges again.
    pub state: String,
    pub frames: u64,
    pub depth_updates: DepthCounts,
    pub snapshots: u64,
    pub snapshots_ignored: u64,
    pub gaps: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_gap: Option<crate::book::sync::Gap>,
    pub resyncs: u64,
    pub crossed_events: u64,
    pub trades: u64,
    pub book_tickers: u64,
    /// Trades and bookTickers received twice (overlapping connections) and skipped.
    pub duplicates: u64,
    pub book_ticker_check: TickerCounts,
    #[serde(rename = "final")]
    pub final_book: FinalBook,
    /// The models' latest outputs and the pressure model's live score (when models ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<ModelsSummary>,
}

/// What the models said last, and how the pressure predictions scored once resolved.
#[derive(Serialize, Debug, Clone)]
pub struct ModelsSummary {
    pub context_minutes: u64,
    pub context: ContextSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_missing: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pressure: Option<crate::ml::interpret::PressureInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pressure_missing: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pressure_score: Option<crate::ml::pressure::ScoreReport>,
    /// Whether the pressure direction was shown at the end, and why not.
    pub pressure_shown: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pressure_quiet: Option<String>,
    /// The model against its baselines over the last resolved predictions (prequential).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pressure_edge: Option<crate::ml::prequential::EdgeReport>,
    /// Weights taken in from an online learner.
    pub pressure_updates: u64,
    /// The book was stale at the end (event time, or the driver's clock).
    pub stale: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<crate::ml::interpret::Interpretation>,
}

/// The context's state (a stable contract): `state` is `"warming_up"` or `"ready"` (the whole
/// 240-minute lookback is held, whether the model is loaded or not), `history_minutes` the
/// minutes of 1-minute history held, then the latest trend and forecast when there are some.
#[derive(Serialize, Debug, Clone)]
pub struct ContextSummary {
    pub state: &'static str,
    pub history_minutes: u64,
    pub minutes_left: u64,
    /// Minutes taken from fetched klines (seeding, gap refills).
    pub seeded_minutes: u64,
    pub filled_minutes: u64,
    pub restarts: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trend: Vec<crate::ml::context::Trend>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forecasts: Vec<crate::ml::context::ContextForecast>,
}

impl ContextSummary {
    pub fn of(sig: &crate::ml::signals::Signals) -> ContextSummary {
        use crate::ml::context::ContextOutput;
        let st = sig.context_state();
        let (trend, forecasts) = match &sig.context {
            Some(ContextOutput::Ready { trend, forecasts }) if st.is_ready() => {
                (trend.clone(), forecasts.clone())
            }
            _ => (Vec::new(), Vec::new()),
        };
        ContextSummary {
            state: if st.is_ready() { "ready" } else { "warming_up" },
            history_minutes: st.history_minutes() as u64,
            minutes_left: st.warming_minutes_left() as u64,
            seeded_minutes: st.seeded,
            filled_minutes: st.filled,
            restarts: st.restarts,
            trend,
            forecasts,
        }
    }
}

#[derive(Serialize, Debug, Clone, Copy)]
pub struct DepthCounts {
    pub applied: u64,
    pub dropped_before_sync: u64,
    /// Wholly older than the book (duplicates): ignored.
    pub stale: u64,
    /// Still waiting for a snapshot when the run ended.
    pub pending: u64,
    /// Shed from a full pre-snapshot buffer.
    pub buffer_overflow: u64,
}

#[derive(Serialize, Debug, Clone, Copy)]
pub struct TickerCounts {
    pub compared: u64,
    pub matched: u64,
}

#[derive(Serialize, Debug, Clone)]
pub struct FinalBook {
    /// Id of the last diff (or snapshot) in the book; null before any.
    pub last_update_id: Option<u64>,
    pub bid_levels: usize,
    pub ask_levels: usize,
    /// Best first, as exact decimal strings.
    pub bids: Vec<[String; 2]>,
    pub asks: Vec<[String; 2]>,
}

fn pairs(levels: impl Iterator<Item = Level>) -> Vec<[String; 2]> {
    levels
        .map(|l| [l.price.to_string(), l.qty.to_string()])
        .collect()
}

impl SymbolSummary {
    pub fn of(s: &SymbolState) -> Self {
        let c = s.sync.counters();
        let book = s.book();
        SymbolSummary {
            symbol: s.symbol.to_string(),
            market: s.market.map_or("unknown", |m| m.as_str()).to_string(),
            state: s.sync.phase().as_str().to_string(),
            frames: s.frames,
            depth_updates: DepthCounts {
                applied: c.applied,
                dropped_before_sync: c.dropped_before_sync,
                stale: c.stale,
                pending: s.sync.buffered() as u64,
                buffer_overflow: c.buffer_overflow,
            },
            snapshots: c.snapshots,
            snapshots_ignored: c.snapshots_ignored,
            gaps: c.gaps,
            last_gap: s.sync.last_gap(),
            resyncs: c.resyncs,
            crossed_events: c.crossed_events,
            trades: s.trades,
            book_tickers: s.book_tickers,
            duplicates: s.duplicates,
            book_ticker_check: TickerCounts {
                compared: s.ticker_check.compared,
                matched: s.ticker_check.matched,
            },
            final_book: FinalBook {
                last_update_id: (c.snapshots > 0).then_some(book.last_update_id),
                bid_levels: book.bids.len(),
                ask_levels: book.asks.len(),
                bids: pairs(book.bids.top(FINAL_LEVELS)),
                asks: pairs(book.asks.top(FINAL_LEVELS)),
            },
            models: s.signals.as_deref().map(|sig| ModelsSummary {
                context_minutes: sig.minutes,
                context: ContextSummary::of(sig),
                context_missing: sig.context_missing().map(str::to_string),
                pressure: sig.pressure,
                pressure_missing: sig.pressure_missing().map(str::to_string),
                pressure_score: sig.score.as_ref().map(|s| s.report()),
                pressure_shown: sig.pressure_shown(),
                pressure_quiet: sig.pressure_quiet().map(str::to_string),
                pressure_edge: sig.pressure_edge(),
                pressure_updates: sig.pressure_updates(),
                stale: sig.stale(),
                interpretation: sig.interpretation.clone(),
            }),
        }
    }
}

impl Summary {
    pub fn of(engine: &Engine, errors_total: u64, errors: Vec<String>) -> Self {
        Summary {
            symbols: engine.symbols().iter().map(SymbolSummary::of).collect(),
            frames_total: engine.stats.frames,
            errors_total,
            errors,
            run: None,
            digest: None,
            latency: None,
            live: None,
            bus: None,
            limits: engine.limit_counters(),
        }
    }
}
