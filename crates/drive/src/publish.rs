//! Publishing `View`s: the one place a [`View`] is put together, for live sessions and replays.
//!
//! Owns: assembling a view from the engine (the per-symbol part is the core's
//! [`symbol_view`]) and what the driver adds ([`Extras`]: connection, clock, recording, replay
//! state, latency stages), numbering and timestamping it, and sending it through a watch
//! channel at most every `every`. Also turning latency histograms into the screen's
//! [`StageView`]s. Must not touch: the screen, the engine's state (it only reads it).
//!
//! The publisher also carries the API's event stream ([`TapEvent`], a bounded broadcast
//! channel): every trade the engine takes in, sent without waiting (a receiver that falls
//! behind loses the oldest events, counted on its side), only while somebody listens.
//!
//! Alerts are evaluated here, on every view published, by the core's [`Alerts`] (the rules and
//! each symbol's last state live in the publisher); each new one is logged (`tracing`, the log
//! file while the screen runs) and the newest go into the view.
//!
//! A view copies the top levels of each book and shares each symbol's history with the engine
//! (an `Arc` the engine updates copy-on-write): publishing never copies a history.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use microstate_core::alerts::{AlertRules, Alerts, PriceLevel};
use microstate_core::engine::Engine;
use microstate_core::latency::{Latency, Stage, StageReport};
use microstate_core::num::{Price, Qty, Symbol};
use microstate_core::view::{
    ConnectionView, LATENCY_BOUNDS_NS, LiveCounters, ModelView, RecordingView, Refused, ReplayView,
    Source, StageBuckets, StageView, VIEW_ALERTS, View, symbol_view,
};
use microstate_io::ingest::exchange_info::Listing;
use tokio::sync::{broadcast, watch};

/// What a driver knows besides the engine, for one view.
#[derive(Clone, Debug, Default)]
pub struct Extras<'a> {
    /// The data clock: wall time live, the replay position in a replay (ns).
    pub now_ns: u64,
    /// Symbols with no depth update for the stale time (live).
    pub stale: Option<&'a HashSet<Symbol>>,
    /// Connection state for a person (live; empty in a replay).
    pub connection: String,
    /// The connections read and what was taken from each (live; empty in a replay).
    pub connections: Vec<ConnectionView>,
    /// Exchange − local clock and its round trip (ns), and which estimate it is.
    pub clock_offset: Option<(i64, u64)>,
    pub clock_source: String,
    pub recording: Option<RecordingView>,
    pub replay: Option<ReplayView>,
    pub latency: Vec<StageView>,
    /// Per symbol: where its fetched context history came from, when a person must be told
    /// (`synthetic history`).
    pub history_sources: Option<&'a HashMap<Symbol, String>>,
    /// The latency stages as fixed-bound histograms (shared: refreshed with `latency`).
    pub latency_buckets: Arc<Vec<StageBuckets>>,
    /// A live session's counters.
    pub live: Option<LiveCounters>,
    /// Live: the venue's exchangeInfo (each symbol's tick), when it answered.
    pub listing: Option<&'a Listing>,
    /// Live: the symbols it lists as trading (shared, not rebuilt per view).
    pub listed: Arc<Vec<Symbol>>,
    /// Live: what the network gave that was turned away.
    pub refused: Refused,
}

/// A view's identity: its number, when it was published, where its data comes from.
#[derive(Clone, Debug, Default)]
pub struct Stamp {
    pub seq: u64,
    pub published_ns: u64,
    pub source: Source,
}

/// The view of `engine` with what the driver adds.
pub fn view(engine: &Engine, x: Extras<'_>, stamp: Stamp) -> View {
    View {
        seq: stamp.seq,
        published_ns: stamp.published_ns,
        now_ns: x.now_ns,
        source: stamp.source,
        connection: x.connection,
        connections: x.connections,
        clock_offset: x.clock_offset,
        clock_source: x.clock_source,
        symbols: engine
            .symbols()
            .iter()
            .map(|st| {
                let mut v = symbol_view(st, x.stale.is_some_and(|s| s.contains(&st.symbol)));
                // The venue's tick, where it is known, rather than the one the book shows.
                if let Some(t) = x
                    .listing
                    .and_then(|l| l.get(&st.symbol))
                    .and_then(|l| l.tick)
                {
                    v.tick_exact = Some(t);
                    v.tick = Some(t.to_f64());
                    v.tick_listed = true;
                }
                // Models were given but this symbol has had no features yet (no book: not
                // connected, or waiting for its snapshot): say that, not "no models given".
                if engine.has_models() && st.signals.is_none() {
                    let wait = |m: &str| format!("{m}: waiting for the book's first update");
                    v.pressure = ModelView::Missing(wait("pressure"));
                    v.context = ModelView::Missing(wait("context"));
                }
                if let (ModelView::Ready(c), Some(src)) = (
                    &mut v.context,
                    x.history_sources.and_then(|m| m.get(&st.symbol)),
                ) {
                    c.history_source = Some(src.clone());
                }
                v
            })
            .collect(),
        frames: engine.stats.frames,
        errors: engine.stats.errors,
        limits: engine.limit_counters(),
        recording: x.recording,
        replay: x.replay,
        latency: x.latency,
        latency_buckets: x.latency_buckets,
        live: x.live,
        alerts: Vec::new(),
        alerts_raised: 0,
        listed: x.listed,
        refused: x.refused,
    }
}

/// Evaluates the alerts on every symbol of `v`, logs the new ones and puts the newest
/// [`VIEW_ALERTS`] into the view.
pub fn apply_alerts(alerts: &mut Alerts, v: &mut View) {
    for s in &v.symbols {
        let n = alerts.evaluate(s.look(), v.now_ns);
        for a in alerts.recent().rev().take(n) {
            tracing::warn!(symbol = %a.symbol, kind = a.kind.as_str(), t_ns = a.t_ns, "alert: {}", a.text);
        }
    }
    let held = alerts.recent().count();
    v.alerts = alerts
        .recent()
        .skip(held.saturating_sub(VIEW_ALERTS))
        .cloned()
        .collect();
    v.alerts_raised = alerts.raised();
}

/// An event of the API's stream, sent by the driver as the engine takes it in (views carry
/// the state; this carries what a view would conflate away).
#[derive(Clone, Debug, PartialEq)]
pub enum TapEvent {
    Trade(TradeEvent),
}

/// One trade the engine took in (duplicates excluded).
#[derive(Clone, Debug, PartialEq)]
pub struct TradeEvent {
    pub symbol: Symbol,
    /// `t` (trade) or `a` (aggTrade).
    pub id: u64,
    pub price: Price,
    pub qty: Qty,
    /// `T` and `E`, ms.
    pub trade_time_ms: u64,
    pub event_time_ms: u64,
    /// The buyer was the maker: the aggressor sold.
    pub buyer_is_maker: bool,
    /// Receive time of its frame (ns; recording time in a replay).
    pub recv_ns: u64,
    /// Wall time the driver handed it on (ns): the start of engine → client latency.
    pub tapped_ns: u64,
}

/// The sending side of the event stream, with what it has sent per symbol. The live driver's
/// [`Publisher`] holds one; a replay hands one to the player as an observer.
#[derive(Debug)]
pub struct EventTap {
    tx: broadcast::Sender<Arc<TapEvent>>,
    /// Per symbol: the engine's trade count when last looked at.
    trades_seen: HashMap<Symbol, u64>,
}

impl EventTap {
    pub fn new(tx: broadcast::Sender<Arc<TapEvent>>) -> EventTap {
        EventTap {
            tx,
            trades_seen: HashMap::new(),
        }
    }

    /// After each frame the engine took: a new trade of the symbol it touched goes to the
    /// event stream (never waits; nothing is built while nobody listens).
    pub fn after_frame(&mut self, engine: &Engine) {
        let Some(st) = engine.touched() else {
            return;
        };
        let seen = self.trades_seen.entry(st.symbol).or_insert(0);
        if *seen == st.trades {
            return;
        }
        *seen = st.trades;
        if self.tx.receiver_count() == 0 {
            return;
        }
        if let Some(t) = &st.last_trade {
            let ev = TapEvent::Trade(TradeEvent {
                symbol: st.symbol,
                id: t.id,
                price: t.price,
                qty: t.qty,
                trade_time_ms: t.trade_time_ms,
                event_time_ms: t.event_time_ms,
                buyer_is_maker: t.buyer_is_maker,
                recv_ns: st.last_recv.0,
                tapped_ns: microstate_io::ingest::now_nanos().0,
            });
            // No receiver left is not an error: the stream is offered, never owed.
            let _ = self.tx.send(Arc::new(ev));
        }
    }
}

/// Publishes `View`s to the screen through a watch channel, at most every `every`.
#[derive(Debug)]
pub struct Publisher {
    tx: watch::Sender<Arc<View>>,
    pub every: Duration,
    source: Source,
    seq: u64,
    last: Option<Instant>,
    tap: Option<EventTap>,
    /// An API reads these views though its events come from elsewhere (a replay taps the
    /// player): see [`Self::with_api`].
    api: bool,
    alerts: Alerts,
}

impl Publisher {
    pub fn new(tx: watch::Sender<Arc<View>>, every: Duration, source: Source) -> Publisher {
        Publisher {
            tx,
            every,
            source,
            seq: 0,
            last: None,
            tap: None,
            api: false,
            alerts: Alerts::new(AlertRules::default(), VIEW_ALERTS),
        }
    }

    /// Raises alerts by these rules (by default: gaps, stale, resyncs).
    pub fn with_alerts(mut self, rules: AlertRules) -> Publisher {
        self.alerts = Alerts::new(rules, VIEW_ALERTS);
        self
    }

    /// Watches one more price level (the screen's prompt).
    pub fn add_price_alert(&mut self, level: PriceLevel) {
        self.alerts.add_price(level);
    }

    /// Also sends every trade the engine takes in to `tx` ([`Self::after_frame`]).
    pub fn with_events(mut self, tx: broadcast::Sender<Arc<TapEvent>>) -> Publisher {
        self.tap = Some(EventTap::new(tx));
        self
    }

    /// An API reads these views (when its event stream is not attached here).
    pub fn with_api(mut self, on: bool) -> Publisher {
        self.api = on;
        self
    }

    /// Does an API read these views (an event stream is attached, or [`Self::with_api`])?
    /// What only the API shows (the Prometheus buckets) is computed only then.
    pub fn serves_api(&self) -> bool {
        self.tap.is_some() || self.api
    }

    /// After each frame the engine took (see [`EventTap::after_frame`]).
    pub fn after_frame(&mut self, engine: &Engine) {
        if let Some(tap) = self.tap.as_mut() {
            tap.after_frame(engine);
        }
    }

    /// Time for another view?
    pub fn due(&self) -> bool {
        self.last.is_none_or(|t| t.elapsed() >= self.every)
    }

    /// Builds and sends the next view (numbered, with the source and the publish time).
    pub fn publish(&mut self, engine: &Engine, x: Extras<'_>) {
        self.seq += 1;
        let stamp = Stamp {
            seq: self.seq,
            published_ns: microstate_io::ingest::now_nanos().0,
            source: self.source.clone(),
        };
        let mut v = view(engine, x, stamp);
        apply_alerts(&mut self.alerts, &mut v);
        self.last = Some(Instant::now());
        self.tx.send_replace(Arc::new(v));
    }

    /// Nobody is watching any more (the screen closed).
    pub fn closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Latency stages for the screen: window percentiles and log-spaced buckets of each.
pub fn stage_views(l: &Latency, now_ns: u64) -> Vec<StageView> {
    // Each stage's window histogram merged once, for its percentiles and its buckets alike.
    Stage::ALL
        .iter()
        .filter_map(|&stage| {
            let (r, h) = l.report(stage, now_ns)?;
            Some(stage_view(stage.name(), &r, &h))
        })
        .collect()
}

/// Every stage's since-start histogram in the fixed bounds of [`LATENCY_BOUNDS_NS`], for
/// Prometheus (stages with no sample are left out).
pub fn stage_buckets(l: &Latency) -> Vec<StageBuckets> {
    Stage::ALL
        .iter()
        .filter_map(|&stage| {
            let h = &l.stage(stage)?.total;
            if h.is_empty() {
                return None;
            }
            // One pass over the recorded values only (not a count per bound: that walks the
            // whole histogram for each).
            let mut per = vec![0u64; LATENCY_BOUNDS_NS.len()];
            for v in h.iter_recorded() {
                let i = LATENCY_BOUNDS_NS.partition_point(|&b| b < v.value_iterated_to());
                if let Some(c) = per.get_mut(i) {
                    *c += v.count_at_value();
                }
            }
            let mut sum = 0;
            let buckets = per
                .into_iter()
                .map(|c| {
                    sum += c;
                    sum
                })
                .collect();
            Some(StageBuckets {
                name: stage.name(),
                count: h.len(),
                sum_ns: h.mean() * h.len() as f64,
                buckets,
            })
        })
        .collect()
}

/// One stage for the screen: the window's percentiles (since start when the window is empty)
/// and up to 12 log-spaced buckets.
pub fn stage_view(name: &str, r: &StageReport, h: &hdrhistogram::Histogram<u64>) -> StageView {
    let p = if r.window.count > 0 {
        r.window
    } else {
        r.total
    };
    let mut buckets = Vec::new();
    if !h.is_empty() {
        let (lo, hi) = (h.min().max(1) as f64, h.max().max(2) as f64);
        let steps = 12usize;
        let ratio = (hi / lo).powf(1.0 / steps as f64).max(1.000_001);
        let mut below = h.count_between(0, lo as u64 - 1);
        let mut ub = lo;
        for _ in 0..steps {
            ub *= ratio;
            let c = h.count_between(0, ub as u64);
            buckets.push((ub as u64, c.saturating_sub(below)));
            below = c;
        }
    }
    let name = match r.negative {
        Some(n) if n > 0 => format!("{name} ({n} < 0)"),
        _ => name.to_string(),
    };
    StageView {
        name,
        count: p.count,
        p50: p.p50,
        p90: p.p90,
        p99: p.p99,
        p999: p.p999,
        max: p.max,
        buckets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microstate_core::engine::{EngineConfig, RawFrame};
    use microstate_core::num::Nanos;

    fn trade(id: u64) -> String {
        format!(
            r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":{id},"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}}}"#
        )
    }

    #[test]
    fn a_view_shares_the_history_and_the_engine_writes_around_it() {
        let mut engine = Engine::new(EngineConfig::default());
        let feed = |e: &mut Engine, id: u64| {
            e.on_frame(RawFrame {
                recv: Nanos(1_000 + id),
                bytes: trade(id).as_bytes(),
                symbol_hint: None,
            })
            .expect("a trade");
        };
        feed(&mut engine, 1);
        let v = view(&engine, Extras::default(), Stamp::default());
        let shown = &v.symbols[0].history;
        assert!(
            Arc::ptr_eq(shown, &engine.symbols()[0].history),
            "publishing copies no history"
        );
        assert_eq!(shown.trades.len(), 1);
        // A frame that adds nothing (a duplicate trade) leaves the shared history alone...
        feed(&mut engine, 1);
        assert!(Arc::ptr_eq(shown, &engine.symbols()[0].history));
        // ...one that adds a trade writes to a copy: the view keeps what it showed.
        feed(&mut engine, 2);
        assert!(!Arc::ptr_eq(shown, &engine.symbols()[0].history));
        assert_eq!(shown.trades.len(), 1);
        assert_eq!(engine.symbols()[0].history.trades.len(), 2);
        // With no view holding it, the engine writes in place.
        drop(v);
        let before = Arc::as_ptr(&engine.symbols()[0].history);
        feed(&mut engine, 3);
        assert_eq!(Arc::as_ptr(&engine.symbols()[0].history), before);
    }
}
