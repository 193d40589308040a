//! Days since 1970-01-01 ⇄ proleptic Gregorian dates (UTC), without a date library: the one
//! conversion the recording's file names, the kline readers, the replay's `--from` times and
//! the Parquet partitions all use.
//!
//! Owns: the arithmetic (the well-known civil-from-days / days-from-civil algorithms, exact
//! for every `i64` day in range) and the one UTC date-time parser ([`parse_utc`]: the replay's
//! `--from`, a NATS consumer's `--from`). Must not touch: clocks or time zones (callers pass
//! UTC days; a fixed `±HH:MM` offset in a time is arithmetic, not a zone).

/// Days since 1970-01-01 → (year, month 1–12, day 1–31).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month 1–12, day 1–31) → days since 1970-01-01 (inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A UTC date and time, `YYYY-MM-DDTHH:MM[:SS[.f…]]` with `T` or a space, then `Z`, nothing
/// (UTC) or an offset `±HH:MM` (RFC 3339) → ns since the epoch; `None` when it is not one (or
/// before 1970).
pub fn parse_utc(s: &str) -> Option<u64> {
    let s = s.trim();
    let (s, offset_s) = split_offset(s)?;
    let (date, time) = s.split_once(['T', 't', ' '])?;
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':');
    let h: u64 = t.next()?.parse().ok()?;
    let mi: u64 = t.next()?.parse().ok()?;
    let sec: u64 = t.next().map_or(Some(0), |x| x.parse().ok())?;
    if t.next().is_some() || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut ns = 0u64;
    for i in 0..9 {
        ns = ns * 10 + frac.as_bytes().get(i).map_or(0, |c| u64::from(c - b'0'));
    }
    let days = days_from_civil(y, m, day);
    let local = days * 86_400 + (h * 3600 + mi * 60 + sec) as i64;
    let secs = u64::try_from(local - offset_s).ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(ns)
}

/// `…Z` → (…, 0); `…±HH:MM` after the time → (…, ±seconds east of UTC); else (…, 0).
fn split_offset(s: &str) -> Option<(&str, i64)> {
    if let Some(rest) = s.strip_suffix(['Z', 'z']) {
        return Some((rest, 0));
    }
    // An offset is the last 6 characters, `+HH:MM` or `-HH:MM`, after a time with a colon.
    let n = s.len();
    if n > 6 && s.is_char_boundary(n - 6) {
        let (head, off) = s.split_at(n - 6);
        let b = off.as_bytes();
        if (b[0] == b'+' || b[0] == b'-') && b[3] == b':' && head.contains(':') {
            let hh: i64 = off[1..3].parse().ok()?;
            let mm: i64 = off[4..6].parse().ok()?;
            if hh > 23 || mm > 59 {
                return None;
            }
            let sign = if b[0] == b'-' { -1 } else { 1 };
            return Some((head, sign * (hh * 3600 + mm * 60)));
        }
    }
    Some((s, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_with_zone_forms() {
        let t = 1_723_161_253_000_000_000;
        assert_eq!(parse_utc("2024-08-08T23:54:13Z"), Some(t));
        assert_eq!(parse_utc("2024-08-08 23:54:13"), Some(t));
        assert_eq!(parse_utc("2024-08-08T23:54:13.5Z"), Some(t + 500_000_000));
        assert_eq!(parse_utc("2024-08-09T01:54:13+02:00"), Some(t));
        assert_eq!(parse_utc("2024-08-08T22:54:13-01:00"), Some(t));
        assert_eq!(parse_utc("2024-08-08T23:54Z"), Some(t - 13_000_000_000));
        assert_eq!(
            parse_utc("2024-02-29T00:00:00Z"),
            Some(19_782 * 86_400 * 1_000_000_000)
        );
        for bad in [
            "2024-13-01T00:00:00Z",
            "2024-08-08T24:00:00Z",
            "2024-08-08",
            "yesterday",
            "2024-08-08T23:54:13+25:00",
            "1969-12-31T23:59:59Z",
            "2024-08-08T23:54:13.1234567890Z",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn known_dates_and_round_trips() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for d in [
            -1_000_000i64,
            -1000,
            -1,
            0,
            11_017,
            19_782,
            20_000,
            30_000,
            1_000_000,
        ] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d, "{y}-{m}-{dd}");
        }
    }
}
