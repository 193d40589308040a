//! The ≈1 s order-book pressure model at run time: inputs from the P4 feature vector, calibrated
//! DOWN / FLAT / UP probabilities, the shared label rule, and live scoring of past predictions.
//!
//! Owns: which features the model reads and how (the input list, [`PressureInputs`]), the label
//! function used by both training ([`super::pressure_train`]) and scoring ([`label`]), the
//! allocation-free inference path ([`PressureModel::predict`]) and [`PressureScorer`].
//! Must not touch: clocks (every time is event time carried by the data), sockets, the screen.
//! The only I/O is [`PressureModel::load`], called from the edge.
//!
//! Inputs. Absolute levels (prices, quantities, notionals, VWAP, raw OFI in base units) are left
//! out: they do not transfer between markets or days. The model reads spread and imbalance
//! features, microprice − mid in units of the spread, the ±band depth imbalance, and the
//! normalised flow / return / volatility / activity features of every window. Features of the
//! first (shortest) window and the book features are *required*: when one is invalid (inside a
//! gap, right after a resync) there is no prediction. The longer windows and the trade-dependent
//! features are *optional*: an invalid one reads 0 and a validity flag input (`valid:…`) says
//! so, so the model still runs while a 60 s window refills.

use std::collections::VecDeque;
use std::path::Path;

use serde::Serialize;

use super::classifier::{Classifier, argmax};
use super::meta::{Expected, ModelMeta};
use super::weights::Weights;
use super::{DeadBand, MlError};
use crate::features::schema::{FEATURE_SCHEMA_VERSION, N_WINDOWS, Schema};
use crate::features::{FeatureParams, FeatureVector};

/// Schema name in the model metadata.
pub const SCHEMA: &str = "pressure";
/// Class names, in output order.
pub const CLASSES: [&str; 3] = ["DOWN", "FLAT", "UP"];
pub const DOWN: u32 = 0;
pub const FLAT: u32 = 1;
pub const UP: u32 = 2;

/// The label of a mid move from `mid0` to `mid1`: FLAT when |mid1 − mid0| is below the dead
/// band (`tick` = the symbol's price tick, for a band in ticks; a band in bps is relative to
/// `mid0`), else DOWN or UP. A zero band makes only an unchanged mid FLAT. `None` when an input
/// is not a finite positive number (or the tick is unknown for a band in ticks).
pub fn label(mid0: f64, mid1: f64, tick: f64, band: DeadBand) -> Option<u32> {
    if !(mid0.is_finite() && mid1.is_finite() && mid0 > 0.0 && mid1 > 0.0) {
        return None;
    }
    let width = match band {
        DeadBand::Ticks(n) => {
            if !(tick.is_finite() && tick > 0.0) {
                return None;
            }
            n * tick
        }
        DeadBand::Bps(b) => b * 1e-4 * mid0,
    };
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

/// Where one model input comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Src {
    /// A feature that must be valid.
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
}

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
        let w = &schema.windows;
        let ix = |name: &str| schema.index(name);
        let mut names = Vec::new();
        let mut srcs = Vec::new();
        let mut push = |name: String, src: Src| {
            names.push(name);
            srcs.push(src);
        };
        for n in ["spread_ticks", "spread_bps", "one_tick"] {
            if let Some(i) = ix(n) {
                push(n.into(), Src::Required(i));
            }
        }
        for f in &schema.features {
            if f.name.starts_with("imbalance.")
                && let Some(i) = ix(&f.name)
            {
                push(f.name.clone(), Src::Required(i));
            }
        }
        if let (Some(m), Some(s)) = (ix("microprice_minus_mid"), ix("spread")) {
            push(
                "microprice_minus_mid/spread".into(),
                Src::MicroOverSpread {
                    micro_minus_mid: m,
                    spread: s,
                },
            );
        }
        let band = format!("{}bps", params.band_bps);
        if let (Some(b), Some(a)) = (
            ix(&format!("bid_depth.{band}")),
            ix(&format!("ask_depth.{band}")),
        ) {
            push(
                format!("depth_imbalance.{band}"),
                Src::BandImbalance { bid: b, ask: a },
            );
        }
        const WINDOWED: [&str; 7] = [
            "ofi_norm",
            "mlofi_norm",
            "ret",
            "rv",
            "depth_rate",
            "trade_rate",
            "ticker_rate",
        ];
        for (wi, wl) in w.iter().enumerate().take(N_WINDOWS) {
            if wi > 0 {
                push(format!("valid:window.{wl}"), Src::WindowFlag(wi));
            }
            for fam in WINDOWED {
                let name = format!("{fam}.{wl}");
                if let Some(i) = ix(&name) {
                    let src = if wi == 0 {
                        Src::Required(i)
                    } else {
                        Src::Optional(i)
                    };
                    push(name, src);
                }
            }
        }
        let mut optional = vec![
            "ewma_vol".to_string(),
            "trade_vs_mid".into(),
            "mid_age".into(),
        ];
        for fam in ["burstiness", "trade_imbalance", "volume_imbalance"] {
            for wl in w {
                optional.push(format!("{fam}.{wl}"));
            }
        }
        for name in optional {
            if let Some(i) = ix(&name) {
                push(format!("valid:{name}"), Src::Flag(i));
                push(name, Src::Optional(i));
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
    /// `out` unspecified) when a required input is invalid or the book is not synced.
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
        schema_version: FEATURE_SCHEMA_VERSION,
        inputs: names,
        outputs: 3,
    }
}

/// Key of the horizon (ns) in the metadata's `details`.
pub const DETAIL_HORIZON_NS: &str = "horizon_ns";

/// The loaded pressure model: input extraction, scaler, weights, temperature; buffers sized once.
#[derive(Clone, Debug)]
pub struct PressureModel {
    pub meta: ModelMeta,
    inputs: PressureInputs,
    clf: Classifier,
    x: Vec<f32>,
    horizon_ns: u64,
    dead_band: DeadBand,
}

impl PressureModel {
    /// A model from its checked metadata and weights for `inputs` (`path` names the metadata
    /// in errors): reads the horizon and dead band from the metadata.
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
        let t = meta.temperature.unwrap_or(1.0);
        let clf = Classifier::from_parts(&meta.architecture, w, &meta.scaler, t)
            .ok_or_else(|| bad("weights and scaler do not fit the architecture".into()))?;
        Ok(PressureModel::from_parts(
            meta, inputs, clf, horizon_ns, dead_band,
        ))
    }

    /// A model from trained parts (training and tests).
    pub fn from_parts(
        meta: ModelMeta,
        inputs: PressureInputs,
        clf: Classifier,
        horizon_ns: u64,
        dead_band: DeadBand,
    ) -> PressureModel {
        PressureModel {
            x: vec![0.0; inputs.len()],
            meta,
            inputs,
            clf,
            horizon_ns,
            dead_band,
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
}

/// One calibration bucket of live scoring: predictions whose top probability fell in
/// `[lo, hi)` (the last bucket includes 1).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CalibrationBucket {
    pub lo: f64,
    pub hi: f64,
    pub count: u64,
    /// Mean top probability of the bucket's predictions (`None` when empty).
    pub mean_predicted: Option<f64>,
    /// Share of them whose top class happened (`None` when empty).
    pub observed: Option<f64>,
}

/// Live score over the last `window` resolved predictions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScoreReport {
    /// Resolved predictions in the window.
    pub resolved: u64,
    /// Resolved since the start (or the last reset of the window's contents: never reset).
    pub resolved_total: u64,
    /// Predictions waiting for their horizon.
    pub pending: u64,
    /// Share of resolved predictions whose arg-max class happened.
    pub hit_rate: Option<f64>,
    /// Mean multi-class Brier score (0 best, 2 worst).
    pub brier: Option<f64>,
    pub buckets: Vec<CalibrationBucket>,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    due_ns: u64,
    mid: f64,
    probs: [f32; 3],
}

#[derive(Clone, Copy, Debug)]
struct Resolved {
    top: f32,
    hit: bool,
    brier: f32,
}

/// Most predictions kept waiting (a feed that stops sending mids must not grow memory).
const MAX_PENDING: usize = 1 << 16;

/// Live scoring of predictions once their horizon has passed (pure; times are event-time ns).
///
/// A prediction made at `t` resolves against the mid in force at `t + horizon`: the last mid
/// seen at or before that time, known once a mid at or after it arrives (the rule the training
/// labels use).
#[derive(Clone, Debug)]
pub struct PressureScorer {
    horizon_ns: u64,
    dead_band: DeadBand,
    window: usize,
    buckets: usize,
    pending: VecDeque<Pending>,
    resolved: VecDeque<Resolved>,
    resolved_total: u64,
    /// (ts, mid, tick) of the last mid seen.
    last: Option<(u64, f64, f64)>,
}

impl PressureScorer {
    pub fn new(horizon_ns: u64, dead_band: DeadBand, window: usize, buckets: usize) -> Self {
        PressureScorer {
            horizon_ns,
            dead_band,
            window: window.max(1),
            buckets: buckets.max(1),
            pending: VecDeque::new(),
            resolved: VecDeque::new(),
            resolved_total: 0,
            last: None,
        }
    }

    /// A prediction made at `ts_ns` with the mid then.
    pub fn on_prediction(&mut self, ts_ns: u64, mid: f64, probs: [f32; 3]) {
        if !mid.is_finite() || mid <= 0.0 {
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(Pending {
            due_ns: ts_ns.saturating_add(self.horizon_ns),
            mid,
            probs,
        });
    }

    /// The mid at `ts_ns` (and the tick, for a tick dead band): resolves every pending
    /// prediction whose horizon has passed.
    pub fn on_mid(&mut self, ts_ns: u64, mid: f64, tick: f64) {
        // Due strictly before now: the previous mid was the one in force at the due time.
        if let Some((_, m, tk)) = self.last {
            self.resolve(|due| due < ts_ns, m, tk);
        }
        self.last = Some((ts_ns, mid, tick));
        // Due exactly now: this mid is in force.
        self.resolve(|due| due <= ts_ns, mid, tick);
    }

    fn resolve(&mut self, is_due: impl Fn(u64) -> bool, mid: f64, tick: f64) {
        while let Some(p) = self.pending.front().copied() {
            if !is_due(p.due_ns) {
                break;
            }
            self.pending.pop_front();
            let Some(y) = label(p.mid, mid, tick, self.dead_band) else {
                continue;
            };
            let top_class = argmax(&p.probs);
            let brier: f32 = p
                .probs
                .iter()
                .enumerate()
                .map(|(c, &q)| {
                    let t = if c as u32 == y { 1.0 } else { 0.0 };
                    (q - t) * (q - t)
                })
                .sum();
            if self.resolved.len() >= self.window {
                self.resolved.pop_front();
            }
            self.resolved.push_back(Resolved {
                top: p.probs[top_class],
                hit: top_class as u32 == y,
                brier,
            });
            self.resolved_total += 1;
        }
    }

    pub fn report(&self) -> ScoreReport {
        let n = self.resolved.len();
        let k = self.buckets;
        let mut cnt = vec![0u64; k];
        let mut sum_p = vec![0f64; k];
        let mut hits_b = vec![0u64; k];
        let (mut hits, mut brier) = (0u64, 0f64);
        for r in &self.resolved {
            let b = ((r.top as f64 * k as f64) as usize).min(k - 1);
            cnt[b] += 1;
            sum_p[b] += r.top as f64;
            if r.hit {
                hits += 1;
                hits_b[b] += 1;
            }
            brier += r.brier as f64;
        }
        let buckets = (0..k)
            .map(|b| CalibrationBucket {
                lo: b as f64 / k as f64,
                hi: (b + 1) as f64 / k as f64,
                count: cnt[b],
                mean_predicted: (cnt[b] > 0).then(|| sum_p[b] / cnt[b] as f64),
                observed: (cnt[b] > 0).then(|| hits_b[b] as f64 / cnt[b] as f64),
            })
            .collect();
        ScoreReport {
            resolved: n as u64,
            resolved_total: self.resolved_total,
            pending: self.pending.len() as u64,
            hit_rate: (n > 0).then(|| hits as f64 / n as f64),
            brier: (n > 0).then(|| brier / n as f64),
            buckets,
        }
    }

    /// After a gap: drop pending predictions (their outcome cannot be known).
    pub fn reset(&mut self) {
        self.pending.clear();
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_with_tick_and_bps_bands() {
        let t = DeadBand::Ticks(1.0);
        assert_eq!(label(100.0, 100.0, 0.01, t), Some(FLAT));
        assert_eq!(label(100.0, 100.005, 0.01, t), Some(FLAT));
        assert_eq!(label(100.0, 100.01, 0.01, t), Some(UP));
        assert_eq!(label(0.3, 0.2, 0.1, t), Some(DOWN)); // exactly one tick despite binary
        assert_eq!(label(100.0, 99.98, 0.01, t), Some(DOWN));
        assert_eq!(label(100.0, 100.01, 0.0, t), None);
        assert_eq!(label(f64::NAN, 1.0, 0.01, t), None);
        let z = DeadBand::Ticks(0.0);
        assert_eq!(label(100.0, 100.0, 0.01, z), Some(FLAT));
        assert_eq!(label(100.0, 100.005, 0.01, z), Some(UP));
        let b = DeadBand::Bps(1.0);
        assert_eq!(label(10_000.0, 10_000.5, 0.0, b), Some(FLAT));
        assert_eq!(label(10_000.0, 10_001.0, 0.0, b), Some(UP));
        assert_eq!(label(10_000.0, 9_998.0, 0.0, b), Some(DOWN));
    }

    #[test]
    fn scorer_resolves_at_the_horizon_with_the_mid_then() {
        let s_ = 1_000_000_000u64;
        let mut s = PressureScorer::new(s_, DeadBand::Ticks(1.0), 100, 2);
        s.on_mid(0, 100.0, 0.01);
        s.on_prediction(0, 100.0, [0.1, 0.2, 0.7]); // will be UP: hit
        s.on_mid(s_ / 2, 100.02, 0.01);
        s.on_prediction(s_ / 2, 100.02, [0.6, 0.3, 0.1]); // will be FLAT: miss
        assert_eq!(s.report().resolved, 0);
        assert_eq!(s.report().pending, 2);
        // At 1.2 s the mid in force at 1.0 s was 100.02 (set at 0.5 s): UP for the first.
        s.on_mid(s_ + s_ / 5, 100.03, 0.01);
        let r = s.report();
        assert_eq!((r.resolved, r.pending), (1, 1));
        assert_eq!(r.hit_rate, Some(1.0));
        let b1 = 0.01 + 0.04 + 0.09;
        assert!((r.brier.unwrap() - b1).abs() < 1e-6);
        // Exactly at 1.5 s: this mid is in force; 100.025 − 100.02 < 1 tick: FLAT.
        s.on_mid(s_ + s_ / 2, 100.025, 0.01);
        let r = s.report();
        assert_eq!((r.resolved, r.pending), (2, 0));
        assert_eq!(r.hit_rate, Some(0.5));
        let b2 = 0.36 + 0.49 + 0.01;
        assert!((r.brier.unwrap() - (b1 + b2) / 2.0).abs() < 1e-6);
        // Buckets [0, .5), [.5, 1]: 0.6 and 0.7 both in the upper one, one hit.
        assert_eq!(r.buckets[0].count, 0);
        assert_eq!(r.buckets[1].count, 2);
        assert!((r.buckets[1].mean_predicted.unwrap() - 0.65).abs() < 1e-6);
        assert_eq!(r.buckets[1].observed, Some(0.5));
        // A gap drops what is pending; the window keeps the last N.
        s.on_prediction(2 * s_, 100.0, [0.2, 0.2, 0.6]);
        s.reset();
        s.on_mid(10 * s_, 101.0, 0.01);
        assert_eq!(s.report().resolved, 2);
        let mut w = PressureScorer::new(10, DeadBand::Bps(0.0), 3, 4);
        for i in 0..10u64 {
            w.on_prediction(i * 10, 100.0, [0.0, 1.0, 0.0]);
            w.on_mid(i * 10 + 10, 100.0, 0.0);
        }
        let r = w.report();
        assert_eq!((r.resolved, r.resolved_total), (3, 10));
        assert_eq!(r.hit_rate, Some(1.0));
        assert_eq!(r.brier, Some(0.0));
    }

    #[test]
    fn inputs_read_the_default_schema_and_refuse_invalid_vectors() {
        let p = FeatureParams::default();
        let inp = PressureInputs::new(&p);
        assert!(inp.len() > 40, "{}", inp.len());
        let names = inp.names();
        assert!(names.contains(&"imbalance.1".to_string()));
        assert!(names.contains(&"valid:window.60s".to_string()));
        assert!(names.contains(&"depth_imbalance.10bps".to_string()));
        let mut x = vec![0f32; inp.len()];
        assert!(!inp.extract(&FeatureVector::default(), &mut x));
        // Other windows, other names: a model for the defaults is refused.
        let other = FeatureParams {
            windows_ns: [500_000_000, 10_000_000_000, 60_000_000_000],
            ..p
        };
        assert_ne!(PressureInputs::new(&other).names(), names);
    }
}
