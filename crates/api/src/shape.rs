//! The JSON the API answers and streams: a symbol's summary, its book (exact decimals as
//! strings, like Binance's), its latest feature vector (the keys of `--features-jsonl`), its
//! signals, the latency stages, the health.
//!
//! Owns: turning a [`View`]'s parts into `serde_json::Value`s. Must not touch: the server,
//! sockets, the engine.

use std::sync::{Arc, Mutex};

use microstate_core::book::sync::Phase;
use microstate_core::features::json::FeatureRecord;
use microstate_core::features::{FeatureParams, Schema};
use microstate_core::num::Price;
use microstate_core::view::{SymbolView, View};
use microstate_core::wire::Level;
use microstate_drive::bus_signals::{interpretation_json, model, pressure_json, trend_json};
use serde_json::{Value, json};

/// A symbol's state for clients: `stale` (live: no depth update for the stale time), else
/// the sync phase (`synced`, `syncing`, `resyncing`).
pub fn state(sv: &SymbolView) -> &'static str {
    if sv.stale { "stale" } else { sv.phase.as_str() }
}

/// `[["price","qty"],…]`, best first, at most `depth`.
pub fn levels(l: &[Level], depth: usize) -> Value {
    Value::Array(
        l.iter()
            .take(depth)
            .map(|x| json!([x.price.to_string(), x.qty.to_string()]))
            .collect(),
    )
}

/// `(a + b) / 2` exactly, as a decimal string (one digit more than the prices may have).
pub fn half_sum(a: Price, b: Price) -> String {
    // Mantissas have 8 decimals; ×5 gives the half with 9.
    let m = (i128::from(a.0) + i128::from(b.0)) * 5;
    let (neg, m) = (m < 0, m.unsigned_abs());
    let (int, frac) = (m / 1_000_000_000, m % 1_000_000_000);
    let mut f = format!("{frac:09}");
    while f.ends_with('0') {
        f.pop();
    }
    let sign = if neg { "-" } else { "" };
    if f.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{f}")
    }
}

/// The best bid and ask, mid and spread, exact; `null` while the book is not synced.
fn top(sv: &SymbolView) -> (Value, Value, Value, Value) {
    match (sv.bids.first(), sv.asks.first()) {
        (Some(b), Some(a)) => (
            json!(b.price.to_string()),
            json!(a.price.to_string()),
            json!(half_sum(b.price, a.price)),
            json!(Price(a.price.0 - b.price.0).to_string()),
        ),
        _ => (Value::Null, Value::Null, Value::Null, Value::Null),
    }
}

/// One entry of `/v1/symbols`.
pub fn symbol(sv: &SymbolView) -> Value {
    let (bid, ask, mid, spread) = top(sv);
    json!({
        "symbol": sv.symbol.as_str(),
        "market": sv.market,
        "state": state(sv),
        "gaps": sv.gaps,
        "resyncs": sv.resyncs,
        "diffs_applied": sv.applied,
        "snapshots": sv.snapshots,
        "trades": sv.trades,
        "crossed_events": sv.crossed_events,
        "last_update_id": sv.last_update_id,
        "last_depth_recv_ns": sv.last_depth_recv_ns,
        "best_bid": bid,
        "best_ask": ask,
        "mid": mid,
        "spread": spread,
        "microprice": sv.microprice,
        "imbalance": {"1": sv.imbalance[0], "5": sv.imbalance[1], "10": sv.imbalance[2]},
    })
}

/// `/v1/book/{SYMBOL}` and the stream's `book` data.
pub fn book(sv: &SymbolView, depth: usize) -> Value {
    json!({
        "symbol": sv.symbol.as_str(),
        "state": state(sv),
        "last_update_id": sv.last_update_id,
        "bids": levels(&sv.bids, depth),
        "asks": levels(&sv.asks, depth),
    })
}

/// Feature schemas by their parameters (a schema names the keys; building one allocates).
#[derive(Debug, Default)]
pub struct SchemaCache(Mutex<Vec<(FeatureParams, Arc<Schema>)>>);

impl SchemaCache {
    pub fn get(&self, p: &FeatureParams) -> Arc<Schema> {
        let Ok(mut v) = self.0.lock() else {
            return Arc::new(Schema::new(p));
        };
        if let Some((_, s)) = v.iter().find(|(q, _)| q == p) {
            return Arc::clone(s);
        }
        let s = Arc::new(Schema::new(p));
        v.push((*p, Arc::clone(&s)));
        s
    }
}

/// The latest feature vector with the keys of `--features-jsonl`; `None` with features off.
pub fn features(sv: &SymbolView, schemas: &SchemaCache) -> Option<Value> {
    let (params, vector) = sv.feature_vector.as_ref()?;
    let schema = schemas.get(params);
    serde_json::to_value(FeatureRecord {
        symbol: sv.symbol.as_str(),
        schema: &schema,
        vector,
    })
    .ok()
}

/// `/v1/signals/{SYMBOL}` and the stream's `signals` data.
pub fn signals(sv: &SymbolView) -> Value {
    json!({
        "symbol": sv.symbol.as_str(),
        "pressure": pressure_json(&sv.pressure),
        "context": model(&sv.context, |c| json!({
            "ready": true,
            "label": c.label,
            "horizon_min": c.horizon_min,
            "trend": trend_json(c),
            "forecast": c.forecast.iter().map(|f| json!({
                "horizon_min": f.horizon_min,
                "drift_bps": f.drift_bps,
                "range_68_bps": f.range_68_bps,
                "range_95_bps": f.range_95_bps,
                "call": f.call,
                "call_note": f.call_note,
            })).collect::<Vec<_>>(),
            "history": c.history,
            "history_source": c.history_source,
        })),
        "interpretation": interpretation_json(&sv.interpretation),
    })
}

/// The stream's `status` data: what a client must know when it changes.
pub fn status(sv: &SymbolView) -> Value {
    json!({
        "state": state(sv),
        "gaps": sv.gaps,
        "resyncs": sv.resyncs,
        "last_update_id": sv.last_update_id,
    })
}

/// `/v1/latency`: every stage's percentiles as the screen shows them (ns), and the clock.
pub fn latency(v: &View) -> Value {
    json!({
        "stages": v.latency.iter().map(|s| json!({
            "stage": s.name,
            "count": s.count,
            "p50_ns": s.p50, "p90_ns": s.p90, "p99_ns": s.p99, "p999_ns": s.p999, "max_ns": s.max,
        })).collect::<Vec<_>>(),
        "clock_offset_ns": v.clock_offset.map(|c| c.0),
        "clock_rtt_ns": v.clock_offset.map(|c| c.1),
        "clock_source": v.clock_source,
    })
}

/// `/v1/health`: `ok`, or `degraded` with the reasons, or `starting` before the first view.
pub fn health(v: &View) -> Value {
    let mut reasons = Vec::new();
    if v.seq == 0 {
        reasons.push("no view published yet".to_string());
    }
    for sv in &v.symbols {
        if sv.stale {
            reasons.push(format!("{}: stale (no depth update)", sv.symbol));
        } else if sv.phase != Phase::Synced {
            reasons.push(format!("{}: {}", sv.symbol, sv.phase.as_str()));
        }
    }
    if let Some(r) = &v.recording
        && r.failures > 0
    {
        reasons.push(format!(
            "recording: {} write failures{}",
            r.failures,
            r.last_error
                .as_ref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ));
    }
    if v.replay.is_none() && !v.connection.is_empty() && !v.connection.starts_with("up") {
        reasons.push(format!("connection: {}", v.connection));
    }
    let status = match (v.seq, reasons.is_empty()) {
        (0, _) => "starting",
        (_, true) => "ok",
        (_, false) => "degraded",
    };
    json!({
        "status": status,
        "reasons": reasons,
        "source": source(v),
        "connection": v.connection,
        "symbols": v.symbols.len(),
        "frames": v.frames,
        "errors": v.errors,
        "now_ns": v.now_ns,
        "view_seq": v.seq,
        "replay": v.replay.as_ref().map(|r| json!({
            "speed": r.speed, "paused": r.paused, "done": r.done, "position_ns": r.position_ns,
        })),
    })
}

fn source(v: &View) -> Value {
    use microstate_core::view::Source;
    match &v.source {
        Source::None => Value::Null,
        Source::Live { endpoint } => json!({"kind": "live", "endpoint": endpoint}),
        Source::Demo { capture } => json!({"kind": "demo", "capture": capture}),
        Source::Replay { files } => json!({"kind": "replay", "files": files}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_sums_are_exact() {
        let p = |s: &str| s.parse::<Price>().expect("a price");
        assert_eq!(half_sum(p("61602.01"), p("61602.02")), "61602.015");
        assert_eq!(half_sum(p("1"), p("3")), "2");
        assert_eq!(half_sum(p("0.00000001"), p("0.00000002")), "0.000000015");
    }
}
