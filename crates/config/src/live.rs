//! The live session's sections: `[live]`, `[endpoints]`, `[snapshot]`, `[connection]`, `[sync]`
//! and `[clock]` — what to subscribe to, where, and how the sockets, snapshots, book sync and
//! clock probe behave.
//!
//! Owns: these sections' types, defaults and checks (one `validate` per section). Must not
//! touch: sockets or clocks (the io and drive crates read these values), other sections.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use microstate_core::market::Market;

use crate::ConfigError;
use crate::units::{duration_str, size_str};

/// What to subscribe to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// `spot` or `usdm` (COIN-M is read in replays, not streamed live yet: no depth or kline
    /// requests go to a `dapi` base).
    pub market: Market,
    /// Diff-depth update speed: spot `100ms` or `1000ms`; USD-M `100ms`, `250ms` or `500ms`.
    pub depth_speed: String,
    /// Trade stream: `trade` (every fill) or `aggTrade`.
    pub trade_stream: String,
    /// Subscribe to `@bookTicker` (used to cross-check the book).
    pub book_ticker: bool,
}

/// Where to connect: base URLs. The client appends `/stream?streams=…` (spot),
/// `/public/stream?streams=…` and `/market/stream?streams=…` (USD-M), `/api/v3/…`, `/fapi/v1/…`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointsConfig {
    pub spot_ws: String,
    pub spot_rest: String,
    pub usdm_ws: String,
    pub usdm_rest: String,
}

/// REST requests — depth snapshots and the context history's klines — and the request-weight
/// budget they share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotConfig {
    /// Levels per side in a spot snapshot (1–5000). The weight follows Binance's table: up to
    /// 100 → 5, 500 → 25, 1000 → 50, 5000 → 250; the default 1000 serves the screen and the
    /// features and lets a cold start of 100 symbols fit the budget in about a minute.
    pub spot_limit: u32,
    /// Levels per side in a USD-M or COIN-M snapshot (5, 10, 20, 50, 100, 500 or 1000; weight
    /// 2, 2, 2, 2, 5, 10, 20).
    pub futures_limit: u32,
    /// The exchange's request-weight limit per minute (spot 6000, USD-M 2400).
    pub spot_weight_per_min: u32,
    pub futures_weight_per_min: u32,
    /// Share of that limit this client allows itself (0–1], leaving room for other programs.
    pub budget_fraction: f64,
    #[serde(with = "duration_str")]
    pub request_timeout: Duration,
    /// Shortest wait before asking again for the same symbol (a snapshot that failed or did not
    /// sync the book, klines that did not add to the context); doubles while it keeps failing.
    #[serde(with = "duration_str")]
    pub retry_min: Duration,
    #[serde(with = "duration_str")]
    pub retry_max: Duration,
}

/// WebSocket connection behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionConfig {
    #[serde(with = "duration_str")]
    pub connect_timeout: Duration,
    /// Reconnect back-off: first wait, cap, and ± jitter share (0–1).
    #[serde(with = "duration_str")]
    pub backoff_initial: Duration,
    #[serde(with = "duration_str")]
    pub backoff_max: Duration,
    pub backoff_jitter: f64,
    /// We ping the server this often; a connection that sends nothing at all (no frame, no ping,
    /// no pong) for `read_timeout` is dead and replaced.
    #[serde(with = "duration_str")]
    pub ping_interval: Duration,
    #[serde(with = "duration_str")]
    pub read_timeout: Duration,
    /// Binance cuts connections at 24 h: open the replacement (make before break) at this age.
    #[serde(with = "duration_str")]
    pub max_age: Duration,
    /// A symbol with no depth update for this long while its socket is up is flagged STALE.
    #[serde(with = "duration_str")]
    pub stale_after: Duration,
    /// When every symbol of a connection has been stale this long, the connection is replaced.
    #[serde(with = "duration_str")]
    pub stale_reconnect_after: Duration,
    /// Streams per connection (Binance allows 1024).
    pub max_streams: usize,
    /// Frames queued between the socket reader and the engine; beyond it frames are shed
    /// (counted) rather than blocking the reader.
    pub queue_capacity: usize,
    /// Largest WebSocket frame (and message) accepted from the server, in bytes: a bigger one
    /// ends the connection with "frame too large" (counted as a disconnect, then a reconnect
    /// and a resync) before it is buffered whole. Binance frames are a few KB.
    #[serde(with = "size_str")]
    pub max_frame_bytes: u64,
}

/// Book synchronisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Diffs kept per symbol while waiting for a snapshot.
    pub max_buffered_diffs: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            market: Market::Spot,
            depth_speed: "100ms".into(),
            trade_stream: "trade".into(),
            book_ticker: true,
        }
    }
}

impl Default for EndpointsConfig {
    fn default() -> Self {
        EndpointsConfig::production()
    }
}

impl EndpointsConfig {
    /// Binance production.
    pub fn production() -> Self {
        EndpointsConfig {
            spot_ws: "wss://stream.binance.com:9443".into(),
            spot_rest: "https://api.binance.com".into(),
            usdm_ws: "wss://fstream.binance.com".into(),
            usdm_rest: "https://fapi.binance.com".into(),
        }
    }

    /// Binance's public testnets.
    pub fn testnet() -> Self {
        EndpointsConfig {
            spot_ws: "wss://stream.testnet.binance.vision".into(),
            spot_rest: "https://testnet.binance.vision".into(),
            usdm_ws: "wss://fstream.binancefuture.com".into(),
            usdm_rest: "https://testnet.binancefuture.com".into(),
        }
    }

    /// The same base for every market (the local exchange serves all paths on one port).
    pub fn local(ws: &str, rest: &str) -> Self {
        EndpointsConfig {
            spot_ws: ws.into(),
            spot_rest: rest.into(),
            usdm_ws: ws.into(),
            usdm_rest: rest.into(),
        }
    }

    pub fn ws(&self, m: Market) -> &str {
        match m {
            Market::Spot => &self.spot_ws,
            Market::UsdM | Market::CoinM => &self.usdm_ws,
        }
    }

    pub fn rest(&self, m: Market) -> &str {
        match m {
            Market::Spot => &self.spot_rest,
            Market::UsdM | Market::CoinM => &self.usdm_rest,
        }
    }
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig {
            spot_limit: 1000,
            futures_limit: 1000,
            spot_weight_per_min: 6000,
            futures_weight_per_min: 2400,
            budget_fraction: 0.5,
            request_timeout: Duration::from_secs(10),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
        }
    }
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            connect_timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            backoff_jitter: 0.2,
            ping_interval: Duration::from_secs(15),
            read_timeout: Duration::from_secs(45),
            max_age: Duration::from_secs(23 * 3600 + 30 * 60),
            stale_after: Duration::from_secs(5),
            stale_reconnect_after: Duration::from_secs(30),
            max_streams: 1024,
            queue_capacity: 65_536,
            max_frame_bytes: 1 << 20,
        }
    }
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            max_buffered_diffs: microstate_core::book::sync::DEFAULT_MAX_BUFFER,
        }
    }
}

/// Measuring the exchange clock against ours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockConfig {
    /// Ask the exchange's time endpoint this often (weight 1); `0s` never. Each answer is a
    /// clock-offset sample: shown, and kept in recordings.
    #[serde(with = "duration_str")]
    pub probe_every: Duration,
    /// Give up on one probe after this long.
    #[serde(with = "duration_str")]
    pub probe_timeout: Duration,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            probe_every: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(5),
        }
    }
}

impl LiveConfig {
    /// A market that streams live (spot or USD-M); the depth speed must be one the market
    /// offers; the trade stream `trade` or `aggTrade`.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if self.market == Market::CoinM {
            return Err(ConfigError::invalid(
                origin,
                "live.market",
                "\"coinm\"",
                "must be \"spot\" or \"usdm\": COIN-M is read in replays but not streamed live yet",
            ));
        }
        let speeds: &[&str] = match self.market {
            Market::Spot => &["100ms", "1000ms"],
            _ => &["100ms", "250ms", "500ms"],
        };
        if !speeds.contains(&self.depth_speed.as_str()) {
            return Err(ConfigError::invalid(
                origin,
                "live.depth_speed",
                format!("{:?}", self.depth_speed),
                format!("must be one of {speeds:?} for {}", self.market),
            ));
        }
        if !["trade", "aggTrade"].contains(&self.trade_stream.as_str()) {
            return Err(ConfigError::invalid(
                origin,
                "live.trade_stream",
                format!("{:?}", self.trade_stream),
                "must be \"trade\" or \"aggTrade\"",
            ));
        }
        Ok(())
    }
}

impl EndpointsConfig {
    /// WebSocket bases start with `ws://` or `wss://`, REST bases with `http://` or `https://`.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        for (key, v, schemes) in [
            ("endpoints.spot_ws", &self.spot_ws, ["ws://", "wss://"]),
            ("endpoints.usdm_ws", &self.usdm_ws, ["ws://", "wss://"]),
            (
                "endpoints.spot_rest",
                &self.spot_rest,
                ["http://", "https://"],
            ),
            (
                "endpoints.usdm_rest",
                &self.usdm_rest,
                ["http://", "https://"],
            ),
        ] {
            if !schemes.iter().any(|s| v.starts_with(s)) {
                return Err(ConfigError::invalid(
                    origin,
                    key,
                    format!("{v:?}"),
                    format!("must start with {} or {}", schemes[0], schemes[1]),
                ));
            }
        }
        Ok(())
    }
}

impl SnapshotConfig {
    /// Depth limits the exchange accepts, a budget share in (0, 1], positive weight limits,
    /// `retry_min` ≤ `retry_max`.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if !(1..=5000).contains(&self.spot_limit) {
            return Err(ConfigError::invalid(
                origin,
                "snapshot.spot_limit",
                self.spot_limit.to_string(),
                "must be 1 to 5000",
            ));
        }
        if ![5, 10, 20, 50, 100, 500, 1000].contains(&self.futures_limit) {
            return Err(ConfigError::invalid(
                origin,
                "snapshot.futures_limit",
                self.futures_limit.to_string(),
                "must be one of 5, 10, 20, 50, 100, 500, 1000",
            ));
        }
        // Written so that NaN fails too.
        if !(self.budget_fraction > 0.0 && self.budget_fraction <= 1.0) {
            return Err(ConfigError::invalid(
                origin,
                "snapshot.budget_fraction",
                self.budget_fraction.to_string(),
                "must be above 0 and at most 1",
            ));
        }
        if self.spot_weight_per_min == 0 || self.futures_weight_per_min == 0 {
            return Err(ConfigError::invalid(
                origin,
                "snapshot.*_weight_per_min",
                "0",
                "must be positive",
            ));
        }
        if self.retry_min > self.retry_max {
            return Err(ConfigError::invalid(
                origin,
                "snapshot.retry_min",
                format!("{:?}", self.retry_min),
                "must not exceed snapshot.retry_max",
            ));
        }
        Ok(())
    }
}

impl ConnectionConfig {
    /// Jitter in [0, 1], a first back-off in (0, `backoff_max`], a read timeout longer than the
    /// ping interval, 1–1024 streams, a non-empty queue.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.backoff_jitter) {
            return Err(ConfigError::invalid(
                origin,
                "connection.backoff_jitter",
                self.backoff_jitter.to_string(),
                "must be between 0 and 1",
            ));
        }
        if self.backoff_initial.is_zero() || self.backoff_initial > self.backoff_max {
            return Err(ConfigError::invalid(
                origin,
                "connection.backoff_initial",
                format!("{:?}", self.backoff_initial),
                "must be above zero and at most connection.backoff_max",
            ));
        }
        if self.read_timeout <= self.ping_interval {
            return Err(ConfigError::invalid(
                origin,
                "connection.read_timeout",
                format!("{:?}", self.read_timeout),
                "must be longer than connection.ping_interval",
            ));
        }
        if !(1..=1024).contains(&self.max_streams) {
            return Err(ConfigError::invalid(
                origin,
                "connection.max_streams",
                self.max_streams.to_string(),
                "must be 1 to 1024",
            ));
        }
        if !(1024..=(1 << 30)).contains(&self.max_frame_bytes) {
            return Err(ConfigError::invalid(
                origin,
                "connection.max_frame_bytes",
                self.max_frame_bytes.to_string(),
                "must be between 1KiB and 1GiB",
            ));
        }
        if self.queue_capacity == 0 {
            return Err(ConfigError::invalid(
                origin,
                "connection.queue_capacity",
                "0",
                "must be positive",
            ));
        }
        Ok(())
    }
}

impl SyncConfig {
    /// At least one diff can be buffered while a snapshot is awaited.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if self.max_buffered_diffs == 0 {
            return Err(ConfigError::invalid(
                origin,
                "sync.max_buffered_diffs",
                "0",
                "must be positive",
            ));
        }
        Ok(())
    }
}

impl ClockConfig {
    /// A probe that runs needs a timeout.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if !self.probe_every.is_zero() && self.probe_timeout.is_zero() {
            return Err(ConfigError::invalid(
                origin,
                "clock.probe_timeout",
                "0s",
                "must be positive when clock.probe_every is",
            ));
        }
        Ok(())
    }
}
