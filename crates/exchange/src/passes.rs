//! Moving a looped source forward: every pass after the first is the first one shifted later in
//! time and higher in update and trade ids, so a client sees one market that goes on, not a
//! clock and an id chain that jump back every loop.
//!
//! Owns: measuring the first pass (event/transaction times, receive times, update ids, trade
//! ids: [`Span`]) and rewriting a frame's numbers for pass `n` ([`shift`]). Must not touch:
//! pacing, books or clients. Only unquoted integers under the keys Binance uses for them are
//! rewritten (`E`, `T` times in ms; `U`, `u`, `pu`, `lastUpdateId` update ids; `t`, `a`, `f`,
//! `l` trade ids), everything else is copied byte for byte; prices and quantities are strings
//! in Binance's JSON and are never touched.
//!
//! Why the ids jump by more than the span: the first diff of pass `n + 1` must not continue the
//! id chain of pass `n` (its book is another one), so a client sees a gap and resyncs from a
//! snapshot, exactly as after a real gap; the event time goes on without a jump.

/// Update ids left out between passes, so the chain visibly breaks at a loop.
const ID_GAP: u64 = 1_000;

/// Keys holding event or transaction times (ms).
const TIME_KEYS: [&[u8]; 2] = [b"E", b"T"];
/// Keys holding order-book update ids.
const UPDATE_KEYS: [&[u8]; 4] = [b"U", b"u", b"pu", b"lastUpdateId"];
/// Keys holding trade ids (`a`, `f`, `l` of aggTrades; `a` is an order id in old trade events,
/// where moving it is harmless).
const TRADE_KEYS: [&[u8]; 4] = [b"t", b"a", b"f", b"l"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    Time,
    Update,
    Trade,
}

fn group(key: &[u8]) -> Option<Group> {
    if TIME_KEYS.contains(&key) {
        Some(Group::Time)
    } else if UPDATE_KEYS.contains(&key) {
        Some(Group::Update)
    } else if TRADE_KEYS.contains(&key) {
        Some(Group::Trade)
    } else {
        None
    }
}

/// The range of one number group over a pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Range {
    lo: Option<u64>,
    hi: u64,
}

impl Range {
    fn see(&mut self, v: u64) {
        self.lo = Some(self.lo.map_or(v, |lo| lo.min(v)));
        self.hi = self.hi.max(v);
    }

    fn width(&self) -> u64 {
        self.lo.map_or(0, |lo| self.hi - lo)
    }
}

/// What the first pass covered; from it, how far each later pass moves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    time_ms: Range,
    recv_ns: Range,
    update: Range,
    trade: Range,
}

/// How far one pass moves its frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shift {
    pub time_ms: u64,
    pub update: u64,
    pub trade: u64,
}

impl Span {
    /// Notes one frame of the first pass.
    pub fn observe(&mut self, recv_ns: u64, body: &[u8]) {
        self.recv_ns.see(recv_ns);
        walk(body, |g, v, _| match g {
            Group::Time => self.time_ms.see(v),
            Group::Update => self.update.see(v),
            Group::Trade => self.trade.see(v),
        });
    }

    /// The shift of pass `n` (0 for the first). A pass moves by the longer of its event-time
    /// and receive-time spans plus one ms — at the replay speed the next pass starts right
    /// after the last frame, so event time keeps pace with the clock — and by its id ranges
    /// plus [`ID_GAP`].
    pub fn shift(&self, n: u64) -> Shift {
        let time = self.time_ms.width().max(self.recv_ns.width() / 1_000_000) + 1;
        Shift {
            time_ms: n.saturating_mul(time),
            update: n.saturating_mul(self.update.width() + 1 + ID_GAP),
            trade: n.saturating_mul(self.trade.width() + 1),
        }
    }
}

/// `body` with every number of the three groups moved by `s`.
pub(crate) fn shift(body: &[u8], s: Shift) -> Vec<u8> {
    scan(body, |g, v| match g {
        Group::Time => v.saturating_add(s.time_ms),
        Group::Update => v.saturating_add(s.update),
        Group::Trade => v.saturating_add(s.trade),
    })
}

/// Walks `body` (JSON text) and calls `f` with every unquoted integer value of a known key and
/// where its digits are.
fn walk(body: &[u8], mut f: impl FnMut(Group, u64, std::ops::Range<usize>)) {
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'"' {
            i += 1;
            continue;
        }
        // A string (escapes included); then see whether it was a key.
        let start = i + 1;
        let mut j = start;
        while j < body.len() && body[j] != b'"' {
            j += if body[j] == b'\\' { 2 } else { 1 };
        }
        let end = j.min(body.len());
        i = (end + 1).min(body.len());
        let Some(g) = group(&body[start..end]) else {
            continue;
        };
        // `"key"` then optional spaces, ':', optional spaces, digits.
        let mut k = i;
        while k < body.len() && body[k] == b' ' {
            k += 1;
        }
        if k >= body.len() || body[k] != b':' {
            continue;
        }
        k += 1;
        while k < body.len() && body[k] == b' ' {
            k += 1;
        }
        let digits = body[k..].iter().take_while(|c| c.is_ascii_digit()).count();
        let next = body.get(k + digits).copied();
        // An integer only: a fraction or exponent is not an id or a time.
        if digits == 0 || matches!(next, Some(b'.' | b'e' | b'E')) {
            continue;
        }
        if let Some(v) = std::str::from_utf8(&body[k..k + digits])
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
        {
            f(g, v, k..k + digits);
        }
        i = k + digits;
    }
}

/// `body` with `f`'s answer in place of every integer [`walk`] finds.
fn scan(body: &[u8], mut f: impl FnMut(Group, u64) -> u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 16);
    let mut copied = 0;
    walk(body, |g, v, r| {
        out.extend_from_slice(&body[copied..r.start]);
        out.extend_from_slice(f(g, v).to_string().as_bytes());
        copied = r.end;
    });
    out.extend_from_slice(&body[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":50093239189,"u":50093239202,"b":[["61737.63000000","0.00000000"]],"a":[["61838.04000000","0.32332000"]]}}"#;
    const TRADE: &str = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161308283,"s":"BTCUSDT","t":3735684381,"p":"61843.24000000","q":"0.00257000","T":1723161308282,"m":true,"M":true}}"#;
    const SNAP: &str =
        r#"{"lastUpdateId":50093239218,"bids":[["61837.63000000","3.78826000"]],"asks":[]}"#;

    #[test]
    fn moves_only_times_and_ids() {
        let s = Shift {
            time_ms: 1_000,
            update: 10,
            trade: 5,
        };
        let d = String::from_utf8(shift(DIFF.as_bytes(), s)).expect("utf8");
        assert_eq!(
            d,
            DIFF.replace("1723161255208", "1723161256208")
                .replace("50093239189", "50093239199")
                .replace("50093239202", "50093239212")
        );
        let t = String::from_utf8(shift(TRADE.as_bytes(), s)).expect("utf8");
        assert_eq!(
            t,
            TRADE
                .replace("1723161308283", "1723161309283")
                .replace("1723161308282", "1723161309282")
                .replace("3735684381", "3735684386")
        );
        let n = String::from_utf8(shift(SNAP.as_bytes(), s)).expect("utf8");
        assert_eq!(n, SNAP.replace("50093239218", "50093239228"));
        // A zero shift is the identity, and text that is not JSON passes unchanged.
        assert_eq!(shift(DIFF.as_bytes(), Shift::default()), DIFF.as_bytes());
        assert_eq!(shift(b"\"E\":", s), b"\"E\":");
    }

    #[test]
    fn passes_move_past_the_first_one() {
        let mut span = Span::default();
        span.observe(1_000_000_000, DIFF.as_bytes());
        span.observe(1_000_000_000, SNAP.as_bytes());
        span.observe(54_000_000_000, TRADE.as_bytes());
        assert_eq!(span.shift(0), Shift::default());
        let one = span.shift(1);
        // Event times span 1723161255208..1723161308283 (53.075 s), receive times 53 s.
        assert_eq!(one.time_ms, 53_075 + 1);
        assert_eq!(one.update, 50093239218 - 50093239189 + 1 + ID_GAP);
        assert_eq!(one.trade, 1);
        assert_eq!(span.shift(3).time_ms, 3 * one.time_ms);
    }
}
