//! The synchronous core of microstate-tui: everything that turns market data into books,
//! features, model outputs and meaning.
//!
//! Owns: exact numbers, wire decoding, the book and its sync state machine, the engine (one owner
//! of all per-symbol state), features, model inference, the interpretation, latency histograms,
//! the `View` the screen draws, the summary and the replay digest.
//! Must not touch: sockets, files, clocks, async runtimes, the terminal, candle. This is enforced
//! by the manifest: the crate's normal dependencies are serde, serde_json, toml, thiserror,
//! tracing and hdrhistogram (`cargo tree -p microstate-core -e normal` shows it). Timestamps arrive
//! on the events; a driver that wants stage timings lends the engine a clock function.
//!
//! # Layout
//! ```text
//!  wire ──Event──▶ engine ──▶ book (+ book::sync)      view   ◀── engine (+ engine::history)
//!  (scan/binance)   │    ├──▶ features                 summary◀── engine, latency
//!                   │    └──▶ ml::signals ─▶ ml::{pressure, context} ─▶ ml::interpret
//!                   └── latency (per-stage HDR histograms)   digest ◀── engine
//! ```
//! - [`num`]: exact fixed-point prices and quantities, domain newtypes; [`units`]: durations and
//!   sizes as text; [`market`]: spot / USD-M / COIN-M; [`rng`]: the seeded SplitMix64.
//! - [`wire`]: Binance frames → [`wire::Event`] (fast decoder + serde_json reference).
//! - [`book`]: the L2 book and its sync state machine ([`book::sync`]).
//! - [`engine`]: per-symbol state, routing, bookTicker cross-check, the screen's history.
//! - [`features`]: incremental microstructure features per symbol, in exchange event time.
//! - [`ml`]: model weights as plain numbers, the allocation-free inference path, the pressure and
//!   context models at run time, live scoring, the signals per symbol and the interpretation.
//! - [`latency`]: per-stage HDR histograms and their percentiles; [`limits`]: the caps on what
//!   input decides (bytes, levels, symbols, window entries) and the count of their trips.
//! - [`tape`]: time & sales rows (one per taker order) and volume at price, from the history;
//!   [`alerts`]: price levels, imbalance, large trades, gaps, stale, resyncs as dated alerts.
//! - [`view`]: the trimmed snapshot the screen draws; [`summary`]: the headless summary JSON;
//!   [`digest`]: a stable digest of the engine's outputs (replay determinism).

pub mod alerts;
pub mod book;
pub mod calendar;
pub mod digest;
pub mod engine;
pub mod features;
pub mod latency;
pub mod limits;
pub mod market;
pub mod ml;
pub mod num;
pub mod rng;
pub mod summary;
pub mod tape;
pub mod units;
pub mod view;
pub mod wire;
