//! The hftbacktest collector's raw format: one `<receive ts> <raw JSON>` line per message.
//!
//! Owns: reading such files (gzip or plain), chaining the day files of one capture, converting the
//! timestamp to ns. Must not touch: the JSON (passed on as is). The timestamp unit is read from
//! its size: ≥ 10^17 is ns, ≥ 10^14 µs, ≥ 10^11 ms, else seconds. The REST snapshot line carries
//! no symbol; the file name does (`btcusdt_20240808.gz` → BTCUSDT), and it is passed as a hint.

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
    hint: Option<Symbol>,
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
        })
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
                self.reader = Some(LineReader::new(r));
                continue;
            };
            let f = &mut self.frame;
            match reader.next(&mut f.buf) {
                Ok(true) => {}
                Ok(false) => {
                    self.reader = None;
                    continue;
                }
                Err(source) => {
                    let line = reader.line + 1;
                    self.reader = None;
                    return Err(ReadError::Io {
                        path: format!("{} (after line {})", self.names[file], line - 1),
                        error: source,
                    });
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
                        String::from_utf8_lossy(&f.buf[..f.buf.len().min(40)])
                    ),
                });
            };
            f.recv = to_nanos(ts);
            f.body = digits + 1..f.buf.len();
            f.kind = if f.buf[digits + 1..].starts_with(b"{\"lastUpdateId\"") {
                FrameKind::Rest
            } else {
                FrameKind::Ws
            };
            f.symbol_hint = self.hint;
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
