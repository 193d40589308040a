//! Live, prequential (test-then-train) scoring of the pressure model beside its baselines, and
//! the hand-over of resolved, labelled samples to an online learner.
//!
//! Owns: the predictions waiting for their horizon, the label of each once the mid at the
//! horizon is known ([`super::label::label`], the rule training uses), the Brier score of the
//! model and of every baseline over the last N resolved predictions ([`EdgeReport`]: the
//! model's edge over the best baseline), the calibration report ([`ScoreReport`]), the
//! baselines themselves (fitted on the model's training data, and their online variants updated
//! here as labels arrive), and a bounded queue of resolved samples for a learner
//! ([`PressureLearner`]). Must not touch: candle and training (the train crate's `online`
//! learner implements [`PressureLearner`]), clocks (times are event times), threads, the screen.
//!
//! Test-then-train: a prediction is scored with the weights that made it, when its horizon has
//! passed; only then does its sample go to the queue a learner drains, so no prediction is ever
//! scored by a model that has trained on its outcome.
//!
//! Allocation: the raw inputs of a pending prediction travel in a boxed slice taken from a free
//! list and returned to it when the learner has been handed the sample, so a running scorer
//! allocates nothing once warm.

use std::collections::VecDeque;

use serde::Serialize;

use super::classifier::argmax;
use super::label::label;
use super::weights::Weights;

/// Predictors scored side by side, in this order.
pub const PREDICTORS: usize = 7;
/// Keys (JSON, eval) of the predictors, in order.
pub const PREDICTOR_KEYS: [&str; PREDICTORS] = [
    "model",
    "majority",
    "microprice_sign",
    "imbalance_logistic",
    "majority_online",
    "microprice_sign_online",
    "imbalance_logistic_online",
];
/// How the screen names them.
pub const PREDICTOR_NAMES: [&str; PREDICTORS] = [
    "model",
    "majority class",
    "microprice sign",
    "imbalance logistic",
    "majority (live)",
    "microprice sign (live)",
    "imbalance logistic (live)",
];
/// Index of the model; every other index is a baseline.
pub const MODEL: usize = 0;
/// Index of the online majority: the base-rate forecast of the history seen live, what a
/// sample without a shown direction scores as.
pub const MAJORITY_ONLINE: usize = 4;

/// The baselines' parameters, fitted on the model's training data (stored in its metadata).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BaselineParams {
    /// Class frequencies of the training labels (DOWN, FLAT, UP), smoothed: no zero.
    pub class_freq: [f32; 3],
    /// Multinomial logistic regression on level-1 imbalance `z = (imb − mean) / std`:
    /// logits `w·z + b`, the softmax temperature already folded in.
    pub imbalance_mean: f32,
    pub imbalance_std: f32,
    pub imbalance_w: [f32; 3],
    pub imbalance_b: [f32; 3],
}

impl BaselineParams {
    /// Uniform frequencies and a flat logistic (tests, and models made before baselines).
    pub fn flat() -> BaselineParams {
        BaselineParams {
            class_freq: [1.0 / 3.0; 3],
            imbalance_mean: 0.0,
            imbalance_std: 1.0,
            imbalance_w: [0.0; 3],
            imbalance_b: [0.0; 3],
        }
    }
}

/// Softmax of three logits.
#[inline]
fn softmax3(l: [f32; 3]) -> [f32; 3] {
    let m = l[0].max(l[1]).max(l[2]);
    let e = l.map(|v| (v - m).exp());
    let s = e[0] + e[1] + e[2];
    e.map(|v| v / s)
}

/// Step size of the online imbalance logistic (plain SGD on the log-loss, per resolved label).
const ONLINE_LOGISTIC_LR: f32 = 0.02;

/// The baselines at prediction time and their online variants' state.
#[derive(Clone, Debug)]
pub struct Baselines {
    p: BaselineParams,
    /// Labels seen live, per class (the online majority: Laplace-smoothed frequencies).
    counts: [f64; 3],
    /// The online imbalance logistic, started from the fitted one.
    w: [f32; 3],
    b: [f32; 3],
}

impl Baselines {
    pub fn new(p: BaselineParams) -> Baselines {
        Baselines {
            counts: [0.0; 3],
            w: p.imbalance_w,
            b: p.imbalance_b,
            p,
        }
    }

    fn z(&self, imb: f32) -> f32 {
        let s = if self.p.imbalance_std > 0.0 {
            self.p.imbalance_std
        } else {
            1.0
        };
        (imb - self.p.imbalance_mean) / s
    }

    /// The base rates of the labels seen so far (Laplace: 1/3 each before any).
    pub fn online_freq(&self) -> [f32; 3] {
        let n = self.counts[0] + self.counts[1] + self.counts[2] + 3.0;
        self.counts.map(|c| ((c + 1.0) / n) as f32)
    }

    /// Fills the baselines' rows (every index but [`MODEL`]) for level-1 imbalance `imb` and
    /// microprice − mid `micro` (only its sign is read).
    pub fn predict(&self, imb: f32, micro: f32, out: &mut [[f32; 3]; PREDICTORS]) {
        let sign = if micro > 0.0 {
            2
        } else if micro < 0.0 {
            0
        } else {
            1
        };
        let mix = |f: [f32; 3]| {
            let mut p = f.map(|v| 0.5 * v);
            p[sign] += 0.5;
            p
        };
        let z = self.z(imb);
        let on = self.online_freq();
        out[1] = self.p.class_freq;
        out[2] = mix(self.p.class_freq);
        out[3] = softmax3([
            self.p.imbalance_w[0] * z + self.p.imbalance_b[0],
            self.p.imbalance_w[1] * z + self.p.imbalance_b[1],
            self.p.imbalance_w[2] * z + self.p.imbalance_b[2],
        ]);
        out[4] = on;
        out[5] = mix(on);
        out[6] = softmax3([
            self.w[0] * z + self.b[0],
            self.w[1] * z + self.b[1],
            self.w[2] * z + self.b[2],
        ]);
    }

    /// Learns label `y` of a prediction made at `imb` (after it was scored).
    pub fn update(&mut self, imb: f32, y: u32) {
        let y = (y as usize).min(2);
        self.counts[y] += 1.0;
        let z = self.z(imb);
        let p = softmax3([
            self.w[0] * z + self.b[0],
            self.w[1] * z + self.b[1],
            self.w[2] * z + self.b[2],
        ]);
        for (k, &pk) in p.iter().enumerate() {
            let g = pk - if k == y { 1.0 } else { 0.0 };
            self.w[k] -= ONLINE_LOGISTIC_LR * g * z;
            self.b[k] -= ONLINE_LOGISTIC_LR * g;
        }
    }
}

/// Multi-class Brier score of `p` for label `y`: Σ_k (p_k − 1[y = k])², 0 best, 2 worst.
#[inline]
pub fn brier(p: &[f32; 3], y: u32) -> f32 {
    let mut s = 0.0;
    for (k, &q) in p.iter().enumerate() {
        let t = if k as u32 == y { 1.0 } else { 0.0 };
        s += (q - t) * (q - t);
    }
    s
}

/// One prediction resolved against its horizon: what a learner and `eval` receive.
#[derive(Clone, Debug)]
pub struct ResolvedSample {
    /// Event time of the prediction, ns.
    pub ts_ns: u64,
    /// DOWN / FLAT / UP (see [`super::label::label`]).
    pub label: u32,
    /// The model's raw inputs at the prediction (what a learner trains on).
    pub x: Box<[f32]>,
    /// Every predictor's probabilities, [`PREDICTOR_KEYS`] order.
    pub probs: [[f32; 3]; PREDICTORS],
    /// Whether the screen showed the model's direction for this prediction.
    pub shown: bool,
    /// Whether the out-of-range guard was holding the direction back then.
    pub out_of_range: bool,
    /// Mid at the prediction and at its horizon.
    pub mid: f64,
    pub mid_end: f64,
}

impl ResolvedSample {
    /// What the screen showed: the model's probabilities when it showed a direction, else the
    /// base rates of the history seen live.
    pub fn shown_probs(&self) -> [f32; 3] {
        if self.shown {
            self.probs[MODEL]
        } else {
            self.probs[MAJORITY_ONLINE]
        }
    }
}

/// An online learner fed from the live path (implemented by the train crate's thread; the
/// engine only ever calls these two methods, from its own thread, between frames).
pub trait PressureLearner {
    /// A resolved, labelled sample of `symbol`; it was scored before this call.
    fn submit(&mut self, symbol: &str, s: &ResolvedSample);
    /// Hands over the weights published since the last call: `(symbol, weights)`, the softmax
    /// temperature folded into the last layer (so they run at temperature 1).
    fn poll(&mut self, publish: &mut dyn FnMut(&str, &Weights));
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

/// Live score of the model over the last `window` resolved predictions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScoreReport {
    /// Resolved predictions in the window.
    pub resolved: u64,
    /// Resolved since the start.
    pub resolved_total: u64,
    /// Predictions waiting for their horizon.
    pub pending: u64,
    /// Share of resolved predictions whose arg-max class happened.
    pub hit_rate: Option<f64>,
    /// Mean multi-class Brier score (0 best, 2 worst).
    pub brier: Option<f64>,
    pub buckets: Vec<CalibrationBucket>,
}

/// The model against its baselines over the last N resolved predictions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EdgeReport {
    /// Predictions scored in the window (at most `window`).
    pub n: u64,
    pub window: u64,
    /// Mean Brier of the model's probabilities.
    pub model_brier: f64,
    /// Key ([`PREDICTOR_KEYS`]) and screen name of the baseline with the lowest mean Brier.
    pub best_baseline: &'static str,
    pub best_baseline_name: &'static str,
    pub best_baseline_brier: f64,
    /// `best_baseline_brier − model_brier`: positive when the model beats every baseline.
    pub edge: f64,
    /// Mean Brier of what the screen showed.
    pub shown_brier: f64,
    /// Every predictor's mean Brier, [`PREDICTOR_KEYS`] order.
    pub briers: Vec<(&'static str, f64)>,
}

#[derive(Debug)]
struct Pending {
    due_ns: u64,
    mid: f64,
    width: f64,
    probs: [[f32; 3]; PREDICTORS],
    imb: f32,
    shown: bool,
    out_of_range: bool,
    x: Option<Box<[f32]>>,
}

#[derive(Clone, Copy, Debug)]
struct Calib {
    top: f32,
    hit: bool,
    brier: f32,
}

/// Most predictions kept waiting (a feed that stops sending mids must not grow memory).
const MAX_PENDING: usize = 1 << 16;

/// Settings of a [`PressureScorer`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScorerOptions {
    pub horizon_ns: u64,
    /// Predictions in the calibration report.
    pub window: usize,
    pub buckets: usize,
    /// Predictions in the edge report.
    pub edge_window: usize,
    /// Resolved samples kept for a learner (0: no learner attached, nothing kept).
    pub queue: usize,
}

/// Live scoring of predictions once their horizon has passed (pure; times are event-time ns).
///
/// A prediction made at `t` resolves against the mid in force at `t + horizon`: the last mid
/// seen at or before that time, known once a mid at or after it arrives (the rule the training
/// labels use).
#[derive(Debug)]
pub struct PressureScorer {
    o: ScorerOptions,
    baselines: Baselines,
    pending: VecDeque<Pending>,
    calib: VecDeque<Calib>,
    resolved_total: u64,
    /// Brier of every predictor and of what was shown, last `edge_window` resolved.
    briers: VecDeque<([f32; PREDICTORS], f32)>,
    sums: [f64; PREDICTORS],
    shown_sum: f64,
    /// (ts, mid) of the last mid seen.
    last: Option<(u64, f64)>,
    queue: VecDeque<ResolvedSample>,
    free: Vec<Box<[f32]>>,
    /// Samples dropped from a full queue (a learner that does not keep up).
    pub queue_dropped: u64,
}

impl Clone for PressureScorer {
    fn clone(&self) -> Self {
        PressureScorer {
            o: self.o,
            baselines: self.baselines.clone(),
            pending: self
                .pending
                .iter()
                .map(|p| Pending {
                    x: p.x.clone(),
                    ..*p
                })
                .collect(),
            calib: self.calib.clone(),
            resolved_total: self.resolved_total,
            briers: self.briers.clone(),
            sums: self.sums,
            shown_sum: self.shown_sum,
            last: self.last,
            queue: self.queue.clone(),
            free: Vec::new(),
            queue_dropped: self.queue_dropped,
        }
    }
}

impl PressureScorer {
    pub fn new(o: ScorerOptions, baselines: BaselineParams) -> Self {
        PressureScorer {
            o: ScorerOptions {
                window: o.window.max(1),
                buckets: o.buckets.max(1),
                edge_window: o.edge_window.max(1),
                ..o
            },
            baselines: Baselines::new(baselines),
            pending: VecDeque::new(),
            calib: VecDeque::new(),
            resolved_total: 0,
            briers: VecDeque::new(),
            sums: [0.0; PREDICTORS],
            shown_sum: 0.0,
            last: None,
            queue: VecDeque::new(),
            free: Vec::new(),
            queue_dropped: 0,
        }
    }

    pub fn options(&self) -> &ScorerOptions {
        &self.o
    }

    pub fn baselines(&self) -> &Baselines {
        &self.baselines
    }

    /// A prediction made at `ts_ns` with the mid then, the dead band's width then (price
    /// units), the model's probabilities, level-1 imbalance and microprice − mid (for the
    /// baselines), the raw inputs (kept for a learner when a queue is on), whether the
    /// screen shows its direction and whether the out-of-range guard holds it back.
    #[allow(clippy::too_many_arguments)]
    pub fn on_prediction(
        &mut self,
        ts_ns: u64,
        mid: f64,
        width: f64,
        model: [f32; 3],
        imb: f32,
        micro: f32,
        x: &[f32],
        shown: bool,
        out_of_range: bool,
    ) {
        if !(mid.is_finite() && mid > 0.0 && width.is_finite() && width >= 0.0) {
            return;
        }
        if self.pending.len() >= MAX_PENDING
            && let Some(p) = self.pending.pop_front()
            && let Some(b) = p.x
        {
            self.free.push(b);
        }
        let mut probs = [[0f32; 3]; PREDICTORS];
        probs[MODEL] = model;
        self.baselines.predict(imb, micro, &mut probs);
        let xb = if self.o.queue > 0 {
            let mut b = match self.free.pop() {
                Some(b) if b.len() == x.len() => b,
                _ => vec![0f32; x.len()].into_boxed_slice(),
            };
            b.copy_from_slice(x);
            Some(b)
        } else {
            None
        };
        self.pending.push_back(Pending {
            due_ns: ts_ns.saturating_add(self.o.horizon_ns),
            mid,
            width,
            probs,
            imb,
            shown,
            out_of_range,
            x: xb,
        });
    }

    /// The mid at `ts_ns`: resolves every pending prediction whose horizon has passed.
    pub fn on_mid(&mut self, ts_ns: u64, mid: f64) {
        // Due strictly before now: the previous mid was the one in force at the due time.
        if let Some((_, m)) = self.last {
            self.resolve(|due| due < ts_ns, m);
        }
        self.last = Some((ts_ns, mid));
        // Due exactly now: this mid is in force.
        self.resolve(|due| due <= ts_ns, mid);
    }

    fn resolve(&mut self, is_due: impl Fn(u64) -> bool, mid_end: f64) {
        while self.pending.front().is_some_and(|p| is_due(p.due_ns)) {
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            let Some(y) = label(p.mid, mid_end, p.width) else {
                if let Some(b) = p.x {
                    self.free.push(b);
                }
                continue;
            };
            self.score(&p, y);
            self.baselines.update(p.imb, y);
            self.resolved_total += 1;
            match p.x {
                Some(x) if self.o.queue > 0 => {
                    if self.queue.len() >= self.o.queue
                        && let Some(old) = self.queue.pop_front()
                    {
                        self.queue_dropped += 1;
                        self.free.push(old.x);
                    }
                    self.queue.push_back(ResolvedSample {
                        ts_ns: p.due_ns.saturating_sub(self.o.horizon_ns),
                        label: y,
                        x,
                        probs: p.probs,
                        shown: p.shown,
                        out_of_range: p.out_of_range,
                        mid: p.mid,
                        mid_end,
                    });
                }
                Some(x) => self.free.push(x),
                None => {}
            }
        }
    }

    fn score(&mut self, p: &Pending, y: u32) {
        let m = &p.probs[MODEL];
        let top = argmax(m);
        if self.calib.len() >= self.o.window {
            self.calib.pop_front();
        }
        let mut b = [0f32; PREDICTORS];
        for (k, v) in b.iter_mut().enumerate() {
            *v = brier(&p.probs[k], y);
        }
        self.calib.push_back(Calib {
            top: m[top],
            hit: top as u32 == y,
            brier: b[MODEL],
        });
        let shown = if p.shown {
            b[MODEL]
        } else {
            b[MAJORITY_ONLINE]
        };
        if self.briers.len() >= self.o.edge_window
            && let Some((old, old_shown)) = self.briers.pop_front()
        {
            for (s, v) in self.sums.iter_mut().zip(old) {
                *s -= v as f64;
            }
            self.shown_sum -= old_shown as f64;
        }
        for (s, v) in self.sums.iter_mut().zip(b) {
            *s += v as f64;
        }
        self.shown_sum += shown as f64;
        self.briers.push_back((b, shown));
    }

    /// The model against the best baseline now, without allocating (the live path reads it
    /// at every prediction): `(scored, model's Brier, best baseline's index, its Brier)`.
    pub fn edge_now(&self) -> Option<(u64, f64, usize, f64)> {
        let n = self.briers.len();
        if n == 0 {
            return None;
        }
        // Sums are kept incrementally; a long run would let f64 rounding creep in, but at
        // ~1e-16 per update it stays far below the figures shown (two or three decimals).
        let mean = self.sums.map(|s| s / n as f64);
        let mut best = 1;
        for k in 2..PREDICTORS {
            if mean[k] < mean[best] {
                best = k;
            }
        }
        Some((n as u64, mean[MODEL], best, mean[best]))
    }

    /// The model against the best baseline over the last `edge_window` resolved predictions
    /// (`None` before the first).
    pub fn edge(&self) -> Option<EdgeReport> {
        let n = self.briers.len();
        let (_, _, best, _) = self.edge_now()?;
        let mean = self.sums.map(|s| s / n as f64);
        Some(EdgeReport {
            n: n as u64,
            window: self.o.edge_window as u64,
            model_brier: mean[MODEL],
            best_baseline: PREDICTOR_KEYS[best],
            best_baseline_name: PREDICTOR_NAMES[best],
            best_baseline_brier: mean[best],
            edge: mean[best] - mean[MODEL],
            shown_brier: self.shown_sum / n as f64,
            briers: PREDICTOR_KEYS.iter().copied().zip(mean).collect(),
        })
    }

    /// Calibration, hit rate and Brier of the model over the last `window` resolved.
    pub fn report(&self) -> ScoreReport {
        let n = self.calib.len();
        let k = self.o.buckets;
        let mut cnt = vec![0u64; k];
        let mut sum_p = vec![0f64; k];
        let mut hits_b = vec![0u64; k];
        let (mut hits, mut brier) = (0u64, 0f64);
        for r in &self.calib {
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

    /// Hands every queued resolved sample to `f`, oldest first, and empties the queue.
    pub fn drain(&mut self, mut f: impl FnMut(&ResolvedSample)) {
        while let Some(s) = self.queue.pop_front() {
            f(&s);
            self.free.push(s.x);
        }
    }

    /// Resolved samples waiting in the queue.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// After a gap: drop pending predictions (their outcome cannot be known).
    pub fn reset(&mut self) {
        while let Some(p) = self.pending.pop_front() {
            if let Some(b) = p.x {
                self.free.push(b);
            }
        }
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn opts(window: usize, queue: usize) -> ScorerOptions {
        ScorerOptions {
            horizon_ns: S,
            window,
            buckets: 2,
            edge_window: window,
            queue,
        }
    }

    #[test]
    fn scorer_resolves_at_the_horizon_with_the_mid_then() {
        let mut s = PressureScorer::new(opts(100, 0), BaselineParams::flat());
        let w = 0.01; // one tick
        s.on_mid(0, 100.0);
        s.on_prediction(0, 100.0, w, [0.1, 0.2, 0.7], 0.0, 0.0, &[], true, false); // UP: hit
        s.on_mid(S / 2, 100.02);
        s.on_prediction(
            S / 2,
            100.02,
            w,
            [0.6, 0.3, 0.1],
            0.0,
            0.0,
            &[],
            true,
            false,
        ); // FLAT: miss
        assert_eq!(s.report().resolved, 0);
        assert_eq!(s.report().pending, 2);
        // At 1.2 s the mid in force at 1.0 s was 100.02 (set at 0.5 s): UP for the first.
        s.on_mid(S + S / 5, 100.03);
        let r = s.report();
        assert_eq!((r.resolved, r.pending), (1, 1));
        assert_eq!(r.hit_rate, Some(1.0));
        let b1 = 0.01 + 0.04 + 0.09;
        assert!((r.brier.unwrap() - b1).abs() < 1e-6);
        // Exactly at 1.5 s: this mid is in force; 100.025 − 100.02 < 1 tick: FLAT.
        s.on_mid(S + S / 2, 100.025);
        let r = s.report();
        assert_eq!((r.resolved, r.pending), (2, 0));
        assert_eq!(r.hit_rate, Some(0.5));
        let b2 = 0.36 + 0.49 + 0.01;
        assert!((r.brier.unwrap() - (b1 + b2) / 2.0).abs() < 1e-6);
        assert_eq!(r.buckets[0].count, 0);
        assert_eq!(r.buckets[1].count, 2);
        assert!((r.buckets[1].mean_predicted.unwrap() - 0.65).abs() < 1e-6);
        assert_eq!(r.buckets[1].observed, Some(0.5));
        // A gap drops what is pending; the window keeps the last N.
        s.on_prediction(2 * S, 100.0, w, [0.2, 0.2, 0.6], 0.0, 0.0, &[], true, false);
        s.reset();
        s.on_mid(10 * S, 101.0);
        assert_eq!(s.report().resolved, 2);
        let mut w3 = PressureScorer::new(
            ScorerOptions {
                horizon_ns: 10,
                ..opts(3, 0)
            },
            BaselineParams::flat(),
        );
        for i in 0..10u64 {
            w3.on_prediction(
                i * 10,
                100.0,
                0.0,
                [0.0, 1.0, 0.0],
                0.0,
                0.0,
                &[],
                true,
                false,
            );
            w3.on_mid(i * 10 + 10, 100.0);
        }
        let r = w3.report();
        assert_eq!((r.resolved, r.resolved_total), (3, 10));
        assert_eq!(r.hit_rate, Some(1.0));
        assert_eq!(r.brier, Some(0.0));
    }

    #[test]
    fn the_edge_compares_the_model_with_the_best_baseline_and_shown_falls_back_to_base_rates() {
        // Labels alternate UP, DOWN; the microprice sign says which (it is a perfect
        // predictor here), the model is uniform: the edge is negative and names it.
        let mut s = PressureScorer::new(opts(50, 0), BaselineParams::flat());
        for i in 0..100u64 {
            let up = i % 2 == 0;
            let t = i * 2 * S;
            s.on_mid(t, 100.0);
            let micro = if up { 1.0 } else { -1.0 };
            s.on_prediction(
                t,
                100.0,
                0.01,
                [1.0 / 3.0; 3],
                0.0,
                micro,
                &[],
                false,
                false,
            );
            s.on_mid(t + S, if up { 100.1 } else { 99.9 });
        }
        let e = s.edge().unwrap();
        assert_eq!(e.n, 50);
        // Uniform: 2/3 per sample.
        assert!((e.model_brier - 2.0 / 3.0).abs() < 1e-5, "{e:?}");
        assert!(e.best_baseline.starts_with("microprice_sign"), "{e:?}");
        assert!(e.edge < -0.1, "{e:?}");
        // Nothing shown: what was shown scores as the online base rates (½ UP, ½ DOWN).
        let maj = e.briers[MAJORITY_ONLINE].1;
        assert!((e.shown_brier - maj).abs() < 1e-9);
        assert!((maj - 0.5).abs() < 0.02, "{maj}");
        // A perfect model beats them all.
        let mut s = PressureScorer::new(opts(50, 0), BaselineParams::flat());
        for i in 0..100u64 {
            let up = i % 3 == 0;
            let t = i * 2 * S;
            s.on_mid(t, 100.0);
            let p = if up { [0.0, 0.0, 1.0] } else { [0.0, 1.0, 0.0] };
            s.on_prediction(t, 100.0, 0.01, p, 0.0, 0.0, &[], true, false);
            s.on_mid(t + S, if up { 100.1 } else { 100.0 });
        }
        let e = s.edge().unwrap();
        assert_eq!(e.model_brier, 0.0);
        assert!(e.edge > 0.3 && e.shown_brier == 0.0, "{e:?}");
    }

    #[test]
    fn resolved_samples_are_queued_bounded_and_their_buffers_reused() {
        let mut s = PressureScorer::new(opts(100, 4), BaselineParams::flat());
        for i in 0..10u64 {
            let t = i * S / 10;
            s.on_mid(t, 100.0);
            s.on_prediction(
                t,
                100.0,
                0.01,
                [0.2, 0.6, 0.2],
                0.1,
                0.0,
                &[i as f32, 1.0],
                true,
                false,
            );
        }
        s.on_mid(3 * S, 100.0);
        // Ten resolved, the queue holds the last four.
        assert_eq!(s.report().resolved_total, 10);
        assert_eq!((s.queued(), s.queue_dropped), (4, 6));
        let mut got = Vec::new();
        s.drain(|r| got.push((r.x[0], r.label, r.shown)));
        assert_eq!(
            got,
            vec![
                (6.0, 1, true),
                (7.0, 1, true),
                (8.0, 1, true),
                (9.0, 1, true)
            ]
        );
        assert_eq!(s.queued(), 0);
        // Every buffer is back in the free list: the next predictions allocate nothing.
        assert_eq!(s.free.len(), 10);
        s.on_prediction(
            4 * S,
            100.0,
            0.01,
            [0.2, 0.6, 0.2],
            0.1,
            0.0,
            &[5.0, 5.0],
            true,
            false,
        );
        assert_eq!(s.free.len(), 9);
        // Without a queue nothing is kept.
        let mut n = PressureScorer::new(opts(100, 0), BaselineParams::flat());
        n.on_prediction(
            0,
            100.0,
            0.01,
            [0.2, 0.6, 0.2],
            0.1,
            0.0,
            &[1.0],
            true,
            false,
        );
        n.on_mid(2 * S, 100.0);
        assert_eq!(n.queued(), 0);
    }

    #[test]
    fn online_baselines_learn_the_live_base_rates_and_the_imbalance_slope() {
        let mut b = Baselines::new(BaselineParams::flat());
        assert_eq!(b.online_freq(), [1.0 / 3.0; 3]);
        // UP whenever imbalance > 0, DOWN when < 0.
        for i in 0..2000 {
            let imb = if i % 2 == 0 { 0.5 } else { -0.5 };
            b.update(imb, if imb > 0.0 { 2 } else { 0 });
        }
        let f = b.online_freq();
        assert!((f[0] - 0.5).abs() < 0.01 && f[1] < 0.01, "{f:?}");
        let mut out = [[0f32; 3]; PREDICTORS];
        b.predict(0.5, 0.0, &mut out);
        assert!(
            out[6][2] > 0.8,
            "online logistic learned the slope: {:?}",
            out[6]
        );
        // The fitted one did not move.
        assert_eq!(out[3], [1.0 / 3.0; 3]);
    }
}
