//! The real binary on a real terminal: tmux runs it, keys go in with `send-keys`, the screen
//! comes out with `capture-pane`. Replay of a multi-symbol capture and the offline demo; quit
//! must leave the terminal restored (the shell's text back, no alternate screen).
//!
//! Needs tmux (`.ci/run` installs it). Outcomes are what the screen shows, waited for with a
//! generous limit; the only fixed pause paces keystrokes.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

struct Session {
    name: String,
}

impl Session {
    /// Starts `cmd` (argv) in a detached tmux session of `w`×`h`; when it exits the pane prints
    /// a marker and stays open so the test can look at the terminal afterwards.
    fn start(tag: &str, args: &[String], w: u16, h: u16) -> Session {
        assert!(
            Command::new("tmux")
                .arg("-V")
                .output()
                .is_ok_and(|o| o.status.success()),
            "tmux is not installed: the terminal tests need it (.ci/run installs it)"
        );
        let name = format!("mst-{tag}-{}", std::process::id());
        let bin = env!("CARGO_BIN_EXE_microstate-tui");
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let log = std::env::temp_dir().join(format!("{name}.log"));
        // MICROSTATE_TEST_PANIC is read only by a binary built with the `test-hooks` feature,
        // which `cargo test` turns on (the package's dev-dependency on itself).
        let env = if tag == "panic" {
            "MICROSTATE_TEST_PANIC=1 RUST_BACKTRACE=0 "
        } else {
            ""
        };
        let script = format!(
            "{env}MICROSTATE_LOG=info {bin} {} ; echo \"EXITED:$?\"; sleep 600",
            quoted.join(" ")
        );
        // Tests start sessions in parallel: when no tmux server runs yet, two clients racing to
        // start it can both fail ("server exited unexpectedly"), so a failed start is retried.
        let mut last = String::new();
        for attempt in 0..5 {
            let out = Command::new("tmux")
                .args([
                    "new-session",
                    "-d",
                    "-s",
                    &name,
                    "-x",
                    &w.to_string(),
                    "-y",
                    &h.to_string(),
                ])
                .arg("-e")
                .arg(format!("MICROSTATE_LOG_HINT={}", log.display()))
                .arg(&script)
                .output()
                .expect("tmux new-session");
            if out.status.success() {
                return Session { name };
            }
            last = String::from_utf8_lossy(&out.stderr).into_owned();
            std::thread::sleep(Duration::from_millis(200 * (attempt + 1)));
        }
        panic!("tmux new-session -s {name} failed 5 times: {last}");
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let ok = Command::new("tmux")
                .args(["send-keys", "-t", &self.name, k])
                .status()
                .expect("send-keys");
            assert!(ok.success());
            // Paces the keystrokes like a person (each key's effect is then checked with
            // `wait_for`); the pause decides nothing.
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-S", "-100", "-t", &self.name])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text` (or fails with the last screen after `within`, a
    /// hang guard): the screen is polled, what it shows decides.
    fn wait_for(&self, text: &str, within: Duration) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                t.elapsed() < within,
                "the screen never showed {text:?}; last screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the screen no longer shows `text` (a hang guard as [`Self::wait_for`]).
    fn wait_gone(&self, text: &str, within: Duration) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if !s.contains(text) {
                return s;
            }
            assert!(
                t.elapsed() < within,
                "the screen kept showing {text:?}; last screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Is the pane in the alternate screen (a full-screen app still running)?
    fn alternate_on(&self) -> bool {
        let out = Command::new("tmux")
            .args(["display-message", "-p", "-t", &self.name, "#{alternate_on}"])
            .output()
            .expect("display-message");
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn replay_on_screen_switch_pause_speed_zoom_help_heatmap_quit() {
    let capture = crate::common::data_dir()
        .join("cryptofeed")
        .join("BINANCE.ws.1.0");
    let t = Session::start(
        "replay",
        &[
            s("replay"),
            capture.display().to_string(),
            s("--speed"),
            s("2"),
        ],
        120,
        40,
    );
    let first = t.wait_for("SYNCED", Duration::from_secs(20));
    // The source (shortened to its kind when the bar needs the room for the sync state).
    assert!(first.contains("REPLAY"), "{first}");
    assert!(first.contains("▶ 2x"), "{first}");
    assert!(t.alternate_on(), "the screen uses the alternate screen");
    // Switch symbols: Tab, then a number.
    let sel = |s: &str| {
        s.lines()
            .find(|l| l.contains("Depth "))
            .map(|l| l.to_string())
            .unwrap_or_default()
    };
    // All four symbols have shown up once the fourth row of the table is there.
    let before = sel(&t.wait_for("│  4 ", Duration::from_secs(20)));
    t.keys(&["Tab"]);
    let after = sel(&t.wait_for("▶ 2 ", Duration::from_secs(5)));
    assert_ne!(before, after, "Tab selects the next symbol");
    t.keys(&["4"]);
    t.wait_for("▶ 4 ", Duration::from_secs(5));
    // Pause, speed up, step.
    t.keys(&["Space"]);
    t.wait_for("paused", Duration::from_secs(5));
    // Speed steps along the ladder 2 → 5 → 10, back to 5, and `0` returns to 1×.
    t.keys(&["Space", "+", "+"]);
    t.wait_for("▶ 10x", Duration::from_secs(5));
    t.keys(&["-"]);
    t.wait_for("▶ 5x", Duration::from_secs(5));
    t.keys(&["0"]);
    t.wait_for("▶ 1x", Duration::from_secs(5));
    // Zoom the ladder, help overlay, heatmap.
    t.keys(&["]", "]"]);
    t.wait_for("5 ticks", Duration::from_secs(5));
    t.keys(&["["]);
    t.wait_for("2 ticks", Duration::from_secs(5));
    t.keys(&["?"]);
    let help = t.wait_for("Keys (? or Esc to close)", Duration::from_secs(5));
    assert!(
        help.contains("replay at 1× again"),
        "the 1× key is in the help:\n{help}"
    );
    t.keys(&["?", "h"]);
    let hm = t.wait_for("Liquidity heatmap", Duration::from_secs(5));
    assert!(!hm.contains("Keys (? or Esc to close)"), "help closed");
    t.keys(&["q"]);
    let end = t.wait_for("EXITED:0", Duration::from_secs(10));
    assert!(!t.alternate_on(), "terminal restored after quit:\n{end}");
    assert!(!end.contains("Depth "), "the screen is gone:\n{end}");
}

#[test]
fn demo_runs_offline_on_screen_and_ctrl_c_restores_the_terminal() {
    let t = Session::start("demo", &[], 100, 30);
    let screen = t.wait_for("SYNCED", Duration::from_secs(30));
    assert!(screen.contains("DEMO"), "{screen}");
    assert!(screen.contains("Depth BTCUSDT"), "{screen}");
    assert!(screen.contains("up"), "the connection is up:\n{screen}");
    // The book moves: the replay clock of the local exchange feeds the live client.
    t.keys(&["C-c"]);
    let end = t.wait_for("EXITED:", Duration::from_secs(15));
    assert!(!t.alternate_on(), "terminal restored after Ctrl-C:\n{end}");
    assert!(end.contains("EXITED:0"), "{end}");
}

#[test]
fn a_panic_restores_the_terminal_and_says_what_happened() {
    let capture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/btcusdt_20240808-excerpt.gz");
    let t = Session::start(
        "panic",
        &[s("replay"), capture.display().to_string()],
        100,
        30,
    );
    let end = t.wait_for("EXITED:", Duration::from_secs(20));
    assert!(!t.alternate_on(), "terminal restored after a panic:\n{end}");
    assert!(
        end.contains("on purpose"),
        "the panic message is readable:\n{end}"
    );
    assert!(!end.contains("EXITED:0"), "{end}");
}

#[test]
fn headless_when_not_a_terminal() {
    // Piped output: no screen, the summary as before.
    let out = Command::new(env!("CARGO_BIN_EXE_microstate-tui"))
        .arg("replay")
        .arg(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("assets/demo/btcusdt_20240808-excerpt.gz"),
        )
        .args(["--summary-json", "-"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["symbols"][0]["state"], "synced");
}

/// The demo at 60× loops its 53 s capture about once a second: after several loops the screen
/// still shows a synced book, live OFI and a pressure panel that is not "book resyncing"; the
/// status bar keeps the sync state and a readable clock offset at 120 columns; `?` opens the
/// help and Esc closes it.
#[test]
fn demo_at_60x_stays_alive_across_loops_and_esc_closes_help() {
    let t = Session::start("demo60", &[s("demo"), s("--speed"), s("60")], 120, 40);
    t.wait_for("SYNCED", Duration::from_secs(30));
    let start = Instant::now();
    let alive = loop {
        let scr = t.screen();
        let top = scr.lines().next().unwrap_or_default().to_string();
        let gaps = top
            .split("gaps ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        let ofi_alive = scr.contains("OFI 1s+") || scr.contains("OFI 1s-");
        if gaps >= 4 && top.contains("SYNCED") && ofi_alive && !scr.contains("book resyncing") {
            break scr;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "after loops the demo's panels never all came back; last screen:\n{scr}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let top = alive.lines().next().unwrap_or_default();
    assert!(
        top.contains("clock "),
        "the clock offset is on the bar: {top:?}"
    );
    assert!(
        !top.contains("m59s") && top.chars().count() <= 120,
        "{top:?}"
    );
    t.keys(&["?"]);
    t.wait_for("Esc to close", Duration::from_secs(10));
    t.keys(&["Escape"]);
    let start = Instant::now();
    while t.screen().contains("Esc to close") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "Esc did not close the help"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    t.keys(&["q"]);
    let end = t.wait_for("EXITED:", Duration::from_secs(15));
    assert!(end.contains("EXITED:0"), "{end}");
}

/// Below the minimum size the screen says what it needs instead of overflowing its borders.
#[test]
fn a_terminal_too_small_is_told_so() {
    let capture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/btcusdt_20240808-excerpt.gz");
    let t = Session::start(
        "small",
        &[s("replay"), capture.display().to_string()],
        40,
        12,
    );
    let scr = t.wait_for("terminal too small", Duration::from_secs(20));
    assert!(scr.contains("need 60×16"), "{scr}");
    t.keys(&["q"]);
    t.wait_for("EXITED:", Duration::from_secs(15));
}

#[test]
fn replay_tape_volume_add_remove_symbols_and_go_to_time() {
    let capture = crate::common::data_dir()
        .join("cryptofeed")
        .join("BINANCE.ws.1.0");
    let t = Session::start(
        "c2panels",
        &[
            s("replay"),
            capture.display().to_string(),
            s("--speed"),
            s("5"),
        ],
        120,
        40,
    );
    t.wait_for("│  4 ", Duration::from_secs(30));
    // The tape and volume at price, on and off.
    t.keys(&["t"]);
    t.wait_for(" Tape ", Duration::from_secs(5));
    t.keys(&["v"]);
    let both = t.wait_for(" Volume", Duration::from_secs(5));
    assert!(both.contains(" Tape "), "{both}");
    t.keys(&["t"]);
    let s1 = t.wait_for(" Volume", Duration::from_secs(5));
    assert!(!s1.contains(" Tape "), "t hides the tape again:\n{s1}");
    // Remove the selected symbol, then add it back through the prompt with completion.
    let selected = |s: &str| {
        s.lines()
            .find_map(|l| l.split("Depth ").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_default()
            .to_string()
    };
    let name = selected(&t.screen());
    assert!(!name.is_empty());
    t.keys(&["x"]);
    let gone = t.wait_for("removed from the screen", Duration::from_secs(5));
    assert!(!gone.contains(&format!("Depth {name}")), "{gone}");
    t.keys(&["a"]);
    t.wait_for("add symbol (Tab completes", Duration::from_secs(5));
    t.keys(&[&name[..2], "Tab"]);
    t.keys(&["Enter"]);
    t.wait_for(&format!("{name} on screen"), Duration::from_secs(5));
    t.wait_for(&format!("Depth {name}"), Duration::from_secs(5));
    // A symbol the recording does not have: said plainly.
    t.keys(&["a", "dogeusdt", "Enter"]);
    t.wait_for(
        "a replay has only its recorded symbols",
        Duration::from_secs(5),
    );
    // Go to a time: 30 s after the start.
    t.keys(&["g"]);
    t.wait_for("go to (", Duration::from_secs(5));
    t.keys(&["+30s", "Enter"]);
    t.wait_for("going to ", Duration::from_secs(5));
    t.keys(&["g", "nonsense", "Enter"]);
    t.wait_for("give a time", Duration::from_secs(5));
    t.keys(&["q"]);
    t.wait_for("EXITED:0", Duration::from_secs(10));
}

impl Session {
    /// Sends bytes as if the terminal wrote them (a mouse report, say): `send-keys -H`.
    fn raw(&self, bytes: &[u8]) {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let ok = Command::new("tmux")
            .args(["send-keys", "-t", &self.name, "-H"])
            .args(&hex)
            .status()
            .expect("send-keys -H");
        assert!(ok.success());
        std::thread::sleep(Duration::from_millis(150));
    }

    /// The screen with its colours (escape codes kept).
    fn screen_styled(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-e", "-t", &self.name])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The mouse on a real terminal: tmux writes SGR mouse reports (what a terminal sends once the
/// screen turned mouse capture on) into the demo. The wheel over the ladder scrolls it (the
/// spread row moves down a line per notch), a click on a panel focuses it (its border turns
/// the accent colour). A symbol the demo's exchange does not list is refused by name, with the
/// closest it does list.
#[test]
fn demo_mouse_wheel_scrolls_the_ladder_click_focuses_and_unlisted_symbols_are_refused() {
    let t = Session::start("mouse", &[s("demo")], 120, 40);
    let scr = t.wait_for("│spread ", Duration::from_secs(60));
    let spread_line = |s: &str| {
        s.lines()
            .position(|l| l.contains("│spread "))
            .expect("spread row")
    };
    let at0 = spread_line(&scr);
    // Wheel up three notches at column 10, line 10 (1-based), inside the ladder.
    for _ in 0..3 {
        t.raw(b"\x1b[<64;10;10M");
    }
    let t0 = Instant::now();
    loop {
        let now = t.screen();
        if now.contains("│spread ") && spread_line(&now) == at0 + 3 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the spread row did not move 3 lines down (from {at0}):\n{now}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A click on the imbalance panel: its corner is drawn in the accent colour (cyan).
    let imbalance_corner = |s: &str| {
        s.lines()
            .find(|l| l.contains("Imbalance"))
            .is_some_and(|l| l.contains("\x1b[38;5;6m┌"))
    };
    assert!(!imbalance_corner(&t.screen_styled()), "not focused yet");
    t.raw(b"\x1b[<0;60;12M");
    t.raw(b"\x1b[<0;60;12m");
    let t0 = Instant::now();
    while !imbalance_corner(&t.screen_styled()) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the clicked panel was not focused:\n{}",
            t.screen_styled()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // `a` with a symbol the demo's exchange does not list.
    t.keys(&["a"]);
    t.wait_for("add symbol (Tab completes", Duration::from_secs(5));
    t.keys(&["ethusdt", "Enter"]);
    let scr = t.wait_for(
        "is not listed on the demo's exchange",
        Duration::from_secs(10),
    );
    assert!(scr.contains("did you mean BTCUSDT?"), "{scr}");
    t.keys(&["q"]);
    t.wait_for("EXITED:0", Duration::from_secs(15));
    // Mouse reporting is off again: the shell gets no escape codes from the wheel.
    assert!(!t.alternate_on());
}

/// The heatmap's zoom keys, the full-screen modes, the contiguous ladder and a hidden panel in
/// the real binary: a replay of the spot capture, then the demo.
#[test]
fn heatmap_zoom_full_screen_and_panels_in_the_real_binary() {
    let capture = crate::common::data_dir()
        .join("binance-spot")
        .join("btcusdt_20240808.gz");
    let t = Session::start(
        "heat",
        &[
            s("replay"),
            capture.display().to_string(),
            s("--speed"),
            s("5"),
        ],
        120,
        40,
    );
    t.wait_for("SYNCED", Duration::from_secs(30));
    t.keys(&["h"]);
    let auto = t.wait_for("· auto ·", Duration::from_secs(10));
    assert!(auto.contains("Liquidity heatmap BTCUSDT"), "{auto}");
    t.keys(&["z"]);
    t.wait_for("· c: auto ·", Duration::from_secs(5));
    t.keys(&["c"]);
    t.wait_for("· auto ·", Duration::from_secs(5));
    // Full screen: the ladder alone, then the heatmap alone, then back.
    t.keys(&["d"]);
    t.wait_for("· DOM", Duration::from_secs(5));
    t.keys(&["f"]);
    let ladder = t.wait_gone("Symbols", Duration::from_secs(5));
    assert!(
        ladder.contains("· DOM") && !ladder.contains("Liquidity heatmap"),
        "{ladder}"
    );
    t.keys(&["f"]);
    let heat = t.wait_for("Liquidity heatmap", Duration::from_secs(5));
    assert!(!heat.contains("Depth BTCUSDT"), "{heat}");
    t.keys(&["f", "F6"]);
    let normal = t.wait_for("Symbols", Duration::from_secs(5));
    assert!(
        !normal.contains("Latency (l: stage)"),
        "F6 hides latency:\n{normal}"
    );
    t.keys(&["q"]);
    t.wait_for("EXITED:0", Duration::from_secs(10));
    drop(t);
    // The demo: the heatmap finds the market there too, on the event-time axis of its capture.
    let d = Session::start("heatdemo", &[s("demo")], 120, 40);
    d.wait_for("SYNCED", Duration::from_secs(30));
    d.keys(&["h", "f", "f"]);
    let hm = d.wait_for("23:54:", Duration::from_secs(30));
    assert!(
        hm.contains("Liquidity heatmap BTCUSDT") && hm.contains("auto"),
        "{hm}"
    );
    d.keys(&["q"]);
    d.wait_for("EXITED:0", Duration::from_secs(10));
}
