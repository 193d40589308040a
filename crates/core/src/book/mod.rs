//! The L2 order book: both sides, absolute quantities, exact prices, no price-range limit.
//!
//! Owns: price levels and the id of the last update applied. Must not touch: sequencing rules
//! (that is [`sync`]), I/O, clocks.
//!
//! Each side keeps its levels sorted by `key` with the **best level at the end**: bids keyed by
//! price, asks by `!price`, so both sides sort ascending towards their best. The sorted run is
//! cut into blocks of at most [`BLOCK`] entries (a one-level B-tree): reading the best level is
//! O(1) and the top N are the last entries of the last block or two, equally cheap on sparse and
//! dense books. An update finds its block by galloping from the best end over the blocks' first
//! keys (kept in their own dense array), then searches the block; inserting or deleting moves at
//! most one block's entries. Real diff streams touch levels hundreds deep all the time (Binance
//! spot `@depth@100ms` updates have a median depth of ~130 levels), which in one flat vector cost
//! a memmove of the whole run above them on every insert or delete.

pub mod sync;

use crate::num::{Price, Qty, UpdateId};
use crate::wire::Level;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    key: u64,
    qty: u64,
}

/// Most entries in one block. A full block splits in two halves; see [`MERGE_BELOW`].
const BLOCK: usize = 32;
/// A block left with fewer entries than this after a delete joins a neighbour with room.
const MERGE_BELOW: usize = BLOCK / 4;
/// Entries per block when a side is loaded from a snapshot: room left for inserts.
const LOAD_FILL: usize = BLOCK * 3 / 4;
/// Slots per block array: [`BLOCK`] for entries and as many again as scratch, so an insert or
/// delete moves a fixed [`BLOCK`] slots whatever the position: a fixed-size copy compiles to
/// straight vector moves, where a `memmove` whose length depends on the position costs a call
/// and mispredicts on its size classes. A power of two (see [`Block::entry`]).
const SLOTS: usize = 2 * BLOCK;

/// Up to [`BLOCK`] levels sorted ascending by key in `keys[..len]` / `qtys[..len]`: keys apart
/// from quantities, so a search reads keys only. Boxed in [`Side`], so splits and merges move
/// pointers. `sum` is the total of `qtys[..len]` (u128: 32 u64 quantities cannot overflow it),
/// kept by every change so that "quantity within a price band" ([`Side::qty_within`]) adds
/// whole blocks instead of walking hundreds of levels.
#[derive(Clone)]
struct Block {
    len: usize,
    sum: u128,
    keys: [u64; SLOTS],
    qtys: [u64; SLOTS],
}

impl Block {
    fn new() -> Box<Block> {
        Box::new(Block {
            len: 0,
            sum: 0,
            keys: [0; SLOTS],
            qtys: [0; SLOTS],
        })
    }

    fn from_entries(entries: &[Entry]) -> Box<Block> {
        let mut b = Block::new();
        for (i, e) in entries.iter().enumerate() {
            b.keys[i] = e.key;
            b.qtys[i] = e.qty;
            b.sum += e.qty as u128;
        }
        b.len = entries.len();
        b
    }

    #[inline]
    fn first(&self) -> u64 {
        self.keys[0]
    }

    #[inline]
    fn entry(&self, i: usize) -> Entry {
        // `i` is always below `len`; the mask only lets the compiler drop the bounds checks
        // (`SLOTS` is a power of two).
        let i = i % SLOTS;
        Entry {
            key: self.keys[i],
            qty: self.qtys[i],
        }
    }

    /// Position of `key`, as `slice::binary_search` reports it.
    #[inline]
    fn search(&self, key: u64) -> Result<usize, usize> {
        self.keys[..self.len].binary_search(&key)
    }

    /// Inserts at `i` (the block is not full), shifting the rest up.
    #[inline]
    fn insert(&mut self, i: usize, e: Entry) {
        shift(&mut self.keys, i, i + 1);
        shift(&mut self.qtys, i, i + 1);
        self.keys[i] = e.key;
        self.qtys[i] = e.qty;
        self.sum += e.qty as u128;
        self.len += 1;
    }

    /// Removes the entry at `i`, shifting the rest down.
    #[inline]
    fn remove(&mut self, i: usize) {
        self.sum -= self.qtys[i % SLOTS] as u128;
        shift(&mut self.keys, i + 1, i);
        shift(&mut self.qtys, i + 1, i);
        self.len -= 1;
    }

    /// Moves the entries from `at` on into a new block.
    fn split_off(&mut self, at: usize) -> Box<Block> {
        let mut upper = Block::new();
        let n = self.len;
        upper.keys[..n - at].copy_from_slice(&self.keys[at..n]);
        upper.qtys[..n - at].copy_from_slice(&self.qtys[at..n]);
        upper.len = n - at;
        upper.sum = upper.qtys[..n - at].iter().map(|&q| q as u128).sum();
        self.len = at;
        self.sum -= upper.sum;
        upper
    }

    /// Appends all of `other` (whose keys are all above this block's).
    fn append(&mut self, other: &Block) {
        let (n, m) = (self.len, other.len);
        self.keys[n..n + m].copy_from_slice(&other.keys[..m]);
        self.qtys[n..n + m].copy_from_slice(&other.qtys[..m]);
        self.len = n + m;
        self.sum += other.sum;
    }
}

/// The block a fresh [`Cursor`] starts in.
static EMPTY: Block = Block {
    len: 0,
    sum: 0,
    keys: [0; SLOTS],
    qtys: [0; SLOTS],
};

/// Moves the [`BLOCK`] slots at `from` to `to` (overlapping), through a fixed-size copy.
#[inline(always)]
fn shift(a: &mut [u64; SLOTS], from: usize, to: usize) {
    let mut t = [0u64; BLOCK];
    t.copy_from_slice(&a[from..from + BLOCK]);
    a[to..to + BLOCK].copy_from_slice(&t);
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries((0..self.len).map(|i| (self.keys[i], self.qtys[i])))
            .finish()
    }
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
    /// 0 for bids, all ones for asks: `key = price ^ flip`.
    flip: u64,
    /// Non-empty blocks in ascending key order. Boxed on purpose (a block is 1 KiB): a split or
    /// merge then shifts pointers, not blocks.
    #[allow(clippy::vec_box)]
    blocks: Vec<Box<Block>>,
    /// `firsts[j] == blocks[j].first()`: searched without touching the blocks themselves.
    firsts: Vec<u64>,
    /// Total number of levels.
    len: usize,
}

impl Side {
    pub fn new(kind: SideKind) -> Self {
        Side {
            flip: Self::flip_of(kind),
            blocks: Vec::new(),
            firsts: Vec::new(),
            len: 0,
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

    /// The block that holds `key` or would receive it: the last one whose first key is at or
    /// below `key`, or block 0 when `key` is below them all. The side must not be empty.
    /// Gallops from the best end, so a change near the top costs a comparison or two.
    #[inline]
    fn block_of(&self, key: u64) -> usize {
        let f = &self.firsts;
        let n = f.len();
        // Everything at or above `hi` has a first key greater than `key`.
        let mut hi = n;
        let mut step = 1usize;
        let lo = loop {
            let idx = n.saturating_sub(step);
            if f[idx] <= key {
                break idx;
            }
            hi = idx;
            if idx == 0 {
                return 0;
            }
            step <<= 1;
        };
        // f[lo] <= key < f[hi]: the answer is in lo..hi.
        lo + f[lo + 1..hi].partition_point(|&k| k <= key)
    }

    /// Block and position of `key`, as `slice::binary_search` reports it within the block.
    #[inline]
    fn find(&self, key: u64) -> Option<(usize, Result<usize, usize>)> {
        if self.blocks.is_empty() {
            return None;
        }
        let j = self.block_of(key);
        Some((j, self.blocks[j].search(key)))
    }

    /// Sets a level to an absolute quantity; zero deletes it (deleting an absent level is a no-op).
    #[inline]
    pub fn set(&mut self, price: Price, qty: Qty) {
        let key = self.key(price);
        match self.find(key) {
            None => {
                if !qty.is_zero() {
                    let mut b = Block::new();
                    b.insert(0, Entry { key, qty: qty.0 });
                    self.blocks.push(b);
                    self.firsts.push(key);
                    self.len = 1;
                }
            }
            Some((j, Ok(i))) => {
                if qty.is_zero() {
                    self.remove(j, i);
                } else {
                    let b = &mut self.blocks[j];
                    let old = std::mem::replace(&mut b.qtys[i], qty.0);
                    // Wrapping: `sum - old + new` without an intermediate underflow.
                    b.sum = b.sum.wrapping_add(qty.0 as u128).wrapping_sub(old as u128);
                }
            }
            Some((j, Err(i))) => {
                if !qty.is_zero() {
                    self.insert(j, i, Entry { key, qty: qty.0 });
                }
            }
        }
    }

    #[inline]
    fn insert(&mut self, j: usize, i: usize, e: Entry) {
        self.len += 1;
        let block = &mut self.blocks[j];
        if block.len < BLOCK {
            block.insert(i, e);
            if i == 0 {
                self.firsts[j] = e.key;
            }
            return;
        }
        self.split_insert(j, i, e);
    }

    /// Inserts into a full block by splitting it in two halves first.
    #[cold]
    #[inline(never)]
    fn split_insert(&mut self, j: usize, i: usize, e: Entry) {
        const HALF: usize = BLOCK / 2;
        let mut upper = self.blocks[j].split_off(HALF);
        if i <= HALF {
            self.blocks[j].insert(i, e);
        } else {
            upper.insert(i - HALF, e);
        }
        self.firsts[j] = self.blocks[j].first();
        self.firsts.insert(j + 1, upper.first());
        self.blocks.insert(j + 1, upper);
    }

    #[inline]
    fn remove(&mut self, j: usize, i: usize) {
        self.len -= 1;
        let block = &mut self.blocks[j];
        block.remove(i);
        if block.len < MERGE_BELOW {
            self.shrink(j);
        } else if i == 0 {
            self.firsts[j] = block.first();
        }
    }

    /// Block `j` became small: drops it if empty, else joins it to a neighbour with room.
    #[cold]
    #[inline(never)]
    fn shrink(&mut self, j: usize) {
        let n = self.blocks[j].len;
        if n == 0 {
            self.blocks.remove(j);
            self.firsts.remove(j);
            return;
        }
        // Join with the lighter neighbour when the result leaves room for inserts.
        let prev = j.checked_sub(1).map(|p| (p, self.blocks[p].len));
        let next = self.blocks.get(j + 1).map(|b| (j + 1, b.len));
        let target = match (prev, next) {
            (Some(p), Some(q)) => Some(if p.1 <= q.1 { p } else { q }),
            (p, q) => p.or(q),
        };
        match target {
            Some((t, tn)) if tn + n <= LOAD_FILL => {
                let (lo, hi) = if t < j { (t, j) } else { (j, t) };
                let moved = self.blocks.remove(hi);
                self.firsts.remove(hi);
                self.blocks[lo].append(&moved);
                self.firsts[lo] = self.blocks[lo].first();
            }
            _ => self.firsts[j] = self.blocks[j].first(),
        }
    }

    /// Best level (highest bid / lowest ask). O(1).
    #[inline]
    pub fn best(&self) -> Option<Level> {
        let b = self.blocks.last()?;
        Some(Self::level(self.flip, b.entry(b.len - 1)))
    }

    /// Total quantity of the levels at `worst` or better (bids priced at or above it, asks at or
    /// below it). Whole blocks are added through their kept sums, so the cost is the number of
    /// blocks in the band plus one binary search, not the number of levels.
    pub fn qty_within(&self, worst: Price) -> u128 {
        let limit = self.key(worst);
        let mut total = 0u128;
        for (b, &first) in self.blocks.iter().zip(&self.firsts).rev() {
            if first >= limit {
                total += b.sum;
            } else {
                let from = b.keys[..b.len].partition_point(|&k| k < limit);
                total += b.qtys[from..b.len].iter().map(|&q| q as u128).sum::<u128>();
                break;
            }
        }
        total
    }

    /// Quantity resting at `price`, if any.
    pub fn get(&self, price: Price) -> Option<Qty> {
        match self.find(self.key(price))? {
            (j, Ok(i)) => Some(Qty(self.blocks[j].qtys[i])),
            (_, Err(_)) => None,
        }
    }

    /// The best `n` levels, best first.
    #[inline]
    pub fn top(&self, n: usize) -> impl ExactSizeIterator<Item = Level> + '_ {
        // A counted range mapped to levels through a cursor: std knows the exact length of
        // `Map<Range>`, so `collect` and `Vec::extend` write the levels without a capacity check
        // each, and the cursor's state stays in registers.
        let mut cursor = Cursor::new(self);
        (0..n.min(self.len)).map(move |k| cursor.level(k))
    }

    /// All levels, best first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Level> + '_ {
        self.top(self.len)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        self.blocks.clear();
        self.firsts.clear();
        self.len = 0;
    }

    /// Replaces the side with `levels` (any order; a later duplicate price wins; zeros dropped).
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
        self.clear();
        self.len = out.len();
        // Full chunks from the best end, so the blocks read most hold the most.
        for chunk in out.rchunks(LOAD_FILL).rev() {
            self.firsts.push(chunk[0].key);
            self.blocks.push(Block::from_entries(chunk));
        }
    }
}

/// Where [`Side::top`] is: the next level to read is entry `i - 1` of `blk`, which is
/// `blocks[j]`, and it is the `k`-th best.
struct Cursor<'a> {
    flip: u64,
    blocks: &'a [Box<Block>],
    j: usize,
    blk: &'a Block,
    i: usize,
    k: usize,
}

impl<'a> Cursor<'a> {
    /// Before the best level: the first read moves into the last block.
    #[inline]
    fn new(side: &'a Side) -> Cursor<'a> {
        Cursor {
            flip: side.flip,
            blocks: &side.blocks,
            j: side.blocks.len(),
            blk: &EMPTY,
            i: 0,
            k: 0,
        }
    }

    /// The `k`-th best level; `k` must be below the side's length. Sequential calls step the
    /// cursor; any other order (std's adapters never ask for one, but nothing forbids it) walks
    /// from the top.
    #[inline]
    fn level(&mut self, k: usize) -> Level {
        if k != self.k {
            // By value, not through `&mut self`: the cursor's address is never taken, so it
            // lives in registers through the whole read.
            *self = Self::seek(self.flip, self.blocks, k);
        }
        while self.i == 0 {
            // Blocks are never empty and `k` is below the length, so a block is left.
            self.j -= 1;
            self.blk = &self.blocks[self.j];
            self.i = self.blk.len;
        }
        self.i -= 1;
        self.k = k + 1;
        Side::level(self.flip, self.blk.entry(self.i))
    }

    /// A cursor at the `k`-th best level.
    #[cold]
    fn seek(flip: u64, blocks: &'a [Box<Block>], k: usize) -> Cursor<'a> {
        let mut left = k;
        for (j, b) in blocks.iter().enumerate().rev() {
            if left < b.len {
                return Cursor {
                    flip,
                    blocks,
                    j,
                    blk: b,
                    i: b.len - left,
                    k,
                };
            }
            left -= b.len;
        }
        // `k` past the end: an exhausted cursor (never read, as `k` is below the length).
        Cursor {
            flip,
            blocks,
            j: 0,
            blk: &EMPTY,
            i: 0,
            k,
        }
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
                        assert_eq!(side.get(Price(p)), model.get(&p).map(|&q| Qty(q)));
                        // Blocks stay well formed.
                        assert_eq!(side.blocks.len(), side.firsts.len());
                        for (b, &f) in side.blocks.iter().zip(&side.firsts) {
                            assert!(b.len > 0 && b.len <= BLOCK);
                            assert_eq!(b.first(), f);
                            assert!(b.keys[..b.len].is_sorted());
                            let sum: u128 = b.qtys[..b.len].iter().map(|&q| q as u128).sum();
                            assert_eq!(b.sum, sum);
                        }
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
    }

    #[test]
    fn load_keeps_last_duplicate_and_drops_zeros() {
        let mut s = Side::new(SideKind::Ask);
        s.load(&[lv(10, 1), lv(11, 0), lv(10, 7)]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![lv(10, 7)]);
    }
}
