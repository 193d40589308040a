//! Binance wire shapes written byte by byte: REST depth snapshots and combined-stream envelopes
//! for `depthUpdate`, `trade` and `bookTicker`, spot and USD-M.
//!
//! Owns: field order, number formatting and the spot/futures differences of each payload. Must
//! not touch: the market model (it reads books, never changes them), receive times.
//!
//! Hand-written rather than serde: the generator must sustain hundreds of thousands of frames per
//! second, and every number here is an integer or a fixed-point mantissa printed exactly.

use super::model::{DiffOut, Lvl, Side, Spec, TradeOut};
use microstate_core::num::{POW10, SCALE};

/// How one symbol's frames are spelled.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    /// `BTCUSDT`, as in `"s"`.
    pub upper: String,
    /// `btcusdt`, as in stream names.
    pub lower: String,
    pub futures: bool,
    pub spec: Spec,
}

#[inline]
pub(crate) fn put_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Writes a mantissa (8 implied decimals) with exactly `dp` decimals. Exact as long as the value
/// is a multiple of `10^(8-dp)`, which the tick and lot sizes guarantee.
#[inline]
pub(crate) fn put_fixed(buf: &mut Vec<u8>, m: u64, dp: u32) {
    put_u64(buf, m / SCALE);
    if dp == 0 {
        return;
    }
    buf.push(b'.');
    let dp = dp.min(8) as usize;
    let frac = (m % SCALE) / POW10[8 - dp];
    let mut tmp = [b'0'; 8];
    let mut f = frac;
    for slot in tmp[..dp].iter_mut().rev() {
        *slot = b'0' + (f % 10) as u8;
        f /= 10;
    }
    buf.extend_from_slice(&tmp[..dp]);
}

impl Names {
    #[inline]
    fn price(&self, buf: &mut Vec<u8>, ticks: u64) {
        buf.push(b'"');
        put_fixed(buf, ticks * self.spec.tick, self.spec.price_dp);
        buf.push(b'"');
    }

    #[inline]
    fn qty(&self, buf: &mut Vec<u8>, lots: u64) {
        buf.push(b'"');
        put_fixed(buf, lots * self.spec.lot, self.spec.qty_dp);
        buf.push(b'"');
    }

    #[inline]
    fn level(&self, buf: &mut Vec<u8>, ticks: u64, lots: u64) {
        buf.push(b'[');
        self.price(buf, ticks);
        buf.push(b',');
        self.qty(buf, lots);
        buf.push(b']');
    }

    fn envelope(&self, buf: &mut Vec<u8>, stream: &str) {
        buf.extend_from_slice(b"{\"stream\":\"");
        buf.extend_from_slice(self.lower.as_bytes());
        buf.extend_from_slice(stream.as_bytes());
        buf.extend_from_slice(b"\",\"data\":");
    }

    fn symbol_field(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"\"s\":\"");
        buf.extend_from_slice(self.upper.as_bytes());
        buf.push(b'"');
    }

    fn int_field(buf: &mut Vec<u8>, key: &[u8], v: u64) {
        buf.extend_from_slice(key);
        put_u64(buf, v);
    }

    /// `GET /api/v3/depth` or `/fapi/v1/depth` body: every level of the book, best first.
    pub(crate) fn snapshot(&self, buf: &mut Vec<u8>, bids: &Side, asks: &Side, id: u64, ms: u64) {
        Self::int_field(buf, b"{\"lastUpdateId\":", id);
        if self.futures {
            Self::int_field(buf, b",\"E\":", ms);
            Self::int_field(buf, b",\"T\":", ms);
        }
        buf.extend_from_slice(b",\"bids\":[");
        for (i, l) in bids.levels.iter().rev().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            self.level(buf, l.ticks, l.lots);
        }
        buf.extend_from_slice(b"],\"asks\":[");
        for (i, l) in asks.levels.iter().rev().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            self.level(buf, l.ticks, l.lots);
        }
        buf.extend_from_slice(b"]}");
    }

    /// `<symbol>@depth@100ms`. `bid_ticks`/`ask_ticks` are the changed prices, sorted best first;
    /// each is written with its current quantity (0 = deleted).
    pub(crate) fn depth(
        &self,
        buf: &mut Vec<u8>,
        d: &DiffOut,
        bids: &Side,
        bid_ticks: &[u64],
        asks: &Side,
        ask_ticks: &[u64],
    ) {
        self.envelope(buf, "@depth@100ms");
        Self::int_field(buf, b"{\"e\":\"depthUpdate\",\"E\":", d.event_ms);
        if self.futures {
            Self::int_field(buf, b",\"T\":", d.transact_ms);
        }
        buf.push(b',');
        self.symbol_field(buf);
        Self::int_field(buf, b",\"U\":", d.first);
        Self::int_field(buf, b",\"u\":", d.last);
        if self.futures {
            Self::int_field(buf, b",\"pu\":", d.prev);
        }
        buf.extend_from_slice(b",\"b\":[");
        for (i, &t) in bid_ticks.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            self.level(buf, t, bids.lots_at(t));
        }
        buf.extend_from_slice(b"],\"a\":[");
        for (i, &t) in ask_ticks.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            self.level(buf, t, asks.lots_at(t));
        }
        buf.extend_from_slice(b"]}}");
    }

    /// `<symbol>@trade`. Spot carries `M` (ignore flag); futures carries `X` (order type).
    pub(crate) fn trade(&self, buf: &mut Vec<u8>, t: &TradeOut) {
        self.envelope(buf, "@trade");
        Self::int_field(buf, b"{\"e\":\"trade\",\"E\":", t.time_ms);
        if self.futures {
            Self::int_field(buf, b",\"T\":", t.time_ms);
        }
        buf.push(b',');
        self.symbol_field(buf);
        Self::int_field(buf, b",\"t\":", t.id);
        buf.extend_from_slice(b",\"p\":");
        self.price(buf, t.ticks);
        buf.extend_from_slice(b",\"q\":");
        self.qty(buf, t.lots);
        if self.futures {
            buf.extend_from_slice(b",\"X\":\"MARKET\"");
        } else {
            Self::int_field(buf, b",\"T\":", t.time_ms);
        }
        buf.extend_from_slice(if t.buyer_is_maker {
            b",\"m\":true"
        } else {
            b",\"m\":false"
        });
        if !self.futures {
            buf.extend_from_slice(b",\"M\":true");
        }
        buf.extend_from_slice(b"}}");
    }

    /// `<symbol>@bookTicker`. Spot has no `e`/`E`; futures adds `e`, `T`, `E`.
    pub(crate) fn book_ticker(
        &self,
        buf: &mut Vec<u8>,
        u: u64,
        bid: Lvl,
        ask: Lvl,
        event_ms: u64,
        transact_ms: u64,
    ) {
        self.envelope(buf, "@bookTicker");
        if self.futures {
            buf.extend_from_slice(b"{\"e\":\"bookTicker\",");
        } else {
            buf.push(b'{');
        }
        Self::int_field(buf, b"\"u\":", u);
        buf.push(b',');
        self.symbol_field(buf);
        buf.extend_from_slice(b",\"b\":");
        self.price(buf, bid.ticks);
        buf.extend_from_slice(b",\"B\":");
        self.qty(buf, bid.lots);
        buf.extend_from_slice(b",\"a\":");
        self.price(buf, ask.ticks);
        buf.extend_from_slice(b",\"A\":");
        self.qty(buf, ask.lots);
        if self.futures {
            Self::int_field(buf, b",\"T\":", transact_ms);
            Self::int_field(buf, b",\"E\":", event_ms);
        }
        buf.extend_from_slice(b"}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_is_exact_and_padded() {
        let show = |m, dp| {
            let mut b = Vec::new();
            put_fixed(&mut b, m, dp);
            String::from_utf8(b).expect("ascii")
        };
        assert_eq!(show(6_173_763_000_000, 8), "61737.63000000");
        assert_eq!(show(6_173_760_000_000, 2), "61737.60");
        assert_eq!(show(1_000, 8), "0.00001000");
        assert_eq!(show(100_000, 3), "0.001");
        assert_eq!(show(0, 8), "0.00000000");
        assert_eq!(show(12 * SCALE, 0), "12");
        assert_eq!(show(150_010_000, 4), "1.5001");
    }
}
