//! The NATS JetStream fan-out with a real `nats-server -js` started per test on a free loopback
//! port with its own store directory: a collector on the local exchange serving the real spot
//! capture publishes to JetStream, consumers read it back through the same engine and end with
//! the collector's book and counters (and the golden replay's book); a consumer that joins late
//! starts from the latest snapshot in the stream; the `.signals` JSON read with the NATS client
//! matches the collector's engine; faults: the server killed and restarted mid-run, a slow
//! consumer, the collector's connection dropped.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::live::{Case, btc, levels, replay_engine, run, spot_excerpt};
use futures_util::StreamExt;
use microstate::config::Config;
use microstate_core::features::Schema;
use microstate_core::features::json::FeatureRecord;
use microstate_core::summary::SymbolSummary;
use microstate_drive::bus_source::{self, BusOutcome, ConsumeOptions, Until};
use microstate_exchange::Speed;
use microstate_io::bus::{self, BusConsumer, Start};
use tokio::sync::watch;

/// A `nats-server` with JetStream on 127.0.0.1, killed on drop.
struct NatsServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl NatsServer {
    fn start(name: &str) -> NatsServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("nats-{name}-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("store dir");
        let child = Self::spawn(port, &dir);
        NatsServer { child, port, dir }
    }

    fn spawn(port: u16, dir: &std::path::Path) -> Child {
        let child = Command::new("nats-server")
            .args(["-js", "-sd"])
            .arg(dir)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("nats-server could not start ({e}): install it (Debian: apt-get install nats-server)")
            });
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "nats-server did not listen on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to the clients); the store stays.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port with the same store.
    fn restart(&mut self) {
        self.child = Self::spawn(self.port, &self.dir);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn summary(e: &microstate_core::engine::Engine) -> SymbolSummary {
    SymbolSummary::of(e.symbol(btc()).expect("BTCUSDT"))
}

/// The counters a consumer must share with the collector (frames and diffs applied, gaps,
/// resyncs, trades, the bookTicker cross-check), as text for a readable diff.
fn counters(s: &SymbolSummary) -> String {
    format!(
        "state {} applied {} gaps {} resyncs {} trades {} tickers {} checked {}/{} crossed {}",
        s.state,
        s.depth_updates.applied,
        s.gaps,
        s.resyncs,
        s.trades,
        s.book_tickers,
        s.book_ticker_check.matched,
        s.book_ticker_check.compared,
        s.crossed_events
    )
}

async fn consume(cfg: &Config, url: &str, start: Start, last: u64) -> BusOutcome {
    tokio::time::timeout(
        Duration::from_secs(120),
        bus_source::consume(
            cfg,
            url,
            &[btc()],
            ConsumeOptions {
                start,
                until: Until::Sequence(last),
                status_every: None,
            },
            None,
            std::future::pending(),
        ),
    )
    .await
    .expect("the consumer reaches the stream's end (a hang guard)")
    .expect("consumer")
}

#[tokio::test]
async fn collector_to_jetstream_to_two_consumers_equal_the_collector_and_the_replay() {
    let nats = NatsServer::start("two");
    let mut case = Case::spot(&["drop-depth@4000"]);
    case.bus_url = Some(nats.url());
    let (collector, _) = run(case).await;
    let cfg = Config::default();
    let last = bus::last_sequence(&nats.url(), &cfg.nats)
        .await
        .expect("stream");
    assert!(last > 10_000, "the session went to the stream: {last}");
    let url = nats.url();
    let (a, b) = tokio::join!(
        consume(&cfg, &url, Start::All, last),
        consume(&cfg, &url, Start::All, last)
    );
    let want = summary(&collector.engine);
    assert_eq!(want.gaps, 1, "the injected gap: {want:?}");
    let replay = levels(&replay_engine(&[spot_excerpt()]));
    for (name, c) in [("first", &a), ("second", &b)] {
        assert_eq!((c.read_errors, c.refused), (0, 0), "{name}");
        let got = summary(&c.engine);
        assert_eq!(
            counters(&got),
            counters(&want),
            "{name} consumer's counters"
        );
        assert_eq!(
            levels(&c.engine),
            levels(&collector.engine),
            "{name} consumer's book"
        );
        assert_eq!(
            levels(&c.engine),
            replay,
            "{name} consumer's book vs the replay"
        );
        assert_eq!(
            c.engine.stats.frames, collector.engine.stats.frames,
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_late_joiner_starts_from_the_latest_snapshot_and_ends_with_the_collectors_book() {
    let nats = NatsServer::start("late");
    // A gap mid-run: the stream then holds two snapshots, the start's and the resync's.
    let mut case = Case::spot(&["drop-depth@5000"]);
    case.bus_url = Some(nats.url());
    let (collector, _) = run(case).await;
    let mut cfg = Config::default();
    // The run is fast (50×): a short lead keeps the start well after the stream's beginning.
    cfg.nats.late_join_lead = Duration::from_millis(20);
    let last = bus::last_sequence(&nats.url(), &cfg.nats)
        .await
        .expect("stream");
    let late = consume(&cfg, &nats.url(), Start::LatestSnapshot, last).await;
    // The resync snapshot came after the 5,000th frame: the joiner starts just before it.
    assert!(
        late.first_seq > 4_000,
        "started near the latest snapshot, not at the beginning: first {} of {last}",
        late.first_seq
    );
    let got = summary(&late.engine);
    assert_eq!(got.state, "synced", "{got:?}");
    assert_eq!(levels(&late.engine), levels(&collector.engine));
    // Every raw message from there to the end; the signals in between are skipped.
    let signals = collector
        .report
        .bus
        .as_ref()
        .and_then(|b| b.published)
        .map_or(0, |p| p.signals);
    let span = last - late.first_seq + 1;
    assert_eq!(late.last_seq, last, "read to the end");
    assert!(
        late.messages <= span && late.messages + signals >= span,
        "read from there to the end: {} raw of {span}, {signals} signals",
        late.messages
    );
}

/// The consumer's state changes as text: `resyncing@1234 synced@1300 …`.
fn phases(c: &BusOutcome) -> String {
    c.phases
        .iter()
        .map(|(seq, _, p)| format!("{p}@{seq}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// After a gap the consumer said so (resyncing) and then synced again.
fn resynced_after_each_gap(c: &BusOutcome) {
    let gaps = summary(&c.engine).gaps;
    if gaps == 0 {
        return;
    }
    let first_resync = c
        .phases
        .iter()
        .position(|(_, _, p)| *p == "resyncing")
        .unwrap_or_else(|| panic!("{gaps} gaps but never resyncing: {}", phases(c)));
    assert!(
        c.phases[first_resync..]
            .iter()
            .any(|(_, _, p)| *p == "synced"),
        "synced again after resyncing: {}",
        phases(c)
    );
}

/// `got` equals `want`, numbers to a relative 1e-12.
fn json_close(got: &serde_json::Value, want: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            let (mut gk, mut wk): (Vec<_>, Vec<_>) = (g.keys().collect(), w.keys().collect());
            gk.sort();
            wk.sort();
            assert_eq!(gk, wk, "keys of {at}");
            for (k, wv) in w {
                json_close(&g[k], wv, &format!("{at}.{k}"));
            }
        }
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (
                g.as_f64().unwrap_or(f64::NAN),
                w.as_f64().unwrap_or(f64::NAN),
            );
            assert!(
                (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{at}: {g} vs {w}"
            );
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

#[tokio::test]
async fn signals_json_on_nats_matches_the_collectors_engine() {
    let nats = NatsServer::start("signals");
    let mut case = Case::spot(&[]);
    case.bus_url = Some(nats.url());
    case.tweak_client = |c| c.nats.signals_every = Duration::from_millis(100);
    let (collector, _) = run(case).await;
    let cfg = Config::default();
    let published = collector
        .report
        .bus
        .as_ref()
        .and_then(|b| b.published)
        .expect("the summary's bus part");
    assert_eq!(published.errors + published.dropped, 0, "{published:?}");
    assert!(
        published.signals >= 3,
        "signals every 100 ms: {published:?}"
    );

    // Read them back as a consumer in any language would: the NATS client, the subject, JSON.
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream(&cfg.nats.stream).await.expect("stream");
    let subject = "microstate.spot.BTCUSDT.signals";
    let last = stream
        .get_last_raw_message_by_subject(subject)
        .await
        .expect("a signals message")
        .sequence;
    let mut msgs = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            filter_subject: subject.into(),
            ..Default::default()
        })
        .await
        .expect("consumer")
        .messages()
        .await
        .expect("messages");
    let mut got: Vec<serde_json::Value> = Vec::new();
    let read = async {
        while let Some(m) = msgs.next().await {
            let m = m.expect("message");
            got.push(serde_json::from_slice(&m.payload).expect("JSON"));
            if m.info().expect("info").stream_sequence >= last {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("read the signals (a hang guard)");
    assert_eq!(
        got.len() as u64,
        published.signals,
        "every signals message is in the stream"
    );
    let mut event_time = 0;
    for v in &got {
        assert_eq!(v["v"], 1, "{v}");
        assert_eq!(v["symbol"], "BTCUSDT");
        assert_eq!(v["market"], "spot");
        if let Some(t) = v["event_time_ms"].as_u64() {
            assert!(t >= event_time, "event time never goes back: {v}");
            event_time = t;
        }
        for k in [
            "sync",
            "book",
            "features",
            "pressure",
            "context",
            "interpretation",
        ] {
            assert!(v.get(k).is_some(), "{k} in {v}");
        }
    }
    assert!(event_time > 0, "event times were sent");
    // The last went out as the session ended: the collector's final engine, field by field.
    let last = got.last().expect("one");
    let st = collector.engine.symbol(btc()).expect("BTCUSDT");
    let sum = summary(&collector.engine);
    assert_eq!(last["sync"]["state"], "synced");
    assert_eq!(last["sync"]["applied"], sum.depth_updates.applied);
    assert_eq!(last["sync"]["gaps"], sum.gaps);
    assert_eq!(last["sync"]["last_update_id"], st.book().last_update_id);
    let bbo = st.book().bbo();
    let (bid, ask) = (bbo.bid.expect("bid"), bbo.ask.expect("ask"));
    assert_eq!(
        last["book"]["bid"],
        serde_json::json!([bid.price.to_f64(), bid.qty.to_f64()])
    );
    assert_eq!(
        last["book"]["ask"],
        serde_json::json!([ask.price.to_f64(), ask.qty.to_f64()])
    );
    let f = st.features().expect("features on by default");
    let want = serde_json::to_value(FeatureRecord {
        symbol: "BTCUSDT",
        schema: &Schema::new(f.params()),
        vector: f.vector(),
    })
    .expect("feature JSON");
    // serde_json parses a float to within an ulp or so of what was written (no
    // `float_roundtrip`): numbers are compared to 1e-12, everything else exactly; the keys
    // are those of --features-jsonl.
    json_close(&last["features"], &want, "features");
    assert_eq!(last["event_time_ms"], f.vector().ts_ns() / 1_000_000);
    // No models in this session: said, not invented.
    assert_eq!(last["pressure"]["ready"], false, "{}", last["pressure"]);
    assert!(last["pressure"]["missing"].is_string());
    // Consumers of the raw subjects skip the signals: the book still matches.
    let c = consume(
        &cfg,
        &nats.url(),
        Start::All,
        bus::last_sequence(&nats.url(), &cfg.nats)
            .await
            .expect("seq"),
    )
    .await;
    assert_eq!(levels(&c.engine), levels(&collector.engine));
}

#[tokio::test]
async fn nats_server_killed_and_restarted_mid_run_consumers_resync_and_end_with_the_collectors_book()
 {
    let mut nats = NatsServer::start("restart");
    let url = nats.url();
    let mut case = Case::spot(&[]);
    // ~26 s of market time at 5×: the outage falls well inside the run.
    case.speed = Speed::Factor(5.0);
    case.bus_url = Some(url.clone());
    // Only the re-snapshot that publish errors call for (no periodic one in the run).
    case.tweak_client = |c| c.nats.snapshot_every = Duration::ZERO;
    let cfg = Config::default();
    // Created before the collector publishes: the stream exists for the consumer reading along.
    assert_eq!(
        bus::last_sequence(&url, &cfg.nats).await.expect("stream"),
        0
    );
    let (last_tx, last_rx) = watch::channel(0u64);
    let along = tokio::spawn({
        let (cfg, url) = (cfg.clone(), url.clone());
        async move {
            bus_source::consume(
                &cfg,
                &url,
                &[btc()],
                ConsumeOptions {
                    start: Start::All,
                    until: Until::Watch(last_rx),
                    status_every: None,
                },
                None,
                std::future::pending(),
            )
            .await
        }
    });
    let collector = tokio::spawn(run(case));
    // Kill the server once a few thousand messages went through, for longer than the
    // publisher's ack timeout (5 s), then start it again on the same port and store.
    let t0 = Instant::now();
    let killed_at = loop {
        let seq = bus::last_sequence(&url, &cfg.nats).await.unwrap_or(0);
        if seq > 2_000 {
            break seq;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "the collector never published 2,000 messages"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    nats.kill();
    tokio::time::sleep(Duration::from_secs(6)).await;
    nats.restart();
    let (collector, _) = collector.await.expect("collector task");
    let last = bus::last_sequence(&url, &cfg.nats)
        .await
        .expect("stream after");
    last_tx
        .send(last)
        .expect("the consumer reading along is there");
    let along = tokio::time::timeout(Duration::from_secs(120), along)
        .await
        .expect("the consumer reading along reaches the end (a hang guard)")
        .expect("task")
        .expect("consumer");
    let published = collector
        .report
        .bus
        .as_ref()
        .and_then(|b| b.published)
        .expect("bus report");
    assert!(
        published.errors > 0,
        "publishes failed while the server was away: {published:?}"
    );
    assert!(
        published.resnapshots >= 1,
        "fresh snapshots once it was back: {published:?}"
    );
    // The re-snapshot is in the stream after the outage.
    let snap = async_nats::jetstream::new(async_nats::connect(&url).await.expect("connect"))
        .get_stream(&cfg.nats.stream)
        .await
        .expect("stream")
        .get_last_raw_message_by_subject("microstate.spot.BTCUSDT.raw.snapshot")
        .await
        .expect("a snapshot")
        .sequence;
    assert!(
        snap > killed_at,
        "a snapshot after the restart: {snap} vs killed at {killed_at}"
    );
    let after = consume(&cfg, &url, Start::All, last).await;
    for (name, c) in [("reading along", &along), ("reading afterwards", &after)] {
        eprintln!(
            "{name}: {} gaps, states {}; collector {published:?}",
            summary(&c.engine).gaps,
            phases(c)
        );
        let got = summary(&c.engine);
        assert_eq!(got.state, "synced", "{name}: {got:?}; {}", phases(c));
        assert_eq!(
            levels(&c.engine),
            levels(&collector.engine),
            "{name}: the collector's book ({} gaps; {})",
            got.gaps,
            phases(c)
        );
        resynced_after_each_gap(c);
    }
}

#[tokio::test]
async fn a_slow_consumer_is_flow_controlled_and_ends_with_the_collectors_book() {
    let nats = NatsServer::start("slow");
    let url = nats.url();
    let mut case = Case::spot(&[]);
    case.bus_url = Some(url.clone());
    let (collector, _) = run(case).await;
    let cfg = Config::default();
    let last = bus::last_sequence(&url, &cfg.nats).await.expect("stream");
    assert!(last > 10_000, "{last}");
    // The whole stream is waiting; the consumer takes 100 messages, then dozes.
    let mut consumer = BusConsumer::start(
        &url,
        &cfg.nats,
        microstate_core::market::Market::Spot,
        &[btc()],
        Start::All,
    )
    .await
    .expect("consumer");
    let mut out = BusOutcome::new(&cfg, &[btc()], consumer.last_seq_at_start);
    let server = async_nats::jetstream::new(async_nats::connect(&url).await.expect("connect"));
    let stream = server.get_stream(&cfg.nats.stream).await.expect("stream");
    let mut most_ahead = 0u64;
    let read = async {
        while out.last_seq < last {
            let r = consumer.next().await.expect("not ended").expect("readable");
            out.apply(&r);
            if r.seq % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                // What the server has handed this client beyond what it has taken in: the
                // client's buffer.
                let mut infos = stream.consumers();
                while let Some(info) = infos.next().await {
                    let delivered = info.expect("consumer info").delivered.stream_sequence;
                    most_ahead = most_ahead.max(delivered.saturating_sub(r.seq));
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(180), read)
        .await
        .expect("the slow consumer gets to the end (a hang guard)");
    // An ordered pull consumer asks 500 messages at a time: never the whole backlog.
    assert!(
        most_ahead <= 1_000,
        "at most two pulls of 500 waiting in the client, not the {last}-message backlog: {most_ahead}"
    );
    assert!(
        most_ahead > 0,
        "the server was measured ahead of the reader at some point"
    );
    assert_eq!(out.read_errors, 0);
    assert_eq!(summary(&out.engine).state, "synced");
    assert_eq!(levels(&out.engine), levels(&collector.engine));
    assert_eq!(
        counters(&summary(&out.engine)),
        counters(&summary(&collector.engine))
    );
}

#[tokio::test]
async fn a_collector_reconnect_goes_over_the_bus_and_consumers_end_equal() {
    let nats = NatsServer::start("reconnect");
    // The exchange closes the collector's socket at frame 4,000: it resets the book, reconnects
    // and resyncs from a new snapshot; the consumers see the reset and the snapshot.
    let mut case = Case::spot(&["close@4000"]);
    case.bus_url = Some(nats.url());
    let (collector, _) = run(case).await;
    let drops: u64 = collector
        .report
        .connections
        .iter()
        .map(|c| c.disconnects)
        .sum();
    assert!(
        drops >= 1,
        "the collector was dropped: {:?}",
        collector.report.connections
    );
    let cfg = Config::default();
    let url = nats.url();
    let last = bus::last_sequence(&url, &cfg.nats).await.expect("stream");
    let reset = async_nats::jetstream::new(async_nats::connect(&url).await.expect("connect"))
        .get_stream(&cfg.nats.stream)
        .await
        .expect("stream")
        .get_last_raw_message_by_subject("microstate.spot.BTCUSDT.raw.reset")
        .await;
    assert!(reset.is_ok(), "the reset went over the bus");
    let (a, b) = tokio::join!(
        consume(&cfg, &url, Start::All, last),
        consume(&cfg, &url, Start::All, last)
    );
    let want = summary(&collector.engine);
    for (name, c) in [("first", &a), ("second", &b)] {
        assert_eq!((c.read_errors, c.refused), (0, 0), "{name}");
        assert_eq!(counters(&summary(&c.engine)), counters(&want), "{name}");
        assert_eq!(levels(&c.engine), levels(&collector.engine), "{name}");
        assert!(
            c.phases.iter().filter(|(_, _, p)| *p == "synced").count() >= 2,
            "{name}: synced, reset, synced again: {}",
            phases(c)
        );
    }
}
