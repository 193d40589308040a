//! Latency: every stage's percentiles and the selected stage's histogram.

use ratatui::Frame;
use ratatui::layout::Rect;
use std::fmt::Write;

use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{cells, fmt};
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
    let title = Span::styled(" Latency (l: stage) ", theme.title);
    let bottom = super::connection::counters(view, theme);
    if stages.is_empty() {
        let mut b = Block::default().borders(Borders::ALL).title(title);
        if let Some(c) = bottom {
            b = b.title_bottom(c);
        }
        f.render_widget(
            Paragraph::new("per-stage latency histograms: not measured yet")
                .style(theme.dim)
                .block(b),
            area,
        );
        return;
    }
    let sel = stage % stages.len();
    let inner = cells::block(
        f.buffer_mut(),
        area,
        &[title],
        bottom.as_ref().map_or(&[][..], |l| &l.spans),
    );
    // Written straight into the buffer (one reused line of text, ASCII a byte per cell): as a
    // Paragraph of spans this panel cost more than the rest of the right column together.
    let buf = f.buffer_mut();
    let (x, w) = (inner.x, inner.width);
    let mut rows = inner.y..inner.bottom();
    let mut text = String::with_capacity(64);
    let Some(y) = rows.next() else { return };
    let _ = write!(
        text,
        "{:<22} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "stage", "p50", "p90", "p99", "p99.9", "max"
    );
    cells::put(buf, x, y, &text, w, theme.dim);
    for (i, s) in stages.iter().enumerate() {
        let Some(y) = rows.next() else { return };
        let style = if i == sel { theme.accent } else { theme.text };
        let d = |v: u64| {
            if s.count == 0 {
                "—".to_string()
            } else {
                fmt::latency_ns(v)
            }
        };
        text.clear();
        let _ = write!(
            text,
            "{:<22} {:>8} {:>8} {:>8} {:>8} {:>8}",
            s.name,
            d(s.p50),
            d(s.p90),
            d(s.p99),
            d(s.p999),
            d(s.max)
        );
        cells::put(buf, x, y, &text, w, style);
    }
    let s = stages[sel];
    let max = s.buckets.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let bar_w = (w as usize).saturating_sub(12);
    for (ub, n) in &s.buckets {
        let Some(y) = rows.next() else { return };
        text.clear();
        let _ = write!(text, "≤{:>9} ", fmt::dur_ns(*ub));
        let used = cells::put(buf, x, y, &text, w, theme.dim);
        let bar = ((*n as usize * bar_w) / max as usize).min(u16::MAX as usize) as u16;
        cells::repeat(buf, x + used, y, "▇", bar.min(w - used), theme.accent);
    }
}
