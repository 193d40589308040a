//! The heatmap's grid: time (one column per history column, newest right) × price (rows of k
//! ticks around the touch) of resting size, the best bid / best ask per column, and the trades per
//! cell — computed on the integer price mantissas, and kept between frames while the history, the
//! scale and the size of the panel stay the same.
//!
//! The price axis "finds the market": centred on the mid, with as many ticks per row (1, 2, 5,
//! 10, 20, …) as it takes to hold the whole book the newest column shows and the touch over the
//! visible time; `z`/`Z` zoom in/out from there and PageUp/PageDown move it, `c` returns to auto.
//!
//! Owns: the scale, the binning and the cache. Must not touch: drawing (`render::heatmap`), the
//! keys (the UI loop changes [`HeatView`]).

use std::sync::Arc;

use microstate_core::engine::history::{Column, History};
use microstate_core::num::{Price, SCALE};
use microstate_core::view::SymbolView;

/// Steps of the price axis: 1-2-5 ticks per row, the `i`-th.
pub fn step_ticks(i: usize) -> u64 {
    [1u64, 2, 5][i % 3].saturating_mul(10u64.saturating_pow((i / 3) as u32))
}

/// The largest step index (5·10⁹ ticks per row: far beyond any book).
pub const MAX_STEP: usize = 29;

/// What the heatmap keys change: zoom steps from the auto scale (+: finer, fewer ticks per row)
/// and rows moved up (+) or down from the centre.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HeatView {
    pub zoom: i32,
    pub pan: i32,
}

impl HeatView {
    /// Auto: centred on the touch, scaled to the book.
    pub fn is_auto(&self) -> bool {
        self.zoom == 0 && self.pan == 0
    }

    pub fn zoom_in(&mut self) {
        self.zoom = (self.zoom + 1).min(MAX_STEP as i32);
    }

    pub fn zoom_out(&mut self) {
        self.zoom = (self.zoom - 1).max(-(MAX_STEP as i32));
    }

    /// Moves the price axis by `rows` (positive: towards higher prices).
    pub fn pan_by(&mut self, rows: i32) {
        self.pan = self.pan.saturating_add(rows);
    }

    /// Back to auto: centred, scaled to the book.
    pub fn recentre(&mut self) {
        *self = HeatView::default();
    }
}

/// A price as a mantissa of [`SCALE`] (the columns carry prices as floats for drawing).
fn mantissa(p: f64) -> u64 {
    (p * SCALE as f64).round().max(0.0) as u64
}

/// The price axis: `rows` rows of `width` (mantissa units, `ticks` ticks) each; row 0 (the top)
/// is bucket `top`, a bucket being `[b·width, (b+1)·width)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scale {
    /// The tick (mantissa units): the symbol's, or 1 unit of the last decimal the prices need.
    pub tick: u64,
    pub ticks: u64,
    pub width: u64,
    pub top: i64,
    pub rows: usize,
    /// Ticks per row the auto scale would use (the zoom is counted from it).
    pub auto_ticks: u64,
}

impl Scale {
    /// The row of a price (mantissa), when it is on the axis.
    pub fn row_of(&self, m: u64) -> Option<usize> {
        let r = self.top - (m / self.width) as i64;
        (r >= 0 && (r as usize) < self.rows).then_some(r as usize)
    }

    /// The lowest price of row `r`'s bucket.
    pub fn price_of(&self, r: usize) -> f64 {
        Price(((self.top - r as i64).max(0) as u64).saturating_mul(self.width)).to_f64()
    }
}

/// The columns the heatmap shows: the newest `cols` of the history.
fn visible(h: &History, cols: usize) -> impl Iterator<Item = &Arc<Column>> {
    h.columns.iter().skip(h.columns.len().saturating_sub(cols))
}

/// The price axis for `rows` rows and the newest `cols` columns of `s`'s history, zoomed and moved
/// by `hv`. `None` without a mid or a column.
pub fn scale(s: &SymbolView, rows: usize, cols: usize, hv: HeatView) -> Option<Scale> {
    let mid = mantissa(s.mid?);
    let h = &s.history;
    if h.columns.is_empty() || rows == 0 || cols == 0 {
        return None;
    }
    let tick = s.tick_exact.map_or_else(
        || {
            // Before the book shows a tick: a ten-thousandth of the price's magnitude (five
            // significant digits), at least one mantissa unit.
            let mag = 10u64.pow(mid.max(1).ilog10());
            (mag / 10_000).max(1)
        },
        |t| t.0.max(1),
    );
    // What must fit: the newest column's whole book, the touch over the visible time, the trades.
    let (mut lo, mut hi) = (mid, mid);
    let mut take = |p: f64| {
        let m = mantissa(p);
        lo = lo.min(m);
        hi = hi.max(m);
    };
    if let Some(c) = h.columns.back() {
        for &(p, _) in c.bids.last().into_iter().chain(c.asks.last()) {
            take(p);
        }
    }
    let mut first_t = u64::MAX;
    for c in visible(h, cols) {
        first_t = first_t.min(c.t_ns);
        for &(p, _) in c.bids.first().into_iter().chain(c.asks.first()) {
            take(p);
        }
    }
    for t in h.trades.iter().rev().take_while(|t| t.t_ns >= first_t) {
        take(t.price);
    }
    let half = (hi - mid).max(mid - lo);
    let room = rows.saturating_sub(1).max(1) as u64;
    let auto = (0..=MAX_STEP)
        .find(|&i| step_ticks(i).saturating_mul(tick).saturating_mul(room) >= 2 * half)
        .unwrap_or(MAX_STEP);
    let i = (auto as i64 - i64::from(hv.zoom)).clamp(0, MAX_STEP as i64) as usize;
    let ticks = step_ticks(i);
    let width = ticks.saturating_mul(tick).max(1);
    let centre = (mid / width) as i64 + i64::from(hv.pan);
    Some(Scale {
        tick,
        ticks,
        width,
        top: centre + (rows / 2) as i64,
        rows,
        auto_ticks: step_ticks(auto),
    })
}

/// Trades in one cell: base quantity bought and sold by takers.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CellTrades {
    pub buy: f64,
    pub sell: f64,
}

/// The binned heatmap, `rows` × `cols`, row-major.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grid {
    pub scale: Option<Scale>,
    pub cols: usize,
    /// Resting size per cell, and its side (bid: true).
    pub qty: Vec<f64>,
    pub bid: Vec<bool>,
    /// Per column: the rows of the best bid and the best ask (when on the axis).
    pub touch: Vec<(Option<usize>, Option<usize>)>,
    pub trades: Vec<CellTrades>,
    /// Receive time of each column (ns).
    pub col_t: Vec<u64>,
    /// The resting size drawn darkest (the 95th percentile of the cells with size: one wall
    /// does not wash the rest out), and the largest traded size in a cell.
    pub max_qty: f64,
    pub max_trade: f64,
    /// The price axis: each row's lowest price, on the row width's decimals.
    pub labels: Vec<String>,
    scratch: Vec<f64>,
    /// The time axis, one character per column: event times (`HH:MM:SS`) under the columns
    /// they date, as many as fit.
    pub time_axis: String,
}

impl Grid {
    pub fn rows(&self) -> usize {
        self.scale.map_or(0, |s| s.rows)
    }

    /// Fills the grid from `s`'s history with `sc` and the newest `cols` columns (fewer while
    /// the history holds fewer), reusing its buffers; `offset` moves receive times to event
    /// times for the time axis.
    pub fn fill(&mut self, s: &SymbolView, sc: Scale, cols: usize, offset: i64) {
        let h = &s.history;
        let cols = cols.min(h.columns.len());
        let n = sc.rows * cols;
        self.scale = Some(sc);
        self.cols = cols;
        self.qty.clear();
        self.qty.resize(n, 0.0);
        self.bid.clear();
        self.bid.resize(n, false);
        self.trades.clear();
        self.trades.resize(n, CellTrades::default());
        self.touch.clear();
        self.col_t.clear();
        for (c, column) in visible(h, cols).enumerate() {
            self.col_t.push(column.t_ns);
            for (side, is_bid) in [(&column.bids, true), (&column.asks, false)] {
                for &(p, q) in side {
                    if let Some(r) = sc.row_of(mantissa(p)) {
                        self.qty[r * cols + c] += q;
                        self.bid[r * cols + c] = is_bid;
                    }
                }
            }
            let best =
                |side: &[(f64, f64)]| side.first().and_then(|&(p, _)| sc.row_of(mantissa(p)));
            self.touch.push((best(&column.bids), best(&column.asks)));
        }
        if let (Some(&t0), Some(&t1)) = (self.col_t.first(), self.col_t.last()) {
            // A trade belongs to the newest column at or before it; trades after the newest
            // column (up to one column interval) to it.
            let every = if self.col_t.len() > 1 {
                (t1 - t0) / (self.col_t.len() as u64 - 1)
            } else {
                500_000_000
            };
            for t in h
                .trades
                .iter()
                .filter(|t| t.t_ns >= t0 && t.t_ns <= t1 + every)
            {
                let c = self
                    .col_t
                    .partition_point(|&ct| ct <= t.t_ns)
                    .saturating_sub(1);
                if let Some(r) = sc.row_of(t.price_exact.0) {
                    let cell = &mut self.trades[r * cols + c];
                    if t.buy {
                        cell.buy += t.qty;
                    } else {
                        cell.sell += t.qty;
                    }
                }
            }
        }
        self.labels.clear();
        let dec = decimals_of(sc.width);
        for r in 0..sc.rows {
            self.labels.push(format!("{:.dec$}", sc.price_of(r)));
        }
        self.time_axis = time_axis(&self.col_t, offset);
        self.max_qty = shade_scale(&self.qty, &mut self.scratch);
        self.max_trade = self
            .trades
            .iter()
            .map(|t| t.buy + t.sell)
            .fold(0.0, f64::max);
    }

    /// The trade marker of a cell: `·` `•` `●` by its size against the largest (square root, so
    /// small prints stay visible), and whether takers bought more than they sold. `None`: no
    /// trade.
    pub fn trade_mark(&self, r: usize, c: usize) -> Option<(char, bool)> {
        let t = self.trades.get(r * self.cols + c)?;
        let q = t.buy + t.sell;
        if q <= 0.0 || self.max_trade <= 0.0 {
            return None;
        }
        let x = (q / self.max_trade).sqrt();
        let ch = if x < 0.34 {
            '·'
        } else if x < 0.67 {
            '•'
        } else {
            '●'
        };
        Some((ch, t.buy >= t.sell))
    }
}

/// The size shaded darkest: the 95th percentile of the cells holding size (0 when none).
pub fn shade_scale(qty: &[f64], scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend(qty.iter().copied().filter(|q| *q > 0.0));
    if scratch.is_empty() {
        return 0.0;
    }
    let k = (scratch.len() * 95 / 100).min(scratch.len() - 1);
    let (_, v, _) = scratch.select_nth_unstable_by(k, f64::total_cmp);
    *v
}

/// Decimals a multiple of `width` (mantissa units of [`SCALE`]) needs: 1_000_000 (0.01) → 2,
/// 500_000_000 (5) → 0.
pub fn decimals_of(width: u64) -> usize {
    let mut d = 8;
    let mut w = width.max(1);
    while d > 0 && w.is_multiple_of(10) {
        w /= 10;
        d -= 1;
    }
    d
}

/// One character per column: `HH:MM:SS` (event time, UTC) under the first column of each
/// whole step of event time (1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 30 min, 1 h), the step chosen so
/// labels are at least 12 columns apart: the labels stay put as the heatmap scrolls.
pub fn time_axis(col_t: &[u64], offset: i64) -> String {
    const MIN_GAP: usize = 12;
    const STEPS_S: [u64; 12] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
    let mut out = String::with_capacity(col_t.len() + 16);
    let (Some(&first), Some(&last)) = (col_t.first(), col_t.last()) else {
        return out;
    };
    let per_col = (last - first) / (col_t.len() as u64 - 1).max(1);
    let step = STEPS_S
        .iter()
        .map(|s| s * 1_000_000_000)
        .find(|&s| s >= per_col.saturating_mul(MIN_GAP as u64))
        .unwrap_or(3_600_000_000_000);
    let event = |t: u64| crate::ui::clock::to_event(t, offset);
    let mut c = 0;
    let mut prev = event(first) / step;
    while c < col_t.len() {
        let e = event(col_t[c]);
        let crossed = c > 0 && e / step != prev;
        prev = e / step;
        if crossed && c + 8 <= col_t.len() {
            let s = (e / step) * step / 1_000_000_000;
            out.push_str(&format!(
                "{:02}:{:02}:{:02}",
                (s / 3600) % 24,
                (s / 60) % 60,
                s % 60
            ));
            // Skip the columns the label covers (their crossings go unlabelled).
            for t in &col_t[c + 1..c + 8] {
                prev = event(*t) / step;
            }
            c += 8;
        } else {
            out.push(' ');
            c += 1;
        }
    }
    out
}

/// What a grid was computed from: the history (its `Arc` and its newest items), the scale and the
/// number of columns.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Key {
    history: usize,
    columns: usize,
    last_column: u64,
    trades: usize,
    last_trade: u64,
    scale: Scale,
    cols: usize,
    offset: i64,
}

/// The grid of the last frame and what it was computed from.
#[derive(Clone, Debug, Default)]
pub struct HeatCache {
    key: Option<Key>,
    pub grid: Grid,
    /// Times the grid was recomputed (a test checks that an unchanged view reuses it).
    pub fills: u64,
}

impl HeatCache {
    /// The grid for `s` in `rows` × `cols` with `hv`: the cached one when nothing it depends on
    /// changed. `None` without data.
    pub fn grid(
        &mut self,
        s: &SymbolView,
        rows: usize,
        cols: usize,
        hv: HeatView,
        offset: i64,
    ) -> Option<&Grid> {
        let sc = scale(s, rows, cols, hv)?;
        let h = &s.history;
        let key = Key {
            history: Arc::as_ptr(h) as usize,
            columns: h.columns.len(),
            last_column: h.columns.back().map_or(0, |c| c.t_ns),
            trades: h.trades.len(),
            last_trade: h.trades.back().map_or(0, |t| t.t_ns),
            scale: sc,
            cols,
            offset,
        };
        if self.key != Some(key) {
            self.grid.fill(s, sc, cols, offset);
            self.key = Some(key);
            self.fills += 1;
        }
        Some(&self.grid)
    }
}

/// A symbol for unit tests of the screen's state (no `Default` for a view of a symbol).
#[cfg(test)]
pub mod tests_support {
    use std::sync::Arc;

    use microstate_core::engine::history::History;
    use microstate_core::num::Price;
    use microstate_core::view::SymbolView;

    /// TESTUSDT at mid 100.00, tick 0.01, no levels, no history.
    pub fn symbol() -> SymbolView {
        let h = History::default();
        SymbolView {
            symbol: microstate_core::num::Symbol::new(b"TESTUSDT").expect("symbol"),
            market: "spot".into(),
            phase: microstate_core::book::sync::Phase::Synced,
            stale: false,
            gaps: 0,
            resyncs: 0,
            applied: 0,
            snapshots: 0,
            trades: 0,
            last_update_id: 0,
            last_depth_recv_ns: 0,
            bids: Vec::new(),
            asks: Vec::new(),
            tick_exact: Some(Price(1_000_000)),
            tick: Some(0.01),
            tick_listed: false,
            mid: Some(100.0),
            microprice: None,
            spread: None,
            imbalance: [None; 3],
            history: Arc::new(h),
            tape: Vec::new(),
            volume: Vec::new(),
            volume_since_ns: 0,
            features: None,
            pressure: Default::default(),
            context: Default::default(),
            interpretation: Default::default(),
            feature_vector: None,
            crossed_events: 0,
            feature_updates: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microstate_core::engine::history::{Column, TradeMark};
    use microstate_core::num::Price;

    /// A symbol at mid 100.00 (tick 0.01) whose history has `n` columns with bids from 99.99
    /// down and asks from 100.01 up, `levels` a side, and one buy at 100.01 in the last column.
    fn symbol(n: usize, levels: usize) -> SymbolView {
        let mut h = History::default();
        for i in 0..n {
            let t = 1_000_000_000 + i as u64 * 500_000_000;
            h.columns.push_capped(
                1000,
                Arc::new(Column {
                    t_ns: t,
                    bids: (0..levels)
                        .map(|k| (99.99 - k as f64 * 0.01, 1.0))
                        .collect(),
                    asks: (0..levels)
                        .map(|k| (100.01 + k as f64 * 0.01, 2.0))
                        .collect(),
                }),
            );
        }
        h.trades.push_capped(
            100,
            TradeMark {
                t_ns: 1_000_000_000 + (n as u64 - 1) * 500_000_000 + 1,
                price: 100.01,
                qty: 0.5,
                buy: true,
                trade_ms: 0,
                price_exact: Price(10_001_000_000),
            },
        );
        SymbolView {
            history: Arc::new(h),
            ..tests_support::symbol()
        }
    }

    #[test]
    fn steps_go_1_2_5() {
        let v: Vec<u64> = (0..7).map(step_ticks).collect();
        assert_eq!(v, [1, 2, 5, 10, 20, 50, 100]);
    }

    #[test]
    fn auto_scale_holds_the_whole_book_centred_on_the_mid() {
        // 40 levels a side: ±0.40 around 100.00 = 80 ticks over 20 rows → 5 ticks a row.
        let s = symbol(10, 40);
        let sc = scale(&s, 21, 10, HeatView::default()).expect("scale");
        assert_eq!(sc.ticks, 5);
        assert_eq!(sc.auto_ticks, 5);
        // Deepest bid (99.60) and ask (100.40) are on the axis, the mid in the middle row.
        assert!(sc.row_of(9_960_000_000).is_some() && sc.row_of(10_040_000_000).is_some());
        assert_eq!(sc.row_of(10_000_000_000), Some(10));
        // Not 21 rows of one tick: a thin book gets one tick a row.
        let thin = scale(&symbol(10, 3), 21, 10, HeatView::default()).expect("scale");
        assert_eq!(thin.ticks, 1);
    }

    #[test]
    fn zoom_pan_and_recentre() {
        let s = symbol(10, 40);
        let mut hv = HeatView::default();
        hv.zoom_in();
        assert_eq!(scale(&s, 21, 10, hv).expect("scale").ticks, 2);
        hv.zoom_in();
        hv.zoom_in();
        assert_eq!(
            scale(&s, 21, 10, hv).expect("scale").ticks,
            1,
            "1 tick is the finest"
        );
        hv.recentre();
        hv.zoom_out();
        assert_eq!(scale(&s, 21, 10, hv).expect("scale").ticks, 10);
        hv.pan_by(3);
        assert!(!hv.is_auto());
        let sc = scale(&s, 21, 10, hv).expect("scale");
        assert_eq!(
            sc.row_of(10_000_000_000),
            Some(13),
            "moved up 3 rows: the mid is lower"
        );
        hv.recentre();
        assert!(hv.is_auto());
    }

    #[test]
    fn grid_bins_sizes_touch_and_trades_and_is_reused() {
        let s = symbol(10, 40);
        let mut cache = HeatCache::default();
        let g = cache
            .grid(&s, 21, 10, HeatView::default(), 0)
            .expect("grid")
            .clone();
        let sc = g.scale.expect("scale");
        // 5 ticks a row: 99.95…99.99 holds five bids of 1.0; the row of 100.00 holds 100.01…04.
        let r = sc.row_of(9_995_000_000).expect("row");
        assert!((g.qty[r * 10 + 9] - 5.0).abs() < 1e-9 && g.bid[r * 10 + 9]);
        let ra = sc.row_of(10_001_000_000).expect("row");
        assert!((g.qty[ra * 10] - 8.0).abs() < 1e-9 && !g.bid[ra * 10]);
        assert_eq!(g.touch[0], (Some(r), Some(ra)));
        assert_eq!(
            g.trade_mark(ra, 9),
            Some(('●', true)),
            "the buy in the last column"
        );
        assert_eq!(g.trade_mark(ra, 8), None);
        // The same view again: no recomputation.
        cache.grid(&s, 21, 10, HeatView::default(), 0);
        assert_eq!(cache.fills, 1);
        cache.grid(&s, 21, 10, HeatView { zoom: 1, pan: 0 }, 0);
        assert_eq!(cache.fills, 2, "a zoom recomputes");
        assert_eq!(g.labels[0], format!("{:.2}", sc.price_of(0)));
        assert_eq!(g.labels.len(), 21);
    }

    #[test]
    fn one_wall_does_not_wash_out_the_shades() {
        let mut q = vec![1.0; 99];
        q.push(1000.0);
        q.extend([0.0; 50]);
        assert_eq!(shade_scale(&q, &mut Vec::new()), 1.0);
        assert_eq!(shade_scale(&[0.0, 0.0], &mut Vec::new()), 0.0);
    }

    #[test]
    fn axes_are_labelled() {
        assert_eq!(decimals_of(1_000_000), 2);
        assert_eq!(decimals_of(500_000_000), 0);
        assert_eq!(decimals_of(1), 8);
        assert_eq!(decimals_of(50_000), 4);
        // Columns every 500 ms from 23:54:13 (event time = receive time − 1 s here).
        let t: Vec<u64> = (0..30)
            .map(|i| 1_723_161_254_000_000_000 + i * 500_000_000)
            .collect();
        // 0.5 s a column → a label every 10 s of event time, under the column that starts it:
        // 23:54:13.0 + 0.5 s × 14 = 23:54:20.
        let axis = time_axis(&t, -1_000_000_000);
        assert_eq!(axis.chars().count(), 30);
        assert_eq!(&axis[14..22], "23:54:20");
        assert_eq!(axis[..14].trim(), "");
        assert_eq!(axis[22..].trim(), "");
        // Scrolled by one column, the label moves with its column.
        let axis = time_axis(&t[1..], -1_000_000_000);
        assert_eq!(&axis[13..21], "23:54:20");
    }
}
