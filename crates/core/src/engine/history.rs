//! One symbol's recent history for the screen: mid and microprice samples, trades, resting-size
//! columns for the heatmap, recorded by the engine after every frame.
//!
//! Owns: the sampling grid and the bounded queues. Must not touch: clocks (times are the frames'
//! receive times), the screen.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::book::OrderBook;

use super::SymbolState;

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
    pub samples: VecDeque<Sample>,
    pub trades: VecDeque<TradeMark>,
    pub columns: VecDeque<Arc<Column>>,
    next_sample: u64,
    next_column: u64,
    trades_seen: u64,
}

impl History {
    /// Records what changed for `st` at receive time `t`.
    pub fn observe(&mut self, cfg: &HistoryConfig, st: &SymbolState, t: u64) {
        if st.trades != self.trades_seen {
            self.trades_seen = st.trades;
            if let Some(tr) = st.last_trade {
                push_capped(
                    &mut self.trades,
                    cfg.trades,
                    TradeMark {
                        t_ns: t,
                        price: tr.price.to_f64(),
                        qty: tr.qty.to_f64(),
                        buy: !tr.buyer_is_maker,
                    },
                );
            }
        }
        if !st.sync.is_synced() {
            return;
        }
        let book = st.book();
        if t >= self.next_sample
            && let Some((mid, micro)) = mid_micro(book)
        {
            self.next_sample = t - t % cfg.sample_every_ns.max(1) + cfg.sample_every_ns;
            push_capped(
                &mut self.samples,
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
            push_capped(
                &mut self.columns,
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

fn push_capped<T>(q: &mut VecDeque<T>, cap: usize, v: T) {
    if q.len() >= cap.max(1) {
        q.pop_front();
    }
    q.push_back(v);
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
        let mut q = VecDeque::new();
        for i in 0..5 {
            push_capped(&mut q, cfg.samples, i);
        }
        assert_eq!(q, [2, 3, 4]);
    }
}
