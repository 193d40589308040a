//! Configuration: one TOML file, CLI > file > defaults.
//!
//! Owns: every tunable number and endpoint, their types, defaults, units and validation, and
//! the TOML text form. Must not touch: files (the app reads the config file and adds the checks
//! only the screen can make, such as key names), the terminal, anything at run time (values are
//! read once at start). `configs/default.toml` is the
//! documented sample and equals [`Config::default`] (a test holds it to that). Errors are
//! written for a person: they name the file, the key and the bad value.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use microstate_core::market::Market;

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

/// One of the 16 basic terminal colours (or the terminal's default), by name: readable on every
/// terminal. The screen's theme maps it to the terminal library's colour type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    Reset,
    Black,
    Red,
    Green,
    Yellow,
    Blue,
    Magenta,
    Cyan,
    Gray,
    DarkGray,
    LightRed,
    LightGreen,
    LightYellow,
    LightBlue,
    LightMagenta,
    LightCyan,
    White,
}

impl Colour {
    /// A colour name from the config (`green`, `lightred`, `dark-gray`, `reset`, …); case,
    /// `_`, `-` and spaces do not matter.
    pub fn parse(name: &str) -> Option<Colour> {
        Some(
            match name
                .to_ascii_lowercase()
                .replace(['_', '-', ' '], "")
                .as_str()
            {
                "reset" | "default" => Colour::Reset,
                "black" => Colour::Black,
                "red" => Colour::Red,
                "green" => Colour::Green,
                "yellow" => Colour::Yellow,
                "blue" => Colour::Blue,
                "magenta" => Colour::Magenta,
                "cyan" => Colour::Cyan,
                "gray" | "grey" => Colour::Gray,
                "darkgray" | "darkgrey" => Colour::DarkGray,
                "lightred" => Colour::LightRed,
                "lightgreen" => Colour::LightGreen,
                "lightyellow" => Colour::LightYellow,
                "lightblue" => Colour::LightBlue,
                "lightmagenta" => Colour::LightMagenta,
                "lightcyan" => Colour::LightCyan,
                "white" => Colour::White,
                _ => return None,
            },
        )
    }
}

/// Colours by meaning, as names of the 16 basic terminal colours (see [`Colour::parse`]).
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
    /// Mid changes smaller than this are FLAT (training; a model keeps its own): `"0.5vol"`
    /// (half the EWMA volatility over the horizon), `"1spread"`, `"1tick"` or `"0.5bps"`.
    pub dead_band: microstate_core::ml::DeadBand,
    /// Infer at most this often in event time; `0s` = on every feature update.
    #[serde(with = "duration_str")]
    pub throttle: Duration,
    /// Live scoring keeps the last this many resolved predictions.
    pub score_window: usize,
    /// Calibration buckets of live scoring (equal-width in the top probability).
    pub calibration_buckets: usize,
    /// The live edge (model vs the best baseline, Brier) is taken over the last this many
    /// resolved predictions.
    pub edge_window: usize,
    /// No direction is shown before this many predictions have been scored.
    pub edge_min_scored: usize,
    /// A direction is shown only while the edge exceeds this (Brier points).
    pub min_edge: f64,
    /// The out-of-range guard: an input more than this many widths of its training range
    /// (0.5–99.5 % quantiles) outside it is out of range…
    pub guard_tolerance: f64,
    /// …and no direction is shown while at least `guard_share` of the last `guard_window`
    /// predictions had one.
    pub guard_window: usize,
    pub guard_share: f64,
    /// Adapt the model to each symbol online (candle, its own thread), test-then-train.
    pub online: bool,
    /// The online learner's step size (Adam, on the output layer), its pull back toward the
    /// shipped prior (L2 on the difference), and how many updates between published weights.
    pub online_lr: f64,
    pub online_l2_prior: f64,
    pub online_publish_every: usize,
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
            dead_band: microstate_core::ml::DeadBand::Vol(0.5),
            throttle: Duration::from_millis(100),
            score_window: 1000,
            calibration_buckets: 10,
            edge_window: 1000,
            edge_min_scored: 200,
            min_edge: 0.0,
            guard_tolerance: 1.0,
            guard_window: 20,
            guard_share: 0.5,
            online: true,
            online_lr: 1e-4,
            online_l2_prior: 1e-2,
            online_publish_every: 10,
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
        microstate_core::ml::context::HORIZONS_MIN
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
    pub windows: [Duration; microstate_core::features::N_WINDOWS],
    /// Three top-N depths, ascending.
    pub depth_levels: [usize; microstate_core::features::N_DEPTHS],
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
        let p = microstate_core::features::FeatureParams::default();
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
    pub fn params(&self) -> Option<microstate_core::features::FeatureParams> {
        self.enabled
            .then(|| microstate_core::features::FeatureParams {
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
            max_buffered_diffs: microstate_core::book::sync::DEFAULT_MAX_BUFFER,
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
        let p = &m.pressure;
        if p.edge_window == 0 || p.guard_window == 0 || p.online_publish_every == 0 {
            return Err(bad(
                "models.pressure.edge_window / guard_window / online_publish_every",
                format!(
                    "{} / {} / {}",
                    p.edge_window, p.guard_window, p.online_publish_every
                ),
                "must be positive",
            ));
        }
        if !(p.guard_share > 0.0 && p.guard_share <= 1.0) {
            return Err(bad(
                "models.pressure.guard_share",
                p.guard_share.to_string(),
                "must be above 0 and at most 1",
            ));
        }
        for (key, v) in [
            ("models.pressure.guard_tolerance", p.guard_tolerance),
            ("models.pressure.online_l2_prior", p.online_l2_prior),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(key, v.to_string(), "must be zero or positive"));
            }
        }
        if !(p.online_lr.is_finite() && p.online_lr > 0.0) {
            return Err(bad(
                "models.pressure.online_lr",
                p.online_lr.to_string(),
                "must be positive",
            ));
        }
        if !p.min_edge.is_finite() {
            return Err(bad(
                "models.pressure.min_edge",
                p.min_edge.to_string(),
                "must be a number",
            ));
        }
        let lh = m.context.label_horizon;
        if !microstate_core::ml::context::HORIZONS_MIN
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
            if Colour::parse(v).is_none() {
                return Err(bad(
                    key,
                    v.clone(),
                    "is not one of the 16 terminal colour names",
                ));
            }
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

pub use microstate_core::units::{format_duration, format_size, parse_duration, parse_size};

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
    use std::path::Path;

    #[test]
    fn sample_file_equals_defaults() {
        let path =
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("configs/default.toml");
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
