//! One WebSocket client: its subscriptions, its bounded queue, pings, the pong timeout and the
//! incoming-message rate limit.
//!
//! Owns: the client registry ([`Clients`]: who is subscribed to what, and every connection's
//! counters), the handshake hand-off, and the two tasks of a connection — a reader (requests,
//! pongs, rate limit) and a writer (frames from the clock, answers, pings, closes). Must not
//! touch: the replay clock or the book; frames arrive ready-made through the queue ([`Out`]).
//!
//! The writer owns the socket's sink and every timer, so a socket that stops taking bytes can
//! still be dropped: each write is bounded by the pong timeout ("socket stalled").

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior, sleep_until};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

use super::http::RequestHead;
use super::streams::{Route, StreamKey, name_is_plain, parse_stream_name};
use super::{ConnectionStats, Shared, bump, lock};
use microstate_drive::shutdown::Shutdown;

/// How long a close handshake may take before the socket is simply dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Frames written per flush.
const BATCH: usize = 256;

/// One subscribed stream.
#[derive(Clone, Debug)]
pub(crate) struct Sub {
    /// As the client wrote it (echoed in combined envelopes).
    pub name: String,
    /// What it means (`None`: nothing will ever match).
    pub key: Option<StreamKey>,
}

/// A stop request for a connection, from outside its tasks.
#[derive(Default)]
pub(crate) struct Kill {
    notify: Notify,
    reason: Mutex<Option<String>>,
}

impl Kill {
    pub fn kill(&self, reason: &str) {
        *lock(&self.reason) = Some(reason.to_string());
        self.notify.notify_one();
    }
}

/// A live client as the clock sees it.
pub(crate) struct ClientSlot {
    pub id: u64,
    /// Combined envelopes (`/stream`) rather than bare payloads (`/ws`).
    pub combined: bool,
    pub route: Route,
    pub subs: Vec<Sub>,
    pub tx: mpsc::Sender<Out>,
    pub kill: Arc<Kill>,
}

/// Per-connection counters, shared by its tasks and the registry.
#[derive(Default)]
pub(crate) struct ConnCounters {
    pub sent: AtomicU64,
    /// Frames injected by a fault, written.
    pub injected: AtomicU64,
    pub incoming: AtomicU64,
}

struct ConnRecord {
    id: u64,
    path: String,
    counters: Arc<ConnCounters>,
    open: bool,
    close_reason: Option<String>,
}

/// Every client: the live ones the clock sends to, and a record of each connection ever made.
#[derive(Default)]
pub(crate) struct Clients {
    pub live: Vec<ClientSlot>,
    records: Vec<ConnRecord>,
}

/// What the clock puts in a client's queue.
pub(crate) enum Out {
    /// Market data (counted in `frames_sent`).
    Frame(Message),
    /// A frame injected by a fault (malformed, oversize, serverShutdown).
    Inject(Message),
    Control(Control),
    /// Answered once everything queued before it has been written.
    Flush(oneshot::Sender<()>),
}

/// Connection-level orders, in queue order with the frames.
#[derive(Clone, Debug)]
pub(crate) enum Control {
    /// A close frame after `grace` (frames keep flowing until then).
    CloseAfter(Duration),
    /// The TCP connection ends without a close frame.
    Abort,
    /// No more frames, answers or pings; the socket stays open.
    Silent,
    /// Pongs are ignored from now on.
    IgnorePongs,
    /// No more pings.
    NoPing,
}

/// The parts of a WebSocket URL this exchange understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WsPath {
    pub route: Route,
    pub combined: bool,
    pub streams: Vec<String>,
}

impl WsPath {
    /// `/ws/<s>[/<s>…]`, `/stream?streams=a/b`, also under `/public` and `/market`. `None` for
    /// other paths (they get a 404 like any unknown URL).
    pub fn parse(req: &RequestHead) -> Option<WsPath> {
        let (route, rest) = if let Some(r) = req.path.strip_prefix("/public") {
            (Route::Public, r)
        } else if let Some(r) = req.path.strip_prefix("/market") {
            (Route::Market, r)
        } else {
            (Route::Any, req.path.as_str())
        };
        let split = |s: &str| -> Vec<String> {
            s.split('/')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        };
        if rest == "/ws" || rest == "/ws/" {
            return Some(WsPath {
                route,
                combined: false,
                streams: Vec::new(),
            });
        }
        if let Some(s) = rest.strip_prefix("/ws/") {
            return Some(WsPath {
                route,
                combined: false,
                streams: split(s),
            });
        }
        if rest == "/stream" || rest == "/stream/" {
            return Some(WsPath {
                route,
                combined: true,
                streams: req.param("streams").map(split).unwrap_or_default(),
            });
        }
        None
    }
}

fn sub(name: &str) -> Sub {
    Sub {
        name: name.to_string(),
        key: if name_is_plain(name) {
            parse_stream_name(name)
        } else {
            None
        },
    }
}

/// Every connection's counters, and how many are open.
pub(crate) fn connection_stats(shared: &Shared) -> (Vec<ConnectionStats>, u64) {
    let c = lock(&shared.clients);
    let list: Vec<ConnectionStats> = c
        .records
        .iter()
        .map(|r| ConnectionStats {
            id: r.id,
            path: r.path.clone(),
            frames_sent: r.counters.sent.load(Ordering::Relaxed),
            injected_sent: r.counters.injected.load(Ordering::Relaxed),
            incoming: r.counters.incoming.load(Ordering::Relaxed),
            open: r.open,
            close_reason: r.close_reason.clone(),
        })
        .collect();
    let open = list.iter().filter(|r| r.open).count() as u64;
    (list, open)
}

/// The handshake callback: the path was already checked on the peeked head.
#[allow(clippy::result_large_err)] // the signature is tungstenite's `Callback`
fn accept_any(_: &Request, r: Response) -> Result<Response, ErrorResponse> {
    Ok(r)
}

/// Serves one upgraded connection until it ends. `target` is the request path as sent.
pub(crate) async fn serve(stream: TcpStream, target: String, path: WsPath, shared: Arc<Shared>) {
    let ws = match tokio_tungstenite::accept_hdr_async(stream, accept_any).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(error = %e, "WebSocket handshake failed");
            return;
        }
    };
    let id = shared.next_conn_id.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(shared.settings.client_queue);
    let kill = Arc::new(Kill::default());
    let counters = Arc::new(ConnCounters::default());
    {
        let mut c = lock(&shared.clients);
        c.live.push(ClientSlot {
            id,
            combined: path.combined,
            route: path.route,
            subs: path.streams.iter().map(|s| sub(s)).collect(),
            tx,
            kill: kill.clone(),
        });
        c.records.push(ConnRecord {
            id,
            path: target.clone(),
            counters: counters.clone(),
            open: true,
            close_reason: None,
        });
    }
    shared.client_joined.notify_waiters();
    tracing::debug!(id, %target, "WebSocket client connected");

    let (sink, stream) = ws.split();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let mut reader = tokio::spawn(read_loop(
        stream,
        id,
        shared.clone(),
        counters.clone(),
        ev_tx,
    ));
    let mut w = Writer {
        sink,
        rx,
        ev_rx,
        kill,
        shared: shared.clone(),
        counters,
        silent: false,
        no_ping: false,
        ignore_pongs: false,
        awaiting_pong: None,
        close_at: None,
    };
    let end = w.run().await;
    if end.graceful {
        let _ = tokio::time::timeout(CLOSE_WAIT, &mut reader).await;
    }
    reader.abort();
    drop(w);
    {
        let mut c = lock(&shared.clients);
        c.live.retain(|s| s.id != id);
        if let Some(r) = c.records.iter_mut().find(|r| r.id == id) {
            r.open = false;
            r.close_reason = end.reason.clone();
        }
    }
    tracing::debug!(id, reason = ?end.reason, "WebSocket client gone");
}

/// What the reader tells the writer.
enum FromReader {
    Reply(String),
    Pong,
    Close { code: CloseCode, reason: String },
    Gone,
}

/// How a connection ended.
struct End {
    /// Why the exchange ended it (`None`: the client left).
    reason: Option<String>,
    /// A close frame was sent: wait a moment for the client's answer.
    graceful: bool,
}

impl End {
    fn left() -> End {
        End {
            reason: None,
            graceful: false,
        }
    }
    fn closed(reason: &str) -> End {
        End {
            reason: Some(reason.to_string()),
            graceful: true,
        }
    }
    fn dropped(reason: &str) -> End {
        End {
            reason: Some(reason.to_string()),
            graceful: false,
        }
    }
}

type Sink = SplitSink<WebSocketStream<TcpStream>, Message>;

struct Writer {
    sink: Sink,
    rx: mpsc::Receiver<Out>,
    ev_rx: mpsc::UnboundedReceiver<FromReader>,
    kill: Arc<Kill>,
    shared: Arc<Shared>,
    counters: Arc<ConnCounters>,
    silent: bool,
    no_ping: bool,
    ignore_pongs: bool,
    /// When the oldest unanswered ping was sent.
    awaiting_pong: Option<Instant>,
    /// When a pending `serverShutdown` turns into a close frame.
    close_at: Option<Instant>,
}

/// What a batch of queued items asks for after it is written.
enum After {
    Continue,
    Abort,
}

impl Writer {
    async fn run(&mut self) -> End {
        let settings = self.shared.settings.clone();
        let mut shutdown = self.shared.shutdown.clone();
        let mut ping = tokio::time::interval_at(
            Instant::now() + settings.ping_interval,
            settings.ping_interval,
        );
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let kill = self.kill.clone();
        loop {
            let pong_deadline = self.awaiting_pong.map(|t| t + settings.pong_timeout);
            let close_at = self.close_at;
            tokio::select! {
                biased;
                _ = shutdown.recv() => {
                    // Going away: say so, but do not wait for the client's answer.
                    self.close(CloseCode::Away, "exchange shutting down").await;
                    return End::dropped("exchange shutting down");
                }
                _ = kill.notify.notified() => {
                    let reason = lock(&kill.reason).clone().unwrap_or_else(|| "killed".into());
                    return End::dropped(&reason);
                }
                _ = sleep_until(pong_deadline.unwrap_or_else(Instant::now)), if pong_deadline.is_some() => {
                    bump(&self.shared.counters.closed_pong_timeout);
                    return End::dropped("pong timeout");
                }
                _ = sleep_until(close_at.unwrap_or_else(Instant::now)), if close_at.is_some() => {
                    self.close(CloseCode::Away, "server shutdown").await;
                    return End::closed("server shutdown");
                }
                ev = self.ev_rx.recv() => match ev {
                    Some(FromReader::Reply(text)) => {
                        if !self.silent
                            && let Err(end) = self.write(vec![Message::text(text)], &mut shutdown).await
                        {
                            return end;
                        }
                    }
                    Some(FromReader::Pong) => {
                        if !self.ignore_pongs {
                            self.awaiting_pong = None;
                        }
                    }
                    Some(FromReader::Close { code, reason }) => {
                        self.close(code, &reason).await;
                        return End::closed(&reason);
                    }
                    Some(FromReader::Gone) | None => return End::left(),
                },
                out = self.rx.recv() => {
                    let Some(out) = out else { return End::left() };
                    match self.batch(out, &mut shutdown).await {
                        Ok(After::Continue) => {}
                        Ok(After::Abort) => return End::dropped("fault: close"),
                        Err(end) => return end,
                    }
                }
                _ = ping.tick(), if !self.no_ping && !self.silent => {
                    if let Err(end) = self.write(vec![Message::Ping(Bytes::new())], &mut shutdown).await {
                        return end;
                    }
                    self.awaiting_pong.get_or_insert_with(Instant::now);
                }
            }
        }
    }

    /// Takes `first` and whatever else is queued (up to [`BATCH`]), writes it with one flush.
    async fn batch(&mut self, first: Out, shutdown: &mut Shutdown) -> Result<After, End> {
        let mut msgs = Vec::new();
        let mut frames = 0u64;
        let mut injected = 0u64;
        let mut acks = Vec::new();
        let mut after = After::Continue;
        let mut next = Some(first);
        while let Some(out) = next.take() {
            match out {
                Out::Frame(m) if !self.silent => {
                    msgs.push(m);
                    frames += 1;
                }
                Out::Inject(m) if !self.silent => {
                    msgs.push(m);
                    injected += 1;
                }
                Out::Frame(_) | Out::Inject(_) => {}
                Out::Flush(ack) => acks.push(ack),
                Out::Control(c) => match c {
                    Control::Abort => after = After::Abort,
                    Control::CloseAfter(grace) => self.close_at = Some(Instant::now() + grace),
                    Control::Silent => {
                        self.silent = true;
                        self.awaiting_pong = None;
                    }
                    Control::IgnorePongs => self.ignore_pongs = true,
                    Control::NoPing => {
                        self.no_ping = true;
                        self.awaiting_pong = None;
                    }
                },
            }
            if !matches!(after, After::Continue) || msgs.len() >= BATCH {
                break;
            }
            next = self.rx.try_recv().ok();
        }
        if !msgs.is_empty() {
            self.write(msgs, shutdown).await?;
            self.counters.sent.fetch_add(frames, Ordering::Relaxed);
            self.counters
                .injected
                .fetch_add(injected, Ordering::Relaxed);
        }
        for a in acks {
            let _ = a.send(());
        }
        Ok(after)
    }

    /// Writes and flushes, giving up when the socket takes nothing for a pong timeout.
    async fn write(&mut self, msgs: Vec<Message>, shutdown: &mut Shutdown) -> Result<(), End> {
        let stall = self.shared.settings.pong_timeout;
        let sink = &mut self.sink;
        let io = async {
            for m in msgs {
                sink.feed(m).await?;
            }
            sink.flush().await
        };
        tokio::select! {
            r = tokio::time::timeout(stall, io) => match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err(End::left()),
                Err(_) => {
                    bump(&self.shared.counters.closed_slow);
                    Err(End::dropped("socket stalled"))
                }
            },
            _ = self.kill.notify.notified() => {
                let reason = lock(&self.kill.reason).clone().unwrap_or_else(|| "killed".into());
                Err(End::dropped(&reason))
            }
            _ = shutdown.recv() => Err(End::dropped("exchange shutting down")),
        }
    }

    /// Sends a close frame (best effort, bounded).
    async fn close(&mut self, code: CloseCode, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, self.sink.send(Message::Close(Some(frame)))).await;
    }
}

/// Reads client messages: counts them, enforces the rate limit, answers requests.
async fn read_loop(
    mut stream: SplitStream<WebSocketStream<TcpStream>>,
    id: u64,
    shared: Arc<Shared>,
    counters: Arc<ConnCounters>,
    ev: mpsc::UnboundedSender<FromReader>,
) {
    let max = shared.settings.max_incoming_per_sec as usize;
    let mut window: VecDeque<Instant> = VecDeque::new();
    while let Some(msg) = stream.next().await {
        let Ok(msg) = msg else { break };
        if matches!(
            msg,
            Message::Text(_) | Message::Binary(_) | Message::Ping(_) | Message::Pong(_)
        ) {
            counters.incoming.fetch_add(1, Ordering::Relaxed);
            let now = Instant::now();
            while window
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                window.pop_front();
            }
            window.push_back(now);
            if window.len() > max {
                bump(&shared.counters.closed_rate_limited);
                let _ = ev.send(FromReader::Close {
                    code: CloseCode::Policy,
                    reason: format!("too many messages (more than {max} per second)"),
                });
                return;
            }
        }
        match msg {
            Message::Text(t) => {
                let reply = answer(&shared, id, t.as_str());
                let _ = ev.send(FromReader::Reply(reply));
            }
            Message::Pong(_) => {
                let _ = ev.send(FromReader::Pong);
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    let _ = ev.send(FromReader::Gone);
}

fn error_reply(code: i32, msg: &str, id: Option<&Value>) -> String {
    let mut v = serde_json::json!({ "error": { "code": code, "msg": msg } });
    if let (Some(id), Some(obj)) = (id, v.as_object_mut()) {
        obj.insert("id".into(), id.clone());
    }
    v.to_string()
}

/// The methods a market-stream connection takes, as Binance lists them in its error message.
const METHODS: &str =
    "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`";

/// Answers one client request (`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`,
/// `SET_PROPERTY`/`GET_PROPERTY` `combined`), in Binance's shapes: `{"result":…,"id":N}`, or
/// `{"error":{"code":C,"msg":…},"id":N}` with the codes of Binance's "Error Messages" table
/// (spot "WebSocket Streams", futures "Live Subscribing/Unsubscribing to streams"): 0 unknown
/// property, 1 a property value of the wrong type, 2 an invalid request (missing or unknown
/// method, bad id, params that are not a list of names), 3 invalid JSON. A `SUBSCRIBE` that
/// would take the connection past `max_streams_per_conn` (Binance: 1024 streams per
/// connection) is refused as a whole with code 2 — Binance documents the limit but not its
/// answer, so the message says which limit.
fn answer(shared: &Shared, conn: u64, text: &str) -> String {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return error_reply(3, &format!("Invalid JSON: {e}"), None),
    };
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    if !(id.is_u64() || id.is_string() || id.is_null()) {
        return error_reply(
            2,
            "Invalid request: request ID must be an unsigned integer or a string",
            None,
        );
    }
    let id_text = id.to_string();
    let ok = |result: &str| format!("{{\"result\":{result},\"id\":{id_text}}}");
    let method = match v.get("method") {
        Some(Value::String(m)) => m.as_str(),
        Some(_) => {
            return error_reply(
                2,
                &format!("Invalid request: method must be a string, one of {METHODS}"),
                Some(&id),
            );
        }
        None => return error_reply(2, "Invalid request: missing field `method`", Some(&id)),
    };
    let params = v.get("params").and_then(Value::as_array);
    let names = || -> Option<Vec<String>> {
        params?
            .iter()
            .map(|p| p.as_str().map(str::to_string))
            .collect()
    };
    let mut clients = lock(&shared.clients);
    let Some(slot) = clients.live.iter_mut().find(|s| s.id == conn) else {
        return error_reply(2, "Invalid request: connection is closing", Some(&id));
    };
    match method {
        "SUBSCRIBE" | "UNSUBSCRIBE" => {
            let Some(list) = names() else {
                return error_reply(
                    2,
                    "Invalid request: 'params' must be a list of stream names",
                    Some(&id),
                );
            };
            if method == "SUBSCRIBE" {
                let max = shared.settings.max_streams_per_conn;
                let new: std::collections::BTreeSet<&String> = list
                    .iter()
                    .filter(|n| !slot.subs.iter().any(|s| &s.name == *n))
                    .collect();
                if slot.subs.len() + new.len() > max {
                    return error_reply(
                        2,
                        &format!(
                            "Invalid request: too many streams: a connection listens to at most {max} ({} now, {} more asked)",
                            slot.subs.len(),
                            new.len()
                        ),
                        Some(&id),
                    );
                }
            }
            for name in list {
                if method == "SUBSCRIBE" {
                    if !slot.subs.iter().any(|s| s.name == name) {
                        slot.subs.push(sub(&name));
                    }
                } else {
                    slot.subs.retain(|s| s.name != name);
                }
            }
            ok("null")
        }
        "LIST_SUBSCRIPTIONS" => {
            let list: Vec<&str> = slot.subs.iter().map(|s| s.name.as_str()).collect();
            ok(&serde_json::to_string(&list).unwrap_or_else(|_| "[]".into()))
        }
        "SET_PROPERTY" => match params.map(Vec::as_slice) {
            Some([Value::String(p), Value::Bool(b)]) if p == "combined" => {
                slot.combined = *b;
                ok("null")
            }
            Some([Value::String(p), _]) if p == "combined" => {
                error_reply(1, "Invalid value type: expected Boolean", Some(&id))
            }
            Some([Value::String(_), _]) => error_reply(0, "Unknown property", Some(&id)),
            Some([_, _]) => error_reply(
                2,
                "Invalid request: property name must be a string",
                Some(&id),
            ),
            _ => error_reply(
                2,
                "Invalid request: SET_PROPERTY takes [\"combined\", true|false]",
                Some(&id),
            ),
        },
        "GET_PROPERTY" => match params.map(Vec::as_slice) {
            Some([Value::String(p)]) if p == "combined" => ok(&slot.combined.to_string()),
            Some([Value::String(_)]) => error_reply(0, "Unknown property", Some(&id)),
            Some([_]) => error_reply(
                2,
                "Invalid request: property name must be a string",
                Some(&id),
            ),
            _ => error_reply(
                2,
                "Invalid request: GET_PROPERTY takes [\"combined\"]",
                Some(&id),
            ),
        },
        other => error_reply(
            2,
            &format!("Invalid request: unknown variant `{other}`, expected one of {METHODS}"),
            Some(&id),
        ),
    }
}
