//! Files and sockets: everything microstate-tui reads from or writes to the outside world,
//! turned into plain frames for the drivers.
//!
//! Owns: capture readers (hftbacktest collector files, cryptofeed captures, kline CSVs), our
//! recording format (`.msrec`) and its writer thread, the live client's sockets (WebSocket, REST
//! snapshots under the request-weight budget, the time endpoint), TLS, and model files.
//! Must not touch: market logic (the core's engine decides what a frame means), the screen, the
//! run loop (the drive crate owns the engine and decides when to read).
//!
//! # Layout
//! ```text
//!  record::{hftbacktest, cryptofeed, format} ──FrameSource──▶ (drive: replay)
//!  ingest::{ws, http, tls} ──raw frames──────────────────────▶ (drive: live)
//!  ingest::{snapshots, endpoints, clock} ──REST──────────────▶ (drive: live)
//!  record::writer ◀──records── (drive)      models ──▶ (drive, train)
//!  bus (NATS JetStream) ◀──raw frames── (drive: collector)  ──raw frames──▶ (drive: consumer)
//! ```
//! - [`record`]: capture readers, the recording format, its writer, kline files.
//! - [`ingest`]: the live client's sockets: WebSocket connections, REST snapshots under the
//!   weight budget, endpoints, the clock probe.
//! - [`models`]: model folders (`model.toml` + `model.safetensors`).
//! - [`bus`]: the NATS JetStream fan-out (publisher and consumer of raw frames).

pub mod bus;
pub mod ingest;
pub mod models;
pub mod record;
