//! Per-input standardisation: `(x - mean) / std`, fitted on the training split only.
//!
//! Owns: the means and standard deviations. Must not touch: anything but the numbers it is given.
//! A constant input (std 0, or below [`MIN_STD`]) is scaled by 1 rather than blown up, so a
//! feature that never moved in training maps to `x - mean` instead of infinity.

use serde::{Deserialize, Serialize};

/// Standard deviations below this are treated as 1 (the input carried no spread in training).
pub const MIN_STD: f64 = 1e-12;

/// Fitted standardisation of `n` inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaler {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Scaler {
    /// Fits on `rows` row-major values with `n` columns. Means and variances accumulate in
    /// `f64` (a few hundred thousand `f32` rows would lose digits otherwise). Non-finite values
    /// are skipped column by column.
    pub fn fit(rows: &[f32], n: usize) -> Scaler {
        let mut sum = vec![0f64; n];
        let mut sq = vec![0f64; n];
        let mut cnt = vec![0u64; n];
        if n > 0 {
            for row in rows.chunks_exact(n) {
                for (j, &v) in row.iter().enumerate() {
                    if v.is_finite() {
                        sum[j] += v as f64;
                        cnt[j] += 1;
                    }
                }
            }
        }
        let mean: Vec<f64> = (0..n)
            .map(|j| {
                if cnt[j] > 0 {
                    sum[j] / cnt[j] as f64
                } else {
                    0.0
                }
            })
            .collect();
        if n > 0 {
            for row in rows.chunks_exact(n) {
                for (j, &v) in row.iter().enumerate() {
                    if v.is_finite() {
                        let d = v as f64 - mean[j];
                        sq[j] += d * d;
                    }
                }
            }
        }
        let std = (0..n)
            .map(|j| {
                let s = if cnt[j] > 1 {
                    (sq[j] / cnt[j] as f64).sqrt()
                } else {
                    0.0
                };
                if s < MIN_STD { 1.0 } else { s as f32 }
            })
            .collect();
        Scaler {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        }
    }

    /// The identity scaling of `n` inputs.
    pub fn identity(n: usize) -> Scaler {
        Scaler {
            mean: vec![0.0; n],
            std: vec![1.0; n],
        }
    }

    pub fn len(&self) -> usize {
        self.mean.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// Scales one row in place (`row.len()` must be [`Scaler::len`]).
    #[inline]
    pub fn apply(&self, row: &mut [f32]) {
        for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
            *v = (*v - m) / s;
        }
    }

    /// Scales every row of a row-major block in place.
    pub fn apply_rows(&self, rows: &mut [f32]) {
        let n = self.len();
        if n == 0 {
            return;
        }
        for row in rows.chunks_exact_mut(n) {
            self.apply(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_mean_and_std_and_keeps_constants_finite() {
        // Column 0: 1,2,3,4 (mean 2.5, std sqrt(1.25)); column 1 constant 7.
        let rows = [1.0, 7.0, 2.0, 7.0, 3.0, 7.0, 4.0, 7.0];
        let s = Scaler::fit(&rows, 2);
        assert!((s.mean[0] - 2.5).abs() < 1e-6);
        assert!((s.std[0] - 1.25f32.sqrt()).abs() < 1e-6);
        assert_eq!(s.std[1], 1.0);
        let mut r = [4.0, 7.0];
        s.apply(&mut r);
        assert!((r[0] - 1.5 / 1.25f32.sqrt()).abs() < 1e-6);
        assert_eq!(r[1], 0.0);
        let mut all = rows;
        s.apply_rows(&mut all);
        let m: f32 = all.iter().step_by(2).sum::<f32>() / 4.0;
        assert!(m.abs() < 1e-6);
    }

    #[test]
    fn skips_non_finite_values() {
        let rows = [1.0, f32::NAN, 3.0];
        let s = Scaler::fit(&rows, 1);
        assert_eq!(s.mean, vec![2.0]);
    }
}
