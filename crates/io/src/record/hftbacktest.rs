//! The hftbacktest collector's raw format: one `<receive ts> <raw JSON>` line per message.
//!
//! Owns: reading such files (gzip or plain), chaining the day files of one capture, converting the
//! timestamp to ns. Must not touch: the JSON (passed on as is). The timestamp unit is read from
//! its size: ≥ 10^17 is ns, ≥ 10^14 µs, ≥ 10^11 ms, else seconds. The REST snapshot line carries
//! no symbol: it gets the symbol of the stream frames before it in the data (the collector
//! writes one symbol per file). Only when no frame came before it does the file name stand in
//! (`btcusdt_20240808.gz` → BTCUSDT), with a warning; a file name that disagrees with the data
//! is warned about too, and the data wins.

use std::path::{Path, PathBuf};

use super::{CapturedFrame, FrameKind, FrameSource, LineReader, ReadError, open_maybe_gz};
use microstate_core::num::{Nanos, Symbol};

/// Groups files of one capture: the file name without extensions and without a trailing
/// `_YYYYMMDD` date.
pub fn capture_key(p: &Path) -> String {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.split('.').next().unwrap_or("").to_string();
    let bytes = stem.as_bytes();
    if bytes.len() > 9
        && bytes[bytes.len() - 9] == b'_'
        && bytes[bytes.len() - 8..].iter().all(u8::is_ascii_digit)
    {
        let dir = p
            .parent()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        return format!("{dir}/{}", &stem[..stem.len() - 9]);
    }
    p.display().to_string()
}

/// The symbol a file name names, if it does.
pub fn symbol_from_name(p: &Path) -> Option<Symbol> {
    let key = capture_key(p);
    let base = key.rsplit('/').next().unwrap_or(&key);
    let base = base.split('.').next().unwrap_or(base);
    Symbol::new(base.as_bytes())
}

/// Converts a collector timestamp of unknown unit to ns.
pub fn to_nanos(ts: u64) -> Nanos {
    Nanos(if ts >= 100_000_000_000_000_000 {
        ts
    } else if ts >= 100_000_000_000_000 {
        ts.saturating_mul(1_000)
    } else if ts >= 100_000_000_000 {
        ts.saturating_mul(1_000_000)
    } else {
        ts.saturating_mul(1_000_000_000)
    })
}

/// Reads the day files of one capture in order.
pub struct HftSource {
    paths: Vec<PathBuf>,
    names: Vec<String>,
    next_file: usize,
    reader: Option<LineReader>,
    frame: CapturedFrame,
    /// The symbol the file name gives (a fallback only).
    hint: Option<Symbol>,
    /// The symbol of the last stream frame read.
    seen: Option<Symbol>,
    /// Warned already that the name and the data disagree / that the name stood in.
    warned: bool,
    max_line: usize,
}

/// The symbol a stream frame names: the combined stream's name before `@`, else `"s"`.
pub fn frame_symbol(body: &[u8]) -> Option<Symbol> {
    const STREAM: &[u8] = b"{\"stream\":\"";
    if let Some(rest) = body.strip_prefix(STREAM) {
        let end = rest.iter().position(|&c| c == b'@' || c == b'"')?;
        return Symbol::new(&rest[..end]);
    }
    let at = body.windows(5).position(|w| w == b"\"s\":\"")?;
    let rest = &body[at + 5..];
    let end = rest.iter().position(|&c| c == b'"')?;
    Symbol::new(&rest[..end])
}

impl HftSource {
    pub fn open(paths: Vec<PathBuf>) -> Result<Self, ReadError> {
        let names = paths.iter().map(|p| p.display().to_string()).collect();
        let hint = paths.first().and_then(|p| symbol_from_name(p));
        Ok(HftSource {
            paths,
            names,
            next_file: 0,
            reader: None,
            frame: CapturedFrame::default(),
            hint,
            seen: None,
            warned: false,
            max_line: microstate_core::limits::DEFAULT_MAX_LINE_BYTES,
        })
    }

    /// Caps the bytes of one line (`limits.max_line_bytes`).
    pub fn with_max_line(mut self, max: usize) -> Self {
        self.max_line = max;
        self.reader = self.reader.take().map(|r| r.with_max(max));
        self
    }

    /// A source over in-memory content (benchmarks, tests).
    pub fn from_reader(
        name: &str,
        reader: Box<dyn std::io::BufRead + Send>,
        hint: Option<Symbol>,
    ) -> Self {
        HftSource {
            paths: Vec::new(),
            names: vec![name.to_string()],
            next_file: 1,
            reader: Some(LineReader::new(reader)),
            frame: CapturedFrame::default(),
            hint,
            seen: None,
            warned: false,
            max_line: microstate_core::limits::DEFAULT_MAX_LINE_BYTES,
        }
    }
}

impl FrameSource for HftSource {
    fn advance(&mut self) -> Result<bool, ReadError> {
        loop {
            let file = self.next_file.saturating_sub(1);
            let Some(reader) = self.reader.as_mut() else {
                let Some(p) = self.paths.get(self.next_file) else {
                    return Ok(false);
                };
                self.next_file += 1;
                let r = open_maybe_gz(p).map_err(|source| ReadError::Io {
                    path: p.display().to_string(),
                    error: source,
                })?;
                self.reader = Some(LineReader::new(r).with_max(self.max_line));
                continue;
            };
            let f = &mut self.frame;
            match reader.next(&mut f.buf) {
                Ok(true) => {}
                Ok(false) => {
                    self.reader = None;
                    continue;
                }
                Err(e) => {
                    let line = reader.line;
                    if matches!(e, super::LineError::Io(_)) {
                        self.reader = None;
                    }
                    return Err(e.into_read_error(&self.names[file], line));
                }
            }
            f.file = file;
            f.line = reader.line;
            let digits = f.buf.iter().take_while(|c| c.is_ascii_digit()).count();
            let ts = std::str::from_utf8(&f.buf[..digits])
                .ok()
                .and_then(|s| s.parse::<u64>().ok());
            let (Some(ts), Some(b' ')) = (ts, f.buf.get(digits)) else {
                return Err(ReadError::Line {
                    path: self.names[file].clone(),
                    line: f.line,
                    msg: format!(
                        "expected `<timestamp> <json>`, found `{}`",
                        microstate_core::limits::escape_bytes(&f.buf[..f.buf.len().min(40)])
                    ),
                });
            };
            f.recv = to_nanos(ts);
            f.body = digits + 1..f.buf.len();
            let body = &f.buf[digits + 1..];
            f.kind = if body.starts_with(b"{\"lastUpdateId\"") {
                FrameKind::Rest
            } else {
                FrameKind::Ws
            };
            let name = &self.names[file];
            if f.kind == FrameKind::Ws {
                if let Some(s) = frame_symbol(body) {
                    if !self.warned && self.hint.is_some_and(|h| h != s) {
                        self.warned = true;
                        tracing::warn!(
                            "{name}: the file name says {}, the data says {s}: the data is used",
                            self.hint.map(|h| h.to_string()).unwrap_or_default()
                        );
                    }
                    self.seen = Some(s);
                }
                f.symbol_hint = self.seen;
            } else {
                f.symbol_hint = self.seen.or(self.hint);
                if self.seen.is_none() && !self.warned {
                    self.warned = true;
                    match self.hint {
                        Some(h) => tracing::warn!(
                            "{name}:{}: a snapshot before any stream frame: its symbol is taken \
                             from the file name ({h})",
                            f.line
                        ),
                        None => tracing::warn!(
                            "{name}:{}: a snapshot before any stream frame, and the file name \
                             names no symbol: it goes to the only symbol, if there is one",
                            f.line
                        ),
                    }
                }
            }
            return Ok(true);
        }
    }

    fn current(&self) -> &CapturedFrame {
        &self.frame
    }

    fn files(&self) -> &[String] {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_units() {
        let p = Path::new("/d/btcusdt_20240808.gz");
        assert_eq!(
            symbol_from_name(p).map(|s| s.to_string()),
            Some("BTCUSDT".into())
        );
        assert_eq!(
            capture_key(p),
            capture_key(Path::new("/d/btcusdt_20240809.gz"))
        );
        assert_eq!(
            symbol_from_name(Path::new("/d/btcusd_perp_20240808.gz")).map(|s| s.to_string()),
            Some("BTCUSD_PERP".into())
        );
        assert_eq!(
            to_nanos(1_723_161_253_937_085_768),
            Nanos(1_723_161_253_937_085_768)
        );
        assert_eq!(
            to_nanos(1_723_161_253_937_085),
            Nanos(1_723_161_253_937_085_000)
        );
        assert_eq!(
            to_nanos(1_723_161_253_937),
            Nanos(1_723_161_253_937_000_000)
        );
    }

    /// Issue 19 item 8: the snapshot's symbol comes from the data, not the file name: a
    /// capture renamed `capture.gz` still syncs, a misnamed one builds the right book.
    #[test]
    fn the_snapshot_symbol_comes_from_the_data() {
        let data = b"1723161253937085768 {\"stream\":\"ethusdt@depth@100ms\",\"data\":{}}\n\
            1723161253937085769 {\"lastUpdateId\":1,\"bids\":[],\"asks\":[]}\n\
            1723161253937085770 {\"e\":\"trade\",\"s\":\"BNBUSDT\"}\n\
            1723161253937085771 {\"lastUpdateId\":2,\"bids\":[],\"asks\":[]}\n";
        let btc = Symbol::new(b"BTCUSDT");
        for hint in [None, btc] {
            let mut s = HftSource::from_reader("mem", Box::new(&data[..]), hint);
            let mut got = Vec::new();
            while s.advance().unwrap() {
                let f = s.current();
                got.push((f.kind, f.symbol_hint.map(|s| s.to_string())));
            }
            let some = |x: &str| Some(x.to_string());
            assert_eq!(
                got,
                vec![
                    (FrameKind::Ws, some("ETHUSDT")),
                    (FrameKind::Rest, some("ETHUSDT")),
                    (FrameKind::Ws, some("BNBUSDT")),
                    (FrameKind::Rest, some("BNBUSDT")),
                ]
            );
        }
        // Nothing before the snapshot: the file name stands in (with a warning).
        let data = b"1723161253937085769 {\"lastUpdateId\":1,\"bids\":[],\"asks\":[]}\n";
        let mut s = HftSource::from_reader("mem", Box::new(&data[..]), btc);
        assert!(s.advance().unwrap());
        assert_eq!(s.current().symbol_hint, btc);
    }

    /// Issue 19 item 7: a line over the cap is skipped while read (never held whole), named,
    /// and reading goes on with the next line.
    #[test]
    fn a_line_over_the_cap_is_skipped_and_reading_goes_on() {
        let mut data = b"1723161253937085768 {\"a\":1}\n1723161253937085769 ".to_vec();
        data.extend(std::iter::repeat_n(b'x', 100_000));
        data.extend_from_slice(b"\n1723161253937085770 {\"b\":2}\n");
        let r = std::io::BufReader::with_capacity(1024, std::io::Cursor::new(data));
        let mut s = HftSource::from_reader("mem", Box::new(r), None).with_max_line(1000);
        assert!(s.advance().unwrap());
        let e = s.advance().unwrap_err();
        assert_eq!(
            e.to_string(),
            "mem:2: a line of 100021 bytes, longer than limits.max_line_bytes (1000): skipped"
        );
        assert!(
            s.frame.buf.capacity() < 10_000,
            "{}",
            s.frame.buf.capacity()
        );
        assert!(s.advance().unwrap());
        assert_eq!(s.current().body(), b"{\"b\":2}");
        assert_eq!(s.current().line, 3);
        assert!(!s.advance().unwrap());
    }

    #[test]
    fn bad_line_names_its_number_and_reading_goes_on() {
        let data = b"1723161253937085768 {\"a\":1}\nnot a line\n1723161253937085769 {\"b\":2}\n";
        let mut s = HftSource::from_reader("mem", Box::new(&data[..]), None);
        assert!(s.advance().unwrap());
        let e = s.advance().unwrap_err().to_string();
        assert!(e.contains("mem:2"), "{e}");
        assert!(s.advance().unwrap());
        assert_eq!(s.current().body(), b"{\"b\":2}");
        assert!(!s.advance().unwrap());
    }
}
