//! The recording writer thread: records in through a bounded queue, chunks out to a file.
//!
//! Owns: the output file and its [`format::RecordingWriter`]. Must not touch: the ingest path's
//! timing — the live loop only ever `try_send`s into the queue, so a slow or full disk never
//! slows the feed; what cannot be queued is counted as dropped, and a write failure is kept and
//! reported (everything already flushed stays readable: chunks are independent).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use super::format::{Header, Record, RecordingWriter, WriterOptions};

/// Counters the live loop and the user can read.
#[derive(Debug, Default)]
pub struct RecorderStats {
    pub queued: AtomicU64,
    /// Records that found the queue full (the disk is behind) and were not recorded.
    pub dropped: AtomicU64,
    pub written: AtomicU64,
    pub chunks: AtomicU64,
    pub bytes: AtomicU64,
}

/// The sending side, held by the live loop.
#[derive(Clone)]
pub struct Recorder {
    tx: SyncSender<Record>,
    pub stats: Arc<RecorderStats>,
    pub path: PathBuf,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recorder({})", self.path.display())
    }
}

impl Recorder {
    /// Queues a record without ever waiting.
    pub fn offer(&self, r: Record) {
        match self.tx.try_send(r) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Starts the writer thread on a new file. Dropping every [`Recorder`] clone ends it; join the
/// handle to learn whether writing failed.
pub fn start(
    path: &Path,
    header: &Header,
    flush_every: Duration,
    queue: usize,
) -> std::io::Result<(Recorder, JoinHandle<std::io::Result<()>>)> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::File::create(path)?;
    let opts = WriterOptions {
        flush_interval_ns: flush_every.as_nanos() as u64,
        ..WriterOptions::default()
    };
    let writer = RecordingWriter::new(std::io::BufWriter::new(file), header, opts)?;
    let (tx, rx) = sync_channel(queue.max(1));
    let stats = Arc::new(RecorderStats::default());
    let s = stats.clone();
    let handle = std::thread::Builder::new()
        .name("recorder".into())
        .spawn(move || run(writer, rx, s, flush_every))?;
    Ok((
        Recorder {
            tx,
            stats,
            path: path.to_path_buf(),
        },
        handle,
    ))
}

fn run(
    mut w: RecordingWriter<std::io::BufWriter<std::fs::File>>,
    rx: Receiver<Record>,
    stats: Arc<RecorderStats>,
    flush_every: Duration,
) -> std::io::Result<()> {
    let count_chunks = |w: &RecordingWriter<_>| {
        stats.chunks.store(w.chunks_written(), Ordering::Relaxed);
    };
    loop {
        // Also flush on a quiet feed, so `kill -9` loses at most about `flush_every`.
        match rx.recv_timeout(flush_every) {
            Ok(r) => {
                stats
                    .bytes
                    .fetch_add(payload_len(&r) as u64, Ordering::Relaxed);
                w.push(&r)?;
                stats.written.fetch_add(1, Ordering::Relaxed);
            }
            Err(RecvTimeoutError::Timeout) => w.flush()?,
            Err(RecvTimeoutError::Disconnected) => break,
        }
        count_chunks(&w);
    }
    w.flush()?;
    count_chunks(&w);
    w.finish()?;
    Ok(())
}

/// Bytes of payload a record carries (for the size shown to the user).
fn payload_len(r: &Record) -> usize {
    match r {
        Record::WsFrame { text, .. } => text.len(),
        Record::RestResponse { body, .. } => body.len(),
        Record::RestRequest { url, .. } => url.len(),
        Record::Lifecycle { event, detail, .. } => event.len() + detail.len(),
        Record::ClockOffset { .. } => 24,
    }
}

/// `spot_BTCUSDT-ETHUSDT_20260101T000000Z.msrec`: market, symbols and UTC start in the name.
pub fn file_name(market: &str, symbols: &[String], start_wall_ns: u64) -> String {
    let secs = (start_wall_ns / 1_000_000_000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{market}_{}_{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z.msrec",
        symbols.join("-"),
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_market_symbols_and_utc_start() {
        let syms = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()];
        assert_eq!(
            file_name("spot", &syms, 1_723_161_253_937_085_768),
            "spot_BTCUSDT-ETHUSDT_20240808T235413Z.msrec"
        );
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
