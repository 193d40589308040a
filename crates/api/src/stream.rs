//! `GET /v1/stream`: the WebSocket stream. One task per client reads the latest view and the
//! event stream and writes JSON text messages `{"channel","symbol","ts_ns","data"}` into the
//! client's own bounded queue; a second task writes that queue to the socket.
//!
//! Owns: subscriptions (query parameters at connect, `{"op":"subscribe"|"unsubscribe",…}`
//! while connected), conflation, and the slow-consumer rule. Must not touch: the engine — a
//! client only ever reads an `Arc<View>` clone and a broadcast receiver, so it can delay
//! nobody but itself.
//!
//! - `trades`: every trade, as the engine took it in.
//! - `book` (top `depth`), `features`, `signals`: on change, at most one per `interval_ms` per
//!   symbol (conflated: the newest state is sent, the ones between are skipped).
//! - `status`: the symbol's sync state, gaps and resyncs, when they change (always on).
//! - A slow consumer: while its queue is full, its state messages are conflated further (the
//!   next one sent is the newest) and its trades are skipped (counted); once it has been
//!   behind for `api.slow_grace` it is disconnected with close code 1008 and a reason. Memory
//!   per client is bounded by `api.client_queue` messages.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use microstate_core::num::Symbol;
use microstate_core::view::View;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::rest::{Fail, error, only, parse_depth};
use crate::{AppState, TapEvent, shape};

/// What a client receives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Channels {
    pub book: bool,
    pub trades: bool,
    pub features: bool,
    pub signals: bool,
}

impl Channels {
    pub const ALL: Channels = Channels {
        book: true,
        trades: true,
        features: true,
        signals: true,
    };

    fn slot(&mut self, name: &str) -> Option<&mut bool> {
        match name {
            "book" => Some(&mut self.book),
            "trades" => Some(&mut self.trades),
            "features" => Some(&mut self.features),
            "signals" => Some(&mut self.signals),
            _ => None,
        }
    }

    /// Sets (or clears) the named channels; the first unknown name is the error.
    fn set<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a str>,
        on: bool,
    ) -> Result<(), String> {
        for n in names {
            let n = n.trim();
            if n.is_empty() || n == "status" {
                continue;
            }
            *self.slot(n).ok_or_else(|| {
                format!("unknown channel {n:?} (channels: book, trades, features, signals, status)")
            })? = on;
        }
        Ok(())
    }

    fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (on, n) in [
            (self.book, "book"),
            (self.trades, "trades"),
            (self.features, "features"),
            (self.signals, "signals"),
        ] {
            if on {
                v.push(n);
            }
        }
        v.push("status");
        v
    }
}

/// One client's subscription.
#[derive(Clone, Debug)]
pub struct Sub {
    /// `None`: every symbol of the session.
    pub symbols: Option<HashSet<Symbol>>,
    pub channels: Channels,
    pub depth: usize,
    pub interval: Duration,
}

impl Sub {
    fn wants(&self, s: Symbol) -> bool {
        self.symbols.as_ref().is_none_or(|set| set.contains(&s))
    }
}

fn parse_symbols<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<Symbol>, String> {
    names
        .into_iter()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            n.to_ascii_uppercase()
                .parse::<Symbol>()
                .map_err(|_| format!("{n:?} is not a symbol"))
        })
        .collect()
}

/// The subscription a connect asks for, or the 400 naming the bad parameter.
pub fn parse_sub(
    q: &HashMap<String, String>,
    cfg: &microstate_config::ApiConfig,
) -> Result<Sub, Fail> {
    only(q, &["symbols", "channels", "depth", "interval_ms"])?;
    let bad =
        |p: &str, why: String| Fail(StatusCode::BAD_REQUEST, format!("parameter `{p}`: {why}"));
    let symbols = match q.get("symbols") {
        None => None,
        Some(s) => Some(
            parse_symbols(s.split(','))
                .map_err(|e| bad("symbols", e))?
                .into_iter()
                .collect(),
        ),
    };
    let channels = match q.get("channels") {
        None => Channels::ALL,
        Some(c) => {
            let mut ch = Channels::default();
            ch.set(c.split(','), true).map_err(|e| bad("channels", e))?;
            ch
        }
    };
    let depth = parse_depth(q, cfg.depth)?;
    let interval = match q.get("interval_ms") {
        None => cfg.interval,
        Some(v) => match v.parse::<u64>() {
            Ok(ms @ 1..=60_000) => Duration::from_millis(ms),
            _ => return Err(bad("interval_ms", format!("{v:?}: must be 1 to 60000"))),
        },
    };
    Ok(Sub {
        symbols,
        channels,
        depth,
        interval,
    })
}

pub async fn upgrade(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let sub = match parse_sub(&q, &s.opts.cfg) {
        Ok(sub) => sub,
        Err(f) => return f.into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("/v1/stream is a WebSocket: connect with a WebSocket client ({e})"),
            );
        }
    };
    if s.counters.clients.load(Ordering::Relaxed) >= s.opts.cfg.max_clients as u64 {
        s.counters.refused.fetch_add(1, Ordering::Relaxed);
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} clients connected already (api.max_clients)",
                s.opts.cfg.max_clients
            ),
        );
    }
    ws.on_upgrade(move |socket| client(s, socket, sub))
}

/// Counts a client in, and out when its task ends however it ends.
struct Connected(AppState);

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.counters.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What was last sent per symbol, to send only changes.
#[derive(Default)]
struct Sent {
    status: Option<Value>,
    book: Option<(u64, &'static str)>,
    features: Option<u64>,
    signals: Option<String>,
}

/// `{"channel","symbol","ts_ns","data"}` as text.
fn message(channel: &str, symbol: Option<Symbol>, ts_ns: u64, data: Value) -> String {
    json!({
        "channel": channel,
        "symbol": symbol.map(|s| s.as_str().to_string()),
        "ts_ns": ts_ns,
        "data": data,
    })
    .to_string()
}

/// The producer's end of a client's queue.
struct Out {
    tx: mpsc::Sender<Message>,
    s: AppState,
    /// Since when the queue has been full (a message could not be queued).
    behind: Option<Instant>,
    skipped: u64,
    gone: bool,
}

impl Out {
    /// Is there room for one more message? When not, the client is behind: nothing is built
    /// for it (a stalled client costs next to nothing) and the message counts as skipped.
    fn room(&mut self) -> bool {
        if self.tx.is_closed() {
            self.gone = true;
            return false;
        }
        if self.tx.capacity() > 0 {
            return true;
        }
        self.s
            .counters
            .messages_skipped
            .fetch_add(1, Ordering::Relaxed);
        self.skipped += 1;
        self.behind.get_or_insert_with(Instant::now);
        false
    }

    /// Queues `text`; `false` when the queue is full (the client is behind) or gone.
    fn push(&mut self, text: String) -> bool {
        match self.tx.try_send(Message::Text(text.into())) {
            Ok(()) => {
                self.s
                    .counters
                    .messages_sent
                    .fetch_add(1, Ordering::Relaxed);
                self.behind = None;
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.s
                    .counters
                    .messages_skipped
                    .fetch_add(1, Ordering::Relaxed);
                self.skipped += 1;
                self.behind.get_or_insert_with(Instant::now);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.gone = true;
                false
            }
        }
    }
}

/// Sends what changed in `v` for the client's symbols (one message per channel per symbol at
/// most: the newest state).
fn send_changes(v: &View, sub: &Sub, sent: &mut HashMap<Symbol, Sent>, out: &mut Out) {
    for sv in v.symbols.iter().filter(|sv| sub.wants(sv.symbol)) {
        let last = sent.entry(sv.symbol).or_default();
        let status = shape::status(sv);
        if last.status.as_ref() != Some(&status)
            && out.room()
            && out.push(message("status", Some(sv.symbol), v.now_ns, status.clone()))
        {
            last.status = Some(status);
        }
        let key = (sv.last_update_id, shape::state(sv));
        if sub.channels.book
            && last.book != Some(key)
            && out.room()
            && out.push(message(
                "book",
                Some(sv.symbol),
                sv.last_depth_recv_ns,
                shape::book(sv, sub.depth),
            ))
        {
            last.book = Some(key);
        }
        if sub.channels.features
            && sv.feature_vector.is_some()
            && last.features != Some(sv.feature_updates)
            && out.room()
            && let Some(f) = shape::features(sv, &out.s.schemas)
        {
            let ts = sv
                .feature_vector
                .as_ref()
                .map_or(v.now_ns, |(_, fv)| fv.ts_ns());
            if out.push(message("features", Some(sv.symbol), ts, f)) {
                last.features = Some(sv.feature_updates);
            }
        }
        if sub.channels.signals && out.room() {
            let sig = shape::signals(sv).to_string();
            if last.signals.as_ref() != Some(&sig) {
                let text = format!(
                    r#"{{"channel":"signals","symbol":"{}","ts_ns":{},"data":{sig}}}"#,
                    sv.symbol, v.now_ns
                );
                if out.push(text) {
                    last.signals = Some(sig);
                }
            }
        }
    }
}

fn trade_message(t: &crate::TradeEvent) -> String {
    message(
        "trades",
        Some(t.symbol),
        t.recv_ns,
        json!({
            "id": t.id,
            "price": t.price.to_string(),
            "qty": t.qty.to_string(),
            "side": if t.buyer_is_maker { "sell" } else { "buy" },
            "buyer_is_maker": t.buyer_is_maker,
            "trade_time_ms": t.trade_time_ms,
            "event_time_ms": t.event_time_ms,
            "engine_ns": t.tapped_ns,
        }),
    )
}

/// A client's `{"op":…}` message: changes `sub`, says which symbols to send afresh, and the
/// answer to queue.
fn on_op(text: &str, sub: &mut Sub, v: &View) -> (Value, Vec<Symbol>) {
    #[derive(serde::Deserialize)]
    struct Op {
        op: String,
        #[serde(default)]
        symbols: Option<Vec<String>>,
        #[serde(default)]
        channels: Option<Vec<String>>,
    }
    let err = |e: String| (json!({"error": e}), Vec::new());
    let op: Op = match serde_json::from_str(text) {
        Ok(op) => op,
        Err(e) => {
            return err(format!(
                "not an op ({e}): send {{\"op\":\"subscribe\"|\"unsubscribe\",\"symbols\":[…],\"channels\":[…]}}"
            ));
        }
    };
    let on = match op.op.as_str() {
        "subscribe" => true,
        "unsubscribe" => false,
        other => return err(format!("unknown op {other:?} (subscribe, unsubscribe)")),
    };
    let symbols = match op
        .symbols
        .as_deref()
        .map(|s| parse_symbols(s.iter().map(String::as_str)))
    {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return err(format!("symbols: {e}")),
    };
    let mut channels = sub.channels;
    if let Some(c) = &op.channels
        && let Err(e) = channels.set(c.iter().map(String::as_str), on)
    {
        return err(format!("channels: {e}"));
    }
    sub.channels = channels;
    let mut fresh = Vec::new();
    if let Some(syms) = symbols {
        if on {
            if let Some(set) = sub.symbols.as_mut() {
                set.extend(syms.iter().copied());
            }
            fresh = syms;
        } else {
            let set = sub
                .symbols
                .get_or_insert_with(|| v.symbols.iter().map(|s| s.symbol).collect());
            for s in &syms {
                set.remove(s);
            }
        }
    } else if on {
        // New channels for every symbol: send their state afresh.
        fresh = v.symbols.iter().map(|s| s.symbol).collect();
    }
    let mut symbols: Vec<String> = match &sub.symbols {
        None => vec!["*".to_string()],
        Some(set) => set.iter().map(|s| s.to_string()).collect(),
    };
    symbols.sort();
    (
        json!({"op": if on { "subscribed" } else { "unsubscribed" }, "symbols": symbols, "channels": sub.channels.names()}),
        fresh,
    )
}

async fn client(s: AppState, socket: WebSocket, mut sub: Sub) {
    s.counters.clients.fetch_add(1, Ordering::Relaxed);
    s.counters.clients_total.fetch_add(1, Ordering::Relaxed);
    let _connected = Connected(Arc::clone(&s));
    let cfg = s.opts.cfg.clone();
    let (mut sink, mut incoming) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Message>(cfg.client_queue.max(1));
    let (close_tx, mut close_rx) = oneshot::channel::<(u16, String)>();
    let mut writer = tokio::spawn(async move {
        loop {
            tokio::select! {
                biased;
                c = &mut close_rx => {
                    if let Ok((code, reason)) = c {
                        let frame = CloseFrame { code, reason: reason.into() };
                        let _ = tokio::time::timeout(
                            Duration::from_secs(1),
                            sink.send(Message::Close(Some(frame))),
                        )
                        .await;
                    }
                    return;
                }
                m = rx.recv() => match m {
                    Some(m) => {
                        if sink.send(m).await.is_err() {
                            return;
                        }
                    }
                    None => return,
                },
            }
        }
    });
    let mut out = Out {
        tx,
        s: Arc::clone(&s),
        behind: None,
        skipped: 0,
        gone: false,
    };
    let mut views = s.views.clone();
    let mut events = s.events.subscribe();
    let mut events_open = true;
    let mut shutdown = s.shutdown.clone();
    let mut tick = tokio::time::interval(sub.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sent: HashMap<Symbol, Sent> = HashMap::new();
    let close: Option<(u16, String)> = loop {
        tokio::select! {
            _ = shutdown.recv() => break Some((1001, "server shutting down".into())),
            m = incoming.next() => match m {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
                Some(Ok(Message::Text(t))) => {
                    let v = Arc::clone(&views.borrow_and_update());
                    let (answer, fresh) = on_op(t.as_str(), &mut sub, &v);
                    for f in fresh {
                        sent.remove(&f);
                    }
                    let channel = if answer.get("error").is_some() { "error" } else { "control" };
                    out.push(message(channel, None, v.now_ns, answer));
                }
                Some(Ok(_)) => {}
            },
            ev = events.recv(), if events_open && sub.channels.trades => match ev {
                Ok(ev) => {
                    let TapEvent::Trade(t) = &*ev;
                    if sub.wants(t.symbol) && out.room() {
                        out.push(trade_message(t));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    s.counters.events_lagged.fetch_add(n, Ordering::Relaxed);
                }
                Err(broadcast::error::RecvError::Closed) => events_open = false,
            },
            _ = tick.tick() => {
                let v = Arc::clone(&views.borrow_and_update());
                if v.seq > 0 {
                    send_changes(&v, &sub, &mut sent, &mut out);
                }
            }
        }
        if out.gone {
            break None;
        }
        if let Some(since) = out.behind
            && since.elapsed() >= cfg.slow_grace
        {
            s.counters.dropped_slow.fetch_add(1, Ordering::Relaxed);
            break Some((
                1008,
                format!(
                    "slow consumer: queue of {} full for {:.1}s, {} messages skipped",
                    cfg.client_queue,
                    since.elapsed().as_secs_f64(),
                    out.skipped
                ),
            ));
        }
    };
    drop(out);
    if let Some(c) = close {
        let _ = close_tx.send(c);
    }
    if tokio::time::timeout(Duration::from_secs(2), &mut writer)
        .await
        .is_err()
    {
        // Stuck writing to a client that reads nothing: cut the connection.
        writer.abort();
    }
}
