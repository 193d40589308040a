//! The mouse: where each panel was drawn in the last frame ([`Hits`]), and what a click or the
//! wheel does there — a click on a symbol's row selects it, a click on a panel focuses it (its
//! border is drawn in the accent colour), the wheel scrolls the ladder (deeper asks up, deeper
//! bids down) or, over the symbols table, moves the selection.
//!
//! Owns: the hit map and the mouse → UI-state rules. Must not touch: the terminal (capture is
//! turned on and off by the UI loop, with the rest of the terminal state), drawing.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

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

/// What a mouse event asks of the screen ([`crate::ui::UiState::on_mouse`] applies it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MouseAction {
    /// A click: focus this panel, and select this symbol (index into `View::symbols`) when the
    /// click was on its row of the table.
    Click(Panel, Option<usize>),
    /// The wheel over the ladder: rows towards deeper asks (+1) or bids (−1).
    ScrollLadder(i32),
    /// The wheel over the table: the selection one row down (+1) or up (−1).
    StepSelection(i32),
}

/// What `ev` asks for, given where the last frame drew what; `None` for events outside every
/// panel, and those that mean nothing here (moves, releases, the wheel over other panels).
pub fn action(ev: &MouseEvent, hits: &Hits, symbols: usize) -> Option<MouseAction> {
    let (panel, _) = hits.panel_at(ev.column, ev.row)?;
    let up = ev.kind == MouseEventKind::ScrollUp;
    match ev.kind {
        MouseEventKind::Down(MouseButton::Left) => Some(MouseAction::Click(
            panel,
            (panel == Panel::Symbols)
                .then(|| hits.symbol_at(ev.row))
                .flatten()
                .filter(|i| *i < symbols),
        )),
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => match panel {
            Panel::Ladder | Panel::Volume => {
                Some(MouseAction::ScrollLadder(if up { 1 } else { -1 }))
            }
            Panel::Symbols => Some(MouseAction::StepSelection(if up { -1 } else { 1 })),
            _ => None,
        },
        _ => None,
    }
}

/// How far the wheel moves the ladder from its centre, in rows either way.
pub const LADDER_SCROLL_MAX: i32 = 1_000;
