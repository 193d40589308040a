//! The bytes of a recording below the compression: records (tag + LEB128 varints, zigzag for
//! signed numbers, length-prefixed bytes), the CRC-32 of a chunk, and the 36-byte chunk header.
//!
//! Owns: [`Record`] and its in-place view [`RecordRef`], their encoding and decoding, [`crc32`],
//! [`ChunkHeader`]'s layout. Must not touch: files, zstd, how chunks are cut or read (the
//! writer and reader do that), what a record means to replay (the journal adapter).

use serde::{Deserialize, Serialize};

use super::{CHUNK_HEADER_LEN, CHUNK_MAGIC, MAX_CHUNK_BYTES, TailReason};

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

/// A varint: eight bytes read at once when the chunk has them and the varint ends within nine
/// (every varint of a recording but the rare 10-byte ones: a time in ns since the epoch takes
/// nine); else, and for every error, byte by byte ([`take_varint_bytewise`], the reference).
#[inline]
fn take_varint(buf: &mut &[u8]) -> Result<u64, DecodeError> {
    if let Some(head) = buf.first_chunk::<8>() {
        let x = u64::from_le_bytes(*head);
        // A set bit marks a byte without the continuation bit: the varint's last.
        let stops = !x & 0x8080_8080_8080_8080;
        if stops != 0 {
            let len = (stops.trailing_zeros() / 8 + 1) as usize;
            let keep = if len == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * len)) - 1
            };
            *buf = &buf[len..];
            return Ok(join7(x & keep & 0x7f7f_7f7f_7f7f_7f7f));
        }
        if let Some(&last) = buf.get(8)
            && last < 0x80
        {
            *buf = &buf[9..];
            return Ok(join7(x & 0x7f7f_7f7f_7f7f_7f7f) | (u64::from(last) << 56));
        }
    }
    take_varint_bytewise(buf)
}

/// Packs the 7-bit groups of eight little-endian bytes (top bits clear) into 56 bits.
#[inline]
fn join7(x: u64) -> u64 {
    let x = ((x & 0x7f00_7f00_7f00_7f00) >> 1) | (x & 0x007f_007f_007f_007f);
    let x = ((x & 0x3fff_0000_3fff_0000) >> 2) | (x & 0x0000_3fff_0000_3fff);
    ((x & 0x0fff_ffff_0000_0000) >> 4) | (x & 0x0000_0000_0fff_ffff)
}

fn take_varint_bytewise(buf: &mut &[u8]) -> Result<u64, DecodeError> {
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
#[cfg(test)]
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

/// CRC-32 of `data` (the zlib/gzip/PNG checksum): crc32fast, which folds 16 bytes at a time
/// with carry-less multiplication where the CPU has it (what every chunk read pays).
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// The reference [`crc32`]: one table look-up per byte.
#[cfg(test)]
fn crc32_bytewise(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// A chunk header as stored on disk (layout in the module docs of [`super`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ChunkHeader {
    pub(super) compressed_len: u32,
    pub(super) uncompressed_len: u32,
    pub(super) crc: u32,
    pub(super) first_wall_ns: u64,
    pub(super) last_wall_ns: u64,
    pub(super) records: u32,
}

impl ChunkHeader {
    pub(super) fn to_bytes(self) -> [u8; CHUNK_HEADER_LEN] {
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
    pub(super) fn parse(b: &[u8; CHUNK_HEADER_LEN]) -> Result<Self, TailReason> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        // Every length around the folding widths, unaligned starts: as the byte-wise table.
        let data: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for start in 0..9 {
            for len in (0..300).chain([1000, 4000]) {
                let d = &data[start..start + len];
                assert_eq!(crc32(d), crc32_bytewise(d), "start {start}, len {len}");
            }
        }
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
        // The eight-byte path agrees with the byte-by-byte one on every input: values, what
        // is left, errors (all sizes of varint, cut short, overlong, with bytes after).
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for bits in 0..64 {
            for v in [(1u64 << bits) - 1, 1u64 << bits, (1u64 << bits) + 1] {
                let mut b = Vec::new();
                put_varint(&mut b, v);
                for extra in [0usize, 1, 5, 12] {
                    let mut e = b.clone();
                    e.extend((0..extra).map(|k| k as u8 ^ 0x80));
                    inputs.push(e.clone());
                    e.truncate(b.len().saturating_sub(1));
                    inputs.push(e);
                }
            }
        }
        for _ in 0..20_000 {
            let n = (next() % 14) as usize;
            let stop = next() % 12;
            let b: Vec<u8> = (0..n as u64)
                .map(|k| (next() as u8 & 0x7f) | if k < stop { 0x80 } else { 0 })
                .collect();
            inputs.push(b);
        }
        inputs.push(vec![0xff; 12]);
        inputs.push([vec![0xff; 9], vec![0x01]].concat());
        inputs.push([vec![0xff; 9], vec![0x02]].concat());
        for b in &inputs {
            let (mut fast, mut slow) = (b.as_slice(), b.as_slice());
            assert_eq!(
                take_varint(&mut fast),
                take_varint_bytewise(&mut slow),
                "{b:02x?}"
            );
            assert_eq!(fast.len(), slow.len(), "{b:02x?}");
        }
        let mut over: &[u8] = &[0xff; 11];
        assert!(take_varint(&mut over).is_err());
        let mut short: &[u8] = &[0x80];
        assert!(take_varint(&mut short).is_err());
    }
}
