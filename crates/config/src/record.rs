//! `[record]`: recording sessions to disk — where, how often a chunk is flushed, the writer's
//! queue, and when a session rotates to a new file.
//!
//! Owns: the section's type, defaults and check. Must not touch: files (the io crate's writer
//! reads these values; [`RecordConfig::folder`] only names the folder), other sections.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;
use crate::units::{duration_str, size_str};

/// Recording sessions to disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordConfig {
    /// Folder for recordings; empty means the platform data dir (`--out` overrides).
    pub dir: String,
    /// A chunk is written at least this often, so a crash loses at most this much.
    #[serde(with = "duration_str")]
    pub flush_interval: Duration,
    /// Records queued for the writer; past this (a slow disk) records are dropped and counted,
    /// never waited for.
    pub queue: usize,
    /// Start a new file (part) of the session once one holds this many bytes; `0` never.
    #[serde(with = "size_str")]
    pub rotate_size: u64,
    /// Start a new file of the session once one spans this much time; `0s` never.
    #[serde(with = "duration_str")]
    pub rotate_every: Duration,
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            dir: String::new(),
            flush_interval: Duration::from_secs(1),
            queue: 100_000,
            rotate_size: 1 << 30,
            rotate_every: Duration::from_secs(3600),
        }
    }
}

impl RecordConfig {
    /// The folder to record into: `dir`, else the platform data dir's `recordings`.
    pub fn folder(&self) -> PathBuf {
        if !self.dir.is_empty() {
            return PathBuf::from(&self.dir);
        }
        directories::ProjectDirs::from("", "", "microstate-tui")
            .map(|d| d.data_dir().join("recordings"))
            .unwrap_or_else(|| PathBuf::from("recordings"))
    }

    /// The writer needs a queue and a flush interval above zero.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if self.queue == 0 || self.flush_interval.is_zero() {
            return Err(ConfigError::invalid(
                origin,
                "record.queue / record.flush_interval",
                format!("{} / {:?}", self.queue, self.flush_interval),
                "must be positive",
            ));
        }
        Ok(())
    }
}
