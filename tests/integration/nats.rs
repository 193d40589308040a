//! The NATS JetStream fan-out with a real `nats-server -js` started per test on a free loopback
//! port with its own store directory: a collector on the local exchange serving the real spot
//! capture publishes to JetStream, consumers read it back through the same engine and end with
//! the collector's book and counters (and the golden replay's book); a consumer that joins late
//! starts from the latest snapshot in the stream.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::live::{Case, btc, levels, replay_engine, run, spot_excerpt};
use microstate::config::Config;
use microstate_core::summary::SymbolSummary;
use microstate_drive::bus_source::{self, BusOutcome, Until};
use microstate_io::bus::{self, Start};

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
            start,
            Until::Sequence(last),
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
    assert_eq!(
        late.messages,
        last - late.first_seq + 1,
        "read from there to the end"
    );
}
