//! `GET /metrics`: Prometheus text format (0.0.4) through the Prometheus project's Rust client,
//! every name prefixed `microstate_`.
//!
//! Owns: the metric names, help texts and labels. Must not touch: the engine — everything is
//! read at scrape time from the latest published view (counters the engine and driver already
//! keep) and from the API's own counters; nothing is counted on the hot path for metrics.
//!
//! Cardinality is bounded: per-symbol labels only for the session's symbols, at most
//! [`MAX_SYMBOL_LABELS`] of them; latency stages are a fixed set with fixed bucket bounds.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use microstate_core::view::{LATENCY_BOUNDS_NS, View};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::{ApiCounters, AppState, Shared};

/// Symbols given their own label values; more (a session with hundreds) are summed only.
pub const MAX_SYMBOL_LABELS: usize = 64;

/// Reads the view and the API counters at each scrape.
#[derive(Debug)]
struct ViewCollector(Arc<Shared>);

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    let m = e.encode_descriptor(name, help, None, c.metric_type())?;
    c.encode(m)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    let m = e.encode_descriptor(name, help, None, g.metric_type())?;
    g.encode(m)
}

/// One metric per symbol (label `symbol`).
fn per_symbol(
    e: &mut DescriptorEncoder,
    v: &View,
    name: &str,
    help: &str,
    kind: MetricType,
    f: impl Fn(&microstate_core::view::SymbolView) -> u64,
) -> std::fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, kind)?;
    for sv in v.symbols.iter().take(MAX_SYMBOL_LABELS) {
        let labels = [("symbol", sv.symbol.as_str())];
        let fam = m.encode_family(&labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(f(sv)).encode(fam)?,
            _ => ConstGauge::new(f(sv) as i64).encode(fam)?,
        }
    }
    Ok(())
}

impl Collector for ViewCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let v = self.0.view();
        let e = &mut e;
        counter(
            e,
            "frames",
            "WebSocket frames offered to the engine",
            v.frames,
        )?;
        counter(
            e,
            "frame_errors",
            "Frames the engine refused (malformed)",
            v.errors,
        )?;
        use MetricType::{Counter, Gauge};
        per_symbol(
            e,
            &v,
            "diffs_applied",
            "Depth diffs applied to the book",
            Counter,
            |s| s.applied,
        )?;
        per_symbol(
            e,
            &v,
            "gaps",
            "Breaks in the update-id chain",
            Counter,
            |s| s.gaps,
        )?;
        per_symbol(
            e,
            &v,
            "resyncs",
            "Times the book became synced again after a gap",
            Counter,
            |s| s.resyncs,
        )?;
        per_symbol(
            e,
            &v,
            "crossed_events",
            "Diffs after which the book was crossed",
            Counter,
            |s| s.crossed_events,
        )?;
        per_symbol(
            e,
            &v,
            "snapshots",
            "REST snapshots fed to the book's sync",
            Counter,
            |s| s.snapshots,
        )?;
        per_symbol(e, &v, "trades", "Trades taken in", Counter, |s| s.trades)?;
        per_symbol(
            e,
            &v,
            "synced",
            "1 while the book is provably continuous",
            Gauge,
            |s| u64::from(s.phase == microstate_core::book::sync::Phase::Synced && !s.stale),
        )?;
        per_symbol(
            e,
            &v,
            "stale",
            "1 while the symbol has had no depth update for the stale time",
            Gauge,
            |s| u64::from(s.stale),
        )?;
        gauge(
            e,
            "stale_symbols",
            "Symbols with no depth update for the stale time",
            v.symbols.iter().filter(|s| s.stale).count() as i64,
        )?;
        gauge(
            e,
            "symbols",
            "Symbols in the session",
            v.symbols.len() as i64,
        )?;
        if let Some(l) = &v.live {
            counter(
                e,
                "frames_received",
                "Frames received from the sockets",
                l.frames_received,
            )?;
            counter(
                e,
                "frames_shed",
                "Frames shed because the engine queue was full",
                l.frames_shed,
            )?;
            counter(
                e,
                "snapshot_requests",
                "REST depth snapshot requests",
                l.snapshot_requests,
            )?;
            counter(
                e,
                "snapshot_errors",
                "REST depth snapshot requests that failed",
                l.snapshot_errors,
            )?;
            counter(
                e,
                "rest_429",
                "REST answers 429 (request weight exceeded)",
                l.rest_429,
            )?;
            counter(e, "rest_418", "REST answers 418 (IP banned)", l.rest_418)?;
            counter(
                e,
                "reconnects",
                "Connections opened after a slot's first (reconnects, switch-overs)",
                l.reconnects,
            )?;
            counter(e, "disconnects", "Unplanned disconnects", l.disconnects)?;
            counter(
                e,
                "stale_events",
                "Times a symbol turned stale",
                l.stale_events,
            )?;
            gauge(
                e,
                "queue_depth",
                "Frames waiting in the engine queue",
                l.queue_depth as i64,
            )?;
        }
        if let Some(r) = &v.recording {
            gauge(
                e,
                "recording_file_bytes",
                "Bytes in the current recording file",
                r.bytes as i64,
            )?;
            counter(
                e,
                "recording_dropped",
                "Records dropped (the writer's queue was full)",
                r.dropped,
            )?;
            counter(
                e,
                "recording_errors",
                "Recording write failures",
                r.failures,
            )?;
        }
        let c = &self.0.counters;
        let g = ApiCounters::get;
        gauge(
            e,
            "api_clients",
            "WebSocket clients connected",
            g(&c.clients) as i64,
        )?;
        counter(
            e,
            "api_clients_connected",
            "WebSocket clients accepted",
            g(&c.clients_total),
        )?;
        counter(
            e,
            "api_clients_dropped",
            "WebSocket clients disconnected for being too slow",
            g(&c.dropped_slow),
        )?;
        counter(
            e,
            "api_clients_refused",
            "WebSocket clients refused (too many)",
            g(&c.refused),
        )?;
        counter(
            e,
            "api_messages_sent",
            "WebSocket messages queued to clients",
            g(&c.messages_sent),
        )?;
        counter(
            e,
            "api_messages_skipped",
            "WebSocket messages a slow client did not get (conflated or dropped)",
            g(&c.messages_skipped),
        )?;
        counter(
            e,
            "api_events_lagged",
            "Trades a client's task fell too far behind to receive",
            g(&c.events_lagged),
        )?;
        counter(
            e,
            "api_http_requests",
            "HTTP requests (all endpoints)",
            g(&c.http_requests),
        )?;
        counter(
            e,
            "api_http_unauthorized",
            "HTTP requests refused for a missing or wrong token",
            g(&c.http_unauthorized),
        )?;
        let bounds: Vec<f64> = LATENCY_BOUNDS_NS.iter().map(|&b| b as f64 / 1e9).collect();
        let mut m = e.encode_descriptor(
            "stage_latency_seconds",
            "Per-stage latency since the start (the screen's stages)",
            None,
            MetricType::Histogram,
        )?;
        for st in v.latency_buckets.iter() {
            // Per-bucket counts from the cumulative ones (the encoder sums them again).
            let mut prev = 0;
            let buckets: Vec<(f64, u64)> = bounds
                .iter()
                .zip(&st.buckets)
                .map(|(&b, &c)| {
                    let d = c.saturating_sub(prev);
                    prev = c;
                    (b, d)
                })
                .collect();
            let labels = [("stage", st.name)];
            let mut fam = m.encode_family(&labels)?;
            fam.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                st.sum_ns / 1e9,
                st.count,
                &buckets,
                None,
            )?;
        }
        Ok(())
    }
}

/// The registry for one server (the collector reads `shared` at every scrape).
pub fn registry(shared: Arc<Shared>) -> Registry {
    let mut r = Registry::with_prefix("microstate");
    r.register_collector(Box::new(ViewCollector(shared)));
    r
}

pub async fn serve(State(s): State<AppState>) -> Response {
    let reg = registry(Arc::clone(&s));
    let mut out = String::with_capacity(8 * 1024);
    match prometheus_client::encoding::prometheus_text::encode(&mut out, &reg) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            out,
        )
            .into_response(),
        Err(_) => crate::rest::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "encoding the metrics failed",
        ),
    }
}
