//! The in-process models at run time: weights as plain numbers, the allocation-free inference
//! path, the pressure and price-context models, live scoring, the per-symbol signals and the
//! interpretation that turns them into words. One home for everything the engine runs.
//!
//! Owns: model weights and metadata, feature scaling, the inference path, the context features
//! and the context state fed one minute at a time, the pressure inputs and label rule, the
//! interpretation table. Must not touch: candle and training (the train crate), files (the io
//! crate reads and writes model folders), clocks (timestamps arrive with the samples), the
//! screen.
//!
//! Layout:
//! - [`weights`]: an MLP's architecture and weights as plain `f32`s, training settings.
//! - [`scaler`]: per-input standardisation, fitted on training data only.
//! - [`fast`]: the forward pass by hand on plain `Vec<f32>`s, no allocation per call.
//! - [`classifier`]: the multi-class head (softmax, temperature, metrics) the pressure model uses.
//! - [`meta`]: the metadata beside each model's weights, and the schema check on load.
//! - [`context`]: the price-context model (features, [`context::ContextState`] and its seeding,
//!   the trend with hysteresis → BULLISH / NEUTRAL / BEARISH, calibrated forecast ranges).
//! - [`dist`]: normal and Student-t densities, CDFs, quantiles and the t fit the forecast uses.
//! - [`pressure`]: the ≈1 s order-book pressure model (inputs, label rule, live scoring).
//! - [`signals`]: the models per symbol on the engine's path (throttling, scoring, health).
//! - [`interpret`]: the deterministic table that turns model outputs and data health into words.

pub mod classifier;
pub mod context;
pub mod dist;
pub mod fast;
pub mod interpret;
pub mod meta;
pub mod pressure;
pub mod scaler;
pub mod signals;
pub mod weights;

use std::path::PathBuf;

/// Anything that can go wrong building, training, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {msg}")]
    Meta { path: PathBuf, msg: String },
    /// The model on disk was made for other inputs than this build computes.
    #[error(
        "{path}: the model does not match this build: {what}: the model has {model}, this build has {build}. Retrain it with `microstate-tui train {schema}` (or use a model made by this version)"
    )]
    SchemaMismatch {
        path: PathBuf,
        schema: String,
        what: &'static str,
        model: String,
        build: String,
    },
    #[error("{path}: weight `{name}`: {msg}")]
    Weights {
        path: PathBuf,
        name: String,
        msg: String,
    },
    /// No model where one was looked for: the rest of the program keeps working without it.
    #[error(
        "no model at {path} (train one with `microstate-tui train {schema}`, or point --model at a folder holding one)"
    )]
    Missing { path: PathBuf, schema: String },
    #[error("{0}")]
    Data(String),
}

/// The pressure label's dead band: a mid change smaller than this is FLAT. Written `"1tick"`
/// (ticks of the symbol's price grid) or `"0.5bps"` (basis points of the mid).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DeadBand {
    Ticks(f64),
    Bps(f64),
}

impl DeadBand {
    pub fn parse(s: &str) -> Result<DeadBand, String> {
        let t = s.trim();
        let (num, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
            Some(i) => (&t[..i], &t[i..]),
            None => (t, ""),
        };
        let v: f64 = num.trim().parse().map_err(|_| {
            format!("{s:?} is not a dead band like \"1tick\", \"2ticks\" or \"0.5bps\"")
        })?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(format!("{s:?}: the dead band must be zero or positive"));
        }
        match unit {
            "tick" | "ticks" => Ok(DeadBand::Ticks(v)),
            "bp" | "bps" => Ok(DeadBand::Bps(v)),
            _ => Err(format!(
                "{s:?}: unknown unit {unit:?} (use ticks or bps, e.g. \"1tick\", \"0.5bps\")"
            )),
        }
    }
}

impl std::fmt::Display for DeadBand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeadBand::Ticks(v) if *v == 1.0 => write!(f, "1tick"),
            DeadBand::Ticks(v) => write!(f, "{v}ticks"),
            DeadBand::Bps(v) => write!(f, "{v}bps"),
        }
    }
}

impl serde::Serialize for DeadBand {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for DeadBand {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DeadBand::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_bands() {
        assert_eq!(DeadBand::parse("1tick"), Ok(DeadBand::Ticks(1.0)));
        assert_eq!(DeadBand::parse("2 ticks"), Ok(DeadBand::Ticks(2.0)));
        assert_eq!(DeadBand::parse("0.5bps"), Ok(DeadBand::Bps(0.5)));
        assert!(DeadBand::parse("1pip").is_err());
        assert!(DeadBand::parse("-1bps").is_err());
        assert!(DeadBand::parse("lots").is_err());
        for d in [
            DeadBand::Ticks(1.0),
            DeadBand::Ticks(2.5),
            DeadBand::Bps(0.5),
        ] {
            assert_eq!(DeadBand::parse(&d.to_string()), Ok(d));
        }
    }
}
