//! Colours: what each kind of thing on screen looks like.
//!
//! Owns: the mapping from meaning (bid, ask, warning, …) to terminal colour. Must not touch:
//! meaning itself (numbers become meaning in `interpret`, not here). Colours come from the
//! config's `[ui.theme]` as names of the 16 basic terminal colours (readable everywhere);
//! `NO_COLOR` (any value) turns colour off and leaves only bold/reverse/dim.

use ratatui::style::{Color, Modifier, Style};

use microstate_config::{Colour, ThemeConfig};

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

/// The terminal colour for a config colour name (unknown names, refused when the config is
/// read, fall back to the terminal's default).
pub fn parse_color(name: &str) -> Option<Color> {
    Colour::parse(name).map(to_ratatui)
}

/// The config's colour as ratatui's.
pub fn to_ratatui(c: Colour) -> Color {
    match c {
        Colour::Reset => Color::Reset,
        Colour::Black => Color::Black,
        Colour::Red => Color::Red,
        Colour::Green => Color::Green,
        Colour::Yellow => Color::Yellow,
        Colour::Blue => Color::Blue,
        Colour::Magenta => Color::Magenta,
        Colour::Cyan => Color::Cyan,
        Colour::Gray => Color::Gray,
        Colour::DarkGray => Color::DarkGray,
        Colour::LightRed => Color::LightRed,
        Colour::LightGreen => Color::LightGreen,
        Colour::LightYellow => Color::LightYellow,
        Colour::LightBlue => Color::LightBlue,
        Colour::LightMagenta => Color::LightMagenta,
        Colour::LightCyan => Color::LightCyan,
        Colour::White => Color::White,
    }
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
