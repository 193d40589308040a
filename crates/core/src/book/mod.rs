//! The L2 order book: both sides, absolute quantities, exact prices, no price-range limit.
//!
//! Owns: price levels and the id of the last update applied. Must not touch: sequencing rules
//! (that is [`sync`]), I/O, clocks.
//!
//! Each side is a hybrid: a tick-indexed [`window`] of [`window::SLOTS`] ticks around the touch
//! (one quantity per tick, an occupancy bitset with a summary word) over the [`blocks`]
//! structure (a one-level B-tree of sorted blocks) for every level the window does not hold —
//! levels outside its range and prices off its tick grid. Both work on keys: bids keyed by
//! price, asks by `!price`, so both sides sort ascending towards their best. An update on the
//! window costs one multiplication to find its slot and a store; elsewhere it costs a block
//! search and at most one block's move. The best level is cached, so reading it is a load.
//!
//! The tick comes from the exchange ([`OrderBook::set_tick`], from exchangeInfo) or is inferred
//! at each snapshot load as the gcd of the differences between the snapshot's prices. The window
//! is re-centred on the best level when the best leaves its middle (rebuilding both parts from
//! the merged levels, at most once per `len` updates so the cost stays amortised), and a price
//! the grid does not divide simply lives in the blocks: no range limit, exact integers.
//!
//! The top N ([`Side::top_into`], which [`Side::top`] reads through) need no per-level merge in
//! the usual case: the blocks' best lies below the window's base, so the answer is the window's
//! occupancy walk (one trailing-zero count per level, summary words skipping empty ones)
//! followed by the blocks' sorted runs. Only when the blocks reach into or above the window
//! (an off-grid price, or the best past the window before a re-centring) is it a merge.

pub mod sync;

mod blocks;
mod window;

use crate::num::{Price, Qty, UpdateId};
use crate::wire::Level;
use blocks::{Blocks, Cursor};
use window::{SLOTS, WinCursor, Window};

/// One level in key space (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    key: u64,
    qty: u64,
}

/// Where the best level is put when the window is (re-)centred: an eighth of the window above
/// it (room for the market to improve), the rest below (updates land mostly behind the touch).
const CENTRE: usize = SLOTS * 7 / 8;
/// The window moves when the best leaves its slots `[ZONE_LO, ZONE_HI]`.
const ZONE_LO: usize = SLOTS / 2;
const ZONE_HI: usize = SLOTS - SLOTS / 32;
/// Fewest updates between two re-centrings, whatever the book's size.
const RECENTRE_EVERY: u64 = 256;

/// Which side of the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SideKind {
    Bid,
    Ask,
}

/// One side of the book.
#[derive(Clone, Debug)]
pub struct Side {
    /// 0 for bids, all ones for asks: `key = price ^ flip`.
    flip: u64,
    win: Window,
    outer: Blocks,
    /// The level with the highest key, if any.
    best: Option<Entry>,
    /// Tick given by the exchange, in price units (0: inferred at each load).
    tick: u64,
    /// While the best key stays within `zone_lo..=zone_hi` the window stays put.
    zone_lo: u64,
    zone_hi: u64,
    /// Updates applied, and the count at the last re-centring.
    ops: u64,
    placed_at: u64,
}

impl Side {
    pub fn new(kind: SideKind) -> Self {
        Side {
            flip: Self::flip_of(kind),
            win: Window::new(Self::flip_of(kind)),
            outer: Blocks::default(),
            best: None,
            tick: 0,
            zone_lo: 0,
            zone_hi: u64::MAX,
            ops: 0,
            placed_at: 0,
        }
    }

    /// Key of a price on this side: the price for bids, its complement for asks. Branch-free
    /// (`flip` is 0 or all ones), as updates alternate between sides unpredictably.
    #[inline]
    fn key(&self, p: Price) -> u64 {
        p.0 ^ self.flip
    }

    #[inline]
    fn level(flip: u64, e: Entry) -> Level {
        Level {
            price: Price(e.key ^ flip),
            qty: Qty(e.qty),
        }
    }

    #[inline]
    fn flip_of(kind: SideKind) -> u64 {
        match kind {
            SideKind::Bid => 0,
            SideKind::Ask => u64::MAX,
        }
    }

    /// Sets the price tick (from the exchange; `None`: infer it from each snapshot) and rebuilds
    /// the side on it now.
    pub fn set_tick(&mut self, tick: Option<Price>) {
        self.tick = tick.map_or(0, |t| t.0);
        let tick = if self.tick != 0 {
            self.tick
        } else {
            self.win.tick()
        };
        self.rebuild(tick);
    }

    /// The tick the window runs on (0: no window).
    pub fn window_tick(&self) -> u64 {
        if self.win.is_on() { self.win.tick() } else { 0 }
    }

    /// Sets a level to an absolute quantity; zero deletes it (deleting an absent level is a no-op).
    #[inline]
    pub fn set(&mut self, price: Price, qty: Qty) {
        let key = self.key(price);
        let qty = qty.0;
        self.ops = self.ops.wrapping_add(1);
        match self.win.slot(key) {
            Some(s) => {
                if self.win.put(s, qty) == 0 && qty == 0 {
                    return;
                }
            }
            None => self.outer.set(key, qty),
        }
        if qty != 0 {
            match self.best {
                Some(b) if key < b.key => {}
                Some(b) if key == b.key => self.best = Some(Entry { key, qty }),
                _ => {
                    self.best = Some(Entry { key, qty });
                    if key > self.zone_hi {
                        self.moved();
                    }
                }
            }
        } else if self.best.is_some_and(|b| b.key == key) {
            self.best = self.find_best();
            if self.best.is_some_and(|b| b.key < self.zone_lo) {
                self.moved();
            }
        }
    }

    /// The best level, looked up in both parts.
    #[inline]
    fn find_best(&self) -> Option<Entry> {
        match (self.win.top(), self.outer.best()) {
            (Some(w), Some(o)) => Some(if w.key > o.key { w } else { o }),
            (w, o) => w.or(o),
        }
    }

    /// The best left the window's middle: re-centre, unless the last re-centring was too recent
    /// for its cost (a rebuild of the side) to be amortised.
    #[cold]
    #[inline(never)]
    fn moved(&mut self) {
        if !self.win.is_on() {
            return;
        }
        let len = self.len() as u64;
        if self.ops.wrapping_sub(self.placed_at) < len.max(RECENTRE_EVERY) {
            return;
        }
        self.rebuild(self.win.tick());
    }

    /// Every level, ascending by key, taken out of both parts (which are left empty).
    fn take_all(&mut self) -> Vec<Entry> {
        let mut outer = Vec::with_capacity(self.outer.len());
        self.outer.entries_into(&mut outer);
        let mut win = Vec::with_capacity(self.win.len());
        self.win.entries_into(&mut win);
        self.outer.clear();
        self.win.clear();
        let mut all = Vec::with_capacity(outer.len() + win.len());
        let (mut i, mut j) = (0, 0);
        while i < outer.len() && j < win.len() {
            if outer[i].key < win[j].key {
                all.push(outer[i]);
                i += 1;
            } else {
                all.push(win[j]);
                j += 1;
            }
        }
        all.extend_from_slice(&outer[i..]);
        all.extend_from_slice(&win[j..]);
        all
    }

    /// Rebuilds the side with the window on `tick` (0: no window) centred on the best level.
    fn rebuild(&mut self, tick: u64) {
        let all = self.take_all();
        self.fill(tick, &all);
    }

    /// Fills the (empty) side with `sorted` (strictly ascending keys, no zero quantity), the
    /// window on `tick` (0: none) centred on the best.
    fn fill(&mut self, tick: u64, sorted: &[Entry]) {
        self.best = sorted.last().copied();
        self.placed_at = self.ops;
        self.zone_lo = 0;
        self.zone_hi = u64::MAX;
        let on = match self.best {
            Some(b) => self.win.place(tick, b.key, CENTRE),
            None => {
                self.win.off();
                false
            }
        };
        if !on {
            self.outer.load_sorted(sorted);
            return;
        }
        if let Some(b) = self.best {
            self.zone_lo = self.win.key_of(ZONE_LO).min(b.key);
            self.zone_hi = self.win.key_of(ZONE_HI).max(b.key);
        }
        let mut rest = Vec::with_capacity(sorted.len());
        for e in sorted {
            match self.win.slot(e.key) {
                Some(s) => {
                    self.win.put(s, e.qty);
                }
                None => rest.push(*e),
            }
        }
        self.outer.load_sorted(&rest);
    }

    /// Best level (highest bid / lowest ask). O(1).
    #[inline]
    pub fn best(&self) -> Option<Level> {
        self.best.map(|e| Self::level(self.flip, e))
    }

    /// Total quantity of the levels at `worst` or better (bids priced at or above it, asks at or
    /// below it): the window's occupied slots in the band, plus the blocks' (whole blocks are
    /// added through their kept sums).
    pub fn qty_within(&self, worst: Price) -> u128 {
        let limit = self.key(worst);
        self.win.qty_within(limit) + self.outer.qty_within(limit)
    }

    /// Quantity resting at `price`, if any.
    pub fn get(&self, price: Price) -> Option<Qty> {
        let key = self.key(price);
        match self.win.slot(key) {
            Some(s) => Some(self.win.qty(s)).filter(|&q| q != 0).map(Qty),
            None => self.outer.get(key).map(Qty),
        }
    }

    /// The best `n` levels, best first. The first [`TOP_HEAD`] are written at once by
    /// [`Side::top_into`] into a buffer the iterator carries (no per-level merge state to
    /// keep); levels past them, if asked for, come from the general merge.
    #[inline]
    pub fn top(&self, n: usize) -> Top<'_> {
        let n = n.min(self.len());
        let mut top = Top {
            head: [Level::default(); TOP_HEAD],
            i: 0,
            filled: 0,
            tail: 0,
            rest: None,
        };
        top.filled = self.top_into(&mut top.head[..n.min(TOP_HEAD)]);
        top.tail = n - top.filled;
        if n > TOP_HEAD {
            let mut merge = Merge::new(self);
            for _ in 0..TOP_HEAD {
                merge.next_level();
            }
            top.rest = Some(merge);
        }
        top
    }

    /// Writes the best levels, best first, into `out` until it is full or the side runs out;
    /// returns how many it wrote (`out.len().min(self.len())`).
    ///
    /// The usual case needs no merge: when the blocks are empty or their best key is below the
    /// window's base (the window sits at the touch, the blocks hold the far levels), the answer
    /// is the window's walk followed by the blocks' walk. Otherwise (a price off the window's
    /// grid inside its span, or the best run past the window before a re-centring) it falls
    /// back to the level-by-level merge.
    #[inline]
    pub fn top_into(&self, out: &mut [Level]) -> usize {
        if self
            .outer
            .best()
            .is_some_and(|o| o.key >= self.win.lowest_key())
        {
            let n = out.len().min(self.len());
            return self.top_merged(&mut out[..n]);
        }
        // Every window level is above every blocks level: the window's walk, then the blocks'.
        // Each stops when `out` is full or its part runs out, so together they write
        // `out.len().min(self.len())` levels without that count being worked out first.
        let k = self.win.top_into(out);
        if k == out.len() {
            return k;
        }
        self.top_outer(out, k)
    }

    /// [`Side::top_into`] past the window's levels: the blocks' walk from `out[k]` on. Out of
    /// line, so the window's walk (the usual whole answer) keeps its registers.
    #[inline(never)]
    fn top_outer(&self, out: &mut [Level], k: usize) -> usize {
        k + self.outer.top_into(self.flip, &mut out[k..])
    }

    /// [`Side::top_into`]'s rare case: the blocks may hold levels above window levels.
    #[cold]
    #[inline(never)]
    fn top_merged(&self, out: &mut [Level]) -> usize {
        let mut merge = Merge::new(self);
        for l in out.iter_mut() {
            *l = merge.next_level();
        }
        out.len()
    }

    /// All levels, best first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Level> + '_ {
        self.top(self.len())
    }

    pub fn len(&self) -> usize {
        self.win.len() + self.outer.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        self.win.clear();
        self.outer.clear();
        self.best = None;
    }

    /// Replaces the side with `levels` (any order; a later duplicate price wins; zeros dropped).
    /// Without a tick from the exchange, the tick is inferred from these levels.
    pub fn load(&mut self, levels: &[Level]) {
        let mut all: Vec<Entry> = levels
            .iter()
            .map(|l| Entry {
                key: self.key(l.price),
                qty: l.qty.0,
            })
            .collect();
        // Stable sort keeps arrival order among equal keys, so the last duplicate is the one kept.
        all.sort_by_key(|e| e.key);
        let mut out: Vec<Entry> = Vec::with_capacity(all.len());
        for e in all {
            match out.last_mut() {
                Some(last) if last.key == e.key => *last = e,
                _ => out.push(e),
            }
        }
        out.retain(|e| e.qty != 0);
        let tick = if self.tick != 0 {
            self.tick
        } else {
            infer_tick(&out)
        };
        self.clear();
        self.fill(tick, &out);
    }

    /// Checks the side's invariants (tests): both parts well formed, every key the window has a
    /// slot for is in the window, the cached best is the highest key.
    #[cfg(test)]
    fn check(&self) {
        self.outer.check();
        let mut outer = Vec::new();
        self.outer.entries_into(&mut outer);
        assert!(outer.iter().all(|e| self.win.slot(e.key).is_none()));
        assert_eq!(self.best, self.find_best());
    }
}

/// The gcd of the differences between consecutive keys (0 for fewer than two).
fn infer_tick(sorted: &[Entry]) -> u64 {
    fn gcd(mut a: u64, mut b: u64) -> u64 {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    }
    sorted
        .windows(2)
        .fold(0, |g, w| gcd(g, w[1].key - w[0].key))
}

/// [`Side::top`]'s walk: the window's and the blocks' levels merged from the top. The counts
/// of levels left in each part say which heads are valid, so the loop carries no `Option`.
struct Merge<'a> {
    flip: u64,
    win: WinCursor<'a>,
    outer: Cursor<'a>,
    /// The next level of each part (valid while its count is not zero).
    w: Entry,
    o: Entry,
    /// Levels left in each part, the heads included.
    wn: usize,
    on: usize,
}

impl<'a> Merge<'a> {
    #[inline]
    fn new(side: &'a Side) -> Merge<'a> {
        const NONE: Entry = Entry { key: 0, qty: 0 };
        let mut win = side.win.cursor();
        let mut outer = side.outer.cursor();
        Merge {
            flip: side.flip,
            w: win.next_entry().unwrap_or(NONE),
            o: outer.next_entry().unwrap_or(NONE),
            wn: side.win.len(),
            on: side.outer.len(),
            win,
            outer,
        }
    }

    /// The next level down; only called while levels are left.
    #[inline]
    fn next_level(&mut self) -> Level {
        let e = if self.wn != 0 && (self.on == 0 || self.w.key > self.o.key) {
            let e = self.w;
            self.wn -= 1;
            if self.wn != 0 {
                self.w = self.win.next_entry().unwrap_or(e);
            }
            e
        } else {
            let e = self.o;
            self.on = self.on.saturating_sub(1);
            if self.on != 0 {
                self.o = self.outer.next_entry().unwrap_or(e);
            }
            e
        };
        Side::level(self.flip, e)
    }
}

/// Levels [`Side::top`] writes into its buffer at once (features and digests read 5–20; the
/// screen's 60 take the merge past them).
pub const TOP_HEAD: usize = 32;

/// [`Side::top`]'s iterator: the head levels already written, then (for reads past
/// [`TOP_HEAD`]) the merge.
pub struct Top<'a> {
    head: [Level; TOP_HEAD],
    /// Next head level to yield, and how many were written.
    i: usize,
    filled: usize,
    /// Levels left after the head, read from `rest`.
    tail: usize,
    rest: Option<Merge<'a>>,
}

impl Iterator for Top<'_> {
    type Item = Level;

    #[inline]
    fn next(&mut self) -> Option<Level> {
        if self.i < self.filled {
            let l = self.head[self.i % TOP_HEAD];
            self.i += 1;
            return Some(l);
        }
        if self.tail == 0 {
            return None;
        }
        self.tail -= 1;
        Some(self.rest.as_mut()?.next_level())
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.filled - self.i + self.tail;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Top<'_> {}

/// Best bid and ask with their quantities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Bbo {
    pub bid: Option<Level>,
    pub ask: Option<Level>,
}

/// A two-sided book.
#[derive(Clone, Debug)]
pub struct OrderBook {
    pub bids: Side,
    pub asks: Side,
    /// Final update id of the last snapshot or diff applied (0 before any).
    pub last_update_id: UpdateId,
}

impl Default for OrderBook {
    fn default() -> Self {
        Self::new()
    }
}

impl OrderBook {
    pub fn new() -> Self {
        OrderBook {
            bids: Side::new(SideKind::Bid),
            asks: Side::new(SideKind::Ask),
            last_update_id: 0,
        }
    }

    /// Sets the price tick of both sides (the symbol's `tickSize` from exchangeInfo; `None`:
    /// inferred from each snapshot).
    pub fn set_tick(&mut self, tick: Option<Price>) {
        self.bids.set_tick(tick);
        self.asks.set_tick(tick);
    }

    /// Replaces the whole book with a snapshot.
    pub fn load(&mut self, bids: &[Level], asks: &[Level], last_update_id: UpdateId) {
        self.bids.load(bids);
        self.asks.load(asks);
        self.last_update_id = last_update_id;
    }

    /// Applies one diff's levels (absolute quantities) and records its final id.
    #[inline]
    pub fn apply(&mut self, bids: &[Level], asks: &[Level], final_id: UpdateId) {
        for l in bids {
            self.bids.set(l.price, l.qty);
        }
        for l in asks {
            self.asks.set(l.price, l.qty);
        }
        self.last_update_id = final_id;
    }

    /// Writes the best levels of both sides, best first, into `bids` and `asks` (each until it
    /// is full or its side runs out); returns how many each got. What the features and the
    /// screen read after an update: [`Side::top_into`] on each side, in one call.
    #[inline]
    pub fn top_both_into(&self, bids: &mut [Level], asks: &mut [Level]) -> (usize, usize) {
        (self.bids.top_into(bids), self.asks.top_into(asks))
    }

    #[inline]
    pub fn bbo(&self) -> Bbo {
        Bbo {
            bid: self.bids.best(),
            ask: self.asks.best(),
        }
    }

    /// True when the best bid is at or above the best ask.
    #[inline]
    pub fn is_crossed(&self) -> bool {
        match (self.bids.best(), self.asks.best()) {
            (Some(b), Some(a)) => b.price >= a.price,
            _ => false,
        }
    }

    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.last_update_id = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(p: u64, q: u64) -> Level {
        Level {
            price: Price(p),
            qty: Qty(q),
        }
    }

    #[test]
    fn best_and_top_on_both_sides() {
        let mut b = OrderBook::new();
        b.load(
            &[lv(100, 1), lv(99, 2), lv(101, 3)],
            &[lv(103, 4), lv(102, 5)],
            7,
        );
        assert_eq!(b.bbo().bid, Some(lv(101, 3)));
        assert_eq!(b.bbo().ask, Some(lv(102, 5)));
        let bids: Vec<_> = b.bids.top(2).collect();
        assert_eq!(bids, vec![lv(101, 3), lv(100, 1)]);
        let asks: Vec<_> = b.asks.top(10).collect();
        assert_eq!(asks, vec![lv(102, 5), lv(103, 4)]);
        assert_eq!(b.last_update_id, 7);
    }

    #[test]
    fn zero_deletes_and_absent_delete_is_normal() {
        let mut b = OrderBook::new();
        b.apply(&[lv(100, 1), lv(98, 1)], &[lv(105, 1)], 1);
        b.apply(&[lv(100, 0), lv(97, 0)], &[], 2);
        assert_eq!(b.bids.best(), Some(lv(98, 1)));
        assert_eq!(b.bids.len(), 1);
        b.apply(&[lv(98, 0)], &[lv(105, 0)], 3);
        assert!(b.bids.is_empty() && b.asks.is_empty());
        assert_eq!(b.bbo(), Bbo::default());
    }

    #[test]
    fn no_price_range_limit() {
        let mut b = OrderBook::new();
        let prices = [1u64, u64::MAX, 5, u64::MAX - 1, 0, 1 << 40];
        for (i, p) in prices.iter().enumerate() {
            b.apply(&[lv(*p, i as u64 + 1)], &[lv(*p, i as u64 + 1)], i as u64);
        }
        assert_eq!(b.bids.best().map(|l| l.price.0), Some(u64::MAX));
        assert_eq!(b.asks.best().map(|l| l.price.0), Some(0));
        assert_eq!(b.bids.get(Price(1 << 40)), Some(Qty(6)));
        assert!(b.is_crossed());
    }

    /// Long random runs against a `BTreeMap`, with price ranges narrow enough to fill, split,
    /// drain and merge blocks many times, on both sides.
    #[test]
    fn matches_a_btreemap_through_splits_and_merges() {
        use std::collections::BTreeMap;
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for kind in [SideKind::Bid, SideKind::Ask] {
            for range in [40u64, 300, 5_000] {
                let mut side = Side::new(kind);
                let mut model = BTreeMap::new();
                let init: Vec<Level> = (0..range / 2)
                    .map(|_| lv(next() % range, next() % 3))
                    .collect();
                side.load(&init);
                for l in &init {
                    model.remove(&l.price.0);
                }
                // load: the last duplicate wins, then zeros are dropped.
                let mut last = BTreeMap::new();
                for l in &init {
                    last.insert(l.price.0, l.qty.0);
                }
                model.extend(last.into_iter().filter(|&(_, q)| q != 0));
                for step in 0..20_000u64 {
                    // Phases that mostly insert, then mostly delete, so blocks fill and drain.
                    let deleting = (step / 2_000) % 2 == 1;
                    let p = next() % range;
                    let q = if next() % 10 < if deleting { 8 } else { 2 } {
                        0
                    } else {
                        1 + next() % 1_000
                    };
                    side.set(Price(p), Qty(q));
                    if q == 0 {
                        model.remove(&p);
                    } else {
                        model.insert(p, q);
                    }
                    assert_eq!(side.len(), model.len());
                    let want_best = match kind {
                        SideKind::Bid => model.iter().next_back(),
                        SideKind::Ask => model.iter().next(),
                    };
                    assert_eq!(side.best(), want_best.map(|(&p, &q)| lv(p, q)));
                    if step % 97 == 0 {
                        let all: Vec<Level> = side.iter().collect();
                        let want: Vec<Level> = match kind {
                            SideKind::Bid => model.iter().rev().map(|(&p, &q)| lv(p, q)).collect(),
                            SideKind::Ask => model.iter().map(|(&p, &q)| lv(p, q)).collect(),
                        };
                        assert_eq!(all, want, "{kind:?} range {range} step {step}");
                        let top = side.top(20);
                        assert_eq!(top.len(), want.len().min(20));
                        assert_eq!(top.collect::<Vec<_>>(), want[..want.len().min(20)]);
                        check_top(&side, &want, &format!("{kind:?} range {range} step {step}"));
                        assert_eq!(side.get(Price(p)), model.get(&p).map(|&q| Qty(q)));
                        side.check();
                        // Quantity within a band, against the model, for a few limits.
                        for worst in [0, p, range / 3, range / 2, range, u64::MAX] {
                            let want: u128 = match kind {
                                SideKind::Bid => {
                                    model.range(worst..).map(|(_, &q)| q as u128).sum()
                                }
                                SideKind::Ask => {
                                    model.range(..=worst).map(|(_, &q)| q as u128).sum()
                                }
                            };
                            assert_eq!(side.qty_within(Price(worst)), want, "{kind:?} {worst}");
                        }
                    }
                }
            }
        }
    }

    /// `top(n)` and `top_into` against the full list `want`, for counts around the head
    /// buffer's size and past the side's length.
    fn check_top(side: &Side, want: &[Level], ctx: &str) {
        for n in [
            0,
            1,
            2,
            7,
            20,
            TOP_HEAD - 1,
            TOP_HEAD,
            TOP_HEAD + 1,
            200,
            want.len() + 3,
        ] {
            let m = n.min(want.len());
            let top = side.top(n);
            assert_eq!(top.len(), m, "{ctx} n {n}");
            assert_eq!(top.collect::<Vec<_>>(), want[..m], "{ctx} n {n}");
            let mut out = vec![lv(7, 7); n];
            assert_eq!(side.top_into(&mut out), m, "{ctx} n {n}");
            assert_eq!(out[..m], want[..m], "{ctx} n {n}");
            assert!(out[m..].iter().all(|&l| l == lv(7, 7)), "{ctx} n {n}");
        }
    }

    #[test]
    fn top_is_exact_in_any_order_of_reading() {
        let mut s = Side::new(SideKind::Bid);
        let levels: Vec<Level> = (1..=200).map(|p| lv(p, p + 1000)).collect();
        s.load(&levels);
        for p in (1..=200).step_by(7) {
            s.set(Price(p), Qty(0));
        }
        let all: Vec<Level> = s.iter().collect();
        assert_eq!(all.len(), s.len());
        assert!(all.windows(2).all(|w| w[0].price > w[1].price));
        for n in [0, 1, 5, 20, 33, 171, 500] {
            let m = n.min(all.len());
            let top = s.top(n);
            assert_eq!(top.len(), m);
            assert_eq!(top.collect::<Vec<_>>(), all[..m]);
            // Adapters that skip ahead still see the right levels.
            assert_eq!(s.top(n).nth(3), all[..m].get(3).copied());
            assert_eq!(s.top(n).skip(10).collect::<Vec<_>>(), all[10.min(m)..m]);
            assert_eq!(s.top(n).last(), all[..m].last().copied());
        }
        check_top(&s, &all, "after deletes");
    }

    #[test]
    fn load_keeps_last_duplicate_and_drops_zeros() {
        let mut s = Side::new(SideKind::Ask);
        s.load(&[lv(10, 1), lv(11, 0), lv(10, 7)]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![lv(10, 7)]);
    }
    /// The same model check while the market drifts far in both directions, so the window
    /// re-centres many times; prices on a 5-unit grid plus some off it; the window's tick
    /// inferred (5, or 1 when an off-grid price is in the snapshot), given (5), given but not
    /// dividing the prices (3), or given far too fine (1) and too coarse (1000).
    #[test]
    fn hybrid_matches_a_btreemap_as_the_market_moves() {
        use std::collections::BTreeMap;
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for kind in [SideKind::Bid, SideKind::Ask] {
            for tick in [None, Some(5u64), Some(3), Some(1), Some(1000)] {
                for off_grid in [false, true] {
                    let mut side = Side::new(kind);
                    side.set_tick(tick.map(Price));
                    let mut model: BTreeMap<u64, u64> = BTreeMap::new();
                    let mut mid: i64 = 1_000_000;
                    let price = |mid: i64, r: u64, off: bool| -> u64 {
                        // Up to 3000 grid steps from the mid, denser near it.
                        let spread = 1 + r % 4 * (r % 1000);
                        let d = (r >> 20) % spread.max(1);
                        // Bids below the mid, asks above it.
                        let p = match kind {
                            SideKind::Bid => mid - 5 - d as i64 * 5,
                            SideKind::Ask => mid + 5 + d as i64 * 5,
                        };
                        p.max(0) as u64 + if off { 1 + (r >> 50) % 4 } else { 0 }
                    };
                    let init: Vec<Level> = (0..800)
                        .map(|_| {
                            let r = next();
                            lv(price(mid, r, off_grid && r % 50 == 0), 1 + r % 97)
                        })
                        .collect();
                    side.load(&init);
                    for l in &init {
                        model.insert(l.price.0, l.qty.0);
                    }
                    let mut bases = std::collections::BTreeSet::new();
                    for step in 0..60_000u64 {
                        // A slow random walk with long trends: the window must follow.
                        let trend = if (step / 15_000) % 2 == 0 { 1 } else { -1 };
                        if next() % 4 == 0 {
                            mid += trend * 5 * (1 + (next() % 40) as i64);
                        }
                        let r = next();
                        let p = price(mid, r, off_grid && r % 40 == 0);
                        let q = if next() % 10 < 4 {
                            0
                        } else {
                            1 + next() % 1_000
                        };
                        side.set(Price(p), Qty(q));
                        if q == 0 {
                            model.remove(&p);
                        } else {
                            model.insert(p, q);
                        }
                        // Levels the mid moved through are gone (traded or cancelled).
                        while let Some(b) = side.best() {
                            let through = match kind {
                                SideKind::Bid => b.price.0 as i64 >= mid,
                                SideKind::Ask => b.price.0 as i64 <= mid,
                            };
                            if !through {
                                break;
                            }
                            side.set(b.price, Qty(0));
                            model.remove(&b.price.0);
                        }
                        bases.insert(side.win.key_of(0));
                        assert_eq!(side.len(), model.len());
                        let want_best = match kind {
                            SideKind::Bid => model.iter().next_back(),
                            SideKind::Ask => model.iter().next(),
                        };
                        assert_eq!(side.best(), want_best.map(|(&p, &q)| lv(p, q)));
                        if step % 499 == 0 {
                            side.check();
                            let want: Vec<Level> = match kind {
                                SideKind::Bid => {
                                    model.iter().rev().map(|(&p, &q)| lv(p, q)).collect()
                                }
                                SideKind::Ask => model.iter().map(|(&p, &q)| lv(p, q)).collect(),
                            };
                            let ctx = format!("{kind:?} tick {tick:?} off {off_grid} step {step}");
                            assert_eq!(side.iter().collect::<Vec<_>>(), want, "{ctx}");
                            assert_eq!(
                                side.top(20).collect::<Vec<_>>(),
                                want[..want.len().min(20)],
                                "{ctx}"
                            );
                            check_top(&side, &want, &ctx);
                            for probe in [p, p + 1, p.saturating_sub(5), mid as u64] {
                                assert_eq!(
                                    side.get(Price(probe)),
                                    model.get(&probe).map(|&q| Qty(q)),
                                    "{ctx}"
                                );
                            }
                            for worst in [
                                0,
                                p,
                                mid as u64,
                                (mid as u64).saturating_sub(7_000),
                                mid as u64 + 7_000,
                                u64::MAX,
                            ] {
                                let want: u128 = match kind {
                                    SideKind::Bid => {
                                        model.range(worst..).map(|(_, &q)| q as u128).sum()
                                    }
                                    SideKind::Ask => {
                                        model.range(..=worst).map(|(_, &q)| q as u128).sum()
                                    }
                                };
                                assert_eq!(side.qty_within(Price(worst)), want, "{ctx} {worst}");
                            }
                        }
                    }
                    // The window followed the market (when it has a usable tick).
                    if side.window_tick() != 0 && tick != Some(1000) {
                        assert!(
                            bases.len() >= 3,
                            "{kind:?} {tick:?}: window moved {} times",
                            bases.len()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn window_slots_only_for_exact_ticks_in_range() {
        let mut w = Window::default();
        assert_eq!(w.slot(0), None);
        assert_eq!(w.slot(u64::MAX), None);
        for tick in [1u64, 2, 3, 5, 10, 1_000_000, 12_345_678, window::MAX_TICK] {
            for anchor in [0u64, 7 * tick, u64::MAX / 2, u64::MAX - 3, u64::MAX] {
                if !w.place(tick, anchor, CENTRE) {
                    continue;
                }
                let base = w.key_of(0);
                assert!(base as u128 + SLOTS as u128 * tick as u128 <= 1u128 << 64);
                for s in [0usize, 1, CENTRE, SLOTS - 1] {
                    let k = w.key_of(s);
                    assert_eq!(w.slot(k), Some(s), "tick {tick} anchor {anchor} slot {s}");
                    if tick > 1 {
                        assert_eq!(w.slot(k + 1), None);
                        assert_eq!(w.slot(k.wrapping_sub(1)), None);
                    }
                }
                assert_eq!(w.slot(base.wrapping_sub(tick)), None);
                assert_eq!(w.slot(base.wrapping_add(SLOTS as u64 * tick)), None);
                assert_eq!(w.slot(base.wrapping_sub(1)), None);
                assert_eq!(w.slot(0).is_some(), base == 0);
            }
        }
    }

    #[test]
    fn tick_inferred_from_the_snapshot() {
        let mut b = OrderBook::new();
        b.load(
            &[lv(6_000_000, 1), lv(5_999_990, 1), lv(5_999_960, 2)],
            &[lv(6_000_010, 1), lv(6_000_050, 3)],
            1,
        );
        assert_eq!(b.bids.window_tick(), 10);
        assert_eq!(b.asks.window_tick(), 40);
        // A price off the grid lives in the blocks, exact.
        b.apply(&[lv(6_000_005, 9)], &[lv(6_000_007, 4)], 2);
        assert_eq!(b.bbo().bid, Some(lv(6_000_005, 9)));
        assert_eq!(b.bbo().ask, Some(lv(6_000_007, 4)));
        b.bids.check();
        b.asks.check();
        // A tick from the exchange wins over inference, now and at the next load.
        b.set_tick(Some(Price(5)));
        assert_eq!((b.bids.window_tick(), b.asks.window_tick()), (5, 5));
        b.load(&[lv(100, 1), lv(300, 1)], &[lv(500, 1)], 3);
        assert_eq!(b.bids.window_tick(), 5);
        b.set_tick(None);
        b.load(&[lv(100, 1), lv(300, 1)], &[lv(500, 1)], 3);
        assert_eq!((b.bids.window_tick(), b.asks.window_tick()), (200, 0));
    }
}
