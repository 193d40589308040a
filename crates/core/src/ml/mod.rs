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
//! - [`label`]: the pressure label rule (DOWN / FLAT / UP beyond a dead band).
//! - [`pressure`]: the ≈1 s order-book pressure model (scale-free inputs, label rule, the
//!   out-of-range guard, weights published by an online learner).
//! - [`prequential`]: live test-then-train scoring of the model beside its baselines (the live
//!   edge), and the queue of resolved samples an online learner drains ([`prequential::PressureLearner`]).
//! - [`signals`]: the models per symbol on the engine's path (throttling, scoring, health).
//! - [`interpret`]: the deterministic table that turns model outputs and data health into words.

pub mod classifier;
pub mod context;
pub mod dist;
pub mod fast;
pub mod interpret;
pub mod label;
pub mod meta;
pub mod prequential;
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
        "no model at {path} (train one with `microstate-tui train {schema}`, or give `--models DIR`, a folder holding one)"
    )]
    Missing { path: PathBuf, schema: String },
    #[error("{0}")]
    Data(String),
}

/// The pressure label's dead band: a mid change smaller than this is FLAT. Written `"1tick"`
/// (ticks of the symbol's price grid), `"0.5bps"` (basis points of the mid), `"1spread"`
/// (the bid–ask spread when the prediction is made) or `"0.5vol"` (the EWMA volatility scaled
/// to the label horizon, `ewma_vol · √horizon`, when the prediction is made).
///
/// Ticks and bps mean different things on different symbols (a tick is 0.002 bps of BTCUSDT
/// and 10 bps of a small alt); spreads and volatility scale with the market, so a model
/// labelled with them carries across symbols.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DeadBand {
    Ticks(f64),
    Bps(f64),
    Spreads(f64),
    Vol(f64),
}

/// What a dead band is measured against at the moment of a prediction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BandRef {
    pub mid: f64,
    /// The symbol's price tick (price units).
    pub tick: f64,
    /// Best ask − best bid (price units).
    pub spread: f64,
    /// EWMA volatility of the mid, bps per √s (the `ewma_vol` feature).
    pub ewma_vol: f64,
    /// Label horizon, ns.
    pub horizon_ns: u64,
}

impl DeadBand {
    /// Width of the band in price units at the moment described by `r`; `None` when what
    /// it scales with is unknown (no tick yet, the volatility not valid yet, a non-positive
    /// mid or spread).
    pub fn width(self, r: &BandRef) -> Option<f64> {
        let pos = |x: f64| x.is_finite() && x > 0.0;
        if !pos(r.mid) {
            return None;
        }
        match self {
            DeadBand::Ticks(n) => pos(r.tick).then_some(n * r.tick),
            DeadBand::Bps(b) => Some(b * 1e-4 * r.mid),
            DeadBand::Spreads(k) => pos(r.spread).then_some(k * r.spread),
            DeadBand::Vol(k) => (r.ewma_vol.is_finite() && r.ewma_vol >= 0.0)
                .then(|| k * r.ewma_vol * 1e-4 * (r.horizon_ns as f64 / 1e9).sqrt() * r.mid),
        }
    }

    pub fn parse(s: &str) -> Result<DeadBand, String> {
        let t = s.trim();
        let (num, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
            Some(i) => (&t[..i], &t[i..]),
            None => (t, ""),
        };
        let v: f64 = num.trim().parse().map_err(|_| {
            format!(
                "{s:?} is not a dead band like \"1tick\", \"0.5bps\", \"1spread\" or \"0.5vol\""
            )
        })?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(format!("{s:?}: the dead band must be zero or positive"));
        }
        match unit {
            "tick" | "ticks" => Ok(DeadBand::Ticks(v)),
            "bp" | "bps" => Ok(DeadBand::Bps(v)),
            "spread" | "spreads" => Ok(DeadBand::Spreads(v)),
            "vol" => Ok(DeadBand::Vol(v)),
            _ => Err(format!(
                "{s:?}: unknown unit {unit:?} (use ticks, bps, spread or vol, e.g. \"1tick\", \"0.5bps\", \"1spread\", \"0.5vol\")"
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
            DeadBand::Spreads(v) => write!(f, "{v}spread"),
            DeadBand::Vol(v) => write!(f, "{v}vol"),
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
        assert_eq!(DeadBand::parse("1spread"), Ok(DeadBand::Spreads(1.0)));
        assert_eq!(DeadBand::parse("0.5vol"), Ok(DeadBand::Vol(0.5)));
        for d in [
            DeadBand::Ticks(1.0),
            DeadBand::Ticks(2.5),
            DeadBand::Bps(0.5),
            DeadBand::Spreads(0.5),
            DeadBand::Vol(0.25),
        ] {
            assert_eq!(DeadBand::parse(&d.to_string()), Ok(d));
        }
    }

    #[test]
    fn band_widths_scale_with_what_they_name() {
        let r = BandRef {
            mid: 10_000.0,
            tick: 0.01,
            spread: 0.5,
            ewma_vol: 2.0,
            horizon_ns: 4_000_000_000,
        };
        let w = |b: DeadBand| b.width(&r).unwrap();
        assert!((w(DeadBand::Ticks(2.0)) - 0.02).abs() < 1e-12);
        assert!((w(DeadBand::Bps(1.0)) - 1.0).abs() < 1e-12);
        assert!((w(DeadBand::Spreads(0.5)) - 0.25).abs() < 1e-12);
        // 0.5 · 2 bps/√s · √4 s = 2 bps of 10,000 = 2.0.
        assert!((w(DeadBand::Vol(0.5)) - 2.0).abs() < 1e-12);
        // The same band on a market twice as volatile is twice as wide.
        let r2 = BandRef { ewma_vol: 4.0, ..r };
        assert!((DeadBand::Vol(0.5).width(&r2).unwrap() - 4.0).abs() < 1e-12);
        let unknown = BandRef {
            tick: 0.0,
            spread: f64::NAN,
            ewma_vol: f64::NAN,
            ..r
        };
        assert_eq!(DeadBand::Ticks(1.0).width(&unknown), None);
        assert_eq!(DeadBand::Spreads(1.0).width(&unknown), None);
        assert_eq!(DeadBand::Vol(1.0).width(&unknown), None);
    }
}
