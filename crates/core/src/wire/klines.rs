//! Binance REST kline (candlestick) answers: `/api/v3/klines`, `/fapi/v1/klines`,
//! `/dapi/v1/klines`, parsed exactly.
//!
//! Owns: the answer's shape — a JSON array of 12-element arrays
//! `[openTime, "open", "high", "low", "close", "volume", closeTime, "quoteVolume", trades,
//! "takerBuyBase", "takerBuyQuote", "ignore"]` — with prices and volumes as exact mantissas
//! ([`Price`], [`Qty`]; 8 implied decimals, never rounded), and its recognition in a REST body
//! ([`is_klines_body`]: a depth snapshot is an object, a kline answer an array). Must not touch:
//! what the closes mean (the context model's seeding), sockets, clocks.
//!
//! COIN-M's volume is in contracts and its quote volume in base asset: both are read as the
//! decimals they are. Extra trailing elements are skipped; missing ones are errors.

use super::scan::Cur;
use super::{ParseError, ParseErrorKind};
use crate::num::{Price, Qty};

/// One kline as Binance sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireKline {
    /// Open time, ms since the epoch.
    pub open_time_ms: u64,
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    /// Base-asset volume (contracts on COIN-M).
    pub volume: Qty,
    /// Close time, ms (`open + interval − 1` on Binance).
    pub close_time_ms: u64,
    pub quote_volume: Qty,
    pub trades: u64,
}

const MINUTE_MS: u64 = 60_000;

impl WireKline {
    /// `(minute_ms, close)` for seeding the context: the close is the price at the minute
    /// boundary `open_time + 1 min`.
    pub fn close_sample(&self) -> (i64, f64) {
        ((self.open_time_ms + MINUTE_MS) as i64, self.close.to_f64())
    }

    /// True when the minute is over at `now_ms` (its close time has passed): an in-progress
    /// kline's "close" is only the latest trade.
    pub fn closed_at(&self, now_ms: u64) -> bool {
        self.close_time_ms < now_ms
    }
}

/// Whether a REST body is a kline answer (a JSON array) rather than a depth snapshot (an
/// object). Looks at the first non-whitespace byte only.
pub fn is_klines_body(b: &[u8]) -> bool {
    b.iter()
        .find(|c| !c.is_ascii_whitespace())
        .is_some_and(|&c| c == b'[')
}

/// Parses a kline answer. An empty array is valid (no klines in the range).
pub fn parse_klines(b: &[u8]) -> Result<Vec<WireKline>, ParseError> {
    let mut c = Cur::new(b);
    c.eat(b'[', "'['")?;
    let mut out = Vec::new();
    if c.peek()? == b']' {
        c.i += 1;
    } else {
        loop {
            out.push(one(&mut c)?);
            if !c.next_member(b']')? {
                break;
            }
        }
    }
    if !c.at_end() {
        return Err(c.err(ParseErrorKind::TrailingCharacters));
    }
    Ok(out)
}

fn one(c: &mut Cur<'_>) -> Result<WireKline, ParseError> {
    c.eat(b'[', "'[' (a kline)")?;
    let more = |c: &mut Cur<'_>, field: &'static str| -> Result<(), ParseError> {
        if c.next_member(b']')? {
            Ok(())
        } else {
            Err(c.err(ParseErrorKind::MissingField {
                event: "kline",
                field,
            }))
        }
    };
    let open_time_ms = c.u64()?;
    more(c, "open")?;
    let open = Price(c.decimal()?);
    more(c, "high")?;
    let high = Price(c.decimal()?);
    more(c, "low")?;
    let low = Price(c.decimal()?);
    more(c, "close")?;
    let close = Price(c.decimal()?);
    more(c, "volume")?;
    let volume = Qty(c.decimal()?);
    more(c, "closeTime")?;
    let close_time_ms = c.u64()?;
    more(c, "quoteVolume")?;
    let quote_volume = Qty(c.decimal()?);
    more(c, "trades")?;
    let trades = c.u64()?;
    // Taker volumes and the unused field: validated, not kept.
    while c.next_member(b']')? {
        c.skip_value()?;
    }
    Ok(WireKline {
        open_time_ms,
        open,
        high,
        low,
        close,
        volume,
        close_time_ms,
        quote_volume,
        trades,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binance's documented example answer.
    const DOC: &str = r#"[
  [
    1499040000000,
    "0.01634790",
    "0.80000000",
    "0.01575800",
    "0.01577100",
    "148976.11427815",
    1499644799999,
    "2434.19055334",
    308,
    "1756.87402397",
    "28.46694368",
    "0"
  ]
]"#;

    #[test]
    fn documented_answer_parses_exactly() {
        assert!(is_klines_body(DOC.as_bytes()));
        assert!(!is_klines_body(br#" {"lastUpdateId":1}"#));
        let k = parse_klines(DOC.as_bytes()).unwrap();
        assert_eq!(k.len(), 1);
        assert_eq!(k[0].open_time_ms, 1_499_040_000_000);
        assert_eq!(k[0].close, Price(1_577_100));
        assert_eq!(k[0].volume, Qty(14_897_611_427_815));
        assert_eq!(k[0].close_time_ms, 1_499_644_799_999);
        assert_eq!(k[0].trades, 308);
        assert_eq!(k[0].close.to_string(), "0.015771");
        assert!(parse_klines(b"[]").unwrap().is_empty());
        let (t, c) = k[0].close_sample();
        assert_eq!(t, 1_499_040_060_000);
        assert!((c - 0.015771).abs() < 1e-12);
        assert!(k[0].closed_at(1_499_644_800_000));
        assert!(!k[0].closed_at(1_499_644_799_999));
    }

    #[test]
    fn malformed_answers_are_refused_with_a_place() {
        for (body, want) in [
            (r#"[[1,"1","1","1"]]"#, "without field `close`"),
            (r#"[[1,"1","1","1","x","1",2,"1",3]]"#, "bad decimal"),
            (
                r#"[[1,"1","1","1","1.123456789","1",2,"1",3]]"#,
                "more than 8",
            ),
            (r#"[[1,"1","1","1","1","1",2,"1",3]] x"#, "characters after"),
            (r#"{"code":-1121}"#, "expected '['"),
            (r#"[[-1,"1","1","1","1","1",2,"1",3]]"#, "unsigned integer"),
        ] {
            let e = parse_klines(body.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{body}: {e}");
        }
    }
}
