//! The app package's integration tests, in one binary (one link of tokio, ratatui and candle
//! instead of one per file): each module is one ring of tests.
//!
//! - [`cli`]: the real binary as a user runs it (headless replay, demo, record, eval, errors);
//! - [`faults`]: replay of real captures with faults written into real files;
//! - [`guard_screen`]: the pressure guard as the user sees it on the screen;
//! - [`klines_cli`]: context from the first second (`replay --klines`, the demo's history);
//! - [`layout`]: the workspace's shape (core cannot reach I/O, no module cycles, `//!` docs);
//! - [`live`]: the live client against the local exchange on 127.0.0.1:0, fed real captures;
//! - [`nats`]: the NATS JetStream fan-out with a real `nats-server` per test;
//! - [`online_learning`]: a live session adapts the pressure model online;
//! - [`replay`]: paced replay in virtual time and through the binary;
//! - [`tmux`]: the real binary on a real terminal;
//! - [`ui`]: the screen drawn into `TestBackend` (insta snapshots in `snapshots/`).
//!
//! [`common`] holds what they share. No outcome here waits on the wall clock: tests stop on
//! conditions (end of stream, a view showing something) with generous timeouts as hang guards
//! only; the few real-time waits left measure pacing itself or pace keystrokes, and say so.

mod common;

mod cli;
mod faults;
mod guard_screen;
mod klines_cli;
mod layout;
mod live;
mod nats;
mod online_learning;
mod replay;
mod tmux;
mod ui;
