//! Configuration: one TOML file, CLI > file > defaults.
//!
//! Owns: every tunable number and endpoint, their defaults, loading and validation. Must not
//! touch: anything at run time (values are read once at start). `configs/default.toml` is the
//! documented sample and equals [`Config::default`] (a test holds it to that). Errors are
//! written for a person: they name the file, the key and the bad value.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::market::Market;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub live: LiveConfig,
    pub endpoints: EndpointsConfig,
    pub snapshot: SnapshotConfig,
    pub connection: ConnectionConfig,
    pub sync: SyncConfig,
    pub record: RecordConfig,
    pub clock: ClockConfig,
    pub ui: UiConfig,
    pub features: FeaturesConfig,
    pub models: ModelsConfig,
}

/// The terminal screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Frames drawn per second at most (market bursts never raise it).
    pub fps: u32,
    /// Log file while the screen runs ("" = `microstate-tui.log` in the platform data dir).
    pub log_file: String,
    pub theme: ThemeConfig,
    /// Key overrides: action name → keys, e.g. `quit = ["x", "ctrl-c"]`. Actions not named keep
    /// their default keys (see the `?` help).
    pub keys: std::collections::BTreeMap<String, Vec<String>>,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            fps: 30,
            log_file: String::new(),
            theme: ThemeConfig::default(),
            keys: std::collections::BTreeMap::new(),
        }
    }
}

impl UiConfig {
    /// Where logs go while the screen runs.
    pub fn log_path(&self) -> PathBuf {
        if !self.log_file.is_empty() {
            return PathBuf::from(&self.log_file);
        }
        directories::ProjectDirs::from("", "", "microstate-tui")
            .map(|d| d.data_dir().join("microstate-tui.log"))
            .unwrap_or_else(|| PathBuf::from("microstate-tui.log"))
    }
}

/// Colours by meaning, as names of the 16 basic terminal colours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThemeConfig {
    pub bid: String,
    pub ask: String,
    pub good: String,
    pub warn: String,
    pub bad: String,
    pub accent: String,
    pub dim: String,
}

impl Default for ThemeConfig {
    fn default() -> Self {
        ThemeConfig {
            bid: "green".into(),
            ask: "red".into(),
            good: "lightgreen".into(),
            warn: "yellow".into(),
            bad: "lightred".into(),
            accent: "cyan".into(),
            dim: "darkgray".into(),
        }
    }
}

/// The in-process models and the interpretation layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// Folder holding `pressure/` and `context/` (each `model.toml` + `model.safetensors`);
    /// relative paths are from the working directory. `--model DIR` overrides.
    pub dir: String,
    pub pressure: PressureModelConfig,
    pub context: ContextModelConfig,
    pub interpret: InterpretConfig,
}

/// The ≈1 s order-book pressure model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PressureModelConfig {
    /// Label horizon: the mid change over this much event time.
    #[serde(with = "duration_str")]
    pub horizon: Duration,
    /// Mid changes smaller than this are FLAT: `"1tick"` or `"0.5bps"`.
    pub dead_band: crate::ml::DeadBand,
    /// Infer at most this often in event time; `0s` = on every feature update.
    #[serde(with = "duration_str")]
    pub throttle: Duration,
    /// Live scoring keeps the last this many resolved predictions.
    pub score_window: usize,
    /// Calibration buckets of live scoring (equal-width in the top probability).
    pub calibration_buckets: usize,
}

/// The 15/30 min price-context model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextModelConfig {
    /// Which horizon's forecast gives the label the interpretation reads: `15m` or `30m`.
    #[serde(with = "duration_str")]
    pub label_horizon: Duration,
    /// BULLISH / BEARISH when |drift| / sigma reaches this, else NEUTRAL.
    pub z_threshold: f64,
    /// Missing minutes up to this are filled with the last price; a longer gap restarts the
    /// history (warming up again).
    #[serde(with = "duration_str")]
    pub max_gap_fill: Duration,
}

/// The interpretation table's thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InterpretConfig {
    /// Below this top class probability the pressure is "no clear pressure".
    pub min_pressure_confidence: f64,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        ModelsConfig {
            dir: "models".into(),
            pressure: PressureModelConfig::default(),
            context: ContextModelConfig::default(),
            interpret: InterpretConfig::default(),
        }
    }
}

impl Default for PressureModelConfig {
    fn default() -> Self {
        PressureModelConfig {
            horizon: Duration::from_secs(1),
            dead_band: crate::ml::DeadBand::Ticks(1.0),
            throttle: Duration::from_millis(100),
            score_window: 1000,
            calibration_buckets: 10,
        }
    }
}

impl Default for ContextModelConfig {
    fn default() -> Self {
        ContextModelConfig {
            label_horizon: Duration::from_secs(15 * 60),
            z_threshold: 0.25,
            max_gap_fill: Duration::from_secs(5 * 60),
        }
    }
}

impl Default for InterpretConfig {
    fn default() -> Self {
        InterpretConfig {
            min_pressure_confidence: 0.5,
        }
    }
}

impl ModelsConfig {
    /// Index into `ml::context::HORIZONS_MIN` of the label horizon (validated).
    pub fn context_label_index(&self) -> usize {
        let m = (self.context.label_horizon.as_secs() / 60) as usize;
        crate::ml::context::HORIZONS_MIN
            .iter()
            .position(|&h| h == m)
            .unwrap_or(0)
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

/// The feature engine (see `src/features/mod.rs` for the definitions, README "Features").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesConfig {
    /// Compute features per symbol (off: books only).
    pub enabled: bool,
    /// Three window lengths, ascending, in exchange event time.
    #[serde(with = "durations_str")]
    pub windows: [Duration; crate::features::N_WINDOWS],
    /// Three top-N depths, ascending.
    pub depth_levels: [usize; crate::features::N_DEPTHS],
    /// Levels 1..k summed in the multi-level OFI.
    pub ofi_levels: usize,
    /// Half-width in bps of the depth band around mid.
    pub depth_band_bps: u32,
    /// Half-life of the EWMA volatility (event time).
    #[serde(with = "duration_str")]
    pub ewma_half_life: Duration,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        let p = crate::features::FeatureParams::default();
        FeaturesConfig {
            enabled: true,
            windows: p.windows_ns.map(Duration::from_nanos),
            depth_levels: p.depth_levels,
            ofi_levels: p.ofi_levels,
            depth_band_bps: p.band_bps,
            ewma_half_life: Duration::from_nanos(p.ewma_half_life_ns),
        }
    }
}

impl FeaturesConfig {
    /// The engine's parameters; `None` when disabled.
    pub fn params(&self) -> Option<crate::features::FeatureParams> {
        self.enabled.then(|| crate::features::FeatureParams {
            windows_ns: self
                .windows
                .map(|d| d.as_nanos().min(u64::MAX as u128) as u64),
            depth_levels: self.depth_levels,
            ofi_levels: self.ofi_levels,
            band_bps: self.depth_band_bps,
            ewma_half_life_ns: self.ewma_half_life.as_nanos().min(u64::MAX as u128) as u64,
        })
    }
}

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
    /// The writer's settings.
    pub fn options(&self) -> crate::record::writer::RecordOptions {
        crate::record::writer::RecordOptions {
            flush_every: self.flush_interval,
            queue: self.queue,
            rotate_bytes: self.rotate_size,
            rotate_every: self.rotate_every,
        }
    }

    /// The folder to record into: `dir`, else the platform data dir's `recordings`.
    pub fn folder(&self) -> PathBuf {
        if !self.dir.is_empty() {
            return PathBuf::from(&self.dir);
        }
        directories::ProjectDirs::from("", "", "microstate-tui")
            .map(|d| d.data_dir().join("recordings"))
            .unwrap_or_else(|| PathBuf::from("recordings"))
    }
}

/// What to subscribe to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// `spot` or `usdm` (COIN-M is read in replays, not streamed live yet).
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

/// REST depth snapshots and the request-weight budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotConfig {
    /// Levels per side in a spot snapshot (1–5000).
    pub spot_limit: u32,
    /// Levels per side in a USD-M snapshot (5, 10, 20, 50, 100, 500 or 1000).
    pub futures_limit: u32,
    /// The exchange's request-weight limit per minute (spot 6000, USD-M 2400).
    pub spot_weight_per_min: u32,
    pub futures_weight_per_min: u32,
    /// Share of that limit this client allows itself (0–1], leaving room for other programs.
    pub budget_fraction: f64,
    #[serde(with = "duration_str")]
    pub request_timeout: Duration,
    /// Shortest wait before asking again for the same symbol; doubles while it keeps failing.
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
            spot_limit: 5000,
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
        }
    }
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            max_buffered_diffs: crate::book::sync::DEFAULT_MAX_BUFFER,
        }
    }
}

/// A configuration problem, for a person.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {msg}")]
    Parse { path: String, msg: String },
    #[error("config file {path}: `{key}` = {value}: {why}")]
    Invalid {
        path: String,
        key: &'static str,
        value: String,
        why: String,
    },
}

impl Config {
    /// Parses TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            msg: e.to_string().trim_end().replace('\n', "\n  "),
        })?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// `--config FILE` if given; else `config.toml` in the platform config dir if it exists;
    /// else the defaults. Returns the file used, if any.
    pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), ConfigError> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => default_path().filter(|p| p.is_file()),
        };
        let Some(path) = path else {
            return Ok((Config::default(), None));
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let cfg = Config::from_toml(&text, &path.display().to_string())?;
        Ok((cfg, Some(path)))
    }

    /// Checks values a type cannot: ranges, allowed sets, URL schemes.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &'static str, value: String, why: &str| ConfigError::Invalid {
            path: origin.to_string(),
            key,
            value,
            why: why.to_string(),
        };
        let s = &self.snapshot;
        if !(1..=5000).contains(&s.spot_limit) {
            return Err(bad(
                "snapshot.spot_limit",
                s.spot_limit.to_string(),
                "must be 1 to 5000",
            ));
        }
        if ![5, 10, 20, 50, 100, 500, 1000].contains(&s.futures_limit) {
            return Err(bad(
                "snapshot.futures_limit",
                s.futures_limit.to_string(),
                "must be one of 5, 10, 20, 50, 100, 500, 1000",
            ));
        }
        if !(s.budget_fraction > 0.0 && s.budget_fraction <= 1.0) {
            return Err(bad(
                "snapshot.budget_fraction",
                s.budget_fraction.to_string(),
                "must be above 0 and at most 1",
            ));
        }
        if s.spot_weight_per_min == 0 || s.futures_weight_per_min == 0 {
            return Err(bad(
                "snapshot.*_weight_per_min",
                "0".into(),
                "must be positive",
            ));
        }
        if s.retry_min > s.retry_max {
            return Err(bad(
                "snapshot.retry_min",
                format!("{:?}", s.retry_min),
                "must not exceed snapshot.retry_max",
            ));
        }
        let c = &self.connection;
        if !(0.0..=1.0).contains(&c.backoff_jitter) {
            return Err(bad(
                "connection.backoff_jitter",
                c.backoff_jitter.to_string(),
                "must be between 0 and 1",
            ));
        }
        if c.backoff_initial.is_zero() || c.backoff_initial > c.backoff_max {
            return Err(bad(
                "connection.backoff_initial",
                format!("{:?}", c.backoff_initial),
                "must be above zero and at most connection.backoff_max",
            ));
        }
        if c.read_timeout <= c.ping_interval {
            return Err(bad(
                "connection.read_timeout",
                format!("{:?}", c.read_timeout),
                "must be longer than connection.ping_interval",
            ));
        }
        if !(1..=1024).contains(&c.max_streams) {
            return Err(bad(
                "connection.max_streams",
                c.max_streams.to_string(),
                "must be 1 to 1024",
            ));
        }
        if c.queue_capacity == 0 {
            return Err(bad(
                "connection.queue_capacity",
                "0".into(),
                "must be positive",
            ));
        }
        if self.record.queue == 0 || self.record.flush_interval.is_zero() {
            return Err(bad(
                "record.queue / record.flush_interval",
                format!("{} / {:?}", self.record.queue, self.record.flush_interval),
                "must be positive",
            ));
        }
        if self.sync.max_buffered_diffs == 0 {
            return Err(bad(
                "sync.max_buffered_diffs",
                "0".into(),
                "must be positive",
            ));
        }
        if let Some(p) = self.features.params()
            && let Err(why) = p.validate()
        {
            return Err(bad("features", format!("{:?}", self.features), &why));
        }
        let m = &self.models;
        if m.pressure.horizon.is_zero() {
            return Err(bad(
                "models.pressure.horizon",
                "\"0s\"".into(),
                "must be positive",
            ));
        }
        if m.pressure.score_window == 0 || m.pressure.calibration_buckets == 0 {
            return Err(bad(
                "models.pressure.score_window / calibration_buckets",
                format!(
                    "{} / {}",
                    m.pressure.score_window, m.pressure.calibration_buckets
                ),
                "must be positive",
            ));
        }
        let lh = m.context.label_horizon;
        if !crate::ml::context::HORIZONS_MIN
            .iter()
            .any(|&h| Duration::from_secs(h as u64 * 60) == lh)
        {
            return Err(bad(
                "models.context.label_horizon",
                format!("{:?}", format_duration(lh)),
                "must be one of the context model's horizons: \"15m\" or \"30m\"",
            ));
        }
        if !(m.context.z_threshold.is_finite() && m.context.z_threshold >= 0.0) {
            return Err(bad(
                "models.context.z_threshold",
                m.context.z_threshold.to_string(),
                "must be zero or positive",
            ));
        }
        if !m.context.max_gap_fill.as_millis().is_multiple_of(60_000) {
            return Err(bad(
                "models.context.max_gap_fill",
                format!("{:?}", format_duration(m.context.max_gap_fill)),
                "must be whole minutes",
            ));
        }
        let c = m.interpret.min_pressure_confidence;
        if !(0.0..=1.0).contains(&c) {
            return Err(bad(
                "models.interpret.min_pressure_confidence",
                c.to_string(),
                "must be between 0 and 1",
            ));
        }
        let l = &self.live;
        let speeds: &[&str] = match l.market {
            Market::Spot => &["100ms", "1000ms"],
            _ => &["100ms", "250ms", "500ms"],
        };
        if !speeds.contains(&l.depth_speed.as_str()) {
            return Err(bad(
                "live.depth_speed",
                format!("{:?}", l.depth_speed),
                &format!("must be one of {speeds:?} for {}", l.market),
            ));
        }
        if !["trade", "aggTrade"].contains(&l.trade_stream.as_str()) {
            return Err(bad(
                "live.trade_stream",
                format!("{:?}", l.trade_stream),
                "must be \"trade\" or \"aggTrade\"",
            ));
        }
        let e = &self.endpoints;
        for (key, v, schemes) in [
            ("endpoints.spot_ws", &e.spot_ws, ["ws://", "wss://"]),
            ("endpoints.usdm_ws", &e.usdm_ws, ["ws://", "wss://"]),
            ("endpoints.spot_rest", &e.spot_rest, ["http://", "https://"]),
            ("endpoints.usdm_rest", &e.usdm_rest, ["http://", "https://"]),
        ] {
            if !schemes.iter().any(|s| v.starts_with(s)) {
                return Err(bad(
                    key,
                    format!("{v:?}"),
                    &format!("must start with {} or {}", schemes[0], schemes[1]),
                ));
            }
        }
        if !(1..=240).contains(&self.ui.fps) {
            return Err(bad("ui.fps", self.ui.fps.to_string(), "must be 1 to 240"));
        }
        let t = &self.ui.theme;
        for (key, v) in [
            ("ui.theme.bid", &t.bid),
            ("ui.theme.ask", &t.ask),
            ("ui.theme.good", &t.good),
            ("ui.theme.warn", &t.warn),
            ("ui.theme.bad", &t.bad),
            ("ui.theme.accent", &t.accent),
            ("ui.theme.dim", &t.dim),
        ] {
            if crate::ui::theme::parse_color(v).is_none() {
                return Err(bad(
                    key,
                    v.clone(),
                    "is not one of the 16 terminal colour names",
                ));
            }
        }
        if let Err(e) = crate::ui::keys::Bindings::with_overrides(&self.ui.keys) {
            return Err(bad("ui.keys", format!("{:?}", self.ui.keys), &e));
        }
        if !self.clock.probe_every.is_zero() && self.clock.probe_timeout.is_zero() {
            return Err(bad(
                "clock.probe_timeout",
                "0s".into(),
                "must be positive when clock.probe_every is",
            ));
        }
        Ok(())
    }
}

/// `config.toml` in the platform config dir (e.g. `~/.config/microstate-tui/config.toml`).
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "microstate-tui")
        .map(|d| d.config_dir().join("config.toml"))
}

/// Parses `"250ms"`, `"10s"`, `"5m"`, `"23h30m"`, `"1h"`: a sequence of number+unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(format!(
                "{s:?} is not a duration like \"500ms\", \"10s\", \"2m\", \"1h30m\""
            ));
        }
        let value: u64 = rest[..n]
            .parse()
            .map_err(|_| format!("{s:?}: number too large"))?;
        rest = &rest[n..];
        let u = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..u];
        rest = &rest[u..];
        let d = match unit {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value * 60),
            "h" => Duration::from_secs(value * 3600),
            _ => {
                return Err(format!(
                    "{s:?}: unknown unit {unit:?} (use ms, s, m or h, e.g. \"10s\")"
                ));
            }
        };
        total += d;
    }
    Ok(total)
}

/// Prints a duration in the same form [`parse_duration`] reads.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    if s == 0 {
        return "0s".into();
    }
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if sec > 0 {
        out += &format!("{sec}s");
    }
    out
}

/// Parses a byte size: `0`, `4096`, `512KiB`, `64MiB`, `1GiB`, `100kB`, `500MB`, `2GB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let n = t.bytes().take_while(u8::is_ascii_digit).count();
    let bad = || format!("{s:?} is not a size like \"64MiB\", \"1GiB\", \"500MB\" or \"0\"");
    if n == 0 {
        return Err(bad());
    }
    let value: u64 = t[..n].parse().map_err(|_| bad())?;
    let unit: u64 = match t[n..].trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(bad()),
    };
    value
        .checked_mul(unit)
        .ok_or_else(|| format!("{s:?}: too large"))
}

/// Writes a size the way [`parse_size`] reads it, in the largest binary unit that is exact.
pub fn format_size(b: u64) -> String {
    for (unit, name) in [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
        if b != 0 && b.is_multiple_of(unit) {
            return format!("{}{name}", b / unit);
        }
    }
    b.to_string()
}

mod size_str {
    use super::*;

    pub fn serialize<S: Serializer>(b: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_size(*b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        parse_size(&s).map_err(serde::de::Error::custom)
    }
}

/// A fixed array of durations as strings (`["1s", "10s", "60s"]`).
mod durations_str {
    use super::*;

    pub fn serialize<S: Serializer, const N: usize>(
        d: &[Duration; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        d.map(format_duration).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[Duration; N], D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        let got = v.len();
        let parsed = v
            .iter()
            .map(|s| parse_duration(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(serde::de::Error::custom)?;
        parsed
            .try_into()
            .map_err(|_| serde::de::Error::custom(format!("expected {N} durations, got {got}")))
    }
}

mod duration_str {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_file_equals_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/default.toml");
        let text = std::fs::read_to_string(&path).expect("configs/default.toml");
        let cfg = Config::from_toml(&text, "configs/default.toml").expect("sample parses");
        assert_eq!(cfg, Config::default());
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(
            Config::from_toml("", "x").expect("empty"),
            Config::default()
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size(" 2 GiB "), Ok(2 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999GiB").is_err());
        for b in [0, 1000, 4096, 64 << 20, 3 << 30] {
            assert_eq!(parse_size(&format_size(b)), Ok(b));
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("23h30m"), Ok(Duration::from_secs(84_600)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("").is_err());
        for d in [
            Duration::from_millis(1500),
            Duration::from_secs(84_600),
            Duration::ZERO,
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }

    #[test]
    fn errors_name_file_key_and_value() {
        let e = Config::from_toml("[snapshot]\nspot_limit = 6000\n", "my.toml").expect_err("range");
        let m = e.to_string();
        assert!(
            m.contains("my.toml") && m.contains("snapshot.spot_limit") && m.contains("6000"),
            "{m}"
        );

        let e = Config::from_toml("[snapshot]\nspot_limt = 10\n", "my.toml").expect_err("unknown");
        let m = e.to_string();
        assert!(m.contains("my.toml") && m.contains("spot_limt"), "{m}");

        let e = Config::from_toml("[connection]\nstale_after = \"5 parsecs\"\n", "c.toml")
            .expect_err("dur");
        let m = e.to_string();
        assert!(
            m.contains("c.toml") && m.contains("stale_after") && m.contains("parsecs"),
            "{m}"
        );

        let e = Config::from_toml(
            "[features]\nwindows = [\"10s\", \"1s\", \"60s\"]\n",
            "c.toml",
        )
        .expect_err("order");
        let m = e.to_string();
        assert!(
            m.contains("c.toml") && m.contains("features") && m.contains("ascending"),
            "{m}"
        );
        let e = Config::from_toml("[features]\nwindows = [\"1s\", \"10s\"]\n", "c.toml")
            .expect_err("count");
        assert!(e.to_string().contains("expected 3 durations"), "{e}");
        let e = Config::from_toml("[features]\nofi_levels = 99\n", "c.toml").expect_err("k");
        assert!(e.to_string().contains("ofi_levels"), "{e}");

        let e = Config::from_toml("[live]\nmarket = \"margin\"\n", "c.toml").expect_err("enum");
        assert!(e.to_string().contains("margin"), "{e}");

        let e = Config::from_toml("[endpoints]\nspot_ws = \"http://x\"\n", "c.toml")
            .expect_err("scheme");
        assert!(e.to_string().contains("endpoints.spot_ws"), "{e}");

        let e = Config::from_toml("[models.context]\nlabel_horizon = \"20m\"\n", "c.toml")
            .expect_err("horizon");
        assert!(
            e.to_string().contains("models.context.label_horizon") && e.to_string().contains("20m"),
            "{e}"
        );
        let e = Config::from_toml("[models.pressure]\ndead_band = \"1pip\"\n", "c.toml")
            .expect_err("band");
        assert!(
            e.to_string().contains("dead_band") && e.to_string().contains("1pip"),
            "{e}"
        );
        let e = Config::from_toml(
            "[models.interpret]\nmin_pressure_confidence = 1.5\n",
            "c.toml",
        )
        .expect_err("conf");
        assert!(e.to_string().contains("min_pressure_confidence"), "{e}");
        let ok = Config::from_toml("[models.context]\nlabel_horizon = \"30m\"\n", "c.toml")
            .expect("30m");
        assert_eq!(ok.models.context_label_index(), 1);
    }
}
