//! The drivers: own a runtime or a loop, feed the core engine, publish `View`s.
//!
//! Owns: the live session (sockets in, engine, recording journal, latency, housekeeping), the
//! replay player (pacing, commands, checkpoints, seek) and its real-time loops, publishing
//! `View`s to the screen, the commands and events between the screen and a driver, the one
//! shutdown signal, the recordings a live session writes. Must not touch: market logic (the
//! core's engine), wire formats and files (the io crate), the terminal (the app).
//!
//! # Layout
//! ```text
//!  io::ingest ─frames─▶ live::LiveDriver ─▶ core::Engine ─┐
//!  io::record ─frames─▶ player::Player ──▶ core::Engine ─┴─▶ publish ──Arc<View> (watch)──▶ app::ui
//!                            ▲       ▲                                                    │
//!                            │       └──────────── command::Command ◀─────────────────────┤
//!                            │   live ── command::Event (notices) ───────────────────────▶│
//!  live ──records──▶ recording (writer thread owned by the driver) ──▶ io::record::writer
//!  shutdown::Shutdown: every loop above (and the local exchange) stops on it
//! ```
//! - [`live`]: the live session ([`live::LiveDriver`]): connections, snapshots, the engine,
//!   the journal, the summary.
//! - [`player`]: replay pacing, pause/step/seek, engine checkpoints; [`replay`]: its loops,
//!   a replay's view, feature output.
//! - [`publish`]: the one place a `View` is put together and sent.
//! - [`bus_source`]: the NATS consumer (`--source nats://…`) feeding an engine set up as the
//!   collector's (the collector's side is `LiveOptions::bus`); [`bus_signals`]: the
//!   collector's `.signals` JSON for consumers in other languages.
//! - [`command`]: the screen ⇄ driver messages; [`shutdown`]: the stop signal;
//!   [`recording`]: starting and closing recordings; [`models`]: loading the models.
//!
//! Modules depend downwards only: `live` and `replay` use `publish`, `command`, `shutdown`,
//! `recording`, `models`; `replay` uses `player`; none of these use `live` or `replay`.

pub mod bus_signals;
pub mod bus_source;
pub mod command;
pub mod live;
pub mod models;
pub mod player;
pub mod publish;
pub mod recording;
pub mod replay;
pub mod shutdown;
