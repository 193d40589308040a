//! The alerts line: the newest alert (time, symbol, what happened) and how many there were, above
//! the symbols table while there are any.
//!
//! Owns: drawing that line. Must not touch: raising alerts (the core evaluates them and the
//! driver publishes them in the `View`), the bell (the UI loop rings it).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::fmt;
use crate::ui::theme::Theme;
use microstate_core::view::View;

/// One line: `⚠ 23:54:15 BTCUSDT large trade: large sell 12.5 @ 61837.63 … · 4 alerts`; the
/// time is event time (the alert is dated by receive time: moved by the symbol's offset), as
/// the tape writes it.
pub fn line_text(view: &View) -> Option<String> {
    let a = view.alerts.last()?;
    let s = view.symbols.iter().find(|s| s.symbol == a.symbol);
    let clock = fmt::clock(crate::ui::clock::to_event(
        a.t_ns,
        crate::ui::clock::event_offset(view, s),
    ));
    let more = if view.alerts_raised > 1 {
        format!(" · {} alerts", view.alerts_raised)
    } else {
        String::new()
    };
    Some(format!(
        "⚠ {} {} {}: {}{more}",
        &clock[..8],
        a.symbol,
        a.kind.as_str(),
        a.text
    ))
}

pub fn render(f: &mut Frame, area: Rect, view: &View, theme: &Theme) {
    if let Some(text) = line_text(view) {
        f.render_widget(
            Paragraph::new(Line::from(Span::styled(text, theme.warn))),
            area,
        );
    }
}
