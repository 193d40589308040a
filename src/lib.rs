//! microstate-tui: a terminal live monitor for market microstructure.
//!
//! # Layout
//! ```text
//! ingest (live, later) ─frames─▶ engine (sync, one owner) ─▶ summary / View
//! record::reader (replay) ─frames─▶    │
//! ```
//! - [`num`]: exact fixed-point prices and quantities, domain newtypes.
//! - [`wire`]: Binance frames → [`wire::Event`] (fast decoder + serde_json reference).
//! - [`book`]: the L2 book and its sync state machine ([`book::sync`]).
//! - [`engine`]: per-symbol state, bookTicker cross-check; no I/O, no clock.
//! - [`record`]: capture readers (hftbacktest, cryptofeed) and a time merge.
//! - [`summary`]: the headless summary JSON.
//! - [`run`]: drivers that touch files (headless replay).
//!
//! The core (`num`, `wire`, `book`, `engine`, `summary`) is synchronous, does no I/O and reads no
//! clock: live, replay, tests and benchmarks drive the very same code.

pub mod book;
pub mod engine;
pub mod market;
pub mod num;
pub mod record;
pub mod run;
pub mod summary;
pub mod wire;
