//! The liquidity heatmap: time (columns, newest right) × price (rows around the latest mid) of
//! resting size, shaded by size relative to the largest cell shown; trades drawn over it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::fmt;
use crate::ui::theme::Theme;
use microstate_core::view::SymbolView;

const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];

/// The grid: `cells[row][col]` = (resting size, is a bid), row 0 at the top (highest price),
/// plus trades as (row, col, buy). `None` without data.
#[allow(clippy::type_complexity)]
pub fn grid(
    s: &SymbolView,
    rows: usize,
    cols: usize,
    ticks_per_row: u32,
) -> Option<(Vec<Vec<(f64, bool)>>, Vec<(usize, usize, bool)>, f64, f64)> {
    let mid = s.mid?;
    let h = &s.history;
    if h.columns.is_empty() || rows == 0 || cols == 0 {
        return None;
    }
    let width = s.tick.unwrap_or(0.01) * f64::from(ticks_per_row.max(1));
    let top = ((mid / width * 1e6).round() / 1e6).floor() + (rows / 2) as f64;
    let row_of = |p: f64| -> Option<usize> {
        // Round off the float noise of p / width before flooring (61849.51 / 0.01 is not
        // quite 6184951).
        let r = top - ((p / width * 1e6).round() / 1e6).floor();
        (r >= 0.0 && (r as usize) < rows).then_some(r as usize)
    };
    let first = h.columns.len().saturating_sub(cols);
    let mut cells = vec![vec![(0.0, false); cols]; rows];
    let mut col_times = Vec::with_capacity(cols);
    for (c, column) in h.columns.iter().skip(first).enumerate() {
        col_times.push(column.t_ns);
        for (side, bid) in [(&column.bids, true), (&column.asks, false)] {
            for &(p, q) in side.iter() {
                if let Some(r) = row_of(p) {
                    cells[r][c].0 += q;
                    cells[r][c].1 = bid;
                }
            }
        }
    }
    let mut trades = Vec::new();
    if let (Some(&t0), Some(&t1)) = (col_times.first(), col_times.last()) {
        for t in h
            .trades
            .iter()
            .filter(|t| t.t_ns >= t0 && t.t_ns <= t1 + 500_000_000)
        {
            let c = col_times
                .partition_point(|&ct| ct <= t.t_ns)
                .saturating_sub(1);
            if let Some(r) = row_of(t.price) {
                trades.push((r, c, t.buy));
            }
        }
    }
    Some((cells, trades, top * width, width))
}

pub fn render(
    f: &mut Frame,
    area: Rect,
    s: Option<&SymbolView>,
    ticks_per_row: u32,
    theme: &Theme,
) {
    let block = Block::default().borders(Borders::ALL).title(Span::styled(
        format!(" Liquidity heatmap · {ticks_per_row} tick/row · trades • "),
        theme.title,
    ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let label_w = 10usize;
    let cols = (inner.width as usize).saturating_sub(label_w + 1);
    let rows = inner.height as usize;
    let Some((cells, trades, top_price, width)) =
        s.and_then(|s| grid(s, rows, cols, ticks_per_row))
    else {
        f.render_widget(
            Paragraph::new("no resting-size history yet").style(theme.dim),
            inner,
        );
        return;
    };
    let max = cells
        .iter()
        .flatten()
        .map(|c| c.0)
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let dec = fmt::decimals_for(s.and_then(|s| s.tick).map(|t| t * f64::from(ticks_per_row)));
    let mut lines = Vec::with_capacity(rows);
    for (r, row) in cells.iter().enumerate() {
        let price = top_price - r as f64 * width;
        let mut spans = vec![Span::styled(
            format!("{:>label_w$} ", fmt::price(price, dec)),
            theme.dim,
        )];
        for (c, &(q, bid)) in row.iter().enumerate() {
            let trade = trades.iter().find(|t| t.0 == r && t.1 == c);
            let (ch, style): (char, Style) = match trade {
                Some(&(_, _, buy)) => ('•', if buy { theme.good } else { theme.bad }),
                None => {
                    // Square root: small sizes stay visible next to a wall.
                    let level = ((q / max).sqrt() * (SHADES.len() - 1) as f64).round() as usize;
                    let ch = if q > 0.0 { SHADES[level.max(1)] } else { ' ' };
                    (ch, if bid { theme.bid } else { theme.ask })
                }
            };
            spans.push(Span::styled(ch.to_string(), style));
        }
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), inner);
}
