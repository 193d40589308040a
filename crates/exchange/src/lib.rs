//! The local Binance-compatible exchange: serves real captures (or any [`FrameSource`], such as
//! the synthetic market) on 127.0.0.1 so the live client can be proven without the internet.
//!
//! Owns: its listening socket, its replay clock and its own [`Engine`] (the book at the current
//! replay point), every client connection, REST weights and bans, and injected faults. Must not
//! touch: the project's ingest, UI or summary; it only *reads* captures and drives the core
//! engine like any other user.
//!
//! # Layout
//! ```text
//! source (std thread: read, merge, classify) ─Feed─▶ clock (one global replay clock: pacing,
//!                                                     engine, faults, fan-out) ─Out─▶ ws (per client)
//! server (accept, peek the head) ─┬─ upgrade ─▶ ws     (subscriptions, pings, rate limit)
//!                                 └─ GET ─────▶ rest   (depth/exchangeInfo/time, weights) over http
//! ```
//! - [`faults`]: the [`Fault`] values, `--fault` grammar ([`parse_fault`]) and their schedule.
//! - `streams`: stream names, frame classification, envelopes (payload bytes are never re-encoded).
//! - `source`: reads the source on its own thread, restarts it when looping.
//! - `passes`: moves each looped pass on in event time and ids.
//! - `clock`: paces frames by receive time × speed, keeps the book, applies stream faults, fans out.
//! - `server`: one port for REST and WebSocket (`TcpStream::peek` decides); REST served by axum on
//!   hyper's HTTP/1.1 connection (keep-alive, malformed and oversized heads answered by hyper).
//! - `ws`: one client connection: queue, pings, pong timeout, incoming rate limit, SUBSCRIBE.
//! - `rest`: routes, request weights, 429/418, depth and kline answers.
//! - [`klines`]: the 1-minute klines served (kline files or the synthetic history handed in at
//!   start, plus the minutes built from the trades the clock passes).
//! - `http`: request-head parsing and response writing.
//!
//! # Behaviour the live client can rely on
//! - Paths: `/ws/<stream>[/<stream>…]` (bare payloads), `/stream?streams=a/b` (combined
//!   envelopes with the name as the client wrote it), and the same under `/public` (depth,
//!   bookTicker) and `/market` (trades, everything else). `/ws` and `/stream` with no stream are
//!   fine for SUBSCRIBE-later use.
//! - One replay clock for everyone, starting when the first WebSocket client connects (if
//!   [`ExchangeConfig::start_on_first_client`]); frame `F` in fault specs is the clock's emitted
//!   WebSocket frame index.
//! - End of a non-looped source: [`ExchangeHandle::finished`] resolves once every frame has been
//!   written to every connected socket; sockets stay open (no more data, pings go on). Compare
//!   what a client received with [`ConnectionStats::frames_sent`] (plus
//!   [`ConnectionStats::injected_sent`] where faults injected frames) to know it has read
//!   everything.
//! - Looping: at the end the exchange's book is reset and the source restarts, moved on in time
//!   and ids (`passes`): event times go on where the last pass ended, update ids jump forward,
//!   so a connected client sees one gap per loop and resyncs from a snapshot, as after any gap;
//!   sockets stay open.
//! - Depth answers wait (up to [`ExchangeConfig::depth_wait`]) until the exchange's book for the
//!   symbol is synced; after that they answer 503 `{"code":-1007,..}`. At [`Speed::Max`] the
//!   clock waits for the slowest client, so a client must keep reading its socket while it
//!   waits for a snapshot (or the clock, and so the book, may stall until the pong timeout
//!   drops it).
//! - Symbols are known once the reader has looked [`LOOKAHEAD_FRAMES`] frames ahead (or read
//!   the whole source); a symbol first seen later than that is "Invalid symbol." until then.
//! - The replay clock starts on the first *WebSocket* client; REST requests do not start it.
//! - Serve spot and futures captures of one symbol from separate exchanges (the engine keys
//!   books by symbol).

mod clock;
pub mod faults;
mod http;
pub mod klines;
mod passes;
mod rest;
mod server;
mod source;
mod streams;
pub mod synthetic;
mod ws;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use microstate_drive::shutdown::{Shutdown, Stop};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use microstate_core::engine::{Engine, EngineConfig};
use microstate_core::num::Symbol;
use microstate_io::record::FrameSource;

pub use faults::{Fault, FaultKind, parse_fault};

/// Frames the reader reads ahead of the clock (symbol discovery looks this far).
pub const LOOKAHEAD_FRAMES: usize = source::LOOKAHEAD;

/// What the exchange serves.
pub enum ExchangeSource {
    /// Capture files or folders, opened with [`microstate_io::record::open_captures`] and merged by time.
    Captures(Vec<PathBuf>),
    /// An hftbacktest-format capture in memory (gzip or plain text); `symbol` names the symbol
    /// its REST snapshot lines belong to (default: from `name`, like `btcusdt_20240808.gz`).
    Memory {
        name: String,
        bytes: &'static [u8],
        symbol: Option<Symbol>,
    },
    /// Already opened sources (the synthetic market, tests). They cannot be restarted, so
    /// `looped` is refused with them.
    Sources(Vec<Box<dyn FrameSource + Send>>),
}

impl std::fmt::Debug for ExchangeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExchangeSource::Captures(p) => f.debug_tuple("Captures").field(p).finish(),
            ExchangeSource::Memory { name, bytes, .. } => {
                write!(f, "Memory({name}, {} bytes)", bytes.len())
            }
            ExchangeSource::Sources(s) => write!(f, "Sources({} sources)", s.len()),
        }
    }
}

/// Pacing of the capture's receive times. At `Max` the clock waits for the slowest client; at
/// a factor, a client whose queue fills up is disconnected, as Binance does.
pub use microstate_io::record::Speed;

/// How the exchange runs. [`ExchangeConfig::new`] gives Binance's numbers.
#[derive(Debug)]
pub struct ExchangeConfig {
    pub source: ExchangeSource,
    /// Where to listen (default `127.0.0.1:0`, an ephemeral port).
    pub listen: SocketAddr,
    pub speed: Speed,
    /// Restart the source at its end (clients are disconnected and must resync).
    pub looped: bool,
    pub faults: Vec<Fault>,
    /// Time between server pings (Binance spot: 20 s).
    pub ping_interval: Duration,
    /// A client that has not answered a ping within this is dropped (Binance: 60 s).
    pub pong_timeout: Duration,
    /// Client→server messages (text, ping, pong) allowed in any one second; more closes the
    /// socket (Binance spot: 5).
    pub max_incoming_per_sec: u32,
    /// Streams one connection may listen to (Binance: 1024); a `SUBSCRIBE` past it is
    /// answered with an error and changes nothing.
    pub max_streams_per_conn: usize,
    /// REST request weight allowed per rolling minute (Binance spot: 6000).
    pub weight_limit_per_min: u32,
    /// Hold the replay clock until the first WebSocket client connects (each pass).
    pub start_on_first_client: bool,
    /// Hold the clock at a capture's own REST snapshot line (up to `snapshot_hold`, and only
    /// while a client is subscribed to that symbol's depth stream) until a client asks for that
    /// symbol's depth, and answer with the captured body verbatim: a client that connected at
    /// the start then sees exactly what the original collector saw.
    pub faithful_snapshots: bool,
    /// Longest hold at a captured snapshot line (wall time).
    pub snapshot_hold: Duration,
    /// Longest a depth request waits for the book to be synced before a 503.
    pub depth_wait: Duration,
    /// Frames queued per client (at a finite speed a full queue disconnects the client).
    pub client_queue: usize,
    /// 1-minute klines served by `/api/v3/klines`, `/fapi/v1/klines` and `/dapi/v1/klines`
    /// besides those built from the trades the clock passes (kline CSV files:
    /// [`klines::from_series`]; the synthetic market's history:
    /// [`synthetic::SyntheticSource::history_klines`]).
    pub klines: Vec<klines::SymbolKlines>,
}

impl ExchangeConfig {
    /// Binance's defaults, listening on `127.0.0.1:0`, max speed, no loop, no faults.
    pub fn new(source: ExchangeSource) -> Self {
        ExchangeConfig {
            source,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            speed: Speed::Max,
            looped: false,
            faults: Vec::new(),
            ping_interval: Duration::from_secs(20),
            pong_timeout: Duration::from_secs(60),
            max_incoming_per_sec: 5,
            max_streams_per_conn: 1024,
            weight_limit_per_min: 6000,
            start_on_first_client: true,
            faithful_snapshots: true,
            snapshot_hold: Duration::from_secs(5),
            depth_wait: Duration::from_secs(10),
            client_queue: 4096,
            klines: Vec::new(),
        }
    }

    /// Per symbol: where the klines handed in come from (`synthetic history`, a file), for a
    /// client in the same process to tell a person what its context history rests on.
    pub fn kline_sources(&self) -> std::collections::HashMap<Symbol, String> {
        self.klines
            .iter()
            .map(|k| (k.symbol, k.source.clone()))
            .collect()
    }
}

/// One WebSocket connection, open or closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Connection id, from 1 in order of acceptance.
    pub id: u64,
    /// The request path and query as the client sent them.
    pub path: String,
    /// Market-data frames written to this socket (not answers, pings or injected faults).
    pub frames_sent: u64,
    /// Frames injected by a fault (malformed, oversize, `serverShutdown`) written to this
    /// socket: with `frames_sent`, every text frame the client was sent.
    pub injected_sent: u64,
    /// Messages received from the client (text, binary, ping, pong).
    pub incoming: u64,
    pub open: bool,
    /// Why the exchange closed it (`None` while open or when the client left).
    pub close_reason: Option<String>,
}

/// Counters, as of the call to [`ExchangeHandle::stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExchangeStats {
    /// WebSocket frames the replay clock has passed (all streams, subscribed or not, all passes).
    pub frames_emitted: u64,
    /// Captured REST snapshot lines the clock has passed.
    pub rest_lines: u64,
    /// Completed passes over the source.
    pub passes: u64,
    /// Capture lines that could not be read.
    pub read_errors: u64,
    /// Every WebSocket connection, by id.
    pub connections: Vec<ConnectionStats>,
    pub connections_open: u64,
    pub http_requests: u64,
    /// Depth answers with a book (any kind).
    pub snapshots_served: u64,
    /// Of those, the capture's own snapshot body verbatim.
    pub faithful_snapshots_served: u64,
    /// Of those, a stale book (fault).
    pub stale_snapshots_served: u64,
    /// Kline answers (200).
    pub klines_served: u64,
    pub sent_429: u64,
    pub sent_418: u64,
    pub sent_500: u64,
    pub sent_503: u64,
    pub sent_400: u64,
    /// Weight used in the last minute.
    pub weight_used_1m: u32,
    pub faults_fired: u64,
    /// Clients closed for sending too many messages.
    pub closed_rate_limited: u64,
    /// Clients dropped for not answering pings.
    pub closed_pong_timeout: u64,
    /// Clients dropped because their queue was full at a finite speed (or their socket stalled).
    pub closed_slow: u64,
    /// Exchange time at the replay point (ms), the latest `E` passed.
    pub exchange_time_ms: Option<u64>,
}

impl ExchangeStats {
    /// Frames sent on connection `id` (0 if unknown).
    pub fn frames_sent(&self, id: u64) -> u64 {
        self.connections
            .iter()
            .find(|c| c.id == id)
            .map_or(0, |c| c.frames_sent)
    }
}

/// Lock that survives a panicked holder (the data are counters and queues, still usable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Immutable settings every task reads.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub speed: Speed,
    pub looped: bool,
    pub ping_interval: Duration,
    pub pong_timeout: Duration,
    pub max_incoming_per_sec: u32,
    pub max_streams_per_conn: usize,
    pub weight_limit_per_min: u32,
    pub start_on_first_client: bool,
    pub faithful_snapshots: bool,
    pub snapshot_hold: Duration,
    pub depth_wait: Duration,
    pub client_queue: usize,
}

/// Monotonic counters shared by all tasks.
#[derive(Default)]
pub(crate) struct Counters {
    pub frames_emitted: AtomicU64,
    pub rest_lines: AtomicU64,
    pub passes: AtomicU64,
    pub read_errors: AtomicU64,
    pub http_requests: AtomicU64,
    pub snapshots_served: AtomicU64,
    pub faithful_served: AtomicU64,
    pub stale_served: AtomicU64,
    pub klines_served: AtomicU64,
    pub sent_429: AtomicU64,
    pub sent_418: AtomicU64,
    pub sent_500: AtomicU64,
    pub sent_503: AtomicU64,
    pub sent_400: AtomicU64,
    pub faults_fired: AtomicU64,
    pub closed_rate_limited: AtomicU64,
    pub closed_pong_timeout: AtomicU64,
    pub closed_slow: AtomicU64,
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// What the reader learned about a symbol (for exchangeInfo, route checks and number formats).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SymbolInfo {
    /// `Some(true)`: futures data seen (`pu`, or a snapshot with `E`); `Some(false)`: spot diffs.
    pub futures: Option<bool>,
    /// Decimal places of prices and quantities as the capture writes them.
    pub decimals: Option<(u8, u8)>,
    /// The price tick as the data shows it (smallest step between adjacent levels over the
    /// first depth bodies), for exchangeInfo's `PRICE_FILTER`; and how many bodies looked.
    pub tick: Option<u64>,
    pub tick_samples: u8,
}

/// Symbols the reader has seen, in order of appearance.
#[derive(Default)]
pub(crate) struct Catalog {
    pub symbols: BTreeMap<Symbol, SymbolInfo>,
    pub order: Vec<Symbol>,
    /// `E` of the first frame that had one (server time before the clock starts).
    pub first_event_ms: Option<u64>,
}

/// A capture's own snapshot line, held for the first depth request for its symbol.
pub(crate) struct PendingSnapshot {
    pub symbol: Symbol,
    pub body: tokio_tungstenite::tungstenite::Bytes,
    pub taken: bool,
}

/// The market at the replay point: owned by the clock, read by REST under the lock.
pub(crate) struct MarketState {
    pub engine: Engine,
    /// A copy of the book some diffs behind (only with a stale-depth fault).
    pub lag: Option<clock::LagBook>,
    pub exchange_time_ms: Option<u64>,
    pub transact_time_ms: Option<u64>,
    pub pending: Option<PendingSnapshot>,
    /// The non-looped source is exhausted: the book will not change any more.
    pub ended: bool,
    /// 1-minute klines: handed in at start, and built from the trades passed.
    pub klines: klines::KlineStore,
}

/// Everything tasks share.
pub(crate) struct Shared {
    pub settings: Settings,
    pub counters: Counters,
    pub catalog: Mutex<Catalog>,
    /// Set once the reader has read far enough ahead (or the whole source) to know the symbols.
    pub catalog_ready: watch::Sender<bool>,
    pub market: Mutex<MarketState>,
    /// Signalled whenever the book or the pending snapshot changed.
    pub market_changed: Notify,
    /// Signalled when a depth request took the pending snapshot.
    pub snapshot_taken: Notify,
    pub clients: Mutex<ws::Clients>,
    /// Signalled when a WebSocket client registers.
    pub client_joined: Notify,
    pub rest: Mutex<rest::RestState>,
    pub next_conn_id: AtomicU64,
    /// The exchange's stop (given by [`ExchangeHandle::shutdown`] or dropping the handle).
    pub shutdown: Shutdown,
}

/// A running exchange. Dropping it stops it too (without waiting).
pub struct ExchangeHandle {
    addr: SocketAddr,
    bound: SocketAddr,
    shared: Arc<Shared>,
    stop: Stop,
    finished_rx: watch::Receiver<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts the exchange: binds, starts reading the source, and serves until
/// [`ExchangeHandle::shutdown`].
pub async fn start(mut cfg: ExchangeConfig) -> anyhow::Result<ExchangeHandle> {
    if let Speed::Factor(f) = cfg.speed
        && !(f.is_finite() && f > 0.0)
    {
        anyhow::bail!("replay speed factor must be a positive number, got {f}");
    }
    if cfg.looped && matches!(cfg.source, ExchangeSource::Sources(_)) {
        anyhow::bail!(
            "looping needs a source that can be reopened (captures or memory); \
             already opened sources can be served once"
        );
    }
    if cfg.client_queue == 0 {
        anyhow::bail!("client_queue must be at least 1");
    }
    let settings = Settings {
        speed: cfg.speed,
        looped: cfg.looped,
        ping_interval: cfg.ping_interval.max(Duration::from_millis(1)),
        pong_timeout: cfg.pong_timeout,
        max_incoming_per_sec: cfg.max_incoming_per_sec,
        max_streams_per_conn: cfg.max_streams_per_conn,
        weight_limit_per_min: cfg.weight_limit_per_min,
        start_on_first_client: cfg.start_on_first_client,
        faithful_snapshots: cfg.faithful_snapshots,
        snapshot_hold: cfg.snapshot_hold,
        depth_wait: cfg.depth_wait,
        client_queue: cfg.client_queue,
    };
    let mut opener = source::Opener::new(cfg.source);
    let first = opener.open().context("opening the exchange's source")?;

    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding the exchange to {}", cfg.listen))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    let mut addr = bound;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }

    let (schedule, armed_now) = faults::Schedule::new(&cfg.faults);
    let lag_behind = cfg
        .faults
        .iter()
        .filter_map(|f| match f.kind {
            FaultKind::StaleDepth { behind } => Some(behind as usize),
            _ => None,
        })
        .max();
    let stop = Stop::new();
    let (finished_tx, finished_rx) = watch::channel(false);
    let (catalog_ready, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        settings,
        counters: Counters::default(),
        catalog: Mutex::new(Catalog::default()),
        catalog_ready,
        market: Mutex::new(MarketState {
            engine: Engine::new(EngineConfig::books_only()),
            lag: lag_behind.map(clock::LagBook::new),
            exchange_time_ms: None,
            transact_time_ms: None,
            pending: None,
            ended: false,
            klines: klines::KlineStore::new(std::mem::take(&mut cfg.klines)),
        }),
        market_changed: Notify::new(),
        snapshot_taken: Notify::new(),
        clients: Mutex::new(ws::Clients::default()),
        client_joined: Notify::new(),
        rest: Mutex::new(rest::RestState::default()),
        next_conn_id: AtomicU64::new(1),
        shutdown: stop.shutdown(),
    });
    for kind in armed_now {
        clock::arm_rest_fault(&shared, &kind);
    }

    // Lookahead of the reader: enough for symbol discovery before the first request.
    let (feed_tx, feed_rx) = mpsc::channel(source::LOOKAHEAD);
    source::spawn_reader(opener, first, cfg.looped, feed_tx, shared.clone())
        .context("starting the capture reader thread")?;

    let clock = tokio::spawn(clock::run(
        shared.clone(),
        feed_rx,
        schedule,
        lag_behind,
        finished_tx,
    ));
    let server = tokio::spawn(server::accept_loop(listener, shared.clone()));
    tracing::info!(%addr, "local exchange listening");
    Ok(ExchangeHandle {
        addr,
        bound,
        shared,
        stop,
        finished_rx,
        tasks: vec![clock, server],
    })
}

impl ExchangeHandle {
    /// The address to connect to on this machine: the bound one, with 127.0.0.1 in place of an
    /// unspecified address (`0.0.0.0`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the listener really bound, as the OS reports it (`0.0.0.0:PORT` for
    /// `--listen 0.0.0.0:0`): what `exchange` prints first.
    pub fn bound_addr(&self) -> SocketAddr {
        self.bound
    }

    /// `ws://127.0.0.1:PORT` (append `/ws/<stream>` or `/stream?streams=…`).
    pub fn ws_base(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT` (append `/api/v3/depth?…` or `/fapi/v1/depth?…`).
    pub fn rest_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ExchangeStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (connections, open) = ws::connection_stats(&self.shared);
        let weight = rest::weight_used(&self.shared);
        let time = lock(&self.shared.market).exchange_time_ms;
        ExchangeStats {
            frames_emitted: get(&c.frames_emitted),
            rest_lines: get(&c.rest_lines),
            passes: get(&c.passes),
            read_errors: get(&c.read_errors),
            connections,
            connections_open: open,
            http_requests: get(&c.http_requests),
            snapshots_served: get(&c.snapshots_served),
            faithful_snapshots_served: get(&c.faithful_served),
            stale_snapshots_served: get(&c.stale_served),
            klines_served: get(&c.klines_served),
            sent_429: get(&c.sent_429),
            sent_418: get(&c.sent_418),
            sent_500: get(&c.sent_500),
            sent_503: get(&c.sent_503),
            sent_400: get(&c.sent_400),
            weight_used_1m: weight,
            faults_fired: get(&c.faults_fired),
            closed_rate_limited: get(&c.closed_rate_limited),
            closed_pong_timeout: get(&c.closed_pong_timeout),
            closed_slow: get(&c.closed_slow),
            exchange_time_ms: time,
        }
    }

    /// What each open WebSocket connection is subscribed to, by connection id (the stream
    /// names as the client wrote them, in subscription order).
    pub fn subscriptions(&self) -> Vec<(u64, Vec<String>)> {
        lock(&self.shared.clients)
            .live
            .iter()
            .map(|c| (c.id, c.subs.iter().map(|s| s.name.clone()).collect()))
            .collect()
    }

    /// Drops every open WebSocket connection without a close frame, as a network failure
    /// would (the clients must reconnect).
    pub fn drop_connections(&self, reason: &str) {
        for c in &lock(&self.shared.clients).live {
            c.kill.kill(reason);
        }
    }

    /// Resolves when a non-looped source is exhausted and every frame has been written to every
    /// connected socket. Never resolves for a looped source (or if the exchange stopped first).
    pub async fn finished(&self) {
        let mut rx = self.finished_rx.clone();
        // An error means the exchange stopped: it will never finish, so wait forever.
        if rx.wait_for(|done| *done).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Stops accepting, closes every connection and waits for the exchange's tasks to end.
    pub async fn shutdown(mut self) {
        self.stop.stop();
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }
}

impl Drop for ExchangeHandle {
    fn drop(&mut self) {
        self.stop.stop();
    }
}
