//! Hot-path benchmarks on real captures: frame decoding, book updates and reads, whole replay.
//!
//! Data comes from `../shared/data` (relative to the crate root): the Binance spot BTCUSDT capture
//! (`binance-spot/btcusdt_20240808.gz` then `btcusdt_20240809.gz`), inflated once into memory.
//! Nothing here reads a file inside a timed loop.
//!
//! Run with `cargo bench --bench core` (release profile `bench`).
//! Targets: `parse/depth_10x10` ≤ 400 ns, `book/update_bbo` ≤ 20 ns median,
//! `book/top20_*` ≤ 25 ns, `replay/spot_capture` ≥ 1.5 M messages/s.

use std::hint::black_box;
use std::time::Duration;

mod common;

use common::spot_capture;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use microstate_core::book::{OrderBook, Side, SideKind};
use microstate_core::num::{Price, Qty, Symbol};
use microstate_core::wire::binance::Decoder;
use microstate_core::wire::{Event, Level};
use microstate_drive::replay::{ReplayOptions, replay_sources};
use microstate_io::record::FrameSource;
use microstate_io::record::hftbacktest::HftSource;

/// JSON bodies of the capture's lines (the receive timestamp stripped).
fn bodies() -> impl Iterator<Item = &'static [u8]> {
    spot_capture()
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let sp = l
                .iter()
                .position(|&c| c == b' ')
                .expect("capture line without `<ts> <json>`");
            &l[sp + 1..]
        })
}

fn first_body_containing(needle: &str) -> &'static [u8] {
    bodies()
        .find(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .unwrap_or_else(|| panic!("no frame containing {needle} in the spot capture"))
}

fn json_levels(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("levels array")
        .iter()
        .map(|l| {
            (
                l[0].as_str().expect("price string").to_string(),
                l[1].as_str().expect("qty string").to_string(),
            )
        })
        .collect()
}

/// A real spot depthUpdate with at least 10 levels per side, trimmed to exactly 10 + 10 and
/// written back in Binance's combined-stream shape and key order, with the original strings.
fn depth_10x10_frame() -> Vec<u8> {
    for body in bodies() {
        if !body.starts_with(b"{\"stream\":\"btcusdt@depth") {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(body).expect("capture frame is JSON");
        let d = &v["data"];
        let (bids, asks) = (json_levels(&d["b"]), json_levels(&d["a"]));
        if bids.len() < 10 || asks.len() < 10 {
            continue;
        }
        let side = |ls: &[(String, String)]| {
            ls[..10]
                .iter()
                .map(|(p, q)| format!("[\"{p}\",\"{q}\"]"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let frame = format!(
            "{{\"stream\":{},\"data\":{{\"e\":\"depthUpdate\",\"E\":{},\"s\":{},\"U\":{},\"u\":{},\"b\":[{}],\"a\":[{}]}}}}",
            v["stream"],
            d["E"],
            d["s"],
            d["U"],
            d["u"],
            side(&bids),
            side(&asks)
        );
        return frame.into_bytes();
    }
    panic!("no spot depthUpdate with 10 levels per side in the capture")
}

fn bench_parse(c: &mut Criterion) {
    let depth = depth_10x10_frame();
    let ticker = first_body_containing("\"btcusdt@bookTicker\"");
    let trade = first_body_containing("\"btcusdt@trade\"");

    let mut dec = Decoder::new();
    match dec.decode(&depth) {
        Ok(Event::Depth(d)) => assert_eq!((d.bids.len(), d.asks.len()), (10, 10)),
        other => panic!("depth frame decoded as {other:?}"),
    }
    assert!(matches!(dec.decode(ticker), Ok(Event::BookTicker(_))));
    assert!(matches!(dec.decode(trade), Ok(Event::Trade(_))));

    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("depth_10x10", |b| {
        b.iter(|| match dec.decode(black_box(&depth)) {
            Ok(Event::Depth(d)) => black_box(d.final_id),
            _ => unreachable!(),
        })
    });
    g.bench_function("book_ticker", |b| {
        b.iter(|| match dec.decode(black_box(ticker)) {
            Ok(Event::BookTicker(t)) => black_box(t.update_id),
            _ => unreachable!(),
        })
    });
    g.bench_function("trade", |b| {
        b.iter(|| match dec.decode(black_box(trade)) {
            Ok(Event::Trade(t)) => black_box(t.id),
            _ => unreachable!(),
        })
    });
    g.finish();
}

/// The REST snapshot of the spot capture loaded into a book, and every diff level that follows
/// it (diffs with `u` > `lastUpdateId`, both files, in capture order): `(is_bid, level)`.
fn spot_book_and_levels() -> (OrderBook, Vec<(bool, Level)>) {
    let mut dec = Decoder::new();
    let mut book = OrderBook::new();
    let mut diffs: Vec<(u64, Vec<Level>, Vec<Level>)> = Vec::new();
    let mut snapshot_id = None;
    for body in bodies() {
        match dec.decode(body).expect("capture frames decode") {
            Event::Snapshot(s) => {
                book.load(&s.bids, &s.asks, s.last_update_id);
                snapshot_id = Some(s.last_update_id);
            }
            Event::Depth(d) => diffs.push((d.final_id, d.bids.clone(), d.asks.clone())),
            _ => {}
        }
    }
    let lid = snapshot_id.expect("the spot capture has a REST snapshot line");
    let mut levels = Vec::new();
    for (final_id, bids, asks) in diffs {
        if final_id <= lid {
            continue;
        }
        levels.extend(bids.into_iter().map(|l| (true, l)));
        levels.extend(asks.into_iter().map(|l| (false, l)));
    }
    assert!(
        levels.len() > 10_000,
        "too few diff levels: {}",
        levels.len()
    );
    (book, levels)
}

/// Tiny deterministic generator (xorshift64*) so the sparse book is the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

const TICK: u64 = 1_000_000; // 0.01 USDT in mantissa units (8 decimals)

fn bench_book(c: &mut Criterion) {
    let (mut book, levels) = spot_book_and_levels();
    let mut g = c.benchmark_group("book");
    g.throughput(Throughput::Elements(1));
    // One diff level per iteration, cycling through the real stream in order, then the best
    // bid/ask read. Criterion's figure is the time per iteration averaged over each sample.
    g.bench_function("update_bbo", |b| {
        let mut i = 0usize;
        b.iter(|| {
            let (is_bid, l) = levels[i];
            i += 1;
            if i == levels.len() {
                i = 0;
            }
            let side = if is_bid {
                &mut book.bids
            } else {
                &mut book.asks
            };
            side.set(black_box(l.price), black_box(l.qty));
            black_box(book.bbo())
        })
    });

    // 5000 consecutive ticks from 60,000.00 down (bids).
    let mut dense = Side::new(SideKind::Bid);
    let dense_levels: Vec<Level> = (0..5000u64)
        .map(|k| Level {
            price: Price(6_000_000_000_000 - k * TICK),
            qty: Qty(1_000_000 + k),
        })
        .collect();
    dense.load(&dense_levels);
    // 5000 levels with random gaps of 1..=2000 ticks: ~5,000,000 ticks, i.e. 50,000 USDT wide.
    let mut sparse = Side::new(SideKind::Bid);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut p = 10_000_000_000_000u64;
    let sparse_levels: Vec<Level> = (0..5000u64)
        .map(|k| {
            p -= (1 + rng.next() % 2000) * TICK;
            Level {
                price: Price(p),
                qty: Qty(1_000_000 + k),
            }
        })
        .collect();
    sparse.load(&sparse_levels);
    assert_eq!((dense.len(), sparse.len()), (5000, 5000));

    let mut buf: Vec<Level> = Vec::with_capacity(20);
    for (name, side) in [("top20_dense", &dense), ("top20_sparse", &sparse)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                buf.clear();
                buf.extend(black_box(side).top(20));
                black_box(&buf);
            })
        });
    }
    g.finish();
}

fn bench_replay(c: &mut Criterion) {
    let bytes = spot_capture();
    let frames = bytes
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    let hint = Symbol::new(b"BTCUSDT");
    let source = || -> Vec<Box<dyn FrameSource + Send>> {
        vec![Box::new(HftSource::from_reader(
            "btcusdt_20240808+09",
            Box::new(bytes),
            hint,
        ))]
    };
    // Books only, as before features existed (benches/features.rs measures them).
    let opts = ReplayOptions {
        strict: true,
        features: None,
        ..ReplayOptions::default()
    };
    // Check once that the replay is the real one: every frame read, no error, the book synced.
    let out = replay_sources(source(), &opts).expect("the spot capture replays without errors");
    assert_eq!(out.engine.stats.frames, frames);
    assert_eq!(out.errors_total, 0);
    let st = &out.engine.symbols()[0];
    assert!(st.sync.is_synced() && st.sync.counters().gaps == 0);
    assert_eq!(st.sync.counters().applied, 6_493);

    let mut g = c.benchmark_group("replay");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(frames));
    g.bench_function("spot_capture", |b| {
        b.iter(|| {
            let out = replay_sources(source(), &opts).expect("replay");
            black_box(out.engine.stats.frames)
        })
    });
    g.finish();
}

fn bench_latency(c: &mut Criterion) {
    // One latency sample into a stage: since-start and rolling-window histograms.
    let mut h = microstate_core::latency::StageHist::new(60_000_000_000, 6);
    let mut g = c.benchmark_group("latency");
    let mut t = 1_723_161_253_000_000_000u64;
    let mut v = 12_345u64;
    g.bench_function("record_sample", |b| {
        b.iter(|| {
            t += 1_000_000;
            v = v.wrapping_mul(6364136223846793005).wrapping_add(1) % 50_000_000;
            h.record(black_box(t), black_box(v));
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_parse,
    bench_book,
    bench_replay,
    bench_latency
);
criterion_main!(benches);
