//! The symbols table: every subscribed symbol with mid, spread, imbalance, models, sync state.
//! On narrow terminals columns give way by priority ([`shown`]), so the numbers keep their
//! width (a mid is never cut to "61855", an age never to "84.7m");
//! scrolled to keep the selected one in view when there are more than fit (`Symbols 5–8 of 100`).
//! Rows come in the table's order ([`crate::ui::sort`], `o`/`O`), the sort column marked ▲/▼
//! in the header; only the rows that fit are formatted.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use super::{cells, fmt, sync_label};
use crate::ui::sort::SortBy;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use microstate_core::view::{ModelView, View};

/// Width from which the pressure and context columns are shown.
pub const MODELS_FROM: u16 = 100;

/// Columns (by index: mark, symbol, state, mid, spread, imb L1, pressure, context, gaps, age)
/// shown at `width`: below [`MODELS_FROM`] the model columns give way, below 80 the spread,
/// below 70 the imbalance — never a number cut short.
fn shown(i: usize, width: u16) -> bool {
    match i {
        6 | 7 => width >= MODELS_FROM,
        4 => width >= 80,
        5 => width >= 70,
        _ => true,
    }
}

/// Keeps the columns [`shown`] at `width`.
fn cols<T>(v: Vec<T>, width: u16) -> Vec<T> {
    v.into_iter()
        .enumerate()
        .filter(|(i, _)| shown(*i, width))
        .map(|(_, x)| x)
        .collect()
}

/// The column widths, in column order (before [`cols`]).
const WIDTHS: [u16; 10] = [1, 14, 10, 13, 11, 7, 9, 9, 5, 8];
const HEADER: [&str; 10] = [
    "", "symbol", "state", "mid", "spread", "imb L1", "pressure", "context", "gaps", "age",
];

/// Header cells, the sort column marked (`mid ▼`).
fn header_cells(sort: SortBy, desc: bool) -> Vec<String> {
    let arrow = if desc { "▼" } else { "▲" };
    let col = match sort {
        SortBy::Session => None,
        SortBy::Symbol => Some(1),
        SortBy::State => Some(2),
        SortBy::Mid => Some(3),
        SortBy::Spread => Some(4),
        SortBy::Imbalance => Some(5),
        SortBy::Gaps => Some(8),
        SortBy::Age => Some(9),
    };
    HEADER
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if Some(i) == col {
                format!("{h} {arrow}")
            } else {
                (*h).to_string()
            }
        })
        .collect()
}

/// One row's cells: text and the style of its span (`None`: unstyled).
type RowCells = Vec<(String, Option<Style>)>;

/// Draws the table; returns the line of its first data row and the symbol (index into
/// `View::symbols`) on each data row, for the mouse.
pub fn render(
    f: &mut Frame,
    area: Rect,
    view: &View,
    ui: &UiState,
    theme: &Theme,
) -> (u16, Vec<usize>) {
    let wide = area.width;
    let selected = ui.symbol_index(view);
    let header = header_cells(ui.sort, ui.sort_desc);
    let order = ui.table_order(view);
    // Rows that fit (borders and header take 3); scrolled so the selected one is shown.
    let fit = (area.height as usize).saturating_sub(3).max(1);
    let pos = order.iter().position(|&i| i == selected).unwrap_or(0);
    let first = pos.saturating_sub(fit - 1);
    let shown_rows: Vec<usize> = order.iter().skip(first).take(fit).copied().collect();
    let rows: Vec<(RowCells, bool)> = shown_rows
        .iter()
        .filter_map(|&i| view.symbols.get(i).map(|s| (i, s)))
        .map(|(i, s)| (cells_of(view, i, s, selected, theme), i == selected))
        .collect();
    let sorted = match ui.sort {
        SortBy::Session if !ui.sort_desc => String::new(),
        by => format!(
            " · by {} {}",
            by.label(),
            if ui.sort_desc { "▼" } else { "▲" }
        ),
    };
    let title = Span::styled(
        if view.symbols.len() > fit {
            format!(
                " Symbols {}–{} of {}{sorted} ",
                first + 1,
                (first + fit).min(view.symbols.len()),
                view.symbols.len()
            )
        } else {
            format!(" Symbols{sorted} ")
        },
        theme.title,
    );
    let block = Block::default().borders(Borders::ALL).title(title.clone());
    // Below the top border and the header.
    let hits = (area.y + 2, shown_rows);
    let inner = block.inner(area);
    let widths: Vec<Constraint> = cols(WIDTHS.map(Constraint::Length).to_vec(), wide);
    let needed: u16 =
        cols(WIDTHS.to_vec(), wide).iter().sum::<u16>() + (widths.len() as u16).saturating_sub(1);
    if inner.width >= needed && inner.height >= 1 {
        // Every column at its width: written straight into the buffer where the Table would
        // put it (start-aligned, one space apart), without its grapheme-by-grapheme text
        // rendering (`table_and_direct_writes_agree` holds the two equal).
        // The border too (`cells::block`: the cells ratatui's `Block` leaves, cheaper).
        cells::block(f.buffer_mut(), area, &[title], &[]);
        direct(f.buffer_mut(), inner, &widths, &header, &rows, wide, theme);
        return hits;
    }
    f.render_widget(table(&header, rows, widths, wide, theme).block(block), area);
    hits
}

/// The texts of one symbol's row, all ten columns.
fn cells_of(
    view: &View,
    i: usize,
    s: &microstate_core::view::SymbolView,
    selected: usize,
    theme: &Theme,
) -> RowCells {
    let (state, style) = sync_label(s, theme);
    let dec = fmt::decimals_or_from_price(s.tick, s.mid.unwrap_or(0.0));
    let age = if s.last_depth_recv_ns == 0 {
        "—".to_string()
    } else {
        fmt::ago(view.now_ns.saturating_sub(s.last_depth_recv_ns))
    };
    let label = |m: &ModelView<String>| match m {
        ModelView::Ready(x) => x.clone(),
        ModelView::Missing(_) => "—".into(),
    };
    let pressure = match &s.pressure {
        ModelView::Ready(p) => p.label.clone(),
        ModelView::Missing(w) => label(&ModelView::Missing(w.clone())),
    };
    let context = match &s.context {
        ModelView::Ready(c) => c.label.clone(),
        ModelView::Missing(w) => label(&ModelView::Missing(w.clone())),
    };
    let mark = if i == selected { "▶" } else { " " };
    vec![
        (mark.to_string(), None),
        (format!("{} {}", i + 1, s.symbol), None),
        (state, Some(style)),
        (s.mid.map_or("—".into(), |m| fmt::price(m, dec + 1)), None),
        (s.spread.map_or("—".into(), |m| fmt::price(m, dec)), None),
        (s.imbalance[0].map_or("—".into(), fmt::signed), None),
        (pressure, None),
        (context, None),
        (s.gaps.to_string(), None),
        (age, None),
    ]
}

/// The same rows as a ratatui Table (narrow terminals, where columns must shrink).
fn table<'a>(
    header: &[String],
    rows: Vec<(RowCells, bool)>,
    widths: Vec<Constraint>,
    wide: u16,
    theme: &Theme,
) -> Table<'a> {
    let header = Row::new(cols(header.to_vec(), wide)).style(theme.dim);
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|(cells, sel)| {
            let row = Row::new(cols(
                cells
                    .into_iter()
                    .map(|(t, st)| match st {
                        Some(st) => Cell::from(Span::styled(t, st)),
                        None => Cell::from(t),
                    })
                    .collect(),
                wide,
            ));
            if sel { row.style(theme.accent) } else { row }
        })
        .collect();
    Table::new(rows, widths).header(header)
}

/// Writes the header and rows at the Table's column places (`inner`: inside the block).
fn direct(
    buf: &mut Buffer,
    inner: Rect,
    widths: &[Constraint],
    header: &[String],
    rows: &[(RowCells, bool)],
    wide: u16,
    theme: &Theme,
) {
    let places = Layout::horizontal(widths.iter().copied())
        .flex(Flex::Start)
        .spacing(1)
        .split(Rect::new(inner.x, 0, inner.width, 1));
    let line = |y: u16| Rect::new(inner.x, y, inner.width, 1);
    buf.set_style(line(inner.y), theme.dim);
    let header = header.iter().enumerate().filter(|(i, _)| shown(*i, wide));
    for (place, (_, h)) in places.iter().zip(header) {
        cells::put(buf, place.x, inner.y, h, place.width, Style::default());
    }
    for (k, (cells_, sel)) in rows.iter().enumerate() {
        let y = inner.y + 1 + k as u16;
        if y >= inner.bottom() {
            break;
        }
        if *sel {
            buf.set_style(line(y), theme.accent);
        }
        let shown_cells = cells_.iter().enumerate().filter(|(i, _)| shown(*i, wide));
        for (place, (_, (text, style))) in places.iter().zip(shown_cells) {
            cells::put(
                buf,
                place.x,
                y,
                text,
                place.width,
                style.unwrap_or_default(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::widgets::Widget;

    /// The direct writes leave the buffer exactly as the Table does, at every width where
    /// they are used (a real view's rows, one selected).
    #[test]
    fn table_and_direct_writes_agree() {
        let theme = Theme::new(&Default::default(), false);
        let excerpt = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("assets/demo/btcusdt_20240808-excerpt.gz");
        let mut p = microstate_drive::replay::Player::open(
            &[excerpt],
            microstate_drive::replay::PlayerOptions::default(),
        )
        .expect("open");
        while p.status().fed < 3_000 {
            if p.poll(0).expect("poll") == microstate_drive::replay::Poll::Done {
                break;
            }
        }
        let mut view = microstate_drive::replay::replay_view(&p);
        let s0 = view.symbols[0].clone();
        for (k, name) in [&b"ETHUSDT"[..], b"SOLUSDT"].iter().enumerate() {
            let mut s = s0.clone();
            s.symbol = microstate_core::num::Symbol::new(name).expect("symbol");
            s.gaps = k as u64 + 1;
            view.symbols.push(s);
        }
        for w in [60u16, 70, 80, 99, 100, 120, 200] {
            for height in [5u16, 9] {
                let area = Rect::new(0, 0, w, height);
                let wide = area.width;
                let fit = (area.height as usize).saturating_sub(3).max(1);
                let rows: Vec<(RowCells, bool)> = view
                    .symbols
                    .iter()
                    .enumerate()
                    .take(fit)
                    .map(|(i, s)| (cells_of(&view, i, s, 1, &theme), i == 1))
                    .collect();
                let block = || Block::default().borders(Borders::ALL);
                let header = header_cells(SortBy::Mid, true);
                let widths: Vec<Constraint> = cols(WIDTHS.map(Constraint::Length).to_vec(), wide);
                let mut want = Buffer::empty(area);
                Widget::render(
                    table(&header, rows.clone(), widths.clone(), wide, &theme).block(block()),
                    area,
                    &mut want,
                );
                let mut got = Buffer::empty(area);
                Widget::render(block(), area, &mut got);
                direct(
                    &mut got,
                    block().inner(area),
                    &widths,
                    &header,
                    &rows,
                    wide,
                    &theme,
                );
                let needed: u16 = cols(WIDTHS.to_vec(), wide).iter().sum::<u16>()
                    + (widths.len() as u16).saturating_sub(1);
                if w - 2 >= needed {
                    assert_eq!(got, want, "{w}x{height}");
                }
            }
        }
    }
}
