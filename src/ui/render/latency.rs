//! Latency: every stage's percentiles and the selected stage's histogram.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::fmt;
use crate::ui::theme::Theme;
use microstate_core::view::{StageView, View};

pub fn render(
    f: &mut Frame,
    area: Rect,
    view: &View,
    drawn: Option<&StageView>,
    stage: usize,
    theme: &Theme,
) {
    let stages: Vec<&StageView> = view.latency.iter().chain(drawn).collect();
    let mut b = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Latency (l: stage) ", theme.title));
    if let Some(c) = super::connection::counters(view, theme) {
        b = b.title_bottom(c);
    }
    if stages.is_empty() {
        f.render_widget(
            Paragraph::new("per-stage latency histograms: not measured yet")
                .style(theme.dim)
                .block(b),
            area,
        );
        return;
    }
    let sel = stage % stages.len();
    let inner = b.inner(area);
    f.render_widget(b, area);
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{:<22} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "stage", "p50", "p90", "p99", "p99.9", "max"
        ),
        theme.dim,
    ))];
    for (i, s) in stages.iter().enumerate() {
        let style = if i == sel { theme.accent } else { theme.text };
        let d = |v: u64| {
            if s.count == 0 {
                "—".to_string()
            } else {
                fmt::latency_ns(v)
            }
        };
        lines.push(Line::from(Span::styled(
            format!(
                "{:<22} {:>8} {:>8} {:>8} {:>8} {:>8}",
                s.name,
                d(s.p50),
                d(s.p90),
                d(s.p99),
                d(s.p999),
                d(s.max)
            ),
            style,
        )));
    }
    let s = stages[sel];
    let max = s.buckets.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let room = (inner.height as usize).saturating_sub(lines.len());
    let w = (inner.width as usize).saturating_sub(12);
    for (ub, n) in s.buckets.iter().take(room) {
        lines.push(Line::from(vec![
            Span::styled(format!("≤{:>9} ", fmt::dur_ns(*ub)), theme.dim),
            Span::styled("▇".repeat((*n as usize * w) / max as usize), theme.accent),
        ]));
    }
    f.render_widget(Paragraph::new(lines), inner);
}
