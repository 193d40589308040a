//! The app: the terminal screen, the config file and the command line of microstate-tui.
//!
//! Owns: everything that imports ratatui or crossterm ([`ui`]), reading the config file and
//! checking what only the screen knows ([`config`]). The command line lives in the binary
//! (`src/main.rs` hands over to `src/cli/`, one module per subcommand, and `cli/screen.rs`
//! wires the screen to a driver: which thread, which runtime, which channels), so integration
//! tests that link this library do not link the CLI. Must not touch: market logic (the core),
//! files and sockets (io), the run loops (drive), training (train).
//!
//! # The workspace
//! ```text
//!                 ┌────────────── app (this crate: ui, config file, cli) ──────────────┐
//!                 ▼                ▼                    ▼                  ▼            ▼
//!              train ──────────▶ drive ─────────────▶ io ──────────────▶ config ───▶ core
//!            (candle)        (live loop, player,   (captures, .msrec,  (sections,    (book, engine,
//!                             View publishing)      sockets, models)    defaults)    features, ml…)
//!              exchange (local Binance-compatible server, synthetic market) ──▶ drive (its
//!                                                         Shutdown only), io, core
//! ```
//! Every arrow is a normal dependency; nothing points back up. The core's normal dependencies
//! hold no runtime, socket, terminal or candle crate.

pub mod config;
pub mod demo;
pub mod ui;
