//! Ladder rows: the book's levels grouped into price buckets of k ticks, exactly (on the
//! integer price mantissas); the contiguous ladder's rows (every bucket in range, empty ones
//! included).
//!
//! Owns: the bucketing. Must not touch: drawing (the ladder renders the rows), screen state
//! (the UI state keeps the rows of the frame and the changes since the last view).

use microstate_core::num::Price;
use microstate_core::view::SymbolView;

/// One ladder row: a price bucket of `ticks_per_row` ticks and the quantity resting in it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// Bucket index (price / bucket width, floored for bids, ceiled for asks): stable across
    /// frames, so changes can be matched. Asks are negative-free keys offset apart from bids.
    pub key: i64,
    pub price: f64,
    pub qty: f64,
    pub bid: bool,
}

/// Rows of both sides grouped by `ticks_per_row` ticks, best first per side (asks then bids).
/// Exact: bucketing is done on the integer price mantissas.
pub fn bucket_rows(s: &SymbolView, ticks_per_row: u32) -> Vec<Row> {
    let tick = s.tick_exact.map_or(1_000_000, |t| t.0.max(1));
    let width = tick.saturating_mul(u64::from(ticks_per_row.max(1)));
    let mut out: Vec<Row> = Vec::with_capacity(s.bids.len() + s.asks.len());
    let mut push = |bid: bool, price: u64, qty: f64| {
        let idx = if bid {
            price / width
        } else {
            price.div_ceil(width)
        } as i64;
        let key = if bid { idx * 2 } else { idx * 2 + 1 };
        match out.last_mut() {
            Some(r) if r.key == key => r.qty += qty,
            _ => out.push(Row {
                key,
                price: Price(idx as u64 * width).to_f64(),
                qty,
                bid,
            }),
        }
    };
    for l in &s.asks {
        push(false, l.price.0, l.qty.to_f64());
    }
    for l in &s.bids {
        push(true, l.price.0, l.qty.to_f64());
    }
    out
}

/// A contiguous ladder (as a DOM shows it): `per_side` rows a side, every bucket from the best
/// ask up and from the best bid down, empty ones (quantity 0) included; asks then bids, best
/// first, as [`bucket_rows`] gives them. `rows` are [`bucket_rows`]'s of the same `s` and
/// `ticks_per_row`.
pub fn contiguous_rows(
    s: &SymbolView,
    ticks_per_row: u32,
    rows: &[Row],
    per_side: usize,
) -> Vec<Row> {
    let tick = s.tick_exact.map_or(1_000_000, |t| t.0.max(1));
    let width = tick.saturating_mul(u64::from(ticks_per_row.max(1)));
    let mut out = Vec::with_capacity(2 * per_side);
    for bid in [false, true] {
        let side: Vec<&Row> = rows.iter().filter(|r| r.bid == bid).collect();
        let Some(best) = side.first() else {
            continue;
        };
        let best_idx = best.key >> 1;
        let mut next = side.iter().peekable();
        for i in 0..per_side as i64 {
            let idx = if bid { best_idx - i } else { best_idx + i };
            if idx < 0 {
                break;
            }
            let key = if bid { idx * 2 } else { idx * 2 + 1 };
            let qty = match next.peek() {
                Some(r) if r.key == key => next.next().map_or(0.0, |r| r.qty),
                _ => 0.0,
            };
            out.push(Row {
                key,
                price: Price(idx as u64 * width).to_f64(),
                qty,
                bid,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_rows_fill_the_empty_ticks() {
        // Asks at 101, 104; bids at 100, 97 (tick 1 = 100_000_000 mantissa units).
        let r = |idx: i64, bid: bool, qty: f64| Row {
            key: if bid { idx * 2 } else { idx * 2 + 1 },
            price: idx as f64,
            qty,
            bid,
        };
        let rows = [
            r(101, false, 1.0),
            r(104, false, 2.0),
            r(100, true, 3.0),
            r(97, true, 4.0),
        ];
        let s = SymbolView {
            tick_exact: Some(Price(100_000_000)),
            ..crate::ui::heat::tests_support::symbol()
        };
        let c = contiguous_rows(&s, 1, &rows, 4);
        let got: Vec<(f64, f64, bool)> = c.iter().map(|r| (r.price, r.qty, r.bid)).collect();
        assert_eq!(
            got,
            [
                (101.0, 1.0, false),
                (102.0, 0.0, false),
                (103.0, 0.0, false),
                (104.0, 2.0, false),
                (100.0, 3.0, true),
                (99.0, 0.0, true),
                (98.0, 0.0, true),
                (97.0, 4.0, true),
            ]
        );
        // Fewer rows than levels: cut at per_side.
        assert_eq!(contiguous_rows(&s, 1, &rows, 1).len(), 2);
    }
}
