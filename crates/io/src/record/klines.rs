//! Reading 1-minute kline (candlestick) CSV files: the price history the context model trains
//! and is evaluated on.
//!
//! Owns: the file formats, gzip, line-level validation and gap detection. Must not touch: what
//! the prices mean (see `ml::context`). Formats, told apart by the first line:
//! - Binance's 12-column kline CSV (`open_time,open,high,low,close,volume,close_time,
//!   quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore`), with or without that
//!   header. Open times in ms; from 2025 Binance's spot files use µs, which is recognised by
//!   magnitude (≥ 10¹⁴) and converted.
//! - A headered OHLCV CSV whose first column is the open time, either an integer epoch (ms, or µs
//!   as above) or a UTC date-time `YYYY-MM-DD HH:MM:SS` (a `T` separator, fractional seconds and a
//!   `Z` / `+00:00` / ` UTC` suffix are accepted; any other offset is refused). The other
//!   columns are found by name: `close` is required; `open`, `high`, `low`, `volume` are read when
//!   present (NaN otherwise).
//!
//! gzip is detected from the bytes, not the name. A line that cannot be read is an error naming
//! `file:line`: a field that is not a number, a non-positive or non-finite close, a time that is
//! not on a minute boundary, or one that does not increase (duplicate or out of order).
//! Missing minutes are not errors: they are listed as [`KlineGap`]s, and the consumer decides
//! (the context model fills short gaps and restarts after long ones).

use microstate_core::calendar::{civil_from_days, days_from_civil};
use std::io::BufRead;
use std::path::Path;

/// One minute of trading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Kline {
    /// Open time, ms since the Unix epoch (UTC).
    pub open_time_ms: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// A run of missing minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KlineGap {
    /// Open time of the last kline before the gap (ms).
    pub after_ms: i64,
    /// Minutes missing.
    pub missing: u64,
    /// 1-based line of the first kline after the gap.
    pub line: u64,
}

/// One file's klines, in time order.
#[derive(Clone, Debug, Default)]
pub struct KlineSeries {
    /// The file, as named to the reader.
    pub source: String,
    pub rows: Vec<Kline>,
    pub gaps: Vec<KlineGap>,
}

/// A file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KlineError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: {msg}")]
    Line {
        file: String,
        line: u64,
        msg: String,
    },
    #[error("{file}: no klines in the file")]
    Empty { file: String },
}

pub const MINUTE_MS: i64 = 60_000;

/// Reads a kline file (gzip or plain).
pub fn read_klines(path: &Path) -> Result<KlineSeries, KlineError> {
    let file = path.display().to_string();
    let r = super::open_maybe_gz(path).map_err(|source| KlineError::Io {
        file: file.clone(),
        source,
    })?;
    parse_klines(r, &file)
}

/// Column positions of the fields.
#[derive(Clone, Copy, Debug)]
struct Columns {
    open: Option<usize>,
    high: Option<usize>,
    low: Option<usize>,
    close: usize,
    volume: Option<usize>,
    min_fields: usize,
}

const POSITIONAL: Columns = Columns {
    open: Some(1),
    high: Some(2),
    low: Some(3),
    close: 4,
    volume: Some(5),
    min_fields: 6,
};

/// Parses kline CSV text; `file` names it in errors.
pub fn parse_klines(mut r: impl BufRead, file: &str) -> Result<KlineSeries, KlineError> {
    let err = |line: u64, msg: String| KlineError::Line {
        file: file.to_string(),
        line,
        msg,
    };
    let mut out = KlineSeries {
        source: file.to_string(),
        ..KlineSeries::default()
    };
    let mut cols: Option<Columns> = None;
    let mut buf = String::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = r.read_line(&mut buf).map_err(|e| {
            // A corrupt gzip stream or invalid UTF-8 surfaces here: name the line it stopped at.
            err(line_no + 1, format!("cannot read: {e}"))
        })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let line = buf.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line
            .split(',')
            .map(|f| f.trim().trim_matches('"'))
            .collect();
        let c = match cols {
            Some(c) => c,
            None => {
                if parse_time(fields[0]).is_ok() {
                    cols = Some(POSITIONAL);
                    POSITIONAL
                } else {
                    cols = Some(header_columns(&fields).map_err(|m| err(line_no, m))?);
                    continue;
                }
            }
        };
        if fields.len() < c.min_fields {
            return Err(err(
                line_no,
                format!(
                    "{} fields, at least {} expected (open time, open, high, low, close, volume)",
                    fields.len(),
                    c.min_fields
                ),
            ));
        }
        let t = parse_time(fields[0]).map_err(|m| err(line_no, m))?;
        let num = |i: Option<usize>, name: &str| -> Result<f64, KlineError> {
            match i {
                None => Ok(f64::NAN),
                Some(i) => fields[i]
                    .parse::<f64>()
                    .map_err(|_| err(line_no, format!("{name} {:?} is not a number", fields[i]))),
            }
        };
        let k = Kline {
            open_time_ms: t,
            open: num(c.open, "open")?,
            high: num(c.high, "high")?,
            low: num(c.low, "low")?,
            close: num(Some(c.close), "close")?,
            volume: num(c.volume, "volume")?,
        };
        if !(k.close.is_finite() && k.close > 0.0) {
            return Err(err(
                line_no,
                format!("close {} is not a positive price", k.close),
            ));
        }
        if t.rem_euclid(MINUTE_MS) != 0 {
            return Err(err(
                line_no,
                format!(
                    "open time {t} ms is not on a minute boundary (only 1-minute klines are read)"
                ),
            ));
        }
        if let Some(prev) = out.rows.last() {
            let step = t - prev.open_time_ms;
            if step <= 0 {
                return Err(err(
                    line_no,
                    format!(
                        "open time {t} ms does not increase (previous {} ms): duplicate or out of order",
                        prev.open_time_ms
                    ),
                ));
            }
            if step > MINUTE_MS {
                out.gaps.push(KlineGap {
                    after_ms: prev.open_time_ms,
                    missing: (step / MINUTE_MS - 1) as u64,
                    line: line_no,
                });
            }
        }
        out.rows.push(k);
    }
    if out.rows.is_empty() {
        return Err(KlineError::Empty {
            file: file.to_string(),
        });
    }
    Ok(out)
}

fn header_columns(fields: &[&str]) -> Result<Columns, String> {
    let names: Vec<String> = fields.iter().map(|f| f.to_ascii_lowercase()).collect();
    let find = |n: &str| names.iter().position(|x| x == n);
    let close = find("close").ok_or_else(|| {
        format!(
            "the first line is neither a kline nor a header with a `close` column: {:?}",
            fields.join(",")
        )
    })?;
    let open = find("open");
    let high = find("high");
    let low = find("low");
    let volume = find("volume");
    let min_fields = [Some(close), open, high, low, volume]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0)
        + 1;
    Ok(Columns {
        open,
        high,
        low,
        close,
        volume,
        min_fields,
    })
}

/// An open time: integer epoch ms (µs when ≥ 10¹⁴) or `YYYY-MM-DD HH:MM:SS` UTC → ms.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let v: i64 = s
            .parse()
            .map_err(|_| format!("open time {s:?} is too large"))?;
        return if v >= 100_000_000_000_000 {
            Ok(v / 1000)
        } else if v >= 100_000_000_000 {
            Ok(v)
        } else {
            Err(format!(
                "open time {s:?} is too small for milliseconds since 1970 (seconds are not read)"
            ))
        };
    }
    parse_datetime_utc(s)
}

fn parse_datetime_utc(s: &str) -> Result<i64, String> {
    let bad = || format!("open time {s:?} is neither epoch milliseconds nor YYYY-MM-DD HH:MM:SS");
    let b = s.as_bytes();
    if b.len() < 19 {
        return Err(bad());
    }
    let digits = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let t = &s[r];
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse::<i64>().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b' ' || b[10] == b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let (y, mo, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (h, mi, sec) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    let mut frac_ms = 0i64;
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(bad());
        }
        let mut ms = 0i64;
        for (i, c) in f[..n.min(3)].bytes().enumerate() {
            ms += (c - b'0') as i64 * [100, 10, 1][i];
        }
        frac_ms = ms;
        rest = &f[n..];
    }
    match rest.trim() {
        "" | "Z" | "+00:00" | "+0000" | "UTC" => {}
        other => {
            return Err(format!(
                "open time {s:?}: offset {other:?} is not UTC (write times in UTC)"
            ));
        }
    }
    // Both range-checked above.
    let days = days_from_civil(y, mo as u32, d as u32);
    Ok(((days * 24 + h) * 60 + mi) * MINUTE_MS + sec * 1000 + frac_ms)
}

/// `YYYY-MM-DD HH:MM` (UTC) of a time in ms since the epoch.
pub fn format_utc_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let mins = ms.rem_euclid(86_400_000) / MINUTE_MS;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", mins / 60, mins % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<KlineSeries, KlineError> {
        parse_klines(text.as_bytes(), "t.csv")
    }

    #[test]
    fn binance_twelve_columns_without_and_with_header() {
        let body = "1747699200000,105573.73,105597.1,105554.31,105554.32,10.82647,1747699259999,1142800.1,1500,5.1,538000.2,0\n\
                    1747699260000,105554.32,105609.89,105554.31,105604.68,6.48334,1747699319999,684500.0,900,3.0,316000.0,0\n";
        let s = parse(body).unwrap();
        assert_eq!(s.rows.len(), 2);
        assert_eq!(s.rows[1].close, 105604.68);
        assert_eq!(s.rows[0].volume, 10.82647);
        let header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n";
        let h = parse(&format!("{header}{body}")).unwrap();
        assert_eq!(h.rows, s.rows);
        // Binance's 2025+ spot files: microseconds.
        let us = body
            .replace("1747699200000,", "1747699200000000,")
            .replace("1747699260000,", "1747699260000000,");
        assert_eq!(parse(&us).unwrap().rows, s.rows);
    }

    #[test]
    fn headered_ohlcv_with_ms_or_datetime() {
        let ms = "open_time_ms,open,high,low,close,volume\r\n1747699200000,1,2,0.5,1.5,10\r\n1747699260000,1.5,2,1,1.75,3\r\n";
        let s = parse(ms).unwrap();
        assert_eq!(s.rows[0].open_time_ms, 1_747_699_200_000);
        assert_eq!(s.rows[1].close, 1.75);
        let dt = "date,open,high,low,close,volume\n2025-05-20 00:00:00,1,2,0.5,1.5,10\n2025-05-20T00:01:00Z,1.5,2,1,1.75,3\n";
        assert_eq!(parse(dt).unwrap().rows, s.rows);
        let tz = "date,close\n2025-05-20 00:00:00+00:00,1.5\n";
        assert_eq!(parse(tz).unwrap().rows[0].open_time_ms, 1_747_699_200_000);
        assert!(parse(tz).unwrap().rows[0].open.is_nan());
        // Columns in another order are found by name.
        let reordered = "time,volume,close,open\n1747699200000,10,1.5,1\n";
        let r = parse(reordered).unwrap();
        assert_eq!(
            (r.rows[0].close, r.rows[0].open, r.rows[0].volume),
            (1.5, 1.0, 10.0)
        );
    }

    #[test]
    fn gzip_files_and_gaps() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("ms-klines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("k.csv.gz");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&p).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(b"open_time_ms,open,high,low,close,volume\n0000000000060000,1,1,1,1,1\n")
            .ok();
        drop(gz.finish());
        // A too-small epoch is refused with file:line.
        let e = read_klines(&p).unwrap_err().to_string();
        assert!(e.contains("k.csv.gz:2") && e.contains("too small"), "{e}");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&p).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(
            b"open_time_ms,open,high,low,close,volume\n1747699200000,1,1,1,1,1\n1747699260000,1,1,1,2,1\n1747699500000,1,1,1,3,1\n",
        )
        .unwrap();
        gz.finish().unwrap();
        let s = read_klines(&p).unwrap();
        assert_eq!(s.rows.len(), 3);
        assert_eq!(
            s.gaps,
            vec![KlineGap {
                after_ms: 1_747_699_260_000,
                missing: 3,
                line: 4
            }]
        );
        std::fs::remove_dir_all(&dir).ok();
        let e = read_klines(Path::new("/nonexistent/k.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/k.csv"), "{e}");
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let cases: &[(&str, &str)] = &[
            (
                "open_time_ms,close\n1747699200000,abc\n",
                "t.csv:2: close \"abc\" is not a number",
            ),
            (
                "open_time_ms,close\n1747699200000,-1\n",
                "t.csv:2: close -1 is not a positive price",
            ),
            (
                "open_time_ms,close\n1747699200000,1\n1747699200000,1\n",
                "t.csv:3: open time 1747699200000 ms does not increase",
            ),
            (
                "open_time_ms,close\n1747699260000,1\n1747699200000,1\n",
                "t.csv:3",
            ),
            (
                "open_time_ms,close\n1747699201000,1\n",
                "not on a minute boundary",
            ),
            (
                "open_time_ms,close\n2025-05-20 00:00:00+02:00,1\n",
                "is not UTC",
            ),
            (
                "open_time_ms,close\n2025-13-20 00:00:00,1\n",
                "neither epoch milliseconds",
            ),
            (
                "a,b,c\n1,2,3\n",
                "t.csv:1: the first line is neither a kline nor a header",
            ),
            (
                "1747699200000,1,2\n",
                "t.csv:1: 3 fields, at least 6 expected",
            ),
            (
                "open_time_ms,open,close\n1747699200000,1\n",
                "t.csv:2: 2 fields, at least 3",
            ),
            ("open_time_ms,close\n", "t.csv: no klines"),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: got {e:?}, want {want:?}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(
            parse_time("2024-02-29 23:59:00").unwrap(),
            1_709_251_140_000
        );
        assert_eq!(format_utc_ms(1_709_251_140_000), "2024-02-29 23:59");
        assert_eq!(format_utc_ms(0), "1970-01-01 00:00");
        for d in [-1000i64, 0, 11_017, 20_000, 30_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }
}
