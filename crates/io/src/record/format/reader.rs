//! Reading a recording: the header, then chunk after chunk — read, CRC-checked, inflated and
//! every record checked before any is served. A corrupt chunk costs that chunk only: the
//! reader resynchronises on the next chunk header whose magic, lengths, CRC and records all
//! check out ([`Skipped`], reported, with the bytes skipped); when no good chunk follows, the
//! bad tail ends reading as a warning. Also the chunk index from headers alone, and seeking by
//! time.
//!
//! Owns: [`RecordingReader`], [`ReadOutcome`], the index ([`index`], [`Index`], [`ChunkInfo`]),
//! the read-ahead thread ([`RecordingReader::read_ahead`]).
//! Must not touch: writing, record encoding (codec), what records mean to replay (the journal
//! adapter reads through this reader).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::codec::{ChunkHeader, DecodeError, Record, RecordRef, crc32};
use super::{
    CHUNK_HEADER_LEN, FILE_MAGIC, FORMAT_VERSION, FormatError, Header, MAX_HEADER_LINE, TailReason,
};
use crate::record::read_fully;

const CHUNK_MAGIC_LEN: usize = 4;

/// How reading a recording ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Every byte was a whole, valid chunk.
    Complete,
    /// A warning: everything before `at_byte` (the offset of the first bad chunk) was read.
    TruncatedTail { at_byte: u64, reason: TailReason },
}

/// A corrupt stretch the reader stepped over: from the bad chunk at `at_byte`, `bytes` bytes
/// up to the next good chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub at_byte: u64,
    pub bytes: u64,
    pub reason: TailReason,
}

/// Bytes scanned per read while looking for the next chunk header.
const SCAN_BLOCK: usize = 1 << 16;

/// One chunk as listed by [`index`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Byte offset of the chunk header in the file.
    pub offset: u64,
    pub first_wall_ns: u64,
    pub last_wall_ns: u64,
    pub records: u32,
}

/// The chunks of a recording and how the listing ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Index {
    pub chunks: Vec<ChunkInfo>,
    pub outcome: ReadOutcome,
}

impl Index {
    /// The chunk to start at to see time `wall_ns`: the last one whose `first_wall_ns ≤
    /// wall_ns`, or the first chunk when `wall_ns` is before them all. `None` if empty.
    pub fn chunk_for(&self, wall_ns: u64) -> Option<&ChunkInfo> {
        let after = self.chunks.partition_point(|c| c.first_wall_ns <= wall_ns);
        self.chunks.get(after.saturating_sub(1))
    }
}

/// Lists a recording's chunks by reading only their headers (no decompression, no CRC check:
/// corruption inside a chunk shows when it is read).
pub fn index(path: &Path) -> Result<Index, FormatError> {
    let mut r = RecordingReader::open(path)?;
    r.index()
}

fn read_header<R: BufRead>(r: &mut R, path: &str) -> Result<(Header, u64), FormatError> {
    let io_err = |source| FormatError::Io {
        path: path.to_string(),
        source,
    };
    let mut magic = [0u8; FILE_MAGIC.len()];
    let n = read_fully(r, &mut magic).map_err(io_err)?;
    if magic[..n] != FILE_MAGIC[..n] {
        return Err(FormatError::NotARecording {
            path: path.to_string(),
        });
    }
    if n < magic.len() {
        return Err(FormatError::TruncatedHeader {
            path: path.to_string(),
        });
    }
    let mut line = Vec::new();
    r.take(MAX_HEADER_LINE)
        .read_until(b'\n', &mut line)
        .map_err(io_err)?;
    if line.pop() != Some(b'\n') {
        return Err(FormatError::TruncatedHeader {
            path: path.to_string(),
        });
    }
    let header: Header = serde_json::from_slice(&line).map_err(|e| FormatError::BadHeader {
        path: path.to_string(),
        msg: e.to_string(),
    })?;
    if header.format_version > FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion {
            path: path.to_string(),
            version: header.format_version,
        });
    }
    Ok((header, (FILE_MAGIC.len() + line.len() + 1) as u64))
}

/// Reads a recording's records in order, chunk by chunk.
///
/// The file side (read, CRC, inflate, check every record) is a loader; by default it runs
/// on the caller's thread as records are asked for. [`Self::read_ahead`] moves it to a thread of
/// its own that loads the next chunks while the caller works through the current one. Either
/// way the records, the corrupt stretches reported ([`Self::take_skipped`]), their positions
/// and the outcome are the same: the thread only runs the very same loader earlier.
pub struct RecordingReader {
    path: String,
    header: Header,
    /// Offset of the first chunk.
    data_start: u64,
    /// Offset just past the last chunk served from (where a bad tail starts when it ends).
    pos: u64,
    loader: Loading,
    /// The current chunk, inflated; records are decoded from it in place.
    chunk: Vec<u8>,
    /// Offset of the next record in `chunk`, and how many are left.
    at: usize,
    left: u32,
    outcome: Option<ReadOutcome>,
    /// Records handed out so far (1-based ordinal of the last one).
    served: u64,
    /// Corrupt stretches stepped over and not yet taken by [`Self::take_skipped`].
    skipped: std::collections::VecDeque<Skipped>,
}

/// Where the loader runs.
enum Loading {
    Here(Loader),
    Ahead(ReadAhead),
    /// A read-ahead thread died with the loader (it panicked): reading has ended.
    Lost,
}

/// The file side of a reader: reads, checks and inflates chunk after chunk, stepping over
/// corrupt ones. Owns the file handle and its position.
struct Loader {
    inner: BufReader<File>,
    /// Offset of the next chunk to read.
    pos: u64,
    /// Reused across chunks.
    compressed: Vec<u8>,
    dctx: Option<zstd::bulk::Decompressor<'static>>,
}

/// What the loader found next.
enum Loaded {
    /// A chunk of `records` records (inflated into the buffer passed or handed over) that ends
    /// at byte `end`; `skipped`: the corrupt stretch stepped over to reach it.
    Chunk {
        records: u32,
        end: u64,
        skipped: Option<Skipped>,
    },
    /// No further chunk.
    End(ReadOutcome),
}

/// Chunks loaded ahead of the reader and not yet taken. Each holds up to a chunk's bytes
/// (1 MiB by default): a few keep the thread busy while the reader works, no more.
const READ_AHEAD_CHUNKS: usize = 3;

/// A loader running on its own thread, [`READ_AHEAD_CHUNKS`] chunks ahead at most.
struct ReadAhead {
    /// Loaded chunks in file order, with their buffers (`None` once dropped: stops the thread).
    loaded: Option<std::sync::mpsc::Receiver<(Vec<u8>, Loaded)>>,
    /// Buffers of chunks done with, back to the thread for reuse (no allocation per chunk).
    spare: std::sync::mpsc::Sender<Vec<u8>>,
    /// Gives the loader back when it stops.
    thread: Option<std::thread::JoinHandle<Option<Loader>>>,
}

impl ReadAhead {
    /// Starts a thread running `loader`; gives it back if no thread can be started.
    fn start(loader: Loader) -> Result<ReadAhead, Loader> {
        use std::sync::mpsc;
        let (give, take) = mpsc::channel::<Loader>();
        let (tx, loaded) = mpsc::sync_channel(READ_AHEAD_CHUNKS);
        let (spare, spares) = mpsc::channel::<Vec<u8>>();
        let spawned = std::thread::Builder::new()
            .name("msrec-read-ahead".into())
            .spawn(move || {
                let mut loader = take.recv().ok()?;
                loop {
                    let mut buf = spares.try_recv().unwrap_or_default();
                    let got = loader.next(&mut buf);
                    let end = matches!(got, Loaded::End(_));
                    // A send fails when the reader is gone (dropped, or stopping us): done.
                    if tx.send((buf, got)).is_err() || end {
                        return Some(loader);
                    }
                }
            });
        let thread = match spawned {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("no read-ahead thread ({e}): reading on the caller's thread");
                return Err(loader);
            }
        };
        // The thread waits for the loader; it cannot have gone (it returns only after this).
        give.send(loader).map_err(|e| e.0)?;
        Ok(ReadAhead {
            loaded: Some(loaded),
            spare,
            thread: Some(thread),
        })
    }

    /// Stops the thread and takes the loader back (`None` if the thread panicked). The
    /// chunks it loaded ahead are dropped: its position is past them.
    fn stop(mut self) -> Option<Loader> {
        self.loaded = None;
        self.thread.take()?.join().ok().flatten()
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Closing the channel first wakes a thread waiting to hand over a chunk.
        self.loaded = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl RecordingReader {
    /// Opens a recording and reads its header.
    pub fn open(path: &Path) -> Result<Self, FormatError> {
        let name = path.display().to_string();
        let f = File::open(path).map_err(|source| FormatError::Io {
            path: name.clone(),
            source,
        })?;
        let mut inner = BufReader::with_capacity(1 << 16, f);
        let (header, data_start) = read_header(&mut inner, &name)?;
        Ok(RecordingReader {
            path: name,
            header,
            data_start,
            pos: data_start,
            loader: Loading::Here(Loader {
                inner,
                pos: data_start,
                compressed: Vec::new(),
                dctx: None,
            }),
            chunk: Vec::new(),
            at: 0,
            left: 0,
            outcome: None,
            served: 0,
            skipped: std::collections::VecDeque::new(),
        })
    }

    /// Loads chunks on a thread of its own from now on, up to [`READ_AHEAD_CHUNKS`] ahead of
    /// the records served: reading, CRC, inflating and checking the next chunks overlaps the
    /// caller's work on the current one (replay: the engine). What is read is unchanged. If no
    /// thread can be started, reading stays on the caller's thread.
    pub fn read_ahead(&mut self) {
        if !matches!(self.loader, Loading::Here(_)) {
            return;
        }
        if let Loading::Here(l) = std::mem::replace(&mut self.loader, Loading::Lost) {
            self.loader = match ReadAhead::start(l) {
                Ok(a) => Loading::Ahead(a),
                Err(l) => Loading::Here(l),
            };
        }
    }

    /// Whether chunks are loaded on a read-ahead thread ([`Self::read_ahead`]).
    pub fn reads_ahead(&self) -> bool {
        matches!(self.loader, Loading::Ahead(_))
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// How reading ended; `None` while records remain.
    pub fn outcome(&self) -> Option<&ReadOutcome> {
        self.outcome.as_ref()
    }

    /// Records handed out so far: the 1-based ordinal of the last one (replay's "line").
    pub(super) fn served(&self) -> u64 {
        self.served
    }

    /// The next record, across chunks. `None` at the end; then [`Self::outcome`] says whether
    /// the tail was whole.
    pub fn next_record(&mut self) -> Option<Record> {
        // Chunks are validated when loaded (including UTF-8 of text fields): this cannot fail.
        self.next_ref().and_then(|r| r.to_owned().ok())
    }

    /// The next record, decoded in place (borrowing the current chunk: no allocation).
    pub fn next_ref(&mut self) -> Option<RecordRef<'_>> {
        while self.left == 0 {
            if self.outcome.is_some() {
                return None;
            }
            match self.load() {
                Loaded::Chunk {
                    records,
                    end,
                    skipped,
                } => {
                    self.skipped.extend(skipped);
                    self.at = 0;
                    self.left = records;
                    self.pos = end;
                }
                Loaded::End(outcome) => {
                    if let ReadOutcome::TruncatedTail { at_byte, .. } = &outcome {
                        self.pos = *at_byte;
                    }
                    self.outcome = Some(outcome);
                }
            }
        }
        let mut rest = &self.chunk[self.at..];
        let r = RecordRef::decode(&mut rest).ok()?;
        self.at = self.chunk.len() - rest.len();
        self.left -= 1;
        self.served += 1;
        Some(r)
    }

    /// The next chunk into `self.chunk`, from the loader here or from the read-ahead thread.
    fn load(&mut self) -> Loaded {
        match &mut self.loader {
            Loading::Here(l) => l.next(&mut self.chunk),
            Loading::Lost => Loaded::End(ReadOutcome::TruncatedTail {
                at_byte: self.pos,
                reason: TailReason::Io("the read-ahead thread stopped".into()),
            }),
            Loading::Ahead(a) => match a.loaded.as_ref().map(|rx| rx.recv()) {
                Some(Ok((buf, got))) => {
                    let done = std::mem::replace(&mut self.chunk, buf);
                    // The thread may have ended (after the last chunk): nothing to reuse then.
                    let _ = a.spare.send(done);
                    got
                }
                // The thread is gone without saying the file ended: it panicked.
                _ => Loaded::End(ReadOutcome::TruncatedTail {
                    at_byte: self.pos,
                    reason: TailReason::Io("the read-ahead thread stopped".into()),
                }),
            },
        }
    }

    /// The loader on this thread: a read-ahead thread is stopped first (the chunks it loaded
    /// ahead are dropped, and its position with them: callers set a new position).
    fn loader_here(&mut self) -> Result<&mut Loader, FormatError> {
        if let Loading::Ahead(_) = self.loader
            && let Loading::Ahead(a) = std::mem::replace(&mut self.loader, Loading::Lost)
            && let Some(l) = a.stop()
        {
            self.loader = Loading::Here(l);
        }
        match &mut self.loader {
            Loading::Here(l) => Ok(l),
            _ => Err(FormatError::Io {
                path: self.path.clone(),
                source: io::Error::other("the read-ahead thread stopped"),
            }),
        }
    }

    /// The next corrupt stretch stepped over since the last call, if any.
    pub fn take_skipped(&mut self) -> Option<Skipped> {
        self.skipped.pop_front()
    }

    /// Lists the chunks (headers only), then puts the reader back where it was.
    pub fn index(&mut self) -> Result<Index, FormatError> {
        if self.reads_ahead() {
            // The thread owns this reader's file position: list from a handle of our own.
            return RecordingReader::open(Path::new(&self.path))?.index();
        }
        let path = self.path.clone();
        let data_start = self.data_start;
        let l = self.loader_here()?;
        l.index(data_start)
            .map_err(|source| FormatError::Io { path, source })
    }

    /// Restarts reading at the last chunk whose `first_wall_ns ≤ wall_ns` (the first chunk if
    /// none), so the first records read may be a little before `wall_ns`.
    pub fn seek_to(&mut self, wall_ns: u64) -> Result<(), FormatError> {
        let idx = self.index()?;
        let at = idx.chunk_for(wall_ns).map_or(self.data_start, |c| c.offset);
        self.seek_offset(at)
    }

    /// Restarts reading at a chunk offset (from [`ChunkInfo::offset`]). A reader reading ahead
    /// goes on reading ahead from there.
    pub fn seek_offset(&mut self, offset: u64) -> Result<(), FormatError> {
        let ahead = self.reads_ahead();
        let path = self.path.clone();
        let l = self.loader_here()?;
        l.inner
            .seek(SeekFrom::Start(offset))
            .map_err(|source| FormatError::Io { path, source })?;
        l.pos = offset;
        self.pos = offset;
        self.left = 0;
        self.at = 0;
        self.outcome = None;
        self.skipped.clear();
        if ahead {
            self.read_ahead();
        }
        Ok(())
    }
}

impl Loader {
    /// The next chunk into `chunk`: read, checked, inflated; a corrupt one is stepped over to
    /// the next good one (reported in `skipped`).
    fn next(&mut self, chunk: &mut Vec<u8>) -> Loaded {
        match self.read_chunk(chunk) {
            Ok(records) => Loaded::Chunk {
                records,
                end: self.pos,
                skipped: None,
            },
            Err(None) => Loaded::End(ReadOutcome::Complete),
            Err(Some(reason)) => {
                let at_byte = self.pos;
                match self.resync(at_byte, chunk) {
                    Some((found, records)) => Loaded::Chunk {
                        records,
                        end: self.pos,
                        skipped: Some(Skipped {
                            at_byte,
                            bytes: found - at_byte,
                            reason,
                        }),
                    },
                    None => {
                        self.pos = at_byte;
                        Loaded::End(ReadOutcome::TruncatedTail { at_byte, reason })
                    }
                }
            }
        }
    }

    /// Looks for the first good chunk after the bad one at `bad_at`: every `CHNK` after it is
    /// tried as a whole chunk (header, CRC, inflate, records). On success that chunk is loaded
    /// into `chunk` (as by `read_chunk`): its offset and record count.
    fn resync(&mut self, bad_at: u64, chunk: &mut Vec<u8>) -> Option<(u64, u32)> {
        let mut from = bad_at + 1;
        let mut block = vec![0u8; SCAN_BLOCK];
        loop {
            self.inner.seek(SeekFrom::Start(from)).ok()?;
            let n = read_fully(&mut self.inner, &mut block).ok()?;
            if n < CHUNK_MAGIC_LEN {
                return None;
            }
            let candidates: Vec<u64> = block[..n]
                .windows(CHUNK_MAGIC_LEN)
                .enumerate()
                .filter(|(_, w)| *w == super::CHUNK_MAGIC)
                .map(|(i, _)| from + i as u64)
                .collect();
            for at in candidates {
                if self.inner.seek(SeekFrom::Start(at)).is_err() {
                    return None;
                }
                self.pos = at;
                if let Ok(records) = self.read_chunk(chunk) {
                    return Some((at, records));
                }
            }
            if n < block.len() {
                return None;
            }
            // Overlap so a magic split across blocks is seen.
            from += (n - (CHUNK_MAGIC_LEN - 1)) as u64;
        }
    }

    /// Lists the chunks (headers only) from `data_start`, then puts the file position back.
    fn index(&mut self, data_start: u64) -> io::Result<Index> {
        let len = self.inner.get_ref().metadata()?.len();
        let mut chunks = Vec::new();
        let mut at = data_start;
        let outcome = loop {
            if at == len {
                break ReadOutcome::Complete;
            }
            let tail = |reason| ReadOutcome::TruncatedTail {
                at_byte: at,
                reason,
            };
            if len - at < CHUNK_HEADER_LEN as u64 {
                break tail(TailReason::ShortRead);
            }
            let mut b = [0u8; CHUNK_HEADER_LEN];
            let read = self
                .inner
                .seek(SeekFrom::Start(at))
                .and_then(|_| self.inner.read_exact(&mut b));
            if let Err(e) = read {
                break tail(TailReason::Io(e.to_string()));
            }
            let h = match ChunkHeader::parse(&b) {
                Ok(h) => h,
                Err(reason) => break tail(reason),
            };
            let end = at + CHUNK_HEADER_LEN as u64 + u64::from(h.compressed_len);
            if end > len {
                break tail(TailReason::ShortRead);
            }
            chunks.push(ChunkInfo {
                offset: at,
                first_wall_ns: h.first_wall_ns,
                last_wall_ns: h.last_wall_ns,
                records: h.records,
            });
            at = end;
        };
        self.inner.seek(SeekFrom::Start(self.pos))?;
        Ok(Index { chunks, outcome })
    }

    /// Reads, checks and inflates the chunk at `self.pos` into `chunk`, advancing `pos` past
    /// it: its record count. `Err(None)` at a clean end of file, `Err(Some(reason))` at a bad
    /// tail.
    fn read_chunk(&mut self, chunk: &mut Vec<u8>) -> Result<u32, Option<TailReason>> {
        let mut b = [0u8; CHUNK_HEADER_LEN];
        let n =
            read_fully(&mut self.inner, &mut b).map_err(|e| Some(TailReason::Io(e.to_string())))?;
        if n == 0 {
            return Err(None);
        }
        if n < b.len() {
            return Err(Some(TailReason::ShortRead));
        }
        let h = ChunkHeader::parse(&b).map_err(Some)?;
        // Read through `take` so a corrupt length allocates no more than the file holds.
        let data = &mut self.compressed;
        data.clear();
        (&mut self.inner)
            .take(u64::from(h.compressed_len))
            .read_to_end(data)
            .map_err(|e| Some(TailReason::Io(e.to_string())))?;
        if data.len() < h.compressed_len as usize {
            return Err(Some(TailReason::ShortRead));
        }
        let computed = crc32(data);
        if computed != h.crc {
            return Err(Some(TailReason::CrcMismatch {
                stored: h.crc,
                computed,
            }));
        }
        // A corrupt header length must not decide an allocation the frame does not need: the
        // zstd frame states its own content size, and they must agree.
        if let Ok(Some(size)) = zstd::zstd_safe::get_frame_content_size(data)
            && size != u64::from(h.uncompressed_len)
        {
            return Err(Some(TailReason::BadRecords(format!(
                "chunk inflates to {size} bytes, header says {}",
                h.uncompressed_len
            ))));
        }
        chunk.resize(h.uncompressed_len as usize, 0);
        let zerr = |e: io::Error| Some(TailReason::Zstd(e.to_string()));
        if self.dctx.is_none() {
            self.dctx = Some(zstd::bulk::Decompressor::new().map_err(zerr)?);
        }
        let got = match self.dctx.as_mut() {
            Some(d) => d.decompress_to_buffer(data, chunk).map_err(zerr)?,
            None => 0,
        };
        let bad = |msg: String| Some(TailReason::BadRecords(msg));
        if got != h.uncompressed_len as usize {
            return Err(bad(format!(
                "chunk inflates to {got} bytes, header says {}",
                h.uncompressed_len
            )));
        }
        // Check every record before serving any: a bad chunk is a bad tail, whole.
        let mut rest = chunk.as_slice();
        let (mut count, mut lo, mut hi) = (0u32, u64::MAX, 0u64);
        let utf8 = |b: &[u8]| {
            std::str::from_utf8(b)
                .map(|_| ())
                .map_err(|_| DecodeError("text is not UTF-8".into()))
        };
        while !rest.is_empty() {
            let r = RecordRef::decode(&mut rest).map_err(|e| bad(e.to_string()))?;
            match r {
                RecordRef::Lifecycle { event, detail, .. } => utf8(event).and(utf8(detail)),
                RecordRef::RestRequest { url, .. } => utf8(url),
                RecordRef::RestResponse {
                    symbol: Some(s), ..
                } => utf8(s),
                _ => Ok(()),
            }
            .map_err(|e| bad(e.to_string()))?;
            count += 1;
            lo = lo.min(r.wall_ns());
            hi = hi.max(r.wall_ns());
        }
        if count != h.records || lo != h.first_wall_ns || hi != h.last_wall_ns {
            return Err(bad(format!(
                "chunk holds {count} records over {lo}..={hi} ns, header says {} over {}..={}",
                h.records, h.first_wall_ns, h.last_wall_ns
            )));
        }
        self.pos += (CHUNK_HEADER_LEN + data.len()) as u64;
        Ok(count)
    }
}

impl Iterator for RecordingReader {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        self.next_record()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{TempPath, header, read_all, three_chunks, write_file, ws};
    use super::super::{CHUNK_MAGIC, WriterOptions};
    use super::*;

    fn every_kind() -> Vec<Record> {
        vec![
            Record::Lifecycle {
                wall_ns: 10,
                event: "connect".into(),
                detail: "wss://x/stream?streams=btcusdt@depth".into(),
            },
            Record::WsFrame {
                conn: 7,
                recv_wall_ns: 11,
                recv_mono_ns: u64::MAX,
                // Not UTF-8, with an embedded newline and NUL: stored exactly.
                text: vec![0xff, b'{', b'\n', 0, 0x80, b'}'],
            },
            Record::WsFrame {
                conn: 0,
                recv_wall_ns: 12,
                recv_mono_ns: 0,
                text: Vec::new(),
            },
            Record::RestRequest {
                id: 1,
                sent_wall_ns: 13,
                url: "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000".into(),
            },
            Record::RestResponse {
                id: 1,
                symbol: Some("BTCUSDT".into()),
                recv_wall_ns: 14,
                status: 200,
                body: b"{\"lastUpdateId\":1,\"bids\":[],\"asks\":[]}".to_vec(),
            },
            Record::RestResponse {
                id: 2,
                symbol: None,
                recv_wall_ns: 15,
                status: 429,
                body: Vec::new(),
            },
            Record::ClockOffset {
                wall_ns: 16,
                offset_ns: i64::MIN,
                rtt_ns: 1,
            },
            Record::ClockOffset {
                wall_ns: 17,
                offset_ns: -1_234_567,
                rtt_ns: 0,
            },
            Record::Lifecycle {
                wall_ns: u64::MAX,
                event: "disconnect".into(),
                detail: "read error: ünïcode".into(),
            },
        ]
    }

    #[test]
    fn every_record_kind_round_trips_byte_exact() {
        let p = TempPath::new("roundtrip");
        let recs = every_kind();
        assert_eq!(write_file(&p.0, &recs, WriterOptions::default()), 1);
        let r = RecordingReader::open(&p.0).unwrap();
        assert_eq!(r.header(), &header());
        assert_eq!(r.header().app_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(r.header().time_unit, "ns");
        let (back, outcome) = read_all(&p.0);
        assert_eq!(back, recs);
        assert_eq!(outcome, ReadOutcome::Complete);
        // The file starts with the magic and one JSON line.
        let bytes = std::fs::read(&p.0).unwrap();
        assert!(bytes.starts_with(FILE_MAGIC));
        let idx = index(&p.0).unwrap();
        assert_eq!(idx.chunks.len(), 1);
        assert_eq!(idx.chunks[0].records, recs.len() as u32);
        assert_eq!(idx.chunks[0].first_wall_ns, 10);
        assert_eq!(idx.chunks[0].last_wall_ns, u64::MAX);
        assert_eq!(&bytes[idx.chunks[0].offset as usize..][..4], CHUNK_MAGIC);
    }

    #[test]
    fn an_empty_recording_reads_as_complete() {
        let p = TempPath::new("empty");
        assert_eq!(write_file(&p.0, &[], WriterOptions::default()), 0);
        let (recs, outcome) = read_all(&p.0);
        assert!(recs.is_empty());
        assert_eq!(outcome, ReadOutcome::Complete);
        assert!(index(&p.0).unwrap().chunks.is_empty());
    }

    #[test]
    fn many_chunks_index_and_seek() {
        let p = TempPath::new("many");
        let recs: Vec<Record> = (0..1000).map(ws).collect();
        let opts = WriterOptions {
            flush_interval_ns: 49_000,
            ..WriterOptions::default()
        };
        let chunks = write_file(&p.0, &recs, opts);
        assert_eq!(chunks, 20, "50 records span 49 µs");
        let idx = index(&p.0).unwrap();
        assert_eq!(idx.outcome, ReadOutcome::Complete);
        assert_eq!(idx.chunks.len(), 20);
        assert_eq!(idx.chunks.iter().map(|c| c.records).sum::<u32>(), 1000);
        for w in idx.chunks.windows(2) {
            assert!(w[0].offset < w[1].offset);
            assert!(w[0].last_wall_ns < w[1].first_wall_ns);
        }
        let (back, outcome) = read_all(&p.0);
        assert_eq!(back, recs);
        assert_eq!(outcome, ReadOutcome::Complete);

        let mut r = RecordingReader::open(&p.0).unwrap();
        let mut ahead = RecordingReader::open(&p.0).unwrap();
        ahead.read_ahead();
        // Half read, then seeks: the thread restarts at each seek, nothing of before leaks.
        assert_eq!(ahead.by_ref().take(500).count(), 500);
        for (t, first) in [(0, 0), (1_000_000 + 730 * 1_000, 700), (u64::MAX, 950)] {
            ahead.seek_to(t).unwrap();
            assert!(ahead.reads_ahead());
            assert_eq!(ahead.index().unwrap(), idx);
            let got: Vec<Record> = ahead.by_ref().collect();
            assert_eq!(got[..], recs[first..], "seek to {t}, reading ahead");
            assert_eq!(ahead.outcome(), Some(&ReadOutcome::Complete));
        }
        for (t, first) in [
            (0, 0),                         // before everything: the first chunk
            (1_000_000 + 730 * 1_000, 700), // inside chunk 14
            (1_000_000 + 750 * 1_000, 750), // exactly a chunk's first record
            (u64::MAX, 950),                // after everything: the last chunk
        ] {
            r.seek_to(t).unwrap();
            let got: Vec<Record> = r.by_ref().collect();
            assert_eq!(got.first(), Some(&recs[first]), "seek to {t}");
            assert_eq!(got.len(), 1000 - first);
            assert_eq!(r.outcome(), Some(&ReadOutcome::Complete));
        }
    }

    #[test]
    fn truncation_anywhere_keeps_every_whole_chunk() {
        let p = TempPath::new("full");
        let (bytes, recs, offsets) = three_chunks(&p.0);
        assert_eq!(offsets.len(), 3);
        let last = offsets[2] as usize;
        let cut_path = TempPath::new("cut");
        // A cut exactly at the last chunk's start is a clean (shorter) file.
        std::fs::write(&cut_path.0, &bytes[..last]).unwrap();
        assert_eq!(
            read_all(&cut_path.0),
            (recs[..40].to_vec(), ReadOutcome::Complete)
        );
        for cut in last + 1..bytes.len() {
            std::fs::write(&cut_path.0, &bytes[..cut]).unwrap();
            let (got, outcome) = read_all(&cut_path.0);
            assert_eq!(got, recs[..40], "cut at {cut}");
            assert_eq!(
                outcome,
                ReadOutcome::TruncatedTail {
                    at_byte: last as u64,
                    reason: TailReason::ShortRead
                },
                "cut at {cut}"
            );
            let idx = index(&cut_path.0).unwrap();
            assert_eq!(idx.chunks.len(), 2, "cut at {cut}");
            assert_eq!(idx.outcome, outcome, "cut at {cut}");
        }
        // Inside the file header: refused (there is no chunk to keep), never a panic.
        let data_start = offsets[0] as usize;
        for cut in [0, 1, 6, 7, 8, data_start / 2, data_start - 1] {
            std::fs::write(&cut_path.0, &bytes[..cut]).unwrap();
            match RecordingReader::open(&cut_path.0) {
                Err(FormatError::TruncatedHeader { .. }) => {}
                Err(FormatError::BadHeader { .. }) if cut == data_start - 1 => {}
                other => panic!("cut at {cut}: {:?}", other.map(|_| ())),
            }
        }
        // A cut right after the header line: a valid, empty recording.
        std::fs::write(&cut_path.0, &bytes[..data_start]).unwrap();
        assert_eq!(read_all(&cut_path.0), (Vec::new(), ReadOutcome::Complete));
    }

    /// Issue 19 item 9: a corrupt chunk costs that chunk only (it used to end reading and lose
    /// every later intact chunk): the reader finds the next chunk and says what it skipped.
    #[test]
    fn a_corrupt_chunk_costs_that_chunk_only() {
        let p = TempPath::new("flip");
        let (bytes, recs, offsets) = three_chunks(&p.0);
        for (chunk, skip_to) in [(0, 1), (1, 2)] {
            // A flipped byte in the compressed data (CRC), in a length field, in the magic.
            for at in [CHUNK_HEADER_LEN + 5, 5, 0] {
                let mut bytes = bytes.clone();
                bytes[offsets[chunk] as usize + at] ^= 0x01;
                std::fs::write(&p.0, &bytes).unwrap();
                for ahead in [false, true] {
                    let mut r = RecordingReader::open(&p.0).unwrap();
                    if ahead {
                        r.read_ahead();
                        assert!(r.reads_ahead());
                    }
                    let got: Vec<Record> = r.by_ref().collect();
                    let mut want = recs.clone();
                    want.drain(chunk * 20..skip_to * 20);
                    assert_eq!(got, want, "chunk {chunk}, byte {at}, ahead {ahead}");
                    assert_eq!(r.outcome(), Some(&ReadOutcome::Complete));
                    let s = r.take_skipped().expect("reported");
                    assert_eq!(s.at_byte, offsets[chunk]);
                    assert_eq!(s.bytes, offsets[skip_to] - offsets[chunk]);
                    assert_eq!(r.take_skipped(), None);
                }
            }
        }
    }

    #[test]
    fn corrupt_last_chunk_is_a_crc_mismatch_and_earlier_chunks_stay() {
        let p = TempPath::new("flip");
        let (mut bytes, recs, offsets) = three_chunks(&p.0);
        let mid = offsets[2] as usize + CHUNK_HEADER_LEN + 5;
        bytes[mid] ^= 0x01;
        std::fs::write(&p.0, &bytes).unwrap();
        let (got, outcome) = read_all(&p.0);
        assert_eq!(got, recs[..40]);
        assert!(
            matches!(
                outcome,
                ReadOutcome::TruncatedTail {
                    at_byte,
                    reason: TailReason::CrcMismatch { .. }
                } if at_byte == offsets[2]
            ),
            "{outcome:?}"
        );
        // The index reads headers only: all three are listed.
        assert_eq!(index(&p.0).unwrap().chunks.len(), 3);

        // Garbage where a chunk header should be: bad magic.
        let (mut bytes, _, offsets) = three_chunks(&p.0);
        bytes[offsets[2] as usize] = b'X';
        std::fs::write(&p.0, &bytes).unwrap();
        let (got, outcome) = read_all(&p.0);
        assert_eq!(got.len(), 40);
        assert_eq!(
            outcome,
            ReadOutcome::TruncatedTail {
                at_byte: offsets[2],
                reason: TailReason::BadMagic
            }
        );
    }

    #[test]
    fn not_a_recording_is_refused() {
        let p = TempPath::new("notrec");
        std::fs::write(&p.0, b"1723161253937085768 {}\n").unwrap();
        assert!(matches!(
            RecordingReader::open(&p.0),
            Err(FormatError::NotARecording { .. })
        ));
    }
}
