//! `[api]`: the HTTP + WebSocket API and the Prometheus metrics a session serves to other
//! programs — where it listens, the token it asks for, and how it treats its clients.
//!
//! Owns: the section's type, defaults and check. Must not touch: sockets (the api crate binds
//! them; the rule that a non-loopback address needs a token is enforced there, after the
//! command line's `--api-token` is known), other sections.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;
use crate::units::duration_str;

/// Levels per side the API can serve (the view holds this many).
pub const API_MAX_DEPTH: usize = 60;

/// The API server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// `HOST:PORT` to serve on; empty: no API (`--api ADDR` overrides). Anything but a
    /// loopback address needs `token`.
    pub addr: String,
    /// Bearer token every request must carry (`Authorization: Bearer TOKEN`, or `?token=` for
    /// WebSocket clients that cannot set headers); empty: none (loopback only).
    pub token: String,
    /// A stream's book, features and signals are conflated to at most one message per this.
    #[serde(with = "duration_str")]
    pub interval: Duration,
    /// Levels per side in a book answer or message when the client names no `depth`.
    pub depth: usize,
    /// Messages waiting for one WebSocket client; past this it is a slow consumer: its book,
    /// features and signals are conflated further and its trades dropped (counted).
    pub client_queue: usize,
    /// A client that stays behind (full queue) this long is disconnected with a close reason.
    #[serde(with = "duration_str")]
    pub slow_grace: Duration,
    /// WebSocket clients at once; more are refused (503).
    pub max_clients: usize,
    /// Events (trades) buffered between the engine and the API; a client further behind loses
    /// the oldest (counted), the engine never waits.
    pub events_capacity: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            addr: String::new(),
            token: String::new(),
            interval: Duration::from_millis(100),
            depth: 10,
            client_queue: 256,
            slow_grace: Duration::from_secs(5),
            max_clients: 256,
            events_capacity: 8192,
        }
    }
}

impl ApiConfig {
    /// The address parses, and every size and interval is positive and within reach.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if !self.addr.is_empty() && self.addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::invalid(
                origin,
                "api.addr",
                format!("{:?}", self.addr),
                "must be HOST:PORT with an IP address, e.g. \"127.0.0.1:8480\" (empty: no API)",
            ));
        }
        if self.token.chars().any(char::is_whitespace) {
            return Err(ConfigError::invalid(
                origin,
                "api.token",
                "(not shown)",
                "must not contain whitespace",
            ));
        }
        if self.interval.is_zero() || self.slow_grace.is_zero() {
            return Err(ConfigError::invalid(
                origin,
                "api.interval / api.slow_grace",
                format!(
                    "{} / {}",
                    crate::format_duration(self.interval),
                    crate::format_duration(self.slow_grace)
                ),
                "must be positive",
            ));
        }
        if !(1..=API_MAX_DEPTH).contains(&self.depth) {
            return Err(ConfigError::invalid(
                origin,
                "api.depth",
                self.depth.to_string(),
                format!("must be 1 to {API_MAX_DEPTH}"),
            ));
        }
        if self.client_queue == 0 || self.max_clients == 0 || self.events_capacity == 0 {
            return Err(ConfigError::invalid(
                origin,
                "api.client_queue / api.max_clients / api.events_capacity",
                format!(
                    "{} / {} / {}",
                    self.client_queue, self.max_clients, self.events_capacity
                ),
                "must be positive",
            ));
        }
        Ok(())
    }
}
