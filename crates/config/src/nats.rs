//! `[nats]`: the NATS JetStream fan-out — the stream a collector (`--publish nats://…`) writes
//! what came off the wire to, its retention limits, the subjects, and how a consumer
//! (`--source nats://…`) that joins late picks its starting point.
//!
//! Owns: the section's type, defaults and check. Must not touch: sockets (the io crate's `bus`
//! speaks NATS with these values), other sections.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;
use crate::units::{duration_str, size_str};

/// The JetStream stream and its subjects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsConfig {
    /// The stream's name (created when missing, reused when present): letters, digits, `-`
    /// and `_` only.
    pub stream: String,
    /// First token of every subject: `<prefix>.<market>.<SYMBOL>.raw` (frames, snapshots,
    /// resets), `<prefix>.<market>.<SYMBOL>.signals` (features as JSON).
    pub subject_prefix: String,
    /// Retention: messages older than this are removed (`0s`: kept until the size limit).
    #[serde(with = "duration_str")]
    pub max_age: Duration,
    /// Retention: the oldest messages go once the stream holds this many bytes.
    #[serde(with = "size_str")]
    pub max_bytes: u64,
    /// Copies of the stream in a NATS cluster (1 on a single server; 3 or 5 for redundancy).
    pub replicas: u32,
    /// A consumer that joins late starts this long before the latest snapshot of its
    /// symbols, so the diffs that bridge the snapshot are there too.
    #[serde(with = "duration_str")]
    pub late_join_lead: Duration,
    /// Published messages awaiting the server's acknowledgement before the publisher waits;
    /// past `queue` messages waiting to be published, new ones are dropped and counted (the
    /// live feed never waits for NATS).
    pub max_in_flight: usize,
    pub queue: usize,
    /// Features of each symbol published on `.signals` at most this often (`0s`: never).
    #[serde(with = "duration_str")]
    pub signals_every: Duration,
    /// The collector asks fresh snapshots of its synced symbols this often and publishes them,
    /// so a consumer joining late finds one in the stream however old the stream is (keep it
    /// well under `max_age`); `0s`: only at the start and after gaps, reconnects and publish
    /// errors. Each costs a snapshot's request weight per symbol.
    #[serde(with = "duration_str")]
    pub snapshot_every: Duration,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            stream: "MICROSTATE".into(),
            subject_prefix: "microstate".into(),
            max_age: Duration::from_secs(24 * 3600),
            max_bytes: 4 << 30,
            replicas: 1,
            late_join_lead: Duration::from_secs(5),
            max_in_flight: 1024,
            queue: 100_000,
            signals_every: Duration::from_secs(1),
            snapshot_every: Duration::from_secs(3600),
        }
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl NatsConfig {
    /// Names NATS accepts (no dots, spaces or wildcards), limits above zero, 1–5 replicas.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if !is_token(&self.stream) {
            return Err(ConfigError::invalid(
                origin,
                "nats.stream",
                format!("{:?}", self.stream),
                "must be letters, digits, '-' or '_' (no dots, spaces or wildcards)",
            ));
        }
        if !is_token(&self.subject_prefix) {
            return Err(ConfigError::invalid(
                origin,
                "nats.subject_prefix",
                format!("{:?}", self.subject_prefix),
                "must be one subject token: letters, digits, '-' or '_'",
            ));
        }
        if self.max_bytes == 0 || self.max_bytes > i64::MAX as u64 {
            return Err(ConfigError::invalid(
                origin,
                "nats.max_bytes",
                self.max_bytes.to_string(),
                "must be above zero",
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            return Err(ConfigError::invalid(
                origin,
                "nats.replicas",
                self.replicas.to_string(),
                "must be 1 to 5",
            ));
        }
        if self.max_in_flight == 0 || self.queue == 0 {
            return Err(ConfigError::invalid(
                origin,
                "nats.max_in_flight / nats.queue",
                format!("{} / {}", self.max_in_flight, self.queue),
                "must be positive",
            ));
        }
        Ok(())
    }
}
