//! The `View`: a small, trimmed snapshot of the engine for the screen, and the recent history
//! the screen draws (mid and microprice samples, trades, resting-size columns for the heatmap).
//!
//! Owns: what the screen may see (the history it draws is recorded by
//! [`crate::engine::history`]). Must not touch: clocks (times are the frames' receive times: recording time in a
//! replay, wall time live), I/O, the screen itself. The UI gets an `Arc<View>` through a watch
//! channel and never locks engine state; building one copies the top levels of each book and
//! shares the history with the engine through an `Arc` (see [`crate::engine::history`]), never a
//! whole book.

use std::sync::Arc;

use crate::alerts::Alert;
use crate::book::sync::Phase;
use crate::engine::SymbolState;
use crate::engine::history::{History, mid_micro};
use crate::features::{FeatureParams, FeatureVector};
use crate::ml::context::ContextOutput;
use crate::num::{Price, Symbol};
use crate::tape::{TapeRow, VolumeAtPrice, tape, volume_at_price};
use crate::wire::Level;

/// Levels per side copied into a view (the ladder shows at most this many).
pub const VIEW_LEVELS: usize = 60;
/// Tape rows (taker orders, newest first) copied into a view.
pub const TAPE_ROWS: usize = 60;
/// Prices with traded volume copied into a view (those nearest the mid).
pub const VOLUME_PRICES: usize = 200;
/// Recent alerts copied into a view.
pub const VIEW_ALERTS: usize = 20;

/// Where the data comes from, for the status bar.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Source {
    #[default]
    None,
    Live {
        endpoint: String,
    },
    Demo {
        capture: String,
    },
    Replay {
        files: String,
    },
}

/// A model's output, or why there is none.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelView<T> {
    /// Not available, and why (said plainly on screen).
    Missing(String),
    Ready(T),
}

impl<T> Default for ModelView<T> {
    fn default() -> Self {
        ModelView::Missing("not built yet".into())
    }
}

/// One symbol as the screen sees it.
#[derive(Clone, Debug)]
pub struct SymbolView {
    pub symbol: Symbol,
    pub market: String,
    pub phase: Phase,
    /// No depth update for the configured stale time (live only).
    pub stale: bool,
    pub gaps: u64,
    pub resyncs: u64,
    pub applied: u64,
    /// REST snapshots fed to the book's sync (used, or ignored while synced).
    pub snapshots: u64,
    pub trades: u64,
    pub last_update_id: u64,
    /// Receive time of the last depth update (ns).
    pub last_depth_recv_ns: u64,
    /// Best first, exact.
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    /// Smallest price step seen between adjacent levels (the tick, as far as the book shows),
    /// exact, and as a float for drawing.
    /// Live, when exchangeInfo answered: its `PRICE_FILTER` `tickSize` instead (see
    /// [`Self::tick_listed`]); every price formatter uses these.
    pub tick_exact: Option<Price>,
    pub tick: Option<f64>,
    /// The tick is the venue's (exchangeInfo), not inferred from the book.
    pub tick_listed: bool,
    pub mid: Option<f64>,
    pub microprice: Option<f64>,
    pub spread: Option<f64>,
    /// `(B − A)/(B + A)` over the top 1, 5, 10 levels.
    pub imbalance: [Option<f64>; 3],
    pub history: Arc<History>,
    /// Time & sales: the newest [`TAPE_ROWS`] taker orders, newest first.
    pub tape: Vec<TapeRow>,
    /// Traded volume per exact price over the trades the history holds (received at or after
    /// `volume_since_ns`), highest price first, at most [`VOLUME_PRICES`] around the mid.
    pub volume: Vec<VolumeAtPrice>,
    pub volume_since_ns: u64,
    /// The feature engine's latest values for the screen (`None`: features off).
    pub features: Option<FeatureView>,
    /// The whole latest feature vector and the parameters that name its keys (`None`:
    /// features off), for the API's `--features-jsonl`-shaped answer. A copy of a few hundred
    /// bytes per symbol per view.
    pub feature_vector: Option<(FeatureParams, FeatureVector)>,
    /// Diffs after which the book was crossed (best bid ≥ best ask).
    pub crossed_events: u64,
    /// Times a whole feature vector has been computed (changes when the vector does).
    pub feature_updates: u64,
    pub pressure: ModelView<PressureView>,
    pub context: ModelView<ContextView>,
    pub interpretation: ModelView<InterpretationView>,
}

impl SymbolView {
    /// What alerts are evaluated on.
    pub fn look(&self) -> crate::alerts::Look<'_> {
        crate::alerts::Look {
            symbol: self.symbol,
            history: &self.history,
            imbalance: self.imbalance,
            gaps: self.gaps,
            resyncs: self.resyncs,
            stale: self.stale,
        }
    }
}

/// A few of the features, as the screen shows them; `None` where invalid (after a gap, until
/// the window refills).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FeatureView {
    /// Window labels (`1s`, `10s`, `60s`).
    pub windows: [String; 3],
    /// Imbalance over levels 1, 5, 10 and depth-weighted.
    pub imbalance: [Option<f64>; 4],
    /// Best-level OFI normalized by average depth, per window.
    pub ofi_norm: [Option<f64>; 3],
    /// Multi-level OFI normalized, per window.
    pub mlofi_norm: [Option<f64>; 3],
    /// Realized volatility per window (bps) and the EWMA volatility (bps per √s).
    pub rv_bps: [Option<f64>; 3],
    pub ewma_vol: Option<f64>,
    /// Trades per second and volume imbalance per window.
    pub trade_rate: [Option<f64>; 3],
    pub volume_imbalance: [Option<f64>; 3],
    /// Everything valid (no window spans a gap).
    pub all_valid: bool,
}

/// The ≈1 s pressure model's output (P7).
#[derive(Clone, Debug, PartialEq)]
pub struct PressureView {
    pub p_up: f64,
    pub p_flat: f64,
    pub p_down: f64,
    /// The top class when its direction is shown, else "—".
    pub label: String,
    pub hit_rate: Option<f64>,
    /// Why no direction is shown (inputs out of range, no live edge yet or now); `None` when
    /// it is.
    pub quiet: Option<String>,
    /// The live edge over the best baseline, one line (`None` before anything resolved).
    pub edge: Option<String>,
    /// Weights taken in from the online learner so far.
    pub updates: u64,
}

/// The 15–30 min context, in two parts named for what they are: the *trend* describes what the
/// last minutes did; the *forecast* gives a range for what the next minutes may do, and a
/// direction only where the model showed skill out of sample.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextView {
    /// The trend label the interpretation reads (at [`Self::horizon_min`]).
    pub label: String,
    pub horizon_min: u32,
    /// One per horizon (15, 30 min).
    pub trend: Vec<TrendView>,
    pub forecast: Vec<ForecastView>,
    /// The minute history behind it, for a person (`240 min held, 231 fetched`).
    pub history: String,
    /// Where the fetched minutes came from, when the driver knows and it matters to a person
    /// (`synthetic history`: the demo's exchange has no real klines of its capture's time).
    pub history_source: Option<String>,
}

/// What the last `horizon_min` minutes did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendView {
    pub horizon_min: u32,
    /// `BULLISH` / `NEUTRAL` / `BEARISH` (with hysteresis).
    pub label: String,
    /// The move in units of a typical move of that length now.
    pub z: f64,
    pub move_bps: f64,
}

/// What the next `horizon_min` minutes may do.
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastView {
    pub horizon_min: u32,
    pub drift_bps: f64,
    /// Central 68 % and 95 % ranges of the return, bps.
    pub range_68_bps: [f64; 2],
    pub range_95_bps: [f64; 2],
    /// The directional call, only where the model showed skill out of sample.
    pub call: Option<String>,
    /// Why there is no call, or on what the call rests.
    pub call_note: String,
}

impl ContextView {
    /// From a ready context output; `label_index` picks the trend the interpretation reads.
    pub fn of(
        out: &ContextOutput,
        label_index: usize,
        state: &crate::ml::context::ContextState,
    ) -> Option<ContextView> {
        let ContextOutput::Ready { trend, forecasts } = out else {
            return None;
        };
        let head = trend.get(label_index).or(trend.first())?;
        Some(ContextView {
            label: head.label.as_str().to_string(),
            horizon_min: head.horizon_min,
            trend: trend
                .iter()
                .map(|t| TrendView {
                    horizon_min: t.horizon_min,
                    label: t.label.as_str().to_string(),
                    z: t.z,
                    move_bps: t.move_bps,
                })
                .collect(),
            forecast: forecasts
                .iter()
                .map(|f| ForecastView {
                    horizon_min: f.horizon_min,
                    drift_bps: f.drift * 1e4,
                    range_68_bps: [f.range_68[0] * 1e4, f.range_68[1] * 1e4],
                    range_95_bps: [f.range_95[0] * 1e4, f.range_95[1] * 1e4],
                    call: f.call.map(|l| l.as_str().to_string()),
                    call_note: match f.basis {
                        crate::ml::context::CallBasis::NoSkill => {
                            "no direction: no out-of-sample skill".into()
                        }
                        crate::ml::context::CallBasis::SkillShown => {
                            "direction: skill shown out of sample".into()
                        }
                    },
                })
                .collect(),
            history: history_text(state),
            history_source: None,
        })
    }
}

/// `240 min held` or `240 min held, 231 fetched`.
pub fn history_text(state: &crate::ml::context::ContextState) -> String {
    match state.seeded {
        0 => format!("{} min held", state.history_minutes()),
        n => format!("{} min held, {n} fetched", state.history_minutes()),
    }
}

/// The deterministic reading of pressure × context (P7).
#[derive(Clone, Debug, PartialEq)]
pub struct InterpretationView {
    pub label: String,
    pub reasons: Vec<String>,
}

/// Recording state, for the status bar.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordingView {
    pub path: String,
    pub bytes: u64,
    pub dropped: u64,
    pub failures: u64,
    pub last_error: Option<String>,
}

/// One WebSocket connection a live session reads: the primary of its slot, or the successor
/// it is switching over to. What has been taken in from it, so a caller that knows what the
/// server sent (the local exchange's per-connection counts) can tell when everything is in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionView {
    /// The URL it was opened on.
    pub url: String,
    /// Its place among the connections of its slot that came up: 1 for the first, 2 after a
    /// reconnect or a switch-over, … (the order the server accepted them in).
    pub nth: u64,
    /// A successor whose frames are held back until it takes over.
    pub pending: bool,
    /// Text frames the driver has taken off its queue from this connection (fed to the
    /// engine, or held while pending).
    pub frames: u64,
}

/// Replay state, for the status bar.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayView {
    pub speed: String,
    pub paused: bool,
    pub done: bool,
    pub first_ns: Option<u64>,
    pub position_ns: Option<u64>,
    /// Receive time of the recording's last frame, where the files say it cheaply (the chunk
    /// index of `.msrec` files); `None` for captures without an index.
    pub last_ns: Option<u64>,
}

/// A live session's connection and request counters, for the API's metrics (all since the
/// session started).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveCounters {
    pub frames_received: u64,
    /// Frames shed because the engine queue was full.
    pub frames_shed: u64,
    pub snapshot_requests: u64,
    pub snapshot_errors: u64,
    pub rest_429: u64,
    pub rest_418: u64,
    /// Connections opened after the first of each slot (reconnects and switch-overs).
    pub reconnects: u64,
    /// Unplanned disconnects.
    pub disconnects: u64,
    /// Times a symbol turned stale.
    pub stale_events: u64,
    /// Frames waiting in the engine's queue when the view was made.
    pub queue_depth: u64,
}

/// One latency stage as a cumulative histogram with fixed bounds, since the start (ns), for
/// Prometheus: `buckets[i]` counts samples ≤ [`LATENCY_BOUNDS_NS`]`[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct StageBuckets {
    pub name: &'static str,
    pub count: u64,
    /// Approximate sum of the samples (ns): HDR's mean × count.
    pub sum_ns: f64,
    pub buckets: Vec<u64>,
}

/// The fixed bucket bounds of [`StageBuckets`] (ns): 1 µs to 10 s, 1-2.5-5 steps.
pub const LATENCY_BOUNDS_NS: [u64; 22] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Percentiles of one latency stage (ns).
#[derive(Clone, Debug, PartialEq)]
pub struct StageView {
    pub name: String,
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    /// (upper bound ns, count) buckets for the histogram drawing.
    pub buckets: Vec<(u64, u64)>,
}

/// Everything the screen draws, at one moment.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// Increases with every publish.
    pub seq: u64,
    /// Wall time the view was published (ns), for the view→drawn stage.
    pub published_ns: u64,
    /// The data clock: wall time live, the replay position in a replay (ns).
    pub now_ns: u64,
    pub source: Source,
    /// Connection state, for a person ("up", "reconnecting: …").
    pub connection: String,
    /// The connections a live session reads, slot by slot (empty in a replay).
    pub connections: Vec<ConnectionView>,
    /// Exchange − local clock, ns, and its round trip, when measured.
    pub clock_offset: Option<(i64, u64)>,
    /// Which estimate is in use: `active` (time endpoint) or `passive` (receive − E envelope).
    pub clock_source: String,
    pub symbols: Vec<SymbolView>,
    pub frames: u64,
    pub errors: u64,
    pub recording: Option<RecordingView>,
    pub replay: Option<ReplayView>,
    /// Latency stages; empty until measured (P6).
    pub latency: Vec<StageView>,
    /// Bounds that turned input away so far (`[limits]`); `tripped()` names
    /// them for the screen ([`crate::limits::LimitCounters::tripped`]).
    pub limits: crate::limits::LimitCounters,
    /// The same stages as fixed-bound histograms since the start, for Prometheus (refreshed
    /// with [`Self::latency`], not every view).
    pub latency_buckets: Arc<Vec<StageBuckets>>,
    /// A live session's counters (`None` in a replay).
    pub live: Option<LiveCounters>,
    /// The newest alerts (at most [`VIEW_ALERTS`]), oldest first, and how many were raised in
    /// all (the screen rings the bell when it grows).
    pub alerts: Vec<Alert>,
    pub alerts_raised: u64,
    /// Live: every symbol the venue's exchangeInfo lists as trading (what a symbol added while
    /// running is checked against and completed from); empty when it could not be asked, and
    /// in replays.
    pub listed: Arc<Vec<Symbol>>,
    /// Live: network refusals the session counted (frames about symbols nobody subscribed to,
    /// REST snapshots the book could not use).
    pub refused: Refused,
}

/// What a live session's network gave that it turned away, for the Connection panel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refused {
    /// Frames about a symbol that was not subscribed (dropped, no book made).
    pub unsolicited: u64,
    /// REST snapshots that could not be used (unparseable, or for the wrong symbol).
    pub snapshots_unusable: u64,
}

/// One symbol as the screen sees it: the top [`VIEW_LEVELS`] of each side, the numbers drawn
/// from them, the history (shared, not copied), features and model outputs. `stale` is the
/// driver's judgement (live only). The whole [`View`] is put together by the drive crate's
/// `publish` module.
pub fn symbol_view(st: &SymbolState, stale: bool) -> SymbolView {
    let book = st.book();
    let synced = st.sync.is_synced();
    let (bids, asks) = if synced {
        let mut bids = vec![Level::default(); VIEW_LEVELS];
        let mut asks = vec![Level::default(); VIEW_LEVELS];
        let (nb, na) = book.top_both_into(&mut bids, &mut asks);
        bids.truncate(nb);
        asks.truncate(na);
        (bids, asks)
    } else {
        (Vec::new(), Vec::new())
    };
    let tick_exact = bids
        .windows(2)
        .map(|w| w[0].price.0 - w[1].price.0)
        .chain(asks.windows(2).map(|w| w[1].price.0 - w[0].price.0))
        .chain(match (bids.first(), asks.first()) {
            (Some(b), Some(a)) if a.price > b.price => Some(a.price.0 - b.price.0),
            _ => None,
        })
        .filter(|d| *d > 0)
        .min()
        .map(Price);
    let (mid, micro) = match (synced, mid_micro(book)) {
        (true, Some((m, u))) => (Some(m), Some(u)),
        _ => (None, None),
    };
    let imb = |n: usize| {
        let b: f64 = bids.iter().take(n).map(|l| l.qty.to_f64()).sum();
        let a: f64 = asks.iter().take(n).map(|l| l.qty.to_f64()).sum();
        (b + a > 0.0).then(|| (b - a) / (b + a))
    };
    let mid_exact = match (bids.first(), asks.first()) {
        (Some(b), Some(a)) => Some(Price(b.price.0 / 2 + a.price.0 / 2)),
        _ => None,
    };
    let c = st.sync.counters();
    SymbolView {
        symbol: st.symbol,
        market: st.market.map_or("unknown", |m| m.as_str()).to_string(),
        phase: st.sync.phase(),
        stale,
        gaps: c.gaps,
        resyncs: c.resyncs,
        applied: c.applied,
        snapshots: c.snapshots,
        trades: st.trades,
        last_update_id: book.last_update_id,
        last_depth_recv_ns: st.last_depth_recv.0,
        spread: match (bids.first(), asks.first()) {
            (Some(b), Some(a)) => Some(a.price.to_f64() - b.price.to_f64()),
            _ => None,
        },
        imbalance: [imb(1), imb(5), imb(10)],
        tick: tick_exact.map(Price::to_f64),
        tick_exact,
        tick_listed: false,
        mid,
        microprice: micro,
        bids,
        asks,
        tape: tape(st.history.trades.iter(), TAPE_ROWS),
        volume: volume_at_price(&st.history.trades, 0, mid_exact, VOLUME_PRICES),
        volume_since_ns: st.history.trades.front().map_or(0, |t| t.t_ns),
        history: Arc::clone(&st.history),
        feature_vector: st.features().map(|f| (*f.params(), f.vector().clone())),
        crossed_events: c.crossed_events,
        feature_updates: st.features().map_or(0, |f| f.updates()),
        features: st.features().map(|f| {
            use crate::features::schema::idx;
            let v = f.vector();
            let w3 = |base: usize| [v.get(base), v.get(base + 1), v.get(base + 2)];
            let windows = f
                .params()
                .windows_ns
                .map(|ns| crate::units::format_duration(std::time::Duration::from_nanos(ns)));
            FeatureView {
                windows,
                imbalance: [
                    v.get(idx::IMBALANCE),
                    v.get(idx::IMBALANCE + 1),
                    v.get(idx::IMBALANCE + 2),
                    v.get(idx::IMBALANCE + 4),
                ],
                ofi_norm: w3(idx::OFI_NORM),
                mlofi_norm: w3(idx::MLOFI_NORM),
                rv_bps: w3(idx::RV),
                ewma_vol: v.get(idx::EWMA_VOL),
                trade_rate: w3(idx::TRADE_RATE),
                volume_imbalance: w3(idx::VOLUME_IMBALANCE),
                all_valid: (0..crate::features::schema::N_FEATURES).all(|i| v.is_valid(i)),
            }
        }),
        pressure: match st.signals.as_deref() {
            Some(sig) => match (&sig.pressure, sig.pressure_missing()) {
                (Some(p), _) => {
                    let (class, _) = p.top();
                    let quiet = sig.pressure_quiet().map(str::to_string);
                    ModelView::Ready(PressureView {
                        p_down: f64::from(p.probs[0]),
                        p_flat: f64::from(p.probs[1]),
                        p_up: f64::from(p.probs[2]),
                        label: if quiet.is_none() {
                            class.as_str().to_string()
                        } else {
                            "—".to_string()
                        },
                        hit_rate: sig.score.as_ref().and_then(|s| s.report().hit_rate),
                        quiet,
                        edge: sig.pressure_edge().map(|e| {
                            format!(
                                "edge {:+.3} vs {} (Brier {:.3} vs {:.3}, last {})",
                                e.edge,
                                e.best_baseline_name,
                                e.model_brier,
                                e.best_baseline_brier,
                                e.n
                            )
                        }),
                        updates: sig.pressure_updates(),
                    })
                }
                (None, why) => ModelView::Missing(format!(
                    "pressure model not loaded: {}",
                    why.unwrap_or("no output yet")
                )),
            },
            None => ModelView::Missing("pressure model not loaded: no models given".into()),
        },
        context: match st.signals.as_deref() {
            Some(sig) => match (&sig.context, sig.context_missing()) {
                (_, Some(why)) => ModelView::Missing(format!("context model not loaded: {why}")),
                (Some(out @ ContextOutput::Ready { .. }), None) => {
                    match ContextView::of(out, sig.context_label_index(), sig.context_state()) {
                        Some(v) => ModelView::Ready(v),
                        None => ModelView::Missing("no forecast".into()),
                    }
                }
                (Some(ContextOutput::WarmingUp { minutes_left }), None) => {
                    ModelView::Missing(format!("warming up ({minutes_left} min)"))
                }
                (None, None) => ModelView::Missing(format!(
                    "warming up ({} min of mid history so far)",
                    sig.minutes
                )),
            },
            None => ModelView::Missing("context model not loaded: no models given".into()),
        },
        interpretation: match st
            .signals
            .as_deref()
            .and_then(|s| s.interpretation.as_ref())
        {
            Some(i) => ModelView::Ready(InterpretationView {
                label: i.label.clone(),
                reasons: i.reasons.clone(),
            }),
            None => ModelView::Missing("needs the pressure and context models".into()),
        },
    }
}
