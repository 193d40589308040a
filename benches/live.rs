//! Loopback end-to-end: the local exchange serves the real spot capture at full speed and the
//! live client syncs from it. Reports messages/s, and the latency our client adds from a frame's
//! receive time to its book being applied (p50/p99/max, from the run's HDR histogram).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use microstate::config::{Config, EndpointsConfig};
use microstate::exchange::{self, ExchangeConfig, ExchangeSource, Speed};
use microstate::ingest::IngestStats;
use microstate::ingest::live::{self, LiveOptions};
use microstate::num::Symbol;

fn spot_files() -> Vec<std::path::PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/binance-spot");
    assert!(
        d.is_dir(),
        "{} not found: benchmarks read the real captures from ../shared/data",
        d.display()
    );
    vec![d.join("btcusdt_20240808.gz"), d.join("btcusdt_20240809.gz")]
}

/// One full session; returns (frames received, elapsed, p50, p99, max latency in ns).
async fn session() -> (u64, Duration, u64, u64, u64) {
    let mut x = ExchangeConfig::new(ExchangeSource::Captures(spot_files()));
    x.speed = Speed::Max;
    let handle = exchange::start(x).await.expect("exchange");
    let cfg = Config {
        endpoints: EndpointsConfig::local(&handle.ws_base(), &handle.rest_base()),
        ..Config::default()
    };
    let stats = Arc::new(IngestStats::default());
    let mut opts = LiveOptions::new(cfg, vec![Symbol::new(b"BTCUSDT").expect("symbol")]);
    opts.stats = Some(stats.clone());
    let start = Instant::now();
    let stop = async {
        handle.finished().await;
        loop {
            let sent: u64 = handle
                .stats()
                .connections
                .iter()
                .map(|c| c.frames_sent)
                .sum();
            if stats.frames.load(Ordering::Relaxed) >= sent {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    let out = live::run(opts, stop).await;
    let elapsed = start.elapsed();
    handle.shutdown().await;
    let l = &out.report.apply_latency_ns;
    (out.report.frames_received, elapsed, l.p50, l.p99, l.max)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (frames, elapsed, p50, p99, max) = rt.block_on(session());
    eprintln!(
        "loopback: {frames} frames in {:.3} s = {:.0} msg/s; receive→applied p50 {p50} ns, p99 {p99} ns, max {max} ns",
        elapsed.as_secs_f64(),
        frames as f64 / elapsed.as_secs_f64()
    );
    let mut g = c.benchmark_group("live");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(frames));
    g.bench_function("loopback_spot_capture", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(session()).1;
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
