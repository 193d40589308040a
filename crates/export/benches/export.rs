//! Parquet export throughput: the spot capture (from memory) through the replay engine and the
//! exporter, `trades` + `book` at depth 20 (books only: no features, no models), written to a
//! temporary folder with zstd, fsync and rename included — input frames per second. Also the
//! same with every table (features and signals cost the features' own time on top).
//!
//! Run: `cargo bench -p microstate-export --bench export` (goal: ≥ 1 M input frames/s for
//! trades + book).
//!
//! Load-independent figures (README "Export to Parquet"): build with `--no-run`, then run the
//! binary it names once per case under callgrind, `EXPORT_BENCH_ONCE=replay|tb|all valgrind
//! --tool=callgrind target/release/deps/export-…`; the export's instructions per frame are
//! (tb − replay) / frames. Memory: `python3 crates/export/benches/long_capture.py 40 long.gz`,
//! then `EXPORT_BENCH_INPUT=long.gz EXPORT_BENCH_ONCE=tb /usr/bin/time -v target/release/deps/
//! export-…` (max RSS; also `replay` and `all`).

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use microstate_core::num::Symbol;
use microstate_drive::replay::{Player, PlayerOptions, ReplayOptions, play_out};
use microstate_export::{ExportOptions, Exporter, Table};
use microstate_io::record::FrameSource;
use microstate_io::record::hftbacktest::HftSource;

/// The whole spot capture (both day files, in order) inflated once, kept for the process.
fn spot_capture() -> &'static [u8] {
    use std::io::Read;
    static CAPTURE: std::sync::OnceLock<&'static [u8]> = std::sync::OnceLock::new();
    CAPTURE.get_or_init(|| {
        let mut all = Vec::new();
        for path in microstate_testkit::spot_files() {
            let file = std::fs::File::open(&path)
                .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
            flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file))
                .read_to_end(&mut all)
                .unwrap_or_else(|e| panic!("cannot inflate {}: {e}", path.display()));
            if all.last() != Some(&b'\n') {
                all.push(b'\n');
            }
        }
        Box::leak(all.into_boxed_slice())
    })
}

fn tmp() -> PathBuf {
    let d = std::env::temp_dir().join(format!("export-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The same replay without the exporter (books only): the baseline the export adds to, measured
/// beside it so the ratio holds on a loaded machine.
fn replay_only() -> u64 {
    replay_from(Box::new(HftSource::from_reader(
        "btcusdt_20240808+09",
        Box::new(spot_capture()),
        Symbol::new(b"BTCUSDT"),
    )))
}

/// The replay of `source` alone (books only); the number of frames fed.
fn replay_from(source: Box<dyn FrameSource + Send>) -> u64 {
    let source = vec![source];
    let player = Player::from_sources(
        source,
        PlayerOptions {
            replay: ReplayOptions {
                features: None,
                ..ReplayOptions::default()
            },
            checkpoint_every_ns: u64::MAX,
            latency: false,
            ..PlayerOptions::default()
        },
    );
    play_out(player, Instant::now())
        .expect("replay")
        .engine
        .stats
        .frames
}

/// One export of the in-memory spot capture; the number of frames fed.
fn export(tables: &[Table], out: &std::path::Path) -> u64 {
    let source: Box<dyn FrameSource + Send> = Box::new(HftSource::from_reader(
        "btcusdt_20240808+09",
        Box::new(spot_capture()),
        Symbol::new(b"BTCUSDT"),
    ));
    export_from(source, tables, out)
}

/// One export of `source`; the number of frames fed.
fn export_from(
    source: Box<dyn FrameSource + Send>,
    tables: &[Table],
    out: &std::path::Path,
) -> u64 {
    let features = (tables.contains(&Table::Features) || tables.contains(&Table::Signals))
        .then(microstate_core::features::FeatureParams::default);
    let source = vec![source];
    let mut player = Player::from_sources(
        source,
        PlayerOptions {
            replay: ReplayOptions {
                features,
                ..ReplayOptions::default()
            },
            checkpoint_every_ns: u64::MAX,
            latency: false,
            ..PlayerOptions::default()
        },
    );
    let mut opts = ExportOptions {
        tables: tables.to_vec(),
        overwrite: true,
        features,
        ..ExportOptions::new(out.to_path_buf())
    };
    // `EXPORT_BENCH_ZSTD=LEVEL`, `EXPORT_BENCH_BATCH=ROWS`, `EXPORT_BENCH_DECIMALS=38`: the same
    // with other settings.
    if let Some(level) = std::env::var("EXPORT_BENCH_ZSTD")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        opts.write.zstd_level = level;
    }
    if let Some(n) = std::env::var("EXPORT_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        opts.write.batch_rows = n;
    }
    if let Some(p) = std::env::var("EXPORT_BENCH_DECIMALS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        opts.decimal_precision = p;
    }
    let exporter = Exporter::create(opts).expect("exporter");
    let exporter = Arc::new(Mutex::new(exporter));
    let shared = exporter.clone();
    player.set_observer(Box::new(move |e| {
        if let Ok(mut x) = shared.lock() {
            x.after_frame(e);
        }
    }));
    let outcome = play_out(player, Instant::now()).expect("replay");
    let exporter = Arc::try_unwrap(exporter)
        .ok()
        .expect("one owner")
        .into_inner()
        .expect("lock");
    black_box(exporter.finish().expect("finish"));
    outcome.engine.stats.frames
}

fn bench_export(c: &mut Criterion) {
    let out = tmp();
    let frames = export(&[Table::Trades, Table::Book], &out.join("probe"));
    let mut g = c.benchmark_group("export");
    g.throughput(Throughput::Elements(frames));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.bench_function("spot_replay_books_only_no_export", |b| b.iter(replay_only));
    g.bench_function("spot_trades_book_depth20", |b| {
        let dir = out.join("tb");
        b.iter(|| export(&[Table::Trades, Table::Book], &dir))
    });
    g.bench_function("spot_all_tables", |b| {
        let dir = out.join("all");
        b.iter(|| export(&Table::ALL, &dir))
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&out);
}

/// `EXPORT_BENCH_ONCE=inflate|replay|tb|all`: one run of that case and exit, for
/// `valgrind --tool=callgrind` (instruction counts do not depend on the machine's load):
/// the exporter's cost per frame is `(tb − replay) / frames`. With `EXPORT_BENCH_INPUT=FILE.gz`
/// (an hftbacktest BTCUSDT capture of any length) `tb`/`all` stream that file instead, for
/// `/usr/bin/time -v` (max RSS against the input's size).
fn once(case: &str) {
    if let Ok(input) = std::env::var("EXPORT_BENCH_INPUT") {
        let file = std::fs::File::open(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let reader = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
        let source: Box<dyn FrameSource + Send> = Box::new(HftSource::from_reader(
            "input",
            Box::new(std::io::BufReader::with_capacity(1 << 16, reader)),
            Symbol::new(b"BTCUSDT"),
        ));
        let out = tmp();
        let frames = match case {
            "replay" => replay_from(source),
            "tb" => export_from(source, &[Table::Trades, Table::Book], &out.join(case)),
            _ => export_from(source, &Table::ALL, &out.join(case)),
        };
        let _ = std::fs::remove_dir_all(&out);
        println!("{case} of {input}: {frames} frames");
        return;
    }
    let capture = spot_capture().len();
    let out = tmp();
    let frames = match case {
        "inflate" => 0,
        "replay" => replay_only(),
        "tb" => export(&[Table::Trades, Table::Book], &out.join("tb")),
        "all" => export(&Table::ALL, &out.join("all")),
        other => panic!("EXPORT_BENCH_ONCE={other}: inflate, replay, tb or all"),
    };
    let written = bytes_under(&out);
    let _ = std::fs::remove_dir_all(&out);
    println!(
        "{case}: {frames} frames ({capture} bytes of capture); {written} bytes of Parquet = {:.1} \
         bytes per frame",
        written as f64 / frames.max(1) as f64
    );
}

/// Bytes of every file under `dir`.
fn bytes_under(dir: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

fn main() {
    if let Ok(case) = std::env::var("EXPORT_BENCH_ONCE") {
        once(&case);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench_export(&mut c);
    c.final_summary();
}
