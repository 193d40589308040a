//! The real binary, run as a user would: headless replay JSON shape, the demo, help, and errors
//! a person can act on.

use crate::common::*;

#[test]
fn headless_replay_prints_the_documented_summary_shape() {
    let files = spot_files();
    let out = bin()
        .args(["replay"])
        .args(&files)
        .args(["--headless", "--summary-json", "-"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let s = &v["symbols"][0];
    assert_eq!(s["symbol"], "BTCUSDT");
    assert_eq!(s["market"], "spot");
    assert_eq!(s["state"], "synced");
    assert_eq!(s["frames"], 99_573);
    assert_eq!(s["depth_updates"]["applied"], 6_493);
    assert_eq!(s["depth_updates"]["dropped_before_sync"], 2);
    assert_eq!(s["snapshots"], 1);
    assert_eq!(s["gaps"], 0);
    assert_eq!(s["resyncs"], 0);
    assert_eq!(s["crossed_events"], 0);
    assert_eq!(s["trades"], 19_904);
    assert_eq!(s["book_ticker_check"]["compared"], 1_072);
    assert_eq!(s["book_ticker_check"]["matched"], 1_072);
    assert_eq!(s["final"]["last_update_id"], 50_093_696_318u64);
    assert_eq!(
        s["final"]["bids"][0],
        serde_json::json!(["61602.01", "1.67177"])
    );
    assert_eq!(s["final"]["bids"].as_array().map(Vec::len), Some(10));
    assert_eq!(s["final"]["asks"].as_array().map(Vec::len), Some(10));
}

#[test]
fn summary_json_to_a_file_and_market_override() {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("usdm-summary.json");
    let out = bin()
        .arg("replay")
        .args(usdm_files())
        .args(["--headless", "--market", "usdm", "--summary-json"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("file")).expect("json");
    assert_eq!(v["symbols"][0]["market"], "usdm");
    assert_eq!(v["symbols"][0]["depth_updates"]["applied"], 9_017);
    assert_eq!(v["symbols"][0]["book_ticker_check"]["matched"], 625);
}

#[test]
fn demo_runs_offline_through_the_local_exchange_and_the_live_client() {
    use std::io::{BufRead, BufReader, Read};
    // Headless (stdout is a pipe): status lines on stderr every second. The demo is stopped
    // with Ctrl-C (SIGINT) once a status line shows the book synced with more than 20 diffs
    // applied; `--duration` only guards against a hang (the demo would end by itself).
    let mut child = bin()
        .args(["demo", "--duration", "120s", "--speed", "5"])
        .args(["--summary-json", "-"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut err = String::new();
    let diffs = |line: &str| -> Option<u64> {
        let rest = &line[line.find("BTCUSDT SYNCED")?..];
        let n = &rest[rest.find(" diffs ")? + " diffs ".len()..];
        n.split_whitespace().next()?.parse().ok()
    };
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).expect("stderr");
        err.push_str(&line);
        assert!(n > 0, "the demo ended before showing a synced book:\n{err}");
        if diffs(&line).is_some_and(|d| d > 20) {
            break;
        }
    }
    let sigint = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sigint.success());
    stderr.read_to_string(&mut err).expect("stderr");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{err}");
    assert!(err.contains("local Binance-compatible exchange"), "{err}");
    assert!(
        err.contains("BTCUSDT SYNCED"),
        "status lines show the synced book: {err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let s = &v["symbols"][0];
    assert_eq!(s["symbol"], "BTCUSDT");
    assert_eq!(s["state"], "synced");
    assert_eq!(s["gaps"], 0);
    assert!(
        s["depth_updates"]["applied"].as_u64().unwrap_or(0) > 20,
        "{s}"
    );
    assert_eq!(
        s["book_ticker_check"]["compared"],
        s["book_ticker_check"]["matched"]
    );
    assert_eq!(v["live"]["ever_connected"], true);
}

#[test]
fn live_without_network_says_so_and_exits_2() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let out = bin()
        .args(["live", "btcusdt", "--headless", "--duration", "2s"])
        .args(["--ws-endpoint", &format!("ws://127.0.0.1:{port}")])
        .args(["--rest-endpoint", &format!("http://127.0.0.1:{port}")])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("connecting, attempt 1, next in 0."), "{err}");
    assert!(err.contains("never connected"), "{err}");
}

#[test]
fn bad_config_file_names_file_key_and_value() {
    let p = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad-config.toml");
    std::fs::write(&p, "[snapshot]\nfutures_limit = 7\n").expect("write");
    let out = bin()
        .args(["live", "btcusdt", "--duration", "1s", "--config"])
        .arg(&p)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad-config.toml")
            && err.contains("snapshot.futures_limit")
            && err.contains('7'),
        "{err}"
    );
}

#[test]
fn exchange_prints_its_address_first_and_serves_rest() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = bin()
        .args([
            "exchange",
            "--synthetic",
            "--seed",
            "7",
            "--symbols",
            "BTCUSDT",
            "--speed",
            "max",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout.read_line(&mut first).expect("first line");
    let addr: std::net::SocketAddr = first
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("address on line 1: {first:?}"));
    assert!(addr.ip().is_loopback());
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /api/v3/time HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let _ = child.kill();
    let _ = child.wait();
    drop(stdout);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("serverTime"), "{resp}");
}

/// `--listen 0.0.0.0:0` prints the address really bound (all interfaces, the port the OS chose),
/// not 127.0.0.1; connecting to that port on loopback works.
#[test]
fn exchange_on_all_interfaces_prints_the_address_it_bound() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = bin()
        .args([
            "exchange",
            "--synthetic",
            "--seed",
            "7",
            "--symbols",
            "BTCUSDT",
            "--listen",
            "0.0.0.0:0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout.read_line(&mut first).expect("first line");
    let addr: std::net::SocketAddr = first
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("address on line 1: {first:?}"));
    let served = (|| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", addr.port())).ok()?;
        s.write_all(b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut resp = String::new();
        s.read_to_string(&mut resp).ok()?;
        Some(resp)
    })();
    let _ = child.kill();
    let _ = child.wait();
    assert!(addr.ip().is_unspecified() && addr.port() != 0, "{addr}");
    let resp = served.expect("served on loopback");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

#[test]
fn help_explains_the_commands() {
    let out = bin().arg("--help").output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for w in ["replay", "demo", "live", "exchange", "Examples"] {
        assert!(text.contains(w), "{w} missing from --help:\n{text}");
    }
    let out = bin().args(["replay", "--help"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--summary-json") && text.contains("--headless"),
        "{text}"
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = bin()
        .args(["replay", "/no/such/capture.gz", "--headless"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/no/such/capture.gz") && err.contains("No such file"),
        "{err}"
    );
    assert_eq!(err.matches("No such file").count(), 1, "said once: {err}");
}

#[test]
fn replay_into_a_pipe_runs_headless_and_prints_the_readable_summary() {
    let out = bin()
        .arg("replay")
        .args(spot_files())
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BTCUSDT (spot) — SYNCED"), "{text}");
    assert!(text.contains("bookTicker check 1072/1072"), "{text}");
}

/// What a recording on disk holds in whole chunks, read through the real reader (a chunk being
/// written is a cut tail, which the reader stops at).
#[derive(Debug, Default, Clone, Copy)]
struct OnDisk {
    frames: usize,
    synced: bool,
    /// Wall time of the newest record (ns).
    newest_ns: u64,
}

fn on_disk(path: &std::path::Path) -> OnDisk {
    use microstate_io::record::format::{Record, RecordingReader};
    let mut seen = OnDisk::default();
    let Ok(mut r) = RecordingReader::open(path) else {
        return seen; // the header is not on disk yet
    };
    while let Some(rec) = r.next_record() {
        seen.newest_ns = seen.newest_ns.max(rec.wall_ns());
        match rec {
            Record::WsFrame { .. } => seen.frames += 1,
            Record::Lifecycle { event, .. } if event == "synced" => seen.synced = true,
            _ => {}
        }
    }
    seen
}

/// The one file in a recording folder, once there is one.
fn the_recording(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let files: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(files.len() <= 1, "one recording: {files:?}");
    files.into_iter().next()
}

#[test]
fn record_killed_with_sigkill_loses_at_most_the_last_second_and_replays() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    let excerpt = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/demo/btcusdt_20240808-excerpt.gz");
    let mut exchange = bin()
        .arg("exchange")
        .arg("--capture")
        .arg(&excerpt)
        .args(["--speed", "5"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn exchange");
    let mut first = String::new();
    let mut stdout = BufReader::new(exchange.stdout.take().expect("stdout"));
    stdout.read_line(&mut first).expect("address line");
    let addr = first.trim().to_string();
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sigkill");
    let _ = std::fs::remove_dir_all(&out);
    let mut rec = bin()
        .args(["record", "btcusdt", "--headless"])
        .args(["--ws-endpoint", &format!("ws://{addr}")])
        .args(["--rest-endpoint", &format!("http://{addr}")])
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn record");
    // Kill it mid-stream once the file on disk (read through the real reader) holds the sync
    // and a thousand frames in whole chunks. The file is polled; what it holds decides when.
    let guard = Instant::now();
    let before = loop {
        if let Some(seen) = the_recording(&out).map(|p| on_disk(&p))
            && seen.synced
            && seen.frames >= 1_000
        {
            break seen;
        }
        assert!(
            rec.try_wait().expect("wait").is_none(),
            "record exited before the kill"
        );
        assert!(
            guard.elapsed() < Duration::from_secs(60),
            "no synced recording with 1,000 frames on disk within 60 s (a hang guard): {:?}",
            the_recording(&out).map(|p| on_disk(&p))
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let killed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    rec.kill().expect("kill -9");
    let _ = rec.wait();
    let _ = exchange.kill();
    let _ = exchange.wait();
    drop(stdout);

    let files: Vec<_> = std::fs::read_dir(&out)
        .expect("recording folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("spot_BTCUSDT_") && name.ends_with("Z.msrec"),
        "{name}"
    );
    // What was on disk before the kill is still there, and more may have been flushed since.
    let after = on_disk(&files[0]);
    assert!(
        after.synced && after.frames >= before.frames,
        "{after:?} after the kill, {before:?} before"
    );
    // The writer flushes a chunk at least every `flush_every` (1 s): this checks that pacing
    // itself, so it is measured against the wall clock (the kill's and the records' times).
    let lost_ns = killed_at.saturating_sub(after.newest_ns);
    assert!(
        lost_ns < 1_600_000_000,
        "the newest record kept is {:.2} s older than the kill",
        lost_ns as f64 / 1e9
    );
    // And it replays through the engine: synced, no errors (a cut tail is only a warning).
    let out = bin()
        .arg("replay")
        .arg(&files[0])
        .args(["--headless", "--summary-json", "-"])
        .output()
        .expect("replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["symbols"][0]["state"], "synced", "{v}");
    assert_eq!(v["symbols"][0]["gaps"], 0, "{v}");
}
/// `replay … --features-jsonl`: parsable lines with the required keys and every schema name,
/// null (never NaN) where invalid, per event by default and per second of event time on request.
#[test]
fn replay_writes_feature_vectors_as_json_lines() {
    use microstate_core::features::{FeatureParams, Schema};
    let schema = Schema::new(&FeatureParams::default());
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let check_line = |line: &str| -> serde_json::Value {
        assert!(!line.contains("NaN") && !line.contains("inf"), "{line}");
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        for k in [
            "symbol",
            "ts_ns",
            "mid",
            "microprice",
            "spread",
            "imbalance",
            "ofi",
            "valid",
        ] {
            assert!(v.get(k).is_some(), "{k} missing: {line}");
        }
        for k in ["1", "5", "10"] {
            assert!(v["imbalance"].get(k).is_some(), "imbalance.{k}");
        }
        for f in &schema.features {
            let (fam, key) = f.split();
            let x = match key {
                Some(k) => &v[fam][k],
                None => &v[fam],
            };
            assert!(x.is_number() || x.is_null(), "{} is {x}", f.name);
        }
        assert_eq!(v["schema"], 1);
        v
    };

    // Per event, on the cryptofeed spot pair (small).
    let path = dir.join("features-cryptofeed.jsonl");
    let out = bin()
        .arg("replay")
        .arg(data_dir().join("cryptofeed/BINANCE.ws.1.0"))
        .args(["--headless", "--summary-json", "-", "--features-jsonl"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).expect("jsonl written");
    let lines: Vec<serde_json::Value> = text.lines().map(check_line).collect();
    assert!(lines.len() > 200, "{}", lines.len());
    // Every line sits on the event-time axis: none at ts_ns 0 (a spot bookTicker has no E).
    assert!(
        lines
            .iter()
            .all(|v| v["ts_ns"].as_u64().is_some_and(|t| t > 0)),
        "a line at ts_ns 0"
    );
    assert!(
        lines
            .iter()
            .any(|v| v["symbol"] == "NKNUSDT" && v["mid"].is_number())
    );
    // Invalid is written as null.
    assert!(
        lines
            .iter()
            .all(|v| v["valid"]["book"] != false || v["mid"].is_null())
    );
    assert!(
        lines
            .iter()
            .any(|v| v["valid"]["10s"] == true && v["ofi"]["10s"].is_number())
    );

    // One per second of event time, on stdout, from the spot capture.
    let out = bin()
        .arg("replay")
        .args(spot_files())
        .args([
            "--headless",
            "--features-jsonl",
            "-",
            "--features-every",
            "1s",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf8");
    let ts: Vec<u64> = text
        .lines()
        .map(|l| check_line(l)["ts_ns"].as_u64().expect("ts_ns"))
        .collect();
    // 650 s of capture: about one line per second, each in a later second than the last.
    assert!((640..=660).contains(&ts.len()), "{}", ts.len());
    assert!(
        ts.iter().all(|t| *t > 0),
        "a line at ts_ns 0: {:?}",
        &ts[..3]
    );
    assert!(
        ts.windows(2)
            .all(|w| w[1] / 1_000_000_000 > w[0] / 1_000_000_000)
    );
    // The readable summary went to stderr, not into the JSON lines.
    assert!(String::from_utf8_lossy(&out.stderr).contains("BTCUSDT"));
}
/// The shipped context model evaluated on the last day of real BTCUSDT klines: the pinned
/// JSON shape (`context.model` and `context.baselines.{zero_drift_rolling_vol,
/// rescaled_rolling_vol, last_return_sign}` each with `nll`, `coverage_68`, `coverage_95`, `n`),
/// numbers in range, and a held-out slice (those minutes are in the test period).
#[test]
fn eval_context_json_shape_on_real_klines() {
    let f = data_dir().join("klines/binance-spot_BTCUSDT_1m_2025-05-20_2025-08-18.csv.gz");
    assert!(
        f.is_file(),
        "{} missing (see ../shared/data/README.md)",
        f.display()
    );
    let out = bin()
        .args(["eval", "--context-data"])
        .arg(&f)
        .args(["--last-minutes", "1440", "--json", "-"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let c = &v["context"];
    assert_eq!(c["n"], 1440);
    assert_eq!(c["horizon"], "15m");
    assert_eq!(c["in_sample_fraction"], 0.0);
    assert!(c["in_sample_warning"].is_null());
    for k in ["nll", "coverage_68", "coverage_95", "n"] {
        assert!(c["model"][k].is_number(), "model.{k}: {c}");
        for b in [
            "zero_drift_rolling_vol",
            "rescaled_rolling_vol",
            "last_return_sign",
        ] {
            assert!(c["baselines"][b][k].is_number(), "{b}.{k}");
        }
    }
    assert_eq!(c["model"]["n"], 1440);
    assert!(c["baselines"]["last_return_sign"]["directional_accuracy"].is_number());
    let cov = c["model"]["coverage_95"].as_f64().unwrap();
    assert!((0.8..=1.0).contains(&cov), "{cov}");
    let g = &c["nll_gain"]["rescaled_rolling_vol"];
    assert!(g["lo"].as_f64() <= g["mean"].as_f64() && g["mean"].as_f64() <= g["hi"].as_f64());
    let shares = ["bullish", "neutral", "bearish"]
        .map(|k| c["trend"][k].as_f64().expect("share"))
        .iter()
        .sum::<f64>();
    assert!((shares - 1.0).abs() < 1e-9);
    assert_eq!(c["horizons"].as_array().map(Vec::len), Some(2));
    assert_eq!(c["horizons"][1]["horizon"], "30m");
}

/// The in-sample check on both kinds of input: klines from another year (2024) are not in the
/// model's training period at all; the model's own 2025 klines mostly are, and it says so.
#[test]
fn eval_context_in_sample_check_on_other_and_training_klines() {
    let other = data_dir().join("klines-2024q1/BTCUSDT_1m.csv.gz");
    let out = bin()
        .args(["eval", "--context-data"])
        .arg(&other)
        .args(["--last-minutes", "2000", "--json", "-"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["context"]["in_sample_fraction"], 0.0);
    assert!(v["context"]["in_sample_warning"].is_null());
    // Text: says it is held out.
    let out = bin()
        .args(["eval", "--context-data"])
        .arg(&other)
        .args(["--last-minutes", "500"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("held out: none of these samples") && !text.contains("WARNING"),
        "{text}"
    );
    // The training klines, a window inside the training weeks: all of it in sample.
    let own = data_dir().join("klines/binance-spot_BTCUSDT_1m_2025-05-20_2025-08-18.csv.gz");
    let out = bin()
        .args(["eval", "--context-data"])
        .arg(&own)
        .args(["--from", "2025-06-01", "--until", "2025-06-02"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "WARNING: 100.0 % of these samples are inside the model's training/validation period"
        ),
        "{text}"
    );
}

/// `eval --data` on data that is not the model's training data scores every resolved
/// prediction, prints the pinned JSON, and fits no baseline on it; on the model's own training
/// capture it says so, warns, and scores only the held-out part. Training is reproducible.
#[test]
fn pressure_eval_json_shape_training_check_and_training_determinism() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let demo = root.join("assets/demo/btcusdt_20240808-excerpt.gz");
    // Training on the same tiny data twice with one seed gives the same weights.
    let dir = std::env::temp_dir().join(format!("ms-cli-pressure-{}", std::process::id()));
    let mut weights = Vec::new();
    for k in 0..2 {
        let d = dir.join(k.to_string());
        let out = bin()
            .args(["train", "pressure", "--data"])
            .arg(&demo)
            .arg("--out")
            .arg(&d)
            .args(["--seed", "3"])
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        weights.push(std::fs::read(d.join("model.safetensors")).expect("weights"));
    }
    assert_eq!(weights[0], weights[1]);
    let model = dir.join("0");
    let eval = |files: &[std::path::PathBuf], json: bool| {
        let mut c = bin();
        c.args(["eval", "--data"])
            .args(files)
            .arg("--model")
            .arg(&model);
        if json {
            c.args(["--json", "-"]);
        }
        let out = c.output().expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    // Not its training data: another market, another day.
    let usdm = crate::common::usdm_files();
    let v: serde_json::Value = serde_json::from_slice(&eval(&usdm, true)).expect("json");
    let p = &v["pressure"];
    for s in ["shown", "model"] {
        for k in ["macro_f1", "balanced_accuracy", "brier", "log_loss"] {
            assert!(p[s][k].is_f64(), "{s}.{k}: {p}");
        }
        assert!(p[s]["n"].as_u64().unwrap() > 1000, "{s}.n");
    }
    for b in ["majority", "microprice_sign", "imbalance_logistic"] {
        for k in ["macro_f1", "balanced_accuracy", "brier", "log_loss", "n"] {
            assert!(!p["baselines"][b][k].is_null(), "{b}.{k}");
        }
    }
    let d = &p["delta_brier_vs_best_baseline"];
    let (mean, lo, hi) = (
        d["mean"].as_f64().unwrap(),
        d["lo"].as_f64().unwrap(),
        d["hi"].as_f64().unwrap(),
    );
    assert!(lo <= mean && mean <= hi, "{d}");
    // The difference is to the best baseline on this data, exactly.
    let best = d["baseline"].as_str().unwrap();
    let bb = p["baselines"][best]["brier"].as_f64().unwrap();
    assert!(
        (mean - (p["model"]["brier"].as_f64().unwrap() - bb)).abs() < 1e-6,
        "{p}"
    );
    for b in p["baselines"].as_object().unwrap().values() {
        assert!(b["brier"].as_f64().unwrap() >= bb - 1e-12);
    }
    // Every resolved prediction scored; nothing of it is training data.
    let t = &p["training_data"];
    assert_eq!(t["any_training_data"], false, "{t}");
    assert_eq!(t["left_out"], 0);
    for s in t["series"].as_array().unwrap() {
        assert_eq!(s["scored"], s["resolved"]);
        assert!(s["training_capture"].is_null());
    }
    assert_eq!(p["model"]["n"], t["series"][0]["scored"]);
    let text = String::from_utf8(eval(&usdm, false)).expect("utf8");
    assert!(text.contains("not the model's training data"), "{text}");
    assert!(!text.contains("WARNING"), "{text}");
    // Its own training capture: recognised, in-sample predictions left out, a warning.
    let v: serde_json::Value =
        serde_json::from_slice(&eval(std::slice::from_ref(&demo), true)).expect("json");
    let t = &v["pressure"]["training_data"];
    assert_eq!(t["all_training_data"], true, "{t}");
    let s0 = &t["series"][0];
    assert!(
        s0["training_capture"]
            .as_str()
            .unwrap()
            .ends_with("btcusdt_20240808-excerpt.gz")
    );
    let (scored, resolved) = (
        s0["scored"].as_u64().unwrap(),
        s0["resolved"].as_u64().unwrap(),
    );
    assert!(
        scored > 0 && scored * 3 < resolved,
        "only the held-out last part: {scored} of {resolved}"
    );
    assert_eq!(t["left_out"].as_u64().unwrap(), resolved - scored);
    assert_eq!(v["pressure"]["model"]["n"].as_u64().unwrap(), scored);
    let text = String::from_utf8(eval(std::slice::from_ref(&demo), false)).expect("utf8");
    assert!(text.contains("are the model's training data"), "{text}");
    assert!(text.contains("WARNING"), "{text}");
    assert!(!text.contains("(not the model's training data)"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn eval_errors_name_the_file_and_the_model() {
    let out = bin()
        .args([
            "eval",
            "--context-data",
            "/nonexistent/k.csv.gz",
            "--json",
            "-",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/k.csv.gz"));
    let out = bin()
        .args(["eval", "--context-data"])
        .arg(data_dir().join("klines/binance-spot_BTCUSDT_1m_2025-05-20_2025-08-18.csv.gz"))
        .args(["--model", "/nonexistent-models"])
        .output()
        .expect("run");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("no model at /nonexistent-models/context/model.toml"),
        "{e}"
    );
}

#[test]
fn a_misspelt_command_is_not_streamed_as_a_symbol() {
    let out = bin().args(["replpay", "x"]).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean `replay`?"), "{err}");
}

#[test]
fn symbols_unknown_to_exchange_info_are_refused() {
    use std::io::{BufRead, BufReader};
    let mut child = bin()
        .args([
            "exchange",
            "--synthetic",
            "--seed",
            "7",
            "--symbols",
            "BTCUSDT",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout.read_line(&mut first).expect("first line");
    let addr = first.trim().to_string();
    let out = bin()
        .args([
            "live",
            "btcusdt",
            "btcusdtt",
            "--headless",
            "--duration",
            "30s",
        ])
        .args(["--ws-endpoint", &format!("ws://{addr}")])
        .args(["--rest-endpoint", &format!("http://{addr}")])
        .output()
        .expect("run");
    let _ = child.kill();
    let _ = child.wait();
    assert!(!out.status.success(), "refused, not streamed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("BTCUSDTT") && err.contains("-1121") && !err.contains("BTCUSDT,"),
        "{err}"
    );
}

#[test]
fn features_and_summary_both_on_stdout_are_refused() {
    let out = bin()
        .args([
            "replay",
            "--headless",
            "--features-jsonl",
            "-",
            "--summary-json",
            "-",
        ])
        .arg(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("assets/demo/btcusdt_20240808-excerpt.gz"),
        )
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("interleave"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn models_are_found_outside_the_repo_and_models_dir_is_taken_by_every_mode() {
    let elsewhere = std::env::temp_dir();
    let run = |extra: &[&str]| {
        let out = bin()
            .current_dir(&elsewhere)
            .args([
                "demo",
                "--headless",
                "--duration",
                "2s",
                "--summary-json",
                "-",
            ])
            .args(extra)
            .output()
            .expect("run");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (v, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // From a folder without models/: the shipped ones are found anyway.
    let (v, err) = run(&[]);
    let m = &v["symbols"][0]["models"];
    let missing = m["pressure_missing"].as_str().unwrap_or_default();
    assert!(!missing.contains("no model at"), "{m}\n{err}");
    assert!(!err.contains("no model at"), "{err}");
    // --models names a folder; a wrong one is said, with the flag that exists.
    let (_, err) = run(&["--models", "/nonexistent-models"]);
    assert!(
        err.contains("/nonexistent-models")
            && err.contains("--models DIR")
            && !err.contains("--model "),
        "{err}"
    );
    for mode in [
        &["replay", "--help"][..],
        &["live", "--help"],
        &["record", "--help"],
        &["demo", "--help"],
    ] {
        let out = bin().args(mode).output().expect("run");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("--models <DIR>"),
            "{mode:?}"
        );
    }
}

/// The symbol check before a live session asks exchangeInfo once, not once per symbol: on spot
/// each lookup weighs 20, and the venue counts that weight (`X-MBX-USED-WEIGHT-1M`) against the
/// snapshots for a minute — with one lookup per symbol, 100 symbols spent 2,000 of the 3,000
/// budget before the first snapshot and stalled at 74/100 synced. 40 synthetic symbols: 40
/// snapshots (50 each), 40 kline seeds (2 each) and two exchangeInfo lists (20 each) weigh
/// 2,120; one lookup per symbol would add 800.
#[test]
fn the_symbol_check_asks_exchangeinfo_once_whatever_the_number_of_symbols() {
    use microstate_core::num::Symbol;
    use microstate_exchange::synthetic::{SyntheticConfig, SyntheticSource};
    use microstate_exchange::{ExchangeConfig, ExchangeSource, Speed};
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let _turn = rt.block_on(live_turn());
    let names: Vec<String> = (0..40).map(|i| format!("S{i:03}USDT")).collect();
    let syms: Vec<Symbol> = names
        .iter()
        .map(|n| Symbol::new(n.as_bytes()).expect("symbol"))
        .collect();
    let mut x = ExchangeConfig::new(ExchangeSource::Sources(vec![Box::new(
        SyntheticSource::new(SyntheticConfig::new(7, syms)),
    )]));
    x.speed = Speed::Factor(1.0);
    x.faithful_snapshots = false;
    let h = rt
        .block_on(microstate_exchange::start(x))
        .expect("exchange");
    let dir = std::env::temp_dir().join(format!("ms-cli-symbol-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let summary = dir.join("sum.json");
    let out = bin()
        .arg("live")
        .args(names.iter().map(|n| n.to_lowercase()))
        .args(["--ws-endpoint", &h.ws_base()])
        .args(["--rest-endpoint", &h.rest_base()])
        .args(["--headless", "--duration", "6s", "--summary-json"])
        .arg(&summary)
        .output()
        .expect("run");
    let weight = h.stats().weight_used_1m;
    rt.block_on(h.shutdown());
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).expect("summary")).expect("json");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        s["live"]["time_to_all_synced_s"].is_number(),
        "every symbol synced: {}\n{}",
        s["live"],
        String::from_utf8_lossy(&out.stderr)
    );
    let snapshots = s["live"]["snapshot_requests"].as_u64().expect("requests");
    let klines = s["live"]["klines"]["requests"].as_u64().expect("klines");
    // Everything the client asked, at Binance's weights, with both exchangeInfo lists (the
    // check's and the session's) and up to 10 server-time requests (weight 1 each, the clock
    // offset): a lookup per symbol would be 40 × 20 more.
    let expected = snapshots * 50 + klines * 2 + 2 * 20 + 10;
    assert!(
        u64::from(weight) <= expected,
        "the venue counted {weight} weight, the snapshots, klines and two exchangeInfo lists \
         weigh {expected} at most: something else was asked"
    );
}
