//! The exchange crate's integration tests, one binary: the local exchange against real clients
//! on 127.0.0.1:0, fed with the real captures in ../shared/data (no screen, no candle).
//!
//! - `exchange`: verbatim streams and snapshots, weights and bans, pings, faults, looping, the
//!   synthetic market.
//! - `klines`: the kline endpoints (paths, parameters, limits, weights, 429/418), io's fetch and
//!   exact parse, a recording of the answers replayed into a ready context.

mod exchange;
mod klines;
