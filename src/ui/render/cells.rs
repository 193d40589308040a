//! Text written straight into the screen buffer: ASCII (and a few one-cell symbols the panels
//! use) one char per cell, without the grapheme
//! segmentation a `Paragraph` of spans (or `Buffer::set_stringn`) runs on every character —
//! most of a text panel's cost — and anything else through ratatui's own `set_stringn`, so
//! the cells come out exactly as a left-aligned, unwrapped `Paragraph` line would leave them.
//!
//! Owns: those two writes and a row of one repeated symbol. Must not touch: what is written
//! (the panels say).

use ratatui::buffer::Buffer;
use ratatui::style::Style;

/// Writes `s` at `(x, y)`, at most `max` columns (and never past the buffer's right edge);
/// returns the columns used. Control characters are skipped, as `set_stringn` skips them.
pub fn put(buf: &mut Buffer, x: u16, y: u16, s: &str, max: u16, style: Style) -> u16 {
    let area = buf.area;
    if y < area.top() || y >= area.bottom() || x < area.left() || x >= area.right() {
        return 0;
    }
    if !s.chars().all(|c| c.is_ascii() || ONE_CELL.contains(&c)) {
        let (end, _) = buf.set_stringn(x, y, s, usize::from(max), style);
        return end.saturating_sub(x);
    }
    let right = area.right().min(x.saturating_add(max));
    let mut cx = x;
    for c in s.chars() {
        if cx >= right {
            break;
        }
        if c.is_ascii_control() {
            continue;
        }
        buf[(cx, y)].set_char(c).set_style(style);
        cx += 1;
    }
    cx - x
}

/// Characters the panels print that are each one grapheme one cell wide (no combining mark
/// can follow them in our own text): written a char per cell like ASCII.
const ONE_CELL: [char; 15] = [
    'µ', '—', '≤', '≥', '±', '…', '→', '←', '·', '│', '▶', '■', '▇', '█', '•',
];

/// Writes `n` cells of `symbol` (one column wide) from `(x, y)`, clipped to the buffer;
/// returns the columns used.
pub fn repeat(buf: &mut Buffer, x: u16, y: u16, symbol: &str, n: u16, style: Style) -> u16 {
    let area = buf.area;
    if y < area.top() || y >= area.bottom() || x < area.left() {
        return 0;
    }
    let right = area.right().min(x.saturating_add(n));
    for cx in x..right {
        buf[(cx, y)].set_symbol(symbol).set_style(style);
    }
    right.saturating_sub(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Color;
    use ratatui::text::{Line, Span};
    use ratatui::widgets::{Paragraph, Widget};

    /// The fast writes leave the buffer exactly as a Paragraph line does.
    #[test]
    fn put_and_repeat_match_a_paragraph_line() {
        let area = Rect::new(2, 1, 12, 2);
        let style = Style::default().fg(Color::Red);
        for text in [
            "p50 12.3µs",
            "stage   1234567890 cut here",
            "",
            "≤  1.2ms — ±3 → ·│▶■█•…",
            "e\u{301}tat 漢字",
        ] {
            let mut want = Buffer::empty(Rect::new(0, 0, 16, 4));
            Paragraph::new(Line::from(vec![
                Span::styled(text.to_string(), style),
                Span::styled("▇▇▇", style),
            ]))
            .render(area, &mut want);
            let mut got = Buffer::empty(Rect::new(0, 0, 16, 4));
            let used = put(&mut got, area.x, area.y, text, area.width, style);
            repeat(
                &mut got,
                area.x + used,
                area.y,
                "▇",
                3.min(area.width - used),
                style,
            );
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn writes_outside_the_buffer_are_dropped() {
        let mut b = Buffer::empty(Rect::new(0, 0, 4, 1));
        assert_eq!(put(&mut b, 2, 0, "abcdef", 10, Style::default()), 2);
        assert_eq!(put(&mut b, 0, 3, "abc", 10, Style::default()), 0);
        assert_eq!(repeat(&mut b, 3, 0, "▇", 5, Style::default()), 1);
        assert_eq!(b[(2, 0)].symbol(), "a");
        assert_eq!(b[(3, 0)].symbol(), "▇");
    }
}
