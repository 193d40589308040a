//! The live client against the project's local Binance-compatible exchange on 127.0.0.1:0, fed
//! with real captures: the books it ends with equal the P1 replay of the same capture, with and
//! without faults injected (one test per fault), and it says plainly when there is no network.
//!
//! Nothing here waits on the wall clock to decide an outcome. A session against a finite
//! capture stops at the end of the stream as both sides count it ([`end_of_stream`]: the
//! exchange's frames sent per connection against the frames the client took in, published on
//! its `View`); other sessions stop when their view shows what the test needs; back-off runs in
//! paused tokio time. Timeouts only guard against a hang, and fail with what was seen.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::common::*;
use microstate::config::{Config, EndpointsConfig};
use microstate_core::book::sync::Phase;
use microstate_core::engine::Engine;
use microstate_core::market::Market;
use microstate_core::num::Symbol;
use microstate_core::summary::SymbolSummary;
use microstate_core::view::{Source, View};
use microstate_drive::command::{Command, LiveEnd, Switch};
use microstate_drive::live::{self, LiveOptions, LiveOutcome};
use microstate_drive::publish::Publisher;
use microstate_drive::recording::{RecordSetup, Recording};
use microstate_drive::replay::{ReplayOptions, replay_paths};
use microstate_drive::shutdown::{Shutdown, Stop};
use microstate_exchange::{
    self, ExchangeConfig, ExchangeHandle, ExchangeSource, ExchangeStats, Speed,
};
use microstate_io::ingest::IngestStats;
use tokio::sync::watch;

pub(crate) fn btc() -> Symbol {
    Symbol::new(b"BTCUSDT").expect("symbol")
}

/// A publisher for a session and the end to watch its views from, as the screen does (at the
/// screen's default rate: each view shares the histories, so the engine copies one on its next
/// write; publishing much faster than a screen would slow the client down).
fn views() -> (Publisher, watch::Receiver<Arc<View>>) {
    let (tx, rx) = watch::channel(Arc::new(View::default()));
    let every = Duration::from_secs(1) / Config::default().ui.fps.max(1);
    (Publisher::new(tx, every, Source::None), rx)
}

/// Runs a session (taking commands from `screen`, if given, publishing to `views`) until
/// `until` resolves.
async fn run_until(
    opts: LiveOptions,
    screen: Option<LiveEnd>,
    views: Publisher,
    until: impl std::future::Future<Output = ()>,
) -> LiveOutcome {
    let _turn = live_turn().await;
    let stop = Stop::new();
    let session = live::run_with(opts, screen, Some(views), stop.shutdown());
    let until = async {
        until.await;
        stop.stop();
    };
    tokio::join!(session, until).0
}

/// The path and query of a URL (`/stream?streams=…`), as the exchange records it.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("", |i| &rest[i..])
}

/// Whether the client has taken in everything the exchange sent: every path the exchange
/// served is read by a primary connection, and every connection the client reads has taken
/// exactly the text frames the exchange wrote to it (market data plus injected frames). The
/// client's n-th connection of a URL is the exchange's n-th of that path: a slot opens its
/// connections one after the other.
fn taken_in_everything(v: &View, x: &ExchangeStats) -> bool {
    let served = x.connections.iter().all(|c| {
        v.connections
            .iter()
            .any(|r| !r.pending && path_of(&r.url) == c.path)
    });
    served
        && v.connections.iter().all(|r| {
            x.connections
                .iter()
                .filter(|c| c.path == path_of(&r.url))
                .nth(r.nth.saturating_sub(1) as usize)
                .is_some_and(|c| r.frames == c.frames_sent + c.injected_sent)
        })
}

/// Resolves at the end of the stream: once the exchange has written its whole (finite) source
/// to every socket and the client has taken in every frame of every connection it reads. Fails
/// after `guard` (a hang, not a slow machine) with what each side counted.
async fn end_of_stream(
    x: &ExchangeHandle,
    views: &mut watch::Receiver<Arc<View>>,
    guard: Duration,
) {
    let end = async {
        x.finished().await;
        views
            .wait_for(|v| taken_in_everything(v, &x.stats()))
            .await
            .map(|_| ())
    };
    match tokio::time::timeout(guard, end).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => panic!("the session stopped publishing views before the end of the stream"),
        Err(_) => panic!(
            "no end of stream within {guard:?}: the client read {:#?}, the exchange sent {:#?}",
            views.borrow().connections,
            x.stats().connections
        ),
    }
}

/// The first 20,000 lines of the real spot capture (~130 s of market time, snapshot included),
/// as a real file named like the collector's so the snapshot's symbol is known.
pub(crate) fn spot_excerpt() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live-excerpt");
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("btcusdt_20240808.txt");
        let mut f = std::fs::File::create(&p).expect("create");
        for l in gz_lines(&spot_files()).iter().take(20_000) {
            writeln!(f, "{l}").expect("write");
        }
        p
    })
    .clone()
}

/// Client settings tuned for tests: short back-off and stale limits (the defaults are minutes).
fn test_config(ws: &str, rest: &str, market: Market) -> Config {
    let mut cfg = Config {
        endpoints: EndpointsConfig::local(ws, rest),
        ..Config::default()
    };
    cfg.live.market = market;
    cfg.connection.backoff_initial = Duration::from_millis(100);
    cfg.connection.backoff_max = Duration::from_secs(1);
    cfg.connection.stale_after = Duration::from_millis(600);
    cfg.connection.stale_reconnect_after = Duration::from_millis(1500);
    cfg.snapshot.retry_min = Duration::from_millis(200);
    cfg.snapshot.retry_max = Duration::from_secs(2);
    // These tests compare the whole book with the replay's, every level deep: a resync
    // snapshot must carry all of them (the default 1000 levels would cut the far ones).
    cfg.snapshot.spot_limit = 5000;
    cfg
}

pub(crate) struct Case {
    files: Vec<PathBuf>,
    market: Market,
    pub(crate) speed: Speed,
    faults: Vec<&'static str>,
    tweak_exchange: fn(&mut ExchangeConfig),
    pub(crate) tweak_client: fn(&mut Config),
    /// Record the session to this file.
    record: Option<PathBuf>,
    /// Publish the session to NATS JetStream at this URL.
    pub(crate) bus_url: Option<String>,
}

impl Case {
    /// A whole capture at full speed, no faults.
    fn full(files: Vec<PathBuf>, market: Market) -> Case {
        Case {
            files,
            market,
            speed: Speed::Max,
            faults: vec![],
            tweak_exchange: |_| {},
            tweak_client: |_| {},
            record: None,
            bus_url: None,
        }
    }

    pub(crate) fn spot(faults: &[&'static str]) -> Case {
        Case {
            files: vec![spot_excerpt()],
            market: Market::Spot,
            speed: Speed::Factor(50.0),
            faults: faults.to_vec(),
            tweak_exchange: |_| {},
            tweak_client: |_| {},
            record: None,
            bus_url: None,
        }
    }
}

/// Runs the exchange and the client until the source is exhausted and the client has read
/// everything that reached it.
pub(crate) async fn run(case: Case) -> (LiveOutcome, ExchangeStats) {
    let _turn = live_turn().await;
    let mut xcfg = ExchangeConfig::new(ExchangeSource::Captures(case.files.clone()));
    xcfg.speed = case.speed;
    for f in &case.faults {
        xcfg.faults
            .push(microstate_exchange::parse_fault(f).expect("fault spec"));
    }
    (case.tweak_exchange)(&mut xcfg);
    let handle = microstate_exchange::start(xcfg)
        .await
        .expect("exchange starts");
    let mut cfg = test_config(&handle.ws_base(), &handle.rest_base(), case.market);
    (case.tweak_client)(&mut cfg);
    let mut opts = LiveOptions::new(cfg.clone(), vec![btc()]);
    if let Some(url) = &case.bus_url {
        opts.bus = Some(
            microstate_io::bus::BusPublisher::start(url, &cfg.nats, case.market)
                .await
                .expect("NATS publisher"),
        );
    }
    opts.recording = case.record.as_ref().map(|p| {
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
        let opts = microstate_io::record::writer::RecordOptions {
            flush_every: Duration::from_millis(200),
            queue: 1_000_000,
            ..Default::default()
        };
        Recording::start(p, &header, opts).expect("recording")
    });
    let (publisher, mut views) = views();
    let stop = end_of_stream(&handle, &mut views, Duration::from_secs(90));
    let outcome = tokio::time::timeout(
        Duration::from_secs(120),
        run_until(opts, None, publisher, stop),
    )
    .await
    .expect("the live run ends");
    let xstats = handle.stats();
    handle.shutdown().await;
    // The driver closed the recording it was given before returning.
    assert_eq!(outcome.recordings.len(), usize::from(case.record.is_some()));
    for r in &outcome.recordings {
        assert_eq!(
            r.stats.dropped.load(Ordering::Relaxed),
            0,
            "nothing dropped on the way to disk"
        );
        match &r.result {
            Some(Ok(())) => {}
            other => panic!("recording written: {other:?}"),
        }
    }
    (outcome, xstats)
}

pub(crate) fn replay_engine(files: &[PathBuf]) -> Engine {
    replay_paths(files, &ReplayOptions::default())
        .expect("replay")
        .engine
}

pub(crate) fn levels(e: &Engine) -> (Vec<String>, Vec<String>, u64) {
    let b = e.symbol(btc()).expect("BTCUSDT").book();
    let f = |it: &mut dyn Iterator<Item = microstate_core::wire::Level>| {
        it.map(|l| format!("{} {}", l.price, l.qty))
            .collect::<Vec<_>>()
    };
    (
        f(&mut b.bids.iter()),
        f(&mut b.asks.iter()),
        b.last_update_id,
    )
}

/// The live book equals the replay's, level for level, and is synced with a clean cross-check.
fn assert_book_equals_replay(o: &LiveOutcome, files: &[PathBuf]) -> SymbolSummary {
    let s = SymbolSummary::of(o.engine.symbol(btc()).expect("BTCUSDT"));
    assert_eq!(
        s.state, "synced",
        "live summary: {s:#?}\nreport: {:#?}",
        o.report
    );
    let (lb, la, lu) = levels(&o.engine);
    let (rb, ra, ru) = levels(&replay_engine(files));
    assert_eq!(lu, ru, "last update id");
    assert_eq!(lb.len(), rb.len(), "bid levels");
    assert_eq!(lb, rb, "bids");
    assert_eq!(la, ra, "asks");
    assert_eq!(
        s.book_ticker_check.compared, s.book_ticker_check.matched,
        "bookTicker mismatches"
    );
    s
}

#[tokio::test]
async fn spot_capture_live_equals_its_replay() {
    let files = spot_files();
    let (o, x) = run(Case::full(files.clone(), Market::Spot)).await;
    let s = assert_book_equals_replay(&o, &files);
    // The faithful snapshot makes the live session see exactly what the collector saw.
    assert_eq!(s.depth_updates.applied, 6_493);
    assert_eq!(s.depth_updates.dropped_before_sync, 2);
    assert_eq!((s.gaps, s.resyncs), (0, 0));
    assert_eq!(
        (s.book_ticker_check.compared, s.book_ticker_check.matched),
        (1_072, 1_072)
    );
    assert_eq!(s.trades, 19_904);
    assert_eq!(s.frames, 99_573);
    assert_eq!(o.report.frames_shed, 0);
    assert_eq!(x.faithful_snapshots_served, 1);
    let url = &o.report.connections[0].url;
    assert!(
        url.contains("/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker/btcusdt@trade"),
        "{url}"
    );
}

#[tokio::test]
async fn usdm_capture_live_equals_its_replay_over_the_routed_sockets() {
    let files = usdm_files();
    let (o, _) = run(Case::full(files.clone(), Market::UsdM)).await;
    let s = assert_book_equals_replay(&o, &files);
    assert_eq!(s.market, "usdm");
    assert_eq!(s.depth_updates.applied, 9_017);
    assert_eq!(s.gaps, 0);
    assert_eq!(
        (s.book_ticker_check.compared, s.book_ticker_check.matched),
        (625, 625)
    );
    assert!(s.trades > 0);
    let urls: Vec<&str> = o
        .report
        .connections
        .iter()
        .map(|c| c.url.as_str())
        .collect();
    assert_eq!(urls.len(), 2);
    assert!(
        urls[0].contains("/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker"),
        "{urls:?}"
    );
    assert!(
        urls[1].contains("/market/stream?streams=btcusdt@trade"),
        "{urls:?}"
    );
}

#[tokio::test]
async fn fault_dropped_diffs_are_a_gap_then_a_resync() {
    let (o, _) = run(Case::spot(&["drop-depth:3@3000"])).await;
    let s = assert_book_equals_replay(&o, &[spot_excerpt()]);
    assert!(s.gaps >= 1, "{s:?}");
    assert_eq!(s.resyncs, s.gaps);
    assert!(o.report.snapshot_requests >= 2);
}

/// Issue 19 item 1: a snapshot that leaves the book bridging (the normal spot case) was counted
/// as a failure and the count never reset, so every later resync waited 1, 2, 4, 8 s… Gaps
/// spaced 3,000 frames apart must each be resynced at once: no snapshot request waits out a
/// back-off, and every gap ends in a resync (the last gap is far enough from the end of the
/// excerpt, ~13,000 frames, for its resync to complete).
#[tokio::test]
async fn resyncs_after_repeated_gaps_do_not_back_off() {
    let (o, _) = run(Case::spot(&[
        "drop-depth@1000",
        "drop-depth@3500",
        "drop-depth@6000",
        "drop-depth@8500",
    ]))
    .await;
    let s = assert_book_equals_replay(&o, &[spot_excerpt()]);
    assert!(s.gaps >= 4, "{s:?}");
    assert_eq!(s.resyncs, s.gaps, "{s:?}");
    assert_eq!(
        o.report.snapshot_backoffs, 0,
        "no snapshot was unusable, so none may wait for a back-off: {:?}",
        o.report
    );
    assert_eq!(o.report.snapshot_requests, s.gaps + 1);
    assert!(o.report.time_to_all_synced_s.is_some());
}

#[tokio::test]
async fn fault_duplicated_diff_is_ignored() {
    let (o, _) = run(Case::spot(&["dup-depth@3000"])).await;
    let s = assert_book_equals_replay(&o, &[spot_excerpt()]);
    assert_eq!(s.gaps, 0);
    assert_eq!(s.depth_updates.stale, 1);
}

#[tokio::test]
async fn fault_reordered_diffs_are_a_gap_then_a_resync() {
    let (o, _) = run(Case::spot(&["swap-depth@3000"])).await;
    let s = assert_book_equals_replay(&o, &[spot_excerpt()]);
    assert_eq!(s.gaps, 1);
    assert_eq!(s.resyncs, 1);
}

#[tokio::test]
async fn fault_closed_socket_reconnects_and_resyncs() {
    let (o, _) = run(Case::spot(&["close@3000"])).await;
    assert_book_equals_replay(&o, &[spot_excerpt()]);
    let c = &o.report.connections[0];
    assert_eq!(c.disconnects, 1, "{c:?}");
    assert_eq!(c.connections, 2);
    assert!(o.report.snapshot_requests >= 2);
}

#[tokio::test]
async fn fault_server_shutdown_switches_over_without_a_hole() {
    let (o, _) = run(Case::spot(&["shutdown:2s@3000"])).await;
    let s = assert_book_equals_replay(&o, &[spot_excerpt()]);
    let c = &o.report.connections[0];
    assert_eq!(c.server_shutdowns, 1);
    assert_eq!(c.switch_overs, 1, "{c:?}");
    assert_eq!(
        c.disconnects, 0,
        "the old socket was retired by us, not lost"
    );
    assert_eq!(
        (s.gaps, s.resyncs),
        (0, 0),
        "make before break leaves no hole"
    );
    assert_eq!(o.report.snapshot_requests, 1, "no resync needed");
    // Nothing lost or counted twice in the overlap of the two sockets.
    let replay = SymbolSummary::of(replay_engine(&[spot_excerpt()]).symbol(btc()).expect("sym"));
    assert_eq!(
        (s.trades, s.book_tickers),
        (replay.trades, replay.book_tickers)
    );
}

#[tokio::test]
async fn fault_silent_socket_is_flagged_stale_and_replaced() {
    let (o, _) = run(Case::spot(&["silent@3000"])).await;
    let s = assert_book_equals_replay(&o, &[spot_excerpt()]);
    let c = &o.report.connections[0];
    assert!(c.connections >= 2, "a replacement was opened: {c:?}");
    assert!(s.gaps >= 1, "the silence left a hole, detected as a gap");
    assert!(o.report.stale_events >= 1, "flagged stale: {:?}", o.report);
}

#[tokio::test]
async fn fault_ignored_pongs_get_us_dropped_and_we_reconnect() {
    let mut case = Case::spot(&["ignore-pong@3000"]);
    case.tweak_exchange = |x| {
        // Slow enough that our pongs stay under the 5 messages/s incoming limit.
        x.ping_interval = Duration::from_millis(500);
        x.pong_timeout = Duration::from_millis(1500);
    };
    let (o, x) = run(case).await;
    assert_book_equals_replay(&o, &[spot_excerpt()]);
    assert_eq!(x.closed_pong_timeout, 1);
    assert_eq!(o.report.connections[0].disconnects, 1);
}

#[tokio::test]
async fn fault_no_ping_changes_nothing() {
    let (o, _) = run(Case::spot(&["no-ping@3000"])).await;
    let s = assert_book_equals_replay(&o, &[spot_excerpt()]);
    assert_eq!(o.report.connections[0].disconnects, 0);
    assert_eq!(s.gaps, 0);
}

#[tokio::test]
async fn fault_malformed_frame_is_refused_and_counted() {
    let (o, _) = run(Case::spot(&["malformed@3000"])).await;
    let s = assert_book_equals_replay(&o, &[spot_excerpt()]);
    assert_eq!(o.report.frames_refused, 1);
    assert_eq!(s.gaps, 0);
    assert_eq!(o.report.connections[0].disconnects, 0);
}

#[tokio::test]
async fn fault_oversize_frame_drops_the_connection_and_we_recover() {
    let (o, _) = run(Case::spot(&["oversize@3000"])).await;
    assert_book_equals_replay(&o, &[spot_excerpt()]);
    let c = &o.report.connections[0];
    assert_eq!(c.disconnects, 1, "{c:?}");
    let why = c.last_disconnect.clone().unwrap_or_default();
    assert!(
        why.to_lowercase().contains("too long") || why.to_lowercase().contains("size"),
        "{why}"
    );
}

#[tokio::test]
async fn fault_rest_429_is_honoured() {
    let (o, _) = run(Case::spot(&["rest-429:1"])).await;
    assert_book_equals_replay(&o, &[spot_excerpt()]);
    assert_eq!(o.report.rest_429, 1);
    assert_eq!(o.report.snapshots_ok, 1);
}

#[tokio::test]
async fn fault_rest_418_is_honoured() {
    let (o, _) = run(Case::spot(&["rest-418:1"])).await;
    assert_book_equals_replay(&o, &[spot_excerpt()]);
    assert_eq!(o.report.rest_418, 1);
    assert_eq!(o.report.snapshots_ok, 1);
}

#[tokio::test]
async fn fault_rest_500_is_retried() {
    let (o, _) = run(Case::spot(&["rest-500:2"])).await;
    assert_book_equals_replay(&o, &[spot_excerpt()]);
    assert_eq!(o.report.snapshot_errors, 2);
    assert_eq!(o.report.snapshots_ok, 1);
}

#[tokio::test]
async fn fault_slow_snapshot_is_bridged_from_the_buffer() {
    // Not the faithful snapshot (whose clock waits for the request): the book at request time,
    // delivered late, while diffs keep coming and are buffered.
    let mut case = Case::spot(&["slow-depth:1500ms"]);
    case.tweak_exchange = |x| x.faithful_snapshots = false;
    let (o, _) = run(case).await;
    let s = assert_book_equals_replay(&o, &[spot_excerpt()]);
    assert_eq!(s.gaps, 0);
    assert!(
        s.depth_updates.dropped_before_sync > 2,
        "diffs buffered during the wait: {s:?}"
    );
}

#[tokio::test]
async fn fault_stale_snapshot_is_detected_and_fetched_again() {
    // Force a non-faithful answer at a later point so the stale book is really older.
    let mut case = Case::spot(&["close@3000", "stale-depth:300@3000"]);
    case.tweak_exchange = |_| {};
    let (o, x) = run(case).await;
    let s = assert_book_equals_replay(&o, &[spot_excerpt()]);
    assert!(x.stale_snapshots_served >= 1);
    assert!(s.gaps >= 1, "the stale snapshot cannot bridge: {s:?}");
    assert!(o.report.snapshots_ok >= 3, "initial, stale, good");
}

#[tokio::test(start_paused = true)]
async fn no_network_is_reported_plainly_without_a_busy_loop() {
    // A port with nobody listening: every attempt is refused at once (loopback), so in paused
    // time the attempts fall exactly on the back-off schedule.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut cfg = test_config(
        &format!("ws://127.0.0.1:{port}"),
        &format!("http://127.0.0.1:{port}"),
        Market::Spot,
    );
    cfg.connection.backoff_initial = Duration::from_millis(200);
    cfg.connection.backoff_max = Duration::from_secs(2);
    // The schedule: attempt n (connection id n, one slot) waits backoff(n) after failing:
    // 0.2, 0.4, 0.8, 1.6 s (± jitter). Stop half-way between the 5th and the 6th attempt,
    // far from either.
    let mut starts = vec![Duration::ZERO];
    for n in 1..=5u32 {
        let next = starts[starts.len() - 1] + live::backoff(&cfg.connection, n, u64::from(n));
        starts.push(next);
    }
    assert!(
        starts[5] - starts[4] >= Duration::from_secs(1),
        "{starts:?}"
    );
    let stop_at = starts[4] + (starts[5] - starts[4]) / 2;
    let t0 = tokio::time::Instant::now();
    let o = live::run(LiveOptions::new(cfg, vec![btc()]), Shutdown::after(stop_at)).await;
    assert!(t0.elapsed() >= stop_at, "paused time ran to the stop");
    let r = &o.report;
    assert!(!r.ever_connected);
    // Five attempts in ~4 s, each after its back-off: not a busy loop.
    let c = &r.connections[0];
    assert_eq!(
        (c.attempts, c.failures),
        (5, 5),
        "schedule {starts:?}: {c:?}"
    );
    let why = r.last_failure.clone().unwrap_or_default();
    assert!(
        why.contains(&port.to_string()) && why.to_lowercase().contains("refused"),
        "{why}"
    );
    assert_eq!(
        SymbolSummary::of(o.engine.symbol(btc()).expect("sym")).state,
        "syncing"
    );
}

#[tokio::test]
async fn an_old_connection_is_replaced_make_before_break() {
    // Binance cuts sockets at 24 h; the client switches before. A short max_age shows the
    // mechanism: a new socket, a switch-over, no gap, no second snapshot.
    let mut case = Case::spot(&[]);
    case.tweak_client = |c| c.connection.max_age = Duration::from_millis(1500);
    let (o, _) = run(case).await;
    let s = assert_book_equals_replay(&o, &[spot_excerpt()]);
    let c = &o.report.connections[0];
    assert!(c.switch_overs >= 1, "{c:?}");
    assert_eq!(c.disconnects, 0);
    assert_eq!((s.gaps, s.resyncs), (0, 0));
    assert_eq!(o.report.snapshot_requests, 1);
    // The overlap of the two sockets is skipped, not counted twice.
    let replay = SymbolSummary::of(replay_engine(&[spot_excerpt()]).symbol(btc()).expect("sym"));
    assert_eq!(s.trades, replay.trades);
    assert_eq!(s.book_tickers, replay.book_tickers);
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_is_detected_by_the_read_timeout() {
    use microstate_io::ingest::ws::{self, EndReason};
    // A server that accepts the upgrade and then never sends nor reads anything.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let ws = tokio_tungstenite::accept_async(tcp).await.expect("upgrade");
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(ws);
    });
    let cfg = Config::default().connection;
    let sock = ws::connect(
        &format!("ws://{addr}/stream?streams=btcusdt@depth@100ms"),
        cfg.connect_timeout,
        cfg.max_frame_bytes,
    )
    .await
    .expect("connect");
    let (tx, _rx) = tokio::sync::mpsc::channel(16);
    let (_retire_tx, retire_rx) = tokio::sync::oneshot::channel();
    let started = tokio::time::Instant::now();
    let end = ws::read_loop(sock, 1, cfg.clone(), tx, Arc::default(), retire_rx).await;
    assert_eq!(end, EndReason::Silent(cfg.read_timeout));
    // Paused time: exactly the configured limit passed, not a moment of real waiting.
    assert_eq!(started.elapsed(), cfg.read_timeout);
    server.abort();
}

#[tokio::test]
async fn synthetic_market_served_live_stays_synced_with_a_clean_cross_check() {
    use microstate_exchange::synthetic::{SyntheticConfig, SyntheticSource};
    let syms = vec![btc(), Symbol::new(b"ETHUSDT").expect("sym")];
    let mut x = ExchangeConfig::new(ExchangeSource::Sources(vec![Box::new(
        SyntheticSource::new(SyntheticConfig::new(42, syms.clone())),
    )]));
    x.speed = Speed::Factor(20.0);
    // Generated data has no original session to be faithful to.
    x.faithful_snapshots = false;
    let handle = microstate_exchange::start(x).await.expect("exchange");
    let cfg = test_config(&handle.ws_base(), &handle.rest_base(), Market::Spot);
    // Until the view shows every symbol synced with more than 100 diffs applied and a trade.
    let (publisher, views) = views();
    let enough = |v: &Arc<View>| {
        v.symbols.len() == syms.len()
            && v.symbols
                .iter()
                .all(|s| s.phase == Phase::Synced && s.applied > 100 && s.trades > 0)
    };
    let mut watch = views.clone();
    let until = async move {
        let seen = matches!(
            tokio::time::timeout(Duration::from_secs(60), watch.wait_for(enough)).await,
            Ok(Ok(_))
        );
        assert!(
            seen,
            "no view with every symbol synced, >100 diffs and a trade in 60 s (a hang guard): {:#?}",
            watch
                .borrow()
                .symbols
                .iter()
                .map(|s| (s.symbol, s.phase, s.applied, s.trades))
                .collect::<Vec<_>>()
        );
    };
    let o = run_until(LiveOptions::new(cfg, syms.clone()), None, publisher, until).await;
    handle.shutdown().await;
    for s in syms {
        let st = SymbolSummary::of(o.engine.symbol(s).expect("symbol"));
        assert_eq!(st.state, "synced", "{st:?}");
        assert_eq!((st.gaps, st.crossed_events), (0, 0), "{st:?}");
        assert!(st.depth_updates.applied > 100 && st.trades > 0, "{st:?}");
        assert!(st.book_ticker_check.compared > 0);
        assert_eq!(st.book_ticker_check.compared, st.book_ticker_check.matched);
    }
}

#[tokio::test]
async fn a_full_queue_sheds_frames_and_never_blocks_the_reader() {
    use futures_util::SinkExt;
    use microstate_io::ingest::ws::{self, EndReason};
    use tokio_tungstenite::tungstenite::Message;
    // A server that sends 1,000 frames and closes; the engine side never drains its queue of 4.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("upgrade");
        for i in 0..1000 {
            ws.feed(Message::text(format!("{{\"e\":\"x\",\"i\":{i}}}")))
                .await
                .expect("feed");
        }
        ws.flush().await.expect("flush");
        let _ = ws.close(None).await;
    });
    let cfg = Config::default().connection;
    let sock = ws::connect(
        &format!("ws://{addr}/stream"),
        cfg.connect_timeout,
        cfg.max_frame_bytes,
    )
    .await
    .expect("connect");
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let (_retire_tx, retire_rx) = tokio::sync::oneshot::channel();
    let stats = Arc::new(IngestStats::default());
    // Shed frames are still recorded (as shed, never fed on replay).
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shed.msrec");
    let header = microstate_io::record::format::Header::new(
        "spot",
        vec![],
        vec![],
        serde_json::Value::Null,
        0,
    );
    let (rec, writer) =
        microstate_io::record::writer::start(&path, &header, Default::default()).expect("recorder");
    let shared = Arc::new(ws::ReaderShared {
        stats: stats.clone(),
        shed_to: std::sync::Mutex::new(Some(rec)),
    });
    let end = tokio::time::timeout(
        Duration::from_secs(10),
        ws::read_loop(sock, 1, cfg, tx, shared.clone(), retire_rx),
    )
    .await
    .expect("the reader finished: it never waited for the full queue");
    assert!(matches!(end, EndReason::ServerClosed(_)), "{end:?}");
    assert_eq!(stats.frames.load(Ordering::Relaxed), 1000);
    assert_eq!(
        stats.shed.load(Ordering::Relaxed),
        996,
        "4 queued, the rest shed and counted"
    );
    drop(rx);
    drop(shared);
    writer.join().expect("writer").expect("written");
    let shed: Vec<_> = microstate_io::record::format::RecordingReader::open(&path)
        .expect("open")
        .filter_map(|r| match r {
            microstate_io::record::format::Record::ShedFrame { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(shed.len(), 996, "every shed frame is in the recording");
    assert_eq!(shed[0], b"{\"e\":\"x\",\"i\":4}");
}

/// Live against the exchange with `faults` while recording, then a replay of the recording
/// through the same engine: identical books and identical counts (the feed journal makes the
/// replay take exactly what the live engine took, resets and switch-overs included).
async fn round_trip(name: &str, faults: &[&'static str]) -> SymbolSummary {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("roundtrip")
        .join(format!("{name}.msrec"));
    let _ = std::fs::remove_file(&path);
    let mut case = Case::spot(faults);
    case.record = Some(path.clone());
    let (o, _) = run(case).await;
    let live = SymbolSummary::of(o.engine.symbol(btc()).expect("sym"));
    let replayed = replay_paths(std::slice::from_ref(&path), &ReplayOptions::default())
        .expect("replay the recording");
    assert_eq!(replayed.errors_total, 0, "{:?}", replayed.errors);
    let r = SymbolSummary::of(replayed.engine.symbol(btc()).expect("sym"));
    assert_eq!(
        serde_json::to_value(&r).expect("json"),
        serde_json::to_value(&live).expect("json"),
        "replayed summary (left) vs live (right)"
    );
    assert_eq!(levels(&replayed.engine), levels(&o.engine));
    // The lifecycle is in the file too: connects, the feed journal, clock-offset samples.
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for r in microstate_io::record::format::RecordingReader::open(&path).expect("open") {
        let k = match r {
            microstate_io::record::format::Record::Lifecycle { event, .. } => event,
            microstate_io::record::format::Record::ClockOffset { rtt_ns, .. } => {
                assert!(rtt_ns > 0);
                "clock offset".into()
            }
            _ => continue,
        };
        *kinds.entry(k).or_default() += 1;
    }
    for k in ["connect", "primary", "synced", "clock offset"] {
        assert!(kinds.contains_key(k), "no {k:?} record in {kinds:?}");
    }
    if live.gaps > 0 {
        assert!(
            kinds.contains_key("gap") && kinds.contains_key("resync finished"),
            "{kinds:?}"
        );
    }
    live
}

#[tokio::test]
async fn a_recorded_session_with_a_gap_replays_to_the_same_books_and_counts() {
    let live = round_trip("gap", &["drop-depth:2@3000"]).await;
    assert!(live.gaps >= 1 && live.resyncs >= 1, "{live:?}");
}

#[tokio::test]
async fn a_recorded_session_with_a_reconnect_replays_to_the_same_books_and_counts() {
    // The socket closes: live resets the book and resyncs on a new connection.
    let live = round_trip("reconnect", &["close@3000"]).await;
    assert!(live.snapshots >= 2, "{live:?}");
}

#[tokio::test]
async fn a_recorded_switch_over_replays_to_the_same_books_and_counts() {
    // serverShutdown: two sockets overlap, the new one's frames are held, then it takes over.
    let live = round_trip("switch", &["shutdown:2s@3000"]).await;
    assert_eq!((live.gaps, live.resyncs), (0, 0), "{live:?}");
}

#[tokio::test]
async fn a_recorded_session_with_duplicates_and_a_swap_replays_identically() {
    let live = round_trip("dup-swap", &["dup-depth@2000", "swap-depth@4000"]).await;
    assert!(live.gaps >= 1 && live.depth_updates.stale >= 1, "{live:?}");
}

#[tokio::test]
async fn recording_toggled_on_mid_session_replays_to_the_live_book_and_resync_is_a_command() {
    // The screen's keys, as engine commands: start recording part-way through a live session,
    // force a resync later; the recording starts with its own snapshot and ends on the live book.
    let mut xcfg = ExchangeConfig::new(ExchangeSource::Captures(vec![spot_excerpt()]));
    xcfg.speed = Speed::Factor(50.0);
    let handle = microstate_exchange::start(xcfg)
        .await
        .expect("exchange starts");
    let cfg = test_config(&handle.ws_base(), &handle.rest_base(), Market::Spot);
    let mut opts = LiveOptions::new(cfg, vec![btc()]);
    let (screen, driver) = microstate_drive::command::live_channel();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("toggle");
    std::fs::create_dir_all(&dir).expect("dir");
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
    opts.record = Some(RecordSetup {
        dir,
        header,
        options: Default::default(),
    });
    let (publisher, mut views) = views();
    // The commands go when the published view shows the session where the test wants it.
    let mut watch = views.clone();
    let script = async move {
        let btc_view = |v: &View| v.symbols.iter().find(|s| s.symbol == btc()).cloned();
        // Part-way through, synced: recording on (it asks a snapshot of its own).
        let v = watch
            .wait_for(|v| {
                v.frames >= 4_000 && btc_view(v).is_some_and(|s| s.phase == Phase::Synced)
            })
            .await
            .expect("the session ended before its view showed 4,000 frames, synced")
            .clone();
        let snapshots = btc_view(&v).map_or(0, |s| s.snapshots);
        assert!(screen.send(Command::Record(Switch::On)), "send");
        // Once the recording's snapshot is in, and later still: a resync.
        watch
            .wait_for(|v| v.frames >= 9_000 && btc_view(v).is_some_and(|s| s.snapshots > snapshots))
            .await
            .expect("the session ended before its view showed the recording's snapshot");
        assert!(screen.send(Command::Resync(btc())), "send");
        screen
    };
    let script = tokio::spawn(async move {
        tokio::time::timeout(Duration::from_secs(60), script)
            .await
            .expect("the view showed the session part-way (a hang guard)")
    });
    let stop = end_of_stream(&handle, &mut views, Duration::from_secs(90));
    let o = tokio::time::timeout(
        Duration::from_secs(120),
        run_until(opts, Some(driver), publisher, stop),
    )
    .await
    .expect("the live run ends");
    handle.shutdown().await;
    let mut screen = script.await.expect("script");
    // What the screen was told: where the recording goes, and the resync.
    let mut notices = Vec::new();
    while let Ok(e) = screen.events.try_recv() {
        notices.push(e);
    }
    assert!(
        matches!(&notices[..], [microstate_drive::command::Event::Notice(a), microstate_drive::command::Event::Notice(b), microstate_drive::command::Event::Ended]
            if a.starts_with("recording to ") && b == "resyncing BTCUSDT from a new snapshot"),
        "{notices:?}"
    );
    // The driver closed the recording it started.
    let [rec] = &o.recordings[..] else {
        panic!("one recording: {:?}", o.recordings)
    };
    assert!(
        rec.from_command && matches!(rec.result, Some(Ok(()))),
        "{rec:?}"
    );
    let path = rec.path.clone();

    let live = assert_book_equals_replay(&o, &[spot_excerpt()]);
    assert!(live.resyncs >= 1, "the resync command: {live:?}");
    assert!(
        live.snapshots_ignored >= 1,
        "a snapshot for the recording: {live:?}"
    );
    let replayed = replay_paths(&[path], &ReplayOptions::default()).expect("replay");
    assert_eq!(replayed.errors_total, 0, "{:?}", replayed.errors);
    let r = SymbolSummary::of(replayed.engine.symbol(btc()).expect("sym"));
    assert_eq!(r.state, "synced", "{r:?}");
    assert_eq!(r.gaps, 0, "{r:?}");
    assert!(r.resyncs >= 1, "the journal carries the reset: {r:?}");
    assert!(r.frames < live.frames, "the recording started part-way");
    assert_eq!(levels(&replayed.engine), levels(&o.engine));
}

/// A hostile peer that streams symbols nobody subscribed to (issue 19, item 4): only the
/// subscribed symbol gets a book and a snapshot request; every other frame is counted and
/// dropped. The peer is scripted by hand on 127.0.0.1 (WebSocket and REST on two ports).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_streaming_unsolicited_symbols_creates_no_books() {
    use futures_util::SinkExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const PHANTOMS: u64 = 3000;
    let ws_l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let ws_addr = ws_l.local_addr().expect("addr");
    tokio::spawn(async move {
        let (tcp, _) = ws_l.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("upgrade");
        let diff = |s: &str, u: u64| {
            format!(
                r#"{{"stream":"{}@depth@100ms","data":{{"e":"depthUpdate","E":{u},"s":"{s}","U":{u},"u":{u},"b":[["1.00","1"]],"a":[]}}}}"#,
                s.to_lowercase()
            )
        };
        for i in 0..PHANTOMS {
            let m = tokio_tungstenite::tungstenite::Message::text(diff(&format!("PH{i}USDT"), 5));
            ws.feed(m).await.expect("send");
        }
        for u in 11..=20 {
            let m = tokio_tungstenite::tungstenite::Message::text(diff("BTCUSDT", u));
            ws.feed(m).await.expect("send");
        }
        ws.flush().await.expect("flush");
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let rest_l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let rest_addr = rest_l.local_addr().expect("addr");
    let paths = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = paths.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = rest_l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                seen.lock().expect("lock").push(line);
                let body = r#"{"lastUpdateId":10,"bids":[["1.00","2"]],"asks":[["2.00","3"]]}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    let mut cfg = test_config(
        &format!("ws://{ws_addr}"),
        &format!("http://{rest_addr}"),
        Market::Spot,
    );
    cfg.clock.probe_every = Duration::ZERO;
    let stats = Arc::new(IngestStats::default());
    let mut opts = LiveOptions::new(cfg, vec![btc()]);
    opts.stats = Some(stats.clone());
    let (publisher, mut views) = views();
    let until = async {
        let synced = async {
            loop {
                let done = stats.frames.load(Ordering::Relaxed) >= PHANTOMS + 10
                    && views
                        .borrow()
                        .symbols
                        .iter()
                        .any(|s| s.phase == Phase::Synced);
                if done {
                    return;
                }
                if views.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), synced)
            .await
            .expect("the peer's frames taken in and BTCUSDT synced");
    };
    let o = run_until(opts, None, publisher, until).await;
    let names: Vec<String> = o
        .engine
        .symbols()
        .iter()
        .map(|s| s.symbol.to_string())
        .collect();
    assert_eq!(names, vec!["BTCUSDT".to_string()]);
    assert_eq!(o.report.unsolicited_frames, PHANTOMS);
    // Depth snapshots only (the session also asks exchangeInfo once, for every symbol).
    let asked: Vec<String> = paths
        .lock()
        .expect("lock")
        .iter()
        .filter(|l| !l.contains("/exchangeInfo"))
        .cloned()
        .collect();
    assert!(!asked.is_empty());
    assert!(
        asked.iter().all(|l| l.contains("symbol=BTCUSDT")),
        "snapshot requests for phantoms: {asked:?}"
    );
    let s = SymbolSummary::of(o.engine.symbol(btc()).expect("sym"));
    assert_eq!((s.state.as_str(), s.depth_updates.applied), ("synced", 10));
}

/// `a` and `x` on a running session, against the local exchange over a real socket: a symbol
/// that was not in the session is subscribed on the running connection (no new connection),
/// syncs from its own snapshot and stays right (bookTicker cross-check), survives a dropped
/// connection (the reconnect subscribes it again), and is unsubscribed on removal; a symbol
/// the venue does not list is refused with a reason.
#[tokio::test]
async fn symbols_are_added_and_removed_on_the_running_connection() {
    use microstate_exchange::synthetic::{SyntheticConfig, SyntheticSource};
    let eth = Symbol::new(b"ETHUSDT").expect("sym");
    let nope = Symbol::new(b"NOPEUSDT").expect("sym");
    let mut x = ExchangeConfig::new(ExchangeSource::Sources(vec![Box::new(
        SyntheticSource::new(SyntheticConfig::new(7, vec![btc(), eth])),
    )]));
    x.speed = Speed::Factor(20.0);
    x.faithful_snapshots = false;
    let handle = Arc::new(microstate_exchange::start(x).await.expect("exchange"));
    let cfg = test_config(&handle.ws_base(), &handle.rest_base(), Market::Spot);
    let (screen, driver) = microstate_drive::command::live_channel();
    let (publisher, views) = views();
    let sym_view = |v: &View, s: Symbol| v.symbols.iter().find(|x| x.symbol == s).cloned();
    let synced = move |v: &View, s: Symbol, applied: u64| {
        sym_view(v, s).is_some_and(|x| x.phase == Phase::Synced && x.applied > applied)
    };
    let mut watch = views.clone();
    let h = handle.clone();
    let script = async move {
        let wait = |what: &'static str| {
            move |r: Result<_, _>| r.unwrap_or_else(|_| panic!("session ended before {what}"))
        };
        // BTCUSDT alone at first; the venue's list has come (the view carries it).
        wait("BTC synced")(
            watch
                .wait_for(|v| synced(v, btc(), 20) && v.listed.len() == 2)
                .await
                .map(|_| ()),
        );
        assert_eq!(watch.borrow().symbols.len(), 1);
        // The tick is exchangeInfo's PRICE_FILTER (the synthetic BTCUSDT's is 0.1).
        let b = sym_view(&watch.borrow(), btc()).expect("BTCUSDT");
        assert!(b.tick_listed, "tick from exchangeInfo");
        assert_eq!(b.tick, Some(0.1));
        assert!(screen.send(Command::AddSymbol(nope)), "send");
        assert!(screen.send(Command::AddSymbol(eth)), "send");
        wait("ETH synced")(
            watch
                .wait_for(|v| synced(v, eth, 50) && synced(v, btc(), 20))
                .await
                .map(|_| ()),
        );
        // Subscribed on the connection that was already open.
        let stats = h.stats();
        assert_eq!(stats.connections.len(), 1, "{:#?}", stats.connections);
        let subs = h.subscriptions();
        assert_eq!(subs.len(), 1);
        for s in ["ethusdt@depth@100ms", "ethusdt@bookTicker", "ethusdt@trade"] {
            assert!(subs[0].1.iter().any(|n| n == s), "{s} in {subs:?}");
        }
        // A dropped connection: the reconnect carries ETHUSDT in its URL and both resync.
        let applied = sym_view(&watch.borrow(), eth).map_or(0, |s| s.applied);
        h.drop_connections("test: network failure");
        wait("resynced after the reconnect")(
            watch
                .wait_for(|v| {
                    v.connections
                        .first()
                        .is_some_and(|c| c.nth >= 2 && !c.pending)
                        && synced(v, eth, applied + 20)
                        && synced(v, btc(), 0)
                })
                .await
                .map(|_| ()),
        );
        let url = watch.borrow().connections[0].url.clone();
        assert!(url.contains("ethusdt@depth@100ms"), "{url}");
        assert!(h.stats().connections.len() >= 2);
        // Removed: unsubscribed on the open connection, its book gone.
        assert!(screen.send(Command::RemoveSymbol(btc())), "send");
        wait("BTC removed")(
            watch
                .wait_for(|v| v.symbols.len() == 1 && sym_view(v, eth).is_some())
                .await
                .map(|_| ()),
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let subs = h.subscriptions();
            if subs
                .iter()
                .all(|(_, l)| l.iter().all(|n| !n.starts_with("btcusdt@")))
            {
                assert!(
                    subs.iter()
                        .any(|(_, l)| l.iter().any(|n| n == "ethusdt@trade"))
                );
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still subscribed: {subs:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let url = watch.borrow().connections[0].url.clone();
        assert!(!url.contains("btcusdt@"), "{url}");
        screen
    };
    let script = tokio::spawn(async move {
        tokio::time::timeout(Duration::from_secs(90), script)
            .await
            .expect("the script ran to its end (a hang guard)")
    });
    let done = async {
        let mut w = views.clone();
        let _ = w
            .wait_for(|v| v.symbols.len() == 1 && v.symbols[0].symbol == eth)
            .await;
        // A little more market for the cross-check after the removal.
        let n = w.borrow().symbols[0].applied;
        let _ = w
            .wait_for(|v| v.symbols.first().is_some_and(|s| s.applied > n + 20))
            .await;
    };
    let o = tokio::time::timeout(
        Duration::from_secs(120),
        run_until(
            LiveOptions::new(cfg, vec![btc()]),
            Some(driver),
            publisher,
            done,
        ),
    )
    .await
    .expect("the live run ends");
    let mut screen = script.await.expect("script");
    if let Ok(h) = Arc::try_unwrap(handle) {
        h.shutdown().await;
    }
    let mut notices = Vec::new();
    while let Ok(microstate_drive::command::Event::Notice(n)) = screen.events.try_recv() {
        notices.push(n);
    }
    assert!(
        notices
            .iter()
            .any(|n| n.starts_with("NOPEUSDT is not listed")),
        "{notices:?}"
    );
    assert!(
        notices.iter().any(|n| n.starts_with("ETHUSDT added")),
        "{notices:?}"
    );
    assert!(
        notices.iter().any(|n| n.starts_with("BTCUSDT removed")),
        "{notices:?}"
    );
    assert!(o.engine.symbol(btc()).is_none());
    let st = SymbolSummary::of(o.engine.symbol(eth).expect("ETHUSDT"));
    assert_eq!(st.state, "synced", "{st:?}");
    assert_eq!(st.crossed_events, 0, "{st:?}");
    assert!(st.book_ticker_check.compared > 0, "{st:?}");
    assert_eq!(
        st.book_ticker_check.compared, st.book_ticker_check.matched,
        "the added book agrees with every bookTicker: {st:?}"
    );
}
