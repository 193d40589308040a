//! Time windows over one stream of events: a ring buffer shared by all windows, one cursor and
//! one set of running sums per window.
//!
//! Owns: the entries still inside the longest window, and the sums. Must not touch: what the
//! entries mean (the [`Sums`] implementation says), clocks (the caller passes event time).
//!
//! Window `i` at time `now` holds the entries with `t > now − w[i]`, i.e. `(now − w, now]`:
//! equal timestamps are all in, an entry exactly `w` old is out. Every entry is added once and
//! subtracted once per window, so an update is O(1) amortized. The sums are exact integers (the
//! callers make them so), hence no drift and no periodic recompute.
//!
//! The ring is bounded by count as well as by time ([`Windows::set_max`]): a peer that freezes
//! its event clock would otherwise grow it without limit. At the cap the oldest entry leaves
//! every window that still holds it (counted in [`Windows::evicted`]), as if it had aged out.

use std::collections::VecDeque;

use super::schema::N_WINDOWS;

/// An entry stamped with event time (ns).
pub(crate) trait Timed {
    fn t(&self) -> u64;
}

/// Running sums over the entries of one window.
pub(crate) trait Sums<E>: Default + Clone {
    fn add(&mut self, e: &E);
    /// Called for entries leaving the window, oldest first.
    fn sub(&mut self, e: &E);
}

/// Windows of increasing length over one stream.
#[derive(Clone, Debug)]
pub(crate) struct Windows<E, S> {
    ring: VecDeque<E>,
    /// Sequence number of `ring[0]`.
    base: u64,
    /// Sequence number of the first entry inside each window.
    cursor: [u64; N_WINDOWS],
    pub sums: [S; N_WINDOWS],
    /// Most entries kept; the oldest leaves early beyond it.
    max: usize,
    /// Entries that left early because of `max`.
    evicted: u64,
}

impl<E: Timed, S: Sums<E>> Default for Windows<E, S> {
    fn default() -> Self {
        Windows {
            ring: VecDeque::new(),
            base: 0,
            cursor: [0; N_WINDOWS],
            sums: Default::default(),
            max: crate::limits::DEFAULT_MAX_WINDOW_ENTRIES,
            evicted: 0,
        }
    }
}

impl<E: Timed, S: Sums<E>> Windows<E, S> {
    /// Caps the entries kept (at least 1).
    pub fn set_max(&mut self, max: usize) {
        self.max = max.max(1);
    }

    /// Entries that left early because the ring was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Adds an entry (no older than the previous one) to every window. At the cap the oldest
    /// entry leaves every window first.
    #[inline]
    pub fn push(&mut self, e: E) {
        while self.ring.len() >= self.max {
            let Some(old) = self.ring.pop_front() else {
                break;
            };
            for (c, s) in self.cursor.iter_mut().zip(&mut self.sums) {
                if *c == self.base {
                    s.sub(&old);
                    *c += 1;
                }
            }
            self.base += 1;
            self.evicted += 1;
        }
        for s in &mut self.sums {
            s.add(&e);
        }
        self.ring.push_back(e);
    }

    /// Moves every window to end at `now`: entries with `t + w ≤ now` leave. `lengths` must
    /// ascend (the last window is the longest and decides what the ring keeps). Returns a bit
    /// per window whose contents changed.
    #[inline]
    pub fn advance(&mut self, now: u64, lengths: &[u64; N_WINDOWS]) -> u8 {
        let end = self.base + self.ring.len() as u64;
        let mut changed = 0u8;
        for (i, &w) in lengths.iter().enumerate() {
            let mut c = self.cursor[i];
            while c < end {
                let e = &self.ring[(c - self.base) as usize];
                if e.t().saturating_add(w) > now {
                    break;
                }
                self.sums[i].sub(e);
                c += 1;
            }
            if c != self.cursor[i] {
                self.cursor[i] = c;
                changed |= 1 << i;
            }
        }
        let keep_from = self.cursor[N_WINDOWS - 1];
        while self.base < keep_from {
            self.ring.pop_front();
            self.base += 1;
        }
        changed
    }

    /// Entries kept (those inside the longest window).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ring.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    struct E(u64, u64);
    impl Timed for E {
        fn t(&self) -> u64 {
            self.0
        }
    }
    #[derive(Default, Clone, Debug, PartialEq)]
    struct Count {
        n: u64,
        sum: u64,
    }
    impl Sums<E> for Count {
        fn add(&mut self, e: &E) {
            self.n += 1;
            self.sum += e.1;
        }
        fn sub(&mut self, e: &E) {
            self.n -= 1;
            self.sum -= e.1;
        }
    }

    /// Table: (push at t with value, advance to now) → counts per window (1, 10, 100 ns).
    #[test]
    fn half_open_windows_and_ties() {
        let lengths = [1, 10, 100];
        let mut w: Windows<E, Count> = Windows::default();
        // Two events tied at t = 5: both in every window at now = 5.
        w.push(E(5, 1));
        w.push(E(5, 2));
        assert_eq!(w.advance(5, &lengths), 0);
        assert_eq!(w.sums.clone().map(|s| s.n), [2, 2, 2]);
        // At now = 6 the 1 ns window is (5, 6]: both leave it (exactly w old is out).
        assert_eq!(w.advance(6, &lengths), 0b001);
        assert_eq!(w.sums.clone().map(|s| s.n), [0, 2, 2]);
        w.push(E(6, 4));
        assert_eq!(w.sums.clone().map(|s| s.sum), [4, 7, 7]);
        // now = 15: (5, 15] keeps only t = 6 in the 10 ns window.
        assert_eq!(w.advance(15, &lengths), 0b011);
        assert_eq!(w.sums.clone().map(|s| s.sum), [0, 4, 7]);
        // now = 106: everything left every window, and the ring is empty.
        assert_eq!(w.advance(106, &lengths), 0b110);
        assert_eq!(w.sums.clone().map(|s| s.n), [0, 0, 0]);
        assert_eq!(w.len(), 0);
        // Going on after emptying works (sequence numbers keep counting).
        w.push(E(200, 9));
        assert_eq!(w.advance(200, &lengths), 0);
        assert_eq!(w.sums.clone().map(|s| s.sum), [9, 9, 9]);
    }

    /// A frozen clock used to grow the ring without limit; now the cap holds, and the sums
    /// equal a recount of the entries kept.
    #[test]
    fn a_frozen_clock_is_bounded_by_count() {
        let lengths = [1, 10, 100];
        let mut w: Windows<E, Count> = Windows::default();
        w.set_max(1000);
        for i in 0..100_000u64 {
            w.push(E(7, i));
            w.advance(7, &lengths);
        }
        assert_eq!(w.len(), 1000);
        assert_eq!(w.evicted(), 99_000);
        let kept: u64 = (99_000..100_000).sum();
        assert_eq!(w.sums.clone().map(|s| (s.n, s.sum)), [(1000, kept); 3]);
        // Time still works after evictions: everything ages out.
        assert_eq!(w.advance(1000, &lengths), 0b111);
        assert_eq!(w.len(), 0);
        assert_eq!(w.sums.clone().map(|s| s.n), [0, 0, 0]);
    }

    /// Against a recount from scratch on a long pseudo-random stream.
    #[test]
    fn matches_a_recount() {
        let lengths = [3, 17, 50];
        let mut w: Windows<E, Count> = Windows::default();
        let mut all: Vec<E> = Vec::new();
        let mut now = 0u64;
        let mut x = 12345u64;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            now += x % 4; // ties are common
            w.push(E(now, x % 1000));
            all.push(E(now, x % 1000));
            w.advance(now, &lengths);
            for (i, &len) in lengths.iter().enumerate() {
                let (n, sum) = all
                    .iter()
                    .filter(|e| e.0 + len > now)
                    .fold((0, 0), |(n, s), e| (n + 1, s + e.1));
                assert_eq!((w.sums[i].n, w.sums[i].sum), (n, sum));
            }
            assert!(w.len() <= all.iter().filter(|e| e.0 + 50 > now).count());
        }
    }
}
