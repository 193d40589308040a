//! One TCP port for REST and WebSocket: accepting, telling the two apart, and serving the REST
//! side with axum on hyper's HTTP/1.1 connection.
//!
//! Owns: the listener, each connection's first bytes (peeked, not consumed, so a WebSocket
//! handshake reaches tungstenite intact) and the REST connection (hyper: request parsing,
//! keep-alive, the 400/431 answers to malformed or oversized heads; axum: the handler that
//! hands each request to [`super::rest`]). Must not touch: what requests mean
//! ([`super::rest`]) or what WebSocket clients get ([`super::ws`]).
//!
//! The WebSocket side stays on tungstenite over the raw socket: its faults (oversize and
//! malformed frames, ignored pongs, silence) need the frames in hand, and axum's `ws` would
//! hide them. Only the peek that decides which side a connection goes to reads the head here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{Method, Uri, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until};

use super::http::{MAX_HEAD, RequestHead, Response, head_end, parse_head, percent_decode};
use super::ws::{self, WsPath};
use super::{Shared, rest};
use microstate_drive::shutdown::Shutdown;

/// A client that has not sent a complete request head by then is dropped.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A kept-alive connection that sends no next request head within this is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
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
    // Everything else, malformed heads included, is hyper's to answer.
    tracing::trace!(%peer, "HTTP connection");
    serve_http(s, shared).await;
}

/// The REST routes: one handler, since [`rest::handle`] routes by path itself (unknown paths
/// get Binance's error body and still count weight).
pub(crate) fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new().fallback(answer).with_state(shared)
}

/// Serves REST requests on one connection until it closes, idles out, or the exchange stops.
async fn serve_http(s: TcpStream, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let svc = TowerToHyperService::new(router(shared));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // The head of each next request: within the idle limit, and no larger than MAX_HEAD
        // (hyper answers 431 past it, 400 to a malformed one).
        .header_read_timeout(IDLE_TIMEOUT)
        .max_buf_size(MAX_HEAD.max(8192))
        .serve_connection(TokioIo::new(s), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.recv() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn).await;
        }
    }
}

/// One REST request: method, decoded path and query in, [`rest::handle`]'s answer out.
async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> axum::response::Response {
    let mut shutdown = shared.shutdown.clone();
    let parsed = percent_decode(uri.path())
        .map_err(|e| e.to_string())
        .and_then(|path| {
            query
                .map(|Query(q)| (path, q))
                .map_err(|e| format!("bad query string: {}", e.body_text()))
        });
    let r = match parsed {
        Ok((path, query)) => {
            let req = RequestHead {
                method: method.as_str().to_string(),
                path,
                query,
                minor_version: 1,
                headers: Vec::new(),
            };
            tokio::select! {
                r = rest::handle(&shared, &req) => r,
                // Stopping: the connection is closed without an answer.
                _ = shutdown.recv() => Response::error(503, -1001, "The exchange is stopping."),
            }
        }
        Err(msg) => {
            super::bump(&shared.counters.sent_400);
            rest::with_weight(&shared, Response::error(400, -1100, &msg))
        }
    };
    to_axum(r)
}

fn to_axum(r: Response) -> axum::response::Response {
    let mut b = axum::http::Response::builder()
        .status(r.status)
        .header(header::CONTENT_TYPE, "application/json;charset=UTF-8");
    for (n, v) in &r.headers {
        b = b.header(*n, v.as_str());
    }
    b.body(axum::body::Body::from(r.body)).unwrap_or_else(|e| {
        // Only a bad status or header value gets here, and ours are fixed: say so plainly.
        let mut out = axum::response::Response::new(axum::body::Body::from(format!(
            "{{\"code\":-1000,\"msg\":\"bad answer: {e}\"}}"
        )));
        *out.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
        out
    })
}
