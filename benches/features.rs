//! Feature-engine benchmarks on the real Binance spot BTCUSDT capture (../shared/data, both
//! day files, inflated and decoded once; nothing is parsed or read inside a timed loop).
//!
//! - `features/per_event_features_only`: what the features (all of them, one symbol) add to
//!   one event of the real stream, in capture order: each sample times the same events with
//!   and without features and reports the difference (the target's figure).
//! - `features/per_event_all`: one event per iteration — a diff applied to the book then fed to
//!   the features, a trade or bookTicker fed to the features; `features/per_event_book_only` is
//!   the same loop without features.
//! - `replay/spot_capture_features` vs `replay/spot_capture_books_only`: the whole capture from
//!   memory through parser, engine and features, in messages/s.
//!
//! Run with `cargo bench --bench features`. Target: features ≤ 150 ns per event (median).
//! Setup also prints the features' added cost per event kind (diff / trade / bookTicker) once:
//! median, p90 and mean of paired per-event timings.

use std::hint::black_box;
use std::time::{Duration, Instant};

mod common;

use common::spot_capture;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use microstate_core::book::OrderBook;
use microstate_core::features::{FeatureParams, FeatureState};
use microstate_core::num::Symbol;
use microstate_core::wire::binance::Decoder;
use microstate_core::wire::{BookTicker, DepthUpdate, Event, Snapshot, Trade};
use microstate_drive::replay::{ReplayOptions, replay_sources};
use microstate_io::record::FrameSource;
use microstate_io::record::hftbacktest::HftSource;

enum Ev {
    Diff(DepthUpdate),
    Trade(Trade),
    Ticker(BookTicker),
}

/// The snapshot, and every event from the diff that bridges it on, in capture order (the
/// diffs the snapshot covers are left out, as the sync would drop them).
fn stream() -> (Snapshot, Vec<Ev>) {
    let mut dec = Decoder::new();
    let mut snapshot = None;
    let mut evs = Vec::new();
    for line in spot_capture()
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
    {
        let sp = line.iter().position(|&c| c == b' ').expect("`<ts> <json>`");
        match dec.decode(&line[sp + 1..]).expect("capture frames decode") {
            Event::Snapshot(s) => snapshot = Some(s.clone()),
            Event::Depth(d) => evs.push(Ev::Diff(d.clone())),
            Event::Trade(t) => evs.push(Ev::Trade(t)),
            Event::BookTicker(t) => evs.push(Ev::Ticker(t)),
            Event::Other(_) => {}
        }
    }
    let snap = snapshot.expect("the capture has a snapshot");
    let lid = snap.last_update_id;
    let first = evs
        .iter()
        .position(|e| matches!(e, Ev::Diff(d) if d.final_id > lid))
        .expect("a bridging diff");
    (snap, evs.split_off(first))
}

/// Book and features, restarted from the snapshot at the end of the stream.
struct Player<'a> {
    snap: &'a Snapshot,
    evs: &'a [Ev],
    i: usize,
    book: OrderBook,
    features: Option<FeatureState>,
    with_features: bool,
}

impl<'a> Player<'a> {
    fn new(snap: &'a Snapshot, evs: &'a [Ev], with_features: bool) -> Self {
        let mut p = Player {
            snap,
            evs,
            i: 0,
            book: OrderBook::new(),
            features: None,
            with_features,
        };
        p.restart();
        p
    }

    fn restart(&mut self) {
        self.book
            .load(&self.snap.bids, &self.snap.asks, self.snap.last_update_id);
        self.features = self
            .with_features
            .then(|| FeatureState::new(FeatureParams::default()));
        self.i = 0;
    }

    #[inline]
    fn step(&mut self) {
        match &self.evs[self.i] {
            Ev::Diff(d) => {
                self.book.apply(&d.bids, &d.asks, d.final_id);
                if let Some(f) = &mut self.features {
                    f.on_book(&self.book, d);
                }
            }
            Ev::Trade(t) => {
                if let Some(f) = &mut self.features {
                    f.on_trade(t);
                }
            }
            Ev::Ticker(t) => {
                if let Some(f) = &mut self.features {
                    f.on_ticker(t);
                }
            }
        }
        self.i += 1;
        if self.i == self.evs.len() {
            self.restart();
        }
    }
}

/// What the features add to each event: every event of the stream is timed with `Instant`
/// once with and once without features, and the two timings of the same event are paired
/// (Instant's own cost cancels out). Printed once, per event kind: median, p90, mean.
fn per_kind_table(snap: &Snapshot, evs: &[Ev]) {
    let n = evs.len() - 1;
    let mut timings = [vec![0f64; n], vec![0f64; n]];
    for (pass, with) in [false, true].into_iter().enumerate() {
        let mut p = Player::new(snap, evs, with);
        for slot in timings[pass].iter_mut() {
            let t0 = Instant::now();
            p.step();
            *slot = t0.elapsed().as_nanos() as f64;
        }
    }
    eprintln!("features: added cost per event (ns, paired with/without, {n} events)");
    for (name, kind) in [
        ("all", None),
        ("diff", Some(0)),
        ("trade", Some(1)),
        ("bookTicker", Some(2)),
    ] {
        let mut d: Vec<f64> = (0..n)
            .filter(|&i| {
                kind.is_none_or(|k| {
                    k == match &evs[i] {
                        Ev::Diff(_) => 0,
                        Ev::Trade(_) => 1,
                        Ev::Ticker(_) => 2,
                    }
                })
            })
            .map(|i| timings[1][i] - timings[0][i])
            .collect();
        d.sort_by(f64::total_cmp);
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        eprintln!(
            "  {name:>10}: median {:>6.0}  p90 {:>6.0}  mean {:>6.0}  ({} events)",
            d[d.len() / 2],
            d[d.len() * 9 / 10],
            mean,
            d.len()
        );
    }
}

fn bench_features(c: &mut Criterion) {
    let (snap, evs) = stream();
    assert!(evs.len() > 99_000, "{}", evs.len());
    // The stream really syncs and the features come alive.
    {
        let mut p = Player::new(&snap, &evs, true);
        for _ in 0..evs.len() - 1 {
            p.step();
        }
        let f = p.features.as_ref().expect("features");
        assert!(f.vector().window_valid(2) && f.vector().book_valid());
        assert!(!p.book.is_crossed());
    }
    per_kind_table(&snap, &evs);

    let mut g = c.benchmark_group("features");
    g.throughput(Throughput::Elements(1));
    // The features alone: each sample runs the same events through a player with features and
    // one without (kept in step), and reports the difference. Book application cancels out.
    {
        let mut with = Player::new(&snap, &evs, true);
        let mut without = Player::new(&snap, &evs, false);
        g.bench_function("per_event_features_only", |b| {
            b.iter_custom(|iters| {
                let t0 = Instant::now();
                for _ in 0..iters {
                    with.step();
                    black_box(with.features.as_ref().map(|f| f.vector().ts_ns()));
                }
                let a = t0.elapsed();
                let t1 = Instant::now();
                for _ in 0..iters {
                    without.step();
                    black_box(without.features.is_some());
                }
                a.saturating_sub(t1.elapsed())
            })
        });
    }
    for (name, with) in [("per_event_all", true), ("per_event_book_only", false)] {
        let mut p = Player::new(&snap, &evs, with);
        g.bench_function(name, |b| {
            b.iter(|| {
                p.step();
                black_box(p.features.as_ref().map(|f| f.vector().ts_ns()))
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
    let source = || -> Vec<Box<dyn FrameSource + Send>> {
        vec![Box::new(HftSource::from_reader(
            "btcusdt_20240808+09",
            Box::new(bytes),
            Symbol::new(b"BTCUSDT"),
        ))]
    };
    let mut g = c.benchmark_group("replay");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(frames));
    for (name, features) in [
        ("spot_capture_features", Some(FeatureParams::default())),
        ("spot_capture_books_only", None),
    ] {
        let opts = ReplayOptions {
            strict: true,
            features,
            ..ReplayOptions::default()
        };
        let out = replay_sources(source(), &opts).expect("replays");
        let st = &out.engine.symbols()[0];
        assert_eq!(st.sync.counters().applied, 6_493);
        assert_eq!(st.features().is_some(), features.is_some());
        g.bench_function(name, |b| {
            b.iter(|| {
                let out = replay_sources(source(), &opts).expect("replay");
                black_box(out.engine.stats.frames)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_features, bench_replay);
criterion_main!(benches);
