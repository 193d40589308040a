//! The symbols table: every subscribed symbol with mid, spread, imbalance, models, sync state.
//! On narrow terminals columns give way by priority ([`shown`]), so the numbers keep their
//! width (a mid is never cut to "61855", an age never to "84.7m");
//! scrolled to keep the selected one in view when there are more than fit (`Symbols 5–8 of 100`).
//! Rows come in the table's order ([`crate::ui::sort`], `o`/`O`), the sort column marked ▲/▼
//! in the header; only the rows that fit are formatted.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use super::{fmt, sync_label};
use crate::ui::sort::SortBy;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use microstate_core::view::{ModelView, View};

/// Width from which the pressure and context columns are shown.
pub const MODELS_FROM: u16 = 100;

/// Columns (by index: mark, symbol, state, mid, spread, imb L1, pressure, context, gaps, age)
/// shown at `width`: below [`MODELS_FROM`] the model columns give way, below 80 the spread,
/// below 70 the imbalance — never a number cut short.
fn shown(i: usize, width: u16) -> bool {
    match i {
        6 | 7 => width >= MODELS_FROM,
        4 => width >= 80,
        5 => width >= 70,
        _ => true,
    }
}

/// Keeps the columns [`shown`] at `width`.
fn cols<T>(v: Vec<T>, width: u16) -> Vec<T> {
    v.into_iter()
        .enumerate()
        .filter(|(i, _)| shown(*i, width))
        .map(|(_, x)| x)
        .collect()
}

/// Header cells, the sort column marked (`mid ▼`).
fn header_cells(sort: SortBy, desc: bool) -> Vec<String> {
    let arrow = if desc { "▼" } else { "▲" };
    let col = match sort {
        SortBy::Session => None,
        SortBy::Symbol => Some(1),
        SortBy::State => Some(2),
        SortBy::Mid => Some(3),
        SortBy::Spread => Some(4),
        SortBy::Imbalance => Some(5),
        SortBy::Gaps => Some(8),
        SortBy::Age => Some(9),
    };
    [
        "", "symbol", "state", "mid", "spread", "imb L1", "pressure", "context", "gaps", "age",
    ]
    .iter()
    .enumerate()
    .map(|(i, h)| {
        if Some(i) == col {
            format!("{h} {arrow}")
        } else {
            (*h).to_string()
        }
    })
    .collect()
}

/// Draws the table; returns the line of its first data row and the symbol (index into
/// `View::symbols`) on each data row, for the mouse.
pub fn render(
    f: &mut Frame,
    area: Rect,
    view: &View,
    ui: &UiState,
    theme: &Theme,
) -> (u16, Vec<usize>) {
    let wide = area.width;
    let selected = ui.symbol_index(view);
    let header = Row::new(cols(header_cells(ui.sort, ui.sort_desc), wide)).style(theme.dim);
    let order = ui.table_order(view);
    // Rows that fit (borders and header take 3); scrolled so the selected one is shown.
    let fit = (area.height as usize).saturating_sub(3).max(1);
    let pos = order.iter().position(|&i| i == selected).unwrap_or(0);
    let first = pos.saturating_sub(fit - 1);
    let shown: Vec<usize> = order.iter().skip(first).take(fit).copied().collect();
    let rows: Vec<Row> = shown
        .iter()
        .filter_map(|&i| view.symbols.get(i).map(|s| (i, s)))
        .map(|(i, s)| {
            let (state, style) = sync_label(s, theme);
            let dec = fmt::decimals_or_from_price(s.tick, s.mid.unwrap_or(0.0));
            let age = if s.last_depth_recv_ns == 0 {
                "—".to_string()
            } else {
                fmt::ago(view.now_ns.saturating_sub(s.last_depth_recv_ns))
            };
            let model = |m: &ModelView<String>| match m {
                ModelView::Ready(x) => x.clone(),
                ModelView::Missing(_) => "—".into(),
            };
            let pressure = model(&match &s.pressure {
                ModelView::Ready(p) => ModelView::Ready(p.label.clone()),
                ModelView::Missing(w) => ModelView::Missing(w.clone()),
            });
            let context = model(&match &s.context {
                ModelView::Ready(c) => ModelView::Ready(c.label.clone()),
                ModelView::Missing(w) => ModelView::Missing(w.clone()),
            });
            let mark = if i == selected { "▶" } else { " " };
            let row = Row::new(cols(
                vec![
                    Cell::from(mark),
                    Cell::from(format!("{} {}", i + 1, s.symbol)),
                    Cell::from(Span::styled(state, style)),
                    Cell::from(s.mid.map_or("—".into(), |m| fmt::price(m, dec + 1))),
                    Cell::from(s.spread.map_or("—".into(), |m| fmt::price(m, dec))),
                    Cell::from(s.imbalance[0].map_or("—".into(), fmt::signed)),
                    Cell::from(pressure),
                    Cell::from(context),
                    Cell::from(s.gaps.to_string()),
                    Cell::from(age),
                ],
                wide,
            ));
            if i == selected {
                row.style(theme.accent)
            } else {
                row
            }
        })
        .collect();
    let t = Table::new(
        rows,
        cols(
            vec![
                Constraint::Length(1),
                Constraint::Length(14),
                Constraint::Length(10),
                Constraint::Length(13),
                Constraint::Length(11),
                Constraint::Length(7),
                Constraint::Length(9),
                Constraint::Length(9),
                Constraint::Length(5),
                Constraint::Length(8),
            ],
            wide,
        ),
    )
    .header(header)
    .block(Block::default().borders(Borders::ALL).title(Span::styled(
        {
            let sorted = match ui.sort {
                SortBy::Session if !ui.sort_desc => String::new(),
                by => format!(
                    " · by {} {}",
                    by.label(),
                    if ui.sort_desc { "▼" } else { "▲" }
                ),
            };
            if view.symbols.len() > fit {
                format!(
                    " Symbols {}–{} of {}{sorted} ",
                    first + 1,
                    (first + fit).min(view.symbols.len()),
                    view.symbols.len()
                )
            } else {
                format!(" Symbols{sorted} ")
            }
        },
        theme.title,
    )));
    f.render_widget(t, area);
    // Below the top border and the header.
    (area.y + 2, shown)
}
