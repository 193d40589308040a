//! Reading captures from disk: format detection, per-format readers, and a merge by time.
//!
//! Owns: files, decompression, line framing, receive timestamps. Must not touch: what the frames
//! mean (the engine decodes them). Formats, auto-detected from content:
//! - hftbacktest collector: `<receive ts> <raw JSON>` lines (ns, µs or ms timestamps), gzip or
//!   plain, a REST snapshot embedded as a line; several day files of one symbol continue one
//!   capture ([`hftbacktest`]);
//! - cryptofeed raw captures: `X.http.N` (`URL -> ts: body`) and `X.ws.N` (`ts: frame`) files,
//!   many symbols, merged by timestamp ([`cryptofeed`]).
//!
//! Kline (candlestick) CSVs for the context model are read by [`klines`], apart from frames.
//!
//! Every reader yields [`CapturedFrame`]s; a bad line is an error naming file and line, after
//! which reading goes on with the next line. A line longer than the byte cap
//! ([`microstate_core::limits::Limits::max_line_bytes`]) is skipped while it is read — never held
//! whole in memory — and reported as [`ReadError::TooLong`]. A truncated or corrupt gzip stream ends that file
//! with an error; everything before it has been delivered.

pub mod cryptofeed;
pub mod format;
pub mod hftbacktest;
pub mod klines;
pub mod writer;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use microstate_core::engine::RawFrame;
use microstate_core::num::{Nanos, Symbol};

/// Pacing of recorded receive times (replay, and the local exchange serving captures).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// As fast as the consumer takes the frames.
    Max,
    /// Receive-time gaps divided by this factor (`1.0` = real time, `10.0` = ten times faster).
    Factor(f64),
}

impl Speed {
    /// Slowest and fastest factors offered.
    pub const MIN_FACTOR: f64 = 0.1;
    pub const MAX_FACTOR: f64 = 1000.0;

    /// `max`, or a factor from 0.1 to 1000 (`10`, `0.5`, `10x`).
    pub fn parse(s: &str) -> Result<Speed, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        let t = t.strip_suffix(['x', 'X']).unwrap_or(t);
        match t.parse::<f64>() {
            Ok(x) if (Self::MIN_FACTOR..=Self::MAX_FACTOR).contains(&x) => Ok(Speed::Factor(x)),
            _ => Err(format!(
                "speed {s:?}: give a factor from 0.1 to 1000, or `max`"
            )),
        }
    }

    /// The factors `+`/`-` step through: round numbers a person can read, 1× among them.
    pub const STEPS: [f64; 13] = [
        0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0,
    ];

    /// The next step of [`Self::STEPS`] above this speed; past 1000×, `max` (which stays).
    /// A factor between steps goes to the next step up.
    pub fn faster(self) -> Speed {
        match self {
            Speed::Max => Speed::Max,
            Speed::Factor(x) => Self::STEPS
                .iter()
                .copied()
                .find(|s| *s > x * (1.0 + 1e-9))
                .map_or(Speed::Max, Speed::Factor),
        }
    }

    /// The next step of [`Self::STEPS`] below this speed (0.1× stays); from `max`, 1000×.
    pub fn slower(self) -> Speed {
        match self {
            Speed::Max => Speed::Factor(Self::MAX_FACTOR),
            Speed::Factor(x) => Speed::Factor(
                Self::STEPS
                    .iter()
                    .rev()
                    .copied()
                    .find(|s| *s < x * (1.0 - 1e-9))
                    .unwrap_or(Self::MIN_FACTOR),
            ),
        }
    }
}

#[cfg(test)]
mod speed_tests {
    use super::Speed;

    #[test]
    fn speed_steps_are_a_ladder_through_one() {
        let mut s = Speed::Factor(0.1);
        let mut seen = vec![s.to_string()];
        while s != Speed::Max {
            s = s.faster();
            seen.push(s.to_string());
        }
        assert_eq!(
            seen.join(" "),
            "0.1x 0.25x 0.5x 1x 2x 5x 10x 25x 50x 100x 250x 500x 1000x max"
        );
        assert_eq!(Speed::Max.faster(), Speed::Max);
        let mut down = vec![];
        let mut s = Speed::Max;
        for _ in 0..15 {
            s = s.slower();
            down.push(s.to_string());
        }
        assert_eq!(
            down.join(" "),
            "1000x 500x 250x 100x 50x 25x 10x 5x 2x 1x 0.5x 0.25x 0.1x 0.1x 0.1x"
        );
        // Between steps: to the neighbouring step, so 1× is always reachable.
        assert_eq!(Speed::Factor(3.0).faster(), Speed::Factor(5.0));
        assert_eq!(Speed::Factor(3.0).slower(), Speed::Factor(2.0));
        assert_eq!(Speed::Factor(0.9765625).faster(), Speed::Factor(1.0));
    }
}

impl std::fmt::Display for Speed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Speed::Max => f.write_str("max"),
            Speed::Factor(x) => write!(f, "{x}x"),
        }
    }
}

/// Whether a frame came from the WebSocket or a REST response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    Ws,
    Rest,
    /// Not a frame: the recorded session reset this symbol's book here (`symbol_hint`), as live
    /// ingest does after an unplanned disconnect. The body is empty.
    Reset,
}

/// One frame read from a capture, with where it came from.
#[derive(Clone, Debug)]
pub struct CapturedFrame {
    pub recv: Nanos,
    pub kind: FrameKind,
    pub symbol_hint: Option<Symbol>,
    /// Index into the reader's file names.
    pub file: usize,
    /// 1-based line number in that file.
    pub line: u64,
    buf: Vec<u8>,
    body: Range<usize>,
}

impl Default for CapturedFrame {
    fn default() -> Self {
        CapturedFrame {
            recv: Nanos(0),
            kind: FrameKind::Ws,
            symbol_hint: None,
            file: 0,
            line: 0,
            buf: Vec::with_capacity(4096),
            body: 0..0,
        }
    }
}

impl CapturedFrame {
    pub fn body(&self) -> &[u8] {
        &self.buf[self.body.clone()]
    }

    /// Fills the frame from a generator: `body` writes the frame's bytes into the (cleared,
    /// reused) buffer. For sources that make frames rather than read them (the synthetic market).
    pub fn write(
        &mut self,
        recv: Nanos,
        kind: FrameKind,
        symbol_hint: Option<Symbol>,
        body: impl FnOnce(&mut Vec<u8>),
    ) {
        self.buf.clear();
        body(&mut self.buf);
        self.body = 0..self.buf.len();
        self.recv = recv;
        self.kind = kind;
        self.symbol_hint = symbol_hint;
        self.file = 0;
        self.line += 1;
    }

    pub fn raw(&self) -> RawFrame<'_> {
        RawFrame {
            recv: self.recv,
            bytes: self.body(),
            symbol_hint: self.symbol_hint,
        }
    }
}

/// Problems reading a capture. None of them loses what was read before.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The OS error is part of the message and deliberately not a `source`: an error chain
    /// (`{:#}`) would say it twice ("No such file or directory … : No such file or directory").
    #[error("{path}: {error}")]
    Io { path: String, error: io::Error },
    #[error("{path}:{line}: {msg}")]
    Line {
        path: String,
        line: u64,
        msg: String,
    },
    #[error("{path}: {msg}")]
    Recording { path: String, msg: String },
    #[error("{path}: not a capture format this tool reads (first line starts `{head}`)")]
    Unrecognised { path: String, head: String },
    #[error(
        "{path}:{line}: a line of {bytes} bytes, longer than limits.max_line_bytes ({max}): skipped"
    )]
    TooLong {
        path: String,
        line: u64,
        bytes: u64,
        max: usize,
    },
}

/// A stream of frames from one or more files of one capture, in file order.
pub trait FrameSource {
    /// Loads the next frame. `Ok(false)` at the end. After an `Err`, calling again continues
    /// with what follows (or ends, if the file cannot be read further).
    fn advance(&mut self) -> Result<bool, ReadError>;
    /// The frame loaded by the last successful `advance`.
    fn current(&self) -> &CapturedFrame;
    /// File names, indexed by [`CapturedFrame::file`].
    fn files(&self) -> &[String];
}

/// Opens a file, inflating it when it starts with the gzip magic bytes.
pub fn open_maybe_gz(path: &Path) -> io::Result<Box<dyn BufRead + Send>> {
    let mut f = File::open(path)?;
    let mut magic = [0u8; 2];
    let n = read_fully(&mut f, &mut magic)?;
    let f = File::open(path)?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, f)),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, f))
    })
}

fn read_fully(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Why [`LineReader::next`] gave no line.
#[derive(Debug)]
pub(crate) enum LineError {
    /// The stream cannot be read further (a corrupt gzip stream cannot be resumed).
    Io(io::Error),
    /// Line `line` had `bytes` bytes, more than the cap: skipped, reading goes on after it.
    TooLong { line: u64, bytes: u64, max: usize },
}

impl LineError {
    /// The error a source reports, naming `path`.
    pub(crate) fn into_read_error(self, path: &str, line: u64) -> ReadError {
        match self {
            LineError::Io(source) => ReadError::Io {
                path: format!("{path} (after line {line})"),
                error: source,
            },
            LineError::TooLong { line, bytes, max } => ReadError::TooLong {
                path: path.to_string(),
                line,
                bytes,
                max,
            },
        }
    }
}

/// Reads lines into a reused buffer, counting them, holding at most `max` bytes of one line.
pub(crate) struct LineReader {
    inner: Box<dyn BufRead + Send>,
    pub line: u64,
    done: bool,
    max: usize,
}

impl LineReader {
    pub fn new(inner: Box<dyn BufRead + Send>) -> Self {
        LineReader {
            inner,
            line: 0,
            done: false,
            max: microstate_core::limits::DEFAULT_MAX_LINE_BYTES,
        }
    }

    /// Caps the bytes of one line (at least 1).
    pub fn with_max(mut self, max: usize) -> Self {
        self.max = max.max(1);
        self
    }

    /// Reads the next non-empty line (without its end) into `buf`. `Ok(false)` at the end. An I/O
    /// error ends the reader; a line over the cap is consumed without being kept and reported,
    /// and the next call goes on after it.
    pub fn next(&mut self, buf: &mut Vec<u8>) -> Result<bool, LineError> {
        loop {
            if self.done {
                return Ok(false);
            }
            buf.clear();
            let mut total: u64 = 0;
            let mut over = false;
            loop {
                let avail = match self.inner.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.done = true;
                        return Err(LineError::Io(e));
                    }
                };
                if avail.is_empty() {
                    break;
                }
                let (n, found) = match memchr::memchr(b'\n', avail) {
                    Some(i) => (i + 1, true),
                    None => (avail.len(), false),
                };
                total += n as u64;
                if !over {
                    // The line end itself does not count against the cap.
                    let body = n - usize::from(found);
                    if buf.len() + body > self.max {
                        over = true;
                        buf.clear();
                    } else {
                        buf.extend_from_slice(&avail[..n]);
                    }
                }
                self.inner.consume(n);
                if found {
                    break;
                }
            }
            if total == 0 {
                self.done = true;
                return Ok(false);
            }
            self.line += 1;
            if over {
                return Err(LineError::TooLong {
                    line: self.line,
                    bytes: total,
                    max: self.max,
                });
            }
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            if !buf.is_empty() {
                return Ok(true);
            }
        }
    }
}

/// Bytes of a first line that format detection looks at (a recording's magic, a
/// timestamp, a URL; an hftbacktest first line is a diff of a few KB at most — a snapshot
/// line comes after diffs).
const DETECT_LINE_BYTES: usize = 1 << 20;

/// Capture formats this reader knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Our own recordings (`MSREC1`, see [`format`]).
    Recording,
    Hftbacktest,
    CryptofeedHttp,
    CryptofeedWs,
}

/// Detects a file's format from its first line.
pub fn detect(path: &Path) -> Result<Format, ReadError> {
    let io_err = |source| ReadError::Io {
        path: path.display().to_string(),
        error: source,
    };
    // The first line of any format is short: a capped read keeps a huge one out of memory.
    let mut r = LineReader::new(open_maybe_gz(path).map_err(io_err)?).with_max(DETECT_LINE_BYTES);
    let mut first = Vec::new();
    // A corrupt file may still show a valid first line; reading stops at the first line anyway.
    match r.next(&mut first) {
        Ok(_) => {}
        Err(LineError::Io(e)) => return Err(io_err(e)),
        Err(LineError::TooLong { .. }) => first.clear(),
    }
    detect_line(&first).ok_or_else(|| ReadError::Unrecognised {
        path: path.display().to_string(),
        head: microstate_core::limits::escape_bytes(&first[..first.len().min(60)]),
    })
}

fn detect_line(first: &[u8]) -> Option<Format> {
    if first == b"MSREC1" {
        return Some(Format::Recording);
    }
    let digits = first.iter().take_while(|c| c.is_ascii_digit()).count();
    if (10..=20).contains(&digits) && first.get(digits) == Some(&b' ') {
        return Some(Format::Hftbacktest);
    }
    let has = |needle: &[u8]| first.windows(needle.len()).any(|w| w == needle);
    if first.starts_with(b"http") && has(b" -> ") {
        return Some(Format::CryptofeedHttp);
    }
    if first.starts_with(b"ws") && has(b" <-> ") {
        return Some(Format::CryptofeedWs);
    }
    None
}

/// Parses a decimal seconds timestamp (`1633998512.0633569`) into exact nanoseconds.
pub(crate) fn parse_seconds(s: &[u8]) -> Option<Nanos> {
    let dot = s.iter().position(|&c| c == b'.').unwrap_or(s.len());
    let (int, frac) = (&s[..dot], s.get(dot + 1..).unwrap_or(&[]));
    if int.is_empty() || !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return None;
    }
    let mut secs: u64 = 0;
    for &c in int {
        secs = secs.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    let mut ns: u64 = 0;
    for i in 0..9 {
        ns = ns * 10 + frac.get(i).map_or(0, |&c| (c - b'0') as u64);
    }
    secs.checked_mul(1_000_000_000)?.checked_add(ns).map(Nanos)
}

/// Opens everything the user named (files or folders) as frame sources, grouped into captures.
/// Files in a folder that are not captures are skipped; a named file that is not is an error.
pub fn open_captures(paths: &[PathBuf]) -> Result<Vec<Box<dyn FrameSource + Send>>, ReadError> {
    open_captures_capped(paths, microstate_core::limits::DEFAULT_MAX_LINE_BYTES)
}

/// [`open_captures`] with a byte cap per line (`limits.max_line_bytes`).
pub fn open_captures_capped(
    paths: &[PathBuf],
    max_line: usize,
) -> Result<Vec<Box<dyn FrameSource + Send>>, ReadError> {
    let mut files: Vec<(PathBuf, Format)> = Vec::new();
    fn add(files: &mut Vec<(PathBuf, Format)>, p: PathBuf, f: Format) {
        let canon = p.canonicalize().unwrap_or_else(|_| p.clone());
        if !files
            .iter()
            .any(|(q, _)| q.canonicalize().unwrap_or_else(|_| q.clone()) == canon)
        {
            files.push((p, f));
        }
    }
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| ReadError::Io {
                    path: p.display().to_string(),
                    error: source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            for e in entries {
                if let Ok(f) = detect(&e) {
                    add(&mut files, e, f);
                }
            }
        } else {
            let f = detect(p)?;
            add(&mut files, p.clone(), f);
        }
    }
    // A cryptofeed file brings its partners (same prefix, the other kind) from its folder.
    let partners: Vec<PathBuf> = files
        .iter()
        .filter(|(_, f)| *f != Format::Hftbacktest)
        .flat_map(|(p, _)| cryptofeed::partners(p))
        .collect();
    for p in partners {
        if let Ok(f) = detect(&p) {
            add(&mut files, p, f);
        }
    }

    let mut sources: Vec<Box<dyn FrameSource + Send>> = Vec::new();
    // hftbacktest day files of one symbol continue one capture: chain them in name order.
    let mut hft: Vec<(String, Vec<PathBuf>)> = Vec::new();
    let mut sessions: Vec<(String, Vec<(u32, PathBuf)>)> = Vec::new();
    for (p, f) in &files {
        match f {
            Format::Hftbacktest => {
                let key = hftbacktest::capture_key(p);
                match hft.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, v)) => v.push(p.clone()),
                    None => hft.push((key, vec![p.clone()])),
                }
            }
            Format::Recording => {
                let r = format::RecordingReader::open(p).map_err(|e| ReadError::Recording {
                    path: p.display().to_string(),
                    msg: e.to_string(),
                })?;
                let h = r.header();
                // A file without a session stands alone; rotated files of one session chain.
                let key = if h.session.is_empty() {
                    p.display().to_string()
                } else {
                    h.session.clone()
                };
                let part = (h.part, p.clone());
                match sessions.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, v)) => v.push(part),
                    None => sessions.push((key, vec![part])),
                }
            }
            Format::CryptofeedHttp | Format::CryptofeedWs => {
                sources.push(Box::new(
                    cryptofeed::CryptofeedSource::open(p, *f)?.with_max_line(max_line),
                ));
            }
        }
    }
    for (_, mut group) in hft {
        group.sort();
        sources.push(Box::new(
            hftbacktest::HftSource::open(group)?.with_max_line(max_line),
        ));
    }
    for (_, mut parts) in sessions {
        parts.sort();
        for w in parts.windows(2) {
            if w[1].0 != w[0].0 + 1 {
                tracing::warn!(
                    "recording parts {} and {} are not consecutive ({} then {}): a part is missing",
                    w[0].1.display(),
                    w[1].1.display(),
                    w[0].0,
                    w[1].0
                );
            }
        }
        let paths: Vec<PathBuf> = parts.into_iter().map(|(_, p)| p).collect();
        let src =
            format::RecordingSource::open_session(&paths).map_err(|e| ReadError::Recording {
                path: paths[0].display().to_string(),
                msg: e.to_string(),
            })?;
        sources.push(Box::new(src));
    }
    Ok(sources)
}

/// Merges several sources by receive time (ties go to the earlier source).
pub struct Merge {
    sources: Vec<Box<dyn FrameSource + Send>>,
    has: Vec<bool>,
    started: Vec<bool>,
    to_advance: Option<usize>,
}

/// What [`Merge::next_frame`] yields.
pub enum Merged<'a> {
    Frame {
        frame: &'a CapturedFrame,
        file: &'a str,
    },
    Error(ReadError),
}

impl Merge {
    pub fn new(sources: Vec<Box<dyn FrameSource + Send>>) -> Self {
        let n = sources.len();
        Merge {
            sources,
            has: vec![false; n],
            started: vec![false; n],
            to_advance: None,
        }
    }

    /// Puts back the frame the last [`Self::next_frame`] returned: the next call returns it
    /// again. Only valid right after a `Frame` (a paced replay peeks at the next frame's time).
    pub fn unread(&mut self) {
        self.to_advance = None;
    }

    /// The next frame in time order, or a read error (reading goes on after it).
    pub fn next_frame(&mut self) -> Option<Merged<'_>> {
        // Prime sources that have not produced a frame yet, one at a time so errors surface.
        for i in 0..self.sources.len() {
            if !self.started[i] {
                match self.sources[i].advance() {
                    Ok(has) => {
                        self.started[i] = true;
                        self.has[i] = has;
                    }
                    Err(e) => return Some(Merged::Error(e)),
                }
            }
        }
        if let Some(i) = self.to_advance.take() {
            match self.sources[i].advance() {
                Ok(has) => self.has[i] = has,
                Err(e) => {
                    // Try this source again on the next call.
                    self.to_advance = Some(i);
                    return Some(Merged::Error(e));
                }
            }
        }
        let mut best: Option<usize> = None;
        for i in 0..self.sources.len() {
            if self.has[i]
                && best
                    .is_none_or(|b| self.sources[i].current().recv < self.sources[b].current().recv)
            {
                best = Some(i);
            }
        }
        let i = best?;
        self.to_advance = Some(i);
        let frame = self.sources[i].current();
        Some(Merged::Frame {
            frame,
            file: self.sources[i].files()[frame.file].as_str(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_to_nanos_exactly() {
        assert_eq!(
            parse_seconds(b"1633998512.0633569"),
            Some(Nanos(1_633_998_512_063_356_900))
        );
        assert_eq!(
            parse_seconds(b"1633998512"),
            Some(Nanos(1_633_998_512_000_000_000))
        );
        assert_eq!(parse_seconds(b"1.1234567891"), Some(Nanos(1_123_456_789)));
        assert_eq!(parse_seconds(b"x1"), None);
        assert_eq!(parse_seconds(b""), None);
    }

    #[test]
    fn detects_formats_from_first_line() {
        assert_eq!(
            detect_line(b"1723161253937085768 {\"stream\":1}"),
            Some(Format::Hftbacktest)
        );
        assert_eq!(
            detect_line(b"https://api.binance.com/api/v3/depth?symbol=X&limit=1000 -> 1.5: {}"),
            Some(Format::CryptofeedHttp)
        );
        assert_eq!(
            detect_line(b"wss://stream.binance.com:9443/stream?streams=a <-> 1.5"),
            Some(Format::CryptofeedWs)
        );
        assert_eq!(detect_line(b"hello"), None);
    }
}
