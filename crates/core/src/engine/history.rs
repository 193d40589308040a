//! One symbol's recent history for the screen: mid and microprice samples, trades, resting-size
//! columns for the heatmap, recorded by the engine after every frame.
//!
//! Owns: the sampling grid and the bounded queues. Must not touch: clocks (times are the frames'
//! receive times), the screen.
//!
//! # Sharing
//! The engine keeps each symbol's history in an `Arc` and every published view holds a clone
//! of that `Arc`: publishing copies nothing. The engine changes its history copy-on-write
//! (`Arc::make_mut`), only when a frame adds something; if a view still holds the old one, the
//! history is cloned then — and that clone is cheap too, because the queues are [`Recent`]:
//! chunks of 64 items shared between clones, so a clone copies a few dozen pointers, and the
//! first push after it copies at most the one chunk being filled.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::book::OrderBook;
use crate::book::sync::BookSync;
use crate::num::Price;
use crate::wire::Trade;

/// How the history is sampled (receive time, ns).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HistoryConfig {
    /// One mid/microprice sample per this much time.
    pub sample_every_ns: u64,
    /// Samples kept.
    pub samples: usize,
    /// One heatmap column (resting size per price) per this much time.
    pub column_every_ns: u64,
    /// Columns kept.
    pub columns: usize,
    /// Levels per side in a column.
    pub column_levels: usize,
    /// Trades kept.
    pub trades: usize,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            sample_every_ns: 250_000_000,
            samples: 1_440,
            column_every_ns: 500_000_000,
            columns: 480,
            column_levels: 40,
            trades: 600,
        }
    }
}

/// One mid/microprice sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub t_ns: u64,
    pub mid: f64,
    pub microprice: f64,
}

/// A trade as drawn: where, how big, which side took liquidity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TradeMark {
    pub t_ns: u64,
    pub price: f64,
    pub qty: f64,
    /// The aggressor bought (the seller was the maker).
    pub buy: bool,
    /// The exchange's trade time `T` (ms): the trades of one taker order share it.
    pub trade_ms: u64,
    /// The price, exact (for binning by tick).
    pub price_exact: Price,
}

/// Resting size per price at one moment (both sides, prices as f64 for drawing).
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub t_ns: u64,
    pub bids: Vec<(f64, f64)>,
    pub asks: Vec<(f64, f64)>,
}

/// One symbol's recent history, recorded by the engine after every frame.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub samples: Recent<Sample>,
    pub trades: Recent<TradeMark>,
    pub columns: Recent<Arc<Column>>,
    next_sample: u64,
    next_column: u64,
    trades_seen: u64,
}

/// What the history looks at after a frame: the symbol's trade count and last trade, and its
/// book (while synced).
#[derive(Clone, Copy)]
pub struct Observed<'a> {
    pub trades: u64,
    pub last_trade: Option<&'a Trade>,
    pub sync: &'a BookSync,
}

impl History {
    /// Would [`Self::observe`] change anything? (Cheap; the engine asks before writing to a
    /// history a view may share.)
    pub fn wants(&self, o: &Observed<'_>, t: u64) -> bool {
        if o.trades != self.trades_seen {
            return true;
        }
        o.sync.is_synced()
            && (t >= self.next_column
                || (t >= self.next_sample && mid_micro(o.sync.book()).is_some()))
    }

    /// Records what changed at receive time `t`.
    pub fn observe(&mut self, cfg: &HistoryConfig, o: &Observed<'_>, t: u64) {
        if o.trades != self.trades_seen {
            self.trades_seen = o.trades;
            if let Some(tr) = o.last_trade {
                self.trades.push_capped(
                    cfg.trades,
                    TradeMark {
                        t_ns: t,
                        price: tr.price.to_f64(),
                        qty: tr.qty.to_f64(),
                        buy: !tr.buyer_is_maker,
                        trade_ms: tr.trade_time_ms,
                        price_exact: tr.price,
                    },
                );
            }
        }
        if !o.sync.is_synced() {
            return;
        }
        let book = o.sync.book();
        if t >= self.next_sample
            && let Some((mid, micro)) = mid_micro(book)
        {
            self.next_sample = t - t % cfg.sample_every_ns.max(1) + cfg.sample_every_ns;
            self.samples.push_capped(
                cfg.samples,
                Sample {
                    t_ns: t,
                    mid,
                    microprice: micro,
                },
            );
        }
        if t >= self.next_column {
            self.next_column = t - t % cfg.column_every_ns.max(1) + cfg.column_every_ns;
            let side = |s: &crate::book::Side| {
                s.top(cfg.column_levels)
                    .map(|l| (l.price.to_f64(), l.qty.to_f64()))
                    .collect()
            };
            self.columns.push_capped(
                cfg.columns,
                Arc::new(Column {
                    t_ns: t,
                    bids: side(&book.bids),
                    asks: side(&book.asks),
                }),
            );
        }
    }
}

/// Items per shared chunk of a [`Recent`].
const CHUNK: usize = 64;

/// A bounded queue, oldest first, that is cheap to clone: its items sit in chunks of
/// `CHUNK` (64) shared between clones (`Arc`); a push copies at most the chunk being filled, and
/// only when a clone shares it.
#[derive(Clone, Debug)]
pub struct Recent<T> {
    chunks: VecDeque<Arc<Vec<T>>>,
    /// Items at the start of the first chunk that have left the queue.
    head: usize,
    len: usize,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Recent {
            chunks: VecDeque::new(),
            head: 0,
            len: 0,
        }
    }
}

impl<T> Recent<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        let head = self.head;
        self.chunks
            .iter()
            .enumerate()
            .flat_map(move |(i, c)| c[if i == 0 { head } else { 0 }..].iter())
    }

    /// The oldest item.
    pub fn front(&self) -> Option<&T> {
        self.chunks.front().and_then(|c| c.get(self.head))
    }

    /// The newest item.
    pub fn back(&self) -> Option<&T> {
        self.chunks.back().and_then(|c| c.last())
    }

    fn pop_front(&mut self) {
        if self.len == 0 {
            return;
        }
        self.head += 1;
        self.len -= 1;
        if self.chunks.front().is_some_and(|c| self.head >= c.len()) {
            self.chunks.pop_front();
            self.head = 0;
        }
    }
}

impl<T: Clone> Recent<T> {
    /// Appends `v`, dropping the oldest item when `cap` are held.
    pub fn push_capped(&mut self, cap: usize, v: T) {
        if self.len >= cap.max(1) {
            self.pop_front();
        }
        match self.chunks.back_mut() {
            Some(c) if c.len() < CHUNK => Arc::make_mut(c).push(v),
            _ => {
                let mut c = Vec::with_capacity(CHUNK);
                c.push(v);
                self.chunks.push_back(Arc::new(c));
            }
        }
        self.len += 1;
    }
}

/// Mid and microprice of a two-sided book.
pub fn mid_micro(book: &OrderBook) -> Option<(f64, f64)> {
    let bbo = book.bbo();
    let (b, a) = (bbo.bid?, bbo.ask?);
    let (bp, bq, ap, aq) = (
        b.price.to_f64(),
        b.qty.to_f64(),
        a.price.to_f64(),
        a.qty.to_f64(),
    );
    let mid = (bp + ap) / 2.0;
    let micro = if bq + aq > 0.0 {
        (bp * aq + ap * bq) / (bq + aq)
    } else {
        mid
    };
    Some((mid, micro))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_samples_on_a_grid_and_keeps_a_bounded_window() {
        let cfg = HistoryConfig {
            sample_every_ns: 100,
            samples: 3,
            ..HistoryConfig::default()
        };
        let mut q = Recent::default();
        for i in 0..5 {
            q.push_capped(cfg.samples, i);
        }
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!((q.front(), q.back(), q.len()), (Some(&2), Some(&4), 3));
    }

    #[test]
    fn a_bounded_queue_across_chunks_is_the_plain_queue_and_clones_share_full_chunks() {
        // Against VecDeque, for capacities below, at and across chunk boundaries.
        for cap in [1, 5, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7] {
            let mut plain = VecDeque::new();
            let mut q = Recent::default();
            for i in 0..(5 * CHUNK + 11) {
                if plain.len() >= cap {
                    plain.pop_front();
                }
                plain.push_back(i);
                q.push_capped(cap, i);
                assert_eq!(q.len(), plain.len());
                assert!(q.iter().eq(plain.iter()), "cap {cap} after {i}");
                assert!(q.iter().rev().eq(plain.iter().rev()));
                assert_eq!(q.front(), plain.front());
                assert_eq!(q.back(), plain.back());
            }
        }
        // A clone shares every chunk; writing to one side leaves the other as it was.
        let mut a = Recent::default();
        for i in 0..(3 * CHUNK + 5) {
            a.push_capped(1000, i);
        }
        let b = a.clone();
        assert!(
            a.chunks
                .iter()
                .zip(&b.chunks)
                .all(|(x, y)| Arc::ptr_eq(x, y))
        );
        a.push_capped(1000, 9999);
        assert_eq!(b.len(), 3 * CHUNK + 5);
        assert_eq!(b.back(), Some(&(3 * CHUNK + 4)));
        assert_eq!(a.back(), Some(&9999));
        let shared = a
            .chunks
            .iter()
            .zip(&b.chunks)
            .filter(|(x, y)| Arc::ptr_eq(x, y))
            .count();
        assert_eq!(shared, 3, "only the chunk being filled was copied");
    }
}
