//! Configuration: one TOML file, CLI > file > defaults.
//!
//! Owns: every tunable number and endpoint, their types, defaults, units and validation, and
//! the TOML text form. Must not touch: files (the app reads the config file and adds the checks
//! only the screen can make, such as key names), the terminal, anything at run time (values are
//! read once at start). `configs/default.toml` is the
//! documented sample and equals [`Config::default`] (a test holds it to that). Errors are
//! written for a person: they name the file, the key and the bad value.
//!
//! # Layout
//! ```text
//!  TOML text ──toml + serde (units)──▶ Config ──validate──▶ Ok | ConfigError (error)
//!                                        │ one type + one validate per section, by module:
//!     live      [live] [endpoints] [snapshot] [connection] [sync] [clock]
//!     record    [record]
//!     ui        [ui] [ui.theme] (+ Colour; [ui.keys] is checked by the app)
//!     features  [features]
//!     limits    [limits]
//!     models    [models] [models.pressure] [models.context] [models.interpret]
//!     export    [export]
//!     nats      [nats]
//!     api       [api]
//!     alerts    [alerts] (panels: [ui.tape] [ui.volume])
//! ```
//! - Each section module (`live`, `record`, `ui`, `features`, `models`, `export`, `nats`, `api`,
//!   `limits`, `alerts`, `panels`) owns its types, their
//!   defaults and one `validate(origin)` per section that returns the first bad value as
//!   [`ConfigError::Invalid`]; [`Config::validate`] calls them in a fixed order. Every type is
//!   re-exported here: callers name `microstate_config::LiveConfig`, not the module.
//! - `error`: [`ConfigError`]; `units`: the serde adapters for durations, sizes and fixed arrays.
//! - `tests/invalid/`: one invalid config per check, each beside the message it must produce
//!   (`tests/invalid_configs.rs` runs them all).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod alerts;
mod api;
mod error;
mod export;
mod features;
mod limits;
mod live;
mod models;
mod nats;
mod net;
mod panels;
mod record;
mod ui;
mod units;

pub use alerts::{AlertsConfig, PriceAlertConfig};
pub use api::{API_MAX_DEPTH, ApiConfig};
pub use error::ConfigError;
pub use export::ExportConfig;
pub use features::FeaturesConfig;
pub use limits::LimitsConfig;
pub use live::{
    ClockConfig, ConnectionConfig, EndpointsConfig, LiveConfig, SnapshotConfig, SyncConfig,
};
pub use microstate_core::units::{format_duration, format_size, parse_duration, parse_size};
pub use models::{ContextModelConfig, InterpretConfig, ModelsConfig, PressureModelConfig};
pub use nats::NatsConfig;
pub use net::{MIN_REST_HEAD, RestConfig};
pub use panels::{
    LADDER_MAX_LEVELS, LadderConfig, LayoutConfig, PANEL_NAMES, TapeConfig, VolumeConfig,
};
pub use record::RecordConfig;
pub use ui::{Colour, ThemeConfig, UiConfig};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub live: LiveConfig,
    pub endpoints: EndpointsConfig,
    pub snapshot: SnapshotConfig,
    pub rest: RestConfig,
    pub connection: ConnectionConfig,
    pub sync: SyncConfig,
    pub record: RecordConfig,
    pub clock: ClockConfig,
    pub ui: UiConfig,
    pub features: FeaturesConfig,
    pub models: ModelsConfig,
    pub export: ExportConfig,
    pub limits: LimitsConfig,
    pub nats: NatsConfig,
    pub api: ApiConfig,
    pub alerts: AlertsConfig,
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

    /// Checks values a type cannot: ranges, allowed sets, URL schemes. One check per section,
    /// in this order; the first bad value is the error.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        self.snapshot.validate(origin)?;
        self.rest.validate(origin)?;
        self.connection.validate(origin)?;
        self.record.validate(origin)?;
        self.sync.validate(origin)?;
        self.features.validate(origin)?;
        self.models.validate(origin)?;
        self.limits.validate(origin)?;
        self.live.validate(origin)?;
        self.endpoints.validate(origin)?;
        self.ui.validate(origin)?;
        self.clock.validate(origin)?;
        self.export.validate(origin)?;
        self.nats.validate(origin)?;
        self.api.validate(origin)?;
        self.alerts.validate(origin)
    }
}

/// `config.toml` in the platform config dir (e.g. `~/.config/microstate-tui/config.toml`).
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "microstate-tui")
        .map(|d| d.config_dir().join("config.toml"))
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

    /// The edges of every check, on the allowed side (the refused side is `tests/invalid/`): a
    /// check that is too strict fails here.
    #[test]
    fn values_at_the_edge_of_each_check_are_accepted() {
        let cases = [
            "[snapshot]\nspot_limit = 1\nfutures_limit = 5",
            "[snapshot]\nspot_limit = 5000\nfutures_limit = 1000\nbudget_fraction = 1.0",
            "[snapshot]\nspot_weight_per_min = 1\nfutures_weight_per_min = 1",
            "[snapshot]\nretry_min = \"1m\"\nretry_max = \"1m\"",
            "[connection]\nbackoff_jitter = 0.0",
            "[connection]\nbackoff_jitter = 1.0\nbackoff_initial = \"30s\"\nbackoff_max = \"30s\"",
            "[connection]\nping_interval = \"15s\"\nread_timeout = \"16s\"",
            "[connection]\nmax_streams = 1\nqueue_capacity = 1",
            "[connection]\nmax_streams = 1024",
            "[record]\nqueue = 1\nflush_interval = \"1ms\"\nrotate_size = \"0\"\nrotate_every = \"0s\"",
            "[sync]\nmax_buffered_diffs = 1",
            "[export]\ndepth = 1\nrow_group_rows = 1\nbatch_rows = 1\nzstd_level = 1",
            "[export]\ndepth = 1000\nzstd_level = 22\ndecimal_precision = 38",
            "[features]\nwindows = [\"1ms\", \"2ms\", \"24h\"]\ndepth_levels = [1, 2, 50]",
            "[features]\nofi_levels = 1\ndepth_band_bps = 1\newma_half_life = \"1ms\"",
            "[features]\nofi_levels = 20\ndepth_band_bps = 1000",
            "[features]\nenabled = false\nofi_levels = 99\ndepth_levels = [20, 10, 5]",
            "[models.pressure]\nhorizon = \"1ms\"\nscore_window = 1\ncalibration_buckets = 1\nthrottle = \"0s\"",
            "[models.pressure]\ndead_band = \"0.5bps\"",
            "[models.context]\nlabel_horizon = \"30m\"\nz_threshold = 0.0\nmax_gap_fill = \"0s\"",
            "[models.interpret]\nmin_pressure_confidence = 0.0",
            "[models.interpret]\nmin_pressure_confidence = 1.0",
            "[live]\nmarket = \"spot\"\ndepth_speed = \"1000ms\"\ntrade_stream = \"aggTrade\"",
            "[live]\nmarket = \"usdm\"\ndepth_speed = \"250ms\"",
            "[live]\nmarket = \"usdm\"\ndepth_speed = \"500ms\"",
            "[endpoints]\nspot_ws = \"ws://127.0.0.1:1\"\nusdm_ws = \"wss://x\"\nspot_rest = \"http://127.0.0.1:1\"\nusdm_rest = \"https://x\"",
            "[ui]\nfps = 1",
            "[ui]\nfps = 240",
            "[ui.theme]\nbid = \"Dark-Gray\"\nask = \"light_red\"\ngood = \"reset\"\ndim = \"grey\"",
            "[ui.keys]\nquit = [\"x\"]",
            "[clock]\nprobe_every = \"0s\"\nprobe_timeout = \"0s\"",
            "[limits]\nmax_line_bytes = \"64KiB\"\nmax_levels = 1\nmax_symbols = 1\nmax_window_entries = 1\nmax_stale_run = 1",
            "[limits]\nmax_line_bytes = \"1GiB\"",
            "[api]\naddr = \"0.0.0.0:0\"\ntoken = \"s3cret\"\ninterval = \"1ms\"\ndepth = 1",
            "[api]\naddr = \"[::1]:8480\"\ndepth = 60\nclient_queue = 1\nmax_clients = 1\nevents_capacity = 1\nslow_grace = \"1ms\"",
        ];
        let refused: Vec<String> = cases
            .iter()
            .filter_map(|text| Config::from_toml(text, "edge.toml").err())
            .map(|e| e.to_string())
            .collect();
        assert!(refused.is_empty(), "refused:\n{}", refused.join("\n"));
    }

    #[test]
    fn the_context_label_horizon_picks_its_forecast() {
        let at = |h: &str| {
            Config::from_toml(
                &format!("[models.context]\nlabel_horizon = \"{h}\"\n"),
                "c.toml",
            )
            .expect("a model horizon")
            .models
            .context_label_index()
        };
        assert_eq!((at("15m"), at("30m")), (0, 1));
    }
}
