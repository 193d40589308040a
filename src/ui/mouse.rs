//! The mouse: where each panel was drawn in the last frame ([`Hits`]), and what a click or the
//! wheel does there — a click on a symbol's row selects it, a click on a panel focuses it (its
//! border is drawn in the accent colour), the wheel scrolls the ladder (deeper asks up, deeper
//! bids down) or, over the symbols table, moves the selection.
//!
//! Owns: the hit map and the mouse → UI-state rules. Must not touch: the terminal (capture is
//! turned on and off by the UI loop, with the rest of the terminal state), drawing.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::state::UiState;
use microstate_core::view::View;

/// The screen's panels, as a click names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Panel {
    Ladder,
    Volume,
    Chart,
    Imbalance,
    Pressure,
    Context,
    Interpretation,
    Latency,
    Symbols,
}

impl Panel {
    pub fn name(self) -> &'static str {
        match self {
            Panel::Ladder => "ladder",
            Panel::Volume => "volume",
            Panel::Chart => "chart",
            Panel::Imbalance => "imbalance",
            Panel::Pressure => "pressure",
            Panel::Context => "context",
            Panel::Interpretation => "interpretation",
            Panel::Latency => "latency",
            Panel::Symbols => "symbols",
        }
    }
}

/// Where the last frame drew what.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hits {
    pub panels: Vec<(Panel, Rect)>,
    /// The symbols table's data rows: the first row's line and, per line, the symbol's index
    /// in `View::symbols`.
    pub symbol_rows: (u16, Vec<usize>),
}

impl Hits {
    /// The panel at (`x`, `y`), if any.
    pub fn panel_at(&self, x: u16, y: u16) -> Option<(Panel, Rect)> {
        self.panels
            .iter()
            .rev()
            .find(|(_, r)| r.contains(Position { x, y }))
            .copied()
    }

    /// The symbol (index into `View::symbols`) whose row is at line `y` of the table.
    pub fn symbol_at(&self, y: u16) -> Option<usize> {
        let (first, rows) = &self.symbol_rows;
        y.checked_sub(*first)
            .and_then(|i| rows.get(usize::from(i)))
            .copied()
    }
}

/// Applies a mouse event to the screen's state; `true` when something changed (redraw).
pub fn on_mouse(ev: &MouseEvent, ui: &mut UiState, view: &View) -> bool {
    let Some((panel, _)) = ui.hits.panel_at(ev.column, ev.row) else {
        return false;
    };
    match ev.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            if panel == Panel::Symbols
                && let Some(i) = ui.hits.symbol_at(ev.row)
                && i < view.symbols.len()
            {
                ui.selected = i;
            }
            ui.focus = Some(panel);
            true
        }
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            let up = ev.kind == MouseEventKind::ScrollUp;
            match panel {
                Panel::Ladder | Panel::Volume => {
                    ui.ladder_scroll = (ui.ladder_scroll + if up { 1 } else { -1 })
                        .clamp(-LADDER_SCROLL_MAX, LADDER_SCROLL_MAX);
                    true
                }
                Panel::Symbols => {
                    let n = view.symbols.len();
                    if n > 0 {
                        ui.select_step(view, if up { n - 1 } else { 1 });
                    }
                    true
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// How far the wheel moves the ladder from its centre, in rows either way.
pub const LADDER_SCROLL_MAX: i32 = 1_000;
