//! Training and evaluation of the in-process models with candle (CPU only).
//!
//! Owns: the candle MLP and its training loop, classifier training with temperature calibration,
//! the context model's datasets from kline files and its evaluation against baselines, the
//! pressure model's datasets (replayed through the very engine the live path runs), training,
//! walk-forward folds and evaluation. Must not touch: the live path (the core runs the trained
//! weights by hand, without candle), the screen. This is the only crate that links candle.
//!
//! # Layout
//! ```text
//!  io::record::klines ──▶ context ──▶ mlp (candle) ──Weights──▶ io::models::save_model
//!  drive::player ──engine──▶ pressure ──▶ classifier ──▶ mlp
//! ```
//! Threads: candle's CPU matmul reads `RAYON_NUM_THREADS` on every call; with more than one
//! thread every small matmul pays a rayon wake-up (BUILD-NOTES trap 1). The binary sets it to 1
//! first thing in `main`.

pub mod classifier;
pub mod context;
pub mod mlp;
pub mod online;
pub mod pressure;
pub mod pressure_eval;

use microstate_core::ml::MlError;

/// Anything that can go wrong building, training or evaluating a model.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Model(#[from] MlError),
    #[error("{0}")]
    Data(String),
}

/// The CPU device (the only one this build uses).
pub(crate) fn cpu() -> candle_core::Device {
    candle_core::Device::Cpu
}
