//! The depth ladder: asks above, bids below, the spread row between; price, quantity,
//! cumulative quantity and a depth bar per row; rows grouped by k ticks (zoom, bucketed by
//! [`crate::ui::depth`] once per frame and kept in the UI state); rows whose quantity changed
//! since the last view flash (liquidity stacked or pulled). Options (`[ui.ladder]`, `d`, `$`): a
//! contiguous ladder (every bucket in range, empty ones included, as a DOM), sizes as quote
//! notional, at most N rows a side. The rows' text is built once per view, zoom and size, and
//! kept in the UI state's ladder cache: an unchanged view draws without formatting.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use super::{cells, fmt};
pub use crate::ui::depth::{Row, bucket_rows};
use crate::ui::state::{LadderCache, LadderKey, LadderLine, LineSide, RowsKey, UiState};
use crate::ui::theme::Theme;
use microstate_core::view::SymbolView;

/// The rows the ladder shows a side: what fits, at most `[ui.ladder] levels` (0: no limit).
pub fn rows_per_side(height: u16, levels: usize) -> usize {
    let fit = (height as usize).saturating_sub(1) / 2;
    if levels > 0 { fit.min(levels) } else { fit }
}

/// Rows for asks above the spread row and bids below it: [`rows_per_side`] each, moved by the
/// mouse wheel (`scroll`, [`UiState::ladder_scroll`]) towards deeper asks (positive) or deeper
/// bids (negative); the spread row stays on screen.
pub fn rows_up_down(height: u16, levels: usize, scroll: i32) -> (usize, usize) {
    let per_side = rows_per_side(height, levels);
    if scroll == 0 {
        return (per_side, per_side);
    }
    let room = (height as usize).saturating_sub(1) as i64;
    let up = (per_side as i64 + i64::from(scroll)).clamp(0, room);
    let down = (per_side as i64 - i64::from(scroll)).clamp(0, room - up);
    (up as usize, down as usize)
}

/// Fills `cache` with the ladder's text for `s` (unless it holds it for `key` already).
#[allow(clippy::too_many_arguments)]
fn fill(cache: &mut LadderCache, key: LadderKey, s: &SymbolView, ui: &UiState, w: usize) {
    if cache.key == Some(key) {
        return;
    }
    let zoom = key.rows.ticks;
    let (up, down) = (key.up, key.down);
    let book_rows = ui.ladder_rows(s, zoom);
    let contiguous;
    let rows: &[Row] = if key.options.contiguous {
        contiguous = crate::ui::depth::contiguous_rows(s, zoom, &book_rows, up.max(down));
        &contiguous
    } else {
        &book_rows
    };
    let dec =
        fmt::decimals_or_from_price(s.tick.map(|t| t * f64::from(zoom)), s.mid.unwrap_or(0.0));
    let quote = key.options.quote;
    let size = |r: &Row| if quote { r.qty * r.price } else { r.qty };
    let side_rows = |bid: bool| {
        rows.iter()
            .filter(move |r| r.bid == bid)
            .take(if bid { down } else { up })
    };
    let shown_max = side_rows(false)
        .chain(side_rows(true))
        .map(size)
        .fold(0.0f64, f64::max);
    let pw = side_rows(false)
        .chain(side_rows(true))
        .map(|r| fmt::price(r.price, dec).len())
        .max()
        .unwrap_or(8)
        .max(8);
    let bar_w = w.saturating_sub(pw + 9 + 9 + 3);
    let line = |r: &Row, cum: f64| {
        let q = size(r);
        LadderLine {
            price: format!("{:>pw$} ", fmt::price(r.price, dec)),
            qty: if q > 0.0 {
                format!("{:>8}", fmt::qty(q))
            } else {
                format!("{:>8}", "")
            },
            cum: format!(" {:>8} ", fmt::qty(cum)),
            bar: if shown_max > 0.0 {
                ((q / shown_max) * bar_w as f64).round().min(bar_w as f64) as u16
            } else {
                0
            },
            side: if r.bid { LineSide::Bid } else { LineSide::Ask },
            flash: match ui.deltas.get(&r.key) {
                Some(d) if *d > 0.0 => 1,
                Some(_) => -1,
                None => 0,
            },
            empty: q <= 0.0,
        }
    };
    let mut cum = 0.0;
    let mut asks: Vec<LadderLine> = side_rows(false)
        .map(|r| {
            cum += size(r);
            line(r, cum)
        })
        .collect();
    // Best ask at the bottom, next to the spread row.
    asks.reverse();
    let mut cum = 0.0;
    cache.bids = side_rows(true)
        .map(|r| {
            cum += size(r);
            line(r, cum)
        })
        .collect();
    cache.asks = asks;
    cache.spread = format!("{:^w$}", spread_row(s, dec, w));
    cache.price_w = pw;
    cache.key = Some(key);
    cache.fills += 1;
}

pub fn render(f: &mut Frame, area: Rect, s: Option<&SymbolView>, ui: &UiState, theme: &Theme) {
    let zoom = ui.ticks_per_row();
    let opts = ui.ladder;
    let title = match s {
        Some(s) => format!(
            " Depth {} · {} tick{}{}{} ",
            s.symbol,
            zoom,
            if zoom == 1 { "" } else { "s" },
            if opts.contiguous { " · DOM" } else { "" },
            if opts.quote { " · quote" } else { "" },
        ),
        None => " Depth ".into(),
    };
    let inner = cells::block(
        f.buffer_mut(),
        area,
        &[Span::styled(title, theme.title)],
        &[],
    );
    let Some(s) = s else {
        f.render_widget(Paragraph::new("no symbol yet").style(theme.dim), inner);
        return;
    };
    if s.bids.is_empty() && s.asks.is_empty() {
        let why = format!("book {}: waiting for a snapshot", s.phase.as_str());
        f.render_widget(Paragraph::new(why).style(theme.warn), inner);
        return;
    }
    let (up, down) = rows_up_down(inner.height, opts.levels, ui.ladder_scroll);
    let w = inner.width as usize;
    let key = LadderKey {
        rows: RowsKey::of(s, zoom),
        options: opts,
        up,
        down,
        width: inner.width,
        flash_gen: ui.flash_gen,
    };
    let mut cache = ui.ladder_cache.borrow_mut();
    fill(&mut cache, key, s, ui, w);
    // Rows are written straight into the buffer from the cached text (`cells::put`, a char per
    // cell): a Paragraph of spans, or `set_stringn`, segments every row into graphemes.
    let buf = f.buffer_mut();
    let x0 = inner.x;
    let bottom = inner.y + inner.height;
    let draw = |buf: &mut ratatui::buffer::Buffer, y: u16, l: &LadderLine| {
        let side = match l.side {
            LineSide::Ask => theme.ask,
            LineSide::Bid => theme.bid,
        };
        let qstyle = match l.flash {
            1 => theme.grew,
            -1 => theme.shrank,
            _ => theme.text,
        };
        let mut x = x0;
        let (price_style, cum_style) = if l.empty {
            (theme.dim, theme.dim)
        } else {
            (side, theme.dim)
        };
        let room = |x: u16| (w as u16).saturating_sub(x - x0);
        cells::put(buf, x, y, &l.price, room(x), price_style);
        x += l.price.len() as u16;
        cells::put(buf, x, y, &l.qty, room(x), qstyle);
        x += l.qty.len() as u16;
        cells::put(buf, x, y, &l.cum, room(x), cum_style);
        x += l.cum.len() as u16;
        for k in 0..l.bar {
            if let Some(cell) = buf.cell_mut((x + k, y)) {
                cell.set_char('█').set_style(side);
            }
        }
    };
    let mut y = inner.y + (up.saturating_sub(cache.asks.len())) as u16;
    for l in &cache.asks {
        draw(buf, y, l);
        y += 1;
    }
    if y < bottom {
        cells::put(buf, x0, y, &cache.spread, w as u16, theme.accent);
        y += 1;
    }
    for l in &cache.bids {
        if y >= bottom {
            break;
        }
        draw(buf, y, l);
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
