//! Keys → actions, through a bindings table (defaults here, remappable in `[ui.keys]`).
//!
//! Owns: the `Action` set and the key names. Must not touch: what an action does (the UI loop
//! and the engine commands decide that).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a key can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Help,
    NextSymbol,
    PrevSymbol,
    /// 1–9: the n-th symbol (0-based here).
    Symbol(u8),
    ToggleRecording,
    /// Pause/resume a replay; freeze/unfreeze the screen live.
    Pause,
    Faster,
    Slower,
    Step,
    ZoomIn,
    ZoomOut,
    Heatmap,
    LatencyStage,
    Resync,
    SeekBack,
    SeekForward,
    /// Replay back to 1× (from any speed, `max` included).
    NormalSpeed,
    /// Close the help overlay (Esc); nothing when it is closed.
    CloseHelp,
    /// Time & sales panel on/off.
    Tape,
    /// Volume-at-price panel on/off.
    Volume,
    /// Volume at price: the reference for pulled/stacked is now.
    ResetReference,
    /// A prompt: add a symbol (completion from the symbols known).
    AddSymbol,
    /// Remove the selected symbol from the screen.
    RemoveSymbol,
    /// A prompt: go to a time (replay).
    GoTo,
    /// A prompt: alert when the selected symbol's mid crosses a price.
    AddAlert,
    /// Symbols table: sort by the next column.
    SortColumn,
    /// Symbols table: reverse the sort.
    SortReverse,
    /// Heatmap: fewer ticks per row.
    HeatZoomIn,
    /// Heatmap: more ticks per row.
    HeatZoomOut,
    /// Heatmap: move the price axis up / down.
    HeatUp,
    HeatDown,
    /// Heatmap: back to auto (centred on the touch, scaled to the book).
    HeatCentre,
    /// Ladder: every tick in range (empty levels included) / only the book's levels.
    Contiguous,
    /// Ladder: sizes in the quote currency / in the base asset.
    QuoteSizes,
    /// Full-screen ladder, then full-screen chart/heatmap, then the normal layout.
    FullScreen,
    /// Show / hide a panel (index into [`crate::ui::state::Panel::ALL`]).
    Panel(u8),
}

impl Action {
    /// Name in the config file and the help overlay.
    pub fn name(self) -> String {
        match self {
            Action::Quit => "quit".into(),
            Action::Help => "help".into(),
            Action::NextSymbol => "next_symbol".into(),
            Action::PrevSymbol => "prev_symbol".into(),
            Action::Symbol(n) => format!("symbol_{}", n + 1),
            Action::ToggleRecording => "record".into(),
            Action::Pause => "pause".into(),
            Action::Faster => "faster".into(),
            Action::Slower => "slower".into(),
            Action::Step => "step".into(),
            Action::ZoomIn => "zoom_in".into(),
            Action::ZoomOut => "zoom_out".into(),
            Action::Heatmap => "heatmap".into(),
            Action::LatencyStage => "latency_stage".into(),
            Action::Resync => "resync".into(),
            Action::SeekBack => "seek_back".into(),
            Action::SeekForward => "seek_forward".into(),
            Action::NormalSpeed => "normal_speed".into(),
            Action::CloseHelp => "close_help".into(),
            Action::Tape => "tape".into(),
            Action::Volume => "volume".into(),
            Action::ResetReference => "reset_reference".into(),
            Action::AddSymbol => "add_symbol".into(),
            Action::RemoveSymbol => "remove_symbol".into(),
            Action::GoTo => "go_to".into(),
            Action::AddAlert => "add_alert".into(),
            Action::SortColumn => "sort_column".into(),
            Action::SortReverse => "sort_reverse".into(),
            Action::HeatZoomIn => "heatmap_zoom_in".into(),
            Action::HeatZoomOut => "heatmap_zoom_out".into(),
            Action::HeatUp => "heatmap_up".into(),
            Action::HeatDown => "heatmap_down".into(),
            Action::HeatCentre => "heatmap_centre".into(),
            Action::Contiguous => "contiguous_ladder".into(),
            Action::QuoteSizes => "quote_sizes".into(),
            Action::FullScreen => "full_screen".into(),
            Action::Panel(i) => format!("panel_{}", crate::ui::state::Panel::from_index(i).name()),
        }
    }

    /// What it does, for the help overlay.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "this help",
            Action::NextSymbol => "next symbol",
            Action::PrevSymbol => "previous symbol",
            Action::Symbol(_) => "symbol by number",
            Action::ToggleRecording => "recording on/off (live)",
            Action::Pause => "pause/resume (replay), freeze (live)",
            Action::Faster => "replay faster",
            Action::Slower => "replay slower",
            Action::Step => "step one event (paused replay)",
            Action::ZoomIn => "ladder: fewer ticks per row",
            Action::ZoomOut => "ladder: more ticks per row",
            Action::Heatmap => "price chart / liquidity heatmap",
            Action::LatencyStage => "next latency stage",
            Action::Resync => "resync this symbol's book (live)",
            Action::SeekBack => "replay: back 10 s",
            Action::SeekForward => "replay: forward 10 s",
            Action::NormalSpeed => "replay at 1× again",
            Action::CloseHelp => "close this help",
            Action::Tape => "time & sales (tape) on/off",
            Action::Volume => "volume at price on/off",
            Action::ResetReference => "volume: pulled/stacked from now",
            Action::AddSymbol => "add a symbol (prompt, Tab completes)",
            Action::RemoveSymbol => "remove the selected symbol",
            Action::GoTo => "replay: go to a time (prompt)",
            Action::AddAlert => "alert at a price (prompt)",
            Action::SortColumn => "symbols: sort by the next column",
            Action::SortReverse => "symbols: reverse the sort",
            Action::HeatZoomIn => "heatmap: zoom in (price)",
            Action::HeatZoomOut => "heatmap: zoom out (price)",
            Action::HeatUp => "heatmap: move prices up",
            Action::HeatDown => "heatmap: move prices down",
            Action::HeatCentre => "heatmap: auto (centre, scale)",
            Action::Contiguous => "ladder: every tick / levels",
            Action::QuoteSizes => "ladder: sizes in quote / base",
            Action::FullScreen => "full screen: ladder, chart, off",
            Action::Panel(i) => crate::ui::state::Panel::from_index(i).describe(),
        }
    }

    fn from_name(s: &str) -> Option<Action> {
        if let Some(n) = s.strip_prefix("symbol_") {
            return n
                .parse::<u8>()
                .ok()
                .filter(|n| (1..=9).contains(n))
                .map(|n| Action::Symbol(n - 1));
        }
        DEFAULTS.iter().map(|(a, _)| *a).find(|a| a.name() == s)
    }
}

/// The default bindings, in help order.
const DEFAULTS: &[(Action, &[&str])] = &[
    (Action::Quit, &["q", "ctrl-c"]),
    (Action::Help, &["?"]),
    (Action::NextSymbol, &["tab", "right"]),
    (Action::PrevSymbol, &["backtab", "left"]),
    (Action::ToggleRecording, &["r"]),
    (Action::Pause, &["space"]),
    (Action::Faster, &["+", "="]),
    (Action::Slower, &["-"]),
    (Action::NormalSpeed, &["0"]),
    (Action::Step, &["."]),
    (Action::ZoomIn, &["["]),
    (Action::ZoomOut, &["]"]),
    (Action::Heatmap, &["h"]),
    (Action::LatencyStage, &["l"]),
    (Action::Resync, &["s"]),
    (Action::SeekBack, &["<", ","]),
    (Action::SeekForward, &[">"]),
    (Action::CloseHelp, &["esc"]),
    (Action::Tape, &["t"]),
    (Action::Volume, &["v"]),
    (Action::ResetReference, &["b"]),
    (Action::AddSymbol, &["a"]),
    (Action::RemoveSymbol, &["x"]),
    (Action::GoTo, &["g"]),
    (Action::AddAlert, &["!"]),
    (Action::SortColumn, &["o"]),
    (Action::SortReverse, &["O"]),
    (Action::HeatZoomIn, &["z"]),
    (Action::HeatZoomOut, &["Z"]),
    (Action::HeatUp, &["pageup"]),
    (Action::HeatDown, &["pagedown"]),
    (Action::HeatCentre, &["c"]),
    (Action::Contiguous, &["d"]),
    (Action::QuoteSizes, &["$"]),
    (Action::FullScreen, &["f"]),
    (Action::Panel(0), &["f2"]),
    (Action::Panel(1), &["f3"]),
    (Action::Panel(2), &["f4"]),
    (Action::Panel(3), &["f5"]),
    (Action::Panel(4), &["f6"]),
    (Action::Panel(5), &["f7"]),
];

/// A key as written in the config: `q`, `?`, `space`, `tab`, `backtab`, `left`, `f1`, `ctrl-c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

pub fn parse_key(s: &str) -> Result<Key, String> {
    let (ctrl, name) = match s.strip_prefix("ctrl-").or_else(|| s.strip_prefix("ctrl+")) {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let code = match name.to_ascii_lowercase().as_str() {
        "space" => KeyCode::Char(' '),
        "tab" => KeyCode::Tab,
        "backtab" | "shift-tab" => KeyCode::BackTab,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "enter" => KeyCode::Enter,
        "esc" => KeyCode::Esc,
        "pageup" => KeyCode::PageUp,
        "pagedown" => KeyCode::PageDown,
        f if f.len() >= 2 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
            KeyCode::F(f[1..].parse::<u8>().map_err(|e| e.to_string())?)
        }
        _ if name.chars().count() == 1 => KeyCode::Char(name.chars().next().ok_or("empty key")?),
        _ => {
            return Err(format!(
                "unknown key {s:?} (use a character, space, tab, left, f1, ctrl-c, …)"
            ));
        }
    };
    Ok(Key { code, ctrl })
}

/// The bindings in force.
#[derive(Clone, Debug)]
pub struct Bindings {
    map: Vec<(Key, Action)>,
}

impl Default for Bindings {
    fn default() -> Self {
        let mut map = Vec::new();
        for (a, keys) in DEFAULTS {
            for k in *keys {
                if let Ok(k) = parse_key(k) {
                    map.push((k, *a));
                }
            }
        }
        for n in 0..9u8 {
            map.push((
                Key {
                    code: KeyCode::Char(char::from(b'1' + n)),
                    ctrl: false,
                },
                Action::Symbol(n),
            ));
        }
        Bindings { map }
    }
}

impl Bindings {
    /// Defaults, with the config's overrides: each named action gets exactly the keys given.
    pub fn with_overrides(
        overrides: &std::collections::BTreeMap<String, Vec<String>>,
    ) -> Result<Bindings, String> {
        let mut b = Bindings::default();
        for (name, keys) in overrides {
            let action = Action::from_name(name).ok_or_else(|| {
                format!("[ui.keys] {name:?} is not an action (e.g. quit, pause, heatmap, symbol_3)")
            })?;
            let keys = keys
                .iter()
                .map(|k| parse_key(k).map_err(|e| format!("[ui.keys] {name}: {e}")))
                .collect::<Result<Vec<Key>, String>>()?;
            // The action's default keys give way to these; a key another action still has is
            // a conflict ([`Self::check_conflicts`]), not silently taken from it.
            b.map.retain(|(_, a)| *a != action);
            for k in keys {
                b.map.push((k, action));
            }
        }
        b.check_conflicts()?;
        Ok(b)
    }

    /// One key, one action: a key bound to two (an override that takes a key another action
    /// still has) is an error naming the key and both actions.
    fn check_conflicts(&self) -> Result<(), String> {
        for (i, (k, a)) in self.map.iter().enumerate() {
            if let Some((_, b)) = self.map[..i].iter().find(|(j, b)| j == k && b != a) {
                return Err(format!(
                    "[ui.keys] key {:?} is bound to both {:?} and {:?}; give one of them \
                     another key",
                    key_name(k),
                    b.name(),
                    a.name()
                ));
            }
        }
        Ok(())
    }

    pub fn action(&self, ev: &KeyEvent) -> Option<Action> {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let code = ev.code;
        self.map
            .iter()
            .find(|(k, _)| k.code == code && k.ctrl == ctrl)
            .map(|(_, a)| *a)
    }

    /// (keys, what it does) per action, in help order.
    pub fn help(&self) -> Vec<(String, &'static str)> {
        let mut out: Vec<(String, &'static str)> = Vec::new();
        let mut seen: Vec<Action> = Vec::new();
        for (_, a) in &self.map {
            let key = match a {
                Action::Symbol(_) => Action::Symbol(0),
                other => *other,
            };
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let keys: Vec<String> = if key == Action::Symbol(0) {
                vec!["1–9".into()]
            } else {
                self.map
                    .iter()
                    .filter(|(_, b)| *b == key)
                    .map(|(k, _)| key_name(k))
                    .collect()
            };
            out.push((keys.join(" "), key.describe()));
        }
        out
    }
}

fn key_name(k: &Key) -> String {
    let base = match k.code {
        KeyCode::Char(' ') => "space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::BackTab => "S-Tab".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::F(n) => format!("F{n}"),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        other => format!("{other:?}"),
    };
    if k.ctrl { format!("C-{base}") } else { base }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn default_bindings_and_overrides() {
        let b = Bindings::default();
        assert_eq!(
            b.action(&ev(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            b.action(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            b.action(&ev(KeyCode::Char('3'), KeyModifiers::NONE)),
            Some(Action::Symbol(2))
        );
        assert_eq!(
            b.action(&ev(KeyCode::Char(' '), KeyModifiers::NONE)),
            Some(Action::Pause)
        );
        assert_eq!(
            b.action(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevSymbol)
        );
        assert_eq!(b.action(&ev(KeyCode::Char('y'), KeyModifiers::NONE)), None);
        let mut o = std::collections::BTreeMap::new();
        o.insert("quit".to_string(), vec!["w".to_string()]);
        o.insert("symbol_2".to_string(), vec!["f9".to_string()]);
        let b = Bindings::with_overrides(&o).expect("valid");
        assert_eq!(b.action(&ev(KeyCode::Char('q'), KeyModifiers::NONE)), None);
        assert_eq!(
            b.action(&ev(KeyCode::Char('w'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            b.action(&ev(KeyCode::F(9), KeyModifiers::NONE)),
            Some(Action::Symbol(1))
        );
        o.insert("launch_rockets".to_string(), vec!["l".to_string()]);
        assert!(
            Bindings::with_overrides(&o)
                .unwrap_err()
                .contains("launch_rockets")
        );
        assert!(parse_key("hyper-q").is_err());
        let d = Bindings::default();
        for (c, a) in [
            ('t', Action::Tape),
            ('v', Action::Volume),
            ('a', Action::AddSymbol),
            ('x', Action::RemoveSymbol),
            ('g', Action::GoTo),
            ('b', Action::ResetReference),
            ('!', Action::AddAlert),
            ('o', Action::SortColumn),
            ('O', Action::SortReverse),
        ] {
            assert_eq!(d.action(&ev(KeyCode::Char(c), KeyModifiers::NONE)), Some(a));
            assert_eq!(Action::from_name(&a.name()), Some(a), "named in [ui.keys]");
        }
        assert!(b.help().iter().any(|(k, d)| k == "w" && *d == "quit"));
    }

    #[test]
    fn esc_closes_help_and_0_returns_to_normal_speed() {
        let b = Bindings::default();
        assert_eq!(
            b.action(&ev(KeyCode::Esc, KeyModifiers::NONE)),
            Some(Action::CloseHelp)
        );
        assert_eq!(
            b.action(&ev(KeyCode::Char('0'), KeyModifiers::NONE)),
            Some(Action::NormalSpeed)
        );
        let help = b.help();
        assert!(help.iter().any(|(k, d)| k == "0" && d.contains("1×")));
        assert!(help.iter().any(|(k, d)| k == "Esc" && d.contains("close")));
    }

    #[test]
    fn heatmap_ladder_layout_keys() {
        let b = Bindings::default();
        for (code, a) in [
            (KeyCode::Char('z'), Action::HeatZoomIn),
            (KeyCode::Char('Z'), Action::HeatZoomOut),
            (KeyCode::PageUp, Action::HeatUp),
            (KeyCode::PageDown, Action::HeatDown),
            (KeyCode::Char('c'), Action::HeatCentre),
            (KeyCode::Char('d'), Action::Contiguous),
            (KeyCode::Char('$'), Action::QuoteSizes),
            (KeyCode::Char('f'), Action::FullScreen),
            (KeyCode::F(2), Action::Panel(0)),
            (KeyCode::F(7), Action::Panel(5)),
        ] {
            // Shift arrives as a modifier with the capital letter: it must not matter.
            assert_eq!(
                b.action(&ev(code, KeyModifiers::SHIFT)),
                Some(a),
                "{code:?}"
            );
            assert_eq!(Action::from_name(&a.name()), Some(a), "named in [ui.keys]");
        }
        assert_eq!(Action::Panel(4).name(), "panel_latency");
        // `[ui.layout] hide` names the panels as the keys do, in the same order.
        let names = crate::ui::state::Panel::ALL.map(|p| p.name());
        assert_eq!(names, microstate_config::PANEL_NAMES);
        let help = b.help();
        assert!(help.iter().any(|(k, d)| k == "z" && d.contains("zoom in")));
        assert!(help.iter().any(|(k, d)| k == "F6" && d.contains("latency")));
        // Every action's text fits a help column at 80 columns.
        assert!(
            help.iter().all(|(_, d)| d.chars().count() <= 36),
            "{help:?}"
        );
    }

    #[test]
    fn one_key_bound_to_two_actions_is_refused() {
        let mut o = std::collections::BTreeMap::new();
        // `h` is the heatmap's; giving it to quit as well is a conflict.
        o.insert("quit".to_string(), vec!["q".to_string(), "h".to_string()]);
        let e = Bindings::with_overrides(&o).unwrap_err();
        assert!(
            e.contains("\"h\"") && e.contains("heatmap") && e.contains("quit"),
            "{e}"
        );
        // Two keys for one action, and a key moved from one action to another, are fine.
        let mut o = std::collections::BTreeMap::new();
        o.insert("heatmap".to_string(), vec!["m".to_string()]);
        o.insert("quit".to_string(), vec!["q".to_string(), "h".to_string()]);
        assert!(Bindings::with_overrides(&o).is_ok());
        assert!(Bindings::default().check_conflicts().is_ok());
    }
}
