//! An MLP's shape and weights as plain numbers, and the training settings stored with a model.
//!
//! Owns: [`Architecture`], [`Weights`] (row-major `f32`, candle-nn's `Linear` layout), their
//! seeded initialisation, [`TrainOptions`] and [`TrainReport`]. Must not touch: candle (training
//! is in the train crate), files (model files are read by the io crate).

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// The non-linearity between hidden layers (none after the last layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Relu,
    Tanh,
}

impl Activation {
    #[inline]
    pub fn apply(self, v: f32) -> f32 {
        match self {
            Activation::Relu => v.max(0.0),
            Activation::Tanh => v.tanh(),
        }
    }
}

/// The shape of an MLP: `inputs → hidden[0] → … → outputs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Architecture {
    pub inputs: usize,
    /// Hidden layer widths; empty is a linear (logistic, for a softmax head) model.
    pub hidden: Vec<usize>,
    pub outputs: usize,
    pub activation: Activation,
}

impl Architecture {
    pub fn mlp(inputs: usize, hidden: &[usize], outputs: usize, activation: Activation) -> Self {
        Architecture {
            inputs,
            hidden: hidden.to_vec(),
            outputs,
            activation,
        }
    }

    /// No hidden layer: with a softmax on top, multinomial logistic regression.
    pub fn logistic(inputs: usize, outputs: usize) -> Self {
        Architecture::mlp(inputs, &[], outputs, Activation::Relu)
    }

    /// `(inputs, outputs)` of each dense layer, first to last.
    pub fn layers(&self) -> Vec<(usize, usize)> {
        let mut dims = vec![self.inputs];
        dims.extend(&self.hidden);
        dims.push(self.outputs);
        dims.windows(2).map(|w| (w[0], w[1])).collect()
    }

    /// The widest activation vector (input included): the size of the inference buffers.
    pub fn max_width(&self) -> usize {
        self.hidden
            .iter()
            .copied()
            .chain([self.inputs, self.outputs])
            .max()
            .unwrap_or(0)
    }

    pub fn param_count(&self) -> usize {
        self.layers().iter().map(|(i, o)| i * o + o).sum()
    }
}

/// One dense layer: `y = W x + b`, `W` row-major `outputs × inputs` (candle-nn's `Linear`).
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    pub inputs: usize,
    pub outputs: usize,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

/// All weights of an MLP, as plain numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub layers: Vec<Dense>,
}

impl Weights {
    /// Uniform in ±1/√inputs per layer (PyTorch's `Linear` default), biases zero, from `seed`.
    pub fn seeded(arch: &Architecture, seed: u64) -> Weights {
        let mut rng = Rng::new(seed, 0x4d4c_5000);
        let layers = arch
            .layers()
            .into_iter()
            .map(|(i, o)| {
                let a = 1.0 / (i.max(1) as f32).sqrt();
                let w = (0..i * o)
                    .map(|_| {
                        let u = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
                        (2.0 * u - 1.0) * a
                    })
                    .collect();
                Dense {
                    inputs: i,
                    outputs: o,
                    w,
                    b: vec![0.0; o],
                }
            })
            .collect();
        Weights { layers }
    }

    /// Checks that the weights have the architecture's shapes.
    pub fn matches(&self, arch: &Architecture) -> bool {
        let l = arch.layers();
        l.len() == self.layers.len()
            && l.iter().zip(&self.layers).all(|(&(i, o), d)| {
                d.inputs == i && d.outputs == o && d.w.len() == i * o && d.b.len() == o
            })
    }
}

/// Safetensors names of layer `i`'s weight and bias (`l0.weight` `[out, in]`, `l0.bias` `[out]`).
pub fn tensor_names(i: usize) -> (String, String) {
    (format!("l{i}.weight"), format!("l{i}.bias"))
}

/// Training settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainOptions {
    pub max_epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Stop after this many epochs without a better validation loss; the best epoch's weights
    /// are kept.
    pub patience: usize,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            max_epochs: 40,
            batch: 256,
            lr: 1e-3,
            weight_decay: 1e-4,
            patience: 5,
            seed: 1,
        }
    }
}

/// What training did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    pub epochs_run: usize,
    /// 1-based epoch whose weights were kept (0: the initial weights were never beaten).
    pub best_epoch: usize,
    pub best_val_loss: f64,
    pub train_loss: Vec<f64>,
    pub val_loss: Vec<f64>,
}
