//! The context history through the real binary: `replay --klines` seeds with no look-ahead, and
//! the demo has a ready context within 10 s (from a history the screen labels synthetic) that
//! it keeps through every loop of its capture.

use std::io::Write;
use std::path::PathBuf;

use crate::common::*;
use microstate_exchange::ExchangeSource;
use microstate_exchange::klines::synthetic_history_for;

fn demo_capture() -> PathBuf {
    workspace_root().join("assets/demo/btcusdt_20240808-excerpt.gz")
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

fn json(out: &std::process::Output) -> serde_json::Value {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"))
}

#[test]
fn replay_klines_seeds_only_minutes_over_before_the_capture_starts() {
    let dir = tmp("klines-cli-replay");
    // 245 minutes ending at the capture's first minute (23:54 UTC), then 20 more after it with
    // prices twice as high: the capture has no real klines of its day, so the file is a walk.
    let source = ExchangeSource::Captures(vec![demo_capture()]);
    let k = synthetic_history_for(&source, 245, 3)
        .expect("history")
        .remove(0);
    let csv = dir.join("BTCUSDT_1m.csv");
    let mut f = std::fs::File::create(&csv).expect("csv");
    writeln!(f, "open_time_ms,open,high,low,close,volume").expect("write");
    for r in &k.klines {
        writeln!(
            f,
            "{},{},{},{},{},1",
            r.open_time_ms, r.open, r.high, r.low, r.close
        )
        .expect("write");
    }
    let last = k.klines.last().expect("klines");
    for i in 1..=20u64 {
        let p = last.close.to_f64() * 2.0;
        writeln!(f, "{},{p},{p},{p},{p},1", last.open_time_ms + i * 60_000).expect("write");
    }
    drop(f);

    let out = bin()
        .arg("replay")
        .arg(demo_capture())
        .args(["--headless", "--summary-json", "-", "--klines"])
        .arg(&csv)
        .output()
        .expect("run");
    let v = json(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("context seeded with 245 minutes") && err.contains("20 later rows not used"),
        "{err}"
    );
    let c = &v["symbols"][0]["models"]["context"];
    assert_eq!(c["state"], "ready", "{c}");
    assert_eq!(c["history_minutes"], 240, "{c}");
    assert_eq!(
        c["seeded_minutes"], 245,
        "only the minutes before the start: {c}"
    );
    assert_eq!(c["restarts"], 0, "{c}");

    // Without --klines the same capture warms up: the seed is what made it ready.
    let out = bin()
        .arg("replay")
        .arg(demo_capture())
        .args(["--headless", "--summary-json", "-"])
        .output()
        .expect("run");
    let c = json(&out)["symbols"][0]["models"]["context"].clone();
    assert_eq!(c["state"], "warming_up", "{c}");

    // A file that gives no symbol must name one.
    let anon = dir.join("prices.csv");
    std::fs::copy(&csv, &anon).expect("copy");
    let out = bin()
        .arg("replay")
        .arg(demo_capture())
        .args(["--headless", "--klines"])
        .arg(&anon)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SYMBOL=FILE"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_demo_context_is_ready_within_ten_seconds_and_stays_ready_through_its_loops() {
    let out = bin()
        .args([
            "demo",
            "--headless",
            "--duration",
            "10s",
            "--summary-json",
            "-",
        ])
        .output()
        .expect("run");
    let v = json(&out);
    let c = &v["symbols"][0]["models"]["context"];
    assert_eq!(c["state"], "ready", "{c}");
    let ready = v["live"]["klines"]["context_ready_after_s"]
        .as_f64()
        .expect("ready at some point");
    eprintln!("demo: context ready {ready:.3} s after the start");
    assert!(ready < 10.0, "{ready}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("synthetic 1-minute history"), "{err}");

    // At 20× the 53-second capture loops every ~3 s: four loops (each a gap the client
    // resyncs, on the same socket), one kline request, no restart, the whole lookback held at
    // the end.
    let out = bin()
        .args([
            "demo",
            "--headless",
            "--duration",
            "14s",
            "--speed",
            "20",
            "--summary-json",
            "-",
        ])
        .output()
        .expect("run");
    let v = json(&out);
    let loops = v["symbols"][0]["gaps"].as_u64().unwrap_or(0);
    assert!(loops >= 2, "the capture looped: {}", v["symbols"][0]);
    let c = &v["symbols"][0]["models"]["context"];
    assert_eq!(c["state"], "ready", "{c}");
    assert_eq!(c["history_minutes"], 240, "{c}");
    assert_eq!(c["restarts"], 0, "{c}");
    assert_eq!(
        v["live"]["klines"]["requests"], 1,
        "{}",
        v["live"]["klines"]
    );
}

#[test]
fn the_context_panel_says_when_its_history_is_synthetic() {
    use microstate::ui::render::draw;
    use microstate::ui::{Bindings, Theme, UiState};
    use microstate_drive::replay::{Player, PlayerOptions, Poll, load_models, replay_view};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    let mut cfg = microstate::config::Config::default();
    cfg.models.dir = workspace_root().join("models").display().to_string();
    let mut p = Player::open(
        &[demo_capture()],
        PlayerOptions {
            models: Some(load_models(&cfg)),
            batch: 1,
            latency: false,
            ..PlayerOptions::default()
        },
    )
    .expect("open");
    let k = synthetic_history_for(&ExchangeSource::Captures(vec![demo_capture()]), 260, 1)
        .expect("history")
        .remove(0);
    let minutes: Vec<(i64, f64)> = k
        .klines
        .iter()
        .map(|k| {
            let (t, c) = k.close_sample();
            (t, c)
        })
        .collect();
    let btc = k.symbol;
    p.seed_context(
        btc,
        &minutes,
        microstate_exchange::klines::SYNTHETIC_HISTORY,
    )
    .expect("seed");
    while p.status().fed < 3_000 && p.poll(0).expect("poll") != Poll::Done {}
    let view = replay_view(&p);
    let theme = Theme::new(&Default::default(), true);
    for (w, h) in [(120, 40), (200, 50)] {
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        t.draw(|f| draw(f, &view, &UiState::default(), &theme, &Bindings::default()))
            .expect("draw");
        let buf = t.backend().buffer();
        let text: String = (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
            .collect();
        assert!(text.contains("Trend · forecast"), "{text}");
        // On the panel's bottom border, whatever its width.
        assert!(text.contains("└ synthetic history ─"), "{w}×{h}:\n{text}");
    }
}
