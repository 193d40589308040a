//! The drive crate's integration tests, one binary: the replay driver over the real captures in
//! ../shared/data, and the live driver against the local exchange (no screen, no candle).
//!
//! - `golden_replay`: every capture's README counts, and the final book against an independent
//!   rebuild, level for level.
//! - `latency`: latency stages and the clock offset on the skewed spot capture.
//! - `signals`: the shipped models on the replay path.
//! - `klines`: the context history, live against the local exchange (seeded, refilled after a
//!   gap, recorded and replayed) and seeded into a replay from a kline file.

mod golden_replay;
mod klines;
mod latency;
mod play;
mod signals;
