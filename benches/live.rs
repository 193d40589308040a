//! Loopback end-to-end: the local exchange (on its own thread and runtime, like a remote server)
//! serves the real spot capture, and the live client syncs from it. Reports messages/s at full
//! speed, and the latency our client adds from a frame's receive time to its book being applied
//! (p50/p90/p99/max from the run's HDR histogram), both at full speed (queueing included) and
//! paced (the capture at 50× real time: what a live session sees).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

mod common;

use common::spot_files;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use microstate::config::{Config, EndpointsConfig};
use microstate_core::latency::Percentiles;
use microstate_core::num::Symbol;
use microstate_drive::live::{self, LiveOptions};
use microstate_drive::shutdown::Stop;
use microstate_exchange::{self, ExchangeConfig, ExchangeSource, Speed};
use microstate_io::ingest::IngestStats;

struct Run {
    frames: u64,
    elapsed: Duration,
    latency: Percentiles,
}

/// One full session; the exchange runs on its own thread.
fn session(rt: &tokio::runtime::Runtime, speed: f64) -> Run {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<(String, String)>();
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel::<u64>();
    let (quit_tx, quit_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let xrt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("exchange runtime");
        xrt.block_on(async move {
            let mut x = ExchangeConfig::new(ExchangeSource::Captures(spot_files()));
            x.speed = if speed == 0.0 {
                Speed::Max
            } else {
                Speed::Factor(speed)
            };
            let handle = microstate_exchange::start(x).await.expect("exchange");
            let _ = addr_tx.send((handle.ws_base(), handle.rest_base()));
            handle.finished().await;
            let sent = handle
                .stats()
                .connections
                .iter()
                .map(|c| c.frames_sent)
                .sum();
            let _ = sent_tx.send(sent);
            let _ = quit_rx.await;
            handle.shutdown().await;
        });
    });
    let (ws, rest) = addr_rx.recv().expect("exchange address");
    let cfg = Config {
        endpoints: EndpointsConfig::local(&ws, &rest),
        ..Config::default()
    };
    let stats = Arc::new(IngestStats::default());
    let mut opts = LiveOptions::new(cfg, vec![Symbol::new(b"BTCUSDT").expect("symbol")]);
    opts.stats = Some(stats.clone());
    let start = Instant::now();
    let stop = Stop::new();
    let until = async {
        let sent = sent_rx.await.unwrap_or(0);
        while stats.frames.load(Ordering::Relaxed) < sent {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        stop.stop();
    };
    let (out, ()) = rt.block_on(async { tokio::join!(live::run(opts, stop.shutdown()), until) });
    let elapsed = start.elapsed();
    let _ = quit_tx.send(());
    let _ = server.join();
    Run {
        frames: out.report.frames_received,
        elapsed,
        latency: out.report.apply_latency_ns,
    }
}

fn show(what: &str, r: &Run) {
    let l = r.latency;
    eprintln!(
        "{what}: {} frames in {:.3} s = {:.0} msg/s; receive→applied p50 {} ns, p90 {} ns, p99 {} ns, max {} ns",
        r.frames,
        r.elapsed.as_secs_f64(),
        r.frames as f64 / r.elapsed.as_secs_f64(),
        l.p50,
        l.p90,
        l.p99,
        l.max
    );
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    show("loopback, full speed", &session(&rt, 0.0));
    show("loopback, paced at 50x real time", &session(&rt, 50.0));
    let frames = session(&rt, 0.0).frames;
    let mut g = c.benchmark_group("live");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(frames));
    g.bench_function("loopback_spot_capture", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| session(&rt, 0.0).elapsed).sum())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
