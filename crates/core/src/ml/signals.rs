//! The models on the live path, per symbol: the price-context model over the mid sampled at
//! each minute boundary of event time, the pressure model with its out-of-range guard and its
//! live edge over the baselines, and the interpretation of both with the data's health.
//!
//! Owns: each symbol's [`ContextState`], the pressure model's weights for this symbol (the
//! prior, then whatever an online learner publishes), the prequential scorer, the decision to
//! show a pressure direction or to stay quiet and why, staleness as the data shows it, the
//! latest model outputs and the interpretation. Must not touch: files (models are loaded by the
//! drivers and handed in as [`Models`]), clocks (time is the feature vector's event time; the
//! driver may say a symbol is stale by its own clock through [`Signals::set_stale`]), threads
//! and candle (a learner is reached only through the samples drained here and the weights
//! handed back), the screen.
//!
//! The signals stay independent and meet only here, in [`crate::ml::interpret`]: no ensembling, no
//! horizon mixing.
//!
//! When the pressure direction is shown: the inputs are inside what training saw (the guard:
//! fewer than `guard_share` of the last `guard_window` predictions had an input far outside
//! its training range), at least `edge_min_scored` predictions have been scored, and over the
//! last `edge_window` of them the model's Brier beats the best baseline's by more than
//! `min_edge`. Otherwise the probabilities are still computed and scored (so the edge can come
//! back), but the screen and the interpretation say why there is no direction.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::features::schema::idx;
use crate::features::{EventKind, FeatureVector};
use crate::ml::context::{ContextModel, ContextOutput, ContextState, SeedOutcome};
use crate::ml::interpret::{self, ContextInput, Health, Interpretation, PressureInput, Thresholds};
use crate::ml::prequential::{EdgeReport, PREDICTOR_NAMES, ResolvedSample, ScorerOptions};
use crate::ml::pressure::{PressureModel, PressureScorer, band_ref};
use crate::ml::weights::Weights;

/// When the pressure direction is held back, and what is kept for a learner (from
/// `[models.pressure]`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PressureGate {
    /// Resolved predictions in the live edge.
    pub edge_window: usize,
    /// No direction before this many predictions have been scored.
    pub edge_min_scored: usize,
    /// A direction only while the edge (best baseline's Brier − the model's) exceeds this.
    pub min_edge: f64,
    /// An input is out of range beyond this many widths of its training range.
    pub guard_tolerance: f32,
    /// The guard looks at the last this many predictions…
    pub guard_window: usize,
    /// …and holds the direction back while at least this share of them was out of range.
    pub guard_share: f64,
    /// Resolved samples kept for an online learner (0: none attached, none kept).
    pub learn_queue: usize,
}

impl Default for PressureGate {
    fn default() -> Self {
        PressureGate {
            edge_window: 1000,
            edge_min_scored: 200,
            min_edge: 0.0,
            guard_tolerance: 1.0,
            guard_window: 20,
            guard_share: 0.5,
            learn_queue: 0,
        }
    }
}

/// The loaded models (or why each is missing), shared by every symbol.
#[derive(Clone, Debug)]
pub struct Models {
    pub context: Result<ContextModel, String>,
    pub pressure: Result<PressureModel, String>,
    /// Pressure inference at most this often per symbol (event time, ns; 0 = every update).
    pub pressure_throttle_ns: u64,
    /// Live scoring: predictions kept in the window, calibration buckets.
    pub score_window: usize,
    pub score_buckets: usize,
    /// When the pressure direction is shown.
    pub pressure_gate: PressureGate,
    /// A symbol whose last depth update is older than this (event time) is stale.
    pub stale_after_ns: u64,
    /// Index of the context horizon that labels (into `HORIZONS_MIN`).
    pub context_label: usize,
    /// Gap in minutes the context history bridges by carrying the price forward.
    pub max_gap_fill_min: u64,
    pub thresholds: Thresholds,
}

impl Models {
    /// No models (tests, benches): every output says why.
    pub fn none(why: &str) -> Models {
        Models {
            context: Err(why.to_string()),
            pressure: Err(why.to_string()),
            pressure_throttle_ns: 100_000_000,
            score_window: 1000,
            score_buckets: 10,
            pressure_gate: PressureGate::default(),
            stale_after_ns: 5_000_000_000,
            context_label: 0,
            max_gap_fill_min: 5,
            thresholds: Thresholds {
                min_pressure_confidence: 0.5,
            },
        }
    }
}

/// The guard's state: which of the last predictions had an input far outside training.
#[derive(Clone, Debug, Default)]
struct Guard {
    recent: VecDeque<bool>,
    out: usize,
    /// The last input found out of range: (name, value, lo, hi).
    last: Option<(String, f32, f32, f32)>,
}

/// One symbol's model state and outputs.
#[derive(Clone, Debug)]
pub struct Signals {
    models: Arc<Models>,
    context_model: Option<ContextModel>,
    state: ContextState,
    /// Minute (event time, ms since the epoch at the minute's start) being sampled, and the
    /// last mid seen in it.
    minute: Option<i64>,
    last_mid: f64,
    pub context: Option<ContextOutput>,
    pressure_model: Option<PressureModel>,
    /// The latest pressure output (None while its inputs are invalid).
    pub pressure: Option<PressureInput>,
    /// Why there is no pressure output now.
    pressure_why: Option<String>,
    /// Why the latest output's direction is not shown (out of range, no live edge).
    pressure_quiet: Option<String>,
    guard: Guard,
    next_pressure_ns: u64,
    /// Live scoring of the pressure predictions once their horizon has passed.
    pub score: Option<PressureScorer>,
    was_synced: bool,
    /// Stale as the driver's clock says ([`Signals::set_stale`]) and as event time says (no
    /// depth update within `stale_after` while other events of the symbol arrive).
    stale_clock: bool,
    stale_event: bool,
    last_depth_ns: u64,
    pub interpretation: Option<Interpretation>,
    /// The inputs `interpretation` was made from (see [`Signals::interpret`]).
    interpreted_from: Option<(Option<PressureInput>, Option<ContextInput>, Health)>,
    /// Minutes pushed into the context history.
    pub minutes: u64,
}

impl Signals {
    pub fn new(models: Arc<Models>) -> Signals {
        let g = models.pressure_gate;
        Signals {
            context_model: models.context.as_ref().ok().cloned(),
            state: ContextState::new(models.max_gap_fill_min),
            minute: None,
            last_mid: f64::NAN,
            context: None,
            pressure_model: models.pressure.as_ref().ok().cloned(),
            pressure: None,
            pressure_why: models.pressure.as_ref().err().cloned(),
            pressure_quiet: None,
            guard: Guard::default(),
            next_pressure_ns: 0,
            score: models.pressure.as_ref().ok().map(|p| {
                PressureScorer::new(
                    ScorerOptions {
                        horizon_ns: p.horizon_ns(),
                        window: models.score_window,
                        buckets: models.score_buckets,
                        edge_window: g.edge_window,
                        queue: g.learn_queue,
                    },
                    p.baselines().clone(),
                )
            }),
            was_synced: false,
            stale_clock: false,
            stale_event: false,
            last_depth_ns: 0,
            interpretation: None,
            interpreted_from: None,
            minutes: 0,
            models,
        }
    }

    /// Why the context model is missing, if it is.
    pub fn context_missing(&self) -> Option<&str> {
        self.models.context.as_ref().err().map(String::as_str)
    }

    pub fn pressure_missing(&self) -> Option<&str> {
        if self.pressure.is_some() {
            return None;
        }
        Some(self.pressure_why.as_deref().unwrap_or("no output yet"))
    }

    /// Seeds the context history from fetched minute prices (`(minute_ms, price)`, the price
    /// at that minute boundary — a 1-minute kline's close at `open_time + 1 min`), see
    /// [`ContextState::seed`], and evaluates the context at once.
    pub fn seed_context(&mut self, minutes: &[(i64, f64)]) -> SeedOutcome {
        let out = self.state.seed(minutes);
        self.minutes += out.added;
        if let Some(model) = self.context_model.as_mut() {
            self.context = Some(model.evaluate(&mut self.state));
        }
        self.interpret(self.was_synced);
        out
    }

    /// Index of the horizon whose trend the interpretation reads.
    pub fn context_label_index(&self) -> usize {
        self.models.context_label
    }

    /// The context's minute history (read-only).
    pub fn context_state(&self) -> &ContextState {
        &self.state
    }

    /// Why the pressure direction is held back now (`None`: it is shown, or there is no output).
    pub fn pressure_quiet(&self) -> Option<&str> {
        self.pressure.as_ref().and(self.pressure_quiet.as_deref())
    }

    /// Whether the screen shows the pressure direction now.
    pub fn pressure_shown(&self) -> bool {
        self.pressure.is_some() && self.pressure_quiet.is_none()
    }

    /// The model against its baselines over the last resolved predictions.
    pub fn pressure_edge(&self) -> Option<EdgeReport> {
        self.score.as_ref().and_then(PressureScorer::edge)
    }

    /// Weights published by a learner taken in so far.
    pub fn pressure_updates(&self) -> u64 {
        self.pressure_model.as_ref().map_or(0, |m| m.updates)
    }

    /// Whether the book is stale (by the driver's clock or by event time).
    pub fn stale(&self) -> bool {
        self.stale_clock || self.stale_event
    }

    /// The driver's word on staleness (its clock: no depth frame within `stale_after`);
    /// re-reads the interpretation at once, since no feature update may come while stale.
    pub fn set_stale(&mut self, stale: bool) {
        if self.stale_clock != stale {
            self.stale_clock = stale;
            let synced = self.was_synced;
            self.interpret(synced);
        }
    }

    /// Hands every resolved, labelled sample waiting for a learner to `f` (oldest first).
    pub fn drain_resolved(&mut self, f: impl FnMut(&ResolvedSample)) {
        if let Some(s) = self.score.as_mut() {
            s.drain(f);
        }
    }

    /// Takes in weights a learner published for this symbol (see
    /// [`crate::ml::pressure::PressureModel::set_weights`]); `false` when they do not fit.
    pub fn set_pressure_weights(&mut self, w: &Weights) -> bool {
        self.pressure_model
            .as_mut()
            .is_some_and(|m| m.set_weights(w))
    }

    /// A new feature vector; `synced` says whether the book is continuous.
    pub fn on_features(&mut self, v: &FeatureVector, synced: bool) {
        let ts_ms = (v.ts_ns() / 1_000_000) as i64;
        let minute = ts_ms - ts_ms.rem_euclid(60_000);
        match self.minute {
            Some(m) if minute > m => {
                // The minute `m` closed: its last mid is the price at its end, the boundary
                // `m + 1 min` (where a kline's close sits, so seeded history lines up).
                if self.last_mid.is_finite() {
                    self.state
                        .push(m + crate::ml::context::MINUTE_MS, self.last_mid);
                    self.minutes += 1;
                    if let Some(model) = self.context_model.as_mut() {
                        self.context = Some(model.evaluate(&mut self.state));
                    }
                }
                self.minute = Some(minute);
            }
            None => self.minute = Some(minute),
            _ => {}
        }
        if v.event() == EventKind::Depth || self.last_depth_ns == 0 {
            self.last_depth_ns = v.ts_ns();
        }
        self.stale_event =
            v.ts_ns().saturating_sub(self.last_depth_ns) > self.models.stale_after_ns;
        let mid = v.get(idx::MID);
        if let Some(mid) = mid {
            self.last_mid = mid;
        }
        self.on_pressure(v, mid, synced);
        self.interpret(synced);
    }

    fn on_pressure(&mut self, v: &FeatureVector, mid: Option<f64>, synced: bool) {
        let Some(model) = self.pressure_model.as_mut() else {
            return;
        };
        let ts = v.ts_ns();
        if self.was_synced && !synced {
            // A gap: outcomes across it cannot be known.
            if let Some(sc) = self.score.as_mut() {
                sc.reset();
            }
        }
        self.was_synced = synced;
        if let (Some(sc), Some(mid)) = (self.score.as_mut(), mid) {
            sc.on_mid(ts, mid);
        }
        if !synced {
            self.pressure = None;
            self.pressure_why = Some("book resyncing".into());
            return;
        }
        if ts < self.next_pressure_ns {
            return;
        }
        self.next_pressure_ns = ts.saturating_add(self.models.pressure_throttle_ns);
        let Some((probs, mid)) = model.predict(v).zip(mid) else {
            self.pressure = None;
            self.pressure_why = Some(
                "inputs invalid (after a gap, until the 1 s window and the volatility refill)"
                    .into(),
            );
            return;
        };
        let g = self.models.pressure_gate;
        // The guard: the share of recent predictions with an input far outside training.
        let oor = model.out_of_range(g.guard_tolerance);
        if let Some(o) = oor {
            let name = model
                .inputs()
                .names()
                .get(o.input)
                .cloned()
                .unwrap_or_default();
            self.guard.last = Some((name, o.value, o.lo, o.hi));
        }
        self.guard.recent.push_back(oor.is_some());
        self.guard.out += usize::from(oor.is_some());
        while self.guard.recent.len() > g.guard_window.max(1) {
            if self.guard.recent.pop_front() == Some(true) {
                self.guard.out -= 1;
            }
        }
        let guarded = self.guard.out as f64 >= g.guard_share * self.guard.recent.len() as f64
            && self.guard.out > 0;
        let edge = self.score.as_ref().and_then(PressureScorer::edge_now);
        self.pressure_quiet = if guarded {
            Some(match &self.guard.last {
                Some((name, x, lo, hi)) => {
                    format!("inputs out of range ({name} {x:.2}, training {lo:.2} to {hi:.2})")
                }
                None => "inputs out of range".into(),
            })
        } else {
            match edge {
                Some((n, model_brier, best, best_brier)) if n as usize >= g.edge_min_scored.max(1) => {
                    (best_brier - model_brier <= g.min_edge).then(|| {
                        format!(
                            "no edge now (Brier {model_brier:.2} vs {best_brier:.2} for {} over the last {})",
                            PREDICTOR_NAMES[best],
                            thousands(n)
                        )
                    })
                }
                e => Some(format!(
                    "no edge yet ({} of {} predictions scored)",
                    e.map_or(0, |e| e.0),
                    g.edge_min_scored.max(1)
                )),
            }
        };
        let shown = self.pressure_quiet.is_none();
        let width = band_ref(v, model.horizon_ns()).and_then(|r| model.dead_band().width(&r));
        if let (Some(sc), Some(width)) = (self.score.as_mut(), width) {
            let imb = v.get(idx::IMBALANCE).unwrap_or(0.0) as f32;
            let micro = v.get(idx::MICRO_MINUS_MID).unwrap_or(0.0) as f32;
            sc.on_prediction(
                ts,
                mid,
                width,
                probs,
                imb,
                micro,
                model.last_inputs(),
                shown,
                guarded,
            );
        }
        self.pressure = Some(PressureInput { probs });
        self.pressure_why = None;
    }

    /// The interpretation made afresh from the current inputs (as of the last feature update
    /// or staleness change), never kept from an earlier one: what [`Self::interpretation`]
    /// must always equal (tests check it after every frame of a real capture).
    pub fn interpretation_recomputed(&self) -> Option<Interpretation> {
        let (_, _, h) = self.interpreted_from.as_ref()?;
        let mut fresh = self.clone();
        fresh.interpreted_from = None;
        fresh.interpret(!h.resyncing);
        fresh.interpretation
    }

    fn interpret(&mut self, synced: bool) {
        let warming = match &self.context {
            Some(ContextOutput::WarmingUp { minutes_left }) => Some(*minutes_left),
            None if self.context_model.is_some() => Some(self.state.warming_minutes_left()),
            _ => None,
        };
        // The table reads the trend (what the last minutes did), not the forecast.
        let context = self
            .context
            .as_ref()
            .and_then(|c| ContextInput::of(c, self.models.context_label));
        // The interpretation is a pure function of these inputs, which change seldom (the
        // pressure is throttled, the context moves once a minute): the same inputs (floats by
        // their bits) keep the interpretation already made, without formatting it again on
        // every feature update.
        if let Some((p, c, h)) = &self.interpreted_from
            && self.interpretation.is_some()
            && same_pressure(p.as_ref(), self.pressure.as_ref())
            && same_context(c.as_ref(), context.as_ref())
            && h.stale == self.stale()
            && h.resyncing != synced
            && h.context_warming_min == warming
            && h.pressure_missing.as_deref() == self.pressure_missing()
            && h.context_missing.as_deref() == self.context_missing()
            && h.pressure_quiet.as_deref() == self.pressure_quiet()
        {
            return;
        }
        let health = Health {
            stale: self.stale(),
            resyncing: !synced,
            context_warming_min: warming,
            pressure_missing: self.pressure_missing().map(str::to_string),
            context_missing: self.context_missing().map(str::to_string),
            pressure_quiet: self.pressure_quiet().map(str::to_string),
        };
        self.interpretation = Some(interpret::interpret(
            self.pressure.as_ref(),
            context.as_ref(),
            &health,
            &self.models.thresholds,
        ));
        self.interpreted_from = Some((self.pressure, context, health));
    }
}

/// Equal pressure inputs, floats compared by their bits (so `-0.0` and `0.0`, which format
/// differently, are not taken for one another).
fn same_pressure(a: Option<&PressureInput>, b: Option<&PressureInput>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.probs.map(f32::to_bits) == b.probs.map(f32::to_bits),
        _ => false,
    }
}

/// Equal context inputs, floats compared by their bits.
fn same_context(a: Option<&ContextInput>, b: Option<&ContextInput>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.label == b.label
                && a.horizon_min == b.horizon_min
                && a.confidence.to_bits() == b.confidence.to_bits()
        }
        _ => false,
    }
}

/// `1000` → `1,000`.
fn thousands(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
