//! The depth ladder: asks above, bids below, the spread row between; price, quantity,
//! cumulative quantity and a depth bar per row; rows grouped by k ticks (zoom, bucketed by
//! [`crate::ui::depth`] once per frame and kept in the UI state); rows whose quantity changed
//! since the last view flash (liquidity stacked or pulled).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Paragraph};

use super::fmt;
pub use crate::ui::depth::{Row, bucket_rows};
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use microstate_core::view::SymbolView;

pub fn render(f: &mut Frame, area: Rect, s: Option<&SymbolView>, ui: &UiState, theme: &Theme) {
    let zoom = ui.ticks_per_row();
    let title = match s {
        Some(s) => format!(
            " Depth {} · {} tick{} ",
            s.symbol,
            zoom,
            if zoom == 1 { "" } else { "s" }
        ),
        None => " Depth ".into(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(s) = s else {
        f.render_widget(Paragraph::new("no symbol yet").style(theme.dim), inner);
        return;
    };
    if s.bids.is_empty() && s.asks.is_empty() {
        let why = format!("book {}: waiting for a snapshot", s.phase.as_str());
        f.render_widget(Paragraph::new(why).style(theme.warn), inner);
        return;
    }
    let rows = ui.ladder_rows(s, zoom);
    let asks: Vec<&Row> = rows.iter().filter(|r| !r.bid).collect();
    let bids: Vec<&Row> = rows.iter().filter(|r| r.bid).collect();
    // Rows for asks above the spread row and bids below it: half each, moved by the wheel
    // ([`UiState::ladder_scroll`]) towards deeper asks or bids; the spread row stays on screen.
    let h = inner.height as usize;
    let half = h.saturating_sub(1) / 2;
    let up =
        (half as i64 + i64::from(ui.ladder_scroll)).clamp(0, h.saturating_sub(1) as i64) as usize;
    let down = (half as i64 - i64::from(ui.ladder_scroll)).clamp(0, h.saturating_sub(1 + up) as i64)
        as usize;
    let dec = fmt::decimals_for(s.tick.map(|t| t * f64::from(zoom)));
    let w = inner.width as usize;
    // Columns: price | qty | cumulative | bar
    let pw = rows
        .iter()
        .map(|r| fmt::price(r.price, dec).len())
        .max()
        .unwrap_or(8)
        .max(8);
    let bar_w = w.saturating_sub(pw + 9 + 9 + 3);
    let shown_max = asks
        .iter()
        .take(up)
        .chain(bids.iter().take(down))
        .map(|r| r.qty)
        .fold(0.0f64, f64::max);
    // Rows are written straight into the buffer: a Paragraph of spans costs several times more
    // (line composition, wrapping checks) for text that is plain ASCII columns.
    let buf = f.buffer_mut();
    let x0 = inner.x;
    let mut y = inner.y;
    let bottom = inner.y + inner.height;
    let row = |buf: &mut ratatui::buffer::Buffer, y: u16, r: &Row, cum: f64, side: Style| {
        let bar_len = if shown_max > 0.0 {
            ((r.qty / shown_max) * bar_w as f64).round() as usize
        } else {
            0
        };
        let qstyle = match ui.deltas.get(&r.key) {
            Some(d) if *d > 0.0 => theme.grew,
            Some(_) => theme.shrank,
            None => theme.text,
        };
        let mut x = x0;
        let price = format!("{:>pw$} ", fmt::price(r.price, dec));
        buf.set_string(x, y, &price, side);
        x += price.len() as u16;
        let q = format!("{:>8}", fmt::qty(r.qty));
        buf.set_string(x, y, &q, qstyle);
        x += q.len() as u16;
        let c = format!(" {:>8} ", fmt::qty(cum));
        buf.set_string(x, y, &c, theme.dim);
        x += c.len() as u16;
        for k in 0..bar_len.min(bar_w) as u16 {
            if let Some(cell) = buf.cell_mut((x + k, y)) {
                cell.set_char('█').set_style(side);
            }
        }
    };
    // Asks: best at the bottom, next to the spread row.
    let shown_asks: Vec<(&Row, f64)> = asks
        .iter()
        .take(up)
        .scan(0.0, |cum, r| {
            *cum += r.qty;
            Some((*r, *cum))
        })
        .collect();
    y += (up - shown_asks.len()) as u16;
    for (r, cum) in shown_asks.iter().rev() {
        row(buf, y, r, *cum, theme.ask);
        y += 1;
    }
    let spread = spread_row(s, dec, w);
    if y < bottom {
        buf.set_stringn(x0, y, format!("{spread:^w$}"), w, theme.accent);
        y += 1;
    }
    let mut cum = 0.0;
    for r in bids.iter().take(down) {
        if y >= bottom {
            break;
        }
        cum += r.qty;
        row(buf, y, r, cum, theme.bid);
        y += 1;
    }
}

/// The spread row, as long as fits in `w` columns: spread, ticks, microprice and its distance
/// from the mid; then without the distance; then the spread and ticks alone — a number is
/// dropped whole rather than cut.
pub fn spread_row(s: &SymbolView, dec: usize, w: usize) -> String {
    let (Some(sp), Some(mp), Some(mid)) = (s.spread, s.microprice, s.mid) else {
        return "spread —".into();
    };
    let ticks = s
        .tick
        .map_or(String::new(), |t| format!(" ({:.0} t)", sp / t));
    let spread = format!("spread {}{ticks}", fmt::price(sp, dec.max(2)));
    let micro = fmt::price(mp, dec + 2);
    [
        format!("{spread} · micro {micro} ({:+.1e})", mp - mid),
        format!("{spread} · micro {micro}"),
        spread,
    ]
    .into_iter()
    .find(|t| t.chars().count() <= w)
    .unwrap_or_default()
}
