//! `[rest]`: bounds on what a REST peer (Binance, or anything at the configured address) can
//! make the client hold or wait — response head and body sizes, and the longest `Retry-After`
//! honoured.
//!
//! Owns: this section's type, defaults and check. Must not touch: sockets (the io crate's
//! HTTP client applies these while it reads), other sections.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;
use crate::units::{duration_str, size_str};

/// Smallest head limit the HTTP stack accepts (hyper's minimum read buffer).
pub const MIN_REST_HEAD: u64 = 8 * 1024;

/// REST response bounds, checked while reading (never after).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestConfig {
    /// Status line plus headers of one response; larger is refused ("response head too
    /// large"). At least 8KiB.
    #[serde(with = "size_str")]
    pub max_head_bytes: u64,
    /// Body of one response (a 5000-level spot snapshot is ~250 KB); larger is refused as
    /// soon as the declared length or the bytes read pass it.
    #[serde(with = "size_str")]
    pub max_body_bytes: u64,
    /// A 429/418 `Retry-After` longer than this (or unreadable as seconds) waits this long,
    /// then asks again: a peer cannot park the client for years.
    #[serde(with = "duration_str")]
    pub retry_after_max: Duration,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            max_head_bytes: 64 << 10,
            max_body_bytes: 32 << 20,
            retry_after_max: Duration::from_secs(3600),
        }
    }
}

impl RestConfig {
    /// The head limit at least [`MIN_REST_HEAD`]; the body limit positive; the longest wait
    /// between 1 s and 7 days (Binance's IP bans last 2 minutes to 3 days).
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if self.max_head_bytes < MIN_REST_HEAD || self.max_head_bytes > (1 << 30) {
            return Err(ConfigError::invalid(
                origin,
                "rest.max_head_bytes",
                self.max_head_bytes.to_string(),
                "must be between 8KiB and 1GiB",
            ));
        }
        if self.max_body_bytes == 0 || self.max_body_bytes > (4 << 30) {
            return Err(ConfigError::invalid(
                origin,
                "rest.max_body_bytes",
                self.max_body_bytes.to_string(),
                "must be between 1 byte and 4GiB",
            ));
        }
        if self.retry_after_max < Duration::from_secs(1)
            || self.retry_after_max > Duration::from_secs(7 * 86_400)
        {
            return Err(ConfigError::invalid(
                origin,
                "rest.retry_after_max",
                crate::format_duration(self.retry_after_max),
                "must be between 1s and 7 days",
            ));
        }
        Ok(())
    }
}
