//! Ladder rows: the book's levels grouped into price buckets of k ticks, exactly (on the
//! integer price mantissas).
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
