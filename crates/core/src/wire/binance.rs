//! The fast Binance market-data decoder.
//!
//! Owns: turning one frame (combined-stream envelope `{"stream","data"}`, a raw stream payload, or
//! a REST depth snapshot body) into an [`Event`], in one pass over the bytes, straight to
//! fixed-point numbers. Must not touch: book state.
//!
//! Fields are gathered in whatever order they come; the event kind is decided at the end from
//! `e` (or, for payloads without `e`, from their shape: `lastUpdateId` → snapshot; `u`+`b`+`a`
//! strings → spot bookTicker). Keys Binance uses with two meanings are told apart by value type:
//! `b`/`a` are level arrays in `depthUpdate`, price strings in `bookTicker`, and `a` is the
//! aggregate trade id in `aggTrade`. Unknown keys and streams are skipped (validated, not read).

use super::scan::{self, Cur, LevelShape};
use super::{
    BookTicker, DepthUpdate, Event, Level, Other, OtherKind, ParseError, ParseErrorKind, Snapshot,
    Trade, TradeKind,
};
use crate::num::{Price, Qty, Symbol};

/// Reusable decoder: owns the level buffers the returned events borrow.
#[derive(Clone, Default)]
pub struct Decoder {
    bids: Vec<Level>,
    asks: Vec<Level>,
    depth: DepthUpdate,
    snapshot: Snapshot,
}

/// How the `b` / `a` keys were used in this frame.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Dual {
    #[default]
    Absent,
    Levels,
    Price(u64),
    Id(u64),
}

#[derive(Default)]
struct Fields<'a> {
    stream: Option<&'a [u8]>,
    e: Option<&'a [u8]>,
    s: Option<&'a [u8]>,
    symbol: Option<&'a [u8]>,
    big_e: Option<u64>,
    big_t: Option<u64>,
    big_u: Option<u64>,
    u: Option<u64>,
    pu: Option<u64>,
    last_update_id: Option<u64>,
    t: Option<u64>,
    b: Dual,
    a: Dual,
    big_b: Option<u64>,
    big_a: Option<u64>,
    p: Option<u64>,
    q: Option<u64>,
    m: Option<bool>,
    bids: bool,
    asks: bool,
    has_result: bool,
    has_code: bool,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one frame. The returned event borrows this decoder until the next call.
    pub fn decode(&mut self, frame: &[u8]) -> Result<Event<'_>, ParseError> {
        let mut cur = Cur::new(frame);
        let mut f = Fields::default();
        self.bids.clear();
        self.asks.clear();
        if cur.peek()? != b'{' {
            return Err(cur.err(ParseErrorKind::NotAnObject));
        }
        self.object(&mut cur, &mut f, true)?;
        if !cur.at_end() {
            return Err(cur.err(ParseErrorKind::TrailingCharacters));
        }
        self.classify(&f, frame, &cur)
    }

    fn object<'a>(
        &mut self,
        cur: &mut Cur<'a>,
        f: &mut Fields<'a>,
        top: bool,
    ) -> Result<(), ParseError> {
        cur.eat(b'{', "'{'")?;
        if cur.peek()? == b'}' {
            cur.i += 1;
            return Ok(());
        }
        loop {
            let key = cur.key()?;
            match key {
                b"stream" if top => f.stream = Some(cur.plain_str()?),
                b"data" if top && cur.peek()? == b'{' => self.object(cur, f, false)?,
                b"e" => f.e = Some(str_field(cur, "e")?),
                b"s" => f.s = Some(str_field(cur, "s")?),
                b"symbol" => f.symbol = Some(str_field(cur, "symbol")?),
                b"E" => f.big_e = Some(int_field(cur, "E")?),
                b"T" => f.big_t = Some(int_field(cur, "T")?),
                b"U" => f.big_u = Some(int_field(cur, "U")?),
                b"u" => f.u = Some(int_field(cur, "u")?),
                b"pu" => f.pu = Some(int_field(cur, "pu")?),
                b"lastUpdateId" => f.last_update_id = Some(int_field(cur, "lastUpdateId")?),
                b"t" => f.t = Some(int_field(cur, "t")?),
                b"b" => f.b = dual(cur, &mut self.bids, "b")?,
                b"a" => f.a = dual(cur, &mut self.asks, "a")?,
                b"B" => f.big_b = Some(dec_field(cur, "B")?),
                b"A" => f.big_a = Some(dec_field(cur, "A")?),
                b"p" => f.p = Some(dec_field(cur, "p")?),
                b"q" => f.q = Some(dec_field(cur, "q")?),
                b"m" => f.m = Some(cur.bool()?),
                b"bids" => {
                    levels(cur, &mut self.bids)?;
                    f.bids = true;
                }
                b"asks" => {
                    levels(cur, &mut self.asks)?;
                    f.asks = true;
                }
                b"result" if top => {
                    f.has_result = true;
                    cur.skip_value()?;
                }
                b"code" if top => {
                    f.has_code = true;
                    cur.skip_value()?;
                }
                _ => cur.skip_value()?,
            }
            if !cur.next_member(b'}')? {
                return Ok(());
            }
        }
    }

    fn classify(
        &mut self,
        f: &Fields<'_>,
        frame: &[u8],
        cur: &Cur<'_>,
    ) -> Result<Event<'_>, ParseError> {
        let missing = |event: &'static str, field: &'static str| {
            ParseError::at(frame, cur.i, ParseErrorKind::MissingField { event, field })
        };
        let symbol = |event: &'static str| -> Result<Symbol, ParseError> {
            let s = f.s.ok_or_else(|| missing(event, "s"))?;
            Symbol::new(s).ok_or_else(|| ParseError::at(frame, 0, ParseErrorKind::BadSymbol))
        };
        match f.e {
            Some(b"depthUpdate") => {
                const EV: &str = "depthUpdate";
                if f.b != Dual::Levels {
                    return Err(missing(EV, "b"));
                }
                if f.a != Dual::Levels {
                    return Err(missing(EV, "a"));
                }
                // `b`/`a` and `bids`/`asks` share one buffer each: with both, which levels
                // are kept depends on their order. Refused (found by the fuzzing ring).
                if f.bids || f.asks {
                    return Err(ParseError::at(frame, 0, ParseErrorKind::AmbiguousLevels));
                }
                let d = &mut self.depth;
                d.symbol = symbol(EV)?;
                d.event_time_ms = f.big_e.ok_or_else(|| missing(EV, "E"))?;
                d.transact_time_ms = f.big_t;
                d.first_id = f.big_u.ok_or_else(|| missing(EV, "U"))?;
                d.final_id = f.u.ok_or_else(|| missing(EV, "u"))?;
                d.prev_final_id = f.pu;
                std::mem::swap(&mut d.bids, &mut self.bids);
                std::mem::swap(&mut d.asks, &mut self.asks);
                Ok(Event::Depth(&self.depth))
            }
            Some(kind @ (b"trade" | b"aggTrade")) => {
                let (ev, kind, id) = if kind == b"trade" {
                    (
                        "trade",
                        TradeKind::Trade,
                        f.t.ok_or_else(|| missing("trade", "t"))?,
                    )
                } else {
                    let Dual::Id(id) = f.a else {
                        return Err(missing("aggTrade", "a"));
                    };
                    ("aggTrade", TradeKind::AggTrade, id)
                };
                Ok(Event::Trade(Trade {
                    symbol: symbol(ev)?,
                    kind,
                    id,
                    price: Price(f.p.ok_or_else(|| missing(ev, "p"))?),
                    qty: Qty(f.q.ok_or_else(|| missing(ev, "q"))?),
                    trade_time_ms: f.big_t.ok_or_else(|| missing(ev, "T"))?,
                    event_time_ms: f.big_e.ok_or_else(|| missing(ev, "E"))?,
                    buyer_is_maker: f.m.ok_or_else(|| missing(ev, "m"))?,
                }))
            }
            Some(b"bookTicker") => self.ticker(f, symbol("bookTicker")?, &missing),
            Some(e) => Ok(Event::Other(Other {
                symbol: f
                    .s
                    .and_then(Symbol::new)
                    .or_else(|| f.stream.and_then(stream_symbol)),
                kind: if e == b"serverShutdown" {
                    OtherKind::ServerShutdown
                } else {
                    OtherKind::Unknown
                },
            })),
            None => {
                if let Some(last_update_id) = f.last_update_id {
                    const EV: &str = "depth snapshot";
                    if !f.bids {
                        return Err(missing(EV, "bids"));
                    }
                    if !f.asks {
                        return Err(missing(EV, "asks"));
                    }
                    if f.a == Dual::Levels || f.b == Dual::Levels {
                        return Err(ParseError::at(frame, 0, ParseErrorKind::AmbiguousLevels));
                    }
                    let s = &mut self.snapshot;
                    s.symbol =
                        match f.symbol.or(f.s) {
                            Some(sym) => Some(Symbol::new(sym).ok_or_else(|| {
                                ParseError::at(frame, 0, ParseErrorKind::BadSymbol)
                            })?),
                            None => None,
                        };
                    s.last_update_id = last_update_id;
                    s.event_time_ms = f.big_e;
                    s.transact_time_ms = f.big_t;
                    std::mem::swap(&mut s.bids, &mut self.bids);
                    std::mem::swap(&mut s.asks, &mut self.asks);
                    Ok(Event::Snapshot(&self.snapshot))
                } else if f.u.is_some() && matches!(f.b, Dual::Price(_)) {
                    self.ticker(f, symbol("bookTicker")?, &missing)
                } else {
                    Ok(Event::Other(Other {
                        symbol: f
                            .s
                            .and_then(Symbol::new)
                            .or_else(|| f.stream.and_then(stream_symbol)),
                        kind: if f.has_result {
                            OtherKind::SubscriptionResult
                        } else if f.has_code {
                            OtherKind::ErrorMessage
                        } else {
                            OtherKind::Unknown
                        },
                    }))
                }
            }
        }
    }

    fn ticker(
        &self,
        f: &Fields<'_>,
        symbol: Symbol,
        missing: &dyn Fn(&'static str, &'static str) -> ParseError,
    ) -> Result<Event<'static>, ParseError> {
        const EV: &str = "bookTicker";
        let Dual::Price(bid) = f.b else {
            return Err(missing(EV, "b"));
        };
        let Dual::Price(ask) = f.a else {
            return Err(missing(EV, "a"));
        };
        Ok(Event::BookTicker(BookTicker {
            symbol,
            update_id: f.u.ok_or_else(|| missing(EV, "u"))?,
            bid_price: Price(bid),
            bid_qty: Qty(f.big_b.ok_or_else(|| missing(EV, "B"))?),
            ask_price: Price(ask),
            ask_qty: Qty(f.big_a.ok_or_else(|| missing(EV, "A"))?),
            event_time_ms: f.big_e,
            transact_time_ms: f.big_t,
        }))
    }
}

/// `btcusdt@depth@100ms` → BTCUSDT.
pub fn stream_symbol(stream: &[u8]) -> Option<Symbol> {
    let end = stream
        .iter()
        .position(|&c| c == b'@')
        .unwrap_or(stream.len());
    Symbol::new(&stream[..end])
}

fn field_err(cur: &Cur<'_>, e: ParseError, field: &'static str) -> ParseError {
    match e.kind {
        ParseErrorKind::WrongType { .. } | ParseErrorKind::Expected { .. } => {
            cur.err(ParseErrorKind::FieldType { field })
        }
        _ => e,
    }
}

#[inline]
fn str_field<'a>(cur: &mut Cur<'a>, field: &'static str) -> Result<&'a [u8], ParseError> {
    cur.plain_str().map_err(|e| field_err(cur, e, field))
}

#[inline]
fn int_field(cur: &mut Cur<'_>, field: &'static str) -> Result<u64, ParseError> {
    cur.u64().map_err(|e| field_err(cur, e, field))
}

#[inline]
fn dec_field(cur: &mut Cur<'_>, field: &'static str) -> Result<u64, ParseError> {
    cur.decimal().map_err(|e| field_err(cur, e, field))
}

/// `b` / `a`: level array, decimal string, or integer id.
#[inline]
fn dual(cur: &mut Cur<'_>, out: &mut Vec<Level>, field: &'static str) -> Result<Dual, ParseError> {
    match cur.peek()? {
        b'[' => {
            levels(cur, out)?;
            Ok(Dual::Levels)
        }
        b'"' => Ok(Dual::Price(cur.decimal()?)),
        b'0'..=b'9' => Ok(Dual::Id(cur.u64()?)),
        _ => Err(cur.err(ParseErrorKind::FieldType { field })),
    }
}

/// `[["price","qty"],...]` into `out` (cleared first). Extra elements in a level are skipped.
#[inline]
fn levels(cur: &mut Cur<'_>, out: &mut Vec<Level>) -> Result<(), ParseError> {
    out.clear();
    cur.eat(b'[', "'['")?;
    if cur.peek()? == b']' {
        cur.i += 1;
        return Ok(());
    }
    let mut shape = LevelShape::default();
    loop {
        // Consecutive levels in the common shape, separated by bare commas, are read in a tight
        // loop on a local index; anything else is walked the general way, one level at a time.
        let b = cur.b;
        let mut i = cur.i;
        let mut after_level = false;
        while let Some((price, qty, end)) = scan::level_at(b, i, &mut shape) {
            out.push(Level {
                price: Price(price),
                qty: Qty(qty),
            });
            i = end;
            after_level = true;
            if b.get(i) != Some(&b',') {
                break;
            }
            i += 1;
            after_level = false;
        }
        cur.i = i;
        if !after_level {
            cur.eat(b'[', "'[' (a price level)")?;
            let price = Price(cur.decimal()?);
            cur.eat(b',', "','")?;
            let qty = Qty(cur.decimal()?);
            while cur.next_member(b']')? {
                cur.skip_value()?;
            }
            out.push(Level { price, qty });
        }
        if !cur.next_member(b']')? {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(frame: &str) -> Result<String, ParseError> {
        let mut d = Decoder::new();
        d.decode(frame.as_bytes()).map(|e| format!("{e:?}"))
    }

    #[test]
    fn spot_depth_in_envelope() {
        let f = r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":50093239189,"u":50093239202,"b":[["61737.63000000","0.00000000"]],"a":[["61837.64000000","1.54698000"],["61839.85000000","0.00000000"]]}}"#;
        let mut d = Decoder::new();
        let Event::Depth(u) = d.decode(f.as_bytes()).unwrap() else {
            panic!("not depth")
        };
        assert_eq!(u.symbol.as_str(), "BTCUSDT");
        assert_eq!(
            (u.first_id, u.final_id, u.prev_final_id),
            (50093239189, 50093239202, None)
        );
        assert_eq!(u.bids.len(), 1);
        assert_eq!(u.asks[0].price.to_string(), "61837.64");
        assert_eq!(u.asks[0].qty.to_string(), "1.54698");
        assert!(u.asks[1].qty.is_zero());
    }

    #[test]
    fn raw_futures_depth_has_pu_and_t() {
        let f = r#"{"e":"depthUpdate","E":1721347022504,"T":1721347022504,"s":"BTCUSDT","U":5,"u":9,"pu":4,"b":[],"a":[]}"#;
        let mut d = Decoder::new();
        let Event::Depth(u) = d.decode(f.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(u.prev_final_id, Some(4));
        assert_eq!(u.transact_time_ms, Some(1721347022504));
    }

    #[test]
    fn tickers_trades_and_snapshots() {
        let spot_bt = r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#;
        let mut d = Decoder::new();
        let Event::BookTicker(t) = d.decode(spot_bt.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(t.update_id, 50093239212);
        assert_eq!(t.event_time_ms, None);
        let agg = r#"{"e":"aggTrade","E":1,"s":"SUSHIUSDT","a":26,"p":"0.001","q":"100","f":100,"l":105,"T":2,"m":true}"#;
        let Event::Trade(t) = d.decode(agg.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(
            (t.kind, t.id, t.buyer_is_maker),
            (TradeKind::AggTrade, 26, true)
        );
        let coinm = r#"{"lastUpdateId":16769853,"symbol":"BTCUSD_PERP","pair":"BTCUSD","E":1591250106370,"T":1591250106368,"bids":[["9638.0","431"]],"asks":[]}"#;
        let Event::Snapshot(s) = d.decode(coinm.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(s.symbol.unwrap().as_str(), "BTCUSD_PERP");
        assert_eq!(s.bids.len(), 1);
    }

    #[test]
    fn unknown_streams_and_control_frames() {
        let kline = r#"{"stream":"nknusdt@kline_1m","data":{"e":"kline","E":1,"s":"NKNUSDT","k":{"t":1,"x":false,"o":"0.1"}}}"#;
        assert_eq!(
            dec(kline).unwrap(),
            format!(
                "{:?}",
                Event::Other(Other {
                    symbol: Symbol::new(b"NKNUSDT"),
                    kind: OtherKind::Unknown
                })
            )
        );
        assert!(
            dec(r#"{"result":null,"id":1}"#)
                .unwrap()
                .contains("SubscriptionResult")
        );
        assert!(
            dec(r#"{"e":"serverShutdown","E":1}"#)
                .unwrap()
                .contains("ServerShutdown")
        );
    }

    #[test]
    fn malformed_frames_are_typed_errors_with_excerpts() {
        let cases: &[(&str, &str)] = &[
            ("", "unexpected end"),
            ("[1,2]", "not a JSON object"),
            (
                r#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1.0","2"]]"#,
                "end",
            ),
            (
                r#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[],"a":[["1.0","-2"]]}"#,
                "bad decimal",
            ),
            (
                r#"{"e":"depthUpdate","E":1,"s":"X","U":1,"b":[],"a":[]}"#,
                "without field `u`",
            ),
            (r#"{"e":"trade","E":"1"}"#, "field `E`"),
            (r#"{"e":"trade"} x"#, "after the JSON"),
            (
                r#"{"u":1,"s":"X","b":"1.000000001","B":"1","a":"1","A":"1"}"#,
                "8 decimal",
            ),
        ];
        for (f, want) in cases {
            let e = dec(f).expect_err(f).to_string();
            assert!(e.contains(want), "{f}: {e}");
        }
    }

    #[test]
    fn excerpt_is_short() {
        let big = format!(r#"{{"e":"trade","x":"{}","E":1.5}}"#, "y".repeat(500));
        let e = dec(&big).unwrap_err();
        assert!(e.excerpt.chars().count() <= 50, "{}", e.excerpt);
        assert!(e.excerpt.contains("1.5"));
    }
}
