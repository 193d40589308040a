//! One WebSocket connection: connect, read, answer pings, ping the server, notice silence.
//!
//! Owns: a socket and its reader loop. Must not touch: the engine (frames go out through the
//! ingest channel) and reconnect policy (the supervisor's). The reader never blocks on the
//! engine: frames are offered with `try_send` and shed (counted) when the queue is full;
//! lifecycle messages are rare and awaited, so they are never lost and keep their order.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use super::{ConnId, IngestMsg, IngestStats, mono_nanos, now_nanos};
use crate::record::format::Record;
use crate::record::writer::Recorder;
use microstate_config::ConnectionConfig;

pub type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket (TLS verified against webpki roots for `wss://`). Frames and messages
/// larger than `max_frame` bytes (`connection.max_frame_bytes`) end the connection with
/// tungstenite's "frame too large" / "message too long" before they are held whole: the
/// length is checked from the frame header, and a fragmented message as it grows.
pub async fn connect(url: &str, timeout: Duration, max_frame: u64) -> Result<Ws, String> {
    let max_frame = usize::try_from(max_frame).unwrap_or(usize::MAX);
    let ws_cfg = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_frame_size(Some(max_frame))
        .max_message_size(Some(max_frame));
    let fut = tokio_tungstenite::connect_async_tls_with_config(
        url,
        Some(ws_cfg),
        true,
        Some(Connector::Rustls(super::tls::client_config())),
    );
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok((ws, _resp))) => Ok(ws),
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err(format!(
            "no answer within {}",
            microstate_core::units::format_duration(timeout)
        )),
    }
}

fn describe(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::Io(io) => io.to_string(),
        E::Http(resp) => format!("server answered HTTP {}", resp.status()),
        other => other.to_string(),
    }
}

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Asked to close (switch-over done, or shutting down).
    Retired,
    ServerClosed(String),
    Silent(Duration),
    Error(String),
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndReason::Retired => write!(f, "closed by us"),
            EndReason::ServerClosed(r) if r.is_empty() => write!(f, "server closed the connection"),
            EndReason::ServerClosed(r) => write!(f, "server closed the connection: {r}"),
            EndReason::Silent(d) => write!(
                f,
                "no frame, ping or pong for {}",
                microstate_core::units::format_duration(*d)
            ),
            EndReason::Error(e) => write!(f, "{e}"),
        }
    }
}

/// What every reader shares: counters, and where a shed frame is still recorded.
#[derive(Debug, Default)]
pub struct ReaderShared {
    pub stats: Arc<IngestStats>,
    /// A frame the engine queue cannot take is not lost to the recording: it goes here as a
    /// [`Record::ShedFrame`] (again without waiting).
    /// Locked only when a frame is shed; swapped when recording starts or stops.
    pub shed_to: std::sync::Mutex<Option<Recorder>>,
}

/// Control requests (`SUBSCRIBE`/`UNSUBSCRIBE` JSON) to write on a connection, at most one per
/// `min_gap`: Binance counts every incoming message (pings, pongs and these) against a
/// per-connection rate limit and disconnects a client that passes it.
pub struct Requests {
    pub rx: mpsc::UnboundedReceiver<String>,
    pub min_gap: Duration,
}

/// Reads `ws` until it ends or `retire` fires. Frames go to `tx` tagged with `conn`.
pub async fn read_loop(
    ws: Ws,
    conn: ConnId,
    cfg: ConnectionConfig,
    tx: mpsc::Sender<IngestMsg>,
    shared: Arc<ReaderShared>,
    retire: oneshot::Receiver<()>,
) -> EndReason {
    serve(ws, conn, cfg, tx, shared, retire, None).await
}

/// [`read_loop`], also writing the control requests that come through `requests`, spaced by
/// its `min_gap` (the answers, `{"result":…,"id":N}` or `{"error":…}`, arrive as frames).
pub async fn serve(
    mut ws: Ws,
    conn: ConnId,
    cfg: ConnectionConfig,
    tx: mpsc::Sender<IngestMsg>,
    shared: Arc<ReaderShared>,
    mut retire: oneshot::Receiver<()>,
    requests: Option<Requests>,
) -> EndReason {
    let (mut req_rx, min_gap) = match requests {
        Some(r) => (Some(r.rx), r.min_gap),
        None => (None, Duration::ZERO),
    };
    let mut next_request = tokio::time::Instant::now();
    let stats = &shared.stats;
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + cfg.ping_interval,
        cfg.ping_interval,
    );
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = tokio::time::Instant::now();
    loop {
        let deadline = last_heard + cfg.read_timeout;
        tokio::select! {
            _ = &mut retire => {
                let _ = ws.close(None).await;
                return EndReason::Retired;
            }
            _ = tokio::time::sleep_until(deadline) => {
                let _ = ws.close(None).await;
                return EndReason::Silent(cfg.read_timeout);
            }
            req = async {
                tokio::time::sleep_until(next_request).await;
                match req_rx.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            }, if req_rx.is_some() => match req {
                Some(text) => {
                    if let Err(e) = ws.send(Message::text(text)).await {
                        return EndReason::Error(describe(&e));
                    }
                    next_request = tokio::time::Instant::now() + min_gap;
                }
                // The slot dropped its end: no more requests, the reading goes on.
                None => req_rx = None,
            },
            _ = ping.tick() => {
                // An unsolicited ping: the server's pong proves the link is alive.
                if let Err(e) = ws.send(Message::Ping(Default::default())).await {
                    return EndReason::Error(describe(&e));
                }
            }
            msg = ws.next() => {
                last_heard = tokio::time::Instant::now();
                match msg {
                    None => return EndReason::ServerClosed(String::new()),
                    Some(Err(e)) => return EndReason::Error(describe(&e)),
                    Some(Ok(Message::Text(text))) => {
                        let recv = now_nanos();
                        let mono = mono_nanos();
                        stats.frames.fetch_add(1, Ordering::Relaxed);
                        if is_server_shutdown(text.as_bytes()) {
                            let _ = tx.send(IngestMsg::ServerShutdown { conn }).await;
                        }
                        match tx.try_send(IngestMsg::Frame { conn, recv, mono, text }) {
                            // Let the engine apply it now rather than after a burst of reads:
                            // on a current-thread runtime this is what keeps receive→applied
                            // short.
                            Ok(()) => tokio::task::yield_now().await,
                            Err(mpsc::error::TrySendError::Full(msg)) => {
                                stats.shed.fetch_add(1, Ordering::Relaxed);
                                let to = shared.shed_to.lock().ok().and_then(|g| g.clone());
                                if let (Some(r), IngestMsg::Frame { text, .. }) = (to, msg) {
                                    r.offer(Record::ShedFrame {
                                        conn,
                                        recv_wall_ns: recv.0,
                                        recv_mono_ns: mono,
                                        text: text.as_bytes().to_vec(),
                                    });
                                }
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => return EndReason::Retired,
                        }
                    }
                    Some(Ok(Message::Ping(_))) => {
                        // tungstenite has queued the pong (same payload); send it now.
                        stats.pings.fetch_add(1, Ordering::Relaxed);
                        if let Err(e) = ws.flush().await {
                            return EndReason::Error(describe(&e));
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return EndReason::ServerClosed(
                            frame.map(|f| format!("{} {}", u16::from(f.code), f.reason)).unwrap_or_default(),
                        );
                    }
                    Some(Ok(Message::Binary(_))) => {
                        stats.unexpected_binary.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Ok(_)) => {} // pong, raw frame
                }
            }
        }
    }
}

/// `{"e":"serverShutdown",...}`: small frame, checked without a full decode.
fn is_server_shutdown(b: &[u8]) -> bool {
    b.len() < 256 && b.windows(16).any(|w| w == b"\"serverShutdown\"")
}
