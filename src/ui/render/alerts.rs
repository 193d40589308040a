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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use microstate_core::alerts::{Alert, AlertKind};
    use microstate_core::engine::history::{History, TradeMark};
    use microstate_core::num::Price;

    #[test]
    fn the_alert_time_is_event_time_as_on_the_tape() {
        // Received on a 2026 clock (wall time of a demo), printed by the exchange at 23:54:15.343
        // on 2024-08-08 (the capture): the alert of that moment reads 23:54:15, as the tape.
        let recv = 1_796_650_000_000_000_000u64;
        let trade_ms = 1_723_161_255_343u64;
        let mut h = History::default();
        h.trades.push_capped(
            10,
            TradeMark {
                t_ns: recv,
                price: 100.0,
                qty: 1.0,
                buy: true,
                trade_ms,
                price_exact: Price(10_000_000_000),
            },
        );
        let s = microstate_core::view::SymbolView {
            history: Arc::new(h),
            ..crate::ui::heat::tests_support::symbol()
        };
        let view = View {
            alerts: vec![Alert {
                seq: 1,
                t_ns: recv,
                symbol: s.symbol,
                kind: AlertKind::LargeTrade,
                text: "large buy 1 @ 100".into(),
            }],
            alerts_raised: 1,
            symbols: vec![s],
            ..View::default()
        };
        let line = line_text(&view).expect("a line");
        assert!(line.starts_with("⚠ 23:54:15 TESTUSDT"), "{line}");
        let tape = fmt::clock(trade_ms * 1_000_000);
        assert!(
            line.contains(&tape[..8]),
            "the tape's time {tape} in {line}"
        );
    }
}
