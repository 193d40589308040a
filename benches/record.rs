//! Recording and replay: replay throughput at full speed from our format and from the
//! hftbacktest format (files, decompression included), the cost of recording one frame on the
//! ingest path, the writer's own throughput, pacing error at 1× and 100×, and bytes per hour of
//! BTCUSDT (depth@100ms + trade + bookTicker) in our format.
//!
//! Run: `cargo bench --bench record`. Pacing and size figures are printed before criterion's.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

mod common;

use common::spot_files;
use criterion::{Criterion, Throughput};
use microstate_core::latency::Percentiles;
use microstate_core::num::Nanos;
use microstate_drive::replay::{
    Player, PlayerOptions, ReplayCommand, ReplayOptions, play, play_out, replay_paths,
};
use microstate_io::record::format::journal::live_record_of;
use microstate_io::record::format::{Header, Record, RecordingWriter, WriterOptions};
use microstate_io::record::{Merge, Merged, Speed, open_captures};

fn tmp() -> PathBuf {
    let d = std::env::temp_dir().join(format!("msrec-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Every frame of the spot capture as the record live ingest would write for it.
fn records() -> &'static [Record] {
    static R: OnceLock<Vec<Record>> = OnceLock::new();
    R.get_or_init(|| {
        let mut merge = Merge::new(open_captures(&spot_files()).expect("open"));
        let mut out = vec![Record::Lifecycle {
            wall_ns: 0,
            event: "primary".into(),
            detail: "1".into(),
        }];
        let mut id = 0;
        while let Some(m) = merge.next_frame() {
            let Merged::Frame { frame, .. } = m else {
                panic!("the capture reads cleanly")
            };
            out.push(live_record_of(frame, "BTCUSDT", &mut id));
        }
        let t1 = out[1].wall_ns();
        if let Record::Lifecycle { wall_ns, .. } = &mut out[0] {
            *wall_ns = t1;
        }
        out
    })
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

/// The spot capture written in our format (default writer settings), once.
fn msrec_file() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let p = tmp().join("spot.msrec");
        let f = std::fs::File::create(&p).expect("create");
        let mut w = RecordingWriter::new(
            std::io::BufWriter::new(f),
            &header(),
            WriterOptions::default(),
        )
        .expect("writer");
        for r in records() {
            w.push(r).expect("push");
        }
        w.finish().expect("finish");
        p
    })
}

/// The models from `models/`, loaded as the program loads them (as `profile` does).
fn models() -> std::sync::Arc<microstate_core::ml::signals::Models> {
    let mut cfg = microstate_config::Config::default();
    cfg.models.dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .display()
        .to_string();
    let m = microstate_drive::replay::load_models(&cfg);
    assert!(
        m.context.is_ok() && m.pressure.is_ok(),
        "the models in models/ load"
    );
    m
}

fn report_size() {
    let recs = records();
    let span_ns = recs.last().expect("records").wall_ns() - recs[1].wall_ns();
    let bytes = std::fs::metadata(msrec_file()).expect("size").len();
    let raw: usize = recs
        .iter()
        .map(|r| match r {
            Record::WsFrame { text, .. } => text.len(),
            Record::RestResponse { body, .. } => body.len(),
            _ => 0,
        })
        .sum();
    let hours = span_ns as f64 / 3.6e12;
    println!(
        "size: spot BTCUSDT capture ({:.0} s, {} frames, {:.1} MB of frame text) → {:.2} MB in our format = {:.1} MB per hour ({:.1} bytes per frame)",
        span_ns as f64 / 1e9,
        recs.len() - 1,
        raw as f64 / 1e6,
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / hours,
        bytes as f64 / (recs.len() - 1) as f64
    );
}

/// Pacing error: how late frames are fed against their due time, real clock, release build.
fn report_pacing(speed: f64, from_s: u64, span_s: u64) {
    let mut p = Player::open(
        &[msrec_file().to_path_buf()],
        PlayerOptions {
            speed: Speed::Factor(speed),
            ..PlayerOptions::default()
        },
    )
    .expect("open");
    let first = p.first_time().expect("read").expect("frame").0;
    p.set_until(Nanos(first + (from_s + span_s) * 1_000_000_000));
    let epoch = Instant::now();
    p.command(
        ReplayCommand::SeekTo(Nanos(first + from_s * 1_000_000_000)),
        epoch.elapsed().as_nanos() as u64,
    )
    .expect("seek");
    let t = Instant::now();
    play(&mut p, epoch).expect("play");
    let late = Percentiles::of(p.lateness().expect("paced frames"));
    println!(
        "pacing at {speed}x: {} frames over {span_s} s of recording in {:.2} s; late p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        late.count,
        t.elapsed().as_secs_f64(),
        late.p50 as f64 / 1e3,
        late.p90 as f64 / 1e3,
        late.p99 as f64 / 1e3,
        late.max as f64 / 1e3,
    );
}

fn bench_replay(c: &mut Criterion) {
    let frames = records().len() as u64 - 1;
    let msrec = [msrec_file().to_path_buf()];
    let gz = spot_files();
    let opts = ReplayOptions {
        strict: true,
        ..ReplayOptions::default()
    };
    for files in [&msrec[..], &gz[..]] {
        let out = replay_paths(files, &opts).expect("replays cleanly");
        assert_eq!(out.engine.stats.frames, frames);
        assert_eq!(out.engine.symbols()[0].sync.counters().applied, 6_493);
    }
    let mut g = c.benchmark_group("replay_file");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Elements(frames));
    g.bench_function("msrec_zstd", |b| {
        b.iter(|| {
            black_box(
                replay_paths(&msrec, &opts)
                    .expect("replay")
                    .engine
                    .stats
                    .frames,
            )
        })
    });
    // Everything on: features, latency and the models from `models/` (as `profile msrec N
    // models` runs it) — the case issue W2-G's 1.5 M messages/s is about.
    let with_models = PlayerOptions {
        replay: opts.clone(),
        models: Some(models()),
        ..PlayerOptions::default()
    };
    g.bench_function("msrec_zstd_models", |b| {
        b.iter(|| {
            let p = Player::open(&msrec, with_models.clone()).expect("open");
            black_box(
                play_out(p, Instant::now())
                    .expect("replay")
                    .engine
                    .stats
                    .frames,
            )
        })
    });
    g.bench_function("hftbacktest_gzip", |b| {
        b.iter(|| {
            black_box(
                replay_paths(&gz, &opts)
                    .expect("replay")
                    .engine
                    .stats
                    .frames,
            )
        })
    });
    // Inflation alone (every chunk's zstd frame, nothing decoded): subtracted from the replay
    // above, it gives the replay rate "without inflation cost".
    let bytes = std::fs::read(msrec_file()).expect("read");
    let idx = microstate_io::record::format::index(msrec_file()).expect("index");
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (k, c) in idx.chunks.iter().enumerate() {
        let start = c.offset as usize + microstate_io::record::format::CHUNK_HEADER_LEN;
        let end = idx
            .chunks
            .get(k + 1)
            .map_or(bytes.len(), |n| n.offset as usize);
        spans.push((start, end));
    }
    g.bench_function("msrec_inflate_only", |b| {
        let mut d = zstd::bulk::Decompressor::new().expect("zstd");
        let mut out = vec![0u8; 2 << 20];
        b.iter(|| {
            let mut n = 0;
            for &(a, z) in &spans {
                n += d
                    .decompress_to_buffer(&bytes[a..z], &mut out)
                    .expect("inflate");
            }
            black_box(n)
        })
    });
    // Reading alone (decompression and record decoding, no engine): what the format costs.
    g.bench_function("msrec_read_only", |b| {
        b.iter(|| {
            let r =
                microstate_io::record::format::RecordingReader::open(msrec_file()).expect("open");
            black_box(r.count())
        })
    });
    g.finish();
}

fn bench_recording(c: &mut Criterion) {
    let recs = records();
    let texts: Vec<&[u8]> = recs
        .iter()
        .filter_map(|r| match r {
            Record::WsFrame { text, .. } => Some(text.as_slice()),
            _ => None,
        })
        .collect();
    let mut g = c.benchmark_group("record");
    // The ingest side: copy the frame into a record and queue it for the writer thread, which
    // writes a real file meanwhile. Timed in batches; the queue is drained between batches so
    // nothing is dropped (a drop would be cheaper than the real cost).
    let path = tmp().join("offer.msrec");
    let (rec, writer) = microstate_io::record::writer::start(
        &path,
        &header(),
        microstate_io::record::writer::RecordOptions {
            queue: 1 << 16,
            ..Default::default()
        },
    )
    .expect("recorder");
    const BATCH: usize = 8192;
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("offer_frame_x8192", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut k = 0usize;
            for _ in 0..iters {
                let t = Instant::now();
                for _ in 0..BATCH {
                    let text = texts[k % texts.len()];
                    k += 1;
                    rec.offer(Record::WsFrame {
                        conn: 1,
                        recv_wall_ns: k as u64,
                        recv_mono_ns: k as u64,
                        text: text.to_vec(),
                    });
                }
                total += t.elapsed();
                while rec.stats.written.load(Ordering::Relaxed)
                    < rec.stats.queued.load(Ordering::Relaxed)
                {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            total
        })
    });
    assert_eq!(
        rec.stats.dropped.load(Ordering::Relaxed),
        0,
        "nothing dropped"
    );
    let stats = rec.stats.clone();
    drop(rec);
    writer.join().expect("writer").expect("written");
    println!(
        "recorder: {} records written, {} dropped",
        stats.written.load(Ordering::Relaxed),
        stats.dropped.load(Ordering::Relaxed)
    );

    // The writer thread's side: encode, compress, write (to a sink), per record.
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.sample_size(10);
    g.bench_function("writer_push_all", |b| {
        b.iter(|| {
            let mut w = RecordingWriter::new(std::io::sink(), &header(), WriterOptions::default())
                .expect("writer");
            for r in recs {
                w.push(r).expect("push");
            }
            w.flush().expect("flush");
            black_box(w.bytes_written())
        })
    });
    g.finish();
}

fn main() {
    report_size();
    report_pacing(1.0, 100, 20);
    report_pacing(100.0, 0, 640);
    let mut c = Criterion::default().configure_from_args();
    bench_replay(&mut c);
    bench_recording(&mut c);
    c.final_summary();
}
