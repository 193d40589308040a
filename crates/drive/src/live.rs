//! The live supervisor: connection slots, the engine loop, staleness, switch-overs.
//!
//! Owns: the engine during a live run, the map from connections to the symbols they carry, which
//! snapshots are outstanding, and what the user is told about connection state. Must not touch:
//! socket details ([`microstate_io::ingest::ws`]) or the request budget ([`microstate_io::ingest::snapshots`]).
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
//!   of a connection are stale for `stale_reconnect_after`, the connection is replaced.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::replay::ViewTx;
use microstate_config::{Config, ConnectionConfig, format_duration};
use microstate_core::book::sync::Phase;
use microstate_core::engine::{Engine, EngineConfig, RawFrame};
use microstate_core::latency::Percentiles;
use microstate_core::latency::{Latency, LatencySummary, Stage};
use microstate_core::market::Market;
use microstate_core::num::{Nanos, Symbol};
use microstate_core::summary::{ClockReport, LiveReport, SlotReport};
use microstate_core::view::{RecordingView, StageView, View};
use microstate_core::wire::binance::Decoder;
use microstate_core::wire::{Event, TradeKind};
use microstate_io::ingest::endpoints::{WsPlan, ws_plans};
use microstate_io::ingest::snapshots::{self, SnapshotRequest};
use microstate_io::ingest::ws::{self, EndReason};
use microstate_io::ingest::{ConnId, IngestMsg, IngestStats, now_nanos};
use microstate_io::record::format::{Record, journal as events};
use microstate_io::record::writer::Recorder;

/// How long held-back frames of a new connection wait for the old one to catch up.
const SWITCH_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that ended sooner than this did not prove the endpoint healthy: back-off grows.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);
/// The engine loop's housekeeping period (staleness, snapshot requests, status).
const TICK: Duration = Duration::from_millis(50);

/// A live run's settings.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub cfg: Config,
    pub symbols: Vec<Symbol>,
    /// Print a status line to stderr this often (headless); `None` prints nothing.
    pub status_every: Option<Duration>,
    /// Counters to share with the caller (tests watch `frames` to know what arrived).
    pub stats: Option<Arc<IngestStats>>,
    /// Where to record what comes off the wire (never waited on: see [`Recorder::offer`]).
    pub recorder: Option<Recorder>,
    /// Models run on the features (`None`: none).
    pub models: Option<Arc<microstate_core::ml::signals::Models>>,
}

impl LiveOptions {
    pub fn new(cfg: Config, symbols: Vec<Symbol>) -> Self {
        LiveOptions {
            cfg,
            symbols,
            status_every: None,
            stats: None,
            recorder: None,
            models: None,
        }
    }
}

/// What a live run leaves behind.
pub struct LiveOutcome {
    pub engine: Engine,
    pub report: LiveReport,
    pub latency: LatencySummary,
}

enum SlotCmd {
    /// Open a second connection to switch over to.
    Rotate,
    /// Close this connection (the switch-over is done).
    Retire(ConnId),
    Shutdown,
}

struct Pending {
    conn: ConnId,
    since: Instant,
    frames: Vec<(Nanos, Utf8Bytes)>,
    /// First diff per symbol on the new connection: (`U`, `pu`).
    first: HashMap<Symbol, (u64, Option<u64>)>,
    /// First bookTicker `u` per symbol on the new connection.
    first_ticker: HashMap<Symbol, u64>,
    /// First trade id per (symbol, kind) on the new connection.
    first_trade: HashMap<(Symbol, TradeKind), u64>,
}

struct Slot {
    plan: WsPlan,
    cmds: mpsc::UnboundedSender<SlotCmd>,
    primary: Option<ConnId>,
    primary_since: Instant,
    pending: Option<Pending>,
    rotate_asked: Option<Instant>,
    state: String,
    report: SlotReport,
    all_stale_since: Option<Instant>,
}

/// What the user can ask of a running live session (keys in the screen).
#[derive(Debug)]
pub enum LiveCommand {
    /// Record from now on (the writer is already started). Fresh REST snapshots are fetched
    /// for the synced symbols so the recording can be replayed from its own start.
    StartRecording(Recorder),
    /// Stop recording (the writer ends when its last handle is dropped).
    StopRecording,
    /// Drop this symbol's book and sync it again from a new snapshot.
    Resync(Symbol),
}

/// Runs until `stop` resolves.
pub async fn run(opts: LiveOptions, stop: impl std::future::Future<Output = ()>) -> LiveOutcome {
    run_with(opts, None, None, stop).await
}

/// Runs until `stop` resolves, taking [`LiveCommand`]s.
pub async fn run_with(
    opts: LiveOptions,
    mut commands: Option<mpsc::UnboundedReceiver<LiveCommand>>,
    mut view: Option<ViewTx>,
    stop: impl std::future::Future<Output = ()>,
) -> LiveOutcome {
    let cfg = opts.cfg.clone();
    let ccfg = cfg.connection.clone();
    let stats = opts.stats.clone().unwrap_or_default();
    let (tx, mut rx) = mpsc::channel::<IngestMsg>(ccfg.queue_capacity);
    let (snap_tx, snap_rx) = mpsc::unbounded_channel::<SnapshotRequest>();
    let clock_task = tokio::spawn(microstate_io::ingest::clock::probe(cfg.clone(), tx.clone()));
    let snap_task = tokio::spawn(snapshots::run(
        cfg.clone(),
        snap_rx,
        tx.clone(),
        stats.clone(),
    ));

    let mut engine = Engine::new(EngineConfig {
        market: Some(cfg.live.market),
        max_buffer: cfg.sync.max_buffered_diffs,
        features: cfg.features.params(),
        ..EngineConfig::default()
    });
    for &s in &opts.symbols {
        engine.add_symbol(s);
    }
    let ids = Arc::new(AtomicU64::new(1));
    let readers = Arc::new(ws::ReaderShared {
        stats: stats.clone(),
        shed_to: std::sync::Mutex::new(opts.recorder.clone()),
    });
    let mut slots: Vec<Slot> = Vec::new();
    let mut slot_tasks: Vec<JoinHandle<()>> = Vec::new();
    for (i, plan) in ws_plans(&cfg, &opts.symbols).into_iter().enumerate() {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        slot_tasks.push(tokio::spawn(slot_task(
            i,
            plan.url.clone(),
            ccfg.clone(),
            tx.clone(),
            readers.clone(),
            cmd_rx,
            ids.clone(),
        )));
        slots.push(Slot {
            report: SlotReport {
                url: plan.url.clone(),
                ..Default::default()
            },
            plan,
            cmds: cmd_tx,
            primary: None,
            primary_since: Instant::now(),
            pending: None,
            rotate_asked: None,
            state: "connecting".into(),
            all_stale_since: None,
        });
    }
    drop(tx);

    let mut conn_slot: HashMap<ConnId, usize> = HashMap::new();
    let mut outstanding: HashSet<Symbol> = HashSet::new();
    let mut failures: HashMap<Symbol, u32> = HashMap::new();
    let mut stale: HashSet<Symbol> = HashSet::new();
    let mut stale_events = 0u64;
    let mut peek = Decoder::new();
    let mut errors_logged = 0u64;
    let mut frame_errors = 0u64;
    let mut last_status = Instant::now();
    let mut ever_connected = false;
    let mut clock: Option<ClockReport> = None;
    let mut last_failure: Option<String> = None;
    let started = Instant::now();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(stop);

    // Receive → applied, 1 ns to 60 s at 3 significant digits.
    let apply_latency =
        RefCell::new(hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).ok());
    let recorder = RefCell::new(opts.recorder.clone());
    let lat = RefCell::new(Latency::new(60_000_000_000, 6));
    let last_fed = std::cell::Cell::new(0u64);
    let mut stage_cache: (u64, Vec<StageView>) = (0, Vec::new());
    // Per symbol: wall time its connection came up, until the book is synced.
    let connected_at: RefCell<HashMap<Symbol, u64>> = RefCell::new(HashMap::new());
    engine.set_clock(microstate_io::ingest::mono_nanos);
    if let Some(m) = &opts.models {
        engine.set_models(m.clone());
    }
    let journal = Journal(&recorder);
    // Per symbol: gaps and phase last seen, to note changes in the recording.
    let mut seen: HashMap<Symbol, (u64, Phase)> = HashMap::new();
    let mut feed = |engine: &mut Engine, recv: Nanos, bytes: &[u8], hint: Option<Symbol>| {
        let taken = now_nanos().0;
        let r = engine.on_frame(RawFrame {
            recv,
            bytes,
            symbol_hint: hint,
        });
        let done = now_nanos().0;
        last_fed.set(recv.0);
        if let Some(h) = apply_latency.borrow_mut().as_mut() {
            h.saturating_record(done.saturating_sub(recv.0).max(1));
        }
        {
            let mut l = lat.borrow_mut();
            l.record(Stage::Queue, taken, taken.saturating_sub(recv.0));
            if r.is_ok() {
                l.on_frame(engine.last_times(), recv.0, done);
            }
        }
        // Only while a (re)connect is waiting for its books: nothing to look up otherwise.
        if !connected_at.borrow().is_empty()
            && let Some(st) = engine.touched()
            && st.sync.phase() == Phase::Synced
            && let Some(t0) = connected_at.borrow_mut().remove(&st.symbol)
        {
            lat.borrow_mut()
                .record(Stage::TimeToSynced, done, done.saturating_sub(t0));
        }
        if journal.on()
            && let Some(st) = engine.touched()
        {
            let now = (st.sync.counters().gaps, st.sync.phase());
            let was = seen.insert(st.symbol, now).unwrap_or((0, Phase::Syncing));
            if now.0 > was.0 {
                journal.note("gap", || match st.sync.last_gap() {
                    Some(g) => format!("{} expected {} got {}", st.symbol, g.expected, g.got),
                    None => st.symbol.to_string(),
                });
                journal.note("resync started", || st.symbol.to_string());
            }
            if now.1 == Phase::Synced && was.1 != Phase::Synced {
                let event = if was.1 == Phase::Syncing {
                    "synced"
                } else {
                    "resync finished"
                };
                journal.note(event, || {
                    format!("{} at {}", st.symbol, st.book().last_update_id)
                });
            }
        }
        if let Err(e) = r {
            frame_errors += 1;
            if errors_logged < 20 {
                errors_logged += 1;
                tracing::warn!("live frame refused: {e}");
            }
        }
    };

    // At stop: how many queued messages are still processed (what had arrived by then).
    let mut stopping: Option<usize> = None;
    loop {
        if let Some(left) = stopping.as_mut() {
            if *left == 0 {
                break;
            }
            *left -= 1;
            let msg = match rx.try_recv() {
                Ok(m) => m,
                Err(_) => break,
            };
            if let Some(r) = recorder.borrow().as_ref() {
                record(r, &msg);
            }
            match msg {
                IngestMsg::Frame {
                    conn, recv, text, ..
                } => {
                    if let Some(&si) = conn_slot.get(&conn)
                        && slots[si].primary == Some(conn)
                    {
                        feed(&mut engine, recv, text.as_bytes(), None);
                    }
                    continue;
                }
                IngestMsg::Snapshot {
                    symbol, recv, body, ..
                } => {
                    feed(&mut engine, recv, &body, Some(symbol));
                    continue;
                }
                _ => continue,
            }
        }
        if let Some(v) = view.as_mut()
            && v.due()
        {
            let mut lv = View::of_engine(&engine, now_nanos().0, 0);
            for sv in &mut lv.symbols {
                sv.stale = stale.contains(&sv.symbol);
            }
            lv.connection = connection_state(&slots);
            let now = lv.now_ns;
            {
                let mut l = lat.borrow_mut();
                let newest = last_fed.get();
                if newest > 0 && now >= newest {
                    l.record(Stage::Publish, now, now - newest);
                }
                if let Some(e) = l.clock.in_use(now) {
                    lv.clock_offset = Some((e.offset_ns, e.uncertainty_ns * 2));
                    lv.clock_source = e.source.to_string();
                }
                if stage_cache.0 + 500_000_000 <= now || stage_cache.1.is_empty() {
                    stage_cache = (now, stage_views(&l, now));
                }
            }
            lv.latency = stage_cache.1.clone();
            if let Some(r) = recorder.borrow().as_ref() {
                let st = &r.stats;
                lv.recording = Some(RecordingView {
                    path: st
                        .files()
                        .last()
                        .map_or(String::new(), |p| p.display().to_string()),
                    bytes: st.file_bytes.load(Ordering::Relaxed),
                    dropped: st.dropped.load(Ordering::Relaxed),
                    failures: st.failures.load(Ordering::Relaxed),
                    last_error: st.last_error(),
                });
            }
            v.send(lv);
        }
        tokio::select! {
            _ = &mut stop => { stopping = Some(rx.len()); }
            cmd = async {
                match commands.as_mut() {
                    Some(c) => c.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                let Some(cmd) = cmd else {
                    commands = None;
                    continue;
                };
                match cmd {
                    LiveCommand::StartRecording(r) => {
                        if let Ok(mut to) = readers.shed_to.lock() {
                            *to = Some(r.clone());
                        }
                        *recorder.borrow_mut() = Some(r);
                        journal.note("recording started", String::new);
                        for s in &slots {
                            if let Some(c) = s.primary {
                                journal.note(events::PRIMARY, || c.to_string());
                            }
                        }
                        for st in engine.symbols() {
                            if st.sync.is_synced() && outstanding.insert(st.symbol) {
                                let _ = snap_tx.send(SnapshotRequest { symbol: st.symbol, failures: 0 });
                            }
                        }
                    }
                    LiveCommand::StopRecording => {
                        journal.note("recording stopped", String::new);
                        if let Ok(mut to) = readers.shed_to.lock() {
                            *to = None;
                        }
                        *recorder.borrow_mut() = None;
                    }
                    LiveCommand::Resync(sym) => {
                        engine.reset_symbol(sym);
                        journal.note(events::RESET, || sym.to_string());
                        outstanding.remove(&sym);
                    }
                }
            }
            _ = tick.tick() => {
                housekeeping(&cfg, &mut engine, &mut slots, &mut stale, &mut outstanding, &failures, &snap_tx, &mut feed, &mut stale_events, journal);
                if let Some(every) = opts.status_every
                    && last_status.elapsed() >= every
                {
                    last_status = Instant::now();
                    eprintln!("{}", status_line(&engine, &slots, &stale, &stats, started));
                }
            }
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                if let Some(r) = recorder.borrow().as_ref() {
                    record(r, &msg);
                }
                match msg {
                    IngestMsg::Frame { conn, recv, text, .. } => {
                        let Some(&si) = conn_slot.get(&conn) else { continue };
                        let slot = &mut slots[si];
                        if slot.primary == Some(conn) {
                            feed(&mut engine, recv, text.as_bytes(), None);
                        } else if let Some(p) = slot.pending.as_mut().filter(|p| p.conn == conn) {
                            match peek.decode(text.as_bytes()) {
                                Ok(Event::Depth(d)) => {
                                    p.first.entry(d.symbol).or_insert((d.first_id, d.prev_final_id));
                                }
                                Ok(Event::BookTicker(t)) => {
                                    p.first_ticker.entry(t.symbol).or_insert(t.update_id);
                                }
                                Ok(Event::Trade(t)) => {
                                    p.first_trade.entry((t.symbol, t.kind)).or_insert(t.id);
                                }
                                _ => {}
                            }
                            p.frames.push((recv, text));
                            if switch_ready(&engine, cfg.live.market, slot) {
                                switch_over(&mut engine, slot, &mut feed, journal);
                            }
                        }
                        // Otherwise a late frame of a retired connection: its successor has it.
                    }
                    IngestMsg::Connecting { slot, conn, url, attempt } => {
                        conn_slot.insert(conn, slot);
                        let s = &mut slots[slot];
                        s.report.attempts += 1;
                        if s.primary.is_none() {
                            s.state = format!("connecting, attempt {attempt}");
                        }
                        tracing::info!(%url, attempt, "connecting");
                    }
                    IngestMsg::ConnectFailed { slot, attempt, reason, next_in } => {
                        let s = &mut slots[slot];
                        s.report.failures += 1;
                        let line = format!(
                            "connecting, attempt {attempt}, next in {:.1} s: {reason}",
                            next_in.as_secs_f64()
                        );
                        if s.primary.is_none() {
                            s.state = line.clone();
                        }
                        last_failure = Some(format!("{}: {reason}", s.plan.url));
                        if opts.status_every.is_some() {
                            eprintln!("{}: {line}", short_url(&s.plan.url));
                        } else {
                            tracing::warn!(url = %s.plan.url, "{line}");
                        }
                    }
                    IngestMsg::Connected { slot, conn, url } => {
                        ever_connected = true;
                        let s = &mut slots[slot];
                        if s.primary.is_none() {
                            let now = now_nanos().0;
                            let mut c = connected_at.borrow_mut();
                            for &sym in &s.plan.depth_symbols {
                                c.insert(sym, now);
                            }
                        }
                        s.report.connections += 1;
                        if s.primary.is_none() {
                            s.primary = Some(conn);
                            journal.note(events::PRIMARY, || conn.to_string());
                            s.primary_since = Instant::now();
                            s.state = "up".into();
                            s.all_stale_since = None;
                        } else {
                            s.pending = Some(Pending {
                                conn,
                                since: Instant::now(),
                                frames: Vec::new(),
                                first: HashMap::new(),
                                first_ticker: HashMap::new(),
                                first_trade: HashMap::new(),
                            });
                            s.state = "up, switching over".into();
                        }
                        tracing::info!(%url, conn, "connected");
                        if opts.status_every.is_some() {
                            eprintln!("{}: connected", short_url(&url));
                        }
                    }
                    IngestMsg::ServerShutdown { conn } => {
                        if let Some(&si) = conn_slot.get(&conn) {
                            let s = &mut slots[si];
                            s.report.server_shutdowns += 1;
                            if s.primary == Some(conn) && s.pending.is_none() {
                                tracing::warn!(url = %s.plan.url, "serverShutdown: opening a replacement before the old one closes");
                                request_rotate(s);
                            }
                        }
                    }
                    IngestMsg::Disconnected { slot, conn, reason, planned } => {
                        let s = &mut slots[slot];
                        conn_slot.remove(&conn);
                        if s.pending.as_ref().is_some_and(|p| p.conn == conn) {
                            s.pending = None;
                            s.state = "up".into();
                        } else if s.primary == Some(conn) {
                            if !planned {
                                s.report.disconnects += 1;
                                s.report.last_disconnect = Some(reason.clone());
                                if opts.status_every.is_some() {
                                    eprintln!("{}: disconnected: {reason}", short_url(&s.plan.url));
                                } else {
                                    tracing::warn!(url = %s.plan.url, %reason, "disconnected");
                                }
                            }
                            if s.pending.is_some() {
                                // The new connection takes over at once; a hole shows as a gap.
                                switch_over(&mut engine, s, &mut feed, journal);
                            } else {
                                s.primary = None;
                                s.state = format!("reconnecting: {reason}");
                                for &sym in &s.plan.depth_symbols {
                                    engine.reset_symbol(sym);
                                    journal.note(events::RESET, || sym.to_string());
                                    outstanding.remove(&sym);
                                }
                            }
                        }
                        journal.note(events::DROP, || conn.to_string());
                    }
                    IngestMsg::Snapshot { symbol, sent, recv, body, .. } => {
                        lat.borrow_mut().record(Stage::SnapshotRtt, recv.0, recv.0.saturating_sub(sent.0));
                        outstanding.remove(&symbol);
                        feed(&mut engine, recv, &body, Some(symbol));
                        let synced = engine.symbol(symbol).is_some_and(|s| s.sync.is_synced());
                        let f = failures.entry(symbol).or_insert(0);
                        *f = if synced { 0 } else { *f + 1 };
                    }
                    IngestMsg::ClockSample(c) => {
                        lat.borrow_mut().clock.on_active(c.wall_ns, c.offset_ns, c.rtt_ns);
                        let r = clock.get_or_insert(ClockReport {
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
                    IngestMsg::SnapshotFailed { symbol, reason } => {
                        tracing::warn!(%symbol, %reason, "snapshot request failed; will retry");
                        last_failure = Some(format!("snapshot {symbol}: {reason}"));
                    }
                }
            }
        }
    }

    for s in &slots {
        let _ = s.cmds.send(SlotCmd::Shutdown);
    }
    drop(snap_tx);
    for t in slot_tasks {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    snap_task.abort();
    clock_task.abort();

    let report = LiveReport {
        ever_connected,
        last_failure,
        frames_received: stats.frames.load(Ordering::Relaxed),
        frames_shed: stats.shed.load(Ordering::Relaxed),
        frames_refused: frame_errors,
        pings_answered: stats.pings.load(Ordering::Relaxed),
        snapshot_requests: stats.snapshot_requests.load(Ordering::Relaxed),
        snapshots_ok: stats.snapshots_ok.load(Ordering::Relaxed),
        snapshot_errors: stats.snapshot_errors.load(Ordering::Relaxed),
        snapshot_budget_waits: stats.snapshot_budget_waits.load(Ordering::Relaxed),
        rest_429: stats.rest_429.load(Ordering::Relaxed),
        rest_418: stats.rest_418.load(Ordering::Relaxed),
        stale_symbols: {
            let mut v: Vec<String> = stale.iter().map(|s| s.to_string()).collect();
            v.sort();
            v
        },
        stale_events,
        apply_latency_ns: apply_latency
            .borrow()
            .as_ref()
            .map(Percentiles::of)
            .unwrap_or_default(),
        clock,
        connections: slots.into_iter().map(|s| s.report).collect(),
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    let now = now_nanos().0;
    let latency = LatencySummary::of(&lat.borrow(), now);
    LiveOutcome {
        engine,
        report,
        latency,
    }
}

/// Lifecycle records, including the feed journal (see [`microstate_io::record::format`]): the engine
/// loop's decisions, noted in the order it takes them, so a replay feeds the same frames.
#[derive(Clone, Copy)]
struct Journal<'a>(&'a RefCell<Option<Recorder>>);

impl Journal<'_> {
    fn on(&self) -> bool {
        self.0.borrow().is_some()
    }

    fn note(&self, event: &str, detail: impl FnOnce() -> String) {
        if let Some(r) = self.0.borrow().as_ref() {
            r.offer(Record::Lifecycle {
                wall_ns: now_nanos().0,
                event: event.to_string(),
                detail: detail(),
            });
        }
    }
}

/// What came off the wire, as records: frames and snapshots byte for byte, connection life.
fn record(r: &Recorder, msg: &IngestMsg) {
    let now = now_nanos().0;
    let life = |event: &str, detail: String| Record::Lifecycle {
        wall_ns: now,
        event: event.to_string(),
        detail,
    };
    match msg {
        IngestMsg::Frame {
            conn,
            recv,
            mono,
            text,
        } => r.offer(Record::WsFrame {
            conn: *conn,
            recv_wall_ns: recv.0,
            recv_mono_ns: *mono,
            text: text.as_bytes().to_vec(),
        }),
        IngestMsg::Snapshot {
            symbol,
            url,
            sent,
            recv,
            body,
        } => {
            let id = sent.0;
            r.offer(Record::RestRequest {
                id,
                sent_wall_ns: sent.0,
                url: url.clone(),
            });
            r.offer(Record::RestResponse {
                id,
                symbol: Some(symbol.to_string()),
                recv_wall_ns: recv.0,
                status: 200,
                body: body.clone(),
            });
        }
        IngestMsg::Connected { url, conn, .. } => {
            r.offer(life("connect", format!("conn {conn} {url}")))
        }
        IngestMsg::Disconnected { conn, reason, .. } => {
            r.offer(life("disconnect", format!("conn {conn}: {reason}")))
        }
        IngestMsg::ServerShutdown { conn } => {
            r.offer(life("serverShutdown", format!("conn {conn}")))
        }
        IngestMsg::SnapshotFailed { symbol, reason } => {
            r.offer(life("snapshot failed", format!("{symbol}: {reason}")))
        }
        IngestMsg::ClockSample(c) => r.offer(Record::ClockOffset {
            wall_ns: c.wall_ns,
            offset_ns: c.offset_ns,
            rtt_ns: c.rtt_ns,
        }),
        IngestMsg::Connecting { .. } | IngestMsg::ConnectFailed { .. } => {}
    }
}

/// The connections' state in a few words: `up`, or the first slot that is not.
fn connection_state(slots: &[Slot]) -> String {
    let n = slots.len();
    match slots.iter().find(|s| s.state != "up") {
        None if n == 1 => "up".into(),
        None => format!("up ({n} sockets)"),
        Some(s) => s.state.clone(),
    }
}

/// Latency stages for the screen: window percentiles and log-spaced buckets of each.
pub fn stage_views(l: &Latency, now_ns: u64) -> Vec<StageView> {
    l.reports(now_ns)
        .into_iter()
        .filter_map(|(stage, r)| {
            let h = l.stage(stage)?.window(now_ns);
            Some(stage_view(stage.name(), &r, &h))
        })
        .collect()
}

/// One stage for the screen: the window's percentiles (since start when the window is empty)
/// and up to 12 log-spaced buckets.
pub fn stage_view(
    name: &str,
    r: &microstate_core::latency::StageReport,
    h: &hdrhistogram::Histogram<u64>,
) -> StageView {
    let p = if r.window.count > 0 {
        r.window
    } else {
        r.total
    };
    let mut buckets = Vec::new();
    if !h.is_empty() {
        let (lo, hi) = (h.min().max(1) as f64, h.max().max(2) as f64);
        let steps = 12usize;
        let ratio = (hi / lo).powf(1.0 / steps as f64).max(1.000_001);
        let mut below = h.count_between(0, lo as u64 - 1);
        let mut ub = lo;
        for _ in 0..steps {
            ub *= ratio;
            let c = h.count_between(0, ub as u64);
            buckets.push((ub as u64, c.saturating_sub(below)));
            below = c;
        }
    }
    let name = match r.negative {
        Some(n) if n > 0 => format!("{name} ({n} < 0)"),
        _ => name.to_string(),
    };
    StageView {
        name,
        count: p.count,
        p50: p.p50,
        p90: p.p90,
        p99: p.p99,
        p999: p.p999,
        max: p.max,
        buckets,
    }
}

fn short_url(u: &str) -> &str {
    u.split('?').next().unwrap_or(u)
}

fn request_rotate(s: &mut Slot) {
    if s.rotate_asked.is_none_or(|t| t.elapsed() > SWITCH_TIMEOUT) {
        s.rotate_asked = Some(Instant::now());
        let _ = s.cmds.send(SlotCmd::Rotate);
    }
}

/// True when every synced symbol on the slot has been delivered by the old connection up to
/// where the new connection's first diff starts (or the wait is over).
fn switch_ready(engine: &Engine, market: Market, s: &Slot) -> bool {
    let Some(p) = &s.pending else { return false };
    // A silent old connection will never catch up: switch at once (a hole shows as a gap).
    if p.since.elapsed() > SWITCH_TIMEOUT || s.all_stale_since.is_some() {
        return true;
    }
    let depth_ok = s.plan.depth_symbols.iter().all(|&sym| {
        let Some(st) = engine.symbol(sym) else {
            return true;
        };
        if !st.sync.is_synced() {
            return true;
        }
        let last = st.book().last_update_id;
        match p.first.get(&sym) {
            None => false,
            Some(&(first, pu)) => match market {
                Market::Spot => last + 1 >= first,
                _ => last >= pu.unwrap_or(first.saturating_sub(1)),
            },
        }
    });
    // Trades and bookTickers too: the old socket must have delivered up to the new one's first
    // of each, or one sent just before the new socket subscribed, still unread on the old
    // socket, would be lost when the old one is closed. A kind the engine never took in sets
    // no condition.
    let others_ok = s.plan.streams.iter().all(|name| {
        let Some((sym, kind)) = name.split_once('@') else {
            return true;
        };
        let Some(st) = Symbol::new(sym.as_bytes()).and_then(|s| engine.symbol(s)) else {
            return true;
        };
        let caught_up = |have: Option<u64>, first: Option<&u64>| match (have, first) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(h), Some(&f)) => h >= f,
        };
        let trade =
            |k: TradeKind| caught_up(st.last_trade_id(k), p.first_trade.get(&(st.symbol, k)));
        match kind {
            "bookTicker" => caught_up(st.last_ticker_u(), p.first_ticker.get(&st.symbol)),
            "trade" => trade(TradeKind::Trade),
            "aggTrade" => trade(TradeKind::AggTrade),
            _ => true,
        }
    });
    depth_ok && others_ok
}

fn switch_over(
    engine: &mut Engine,
    s: &mut Slot,
    feed: &mut impl FnMut(&mut Engine, Nanos, &[u8], Option<Symbol>),
    journal: Journal<'_>,
) {
    let Some(p) = s.pending.take() else { return };
    let old = s.primary.replace(p.conn);
    journal.note(events::PRIMARY, || match old {
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
        feed(engine, *recv, text.as_bytes(), None);
    }
    tracing::info!(url = %s.plan.url, held = p.frames.len(), "switched over to the new connection");
}

#[allow(clippy::too_many_arguments)]
fn housekeeping(
    cfg: &Config,
    engine: &mut Engine,
    slots: &mut [Slot],
    stale: &mut HashSet<Symbol>,
    outstanding: &mut HashSet<Symbol>,
    failures: &HashMap<Symbol, u32>,
    snap_tx: &mpsc::UnboundedSender<SnapshotRequest>,
    feed: &mut impl FnMut(&mut Engine, Nanos, &[u8], Option<Symbol>),
    stale_events: &mut u64,
    journal: Journal<'_>,
) {
    let now = now_nanos();
    let stale_ns = cfg.connection.stale_after.as_nanos() as u64;
    for s in slots.iter_mut() {
        if s.pending.is_some() && switch_ready(engine, cfg.live.market, s) {
            switch_over(engine, s, feed, journal);
        }
        if s.primary.is_none() {
            continue;
        }
        if s.pending.is_none() && s.primary_since.elapsed() >= cfg.connection.max_age {
            tracing::info!(url = %s.plan.url, "connection nearing the 24 h limit: switching over");
            request_rotate(s);
        }
        // Staleness, judged from each symbol's last depth frame (or the connection's start).
        let since_ns = now
            .0
            .saturating_sub(s.primary_since.elapsed().as_nanos() as u64);
        let mut all_stale = !s.plan.depth_symbols.is_empty();
        for &sym in &s.plan.depth_symbols {
            let last = engine
                .symbol(sym)
                .map_or(0, |st| st.last_depth_recv.0)
                .max(since_ns);
            let is_stale = now.0.saturating_sub(last) > stale_ns;
            if is_stale && stale.insert(sym) {
                *stale_events += 1;
                tracing::warn!(%sym, "stale: no depth update for {}", format_duration(cfg.connection.stale_after));
                engine.set_stale(sym, true);
            } else if !is_stale && stale.remove(&sym) {
                tracing::info!(%sym, "depth updates resumed");
                engine.set_stale(sym, false);
            }
            all_stale &= is_stale;
        }
        if all_stale {
            let since = *s.all_stale_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= cfg.connection.stale_reconnect_after && s.pending.is_none() {
                tracing::warn!(url = %s.plan.url, "every symbol stale: replacing the connection");
                request_rotate(s);
            }
        } else {
            s.all_stale_since = None;
        }
    }
    // Snapshots: only for symbols whose diffs are already buffering on a live connection.
    for st in engine.symbols() {
        let sym = st.symbol;
        if st.sync.needs_snapshot() && st.sync.buffered() > 0 && !outstanding.contains(&sym) {
            outstanding.insert(sym);
            let _ = snap_tx.send(SnapshotRequest {
                symbol: sym,
                failures: failures.get(&sym).copied().unwrap_or(0),
            });
        }
    }
}

fn status_line(
    engine: &Engine,
    slots: &[Slot],
    stale: &HashSet<Symbol>,
    stats: &IngestStats,
    started: Instant,
) -> String {
    let mut out = format!("[{:>6.1}s]", started.elapsed().as_secs_f64());
    for st in engine.symbols() {
        let state = if stale.contains(&st.symbol) {
            "STALE".to_string()
        } else {
            st.sync.phase().as_str().to_uppercase()
        };
        let bbo = st.book().bbo();
        let c = st.sync.counters();
        out += &format!(
            " {} {state} bid {} ask {} diffs {} gaps {}",
            st.symbol,
            bbo.bid.map_or("-".into(), |l| l.price.to_string()),
            bbo.ask.map_or("-".into(), |l| l.price.to_string()),
            c.applied,
            c.gaps
        );
    }
    for s in slots {
        out += &format!(" | {}: {}", short_url(&s.plan.url), s.state);
    }
    let shed = stats.shed.load(Ordering::Relaxed);
    if shed > 0 {
        out += &format!(" | shed {shed}");
    }
    out
}

/// Jittered exponential back-off for attempt `n` (1-based).
pub fn backoff(cfg: &ConnectionConfig, n: u32, seed: u64) -> Duration {
    let base = cfg
        .backoff_initial
        .saturating_mul(1u32 << n.saturating_sub(1).min(20))
        .min(cfg.backoff_max);
    // Uniform in [-1, 1) from the project's generator.
    let z = microstate_core::rng::Rng::new(seed, 0).next_u64();
    let u = (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
    base.mul_f64((1.0 + cfg.backoff_jitter * u).max(0.0))
}

/// One logical connection: keeps a socket up with back-off, and opens a second one on request
/// for a make-before-break switch.
async fn slot_task(
    slot: usize,
    url: String,
    cfg: ConnectionConfig,
    tx: mpsc::Sender<IngestMsg>,
    shared: Arc<ws::ReaderShared>,
    mut cmds: mpsc::UnboundedReceiver<SlotCmd>,
    ids: Arc<AtomicU64>,
) {
    struct Live {
        id: ConnId,
        retire: Option<oneshot::Sender<()>>,
        task: JoinHandle<EndReason>,
        since: Instant,
    }
    let mut live: Vec<Live> = Vec::new();
    let mut attempt = 0u32;
    let open = |id: ConnId, ws: ws::Ws| {
        let (retire_tx, retire_rx) = oneshot::channel();
        let task = tokio::spawn(ws::read_loop(
            ws,
            id,
            cfg.clone(),
            tx.clone(),
            shared.clone(),
            retire_rx,
        ));
        Live {
            id,
            retire: Some(retire_tx),
            task,
            since: Instant::now(),
        }
    };
    loop {
        if live.is_empty() {
            attempt += 1;
            let id = ids.fetch_add(1, Ordering::Relaxed);
            if tx
                .send(IngestMsg::Connecting {
                    slot,
                    conn: id,
                    url: url.clone(),
                    attempt,
                })
                .await
                .is_err()
            {
                return;
            }
            match ws::connect(&url, cfg.connect_timeout).await {
                Ok(w) => {
                    live.push(open(id, w));
                    if tx
                        .send(IngestMsg::Connected {
                            slot,
                            conn: id,
                            url: url.clone(),
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(reason) => {
                    let next_in = backoff(&cfg, attempt, id ^ (slot as u64) << 32);
                    let _ = tx
                        .send(IngestMsg::ConnectFailed {
                            slot,
                            attempt,
                            reason,
                            next_in,
                        })
                        .await;
                    tokio::select! {
                        _ = tokio::time::sleep(next_in) => {}
                        cmd = cmds.recv() => {
                            if matches!(cmd, None | Some(SlotCmd::Shutdown)) {
                                return;
                            }
                        }
                    }
                    continue;
                }
            }
        }
        let ended = futures_util::future::select_all(live.iter_mut().map(|l| &mut l.task));
        tokio::select! {
            (res, idx, _) = ended => {
                let l = live.remove(idx);
                let reason = res.unwrap_or_else(|e| EndReason::Error(format!("reader task failed: {e}")));
                let planned = reason == EndReason::Retired;
                if l.since.elapsed() >= HEALTHY_AFTER || planned {
                    attempt = 0;
                }
                if tx
                    .send(IngestMsg::Disconnected { slot, conn: l.id, reason: reason.to_string(), planned })
                    .await
                    .is_err()
                {
                    return;
                }
                if live.is_empty() && !planned && attempt > 0 {
                    // It died young: wait before trying again, so a flapping server is not hammered.
                    let next_in = backoff(&cfg, attempt, l.id);
                    tokio::time::sleep(next_in).await;
                }
            }
            cmd = cmds.recv() => match cmd {
                Some(SlotCmd::Rotate) if live.len() == 1 => {
                    let id = ids.fetch_add(1, Ordering::Relaxed);
                    let _ = tx.send(IngestMsg::Connecting { slot, conn: id, url: url.clone(), attempt: 1 }).await;
                    match ws::connect(&url, cfg.connect_timeout).await {
                        Ok(w) => {
                            live.push(open(id, w));
                            let _ = tx.send(IngestMsg::Connected { slot, conn: id, url: url.clone() }).await;
                        }
                        Err(reason) => {
                            let _ = tx
                                .send(IngestMsg::ConnectFailed { slot, attempt: 1, reason, next_in: SWITCH_TIMEOUT })
                                .await;
                        }
                    }
                }
                Some(SlotCmd::Rotate) => {}
                Some(SlotCmd::Retire(id)) => {
                    if let Some(l) = live.iter_mut().find(|l| l.id == id)
                        && let Some(r) = l.retire.take()
                    {
                        let _ = r.send(());
                    }
                }
                None | Some(SlotCmd::Shutdown) => {
                    for l in &mut live {
                        if let Some(r) = l.retire.take() {
                            let _ = r.send(());
                        }
                    }
                    for l in live {
                        let _ = tokio::time::timeout(Duration::from_secs(1), l.task).await;
                    }
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let cfg = ConnectionConfig::default();
        let d1 = backoff(&cfg, 1, 7);
        assert!(
            d1 >= Duration::from_millis(400) && d1 <= Duration::from_millis(600),
            "{d1:?}"
        );
        let d4 = backoff(&cfg, 4, 7);
        assert!(
            d4 >= Duration::from_millis(3200) && d4 <= Duration::from_millis(4800),
            "{d4:?}"
        );
        let d20 = backoff(&cfg, 20, 7);
        assert!(d20 <= Duration::from_secs(36), "{d20:?}");
        assert_ne!(
            backoff(&cfg, 3, 1),
            backoff(&cfg, 3, 2),
            "jitter differs by seed"
        );
    }
}
