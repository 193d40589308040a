//! The io crate's integration tests, one binary: the core driven by the capture readers over the
//! real captures in ../shared/data (no screen, no candle).
//!
//! - `wire_vs_serde`: the fast decoder against the serde_json reference on every captured frame.
//! - `features`: the incremental features against `feature_batch`, an independent from-scratch
//!   recomputation, on every capture and on random streams.
//!
//! - `fuzz`: the fuzzing ring (a mutation fuzzer of our own over every decoder and reader,
//!   seeded from the real captures; a quick run here, the CI run ignored, its regressions).
//! - `hostile`: scripted peers on 127.0.0.1 (chunk sizes that wrap, absurd `Retry-After`, endless
//!   heads and bodies, HTML where a snapshot should be, oversize WebSocket frames) against the
//!   live client's REST and WebSocket code.
//!
//! Proptest keeps its regression seeds in `tests/proptest-regressions/<module>.txt`.

mod feature_batch;
mod features;
mod fuzz;
mod hostile;
mod wire_vs_serde;
