//! A zero-allocation JSON pull scanner, just enough JSON for exchange frames.
//!
//! Owns: walking a byte slice, validating the structure it skips, and reporting where it stopped.
//! Must not touch: what the fields mean (that is `wire::binance`). Strings are returned raw
//! (between the quotes); a string the caller needs to interpret must not contain escapes, which
//! no Binance market-data field does — the caller turns that into a typed error.

use super::{ParseError, ParseErrorKind};
use crate::num::{DecimalError, SCALE, parse_decimal};

/// Deepest nesting we walk through when skipping unknown values (guards the stack).
const MAX_DEPTH: u32 = 64;

// Fast paths for the common shapes of Binance numbers, eight bytes at a time (SWAR). Each one
// only ever answers for input the general path accepts, with the same value; on anything else
// it answers `None` and the caller takes the general path, which produces the exact error.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Eight bytes at `b[at..]` as a little-endian word (first byte lowest), if there are eight.
#[inline(always)]
fn word(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..)?
        .first_chunk::<8>()
        .map(|w| u64::from_le_bytes(*w))
}

/// Like [`word`], but bytes past the end of `b` read 0 (neither a digit, a dot nor a quote), so
/// numbers at the very end of a frame still take the fast paths.
#[inline(always)]
fn word_or_zeros(b: &[u8], at: usize) -> u64 {
    match word(b, at) {
        Some(w) => w,
        None => {
            let rest = b.get(at..).unwrap_or_default();
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(w)
        }
    }
}

/// High bit of the bytes of `w` equal to `c`. Only the lowest flagged byte is exact (a borrow can
/// flag a later byte spuriously), which is all the callers use.
#[inline(always)]
fn bytes_eq(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * c as u64);
    x.wrapping_sub(ONES) & !x & HIGH
}

/// Index (0..=8) of the first byte of `w` that is not an ASCII digit (8: all are digits).
///
/// Per byte, `c - '0'` has its high bit set when `c < '0'` (or `c ≥ 0xB0`), `c + 0x46` when
/// `c > '9'`, and `c` itself when `c ≥ 0x80`. Borrows and carries only travel towards later
/// bytes, and only from a non-digit, so the lowest flagged byte is exact.
#[inline(always)]
fn digit_run(w: u64) -> u32 {
    let flags = (w.wrapping_sub(ONES * b'0' as u64) | w.wrapping_add(ONES * 0x46) | w) & HIGH;
    flags.trailing_zeros() / 8
}

/// Mask of the low `n` bytes, `n` in 1..=8.
#[inline(always)]
fn low_bytes(n: u32) -> u64 {
    u64::MAX >> (64 - 8 * n)
}

/// The value of eight digit values (0..=9, one per byte, most significant in the lowest byte).
#[inline(always)]
fn eight_digits(d: u64) -> u64 {
    // Pairs first (byte 2k holds digits 2k and 2k+1 as a number below 100), then the four pairs
    // in two independent multiplies that add up in the high half (as in simdjson).
    const PAIRS: u64 = 0x0000_00FF_0000_00FF;
    const MUL_0_2: u64 = 100 + (1_000_000 << 32);
    const MUL_1_3: u64 = 1 + (10_000 << 32);
    let d = d.wrapping_mul(10).wrapping_add(d >> 8);
    ((d & PAIRS)
        .wrapping_mul(MUL_0_2)
        .wrapping_add(((d >> 16) & PAIRS).wrapping_mul(MUL_1_3)))
        >> 32
}

/// The value of the `n` (1..=8) leading digits of `w`, all known to be digits.
#[inline(always)]
fn leading_digits(w: u64, n: u32) -> u64 {
    // Digit values moved to the top bytes, so the missing leading positions read 0.
    eight_digits(((w & (ONES * 0x0F)) & low_bytes(n)) << (64 - 8 * n))
}

/// `b[s..s + len]` as a decimal of the common shape, `<1-8 digits>` or
/// `<1-8 digits>.<1-8 digits>`, followed by a closing quote at `b[s + len]`.
#[inline(always)]
fn decimal_at(b: &[u8], s: usize, len: usize) -> Option<u64> {
    if b.get(s + len) != Some(&b'"') {
        return None;
    }
    let w = word_or_zeros(b, s);
    let k = digit_run(w) as usize;
    if k >= len {
        // Integer only (`len` ≤ k ≤ 8).
        if len == 0 {
            return None;
        }
        return Some(leading_digits(w, len as u32) * SCALE);
    }
    let frac_len = len - k - 1;
    if k == 0 || b[s + k] != b'.' || !(1..=8).contains(&frac_len) {
        return None;
    }
    let fw = word_or_zeros(b, s + k + 1);
    if (digit_run(fw) as usize) < frac_len {
        return None;
    }
    // Fraction digits stay in the low (most significant) bytes: the missing trailing positions
    // read 0, which scales the fraction to 8 decimals.
    let frac = eight_digits((fw & (ONES * 0x0F)) & low_bytes(frac_len as u32));
    Some(leading_digits(w, k as u32) * SCALE + frac)
}

/// Index of the first `"` in `b[s..s + 16]`: the closing quote of any common-shape decimal
/// but the longest (`<8 digits>.<8 digits>`), which then takes the general path.
#[inline(always)]
fn quote_within(b: &[u8], s: usize) -> Option<usize> {
    let m = bytes_eq(word_or_zeros(b, s), b'"');
    if m != 0 {
        return Some(s + (m.trailing_zeros() / 8) as usize);
    }
    let m = bytes_eq(word_or_zeros(b, s + 8), b'"');
    if m != 0 {
        return Some(s + 8 + (m.trailing_zeros() / 8) as usize);
    }
    None
}

/// A quoted decimal of the common shape starting at `b[at]` (the opening quote): its mantissa and
/// the index just past the closing quote.
#[inline(always)]
fn quoted_decimal_fast(b: &[u8], at: usize) -> Option<(u64, usize)> {
    if b.get(at) != Some(&b'"') {
        return None;
    }
    let close = quote_within(b, at + 1)?;
    decimal_at(b, at + 1, close - at - 1).map(|v| (v, close + 1))
}

/// The layout of a decimal string, `<int digits>[.<fraction digits>]`, with the masks that read
/// it worked out once per layout rather than once per number.
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    /// Characters between the quotes.
    len: usize,
    /// Index of the dot, or of the closing quote when there is no dot.
    dot: usize,
    /// `.` or `"`: the byte expected at `dot`.
    dot_byte: u8,
    /// The integer digits' bytes in the word loaded at the start.
    int_mask: u64,
    /// Moves the integer digits to the top of the word, so missing leading positions read 0.
    int_shift: u32,
    /// The fraction digits' bytes in the word loaded after the dot (0 when there is no dot).
    frac_mask: u64,
}

impl Shape {
    /// A layout [`decimal_shaped`] can read: 1 to 8 digits, then optionally a dot and 1 to 8
    /// digits. `dot == len` means no dot.
    fn new(len: usize, dot: usize) -> Option<Shape> {
        let frac_len = len.saturating_sub(dot + 1);
        let ok = (1..=8).contains(&dot) && (dot == len || (1..=8).contains(&frac_len));
        ok.then(|| Shape {
            len,
            dot,
            dot_byte: if dot == len { b'"' } else { b'.' },
            int_mask: low_bytes(dot as u32),
            int_shift: 64 - 8 * dot as u32,
            frac_mask: if frac_len == 0 {
                0
            } else {
                low_bytes(frac_len as u32)
            },
        })
    }
}

/// High nibble of every byte of `w` that is not an ASCII digit, given `v = w & 0x0F..`: a digit
/// has high nibble 3 and low nibble at most 9 (`+ 6` stays below 0x10). Exact for every byte.
#[inline(always)]
fn non_digit_nibbles(w: u64, v: u64) -> u64 {
    ((w ^ (ONES * b'0' as u64)) | (v + ONES * 6)) & (ONES * 0xF0)
}

/// `b[s..]` as a decimal of exactly the layout `shape`, closed by a quote at `b[s + shape.len]`.
#[inline(always)]
fn decimal_shaped(b: &[u8], s: usize, shape: Shape) -> Option<u64> {
    if b.get(s + shape.len) != Some(&b'"') || b[s + shape.dot] != shape.dot_byte {
        return None;
    }
    let w = word_or_zeros(b, s);
    let fw = word_or_zeros(b, s + shape.dot + 1);
    let (v, fv) = (w & (ONES * 0x0F), fw & (ONES * 0x0F));
    if (non_digit_nibbles(w, v) & shape.int_mask) | (non_digit_nibbles(fw, fv) & shape.frac_mask)
        != 0
    {
        return None;
    }
    let int = eight_digits((v & shape.int_mask) << shape.int_shift);
    // Fraction digits stay in the low (most significant) bytes: the missing trailing positions
    // read 0, which scales the fraction to 8 decimals.
    let frac = eight_digits(fv & shape.frac_mask);
    Some(int * SCALE + frac)
}

/// A decimal string at `b[s..]` (after its opening quote) read with the layout of the previous
/// string of the same role first; on a miss, the layout is measured and remembered.
///
/// Within one frame prices (and quantities) mostly have the same layout, so the guess usually
/// holds and the end of the string is known without looking for the quote: the position of the
/// next token then depends on no loaded byte, only on checks the CPU predicts, and consecutive
/// levels decode in parallel instead of one after the other.
#[inline(always)]
fn guessed_decimal(b: &[u8], s: usize, shape: &mut Shape) -> Option<u64> {
    if let Some(v) = decimal_shaped(b, s, *shape) {
        return Some(v);
    }
    remeasure(b, s, shape)
}

#[inline(never)]
fn remeasure(b: &[u8], s: usize, shape: &mut Shape) -> Option<u64> {
    let close = quote_within(b, s)?;
    let body = &b[s..close];
    let dot = body.iter().position(|&c| c == b'.').unwrap_or(body.len());
    *shape = Shape::new(body.len(), dot)?;
    decimal_shaped(b, s, *shape)
}

/// The run of 1 to 15 digits at `b[s..]` (it starts with a digit): its value and the index
/// just past it. `None` for longer runs or too little input left for word loads.
#[inline(always)]
fn integer_fast(b: &[u8], s: usize) -> Option<(u64, usize)> {
    let w = word_or_zeros(b, s);
    let n = digit_run(w);
    if n == 0 {
        return None;
    }
    if n < 8 {
        return Some((leading_digits(w, n), s + n as usize));
    }
    let w2 = word_or_zeros(b, s + 8);
    let n2 = digit_run(w2);
    if n2 == 8 {
        return None;
    }
    let hi = eight_digits(w & (ONES * 0x0F));
    let v = if n2 == 0 {
        hi
    } else {
        hi * POW10[n2 as usize] + leading_digits(w2, n2)
    };
    Some((v, s + 8 + n2 as usize))
}

const POW10: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// High bit of the bytes of `w` that end a plain string run: a quote, a backslash or a control
/// character.
/// Only the lowest flagged byte is exact (a borrow can flag a later byte spuriously), which is
/// all the caller uses.
#[inline(always)]
fn string_stops(w: u64) -> u64 {
    bytes_eq(w, b'"') | bytes_eq(w, b'\\') | (w.wrapping_sub(ONES * 0x20) & !w & HIGH)
}

/// A layout no string matches (its dot byte is never at its dot: it has no digits).
const NO_SHAPE: Shape = Shape {
    len: 0,
    dot: 0,
    dot_byte: 0,
    int_mask: 0,
    int_shift: 0,
    frac_mask: 0,
};

/// Layouts of the previous price level's strings, the guesses for the next one.
pub(crate) struct LevelShape {
    price: Shape,
    qty: Shape,
}

impl Default for LevelShape {
    fn default() -> Self {
        // Spot BTCUSDT: "61837.64000000", "1.54698000".
        // `Shape::new` accepts both; the fallbacks are never used.
        LevelShape {
            price: Shape::new(14, 5).unwrap_or(NO_SHAPE),
            qty: Shape::new(10, 1).unwrap_or(NO_SHAPE),
        }
    }
}

/// A price level in its common shape at `b[i..]`, `["<decimal>","<decimal>"]` with no
/// whitespace and no extra elements: its two mantissas and the index just past its `]`. `None`
/// for any other shape, which the caller then walks the general way.
#[inline(always)]
pub(crate) fn level_at(b: &[u8], i: usize, shape: &mut LevelShape) -> Option<(u64, u64, usize)> {
    if b.get(i..i + 2) != Some(&b"[\""[..]) {
        return None;
    }
    let ps = i + 2;
    let price = guessed_decimal(b, ps, &mut shape.price)?;
    let pe = ps + shape.price.len;
    if b.get(pe + 1..pe + 3) != Some(&b",\""[..]) {
        return None;
    }
    let qs = pe + 3;
    let qty = guessed_decimal(b, qs, &mut shape.qty)?;
    let qe = qs + shape.qty.len;
    if b.get(qe + 1) != Some(&b']') {
        return None;
    }
    Some((price, qty, qe + 2))
}

pub struct Cur<'a> {
    pub b: &'a [u8],
    pub i: usize,
}

impl<'a> Cur<'a> {
    #[inline]
    pub fn new(b: &'a [u8]) -> Self {
        Cur { b, i: 0 }
    }

    #[inline]
    pub fn err(&self, kind: ParseErrorKind) -> ParseError {
        ParseError::at(self.b, self.i, kind)
    }

    #[inline]
    pub fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    /// Next non-whitespace byte, not consumed.
    #[inline]
    pub fn peek(&mut self) -> Result<u8, ParseError> {
        self.ws();
        match self.b.get(self.i) {
            Some(&c) => Ok(c),
            None => Err(self.err(ParseErrorKind::UnexpectedEnd)),
        }
    }

    #[inline]
    pub fn eat(&mut self, c: u8, what: &'static str) -> Result<(), ParseError> {
        let got = self.peek()?;
        if got == c {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(ParseErrorKind::Expected {
                what,
                found: got as char,
            }))
        }
    }

    /// After a member: `,` → true (another follows), the closing byte → false.
    #[inline]
    pub fn next_member(&mut self, close: u8) -> Result<bool, ParseError> {
        let c = self.peek()?;
        self.i += 1;
        if c == b',' {
            Ok(true)
        } else if c == close {
            Ok(false)
        } else {
            self.i -= 1;
            Err(self.err(ParseErrorKind::Expected {
                what: if close == b'}' {
                    "',' or '}'"
                } else {
                    "',' or ']'"
                },
                found: c as char,
            }))
        }
    }

    /// A string without escapes; returns the bytes between the quotes.
    #[inline]
    pub fn plain_str(&mut self) -> Result<&'a [u8], ParseError> {
        self.eat(b'"', "'\"'")?;
        let start = self.i;
        let b = self.b;
        let mut i = start;
        // Skip ordinary bytes eight at a time; the loop below handles the byte that stops this.
        while let Some(w) = word(b, i) {
            let stops = string_stops(w);
            if stops != 0 {
                i += (stops.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        while i < b.len() {
            let c = b[i];
            if c == b'"' {
                self.i = i + 1;
                return Ok(&b[start..i]);
            }
            if c == b'\\' {
                self.i = i;
                return Err(self.err(ParseErrorKind::EscapedString));
            }
            if c < 0x20 {
                self.i = i;
                return Err(self.err(ParseErrorKind::ControlCharInString));
            }
            i += 1;
        }
        self.i = b.len();
        Err(self.err(ParseErrorKind::UnexpectedEnd))
    }

    /// An object key. Keys with escapes are returned raw, which simply matches no known key.
    #[inline]
    pub fn key(&mut self) -> Result<&'a [u8], ParseError> {
        // Fast path: a key of at most 7 plain bytes, its quotes and the colon, no whitespace.
        let (b, i) = (self.b, self.i);
        if b.get(i) == Some(&b'"') {
            let n = (string_stops(word_or_zeros(b, i + 1)).trailing_zeros() / 8) as usize;
            if n < 8 && b.get(i + 1 + n) == Some(&b'"') && b.get(i + 2 + n) == Some(&b':') {
                self.i = i + 3 + n;
                return Ok(&b[i + 1..i + 1 + n]);
            }
        }
        let start = self.peek().map(|_| self.i)?;
        let k = match self.plain_str() {
            Ok(k) => k,
            Err(e) if e.kind == ParseErrorKind::EscapedString => {
                self.i = start;
                self.skip_string()?;
                &self.b[start + 1..self.i - 1]
            }
            Err(e) => return Err(e),
        };
        self.eat(b':', "':'")?;
        Ok(k)
    }

    /// A JSON string holding a Binance decimal.
    #[inline]
    pub fn decimal(&mut self) -> Result<u64, ParseError> {
        self.ws();
        if let Some((v, end)) = quoted_decimal_fast(self.b, self.i) {
            self.i = end;
            return Ok(v);
        }
        self.decimal_slow()
    }

    /// The general path: any string, exact errors. [`quoted_decimal_fast`] only ever answers
    /// for strings this path accepts, with the same value.
    #[cold]
    #[inline(never)]
    fn decimal_slow(&mut self) -> Result<u64, ParseError> {
        let s = self.plain_str()?;
        parse_decimal(s).map_err(|e: DecimalError| {
            let mut err = self.err(ParseErrorKind::BadDecimal(e));
            err.offset = self.i.saturating_sub(s.len() + 1);
            err
        })
    }

    /// A non-negative JSON integer that fits u64.
    #[inline]
    pub fn u64(&mut self) -> Result<u64, ParseError> {
        let c = match self.b.get(self.i) {
            Some(&c) if c.is_ascii_digit() => c,
            _ => self.peek()?,
        };
        if !c.is_ascii_digit() {
            return Err(self.err(ParseErrorKind::WrongType {
                expected: "unsigned integer",
            }));
        }
        let start = self.i;
        let b = self.b;
        let (v, i) = match integer_fast(b, start) {
            Some(vi) => vi,
            None => {
                let mut v: u64 = 0;
                let mut i = start;
                while i < b.len() {
                    let d = b[i].wrapping_sub(b'0');
                    if d >= 10 {
                        break;
                    }
                    v = match v.checked_mul(10).and_then(|v| v.checked_add(d as u64)) {
                        Some(v) => v,
                        None => {
                            self.i = start;
                            return Err(self.err(ParseErrorKind::BadNumber));
                        }
                    };
                    i += 1;
                }
                (v, i)
            }
        };
        // JSON forbids leading zeros; a fraction or exponent means it is not an integer.
        if (b[start] == b'0' && i - start > 1)
            || matches!(b.get(i), Some(b'.' | b'e' | b'E' | b'-' | b'+'))
        {
            self.i = start;
            return Err(self.err(ParseErrorKind::WrongType {
                expected: "unsigned integer",
            }));
        }
        self.i = i;
        Ok(v)
    }

    #[inline]
    pub fn bool(&mut self) -> Result<bool, ParseError> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|_| true),
            b'f' => self.literal(b"false").map(|_| false),
            _ => Err(self.err(ParseErrorKind::WrongType {
                expected: "boolean",
            })),
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Result<(), ParseError> {
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(self.err(ParseErrorKind::BadLiteral))
        }
    }

    /// Skips a string, validating its escapes.
    pub fn skip_string(&mut self) -> Result<(), ParseError> {
        self.eat(b'"', "'\"'")?;
        let b = self.b;
        let mut i = self.i;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    self.i = i + 1;
                    return Ok(());
                }
                b'\\' => {
                    match b.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let hex = b.get(i + 2..i + 6);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                self.i = i;
                                return Err(self.err(ParseErrorKind::BadEscape));
                            }
                            i += 6;
                        }
                        _ => {
                            self.i = i;
                            return Err(self.err(ParseErrorKind::BadEscape));
                        }
                    }
                    continue;
                }
                c if c < 0x20 => {
                    self.i = i;
                    return Err(self.err(ParseErrorKind::ControlCharInString));
                }
                _ => i += 1,
            }
        }
        self.i = b.len();
        Err(self.err(ParseErrorKind::UnexpectedEnd))
    }

    fn skip_number(&mut self) -> Result<(), ParseError> {
        // JSON number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
        let b = self.b;
        let start = self.i;
        let mut i = self.i;
        let digits = |i: &mut usize| {
            let s = *i;
            while *i < b.len() && b[*i].is_ascii_digit() {
                *i += 1;
            }
            *i - s
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        let n = digits(&mut i);
        let mut ok = n > 0 && !(b[int_start] == b'0' && n > 1);
        if ok && b.get(i) == Some(&b'.') {
            i += 1;
            ok = digits(&mut i) > 0;
        }
        if ok && matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            ok = digits(&mut i) > 0;
        }
        if !ok {
            self.i = start;
            return Err(self.err(ParseErrorKind::BadNumber));
        }
        self.i = i;
        Ok(())
    }

    /// Skips any JSON value, validating it.
    pub fn skip_value(&mut self) -> Result<(), ParseError> {
        self.skip_value_depth(0)
    }

    fn skip_value_depth(&mut self, depth: u32) -> Result<(), ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err(ParseErrorKind::TooDeep));
        }
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => {
                self.i += 1;
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.skip_string()?;
                    self.eat(b':', "':'")?;
                    self.skip_value_depth(depth + 1)?;
                    if !self.next_member(b'}')? {
                        return Ok(());
                    }
                }
            }
            b'[' => {
                self.i += 1;
                if self.peek()? == b']' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value_depth(depth + 1)?;
                    if !self.next_member(b']')? {
                        return Ok(());
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            c => Err(self.err(ParseErrorKind::Expected {
                what: "a JSON value",
                found: c as char,
            })),
        }
    }

    /// True once only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.ws();
        self.i >= self.b.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic xorshift, so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }
    }

    /// Number-like text: digit runs of any length (0 to 20), maybe a dot, maybe a stray byte.
    fn numberish(r: &mut Rng) -> Vec<u8> {
        let mut s = Vec::new();
        let digits = |r: &mut Rng, s: &mut Vec<u8>, n: usize| {
            for _ in 0..n {
                s.push(b'0' + r.below(10) as u8);
            }
        };
        let n = r.below(13);
        digits(r, &mut s, n);
        if r.below(4) != 0 {
            s.push(b'.');
            let n = r.below(11);
            digits(r, &mut s, n);
        }
        if r.below(8) == 0 {
            let junk = b"-+eE.x\\\" \n\x01\x7f\xc3";
            let at = r.below(s.len() as u64 + 1);
            s.insert(at, junk[r.below(junk.len() as u64)]);
        }
        s
    }

    /// What follows a value in a frame, sometimes nothing (numbers at the very end).
    fn tail(r: &mut Rng) -> &'static [u8] {
        [
            &b""[..],
            b"\"",
            b"\"]",
            b"\",\"0.1\"]]}}",
            b"],[\"1\",\"2\"]]}",
            b" ,",
            b"}",
        ][r.below(7)]
    }

    fn outcome<T>(r: Result<T, ParseError>, cur: &Cur<'_>) -> Result<(T, usize), ParseError> {
        r.map(|v| (v, cur.i))
    }

    #[test]
    fn decimal_fast_path_equals_the_general_path() {
        let mut r = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..200_000 {
            let mut frame = b"\"".to_vec();
            frame.extend(numberish(&mut r));
            frame.extend(tail(&mut r));
            let mut fast = Cur::new(&frame);
            let got = fast.decimal();
            let got = outcome(got, &fast);
            let mut slow = Cur::new(&frame);
            let want = slow.decimal_slow();
            let want = outcome(want, &slow);
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&frame));
        }
    }

    #[test]
    fn level_fast_path_equals_the_general_path() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let mut shape = LevelShape::default();
        let mut hits = 0;
        for _ in 0..100_000 {
            let mut frame = b"[\"".to_vec();
            frame.extend(numberish(&mut r));
            frame.extend(b"\",\"");
            frame.extend(numberish(&mut r));
            frame.extend([b"\"]".as_slice(), b"\"]", b"\"]", b"\" ]", b"\",1]"][r.below(5)]);
            frame.extend(tail(&mut r));
            let Some((p, q, end)) = level_at(&frame, 0, &mut shape) else {
                continue;
            };
            hits += 1;
            let mut c = Cur::new(&frame);
            c.i = 1;
            let want_p = c.decimal_slow();
            c.i += 1; // the comma
            let want_q = c.decimal_slow();
            assert_eq!(
                (Ok(p), Ok(q), b']', end),
                (want_p, want_q, frame[c.i], c.i + 1),
                "{:?}",
                String::from_utf8_lossy(&frame)
            );
        }
        assert!(hits > 10_000, "only {hits} levels took the fast path");
    }

    #[test]
    fn integer_fast_path_equals_a_digit_loop() {
        let mut r = Rng(0x1234_5678_9abc_def1);
        for _ in 0..200_000 {
            let mut frame: Vec<u8> = (0..1 + r.below(20))
                .map(|_| b'0' + r.below(10) as u8)
                .collect();
            frame.extend(tail(&mut r));
            let mut c = Cur::new(&frame);
            let got = c.u64();
            let got = outcome(got, &c);
            // The plain loop this replaced.
            let n = frame.iter().take_while(|c| c.is_ascii_digit()).count();
            let want = std::str::from_utf8(&frame[..n])
                .ok()
                .and_then(|s| s.parse::<u64>().ok());
            match want {
                Some(v) if !(frame[0] == b'0' && n > 1) => assert_eq!(got, Ok((v, n))),
                _ => assert!(got.is_err(), "{:?}", String::from_utf8_lossy(&frame)),
            }
        }
    }

    #[test]
    fn strings_and_keys_stop_at_quotes_escapes_and_control_bytes() {
        let mut r = Rng(0x0bad_5eed_f00d_cafe);
        let alphabet = b"abcXYZ019_@.:,{} \\\"\x01\x1f\x7f\xc3\xa9";
        for _ in 0..200_000 {
            let mut frame = b"\"".to_vec();
            for _ in 0..r.below(20) {
                frame.push(alphabet[r.below(alphabet.len() as u64)]);
            }
            frame.extend([&b"\""[..], b"\":", b"\" :", b""][r.below(4)]);
            frame.extend(tail(&mut r));
            // The plain byte loop this replaced.
            let want = {
                let body = &frame[1..];
                match body
                    .iter()
                    .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                {
                    Some(n) if body[n] == b'"' => Ok((&body[..n], n + 2)),
                    Some(n) if body[n] == b'\\' => Err((ParseErrorKind::EscapedString, n + 1)),
                    Some(n) => Err((ParseErrorKind::ControlCharInString, n + 1)),
                    None => Err((ParseErrorKind::UnexpectedEnd, frame.len())),
                }
            };
            let mut c = Cur::new(&frame);
            let got = c
                .plain_str()
                .map(|s| (s, c.i))
                .map_err(|e| (e.kind, e.offset));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&frame));
            // A key is the same string followed by a colon, whichever path reads it.
            let mut fast = Cur::new(&frame);
            let got = fast.key().map(|k| (k.to_vec(), fast.i));
            let mut slow = Cur::new(&frame);
            let want = slow.plain_str().map(|k| k.to_vec()).and_then(|k| {
                slow.eat(b':', "':'")?;
                Ok((k, slow.i))
            });
            if want
                .as_ref()
                .is_err_and(|e| e.kind == ParseErrorKind::EscapedString)
            {
                continue; // keys with escapes take their own (unchanged) path
            }
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&frame));
        }
    }
}
