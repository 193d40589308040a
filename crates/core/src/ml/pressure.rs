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
//! Inputs (version [`INPUTS_VERSION`]). Nothing whose scale belongs to one symbol or market:
//! no prices, quantities, notionals, raw OFI, raw event rates, nor returns in bps. The model
//! reads ratios (imbalances, the ±band depth imbalance, OFI over depth), microprice − mid and
//! the last trade − mid in spreads, the spread in ticks (log), the volatility per √s in spreads
//! (log), window returns and realized volatilities in units of the recent (EWMA) volatility, and
//! each event rate against the same rate over the next longer window (the symbol's own recent
//! activity). The first (shortest) window, the book features and the EWMA volatility are
//! *required*: when one is invalid (inside a gap, right after a resync, the first half-life)
//! there is no prediction. The longer windows and the trade-dependent features are *optional*:
//! an invalid one reads 0 and a validity flag input (`valid:…`) says so, so the model still runs
//! while a 60 s window refills.

use std::path::Path;

use super::MlError;
use super::classifier::Classifier;
use super::meta::{Expected, ModelMeta};
use super::prequential::BaselineParams;
use super::weights::Weights;
use super::{BandRef, DeadBand};
use crate::features::schema::{FEATURE_SCHEMA_VERSION, N_WINDOWS, Schema, idx};
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
/// Class names, in output order.
pub const CLASSES: [&str; 3] = ["DOWN", "FLAT", "UP"];
pub const DOWN: u32 = 0;
pub const FLAT: u32 = 1;
pub const UP: u32 = 2;

/// The label of a mid move from `mid0` to `mid1` with a dead band `width` wide (price units,
/// see [`DeadBand::width`]): FLAT when |mid1 − mid0| is below it, else DOWN or UP. A zero width
/// makes only an unchanged mid FLAT. `None` when an input is not a finite positive number.
pub fn label(mid0: f64, mid1: f64, width: f64) -> Option<u32> {
    if !(mid0.is_finite() && mid1.is_finite() && mid0 > 0.0 && mid1 > 0.0)
        || !(width.is_finite() && width >= 0.0)
    {
        return None;
    }
    let d = mid1 - mid0;
    // Prices are decimal numbers held in f64: a move of exactly one band must not read as
    // slightly less (0.3 − 0.2 < 0.1 in binary), so compare with a relative tolerance.
    let eps = 1e-9 * mid0.abs();
    if d.abs() + eps < width || d == 0.0 {
        Some(FLAT)
    } else if d > 0.0 {
        Some(UP)
    } else {
        Some(DOWN)
    }
}

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
    /// A feature that must be valid (a ratio already: imbalances, OFI over depth, 0/1).
    Required(usize),
    /// A feature that reads 0 when invalid.
    Optional(usize),
    /// 1 when the feature is valid, else 0.
    Flag(usize),
    /// 1 when window `i` lies wholly after the last resync.
    WindowFlag(usize),
    /// (microprice − mid) / spread, in [−½, ½]; required.
    MicroOverSpread {
        micro_minus_mid: usize,
        spread: usize,
    },
    /// (bid − ask) / (bid + ask) depth within the ±band of mid; required.
    BandImbalance { bid: usize, ask: usize },
    /// ln(spread in ticks), ≥ 0; required.
    LnSpreadTicks(usize),
    /// ln(EWMA volatility [bps/√s] / spread [bps]): how many spreads the price moves per √s;
    /// floored at ln 10⁻³ (no move yet); required.
    LnVolOverSpread { vol: usize, spread_bps: usize },
    /// A window's return or realized volatility [bps] over the EWMA volatility scaled to the
    /// window (`ewma_vol · √window`): required for window 0, else 0 while the window is invalid.
    PerVol {
        x: usize,
        vol: usize,
        sqrt_w: f64,
        window: usize,
    },
    /// An event rate over the same rate in the next longer window `long_window`: activity
    /// against the symbol's own recent activity; 1 when both are 0; 0 while the longer window
    /// is invalid.
    RateRatio {
        short: usize,
        long: usize,
        long_window: usize,
    },
    /// A quantity in bps over the spread in bps (the last trade − mid in spreads); optional.
    OverSpread { x: usize, spread_bps: usize },
}

/// When an input is checked against its training range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    Always,
    /// Validity flags: 0/1 by construction.
    Never,
    /// Only while input `j` (its validity flag) is 1: otherwise it holds a placeholder 0.
    IfFlag(usize),
}

/// The model's input list for one feature configuration: names (as saved in the metadata) and
/// how to read each from a [`FeatureVector`].
#[derive(Clone, Debug)]
pub struct PressureInputs {
    names: Vec<String>,
    srcs: Vec<Src>,
    gates: Vec<Gate>,
}

impl PressureInputs {
    pub fn new(params: &FeatureParams) -> PressureInputs {
        let schema = Schema::new(params);
        let w = &schema.windows;
        let ix = |name: &str| schema.index(name);
        let mut b = PressureInputs {
            names: Vec::new(),
            srcs: Vec::new(),
            gates: Vec::new(),
        };
        // Adds an input; its index in the list.
        let mut push = |name: String, src: Src, gate: Gate| {
            b.names.push(name);
            b.srcs.push(src);
            b.gates.push(gate);
            b.srcs.len() - 1
        };
        let (spread, spread_bps, vol) = (idx::SPREAD, idx::SPREAD_BPS, idx::EWMA_VOL);
        push(
            "one_tick".into(),
            Src::Required(idx::ONE_TICK),
            Gate::Always,
        );
        push(
            "ln_spread_ticks".into(),
            Src::LnSpreadTicks(idx::SPREAD_TICKS),
            Gate::Always,
        );
        push(
            "ln_vol_over_spread".into(),
            Src::LnVolOverSpread { vol, spread_bps },
            Gate::Always,
        );
        for f in &schema.features {
            if f.name.starts_with("imbalance.")
                && let Some(i) = ix(&f.name)
            {
                push(f.name.clone(), Src::Required(i), Gate::Always);
            }
        }
        push(
            "microprice_minus_mid/spread".into(),
            Src::MicroOverSpread {
                micro_minus_mid: idx::MICRO_MINUS_MID,
                spread,
            },
            Gate::Always,
        );
        let band = format!("{}bps", params.band_bps);
        if let (Some(b), Some(a)) = (
            ix(&format!("bid_depth.{band}")),
            ix(&format!("ask_depth.{band}")),
        ) {
            push(
                format!("depth_imbalance.{band}"),
                Src::BandImbalance { bid: b, ask: a },
                Gate::Always,
            );
        }
        // Index (in this list) of each window's validity flag.
        let mut wflag = [None; N_WINDOWS];
        for (wi, wl) in w.iter().enumerate().take(N_WINDOWS) {
            let gate = if wi > 0 {
                let f = push(
                    format!("valid:window.{wl}"),
                    Src::WindowFlag(wi),
                    Gate::Never,
                );
                wflag[wi] = Some(f);
                Gate::IfFlag(f)
            } else {
                Gate::Always
            };
            for fam in ["ofi_norm", "mlofi_norm"] {
                if let Some(i) = ix(&format!("{fam}.{wl}")) {
                    let src = if wi == 0 {
                        Src::Required(i)
                    } else {
                        Src::Optional(i)
                    };
                    push(format!("{fam}.{wl}"), src, gate);
                }
            }
            let sqrt_w = (params.windows_ns[wi] as f64 / 1e9).sqrt();
            for fam in ["ret", "rv"] {
                if let Some(i) = ix(&format!("{fam}.{wl}")) {
                    push(
                        format!("{fam}/vol.{wl}"),
                        Src::PerVol {
                            x: i,
                            vol,
                            sqrt_w,
                            window: wi,
                        },
                        gate,
                    );
                }
            }
        }
        for fam in ["depth_rate", "trade_rate", "ticker_rate"] {
            for wi in 1..N_WINDOWS {
                let (ws, wl) = (&w[wi - 1], &w[wi]);
                if let (Some(s), Some(l), Some(flag)) = (
                    ix(&format!("{fam}.{ws}")),
                    ix(&format!("{fam}.{wl}")),
                    wflag[wi],
                ) {
                    push(
                        format!("{fam}.{ws}/{wl}"),
                        Src::RateRatio {
                            short: s,
                            long: l,
                            long_window: wi,
                        },
                        Gate::IfFlag(flag),
                    );
                }
            }
        }
        let mut optional: Vec<String> = Vec::new();
        for fam in ["burstiness", "trade_imbalance", "volume_imbalance"] {
            for wl in w {
                optional.push(format!("{fam}.{wl}"));
            }
        }
        let f = push(
            "valid:trade_vs_mid".into(),
            Src::Flag(idx::TRADE_VS_MID),
            Gate::Never,
        );
        push(
            "trade_vs_mid/spread".into(),
            Src::OverSpread {
                x: idx::TRADE_VS_MID,
                spread_bps,
            },
            Gate::IfFlag(f),
        );
        for name in optional {
            if let Some(i) = ix(&name) {
                let f = push(format!("valid:{name}"), Src::Flag(i), Gate::Never);
                push(name, Src::Optional(i), Gate::IfFlag(f));
            }
        }
        b
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

    /// Whether input `i` of the raw row `x` holds a value to hold against the training range
    /// (not a validity flag, not the placeholder 0 of an invalid optional input).
    #[inline]
    pub fn checked(&self, x: &[f32], i: usize) -> bool {
        match self.gates.get(i) {
            Some(Gate::Always) => true,
            Some(Gate::IfFlag(j)) => x.get(*j).is_some_and(|&f| f == 1.0),
            Some(Gate::Never) | None => false,
        }
    }

    /// Fills `out` (at least [`PressureInputs::len`] long) with the raw inputs; `false` (and
    /// `out` unspecified) when a required input is invalid or the book is not synced.
    #[inline]
    pub fn extract(&self, v: &FeatureVector, out: &mut [f32]) -> bool {
        if !v.book_valid() || out.len() < self.srcs.len() {
            return false;
        }
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        for (o, s) in out.iter_mut().zip(&self.srcs) {
            let x = match *s {
                Src::Required(i) => match v.get(i) {
                    Some(x) if x.is_finite() => x,
                    _ => return false,
                },
                Src::Optional(i) => match v.get(i) {
                    Some(x) if x.is_finite() => x,
                    _ => 0.0,
                },
                Src::Flag(i) => {
                    if v.get(i).is_some_and(f64::is_finite) {
                        1.0
                    } else {
                        0.0
                    }
                }
                Src::WindowFlag(w) => {
                    if v.window_valid(w) {
                        1.0
                    } else {
                        0.0
                    }
                }
                Src::MicroOverSpread {
                    micro_minus_mid,
                    spread,
                } => match (v.get(micro_minus_mid), v.get(spread)) {
                    (Some(m), Some(s)) if s > 0.0 && m.is_finite() => m / s,
                    _ => return false,
                },
                Src::BandImbalance { bid, ask } => match (v.get(bid), v.get(ask)) {
                    (Some(b), Some(a)) if b + a > 0.0 => (b - a) / (b + a),
                    (Some(_), Some(_)) => 0.0,
                    _ => return false,
                },
                Src::LnSpreadTicks(i) => match v.get(i) {
                    Some(t) if t.is_finite() && t > 0.0 => t.max(1.0).ln(),
                    _ => return false,
                },
                Src::LnVolOverSpread { vol, spread_bps } => match (v.get(vol), v.get(spread_bps)) {
                    (Some(s), Some(b)) if s.is_finite() && s >= 0.0 && b > 0.0 => {
                        (s / b).max(1e-3).ln()
                    }
                    _ => return false,
                },
                Src::PerVol {
                    x,
                    vol,
                    sqrt_w,
                    window,
                } => {
                    let s = match v.get(vol) {
                        Some(s) if s.is_finite() => s,
                        _ => return false,
                    };
                    match v.get(x) {
                        Some(r) if r.is_finite() => ratio(r, s * sqrt_w),
                        _ if window > 0 => 0.0,
                        _ => return false,
                    }
                }
                Src::RateRatio {
                    short,
                    long,
                    long_window,
                } => match (v.get(short), v.get(long)) {
                    (Some(a), Some(b)) if v.window_valid(long_window) => {
                        if b > 0.0 {
                            a / b
                        } else {
                            1.0
                        }
                    }
                    _ => 0.0,
                },
                Src::OverSpread { x, spread_bps } => match (v.get(x), v.get(spread_bps)) {
                    (Some(t), Some(b)) if t.is_finite() && b > 0.0 => t / b,
                    _ => 0.0,
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

/// Where in training an input's values lay: the central quantiles of the training rows where
/// it was present (see [`PressureInputs::checked`]).
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
            if !(lo <= hi) || !self.inputs.checked(&self.x, i) {
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
        let names = inp.names();
        assert_eq!(inp.len(), 50, "{names:?}");
        for want in [
            "imbalance.1",
            "valid:window.60s",
            "depth_imbalance.10bps",
            "ret/vol.1s",
            "depth_rate.1s/10s",
            "trade_rate.10s/60s",
            "trade_vs_mid/spread",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        }
        // Nothing in raw units: no raw rate, return in bps, price or quantity.
        for n in names {
            let raw = [
                "depth_rate.1s",
                "trade_rate.10s",
                "ret.1s",
                "rv.1s",
                "spread_bps",
                "mid_age",
            ];
            assert!(!raw.contains(&n.as_str()), "{n} is not scale-free");
        }
        // Flags are never checked against a range; a gated input only while its flag is 1.
        let mut x = vec![0f32; inp.len()];
        let f = names.iter().position(|n| n == "valid:window.60s").unwrap();
        let g = names
            .iter()
            .position(|n| n == "depth_rate.10s/60s")
            .unwrap();
        assert!(!inp.checked(&x, f));
        assert!(!inp.checked(&x, g));
        x[f] = 1.0;
        assert!(inp.checked(&x, g));
        assert!(inp.checked(&x, 0));
        assert!(!inp.extract(&FeatureVector::default(), &mut x));
        // Other windows, other names: a model for the defaults is refused.
        let other = FeatureParams {
            windows_ns: [500_000_000, 10_000_000_000, 60_000_000_000],
            ..p
        };
        assert_ne!(PressureInputs::new(&other).names(), names);
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
        // Flags set so every gated input is checked.
        for (i, nm) in names.iter().enumerate() {
            if nm.starts_with("valid:") {
                x[i] = 1.0;
            }
        }
        m.predict_inputs(&x);
        assert_eq!(m.out_of_range(1.0), None, "inside");
        // 2.9 is 1.9 beyond hi, within one range-width (2): still fine.
        let r = names.iter().position(|s| s == "trade_rate.1s/10s").unwrap();
        x[r] = 2.9;
        m.predict_inputs(&x);
        assert_eq!(m.out_of_range(1.0), None);
        // A rate ratio like COIN-M's raw rates against spot training (×5 beyond): out, named.
        x[r] = 12.0;
        let o = names.iter().position(|s| s == "ofi_norm.1s").unwrap();
        x[o] = -4.0;
        m.predict_inputs(&x);
        let out = m.out_of_range(1.0).expect("out of range");
        assert_eq!(names[out.input], "trade_rate.1s/10s", "the farthest wins");
        assert_eq!((out.value, out.lo, out.hi), (12.0, -1.0, 1.0));
        // The same value behind a flag that says the input is invalid is not held against it.
        let f = names.iter().position(|s| s == "valid:window.10s").unwrap();
        x[f] = 0.0;
        m.predict_inputs(&x);
        assert_eq!(names[m.out_of_range(1.0).unwrap().input], "ofi_norm.1s");
        // A constant input in training is out at any other value.
        let mut c = tiny_model((1.0, 1.0));
        let mut y = vec![1.0f32; n];
        c.predict_inputs(&y);
        assert_eq!(c.out_of_range(1.0), None);
        y[0] = 0.0;
        c.predict_inputs(&y);
        assert_eq!(c.out_of_range(1.0).map(|o| o.input), Some(0));
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
