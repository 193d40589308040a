//! The blocked sorted run under the window: every level the window does not hold, in
//! ascending key order, cut into blocks of at most [`BLOCK`] entries (a one-level B-tree).
//!
//! Owns: blocks, their first keys and sums, splits and merges. Must not touch: prices (it sees
//! keys only; [`super::Side`] maps prices to keys), the window.
//!
//! The highest key (the best level) is read in O(1) and the top N are the last entries of the
//! last block or two, equally cheap on sparse and dense books. An update finds its block by
//! galloping from the best end over the blocks' first keys (kept in their own dense array),
//! then searches the block; inserting or deleting moves at most one block's entries. Real diff
//! streams touch levels hundreds deep all the time (Binance spot `@depth@100ms` updates have a
//! median depth of ~130 levels), which in one flat vector cost a memmove of the whole run above
//! them on every insert or delete.

use super::Entry;
use crate::num::{Price, Qty};
use crate::wire::Level;

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
/// from quantities, so a search reads keys only. Boxed in [`Blocks`], so splits and merges move
/// pointers. `sum` is the total of `qtys[..len]` (u128: 32 u64 quantities cannot overflow it),
/// kept by every change so that "quantity within a price band" ([`Blocks::qty_within`]) adds
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

/// Levels in ascending key order, cut into blocks (see the module doc).
#[derive(Clone, Debug, Default)]
pub(super) struct Blocks {
    /// Non-empty blocks in ascending key order. Boxed on purpose (a block is 1 KiB): a split or
    /// merge then shifts pointers, not blocks.
    #[allow(clippy::vec_box)]
    blocks: Vec<Box<Block>>,
    /// `firsts[j] == blocks[j].first()`: searched without touching the blocks themselves.
    firsts: Vec<u64>,
    /// Total number of levels.
    len: usize,
}

impl Blocks {
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
    pub(super) fn set(&mut self, key: u64, qty: u64) {
        match self.find(key) {
            None => {
                if qty != 0 {
                    let mut b = Block::new();
                    b.insert(0, Entry { key, qty });
                    self.blocks.push(b);
                    self.firsts.push(key);
                    self.len = 1;
                }
            }
            Some((j, Ok(i))) => {
                if qty == 0 {
                    self.remove(j, i);
                } else {
                    let b = &mut self.blocks[j];
                    let old = std::mem::replace(&mut b.qtys[i], qty);
                    // Wrapping: `sum - old + new` without an intermediate underflow.
                    b.sum = b.sum.wrapping_add(qty as u128).wrapping_sub(old as u128);
                }
            }
            Some((j, Err(i))) => {
                if qty != 0 {
                    self.insert(j, i, Entry { key, qty });
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

    /// The highest key. O(1).
    #[inline]
    pub(super) fn best(&self) -> Option<Entry> {
        let b = self.blocks.last()?;
        Some(b.entry(b.len - 1))
    }

    /// Total quantity of the levels with keys at or above `limit`. Whole blocks are added
    /// through their kept sums, so the cost is the number of blocks in the band plus one binary
    /// search, not the number of levels.
    pub(super) fn qty_within(&self, limit: u64) -> u128 {
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

    /// Quantity resting at `key`, if any.
    pub(super) fn get(&self, key: u64) -> Option<u64> {
        match self.find(key)? {
            (j, Ok(i)) => Some(self.blocks[j].qtys[i]),
            (_, Err(_)) => None,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn clear(&mut self) {
        self.blocks.clear();
        self.firsts.clear();
        self.len = 0;
    }

    /// Appends every level in ascending key order to `out`.
    pub(super) fn entries_into(&self, out: &mut Vec<Entry>) {
        for b in &self.blocks {
            out.extend((0..b.len).map(|i| b.entry(i)));
        }
    }

    /// Replaces the levels with `sorted` (strictly ascending keys, no zero quantity).
    pub(super) fn load_sorted(&mut self, sorted: &[Entry]) {
        self.clear();
        self.len = sorted.len();
        // Full chunks from the best end, so the blocks read most hold the most.
        for chunk in sorted.rchunks(LOAD_FILL).rev() {
            self.firsts.push(chunk[0].key);
            self.blocks.push(Block::from_entries(chunk));
        }
    }

    /// Writes the levels from the highest key down as levels (`key ^ flip`) into `out` until
    /// it is full; returns how many it wrote.
    #[inline]
    pub(super) fn top_into(&self, flip: u64, out: &mut [Level]) -> usize {
        let mut k = 0;
        for b in self.blocks.iter().rev() {
            let take = b.len.min(out.len() - k);
            let dst = &mut out[k..k + take];
            let (keys, qtys) = (&b.keys[b.len - take..b.len], &b.qtys[b.len - take..b.len]);
            for ((d, &key), &qty) in dst.iter_mut().zip(keys.iter().rev()).zip(qtys.iter().rev()) {
                *d = Level {
                    price: Price(key ^ flip),
                    qty: Qty(qty),
                };
            }
            k += take;
            if k == out.len() {
                break;
            }
        }
        k
    }

    /// A cursor before the highest key: [`Cursor::next_entry`] walks down from there.
    #[inline]
    pub(super) fn cursor(&self) -> Cursor<'_> {
        Cursor {
            blocks: &self.blocks,
            j: self.blocks.len(),
            blk: &EMPTY,
            i: 0,
        }
    }

    /// Checks the blocks' invariants (tests).
    #[cfg(test)]
    pub(super) fn check(&self) {
        assert_eq!(self.blocks.len(), self.firsts.len());
        let mut n = 0;
        for (b, &f) in self.blocks.iter().zip(&self.firsts) {
            assert!(b.len > 0 && b.len <= BLOCK);
            assert_eq!(b.first(), f);
            assert!(b.keys[..b.len].is_sorted());
            let sum: u128 = b.qtys[..b.len].iter().map(|&q| q as u128).sum();
            assert_eq!(b.sum, sum);
            n += b.len;
        }
        assert_eq!(n, self.len);
    }
}

/// Walks [`Blocks`] from the highest key down: the next entry is entry `i - 1` of `blk`,
/// which is `blocks[j]`.
pub(super) struct Cursor<'a> {
    blocks: &'a [Box<Block>],
    j: usize,
    blk: &'a Block,
    i: usize,
}

impl Cursor<'_> {
    /// The next entry down, `None` past the lowest.
    #[inline]
    pub(super) fn next_entry(&mut self) -> Option<Entry> {
        while self.i == 0 {
            // Blocks are never empty.
            self.j = self.j.checked_sub(1)?;
            self.blk = &self.blocks[self.j];
            self.i = self.blk.len;
        }
        self.i -= 1;
        Some(self.blk.entry(self.i))
    }
}
