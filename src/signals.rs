//! The models on the live path, per symbol: the price-context model over the mid sampled at
//! each minute boundary of event time, the interpretation of its output with the pressure
//! model's and the data's health.
//!
//! Owns: each symbol's [`ContextState`], the latest model outputs and the interpretation.
//! Must not touch: files (models are loaded by the drivers and handed in as [`Models`]), clocks
//! (time is the feature vector's event time), the screen.
//!
//! The signals stay independent and meet only here, in [`crate::interpret`]: no ensembling, no
//! horizon mixing.

use std::sync::Arc;

use crate::features::FeatureVector;
use crate::features::schema::idx;
use crate::interpret::{self, ContextInput, Health, Interpretation, PressureInput, Thresholds};
use crate::ml::context::{ContextModel, ContextOutput, ContextState};

/// The loaded models (or why each is missing), shared by every symbol.
#[derive(Clone, Debug)]
pub struct Models {
    pub context: Result<ContextModel, String>,
    /// Why there is no pressure model output.
    pub pressure_missing: String,
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
            pressure_missing: why.to_string(),
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
    pub pressure: Option<PressureInput>,
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
            pressure: None,
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
        self.pressure
            .is_none()
            .then_some(self.models.pressure_missing.as_str())
    }

    /// A new feature vector; `synced` says whether the book is continuous.
    pub fn on_features(&mut self, v: &FeatureVector, synced: bool) {
        let ts_ms = (v.ts_ns() / 1_000_000) as i64;
        let minute = ts_ms - ts_ms.rem_euclid(60_000);
        match self.minute {
            Some(m) if minute > m => {
                // The minute `m` closed: its last mid is its close.
                if self.last_mid.is_finite() {
                    self.state.push(m, self.last_mid);
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
        if let Some(mid) = v.get(idx::MID) {
            self.last_mid = mid;
        }
        self.interpret(synced);
    }

    fn interpret(&mut self, synced: bool) {
        let warming = match &self.context {
            Some(ContextOutput::WarmingUp { minutes_left }) => Some(*minutes_left),
            None if self.context_model.is_some() => Some(self.state.warming_minutes_left()),
            _ => None,
        };
        let context = match &self.context {
            Some(ContextOutput::Ready { forecasts }) => forecasts
                .get(self.models.context_label)
                .map(|f| ContextInput {
                    label: f.label,
                    confidence: f.confidence,
                    horizon_min: f.horizon_min,
                }),
            _ => None,
        };
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
