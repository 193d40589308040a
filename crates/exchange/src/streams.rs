//! Stream names and frame envelopes: which stream a captured frame belongs to, which streams a
//! client asked for, and the bytes a client is sent.
//!
//! Owns: parsing client stream names (`btcusdt@depth@100ms`), classifying captured frames (the
//! stream, the payload's byte range inside the envelope, symbol, event times), and building the
//! combined-stream envelope around payload bytes. Must not touch: sockets, the book. Payloads
//! are sliced out of the captured bytes and never re-serialized, so prices reach the client
//! exactly as the exchange wrote them.

use std::ops::Range;

use microstate_core::num::Symbol;
use microstate_core::wire::scan::Cur;

/// The market-data streams this exchange serves by meaning (any speed suffix of a depth stream
/// maps to the capture's diff-depth stream of that symbol).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum StreamKind {
    Depth,
    Trade,
    AggTrade,
    BookTicker,
}

/// What a stream name stands for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum StreamKey {
    /// One of the streams in [`StreamKind`], for a symbol.
    Book(Symbol, StreamKind),
    /// Any other captured stream (klines, partial depth…), matched by its lowercase full name.
    Named(String),
}

/// The USD-M routed URL prefixes: `/public` serves depth and bookTicker, `/market` the rest
/// (trades, klines…); unprefixed paths serve everything, as spot and the legacy futures URLs do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Any,
    Public,
    Market,
}

impl Route {
    /// Whether a stream is delivered on this route.
    pub fn allows(self, key: &StreamKey) -> bool {
        let public = match key {
            StreamKey::Book(_, k) => matches!(k, StreamKind::Depth | StreamKind::BookTicker),
            StreamKey::Named(n) => n.contains("@depth") || n.contains("bookticker"),
        };
        match self {
            Route::Any => true,
            Route::Public => public,
            Route::Market => !public,
        }
    }
}

/// Parses a stream name as a client writes it. `None` for names that cannot be a stream (no
/// `@`, bad symbol): such streams are accepted and get nothing.
pub(crate) fn parse_stream_name(name: &str) -> Option<StreamKey> {
    let (sym, rest) = name.split_once('@')?;
    let symbol = Symbol::new(sym.as_bytes())?;
    let lower = rest.to_ascii_lowercase();
    let kind = match lower.as_str() {
        "depth" => Some(StreamKind::Depth),
        r if r
            .strip_prefix("depth@")
            .and_then(|s| s.strip_suffix("ms"))
            .is_some_and(|ms| !ms.is_empty() && ms.bytes().all(|c| c.is_ascii_digit())) =>
        {
            Some(StreamKind::Depth)
        }
        "trade" => Some(StreamKind::Trade),
        "aggtrade" => Some(StreamKind::AggTrade),
        "bookticker" => Some(StreamKind::BookTicker),
        _ => None,
    };
    Some(match kind {
        Some(k) => StreamKey::Book(symbol, k),
        None => StreamKey::Named(name.to_ascii_lowercase()),
    })
}

/// What the reader learned about one captured WebSocket frame or REST body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Classified {
    /// The stream it belongs to (`None`: nobody can subscribe to it).
    pub key: Option<StreamKey>,
    /// `s`, or the stream name's symbol.
    pub symbol: Option<Symbol>,
    /// Byte range of the payload (`data` of a combined envelope, else the whole frame).
    pub payload: Range<usize>,
    /// `E`, exchange event time (ms).
    pub event_ms: Option<u64>,
    /// `T`, transaction time (ms).
    pub transact_ms: Option<u64>,
    /// A diff-depth event.
    pub depth: bool,
    /// The payload carried `pu` (a futures diff) or, for a snapshot, `E` (a futures snapshot).
    pub futures_hint: bool,
}

/// Top-level fields of a payload object that routing needs.
#[derive(Default)]
struct PayloadFields<'a> {
    e: Option<&'a [u8]>,
    s: Option<&'a [u8]>,
    big_e: Option<u64>,
    big_t: Option<u64>,
    pu: bool,
    u: bool,
    b_str: bool,
    last_update_id: bool,
}

/// Scans the payload object at `cur` (validating what it skips).
fn payload_fields<'a>(cur: &mut Cur<'a>) -> Result<PayloadFields<'a>, String> {
    let mut f = PayloadFields::default();
    cur.eat(b'{', "'{'").map_err(|e| e.to_string())?;
    if cur.peek().map_err(|e| e.to_string())? == b'}' {
        cur.i += 1;
        return Ok(f);
    }
    loop {
        let key = cur.key().map_err(|e| e.to_string())?;
        match key {
            b"e" if cur.peek().ok() == Some(b'"') => {
                f.e = Some(cur.plain_str().map_err(|e| e.to_string())?)
            }
            b"s" if cur.peek().ok() == Some(b'"') => {
                f.s = Some(cur.plain_str().map_err(|e| e.to_string())?)
            }
            b"E" if cur.peek().ok().is_some_and(|c| c.is_ascii_digit()) => {
                f.big_e = Some(cur.u64().map_err(|e| e.to_string())?)
            }
            b"T" if cur.peek().ok().is_some_and(|c| c.is_ascii_digit()) => {
                f.big_t = Some(cur.u64().map_err(|e| e.to_string())?)
            }
            _ => {
                match key {
                    b"pu" => f.pu = true,
                    b"u" => f.u = true,
                    b"b" => f.b_str = cur.peek().ok() == Some(b'"'),
                    b"lastUpdateId" => f.last_update_id = true,
                    _ => {}
                }
                cur.skip_value().map_err(|e| e.to_string())?;
            }
        }
        if !cur.next_member(b'}').map_err(|e| e.to_string())? {
            return Ok(f);
        }
    }
}

/// Classifies a captured WebSocket frame: a combined envelope `{"stream":..,"data":{..}}` or a
/// raw payload. Errors describe malformed JSON (the frame is still passed on, to nobody).
pub(crate) fn classify_ws(body: &[u8]) -> Result<Classified, String> {
    let mut cur = Cur::new(body);
    if cur.peek().map_err(|e| e.to_string())? != b'{' {
        return Err("frame is not a JSON object".into());
    }
    // Look for the envelope's keys first; fall back on reading the frame as a raw payload.
    let mut stream: Option<&[u8]> = None;
    let mut data: Option<(Range<usize>, PayloadFields<'_>)> = None;
    let mut probe = Cur::new(body);
    let enveloped = (|| -> Result<bool, String> {
        probe.eat(b'{', "'{'").map_err(|e| e.to_string())?;
        if probe.peek().map_err(|e| e.to_string())? == b'}' {
            return Ok(false);
        }
        loop {
            let key = probe.key().map_err(|e| e.to_string())?;
            match key {
                b"stream" if probe.peek().ok() == Some(b'"') => {
                    stream = Some(probe.plain_str().map_err(|e| e.to_string())?)
                }
                b"data" if probe.peek().ok() == Some(b'{') => {
                    let start = probe.i;
                    let f = payload_fields(&mut probe)?;
                    data = Some((start..probe.i, f));
                }
                _ => probe.skip_value().map_err(|e| e.to_string())?,
            }
            if !probe.next_member(b'}').map_err(|e| e.to_string())? {
                break;
            }
        }
        Ok(stream.is_some() && data.is_some())
    })()?;
    if enveloped && let (Some(name), Some((payload, f))) = (stream, data) {
        let name = std::str::from_utf8(name).map_err(|_| "stream name is not UTF-8")?;
        let key = parse_stream_name(name);
        let symbol = f.s.and_then(Symbol::new).or(match &key {
            Some(StreamKey::Book(s, _)) => Some(*s),
            _ => name
                .split('@')
                .next()
                .and_then(|s| Symbol::new(s.as_bytes())),
        });
        return Ok(Classified {
            depth: matches!(key, Some(StreamKey::Book(_, StreamKind::Depth))),
            futures_hint: f.pu,
            key,
            symbol,
            payload,
            event_ms: f.big_e,
            transact_ms: f.big_t,
        });
    }
    let f = payload_fields(&mut cur)?;
    let symbol = f.s.and_then(Symbol::new);
    let kind = match f.e {
        Some(b"depthUpdate") => Some(StreamKind::Depth),
        Some(b"trade") => Some(StreamKind::Trade),
        Some(b"aggTrade") => Some(StreamKind::AggTrade),
        Some(b"bookTicker") => Some(StreamKind::BookTicker),
        None if f.u && f.b_str => Some(StreamKind::BookTicker),
        _ => None,
    };
    Ok(Classified {
        key: match (symbol, kind) {
            (Some(s), Some(k)) => Some(StreamKey::Book(s, k)),
            _ => None,
        },
        symbol,
        payload: 0..body.len(),
        event_ms: f.big_e,
        transact_ms: f.big_t,
        depth: kind == Some(StreamKind::Depth),
        futures_hint: f.pu,
    })
}

/// Reads what a REST snapshot body says about itself: `E`/`T` (futures only).
pub(crate) fn classify_rest(body: &[u8]) -> Classified {
    let mut cur = Cur::new(body);
    let f = payload_fields(&mut cur).unwrap_or_default();
    Classified {
        key: None,
        symbol: None,
        payload: 0..body.len(),
        event_ms: f.big_e,
        transact_ms: f.big_t,
        depth: false,
        futures_hint: f.last_update_id && f.big_e.is_some(),
    }
}

/// Decimal places of the first price and quantity in a body that carries levels
/// (`[["61737.63000000","0.00000000"]` → (8, 8)), so answers can be written like the exchange
/// writes them.
pub(crate) fn level_decimals(body: &[u8]) -> Option<(u8, u8)> {
    let at = body.windows(3).position(|w| w == b"[[\"")? + 3;
    let rest = &body[at..];
    let p_end = rest.iter().position(|&c| c == b'"')?;
    let price = &rest[..p_end];
    let after = rest.get(p_end + 1..)?;
    let q_start = after.iter().position(|&c| c == b'"')? + 1;
    let q_rest = after.get(q_start..)?;
    let q_end = q_rest.iter().position(|&c| c == b'"')?;
    let qty = &q_rest[..q_end];
    let places = |s: &[u8]| -> Option<u8> {
        if s.is_empty() || !s.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
            return None;
        }
        Some(
            s.iter()
                .position(|&c| c == b'.')
                .map_or(0, |d| s.len() - d - 1)
                .min(8) as u8,
        )
    };
    Some((places(price)?, places(qty)?))
}

/// The smallest positive step between adjacent prices of one side in a body that carries
/// levels (`b`/`a` of a diff, `bids`/`asks` of a snapshot), as a mantissa: over a snapshot's
/// hundreds of levels, the symbol's tick.
pub(crate) fn level_tick(body: &[u8]) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut best: Option<u64> = None;
    for key in ["b", "a", "bids", "asks"] {
        let Some(levels) = v.get(key).and_then(|l| l.as_array()) else {
            continue;
        };
        let mut prices: Vec<u64> = levels
            .iter()
            .filter_map(|l| l.get(0)?.as_str())
            .filter_map(|p| microstate_core::num::Price::parse(p.as_bytes()).ok())
            .map(|p| p.0)
            .collect();
        prices.sort_unstable();
        prices.dedup();
        for w in prices.windows(2) {
            let d = w[1] - w[0];
            best = Some(best.map_or(d, |b| b.min(d)));
        }
    }
    best
}

/// `{"stream":"<name>","data":<payload>}`, with the name as the client wrote it. Names are
/// checked to need no JSON escaping when they are accepted.
pub(crate) fn envelope(name: &str, payload: &str) -> String {
    let mut s = String::with_capacity(name.len() + payload.len() + 22);
    s.push_str("{\"stream\":\"");
    s.push_str(name);
    s.push_str("\",\"data\":");
    s.push_str(payload);
    s.push('}');
    s
}

/// True when a client-written stream name can be echoed inside a JSON string as is.
pub(crate) fn name_is_plain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(s: &str) -> Symbol {
        Symbol::new(s.as_bytes()).unwrap()
    }

    #[test]
    fn client_names() {
        let d = Some(StreamKey::Book(sym("BTCUSDT"), StreamKind::Depth));
        assert_eq!(parse_stream_name("btcusdt@depth"), d);
        assert_eq!(parse_stream_name("btcusdt@depth@100ms"), d);
        assert_eq!(parse_stream_name("btcusdt@depth@0ms"), d);
        assert_eq!(
            parse_stream_name("btcusdt@aggTrade"),
            Some(StreamKey::Book(sym("BTCUSDT"), StreamKind::AggTrade))
        );
        assert_eq!(
            parse_stream_name("btcusdt@bookTicker"),
            Some(StreamKey::Book(sym("BTCUSDT"), StreamKind::BookTicker))
        );
        assert_eq!(
            parse_stream_name("nknusdt@kline_1m"),
            Some(StreamKey::Named("nknusdt@kline_1m".into()))
        );
        assert_eq!(parse_stream_name("nonsense"), None);
        assert_eq!(parse_stream_name("@trade"), None);
    }

    #[test]
    fn routes() {
        let d = parse_stream_name("btcusdt@depth").unwrap();
        let t = parse_stream_name("btcusdt@trade").unwrap();
        assert!(Route::Public.allows(&d) && !Route::Public.allows(&t));
        assert!(Route::Market.allows(&t) && !Route::Market.allows(&d));
        assert!(Route::Any.allows(&d) && Route::Any.allows(&t));
    }

    #[test]
    fn combined_frames_slice_their_payload() {
        let f = br#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":17,"s":"BTCUSDT","U":1,"u":2,"b":[["1.50","2"]],"a":[]}}"#;
        let c = classify_ws(f).unwrap();
        assert_eq!(
            c.key,
            Some(StreamKey::Book(sym("BTCUSDT"), StreamKind::Depth))
        );
        assert!(c.depth && !c.futures_hint);
        assert_eq!(c.event_ms, Some(17));
        let p = std::str::from_utf8(&f[c.payload.clone()]).unwrap();
        assert!(p.starts_with("{\"e\":\"depthUpdate\"") && p.ends_with("\"a\":[]}"));
        assert_eq!(level_decimals(f), Some((2, 0)));
        assert_eq!(
            level_tick(br#"{"bids":[["100.30","1"],["100.00","1"],["100.10","2"]],"asks":[["100.50","1"]]}"#),
            Some(10_000_000)
        );
        assert_eq!(level_tick(br#"{"b":[["1.0","1"]],"a":[]}"#), None);
    }

    #[test]
    fn raw_frames_classify_by_shape() {
        let spot_ticker = br#"{"u":5,"s":"BTCUSDT","b":"1.0","B":"2","a":"1.1","A":"3"}"#;
        assert_eq!(
            classify_ws(spot_ticker).unwrap().key,
            Some(StreamKey::Book(sym("BTCUSDT"), StreamKind::BookTicker))
        );
        let fut =
            br#"{"e":"depthUpdate","E":1,"T":2,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[],"a":[]}"#;
        let c = classify_ws(fut).unwrap();
        assert!(c.depth && c.futures_hint);
        assert_eq!(c.transact_ms, Some(2));
        assert!(classify_ws(b"{\"a\":").is_err());
        assert!(classify_ws(b"[1]").is_err());
        let snap = classify_rest(br#"{"lastUpdateId":3,"E":5,"T":4,"bids":[],"asks":[]}"#);
        assert!(snap.futures_hint);
        assert_eq!(snap.event_ms, Some(5));
    }
}
