//! The io crate's integration tests, one binary: the core driven by the capture readers over the
//! real captures in ../shared/data (no screen, no candle).
//!
//! - `wire_vs_serde`: the fast decoder against the serde_json reference on every captured frame.
//! - `features`: the incremental features against `feature_batch`, an independent from-scratch
//!   recomputation, on every capture and on random streams.
//!
//! Proptest keeps its regression seeds in `tests/proptest-regressions/<module>.txt`.

mod feature_batch;
mod features;
mod wire_vs_serde;
