//! The drivers: own a runtime or a loop, feed the core engine, publish `View`s.
//!
//! Owns: the live loop (sockets in, engine, recording journal, latency, housekeeping), the replay
//! player (pacing, commands, checkpoints, seek) and its real-time loop, publishing `View`s to the
//! screen through a watch channel. Must not touch: market logic (the core's engine), wire formats
//! and files (the io crate), the terminal (the app).
//!
//! # Layout
//! ```text
//!  io::ingest ─frames─▶ live ──▶ core::Engine ──View──▶ (watch) ──▶ app::ui
//!  io::record ─frames─▶ player ─▶ core::Engine ──View──▶ (watch)
//!                         ▲                          live ──records──▶ io::record::writer
//!                         └──── commands from the screen
//! ```
//! - [`live`]: the live session: connections, snapshots, the engine, the journal, the summary.
//! - [`player`]: replay pacing, pause/step/seek, engine checkpoints; [`replay`]: its loops,
//!   feature output, model loading.

pub mod live;
pub mod player;
pub mod replay;
