//! The binary's `--api`, as a user runs it: `replay --hold` of the real spot capture serves the
//! final state (the book equal, level for level, to the independent rebuild), its stream's
//! messages all parse, `/metrics` passes Prometheus's `promtool` and a real Prometheus server
//! (started here on a free port with a generated config) scrapes it and answers a query with
//! our counters; the demo serves too; a non-loopback address is refused without a token, and
//! with one, requests without it get 401.
//!
//! The servers are real processes on 127.0.0.1; every wait is a condition polled under a
//! generous guard (a hang, not a slow machine, fails it).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use microstate_testkit::http::{get, get_json};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

const GUARD: Duration = Duration::from_secs(180);

/// A running `microstate-tui` with its API; killed when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with `args` and waits for its `api: serving on http://ADDR` line;
/// `Err(stderr)` when it exits first.
fn serve(args: &[&str]) -> Result<Served, String> {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let pipe = child.stderr.take().expect("stderr");
    let log = Arc::clone(&stderr);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            // Logged before the address is handed over: a test that reads the log once it has
            // the address must find the line that carried it (it raced and lost under load).
            if let Ok(mut l) = log.lock() {
                l.push_str(&line);
                l.push('\n');
            }
            if let Some(rest) = line.strip_prefix("api: serving on http://")
                && let Some(addr) = rest.split_whitespace().next()
            {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let text = || stderr.lock().map(|s| s.clone()).unwrap_or_default();
    let deadline = Instant::now() + GUARD;
    loop {
        if let Ok(a) = rx.recv_timeout(Duration::from_millis(100)) {
            let mut addr: SocketAddr = a.parse().expect("an address");
            if addr.ip().is_unspecified() {
                addr.set_ip([127, 0, 0, 1].into());
            }
            return Ok(Served {
                child,
                addr,
                stderr,
            });
        }
        if let Ok(Some(_)) = child.try_wait() {
            // Let the reader thread take the last lines.
            std::thread::sleep(Duration::from_millis(200));
            return Err(text());
        }
        assert!(
            Instant::now() < deadline,
            "no API address within {GUARD:?}:\n{}",
            text()
        );
    }
}

impl Served {
    /// Ctrl-C, then the exit status (the process must end by itself).
    fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let ok = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill runs");
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st;
            }
            assert!(Instant::now() < deadline, "still running 60 s after Ctrl-C");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Polls `GET path` until `ok` holds for its JSON (guarded).
async fn until(
    addr: SocketAddr,
    path: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + GUARD;
    loop {
        let (code, v) = get_json(addr, path).await;
        if code == 200 && ok(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "GET {path} never showed it: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A free port on 127.0.0.1 (bound and released: the caller starts its server on it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A real Prometheus server scraping `target` every second, on a free port, in a temp dir;
/// killed when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prometheus(target: SocketAddr, dir: &std::path::Path) -> Prometheus {
    std::fs::create_dir_all(dir).expect("dir");
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: microstate\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("write the config");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let child = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian package `prometheus`; .ci/run installs it)");
    Prometheus { child, addr }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_hold_serves_the_final_state_to_http_websocket_and_prometheus() {
    let files = spot_files();
    let summary = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("api-hold.json");
    let mut args = vec!["replay"];
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let summary_s = summary.display().to_string();
    args.extend([
        "--headless",
        "--hold",
        "--api",
        "127.0.0.1:0",
        "--summary-json",
        &summary_s,
    ]);
    let served = serve(&args).unwrap_or_else(|e| panic!("the replay did not serve: {e}"));
    let addr = served.addr;

    // The replay ends; the process stays.
    let h = until(addr, "/v1/health", |h| h["replay"]["done"] == true).await;
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["source"]["kind"], "replay", "{h}");

    // The final book is the golden one, level for level.
    let (diffs, snap) = hft_parts(&gz_lines(&files));
    let r = rebuild(&diffs, &snap, false);
    let (code, b) = get_json(addr, "/v1/book/BTCUSDT?depth=60").await;
    assert_eq!(code, 200, "{b}");
    assert_eq!(b["state"], "synced");
    assert_eq!(b["last_update_id"], 50_093_696_318u64);
    assert_eq!(b["bids"], serde_json::json!(r.book.top_bids(60)));
    assert_eq!(b["asks"], serde_json::json!(r.book.top_asks(60)));
    assert_eq!(b["bids"][0], serde_json::json!(["61602.01", "1.67177"]));
    let (_, syms) = get_json(addr, "/v1/symbols").await;
    let s = &syms["symbols"][0];
    assert_eq!(
        (&s["trades"], &s["diffs_applied"], &s["gaps"], &s["mid"]),
        (
            &serde_json::json!(19_904),
            &serde_json::json!(6_493),
            &serde_json::json!(0),
            &serde_json::json!("61602.015")
        ),
        "{s}"
    );
    let (code, f) = get_json(addr, "/v1/features/btcusdt").await;
    assert_eq!(code, 200, "{f}");
    assert_eq!(f["bid_px"], 61602.01, "{f}");

    // The stream of the held state: status and book, every message parses.
    let url = format!("ws://{addr}/v1/stream?symbols=BTCUSDT&channels=book&depth=10");
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.expect("ws");
    let mut got = (false, false);
    while !(got.0 && got.1) {
        let m = tokio::time::timeout(GUARD, ws.next())
            .await
            .expect("a message");
        let Some(Ok(Message::Text(t))) = m else {
            panic!("the stream ended: {m:?}");
        };
        let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("JSON");
        match v["channel"].as_str() {
            Some("status") => {
                assert_eq!(v["data"]["state"], "synced", "{v}");
                got.0 = true;
            }
            Some("book") => {
                assert_eq!(
                    v["data"]["bids"],
                    serde_json::json!(r.book.top_bids(10)),
                    "{v}"
                );
                got.1 = true;
            }
            _ => panic!("not asked for: {v}"),
        }
    }
    drop(ws);

    // Metrics: Prometheus's linter, then a real Prometheus scraping us.
    let (code, text) = get(addr, "/metrics", None).await;
    assert_eq!(code, 200);
    assert!(
        text.contains("microstate_trades_total{symbol=\"BTCUSDT\"} 19904"),
        "{text}"
    );
    let mut lint = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package `prometheus`)");
    {
        use std::io::Write;
        lint.stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
    }
    let out = lint.wait_with_output().expect("promtool ran");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let prom = prometheus(addr, &dir);
    let query = "/api/v1/query?query=microstate_trades_total%7Bsymbol%3D%22BTCUSDT%22%7D";
    let deadline = Instant::now() + GUARD;
    let answer = loop {
        let ok = tokio::net::TcpStream::connect(prom.addr).await.is_ok();
        if ok {
            let (code, body) = get(prom.addr, query, None).await;
            if code == 200 {
                let v: serde_json::Value =
                    serde_json::from_str(&body).expect("Prometheus answers JSON");
                if v["data"]["result"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
                {
                    break v;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never had our counter"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(answer["status"], "success", "{answer}");
    assert_eq!(answer["data"]["result"][0]["value"][1], "19904", "{answer}");
    assert_eq!(
        answer["data"]["result"][0]["metric"]["job"], "microstate",
        "{answer}"
    );
    drop(prom);
    let _ = std::fs::remove_dir_all(&dir);

    // Ctrl-C ends the hold, with the summary.
    let stderr = Arc::clone(&served.stderr);
    let st = served.interrupt();
    assert!(
        st.success(),
        "{st:?}: {}",
        stderr.lock().map(|s| s.clone()).unwrap_or_default()
    );
    let sum: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).expect("the summary")).expect("JSON");
    assert_eq!(sum["symbols"][0]["trades"], 19_904);
}

#[tokio::test]
async fn the_demo_serves_its_live_session() {
    let served = serve(&[
        "demo",
        "--headless",
        "--duration",
        "5m",
        "--api",
        "127.0.0.1:0",
    ])
    .unwrap_or_else(|e| panic!("the demo did not serve: {e}"));
    let addr = served.addr;
    let h = until(addr, "/v1/health", |h| h["status"] == "ok").await;
    assert_eq!(h["source"]["kind"], "live", "{h}");
    let (code, b) = get_json(addr, "/v1/book/BTCUSDT?depth=2").await;
    assert_eq!(code, 200, "{b}");
    assert_eq!(b["state"], "synced", "{b}");
    assert_eq!(b["bids"].as_array().map(Vec::len), Some(2), "{b}");
    let (_, text) = get(addr, "/metrics", None).await;
    assert!(
        text.contains("microstate_snapshot_requests_total "),
        "{text}"
    );
    assert!(served.interrupt().success());
}

#[tokio::test]
async fn a_non_loopback_address_needs_a_token_and_requests_need_it() {
    let spot = spot_files();
    let file = spot[0].display().to_string();
    let refused = serve(&["replay", &file, "--headless", "--api", "0.0.0.0:0"]);
    let err = refused.err().expect("refused without a token");
    assert!(err.contains("needs a token"), "{err}");

    let served = serve(&[
        "replay",
        &file,
        "--headless",
        "--hold",
        "--api",
        "0.0.0.0:0",
        "--api-token",
        "s3cret",
    ])
    .unwrap_or_else(|e| panic!("did not serve with a token: {e}"));
    assert!(
        served
            .stderr
            .lock()
            .map(|s| s.contains("bearer token required"))
            .unwrap_or(false)
    );
    let addr = served.addr;
    for path in ["/v1/health", "/v1/book/BTCUSDT", "/metrics", "/v1/stream"] {
        let (code, body) = get(addr, path, None).await;
        assert_eq!(code, 401, "{path} without the token: {body}");
        assert!(body.contains("token"), "{body}");
        let (code, _) = get(addr, path, Some("wrong")).await;
        assert_eq!(code, 401, "{path} with a wrong token");
    }
    let (code, body) = get(addr, "/v1/health", Some("s3cret")).await;
    assert_eq!(code, 200, "{body}");
    let (code, _) = get(addr, "/v1/health?token=s3cret", None).await;
    assert_eq!(code, 200);
    let bad = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/stream")).await;
    assert!(bad.is_err(), "a stream without the token");
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/v1/stream?token=s3cret"))
            .await
            .expect("a stream with the token");
    let m = tokio::time::timeout(GUARD, ws.next())
        .await
        .expect("a message");
    assert!(matches!(m, Some(Ok(Message::Text(_)))), "{m:?}");
    drop(ws);
    assert!(served.interrupt().success());
}
