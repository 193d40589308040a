//! The live client: WebSocket streams and REST snapshots from Binance (or the local exchange).
//!
//! Owns: sockets, reconnects, the snapshot scheduler, the kline fetches that seed the context
//! history ([`klines`]), and the task that drives the engine from them ([`live`]). Must not touch: market logic (the engine's) or the screen.
//!
//! ```text
//! slot task ×N ──(connect, back-off, make-before-break)──▶ ws::read_loop ──┐ bounded queue
//! snapshots::run (weight budget, 429/418) ─────────────────────────────────┤ (frames shed,
//! klines (the driver's kline task, same budget) ────────────────────────────┤  never blocks)
//!                                                                          ▼
//!                                      live::run: Engine::on_frame, staleness, switch-overs
//! ```

pub mod clock;
pub mod endpoints;
pub mod exchange_info;
pub mod http;
pub mod klines;
pub mod snapshots;
pub mod tls;
pub mod ws;

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio_tungstenite::tungstenite::Utf8Bytes;

use microstate_core::num::{Nanos, Symbol};

/// Connection ids are unique within a run.
pub type ConnId = u64;

/// Everything that flows from the I/O tasks to the engine loop, in order.
#[derive(Debug)]
pub enum IngestMsg {
    Connecting {
        slot: usize,
        conn: ConnId,
        url: String,
        attempt: u32,
    },
    ConnectFailed {
        slot: usize,
        attempt: u32,
        reason: String,
        next_in: Duration,
    },
    Connected {
        slot: usize,
        conn: ConnId,
        url: String,
    },
    Frame {
        conn: ConnId,
        recv: Nanos,
        /// Monotonic receive time ([`mono_nanos`]), for intervals that must not jump.
        mono: u64,
        text: Utf8Bytes,
    },
    ServerShutdown {
        conn: ConnId,
    },
    Disconnected {
        slot: usize,
        conn: ConnId,
        reason: String,
        planned: bool,
    },
    Snapshot {
        symbol: Symbol,
        url: String,
        sent: Nanos,
        recv: Nanos,
        body: Vec<u8>,
    },
    SnapshotFailed {
        symbol: Symbol,
        reason: String,
    },
    /// Kline answers asked for a symbol's context history, one per request, in time order
    /// (each body byte for byte: recorded, then fed with the symbol as hint).
    Klines {
        symbol: Symbol,
        pages: Vec<klines::KlineFetch>,
    },
    /// A kline request for `symbol` failed; `retry_after` when the server limited the rate.
    KlinesFailed {
        symbol: Symbol,
        reason: String,
        retry_after: Option<Duration>,
    },
    /// A clock-offset sample from the exchange's time endpoint.
    ClockSample(clock::ClockSample),
    /// A task the session cannot do without has given up (the snapshot scheduler after
    /// repeated panics): the session ends with this as its error.
    Fatal {
        reason: String,
    },
}

/// Counters shared by the I/O tasks (relaxed atomics: read for display only).
#[derive(Debug, Default)]
pub struct IngestStats {
    pub frames: AtomicU64,
    /// Frames dropped because the engine queue was full.
    pub shed: AtomicU64,
    pub pings: AtomicU64,
    pub unexpected_binary: AtomicU64,
    pub snapshot_requests: AtomicU64,
    pub snapshots_ok: AtomicU64,
    pub snapshot_errors: AtomicU64,
    pub snapshot_budget_waits: AtomicU64,
    /// Snapshot requests that waited out a back-off first (a failed request, or a snapshot
    /// that did not sync the book).
    pub snapshot_backoffs: AtomicU64,
    pub rest_429: AtomicU64,
    pub rest_418: AtomicU64,
    /// HTTP 200 answers to a depth request that were not a depth snapshot (an HTML page…).
    pub snapshots_unusable: AtomicU64,
    /// Times the snapshot scheduler panicked and was restarted.
    pub snapshot_task_restarts: AtomicU64,
    /// Kline requests sent (context history), answers that parsed, failures.
    pub kline_requests: AtomicU64,
    pub klines_ok: AtomicU64,
    pub kline_errors: AtomicU64,
}

/// Monotonic ns since the first call in this process.
pub fn mono_nanos() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64
}

/// Wall-clock now, ns since the epoch (receive timestamps). I/O side only: the core never
/// reads a clock.
pub fn now_nanos() -> Nanos {
    Nanos(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    )
}
