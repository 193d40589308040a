//! The live session: connection slots, the engine loop, staleness, switch-overs, recording.
//!
//! Owns: the engine during a live run, the map from connections to the symbols they carry, which
//! snapshots are outstanding, and what the user is told about connection state. Must not touch:
//! socket details ([`microstate_io::ingest::ws`]) or the request budget
//! ([`microstate_io::ingest::snapshots`]).
//!
//! - [`driver`]: [`LiveDriver`], the struct that owns a session and its loop;
//! - [`slots`]: the connection slot tasks and the switch-over rule;
//! - [`journal`]: the recording and the journal of the driver's decisions;
//! - [`klines`]: the kline requests that seed and refill each symbol's context history.
//!
//! Continuity rules:
//! - an unplanned disconnect resets the books carried by that connection (they resync from a new
//!   snapshot once the new connection streams);
//! - a planned switch (`serverShutdown`, or the connection nearing Binance's 24 h cut) is make
//!   before break: the new connection is opened while the old keeps streaming; its frames are held
//!   back until, for every synced symbol, the old connection has delivered up to where the new
//!   one starts; then the old one is closed and the held frames are fed (their overlap is
//!   recognised as stale/duplicate). No hole, no resync;
//! - a symbol is asked a snapshot only once its diffs are buffering (Binance's order: stream
//!   first, then snapshot), one request per symbol at a time;
//! - a symbol with no depth update for `stale_after` while connected is STALE; when all symbols
//!   of a connection are stale for `stale_reconnect_after`, the connection is replaced;
//! - the context history is asked for at start (beside the snapshots, in the same request-weight
//!   budget), whenever a symbol's context lacks minutes (after a gap: the missing ones), and when
//!   a recording starts; the answers are recorded like snapshots, so a replay of the recording
//!   has its context from the first second.

pub mod driver;
pub mod journal;
pub mod klines;
pub mod slots;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use microstate_config::Config;
use microstate_core::engine::Engine;
use microstate_core::latency::LatencySummary;
use microstate_core::ml::prequential::PressureLearner;
use microstate_core::ml::signals::Models;
use microstate_core::num::Symbol;
use microstate_core::summary::LiveReport;
use microstate_io::ingest::IngestStats;

pub use driver::LiveDriver;
pub use slots::backoff;

use crate::command::LiveEnd;
use crate::publish::Publisher;
use crate::recording::{RecordSetup, Recording, RecordingEnd};
use crate::shutdown::Shutdown;

/// A live run's settings.
pub struct LiveOptions {
    pub cfg: Config,
    pub symbols: Vec<Symbol>,
    /// Print a status line to stderr this often (headless); `None` prints nothing.
    pub status_every: Option<Duration>,
    /// Counters to share with the caller (the live bench watches `frames` to know what
    /// arrived; a test that must know what the driver took in reads `View::connections`).
    pub stats: Option<Arc<IngestStats>>,
    /// A recording started with the session: the driver owns it from here and closes it at
    /// the end (records are offered, never waited on).
    pub recording: Option<Recording>,
    /// Where a recording asked for by a command goes (`None`: such a command is refused).
    pub record: Option<RecordSetup>,
    /// Models run on the features (`None`: none).
    pub models: Option<Arc<Models>>,
    /// An online learner of the pressure model (the train crate's, on its own thread): the
    /// driver hands it resolved samples and takes its published weights at every tick. The
    /// models must keep a learner queue (`models.pressure_gate.learn_queue > 0`).
    pub learner: Option<Box<dyn PressureLearner + Send>>,
    /// Per symbol: where the exchange's klines come from, when a person must be told (the
    /// demo's exchange serves a synthetic history: `synthetic history`). Shown beside the
    /// context's history.
    pub history_sources: HashMap<Symbol, String>,
    /// `--publish nats://…`: what the engine is fed (frames, snapshots, resets) also goes to
    /// NATS JetStream, in feed order.
    pub bus: Option<microstate_io::bus::BusPublisher>,
}

impl std::fmt::Debug for LiveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveOptions")
            .field("symbols", &self.symbols)
            .field("status_every", &self.status_every)
            .field("recording", &self.recording.is_some())
            .field("models", &self.models.is_some())
            .field("learner", &self.learner.is_some())
            .field("history_sources", &self.history_sources)
            .finish_non_exhaustive()
    }
}

impl LiveOptions {
    pub fn new(cfg: Config, symbols: Vec<Symbol>) -> Self {
        LiveOptions {
            cfg,
            symbols,
            status_every: None,
            stats: None,
            recording: None,
            record: None,
            models: None,
            learner: None,
            history_sources: HashMap::new(),
            bus: None,
        }
    }
}

/// What a live run leaves behind.
pub struct LiveOutcome {
    pub engine: Engine,
    pub report: LiveReport,
    pub latency: LatencySummary,
    /// The session's recordings, closed, in the order they ended.
    pub recordings: Vec<RecordingEnd>,
}

/// Runs a headless session until `shutdown`.
pub async fn run(opts: LiveOptions, shutdown: Shutdown) -> LiveOutcome {
    run_with(opts, None, None, shutdown).await
}

/// Runs until `shutdown` or a `Quit` command, taking the screen's commands and publishing
/// views when given.
pub async fn run_with(
    opts: LiveOptions,
    screen: Option<LiveEnd>,
    views: Option<Publisher>,
    shutdown: Shutdown,
) -> LiveOutcome {
    LiveDriver::start(opts, screen, views).run(shutdown).await
}
