//! The price chart's pure half: which of a symbol's history is in the window, how it maps to
//! braille dots, and the reused dot grid the price panel ([`crate::ui::render::price`]) draws
//! from — the same dots ratatui's `Chart` would set (its point mapping, its Bresenham, its
//! layering), without its per-frame `Vec`s, layers and closures.
//!
//! Owns: the window, the scale, the rasterisation and the grid. Must not touch: the buffer (the
//! panel writes the cells), the history (only read), clocks (`now_ns` is the view's).

use ratatui::style::Color;
use ratatui::symbols::braille::BRAILLE;

use microstate_core::view::SymbolView;

/// Most seconds of history shown; less while less history exists (at least `MIN_WINDOW_S`).
pub const WINDOW_S: f64 = 180.0;
pub const MIN_WINDOW_S: f64 = 20.0;

/// The x span to show: the history's, within the bounds.
pub fn window_s(s: &SymbolView, now_ns: u64) -> f64 {
    let oldest = s.history.samples.front().map(|p| p.t_ns).unwrap_or(now_ns);
    (now_ns.saturating_sub(oldest) as f64 / 1e9).clamp(MIN_WINDOW_S, WINDOW_S)
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
        along(x1, y1, x2, y2, f);
    } else {
        along(y1, x1, y2, x2, |y, x| f(x, y));
    }
}

/// Bresenham stepping one dot at a time along the major axis `a` (the caller swaps the axes of
/// a steep line), from the end with the smaller `a`; `f` gets `(a, b)`.
fn along(a1: usize, b1: usize, a2: usize, b2: usize, mut f: impl FnMut(usize, usize)) {
    let ((a1, b1), (a2, b2)) = if a1 > a2 {
        ((a2, b2), (a1, b1))
    } else {
        ((a1, b1), (a2, b2))
    };
    let da = (a2 - a1) as isize;
    let db = (b2 as isize - b1 as isize).abs();
    let mut d = 2 * db - da;
    let mut b = b1;
    for a in a1..=a2 {
        f(a, b);
        if d > 0 {
            b = if b1 > b2 {
                b.saturating_sub(1)
            } else {
                b.saturating_add(1)
            };
            d -= 2 * da;
        }
        d += 2 * db;
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
            let drawn = n.is_multiple_of(k.max(1));
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
    pub fn cell(&self, i: usize, colors: &[Color; 4]) -> Option<(char, Color)> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
