//! The bearer token: with one configured, every request must carry it
//! (`Authorization: Bearer TOKEN`, or `?token=TOKEN` for WebSocket clients that cannot set
//! headers); without it the answer is 401 with a JSON error.
//!
//! Owns: the check. Must not touch: what the routes answer.

use std::sync::atomic::Ordering;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::rest::error;

/// Equal without an early exit on the first differing byte (the time taken says nothing
/// about how much of a guess was right).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token a request carries, if any.
fn presented(req: &Request) -> Option<String> {
    if let Some(h) = req.headers().get(axum::http::header::AUTHORIZATION)
        && let Ok(h) = h.to_str()
        && let Some(t) = h.strip_prefix("Bearer ")
    {
        return Some(t.trim().to_string());
    }
    req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "token")
            .map(|(_, v)| v.to_string())
    })
}

pub async fn require_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    s.counters.http_requests.fetch_add(1, Ordering::Relaxed);
    if let Some(want) = &s.opts.token {
        let ok = presented(&req).is_some_and(|got| same(got.as_bytes(), want.as_bytes()));
        if !ok {
            s.counters.http_unauthorized.fetch_add(1, Ordering::Relaxed);
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "missing or wrong token: send `Authorization: Bearer TOKEN` (or ?token=TOKEN)",
            )
            .into_response();
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
    }
    next.run(req).await
}
