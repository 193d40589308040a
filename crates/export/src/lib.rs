//! microstate-export: the engine's books, trades, features, model outputs and sync events as
//! hive-partitioned Apache Parquet that DuckDB, Polars and Spark read as they are.
//!
//! Owns: the exported tables' layout, writing Parquet files (zstd, row groups sized for scans)
//! under `OUT/<table>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/part-<n>.parquet`, and giving them their
//! final names only when complete. Must not touch: market logic (it reads the core's
//! [`Engine`](microstate_core::engine::Engine) after each frame), reading captures and running
//! the replay (the drive crate's player feeds the frames; the app's `export` subcommand wires
//! the two), candle, tokio.
//!
//! ```text
//! exporter (when a row is due) ──▶ tables (columns of a batch) ──▶ files (parts, commit)
//!          │                                                         └──▶ encode (thread:
//!          │                                                              Parquet, zstd, disk)
//!          └─────────────────────────────────────────────────────▶ error
//! ```

pub mod encode;
pub mod error;
pub mod exporter;
pub mod files;
pub mod tables;

pub use error::ExportError;
pub use exporter::{ExportOptions, ExportReport, Exporter};
pub use files::WriteSettings;
pub use tables::Table;
