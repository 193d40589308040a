//! Time & sales and volume at price, from a symbol's recent trades: the tape's rows (trades of
//! one taker order folded into one row) and the traded volume per exact price, split by the
//! aggressor's side.
//!
//! Owns: the aggregation rule and the binning. Must not touch: clocks, the screen (the screen
//! decides colours, the large-trade highlight and how prices are grouped into its rows).
//!
//! # One taker order, one row
//! Binance's trade streams carry no taker order id. A taker order that sweeps several resting
//! orders prints several trades with the same trade time `T` and the same side, one after the
//! other; no other order's trade comes between them (the matching engine fills one taker order
//! at a time). So consecutive trades with the same `T` and the same side are folded into one row,
//! with the first and last price (the sweep) and the summed size. Two distinct takers on the same
//! side within the same millisecond are indistinguishable from the feed and are folded too — the
//! tape says `×n` (the number of prints) so a person can tell.

use crate::engine::history::{Recent, TradeMark};
use crate::num::Price;

/// One row of the tape: one taker order (as far as the feed tells).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TapeRow {
    /// Receive time of its last print (ns; the data clock).
    pub t_ns: u64,
    /// Exchange trade time `T` (ms).
    pub trade_ms: u64,
    /// Price of the first and of the last print (the sweep goes from one to the other).
    pub first_price: Price,
    pub last_price: Price,
    /// Summed size (base asset) and notional (quote asset, Σ price × qty).
    pub qty: f64,
    pub quote: f64,
    /// The aggressor bought.
    pub buy: bool,
    /// Prints folded into this row.
    pub prints: u32,
}

impl TapeRow {
    fn start(t: &TradeMark) -> TapeRow {
        TapeRow {
            t_ns: t.t_ns,
            trade_ms: t.trade_ms,
            first_price: t.price_exact,
            last_price: t.price_exact,
            qty: t.qty,
            quote: t.qty * t.price,
            buy: t.buy,
            prints: 1,
        }
    }

    /// Volume-weighted average price of the row.
    pub fn vwap(&self) -> f64 {
        if self.qty > 0.0 {
            self.quote / self.qty
        } else {
            self.last_price.to_f64()
        }
    }

    /// At or above either threshold (`None`: that threshold is off).
    pub fn is_large(&self, base: Option<f64>, quote: Option<f64>) -> bool {
        base.is_some_and(|b| self.qty >= b) || quote.is_some_and(|q| self.quote >= q)
    }
}

/// Does `t` (the next print, in arrival order) belong to the taker order of `row`?
fn same_taker(row: &TapeRow, t: &TradeMark) -> bool {
    row.trade_ms == t.trade_ms && row.buy == t.buy
}

/// The newest `rows` rows of the tape, newest first, folding consecutive prints of one taker
/// order (same trade time, same side) into one row. Reads the trades newest first and stops as
/// soon as `rows` rows are complete.
pub fn tape<'a, I>(trades: I, rows: usize) -> Vec<TapeRow>
where
    I: DoubleEndedIterator<Item = &'a TradeMark>,
{
    let mut out: Vec<TapeRow> = Vec::with_capacity(rows);
    if rows == 0 {
        return out;
    }
    for t in trades.rev() {
        match out.last_mut() {
            // Reading backwards: `t` printed just before the row's first print.
            Some(r) if same_taker(r, t) => {
                r.first_price = t.price_exact;
                r.qty += t.qty;
                r.quote += t.qty * t.price;
                r.prints += 1;
            }
            _ => {
                if out.len() == rows {
                    break;
                }
                out.push(TapeRow::start(t));
            }
        }
    }
    out
}

/// Traded volume at one exact price, split by the aggressor's side (base asset).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VolumeAtPrice {
    pub price: Price,
    pub buy: f64,
    pub sell: f64,
}

/// Volume per exact price of the trades received at or after `since_ns`, highest price first,
/// at most `max` prices (those nearest `around` when there are more; the highest ones when
/// `around` is `None`).
pub fn volume_at_price(
    trades: &Recent<TradeMark>,
    since_ns: u64,
    around: Option<Price>,
    max: usize,
) -> Vec<VolumeAtPrice> {
    let mut out: Vec<VolumeAtPrice> = Vec::new();
    for t in trades.iter().filter(|t| t.t_ns >= since_ns) {
        let i = match out.binary_search_by(|v| t.price_exact.cmp(&v.price)) {
            Ok(i) => i,
            Err(i) => {
                out.insert(
                    i,
                    VolumeAtPrice {
                        price: t.price_exact,
                        buy: 0.0,
                        sell: 0.0,
                    },
                );
                i
            }
        };
        if t.buy {
            out[i].buy += t.qty;
        } else {
            out[i].sell += t.qty;
        }
    }
    if out.len() > max {
        let start = match around {
            Some(p) => {
                let centre = out.partition_point(|v| v.price > p);
                centre
                    .saturating_sub(max / 2)
                    .min(out.len().saturating_sub(max))
            }
            None => 0,
        };
        out.drain(..start);
        out.truncate(max);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(t_ns: u64, trade_ms: u64, price: u64, qty: f64, buy: bool) -> TradeMark {
        TradeMark {
            t_ns,
            price: price as f64 / 1e8,
            qty,
            buy,
            trade_ms,
            price_exact: Price(price),
        }
    }

    fn recent(trades: &[TradeMark]) -> Recent<TradeMark> {
        let mut r = Recent::default();
        for t in trades {
            r.push_capped(1000, *t);
        }
        r
    }

    #[test]
    fn prints_of_one_taker_fold_into_one_row_and_others_do_not() {
        let p = |x: u64| x * 100_000_000;
        let trades = recent(&[
            print(1, 100, p(10), 1.0, true),
            // A buy sweep at T=101 over three levels.
            print(2, 101, p(10), 0.5, true),
            print(3, 101, p(11), 0.25, true),
            print(4, 101, p(12), 0.25, true),
            // Same ms, the other side: another taker.
            print(5, 101, p(9), 2.0, false),
            // Same side as the first, a later ms: another taker.
            print(6, 102, p(9), 1.0, false),
        ]);
        let rows = tape(trades.iter(), 10);
        assert_eq!(rows.len(), 4);
        assert_eq!(
            (rows[0].trade_ms, rows[0].prints, rows[0].buy),
            (102, 1, false)
        );
        assert_eq!(
            (rows[1].trade_ms, rows[1].prints, rows[1].buy),
            (101, 1, false)
        );
        let sweep = rows[2];
        assert_eq!((sweep.trade_ms, sweep.prints, sweep.buy), (101, 3, true));
        assert_eq!(
            (sweep.first_price, sweep.last_price),
            (Price(p(10)), Price(p(12)))
        );
        assert!((sweep.qty - 1.0).abs() < 1e-12);
        assert!((sweep.quote - (5.0 + 2.75 + 3.0)).abs() < 1e-9);
        assert!((sweep.vwap() - 10.75).abs() < 1e-9);
        assert_eq!(sweep.t_ns, 4, "the row's time is its last print's");
        assert_eq!(rows[3].prints, 1);
        // Fewer rows asked: the newest, complete.
        let two = tape(trades.iter(), 2);
        assert_eq!(two, rows[..2]);
        let three = tape(trades.iter(), 3);
        assert_eq!(
            three[2].prints, 3,
            "the last row asked for is folded completely"
        );
        assert!(tape(trades.iter(), 0).is_empty());
    }

    #[test]
    fn large_is_either_threshold() {
        let r = tape(
            recent(&[print(1, 1, 100 * 100_000_000, 2.0, true)]).iter(),
            1,
        )[0];
        assert!(r.is_large(Some(2.0), None));
        assert!(!r.is_large(Some(2.5), None));
        assert!(r.is_large(Some(2.5), Some(200.0)));
        assert!(!r.is_large(None, Some(200.01)));
        assert!(!r.is_large(None, None));
    }

    #[test]
    fn volume_is_binned_per_exact_price_and_side_over_the_window() {
        let trades = recent(&[
            print(1, 1, 1000, 9.0, true), // before the window
            print(5, 2, 1000, 1.0, true),
            print(6, 3, 1001, 2.0, false),
            print(7, 4, 1000, 0.5, false),
            print(8, 5, 999, 0.25, true),
        ]);
        let v = volume_at_price(&trades, 5, None, 10);
        assert_eq!(
            v,
            vec![
                VolumeAtPrice {
                    price: Price(1001),
                    buy: 0.0,
                    sell: 2.0
                },
                VolumeAtPrice {
                    price: Price(1000),
                    buy: 1.0,
                    sell: 0.5
                },
                VolumeAtPrice {
                    price: Price(999),
                    buy: 0.25,
                    sell: 0.0
                },
            ]
        );
        // Bounded: the prices nearest the touch.
        let near = volume_at_price(&trades, 0, Some(Price(999)), 2);
        assert_eq!(
            near.iter().map(|v| v.price).collect::<Vec<_>>(),
            [Price(1000), Price(999)]
        );
        let top = volume_at_price(&trades, 0, None, 1);
        assert_eq!(top[0].price, Price(1001));
        assert!(volume_at_price(&trades, 100, None, 10).is_empty());
    }
}
