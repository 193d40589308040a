//! The tick-indexed window around the touch: [`SLOTS`] consecutive ticks, one quantity per
//! tick and an occupancy bitset with a summary bitset above it (one bit per non-empty word).
//!
//! Owns: which keys fall on a slot, slot quantities and occupancy, walking occupied slots from
//! the top. Must not touch: prices (it sees keys; only the top-N walk turns them into its
//! side's prices, through the side's `flip`), the blocked structure, when to move.
//!
//! Slot `s` holds key `base + s * tick`. A key falls on a slot when it is at or above `base`,
//! a multiple of `tick` away from it and less than [`SLOTS`] ticks away: one subtraction, one
//! rotation and one multiplication by the inverse of the tick's odd part decide all three
//! (exact division by an invariant: a product below the slot count can only come from an
//! exact multiple in range, because `base + SLOTS * tick` never passes `u64::MAX`).

use super::Entry;
use crate::num::{Price, Qty};
use crate::wire::Level;

/// Words of the occupancy bitset.
pub(super) const WORDS: usize = 512;
/// Words of the summary bitset.
const SUMMARY: usize = WORDS / 64;
/// The bitsets and the quantities hold slot `s` at index `s ^ REV` (= `SLOTS - 1 - s`): the
/// walk from the top then runs up the indices, one trailing-zero count and one `m & (m - 1)`
/// per level.
const REV: usize = SLOTS - 1;
/// Ticks the window spans: 32,768 (real streams update a median 260–2,600 ticks behind the
/// best, p90 1,900–14,000; see the `peers` bench). 256 KiB of quantities, touched only near
/// the levels that change.
pub(super) const SLOTS: usize = WORDS * 64;

/// See the module doc. Off (no slot for any key) until [`Window::place`] gives it a tick.
#[derive(Clone)]
pub(super) struct Window {
    tick: u64,
    /// The tick is `odd << shift`; `inv * odd ≡ 1 (mod 2^64)`.
    shift: u32,
    inv: u64,
    /// Key of slot 0.
    base: u64,
    /// The side's `key ^ price` mask: 0 for bids, all ones for asks.
    flip: u64,
    /// For [`Window::top_into`], set by [`Window::place`]: the price of reversed index 0 (the
    /// highest slot), and the price steps from one reversed index and from one bitset word to
    /// the next (`-tick` and `-64 * tick` for bids, `tick` and `64 * tick` for asks).
    at0: u64,
    step: u64,
    word_step: u64,
    /// [`SLOTS`] when on, 0 when off: the bound a quotient must be below.
    limit: u64,
    len: usize,
    /// Bit `w % 64` of word `w / 64` set when `bits[w]` is not zero.
    summary: [u64; SUMMARY],
    bits: [u64; WORDS],
    qtys: Box<[u64; SLOTS]>,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            tick: 0,
            shift: 0,
            inv: 1,
            base: 0,
            flip: 0,
            at0: 0,
            step: 0,
            word_step: 0,
            limit: 0,
            len: 0,
            summary: [0; SUMMARY],
            bits: [0; WORDS],
            qtys: zeroed(),
        }
    }
}

/// A zeroed quantity array, allocated zeroed (not built on the stack and moved).
fn zeroed() -> Box<[u64; SLOTS]> {
    match vec![0u64; SLOTS].into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("a boxed slice of SLOTS elements converts to an array"),
    }
}

/// The inverse of an odd number modulo 2^64 (Newton's iteration: each step doubles the
/// correct low bits; `odd * odd ≡ 1 (mod 8)` gives the first three).
fn inverse(odd: u64) -> u64 {
    let mut inv = odd;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(inv)));
    }
    inv
}

/// Largest tick the window accepts: `SLOTS * tick` must stay far below 2^64 for the
/// one-multiplication slot test.
pub(super) const MAX_TICK: u64 = 1 << 48;

impl Window {
    /// An off window for the side whose keys are `price ^ flip`.
    pub(super) fn new(flip: u64) -> Self {
        Window {
            flip,
            ..Window::default()
        }
    }

    pub(super) fn tick(&self) -> u64 {
        self.tick
    }

    pub(super) fn is_on(&self) -> bool {
        self.limit != 0
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The slot of `key`, if the window has one for it.
    #[inline(always)]
    pub(super) fn slot(&self, key: u64) -> Option<usize> {
        let q = key
            .wrapping_sub(self.base)
            .rotate_right(self.shift)
            .wrapping_mul(self.inv);
        (q < self.limit).then_some(q as usize % SLOTS)
    }

    #[inline(always)]
    pub(super) fn key_of(&self, slot: usize) -> u64 {
        self.base + slot as u64 * self.tick
    }

    #[inline(always)]
    pub(super) fn qty(&self, slot: usize) -> u64 {
        self.qtys[(slot ^ REV) % SLOTS]
    }

    /// Sets slot `s` to `qty` (0 empties it); returns the quantity it held.
    #[inline(always)]
    pub(super) fn put(&mut self, s: usize, qty: u64) -> u64 {
        let r = (s ^ REV) % SLOTS;
        let old = std::mem::replace(&mut self.qtys[r], qty);
        let (w, bit) = (r / 64, 1u64 << (r % 64));
        if qty != 0 {
            if old == 0 {
                self.bits[w] |= bit;
                self.summary[w / 64 % SUMMARY] |= 1 << (w % 64);
                self.len += 1;
            }
        } else if old != 0 {
            self.bits[w] &= !bit;
            if self.bits[w] == 0 {
                self.summary[w / 64 % SUMMARY] &= !(1 << (w % 64));
            }
            self.len -= 1;
        }
        old
    }

    /// The highest occupied slot's entry.
    #[inline]
    pub(super) fn top(&self) -> Option<Entry> {
        let s = self.cursor().next_slot()?;
        Some(Entry {
            key: self.key_of(s),
            qty: self.qty(s),
        })
    }

    /// Empties every slot (the tick and base stay).
    pub(super) fn clear(&mut self) {
        for w in 0..WORDS {
            let mut m = self.bits[w];
            while m != 0 {
                let b = m.trailing_zeros() as usize;
                m &= m - 1;
                self.qtys[(w * 64 + b) % SLOTS] = 0;
            }
        }
        self.bits = [0; WORDS];
        self.summary = [0; SUMMARY];
        self.len = 0;
    }

    /// Turns the window off; it must be empty.
    pub(super) fn off(&mut self) {
        debug_assert_eq!(self.len, 0);
        self.tick = 0;
        self.limit = 0;
    }

    /// Puts the (empty) window on `tick` with `anchor` on slot `at`, or as close to it as the
    /// key range allows; off when the tick is 0 or above [`MAX_TICK`]. Returns whether it is on.
    pub(super) fn place(&mut self, tick: u64, anchor: u64, at: usize) -> bool {
        debug_assert_eq!(self.len, 0);
        self.off();
        if tick == 0 || tick > MAX_TICK {
            return false;
        }
        // base = anchor - k * tick with base >= 0 and base + SLOTS * tick <= 2^64.
        let k_max = (anchor / tick).min(SLOTS as u64 - 1);
        let room_above = ((1u128 << 64) - anchor as u128) / tick as u128;
        let k_min = (SLOTS as u128).saturating_sub(room_above) as u64;
        if k_min > k_max {
            return false;
        }
        let k = (at as u64).clamp(k_min, k_max);
        let shift = tick.trailing_zeros();
        self.tick = tick;
        self.shift = shift;
        self.inv = inverse(tick >> shift);
        self.base = anchor - k * tick;
        // Reversed index `r` holds slot `SLOTS - 1 - r`, key `top - r * tick` with `top` the
        // key of the highest slot; its price is that key `^ flip`, and for asks (`flip` all
        // ones) `!(top - r * tick) = !top + r * tick`. So price = `at0 + r * step` either way.
        let top = self.base + REV as u64 * tick;
        let signed = |d: u64| (d.wrapping_neg() ^ self.flip).wrapping_sub(self.flip);
        self.at0 = top ^ self.flip;
        self.step = signed(tick);
        self.word_step = signed(64 * tick);
        self.limit = SLOTS as u64;
        true
    }

    /// Appends every level in ascending key order to `out`.
    pub(super) fn entries_into(&self, out: &mut Vec<Entry>) {
        let start = out.len();
        let mut c = self.cursor();
        while let Some(s) = c.next_slot() {
            out.push(Entry {
                key: self.key_of(s),
                qty: self.qty(s),
            });
        }
        out[start..].reverse();
    }

    /// Total quantity of the slots with keys at or above `limit`.
    pub(super) fn qty_within(&self, limit: u64) -> u128 {
        let mut total = 0u128;
        let mut c = self.cursor();
        while let Some(s) = c.next_slot() {
            if self.key_of(s) < limit {
                break;
            }
            total += self.qty(s) as u128;
        }
        total
    }

    /// A key at or below every level the window holds: its base (`u64::MAX` when empty).
    #[inline]
    pub(super) fn lowest_key(&self) -> u64 {
        if self.len == 0 { u64::MAX } else { self.base }
    }

    /// Writes the occupied slots from the top, as levels (`key ^ flip`), into `out` until it
    /// is full; returns how many it wrote.
    ///
    /// Per occupied word: one trailing-zero count on the summary word, the occupancy word, the
    /// price of the word's first slot and its 64 quantities as one array (no per-level bounds
    /// check). Per level (12 instructions on x86-64): one trailing-zero count, one
    /// `m & (m - 1)`, one multiply-add for the price, one load for the quantity, the two
    /// stores and the end-of-`out` test.
    #[inline]
    pub(super) fn top_into(&self, out: &mut [Level]) -> usize {
        let n = out.len();
        if self.len == 0 {
            return 0;
        }
        // Price = `at0 + r * step` for reversed index `r` (see `place`), computed per word and
        // bit as `at0 + w * word_step + b * step`. `word_step` is a kept field, not derived
        // from `step` here: the compiler would otherwise fold the sum back into
        // `(w * 64 | b) * step`, one more instruction per level.
        let (at0, step, word_step) = (self.at0, self.step, self.word_step);
        let (qtys, _) = self.qtys.as_chunks::<64>();
        let mut rest = out.iter_mut();
        for (j, &sm) in self.summary.iter().enumerate() {
            let mut sm = sm;
            while sm != 0 {
                let w = (j * 64 + sm.trailing_zeros() as usize) % WORDS;
                sm &= sm - 1;
                let qs = &qtys[w];
                let at = at0.wrapping_add((w as u64).wrapping_mul(word_step));
                let level = |b: usize| Level {
                    price: Price(at.wrapping_add((b as u64).wrapping_mul(step))),
                    qty: Qty(qs[b % 64]),
                };
                let mut m = self.bits[w];
                // Two levels per turn: the output pointer moves once per two (unrolled by
                // hand, the compiler keeps a copy of it per level otherwise).
                while m != 0 {
                    let Some(dst) = rest.next() else {
                        return n;
                    };
                    *dst = level(m.trailing_zeros() as usize);
                    m &= m - 1;
                    if m == 0 {
                        break;
                    }
                    let Some(dst) = rest.next() else {
                        return n;
                    };
                    *dst = level(m.trailing_zeros() as usize);
                    m &= m - 1;
                }
            }
        }
        n - rest.len()
    }

    /// A cursor above the highest slot.
    #[inline]
    pub(super) fn cursor(&self) -> WinCursor<'_> {
        WinCursor {
            win: self,
            next: 0,
            w: 0,
            m: 0,
        }
    }
}

impl std::fmt::Debug for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut levels = Vec::new();
        self.entries_into(&mut levels);
        f.debug_struct("Window")
            .field("tick", &self.tick)
            .field("base", &self.base)
            .field("on", &self.is_on())
            .field("levels", &levels)
            .finish()
    }
}

/// Walks a window's occupied slots from the top (up the reversed bit indices): `m` holds the
/// bits of word `w` not yet read, `next` is the next word to look at.
pub(super) struct WinCursor<'a> {
    win: &'a Window,
    next: usize,
    w: usize,
    m: u64,
}

impl WinCursor<'_> {
    /// The next occupied slot down, `None` past the lowest.
    #[inline]
    pub(super) fn next_slot(&mut self) -> Option<usize> {
        if self.m == 0 {
            // The next word first (near the touch, occupied words run together), then the
            // lowest occupied word above it through the summary.
            let next = if self.next < WORDS {
                self.win.bits[self.next % WORDS]
            } else {
                0
            };
            if next != 0 {
                self.w = self.next;
                self.next += 1;
                self.m = next;
            } else {
                self.seek_word()?;
            }
        }
        let r = self.w * 64 + self.m.trailing_zeros() as usize;
        self.m &= self.m - 1;
        Some(r ^ REV)
    }

    /// Moves to the lowest occupied word at or above `next` through the summary; `None` when
    /// there is none.
    #[inline]
    fn seek_word(&mut self) -> Option<()> {
        let mut j = self.next / 64;
        if j >= SUMMARY {
            return None;
        }
        let mut above = self.win.summary[j] & (u64::MAX << (self.next % 64));
        while above == 0 {
            j += 1;
            if j >= SUMMARY {
                self.next = WORDS;
                return None;
            }
            above = self.win.summary[j];
        }
        self.w = (j * 64 + above.trailing_zeros() as usize) % WORDS;
        self.next = self.w + 1;
        self.m = self.win.bits[self.w];
        Some(())
    }

    /// The next occupied level down.
    #[inline]
    pub(super) fn next_entry(&mut self) -> Option<Entry> {
        let s = self.next_slot()?;
        Some(Entry {
            key: self.win.key_of(s),
            qty: self.win.qty(s),
        })
    }
}
