//! Durations and byte sizes as people write them (`"250ms"`, `"1h30m"`, `"64MiB"`): parsing and
//! printing, shared by the config, the CLI, the view and the drivers.
//!
//! Owns: the text forms. Must not touch: where the values are used.

use std::time::Duration;

/// Parses `"250ms"`, `"10s"`, `"5m"`, `"23h30m"`, `"1h"`: a sequence of number+unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(format!(
                "{s:?} is not a duration like \"500ms\", \"10s\", \"2m\", \"1h30m\""
            ));
        }
        let value: u64 = rest[..n]
            .parse()
            .map_err(|_| format!("{s:?}: number too large"))?;
        rest = &rest[n..];
        let u = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..u];
        rest = &rest[u..];
        let too_large = || format!("{s:?}: too large");
        let d = match unit {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            // Checked: "9223372036854775807h" used to overflow (a panic in debug builds, a
            // wrapped, wrong duration in release). Found by the fuzzing ring.
            "m" => Duration::from_secs(value.checked_mul(60).ok_or_else(too_large)?),
            "h" => Duration::from_secs(value.checked_mul(3600).ok_or_else(too_large)?),
            _ => {
                return Err(format!(
                    "{s:?}: unknown unit {unit:?} (use ms, s, m or h, e.g. \"10s\")"
                ));
            }
        };
        total = total.checked_add(d).ok_or_else(too_large)?;
    }
    Ok(total)
}

/// Prints a duration in the same form [`parse_duration`] reads.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    if s == 0 {
        return "0s".into();
    }
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if sec > 0 {
        out += &format!("{sec}s");
    }
    out
}

/// Parses a byte size: `0`, `4096`, `512KiB`, `64MiB`, `1GiB`, `100kB`, `500MB`, `2GB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let n = t.bytes().take_while(u8::is_ascii_digit).count();
    let bad = || format!("{s:?} is not a size like \"64MiB\", \"1GiB\", \"500MB\" or \"0\"");
    if n == 0 {
        return Err(bad());
    }
    let value: u64 = t[..n].parse().map_err(|_| bad())?;
    let unit: u64 = match t[n..].trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(bad()),
    };
    value
        .checked_mul(unit)
        .ok_or_else(|| format!("{s:?}: too large"))
}

/// Writes a size the way [`parse_size`] reads it, in the largest binary unit that is exact.
pub fn format_size(b: u64) -> String {
    for (unit, name) in [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
        if b != 0 && b.is_multiple_of(unit) {
            return format!("{}{name}", b / unit);
        }
    }
    b.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzzing ring: hours or minutes past `u64` seconds, or a sum past
    /// `Duration::MAX`, are refused instead of overflowing.
    #[test]
    fn huge_durations_are_refused_not_overflowed() {
        assert_eq!(
            parse_duration("9223372036854775807h"),
            Err("\"9223372036854775807h\": too large".into())
        );
        assert!(parse_duration("18446744073709551615m").is_err());
        assert!(parse_duration("18446744073709551615s18446744073709551615s").is_err());
        assert_eq!(
            parse_duration("5124095576030431h"),
            Ok(Duration::from_secs(5_124_095_576_030_431 * 3600))
        );
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    }
}
