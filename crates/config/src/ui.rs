//! `[ui]` and `[ui.theme]`: the terminal screen's frame rate, log file, colours and key
//! overrides, and [`Colour`], a plain colour type the screen maps to its terminal library's.
//!
//! Owns: these sections' types, defaults and checks (fps range, colour names). Must not touch:
//! the terminal or ratatui (the app's `ui/theme.rs` maps [`Colour`]), key names and actions (the
//! app checks `[ui.keys]` against its bindings table: only the screen knows them).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

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
    /// Time & sales: shown at start, the large-trade highlight.
    pub tape: crate::TapeConfig,
    /// Volume at price: shown at start.
    pub volume: crate::VolumeConfig,
    /// Mouse: click a symbol to select it, click a panel to focus it, scroll the ladder with
    /// the wheel. Off leaves the terminal's own mouse (text selection) alone.
    pub mouse: bool,
    /// The depth ladder: contiguous, quote sizes, levels.
    pub ladder: crate::LadderConfig,
    /// Panels hidden at start.
    pub layout: crate::LayoutConfig,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            fps: 30,
            log_file: String::new(),
            theme: ThemeConfig::default(),
            keys: std::collections::BTreeMap::new(),
            tape: crate::TapeConfig::default(),
            volume: crate::VolumeConfig::default(),
            mouse: true,
            ladder: crate::LadderConfig::default(),
            layout: crate::LayoutConfig::default(),
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

impl UiConfig {
    /// 1–240 frames per second and a known colour name for every theme entry. `keys` is left
    /// to the app.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if !(1..=240).contains(&self.fps) {
            return Err(ConfigError::invalid(
                origin,
                "ui.fps",
                self.fps.to_string(),
                "must be 1 to 240",
            ));
        }
        self.theme.validate(origin)?;
        self.tape.validate(origin)?;
        self.ladder.validate(origin)?;
        self.layout.validate(origin)
    }
}

impl ThemeConfig {
    /// Every entry names one of the 16 terminal colours (see [`Colour::parse`]).
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        for (key, v) in [
            ("ui.theme.bid", &self.bid),
            ("ui.theme.ask", &self.ask),
            ("ui.theme.good", &self.good),
            ("ui.theme.warn", &self.warn),
            ("ui.theme.bad", &self.bad),
            ("ui.theme.accent", &self.accent),
            ("ui.theme.dim", &self.dim),
        ] {
            if Colour::parse(v).is_none() {
                return Err(ConfigError::invalid(
                    origin,
                    key,
                    v.clone(),
                    "is not one of the 16 terminal colour names",
                ));
            }
        }
        Ok(())
    }
}
