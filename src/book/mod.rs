//! The L2 order book: both sides, absolute quantities, exact prices, no price-range limit.
//!
//! Owns: price levels and the id of the last update applied. Must not touch: sequencing rules
//! (that is [`sync`]), I/O, clocks.
//!
//! Each side is one sorted `Vec` of `(key, qty)` with the **best level at the end**: bids keyed
//! by price, asks by `!price`, so both sides sort ascending towards their best. Reading the best
//! level is O(1) and the top N is the last N entries (a slice, no tree walk), equally cheap on
//! sparse and dense books. Updates search from the best end outwards (galloping, then binary
//! search), so the common case — a change near the top — costs a few comparisons and a short
//! `memmove`; a change deep in the book costs a longer move but stays correct for any price.

pub mod sync;

use crate::num::{Price, Qty, UpdateId};
use crate::wire::Level;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    key: u64,
    qty: u64,
}

/// Which side of the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SideKind {
    Bid,
    Ask,
}

/// One side of the book.
#[derive(Clone, Debug)]
pub struct Side {
    kind: SideKind,
    levels: Vec<Entry>,
}

impl Side {
    pub fn new(kind: SideKind) -> Self {
        Side {
            kind,
            levels: Vec::new(),
        }
    }

    #[inline]
    fn key(&self, p: Price) -> u64 {
        match self.kind {
            SideKind::Bid => p.0,
            SideKind::Ask => !p.0,
        }
    }

    #[inline]
    fn level(&self, e: Entry) -> Level {
        Level {
            price: Price(match self.kind {
                SideKind::Bid => e.key,
                SideKind::Ask => !e.key,
            }),
            qty: Qty(e.qty),
        }
    }

    /// Position of `key`, as `slice::binary_search` reports it, searching from the best end.
    #[inline]
    fn find(&self, key: u64) -> Result<usize, usize> {
        let v = &self.levels;
        let n = v.len();
        if n == 0 {
            return Err(0);
        }
        // Gallop from the end: everything at or above `hi` has a key greater than `key`.
        let mut hi = n;
        let mut step = 1usize;
        let lo = loop {
            let idx = n.saturating_sub(step);
            if v[idx].key <= key {
                break idx;
            }
            hi = idx;
            if idx == 0 {
                break 0;
            }
            step <<= 1;
        };
        match v[lo..hi].binary_search_by(|e| e.key.cmp(&key)) {
            Ok(i) => Ok(lo + i),
            Err(i) => Err(lo + i),
        }
    }

    /// Sets a level to an absolute quantity; zero deletes it (deleting an absent level is a no-op).
    #[inline]
    pub fn set(&mut self, price: Price, qty: Qty) {
        let key = self.key(price);
        match self.find(key) {
            Ok(i) => {
                if qty.is_zero() {
                    self.levels.remove(i);
                } else {
                    self.levels[i].qty = qty.0;
                }
            }
            Err(i) => {
                if !qty.is_zero() {
                    self.levels.insert(i, Entry { key, qty: qty.0 });
                }
            }
        }
    }

    /// Best level (highest bid / lowest ask). O(1).
    #[inline]
    pub fn best(&self) -> Option<Level> {
        self.levels.last().map(|&e| self.level(e))
    }

    /// Quantity resting at `price`, if any.
    pub fn get(&self, price: Price) -> Option<Qty> {
        self.find(self.key(price))
            .ok()
            .map(|i| Qty(self.levels[i].qty))
    }

    /// The best `n` levels, best first.
    #[inline]
    pub fn top(&self, n: usize) -> impl ExactSizeIterator<Item = Level> + '_ {
        let start = self.levels.len().saturating_sub(n);
        self.levels[start..].iter().rev().map(|&e| self.level(e))
    }

    /// All levels, best first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Level> + '_ {
        self.top(self.levels.len())
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    pub fn clear(&mut self) {
        self.levels.clear();
    }

    /// Replaces the side with `levels` (any order; a later duplicate price wins; zeros dropped).
    pub fn load(&mut self, levels: &[Level]) {
        self.levels.clear();
        self.levels.reserve(levels.len());
        for l in levels {
            self.levels.push(Entry {
                key: self.key(l.price),
                qty: l.qty.0,
            });
        }
        // Stable sort keeps arrival order among equal keys, so the last duplicate is the one kept.
        self.levels.sort_by_key(|e| e.key);
        let mut out: Vec<Entry> = Vec::with_capacity(self.levels.len());
        for e in self.levels.drain(..) {
            match out.last_mut() {
                Some(last) if last.key == e.key => *last = e,
                _ => out.push(e),
            }
        }
        out.retain(|e| e.qty != 0);
        self.levels = out;
    }
}

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

    #[test]
    fn load_keeps_last_duplicate_and_drops_zeros() {
        let mut s = Side::new(SideKind::Ask);
        s.load(&[lv(10, 1), lv(11, 0), lv(10, 7)]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![lv(10, 7)]);
    }
}
