//! Exact fixed-point numbers and domain newtypes.
//!
//! Owns: the representation of prices and quantities (unsigned mantissas with 8 implied decimals,
//! parsed straight from Binance's decimal strings and printed back losslessly), update ids,
//! nanosecond timestamps and symbols. Must not touch: I/O, floats for book state.
//!
//! Binance publishes every price and quantity as a decimal string with at most 8 fractional
//! digits, so `value × 10^8` is an exact integer. A `u64` mantissa holds values up to
//! 184,467,440,737.09551615 — beyond any price or order size the exchange lists. Anything with
//! more than 8 decimals, a sign, an exponent or an overflow is rejected with a typed error rather
//! than rounded.

use std::fmt;

/// Number of implied decimal places in [`Price`] and [`Qty`] mantissas.
pub const DECIMALS: u32 = 8;
/// `10^DECIMALS`: the mantissa of the value 1.
pub const SCALE: u64 = 100_000_000;

/// Why a decimal string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("empty decimal")]
    Empty,
    #[error("invalid character {0:?} in decimal")]
    InvalidChar(char),
    #[error("more than 8 decimal places")]
    TooManyDecimals,
    #[error("decimal out of range (max 184467440737.09551615)")]
    Overflow,
    #[error("decimal point without digits")]
    MissingDigits,
}

/// Parses an unsigned decimal (`"61737.63000000"`, `"0.5"`, `"12"`) into a mantissa scaled by
/// [`SCALE`]. Exact: no rounding ever happens; see [`DecimalError`] for what is refused.
#[inline]
pub fn parse_decimal(s: &[u8]) -> Result<u64, DecimalError> {
    if s.is_empty() {
        return Err(DecimalError::Empty);
    }
    let mut int: u64 = 0;
    let mut i = 0;
    let n = s.len();
    while i < n {
        let c = s[i];
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            int = int
                .checked_mul(10)
                .and_then(|v| v.checked_add(d as u64))
                .ok_or(DecimalError::Overflow)?;
            i += 1;
        } else if c == b'.' {
            break;
        } else {
            return Err(DecimalError::InvalidChar(c as char));
        }
    }
    let int_digits = i;
    let mut frac: u64 = 0;
    let mut frac_digits: u32 = 0;
    if i < n {
        // s[i] == '.'
        i += 1;
        if i == n && int_digits == 0 {
            return Err(DecimalError::MissingDigits);
        }
        while i < n {
            let c = s[i];
            let d = c.wrapping_sub(b'0');
            if d >= 10 {
                return Err(DecimalError::InvalidChar(c as char));
            }
            if frac_digits == DECIMALS {
                return Err(DecimalError::TooManyDecimals);
            }
            frac = frac * 10 + d as u64;
            frac_digits += 1;
            i += 1;
        }
        if frac_digits == 0 || int_digits == 0 {
            return Err(DecimalError::MissingDigits);
        }
    }
    let frac = frac * POW10[(DECIMALS - frac_digits) as usize];
    int.checked_mul(SCALE)
        .and_then(|v| v.checked_add(frac))
        .ok_or(DecimalError::Overflow)
}

/// `10^i` for `i` in `0..=8`.
pub const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// Writes a mantissa as the shortest exact decimal: `6160201000000` → `"61602.01"`,
/// `0` → `"0"`, `100000000000` → `"1000"`.
pub fn format_decimal(m: u64, out: &mut impl fmt::Write) -> fmt::Result {
    let int = m / SCALE;
    let mut frac = m % SCALE;
    if frac == 0 {
        return write!(out, "{int}");
    }
    let mut width = DECIMALS as usize;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    write!(out, "{int}.{frac:0width$}")
}

macro_rules! decimal_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub u64);

        impl $name {
            pub const ZERO: $name = $name(0);
            /// Parses a Binance decimal string; see [`parse_decimal`].
            #[inline]
            pub fn parse(s: &[u8]) -> Result<Self, DecimalError> {
                parse_decimal(s).map($name)
            }
            /// The raw mantissa (value × 10^8).
            #[inline]
            pub fn mantissa(self) -> u64 {
                self.0
            }
            /// Approximate value for display and features only; never for book state.
            #[inline]
            pub fn to_f64(self) -> f64 {
                self.0 as f64 / SCALE as f64
            }
            #[inline]
            pub fn is_zero(self) -> bool {
                self.0 == 0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                format_decimal(self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                format_decimal(self.0, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = DecimalError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s.as_bytes())
            }
        }
    };
}

decimal_newtype!(
    /// A price, exact, as a mantissa with 8 implied decimals.
    Price
);
decimal_newtype!(
    /// A quantity (base asset or contracts), exact, as a mantissa with 8 implied decimals.
    Qty
);

/// A Binance order-book update id (`U`, `u`, `pu`, `lastUpdateId`).
pub type UpdateId = u64;

/// Nanoseconds since the Unix epoch (local receive times). Exchange times stay in ms as sent.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Nanos(pub u64);

/// Longest symbol we accept. Binance symbols are well below this.
pub const SYMBOL_MAX: usize = 23;

/// Each byte upper-cased if a symbol may contain it (ASCII letters, digits, `_`), else 0.
const SYMBOL_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() || b == b'_' {
            t[c] = b.to_ascii_uppercase();
        }
        c += 1;
    }
    t
};

/// An exchange symbol, upper case, stored inline so the hot path never allocates for it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Symbol {
    len: u8,
    bytes: [u8; SYMBOL_MAX],
}

impl Symbol {
    /// Makes a symbol from ASCII letters/digits (any case; stored upper case). `None` if empty,
    /// too long or containing anything else.
    #[inline]
    pub fn new(s: &[u8]) -> Option<Symbol> {
        if s.is_empty() || s.len() > SYMBOL_MAX {
            return None;
        }
        let mut bytes = [0u8; SYMBOL_MAX];
        // One table look-up per byte (upper-cased, or 0 when refused) and a single check at the
        // end: symbols are read from every frame.
        let mut refused = false;
        for (dst, &c) in bytes.iter_mut().zip(s) {
            let u = SYMBOL_BYTE[c as usize];
            refused |= u == 0;
            *dst = u;
        }
        if refused {
            return None;
        }
        Some(Symbol {
            len: s.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics are ever stored, so this cannot fail.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("?")
    }

    /// Lower-case form used in stream names (`btcusdt@depth@100ms`).
    pub fn lower(&self) -> String {
        self.as_str().to_ascii_lowercase()
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl std::str::FromStr for Symbol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Symbol::new(s.as_bytes()).ok_or_else(|| {
            format!("{s:?} is not a symbol (1 to {SYMBOL_MAX} ASCII letters or digits)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(m: u64) -> String {
        let mut s = String::new();
        format_decimal(m, &mut s).unwrap();
        s
    }

    #[test]
    fn parses_binance_strings_exactly() {
        let cases: &[(&str, u64)] = &[
            ("61737.63000000", 6_173_763_000_000),
            ("0.00000000", 0),
            ("0.00000001", 1),
            ("1", SCALE),
            ("569.567", 56_956_700_000),
            ("0.5", 50_000_000),
            ("184467440737.09551615", u64::MAX),
        ];
        for &(s, m) in cases {
            assert_eq!(parse_decimal(s.as_bytes()), Ok(m), "{s}");
        }
    }

    #[test]
    fn rejects_bad_strings_with_typed_errors() {
        use DecimalError::*;
        let cases: &[(&str, DecimalError)] = &[
            ("", Empty),
            ("1.000000001", TooManyDecimals),
            ("-1", InvalidChar('-')),
            ("1e5", InvalidChar('e')),
            ("1.2.3", InvalidChar('.')),
            (".5", MissingDigits),
            ("5.", MissingDigits),
            (".", MissingDigits),
            ("184467440737.09551616", Overflow),
            ("99999999999999999999", Overflow),
            (" 1", InvalidChar(' ')),
        ];
        for (s, e) in cases {
            assert_eq!(parse_decimal(s.as_bytes()), Err(*e), "{s:?}");
        }
    }

    #[test]
    fn formats_shortest_exact() {
        assert_eq!(show(6_160_201_000_000), "61602.01");
        assert_eq!(show(167_177_000), "1.67177");
        assert_eq!(show(0), "0");
        assert_eq!(show(1), "0.00000001");
        assert_eq!(show(100_000_000_000), "1000");
        assert_eq!(show(u64::MAX), "184467440737.09551615");
    }

    #[test]
    fn round_trips() {
        for m in [0u64, 1, 7, 10, 123_456_789, 6_173_763_000_000, u64::MAX - 3] {
            assert_eq!(parse_decimal(show(m).as_bytes()), Ok(m));
        }
    }

    #[test]
    fn symbols() {
        let s = Symbol::new(b"btcusdt").unwrap();
        assert_eq!(s.as_str(), "BTCUSDT");
        assert_eq!(s.lower(), "btcusdt");
        assert!(Symbol::new(b"").is_none());
        assert!(Symbol::new(b"BTC USDT").is_none());
        assert!(Symbol::new(&[b'A'; 24]).is_none());
    }
}
