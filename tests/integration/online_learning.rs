//! The pressure model learns where it runs: a live session (the demo: the local exchange over the
//! bundled real capture, the real live client) starts the online learner, hands it every resolved
//! prediction and takes its published weights (`models.pressure_updates` in the summary).
//!
//! The run length only bounds how much data arrives (12 s at 10× is two minutes of the capture,
//! hundreds of resolved predictions, against the ten a first publish needs): it does not decide
//! the outcome by a timing window.

use std::process::Command;

#[test]
fn a_live_session_adapts_the_pressure_model_online() {
    let out = Command::new(env!("CARGO_BIN_EXE_microstate-tui"))
        .args([
            "demo",
            "--headless",
            "--duration",
            "12s",
            "--speed",
            "10",
            "--summary-json",
            "-",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run the demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary JSON");
    let m = &v["symbols"][0]["models"];
    let updates = m["pressure_updates"].as_u64().expect("pressure_updates");
    assert!(updates > 0, "no weights taken from the learner: {m}");
}
