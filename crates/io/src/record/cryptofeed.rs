//! cryptofeed's raw capture files: `X.http.N` and `X.ws.N`.
//!
//! Owns: reading both kinds. Must not touch: the bodies (passed on as is).
//! - `X.http.N`: `URL -> <unix ts float>: <response body>`; the symbol comes from the URL's
//!   `symbol=` parameter and is passed as a hint (snapshots do not name it).
//! - `X.ws.N`: a header `<wss url> <-> <ts>`, then `<unix ts float>: <raw frame>` lines.

use std::path::{Path, PathBuf};

use super::{
    CapturedFrame, Format, FrameKind, FrameSource, LineReader, ReadError, open_maybe_gz,
    parse_seconds,
};
use microstate_core::num::Symbol;

/// The other files of the same capture in the same folder (`BINANCE.http.0.0` ↔ `BINANCE.ws.1.0`).
pub fn partners(p: &Path) -> Vec<PathBuf> {
    let Some(name) = p.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let Some(prefix) = name
        .split(".http.")
        .next()
        .filter(|x| *x != name)
        .or_else(|| name.split(".ws.").next().filter(|x| *x != name))
    else {
        return Vec::new();
    };
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|q| {
            q.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with(&format!("{prefix}.http.")) || n.starts_with(&format!("{prefix}.ws."))
            })
        })
        .collect();
    out.sort();
    out
}

pub struct CryptofeedSource {
    names: Vec<String>,
    format: Format,
    reader: LineReader,
    frame: CapturedFrame,
}

impl CryptofeedSource {
    pub fn open(p: &Path, format: Format) -> Result<Self, ReadError> {
        let r = open_maybe_gz(p).map_err(|source| ReadError::Io {
            path: p.display().to_string(),
            error: source,
        })?;
        Ok(CryptofeedSource {
            names: vec![p.display().to_string()],
            format,
            reader: LineReader::new(r),
            frame: CapturedFrame::default(),
        })
    }

    /// Caps the bytes of one line (`limits.max_line_bytes`).
    pub fn with_max_line(mut self, max: usize) -> Self {
        let r = std::mem::replace(
            &mut self.reader,
            LineReader::new(Box::new(std::io::empty())),
        );
        self.reader = r.with_max(max);
        self
    }

    fn bad(&self, msg: &str) -> ReadError {
        ReadError::Line {
            path: self.names[0].clone(),
            line: self.reader.line,
            msg: msg.to_string(),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl FrameSource for CryptofeedSource {
    fn advance(&mut self) -> Result<bool, ReadError> {
        loop {
            let f = &mut self.frame;
            match self.reader.next(&mut f.buf) {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(e) => return Err(e.into_read_error(&self.names[0], self.reader.line)),
            }
            f.line = self.reader.line;
            f.file = 0;
            let (ts_start, hint) = match self.format {
                Format::CryptofeedWs => {
                    if f.buf.starts_with(b"ws") && find(&f.buf, b" <-> ").is_some() {
                        continue; // connection header
                    }
                    (0, None)
                }
                _ => {
                    let Some(arrow) = find(&f.buf, b" -> ") else {
                        return Err(self.bad("expected `URL -> <ts>: <body>`"));
                    };
                    let url = &f.buf[..arrow];
                    let hint = find(url, b"symbol=").and_then(|i| {
                        let rest = &url[i + 7..];
                        let end = rest.iter().position(|&c| c == b'&').unwrap_or(rest.len());
                        Symbol::new(&rest[..end])
                    });
                    (arrow + 4, hint)
                }
            };
            let Some(colon) = find(&f.buf[ts_start..], b": ").map(|i| i + ts_start) else {
                return Err(self.bad("expected `<ts>: <body>`"));
            };
            let Some(recv) = parse_seconds(&f.buf[ts_start..colon]) else {
                return Err(
                    self.bad("bad timestamp (expected unix seconds like 1633998512.0633569)")
                );
            };
            f.recv = recv;
            f.body = colon + 2..f.buf.len();
            f.symbol_hint = hint;
            f.kind = if self.format == Format::CryptofeedHttp {
                FrameKind::Rest
            } else {
                FrameKind::Ws
            };
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
