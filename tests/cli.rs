//! The real binary, run as a user would: headless replay JSON shape, the demo, help, and errors
//! a person can act on.

mod common;

use std::process::Command;

use common::*;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_microstate-tui"))
}

#[test]
fn headless_replay_prints_the_documented_summary_shape() {
    let files = spot_files();
    let out = bin()
        .args(["replay"])
        .args(&files)
        .args(["--headless", "--summary-json", "-"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
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
    assert_eq!(s["final"]["bids"][0], serde_json::json!(["61602.01", "1.67177"]));
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
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("file")).expect("json");
    assert_eq!(v["symbols"][0]["market"], "usdm");
    assert_eq!(v["symbols"][0]["depth_updates"]["applied"], 9_017);
    assert_eq!(v["symbols"][0]["book_ticker_check"]["matched"], 625);
}

#[test]
fn demo_runs_offline_and_shows_a_real_book() {
    let out = bin().output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BTCUSDT (spot) — SYNCED"), "{text}");
    assert!(text.contains("bookTicker check"), "{text}");
    assert!(text.contains("gaps 0"), "{text}");
}

#[test]
fn help_explains_the_commands() {
    let out = bin().arg("--help").output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for w in ["replay", "demo", "Examples"] {
        assert!(text.contains(w), "{w} missing from --help:\n{text}");
    }
    let out = bin().args(["replay", "--help"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--summary-json") && text.contains("--headless"), "{text}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = bin()
        .args(["replay", "/no/such/capture.gz", "--headless"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/no/such/capture.gz") && err.contains("No such file"), "{err}");
}

#[test]
fn replay_without_headless_says_what_to_do() {
    let out = bin().arg("replay").args(spot_files()).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--headless"), "{err}");
}
