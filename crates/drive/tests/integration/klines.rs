//! The context history of a live session against the local exchange (real sockets on
//! 127.0.0.1:0): seeded from the exchange's klines within seconds of the start, refilled by a
//! fetch after a gap longer than the model carries forward, recorded so that a replay of the
//! recording is ready from its first second; and a replay seeded from a kline file with no
//! look-ahead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use microstate_config::{Config, EndpointsConfig};
use microstate_core::num::Symbol;
use microstate_core::summary::{LiveReport, SymbolSummary};
use microstate_drive::live::{self, LiveOptions, LiveOutcome};
use microstate_drive::recording::Recording;
use microstate_drive::replay::{Player, PlayerOptions, Poll, load_models, seed_from_klines};
use microstate_drive::shutdown::Stop;
use microstate_exchange::klines::{SymbolKlines, load_files, synthetic_history_for};
use microstate_exchange::synthetic::{HISTORY_MINUTES, SyntheticConfig, SyntheticSource};
use microstate_exchange::{ExchangeConfig, ExchangeSource, Speed, parse_fault};
use microstate_io::ingest::IngestStats;
use microstate_testkit::workspace_root;

fn btc() -> Symbol {
    Symbol::new(b"BTCUSDT").expect("symbol")
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

/// The bundled real capture excerpt (2024-08-08 23:54:13 → 23:55:07 UTC, spot BTCUSDT).
fn demo_capture() -> PathBuf {
    workspace_root().join("assets/demo/btcusdt_20240808-excerpt.gz")
}

/// A kline CSV file (the format `eval --context-data` and `exchange --klines` read).
fn write_csv(path: &Path, k: &SymbolKlines) {
    let mut f = std::fs::File::create(path).expect("create csv");
    writeln!(f, "open_time_ms,open,high,low,close,volume").expect("write");
    for r in &k.klines {
        writeln!(
            f,
            "{},{},{},{},{},{}",
            r.open_time_ms, r.open, r.high, r.low, r.close, r.volume
        )
        .expect("write");
    }
}

/// A client for the local exchange at `handle`, with the shipped models and test timings.
fn client(h: &microstate_exchange::ExchangeHandle) -> Config {
    let mut cfg = Config {
        endpoints: EndpointsConfig::local(&h.ws_base(), &h.rest_base()),
        ..Config::default()
    };
    cfg.models.dir = workspace_root().join("models").display().to_string();
    cfg.connection.backoff_initial = Duration::from_millis(100);
    cfg.connection.backoff_max = Duration::from_secs(1);
    cfg.snapshot.retry_min = Duration::from_millis(200);
    cfg.snapshot.retry_max = Duration::from_secs(2);
    cfg
}

async fn run_for(opts: LiveOptions, d: Duration) -> LiveOutcome {
    let stop = Stop::new();
    let session = live::run(opts, stop.shutdown().or_after(Some(d)));
    session.await
}

fn context(outcome: &LiveOutcome) -> serde_json::Value {
    let st = outcome.engine.symbol(btc()).expect("BTCUSDT");
    serde_json::to_value(SymbolSummary::of(st)).expect("json")["models"]["context"].clone()
}

fn klines(r: &LiveReport) -> serde_json::Value {
    serde_json::to_value(r).expect("json")["klines"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_is_ready_from_the_exchange_klines_and_its_recording_replays_ready() {
    let dir = tmp("klines-live");
    // Klines of the capture's time: none real exist (see assets/demo/README.md), so a file of
    // a synthetic walk ending at the capture's first mid, 400 minutes, served from the file.
    let source = ExchangeSource::Captures(vec![demo_capture()]);
    let history = synthetic_history_for(&source, 400, 5).expect("history");
    let csv = dir.join("prices.csv");
    write_csv(&csv, &history[0]);
    let mut x = ExchangeConfig::new(source);
    x.speed = Speed::Factor(1.0);
    x.klines = load_files(&[format!("BTCUSDT={}", csv.display())]).expect("kline file");
    let h = microstate_exchange::start(x).await.expect("exchange");

    let cfg = client(&h);
    let models = load_models(&cfg);
    assert!(
        models.context.is_ok(),
        "{:?}",
        models.context.as_ref().err()
    );
    let rec = dir.join("session.msrec");
    let header = microstate_io::record::format::Header {
        journal: true,
        ..microstate_io::record::format::Header::new(
            "spot",
            vec!["BTCUSDT".into()],
            vec![],
            serde_json::Value::Null,
            0,
        )
    };
    let stats = Arc::new(IngestStats::default());
    let mut opts = LiveOptions::new(cfg, vec![btc()]);
    opts.models = Some(models.clone());
    opts.stats = Some(stats.clone());
    opts.recording = Some(Recording::start(&rec, &header, Default::default()).expect("rec"));
    let t0 = Instant::now();
    let out = run_for(opts, Duration::from_secs(4)).await;
    let served = h.stats().klines_served;
    h.shutdown().await;

    let c = context(&out);
    assert_eq!(c["state"], "ready", "{c}");
    assert_eq!(c["history_minutes"], 240, "{c}");
    assert_eq!(c["restarts"], 0, "{c}");
    let k = klines(&out.report);
    let ready_s = k["context_ready_after_s"]
        .as_f64()
        .expect("ready at some point");
    eprintln!(
        "time to a ready context, live against the local exchange serving a kline file: {ready_s:.3} s \
         (session {:.1} s; {k})",
        t0.elapsed().as_secs_f64()
    );
    assert!(ready_s < 2.0, "ready after {ready_s} s");
    assert!(served >= 1 && k["answers"].as_u64() >= Some(1), "{k}");
    assert_eq!(k["errors"], 0, "{k}");
    assert!(
        out.report.snapshots_ok >= 1,
        "the book synced beside the klines"
    );

    // The recording holds the kline answer: its replay is ready from its first second.
    let ends = out.recordings;
    assert_eq!(ends.len(), 1);
    let mut p = Player::open(
        std::slice::from_ref(&ends[0].path),
        PlayerOptions {
            models: Some(models),
            batch: 1,
            ..PlayerOptions::default()
        },
    )
    .expect("open the recording");
    let first = p.first_time().expect("read").expect("a first frame").0;
    let mut ready_at = None;
    while let Poll::Fed(_) = p.poll(0).expect("poll") {
        let Some(sig) = p.engine().symbol(btc()).and_then(|s| s.signals.as_deref()) else {
            continue;
        };
        if sig.context_state().is_ready() {
            let pos = p.status().position.expect("position").0;
            ready_at = Some(pos.saturating_sub(first));
            let st = p.engine().symbol(btc()).expect("BTCUSDT");
            let sum = serde_json::to_value(SymbolSummary::of(st)).expect("json");
            assert_eq!(sum["models"]["context"]["state"], "ready");
            assert_eq!(sum["models"]["context"]["history_minutes"], 240);
            break;
        }
    }
    let ready_at = ready_at.expect("the replay's context became ready");
    eprintln!(
        "replay of the recording: context ready {:.3} s of recorded time after its first frame",
        ready_at as f64 / 1e9
    );
    assert!(
        ready_at < 1_000_000_000,
        "ready {ready_at} ns into the replay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_longer_than_the_model_carries_is_refilled_by_a_fetch() {
    use microstate_core::ml::context::Origin;
    // The synthetic market runs on its own clock (from 2024-01-01), 60 times faster than ours:
    // a few seconds of silence on the socket are minutes of market time.
    let src = SyntheticSource::new(SyntheticConfig::new(11, vec![btc()]));
    let history = src.history_klines(HISTORY_MINUTES);
    let mut x = ExchangeConfig::new(ExchangeSource::Sources(vec![Box::new(src)]));
    x.speed = Speed::Factor(60.0);
    x.faithful_snapshots = false;
    x.klines = history;
    // Every open socket goes silent after about two minutes of market time (~45 frames a
    // market second); the client replaces it once its symbol has been stale for
    // `stale_reconnect_after` (4.5 s of ours: 4.5 minutes of market time without a frame).
    x.faults = vec![parse_fault("silent@6000").expect("fault")];
    let h = microstate_exchange::start(x).await.expect("exchange");
    let mut cfg = client(&h);
    cfg.models.context.max_gap_fill = Duration::from_secs(60);
    cfg.connection.stale_after = Duration::from_millis(500);
    cfg.connection.stale_reconnect_after = Duration::from_secs(4);
    // The exchange's clock, from its time endpoint, while the socket is silent.
    cfg.clock.probe_every = Duration::from_millis(200);
    let models = load_models(&cfg);
    assert_eq!(models.max_gap_fill_min, 1);
    let mut opts = LiveOptions::new(cfg, vec![btc()]);
    opts.models = Some(models);
    let out = run_for(opts, Duration::from_secs(11)).await;
    h.shutdown().await;

    let c = context(&out);
    let k = klines(&out.report);
    let sig = out
        .engine
        .symbol(btc())
        .and_then(|s| s.signals.as_deref())
        .expect("signals");
    // Minute (of the day) and origin of every minute after the first live one.
    let after: Vec<(i64, Origin)> = sig
        .context_state()
        .minutes()
        .map(|(t, _, o)| (t / 60_000 % 1440, o))
        .skip_while(|&(_, o)| o != Origin::Live)
        .collect();
    eprintln!("after the gap: minutes since the first live one {after:?}; klines {k}");
    assert!(out.report.stale_events >= 1, "the socket went silent");
    assert_eq!(c["state"], "ready", "{c}");
    assert_eq!(c["restarts"], 0, "the gap was refilled, not a restart: {c}");
    // The silent minutes came from fetches: more of them in a row than the model carries
    // forward (1), between live minutes. (At 60× a minute is a second of ours: the last one
    // before the stream returns may still be carried forward, which the model allows.)
    let origins: Vec<Origin> = after.iter().map(|m| m.1).collect();
    let longest_fetched = origins
        .split(|&o| o != Origin::Fetched)
        .map(<[Origin]>::len)
        .max()
        .unwrap_or(0);
    assert!(longest_fetched >= 2, "{after:?}");
    assert_eq!(
        origins.last(),
        Some(&Origin::Live),
        "the stream came back: {after:?}"
    );
    assert!(k["requests"].as_u64() >= Some(2), "{k}");
    assert_eq!(k["errors"], 0, "{k}");
}

#[test]
fn a_replay_is_seeded_only_with_minutes_over_before_its_first_frame() {
    let dir = tmp("klines-replay");
    let source = ExchangeSource::Captures(vec![demo_capture()]);
    let mut k = synthetic_history_for(&source, 250, 9)
        .expect("history")
        .remove(0);
    // Ten more minutes after the capture's start: none may be used.
    let last = *k.klines.last().expect("klines");
    for i in 1..=10u64 {
        let mut n = last;
        n.open_time_ms += i * 60_000;
        n.close_time_ms += i * 60_000;
        n.close = microstate_core::num::Price(n.close.0 * 2);
        k.klines.push(n);
    }
    let csv = dir.join("BTCUSDT_1m.csv");
    write_csv(&csv, &k);
    let series = microstate_io::record::klines::read_klines(&csv).expect("read");
    let mut cfg = Config::default();
    cfg.models.dir = workspace_root().join("models").display().to_string();
    let mut p = Player::open(
        &[demo_capture()],
        PlayerOptions {
            models: Some(load_models(&cfg)),
            ..PlayerOptions::default()
        },
    )
    .expect("open");
    let seed = seed_from_klines(&mut p, btc(), &series)
        .expect("seed")
        .expect("frames");
    assert_eq!(seed.used, 250, "{seed:?}");
    assert_eq!(seed.after_start, 10, "{seed:?}");
    assert!(seed.last_minute_ms.expect("last") <= seed.first_frame_ms);
    assert!(seed.outcome.ready);
    while p.poll(0).expect("poll") != Poll::Done {}
    let st = p.engine().symbol(btc()).expect("BTCUSDT");
    let s = serde_json::to_value(SymbolSummary::of(st)).expect("json");
    let c = &s["models"]["context"];
    assert_eq!(c["state"], "ready", "{c}");
    assert_eq!(c["seeded_minutes"], 250, "{c}");
    assert_eq!(c["restarts"], 0, "{c}");
    // The live minute 23:55 followed the seeded 23:54 (the doubled prices after the start
    // would have moved the trend far off had they been used).
    let sig = st.signals.as_deref().expect("signals");
    let closes: Vec<f64> = sig.context_state().minutes().map(|m| m.1).collect();
    let top = closes.iter().cloned().fold(0.0, f64::max);
    assert!(
        top < 1.5 * closes[0],
        "no doubled price from after the start: {top}"
    );
}
