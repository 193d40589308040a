//! Publishing a `View`: what a driver pays per view, from an engine that has replayed the whole
//! real spot capture (`../shared/data/binance-spot`, both day files), so every symbol's history
//! is full (1,440 mid samples, 600 trades, 480 heatmap columns).
//!
//! - `publish/view`: one whole view (top 60 levels per side copied, features and models read,
//!   the history shared).
//! - `publish/history_clone`: cloning one symbol's history (what every publish did before the
//!   engine shared it; now also what the engine's copy-on-write pays when a view still holds
//!   the history it writes to).
//! - `publish/history_write_after_publish`: the engine adding one trade to a history a view
//!   holds (`Arc::make_mut`: the clone above plus the push).
//!
//! Run: `cargo bench -p microstate-drive --bench publish`.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use microstate_core::engine::history::TradeMark;
use microstate_drive::publish::{self, Extras, Stamp};
use microstate_drive::replay::{ReplayOptions, replay_paths};

fn spot_files() -> Vec<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/binance-spot");
    assert!(
        d.is_dir(),
        "{} not found: the benchmark replays the real spot capture",
        d.display()
    );
    vec![d.join("btcusdt_20240808.gz"), d.join("btcusdt_20240809.gz")]
}

fn bench(c: &mut Criterion) {
    let out = replay_paths(&spot_files(), &ReplayOptions::default()).expect("replay");
    let engine = out.engine;
    let st = &engine.symbols()[0];
    let h = &st.history;
    assert_eq!(
        (h.samples.len(), h.trades.len(), h.columns.len()),
        (1_440, 600, 480),
        "a full history"
    );
    let mut g = c.benchmark_group("publish");
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("view", |b| {
        b.iter(|| black_box(publish::view(&engine, Extras::default(), Stamp::default())))
    });
    g.bench_function("history_clone", |b| {
        b.iter(|| black_box((**black_box(h)).clone()))
    });
    let mark = TradeMark {
        t_ns: u64::MAX,
        price: 61_000.0,
        qty: 0.1,
        buy: true,
        trade_ms: 0,
        price_exact: microstate_core::num::Price(6_100_000_000_000),
    };
    g.bench_function("history_write_after_publish", |b| {
        b.iter_batched(
            || (Arc::clone(h), Arc::clone(h)),
            |(held_by_view, mut engines)| {
                Arc::make_mut(&mut engines).trades.push_capped(600, mark);
                (held_by_view, engines)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
