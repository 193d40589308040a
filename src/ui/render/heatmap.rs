//! The liquidity heatmap: time (columns, newest right, event time on the axis below) × price
//! (rows around the touch, auto-scaled to the book; labels on the left) of resting size, shaded
//! by size against the 95th percentile of the cells shown; the best bid and best ask as lines over time; trades
//! as markers sized by volume, coloured by the taker's side.
//!
//! Owns: drawing the grid [`crate::ui::heat`] bins (and keeps between frames). Must not touch:
//! the binning and the scale (`heat`), the keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::cells;
use crate::ui::clock;
use crate::ui::heat::Grid;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use microstate_core::view::{SymbolView, View};

const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];

/// The character and style of cell (`r`, `c`): a trade marker over the touch lines over the
/// resting size.
pub fn cell(g: &Grid, r: usize, c: usize, theme: &Theme) -> (char, Style) {
    if let Some((ch, buy)) = g.trade_mark(r, c) {
        let style = if buy { theme.good } else { theme.bad };
        return (ch, style.add_modifier(Modifier::BOLD));
    }
    match g.touch.get(c).copied().unwrap_or((None, None)) {
        (Some(b), Some(a)) if b == r && a == r => return ('═', theme.accent),
        (Some(b), _) if b == r => return ('━', theme.bid.add_modifier(Modifier::BOLD)),
        (_, Some(a)) if a == r => return ('━', theme.ask.add_modifier(Modifier::BOLD)),
        _ => {}
    }
    let i = r * g.cols + c;
    let q = g.qty.get(i).copied().unwrap_or(0.0);
    if q <= 0.0 || g.max_qty <= 0.0 {
        return (' ', theme.text);
    }
    // Square root: small sizes stay visible next to a wall.
    let level = ((q / g.max_qty).min(1.0).sqrt() * (SHADES.len() - 1) as f64).round() as usize;
    let style = if g.bid.get(i).copied().unwrap_or(false) {
        theme.bid
    } else {
        theme.ask
    };
    (SHADES[level.clamp(1, SHADES.len() - 1)], style)
}

pub fn render(
    f: &mut Frame,
    area: Rect,
    view: &View,
    s: Option<&SymbolView>,
    ui: &UiState,
    theme: &Theme,
) {
    let mut cache = ui.heat_cache.borrow_mut();
    let inner = Block::default().borders(Borders::ALL).inner(area);
    // The price labels' width is known once the scale is: a first pass with a guess, corrected
    // when the labels are wider (rare: a cached grid answers the second call).
    let rows = inner.height.saturating_sub(1) as usize;
    let offset = clock::event_offset(view, s);
    let mut label_w = 9usize;
    let mut grid = None;
    if let Some(s) = s {
        for _ in 0..2 {
            let cols = (inner.width as usize).saturating_sub(label_w + 1);
            grid = cache.grid(s, rows, cols, ui.heat, offset).map(|g| {
                let w = g.labels.iter().map(String::len).max().unwrap_or(0);
                (
                    w,
                    g.scale.map_or(0, |sc| sc.ticks),
                    g.scale.map_or(0, |sc| sc.auto_ticks),
                )
            });
            match grid {
                Some((w, _, _)) if w > label_w => label_w = w,
                _ => break,
            }
        }
    }
    let mode = if ui.heat.is_auto() { "auto" } else { "c: auto" };
    let title = match (s, grid) {
        (Some(s), Some((_, ticks, _))) => Line::from(vec![
            Span::styled(
                format!(
                    " Liquidity heatmap {} · {ticks} tick{}/row · {mode} · ",
                    s.symbol,
                    if ticks == 1 { "" } else { "s" }
                ),
                theme.title,
            ),
            Span::styled("●", theme.good),
            Span::styled(" buy ", theme.title),
            Span::styled("●", theme.bad),
            Span::styled(" sell ", theme.title),
        ]),
        _ => Line::from(Span::styled(" Liquidity heatmap ", theme.title)),
    };
    cells::block(f.buffer_mut(), area, &title.spans, &[]);
    let g = &cache.grid;
    if grid.is_none() || rows == 0 {
        f.render_widget(
            Paragraph::new("no resting-size history yet").style(theme.dim),
            inner,
        );
        return;
    }
    let best = |side: &[microstate_core::wire::Level]| {
        side.first()
            .zip(g.scale)
            .and_then(|(l, sc)| sc.row_of(l.price.0))
    };
    let (bid_row, ask_row) = s.map_or((None, None), |s| (best(&s.bids), best(&s.asks)));
    let buf = f.buffer_mut();
    let shift = (inner.width as usize).saturating_sub(label_w + 1 + g.cols) as u16;
    let x_cells = inner.x + label_w as u16 + 1 + shift;
    for (r, label) in g.labels.iter().enumerate().take(rows) {
        let y = inner.y + r as u16;
        let style = if Some(r) == ask_row {
            theme.ask
        } else if Some(r) == bid_row {
            theme.bid
        } else {
            theme.dim
        };
        let lx = inner.x + (label_w - label.len().min(label_w)) as u16;
        buf.set_stringn(lx, y, label, label_w, style);
        for c in 0..g.cols {
            let (ch, st) = cell(g, r, c, theme);
            if let Some(cell) = buf.cell_mut((x_cells + c as u16, y)) {
                cell.set_char(ch).set_style(st);
            }
        }
    }
    let y = inner.y + rows as u16;
    buf.set_stringn(
        x_cells,
        y,
        &g.time_axis,
        (inner.x + inner.width).saturating_sub(x_cells) as usize,
        theme.dim,
    );
}
