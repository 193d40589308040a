//! The drive crate's integration tests, one binary: the replay driver over the real captures in
//! ../shared/data (no screen, no candle).
//!
//! - `golden_replay`: every capture's README counts, and the final book against an independent
//!   rebuild, level for level.
//! - `latency`: latency stages and the clock offset on the skewed spot capture.
//! - `signals`: the shipped models on the replay path.

mod golden_replay;
mod latency;
mod signals;
