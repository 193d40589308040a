//! One TCP port for REST and WebSocket: accepting, telling the two apart, and the HTTP/1.1
//! keep-alive loop.
//!
//! Owns: the listener, each connection's first bytes (peeked, not consumed, so a WebSocket
//! handshake reaches tungstenite intact) and the plain-HTTP request loop. Must not touch: what
//! requests mean ([`super::rest`]) or what WebSocket clients get ([`super::ws`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until};

use super::http::{self, MAX_HEAD, Response, head_end, parse_head};
use super::ws::{self, WsPath};
use super::{Shared, bump, rest};
use microstate_drive::shutdown::Shutdown;

/// A client that has not sent a complete request head by then is dropped.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle keep-alive connections are closed after this.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest request body read (and discarded): public GETs have none.
const MAX_BODY: usize = 1 << 20;
/// Connections still running at shutdown get this long to finish.
const DRAIN: Duration = Duration::from_secs(2);

/// Accepts connections until shutdown.
pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.recv() => break,
            r = listener.accept() => match r {
                Ok((s, peer)) => {
                    let _ = s.set_nodelay(true);
                    conns.spawn(connection(s, peer, shared.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "exchange accept failed");
                    sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    let _ = tokio::time::timeout(DRAIN, async { while conns.join_next().await.is_some() {} }).await;
    conns.abort_all();
}

/// Peeks the request head: `None` if the client went away or sent nothing complete in time
/// (a head larger than [`MAX_HEAD`] is returned as is, for a 431).
async fn peek_head(s: &TcpStream, shutdown: &mut Shutdown) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; MAX_HEAD + 1];
    let deadline = Instant::now() + HEAD_TIMEOUT;
    loop {
        let n = tokio::select! {
            r = s.peek(&mut buf) => r.ok()?,
            _ = sleep_until(deadline) => return None,
            _ = shutdown.recv() => return None,
        };
        if n == 0 {
            return None;
        }
        if let Some(end) = head_end(&buf[..n]) {
            buf.truncate(end);
            return Some(buf);
        }
        if n > MAX_HEAD {
            return Some(buf);
        }
        // `peek` returns at once while any byte is buffered: wait for the rest of the head.
        sleep(Duration::from_millis(2)).await;
    }
}

async fn connection(s: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let Some(head) = peek_head(&s, &mut shutdown).await else {
        return;
    };
    if let Ok(req) = parse_head(&head)
        && req.is_websocket()
        && let Some(path) = WsPath::parse(&req)
    {
        let target = String::from_utf8_lossy(&head)
            .split(' ')
            .nth(1)
            .unwrap_or("")
            .to_string();
        ws::serve(s, target, path, shared).await;
        return;
    }
    tracing::trace!(%peer, "HTTP connection");
    serve_http(s, shared).await;
}

/// Reads more bytes into `buf`; `None` when the peer closed, idled out, or the exchange stops.
async fn read_more(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    chunk: &mut [u8],
    shutdown: &mut Shutdown,
) -> Option<()> {
    let n = tokio::select! {
        r = s.read(chunk) => match r {
            Ok(0) | Err(_) => return None,
            Ok(n) => n,
        },
        _ = sleep(IDLE_TIMEOUT) => return None,
        _ = shutdown.recv() => return None,
    };
    buf.extend_from_slice(&chunk[..n]);
    Some(())
}

/// Answers a bad request with a Binance error body and closes.
async fn refuse(s: &mut TcpStream, shared: &Shared, status: u16, msg: &str) {
    let r = rest::with_weight(shared, Response::error(status, -1100, msg));
    let _ = s.write_all(&r.to_bytes(false)).await;
}

/// Answers requests on one connection until it closes, asks to close, or idles out.
async fn serve_http(mut s: TcpStream, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        let head_len = loop {
            if let Some(end) = head_end(&buf) {
                break end;
            }
            if buf.len() > MAX_HEAD {
                let e = http::HttpError::HeadTooLarge;
                refuse(&mut s, &shared, e.status(), &e.to_string()).await;
                return;
            }
            if read_more(&mut s, &mut buf, &mut chunk, &mut shutdown)
                .await
                .is_none()
            {
                return;
            }
        };
        let parsed = parse_head(&buf[..head_len]);
        buf.drain(..head_len);
        let req = match parsed {
            Ok(r) => r,
            Err(e) => {
                bump(&shared.counters.sent_400);
                refuse(&mut s, &shared, e.status(), &e.to_string()).await;
                return;
            }
        };
        let Some(len) = req.content_length().filter(|l| *l <= MAX_BODY) else {
            refuse(
                &mut s,
                &shared,
                413,
                "request body too large or malformed length",
            )
            .await;
            return;
        };
        while buf.len() < len {
            if read_more(&mut s, &mut buf, &mut chunk, &mut shutdown)
                .await
                .is_none()
            {
                return;
            }
        }
        buf.drain(..len);
        let keep = req.keep_alive();
        let resp = tokio::select! {
            r = rest::handle(&shared, &req) => r,
            _ = shutdown.recv() => return,
        };
        if s.write_all(&resp.to_bytes(keep)).await.is_err() || !keep {
            let _ = s.shutdown().await;
            return;
        }
    }
}
