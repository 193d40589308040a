//! Training a classifier from raw inputs: the scaler fitted on the training rows only, candle
//! training, then the softmax temperature fitted on the validation split.
//!
//! Owns: [`TrainedClassifier`] and [`train_classifier`]. Must not touch: what the inputs are,
//! clocks, files.

use microstate_core::ml::classifier::{Classifier, fit_temperature};
use microstate_core::ml::fast::FastMlp;
use microstate_core::ml::scaler::Scaler;
use microstate_core::ml::weights::{Architecture, TrainOptions, TrainReport, Weights};

use crate::TrainError;
use crate::mlp::{Targets, train};

/// A trained classifier: weights, scaler, temperature (what `train` saves).
#[derive(Clone, Debug)]
pub struct TrainedClassifier {
    pub arch: Architecture,
    pub scaler: Scaler,
    pub weights: Weights,
    pub temperature: f32,
    pub report: TrainReport,
}

/// Fits the scaler on `x_train` (raw, row-major), trains, then fits the temperature on the
/// validation rows. Labels are class indices `< arch.outputs`.
pub fn train_classifier(
    arch: &Architecture,
    x_train: &[f32],
    y_train: &[u32],
    x_val: &[f32],
    y_val: &[u32],
    opts: &TrainOptions,
) -> Result<TrainedClassifier, TrainError> {
    let scaler = Scaler::fit(x_train, arch.inputs);
    let mut xt = x_train.to_vec();
    scaler.apply_rows(&mut xt);
    let mut xv = x_val.to_vec();
    scaler.apply_rows(&mut xv);
    let (weights, report) = train(
        arch,
        &xt,
        Targets::Classes(y_train),
        &xv,
        Targets::Classes(y_val),
        opts,
    )?;
    let mut fast = FastMlp::new(arch, &weights, &Scaler::identity(arch.inputs))
        .ok_or_else(|| TrainError::Data("trained weights do not fit the architecture".into()))?;
    let mut logits = Vec::with_capacity(y_val.len() * arch.outputs);
    for row in xv.chunks_exact(arch.inputs) {
        logits.extend_from_slice(fast.forward_scaled(row));
    }
    let temperature = fit_temperature(&logits, arch.outputs, y_val);
    Ok(TrainedClassifier {
        arch: arch.clone(),
        scaler,
        weights,
        temperature,
        report,
    })
}

impl TrainedClassifier {
    /// The ready-to-run classifier (the live path's) for these weights.
    pub fn classifier(&self) -> Option<Classifier> {
        Classifier::from_parts(&self.arch, &self.weights, &self.scaler, self.temperature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::CandleMlp;
    use microstate_core::ml::classifier::class_metrics;
    use microstate_core::ml::weights::Activation;
    use microstate_core::rng::Rng;

    fn uniform(r: &mut Rng) -> f32 {
        (r.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    /// Class 0 where x0·x1 > 0.1, class 2 where x0·x1 < −0.1, else 1; two noise inputs.
    /// Not linearly separable: a logistic model cannot do it, a small MLP can.
    fn xor_data(seed: u64, n: usize) -> (Vec<f32>, Vec<u32>) {
        let mut r = Rng::new(seed, 0);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let v = [
                uniform(&mut r),
                uniform(&mut r),
                uniform(&mut r),
                uniform(&mut r),
            ];
            let p = v[0] * v[1];
            y.push(if p > 0.1 {
                0
            } else if p < -0.1 {
                2
            } else {
                1
            });
            // Different scales per input: the scaler must matter.
            x.extend([v[0] * 100.0 + 5.0, v[1] * 0.01, v[2], v[3] * 10.0]);
        }
        (x, y)
    }

    fn opts(seed: u64) -> TrainOptions {
        TrainOptions {
            max_epochs: 60,
            batch: 64,
            lr: 1e-2,
            weight_decay: 0.0,
            patience: 10,
            seed,
        }
    }

    #[test]
    fn mlp_learns_what_logistic_cannot_and_training_is_deterministic() {
        let (xt, yt) = xor_data(1, 1500);
        let (xv, yv) = xor_data(2, 500);
        let (xe, ye) = xor_data(3, 1000);
        let mlp = Architecture::mlp(4, &[16], 3, Activation::Relu);
        let m = train_classifier(&mlp, &xt, &yt, &xv, &yv, &opts(5)).unwrap();
        let lg =
            train_classifier(&Architecture::logistic(4, 3), &xt, &yt, &xv, &yv, &opts(5)).unwrap();
        let eval = |t: &TrainedClassifier| {
            let mut c = t.classifier().unwrap();
            let mut probs = Vec::new();
            for row in xe.chunks(4) {
                let p = c.predict(row);
                assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                probs.extend_from_slice(p);
            }
            class_metrics(&probs, 3, &ye)
        };
        let (mm, lm) = (eval(&m), eval(&lg));
        assert!(mm.accuracy > 0.85, "mlp {mm:?}");
        assert!(lm.accuracy < 0.7, "logistic {lm:?}");
        assert!(mm.macro_f1 > lm.macro_f1 && mm.log_loss < lm.log_loss);
        assert!(m.report.best_epoch > 0);
        // Same seed, same model.
        let again = train_classifier(&mlp, &xt, &yt, &xv, &yv, &opts(5)).unwrap();
        assert_eq!(again.weights, m.weights);
        assert_eq!(again.temperature, m.temperature);
        // The saved candle model and the live path agree on trained weights too.
        let cm = CandleMlp::new(&mlp, &m.weights).unwrap();
        let mut sx = xe[..40].to_vec();
        m.scaler.apply_rows(&mut sx);
        let reference = cm.forward_rows(&sx).unwrap();
        let mut f = FastMlp::new(&mlp, &m.weights, &m.scaler).unwrap();
        for (i, row) in xe[..40].chunks(4).enumerate() {
            for (a, b) in f.forward(row).iter().zip(&reference[i * 3..i * 3 + 3]) {
                assert!((a - b).abs() < 1e-5);
            }
        }
    }

    fn inputs(n: usize, rows: usize) -> Vec<f32> {
        let mut r = Rng::new(3, 1);
        (0..n * rows)
            .map(|_| (r.below(20_001) as f32 - 10_000.0) / 3_000.0)
            .collect()
    }

    #[test]
    fn hand_path_equals_candle_forward() {
        for arch in [
            Architecture::mlp(64, &[32], 3, Activation::Relu),
            Architecture::mlp(14, &[32, 16], 4, Activation::Tanh),
            Architecture::logistic(67, 3),
        ] {
            let w = Weights::seeded(&arch, 11);
            let x = inputs(arch.inputs, 50);
            let reference = CandleMlp::new(&arch, &w).unwrap().forward_rows(&x).unwrap();
            let mut fast = FastMlp::new(&arch, &w, &Scaler::identity(arch.inputs)).unwrap();
            for (r, row) in x.chunks(arch.inputs).enumerate() {
                let got = fast.forward(row).to_vec();
                let want = &reference[r * arch.outputs..(r + 1) * arch.outputs];
                for (g, e) in got.iter().zip(want) {
                    assert!((g - e).abs() <= 1e-5, "{arch:?} row {r}: {g} vs {e}");
                }
            }
        }
    }
}
