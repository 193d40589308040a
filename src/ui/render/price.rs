//! The price panel: mid and microprice over the recent minutes, trades marked by side.
//!
//! Drawn straight into the buffer rather than through ratatui's `Chart`: the chart widget builds
//! a `Canvas` with a fresh grid per dataset, a `Vec` of layer cells per dataset and one closure
//! call per point, and wants the series as owned `Vec`s — together most of a frame's price-panel
//! cost. Here the series are read straight off the history into a [`PriceGrid`] reused from frame
//! to frame, and the cells come out exactly as `Chart` leaves them: the same layout of axes and
//! labels, the same point mapping (`Painter::get_point`), the same line rasterisation
//! (`canvas::line`), the same layering (a later dataset's cell replaces an earlier one's). A test
//! draws both and compares the buffers, styles included.
//!
//! Owns: the chart's series, scaling, rasterisation and cells. Must not touch: the history (it
//! only reads it), clocks (`now_ns` is the view's).

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::braille::BRAILLE;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use super::{cells, fmt};
use crate::ui::theme::Theme;
use microstate_core::view::SymbolView;

/// Most seconds of history shown; less while less history exists (at least `MIN_WINDOW_S`).
pub const WINDOW_S: f64 = 180.0;
pub const MIN_WINDOW_S: f64 = 20.0;

/// The panel's title (also the legend).
const TITLE: &str = " Price · mid ⣀ microprice · trades • buy/sell ";

/// The x span to show: the history's, within the bounds.
pub fn window_s(s: &SymbolView, now_ns: u64) -> f64 {
    let oldest = s.history.samples.front().map(|p| p.t_ns).unwrap_or(now_ns);
    (now_ns.saturating_sub(oldest) as f64 / 1e9).clamp(MIN_WINDOW_S, WINDOW_S)
}

/// The price axis' labels, evenly spaced from `lo` to `hi`: about one per three rows of a panel
/// `height` rows tall, between 2 (min and max) and 9.
pub fn y_labels(lo: f64, hi: f64, dec: usize, height: u16) -> Vec<String> {
    let n = (usize::from(height.saturating_sub(3)) / 3).clamp(2, 9);
    (0..n)
        .map(|i| fmt::price(lo + (hi - lo) * i as f64 / (n - 1) as f64, dec))
        .collect()
}

/// What of a symbol's history the chart shows: the window, how many samples and trades of
/// each side fall in it, and the price range that holds them all (before thinning).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Visible {
    /// Seconds shown (see [`window_s`]).
    pub window_s: f64,
    pub samples: usize,
    pub buys: usize,
    pub sells: usize,
    /// Lowest and highest mid, microprice or trade price shown; `None` when nothing is.
    pub range: Option<(f64, f64)>,
}

/// Counts what falls in the window and its price range, in one pass and without allocating.
pub fn visible(s: &SymbolView, now_ns: u64) -> Visible {
    let w = window_s(s, now_ns);
    let max_age = max_age_ns(w);
    let keep = |t: u64| now_ns.saturating_sub(t) <= max_age;
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut samples = 0;
    for p in s.history.samples.iter().filter(|p| keep(p.t_ns)) {
        samples += 1;
        lo = lo.min(p.mid).min(p.microprice);
        hi = hi.max(p.mid).max(p.microprice);
    }
    let (mut buys, mut sells) = (0, 0);
    for t in s.history.trades.iter().filter(|t| keep(t.t_ns)) {
        if t.buy {
            buys += 1;
        } else {
            sells += 1;
        }
        lo = lo.min(t.price);
        hi = hi.max(t.price);
    }
    Visible {
        window_s: w,
        samples,
        buys,
        sells,
        range: (samples + buys + sells > 0).then_some((lo, hi)),
    }
}

/// The oldest age (ns) shown in a window of `w` seconds: the largest `age` with
/// `age as f64 / 1e9 <= w`, the test the chart has always applied, found once (that test is
/// monotonic in `age`) instead of a float division per sample. `w` is at least
/// [`MIN_WINDOW_S`] here; were it negative, age 0 would still pass.
pub fn max_age_ns(w: f64) -> u64 {
    let shown = |age: u64| (age as f64) / 1e9 <= w;
    if !shown(0) {
        return 0;
    }
    let (mut lo, mut hi) = (0u64, u64::MAX);
    if shown(hi) {
        return hi;
    }
    // shown(lo) and not shown(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if shown(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Every `step`-th of `n` points is drawn: at most `dots` (two per braille dot column; more
/// cannot be seen and only cost time).
pub fn step(n: usize, dots: usize) -> usize {
    n.div_ceil(dots.max(1)).max(1)
}

/// Maps chart coordinates to dots on a grid of `res` dots, as ratatui's `Painter::get_point`
/// does (the same arithmetic in the same order, so the same rounding): `None` outside the
/// bounds or when a span is empty. Dot `(0, 0)` is the top left.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    pub x: [f64; 2],
    pub y: [f64; 2],
}

impl Scale {
    pub fn dot(&self, x: f64, y: f64, res: (f64, f64)) -> Option<(usize, usize)> {
        let [left, right] = self.x;
        let [bottom, top] = self.y;
        if x < left || x > right || y < bottom || y > top {
            return None;
        }
        let width = right - left;
        let height = top - bottom;
        if width <= 0.0 || height <= 0.0 {
            return None;
        }
        let x = ((x - left) * (res.0 - 1.0) / width).round() as usize;
        let y = ((top - y) * (res.1 - 1.0) / height).round() as usize;
        Some((x, y))
    }
}

/// Calls `f` for every dot of the line from `(x1, y1)` to `(x2, y2)`, ends included: Bresenham
/// as ratatui's canvas line draws it (the same dots, so the same braille).
pub fn line_dots(x1: usize, y1: usize, x2: usize, y2: usize, mut f: impl FnMut(usize, usize)) {
    let dx = x2.abs_diff(x1);
    let dy = y2.abs_diff(y1);
    if dx == 0 {
        for y in y1.min(y2)..=y1.max(y2) {
            f(x1, y);
        }
    } else if dy == 0 {
        for x in x1.min(x2)..=x1.max(x2) {
            f(x, y1);
        }
    } else if dy < dx {
        let ((x1, y1), (x2, y2)) = if x1 > x2 {
            ((x2, y2), (x1, y1))
        } else {
            ((x1, y1), (x2, y2))
        };
        let dx = (x2 - x1) as isize;
        let dy = (y2 as isize - y1 as isize).abs();
        let mut d = 2 * dy - dx;
        let mut y = y1;
        for x in x1..=x2 {
            f(x, y);
            if d > 0 {
                y = if y1 > y2 {
                    y.saturating_sub(1)
                } else {
                    y.saturating_add(1)
                };
                d -= 2 * dx;
            }
            d += 2 * dy;
        }
    } else {
        let ((x1, y1), (x2, y2)) = if y1 > y2 {
            ((x2, y2), (x1, y1))
        } else {
            ((x1, y1), (x2, y2))
        };
        let dx = (x2 as isize - x1 as isize).abs();
        let dy = (y2 - y1) as isize;
        let mut d = 2 * dx - dy;
        let mut x = x1;
        for y in y1..=y2 {
            f(x, y);
            if d > 0 {
                x = if x1 > x2 {
                    x.saturating_sub(1)
                } else {
                    x.saturating_add(1)
                };
                d -= 2 * dy;
            }
            d += 2 * dx;
        }
    }
}

/// The chart's dots, one byte per cell of the plot area, reused from frame to frame (resized
/// when the area changes): braille patterns of the mid line and the microprice points, and the
/// trade marks (bit 0 a buy, bit 1 a sell).
#[derive(Clone, Debug, Default)]
pub struct PriceGrid {
    width: usize,
    height: usize,
    mid: Vec<u8>,
    micro: Vec<u8>,
    marks: Vec<u8>,
}

/// Trade-mark bits in [`PriceGrid`].
const BUY: u8 = 1;
const SELL: u8 = 2;

impl PriceGrid {
    /// Clears the grid to `width`×`height` cells.
    pub fn reset(&mut self, width: u16, height: u16) {
        self.width = usize::from(width);
        self.height = usize::from(height);
        let n = self.width * self.height;
        for v in [&mut self.mid, &mut self.micro, &mut self.marks] {
            v.clear();
            v.resize(n, 0);
        }
    }

    /// Braille resolution: 2×4 dots a cell.
    fn braille_res(&self) -> (f64, f64) {
        (self.width as f64 * 2.0, self.height as f64 * 4.0)
    }

    /// One dot a cell, for the trade marks.
    fn cell_res(&self) -> (f64, f64) {
        (self.width as f64, self.height as f64)
    }

    /// Sets braille dot `(x, y)` (dots from the top left) in `which` (the mid or the micro grid).
    fn braille(width: usize, cells: &mut [u8], x: usize, y: usize) {
        let i = (y / 4) * width + x / 2;
        if let Some(c) = cells.get_mut(i) {
            *c |= 1 << ((x % 2) + 2 * (y % 4));
        }
    }

    /// Draws the samples `(x, mid, microprice)`: the mid as a line through them (and each
    /// point), as a `GraphType::Line` braille dataset does, and the microprice as points, as a
    /// `GraphType::Scatter` braille dataset does. One pass for both: they are separate layers.
    pub fn samples(&mut self, scale: &Scale, points: impl Iterator<Item = (f64, f64, f64)>) {
        let res = self.braille_res();
        let width = self.width;
        // The previous point's dot (`None` outside the bounds): each point is mapped once.
        let mut prev: Option<Option<(usize, usize)>> = None;
        for (x, mid, micro) in points {
            let dot = scale.dot(x, mid, res);
            if let Some((dx, dy)) = dot {
                Self::braille(width, &mut self.mid, dx, dy);
            }
            if let (Some(Some((x1, y1))), Some((x2, y2))) = (prev, dot) {
                // Both ends are inside the bounds (the window and the range are taken from
                // the very points drawn), where ratatui's clipping leaves a segment as it is.
                let cells = &mut self.mid;
                line_dots(x1, y1, x2, y2, |x, y| Self::braille(width, cells, x, y));
            }
            prev = Some(dot);
            if let Some((dx, dy)) = scale.dot(x, micro, res) {
                Self::braille(width, &mut self.micro, dx, dy);
            }
        }
    }

    /// Marks trades `(x, price, buy)` a cell each, as a `Marker::Dot` scatter dataset per side
    /// does, drawing every `every.0`-th buy and every `every.1`-th sell (each side thinned on
    /// its own, from its first).
    pub fn trades(
        &mut self,
        scale: &Scale,
        points: impl Iterator<Item = (f64, f64, bool)>,
        every: (usize, usize),
    ) {
        let res = self.cell_res();
        let (mut nb, mut ns) = (0usize, 0usize);
        for (x, y, buy) in points {
            let (n, k, side) = if buy {
                (&mut nb, every.0, BUY)
            } else {
                (&mut ns, every.1, SELL)
            };
            let drawn = *n % k.max(1) == 0;
            *n += 1;
            if drawn
                && let Some((cx, cy)) = scale.dot(x, y, res)
                && let Some(c) = self.marks.get_mut(cy * self.width + cx)
            {
                *c |= side;
            }
        }
    }

    /// What cell `i` shows: the last drawn of mid, microprice, buy, sell (each replaces the
    /// one before, as the chart's layers do), with the colour it is drawn in.
    fn cell(&self, i: usize, colors: &[Color; 4]) -> Option<(char, Color)> {
        let m = self.marks[i];
        if m & SELL != 0 {
            Some(('•', colors[3]))
        } else if m & BUY != 0 {
            Some(('•', colors[2]))
        } else if self.micro[i] != 0 {
            Some((BRAILLE[usize::from(self.micro[i])], colors[1]))
        } else if self.mid[i] != 0 {
            Some((BRAILLE[usize::from(self.mid[i])], colors[0]))
        } else {
            None
        }
    }
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
            if every > 0 && i % every == 0 {
                h.trades.push_capped(
                    600,
                    TradeMark {
                        t_ns: t + 1,
                        price: mid + next() * 2.0,
                        qty: 0.1,
                        buy: (i / every) % 2 == 0,
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

    /// A known series gives known braille: a rising diagonal over 2×2 cells (4×8 dots).
    #[test]
    fn a_diagonal_is_known_braille() {
        let mut g = PriceGrid::default();
        g.reset(2, 2);
        let sc = Scale {
            x: [0.0, 3.0],
            y: [0.0, 7.0],
        };
        // The microprice off the chart: the mid alone.
        g.samples(&sc, [(0.0, 0.0, 99.0), (3.0, 7.0, 99.0)].into_iter());
        let colors = [Color::Red; 4];
        let text: String = (0..4)
            .map(|i| g.cell(i, &colors).map_or(' ', |(c, _)| c))
            .collect();
        // Dots (x, y from the top): (3,0) (3,1) (2,2) (2,3) in the top right cell, (1,4) (1,5)
        // (0,6) (0,7) in the bottom left one: the same shape in both.
        assert_eq!(text, " ⡜⡜ ");
        // Points alone (the microprice) are single dots; a trade replaces the braille.
        g.samples(&sc, [(3.0, 99.0, 7.0)].into_iter());
        g.trades(&sc, [(0.0, 0.0, false)].into_iter(), (1, 1));
        assert_eq!(g.cell(1, &colors).map(|c| c.0), Some('⠈'));
        assert_eq!(g.cell(2, &colors).map(|c| c.0), Some('•'));
    }

    #[test]
    fn max_age_is_the_float_test_exactly() {
        for w in [
            20.0,
            20.000_000_001,
            37.25,
            179.999_999_999,
            180.0,
            0.0,
            1e-9,
        ] {
            let m = max_age_ns(w);
            assert!((m as f64) / 1e9 <= w, "{w}");
            assert!(((m + 1) as f64) / 1e9 > w, "{w}");
        }
        assert_eq!(max_age_ns(20.0), 20_000_000_000);
    }

    #[test]
    fn line_dots_are_bresenham_both_ways() {
        let mut a = Vec::new();
        line_dots(0, 0, 4, 2, |x, y| a.push((x, y)));
        assert_eq!(a, [(0, 0), (1, 0), (2, 1), (3, 1), (4, 2)]);
        let mut b = Vec::new();
        line_dots(4, 2, 0, 0, |x, y| b.push((x, y)));
        assert_eq!(b, a, "drawn from the left end either way");
        let mut c = Vec::new();
        line_dots(1, 0, 0, 3, |x, y| c.push((x, y)));
        assert_eq!(c, [(1, 0), (1, 1), (0, 2), (0, 3)]);
    }

    #[test]
    fn points_map_as_ratatui_maps_them() {
        let sc = Scale {
            x: [-180.0, 0.0],
            y: [100.0, 101.0],
        };
        let res = (120.0, 64.0);
        assert_eq!(sc.dot(-180.0, 101.0, res), Some((0, 0)));
        assert_eq!(sc.dot(0.0, 100.0, res), Some((119, 63)));
        assert_eq!(sc.dot(-90.0, 100.5, res), Some((60, 32)));
        assert_eq!(sc.dot(1.0, 100.5, res), None);
        assert_eq!(step(100, 40), 3);
        assert_eq!(step(0, 40), 1);
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
