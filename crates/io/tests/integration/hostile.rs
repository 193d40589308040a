//! Hostile peers: a small scripted server on 127.0.0.1 (raw TCP, the bytes written by hand, like
//! the local exchange's faults) against the live client's REST and WebSocket code. Each case
//! panicked, hung or ballooned memory before the client moved to hyper with bounds checked
//! while reading (issue 19, items 2, 7 and 11).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use microstate_config::{Config, EndpointsConfig, RestConfig};
use microstate_core::num::Symbol;
use microstate_io::ingest::http::{self, HttpError};
use microstate_io::ingest::snapshots::{self, Budget, SharedBudget, SnapshotRequest};
use microstate_io::ingest::{IngestMsg, IngestStats, ws};

/// Generous: the machine is loaded; nothing here asserts speed.
const T: Duration = Duration::from_secs(30);

/// What the peer answers each request with.
#[derive(Clone)]
enum Script {
    /// These bytes, then close.
    Bytes(Vec<u8>),
    /// `head`, then `fill` again and again until the client hangs up or `max` bytes are out.
    Endless {
        head: Vec<u8>,
        fill: Vec<u8>,
        max: u64,
    },
}

/// A scripted HTTP peer: reads each request's head, answers with the script, counts.
struct Peer {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl Peer {
    async fn start(script: Script) -> Peer {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        let requests = Arc::new(AtomicU64::new(0));
        let written = Arc::new(AtomicU64::new(0));
        let (r, w) = (requests.clone(), written.clone());
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let (script, r, w) = (script.clone(), r.clone(), w.clone());
                tokio::spawn(async move { serve(s, script, r, w).await });
            }
        });
        Peer {
            addr,
            requests,
            written,
        }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

async fn serve(
    mut s: TcpStream,
    script: Script,
    requests: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 << 10 {
            return;
        }
    }
    requests.fetch_add(1, Ordering::Relaxed);
    match script {
        Script::Bytes(b) => {
            if s.write_all(&b).await.is_ok() {
                written.fetch_add(b.len() as u64, Ordering::Relaxed);
            }
            let _ = s.shutdown().await;
        }
        Script::Endless { head, fill, max } => {
            if s.write_all(&head).await.is_err() {
                return;
            }
            written.fetch_add(head.len() as u64, Ordering::Relaxed);
            let mut out = head.len() as u64;
            while out < max {
                if s.write_all(&fill).await.is_err() {
                    return;
                }
                out += fill.len() as u64;
                written.fetch_add(fill.len() as u64, Ordering::Relaxed);
            }
        }
    }
}

fn limits() -> RestConfig {
    RestConfig {
        max_head_bytes: 64 << 10,
        max_body_bytes: 1 << 20,
        retry_after_max: Duration::from_secs(3600),
    }
}

fn sym(s: &str) -> Symbol {
    s.parse().expect("symbol")
}

#[tokio::test]
async fn a_chunk_size_that_wraps_is_an_error_not_a_panic() {
    // 5 + 0xfffffffffffffffe wraps to 3 in usize: the hand-written client sliced out of range.
    let p = Peer::start(Script::Bytes(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nfffffffffffffffe\r\nabc\r\n"
            .to_vec(),
    ))
    .await;
    let url = format!("{}/api/v3/depth?symbol=BTCUSDT&limit=5", p.base());
    let e = http::get(&url, T, &limits()).await.expect_err("refused");
    assert!(e.to_string().contains(&url), "{e}");
    // A size that does not even fit in 64 bits.
    let p = Peer::start(Script::Bytes(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1fffffffffffffffff\r\nabc\r\n"
            .to_vec(),
    ))
    .await;
    let e = http::get(&p.base(), T, &limits())
        .await
        .expect_err("refused");
    assert!(matches!(e, HttpError::Protocol { .. }), "{e}");
}

#[tokio::test]
async fn a_300_mb_response_head_is_refused_while_it_is_read() {
    // One header line that never ends: a line-by-line reader holds all of it before any check.
    let p = Peer::start(Script::Endless {
        head: b"HTTP/1.1 200 OK\r\nX-Pad: ".to_vec(),
        fill: vec![b'a'; 64 << 10],
        max: 300 << 20,
    })
    .await;
    let e = http::get(&p.base(), T, &limits())
        .await
        .expect_err("refused");
    assert!(
        matches!(e, HttpError::HeadTooLarge { limit, .. } if limit == 64 << 10),
        "{e}"
    );
    assert!(e.to_string().contains("rest.max_head_bytes"), "{e}");
    // Give the peer a moment to notice the hang-up, then check how much it got out: the client
    // stopped reading at the limit (what the kernel buffers on loopback is all the rest).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(p.written() < 64 << 20, "peer wrote {} bytes", p.written());
}

#[tokio::test]
async fn an_endless_body_is_refused_at_the_cap_while_it_is_read() {
    let chunk = format!("{:x}\r\n{}\r\n", 4096, "b".repeat(4096)).into_bytes();
    let p = Peer::start(Script::Endless {
        head: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
        fill: chunk,
        max: 1 << 30,
    })
    .await;
    let e = http::get(&p.base(), T, &limits())
        .await
        .expect_err("refused");
    assert!(
        matches!(e, HttpError::BodyTooLarge { limit, .. } if limit == 1 << 20),
        "{e}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(p.written() < 64 << 20, "peer wrote {} bytes", p.written());
    // A declared length past the cap is refused before any of the body is read.
    let p = Peer::start(Script::Bytes(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\nxyz".to_vec(),
    ))
    .await;
    let e = http::get(&p.base(), T, &limits())
        .await
        .expect_err("refused");
    assert!(matches!(e, HttpError::BodyTooLarge { .. }), "{e}");
    // Within the caps, bodies of every framing arrive whole.
    for raw in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-MBX-USED-WEIGHT-1M: 7\r\n\r\nhello"[..],
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n"[..],
        &b"HTTP/1.0 200 OK\r\n\r\nhello"[..],
    ] {
        let p = Peer::start(Script::Bytes(raw.to_vec())).await;
        let r = http::get(&p.base(), T, &limits()).await.expect("GET");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
    }
    // Cut short: an error, not a short body.
    let p = Peer::start(Script::Bytes(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort".to_vec(),
    ))
    .await;
    assert!(http::get(&p.base(), T, &limits()).await.is_err());
}

/// The snapshot scheduler against `peer`, one request for BTCUSDT.
struct Scheduler {
    rx: mpsc::Receiver<IngestMsg>,
    stats: Arc<IngestStats>,
    task: tokio::task::JoinHandle<()>,
    _req: mpsc::UnboundedSender<SnapshotRequest>,
}

fn scheduler(peer: &Peer, rest: RestConfig) -> Scheduler {
    let mut cfg = Config {
        endpoints: EndpointsConfig::local("ws://127.0.0.1:1", &peer.base()),
        rest,
        ..Config::default()
    };
    cfg.snapshot.retry_min = Duration::from_millis(100);
    cfg.snapshot.retry_max = Duration::from_millis(200);
    cfg.snapshot.request_timeout = T;
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let (tx, rx) = mpsc::channel(64);
    let stats = Arc::new(IngestStats::default());
    let budget = SharedBudget::new(Budget::new(100_000));
    let task = tokio::spawn(snapshots::run(cfg, req_rx, tx, stats.clone(), budget));
    req_tx
        .send(SnapshotRequest {
            symbol: sym("BTCUSDT"),
            failures: 0,
            resync: false,
        })
        .expect("send");
    Scheduler {
        rx,
        stats,
        task,
        _req: req_tx,
    }
}

async fn next_failure(s: &mut Scheduler) -> String {
    loop {
        match tokio::time::timeout(T, s.rx.recv()).await {
            Ok(Some(IngestMsg::SnapshotFailed { reason, .. })) => return reason,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the snapshot task ended"),
            Err(_) => panic!("no snapshot failure within {T:?}"),
        }
    }
}

#[tokio::test]
async fn retry_after_u64_max_neither_overflows_nor_kills_the_snapshot_task() {
    let p = Peer::start(Script::Bytes(
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 18446744073709551615\r\nContent-Length: 0\r\n\r\n"
            .to_vec(),
    ))
    .await;
    let mut s = scheduler(&p, limits());
    let reason = next_failure(&mut s).await;
    assert!(reason.contains("waiting 3600 s"), "{reason}");
    // `Instant::now() + u64::MAX s` panicked right after this message: the task must live on.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!s.task.is_finished(), "the snapshot task died");
    assert_eq!(s.stats.rest_429.load(Ordering::Relaxed), 1);
    assert_eq!(s.stats.snapshot_task_restarts.load(Ordering::Relaxed), 0);
    s.task.abort();
}

#[tokio::test]
async fn an_absurd_retry_after_waits_only_the_cap_then_asks_again() {
    // 31,700 years, as sent; with the cap at 1 s the scheduler asks again within the test.
    let p = Peer::start(Script::Bytes(
        b"HTTP/1.1 418 I'm a teapot\r\nRetry-After: 1000000000000\r\nContent-Length: 0\r\n\r\n"
            .to_vec(),
    ))
    .await;
    let rest = RestConfig {
        retry_after_max: Duration::from_secs(1),
        ..limits()
    };
    let mut s = scheduler(&p, rest);
    let reason = next_failure(&mut s).await;
    assert!(
        reason.contains("HTTP 418") && reason.contains("waiting 1 s"),
        "{reason}"
    );
    let reason = next_failure(&mut s).await;
    assert!(reason.contains("HTTP 418"), "{reason}");
    assert!(p.requests.load(Ordering::Relaxed) >= 2);
    s.task.abort();
}

#[tokio::test]
async fn an_html_200_to_a_depth_request_is_not_a_snapshot() {
    let html = "<html><body><h1>Welcome to nginx!</h1></body></html>";
    let p = Peer::start(Script::Bytes(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{html}",
            html.len()
        )
        .into_bytes(),
    ))
    .await;
    let mut s = scheduler(&p, limits());
    let reason = next_failure(&mut s).await;
    assert!(
        reason.contains("is not a depth snapshot") && reason.contains("text/html"),
        "{reason}"
    );
    assert!(reason.contains("Welcome to nginx"), "{reason}");
    // Counted, not delivered, and asked again.
    let again = next_failure(&mut s).await;
    assert!(again.contains("is not a depth snapshot"), "{again}");
    assert!(s.stats.snapshots_unusable.load(Ordering::Relaxed) >= 2);
    assert_eq!(s.stats.snapshots_ok.load(Ordering::Relaxed), 0);
    s.task.abort();
}

#[tokio::test]
async fn a_good_snapshot_still_goes_through() {
    let body = r#"{"lastUpdateId":10,"bids":[["100.00","1.0"]],"asks":[["100.10","2.0"]]}"#;
    let p = Peer::start(Script::Bytes(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-MBX-USED-WEIGHT-1M: 250\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    ))
    .await;
    let mut s = scheduler(&p, limits());
    match tokio::time::timeout(T, s.rx.recv()).await {
        Ok(Some(IngestMsg::Snapshot {
            symbol, body: b, ..
        })) => {
            assert_eq!((symbol, b.as_slice()), (sym("BTCUSDT"), body.as_bytes()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.stats.snapshots_ok.load(Ordering::Relaxed), 1);
    s.task.abort();
}

/// A WebSocket peer that sends one text frame of `len` bytes.
async fn ws_peer(len: usize) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(s).await.expect("upgrade");
                let _ = ws
                    .send(tokio_tungstenite::tungstenite::Message::text(
                        "x".repeat(len),
                    ))
                    .await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_websocket_frame_past_the_configured_cap_ends_the_connection() {
    let cap = 4096u64;
    let addr = ws_peer(2048).await;
    let mut ws = ws::connect(&format!("ws://{addr}/stream"), T, cap)
        .await
        .expect("connect");
    let m = tokio::time::timeout(T, ws.next()).await.expect("in time");
    assert!(matches!(m, Some(Ok(ref m)) if m.len() == 2048), "{m:?}");
    let addr = ws_peer(64 << 10).await;
    let mut ws = ws::connect(&format!("ws://{addr}/stream"), T, cap)
        .await
        .expect("connect");
    let m = tokio::time::timeout(T, ws.next()).await.expect("in time");
    let e = match m {
        Some(Err(e)) => e.to_string(),
        other => panic!("a 64 KiB frame got through a 4 KiB cap: {other:?}"),
    };
    assert!(e.contains("too long") || e.contains("too large"), "{e}");
}
