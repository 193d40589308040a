//! The symbols table: every subscribed symbol with mid, spread, imbalance, models, sync state;
//! scrolled to keep the selected one in view when there are more than fit (`Symbols 5–8 of 100`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use super::{fmt, sync_label};
use crate::ui::theme::Theme;
use microstate_core::view::{ModelView, View};

pub fn render(f: &mut Frame, area: Rect, view: &View, selected: usize, theme: &Theme) {
    let header = Row::new([
        "", "symbol", "state", "mid", "spread", "imb L1", "pressure", "context", "gaps", "age",
    ])
    .style(theme.dim);
    // Rows that fit (borders and header take 3); scrolled so the selected one is shown.
    let fit = (area.height as usize).saturating_sub(3).max(1);
    let first = selected.saturating_sub(fit - 1);
    let rows: Vec<Row> = view
        .symbols
        .iter()
        .enumerate()
        .skip(first)
        .take(fit)
        .map(|(i, s)| {
            let (state, style) = sync_label(s, theme);
            let dec = fmt::decimals_for(s.tick);
            let age = if s.last_depth_recv_ns == 0 {
                "—".to_string()
            } else {
                fmt::dur_ns(view.now_ns.saturating_sub(s.last_depth_recv_ns))
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
            let row = Row::new(vec![
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
            ]);
            if i == selected {
                row.style(theme.accent)
            } else {
                row
            }
        })
        .collect();
    let t = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(14),
            Constraint::Length(10),
            Constraint::Length(12),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(5),
            Constraint::Length(8),
        ],
    )
    .header(header)
    .block(Block::default().borders(Borders::ALL).title(Span::styled(
        if view.symbols.len() > fit {
            format!(
                " Symbols {}–{} of {} ",
                first + 1,
                (first + fit).min(view.symbols.len()),
                view.symbols.len()
            )
        } else {
            " Symbols ".to_string()
        },
        theme.title,
    )));
    f.render_widget(t, area);
}
