//! WebSocket fan-out: the demo's session (the local exchange serving the bundled real BTCUSDT
//! capture at 1×, looped, on its own thread; the live client, the engine and the API on one
//! current-thread runtime, as in the binary) with 0 and then 100 stream clients (all channels,
//! defaults) on a third thread. Prints messages/s delivered, trade latency engine → client
//! (p50/p99/max: the driver's hand-off to the client having parsed the message) and the
//! engine thread's CPU with and without the clients (that thread also runs the API: its cost
//! is the fan-out's). Then criterion times one client's share of the work: shaping a book
//! message.
//!
//! `cargo bench -p microstate-api --bench fanout` (`FANOUT_CLIENTS`, `FANOUT_SECS` override
//! the 100 clients and 10 s windows).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::StreamExt;
use microstate_api::ApiOptions;
use microstate_config::{ApiConfig, Config, EndpointsConfig};
use microstate_core::num::Symbol;
use microstate_core::view::{Source, View};
use microstate_drive::live::{self, LiveOptions};
use microstate_drive::publish::Publisher;
use microstate_drive::shutdown::Stop;
use microstate_exchange::{ExchangeConfig, ExchangeSource, Speed};
use tokio::sync::{mpsc, oneshot, watch};

/// User + system CPU time of the calling thread (from /proc, clock ticks → s).
fn thread_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 14th field.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    ticks as f64 / 100.0
}

/// What the stream clients saw.
#[derive(Default)]
struct Seen {
    messages: AtomicU64,
    trades: AtomicU64,
    latency: Mutex<Option<hdrhistogram::Histogram<u64>>>,
}

/// One client: counts messages, and records engine → client latency of each trade.
async fn client(addr: SocketAddr, seen: Arc<Seen>, mut stop: watch::Receiver<bool>) {
    let url = format!("ws://{addr}/v1/stream?symbols=btcusdt");
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await else {
        return;
    };
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3)
        .expect("histogram");
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            m = ws.next() => {
                let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = m else { break };
                seen.messages.fetch_add(1, Ordering::Relaxed);
                let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("JSON");
                if v["channel"] == "trades" {
                    let now = microstate_io::ingest::now_nanos().0;
                    let sent = v["data"]["engine_ns"].as_u64().unwrap_or(now);
                    h.saturating_record(now.saturating_sub(sent).max(1_000));
                    seen.trades.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    if let Ok(mut l) = seen.latency.lock() {
        match l.as_mut() {
            Some(all) => {
                let _ = all.add(&h);
            }
            None => *l = Some(h),
        }
    }
}

/// A measuring window's request to the engine thread: its CPU time now.
type Probe = oneshot::Sender<(f64, u64)>;

fn figures() {
    let n: usize = std::env::var("FANOUT_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let secs: u64 = std::env::var("FANOUT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let capture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/demo/btcusdt_20240808-excerpt.gz");

    // The exchange, on its own thread.
    let (xaddr_tx, xaddr_rx) = std::sync::mpsc::channel::<(String, String)>();
    let xstop = Stop::new();
    let mut xs = xstop.shutdown();
    let exchange = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut x = ExchangeConfig::new(ExchangeSource::Captures(vec![capture]));
            x.speed = Speed::Factor(1.0);
            x.looped = true;
            let h = microstate_exchange::start(x).await.expect("exchange");
            let _ = xaddr_tx.send((h.ws_base(), h.rest_base()));
            xs.recv().await;
            h.shutdown().await;
        });
    });
    let (ws, rest) = xaddr_rx.recv().expect("exchange address");

    // The engine and the API, on one thread (the binary's "engine" thread).
    let (api_tx, api_rx) = std::sync::mpsc::channel::<(SocketAddr, watch::Receiver<Arc<View>>)>();
    let (probe_tx, mut probe_rx) = mpsc::channel::<Probe>(4);
    let stop = Stop::new();
    let session_stop = stop.shutdown();
    let engine = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let cfg = Config {
                endpoints: EndpointsConfig::local(&ws, &rest),
                ..Config::default()
            };
            let (vtx, vrx) = watch::channel(Arc::new(View::default()));
            let events = microstate_api::event_channel(&cfg.api);
            let publisher = Publisher::new(vtx, Duration::from_millis(33), Source::None)
                .with_events(events.clone());
            let opts = ApiOptions {
                addr: "127.0.0.1:0".parse().expect("addr"),
                token: None,
                cfg: ApiConfig::default(),
            };
            let api = microstate_api::start(opts, vrx.clone(), events, session_stop.clone())
                .await
                .expect("api");
            let _ = api_tx.send((api.addr, vrx));
            tokio::spawn(async move {
                while let Some(p) = probe_rx.recv().await {
                    let _ = p.send((thread_cpu_s(), 0));
                }
            });
            let symbols = vec![Symbol::new(b"BTCUSDT").expect("symbol")];
            live::run_with(
                LiveOptions::new(cfg, symbols),
                None,
                Some(publisher),
                session_stop,
            )
            .await;
            api.join().await;
        });
    });
    let (addr, mut views) = api_rx.recv().expect("api address");

    let crt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    crt.block_on(async {
        let synced = views.wait_for(|v| {
            v.symbols
                .first()
                .is_some_and(|s| s.phase == microstate_core::book::sync::Phase::Synced)
        });
        tokio::time::timeout(Duration::from_secs(120), synced)
            .await
            .expect("synced within 2 min")
            .expect("views");
        let cpu = || async {
            let (tx, rx) = oneshot::channel();
            probe_tx.send(tx).await.expect("probe");
            rx.await.expect("cpu").0
        };
        let window = |label: &'static str, seen: Option<Arc<Seen>>| {
            let views = views.clone();
            async move {
                let (c0, f0, t0) = (cpu().await, views.borrow().frames, Instant::now());
                let m0 = seen
                    .as_ref()
                    .map_or(0, |s| s.messages.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_secs(secs)).await;
                let dt = t0.elapsed().as_secs_f64();
                let (c1, f1) = (cpu().await, views.borrow().frames);
                let m1 = seen
                    .as_ref()
                    .map_or(0, |s| s.messages.load(Ordering::Relaxed));
                eprintln!(
                    "{label}: engine+API thread CPU {:.1} % of a core, {:.0} frames/s, {:.0} \
                     messages/s delivered",
                    100.0 * (c1 - c0) / dt,
                    (f1 - f0) as f64 / dt,
                    (m1 - m0) as f64 / dt
                );
            }
        };
        window("no stream clients", None).await;
        let seen = Arc::new(Seen::default());
        let (stop_tx, stop_rx) = watch::channel(false);
        let clients: Vec<_> = (0..n)
            .map(|_| tokio::spawn(client(addr, Arc::clone(&seen), stop_rx.clone())))
            .collect();
        tokio::time::sleep(Duration::from_secs(2)).await;
        window(
            if n == 100 {
                "100 stream clients"
            } else {
                "stream clients"
            },
            Some(Arc::clone(&seen)),
        )
        .await;
        let _ = stop_tx.send(true);
        for c in clients {
            let _ = c.await;
        }
        let l = seen.latency.lock().expect("lock");
        if let Some(h) = l.as_ref() {
            eprintln!(
                "{n} clients: {} trades received; engine → client latency p50 {:.0} µs, p99 {:.0} \
                 µs, max {:.0} µs",
                seen.trades.load(Ordering::Relaxed),
                h.value_at_quantile(0.5) as f64 / 1e3,
                h.value_at_quantile(0.99) as f64 / 1e3,
                h.max() as f64 / 1e3
            );
        }
    });
    stop.stop();
    xstop.stop();
    let _ = engine.join();
    let _ = exchange.join();
}

fn bench(c: &mut Criterion) {
    figures();
    // One client's share of a book tick: shaping and serializing the top 10 levels.
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../assets/demo/btcusdt_20240808-excerpt.gz"),
    )
    .expect("the demo capture");
    let mut text = String::new();
    flate2_read(&bytes, &mut text);
    let mut engine = microstate_core::engine::Engine::new(Default::default());
    for line in text.lines() {
        if let Some((ts, json)) = line.split_once(' ') {
            let _ = engine.on_frame(microstate_core::engine::RawFrame {
                recv: microstate_core::num::Nanos(ts.parse().unwrap_or(0)),
                bytes: json.as_bytes(),
                symbol_hint: Some(Symbol::new(b"BTCUSDT").expect("symbol")),
            });
        }
    }
    let sv = microstate_core::view::symbol_view(&engine.symbols()[0], false);
    c.bench_function("stream_book_message_depth10", |b| {
        b.iter(|| {
            let v = microstate_api::shape::book(std::hint::black_box(&sv), 10);
            std::hint::black_box(v.to_string())
        })
    });
}

/// Inflates the gzip capture.
fn flate2_read(bytes: &[u8], out: &mut String) {
    use std::io::Read;
    let _ = flate2::read::MultiGzDecoder::new(bytes).read_to_string(out);
}

criterion_group!(benches, bench);
criterion_main!(benches);
