//! The live driver: one struct owning everything a live session keeps, with one method per
//! thing that can happen to it (a message from the sockets, a tick, a command, a view due).
//!
//! Owns: the engine during the session, the connection slots and which connection each
//! message came from, the outstanding snapshot requests, the context history's kline requests
//! (through [`super::klines`]), staleness, latency, the journal and recording, the view
//! publisher. Must not touch: socket details (the slot tasks and [`microstate_io::ingest`]),
//! how a view is assembled ([`crate::publish`]).
//!
//! The loop ([`LiveDriver::run`]) is one `select!` over shutdown, the screen's commands, a
//! housekeeping tick and the ingest queue; at shutdown it still feeds what had already
//! arrived, then stops the tasks and sums up.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use microstate_config::{Config, format_duration};
use microstate_core::book::sync::Phase;
use microstate_core::engine::{Engine, EngineConfig, RawFrame};
use microstate_core::latency::{Latency, LatencySummary, Percentiles, Stage};
use microstate_core::market::Market;
use microstate_core::ml::prequential::PressureLearner;
use microstate_core::num::{Nanos, Symbol};
use microstate_core::summary::{ClockReport, LiveReport};
use microstate_core::view::{ConnectionView, LiveCounters, RecordingView, StageBuckets, StageView};
use microstate_core::wire::Event as WireEvent;
use microstate_core::wire::binance::Decoder;
use microstate_io::bus::{BusPublisher, Kind as BusKind};
use microstate_io::ingest::clock::ClockSample;
use microstate_io::ingest::endpoints::{
    control_gap, plan_path, plan_url, symbol_streams, ws_plans,
};
use microstate_io::ingest::exchange_info::{self, Listing};
use microstate_io::ingest::klines::{KlineFetch, KlineSource};
use microstate_io::ingest::snapshots::{self, Budget, SharedBudget, SnapshotRequest};
use microstate_io::ingest::ws;
use microstate_io::ingest::{ConnId, IngestMsg, IngestStats, now_nanos};
use microstate_io::record::format::journal as events;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::journal::Journal;
use super::klines::{self, ContextFill};
use super::slots::{Pending, Slot, SlotCmd, SlotEnv, connection_state, short_url, switch_ready};
use super::{LiveOptions, LiveOutcome};
use crate::bus_signals::SignalsClock;
use crate::command::{Command, Event, LiveEnd, Switch};
use crate::publish::{Extras, Publisher, stage_buckets, stage_views};
use crate::recording::RecordSetup;
use crate::shutdown::Shutdown;

/// The engine loop's housekeeping period (staleness, snapshot requests, status).
const TICK: Duration = Duration::from_millis(50);
/// Refused frames logged one by one before the rest are only counted.
const ERRORS_LOGGED: u64 = 20;
/// Up to this many symbols, the headless status line carries each symbol's book too; past it,
/// the line is an aggregate and a symbol gets a line of its own only when its state changes.
const STATUS_DETAIL_MAX: usize = 3;

/// A live session in progress.
pub struct LiveDriver {
    cfg: Config,
    /// The pressure model's online learner, fed and read at every tick.
    learner: Option<Box<dyn PressureLearner + Send>>,
    status_every: Option<Duration>,
    stats: Arc<IngestStats>,
    engine: Engine,
    /// Everything the socket, snapshot and clock tasks send.
    rx: mpsc::Receiver<IngestMsg>,
    tasks: Tasks,
    conns: Conns,
    snapshots: Snapshots,
    /// The context history's kline requests and what came of them.
    context: ContextFill,
    /// Per symbol: where the exchange's klines come from, for the screen.
    history_sources: HashMap<Symbol, String>,
    /// Symbols with no depth update for `stale_after`, and how often one turned stale.
    stale: HashSet<Symbol>,
    stale_events: u64,
    timing: Timing,
    journal: Journal,
    /// Where a recording asked for by a command goes (`None`: recording is not offered).
    record: Option<RecordSetup>,
    screen: Option<LiveEnd>,
    publisher: Option<Publisher>,
    /// Decodes a pending connection's frames just enough to know where it starts.
    peek: Decoder,
    frame_errors: u64,
    errors_logged: u64,
    ever_connected: bool,
    last_failure: Option<String>,
    /// Set when a task the session needs gave up ([`IngestMsg::Fatal`]): the loop stops.
    fatal: Option<String>,
    clock: Option<ClockReport>,
    started: Instant,
    last_status: Instant,
    /// Symbols synced at least once, and when the last of them first was (s after the start).
    synced_once: HashSet<Symbol>,
    all_synced_after: Option<f64>,
    /// Per symbol, the state its last headless status line showed (lines only on change).
    status_shown: HashMap<Symbol, (String, u64)>,
    /// `--publish nats://…`: everything fed to the engine, and the resets, in feed order.
    bus: Option<BusPublisher>,
    /// With `bus`: each symbol's `.signals` JSON, every `nats.signals_every`.
    signals: SignalsClock,
    /// With `bus`: when fresh snapshots were last asked for the consumers' sake.
    resnapshot_at: Instant,
    /// The venue's symbols: asked once at the start, then what symbols added while running
    /// are checked against and each symbol's tick comes from.
    listing: ListingState,
    /// Subscription requests sent while running, until their answer arrives.
    requests: Requests,
}

/// exchangeInfo: the answer once it came, the list of trading names for the view, and the
/// request until then.
struct ListingState {
    got: Option<Listing>,
    names: Arc<Vec<Symbol>>,
    pending: Option<oneshot::Receiver<Result<Listing, String>>>,
}

/// `SUBSCRIBE`/`UNSUBSCRIBE` requests in flight: id → what it was for (a person reads it).
#[derive(Default)]
struct Requests {
    next_id: u64,
    waiting: HashMap<u64, String>,
}

/// The tasks the session started.
struct Tasks {
    slots: Vec<JoinHandle<()>>,
    snapshots: JoinHandle<()>,
    clock: JoinHandle<()>,
    /// The kline task (none without models, or on COIN-M).
    klines: Option<JoinHandle<()>>,
}

/// The connections: one slot per planned URL, and which slot each connection belongs to.
struct Conns {
    slots: Vec<Slot>,
    /// Per connection, from its first attempt until it ends: its slot, and what it gave.
    by_id: HashMap<ConnId, Conn>,
    /// Shared with the socket readers: where frames the queue cannot take are recorded.
    readers: Arc<ws::ReaderShared>,
}

/// One connection: its slot and, for the view ([`ConnectionView`]), its place among the
/// slot's connections that came up (0 until it does) and the frames taken from it.
#[derive(Clone, Copy, Debug)]
struct Conn {
    slot: usize,
    nth: u64,
    frames: u64,
}

impl Conns {
    /// The connections read (each slot's primary, then its successor) for the view.
    fn views(&self) -> Vec<ConnectionView> {
        let mut out = Vec::new();
        for s in &self.slots {
            let pending = s.pending.as_ref().map(|p| p.conn);
            for (conn, pending) in s
                .primary
                .map(|c| (c, false))
                .into_iter()
                .chain(pending.map(|c| (c, true)))
            {
                if let Some(t) = self.by_id.get(&conn) {
                    out.push(ConnectionView {
                        url: s.plan.url.clone(),
                        nth: t.nth,
                        pending,
                        frames: t.frames,
                    });
                }
            }
        }
        out
    }
}

/// REST snapshots: requests to the snapshot task, one outstanding per symbol at a time.
struct Snapshots {
    /// `None` once the session stops.
    tx: Option<mpsc::UnboundedSender<SnapshotRequest>>,
    outstanding: HashSet<Symbol>,
    /// Per symbol: snapshots in a row that did not sync the book (the scheduler backs off).
    /// A snapshot that leaves the book bridging (waiting for the diff that spans it, the
    /// normal spot case) is not counted until it turns out unusable, and the count goes as
    /// soon as the book is synced.
    failures: HashMap<Symbol, u32>,
}

impl Snapshots {
    /// Asks a snapshot for `symbol` unless one is outstanding (`resync`: it was synced before,
    /// so it goes ahead of cold starts).
    fn request(&mut self, symbol: Symbol, resync: bool) {
        let failures = self.failures.get(&symbol).copied().unwrap_or(0);
        if let Some(tx) = &self.tx
            && self.outstanding.insert(symbol)
        {
            let _ = tx.send(SnapshotRequest {
                symbol,
                failures,
                resync,
            });
        }
    }

    /// A snapshot for `symbol` was fed: counted as a failure only when the book still needs
    /// one (the snapshot was refused or too old); accepted, it clears the count.
    fn after_snapshot(&mut self, symbol: Symbol, still_needed: bool) {
        if still_needed {
            *self.failures.entry(symbol).or_insert(0) += 1;
        } else {
            self.failures.remove(&symbol);
        }
    }
}

/// Latency: the per-stage histograms, receive → applied, and what the stages need to know.
struct Timing {
    lat: Latency,
    /// Receive → applied, 1 ns to 60 s at 3 significant digits.
    apply: Option<hdrhistogram::Histogram<u64>>,
    /// Receive time of the newest frame fed (for the publish stage).
    last_fed: u64,
    /// Per symbol: wall time its connection came up, until the book is synced.
    connected_at: HashMap<Symbol, u64>,
    /// The screen's stages, refreshed at most twice a second (recorded time).
    stage_cache: (u64, Vec<StageView>, Arc<Vec<StageBuckets>>),
}

impl Timing {
    fn new() -> Timing {
        Timing {
            lat: Latency::new(60_000_000_000, 6),
            apply: hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).ok(),
            last_fed: 0,
            connected_at: HashMap::new(),
            stage_cache: (0, Vec::new(), Arc::default()),
        }
    }

    /// A frame taken off the queue at `taken` and applied (or refused) at `done`.
    fn after_frame(&mut self, engine: &Engine, recv: Nanos, taken: u64, done: u64, ok: bool) {
        self.last_fed = recv.0;
        if let Some(h) = self.apply.as_mut() {
            h.saturating_record(done.saturating_sub(recv.0).max(1));
        }
        self.lat
            .record(Stage::Queue, taken, taken.saturating_sub(recv.0));
        if ok {
            self.lat.on_frame(engine.last_times(), recv.0, done);
        }
        // Only while a (re)connect is waiting for its books: nothing to look up otherwise.
        if !self.connected_at.is_empty()
            && let Some(st) = engine.touched()
            && st.sync.phase() == Phase::Synced
            && let Some(t0) = self.connected_at.remove(&st.symbol)
        {
            self.lat
                .record(Stage::TimeToSynced, done, done.saturating_sub(t0));
        }
    }
}

impl LiveDriver {
    /// Starts the session's tasks (sockets, snapshots, clock probe) on the current runtime.
    pub fn start(
        opts: LiveOptions,
        screen: Option<LiveEnd>,
        publisher: Option<Publisher>,
    ) -> LiveDriver {
        let LiveOptions {
            cfg,
            symbols,
            status_every,
            stats,
            recording,
            record,
            models,
            learner,
            history_sources,
            bus,
        } = opts;
        let ccfg = &cfg.connection;
        let stats = stats.unwrap_or_default();
        let (tx, rx) = mpsc::channel::<IngestMsg>(ccfg.queue_capacity);
        let (snap_tx, snap_rx) = mpsc::unbounded_channel::<SnapshotRequest>();
        let clock = tokio::spawn(microstate_io::ingest::clock::probe(cfg.clone(), tx.clone()));
        // One request-weight budget for every REST request of the session.
        let budget = SharedBudget::new(Budget::for_config(&cfg));
        let snapshot_task = tokio::spawn(snapshots::run(
            cfg.clone(),
            snap_rx,
            tx.clone(),
            stats.clone(),
            budget.clone(),
        ));
        // The venue's symbol list, for symbols added while running and the ticks.
        let (listing_tx, listing_rx) = oneshot::channel();
        {
            let base = cfg.endpoints.rest(cfg.live.market).to_string();
            let (market, timeout, rest) = (
                cfg.live.market,
                cfg.snapshot.request_timeout,
                cfg.rest.clone(),
            );
            let budget = budget.clone();
            tokio::spawn(async move {
                let r = exchange_info::fetch(&base, market, timeout, &rest, budget).await;
                let _ = listing_tx.send(r);
            });
        }
        // The context history is fetched only where a context runs. COIN-M is not streamed
        // live in this build (the CLI refuses it): its klines would need a dapi base.
        let (kline_tx, kline_task) = match (&models, cfg.live.market) {
            (Some(_), Market::Spot | Market::UsdM) => {
                let src = KlineSource {
                    base: cfg.endpoints.rest(cfg.live.market).to_string(),
                    market: cfg.live.market,
                    timeout: cfg.snapshot.request_timeout,
                    rest: cfg.rest.clone(),
                };
                let (t, h) = klines::spawn(src, budget, tx.clone(), stats.clone());
                (Some(t), Some(h))
            }
            (Some(_), Market::CoinM) => {
                tracing::warn!("COIN-M: no kline requests live; the context warms up");
                (None, None)
            }
            (None, _) => (None, None),
        };

        let mut engine = Engine::new(EngineConfig {
            market: Some(cfg.live.market),
            max_buffer: cfg.sync.max_buffered_diffs,
            features: cfg.features.params(),
            limits: cfg.limits.limits(),
            ..EngineConfig::default()
        });
        for &s in &symbols {
            engine.add_symbol(s);
        }
        // Only what was asked for: a peer's extra streams are counted and dropped.
        engine.only_added_symbols();
        engine.set_clock(microstate_io::ingest::mono_nanos);
        if let Some(m) = models {
            engine.set_models(m);
        }

        let readers = Arc::new(ws::ReaderShared {
            stats: stats.clone(),
            shed_to: std::sync::Mutex::new(recording.as_ref().map(|r| r.recorder().clone())),
        });
        let env = SlotEnv {
            cfg: ccfg.clone(),
            tx,
            readers: readers.clone(),
            ids: Arc::new(AtomicU64::new(1)),
            control_gap: control_gap(cfg.live.market),
        };
        let (slots, slot_tasks): (Vec<_>, Vec<_>) = ws_plans(&cfg, &symbols)
            .into_iter()
            .enumerate()
            .map(|(i, plan)| Slot::spawn(i, plan, env.clone()))
            .unzip();
        // Only the tasks hold senders now: the queue closes when they have all ended.
        drop(env);

        let now = Instant::now();
        let cfg_signals_every = cfg.nats.signals_every;
        let context = ContextFill::new(
            kline_tx,
            cfg.snapshot.retry_min,
            cfg.snapshot.retry_max,
            now,
        );
        LiveDriver {
            cfg,
            learner,
            status_every,
            stats,
            engine,
            rx,
            tasks: Tasks {
                slots: slot_tasks,
                snapshots: snapshot_task,
                clock,
                klines: kline_task,
            },
            conns: Conns {
                slots,
                by_id: HashMap::new(),
                readers,
            },
            snapshots: Snapshots {
                tx: Some(snap_tx),
                outstanding: HashSet::new(),
                failures: HashMap::new(),
            },
            context,
            history_sources,
            stale: HashSet::new(),
            stale_events: 0,
            timing: Timing::new(),
            journal: Journal::new(recording),
            record,
            screen,
            publisher,
            peek: Decoder::new(),
            frame_errors: 0,
            errors_logged: 0,
            ever_connected: false,
            last_failure: None,
            fatal: None,
            clock: None,
            started: now,
            last_status: now,
            synced_once: HashSet::new(),
            all_synced_after: None,
            status_shown: HashMap::new(),
            signals: SignalsClock::new(cfg_signals_every),
            bus,
            resnapshot_at: now,
            listing: ListingState {
                got: None,
                names: Arc::default(),
                pending: Some(listing_rx),
            },
            requests: Requests {
                next_id: 1,
                waiting: HashMap::new(),
            },
        }
    }

    /// Runs until `shutdown` (or a `Quit` command), then stops the tasks and sums up.
    pub async fn run(mut self, mut shutdown: Shutdown) -> LiveOutcome {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let drain = loop {
            self.publish();
            tokio::select! {
                _ = shutdown.recv() => break true,
                cmd = next_command(&mut self.screen) => match cmd {
                    Some(cmd) => {
                        if !self.on_command(cmd) {
                            break true;
                        }
                    }
                    // The screen's end is gone: no more commands (events still go nowhere).
                    None => self.screen = None,
                },
                _ = tick.tick() => self.on_tick(),
                got = next_listing(&mut self.listing.pending) => {
                    self.listing.pending = None;
                    self.on_listing(got);
                }
                msg = self.rx.recv() => match msg {
                    Some(msg) => {
                        self.on_message(msg);
                        if self.fatal.is_some() {
                            break true;
                        }
                    }
                    // Every task has ended: nothing more will arrive.
                    None => break false,
                },
            }
        };
        if drain {
            self.drain();
        }
        self.finish().await
    }

    /// Feeds one frame (or snapshot body) to the engine, times it, and notes what it changed.
    fn feed(&mut self, recv: Nanos, bytes: &[u8], hint: Option<Symbol>, bus: Option<BusKind>) {
        let taken = now_nanos().0;
        let r = self.engine.on_frame(RawFrame {
            recv,
            bytes,
            symbol_hint: hint,
        });
        let done = now_nanos().0;
        if let Some(e) = self.engine.last_times().event_ms {
            self.context.on_event_time(recv, e);
        }
        self.timing
            .after_frame(&self.engine, recv, taken, done, r.is_ok());
        if self.all_synced_after.is_none()
            && let Some(st) = self.engine.touched()
            && st.sync.is_synced()
            && self.synced_once.insert(st.symbol)
            && self.synced_once.len() == self.engine.symbols().len()
        {
            self.all_synced_after = Some(self.started.elapsed().as_secs_f64());
        }
        self.journal.after_frame(&self.engine);
        if let Some(p) = self.publisher.as_mut() {
            p.after_frame(&self.engine);
        }
        if let (Some(p), Some(kind)) = (&self.bus, bus) {
            let sym = hint.or_else(|| {
                r.is_ok()
                    .then(|| self.engine.touched().map(|s| s.symbol))
                    .flatten()
            });
            p.send(kind, sym, recv, bytes);
        }
        if let Err(e) = r {
            self.frame_errors += 1;
            if self.errors_logged < ERRORS_LOGGED {
                self.errors_logged += 1;
                tracing::warn!("live frame refused: {e}");
            }
        }
    }

    /// A message from the sockets, the snapshot task or the clock probe.
    fn on_message(&mut self, msg: IngestMsg) {
        self.journal.record(&msg);
        match msg {
            IngestMsg::Frame {
                conn, recv, text, ..
            } => self.on_frame(conn, recv, text),
            IngestMsg::Connecting {
                slot,
                conn,
                url,
                attempt,
            } => self.on_connecting(slot, conn, &url, attempt),
            IngestMsg::ConnectFailed {
                slot,
                attempt,
                reason,
                next_in,
            } => self.on_connect_failed(slot, attempt, &reason, next_in),
            IngestMsg::Connected { slot, conn, url } => self.on_connected(slot, conn, &url),
            IngestMsg::ServerShutdown { conn } => self.on_server_shutdown(conn),
            IngestMsg::Disconnected {
                slot,
                conn,
                reason,
                planned,
            } => self.on_disconnected(slot, conn, &reason, planned),
            IngestMsg::Snapshot {
                symbol,
                sent,
                recv,
                body,
                ..
            } => self.on_snapshot(symbol, sent, recv, &body),
            IngestMsg::SnapshotFailed { symbol, reason } => {
                tracing::warn!(%symbol, %reason, "snapshot request failed; will retry");
                self.last_failure = Some(format!("snapshot {symbol}: {reason}"));
            }
            IngestMsg::Klines { symbol, pages } => self.on_klines(symbol, &pages),
            IngestMsg::KlinesFailed {
                symbol,
                reason,
                retry_after,
            } => {
                tracing::warn!(%symbol, %reason, "kline request failed; will retry");
                self.last_failure = Some(format!("klines {symbol}: {reason}"));
                self.context.on_failed(symbol, retry_after);
            }
            IngestMsg::ClockSample(c) => self.on_clock_sample(&c),
            IngestMsg::Fatal { reason } => {
                tracing::error!(%reason, "live session cannot go on");
                self.last_failure = Some(reason.clone());
                self.fatal = Some(reason);
            }
        }
    }

    /// Kline answers for `symbol`'s context history: fed (the engine seeds the context from
    /// the minutes that were over when each arrived); one that changed nothing backs off.
    fn on_klines(&mut self, symbol: Symbol, pages: &[KlineFetch]) {
        let before = self.context.before_answer(&self.engine, symbol);
        for p in pages {
            self.feed(p.recv, &p.body, Some(symbol), None);
        }
        self.context.after_answer(&self.engine, symbol, before);
    }

    /// A slot task starts connecting (`conn` is the id the connection will have).
    fn on_connecting(&mut self, slot: usize, conn: ConnId, url: &str, attempt: u32) {
        self.conns.by_id.insert(
            conn,
            Conn {
                slot,
                nth: 0,
                frames: 0,
            },
        );
        let s = &mut self.conns.slots[slot];
        s.report.attempts += 1;
        if s.primary.is_none() {
            s.state = format!("connecting, attempt {attempt}");
        }
        tracing::info!(%url, attempt, "connecting");
    }

    /// A connection attempt failed; the slot task tries again after `next_in`.
    fn on_connect_failed(&mut self, slot: usize, attempt: u32, reason: &str, next_in: Duration) {
        let s = &mut self.conns.slots[slot];
        s.report.failures += 1;
        let line = format!(
            "connecting, attempt {attempt}, next in {:.1} s: {reason}",
            next_in.as_secs_f64()
        );
        if s.primary.is_none() {
            s.state = line.clone();
        }
        self.last_failure = Some(format!("{}: {reason}", s.plan.url));
        if self.status_every.is_some() {
            eprintln!("{}: {line}", short_url(&s.plan.url));
        } else {
            tracing::warn!(url = %s.plan.url, "{line}");
        }
    }

    /// The server announced it will close this connection: open a successor first.
    fn on_server_shutdown(&mut self, conn: ConnId) {
        if let Some(si) = self.conns.by_id.get(&conn).map(|c| c.slot) {
            let s = &mut self.conns.slots[si];
            s.report.server_shutdowns += 1;
            if s.primary == Some(conn) && s.pending.is_none() {
                tracing::warn!(url = %s.plan.url, "serverShutdown: opening a replacement before the old one closes");
                s.request_rotate();
            }
        }
    }

    /// A REST snapshot arrived: fed to its symbol's sync; a snapshot the book could not use
    /// counts as a failure (the scheduler backs off), one it took (synced, or bridging to the
    /// next diff) clears the count.
    fn on_snapshot(&mut self, symbol: Symbol, sent: Nanos, recv: Nanos, body: &[u8]) {
        self.timing
            .lat
            .record(Stage::SnapshotRtt, recv.0, recv.0.saturating_sub(sent.0));
        self.snapshots.outstanding.remove(&symbol);
        self.feed(recv, body, Some(symbol), Some(BusKind::Snapshot));
        let still_needed = self
            .engine
            .symbol(symbol)
            .is_none_or(|s| s.sync.needs_snapshot());
        self.snapshots.after_snapshot(symbol, still_needed);
    }

    /// A clock-offset sample from the exchange's time endpoint.
    fn on_clock_sample(&mut self, c: &ClockSample) {
        self.context.on_clock_sample(c.wall_ns, c.offset_ns);
        self.timing
            .lat
            .clock
            .on_active(c.wall_ns, c.offset_ns, c.rtt_ns);
        let r = self.clock.get_or_insert(ClockReport {
            best_rtt_ns: u64::MAX,
            ..ClockReport::default()
        });
        r.samples += 1;
        r.last_offset_ns = c.offset_ns;
        if c.rtt_ns < r.best_rtt_ns {
            r.best_rtt_ns = c.rtt_ns;
            r.best_offset_ns = c.offset_ns;
        }
    }

    /// A WebSocket frame: fed if its connection is the slot's primary, held back if it is the
    /// successor being switched to, dropped if its connection was retired (the successor has
    /// it).
    fn on_frame(&mut self, conn: ConnId, recv: Nanos, text: Utf8Bytes) {
        let Some(c) = self.conns.by_id.get_mut(&conn) else {
            return;
        };
        c.frames += 1;
        let si = c.slot;
        if !self.requests.waiting.is_empty() && is_reply(text.as_bytes()) {
            self.on_reply(text.as_bytes());
        }
        let slot = &mut self.conns.slots[si];
        if slot.primary == Some(conn) {
            self.feed(recv, text.as_bytes(), None, Some(BusKind::Frame));
            return;
        }
        let Some(p) = slot.pending.as_mut().filter(|p| p.conn == conn) else {
            return;
        };
        match self.peek.decode(text.as_bytes()) {
            Ok(WireEvent::Depth(d)) => {
                p.first
                    .entry(d.symbol)
                    .or_insert((d.first_id, d.prev_final_id));
            }
            Ok(WireEvent::BookTicker(t)) => {
                p.first_ticker.entry(t.symbol).or_insert(t.update_id);
            }
            Ok(WireEvent::Trade(t)) => {
                p.first_trade.entry((t.symbol, t.kind)).or_insert(t.id);
            }
            _ => {}
        }
        p.frames.push((recv, text));
        if switch_ready(&self.engine, self.cfg.live.market, slot) {
            self.switch_over(si);
        }
    }

    /// A connection is up: the slot's primary, or the successor of a switch-over.
    fn on_connected(&mut self, slot: usize, conn: ConnId, url: &str) {
        self.ever_connected = true;
        let s = &mut self.conns.slots[slot];
        s.report.connections += 1;
        if let Some(c) = self.conns.by_id.get_mut(&conn) {
            c.nth = s.report.connections;
        }
        if s.primary.is_none() {
            let now = now_nanos().0;
            for &sym in &s.plan.depth_symbols {
                self.timing.connected_at.insert(sym, now);
            }
            s.primary = Some(conn);
            self.journal.note(events::PRIMARY, || conn.to_string());
            s.primary_since = Instant::now();
            s.state = "up".into();
            s.all_stale_since = None;
        } else {
            s.pending = Some(Pending::new(conn));
            s.state = "up, switching over".into();
        }
        tracing::info!(%url, conn, "connected");
        if self.status_every.is_some() {
            eprintln!("{}: connected", short_url(url));
        }
    }

    /// A connection ended: a successor that never took over is forgotten; the primary is
    /// replaced by a waiting successor at once, or its books are reset until it reconnects.
    fn on_disconnected(&mut self, slot: usize, conn: ConnId, reason: &str, planned: bool) {
        self.conns.by_id.remove(&conn);
        let s = &mut self.conns.slots[slot];
        if s.pending.as_ref().is_some_and(|p| p.conn == conn) {
            s.pending = None;
            s.state = "up".into();
        } else if s.primary == Some(conn) {
            if !planned {
                s.report.disconnects += 1;
                s.report.last_disconnect = Some(reason.to_string());
                if self.status_every.is_some() {
                    eprintln!("{}: disconnected: {reason}", short_url(&s.plan.url));
                } else {
                    tracing::warn!(url = %s.plan.url, %reason, "disconnected");
                }
            }
            if s.pending.is_some() {
                // The new connection takes over at once; a hole shows as a gap.
                self.switch_over(slot);
            } else {
                s.primary = None;
                s.state = format!("reconnecting: {reason}");
                for &sym in &s.plan.depth_symbols {
                    self.engine.reset_symbol(sym);
                    self.journal.note(events::RESET, || sym.to_string());
                    self.snapshots.outstanding.remove(&sym);
                    if let Some(b) = &self.bus {
                        b.send(BusKind::Reset, Some(sym), now_nanos(), b"");
                    }
                }
            }
        }
        self.journal.note(events::DROP, || conn.to_string());
    }

    /// The successor becomes the slot's primary: the old connection is retired and the held
    /// frames are fed (their overlap with the old connection is recognised as stale).
    fn switch_over(&mut self, si: usize) {
        let s = &mut self.conns.slots[si];
        let Some(p) = s.pending.take() else { return };
        let old = s.primary.replace(p.conn);
        self.journal.note(events::PRIMARY, || match old {
            Some(old) => format!("{} {old}", p.conn),
            None => p.conn.to_string(),
        });
        if let Some(old) = old {
            let _ = s.cmds.send(SlotCmd::Retire(old));
        }
        s.primary_since = Instant::now();
        s.rotate_asked = None;
        s.all_stale_since = None;
        s.report.switch_overs += 1;
        s.state = "up".into();
        for (recv, text) in &p.frames {
            self.feed(*recv, text.as_bytes(), None, Some(BusKind::Frame));
        }
        tracing::info!(url = %self.conns.slots[si].plan.url, held = p.frames.len(), "switched over to the new connection");
    }

    /// The tick: housekeeping, and the status line when one is due.
    fn on_tick(&mut self) {
        self.housekeeping();
        self.bus_tick();
        if let Some(l) = self.learner.as_deref_mut() {
            self.engine.exchange_with_learner(l);
        }
        if let Some(every) = self.status_every
            && self.last_status.elapsed() >= every
        {
            self.last_status = Instant::now();
            for line in self.status_lines() {
                eprintln!("{line}");
            }
        }
    }

    /// With `--publish`: fresh snapshots of every synced symbol once publishing works again
    /// after errors (consumers missed messages and wait for one to resync) and every
    /// `nats.snapshot_every` (a late joiner finds one in the stream); the signals when due.
    fn bus_tick(&mut self) {
        let Some(b) = &self.bus else { return };
        let every = self.cfg.nats.snapshot_every;
        let periodic = !every.is_zero() && self.resnapshot_at.elapsed() >= every;
        if b.take_resnapshot_due() || periodic {
            self.resnapshot_at = Instant::now();
            b.stats.resnapshots.fetch_add(1, Ordering::Relaxed);
            for st in self.engine.symbols() {
                if st.sync.is_synced() {
                    self.snapshots.request(st.symbol, false);
                }
            }
        }
        let now = now_nanos();
        for (sym, json) in self.signals.due(&self.engine, &self.stale, now.0, false) {
            b.send_signals(sym, now, json);
        }
    }

    /// Switch-overs that are ready, connections nearing their age limit, staleness, and
    /// snapshot requests.
    fn housekeeping(&mut self) {
        let now = now_nanos();
        for si in 0..self.conns.slots.len() {
            if self.conns.slots[si].pending.is_some()
                && switch_ready(&self.engine, self.cfg.live.market, &self.conns.slots[si])
            {
                self.switch_over(si);
            }
            self.check_slot(si, now);
        }
        self.request_snapshots();
        self.context
            .ask(&self.engine, (now.0 / 1_000_000) as i64, Instant::now());
        self.context.check_ready(&self.engine);
    }

    /// A connected slot: replaced before Binance's 24 h cut, its symbols judged stale from
    /// their last depth frame (or the connection's start), replaced when all are stale.
    fn check_slot(&mut self, si: usize, now: Nanos) {
        let c = &self.cfg.connection;
        let s = &mut self.conns.slots[si];
        if s.primary.is_none() {
            return;
        }
        if s.pending.is_none() && s.primary_since.elapsed() >= c.max_age {
            tracing::info!(url = %s.plan.url, "connection nearing the 24 h limit: switching over");
            s.request_rotate();
        }
        let stale_ns = c.stale_after.as_nanos() as u64;
        let since_ns = now
            .0
            .saturating_sub(s.primary_since.elapsed().as_nanos() as u64);
        let mut all_stale = !s.plan.depth_symbols.is_empty();
        for &sym in &s.plan.depth_symbols {
            let last = self
                .engine
                .symbol(sym)
                .map_or(0, |st| st.last_depth_recv.0)
                .max(since_ns);
            let is_stale = now.0.saturating_sub(last) > stale_ns;
            if is_stale && self.stale.insert(sym) {
                self.stale_events += 1;
                tracing::warn!(%sym, "stale: no depth update for {}", format_duration(c.stale_after));
                self.engine.set_stale(sym, true);
            } else if !is_stale && self.stale.remove(&sym) {
                tracing::info!(%sym, "depth updates resumed");
                self.engine.set_stale(sym, false);
            }
            all_stale &= is_stale;
        }
        if all_stale {
            let since = *s.all_stale_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= c.stale_reconnect_after && s.pending.is_none() {
                tracing::warn!(url = %s.plan.url, "every symbol stale: replacing the connection");
                s.request_rotate();
            }
        } else {
            s.all_stale_since = None;
        }
    }

    /// Snapshots: only for symbols whose diffs are already buffering on a live connection.
    fn request_snapshots(&mut self) {
        for st in self.engine.symbols() {
            if st.sync.needs_snapshot() && st.sync.buffered() > 0 {
                let resync = self.synced_once.contains(&st.symbol);
                self.snapshots.request(st.symbol, resync);
            }
        }
    }

    /// A command from the screen; `false` ends the session.
    fn on_command(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Record(switch) => {
                let on = self.journal.on();
                let want = match switch {
                    Switch::On => true,
                    Switch::Off => false,
                    Switch::Toggle => !on,
                };
                match (on, want) {
                    (false, true) => self.start_recording(),
                    (true, false) => self.stop_recording(),
                    (true, true) => self.notice("already recording"),
                    (false, false) => self.notice("not recording"),
                }
            }
            Command::Resync(sym) => {
                self.engine.reset_symbol(sym);
                if let Some(b) = &self.bus {
                    b.send(BusKind::Reset, Some(sym), now_nanos(), b"");
                }
                self.journal.note(events::RESET, || sym.to_string());
                self.snapshots.outstanding.remove(&sym);
                self.notice(format!("resyncing {sym} from a new snapshot"));
            }
            Command::Replay(_) => self.notice("that key is for replays"),
            Command::AlertPrice(level) => match self.publisher.as_mut() {
                Some(p) => {
                    p.add_price_alert(level);
                    self.notice(format!(
                        "alert when {} crosses {}",
                        level.symbol, level.price
                    ));
                }
                None => self.notice("alerts need the screen"),
            },
            Command::AddSymbol(sym) => self.add_symbol(sym),
            Command::RemoveSymbol(sym) => self.remove_symbol(sym),
            Command::Quit => return false,
        }
        true
    }

    /// exchangeInfo answered (or could not be asked: symbols are then added unchecked).
    fn on_listing(&mut self, got: Result<Listing, String>) {
        match got {
            Ok(l) => {
                let names: Vec<Symbol> = l
                    .iter()
                    .filter(|(_, v)| v.status == "TRADING")
                    .map(|(k, _)| *k)
                    .collect();
                tracing::info!(symbols = names.len(), "exchangeInfo: symbols listed");
                self.listing.names = Arc::new(names);
                self.listing.got = Some(l);
            }
            Err(e) => {
                tracing::warn!(
                    "exchangeInfo not read ({e}): symbols added while running are not checked, ticks come from the books"
                );
            }
        }
    }

    /// Sends `method` for `streams` on slot `si` (every open connection of it), and makes
    /// the slot's next connections use its current stream list.
    fn send_streams(&mut self, si: usize, method: &str, streams: &[String], what: String) {
        let id = self.requests.next_id;
        self.requests.next_id += 1;
        self.requests.waiting.insert(id, what);
        let request =
            serde_json::json!({ "method": method, "params": streams, "id": id }).to_string();
        let s = &mut self.conns.slots[si];
        let path = plan_path(&s.plan.url).to_string();
        s.plan.url = plan_url(&path, &s.plan.streams);
        s.report.url = s.plan.url.clone();
        let _ = s.cmds.send(SlotCmd::Streams {
            url: s.plan.url.clone(),
            request,
        });
    }

    /// `a` on the screen: the symbol's streams are subscribed on the running connections (on
    /// the slot of each route that has room under `connection.max_streams`), its book waits
    /// for diffs, then a snapshot is queued as for any symbol. Refused, with the reason, when
    /// exchangeInfo does not list it as trading or no connection has room.
    fn add_symbol(&mut self, sym: Symbol) {
        if self.engine.symbol(sym).is_some() {
            self.notice(format!("{sym} is already in the session"));
            return;
        }
        if let Some(l) = &self.listing.got {
            match l.get(&sym) {
                None => {
                    self.notice(format!(
                        "{sym} is not listed on this venue (exchangeInfo); nothing subscribed"
                    ));
                    return;
                }
                Some(i) if i.status != "TRADING" => {
                    self.notice(format!(
                        "{sym} is listed but {} (not trading); nothing subscribed",
                        i.status
                    ));
                    return;
                }
                Some(_) => {}
            }
        }
        let max = self.cfg.connection.max_streams.max(1);
        let routes = symbol_streams(&self.cfg, sym);
        let mut places = Vec::new();
        for (path, streams, _) in &routes {
            let Some(si) = self.conns.slots.iter().position(|s| {
                plan_path(&s.plan.url) == path && s.plan.streams.len() + streams.len() <= max
            }) else {
                self.notice(format!(
                    "{sym}: no connection to {path} has room for {} more streams (connection.max_streams = {max}); restart with it in the list",
                    streams.len()
                ));
                return;
            };
            places.push(si);
        }
        if !self.engine.add_symbol(sym) {
            self.notice(format!(
                "{sym}: refused, the session already has limits.max_symbols symbols"
            ));
            return;
        }
        let now = now_nanos().0;
        for ((_, streams, depth), si) in routes.into_iter().zip(places) {
            let s = &mut self.conns.slots[si];
            s.plan.streams.extend(streams.iter().cloned());
            if depth {
                s.plan.depth_symbols.push(sym);
                self.timing.connected_at.insert(sym, now);
            }
            self.send_streams(si, "SUBSCRIBE", &streams, format!("subscribe {sym}"));
        }
        self.journal.note("symbol added", || sym.to_string());
        tracing::info!(%sym, "symbol added while running");
        self.notice(format!(
            "{sym} added: subscribing, then its book syncs from a snapshot"
        ));
    }

    /// `x` on the screen: the symbol's streams are unsubscribed on every connection that
    /// carries them and its book is forgotten (frames still in flight are dropped).
    fn remove_symbol(&mut self, sym: Symbol) {
        if self.engine.symbol(sym).is_none() {
            self.notice(format!("{sym} is not in the session"));
            return;
        }
        if self.engine.symbols().len() <= 1 {
            self.notice("the last symbol stays");
            return;
        }
        let prefix = format!("{}@", sym.lower());
        for si in 0..self.conns.slots.len() {
            let s = &mut self.conns.slots[si];
            let (gone, kept): (Vec<String>, Vec<String>) = std::mem::take(&mut s.plan.streams)
                .into_iter()
                .partition(|n| n.starts_with(&prefix));
            s.plan.streams = kept;
            s.plan.depth_symbols.retain(|d| *d != sym);
            if !gone.is_empty() {
                self.send_streams(si, "UNSUBSCRIBE", &gone, format!("unsubscribe {sym}"));
            }
        }
        self.engine.remove_symbol(sym);
        self.stale.remove(&sym);
        self.snapshots.outstanding.remove(&sym);
        self.snapshots.failures.remove(&sym);
        self.timing.connected_at.remove(&sym);
        self.synced_once.remove(&sym);
        self.status_shown.remove(&sym);
        if let Some(b) = &self.bus {
            b.send(BusKind::Reset, Some(sym), now_nanos(), b"");
        }
        self.journal.note("symbol removed", || sym.to_string());
        // A replay of the recording forgets the book here too (it waits for a snapshot that
        // never comes, as the live session no longer has it).
        self.journal.note(events::RESET, || sym.to_string());
        tracing::info!(%sym, "symbol removed while running");
        self.notice(format!("{sym} removed: unsubscribed, its book is gone"));
    }

    /// The answer to a request sent while running: an error is said on the screen.
    fn on_reply(&mut self, body: &[u8]) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        let Some(what) = v
            .get("id")
            .and_then(serde_json::Value::as_u64)
            .and_then(|id| self.requests.waiting.remove(&id))
        else {
            return;
        };
        match v.get("error") {
            None => tracing::info!("{what}: done"),
            Some(e) => {
                let msg = e.get("msg").and_then(|m| m.as_str()).unwrap_or("?");
                let code = e.get("code").map(ToString::to_string).unwrap_or_default();
                tracing::warn!("{what}: refused by the exchange: {msg} (code {code})");
                self.notice(format!(
                    "{what}: refused by the exchange: {msg} (code {code})"
                ));
            }
        }
    }

    /// Starts a recording from now on. Fresh REST snapshots are fetched for the synced symbols
    /// so the recording can be replayed from its own start.
    fn start_recording(&mut self) {
        let Some(setup) = &self.record else {
            self.notice("cannot record: no folder for recordings was given");
            return;
        };
        let mut rec = match setup.start() {
            Ok(r) => r,
            Err(e) => {
                self.notice(format!("cannot record: {e}"));
                return;
            }
        };
        rec.from_command = true;
        self.notice(format!("recording to {}", rec.path().display()));
        if let Ok(mut to) = self.conns.readers.shed_to.lock() {
            *to = Some(rec.recorder().clone());
        }
        self.journal.start(rec);
        self.journal.note("recording started", String::new);
        for s in &self.conns.slots {
            if let Some(c) = s.primary {
                self.journal.note(events::PRIMARY, || c.to_string());
            }
        }
        for st in self.engine.symbols() {
            if st.sync.is_synced() {
                self.snapshots.request(st.symbol, true);
            }
        }
        self.context
            .ask_for_recording(&self.engine, (now_nanos().0 / 1_000_000) as i64);
    }

    /// Stops recording (the writer finishes on the blocking pool).
    fn stop_recording(&mut self) {
        self.journal.note("recording stopped", String::new);
        if let Ok(mut to) = self.conns.readers.shed_to.lock() {
            *to = None;
        }
        self.journal.stop();
        self.notice("recording stopped");
    }

    fn notice(&self, text: impl Into<String>) {
        if let Some(s) = &self.screen {
            s.events.notice(text);
        }
    }

    /// Publishes a view when one is due (and a screen watches).
    fn publish(&mut self) {
        let Some(publisher) = self.publisher.as_mut().filter(|p| p.due()) else {
            return;
        };
        let now = now_nanos().0;
        let t = &mut self.timing;
        let newest = t.last_fed;
        if newest > 0 && now >= newest {
            t.lat.record(Stage::Publish, now, now - newest);
        }
        let clock = t.lat.clock.in_use(now);
        if t.stage_cache.0 + 500_000_000 <= now || t.stage_cache.1.is_empty() {
            t.stage_cache = (
                now,
                stage_views(&t.lat, now),
                if publisher.serves_api() {
                    Arc::new(stage_buckets(&t.lat))
                } else {
                    Arc::default()
                },
            );
        }
        let recording = self.journal.recording().map(|r| {
            let st = &r.recorder().stats;
            RecordingView {
                path: st
                    .files()
                    .last()
                    .map_or(String::new(), |p| p.display().to_string()),
                bytes: st.file_bytes.load(Ordering::Relaxed),
                dropped: st.dropped.load(Ordering::Relaxed),
                failures: st.failures.load(Ordering::Relaxed),
                last_error: st.last_error(),
            }
        });
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let stats = &self.stats;
        let live_counters = LiveCounters {
            frames_received: load(&stats.frames),
            frames_shed: load(&stats.shed),
            snapshot_requests: load(&stats.snapshot_requests),
            snapshot_errors: load(&stats.snapshot_errors),
            rest_429: load(&stats.rest_429),
            rest_418: load(&stats.rest_418),
            reconnects: self
                .conns
                .slots
                .iter()
                .map(|s| s.report.connections.saturating_sub(1))
                .sum(),
            disconnects: self.conns.slots.iter().map(|s| s.report.disconnects).sum(),
            stale_events: self.stale_events,
            queue_depth: self.rx.len() as u64,
        };
        publisher.publish(
            &self.engine,
            Extras {
                now_ns: now,
                stale: Some(&self.stale),
                connection: connection_state(&self.conns.slots),
                connections: self.conns.views(),
                clock_offset: clock.map(|e| (e.offset_ns, e.uncertainty_ns * 2)),
                clock_source: clock.map_or(String::new(), |e| e.source.to_string()),
                recording,
                replay: None,
                latency: t.stage_cache.1.clone(),
                latency_buckets: Arc::clone(&t.stage_cache.2),
                history_sources: Some(&self.history_sources),
                live: Some(live_counters),
                listing: self.listing.got.as_ref(),
                listed: Arc::clone(&self.listing.names),
                refused: microstate_core::view::Refused {
                    unsolicited: self.engine.stats().unsolicited,
                    snapshots_unusable: load(&stats.snapshots_unusable),
                },
            },
        );
    }

    /// At shutdown: what had arrived by then is still processed (the queue's length at that
    /// moment), frames of primary connections and snapshots only.
    fn drain(&mut self) {
        for _ in 0..self.rx.len() {
            let Ok(msg) = self.rx.try_recv() else { break };
            self.journal.record(&msg);
            match msg {
                IngestMsg::Frame {
                    conn, recv, text, ..
                } => {
                    if let Some(si) = self.conns.by_id.get(&conn).map(|c| c.slot)
                        && self.conns.slots[si].primary == Some(conn)
                    {
                        self.feed(recv, text.as_bytes(), None, Some(BusKind::Frame));
                    }
                }
                IngestMsg::Snapshot {
                    symbol, recv, body, ..
                } => self.feed(recv, &body, Some(symbol), Some(BusKind::Snapshot)),
                IngestMsg::Klines { symbol, pages } => {
                    for p in &pages {
                        self.feed(p.recv, &p.body, Some(symbol), None);
                    }
                }
                _ => {}
            }
        }
    }

    /// Stops the tasks, closes the recordings and sums up.
    async fn finish(mut self) -> LiveOutcome {
        self.stop_tasks().await;
        let mut report = self.report();
        let latency = LatencySummary::of(&self.timing.lat, now_nanos().0);
        // No recorder handle may outlive this, or its writer would never end.
        if let Ok(mut to) = self.conns.readers.shed_to.lock() {
            *to = None;
        }
        let recordings = self.journal.finish().await;
        if let Some(b) = self.bus.take() {
            // The last signals: the books as the session ends.
            let now = now_nanos();
            for (sym, json) in self.signals.due(&self.engine, &self.stale, now.0, true) {
                b.send_signals(sym, now, json);
            }
            let stats = b.stats.clone();
            let url = b.url.clone();
            // What is queued still goes out; its acks are awaited (bounded).
            b.close(Duration::from_secs(10)).await;
            let published = stats.report();
            tracing::info!(?published, "NATS publisher closed");
            report.bus = Some(microstate_core::summary::BusReport {
                url,
                published: Some(published),
                consumed: None,
            });
        }
        if let Some(s) = &self.screen {
            s.events.send(Event::Ended);
        }
        LiveOutcome {
            engine: self.engine,
            report,
            latency,
            recordings,
        }
    }

    /// Closes the connections (each slot gets 2 s) and stops the snapshot and clock tasks.
    async fn stop_tasks(&mut self) {
        for s in &self.conns.slots {
            let _ = s.cmds.send(SlotCmd::Shutdown);
        }
        // The snapshot and kline tasks end with their request channels.
        self.snapshots.tx = None;
        self.context.stop();
        for t in self.tasks.slots.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        self.tasks.snapshots.abort();
        self.tasks.clock.abort();
        if let Some(t) = &self.tasks.klines {
            t.abort();
        }
    }

    /// What the session's connections did.
    fn report(&self) -> LiveReport {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let stats = &self.stats;
        let mut stale_symbols: Vec<String> = self.stale.iter().map(|s| s.to_string()).collect();
        stale_symbols.sort();
        LiveReport {
            ever_connected: self.ever_connected,
            last_failure: self.last_failure.clone(),
            frames_received: load(&stats.frames),
            frames_shed: load(&stats.shed),
            frames_refused: self.frame_errors,
            pings_answered: load(&stats.pings),
            snapshot_requests: load(&stats.snapshot_requests),
            snapshots_ok: load(&stats.snapshots_ok),
            snapshot_errors: load(&stats.snapshot_errors),
            snapshot_budget_waits: load(&stats.snapshot_budget_waits),
            snapshot_backoffs: load(&stats.snapshot_backoffs),
            rest_429: load(&stats.rest_429),
            rest_418: load(&stats.rest_418),
            snapshots_unusable: load(&stats.snapshots_unusable),
            snapshot_task_restarts: load(&stats.snapshot_task_restarts),
            unsolicited_frames: self.engine.stats().unsolicited,
            fatal: self.fatal.clone(),
            stale_symbols,
            stale_events: self.stale_events,
            apply_latency_ns: self
                .timing
                .apply
                .as_ref()
                .map(Percentiles::of)
                .unwrap_or_default(),
            clock: self.clock,
            connections: self.conns.slots.iter().map(|s| s.report.clone()).collect(),
            klines: self.context.report(&self.stats),
            time_to_all_synced_s: self.all_synced_after,
            elapsed_s: self.started.elapsed().as_secs_f64(),
            bus: None,
        }
    }

    /// The headless status for stderr: one aggregate line (synced/total, resyncing, stale,
    /// gaps, the connections); with a few symbols it carries each one's book, with more a
    /// symbol gets a line of its own only when its state or gap count changed since its last.
    fn status_lines(&mut self) -> Vec<String> {
        let total = self.engine.symbols().len();
        let detail = total <= STATUS_DETAIL_MAX;
        let (mut synced, mut resyncing, mut gaps) = (0, 0, 0);
        let mut changed = Vec::new();
        let mut books = String::new();
        for st in self.engine.symbols() {
            let stale = self.stale.contains(&st.symbol);
            let phase = st.sync.phase();
            synced += usize::from(phase == Phase::Synced && !stale);
            resyncing += usize::from(phase == Phase::Resyncing);
            let c = st.sync.counters();
            gaps += c.gaps;
            let state = if stale {
                "STALE".to_string()
            } else {
                phase.as_str().to_uppercase()
            };
            let bbo = st.book().bbo();
            let line = format!(
                "{} {state} bid {} ask {} diffs {} gaps {}",
                st.symbol,
                bbo.bid.map_or("-".into(), |l| l.price.to_string()),
                bbo.ask.map_or("-".into(), |l| l.price.to_string()),
                c.applied,
                c.gaps
            );
            if detail {
                books += " ";
                books += &line;
            } else if self.status_shown.get(&st.symbol) != Some(&(state.clone(), c.gaps)) {
                self.status_shown.insert(st.symbol, (state, c.gaps));
                changed.push(format!("  {line}"));
            }
        }
        let mut out = format!(
            "[{:>6.1}s] synced {synced}/{total} resyncing {resyncing} stale {} gaps {gaps}",
            self.started.elapsed().as_secs_f64(),
            self.stale.len()
        );
        if let Some(t) = self.all_synced_after {
            out += &format!(" (all synced after {t:.1}s)");
        }
        out += &books;
        for s in &self.conns.slots {
            out += &format!(" | {}: {}", short_url(&s.plan.url), s.state);
        }
        let shed = self.stats.shed.load(Ordering::Relaxed);
        if shed > 0 {
            out += &format!(" | shed {shed}");
        }
        let mut lines = vec![out];
        lines.extend(changed);
        lines
    }
}

/// exchangeInfo's answer; pending for ever once it came.
async fn next_listing(
    rx: &mut Option<oneshot::Receiver<Result<Listing, String>>>,
) -> Result<Listing, String> {
    match rx.as_mut() {
        Some(r) => r
            .await
            .unwrap_or_else(|_| Err("the exchangeInfo task ended".into())),
        None => std::future::pending().await,
    }
}

/// The screen's next command; pending for ever without a screen.
async fn next_command(screen: &mut Option<LiveEnd>) -> Option<Command> {
    match screen.as_mut() {
        Some(s) => s.commands.recv().await,
        None => std::future::pending().await,
    }
}

/// A subscription answer (`{"result":…,"id":N}`, `{"error":…}`), told from market data by
/// its first bytes.
fn is_reply(b: &[u8]) -> bool {
    b.len() < 512
        && (b.starts_with(b"{\"result\"")
            || b.starts_with(b"{\"error\"")
            || b.starts_with(b"{\"id\""))
}
