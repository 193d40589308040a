//! The ≈1 s order-book pressure model at run time: inputs from the feature vector that mean the
//! same on any symbol and market, calibrated DOWN / FLAT / UP probabilities, the shared label
//! rule, the out-of-range guard, and the weights an online learner publishes.
//!
//! Owns: which features the model reads and how (the input list, [`PressureInputs`]), the label
//! function used by both training (the train crate's `pressure`) and live scoring ([`label`]),
//! the allocation-free inference path ([`PressureModel::predict`]), the training ranges of the
//! inputs and the check against them ([`PressureModel::out_of_range`]), the baselines'
//! parameters stored with the model. Must not touch: clocks (every time is event time carried by
//! the data), sockets, the screen, candle. The only I/O is in the io crate's `models`.
//!
//! Inputs (version [`INPUTS_VERSION`]): ten numbers that mean the same on any symbol and
//! market, from the book now and the order flow and price path of the first two windows (1 s
//! and 10 s by default):
//! - level-1 imbalance `(B − A)/(B + A)` and microprice − mid in units of the spread;
//! - per window: order-flow imbalance over average depth, best level and multi-level, in
//!   signed-log form ([`slog`]); the mid return and its realized volatility in units of the
//!   recent (EWMA) volatility scaled to the window.
//!
//! Nothing whose scale belongs to one symbol or market: no prices, quantities, notionals, raw
//! OFI, event rates, returns in bps, tick or spread sizes. And no slow regime descriptors
//! (60 s windows, volatility against the spread, activity ratios, spread regime, burstiness):
//! with a handful of captures each of them tells a model *which capture it is in*, and it
//! learns that capture's base rates instead of pressure. Measured leaving whole captures out
//! (models/README.md): the full 50-input list of the first draft scored Brier 0.52–0.58 on the
//! captures left out, this list 0.475, the level-1 imbalance logistic 0.496. Every input is
//! *required*: inside a gap, right after a resync, and until the 10 s window and the EWMA
//! volatility are valid again there is no prediction.

use std::path::Path;

use super::MlError;
use super::classifier::Classifier;
use super::meta::{Expected, ModelMeta};
use super::prequential::BaselineParams;
use super::weights::Weights;
use super::{BandRef, DeadBand};
use crate::features::schema::{FEATURE_SCHEMA_VERSION, Schema, idx};
use crate::features::{FeatureParams, FeatureVector};

pub use super::prequential::{CalibrationBucket, PressureScorer, ScoreReport};

/// Schema name in the model metadata.
pub const SCHEMA: &str = "pressure";
/// Version of the input list below (the metadata's `schema_version`). 1 read raw event rates
/// and bps returns; 2 reads only scale-free inputs. Bump on any change of the inputs' order,
/// meaning or count, and on any change of the feature schema they read.
pub const INPUTS_VERSION: u32 = 2;
const _: () = assert!(
    FEATURE_SCHEMA_VERSION == 1,
    "the feature schema changed: review the pressure inputs and bump INPUTS_VERSION"
);
pub use super::label::{CLASSES, DOWN, FLAT, UP, label};

/// What the dead band of a prediction at `v` is measured against (mid, tick, spread, EWMA
/// volatility); `None` without a valid mid.
pub fn band_ref(v: &FeatureVector, horizon_ns: u64) -> Option<BandRef> {
    Some(BandRef {
        mid: v.get(idx::MID)?,
        tick: v.get(idx::TICK).unwrap_or(f64::NAN),
        spread: v.get(idx::SPREAD).unwrap_or(f64::NAN),
        ewma_vol: v.get(idx::EWMA_VOL).unwrap_or(f64::NAN),
        horizon_ns,
    })
}

/// Where one model input comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Src {
    /// A feature that must be valid (a ratio already: level-1 imbalance).
    Required(usize),
    /// (microprice − mid) / spread, in [−½, ½].
    MicroOverSpread {
        micro_minus_mid: usize,
        spread: usize,
    },
    /// A heavy-tailed ratio (OFI over depth) through [`slog`].
    Slog(usize),
    /// A window's return or realized volatility [bps] over the EWMA volatility scaled to the
    /// window (`ewma_vol · √window`); 0 while the volatility is 0 (no mid change yet).
    PerVol { x: usize, vol: usize, sqrt_w: f64 },
}

/// `sign(x) · ln(1 + |x|)`: monotone, about `x` near 0, logarithmic in the tails. Flow over
/// depth summed over a window runs to hundreds on a busy book; in this form one outlier
/// cannot dominate the scaled inputs.
#[inline]
pub fn slog(x: f64) -> f64 {
    x.signum() * x.abs().ln_1p()
}

/// Windows the inputs read (the first two of the feature schema's).
const INPUT_WINDOWS: usize = 2;

/// The model's input list for one feature configuration: names (as saved in the metadata) and
/// how to read each from a [`FeatureVector`].
#[derive(Clone, Debug)]
pub struct PressureInputs {
    names: Vec<String>,
    srcs: Vec<Src>,
}

impl PressureInputs {
    pub fn new(params: &FeatureParams) -> PressureInputs {
        let schema = Schema::new(params);
        let ix = |name: &str| schema.index(name);
        let mut names = Vec::new();
        let mut srcs = Vec::new();
        let mut push = |name: String, src: Src| {
            names.push(name);
            srcs.push(src);
        };
        push("imbalance.1".into(), Src::Required(idx::IMBALANCE));
        push(
            "microprice_minus_mid/spread".into(),
            Src::MicroOverSpread {
                micro_minus_mid: idx::MICRO_MINUS_MID,
                spread: idx::SPREAD,
            },
        );
        for (wi, wl) in schema.windows.iter().enumerate().take(INPUT_WINDOWS) {
            for fam in ["ofi_norm", "mlofi_norm"] {
                if let Some(i) = ix(&format!("{fam}.{wl}")) {
                    push(format!("slog({fam}.{wl})"), Src::Slog(i));
                }
            }
            let sqrt_w = (params.windows_ns[wi] as f64 / 1e9).sqrt();
            for fam in ["ret", "rv"] {
                if let Some(i) = ix(&format!("{fam}.{wl}")) {
                    push(
                        format!("{fam}/vol.{wl}"),
                        Src::PerVol {
                            x: i,
                            vol: idx::EWMA_VOL,
                            sqrt_w,
                        },
                    );
                }
            }
        }
        PressureInputs { names, srcs }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Input names in model order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Fills `out` (at least [`PressureInputs::len`] long) with the raw inputs; `false` (and
    /// `out` unspecified) when an input is invalid or the book is not synced.
    #[inline]
    pub fn extract(&self, v: &FeatureVector, out: &mut [f32]) -> bool {
        if !v.book_valid() || out.len() < self.srcs.len() {
            return false;
        }
        for (o, s) in out.iter_mut().zip(&self.srcs) {
            let x = match *s {
                Src::Required(i) => match v.get(i) {
                    Some(x) if x.is_finite() => x,
                    _ => return false,
                },
                Src::MicroOverSpread {
                    micro_minus_mid,
                    spread,
                } => match (v.get(micro_minus_mid), v.get(spread)) {
                    (Some(m), Some(s)) if s > 0.0 && m.is_finite() => m / s,
                    _ => return false,
                },
                Src::Slog(i) => match v.get(i) {
                    Some(r) if r.is_finite() => slog(r),
                    _ => return false,
                },
                Src::PerVol { x, vol, sqrt_w } => match (v.get(x), v.get(vol)) {
                    (Some(r), Some(s)) if r.is_finite() && s.is_finite() => {
                        let d = s * sqrt_w;
                        if d > 0.0 { r / d } else { 0.0 }
                    }
                    _ => return false,
                },
            };
            *o = x as f32;
        }
        true
    }
}

/// What this build expects of a pressure model for `inputs`.
pub fn expected<'a>(names: &'a [&'a str]) -> Expected<'a> {
    Expected {
        schema: SCHEMA,
        schema_version: INPUTS_VERSION,
        inputs: names,
        outputs: 3,
    }
}

/// Key of the horizon (ns) in the metadata's `details`.
pub const DETAIL_HORIZON_NS: &str = "horizon_ns";
/// Keys of the inputs' training ranges (arrays, one value per input; `lo > hi` where an input
/// was never present in training).
pub const DETAIL_INPUT_LO: &str = "input_lo";
pub const DETAIL_INPUT_HI: &str = "input_hi";
/// Key of the baselines' parameters (a table, see [`baselines_to_toml`]).
pub const DETAIL_BASELINES: &str = "baselines";

/// Where in training an input's values lay: its central quantiles over the training rows.
#[derive(Clone, Debug, PartialEq)]
pub struct InputRanges {
    pub lo: Vec<f32>,
    pub hi: Vec<f32>,
}

/// An input far outside its training range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutOfRange {
    /// Index into the input list.
    pub input: usize,
    pub value: f32,
    pub lo: f32,
    pub hi: f32,
}

/// The baselines' parameters as a metadata table.
pub fn baselines_to_toml(b: &BaselineParams) -> toml::Table {
    let arr =
        |v: &[f32]| toml::Value::Array(v.iter().map(|&x| toml::Value::Float(x as f64)).collect());
    let mut t = toml::Table::new();
    t.insert("class_freq".into(), arr(&b.class_freq));
    t.insert(
        "imbalance_mean".into(),
        toml::Value::Float(b.imbalance_mean as f64),
    );
    t.insert(
        "imbalance_std".into(),
        toml::Value::Float(b.imbalance_std as f64),
    );
    t.insert("imbalance_w".into(), arr(&b.imbalance_w));
    t.insert("imbalance_b".into(), arr(&b.imbalance_b));
    t
}

fn floats(v: Option<&toml::Value>) -> Option<Vec<f32>> {
    v?.as_array()?
        .iter()
        .map(|x| {
            x.as_float()
                .or_else(|| x.as_integer().map(|i| i as f64))
                .map(|f| f as f32)
        })
        .collect()
}

fn three(v: Option<&toml::Value>) -> Option<[f32; 3]> {
    let f = floats(v)?;
    (f.len() == 3).then(|| [f[0], f[1], f[2]])
}

/// The baselines' parameters from a metadata table.
pub fn baselines_from_toml(t: &toml::Table) -> Option<BaselineParams> {
    let one = |k: &str| t.get(k).and_then(|x| x.as_float()).map(|f| f as f32);
    Some(BaselineParams {
        class_freq: three(t.get("class_freq"))?,
        imbalance_mean: one("imbalance_mean")?,
        imbalance_std: one("imbalance_std")?,
        imbalance_w: three(t.get("imbalance_w"))?,
        imbalance_b: three(t.get("imbalance_b"))?,
    })
}

/// The loaded pressure model: input extraction, scaler, weights, temperature; buffers sized once.
#[derive(Clone, Debug)]
pub struct PressureModel {
    pub meta: ModelMeta,
    inputs: PressureInputs,
    clf: Classifier,
    x: Vec<f32>,
    horizon_ns: u64,
    dead_band: DeadBand,
    ranges: InputRanges,
    baselines: BaselineParams,
    /// Weights published by an online learner taken in so far.
    pub updates: u64,
}

impl PressureModel {
    /// A model from its checked metadata and weights for `inputs` (`path` names the metadata
    /// in errors): reads the horizon, dead band, input ranges and baselines from the metadata.
    pub fn from_weights(
        meta: ModelMeta,
        w: &Weights,
        inputs: PressureInputs,
        path: &Path,
    ) -> Result<PressureModel, MlError> {
        let bad = |msg: String| MlError::Meta {
            path: path.to_path_buf(),
            msg,
        };
        let horizon_ns = meta
            .details
            .get(DETAIL_HORIZON_NS)
            .and_then(|v| v.as_integer())
            .filter(|&h| h > 0)
            .ok_or_else(|| {
                bad(format!(
                    "details.{DETAIL_HORIZON_NS} missing or not positive"
                ))
            })? as u64;
        let dead_band = match meta.dead_band.as_deref() {
            Some(s) => DeadBand::parse(s).map_err(bad)?,
            None => return Err(bad("dead_band missing".into())),
        };
        let n = inputs.len();
        let range = |k: &str| {
            floats(meta.details.get(k))
                .filter(|v| v.len() == n)
                .ok_or_else(|| bad(format!("details.{k} missing or not {n} numbers")))
        };
        let ranges = InputRanges {
            lo: range(DETAIL_INPUT_LO)?,
            hi: range(DETAIL_INPUT_HI)?,
        };
        let baselines = meta
            .details
            .get(DETAIL_BASELINES)
            .and_then(|v| v.as_table())
            .and_then(baselines_from_toml)
            .ok_or_else(|| bad(format!("details.{DETAIL_BASELINES} missing or incomplete")))?;
        let t = meta.temperature.unwrap_or(1.0);
        let clf = Classifier::from_parts(&meta.architecture, w, &meta.scaler, t)
            .ok_or_else(|| bad("weights and scaler do not fit the architecture".into()))?;
        Ok(PressureModel::from_parts(
            meta, inputs, clf, horizon_ns, dead_band, ranges, baselines,
        ))
    }

    /// A model from trained parts (training and tests).
    pub fn from_parts(
        meta: ModelMeta,
        inputs: PressureInputs,
        clf: Classifier,
        horizon_ns: u64,
        dead_band: DeadBand,
        ranges: InputRanges,
        baselines: BaselineParams,
    ) -> PressureModel {
        PressureModel {
            x: vec![0.0; inputs.len()],
            meta,
            inputs,
            clf,
            horizon_ns,
            dead_band,
            ranges,
            baselines,
            updates: 0,
        }
    }

    /// Label horizon in ns of event time.
    pub fn horizon_ns(&self) -> u64 {
        self.horizon_ns
    }

    /// The dead band the model was trained with.
    pub fn dead_band(&self) -> DeadBand {
        self.dead_band
    }

    pub fn inputs(&self) -> &PressureInputs {
        &self.inputs
    }

    pub fn ranges(&self) -> &InputRanges {
        &self.ranges
    }

    pub fn baselines(&self) -> &BaselineParams {
        &self.baselines
    }

    pub fn classifier(&self) -> &Classifier {
        &self.clf
    }

    /// The raw inputs of the last successful [`Self::predict`] (or [`Self::predict_inputs`]).
    pub fn last_inputs(&self) -> &[f32] {
        &self.x
    }

    /// Calibrated [P(DOWN), P(FLAT), P(UP)] for a feature vector; None when an input the model
    /// needs is invalid (after a gap, window not refilled). No allocation per call.
    #[inline]
    pub fn predict(&mut self, v: &FeatureVector) -> Option<[f32; 3]> {
        if !self.inputs.extract(v, &mut self.x) {
            return None;
        }
        Some(self.predict_raw_inputs_inner())
    }

    /// The same on already extracted raw inputs (datasets).
    pub fn predict_inputs(&mut self, x: &[f32]) -> [f32; 3] {
        let n = self.x.len().min(x.len());
        self.x[..n].copy_from_slice(&x[..n]);
        self.predict_raw_inputs_inner()
    }

    #[inline]
    fn predict_raw_inputs_inner(&mut self) -> [f32; 3] {
        let p = self.clf.predict(&self.x);
        [
            p.first().copied().unwrap_or(0.0),
            p.get(1).copied().unwrap_or(0.0),
            p.get(2).copied().unwrap_or(0.0),
        ]
    }

    /// The input of the last prediction farthest outside its training range, when one lies
    /// more than `tolerance` range-widths beyond it (`x < lo − t·(hi − lo)` or
    /// `x > hi + t·(hi − lo)`; an input constant in training is out at any other value).
    pub fn out_of_range(&self, tolerance: f32) -> Option<OutOfRange> {
        let mut worst: Option<(f32, OutOfRange)> = None;
        for i in 0..self.x.len() {
            let (lo, hi) = (self.ranges.lo[i], self.ranges.hi[i]);
            // lo > hi (or NaN): never present in training, nothing to hold it against.
            if lo
                .partial_cmp(&hi)
                .is_none_or(|o| o == std::cmp::Ordering::Greater)
            {
                continue;
            }
            let x = self.x[i];
            let slack = tolerance * (hi - lo);
            let beyond = if x < lo - slack {
                lo - slack - x
            } else if x > hi + slack {
                x - hi - slack
            } else {
                continue;
            };
            // Compare in units of the range (constant inputs: of 1).
            let rel = beyond / (hi - lo).max(1e-6);
            if worst.is_none_or(|(r, _)| rel > r) {
                worst = Some((
                    rel,
                    OutOfRange {
                        input: i,
                        value: x,
                        lo,
                        hi,
                    },
                ));
            }
        }
        worst.map(|(_, o)| o)
    }

    /// Takes in weights an online learner published (same architecture, the temperature
    /// folded into the last layer: the model then runs at temperature 1). Copies into the
    /// buffers the inference path already owns; `false` (and the weights unchanged) when they
    /// do not fit.
    pub fn set_weights(&mut self, w: &Weights) -> bool {
        let ok = self.clf.set_weights(w, 1.0);
        if ok {
            self.updates += 1;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slog_is_odd_monotone_and_tames_tails() {
        assert_eq!(slog(0.0), 0.0);
        assert!((slog(1e-3) - 1e-3).abs() < 1e-6);
        assert_eq!(slog(-5.0), -slog(5.0));
        assert!(slog(1000.0) < 7.0 && slog(1000.0) > slog(999.0));
    }

    #[test]
    fn labels_against_a_band_width() {
        assert_eq!(label(100.0, 100.0, 0.01), Some(FLAT));
        assert_eq!(label(100.0, 100.005, 0.01), Some(FLAT));
        assert_eq!(label(100.0, 100.01, 0.01), Some(UP));
        assert_eq!(label(0.3, 0.2, 0.1), Some(DOWN)); // exactly one band despite binary
        assert_eq!(label(100.0, 99.98, 0.01), Some(DOWN));
        assert_eq!(label(f64::NAN, 1.0, 0.01), None);
        assert_eq!(label(100.0, 100.01, f64::NAN), None);
        // Zero width: only an unchanged mid is FLAT.
        assert_eq!(label(100.0, 100.0, 0.0), Some(FLAT));
        assert_eq!(label(100.0, 100.005, 0.0), Some(UP));
        // A band in bps of the mid, through DeadBand.
        let r = BandRef {
            mid: 10_000.0,
            tick: 0.0,
            spread: 0.0,
            ewma_vol: 0.0,
            horizon_ns: 1_000_000_000,
        };
        let w = DeadBand::Bps(1.0).width(&r).unwrap();
        assert_eq!(label(10_000.0, 10_000.5, w), Some(FLAT));
        assert_eq!(label(10_000.0, 10_001.0, w), Some(UP));
        assert_eq!(label(10_000.0, 9_998.0, w), Some(DOWN));
    }

    #[test]
    fn inputs_are_scale_free_read_the_default_schema_and_refuse_invalid_vectors() {
        let p = FeatureParams::default();
        let inp = PressureInputs::new(&p);
        assert_eq!(
            inp.names(),
            [
                "imbalance.1",
                "microprice_minus_mid/spread",
                "slog(ofi_norm.1s)",
                "slog(mlofi_norm.1s)",
                "ret/vol.1s",
                "rv/vol.1s",
                "slog(ofi_norm.10s)",
                "slog(mlofi_norm.10s)",
                "ret/vol.10s",
                "rv/vol.10s",
            ]
        );
        let mut x = vec![0f32; inp.len()];
        assert!(!inp.extract(&FeatureVector::default(), &mut x));
        // Other windows, other names: a model for the defaults is refused.
        let other = FeatureParams {
            windows_ns: [500_000_000, 10_000_000_000, 60_000_000_000],
            ..p
        };
        assert_ne!(PressureInputs::new(&other).names(), inp.names());
    }

    fn tiny_model(n_inputs_lo_hi: (f32, f32)) -> PressureModel {
        use crate::ml::meta::DataInfo;
        use crate::ml::scaler::Scaler;
        use crate::ml::weights::{Architecture, TrainOptions};
        let inputs = PressureInputs::new(&FeatureParams::default());
        let n = inputs.len();
        let arch = Architecture::logistic(n, 3);
        let w = Weights::seeded(&arch, 1);
        let clf = Classifier::from_parts(&arch, &w, &Scaler::identity(n), 1.0).unwrap();
        let meta = ModelMeta {
            schema: SCHEMA.into(),
            schema_version: INPUTS_VERSION,
            kind: "softmax-logistic".into(),
            inputs: inputs.names().to_vec(),
            outputs: CLASSES.iter().map(|s| s.to_string()).collect(),
            horizons: vec!["1s".into()],
            dead_band: Some("0.5vol".into()),
            temperature: Some(1.0),
            seed: 1,
            command: "test".into(),
            created_by: "test".into(),
            architecture: arch,
            scaler: Scaler::identity(n),
            training: TrainOptions::default(),
            data: DataInfo::default(),
            details: toml::Table::new(),
            metrics: toml::Table::new(),
        };
        let (lo, hi) = n_inputs_lo_hi;
        PressureModel::from_parts(
            meta,
            inputs,
            clf,
            1_000_000_000,
            DeadBand::Vol(0.5),
            InputRanges {
                lo: vec![lo; n],
                hi: vec![hi; n],
            },
            BaselineParams::flat(),
        )
    }

    #[test]
    fn the_guard_names_the_input_farthest_outside_its_training_range() {
        let mut m = tiny_model((-1.0, 1.0));
        let n = m.inputs().len();
        let names = m.inputs().names().to_vec();
        let mut x = vec![0.5f32; n];
        m.predict_inputs(&x);
        assert_eq!(m.out_of_range(1.0), None, "inside");
        // 2.9 is 1.9 beyond hi, within one range-width (2): still fine.
        let r = names.iter().position(|s| s == "rv/vol.1s").unwrap();
        x[r] = 2.9;
        m.predict_inputs(&x);
        assert_eq!(m.out_of_range(1.0), None);
        // Volatility ten times what training saw (raw rates on COIN-M against spot were
        // z ≈ 9–11): out, and the farthest input is the one named.
        x[r] = 12.0;
        let o = names.iter().position(|s| s == "slog(ofi_norm.1s)").unwrap();
        x[o] = -4.0;
        m.predict_inputs(&x);
        let out = m.out_of_range(1.0).expect("out of range");
        assert_eq!(names[out.input], "rv/vol.1s", "the farthest wins");
        assert_eq!((out.value, out.lo, out.hi), (12.0, -1.0, 1.0));
        // A looser tolerance lets the nearer one through.
        x[r] = 0.0;
        m.predict_inputs(&x);
        assert_eq!(
            names[m.out_of_range(1.0).unwrap().input],
            "slog(ofi_norm.1s)"
        );
        assert_eq!(m.out_of_range(1.6), None);
        // A constant input in training is out at any other value; an input never seen
        // (lo > hi) is not checked.
        let mut c = tiny_model((1.0, 1.0));
        let mut y = vec![1.0f32; n];
        c.predict_inputs(&y);
        assert_eq!(c.out_of_range(1.0), None);
        y[0] = 0.0;
        c.predict_inputs(&y);
        assert_eq!(c.out_of_range(1.0).map(|o| o.input), Some(0));
        let u = tiny_model((1.0, 0.0));
        assert_eq!(u.out_of_range(0.0), None);
    }

    #[test]
    fn published_weights_replace_the_prior_in_place() {
        let mut m = tiny_model((-1.0, 1.0));
        let x = vec![0.3f32; m.inputs().len()];
        let before = m.predict_inputs(&x);
        let arch = m.meta.architecture.clone();
        let mut w = Weights::seeded(&arch, 2);
        assert!(m.set_weights(&w));
        assert_eq!(m.updates, 1);
        let after = m.predict_inputs(&x);
        assert_ne!(before, after);
        // Weights of another shape are refused and change nothing.
        w.layers[0].b.push(0.0);
        assert!(!m.set_weights(&w));
        assert_eq!(m.predict_inputs(&x), after);
        // Baselines round-trip through the metadata table.
        let b = BaselineParams {
            class_freq: [0.2, 0.5, 0.3],
            imbalance_mean: 0.1,
            imbalance_std: 0.4,
            imbalance_w: [-1.0, 0.0, 1.0],
            imbalance_b: [0.1, 0.2, 0.3],
        };
        assert_eq!(baselines_from_toml(&baselines_to_toml(&b)), Some(b));
    }
}
