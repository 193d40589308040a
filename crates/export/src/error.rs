//! Why an export failed, naming the file, folder or option at fault.
//!
//! Owns: [`ExportError`]. Must not touch: anything else (every other module returns it).

use std::path::PathBuf;

/// Why an export failed. Every variant names what it is about (a path, an option, a value).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot create the output folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the output folder {path} is not writable: {source}")]
    NotWritable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing Parquet to {path}: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error("building the {table} rows: {source}")]
    Arrow {
        table: &'static str,
        source: arrow_schema::ArrowError,
    },
    #[error(
        "{path} already exists (exported before?): pass --overwrite to replace it; nothing was \
         written"
    )]
    Exists { path: PathBuf },
    #[error("invalid export option {option} = {value}: {why}")]
    Option {
        option: &'static str,
        value: String,
        why: &'static str,
    },
    #[error(
        "{table} of {symbol}: {column} = {value} does not fit DECIMAL(18,8) (at most \
         9999999999.99999999): export again with `[export] decimal_precision = 38` in the config"
    )]
    DecimalOverflow {
        table: &'static str,
        symbol: String,
        column: String,
        value: String,
    },
    #[error("cannot start the Parquet encoding thread: {0}")]
    Thread(std::io::Error),
    #[error("the Parquet encoding thread stopped unexpectedly")]
    EncoderStopped,
    #[error("unknown table {0:?} (the tables are book, trades, features, signals, events)")]
    UnknownTable(String),
}
