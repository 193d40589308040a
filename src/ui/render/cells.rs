//! Text written straight into the screen buffer: ASCII (and a few one-cell symbols the panels
//! use) one char per cell, without the grapheme
//! segmentation a `Paragraph` of spans (or `Buffer::set_stringn`) runs on every character —
//! most of a text panel's cost — and anything else through ratatui's own `set_stringn`, so
//! the cells come out exactly as a left-aligned, unwrapped `Paragraph` line would leave them.
//!
//! Also a bordered block with its titles, drawn as ratatui's `Block` draws it (the same cells)
//! but without a `Line` render per title, which segments the title into graphemes: across the
//! screen's ten or so panels that was a sixth of a frame.
//!
//! Owns: those writes and a row of one repeated symbol. Must not touch: what is written (the
//! panels say).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Writes `s` at `(x, y)`, at most `max` columns (and never past the buffer's right edge);
/// returns the columns used. Control characters are skipped, as `set_stringn` skips them.
pub fn put(buf: &mut Buffer, x: u16, y: u16, s: &str, max: u16, style: Style) -> u16 {
    let area = buf.area;
    if y < area.top() || y >= area.bottom() || x < area.left() || x >= area.right() {
        return 0;
    }
    if !s.chars().all(one_cell) {
        let (end, _) = buf.set_stringn(x, y, s, usize::from(max), style);
        return end.saturating_sub(x);
    }
    let right = area.right().min(x.saturating_add(max));
    // The row's cells as a slice: no position arithmetic and bounds check per cell.
    let start = buf.index_of(x, y);
    let row = &mut buf.content[start..start + usize::from(right - x)];
    let mut cells = row.iter_mut();
    let mut used = 0;
    for c in s.chars() {
        if c.is_ascii_control() {
            continue;
        }
        let Some(cell) = cells.next() else { break };
        cell.set_char(c).set_style(style);
        used += 1;
    }
    used
}

/// Characters the panels print that are each one grapheme one cell wide (no combining mark
/// can follow them in our own text): written a char per cell like ASCII. Besides these, box
/// drawing and block elements (U+2500–U+259F) and braille (U+2800–U+28FF): all one cell wide,
/// none an emoji or a combining mark (a test checks the width against ratatui's).
const ONE_CELL: [char; 16] = [
    'µ', '—', '≤', '≥', '±', '≈', '…', '→', '←', '·', '▶', '■', '•', '●', '▲', '▼',
];

fn one_cell(c: char) -> bool {
    c.is_ascii()
        || matches!(c, '\u{2500}'..='\u{259f}' | '\u{2800}'..='\u{28ff}')
        || ONE_CELL.contains(&c)
}

/// Writes `spans` one after another from `(x, y)`, at most `max` columns: the cells a
/// `Paragraph` of that one left-aligned, unstyled line leaves in an area `max` wide (each span
/// through [`put`]). Returns the columns used.
pub fn line_spans(buf: &mut Buffer, x: u16, y: u16, spans: &[Span], max: u16) -> u16 {
    let mut used = 0;
    for span in spans {
        if used >= max {
            break;
        }
        used += put(buf, x + used, y, &span.content, max - used, span.style);
    }
    used
}

/// Writes `lines` (left-aligned, unstyled lines of spans) a row each from the top of `area`, as
/// many as fit: the cells an unwrapped `Paragraph` of them leaves in `area`.
pub fn lines(buf: &mut Buffer, area: Rect, lines: &[Line]) {
    let area = area.intersection(buf.area);
    for (line, y) in lines.iter().zip(area.top()..area.bottom()) {
        debug_assert!(line.alignment.is_none() && line.style == Style::default());
        line_spans(buf, area.x, y, &line.spans, area.width);
    }
}

/// Draws `Block::default().borders(Borders::ALL)` with `top` as its title (a line of spans, left
/// aligned) and `bottom` as its bottom title (none when empty) into `area`, leaving the cells
/// exactly as ratatui's `Block` render leaves them; returns the inner area (`Block::inner`).
pub fn block(buf: &mut Buffer, area: Rect, top: &[Span], bottom: &[Span]) -> Rect {
    let inner = {
        let mut r = area;
        r.x = r.x.saturating_add(1).min(r.right());
        r.width = r.width.saturating_sub(2);
        r.y = r.y.saturating_add(1).min(r.bottom());
        r.height = r.height.saturating_sub(2);
        r
    };
    let a = area.intersection(buf.area);
    if a.is_empty() {
        return inner;
    }
    let (left, top_y) = (a.left(), a.top());
    let right = a.right().saturating_sub(1);
    let bottom_y = a.bottom().saturating_sub(1);
    // Sides, then corners over their ends: ratatui's order (borders replace what is there).
    for y in top_y..=bottom_y {
        buf[(left, y)].set_symbol("│");
    }
    let row = |buf: &mut Buffer, y: u16| {
        let i = buf.index_of(left, y);
        for c in &mut buf.content[i..=i + usize::from(right - left)] {
            c.set_symbol("─");
        }
    };
    row(buf, top_y);
    for y in top_y..=bottom_y {
        buf[(right, y)].set_symbol("│");
    }
    row(buf, bottom_y);
    buf[(right, bottom_y)].set_symbol("┘");
    buf[(right, top_y)].set_symbol("┐");
    buf[(left, bottom_y)].set_symbol("└");
    buf[(left, top_y)].set_symbol("┌");
    let width = a.width.saturating_sub(2);
    for (y, spans) in [(top_y, top), (bottom_y, bottom)] {
        if width == 0 || spans.is_empty() {
            continue;
        }
        let right = left + 1 + width;
        let mut x = left + 1;
        for span in spans {
            if x >= right {
                break;
            }
            put(buf, x, y, &span.content, right - x, span.style);
            // The next span starts after this one's whole width, as `Line` places spans.
            x = x.saturating_add(u16::try_from(span.width()).unwrap_or(u16::MAX));
        }
    }
    inner
}

/// Writes `n` cells of `symbol` (one column wide) from `(x, y)`, clipped to the buffer;
/// returns the columns used.
pub fn repeat(buf: &mut Buffer, x: u16, y: u16, symbol: &str, n: u16, style: Style) -> u16 {
    let area = buf.area;
    if y < area.top() || y >= area.bottom() || x < area.left() {
        return 0;
    }
    let right = area.right().min(x.saturating_add(n));
    if right <= x {
        return 0;
    }
    let start = buf.index_of(x, y);
    for cell in &mut buf.content[start..start + usize::from(right - x)] {
        cell.set_symbol(symbol).set_style(style);
    }
    right - x
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
            "⣀⡇ ─┌┘ ░▕▏▇",
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

    /// A line of spans written by [`line_spans`] is the Paragraph's line, cut or not; lines of
    /// them are the Paragraph's lines.
    #[test]
    fn line_matches_a_paragraph() {
        let red = Style::default().fg(Color::Red);
        let spans = [
            Span::styled(" 23:54:13 ", red),
            Span::raw("▕"),
            Span::styled("███", Style::default().fg(Color::Blue)),
            Span::styled("░░░░", red),
            Span::raw("▏ +28.2s · end"),
        ];
        for w in [0, 1, 5, 12, 18, 30] {
            let area = Rect::new(1, 1, w, 1);
            let mut want = Buffer::empty(Rect::new(0, 0, 32, 3));
            Paragraph::new(Line::from(spans.to_vec())).render(area, &mut want);
            let mut got = Buffer::empty(Rect::new(0, 0, 32, 3));
            line_spans(&mut got, 1, 1, &spans, w);
            assert_eq!(got, want, "{w}");
        }
        let text = vec![
            Line::from(spans.to_vec()),
            Line::from(""),
            Line::from(Span::styled("third · ≈", red)),
            Line::from("fourth, not shown"),
        ];
        for area in [
            Rect::new(1, 0, 20, 3),
            Rect::new(0, 1, 7, 2),
            Rect::new(2, 2, 0, 1),
        ] {
            let mut want = Buffer::empty(Rect::new(0, 0, 32, 3));
            Paragraph::new(text.clone()).render(area, &mut want);
            let mut got = Buffer::empty(Rect::new(0, 0, 32, 3));
            lines(&mut got, area, &text);
            assert_eq!(got, want, "{area:?}");
        }
    }

    /// The characters written a char per cell are one cell wide by ratatui's measure.
    #[test]
    fn one_cell_characters_are_one_cell_wide() {
        let all = ('\u{2500}'..='\u{259f}')
            .chain('\u{2800}'..='\u{28ff}')
            .chain(ONE_CELL);
        for c in all {
            assert_eq!(
                Line::from(c.to_string()).width(),
                1,
                "{c:?} U+{:04X}",
                c as u32
            );
        }
    }

    /// The fast block is ratatui's: borders, titles cut at the border, titles of several spans,
    /// wide characters, areas too small for a title or partly off the buffer.
    #[test]
    fn block_matches_ratatui_block() {
        use ratatui::widgets::{Block, Borders};
        let red = Style::default().fg(Color::Red);
        let blue = Style::default().fg(Color::Blue).bg(Color::Black);
        let titles: [&[Span]; 5] = [
            &[],
            &[Span::styled(" Price · mid ⣀ microprice ", red)],
            &[
                Span::styled(" Heat ", red),
                Span::styled("●", blue),
                Span::raw(" x "),
            ],
            &[Span::styled(" 漢字 wide ", blue)],
            &[Span::raw(""), Span::styled(" after empty ", red)],
        ];
        let areas = [
            Rect::new(0, 0, 20, 6),
            Rect::new(3, 2, 9, 3),
            Rect::new(1, 1, 2, 2),
            Rect::new(0, 0, 1, 1),
            Rect::new(5, 1, 30, 4),
            Rect::new(2, 3, 0, 2),
        ];
        for area in areas {
            for top in titles {
                for bottom in [titles[0], titles[2], titles[3]] {
                    let screen = Rect::new(0, 0, 24, 6);
                    let mut want = Buffer::filled(screen, ratatui::buffer::Cell::new("x"));
                    let mut got = want.clone();
                    let mut b = Block::default().borders(Borders::ALL);
                    if !top.is_empty() {
                        b = b.title(Line::from(top.to_vec()));
                    }
                    if !bottom.is_empty() {
                        b = b.title_bottom(Line::from(bottom.to_vec()));
                    }
                    let inner = b.inner(area);
                    b.render(area, &mut want);
                    assert_eq!(block(&mut got, area, top, bottom), inner, "{area:?}");
                    assert_eq!(got, want, "{area:?} {top:?} {bottom:?}");
                }
            }
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
