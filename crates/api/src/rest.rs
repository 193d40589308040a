//! The REST endpoints: JSON answers read from the latest published view.
//!
//! Owns: the handlers, their parameters and errors (404 for an unknown symbol or path, 400
//! naming the bad parameter, both as `{"error": …}`). Must not touch: the JSON shapes
//! ([`crate::shape`]), the engine.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use microstate_config::API_MAX_DEPTH;
use microstate_core::num::Symbol;
use microstate_core::view::{SymbolView, View};
use serde_json::json;

use crate::{AppState, shape};

/// An error answer: `{"error": message}` with `code`.
pub fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(json!({"error": message.into()}))).into_response()
}

/// A refused request: the status and the message of its JSON error.
#[derive(Debug)]
pub struct Fail(pub StatusCode, pub String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

type Answer = Result<Json<serde_json::Value>, Fail>;

pub async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint: see /v1/health, /v1/symbols, /v1/book/{SYMBOL}, /v1/features/{SYMBOL}, \
         /v1/signals/{SYMBOL}, /v1/latency, /v1/stream, /metrics",
    )
}

/// `depth` from the query: 1 to the view's levels, else 400 naming it.
pub fn parse_depth(q: &HashMap<String, String>, default: usize) -> Result<usize, Fail> {
    match q.get("depth") {
        None => Ok(default),
        Some(d) => match d.parse::<usize>() {
            Ok(n) if (1..=API_MAX_DEPTH).contains(&n) => Ok(n),
            _ => Err(Fail(
                StatusCode::BAD_REQUEST,
                format!(
                    "parameter `depth` = {d:?}: must be a whole number from 1 to {API_MAX_DEPTH}"
                ),
            )),
        },
    }
}

/// Query parameters other than `allowed` (and `token`) are refused, naming the first.
pub fn only(q: &HashMap<String, String>, allowed: &[&str]) -> Result<(), Fail> {
    match q
        .keys()
        .find(|k| k.as_str() != "token" && !allowed.contains(&k.as_str()))
    {
        None => Ok(()),
        Some(k) => Err(Fail(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown parameter `{k}`{}",
                if allowed.is_empty() {
                    String::new()
                } else {
                    format!(" (this endpoint takes: {})", allowed.join(", "))
                }
            ),
        )),
    }
}

/// The symbol named in the path, in the view: 400 when it cannot be a symbol, 404 when the
/// session has none such.
fn find<'v>(view: &'v View, name: &str) -> Result<&'v SymbolView, Fail> {
    let sym: Symbol = name.to_ascii_uppercase().parse().map_err(|_| {
        Fail(
            StatusCode::BAD_REQUEST,
            format!("parameter `symbol` = {name:?}: not a symbol"),
        )
    })?;
    view.symbols
        .iter()
        .find(|s| s.symbol == sym)
        .ok_or_else(|| {
            let known: Vec<&str> = view.symbols.iter().map(|s| s.symbol.as_str()).collect();
            Fail(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown symbol {sym}: this session has {}",
                    known.join(", ")
                ),
            )
        })
}

type Q = Query<HashMap<String, String>>;

pub async fn health(State(s): State<AppState>, Query(q): Q) -> Answer {
    only(&q, &[])?;
    Ok(Json(shape::health(&s.view())))
}

pub async fn symbols(State(s): State<AppState>, Query(q): Q) -> Answer {
    only(&q, &[])?;
    let v = s.view();
    Ok(Json(json!({
        "now_ns": v.now_ns,
        "symbols": v.symbols.iter().map(shape::symbol).collect::<Vec<_>>(),
    })))
}

pub async fn book(State(s): State<AppState>, Path(sym): Path<String>, Query(q): Q) -> Answer {
    only(&q, &["depth"])?;
    let depth = parse_depth(&q, s.opts.cfg.depth)?;
    let v = s.view();
    Ok(Json(shape::book(find(&v, &sym)?, depth)))
}

pub async fn features(State(s): State<AppState>, Path(sym): Path<String>, Query(q): Q) -> Answer {
    only(&q, &[])?;
    let v: Arc<View> = s.view();
    let sv = find(&v, &sym)?;
    shape::features(sv, &s.schemas).map(Json).ok_or_else(|| {
        Fail(
            StatusCode::NOT_FOUND,
            format!("{}: features are off in this session", sv.symbol),
        )
    })
}

pub async fn signals(State(s): State<AppState>, Path(sym): Path<String>, Query(q): Q) -> Answer {
    only(&q, &[])?;
    let v = s.view();
    Ok(Json(shape::signals(find(&v, &sym)?)))
}

pub async fn latency(State(s): State<AppState>, Query(q): Q) -> Answer {
    only(&q, &[])?;
    Ok(Json(shape::latency(&s.view())))
}
