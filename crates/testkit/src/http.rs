//! A real HTTP/1.1 client for tests: one GET per connection over a TCP socket, through
//! hyper's client (no hand-written HTTP), with an optional bearer token.
//!
//! Owns: nothing but the request. Must not touch: any microstate crate.

use std::net::SocketAddr;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;

/// `GET path` on `addr`: the status and the body as text. Panics with the reason when the
/// request cannot be made (a test's failure).
pub async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let (mut send, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap_or_else(|e| panic!("HTTP handshake with {addr}: {e}"));
    tokio::spawn(conn);
    let mut req = hyper::Request::get(path).header(hyper::header::HOST, addr.to_string());
    if let Some(t) = token {
        req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req
        .body(Empty::new())
        .unwrap_or_else(|e| panic!("request {path}: {e}"));
    let resp = send
        .send_request(req)
        .await
        .unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"));
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: reading the body: {e}"))
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// [`get`], parsed as JSON (panics, naming the body, when it is not).
pub async fn get_json(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let (status, body) = get(addr, path, None).await;
    let v = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"));
    (status, v)
}
