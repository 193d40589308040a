//! The `.signals` JSON a collector publishes on NATS (`<prefix>.<market>.<SYMBOL>.signals`)
//! every `nats.signals_every`, for consumers in other languages that do not run the engine:
//! the feature vector (the keys of `--features-jsonl`), the pressure and context models, the
//! interpretation, the top of the book, the sync state and the event time.
//!
//! Owns: the message's shape ([`SIGNALS_VERSION`], documented in the README) and when each
//! symbol's goes out. Must not touch: NATS ([`microstate_io::bus::BusPublisher`] sends), the
//! engine (read only).

use std::collections::HashSet;

use microstate_core::engine::{Engine, SymbolState};
use microstate_core::features::json::FeatureRecord;
use microstate_core::features::{FeatureParams, Schema};
use microstate_core::num::Symbol;
use microstate_core::view::{
    ContextView, InterpretationView, ModelView, PressureView, symbol_view,
};
use serde_json::{Value, json};

/// The `v` field of every message; bumped when a field changes meaning or goes away (new
/// fields may appear without a bump).
pub const SIGNALS_VERSION: u32 = 1;

/// When each symbol's signals are due.
pub struct SignalsClock {
    every_ns: Option<u64>,
    /// Wall time (ns) the next round is due.
    next_ns: u64,
    /// The feature schema (keys) of the engine's parameters, built once.
    schema: Option<(FeatureParams, Schema)>,
}

impl SignalsClock {
    /// `every` zero: never.
    pub fn new(every: std::time::Duration) -> SignalsClock {
        SignalsClock {
            every_ns: (!every.is_zero()).then(|| every.as_nanos().min(u64::MAX as u128) as u64),
            next_ns: 0,
            schema: None,
        }
    }

    /// The messages due at wall time `now_ns` (all symbols once per period; `force`: now,
    /// whatever the period, as at the end of a session), as (symbol, JSON).
    pub fn due(
        &mut self,
        engine: &Engine,
        stale: &HashSet<Symbol>,
        now_ns: u64,
        force: bool,
    ) -> Vec<(Symbol, Vec<u8>)> {
        let Some(every) = self.every_ns else {
            return Vec::new();
        };
        if !force && now_ns < self.next_ns {
            return Vec::new();
        }
        self.next_ns = now_ns.saturating_add(every);
        engine
            .symbols()
            .iter()
            .map(|st| {
                let v = self.message(st, stale.contains(&st.symbol), now_ns);
                (st.symbol, serde_json::to_vec(&v).unwrap_or_default())
            })
            .collect()
    }

    /// One symbol's message.
    pub fn message(&mut self, st: &SymbolState, stale: bool, now_ns: u64) -> Value {
        let features = st.features().and_then(|f| {
            let p = *f.params();
            if self.schema.as_ref().is_none_or(|(q, _)| *q != p) {
                self.schema = Some((p, Schema::new(&p)));
            }
            let (_, schema) = self.schema.as_ref()?;
            serde_json::to_value(FeatureRecord {
                symbol: st.symbol.as_str(),
                schema,
                vector: f.vector(),
            })
            .ok()
        });
        let event_time_ms = st
            .features()
            .map(|f| f.vector().ts_ns() / 1_000_000)
            .filter(|&t| t > 0);
        signals_json(st, stale, now_ns, event_time_ms, features)
    }
}

/// A model's JSON: `ready(t)` when it runs, else `{"ready": false, "missing": why}`. Shared with
/// the API's shapes (`microstate_api::shape`), so both speak of models alike.
pub fn model<T>(m: &ModelView<T>, ready: impl FnOnce(&T) -> Value) -> Value {
    match m {
        ModelView::Ready(t) => ready(t),
        ModelView::Missing(why) => json!({"ready": false, "missing": why}),
    }
}

/// The pressure model's JSON (NATS `.signals` and the API's signals).
pub fn pressure_json(m: &ModelView<PressureView>) -> Value {
    model(m, |p| {
        json!({
            "ready": true,
            "p_up": p.p_up, "p_flat": p.p_flat, "p_down": p.p_down,
            "label": p.label,
            "hit_rate": p.hit_rate,
            "quiet": p.quiet,
            "edge": p.edge,
            "updates": p.updates,
        })
    })
}

/// The context's trend calls, one object per horizon (NATS `.signals` and the API's signals).
pub fn trend_json(c: &ContextView) -> Value {
    c.trend
        .iter()
        .map(|t| {
            json!({
                "horizon_min": t.horizon_min, "label": t.label, "z": t.z, "move_bps": t.move_bps,
            })
        })
        .collect()
}

/// The interpretation's JSON (NATS `.signals` and the API's signals).
pub fn interpretation_json(m: &ModelView<InterpretationView>) -> Value {
    model(m, |i| {
        json!({
            "ready": true,
            "label": i.label,
            "reasons": i.reasons,
        })
    })
}

/// The message: see the README's "Signals on NATS" for each field.
fn signals_json(
    st: &SymbolState,
    stale: bool,
    now_ns: u64,
    event_time_ms: Option<u64>,
    features: Option<Value>,
) -> Value {
    let sv = symbol_view(st, stale);
    let book = st.book();
    let bbo = book.bbo();
    let synced = st.sync.is_synced();
    let px = |l: Option<microstate_core::wire::Level>| {
        l.filter(|_| synced)
            .map(|l| json!([l.price.to_f64(), l.qty.to_f64()]))
    };
    json!({
        "v": SIGNALS_VERSION,
        "symbol": st.symbol.as_str(),
        "market": sv.market,
        "sent_ns": now_ns,
        "event_time_ms": event_time_ms,
        "recv_ns": st.last_depth_recv.0,
        "sync": {
            "state": sv.phase.as_str(),
            "stale": stale,
            "gaps": sv.gaps,
            "resyncs": sv.resyncs,
            "applied": sv.applied,
            "last_update_id": book.last_update_id,
        },
        "book": {
            "bid": px(bbo.bid),
            "ask": px(bbo.ask),
            "mid": sv.mid,
            "microprice": sv.microprice,
            "spread": sv.spread,
        },
        "features": features,
        "pressure": pressure_json(&sv.pressure),
        "context": model(&sv.context, |c| json!({
            "ready": true,
            "label": c.label,
            "horizon_min": c.horizon_min,
            "trend": trend_json(c),
            "range": c.forecast.iter().map(|f| json!({
                "horizon_min": f.horizon_min,
                "drift_bps": f.drift_bps,
                "range_68_bps": f.range_68_bps,
                "range_95_bps": f.range_95_bps,
                "call": f.call,
            })).collect::<Vec<_>>(),
        })),
        "interpretation": interpretation_json(&sv.interpretation),
    })
}
