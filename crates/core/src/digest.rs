//! A digest of everything the engine produced, frame by frame: the proof that a replay at any
//! speed, with any pauses, computed exactly the same outputs.
//!
//! Owns: the hash state and what goes into it. Must not touch: the engine's state (it only
//! reads it after each frame), clocks, I/O.
//!
//! After every frame the engine took in, the symbol it touched contributes its outputs: sync
//! phase and counters, last update id, the top [`DIGEST_LEVELS`] levels of each side, trade and
//! bookTicker counts, the last trade, the cross-check counts, and the feature vector (every
//! value's exact bits and its validity). A refused frame contributes its error text, a book
//! reset its symbol. Receive times are not hashed (they are inputs, and they are what pacing
//! changes); event times are, through the trades and features. Model outputs are added here as
//! they arrive.
//!
//! The hash is two independent 64-bit multiply–xor lanes over 64-bit words (FNV-style, not
//! cryptographic): fast, stable across runs, platforms and versions of Rust, which a
//! `std::hash::Hasher` is not promised to be.

use crate::engine::{Engine, SymbolState};
use crate::num::Symbol;

/// Levels per side hashed after each frame.
pub const DIGEST_LEVELS: usize = 10;

/// The running digest.
#[derive(Clone, Debug)]
pub struct Digest {
    a: u64,
    b: u64,
    /// Frames absorbed.
    pub frames: u64,
}

impl Default for Digest {
    fn default() -> Self {
        Digest {
            a: 0xcbf2_9ce4_8422_2325,
            b: 0x6c62_272e_07bb_0142,
            frames: 0,
        }
    }
}

impl Digest {
    fn word(&mut self, w: u64) {
        self.a = (self.a ^ w).wrapping_mul(0x0000_0100_0000_01b3);
        self.b = (self.b ^ w.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.b ^= self.b >> 31;
    }

    fn bytes(&mut self, b: &[u8]) {
        self.word(b.len() as u64);
        for c in b.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
    }

    fn symbol(&mut self, s: Symbol) {
        self.bytes(s.as_str().as_bytes());
    }

    /// Absorbs the outcome of one frame: what it changed, or why it was refused.
    pub fn frame(&mut self, engine: &Engine, refused: Option<&str>) {
        self.frames += 1;
        match (refused, engine.touched()) {
            (Some(e), _) => {
                self.word(1);
                self.bytes(e.as_bytes());
            }
            (None, Some(st)) => {
                self.word(2);
                self.symbol_state(st);
            }
            (None, None) => self.word(3),
        }
    }

    /// Absorbs a book reset (a recorded session's reconnect).
    pub fn reset(&mut self, s: Symbol) {
        self.word(4);
        self.symbol(s);
    }

    fn symbol_state(&mut self, st: &SymbolState) {
        self.symbol(st.symbol);
        let c = st.sync.counters();
        for w in [
            st.sync.phase() as u64,
            c.applied,
            c.dropped_before_sync,
            c.stale,
            c.gaps,
            c.resyncs,
            c.snapshots,
            c.snapshots_ignored,
            c.crossed_events,
            c.buffer_overflow,
            st.sync.buffered() as u64,
            st.book().last_update_id,
            st.trades,
            st.book_tickers,
            st.duplicates,
            st.ticker_check.compared,
            st.ticker_check.matched,
        ] {
            self.word(w);
        }
        let book = st.book();
        for side in [book.bids.top(DIGEST_LEVELS), book.asks.top(DIGEST_LEVELS)] {
            self.word(side.len() as u64);
            for l in side {
                self.word(l.price.0);
                self.word(l.qty.0);
            }
        }
        if let Some(t) = st.last_trade {
            for w in [t.id, t.price.0, t.qty.0, t.trade_time_ms, t.event_time_ms] {
                self.word(w);
            }
            self.word(u64::from(t.buyer_is_maker));
        }
        if let Some(sig) = st.signals.as_deref() {
            self.word(sig.minutes);
            if let Some(c) = &sig.context {
                self.bytes(format!("{c}").as_bytes());
            }
            if let Some(i) = &sig.interpretation {
                self.bytes(i.label.as_bytes());
            }
        }
        if let Some(f) = st.features() {
            let v = f.vector();
            self.word(f.updates());
            self.word(v.ts_ns());
            let m = v.valid_mask();
            self.word(m as u64);
            self.word((m >> 64) as u64);
            // Exact bits: the features are deterministic functions of the frames.
            for x in v.iter() {
                self.word(x.map_or(u64::MAX, f64::to_bits));
            }
        }
    }

    /// The digest as 32 hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}{:016x}", self.a, self.b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_in_another_order_give_another_digest() {
        let (mut x, mut y) = (Digest::default(), Digest::default());
        x.word(1);
        x.word(2);
        y.word(2);
        y.word(1);
        assert_ne!(x.hex(), y.hex());
        let mut z = Digest::default();
        z.word(1);
        z.word(2);
        assert_eq!(x.hex(), z.hex());
        assert_eq!(x.hex().len(), 32);
    }

    #[test]
    fn byte_strings_are_length_prefixed() {
        let (mut x, mut y) = (Digest::default(), Digest::default());
        x.bytes(b"ab");
        x.bytes(b"c");
        y.bytes(b"a");
        y.bytes(b"bc");
        assert_ne!(x.hex(), y.hex());
    }
}
