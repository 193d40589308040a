//! The models on the live path, per symbol: the price-context model over the mid sampled at
//! each minute boundary of event time, the interpretation of its output with the pressure
//! model's and the data's health.
//!
//! Owns: each symbol's [`ContextState`], the latest model outputs and the interpretation.
//! Must not touch: files (models are loaded by the drivers and handed in as [`Models`]), clocks
//! (time is the feature vector's event time), the screen.
//!
//! The signals stay independent and meet only here, in [`crate::ml::interpret`]: no ensembling, no
//! horizon mixing.

use std::sync::Arc;

use crate::features::FeatureVector;
use crate::features::schema::idx;
use crate::ml::context::{ContextModel, ContextOutput, ContextState, SeedOutcome};
use crate::ml::interpret::{self, ContextInput, Health, Interpretation, PressureInput, Thresholds};
use crate::ml::pressure::{PressureModel, PressureScorer};

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
            context_label: 0,
            max_gap_fill_min: 5,
            thresholds: Thresholds {
                min_pressure_confidence: 0.5,
            },
        }
    }
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
    next_pressure_ns: u64,
    /// Live scoring of the pressure predictions once their horizon has passed.
    pub score: Option<PressureScorer>,
    was_synced: bool,
    pub interpretation: Option<Interpretation>,
    /// Minutes pushed into the context history.
    pub minutes: u64,
}

impl Signals {
    pub fn new(models: Arc<Models>) -> Signals {
        Signals {
            context_model: models.context.as_ref().ok().cloned(),
            state: ContextState::new(models.max_gap_fill_min),
            minute: None,
            last_mid: f64::NAN,
            context: None,
            pressure_model: models.pressure.as_ref().ok().cloned(),
            pressure: None,
            pressure_why: models.pressure.as_ref().err().cloned(),
            next_pressure_ns: 0,
            score: models.pressure.as_ref().ok().map(|p| {
                PressureScorer::new(
                    p.horizon_ns(),
                    p.dead_band(),
                    models.score_window,
                    models.score_buckets,
                )
            }),
            was_synced: false,
            interpretation: None,
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
            sc.on_mid(ts, mid, v.get(idx::TICK).unwrap_or(0.0));
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
        match (model.predict(v), mid) {
            (Some(probs), Some(mid)) => {
                self.pressure = Some(PressureInput { probs });
                self.pressure_why = None;
                if let Some(sc) = self.score.as_mut() {
                    sc.on_prediction(ts, mid, probs);
                }
            }
            _ => {
                self.pressure = None;
                self.pressure_why =
                    Some("inputs invalid (after a gap, until the 1 s window refills)".into());
            }
        }
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
        let health = Health {
            stale: false,
            resyncing: !synced,
            context_warming_min: warming,
            pressure_missing: self.pressure_missing().map(str::to_string),
            context_missing: self.context_missing().map(str::to_string),
        };
        self.interpretation = Some(interpret::interpret(
            self.pressure.as_ref(),
            context.as_ref(),
            &health,
            &self.models.thresholds,
        ));
    }
}
