//! Our own recording format (`.msrec`): what came off the wire, byte for byte, with receive
//! times and connection lifecycle, in independently decodable zstd chunks.
//!
//! Owns: the on-disk layout, its writer ([`RecordingWriter`]), its reader ([`RecordingReader`]),
//! the chunk index ([`index`]) and the replay adapter ([`RecordingSource`], a [`FrameSource`]).
//! Must not touch: clocks (every time is passed in by the caller), sockets, what frames mean.
//!
//! # Layout
//!
//! ```text
//! file   = "MSREC1\n" header-line chunk*
//! header-line = one JSON object (see [`Header`]) then "\n"
//! chunk  = chunk-header (36 bytes, little-endian) zstd-bytes
//! chunk-header =
//!   [u32 magic "CHNK"] [u32 compressed_len] [u32 uncompressed_len]
//!   [u32 crc32 (IEEE) of the compressed bytes]
//!   [u64 first_wall_ns] [u64 last_wall_ns] [u32 record_count]
//! zstd-bytes = one zstd frame; inflates to record_count records back to back
//! record = tag:u8 fields…   (uN = LEB128 varint, iN = zigzag varint, bytes = uN length + raw)
//!   1 WsFrame      conn:u64 recv_wall_ns:u64 recv_mono_ns:u64 text:bytes
//!   2 RestRequest  id:u64 sent_wall_ns:u64 url:bytes(UTF-8)
//!   3 RestResponse id:u64 symbol:(0 | 1 bytes(UTF-8)) recv_wall_ns:u64 status:u16 body:bytes
//!   4 Lifecycle    wall_ns:u64 event:bytes(UTF-8) detail:bytes(UTF-8)
//!   5 ClockOffset  wall_ns:u64 offset_ns:i64 rtt_ns:u64
//!   6 ShedFrame    conn:u64 recv_wall_ns:u64 recv_mono_ns:u64 text:bytes
//! ```
//!
//! # The feed journal
//!
//! A live session does not feed every frame it receives to the engine: during a make-before-break
//! switch-over the new connection's frames are held until the old one has caught up, a retired
//! connection's late frames are dropped, an unplanned disconnect resets the symbol's book, and a
//! frame the reader could not queue (the engine was behind) is shed. A recording whose header has
//! `"journal": true` carries these decisions as [`Record::Lifecycle`] records in the order the
//! engine loop took them, so replay feeds the engine exactly what the live engine got:
//!
//! | event | detail | replay does |
//! |---|---|---|
//! | `primary` | `N` or `N M` | frames of connection `N` are fed from now on, after the ones held for it (in order); `M`'s stop |
//! | `drop` | `N` | connection `N` is gone: its frames are no longer fed and any held are discarded |
//! | `reset` | `SYMBOL` | the symbol's book waits for a new snapshot ([`FrameKind::Reset`]) |
//!
//! Frames of other connections are held until a `primary` names them. [`Record::ShedFrame`]s came
//! off the wire but never reached the engine: kept, never fed. Without the journal flag every
//! frame and successful REST response is fed in file order.
//!
//! All times are nanoseconds (`time_unit: "ns"`); wall times since the Unix epoch.
//! `first_wall_ns`/`last_wall_ns` are the smallest and largest record wall time in the chunk
//! (records are stored in arrival order, which is not strictly wall-time order across
//! connections).
//!
//! # Invariants
//!
//! - Each chunk decodes alone, so a reader can start at any chunk ([`RecordingReader::seek_to`])
//!   and [`index`] can list chunks by reading only their 36-byte headers.
//! - The writer flushes the underlying `Write` after every chunk: a `kill -9` loses at most the
//!   records not yet in a chunk.
//! - A truncated or corrupt tail (short read, bad magic, implausible lengths, CRC mismatch, zstd
//!   error, records that do not match the chunk header) ends reading with
//!   [`ReadOutcome::TruncatedTail`] after every whole chunk before it has been yielded. It is a
//!   warning, not an error: nothing read before it is lost. The CRC covers the compressed bytes;
//!   the chunk header's own fields are cross-checked against the decoded records instead.
//! - A file whose magic or header line is missing or broken is refused by
//!   [`RecordingReader::open`] ([`FormatError`]): it holds no chunk to keep.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{CapturedFrame, FrameKind, FrameSource, ReadError};
use microstate_core::num::{Nanos, Symbol};

/// First bytes of every recording.
pub const FILE_MAGIC: &[u8; 7] = b"MSREC1\n";
/// Version written into [`Header::format_version`]; readers refuse newer ones.
pub const FORMAT_VERSION: u32 = 1;
/// First bytes of every chunk.
pub const CHUNK_MAGIC: &[u8; 4] = b"CHNK";
/// Size of a chunk header on disk.
pub const CHUNK_HEADER_LEN: usize = 36;
/// Largest chunk (compressed or not) a reader accepts; larger lengths mean corruption. The
/// writer refuses records that would not fit.
pub const MAX_CHUNK_BYTES: usize = 256 << 20;
/// Longest header line a reader accepts.
const MAX_HEADER_LINE: u64 = 1 << 20;

/// The file header: what was recorded, by what, where. One JSON line after the magic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format_version: u32,
    /// `CARGO_PKG_VERSION` of the writing program.
    pub app_version: String,
    /// `spot`, `usdm`, `coinm`, or whatever the caller names.
    pub market: String,
    pub symbols: Vec<String>,
    /// WebSocket and REST endpoints the recording was taken from.
    pub endpoints: Vec<String>,
    /// Always `"ns"`.
    pub time_unit: String,
    /// Whatever the caller knows about the host clock (source, sync state, offsets).
    pub host_clock: serde_json::Value,
    /// When the recording was started, ns since the Unix epoch (passed in by the caller).
    pub created_wall_ns: u64,
    /// The file carries the feed journal (see the module docs): replay follows it.
    #[serde(default)]
    pub journal: bool,
    /// Identifies one recording session across rotated files (empty: a single file).
    #[serde(default)]
    pub session: String,
    /// Position of this file in its session, from 0; files of a session replay in this order.
    #[serde(default)]
    pub part: u32,
}

impl Header {
    /// A header for this program's version of the format. `created_wall_ns` comes from the
    /// caller: the format code never reads a clock.
    pub fn new(
        market: impl Into<String>,
        symbols: Vec<String>,
        endpoints: Vec<String>,
        host_clock: serde_json::Value,
        created_wall_ns: u64,
    ) -> Self {
        Header {
            format_version: FORMAT_VERSION,
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            market: market.into(),
            symbols,
            endpoints,
            time_unit: "ns".to_string(),
            host_clock,
            created_wall_ns,
            journal: false,
            session: String::new(),
            part: 0,
        }
    }
}

/// Lifecycle event names of the feed journal (see the module docs).
pub mod journal {
    /// Detail `N` or `N M`: connection `N` feeds the engine (replacing `M`).
    pub const PRIMARY: &str = "primary";
    /// Detail `N`: connection `N` no longer feeds the engine.
    pub const DROP: &str = "drop";
    /// Detail `SYMBOL`: the symbol's book was reset and waits for a snapshot.
    pub const RESET: &str = "reset";
}

/// One recorded event. Bodies are kept exactly as received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// A WebSocket text frame. `recv_mono_ns` is a monotonic clock reading (any origin) for
    /// intervals that must not jump with the wall clock.
    WsFrame {
        conn: u64,
        recv_wall_ns: u64,
        recv_mono_ns: u64,
        text: Vec<u8>,
    },
    /// A REST request sent; `id` pairs it with its [`Record::RestResponse`].
    RestRequest {
        id: u64,
        sent_wall_ns: u64,
        url: String,
    },
    /// A REST response; `symbol` is the symbol it was requested for (snapshots do not name it).
    RestResponse {
        id: u64,
        symbol: Option<String>,
        recv_wall_ns: u64,
        status: u16,
        body: Vec<u8>,
    },
    /// Connection life: `connect` (detail: url), `disconnect` (reason), `ping`, `pong`,
    /// `serverShutdown`, `gap`, `resync started`, `resync finished`, …
    Lifecycle {
        wall_ns: u64,
        event: String,
        detail: String,
    },
    /// A measured offset of the exchange clock against ours (exchange − local, may be
    /// negative) and the round trip it was measured over.
    ClockOffset {
        wall_ns: u64,
        offset_ns: i64,
        rtt_ns: u64,
    },
    /// A WebSocket text frame that came off the wire but was shed before the engine (its queue
    /// was full). Kept for completeness; replay does not feed it, as live did not.
    ShedFrame {
        conn: u64,
        recv_wall_ns: u64,
        recv_mono_ns: u64,
        text: Vec<u8>,
    },
}

const TAG_WS: u8 = 1;
const TAG_REST_REQ: u8 = 2;
const TAG_REST_RESP: u8 = 3;
const TAG_LIFECYCLE: u8 = 4;
const TAG_CLOCK: u8 = 5;
const TAG_SHED: u8 = 6;

impl Record {
    /// The record's wall time, ns since the Unix epoch (what chunks are indexed by).
    pub fn wall_ns(&self) -> u64 {
        match self {
            Record::WsFrame { recv_wall_ns, .. } | Record::ShedFrame { recv_wall_ns, .. } => {
                *recv_wall_ns
            }
            Record::RestRequest { sent_wall_ns, .. } => *sent_wall_ns,
            Record::RestResponse { recv_wall_ns, .. } => *recv_wall_ns,
            Record::Lifecycle { wall_ns, .. } => *wall_ns,
            Record::ClockOffset { wall_ns, .. } => *wall_ns,
        }
    }

    /// Appends the binary encoding (see the module docs) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Record::WsFrame {
                conn,
                recv_wall_ns,
                recv_mono_ns,
                text,
            }
            | Record::ShedFrame {
                conn,
                recv_wall_ns,
                recv_mono_ns,
                text,
            } => {
                out.push(if matches!(self, Record::WsFrame { .. }) {
                    TAG_WS
                } else {
                    TAG_SHED
                });
                put_varint(out, *conn);
                put_varint(out, *recv_wall_ns);
                put_varint(out, *recv_mono_ns);
                put_bytes(out, text);
            }
            Record::RestRequest {
                id,
                sent_wall_ns,
                url,
            } => {
                out.push(TAG_REST_REQ);
                put_varint(out, *id);
                put_varint(out, *sent_wall_ns);
                put_bytes(out, url.as_bytes());
            }
            Record::RestResponse {
                id,
                symbol,
                recv_wall_ns,
                status,
                body,
            } => {
                out.push(TAG_REST_RESP);
                put_varint(out, *id);
                match symbol {
                    None => out.push(0),
                    Some(s) => {
                        out.push(1);
                        put_bytes(out, s.as_bytes());
                    }
                }
                put_varint(out, *recv_wall_ns);
                put_varint(out, u64::from(*status));
                put_bytes(out, body);
            }
            Record::Lifecycle {
                wall_ns,
                event,
                detail,
            } => {
                out.push(TAG_LIFECYCLE);
                put_varint(out, *wall_ns);
                put_bytes(out, event.as_bytes());
                put_bytes(out, detail.as_bytes());
            }
            Record::ClockOffset {
                wall_ns,
                offset_ns,
                rtt_ns,
            } => {
                out.push(TAG_CLOCK);
                put_varint(out, *wall_ns);
                put_varint(out, zigzag(*offset_ns));
                put_varint(out, *rtt_ns);
            }
        }
    }

    /// Decodes one record from the front of `buf`, advancing it.
    pub fn decode(buf: &mut &[u8]) -> Result<Record, DecodeError> {
        RecordRef::decode(buf)?.to_owned()
    }
}

/// A record decoded in place: its bytes borrow the chunk (no allocation per record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordRef<'a> {
    WsFrame {
        conn: u64,
        recv_wall_ns: u64,
        recv_mono_ns: u64,
        text: &'a [u8],
    },
    RestRequest {
        id: u64,
        sent_wall_ns: u64,
        url: &'a [u8],
    },
    RestResponse {
        id: u64,
        symbol: Option<&'a [u8]>,
        recv_wall_ns: u64,
        status: u16,
        body: &'a [u8],
    },
    Lifecycle {
        wall_ns: u64,
        event: &'a [u8],
        detail: &'a [u8],
    },
    ClockOffset {
        wall_ns: u64,
        offset_ns: i64,
        rtt_ns: u64,
    },
    ShedFrame {
        conn: u64,
        recv_wall_ns: u64,
        recv_mono_ns: u64,
        text: &'a [u8],
    },
}

impl<'a> RecordRef<'a> {
    /// Decodes one record from the front of `buf`, advancing it. Text fields are checked to be
    /// UTF-8 only when made owned ([`Self::to_owned`]).
    pub fn decode(buf: &mut &'a [u8]) -> Result<RecordRef<'a>, DecodeError> {
        let tag = take_u8(buf)?;
        Ok(match tag {
            TAG_WS | TAG_SHED => {
                let conn = take_varint(buf)?;
                let recv_wall_ns = take_varint(buf)?;
                let recv_mono_ns = take_varint(buf)?;
                let text = take_bytes(buf)?;
                if tag == TAG_WS {
                    RecordRef::WsFrame {
                        conn,
                        recv_wall_ns,
                        recv_mono_ns,
                        text,
                    }
                } else {
                    RecordRef::ShedFrame {
                        conn,
                        recv_wall_ns,
                        recv_mono_ns,
                        text,
                    }
                }
            }
            TAG_REST_REQ => RecordRef::RestRequest {
                id: take_varint(buf)?,
                sent_wall_ns: take_varint(buf)?,
                url: take_bytes(buf)?,
            },
            TAG_REST_RESP => {
                let id = take_varint(buf)?;
                let symbol = match take_u8(buf)? {
                    0 => None,
                    1 => Some(take_bytes(buf)?),
                    b => return Err(DecodeError(format!("option flag {b}"))),
                };
                let recv_wall_ns = take_varint(buf)?;
                let status = u16::try_from(take_varint(buf)?)
                    .map_err(|_| DecodeError("HTTP status above 65535".into()))?;
                RecordRef::RestResponse {
                    id,
                    symbol,
                    recv_wall_ns,
                    status,
                    body: take_bytes(buf)?,
                }
            }
            TAG_LIFECYCLE => RecordRef::Lifecycle {
                wall_ns: take_varint(buf)?,
                event: take_bytes(buf)?,
                detail: take_bytes(buf)?,
            },
            TAG_CLOCK => RecordRef::ClockOffset {
                wall_ns: take_varint(buf)?,
                offset_ns: unzigzag(take_varint(buf)?),
                rtt_ns: take_varint(buf)?,
            },
            t => return Err(DecodeError(format!("unknown record tag {t}"))),
        })
    }

    /// The record's wall time (see [`Record::wall_ns`]).
    pub fn wall_ns(&self) -> u64 {
        match *self {
            RecordRef::WsFrame { recv_wall_ns, .. }
            | RecordRef::ShedFrame { recv_wall_ns, .. }
            | RecordRef::RestResponse { recv_wall_ns, .. } => recv_wall_ns,
            RecordRef::RestRequest { sent_wall_ns, .. } => sent_wall_ns,
            RecordRef::Lifecycle { wall_ns, .. } | RecordRef::ClockOffset { wall_ns, .. } => {
                wall_ns
            }
        }
    }

    /// An owned copy; fails if a text field is not UTF-8.
    pub fn to_owned(&self) -> Result<Record, DecodeError> {
        let text = |b: &[u8]| {
            String::from_utf8(b.to_vec()).map_err(|_| DecodeError("text is not UTF-8".into()))
        };
        Ok(match *self {
            RecordRef::WsFrame {
                conn,
                recv_wall_ns,
                recv_mono_ns,
                text,
            } => Record::WsFrame {
                conn,
                recv_wall_ns,
                recv_mono_ns,
                text: text.to_vec(),
            },
            RecordRef::ShedFrame {
                conn,
                recv_wall_ns,
                recv_mono_ns,
                text,
            } => Record::ShedFrame {
                conn,
                recv_wall_ns,
                recv_mono_ns,
                text: text.to_vec(),
            },
            RecordRef::RestRequest {
                id,
                sent_wall_ns,
                url,
            } => Record::RestRequest {
                id,
                sent_wall_ns,
                url: text(url)?,
            },
            RecordRef::RestResponse {
                id,
                symbol,
                recv_wall_ns,
                status,
                body,
            } => Record::RestResponse {
                id,
                symbol: symbol.map(text).transpose()?,
                recv_wall_ns,
                status,
                body: body.to_vec(),
            },
            RecordRef::Lifecycle {
                wall_ns,
                event,
                detail,
            } => Record::Lifecycle {
                wall_ns,
                event: text(event)?,
                detail: text(detail)?,
            },
            RecordRef::ClockOffset {
                wall_ns,
                offset_ns,
                rtt_ns,
            } => Record::ClockOffset {
                wall_ns,
                offset_ns,
                rtt_ns,
            },
        })
    }
}

/// A record that could not be decoded (what was wrong, for a person).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad record: {0}")]
pub struct DecodeError(pub String);

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn take_u8(buf: &mut &[u8]) -> Result<u8, DecodeError> {
    let (&b, rest) = buf
        .split_first()
        .ok_or_else(|| DecodeError("ends inside a record".into()))?;
    *buf = rest;
    Ok(b)
}

fn take_varint(buf: &mut &[u8]) -> Result<u64, DecodeError> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let b = take_u8(buf)?;
        let low = u64::from(b & 0x7f);
        // The tenth byte may only carry the top bit of a u64.
        if i == 9 && low > 1 {
            return Err(DecodeError("varint overflows u64".into()));
        }
        v |= low << (7 * i);
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(DecodeError("varint longer than 10 bytes".into()))
}

fn take_bytes<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], DecodeError> {
    let n = take_varint(buf)?;
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n <= buf.len())
        .ok_or_else(|| DecodeError(format!("length {n} runs past the chunk")))?;
    let (b, rest) = buf.split_at(n);
    *buf = rest;
    Ok(b)
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), one table look-up per byte.
const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// CRC-32 of `data` (the zlib/gzip/PNG checksum).
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// A chunk header as stored on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ChunkHeader {
    compressed_len: u32,
    uncompressed_len: u32,
    crc: u32,
    first_wall_ns: u64,
    last_wall_ns: u64,
    records: u32,
}

impl ChunkHeader {
    fn to_bytes(self) -> [u8; CHUNK_HEADER_LEN] {
        let mut b = [0u8; CHUNK_HEADER_LEN];
        b[0..4].copy_from_slice(CHUNK_MAGIC);
        b[4..8].copy_from_slice(&self.compressed_len.to_le_bytes());
        b[8..12].copy_from_slice(&self.uncompressed_len.to_le_bytes());
        b[12..16].copy_from_slice(&self.crc.to_le_bytes());
        b[16..24].copy_from_slice(&self.first_wall_ns.to_le_bytes());
        b[24..32].copy_from_slice(&self.last_wall_ns.to_le_bytes());
        b[32..36].copy_from_slice(&self.records.to_le_bytes());
        b
    }

    /// Parses and sanity-checks a header (magic and lengths).
    fn parse(b: &[u8; CHUNK_HEADER_LEN]) -> Result<Self, TailReason> {
        if &b[0..4] != CHUNK_MAGIC {
            return Err(TailReason::BadMagic);
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let h = ChunkHeader {
            compressed_len: u32_at(4),
            uncompressed_len: u32_at(8),
            crc: u32_at(12),
            first_wall_ns: u64_at(16),
            last_wall_ns: u64_at(24),
            records: u32_at(32),
        };
        if h.compressed_len as usize > MAX_CHUNK_BYTES
            || h.uncompressed_len as usize > MAX_CHUNK_BYTES
            || h.first_wall_ns > h.last_wall_ns
            || h.records == 0
        {
            return Err(TailReason::BadHeader);
        }
        Ok(h)
    }
}

/// Writer settings.
#[derive(Clone, Copy, Debug)]
pub struct WriterOptions {
    /// Emit a chunk once its records span this much wall time (ns of record time, not of the
    /// writer's clock: the writer has none).
    pub flush_interval_ns: u64,
    /// Emit a chunk once its records take this many bytes before compression.
    pub max_chunk_bytes: usize,
    /// zstd level (1 fast … 19 small).
    pub zstd_level: i32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            flush_interval_ns: 1_000_000_000,
            max_chunk_bytes: 1 << 20,
            zstd_level: 3,
        }
    }
}

/// Writes a recording: the header at once, then records buffered into chunks.
pub struct RecordingWriter<W: Write> {
    inner: W,
    opts: WriterOptions,
    buf: Vec<u8>,
    records: u32,
    first_wall_ns: u64,
    last_wall_ns: u64,
    chunks: u64,
    bytes: u64,
}

impl<W: Write> RecordingWriter<W> {
    /// Writes the magic and header line and flushes them.
    pub fn new(mut inner: W, header: &Header, opts: WriterOptions) -> io::Result<Self> {
        let mut line = serde_json::to_vec(header).map_err(io::Error::other)?;
        line.push(b'\n');
        inner.write_all(FILE_MAGIC)?;
        inner.write_all(&line)?;
        inner.flush()?;
        Ok(RecordingWriter {
            inner,
            opts,
            buf: Vec::with_capacity(opts.max_chunk_bytes.min(MAX_CHUNK_BYTES)),
            records: 0,
            first_wall_ns: u64::MAX,
            last_wall_ns: 0,
            chunks: 0,
            bytes: (FILE_MAGIC.len() + line.len()) as u64,
        })
    }

    /// Adds a record; emits a chunk when the flush interval or size threshold is reached. A
    /// record too large for any chunk is refused (`InvalidInput`) and nothing is written.
    pub fn push(&mut self, r: &Record) -> io::Result<()> {
        let before = self.buf.len();
        r.encode(&mut self.buf);
        if self.buf.len() - before > MAX_CHUNK_BYTES {
            self.buf.truncate(before);
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "record of {} bytes is larger than a chunk may be ({MAX_CHUNK_BYTES})",
                    self.buf.len() - before
                ),
            ));
        }
        if self.buf.len() > MAX_CHUNK_BYTES {
            // Would overflow the chunk: emit what came before, then start anew with this one.
            let rec = self.buf.split_off(before);
            self.emit_chunk()?;
            self.buf = rec;
        }
        let wall = r.wall_ns();
        self.first_wall_ns = self.first_wall_ns.min(wall);
        self.last_wall_ns = self.last_wall_ns.max(wall);
        self.records += 1;
        if self.buf.len() >= self.opts.max_chunk_bytes
            || self.last_wall_ns - self.first_wall_ns >= self.opts.flush_interval_ns
            || self.records == u32::MAX
        {
            self.emit_chunk()?;
        }
        Ok(())
    }

    /// Emits the buffered records as a chunk (if any) and flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.emit_chunk()?;
        self.inner.flush()
    }

    /// Flushes and hands back the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.inner)
    }

    /// Chunks written so far.
    pub fn chunks_written(&self) -> u64 {
        self.chunks
    }

    /// Bytes handed to the underlying writer so far (magic, header and whole chunks).
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Records buffered, not yet in a chunk (what a crash now would lose).
    pub fn pending_records(&self) -> u32 {
        self.records
    }

    fn emit_chunk(&mut self) -> io::Result<()> {
        if self.records == 0 {
            return Ok(());
        }
        let data = zstd::bulk::compress(&self.buf, self.opts.zstd_level)?;
        let too_big = |n: usize| {
            u32::try_from(n)
                .ok()
                .filter(|&n| n as usize <= MAX_CHUNK_BYTES)
                .ok_or_else(|| io::Error::other(format!("chunk of {n} bytes is too large")))
        };
        let header = ChunkHeader {
            compressed_len: too_big(data.len())?,
            uncompressed_len: too_big(self.buf.len())?,
            crc: crc32(&data),
            first_wall_ns: self.first_wall_ns,
            last_wall_ns: self.last_wall_ns,
            records: self.records,
        };
        self.inner.write_all(&header.to_bytes())?;
        self.inner.write_all(&data)?;
        self.inner.flush()?;
        self.bytes += (CHUNK_HEADER_LEN + data.len()) as u64;
        self.buf.clear();
        self.records = 0;
        self.first_wall_ns = u64::MAX;
        self.last_wall_ns = 0;
        self.chunks += 1;
        Ok(())
    }
}

/// Problems that stop a recording from being opened at all.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path}: not a microstate recording (it does not start with `MSREC1`)")]
    NotARecording { path: String },
    #[error("{path}: the recording's header line is missing or cut short")]
    TruncatedHeader { path: String },
    #[error("{path}: bad recording header: {msg}")]
    BadHeader { path: String, msg: String },
    #[error(
        "{path}: recording format version {version} is newer than this program reads ({FORMAT_VERSION})"
    )]
    UnsupportedVersion { path: String, version: u32 },
}

/// Why reading stopped before the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailReason {
    /// The file ends inside a chunk.
    ShortRead,
    /// What follows the last good chunk does not start with `CHNK`.
    BadMagic,
    /// The chunk header's lengths or times are implausible.
    BadHeader,
    CrcMismatch {
        stored: u32,
        computed: u32,
    },
    Zstd(String),
    /// The chunk inflated, but its records do not match its header or do not decode.
    BadRecords(String),
    Io(String),
}

impl std::fmt::Display for TailReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TailReason::ShortRead => f.write_str("file ends inside a chunk"),
            TailReason::BadMagic => f.write_str("no chunk magic"),
            TailReason::BadHeader => f.write_str("implausible chunk header"),
            TailReason::CrcMismatch { stored, computed } => {
                write!(
                    f,
                    "CRC mismatch (stored {stored:08x}, computed {computed:08x})"
                )
            }
            TailReason::Zstd(e) => write!(f, "zstd: {e}"),
            TailReason::BadRecords(e) => write!(f, "{e}"),
            TailReason::Io(e) => write!(f, "I/O: {e}"),
        }
    }
}

/// How reading a recording ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Every byte was a whole, valid chunk.
    Complete,
    /// A warning: everything before `at_byte` (the offset of the first bad chunk) was read.
    TruncatedTail { at_byte: u64, reason: TailReason },
}

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
    let n = super::read_fully(r, &mut magic).map_err(io_err)?;
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
pub struct RecordingReader {
    inner: BufReader<File>,
    path: String,
    header: Header,
    /// Offset of the first chunk.
    data_start: u64,
    /// Offset of the next chunk to read.
    pos: u64,
    /// The current chunk, inflated; records are decoded from it in place.
    chunk: Vec<u8>,
    /// Offset of the next record in `chunk`, and how many are left.
    at: usize,
    left: u32,
    /// Reused across chunks.
    compressed: Vec<u8>,
    dctx: Option<zstd::bulk::Decompressor<'static>>,
    outcome: Option<ReadOutcome>,
    /// Records handed out so far (1-based ordinal of the last one).
    served: u64,
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
            inner,
            path: name,
            header,
            data_start,
            pos: data_start,
            chunk: Vec::new(),
            at: 0,
            left: 0,
            compressed: Vec::new(),
            dctx: None,
            outcome: None,
            served: 0,
        })
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
            if let Err(reason) = self.read_chunk() {
                self.outcome = Some(match reason {
                    None => ReadOutcome::Complete,
                    Some(reason) => ReadOutcome::TruncatedTail {
                        at_byte: self.pos,
                        reason,
                    },
                });
            }
        }
        let mut rest = &self.chunk[self.at..];
        let r = RecordRef::decode(&mut rest).ok()?;
        self.at = self.chunk.len() - rest.len();
        self.left -= 1;
        self.served += 1;
        Some(r)
    }

    /// Lists the chunks (headers only), then puts the reader back where it was.
    pub fn index(&mut self) -> Result<Index, FormatError> {
        let io_err = |source| FormatError::Io {
            path: self.path.clone(),
            source,
        };
        let len = self.inner.get_ref().metadata().map_err(io_err)?.len();
        let mut chunks = Vec::new();
        let mut at = self.data_start;
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
        self.inner
            .seek(SeekFrom::Start(self.pos))
            .map_err(|source| FormatError::Io {
                path: self.path.clone(),
                source,
            })?;
        Ok(Index { chunks, outcome })
    }

    /// Restarts reading at the last chunk whose `first_wall_ns ≤ wall_ns` (the first chunk if
    /// none), so the first records read may be a little before `wall_ns`.
    pub fn seek_to(&mut self, wall_ns: u64) -> Result<(), FormatError> {
        let idx = self.index()?;
        let at = idx.chunk_for(wall_ns).map_or(self.data_start, |c| c.offset);
        self.seek_offset(at)
    }

    /// Restarts reading at a chunk offset (from [`ChunkInfo::offset`]).
    pub fn seek_offset(&mut self, offset: u64) -> Result<(), FormatError> {
        self.inner
            .seek(SeekFrom::Start(offset))
            .map_err(|source| FormatError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.pos = offset;
        self.left = 0;
        self.at = 0;
        self.outcome = None;
        Ok(())
    }

    /// Reads, checks and inflates the chunk at `self.pos` into `chunk`, advancing `pos` past
    /// it. `Err(None)` at a clean end of file, `Err(Some(reason))` at a bad tail.
    fn read_chunk(&mut self) -> Result<(), Option<TailReason>> {
        let mut b = [0u8; CHUNK_HEADER_LEN];
        let n = super::read_fully(&mut self.inner, &mut b)
            .map_err(|e| Some(TailReason::Io(e.to_string())))?;
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
        self.chunk.resize(h.uncompressed_len as usize, 0);
        let zerr = |e: io::Error| Some(TailReason::Zstd(e.to_string()));
        if self.dctx.is_none() {
            self.dctx = Some(zstd::bulk::Decompressor::new().map_err(zerr)?);
        }
        let got = match self.dctx.as_mut() {
            Some(d) => d
                .decompress_to_buffer(data, &mut self.chunk)
                .map_err(zerr)?,
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
        let mut rest = self.chunk.as_slice();
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
        self.at = 0;
        self.left = count;
        self.pos += (CHUNK_HEADER_LEN + data.len()) as u64;
        Ok(())
    }
}

impl Iterator for RecordingReader {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        self.next_record()
    }
}

/// A recording as a [`FrameSource`], so replay feeds it through the same engine as any
/// capture: WebSocket frames and successful REST responses become frames; with the feed journal
/// (see the module docs) only what the live engine was fed, in its order, plus
/// [`FrameKind::Reset`]s. Files of one session (rotation) are read one after the other. A bad
/// tail is reported once as an error, after which the next file (if any) is read.
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
    primaries: std::collections::HashSet<u64>,
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
        let mut s = Self::new(RecordingReader::open(first)?);
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
                e if e == journal::PRIMARY.as_bytes() => {
                    if let Some(Ok(new)) = ids.next() {
                        if let Some(Ok(old)) = ids.next() {
                            j.primaries.remove(&old);
                            j.held.remove(&old);
                        }
                        j.primaries.insert(new);
                        for (recv, body, line) in j.held.remove(&new).unwrap_or_default() {
                            j.ready.push_back(Ready::Frame { recv, body, line });
                        }
                    }
                }
                e if e == journal::DROP.as_bytes() => {
                    if let Some(Ok(c)) = ids.next() {
                        j.primaries.remove(&c);
                        j.held.remove(&c);
                        j.dead.insert(c);
                    }
                }
                e if e == journal::RESET.as_bytes() => {
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
            let line = self.reader.served + 1;
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
                    line: self.reader.served,
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
            self.reader = RecordingReader::open(&next).map_err(|e| ReadError::Recording {
                path: next.display().to_string(),
                msg: e.to_string(),
            })?;
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
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};

    static NEXT: AtomicU64 = AtomicU64::new(0);

    /// A unique temporary path, removed when dropped.
    struct TempPath(PathBuf);

    impl TempPath {
        fn new(name: &str) -> Self {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            TempPath(std::env::temp_dir().join(format!(
                "msrec-test-{}-{n}-{name}.msrec",
                std::process::id()
            )))
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn header() -> Header {
        Header::new(
            "spot",
            vec!["BTCUSDT".into()],
            vec!["wss://stream.binance.com:9443/stream".into()],
            serde_json::json!({"source": "test", "synced": true}),
            1_723_161_253_000_000_000,
        )
    }

    fn write_file(path: &Path, records: &[Record], opts: WriterOptions) -> u64 {
        let f = File::create(path).unwrap();
        let mut w = RecordingWriter::new(f, &header(), opts).unwrap();
        for r in records {
            w.push(r).unwrap();
        }
        w.flush().unwrap();
        let chunks = w.chunks_written();
        w.finish().unwrap();
        chunks
    }

    fn read_all(path: &Path) -> (Vec<Record>, ReadOutcome) {
        let mut r = RecordingReader::open(path).unwrap();
        let recs: Vec<Record> = r.by_ref().collect();
        (recs, r.outcome().cloned().unwrap())
    }

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
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [0, 1, 127, 128, 16_383, 16_384, u64::MAX - 1, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut s = b.as_slice();
            assert_eq!(take_varint(&mut s), Ok(v));
            assert!(s.is_empty());
        }
        for v in [0, 1, -1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        let mut over: &[u8] = &[0xff; 11];
        assert!(take_varint(&mut over).is_err());
        let mut short: &[u8] = &[0x80];
        assert!(take_varint(&mut short).is_err());
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

    fn ws(i: u64) -> Record {
        Record::WsFrame {
            conn: i % 3,
            recv_wall_ns: 1_000_000 + i * 1_000,
            recv_mono_ns: i,
            text: format!("{{\"stream\":\"x\",\"i\":{i}}}").into_bytes(),
        }
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
    fn size_threshold_cuts_chunks() {
        let p = TempPath::new("size");
        let recs: Vec<Record> = (0..300).map(ws).collect();
        let opts = WriterOptions {
            flush_interval_ns: u64::MAX,
            max_chunk_bytes: 1000,
            ..WriterOptions::default()
        };
        let chunks = write_file(&p.0, &recs, opts);
        assert!(chunks > 5, "{chunks}");
        assert_eq!(read_all(&p.0).0, recs);
    }

    /// Three chunks of 20 records, each cut by an explicit flush. Returns the file bytes, the
    /// records and the chunk offsets.
    fn three_chunks(p: &Path) -> (Vec<u8>, Vec<Record>, Vec<u64>) {
        let recs: Vec<Record> = (0..60).map(ws).collect();
        let f = File::create(p).unwrap();
        let opts = WriterOptions {
            flush_interval_ns: u64::MAX,
            ..WriterOptions::default()
        };
        let mut w = RecordingWriter::new(f, &header(), opts).unwrap();
        for c in recs.chunks(20) {
            for r in c {
                w.push(r).unwrap();
            }
            assert_eq!(w.pending_records(), 20);
            w.flush().unwrap();
        }
        w.finish().unwrap();
        let offsets = index(p).unwrap().chunks.iter().map(|c| c.offset).collect();
        (std::fs::read(p).unwrap(), recs, offsets)
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

    #[test]
    fn corrupt_middle_chunk_is_a_crc_mismatch_and_earlier_chunks_stay() {
        let p = TempPath::new("flip");
        let (mut bytes, recs, offsets) = three_chunks(&p.0);
        let mid = offsets[1] as usize + CHUNK_HEADER_LEN + 5;
        bytes[mid] ^= 0x01;
        std::fs::write(&p.0, &bytes).unwrap();
        let (got, outcome) = read_all(&p.0);
        assert_eq!(got, recs[..20]);
        assert!(
            matches!(
                outcome,
                ReadOutcome::TruncatedTail {
                    at_byte,
                    reason: TailReason::CrcMismatch { .. }
                } if at_byte == offsets[1]
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
