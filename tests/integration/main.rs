//! The app package's integration tests, in one binary (one link of tokio, ratatui and candle
//! instead of one per file): each module is one ring of tests.
//!
//! - [`api`]: the binary's `--api` (replay --hold of a real capture, demo, the token rule)
//!   with real HTTP, WebSocket and Prometheus clients;
//! - [`cli`]: the real binary as a user runs it (headless replay, demo, record, eval, errors);
//! - [`demo_soak`]: the demo for an hour of market time at 60×, every panel alive;
//! - [`export`]: `export` to Parquet read back with the `parquet` crate (round trip, re-runs,
//!   a recording, bad input);
//! - [`faults`]: replay of real captures with faults written into real files;
//! - [`hostile`]: hostile files and sessions through the binary: exit codes, a corrupt
//!   recording chunk, a line over the byte cap, control bytes escaped;
//! - [`guard_screen`]: the pressure guard as the user sees it on the screen;
//! - [`klines_cli`]: context from the first second (`replay --klines`, the demo's history);
//! - [`layout`]: the workspace's shape (core cannot reach I/O, no module cycles, `//!` docs);
//! - [`live`]: the live client against the local exchange on 127.0.0.1:0, fed real captures;
//! - [`nats`]: the NATS JetStream fan-out with a real `nats-server` per test;
//! - [`online_learning`]: a live session adapts the pressure model online;
//! - [`replay`]: paced replay in virtual time and through the binary;
//! - [`soak`]: the synthetic market at max speed with random faults for a fixed wall time (2 min;
//!   `MICROSTATE_SOAK_SECS` for the long run), books checked against a rebuild, RSS sampled;
//!   ignored in the plain run (it saturates the CPU), run alone by `.ci/run`;
//! - [`tmux`]: the real binary on a real terminal;
//! - [`ui`]: the screen drawn into `TestBackend` (insta snapshots in `snapshots/`).
//!
//! [`common`] holds what they share. No outcome here waits on the wall clock: tests stop on
//! conditions (end of stream, a view showing something) with generous timeouts as hang guards
//! only; the few real-time waits left measure pacing itself or pace keystrokes, and say so.

mod common;

mod api;
mod cli;
mod demo_soak;
mod export;
mod faults;
mod guard_screen;
mod hostile;
mod klines_cli;
mod layout;
mod live;
mod nats;
mod online_learning;
mod replay;
mod soak;
mod tmux;
mod ui;
