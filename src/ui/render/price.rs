//! The price panel: mid and microprice over the recent minutes, trades marked by side.
//!
//! Drawn straight into the buffer rather than through ratatui's `Chart`: the chart widget builds
//! a `Canvas` with a fresh grid per dataset, a `Vec` of layer cells per dataset and one closure
//! call per point, and wants the series as owned `Vec`s — together most of a frame's price-panel
//! cost. Here the series are read straight off the history into a [`PriceGrid`] reused from frame
//! to frame ([`crate::ui::chart`]: the window, the scale, the dots), and the cells come out
//! exactly as `Chart` leaves them: the same layout of axes and labels, the same point mapping
//! (`Painter::get_point`), the same line rasterisation (`canvas::line`), the same layering (a
//! later dataset's cell replaces an earlier one's). A test draws both and compares the buffers,
//! styles included.
//!
//! Owns: the panel's layout, labels, axes and cells. Must not touch: the history (it only reads
//! it), clocks (`now_ns` is the view's).

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use super::{cells, fmt};
pub use crate::ui::chart::{MIN_WINDOW_S, WINDOW_S, window_s};
use crate::ui::chart::{PriceGrid, Scale, max_age_ns, step, visible};
use crate::ui::theme::Theme;
use microstate_core::view::SymbolView;

/// The panel's title (also the legend).
const TITLE: &str = " Price · mid ⣀ microprice · trades • buy/sell ";

/// The price axis' labels, evenly spaced from `lo` to `hi`: about one per three rows of a panel
/// `height` rows tall, between 2 (min and max) and 9.
pub fn y_labels(lo: f64, hi: f64, dec: usize, height: u16) -> Vec<String> {
    let n = (usize::from(height.saturating_sub(3)) / 3).clamp(2, 9);
    (0..n)
        .map(|i| fmt::price(lo + (hi - lo) * i as f64 / (n - 1) as f64, dec))
        .collect()
}

/// Where a chart with x labels and y labels puts its parts inside the block (as ratatui's
/// `Chart::layout`, with no axis titles and no legend).
#[derive(Clone, Copy, Debug, PartialEq)]
struct ChartLayout {
    label_x: Option<u16>,
    label_y: Option<u16>,
    axis_x: Option<u16>,
    axis_y: Option<u16>,
    graph: Rect,
}

fn layout(area: Rect, y_label_w: u16, first_x_label_w: u16) -> Option<ChartLayout> {
    if area.height == 0 || area.width == 0 {
        return None;
    }
    let mut x = area.left();
    let mut y = area.bottom() - 1;
    let mut label_x = None;
    if y > area.top() {
        label_x = Some(y);
        y -= 1;
    }
    let label_y = Some(x);
    // The first x label is left-aligned: its last character below the y axis.
    x += y_label_w
        .max(first_x_label_w.saturating_sub(1))
        .min(area.width / 3);
    let mut axis_x = None;
    if y > area.top() {
        axis_x = Some(y);
        y -= 1;
    }
    let mut axis_y = None;
    if x + 1 < area.right() {
        axis_y = Some(x);
        x += 1;
    }
    let graph = Rect::new(
        x,
        area.top(),
        area.right().saturating_sub(x),
        y.saturating_sub(area.top()).saturating_add(1),
    );
    Some(ChartLayout {
        label_x,
        label_y,
        axis_x,
        axis_y,
        graph,
    })
}

/// Writes an unstyled label into `area` (one row) as a `Line` with that alignment renders:
/// cut at the right when left-aligned, at the left when right-aligned, both sides centred.
fn label(buf: &mut Buffer, area: Rect, text: &str, align: Alignment) {
    if !text.is_ascii() {
        Line::from(text).alignment(align).render(area, buf);
        return;
    }
    let area = area.intersection(buf.area);
    let (lw, aw) = (text.len(), usize::from(area.width));
    if area.is_empty() || lw == 0 {
        return;
    }
    let (indent, skip) = if lw <= aw {
        let free = aw - lw;
        match align {
            Alignment::Center => (free / 2, 0),
            Alignment::Right => (free, 0),
            Alignment::Left => (0, 0),
        }
    } else {
        let over = lw - aw;
        match align {
            Alignment::Center => (0, over / 2),
            Alignment::Right => (0, over),
            Alignment::Left => (0, 0),
        }
    };
    let indent = indent as u16;
    cells::put(
        buf,
        area.x + indent,
        area.y,
        &text[skip..],
        area.width - indent,
        Style::default(),
    );
}

pub fn render(
    f: &mut Frame,
    area: Rect,
    s: Option<&SymbolView>,
    now_ns: u64,
    theme: &Theme,
    grid: &mut PriceGrid,
) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(TITLE, theme.title));
    let Some(s) = s else {
        f.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let vis = visible(s, now_ns);
    let Some((lo, hi)) = vis.range else {
        f.render_widget(
            Paragraph::new("no prices yet (the book is not synced)")
                .style(theme.dim)
                .block(block),
            area,
        );
        return;
    };
    let pad = ((hi - lo) * 0.05).max(s.tick.unwrap_or(0.01));
    let (lo, hi) = (lo - pad, hi + pad);
    let dec = fmt::decimals_for(s.tick);
    let w = vis.window_s;
    let x_labels = [
        format!("-{:.0}s", w),
        format!("-{:.0}s", w / 2.0),
        "now".to_string(),
    ];
    let y_labels = y_labels(lo, hi, dec, area.height);
    let buf = f.buffer_mut();
    let inner = cells::block(buf, area, &[Span::styled(TITLE, theme.title)], &[]);
    let width = |t: &str| {
        if t.is_ascii() {
            t.len() as u16
        } else {
            Line::from(t).width() as u16
        }
    };
    let y_label_w = y_labels.iter().map(|l| width(l)).max().unwrap_or(0);
    let Some(lay) = layout(inner, y_label_w, width(&x_labels[0])) else {
        return;
    };
    let graph = lay.graph;

    // The x labels: the first right-aligned left of the y axis, the middle ones centred in
    // their slot, the last right-aligned at the right edge (ratatui's `render_x_labels`).
    if let Some(y) = lay.label_x {
        let between = graph.width / 3;
        let first = Rect::new(inner.left(), y, graph.left() - inner.left(), 1);
        label(buf, first, &x_labels[0], Alignment::Right);
        let mid = Rect::new(graph.left() + between + 1, y, between.saturating_sub(1), 1);
        label(buf, mid, &x_labels[1], Alignment::Center);
        let last = Rect::new(graph.right() - between, y, between, 1);
        label(buf, last, &x_labels[2], Alignment::Right);
    }
    if let Some(x) = lay.label_y {
        let n = y_labels.len() as u16;
        for (i, l) in y_labels.iter().enumerate() {
            let dy = i as u16 * (graph.height - 1) / (n - 1);
            if dy < graph.bottom() {
                let r = Rect::new(
                    x,
                    graph.bottom().saturating_sub(1) - dy,
                    (graph.left() - inner.left()).saturating_sub(1),
                    1,
                );
                label(buf, r, l, Alignment::Left);
            }
        }
    }
    if let Some(y) = lay.axis_x {
        cells::repeat(buf, graph.left(), y, "─", graph.width, theme.dim);
    }
    if let Some(x) = lay.axis_y {
        for y in graph.top()..graph.bottom() {
            buf[(x, y)].set_symbol("│").set_style(theme.dim);
        }
    }
    if let (Some(y), Some(x)) = (lay.axis_x, lay.axis_y) {
        buf[(x, y)].set_symbol("└").set_style(theme.dim);
    }
    if graph.is_empty() {
        return;
    }

    // The plot: thinned to at most two points per braille dot column (`step`).
    let dots = (area.width as usize).saturating_sub(12).max(1) * 2 * 2;
    let scale = Scale {
        x: [-w, 0.0],
        y: [lo, hi],
    };
    let max_age = max_age_ns(w);
    let keep = |t: u64| now_ns.saturating_sub(t) <= max_age;
    let x = |t: u64| -((now_ns.saturating_sub(t)) as f64 / 1e9);
    let h = &s.history;
    grid.reset(graph.width, graph.height);
    let samples = h
        .samples
        .iter()
        .filter(|p| keep(p.t_ns))
        .step_by(step(vis.samples, dots))
        .map(|p| (x(p.t_ns), p.mid, p.microprice));
    grid.samples(&scale, samples);
    let trades = h
        .trades
        .iter()
        .filter(|t| keep(t.t_ns))
        .map(|t| (x(t.t_ns), t.price, t.buy));
    grid.trades(
        &scale,
        trades,
        (step(vis.buys, dots), step(vis.sells, dots)),
    );
    let fg = |st: Style| st.fg.unwrap_or(Color::Reset);
    let colors = [
        fg(theme.accent),
        fg(theme.dim),
        fg(theme.bid),
        fg(theme.ask),
    ];
    let gw = usize::from(graph.width);
    for row in 0..graph.height {
        let start = buf.index_of(graph.x, graph.y + row);
        let line = &mut buf.content[start..start + gw];
        for (col, cell) in line.iter_mut().enumerate() {
            // The canvas resets the background of its whole area.
            cell.set_bg(Color::Reset);
            if let Some((c, color)) = grid.cell(usize::from(row) * gw + col, &colors) {
                cell.set_char(c).set_fg(color);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::heat::tests_support;
    use microstate_core::engine::history::{History, Sample, TradeMark};
    use microstate_core::num::Price;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::symbols::Marker;
    use ratatui::widgets::{Axis, Chart, Dataset, GraphType};
    use std::sync::Arc;

    /// The panel as it was drawn through ratatui's `Chart` (the reference the direct drawing
    /// must match cell for cell).
    fn chart_render(f: &mut Frame, area: Rect, s: &SymbolView, now_ns: u64, theme: &Theme) {
        let block = Block::default()
            .borders(Borders::ALL)
            .title(Span::styled(TITLE, theme.title));
        let x = |t: u64| -((now_ns.saturating_sub(t)) as f64 / 1e9);
        let h = &s.history;
        let w = window_s(s, now_ns);
        let keep = |t: u64| (now_ns.saturating_sub(t) as f64) / 1e9 <= w;
        let mid: Vec<(f64, f64)> = h
            .samples
            .iter()
            .filter(|p| keep(p.t_ns))
            .map(|p| (x(p.t_ns), p.mid))
            .collect();
        let micro: Vec<(f64, f64)> = h
            .samples
            .iter()
            .filter(|p| keep(p.t_ns))
            .map(|p| (x(p.t_ns), p.microprice))
            .collect();
        let (mut buys, mut sells) = (Vec::new(), Vec::new());
        for t in h.trades.iter().filter(|t| keep(t.t_ns)) {
            if t.buy {
                buys.push((x(t.t_ns), t.price));
            } else {
                sells.push((x(t.t_ns), t.price));
            }
        }
        let range = mid
            .iter()
            .chain(&micro)
            .chain(&buys)
            .chain(&sells)
            .map(|p| p.1)
            .fold(None, |r: Option<(f64, f64)>, v| {
                Some(r.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
            });
        let dots = (area.width as usize).saturating_sub(12).max(1) * 2 * 2;
        let thin = |v: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
            let k = v.len().div_ceil(dots).max(1);
            v.into_iter().step_by(k).collect()
        };
        let (mid, micro, buys, sells) = (thin(mid), thin(micro), thin(buys), thin(sells));
        let (lo, hi) = range.expect("prices");
        let pad = ((hi - lo) * 0.05).max(s.tick.unwrap_or(0.01));
        let (lo, hi) = (lo - pad, hi + pad);
        let dec = fmt::decimals_for(s.tick);
        let dataset = |m: Marker, g: GraphType, st: Style, d| {
            Dataset::default().marker(m).graph_type(g).style(st).data(d)
        };
        let datasets = vec![
            dataset(Marker::Braille, GraphType::Line, theme.accent, &mid),
            dataset(Marker::Braille, GraphType::Scatter, theme.dim, &micro),
            dataset(Marker::Dot, GraphType::Scatter, theme.bid, &buys),
            dataset(Marker::Dot, GraphType::Scatter, theme.ask, &sells),
        ];
        let chart = Chart::new(datasets)
            .block(block)
            .x_axis(
                Axis::default()
                    .bounds([-w, 0.0])
                    .labels([
                        format!("-{:.0}s", w),
                        format!("-{:.0}s", w / 2.0),
                        "now".to_string(),
                    ])
                    .style(theme.dim),
            )
            .y_axis(
                Axis::default()
                    .bounds([lo, hi])
                    .labels(y_labels(lo, hi, dec, area.height))
                    .style(theme.dim),
            );
        f.render_widget(chart, area);
    }

    /// A symbol with `n` samples a quarter second apart (a wandering mid) and a trade every
    /// `every` samples, alternately bought and sold, ending at the returned `now`.
    fn walk(n: usize, every: usize, seed: u64) -> (SymbolView, u64) {
        let mut h = History::default();
        let mut r = seed;
        let mut next = || {
            r = r
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (r >> 33) as f64 / (1u64 << 31) as f64 - 0.5
        };
        let mut mid = 61_850.0;
        let t0 = 5_000_000_000u64;
        for i in 0..n {
            mid += next() * 3.0;
            let t = t0 + i as u64 * 250_000_000;
            h.samples.push_capped(
                2_000,
                Sample {
                    t_ns: t,
                    mid,
                    microprice: mid + next() * 0.8,
                },
            );
            if every > 0 && i.is_multiple_of(every) {
                h.trades.push_capped(
                    600,
                    TradeMark {
                        t_ns: t + 1,
                        price: mid + next() * 2.0,
                        qty: 0.1,
                        buy: (i / every).is_multiple_of(2),
                        trade_ms: 0,
                        price_exact: Price(0),
                    },
                );
            }
        }
        let now = t0 + n as u64 * 250_000_000;
        let s = SymbolView {
            history: Arc::new(h),
            ..tests_support::symbol()
        };
        (s, now)
    }

    fn draw(w: u16, h: u16, s: &SymbolView, now: u64, direct: bool) -> Buffer {
        let theme = Theme::new(&Default::default(), false);
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        let mut grid = PriceGrid::default();
        // The panel inside a wider screen, off its origin, as on the real screen.
        let area = Rect::new(3, 1, w - 4, h - 2);
        t.draw(|f| {
            if direct {
                render(f, area, Some(s), now, &theme, &mut grid);
            } else {
                chart_render(f, area, s, now, &theme);
            }
        })
        .expect("draw");
        t.backend().buffer().clone()
    }

    /// Cell for cell, styles included, the direct drawing is ratatui's `Chart`: short and long
    /// histories (the window clamped both ways, thinning on), sparse and dense trades, small and
    /// large panels.
    #[test]
    fn draws_what_ratatui_chart_draws() {
        let sizes = [(124, 42), (204, 62), (76, 26), (40, 12), (28, 10), (18, 7)];
        let histories = [
            (1, 1),
            (2, 0),
            (40, 3),
            (300, 2),
            (720, 1),
            (1_440, 1),
            (900, 7),
        ];
        for (seed, &(n, every)) in histories.iter().enumerate() {
            let (s, now) = walk(n, every, seed as u64 + 1);
            for &(w, h) in &sizes {
                let want = draw(w, h, &s, now, false);
                let got = draw(w, h, &s, now, true);
                assert_eq!(got, want, "{n} samples, trade every {every}, {w}×{h}");
            }
        }
    }

    /// A flat price (the range only the padding) and no tick: still ratatui's drawing.
    #[test]
    fn flat_price_without_tick_matches() {
        let (s, now) = walk(100, 5, 9);
        let mut h = (*s.history).clone();
        let mut flat = History::default();
        for p in h.samples.iter() {
            flat.samples.push_capped(
                2_000,
                Sample {
                    mid: 100.0,
                    microprice: 100.0,
                    ..*p
                },
            );
        }
        h = flat;
        let s = SymbolView {
            history: Arc::new(h),
            tick: None,
            ..s
        };
        assert_eq!(draw(80, 20, &s, now, true), draw(80, 20, &s, now, false));
    }

    #[test]
    fn price_axis_has_labels_between_min_and_max() {
        assert_eq!(y_labels(100.0, 101.0, 2, 8), ["100.00", "101.00"]);
        assert_eq!(
            y_labels(100.0, 101.0, 2, 18),
            ["100.00", "100.25", "100.50", "100.75", "101.00"]
        );
        assert_eq!(y_labels(100.0, 101.0, 2, 200).len(), 9);
    }
}
