//! The chunk writer: records buffered, cut into chunks by record time or size, each compressed
//! with zstd, framed by its header and flushed.
//!
//! Owns: [`RecordingWriter`] and [`WriterOptions`]: when a chunk is cut, what a record too large
//! for any chunk does, the byte and chunk counts. Must not touch: clocks (chunks are cut by the
//! records' own times), threads and queues (`record::writer` runs this writer on its own thread),
//! record encoding (codec), reading.

use std::io::{self, Write};

use super::codec::{ChunkHeader, Record, crc32};
use super::{CHUNK_HEADER_LEN, FILE_MAGIC, Header, MAX_CHUNK_BYTES};

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

#[cfg(test)]
mod tests {
    use super::super::testing::{TempPath, read_all, write_file, ws};
    use super::*;

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
}
