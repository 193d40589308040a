//! Helpers for the format's unit tests: unique temporary files, a header, whole files written
//! and read back, sample records.
//!
//! Owns: nothing the program uses (compiled for tests only). Must not touch: the format's code
//! paths (tests call the real writer and reader through these).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Header, ReadOutcome, Record, RecordingReader, RecordingWriter, WriterOptions, index};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A unique temporary path, removed when dropped.
pub(super) struct TempPath(pub(super) PathBuf);

impl TempPath {
    pub(super) fn new(name: &str) -> Self {
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

pub(super) fn header() -> Header {
    Header::new(
        "spot",
        vec!["BTCUSDT".into()],
        vec!["wss://stream.binance.com:9443/stream".into()],
        serde_json::json!({"source": "test", "synced": true}),
        1_723_161_253_000_000_000,
    )
}

pub(super) fn write_file(path: &Path, records: &[Record], opts: WriterOptions) -> u64 {
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

/// Every record and the outcome; read both on this thread and reading ahead on another, which
/// must agree on everything (records, outcome, corrupt stretches reported and where).
pub(super) fn read_all(path: &Path) -> (Vec<Record>, ReadOutcome) {
    let read = |ahead: bool| {
        let mut r = RecordingReader::open(path).unwrap();
        if ahead {
            r.read_ahead();
        }
        let mut recs = Vec::new();
        let mut skipped = Vec::new();
        while let Some(rec) = r.next_record() {
            skipped.extend(std::iter::from_fn(|| r.take_skipped()).map(|s| (recs.len(), s)));
            recs.push(rec);
        }
        skipped.extend(std::iter::from_fn(|| r.take_skipped()).map(|s| (recs.len(), s)));
        (recs, r.outcome().cloned().unwrap(), skipped)
    };
    let here = read(false);
    assert_eq!(read(true), here, "reading ahead reads the same");
    (here.0, here.1)
}

pub(super) fn ws(i: u64) -> Record {
    Record::WsFrame {
        conn: i % 3,
        recv_wall_ns: 1_000_000 + i * 1_000,
        recv_mono_ns: i,
        text: format!("{{\"stream\":\"x\",\"i\":{i}}}").into_bytes(),
    }
}

/// Three chunks of 20 records, each cut by an explicit flush. Returns the file bytes, the
/// records and the chunk offsets.
pub(super) fn three_chunks(p: &Path) -> (Vec<u8>, Vec<Record>, Vec<u64>) {
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
