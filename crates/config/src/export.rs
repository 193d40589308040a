//! `[export]`: the Parquet export's tunables — book depth, row-group and batch sizes, zstd
//! level, decimal precision.
//!
//! Owns: the section's type, defaults and check. Must not touch: files (the export crate
//! writes them with these values), other sections.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// How `export` writes Parquet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportConfig {
    /// Levels per side in the `book` table (`--depth` overrides), 1–1000.
    pub depth: usize,
    /// Rows per row group: the unit a scan reads or skips.
    pub row_group_rows: usize,
    /// Rows collected per table before they are encoded (memory per open file).
    pub batch_rows: usize,
    /// zstd compression level, 1–22.
    pub zstd_level: i32,
    /// Precision of prices and quantities: 18 (`DECIMAL(18,8)`, Parquet `INT64`: up to
    /// 9,999,999,999.99999999) or 38 (`DECIMAL(38,8)`, 16 bytes: any quantity).
    pub decimal_precision: u8,
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            depth: 20,
            row_group_rows: 131_072,
            batch_rows: 8192,
            zstd_level: 1,
            decimal_precision: 18,
        }
    }
}

impl ExportConfig {
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if !(1..=1000).contains(&self.depth) {
            return Err(ConfigError::invalid(
                origin,
                "export.depth",
                self.depth.to_string(),
                "must be 1 to 1000 levels per side",
            ));
        }
        if self.row_group_rows == 0 || self.batch_rows == 0 {
            return Err(ConfigError::invalid(
                origin,
                "export.row_group_rows / export.batch_rows",
                format!("{} / {}", self.row_group_rows, self.batch_rows),
                "must be positive",
            ));
        }
        if !(1..=22).contains(&self.zstd_level) {
            return Err(ConfigError::invalid(
                origin,
                "export.zstd_level",
                self.zstd_level.to_string(),
                "zstd levels are 1 to 22",
            ));
        }
        if ![18, 38].contains(&self.decimal_precision) {
            return Err(ConfigError::invalid(
                origin,
                "export.decimal_precision",
                self.decimal_precision.to_string(),
                "prices and quantities are DECIMAL(18,8) (INT64) or DECIMAL(38,8) (16 bytes): 18 or 38",
            ));
        }
        Ok(())
    }
}
