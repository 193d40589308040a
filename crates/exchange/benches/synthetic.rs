//! Throughput of the seeded synthetic market: frames generated and rendered to Binance JSON per
//! second (what bounds the local exchange's `--synthetic` source, and the tests that drive it).
//!
//! Each iteration is a fresh source (built outside the timing) advanced 10,000 frames: the same
//! seed gives the same bytes, so elements and bytes per iteration are exact. The first frames
//! are each symbol's REST snapshot, as a client would see them first.
//!
//! Run with `cargo bench -p microstate-exchange --bench synthetic` (release profile `bench`).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use microstate_core::market::Market;
use microstate_core::num::Symbol;
use microstate_exchange::synthetic::{SyntheticConfig, SyntheticSource};
use microstate_io::record::FrameSource;

const FRAMES: u64 = 10_000;

fn symbols(names: &[&str]) -> Vec<Symbol> {
    names
        .iter()
        .map(|s| Symbol::new(s.as_bytes()).unwrap_or_else(|| panic!("bad symbol {s}")))
        .collect()
}

/// Advances `n` frames; the total body bytes (so the rendering cannot be optimised away).
fn run(src: &mut SyntheticSource, n: u64) -> u64 {
    let mut bytes = 0;
    for _ in 0..n {
        assert!(
            src.advance().expect("advance"),
            "the synthetic market ended"
        );
        bytes += src.current().body().len() as u64;
    }
    bytes
}

fn synthetic(c: &mut Criterion) {
    let cases = [
        (
            "spot_3_symbols",
            SyntheticConfig::new(1, symbols(&["BTCUSDT", "ETHUSDT", "SOLUSDT"])),
        ),
        ("usdm_2_symbols", {
            let mut cfg = SyntheticConfig::new(1, symbols(&["BTCUSDT", "ETHUSDT"]));
            cfg.market = Market::UsdM;
            cfg
        }),
    ];
    let mut g = c.benchmark_group("synthetic");
    for (name, cfg) in cases {
        let bytes = run(&mut SyntheticSource::new(cfg.clone()), FRAMES);
        g.throughput(Throughput::ElementsAndBytes {
            elements: FRAMES,
            bytes,
        });
        g.bench_function(name, |b| {
            b.iter_batched(
                || SyntheticSource::new(cfg.clone()),
                |mut src| black_box(run(&mut src, FRAMES)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, synthetic);
criterion_main!(benches);
