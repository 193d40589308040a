//! Helpers shared by the app's integration tests: the workspace's test kit (where the real
//! captures are, the independent book rebuild) and the real binary.
#![allow(dead_code, unused_imports)]

pub use microstate_testkit::*;

/// The real binary, as a user runs it.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_microstate-tui"))
}

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Live sessions against a finite-speed exchange running now (their outcomes depend on the
/// client keeping up: a full queue is a disconnect, as on Binance).
static LIVE_SESSIONS: AtomicUsize = AtomicUsize::new(0);
/// The demo soak (a minute of full load) is running or waiting to run.
static SOAK: AtomicBool = AtomicBool::new(false);

/// Held by a live session test while it runs; dropping it lets the soak go.
pub struct LiveTurn;

impl Drop for LiveTurn {
    fn drop(&mut self) {
        LIVE_SESSIONS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits until the demo soak is not running, then counts this live session in. Keeps the
/// soak's minute of load away from the live tests, whose clients must keep up with the
/// exchange (this orders tests; it decides no outcome).
pub async fn live_turn() -> LiveTurn {
    loop {
        LIVE_SESSIONS.fetch_add(1, Ordering::SeqCst);
        if !SOAK.load(Ordering::SeqCst) {
            return LiveTurn;
        }
        LIVE_SESSIONS.fetch_sub(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Held by the demo soak while it runs.
pub struct SoakTurn;

impl Drop for SoakTurn {
    fn drop(&mut self) {
        SOAK.store(false, Ordering::SeqCst);
    }
}

/// Announces the soak (no new live session starts), then waits for the running ones to end.
pub fn soak_turn() -> SoakTurn {
    while SOAK
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    while LIVE_SESSIONS.load(Ordering::SeqCst) > 0 {
        std::thread::sleep(Duration::from_millis(100));
    }
    SoakTurn
}
