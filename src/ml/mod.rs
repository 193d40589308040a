//! The in-process models: a small generic MLP (training with candle, inference by hand), the
//! price-context model, their metadata, scaling and calibration.
//!
//! Owns: model weights and metadata, feature scaling, training loops, the allocation-free
//! inference path, the context features and the context state fed one minute at a time.
//! Must not touch: clocks (timestamps arrive with the samples), sockets, the screen. The only I/O
//! is in the explicit `save`/`load` functions (and [`context_train`]'s dataset loading from
//! kline files), called from the binary's edge, never from the live path.
//!
//! Layout:
//! - [`scaler`]: per-input standardisation, fitted on training data only.
//! - [`mlp`]: the candle-nn MLP (a logistic model is the same code with no hidden layer),
//!   seeded initialisation, AdamW training with early stopping, safetensors save/load.
//! - [`fast`]: the same forward pass by hand on plain `Vec<f32>`s, no allocation per call: what
//!   runs live.
//! - [`classifier`]: the multi-class head (softmax, temperature calibration, metrics) the
//!   pressure model uses.
//! - [`meta`]: the metadata TOML beside each safetensors file, and the schema check on load.
//! - [`context`]: the price-context model (features, [`context::ContextState`], Gaussian head
//!   → BULLISH / NEUTRAL / BEARISH).
//! - [`pressure`]: the ≈1 s order-book pressure model at run time (inputs, label rule, live
//!   scoring); [`pressure_train`]: its datasets from captures, training and evaluation.
//! - [`context_train`]: datasets from kline files, chronological splits, training, evaluation
//!   against baselines.
//!
//! Threads: candle's CPU matmul reads `RAYON_NUM_THREADS` on every call; with more than one
//! thread every small matmul pays a rayon wake-up (BUILD-NOTES trap 1). The binary sets it to 1
//! first thing in `main`; the live path does not use candle at all ([`fast`]).

pub mod classifier;
pub mod context;
pub mod context_train;
pub mod fast;
pub mod meta;
pub mod mlp;
pub mod pressure;
pub mod pressure_train;
pub mod scaler;

use std::path::PathBuf;

/// Anything that can go wrong building, training, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
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

/// The CPU device (the only one this build uses).
pub(crate) fn cpu() -> candle_core::Device {
    candle_core::Device::Cpu
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
