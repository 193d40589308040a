//! Time & sales (the tape): the selected symbol's taker orders as they print, newest on top —
//! time (exchange trade time), price (the last print of a sweep, `~` when it swept several
//! prices), size, `×n` prints; buys in the bid colour, sells in the ask colour, taker orders at
//! or above the large-trade threshold highlighted.
//!
//! Owns: drawing the tape and formatting its rows. Must not touch: the aggregation (the core's
//! `tape` module builds the rows into the `View`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use super::{cells, fmt};
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use microstate_core::tape::TapeRow;
use microstate_core::view::SymbolView;

/// One tape row as text, `width` columns at most: `23:54:15.343 B  61837.63 0.02000 ×3`.
/// Narrower widths drop the milliseconds, then the seconds.
pub fn row_text(r: &TapeRow, decimals: usize, width: usize) -> String {
    let ms = r.trade_ms * 1_000_000;
    let clock = fmt::clock(ms);
    let price = fmt::price(r.last_price.to_f64(), decimals);
    let swept = if r.first_price != r.last_price {
        "~"
    } else {
        " "
    };
    let prints = if r.prints > 1 {
        format!(" ×{}", r.prints)
    } else {
        String::new()
    };
    let side = if r.buy { 'B' } else { 'S' };
    let qty = fmt::qty(r.qty);
    let body = format!("{side} {price:>10}{swept}{qty:>8}{prints}");
    let compact = format!("{side} {price}{swept}{qty}{prints}");
    [
        format!("{clock} {body}"),
        format!("{} {body}", &clock[..8]),
        format!("{} {body}", &clock[..5]),
        body,
        compact.clone(),
    ]
    .into_iter()
    .find(|l| l.chars().count() <= width)
    .unwrap_or_else(|| compact.chars().take(width).collect())
}

/// A short threshold for the title: `≥ 50.0k quote`, `≥ 2.000 base`.
fn threshold(ui: &UiState) -> String {
    match ui.tape_large {
        (Some(b), Some(q)) => format!(" · large ≥ {} base or {} quote", fmt::qty(b), fmt::qty(q)),
        (Some(b), None) => format!(" · large ≥ {} base", fmt::qty(b)),
        (None, Some(q)) => format!(" · large ≥ {} quote", fmt::qty(q)),
        (None, None) => String::new(),
    }
}

pub fn render(f: &mut Frame, area: Rect, s: Option<&SymbolView>, ui: &UiState, theme: &Theme) {
    let title = match s {
        Some(s) => format!(" Tape {}{} ", s.symbol, threshold(ui)),
        None => " Tape ".into(),
    };
    let inner = cells::block(
        f.buffer_mut(),
        area,
        &[Span::styled(title, theme.title)],
        &[],
    );
    let Some(s) = s else {
        return;
    };
    if s.tape.is_empty() {
        f.render_widget(Paragraph::new("no trades yet").style(theme.dim), inner);
        return;
    }
    // The symbol's tick, or (before it is known) enough digits for the price itself.
    let dec = fmt::decimals_or_from_price(s.tick, s.mid.unwrap_or(0.0));
    let w = inner.width as usize;
    let buf = f.buffer_mut();
    for (i, r) in s.tape.iter().take(inner.height as usize).enumerate() {
        let side: Style = if r.buy { theme.bid } else { theme.ask };
        let style = if r.is_large(ui.tape_large.0, ui.tape_large.1) {
            side.add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            side
        };
        buf.set_stringn(inner.x, inner.y + i as u16, row_text(r, dec, w), w, style);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microstate_core::num::Price;

    fn row(prints: u32, first: u64, last: u64) -> TapeRow {
        TapeRow {
            t_ns: 0,
            trade_ms: 1_723_161_255_343,
            first_price: Price(first),
            last_price: Price(last),
            qty: 0.02,
            quote: 1236.75,
            buy: false,
            prints,
        }
    }

    #[test]
    fn rows_fit_their_width_and_say_sweeps() {
        let one = row(1, 6_183_763_000_000, 6_183_763_000_000);
        assert_eq!(row_text(&one, 2, 60), "23:54:15.343 S   61837.63  0.02000");
        let sweep = row(3, 6_183_763_000_000, 6_183_760_000_000);
        assert_eq!(
            row_text(&sweep, 2, 60),
            "23:54:15.343 S   61837.60~ 0.02000 ×3"
        );
        assert_eq!(row_text(&sweep, 2, 32), "23:54 S   61837.60~ 0.02000 ×3");
        assert_eq!(row_text(&sweep, 2, 24), "S   61837.60~ 0.02000 ×3");
        assert_eq!(row_text(&sweep, 2, 22), "S 61837.60~0.02000 ×3");
        assert!(row_text(&sweep, 2, 10).chars().count() <= 10);
    }
}
