//! The generic MLP in candle-nn: what trains the plain-number [`Weights`] the core runs.
//!
//! Owns: the candle model used to train ([`CandleMlp`]) and the training loop (AdamW,
//! mini-batches, early stopping on a validation split). Must not touch: features, labels'
//! meaning, clocks, files (the io crate's `models` writes the weights).
//!
//! A multinomial logistic model is this same code with no hidden layer
//! ([`Architecture::logistic`]): one path to train, save, load and run both.
//!
//! Determinism: weights are initialised from the project's seeded SplitMix64 (candle-nn's
//! `VarMap` initialisers draw from an unseeded thread RNG, so they are not used), mini-batches
//! are shuffled from the same seed, and candle's CPU kernels split work over output blocks, not
//! over reductions; one seed gives the same model on a given machine (checked by a test).

use candle_core::{D, Tensor, Var};
use candle_nn::{Linear, Module, Optimizer};

use crate::{TrainError, cpu};
use microstate_core::ml::weights::{
    Activation, Architecture, Dense, TrainOptions, TrainReport, Weights,
};
use microstate_core::rng::Rng;

/// The candle-nn model: used to train and as the reference the hand-written path is held to.
pub struct CandleMlp {
    arch: Architecture,
    vars: Vec<(Var, Var)>,
}

impl CandleMlp {
    pub fn new(arch: &Architecture, w: &Weights) -> Result<CandleMlp, TrainError> {
        if !w.matches(arch) {
            return Err(TrainError::Data(
                "weights do not have the architecture's shapes".into(),
            ));
        }
        let mut vars = Vec::new();
        for d in &w.layers {
            let wt = Var::from_tensor(&Tensor::from_slice(&d.w, (d.outputs, d.inputs), &cpu())?)?;
            let bt = Var::from_tensor(&Tensor::from_slice(&d.b, d.outputs, &cpu())?)?;
            vars.push((wt, bt));
        }
        Ok(CandleMlp {
            arch: arch.clone(),
            vars,
        })
    }

    pub fn arch(&self) -> &Architecture {
        &self.arch
    }

    /// `x`: `[batch, inputs]` → `[batch, outputs]` (raw outputs: logits, or mean/log-variance).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, TrainError> {
        let mut h = x.clone();
        let last = self.vars.len().saturating_sub(1);
        for (i, (w, b)) in self.vars.iter().enumerate() {
            let lin = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
            h = lin.forward(&h)?;
            if i < last {
                h = match self.arch.activation {
                    Activation::Relu => h.relu()?,
                    Activation::Tanh => h.tanh()?,
                };
            }
        }
        Ok(h)
    }

    /// Forward pass over row-major rows, in chunks; returns row-major outputs.
    pub fn forward_rows(&self, rows: &[f32]) -> Result<Vec<f32>, TrainError> {
        let n_in = self.arch.inputs;
        let mut out = Vec::with_capacity(rows.len() / n_in.max(1) * self.arch.outputs);
        for chunk in rows.chunks(n_in.max(1) * 8192) {
            let n = chunk.len() / n_in.max(1);
            let x = Tensor::from_slice(chunk, (n, n_in), &cpu())?;
            out.extend(self.forward(&x)?.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }

    /// The current weights as plain numbers.
    pub fn weights(&self) -> Result<Weights, TrainError> {
        let mut layers = Vec::new();
        for (w, b) in &self.vars {
            let (o, i) = w.as_tensor().dims2()?;
            layers.push(Dense {
                inputs: i,
                outputs: o,
                w: w.as_tensor().flatten_all()?.to_vec1::<f32>()?,
                b: b.as_tensor().to_vec1::<f32>()?,
            });
        }
        Ok(Weights { layers })
    }

    /// Every weight and bias, layer by layer (weight then bias): what an optimizer updates.
    pub fn all_vars(&self) -> Vec<Var> {
        self.vars
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect()
    }
}

/// What the outputs are trained to match.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a> {
    /// One class index per row; outputs are logits, loss is softmax cross-entropy.
    Classes(&'a [u32]),
    /// `heads` values per row; outputs are `[mean_0, log_var_0, mean_1, log_var_1, …]`, loss is
    /// the Gaussian negative log-likelihood (without the constant ½·ln 2π).
    Gaussian { values: &'a [f32], heads: usize },
}

impl Targets<'_> {
    fn rows(&self) -> usize {
        match self {
            Targets::Classes(c) => c.len(),
            Targets::Gaussian { values, heads } => values.len() / (*heads).max(1),
        }
    }
}

fn loss_of(out: &Tensor, t: &Tensor, gaussian_heads: Option<usize>) -> Result<Tensor, TrainError> {
    Ok(match gaussian_heads {
        None => candle_nn::loss::cross_entropy(out, t)?,
        Some(h) => {
            let b = out.dim(0)?;
            let o = out.reshape((b, h, 2))?;
            let mu = o.narrow(D::Minus1, 0, 1)?.squeeze(D::Minus1)?;
            let lv = o.narrow(D::Minus1, 1, 1)?.squeeze(D::Minus1)?;
            let err2 = (t - mu)?.sqr()?;
            let nll = ((lv.neg()?.exp()? * err2)? + lv)?;
            (nll.mean_all()? * 0.5)?
        }
    })
}

/// Rows `idx` of `x` (and their targets) as tensors.
fn batch_tensors(
    x: &[f32],
    n_in: usize,
    t: Targets<'_>,
    idx: &[usize],
    xbuf: &mut Vec<f32>,
) -> Result<(Tensor, Tensor), TrainError> {
    xbuf.clear();
    for &i in idx {
        xbuf.extend_from_slice(&x[i * n_in..(i + 1) * n_in]);
    }
    let xt = Tensor::from_slice(xbuf, (idx.len(), n_in), &cpu())?;
    let tt = match t {
        Targets::Classes(c) => {
            let v: Vec<u32> = idx.iter().map(|&i| c[i]).collect();
            Tensor::from_vec(v, idx.len(), &cpu())?
        }
        Targets::Gaussian { values, heads } => {
            let mut v = Vec::with_capacity(idx.len() * heads);
            for &i in idx {
                v.extend_from_slice(&values[i * heads..(i + 1) * heads]);
            }
            Tensor::from_vec(v, (idx.len(), heads), &cpu())?
        }
    };
    Ok((xt, tt))
}

/// Mean loss of `model` over all rows, in chunks.
pub fn mean_loss(model: &CandleMlp, x: &[f32], t: Targets<'_>) -> Result<f64, TrainError> {
    let n_in = model.arch.inputs;
    let n = t.rows();
    let heads = match t {
        Targets::Classes(_) => None,
        Targets::Gaussian { heads, .. } => Some(heads),
    };
    let mut total = 0.0;
    let mut buf = Vec::new();
    let all: Vec<usize> = (0..n).collect();
    for chunk in all.chunks(8192) {
        let (xt, tt) = batch_tensors(x, n_in, t, chunk, &mut buf)?;
        let l = loss_of(&model.forward(&xt)?, &tt, heads)?.to_scalar::<f32>()? as f64;
        total += l * chunk.len() as f64;
    }
    Ok(if n > 0 { total / n as f64 } else { f64::NAN })
}

/// Trains an MLP of `arch` from seeded weights with AdamW on mini-batches, evaluating the
/// validation loss after each epoch and keeping the best epoch's weights. `x_*` are row-major,
/// already scaled.
pub fn train(
    arch: &Architecture,
    x_train: &[f32],
    t_train: Targets<'_>,
    x_val: &[f32],
    t_val: Targets<'_>,
    opts: &TrainOptions,
) -> Result<(Weights, TrainReport), TrainError> {
    let n_in = arch.inputs;
    let n = t_train.rows();
    if n == 0 || x_train.len() != n * n_in || x_val.len() != t_val.rows() * n_in {
        return Err(TrainError::Data(format!(
            "training data: {} values for {n} rows of {n_in} inputs (validation: {} values, {} rows)",
            x_train.len(),
            x_val.len(),
            t_val.rows()
        )));
    }
    let heads = match t_train {
        Targets::Classes(c) => {
            if let Some(&bad) = c.iter().find(|&&c| c as usize >= arch.outputs) {
                return Err(TrainError::Data(format!(
                    "class {bad} out of range for {} outputs",
                    arch.outputs
                )));
            }
            None
        }
        Targets::Gaussian { heads, .. } => {
            if arch.outputs != 2 * heads {
                return Err(TrainError::Data(format!(
                    "{heads} Gaussian heads need {} outputs, the architecture has {}",
                    2 * heads,
                    arch.outputs
                )));
            }
            Some(heads)
        }
    };
    let model = CandleMlp::new(arch, &Weights::seeded(arch, opts.seed))?;
    let mut opt = candle_nn::AdamW::new(
        model.all_vars(),
        candle_nn::ParamsAdamW {
            lr: opts.lr,
            weight_decay: opts.weight_decay,
            ..candle_nn::ParamsAdamW::default()
        },
    )?;
    let mut rng = Rng::new(opts.seed, 0x5348_5546);
    let mut order: Vec<usize> = (0..n).collect();
    let mut buf = Vec::new();
    let mut report = TrainReport {
        best_val_loss: mean_loss(&model, x_val, t_val)?,
        ..TrainReport::default()
    };
    let mut best = model.weights()?;
    let mut since_best = 0;
    for epoch in 1..=opts.max_epochs {
        // Fisher–Yates from the seeded stream.
        for i in (1..n).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        let mut sum = 0.0;
        for idx in order.chunks(opts.batch.max(1)) {
            let (xt, tt) = batch_tensors(x_train, n_in, t_train, idx, &mut buf)?;
            let loss = loss_of(&model.forward(&xt)?, &tt, heads)?;
            opt.backward_step(&loss)?;
            sum += loss.to_scalar::<f32>()? as f64 * idx.len() as f64;
        }
        report.train_loss.push(sum / n as f64);
        let v = mean_loss(&model, x_val, t_val)?;
        report.val_loss.push(v);
        report.epochs_run = epoch;
        if v < report.best_val_loss {
            report.best_val_loss = v;
            report.best_epoch = epoch;
            best = model.weights()?;
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= opts.patience {
                break;
            }
        }
    }
    Ok((best, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_and_sizes() {
        let a = Architecture::mlp(64, &[32], 3, Activation::Relu);
        assert_eq!(a.layers(), vec![(64, 32), (32, 3)]);
        assert_eq!(a.max_width(), 64);
        assert_eq!(a.param_count(), 64 * 32 + 32 + 32 * 3 + 3);
        assert_eq!(Architecture::logistic(5, 3).layers(), vec![(5, 3)]);
    }
}
