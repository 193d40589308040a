//! A slow, obviously-correct decoder built on `serde_json::Value`.
//!
//! Owns: nothing on the hot path. It exists so tests can check the fast decoder
//! ([`super::binance::Decoder`]) frame by frame on every real capture: both must produce the same
//! event, or both must refuse the frame. It follows the same classification rules, written
//! independently over a parsed JSON tree.

use serde_json::{Map, Value};

use super::{
    BookTicker, DepthUpdate, Event, Level, Other, OtherKind, Snapshot, Trade, TradeKind,
    binance::stream_symbol,
};
use crate::num::{Price, Qty, Symbol, parse_decimal};

/// An owned event, comparable with the fast decoder's borrowed one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedEvent {
    Depth(DepthUpdate),
    Snapshot(Snapshot),
    Trade(Trade),
    BookTicker(BookTicker),
    Other(Other),
}

impl OwnedEvent {
    pub fn same_as(&self, ev: &Event<'_>) -> bool {
        match (self, ev) {
            (OwnedEvent::Depth(a), Event::Depth(b)) => a == *b,
            (OwnedEvent::Snapshot(a), Event::Snapshot(b)) => a == *b,
            (OwnedEvent::Trade(a), Event::Trade(b)) => a == b,
            (OwnedEvent::BookTicker(a), Event::BookTicker(b)) => a == b,
            (OwnedEvent::Other(a), Event::Other(b)) => a == b,
            _ => false,
        }
    }
}

/// Decodes a frame; the error is a plain description (its wording is not compared).
pub fn decode(frame: &[u8]) -> Result<OwnedEvent, String> {
    let v: Value = serde_json::from_slice(frame).map_err(|e| e.to_string())?;
    let Value::Object(top) = v else {
        return Err("not an object".into());
    };
    let stream = match top.get("stream") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("stream not a string".into()),
        None => None,
    };
    // The fast decoder reads the envelope's and the payload's fields into one set; the payload's
    // come later in the byte stream and so win on a clash, as here.
    let mut obj: Map<String, Value> = top.clone();
    if let Some(Value::Object(data)) = top.get("data") {
        // `stream`, `result` and `code` only count at the envelope level.
        for (k, v) in data {
            if !matches!(k.as_str(), "stream" | "result" | "code") {
                obj.insert(k.clone(), v.clone());
            }
        }
    }
    // Check every known key's type, as the fast path does when it meets them.
    let levels_of = |k: &str| -> Result<Option<Vec<Level>>, String> {
        match obj.get(k) {
            None => Ok(None),
            Some(Value::Array(rows)) => {
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let Value::Array(cells) = r else {
                        return Err(format!("{k}: level not an array"));
                    };
                    if cells.len() < 2 {
                        return Err(format!("{k}: short level"));
                    }
                    let p = dec_value(&cells[0])?;
                    let q = dec_value(&cells[1])?;
                    out.push(Level {
                        price: Price(p),
                        qty: Qty(q),
                    });
                }
                Ok(Some(out))
            }
            Some(_) => Err(format!("{k}: not levels")),
        }
    };
    let int = |k: &str| -> Result<Option<u64>, String> {
        match obj.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|_| v.is_u64())
                .map(Some)
                .ok_or_else(|| format!("{k}: not an unsigned integer")),
        }
    };
    let dec = |k: &str| -> Result<Option<u64>, String> {
        match obj.get(k) {
            None => Ok(None),
            Some(v) => dec_value(v).map(Some),
        }
    };
    let string = |k: &str| -> Result<Option<&str>, String> {
        match obj.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("{k}: not a string")),
        }
    };
    #[derive(PartialEq)]
    enum Dual {
        Absent,
        Levels(Vec<Level>),
        Price(u64),
        Id(u64),
    }
    let dual = |k: &str| -> Result<Dual, String> {
        match obj.get(k) {
            None => Ok(Dual::Absent),
            Some(Value::Array(_)) => Ok(Dual::Levels(levels_of(k)?.unwrap_or_default())),
            Some(Value::String(_)) => Ok(Dual::Price(dec(k)?.unwrap_or_default())),
            Some(Value::Number(n)) if n.is_u64() => Ok(Dual::Id(n.as_u64().unwrap_or_default())),
            Some(_) => Err(format!("{k}: wrong type")),
        }
    };

    let e = string("e")?;
    let s = string("s")?;
    let symbol_key = string("symbol")?;
    let big_e = int("E")?;
    let big_t = int("T")?;
    let big_u = int("U")?;
    let u = int("u")?;
    let pu = int("pu")?;
    let last_update_id = int("lastUpdateId")?;
    let t = int("t")?;
    let b = dual("b")?;
    let a = dual("a")?;
    let big_b = dec("B")?;
    let big_a = dec("A")?;
    let p = dec("p")?;
    let q = dec("q")?;
    let m = match obj.get("m") {
        None => None,
        Some(Value::Bool(x)) => Some(*x),
        Some(_) => return Err("m: not a bool".into()),
    };
    let bids = levels_of("bids")?;
    let asks = levels_of("asks")?;

    let need = |o: Option<u64>, f: &str| o.ok_or_else(|| format!("missing {f}"));
    let sym = |x: Option<&str>| -> Result<Symbol, String> {
        Symbol::new(x.ok_or("missing s")?.as_bytes()).ok_or_else(|| "bad symbol".to_string())
    };
    let other_symbol = || {
        s.and_then(|x| Symbol::new(x.as_bytes()))
            .or_else(|| stream.as_deref().and_then(|x| stream_symbol(x.as_bytes())))
    };
    let ticker = |sym: Symbol| -> Result<OwnedEvent, String> {
        let (Dual::Price(bp), Dual::Price(ap)) = (&b, &a) else {
            return Err("bookTicker without b/a prices".into());
        };
        Ok(OwnedEvent::BookTicker(BookTicker {
            symbol: sym,
            update_id: need(u, "u")?,
            bid_price: Price(*bp),
            bid_qty: Qty(need(big_b, "B")?),
            ask_price: Price(*ap),
            ask_qty: Qty(need(big_a, "A")?),
            event_time_ms: big_e,
            transact_time_ms: big_t,
        }))
    };

    match e {
        Some("depthUpdate") => {
            let Dual::Levels(bl) = &b else {
                return Err("missing b".into());
            };
            let Dual::Levels(al) = &a else {
                return Err("missing a".into());
            };
            Ok(OwnedEvent::Depth(DepthUpdate {
                symbol: sym(s)?,
                event_time_ms: need(big_e, "E")?,
                transact_time_ms: big_t,
                first_id: need(big_u, "U")?,
                final_id: need(u, "u")?,
                prev_final_id: pu,
                bids: bl.clone(),
                asks: al.clone(),
            }))
        }
        Some(kind @ ("trade" | "aggTrade")) => {
            let (k, id) = if kind == "trade" {
                (TradeKind::Trade, need(t, "t")?)
            } else {
                let Dual::Id(id) = a else {
                    return Err("missing a".into());
                };
                (TradeKind::AggTrade, id)
            };
            Ok(OwnedEvent::Trade(Trade {
                symbol: sym(s)?,
                kind: k,
                id,
                price: Price(need(p, "p")?),
                qty: Qty(need(q, "q")?),
                trade_time_ms: need(big_t, "T")?,
                event_time_ms: need(big_e, "E")?,
                buyer_is_maker: m.ok_or("missing m")?,
            }))
        }
        Some("bookTicker") => ticker(sym(s)?),
        Some(other) => Ok(OwnedEvent::Other(Other {
            symbol: other_symbol(),
            kind: if other == "serverShutdown" {
                OtherKind::ServerShutdown
            } else {
                OtherKind::Unknown
            },
        })),
        None => {
            if let Some(lid) = last_update_id {
                let symbol = match symbol_key.or(s) {
                    Some(x) => Some(Symbol::new(x.as_bytes()).ok_or("bad symbol")?),
                    None => None,
                };
                Ok(OwnedEvent::Snapshot(Snapshot {
                    symbol,
                    last_update_id: lid,
                    event_time_ms: big_e,
                    transact_time_ms: big_t,
                    bids: bids.ok_or("missing bids")?,
                    asks: asks.ok_or("missing asks")?,
                }))
            } else if u.is_some() && matches!(b, Dual::Price(_)) {
                ticker(sym(s)?)
            } else {
                Ok(OwnedEvent::Other(Other {
                    symbol: other_symbol(),
                    kind: if top.contains_key("result") {
                        OtherKind::SubscriptionResult
                    } else if top.contains_key("code") {
                        OtherKind::ErrorMessage
                    } else {
                        OtherKind::Unknown
                    },
                }))
            }
        }
    }
}

fn dec_value(v: &Value) -> Result<u64, String> {
    match v {
        Value::String(s) => parse_decimal(s.as_bytes()).map_err(|e| e.to_string()),
        _ => Err("decimal not a string".into()),
    }
}
