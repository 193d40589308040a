//! The fuzzing ring, on the stable toolchain: a coverage-free mutation fuzzer of our own over
//! every decoder and reader, seeded from the real captures in ../shared/data.
//!
//! Owns: the mutator (seeded SplitMix64: bit flips, byte inserts/deletes, range duplicates,
//! splices between seeds, numeric-string tweaks, interesting bytes, truncation), the targets
//! (Binance frames against the serde_json reference decoder, the engine fed frame sequences,
//! REST depth and kline bodies, hftbacktest and cryptofeed lines, the recording format, kline
//! CSVs, TOML config) and the checks: no panic (`catch_unwind` per case), bounded memory (the
//! process's resident size, sampled), and agreement with the reference where one exists.
//! Must not touch: the code under test (it is called exactly as the binary calls it).
//!
//! Runs:
//! - `fuzz_ring_quick` (normal test): every target for a few seconds, fixed seed.
//! - `fuzz_ring` (ignored): `MICROSTATE_FUZZ_SECS` seconds in all (default 120) — what
//!   `.ci/run` runs; a long run is the same with a bigger budget and another seed:
//!   `MICROSTATE_FUZZ_SECS=3600 MICROSTATE_FUZZ_SEED=7 cargo test --release -p microstate-io
//!   --test integration fuzz_ring -- --ignored --nocapture`.
//! - `fuzz_regressions` (normal test): every input in `tests/fuzz-regressions/<target>/`
//!   through its target. A crash found by a run is written to
//!   `$CARGO_TARGET_TMPDIR/fuzz-crashes/<target>-<seed>-<case>.bin` (the test fails naming it);
//!   copy it into the regressions folder with the fix.

use std::io::BufRead;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use microstate_config::Config;
use microstate_core::engine::{Engine, EngineConfig, RawFrame};
use microstate_core::num::{Nanos, Symbol};
use microstate_core::rng::Rng;
use microstate_core::wire::binance::Decoder;
use microstate_core::wire::reference;
use microstate_io::record::format::{
    Header, Record, RecordingSource, RecordingWriter, WriterOptions,
};
use microstate_io::record::{FrameSource, cryptofeed, hftbacktest, klines};
use microstate_testkit::data_dir;

/// Largest mutated input (a mutation never grows one past it).
const MAX_INPUT: usize = 1 << 20;
/// Resident memory the process may grow by during a run before it counts as unbounded.
const RSS_BUDGET: u64 = 1 << 30;

/// A check that failed for one input (a panic is caught separately).
type Check = Result<(), String>;
/// Runs one input through a target.
type Runner = Box<dyn Fn(&[u8]) -> Check>;

/// One thing to fuzz: its seeds and how to run one input.
struct Target {
    name: &'static str,
    seeds: Vec<Vec<u8>>,
    run: Runner,
}

/// What a run of one target did.
#[derive(Debug, Default)]
struct Tally {
    execs: u64,
    crashes: Vec<PathBuf>,
    failures: Vec<String>,
    secs: f64,
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

// ---------------------------------------------------------------- the mutator

const NUMBERS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"-0",
    b"1",
    b"18446744073709551615",
    b"18446744073709551616",
    b"9223372036854775807",
    b"99999999999999999999999999",
    b"1e308",
    b"0.000000000000000000001",
    b"4294967295",
    b"NaN",
    b"",
];
const BYTES: &[u8] = b"\"{}[],:0\\.-eE \n\r\t\x00\x1b\xff\x7f";

fn pick<'a>(rng: &mut Rng, xs: &'a [&'a [u8]]) -> &'a [u8] {
    xs[rng.below(xs.len() as u64) as usize]
}

fn at(rng: &mut Rng, len: usize) -> usize {
    rng.below(len as u64 + 1) as usize
}

/// One to four stacked mutations of `input` (another seed may be spliced in).
fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut m = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = m.len();
        match rng.below(10) {
            0 | 1 if len > 0 => {
                let i = rng.below(len as u64) as usize;
                m[i] ^= 1 << rng.below(8);
            }
            2 => {
                let i = at(rng, len);
                let b = BYTES[rng.below(BYTES.len() as u64) as usize];
                m.insert(i, b);
            }
            3 if len > 0 => {
                let i = rng.below(len as u64) as usize;
                let n = (1 + rng.below(16) as usize).min(len - i);
                m.drain(i..i + n);
            }
            4 if len > 0 => {
                // Duplicate a range (repeated fields, doubled levels).
                let i = rng.below(len as u64) as usize;
                let n = (1 + rng.below(256) as usize).min(len - i);
                let piece = m[i..i + n].to_vec();
                let j = at(rng, len);
                m.splice(j..j, piece);
            }
            5 => {
                // Splice: a piece of another seed.
                let other = &corpus[rng.below(corpus.len() as u64) as usize];
                if !other.is_empty() {
                    let i = rng.below(other.len() as u64) as usize;
                    let n = (1 + rng.below(512) as usize).min(other.len() - i);
                    let j = at(rng, len);
                    let k = (j + rng.below(64) as usize).min(len);
                    m.splice(j..k, other[i..i + n].iter().copied());
                }
            }
            6 | 7 => {
                // Numeric-string tweak: a run of digits becomes an interesting number.
                let digits: Vec<usize> = (0..len).filter(|&i| m[i].is_ascii_digit()).collect();
                if !digits.is_empty() {
                    let mut i = digits[rng.below(digits.len() as u64) as usize];
                    while i > 0 && m[i - 1].is_ascii_digit() {
                        i -= 1;
                    }
                    let mut j = i;
                    while j < len && m[j].is_ascii_digit() {
                        j += 1;
                    }
                    let n = pick(rng, NUMBERS);
                    m.splice(i..j, n.iter().copied());
                }
            }
            8 if len > 0 => {
                let i = rng.below(len as u64) as usize;
                m[i] = BYTES[rng.below(BYTES.len() as u64) as usize];
            }
            _ => {
                let cut = at(rng, len);
                m.truncate(cut);
            }
        }
        m.truncate(MAX_INPUT);
    }
    m
}

/// Fuzzes `t` for `budget`; every input is a mutation of a seed or of an earlier input that
/// did not crash (a small rolling pool keeps stacked damage reachable).
fn fuzz(t: &Target, seed: u64, budget: Duration, crash_dir: &Path) -> Tally {
    let mut rng = Rng::new(seed, t.name.len() as u64 ^ u64::from(t.name.as_bytes()[0]));
    let mut pool: Vec<Vec<u8>> = t.seeds.clone();
    let mut tally = Tally::default();
    let start = Instant::now();
    let rss0 = rss_bytes();
    // Seeds first, unmutated: they must pass.
    for s in &t.seeds {
        run_one(t, s, seed, &mut tally, crash_dir);
    }
    while start.elapsed() < budget {
        for _ in 0..64 {
            let base = &pool[rng.below(pool.len() as u64) as usize];
            let m = mutate(&mut rng, base, &t.seeds);
            if run_one(t, &m, seed, &mut tally, crash_dir) && rng.below(8) == 0 {
                let slot = t.seeds.len() + rng.below(64) as usize;
                if slot < pool.len() {
                    pool[slot] = m;
                } else {
                    pool.push(m);
                }
            }
        }
        let grown = rss_bytes().saturating_sub(rss0);
        if grown > RSS_BUDGET {
            tally.failures.push(format!(
                "{}: resident memory grew by {} MiB (budget {} MiB)",
                t.name,
                grown >> 20,
                RSS_BUDGET >> 20
            ));
            break;
        }
    }
    tally.secs = start.elapsed().as_secs_f64();
    tally
}

/// Runs one input; `true` when it neither panicked nor failed a check.
fn run_one(t: &Target, input: &[u8], seed: u64, tally: &mut Tally, crash_dir: &Path) -> bool {
    tally.execs += 1;
    match catch_unwind(AssertUnwindSafe(|| (t.run)(input))) {
        Ok(Ok(())) => true,
        Ok(Err(why)) => {
            if tally.failures.len() < 10 {
                let path = save(crash_dir, t.name, seed, tally.execs, input);
                tally
                    .failures
                    .push(format!("{}: {why} (input {})", t.name, path.display()));
            }
            false
        }
        Err(_) => {
            if tally.crashes.len() < 10 {
                tally
                    .crashes
                    .push(save(crash_dir, t.name, seed, tally.execs, input));
            }
            false
        }
    }
}

fn save(dir: &Path, name: &str, seed: u64, case: u64, input: &[u8]) -> PathBuf {
    let _ = std::fs::create_dir_all(dir);
    let p = dir.join(format!("{name}-{seed}-{case}.bin"));
    let _ = std::fs::write(&p, input);
    p
}

// ---------------------------------------------------------------- seeds

/// The first `n` lines of a (gzip) file, each without its end.
fn head_lines(path: &Path, n: usize) -> Vec<Vec<u8>> {
    let r = microstate_io::record::open_maybe_gz(path)
        .unwrap_or_else(|e| panic!("{}: {e} (the real captures are needed)", path.display()));
    r.split(b'\n').take(n).map_while(Result::ok).collect()
}

fn files_in(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data_dir().join(dir))
        .unwrap_or_else(|e| panic!("../shared/data/{dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && !p.to_string_lossy().contains("LICENSE"))
        .collect();
    v.sort();
    v
}

/// hftbacktest lines `<ts> <json>` from every Binance capture: the first 40 of each file, and
/// the snapshot line.
fn hft_lines() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in [
        "binance-spot",
        "binance-usdm",
        "binance-coinm",
        "binance-usdm-20240808",
    ] {
        for f in files_in(dir)
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "gz"))
        {
            let lines = head_lines(f, 400);
            out.extend(lines.iter().take(40).cloned());
            out.extend(
                lines
                    .iter()
                    .filter(|l| l.windows(14).any(|w| w == b"\"lastUpdateId\""))
                    .cloned(),
            );
        }
    }
    out
}

/// The JSON part of hftbacktest lines: frames and REST depth bodies.
fn frames(lines: &[Vec<u8>]) -> Vec<Vec<u8>> {
    lines
        .iter()
        .filter_map(|l| {
            l.iter()
                .position(|&c| c == b' ')
                .map(|i| l[i + 1..].to_vec())
        })
        .collect()
}

fn cryptofeed_files() -> Vec<PathBuf> {
    files_in("cryptofeed")
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".http.") || p.to_string_lossy().contains(".ws."))
        .collect()
}

/// Each seed is a whole small file: a few lines of one cryptofeed capture.
fn cryptofeed_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in cryptofeed_files() {
        let lines = head_lines(&f, 12);
        for chunk in [&lines[..lines.len().min(3)], &lines[..]] {
            let mut s = Vec::new();
            for l in chunk {
                s.extend_from_slice(l);
                s.push(b'\n');
            }
            out.push(s);
        }
    }
    out
}

fn kline_csv_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in ["klines", "klines-2024q1"] {
        for f in files_in(dir) {
            let lines = head_lines(&f, 30);
            out.push(lines.join(&b'\n'));
        }
    }
    out
}

/// REST kline answers made from the real klines (Binance's array-of-arrays shape).
fn kline_body_seeds() -> Vec<Vec<u8>> {
    let f = &files_in("klines")[0];
    let rows: Vec<String> = head_lines(f, 6)
        .into_iter()
        .skip(1)
        .map(|l| {
            let l = String::from_utf8_lossy(&l).into_owned();
            let c: Vec<&str> = l.split(',').collect();
            let t: i64 = c[0].parse().unwrap_or(0);
            format!(
                "[{t},\"{}\",\"{}\",\"{}\",\"{}\",\"{}\",{},\"0\",10,\"0\",\"0\",\"0\"]",
                c[1],
                c[2],
                c[3],
                c[4],
                c[5],
                t + 59_999
            )
        })
        .collect();
    vec![format!("[{}]", rows.join(",")).into_bytes(), b"[]".to_vec()]
}

fn config_seeds() -> Vec<Vec<u8>> {
    let root = microstate_testkit::workspace_root();
    let mut out = vec![std::fs::read(root.join("configs/default.toml")).expect("default.toml")];
    let dir = root.join("crates/config/tests/invalid");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("invalid configs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    out.extend(cases.iter().take(40).filter_map(|p| std::fs::read(p).ok()));
    out
}

/// A small recording of real frames: three chunks, journal on, every record kind.
fn recording_seed() -> Vec<u8> {
    let lines = hft_lines();
    let mut header = Header::new(
        "spot",
        vec!["BTCUSDT".into()],
        vec!["wss://stream.binance.com:9443/stream".into()],
        serde_json::json!({"source": "fuzz"}),
        1_723_161_253_000_000_000,
    );
    header.journal = true;
    let opts = WriterOptions {
        flush_interval_ns: 10,
        ..WriterOptions::default()
    };
    let mut w = RecordingWriter::new(Vec::new(), &header, opts).expect("writer");
    let mut t = 1_723_161_253_000_000_000u64;
    let push = |w: &mut RecordingWriter<Vec<u8>>, r: Record| w.push(&r).expect("push");
    push(
        &mut w,
        Record::Lifecycle {
            wall_ns: t,
            event: "primary 1".into(),
            detail: String::new(),
        },
    );
    for (i, f) in frames(&lines[..12]).into_iter().enumerate() {
        t += 4;
        if i == 5 {
            push(
                &mut w,
                Record::RestResponse {
                    id: 1,
                    symbol: Some("BTCUSDT".into()),
                    recv_wall_ns: t,
                    status: 200,
                    body: b"{\"lastUpdateId\":1,\"bids\":[[\"1.00\",\"2\"]],\"asks\":[]}".to_vec(),
                },
            );
        }
        push(
            &mut w,
            Record::WsFrame {
                conn: 1,
                recv_wall_ns: t,
                recv_mono_ns: t,
                text: f,
            },
        );
    }
    push(
        &mut w,
        Record::ClockOffset {
            wall_ns: t + 1,
            offset_ns: -5,
            rtt_ns: 7,
        },
    );
    push(
        &mut w,
        Record::Lifecycle {
            wall_ns: t + 2,
            event: "reset BTCUSDT".into(),
            detail: "BTCUSDT".into(),
        },
    );
    w.flush().expect("flush");
    w.finish().expect("finish")
}

// ---------------------------------------------------------------- targets

/// A temp file per target (rewritten per input) for the readers that open paths.
fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("microstate-fuzz-{}-{name}", std::process::id()))
}

fn drain(src: &mut dyn FrameSource, limit: usize) -> usize {
    let mut n = 0;
    for _ in 0..limit {
        match src.advance() {
            Ok(true) => n += 1,
            Ok(false) => break,
            Err(_) => {}
        }
    }
    n
}

fn targets() -> Vec<Target> {
    let lines = hft_lines();
    let frames = frames(&lines);
    let btc = Symbol::new(b"BTCUSDT");
    let mut v = vec![
        Target {
            name: "frame",
            seeds: frames.clone(),
            run: Box::new(|b| {
                let mut dec = Decoder::new();
                let fast = dec.decode(b);
                let slow = reference::decode(b);
                match (&fast, &slow) {
                    (Ok(f), Ok(s)) if !s.same_as(f) => {
                        let mut fast = format!("{f:?}");
                        let mut slow = format!("{s:?}");
                        fast.truncate(600);
                        slow.truncate(600);
                        Err(format!("decoders disagree:\nfast {fast}…\nslow {slow}…"))
                    }
                    _ => Ok(()),
                }
            }),
        },
        Target {
            name: "engine",
            // Runs of consecutive frames of one capture, newline-separated (diffs, trades,
            // tickers, and a REST snapshot body).
            seeds: frames
                .chunks(20)
                .map(|c| c.join(&b'\n'))
                .chain([b"{\"lastUpdateId\":5,\"bids\":[[\"1.00\",\"1\"]],\"asks\":[[\"2.00\",\"1\"]]}\n{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BTCUSDT\",\"U\":5,\"u\":7,\"b\":[[\"1.50\",\"1\"]],\"a\":[]}".to_vec()])
                .collect(),
            run: Box::new(move |b| {
                let mut e = Engine::new(EngineConfig {
                    limits: microstate_core::limits::Limits {
                        max_symbols: 16,
                        max_levels: 2_000,
                        max_window_entries: 10_000,
                        max_stale_run: 50,
                        ..Default::default()
                    },
                    ..EngineConfig::default()
                });
                for (i, f) in b.split(|&c| c == b'\n').enumerate() {
                    let _ = e.on_frame(RawFrame {
                        recv: Nanos(1_723_161_253_000_000_000 + i as u64 * 1_000_000),
                        bytes: f,
                        symbol_hint: btc,
                    });
                }
                let _ = microstate_core::summary::Summary::of(&e, 0, Vec::new());
                let _ = microstate_drive_free_view(&e);
                Ok(())
            }),
        },
        Target {
            name: "rest_klines",
            seeds: kline_body_seeds(),
            run: Box::new(|b| {
                let _ = microstate_core::wire::klines::parse_klines(b);
                Ok(())
            }),
        },
        Target {
            name: "hftbacktest",
            seeds: lines.chunks(8).map(|c| c.join(&b'\n')).collect(),
            run: Box::new(move |b| {
                let r = std::io::BufReader::new(std::io::Cursor::new(b.to_vec()));
                let mut s = hftbacktest::HftSource::from_reader("fuzz", Box::new(r), btc)
                    .with_max_line(64 << 10);
                drain(&mut s, 100_000);
                Ok(())
            }),
        },
        Target {
            name: "kline_csv",
            seeds: kline_csv_seeds(),
            run: Box::new(|b| {
                let _ = klines::parse_klines(std::io::Cursor::new(b), "fuzz");
                Ok(())
            }),
        },
        Target {
            name: "config",
            seeds: config_seeds(),
            run: Box::new(|b| {
                let _ = Config::from_toml(&String::from_utf8_lossy(b), "fuzz.toml");
                Ok(())
            }),
        },
    ];
    let cf_path = scratch("cryptofeed");
    let kinds: Vec<(PathBuf, microstate_io::record::Format)> = cryptofeed_files()
        .iter()
        .map(|p| {
            let f = if p.to_string_lossy().contains(".http.") {
                microstate_io::record::Format::CryptofeedHttp
            } else {
                microstate_io::record::Format::CryptofeedWs
            };
            (p.clone(), f)
        })
        .collect();
    v.push(Target {
        name: "cryptofeed",
        seeds: cryptofeed_seeds(),
        run: Box::new(move |b| {
            std::fs::write(&cf_path, b).map_err(|e| e.to_string())?;
            for (_, format) in &kinds {
                let mut s = cryptofeed::CryptofeedSource::open(&cf_path, *format)
                    .map_err(|e| e.to_string())?
                    .with_max_line(64 << 10);
                drain(&mut s, 100_000);
            }
            Ok(())
        }),
    });
    let rec_path = scratch("recording.msrec");
    v.push(Target {
        name: "recording",
        seeds: vec![recording_seed()],
        run: Box::new(move |b| {
            std::fs::write(&rec_path, b).map_err(|e| e.to_string())?;
            if let Ok(mut s) = RecordingSource::open_session(std::slice::from_ref(&rec_path)) {
                drain(&mut s, 100_000);
            }
            if let Ok(idx) = microstate_io::record::format::index(&rec_path) {
                let _ = idx.chunk_for(u64::MAX);
            }
            Ok(())
        }),
    });
    v
}

/// What the screen would be handed, built from the engine's public parts (the drive crate's
/// publisher is not a dependency here): every symbol view.
fn microstate_drive_free_view(e: &Engine) -> usize {
    e.symbols()
        .iter()
        .map(|st| microstate_core::view::symbol_view(st, false).bids.len())
        .sum()
}

// ---------------------------------------------------------------- the runs

fn run_ring(budget: Duration, seed: u64) {
    let crash_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-crashes");
    let targets = targets();
    let per = budget / targets.len() as u32;
    let mut report = Vec::new();
    let mut bad = Vec::new();
    let (mut execs, mut secs) = (0u64, 0f64);
    for t in &targets {
        let tally = fuzz(t, seed, per, &crash_dir);
        report.push(format!(
            "{:12} {:>9} execs {:>8.0}/s  {} seeds",
            t.name,
            tally.execs,
            tally.execs as f64 / tally.secs.max(1e-9),
            t.seeds.len()
        ));
        execs += tally.execs;
        secs += tally.secs;
        bad.extend(
            tally
                .crashes
                .iter()
                .map(|p| format!("{}: panicked on {}", t.name, p.display())),
        );
        bad.extend(tally.failures);
    }
    eprintln!(
        "fuzz ring, seed {seed}, {:.0} s: {execs} execs ({:.0}/s)\n{}",
        secs,
        execs as f64 / secs.max(1e-9),
        report.join("\n")
    );
    assert!(bad.is_empty(), "the fuzz ring found:\n{}", bad.join("\n"));
    assert!(
        execs > targets.len() as u64 * 20,
        "too few executions: {execs}"
    );
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// A few seconds of every target on every `cargo test`.
#[test]
fn fuzz_ring_quick() {
    run_ring(Duration::from_secs(8), 1);
}

/// The CI ring (`.ci/run`): `MICROSTATE_FUZZ_SECS` (default 120) over all targets.
#[test]
#[ignore = "about 2 minutes: run by .ci/run, or by hand with a budget (see the module docs)"]
fn fuzz_ring() {
    let secs = env_u64("MICROSTATE_FUZZ_SECS").unwrap_or(120);
    let seed = env_u64("MICROSTATE_FUZZ_SEED").unwrap_or(2026);
    run_ring(Duration::from_secs(secs), seed);
}

/// Every input a run once crashed on (and the bounds it proved missing) still passes.
#[test]
fn fuzz_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let targets = targets();
    let mut n = 0;
    let mut bad = Vec::new();
    let crash_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-crashes");
    for t in &targets {
        let Ok(entries) = std::fs::read_dir(dir.join(t.name)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            let input = std::fs::read(&f).expect("a regression input");
            let mut tally = Tally::default();
            if !run_one(t, &input, 0, &mut tally, &crash_dir) {
                bad.push(format!("{}: {}", f.display(), tally.failures.join("; ")));
            }
            n += 1;
        }
    }
    assert!(bad.is_empty(), "regressions:\n{}", bad.join("\n"));
    assert!(n >= 3, "only {n} regression inputs in {}", dir.display());
}
