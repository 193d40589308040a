//! Exchange wire formats, normalized at the boundary into one event type.
//!
//! Owns: the decoded market events ([`Event`]), the typed parse error, the fast Binance decoder
//! ([`binance::Decoder`]) and a slow serde_json reference decoder used to check it
//! ([`reference`]). Must not touch: book state, I/O, clocks.
//!
//! The fast path allocates nothing per level: decoded levels land in buffers the decoder owns
//! and reuses, and the returned [`Event`] borrows them until the next frame.

pub mod binance;
pub mod klines;
pub mod reference;
pub mod scan;

use crate::num::{DecimalError, Price, Qty, Symbol, UpdateId};

/// One price level as sent: an absolute quantity (`0` deletes the level).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Level {
    pub price: Price,
    pub qty: Qty,
}

/// A diff-depth event (`depthUpdate`), spot or futures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DepthUpdate {
    pub symbol: Symbol,
    /// `E`, exchange event time, ms since epoch.
    pub event_time_ms: u64,
    /// `T`, transaction time (futures only), ms.
    pub transact_time_ms: Option<u64>,
    /// `U`, first update id in the event.
    pub first_id: UpdateId,
    /// `u`, final update id in the event.
    pub final_id: UpdateId,
    /// `pu`, final update id of the previous event (futures only). Its presence marks the
    /// futures sync rules.
    pub prev_final_id: Option<UpdateId>,
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
}

/// A REST depth snapshot (`/api/v3/depth`, `/fapi/v1/depth`, `/dapi/v1/depth`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Spot and USD-M snapshots carry no symbol: the caller knows it from the request URL.
    /// COIN-M sends `symbol`.
    pub symbol: Option<Symbol>,
    pub last_update_id: UpdateId,
    /// `E` (futures only), ms.
    pub event_time_ms: Option<u64>,
    /// `T` (futures only), ms.
    pub transact_time_ms: Option<u64>,
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TradeKind {
    /// `@trade`: one fill, `t` is the trade id.
    Trade,
    /// `@aggTrade`: fills at one price from one taker order, `a` is the aggregate id.
    AggTrade,
}

/// A public trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    pub symbol: Symbol,
    pub kind: TradeKind,
    /// `t` (trade) or `a` (aggTrade).
    pub id: u64,
    pub price: Price,
    pub qty: Qty,
    /// `T`, trade time, ms.
    pub trade_time_ms: u64,
    /// `E`, event time, ms.
    pub event_time_ms: u64,
    /// `m`: the buyer was the maker, so the aggressor sold.
    pub buyer_is_maker: bool,
}

/// Best bid/ask (`@bookTicker`). Spot has no `e`/`E`; futures has `e`, `E`, `T`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookTicker {
    pub symbol: Symbol,
    /// `u`: the order-book update id this best bid/ask belongs to.
    pub update_id: UpdateId,
    pub bid_price: Price,
    pub bid_qty: Qty,
    pub ask_price: Price,
    pub ask_qty: Qty,
    pub event_time_ms: Option<u64>,
    pub transact_time_ms: Option<u64>,
}

/// Frames that are valid but carry no market data we use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtherKind {
    /// A stream we do not decode (kline, markPrice, …).
    Unknown,
    /// The answer to a SUBSCRIBE/UNSUBSCRIBE (`{"result":null,"id":1}`).
    SubscriptionResult,
    /// An error object (`{"code":..,"msg":..}`).
    ErrorMessage,
    /// `serverShutdown`: the server will close this connection soon.
    ServerShutdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Other {
    /// From `s`, or from the combined-stream name (`nknusdt@kline_1m` → NKNUSDT).
    pub symbol: Option<Symbol>,
    pub kind: OtherKind,
}

/// One decoded frame. Borrowed variants live in the decoder's buffers until its next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    Depth(&'a DepthUpdate),
    Snapshot(&'a Snapshot),
    Trade(Trade),
    BookTicker(BookTicker),
    Other(Other),
}

impl Event<'_> {
    /// The symbol the frame belongs to, where the frame says.
    pub fn symbol(&self) -> Option<Symbol> {
        match self {
            Event::Depth(d) => Some(d.symbol),
            Event::Snapshot(s) => s.symbol,
            Event::Trade(t) => Some(t.symbol),
            Event::BookTicker(b) => Some(b.symbol),
            Event::Other(o) => o.symbol,
        }
    }
}

/// What was wrong with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("unexpected end of frame")]
    UnexpectedEnd,
    #[error("expected {what}, found {found:?}")]
    Expected { what: &'static str, found: char },
    #[error("invalid JSON number")]
    BadNumber,
    #[error("invalid literal")]
    BadLiteral,
    #[error("invalid string escape")]
    BadEscape,
    #[error("control character inside a string")]
    ControlCharInString,
    #[error("escaped characters in a field that must be plain")]
    EscapedString,
    #[error("levels under both `b`/`a` and `bids`/`asks`: ambiguous")]
    AmbiguousLevels,
    #[error("bad decimal: {0}")]
    BadDecimal(DecimalError),
    #[error("expected {expected}")]
    WrongType { expected: &'static str },
    #[error("{event} without field `{field}`")]
    MissingField {
        event: &'static str,
        field: &'static str,
    },
    #[error("field `{field}` has the wrong type")]
    FieldType { field: &'static str },
    #[error("invalid symbol")]
    BadSymbol,
    #[error("nesting too deep")]
    TooDeep,
    #[error("characters after the JSON value")]
    TrailingCharacters,
    #[error("frame is not a JSON object")]
    NotAnObject,
}

/// A malformed frame: what, where (byte offset), and a short excerpt around it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset} near `{excerpt}`")]
pub struct ParseError {
    pub kind: ParseErrorKind,
    pub offset: usize,
    pub excerpt: String,
}

/// Characters of context quoted on each side of an error.
const EXCERPT_SIDE: usize = 24;

impl ParseError {
    pub fn at(frame: &[u8], offset: usize, kind: ParseErrorKind) -> ParseError {
        let offset = offset.min(frame.len());
        let lo = offset.saturating_sub(EXCERPT_SIDE);
        let hi = (offset + EXCERPT_SIDE).min(frame.len());
        let mut excerpt = String::from_utf8_lossy(&frame[lo..hi]).into_owned();
        excerpt.retain(|c| !c.is_control());
        if lo > 0 {
            excerpt.insert(0, '…');
        }
        if hi < frame.len() {
            excerpt.push('…');
        }
        ParseError {
            kind,
            offset,
            excerpt,
        }
    }
}
