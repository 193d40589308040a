//! The recording writer thread: records in through a bounded queue, chunks out to files.
//!
//! Owns: the output files (rotated by size and by recorded time) and their
//! [`format::RecordingWriter`]s. Must not touch: the ingest path's timing — the live loop only
//! ever `try_send`s into the queue, so a slow or full disk never slows the feed; what cannot be
//! queued is counted as dropped. A write failure (disk full, permission) is counted and shown in
//! [`RecorderStats`]; the file keeps every chunk already written (chunks are independent), and
//! the writer tries again on a new part a little later rather than giving up on the session.
//!
//! [`format::RecordingWriter`]: super::format::RecordingWriter

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::format::{Header, Record, RecordingWriter, WriterOptions, journal};

/// Counters the live loop and the user can read.
#[derive(Debug, Default)]
pub struct RecorderStats {
    pub queued: AtomicU64,
    /// Records that found the queue full (the disk is behind) and were not recorded.
    pub dropped: AtomicU64,
    pub written: AtomicU64,
    pub chunks: AtomicU64,
    /// Payload bytes taken in (frame texts, bodies), before compression.
    pub bytes: AtomicU64,
    /// Bytes on disk over all parts (compressed).
    pub file_bytes: AtomicU64,
    /// Write failures (each ends a part; the next part is tried later).
    pub failures: AtomicU64,
    /// Records lost to failures (taken from the queue while no file could be written).
    pub lost: AtomicU64,
    /// The last failure, for a person.
    pub last_error: Mutex<Option<String>>,
    /// Every file of the session, in order (the last is being written).
    pub files: Mutex<Vec<PathBuf>>,
}

impl RecorderStats {
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    pub fn files(&self) -> Vec<PathBuf> {
        self.files.lock().map(|f| f.clone()).unwrap_or_default()
    }
}

/// The sending side, held by the live loop.
#[derive(Clone)]
pub struct Recorder {
    tx: SyncSender<Record>,
    pub stats: Arc<RecorderStats>,
    /// The first file of the session (rotation adds parts: see [`RecorderStats::files`]).
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

/// How a session is written.
#[derive(Clone, Copy, Debug)]
pub struct RecordOptions {
    /// A chunk is written at least this often (a crash loses at most about this much).
    pub flush_every: Duration,
    /// Records the queue holds before new ones are dropped.
    pub queue: usize,
    /// Start a new part once a file holds this many bytes (0: never).
    pub rotate_bytes: u64,
    /// Start a new part once a file spans this much recorded time (zero: never).
    pub rotate_every: Duration,
}

impl From<&microstate_config::RecordConfig> for RecordOptions {
    /// The writer's settings from the `[record]` section.
    fn from(c: &microstate_config::RecordConfig) -> Self {
        RecordOptions {
            flush_every: c.flush_interval,
            queue: c.queue,
            rotate_bytes: c.rotate_size,
            rotate_every: c.rotate_every,
        }
    }
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            flush_every: Duration::from_secs(1),
            queue: 100_000,
            rotate_bytes: 0,
            rotate_every: Duration::ZERO,
        }
    }
}

/// After a failure, the next part is tried once records this much later arrive.
const RETRY_AFTER_NS: u64 = 5_000_000_000;

/// Starts the writer thread on a new file at `path`; rotated parts go beside it, named from
/// the header's market and symbols and their own start time. Dropping every [`Recorder`] clone
/// ends the thread; join the handle to learn how it ended (`Err`: the last part failed).
pub fn start(
    path: &Path,
    header: &Header,
    opts: RecordOptions,
) -> std::io::Result<(Recorder, JoinHandle<std::io::Result<()>>)> {
    let first = open_file(path, header, &opts)?;
    let (tx, rx) = sync_channel(opts.queue.max(1));
    let stats = Arc::new(RecorderStats::default());
    if let Ok(mut f) = stats.files.lock() {
        f.push(path.to_path_buf());
    }
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut template = header.clone();
    if template.session.is_empty() {
        template.session = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    let s = stats.clone();
    let first_part = header.part;
    let open_part = move |part: u32, wall_ns: u64| -> std::io::Result<(PathBuf, FileWriter)> {
        let mut h = template.clone();
        h.part = part;
        h.created_wall_ns = wall_ns;
        let p = dir.join(part_name(&h.market, &h.symbols, wall_ns, part));
        let w = open_file(&p, &h, &opts)?;
        Ok((p, w))
    };
    let handle = std::thread::Builder::new()
        .name("recorder".into())
        .spawn(move || run(first, first_part, open_part, rx, s, opts))?;
    Ok((
        Recorder {
            tx,
            stats,
            path: path.to_path_buf(),
        },
        handle,
    ))
}

type FileWriter = RecordingWriter<std::io::BufWriter<std::fs::File>>;

fn open_file(path: &Path, header: &Header, opts: &RecordOptions) -> std::io::Result<FileWriter> {
    let mut h = header.clone();
    if h.session.is_empty() {
        h.session = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::File::create(path)?;
    let wopts = WriterOptions {
        flush_interval_ns: opts.flush_every.as_nanos() as u64,
        ..WriterOptions::default()
    };
    RecordingWriter::new(std::io::BufWriter::new(file), &h, wopts)
}

/// The thread: writes parts, rotates, survives failures. Generic over the file opener so tests
/// can fail it on purpose.
fn run<W: Write>(
    first: RecordingWriter<W>,
    first_part: u32,
    mut open_part: impl FnMut(u32, u64) -> std::io::Result<(PathBuf, RecordingWriter<W>)>,
    rx: Receiver<Record>,
    stats: Arc<RecorderStats>,
    opts: RecordOptions,
) -> std::io::Result<()> {
    let mut w = Some(first);
    let mut part = first_part;
    // Recorded time of the current part's first record; on failure, of the failure.
    let mut part_start: Option<u64> = None;
    let mut failed_at: Option<u64> = None;
    let mut last_result: std::io::Result<()> = Ok(());
    let mut done_bytes = 0u64;
    // Connections feeding the engine (from the journal), re-stated at the top of each new part
    // so a part can be replayed on its own.
    let mut primaries: Vec<u64> = Vec::new();
    let rotate_ns = opts.rotate_every.as_nanos() as u64;
    let fail = |e: &std::io::Error, stats: &RecorderStats| {
        stats.failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!("recording: {e}");
        if let Ok(mut last) = stats.last_error.lock() {
            *last = Some(e.to_string());
        }
    };
    let publish = |w: &Option<RecordingWriter<W>>, done: u64| {
        if let Some(w) = w {
            stats.chunks.store(w.chunks_written(), Ordering::Relaxed);
            stats
                .file_bytes
                .store(done + w.bytes_written(), Ordering::Relaxed);
        }
    };
    loop {
        // Also flush on a quiet feed, so `kill -9` loses at most about `flush_every`.
        let r = match rx.recv_timeout(opts.flush_every) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => {
                if let Some(cur) = w.as_mut()
                    && let Err(e) = cur.flush()
                {
                    fail(&e, &stats);
                    failed_at = part_start;
                    last_result = Err(e);
                    w = None;
                }
                publish(&w, done_bytes);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let wall = r.wall_ns();
        track_primaries(&mut primaries, &r);
        let due = w.as_ref().is_some_and(|cur| {
            (opts.rotate_bytes > 0 && cur.bytes_written() >= opts.rotate_bytes)
                || (rotate_ns > 0
                    && part_start.is_some_and(|t| wall.saturating_sub(t) >= rotate_ns))
        });
        let retry =
            w.is_none() && failed_at.is_none_or(|t| wall.saturating_sub(t) >= RETRY_AFTER_NS);
        if due || retry {
            if let Some(cur) = w.take() {
                done_bytes += cur.bytes_written();
                if let Err(e) = cur.finish() {
                    fail(&e, &stats);
                }
            }
            part += 1;
            match open_part(part, wall) {
                Ok((path, mut next)) => {
                    if let Ok(mut f) = stats.files.lock() {
                        f.push(path);
                    }
                    let restate = primaries.iter().map(|c| Record::Lifecycle {
                        wall_ns: wall,
                        event: journal::PRIMARY.to_string(),
                        detail: c.to_string(),
                    });
                    let mut ok = Ok(());
                    for rec in restate {
                        ok = ok.and_then(|()| next.push(&rec));
                    }
                    match ok {
                        Ok(()) => {
                            w = Some(next);
                            part_start = Some(wall);
                            last_result = Ok(());
                        }
                        Err(e) => {
                            fail(&e, &stats);
                            failed_at = Some(wall);
                            last_result = Err(e);
                        }
                    }
                }
                Err(e) => {
                    fail(&e, &stats);
                    failed_at = Some(wall);
                    last_result = Err(e);
                }
            }
        }
        let Some(cur) = w.as_mut() else {
            stats.lost.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        part_start.get_or_insert(wall);
        stats
            .bytes
            .fetch_add(payload_len(&r) as u64, Ordering::Relaxed);
        let buffered = u64::from(cur.pending_records());
        match cur.push(&r) {
            Ok(()) => {
                stats.written.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                // One record too large for the format: refuse it, keep the part.
                stats.lost.fetch_add(1, Ordering::Relaxed);
                fail(&e, &stats);
            }
            Err(e) => {
                // The records of the chunk that failed (counted as written when taken), and
                // this one.
                stats.lost.fetch_add(buffered + 1, Ordering::Relaxed);
                stats.written.fetch_sub(buffered, Ordering::Relaxed);
                fail(&e, &stats);
                failed_at = Some(wall);
                last_result = Err(e);
                w = None;
            }
        }
        publish(&w, done_bytes);
    }
    if let Some(mut cur) = w {
        let flushed = cur.flush();
        publish(&Some(cur), done_bytes);
        if let Err(e) = flushed {
            fail(&e, &stats);
            return Err(e);
        }
    }
    last_result
}

/// Follows the journal's primary connections (see [`super::format`]).
fn track_primaries(primaries: &mut Vec<u64>, r: &Record) {
    let Record::Lifecycle { event, detail, .. } = r else {
        return;
    };
    let mut ids = detail
        .split_whitespace()
        .filter_map(|x| x.parse::<u64>().ok());
    match event.as_str() {
        journal::PRIMARY => {
            if let Some(new) = ids.next() {
                if let Some(old) = ids.next() {
                    primaries.retain(|&c| c != old);
                }
                if !primaries.contains(&new) {
                    primaries.push(new);
                }
            }
        }
        journal::DROP => {
            if let Some(c) = ids.next() {
                primaries.retain(|&x| x != c);
            }
        }
        _ => {}
    }
}

/// Bytes of payload a record carries (for the size shown to the user).
fn payload_len(r: &Record) -> usize {
    match r {
        Record::WsFrame { text, .. } | Record::ShedFrame { text, .. } => text.len(),
        Record::RestResponse { body, .. } => body.len(),
        Record::RestRequest { url, .. } => url.len(),
        Record::Lifecycle { event, detail, .. } => event.len() + detail.len(),
        Record::ClockOffset { .. } => 24,
    }
}

/// `spot_BTCUSDT-ETHUSDT_20260101T000000Z.msrec`: market, symbols and UTC start in the name.
pub fn file_name(market: &str, symbols: &[String], start_wall_ns: u64) -> String {
    part_name(market, symbols, start_wall_ns, 0)
}

/// Name of part `part` of a session: part 0 is [`file_name`]; later parts carry their own
/// start time and `-pN` (so parts started within one second do not collide).
pub fn part_name(market: &str, symbols: &[String], start_wall_ns: u64, part: u32) -> String {
    let stem = stem(market, symbols, start_wall_ns);
    if part == 0 {
        format!("{stem}.msrec")
    } else {
        format!("{stem}-p{part}.msrec")
    }
}

fn stem(market: &str, symbols: &[String], start_wall_ns: u64) -> String {
    let secs = (start_wall_ns / 1_000_000_000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = microstate_core::calendar::civil_from_days(days);
    format!(
        "{market}_{}_{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        symbols.join("-"),
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
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
    }

    use crate::record::format::{ReadOutcome, RecordingReader};
    use crate::record::open_captures;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("msrec-writer-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn header() -> Header {
        Header {
            journal: true,
            ..Header::new(
                "spot",
                vec!["BTCUSDT".into()],
                vec![],
                serde_json::Value::Null,
                0,
            )
        }
    }

    const T0: u64 = 1_723_161_253_000_000_000;

    fn frame(i: u64) -> Record {
        Record::WsFrame {
            conn: 1,
            recv_wall_ns: T0 + i * 10_000_000,
            recv_mono_ns: i,
            text: format!(
                "{{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"n\":{i},\"pad\":\"{}\"}}",
                "x".repeat(i as usize % 97)
            )
            .into_bytes(),
        }
    }

    fn primary(conn: u64) -> Record {
        Record::Lifecycle {
            wall_ns: T0,
            event: journal::PRIMARY.into(),
            detail: conn.to_string(),
        }
    }

    /// Frames a folder's recordings replay to, in order, with the parts they came from.
    fn replayed(dir: &Path) -> Vec<(u64, String)> {
        let mut sources = open_captures(&[dir.to_path_buf()]).unwrap();
        assert_eq!(sources.len(), 1, "the parts of a session are one source");
        let src = &mut sources[0];
        let mut out = Vec::new();
        while src.advance().unwrap() {
            let f = src.current();
            out.push((f.recv.0, src.files()[f.file].clone()));
        }
        out
    }

    fn record_all(dir: &Path, opts: RecordOptions, n: u64) -> Arc<RecorderStats> {
        let path = dir.join(file_name("spot", &["BTCUSDT".into()], T0));
        let (rec, h) = start(&path, &header(), opts).unwrap();
        rec.offer(primary(1));
        for i in 0..n {
            rec.offer(frame(i));
        }
        let stats = rec.stats.clone();
        drop(rec);
        h.join().unwrap().unwrap();
        stats
    }

    #[test]
    fn rotates_by_size_and_the_parts_replay_as_one_session() {
        let dir = temp_dir("size");
        let opts = RecordOptions {
            flush_every: Duration::from_millis(50),
            queue: 10_000,
            rotate_bytes: 2_000,
            rotate_every: Duration::ZERO,
        };
        let stats = record_all(&dir, opts, 600);
        let files = stats.files();
        assert!(files.len() >= 3, "{files:?}");
        // Written counts what was offered; the re-stated primaries come on top.
        assert_eq!(stats.written.load(Ordering::Relaxed), 601);
        for (k, f) in files.iter().enumerate() {
            let r = RecordingReader::open(f).unwrap();
            assert_eq!(r.header().part as usize, k);
            assert_eq!(r.header().session, "spot_BTCUSDT_20240808T235413Z");
            // Every part but the last was cut soon after reaching the size.
            let len = std::fs::metadata(f).unwrap().len();
            if k + 1 < files.len() {
                assert!((2_000..6_000).contains(&len), "part {k}: {len} bytes");
            }
        }
        let got = replayed(&dir);
        let times: Vec<u64> = got.iter().map(|(t, _)| *t).collect();
        let want: Vec<u64> = (0..600).map(|i| T0 + i * 10_000_000).collect();
        assert_eq!(times, want, "every frame once, in order, across parts");
        assert!(got.iter().any(|(_, f)| f.ends_with("-p1.msrec")));
        // A later part replays on its own too: it re-states which connection feeds.
        let alone = open_captures(&[files[1].clone()]).unwrap();
        let mut src = alone.into_iter().next().unwrap();
        assert!(
            src.advance().unwrap(),
            "part 1 alone still feeds its frames"
        );
    }

    #[test]
    fn rotates_by_recorded_time() {
        let dir = temp_dir("time");
        let opts = RecordOptions {
            flush_every: Duration::from_millis(100),
            queue: 10_000,
            rotate_bytes: 0,
            rotate_every: Duration::from_secs(1),
        };
        // 500 frames 10 ms apart: 5 s of recorded time, so 5 parts of 1 s.
        let stats = record_all(&dir, opts, 500);
        assert_eq!(stats.files().len(), 5, "{:?}", stats.files());
        assert_eq!(replayed(&dir).len(), 500);
    }

    /// A sink that fails with "no space left" once it has taken `room` bytes.
    struct Flaky {
        data: Arc<Mutex<Vec<u8>>>,
        room: usize,
    }

    impl Write for Flaky {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let mut d = self.data.lock().unwrap();
            if d.len() + b.len() > self.room {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "No space left on device",
                ));
            }
            d.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_is_counted_and_shown_keeps_what_was_written_and_recovers() {
        let wopts = WriterOptions {
            flush_interval_ns: 50_000_000,
            ..WriterOptions::default()
        };
        type Sink = Arc<Mutex<Vec<u8>>>;
        let sinks: Arc<Mutex<Vec<Sink>>> = Arc::default();
        let make = |room: usize| {
            let data: Arc<Mutex<Vec<u8>>> = Arc::default();
            sinks.lock().unwrap().push(data.clone());
            RecordingWriter::new(Flaky { data, room }, &header(), wopts).unwrap()
        };
        // The first "disk" fills after 3 kB; the next part has room.
        let first = make(3_000);
        let opener_sinks = sinks.clone();
        let open_part = move |part: u32, _wall: u64| {
            let data: Arc<Mutex<Vec<u8>>> = Arc::default();
            opener_sinks.lock().unwrap().push(data.clone());
            let w = RecordingWriter::new(
                Flaky {
                    data,
                    room: usize::MAX,
                },
                &header(),
                wopts,
            )?;
            Ok((PathBuf::from(format!("part{part}")), w))
        };
        let (tx, rx) = sync_channel(100_000);
        let stats = Arc::new(RecorderStats::default());
        tx.send(primary(1)).unwrap();
        for i in 0..1_000 {
            tx.send(frame(i)).unwrap();
        }
        drop(tx);
        let opts = RecordOptions {
            flush_every: Duration::from_millis(50),
            ..RecordOptions::default()
        };
        let end = run(first, 0, open_part, rx, stats.clone(), opts);
        assert!(end.is_ok(), "the session recovered on a new part: {end:?}");
        assert_eq!(stats.failures.load(Ordering::Relaxed), 1);
        assert!(stats.last_error().unwrap().contains("No space left"));
        let lost = stats.lost.load(Ordering::Relaxed);
        let written = stats.written.load(Ordering::Relaxed);
        // Frames are 10 ms apart: the retry comes 5 s (500 frames) after the failure.
        assert!((500..700).contains(&lost), "lost {lost}");
        assert_eq!(stats.files().len(), 1, "part1");
        // What reached the full disk before the failure is readable, whole chunks only.
        let dir = temp_dir("full");
        let sinks = sinks.lock().unwrap();
        let p0 = dir.join("p0.msrec");
        std::fs::write(&p0, &*sinks[0].lock().unwrap()).unwrap();
        let mut r0 = RecordingReader::open(&p0).unwrap();
        let n0 = r0.by_ref().count() as u64;
        assert!(n0 > 5, "chunks before the failure survive: {n0}");
        assert!(matches!(
            r0.outcome(),
            Some(ReadOutcome::Complete | ReadOutcome::TruncatedTail { .. })
        ));
        let p1 = dir.join("p1.msrec");
        std::fs::write(&p1, &*sinks[1].lock().unwrap()).unwrap();
        let n1 = RecordingReader::open(&p1).unwrap().count() as u64;
        assert_eq!(
            n0 + n1 + lost,
            1_001 + 1,
            "every record is written, restated or counted lost"
        );
        assert_eq!(
            written,
            n0 + n1 - 1,
            "written = on disk, less the re-stated primary"
        );
    }
}
