//! The feed journal (see the module docs of [`super`]): its lifecycle event names, and
//! [`RecordingSource`], which replays a recording as frames — only what the live engine was fed,
//! in its order, when the file carries the journal.
//!
//! Owns: the event names ([`PRIMARY`], [`DROP`], [`RESET`]), which connections feed, what is held
//! for the others, session files read one after the other, reporting a bad tail once. Must not
//! touch: the bytes (reader and codec), the engine (the drivers feed the frames), clocks.

use std::collections::VecDeque;
use std::io;
use std::path::Path;

use microstate_core::num::{Nanos, Symbol};

use super::FormatError;
use super::codec::RecordRef;
use super::reader::{ReadOutcome, RecordingReader};
use crate::record::{CapturedFrame, FrameKind, FrameSource, ReadError};

/// Detail `N` or `N M`: connection `N` feeds the engine (replacing `M`).
pub const PRIMARY: &str = "primary";
/// Detail `N`: connection `N` no longer feeds the engine.
pub const DROP: &str = "drop";
/// Detail `SYMBOL`: the symbol's book was reset and waits for a snapshot.
pub const RESET: &str = "reset";

/// A captured frame as a recording holds what was received live on connection 1: a REST
/// response (numbered by `rest_id`, which it advances, for `symbol`) or a WebSocket frame —
/// what benches and tests write to turn a capture into a recording. The inverse of
/// [`RecordingSource`]'s reading for these two kinds.
pub fn live_record_of(frame: &CapturedFrame, symbol: &str, rest_id: &mut u64) -> super::Record {
    let recv = frame.recv.0;
    match frame.kind {
        FrameKind::Rest => {
            *rest_id += 1;
            super::Record::RestResponse {
                id: *rest_id,
                symbol: Some(symbol.into()),
                recv_wall_ns: recv,
                status: 200,
                body: frame.body().to_vec(),
            }
        }
        _ => super::Record::WsFrame {
            conn: 1,
            recv_wall_ns: recv,
            recv_mono_ns: recv,
            text: frame.body().to_vec(),
        },
    }
}

/// A recording as a [`FrameSource`], so replay feeds it through the same engine as any
/// capture: WebSocket frames and successful REST responses become frames; with the feed journal
/// (see the module docs) only what the live engine was fed, in its order, plus
/// [`FrameKind::Reset`]s. Files of one session (rotation) are read one after the other. A bad
/// tail is reported once as an error, after which the next file (if any) is read. Opened by
/// path, it reads ahead ([`RecordingReader::read_ahead`]): chunks are read and inflated on a
/// thread of their own while the caller takes the frames of the current one.
pub struct RecordingSource {
    reader: RecordingReader,
    /// Files of the session still to read.
    next_parts: VecDeque<std::path::PathBuf>,
    file: usize,
    frame: CapturedFrame,
    files: Vec<String>,
    tail_reported: bool,
    journal: Journal,
}

/// Replays the feed journal: which connections feed the engine, what is held for the others.
#[derive(Default)]
struct Journal {
    on: bool,
    /// The connections that feed: a handful at most (one per stream group, two during a
    /// switch-over), looked up for every frame — a short list beats hashing each id.
    primaries: Vec<u64>,
    /// Frames of connections that do not feed (yet): receive time, text, record ordinal.
    held: std::collections::HashMap<u64, Vec<(u64, Vec<u8>, u64)>>,
    /// Frames (or resets) released and waiting to be served, in order.
    ready: VecDeque<Ready>,
    /// Connections gone: their late frames are neither fed nor held.
    dead: std::collections::HashSet<u64>,
}

enum Ready {
    Frame { recv: u64, body: Vec<u8>, line: u64 },
    Reset { at: u64, symbol: Symbol, line: u64 },
}

impl RecordingSource {
    pub fn open(path: &Path) -> Result<Self, FormatError> {
        Self::open_session(&[path.to_path_buf()])
    }

    /// Opens the files of one session, read in the order given.
    pub fn open_session(paths: &[std::path::PathBuf]) -> Result<Self, FormatError> {
        let Some((first, rest)) = paths.split_first() else {
            return Err(FormatError::Io {
                path: String::new(),
                source: io::Error::new(io::ErrorKind::NotFound, "no recording file given"),
            });
        };
        let mut reader = RecordingReader::open(first)?;
        // Replay: the next chunks load on their own thread while the engine takes this one.
        reader.read_ahead();
        let mut s = Self::new(reader);
        s.files.extend(rest.iter().map(|p| p.display().to_string()));
        s.next_parts = rest.iter().cloned().collect();
        Ok(s)
    }

    pub fn new(reader: RecordingReader) -> Self {
        RecordingSource {
            files: vec![reader.path().to_string()],
            journal: Journal {
                on: reader.header().journal,
                ..Journal::default()
            },
            reader,
            next_parts: VecDeque::new(),
            file: 0,
            frame: CapturedFrame::default(),
            tail_reported: false,
        }
    }

    pub fn reader(&self) -> &RecordingReader {
        &self.reader
    }

    fn serve(&mut self, r: Ready) {
        let file = self.file;
        match r {
            Ready::Frame { recv, body, line } => {
                self.frame.write(Nanos(recv), FrameKind::Ws, None, |b| {
                    b.extend_from_slice(&body)
                });
                self.frame.line = line;
            }
            Ready::Reset { at, symbol, line } => {
                self.frame
                    .write(Nanos(at), FrameKind::Reset, Some(symbol), |_| {});
                self.frame.line = line;
            }
        }
        self.frame.file = file;
    }
}

/// Takes one record into the journal or the frame; true when it loaded a frame to serve.
fn take(
    j: &mut Journal,
    frame: &mut CapturedFrame,
    file: usize,
    line: u64,
    r: RecordRef<'_>,
) -> bool {
    match r {
        RecordRef::WsFrame {
            conn,
            recv_wall_ns,
            text,
            ..
        } => {
            if j.on && !j.primaries.contains(&conn) {
                if !j.dead.contains(&conn) {
                    j.held
                        .entry(conn)
                        .or_default()
                        .push((recv_wall_ns, text.to_vec(), line));
                }
                return false;
            }
            frame.write(Nanos(recv_wall_ns), FrameKind::Ws, None, |b| {
                b.extend_from_slice(text)
            });
        }
        RecordRef::RestResponse {
            recv_wall_ns,
            status: 200,
            symbol,
            body,
            ..
        } => {
            let hint = symbol.and_then(Symbol::new);
            frame.write(Nanos(recv_wall_ns), FrameKind::Rest, hint, |b| {
                b.extend_from_slice(body)
            });
        }
        RecordRef::Lifecycle {
            wall_ns,
            event,
            detail,
        } if j.on => {
            let detail = std::str::from_utf8(detail).unwrap_or("");
            let mut ids = detail.split_whitespace().map(str::parse::<u64>);
            match event {
                e if e == PRIMARY.as_bytes() => {
                    if let Some(Ok(new)) = ids.next() {
                        if let Some(Ok(old)) = ids.next() {
                            j.primaries.retain(|&p| p != old);
                            j.held.remove(&old);
                        }
                        if !j.primaries.contains(&new) {
                            j.primaries.push(new);
                        }
                        for (recv, body, line) in j.held.remove(&new).unwrap_or_default() {
                            j.ready.push_back(Ready::Frame { recv, body, line });
                        }
                    }
                }
                e if e == DROP.as_bytes() => {
                    if let Some(Ok(c)) = ids.next() {
                        j.primaries.retain(|&p| p != c);
                        j.held.remove(&c);
                        j.dead.insert(c);
                    }
                }
                e if e == RESET.as_bytes() => {
                    if let Some(symbol) = Symbol::new(detail.trim().as_bytes()) {
                        j.ready.push_back(Ready::Reset {
                            at: wall_ns,
                            symbol,
                            line,
                        });
                    }
                }
                _ => {}
            }
            return false;
        }
        _ => return false,
    }
    // "Line" numbers of a recording are 1-based record ordinals.
    frame.line = line;
    frame.file = file;
    true
}

impl FrameSource for RecordingSource {
    fn advance(&mut self) -> Result<bool, ReadError> {
        loop {
            if let Some(r) = self.journal.ready.pop_front() {
                self.serve(r);
                return Ok(true);
            }
            if let Some(s) = self.reader.take_skipped() {
                return Err(ReadError::Line {
                    path: self.files[self.file].clone(),
                    line: self.reader.served(),
                    msg: format!(
                        "corrupt chunk at byte {} ({}): skipped {} bytes to the next good chunk",
                        s.at_byte, s.reason, s.bytes
                    ),
                });
            }
            let line = self.reader.served() + 1;
            if let Some(r) = self.reader.next_ref() {
                if take(&mut self.journal, &mut self.frame, self.file, line, r) {
                    return Ok(true);
                }
                continue;
            }
            if let Some(ReadOutcome::TruncatedTail { at_byte, reason }) = self.reader.outcome()
                && !self.tail_reported
            {
                self.tail_reported = true;
                return Err(ReadError::Line {
                    path: self.files[self.file].clone(),
                    line: self.reader.served(),
                    msg: format!(
                        "recording ends in a bad chunk at byte {at_byte} ({reason}); \
                         everything before it was read"
                    ),
                });
            }
            let Some(next) = self.next_parts.pop_front() else {
                return Ok(false);
            };
            self.file += 1;
            self.tail_reported = false;
            let ahead = self.reader.reads_ahead();
            self.reader = RecordingReader::open(&next).map_err(|e| ReadError::Recording {
                path: next.display().to_string(),
                msg: e.to_string(),
            })?;
            if ahead {
                self.reader.read_ahead();
            }
        }
    }

    fn current(&self) -> &CapturedFrame {
        &self.frame
    }

    fn files(&self) -> &[String] {
        &self.files
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::super::testing::{TempPath, header, three_chunks};
    use super::super::{Record, RecordingWriter, WriterOptions};
    use super::*;

    /// Replays a capture's frames (at most `limit`) into a fresh engine.
    fn summaries(
        sources: Vec<Box<dyn FrameSource + Send>>,
        limit: usize,
    ) -> Vec<microstate_core::summary::SymbolSummary> {
        use crate::record::{Merge, Merged};
        use microstate_core::engine::{Engine, EngineConfig};
        let mut engine = Engine::new(EngineConfig::default());
        let mut merge = Merge::new(sources);
        let mut n = 0;
        while n < limit {
            match merge.next_frame() {
                Some(Merged::Frame { frame, .. }) => {
                    let _ = engine.on_frame(frame.raw());
                    n += 1;
                }
                Some(Merged::Error(e)) => panic!("{e}"),
                None => break,
            }
        }
        engine
            .symbols()
            .iter()
            .map(microstate_core::summary::SymbolSummary::of)
            .collect()
    }

    #[test]
    fn recording_replays_like_the_capture_it_was_made_from() {
        use crate::record::{Merge, Merged, open_captures};
        const LINES: usize = 2000;
        let capture = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("../shared/data/binance-spot/btcusdt_20240808.gz");

        // Record the capture's first lines, as the live writer would have.
        let p = TempPath::new("spot");
        let f = File::create(&p.0).unwrap();
        let mut w = RecordingWriter::new(
            std::io::BufWriter::new(f),
            &header(),
            WriterOptions::default(),
        )
        .unwrap();
        let mut merge = Merge::new(open_captures(std::slice::from_ref(&capture)).unwrap());
        let (mut ws_frames, mut rest) = (0, 0);
        for i in 0..LINES {
            let Some(Merged::Frame { frame, .. }) = merge.next_frame() else {
                panic!("capture ended or failed at frame {i}");
            };
            let rec = match frame.kind {
                FrameKind::Ws => {
                    ws_frames += 1;
                    Record::WsFrame {
                        conn: 1,
                        recv_wall_ns: frame.recv.0,
                        recv_mono_ns: i as u64,
                        text: frame.body().to_vec(),
                    }
                }
                FrameKind::Reset => unreachable!("captures carry no resets"),
                FrameKind::Rest => {
                    rest += 1;
                    Record::RestResponse {
                        id: rest,
                        symbol: Some("BTCUSDT".into()),
                        recv_wall_ns: frame.recv.0,
                        status: 200,
                        body: frame.body().to_vec(),
                    }
                }
            };
            // Lifecycle records in between must not disturb the replay.
            if i % 500 == 0 {
                w.push(&Record::Lifecycle {
                    wall_ns: frame.recv.0,
                    event: "ping".into(),
                    detail: String::new(),
                })
                .unwrap();
            }
            w.push(&rec).unwrap();
        }
        w.finish().unwrap();
        assert_eq!(
            rest, 1,
            "the capture's REST snapshot is among the first lines"
        );
        assert_eq!(ws_frames, LINES - 1);

        let direct = summaries(open_captures(&[capture]).unwrap(), LINES);
        let src = RecordingSource::open(&p.0).unwrap();
        let replayed = summaries(vec![Box::new(src)], usize::MAX);
        let json =
            |s: &[microstate_core::summary::SymbolSummary]| serde_json::to_string(s).unwrap();
        assert!(!direct.is_empty());
        assert!(direct[0].depth_updates.applied > 0);
        assert_eq!(json(&replayed), json(&direct));
    }

    #[test]
    fn recording_source_reports_a_bad_tail_once() {
        let p = TempPath::new("srctail");
        let (bytes, _, offsets) = three_chunks(&p.0);
        std::fs::write(&p.0, &bytes[..bytes.len() - 3]).unwrap();
        let mut src = RecordingSource::open(&p.0).unwrap();
        let mut frames = 0;
        let mut errors = 0;
        loop {
            match src.advance() {
                Ok(true) => {
                    frames += 1;
                    assert_eq!(src.current().kind, FrameKind::Ws);
                    assert_eq!(src.current().line, frames);
                }
                Ok(false) => break,
                Err(e) => {
                    errors += 1;
                    assert!(e.to_string().contains(&offsets[2].to_string()), "{e}");
                }
            }
        }
        assert_eq!((frames, errors), (40, 1));
    }
}
