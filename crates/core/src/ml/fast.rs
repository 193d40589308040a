//! The live inference path: the MLP's forward pass by hand on plain `f32` arrays.
//!
//! Owns: a copy of the weights (and the input scaler) and two scratch buffers sized once at load.
//! Must not touch: candle (no tensors, no thread pool), clocks, I/O. A call allocates nothing:
//! it scales the input into one buffer and ping-pongs between the two.
//!
//! Dot products run over 8 independent accumulators so the compiler can vectorise them (one
//! sequential `f32` sum cannot be reordered, so it would not be); the summation order differs
//! from candle's gemm, which is why the reference test allows 1e-5.

use super::scaler::Scaler;
use super::weights::{Activation, Architecture, Dense, Weights};

/// A ready-to-run MLP: scaler + weights + buffers.
#[derive(Clone, Debug)]
pub struct FastMlp {
    arch: Architecture,
    scaler: Scaler,
    layers: Vec<Dense>,
    a: Vec<f32>,
    b: Vec<f32>,
}

#[inline]
fn dot(w: &[f32], x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let wc = w.chunks_exact(8);
    let xc = x.chunks_exact(8);
    let (wr, xr) = (wc.remainder(), xc.remainder());
    for (wv, xv) in wc.zip(xc) {
        for ((a, w), x) in acc.iter_mut().zip(wv).zip(xv) {
            *a += w * x;
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (wv, xv) in wr.iter().zip(xr) {
        s += wv * xv;
    }
    s
}

impl FastMlp {
    /// Copies the weights. `None` if they do not fit the architecture or the scaler has the
    /// wrong length.
    pub fn new(arch: &Architecture, weights: &Weights, scaler: &Scaler) -> Option<FastMlp> {
        if !weights.matches(arch) || scaler.len() != arch.inputs {
            return None;
        }
        let w = arch.max_width();
        Some(FastMlp {
            arch: arch.clone(),
            scaler: scaler.clone(),
            layers: weights.layers.clone(),
            a: vec![0.0; w],
            b: vec![0.0; w],
        })
    }

    pub fn arch(&self) -> &Architecture {
        &self.arch
    }

    /// Replaces the weights in place (same architecture; the scaler stays). No allocation;
    /// `false` and nothing changed when they do not fit.
    pub fn set_weights(&mut self, w: &Weights) -> bool {
        if !w.matches(&self.arch) {
            return false;
        }
        for (d, s) in self.layers.iter_mut().zip(&w.layers) {
            d.w.copy_from_slice(&s.w);
            d.b.copy_from_slice(&s.b);
        }
        true
    }

    /// The weights as plain numbers (a copy).
    pub fn weights(&self) -> Weights {
        Weights {
            layers: self.layers.clone(),
        }
    }

    pub fn scaler(&self) -> &Scaler {
        &self.scaler
    }

    pub fn inputs(&self) -> usize {
        self.arch.inputs
    }

    pub fn outputs(&self) -> usize {
        self.arch.outputs
    }

    /// Raw (unscaled) input → raw outputs (logits, or mean/log-variance pairs). `x` must have
    /// [`FastMlp::inputs`] values; extra values are ignored, missing ones read as 0.
    #[inline]
    pub fn forward(&mut self, x: &[f32]) -> &[f32] {
        let n_in = self.arch.inputs;
        self.a[..n_in].fill(0.0);
        let k = x.len().min(n_in);
        self.a[..k].copy_from_slice(&x[..k]);
        self.scaler.apply(&mut self.a[..n_in]);
        self.forward_scaled_in_place()
    }

    /// Same, for an input already scaled (what training saw).
    pub fn forward_scaled(&mut self, x: &[f32]) -> &[f32] {
        let n_in = self.arch.inputs;
        self.a[..n_in].fill(0.0);
        let k = x.len().min(n_in);
        self.a[..k].copy_from_slice(&x[..k]);
        self.forward_scaled_in_place()
    }

    fn forward_scaled_in_place(&mut self) -> &[f32] {
        let act = self.arch.activation;
        let last = self.layers.len().saturating_sub(1);
        let (mut src, mut dst) = (&mut self.a, &mut self.b);
        for (li, d) in self.layers.iter().enumerate() {
            let x = &src[..d.inputs];
            for (j, out) in dst[..d.outputs].iter_mut().enumerate() {
                let v = dot(&d.w[j * d.inputs..(j + 1) * d.inputs], x) + d.b[j];
                *out = if li < last {
                    match act {
                        Activation::Relu => v.max(0.0),
                        Activation::Tanh => v.tanh(),
                    }
                } else {
                    v
                };
            }
            std::mem::swap(&mut src, &mut dst);
        }
        &src[..self.arch.outputs]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaler_is_applied_before_the_layers() {
        let arch = Architecture::logistic(2, 1);
        let w = Weights {
            layers: vec![Dense {
                inputs: 2,
                outputs: 1,
                w: vec![1.0, 1.0],
                b: vec![0.5],
            }],
        };
        let s = Scaler {
            mean: vec![1.0, 2.0],
            std: vec![2.0, 4.0],
        };
        let mut f = FastMlp::new(&arch, &w, &s).unwrap();
        // (3-1)/2 + (6-2)/4 + 0.5 = 2.5
        assert_eq!(f.forward(&[3.0, 6.0]), &[2.5]);
        assert!(FastMlp::new(&arch, &w, &Scaler::identity(3)).is_none());
    }
}
