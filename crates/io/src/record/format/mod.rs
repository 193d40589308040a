//! Our own recording format (`.msrec`): what came off the wire, byte for byte, with receive
//! times and connection lifecycle, in independently decodable zstd chunks.
//!
//! Owns: the on-disk layout, its writer ([`RecordingWriter`]), its reader ([`RecordingReader`]),
//! the chunk index ([`index`]) and the replay adapter ([`RecordingSource`], a
//! [`FrameSource`](crate::record::FrameSource)).
//! Must not touch: clocks (every time is passed in by the caller), sockets, what frames mean.
//!
//! # Files
//! ```text
//!  mod.rs      this description, the constants, the file Header, the errors shared below
//!  codec.rs    record ⇄ bytes (varints, zigzag), CRC-32, the 36-byte chunk header
//!  writer.rs   RecordingWriter: records → zstd chunks (not the writer thread: record::writer)
//!  reader.rs   RecordingReader: chunks → records, bad tails, the chunk index, seeking
//!  journal.rs  the feed journal's event names and RecordingSource (a recording as frames)
//! ```
//! Each file uses only `mod.rs` and the files listed above it (tests aside); `mod.rs` only
//! re-exports them. Callers use the re-exports (`record::format::RecordingReader`) and
//! `record::format::journal::{PRIMARY, DROP, RESET}`.
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
//! | `reset` | `SYMBOL` | the symbol's book waits for a new snapshot ([`FrameKind::Reset`](crate::record::FrameKind::Reset)) |
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
//! - A corrupt chunk (bad magic, implausible lengths, CRC mismatch, zstd error, records that do
//!   not match the chunk header) costs that chunk only: the reader resynchronises on the next
//!   `CHNK` that is a whole good chunk and reports the bytes skipped
//!   ([`RecordingReader::take_skipped`]). When no good chunk follows (a truncated or corrupt
//!   tail), reading ends with [`ReadOutcome::TruncatedTail`] after every whole chunk before it
//!   has been yielded. It is a warning, not an error: nothing read before it is lost. The CRC covers the compressed bytes;
//!   the chunk header's own fields are cross-checked against the decoded records instead.
//! - A file whose magic or header line is missing or broken is refused by
//!   [`RecordingReader::open`] ([`FormatError`]): it holds no chunk to keep.

use std::io;

use serde::{Deserialize, Serialize};

mod codec;
pub mod journal;
mod reader;
#[cfg(test)]
mod testing;
mod writer;

pub use codec::{DecodeError, Record, RecordRef, crc32};
pub use journal::RecordingSource;
pub use reader::{ChunkInfo, Index, ReadOutcome, RecordingReader, Skipped, index};
pub use writer::{RecordingWriter, WriterOptions};

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
