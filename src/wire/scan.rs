//! A zero-allocation JSON pull scanner, just enough JSON for exchange frames.
//!
//! Owns: walking a byte slice, validating the structure it skips, and reporting where it stopped.
//! Must not touch: what the fields mean (that is `wire::binance`). Strings are returned raw
//! (between the quotes); a string the caller needs to interpret must not contain escapes, which
//! no Binance market-data field does — the caller turns that into a typed error.

use super::{ParseError, ParseErrorKind};
use crate::num::{DecimalError, parse_decimal};

/// Deepest nesting we walk through when skipping unknown values (guards the stack).
const MAX_DEPTH: u32 = 64;

pub(crate) struct Cur<'a> {
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
        let c = self.peek()?;
        if !c.is_ascii_digit() {
            return Err(self.err(ParseErrorKind::WrongType {
                expected: "unsigned integer",
            }));
        }
        let start = self.i;
        let mut v: u64 = 0;
        let b = self.b;
        let mut i = self.i;
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
