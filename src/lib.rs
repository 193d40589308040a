//! microstate-tui: a terminal live monitor for market microstructure.
//!
//! # Layout
//! ```text
//! ingest (tokio: WebSocket + REST) ─frames─▶ engine (sync, one owner) ─▶ summary (View later)
//! record (capture readers, replay) ─frames─▶    │
//! exchange (local Binance-compatible server, tests and demo) ◀─ record / synthetic
//! ```
//! - [`num`]: exact fixed-point prices and quantities, domain newtypes.
//! - [`wire`]: Binance frames → [`wire::Event`] (fast decoder + serde_json reference).
//! - [`book`]: the L2 book and its sync state machine ([`book::sync`]).
//! - [`engine`]: per-symbol state, bookTicker cross-check; no I/O, no clock.
//! - [`features`]: incremental microstructure features per symbol, in exchange event time, gap-aware.
//! - [`record`]: capture readers (hftbacktest, cryptofeed), our recording format and its writer
//!   thread, and a time merge.
//! - [`digest`]: a stable digest of the engine's outputs (replay determinism).
//! - [`summary`]: the headless summary JSON.
//! - [`config`]: the TOML configuration (defaults, loading, validation).
//! - [`ingest`]: the live client (sockets, snapshots under a weight budget, reconnects).
//! - [`exchange`]: the local Binance-compatible exchange serving captures or [`synthetic`] data.
//! - [`synthetic`]: a seeded synthetic market speaking Binance's wire format (pure).
//! - [`run`]: replay — the [`run::Player`] (pacing, commands, checkpoints) and its real-time loop.
//! - [`ml`]: the in-process candle models (generic MLP/logistic classifier, price-context model),
//!   their training, evaluation, metadata and the allocation-free inference path.
//! - [`interpret`]: the deterministic table that turns model outputs and data health into words.
//!
//! The core (`num`, `wire`, `book`, `features`, `engine`, `summary`, `synthetic`, `ml`,
//! `interpret`, `latency`, `view`) is synchronous, does no I/O (the models' explicit load/save
//! functions aside) and reads no clock: live, replay, tests and benchmarks drive the very same
//! code.

pub mod book;
pub mod config;
pub mod digest;
pub mod engine;
pub mod exchange;
pub mod features;
pub mod ingest;
pub mod interpret;
pub mod latency;
pub mod market;
pub mod ml;
pub mod num;
pub mod record;
pub(crate) mod rng;
pub mod run;
pub mod signals;
pub mod summary;
pub mod synthetic;
pub mod ui;
pub mod view;
pub mod wire;
