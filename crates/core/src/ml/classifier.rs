//! The multi-class head: softmax over MLP (or logistic) logits, temperature calibration, and
//! the classification metrics `eval` reports.
//!
//! Owns: the softmax temperature fitted on a validation split, a ready-to-run [`Classifier`] (no
//! allocation per call), and the metrics (accuracy, balanced accuracy, macro-F1, confusion
//! matrix, Brier score, log-loss, information coefficient). Must not touch: what the inputs
//! are, training (the train crate's `classifier`), clocks, I/O.

use serde::Serialize;

use super::fast::FastMlp;
use super::scaler::Scaler;
use super::weights::{Architecture, Weights};

/// Probabilities are clamped to at least this in log-loss (a confident miss costs ~27.6 nats,
/// not infinity).
pub const MIN_PROB: f64 = 1e-12;

/// Softmax of `logits / t` into `out` (same length), numerically stable.
#[inline]
pub fn softmax_t(logits: &[f32], t: f32, out: &mut [f32]) {
    let inv = 1.0 / t;
    let m = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let mut sum = 0.0;
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = ((l - m) * inv).exp();
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// Mean negative log-likelihood of `labels` under `softmax(logits / t)`.
pub fn nll_at_temperature(logits: &[f32], k: usize, labels: &[u32], t: f32) -> f64 {
    let mut p = vec![0f32; k];
    let mut total = 0.0;
    for (row, &y) in logits.chunks_exact(k).zip(labels) {
        softmax_t(row, t, &mut p);
        total -= (p[y as usize] as f64).max(MIN_PROB).ln();
    }
    total / labels.len().max(1) as f64
}

/// The temperature `t` in [0.05, 20] minimising the validation NLL of `softmax(logits / t)`
/// (golden-section search on ln t; the NLL is unimodal in it). `t > 1` softens an
/// over-confident model.
pub fn fit_temperature(logits: &[f32], k: usize, labels: &[u32]) -> f32 {
    if labels.is_empty() || k == 0 {
        return 1.0;
    }
    let f = |lt: f64| nll_at_temperature(logits, k, labels, lt.exp() as f32);
    super::dist::golden_min(f, 0.05f64.ln(), 20f64.ln(), 48).exp() as f32
}

/// A classifier ready to run live: raw features in, calibrated probabilities out, nothing
/// allocated per call.
#[derive(Clone, Debug)]
pub struct Classifier {
    mlp: FastMlp,
    temperature: f32,
    probs: Vec<f32>,
}

impl Classifier {
    pub fn from_parts(
        arch: &Architecture,
        weights: &Weights,
        scaler: &Scaler,
        temperature: f32,
    ) -> Option<Classifier> {
        let mlp = FastMlp::new(arch, weights, scaler)?;
        let t = if temperature.is_finite() && temperature > 0.0 {
            temperature
        } else {
            1.0
        };
        Some(Classifier {
            probs: vec![0.0; arch.outputs],
            mlp,
            temperature: t,
        })
    }

    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// The MLP behind it (weights, scaler).
    pub fn mlp(&self) -> &FastMlp {
        &self.mlp
    }

    /// Replaces the weights and temperature in place (same architecture); `false` and nothing
    /// changed when they do not fit.
    pub fn set_weights(&mut self, w: &Weights, temperature: f32) -> bool {
        if !self.mlp.set_weights(w) {
            return false;
        }
        self.temperature = if temperature.is_finite() && temperature > 0.0 {
            temperature
        } else {
            1.0
        };
        true
    }

    /// Calibrated class probabilities for one raw feature vector.
    #[inline]
    pub fn predict(&mut self, x: &[f32]) -> &[f32] {
        let logits = self.mlp.forward(x);
        softmax_t(logits, self.temperature, &mut self.probs);
        &self.probs
    }
}

/// Classification metrics over `n` predictions of `k` classes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub n: u64,
    pub accuracy: f64,
    /// Mean per-class recall (classes present in the labels).
    pub balanced_accuracy: f64,
    /// Mean per-class F1 (classes present in the labels or the predictions).
    pub macro_f1: f64,
    /// Multi-class Brier score: mean over rows of Σ_k (p_k − 1[y = k])², 0 best, 2 worst.
    pub brier: f64,
    pub log_loss: f64,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
}

/// Metrics of probability rows `probs` (row-major, `k` per row) against `labels`. The predicted
/// class is the arg-max.
pub fn class_metrics(probs: &[f32], k: usize, labels: &[u32]) -> ClassMetrics {
    let mut confusion = vec![vec![0u64; k]; k];
    let (mut brier, mut ll) = (0.0, 0.0);
    for (row, &y) in probs.chunks_exact(k).zip(labels) {
        let y = y as usize;
        let pred = argmax(row);
        if y < k {
            confusion[y][pred] += 1;
        }
        for (c, &p) in row.iter().enumerate() {
            let t = if c == y { 1.0 } else { 0.0 };
            brier += (p as f64 - t) * (p as f64 - t);
        }
        ll -= (row.get(y).copied().unwrap_or(0.0) as f64)
            .max(MIN_PROB)
            .ln();
    }
    let n: u64 = confusion.iter().flatten().sum();
    let nf = (n as f64).max(1.0);
    let correct: u64 = (0..k).map(|c| confusion[c][c]).sum();
    let (mut recalls, mut f1s) = (Vec::new(), Vec::new());
    for (c, row) in confusion.iter().enumerate() {
        let actual: u64 = row.iter().sum();
        let predicted: u64 = confusion.iter().map(|r| r[c]).sum();
        let tp = row[c] as f64;
        if actual > 0 {
            recalls.push(tp / actual as f64);
        }
        if actual + predicted > 0 {
            f1s.push(2.0 * tp / (actual + predicted) as f64);
        }
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    ClassMetrics {
        n,
        accuracy: correct as f64 / nf,
        balanced_accuracy: mean(&recalls),
        macro_f1: mean(&f1s),
        brier: brier / nf,
        log_loss: ll / nf,
        confusion,
    }
}

/// Index of the largest value (the first on ties).
#[inline]
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Pearson correlation of two equally long series (NaN when either is constant): the
/// information coefficient of a score against what followed.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return f64::NAN;
    }
    let ma = a[..n].iter().sum::<f64>() / n as f64;
    let mb = b[..n].iter().sum::<f64>() / n as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (da, db) = (a[i] - ma, b[i] - mb);
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    sab / (saa * sbb).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn uniform(r: &mut Rng) -> f32 {
        (r.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    #[test]
    fn temperature_undoes_overconfidence() {
        // Logits from a well-calibrated source, multiplied by 4: the fitted t is close to 4.
        let mut r = Rng::new(8, 0);
        let (mut logits, mut labels) = (Vec::new(), Vec::new());
        let mut p = [0f32; 3];
        for _ in 0..4000 {
            let l = [
                uniform(&mut r) * 2.0,
                uniform(&mut r) * 2.0,
                uniform(&mut r) * 2.0,
            ];
            softmax_t(&l, 1.0, &mut p);
            let u = (r.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
            let y = if u < p[0] {
                0
            } else if u < p[0] + p[1] {
                1
            } else {
                2
            };
            labels.push(y);
            logits.extend(l.iter().map(|v| v * 4.0));
        }
        let t = fit_temperature(&logits, 3, &labels);
        assert!((3.0..5.3).contains(&t), "t = {t}");
        assert!(
            nll_at_temperature(&logits, 3, &labels, t)
                < nll_at_temperature(&logits, 3, &labels, 1.0)
        );
    }

    #[test]
    fn metrics_on_a_hand_case() {
        // Rows: (true 0, pred 0), (true 1, pred 0), (true 2, pred 2), (true 2, pred 2).
        let probs = [
            0.8, 0.1, 0.1, //
            0.6, 0.3, 0.1, //
            0.0, 0.0, 1.0, //
            0.2, 0.2, 0.6,
        ];
        let m = class_metrics(&probs, 3, &[0, 1, 2, 2]);
        assert_eq!(m.n, 4);
        assert_eq!(
            m.confusion,
            vec![vec![1, 0, 0], vec![1, 0, 0], vec![0, 0, 2]]
        );
        assert!((m.accuracy - 0.75).abs() < 1e-12);
        // Recalls 1, 0, 1.
        assert!((m.balanced_accuracy - 2.0 / 3.0).abs() < 1e-12);
        // F1: class 0: 2·1/(1+2) = 2/3; class 1: 0; class 2: 1.
        assert!((m.macro_f1 - (2.0 / 3.0 + 0.0 + 1.0) / 3.0).abs() < 1e-12);
        let brier = (0.04 + 0.01 + 0.01) + (0.36 + 0.49 + 0.01) + 0.0 + (0.04 + 0.04 + 0.16);
        assert!((m.brier - brier / 4.0).abs() < 1e-6);
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]) - 0.9986).abs() < 1e-3);
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
    }
}
