//! Colours: what each kind of thing on screen looks like.
//!
//! Owns: the mapping from meaning (bid, ask, warning, …) to terminal colour. Must not touch:
//! meaning itself (numbers become meaning in `interpret`, not here). Colours come from the
//! config's `[ui.theme]` as names of the 16 basic terminal colours (readable everywhere);
//! `NO_COLOR` (any value) turns colour off and leaves only bold/reverse/dim.

use ratatui::style::{Color, Modifier, Style};

use crate::config::ThemeConfig;

/// Resolved styles.
#[derive(Clone, Debug)]
pub struct Theme {
    pub text: Style,
    pub dim: Style,
    pub title: Style,
    pub bid: Style,
    pub ask: Style,
    pub good: Style,
    pub warn: Style,
    pub bad: Style,
    pub accent: Style,
    /// Liquidity added since the last frame / removed.
    pub grew: Style,
    pub shrank: Style,
    pub color: bool,
}

/// A colour name from the config (`green`, `lightred`, `darkgray`, `reset`, …).
pub fn parse_color(name: &str) -> Option<Color> {
    Some(
        match name
            .to_ascii_lowercase()
            .replace(['_', '-', ' '], "")
            .as_str()
        {
            "reset" | "default" => Color::Reset,
            "black" => Color::Black,
            "red" => Color::Red,
            "green" => Color::Green,
            "yellow" => Color::Yellow,
            "blue" => Color::Blue,
            "magenta" => Color::Magenta,
            "cyan" => Color::Cyan,
            "gray" | "grey" => Color::Gray,
            "darkgray" | "darkgrey" => Color::DarkGray,
            "lightred" => Color::LightRed,
            "lightgreen" => Color::LightGreen,
            "lightyellow" => Color::LightYellow,
            "lightblue" => Color::LightBlue,
            "lightmagenta" => Color::LightMagenta,
            "lightcyan" => Color::LightCyan,
            "white" => Color::White,
            _ => return None,
        },
    )
}

impl Theme {
    /// Styles from the config; `no_color` (from `NO_COLOR`) keeps only modifiers.
    pub fn new(cfg: &ThemeConfig, no_color: bool) -> Theme {
        let c = |name: &str| {
            if no_color {
                Style::default()
            } else {
                Style::default().fg(parse_color(name).unwrap_or(Color::Reset))
            }
        };
        let bold = Modifier::BOLD;
        Theme {
            text: Style::default(),
            dim: c(&cfg.dim).add_modifier(if no_color {
                Modifier::DIM
            } else {
                Modifier::empty()
            }),
            title: c(&cfg.accent).add_modifier(bold),
            bid: c(&cfg.bid),
            ask: c(&cfg.ask),
            good: c(&cfg.good),
            warn: c(&cfg.warn).add_modifier(bold),
            bad: c(&cfg.bad).add_modifier(bold),
            accent: c(&cfg.accent),
            grew: if no_color {
                Style::default().add_modifier(bold)
            } else {
                Style::default()
                    .fg(Color::Black)
                    .bg(parse_color(&cfg.bid).unwrap_or(Color::Green))
            },
            shrank: if no_color {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
                    .fg(Color::Black)
                    .bg(parse_color(&cfg.ask).unwrap_or(Color::Red))
            },
            color: !no_color,
        }
    }
}
