//! Between the screen and the driver behind it: one [`Command`] enum in, one [`Event`] stream
//! out, whatever the driver (live session or replay).
//!
//! Owns: the two message types and their channels. Must not touch: what a command does (each
//! driver decides, and answers a command it cannot carry out with a [`Event::Notice`] saying
//! why), the `View`s (they go through [`crate::publish`]: a watch channel keeps only the latest,
//! which is what a screen wants of market state, while commands and events must not be lost).
//!
//! ```text
//!  screen ──Command──▶ [live driver: tokio mpsc | replay thread: std mpsc]
//!  screen ◀──Event───  driver (tokio mpsc, sendable from any thread)
//! ```

use microstate_core::num::Symbol;
use tokio::sync::mpsc;

use crate::player::ReplayCommand;

/// What the screen asks of the driver behind it.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Drop this symbol's book and sync it again from a new snapshot (live).
    Resync(Symbol),
    /// Record what comes off the wire, or stop (live).
    Record(Switch),
    /// Pause, step, speed, seek (replay).
    Replay(ReplayCommand),
    /// Alert when this symbol's mid crosses this price (live and replay).
    AlertPrice(microstate_core::alerts::PriceLevel),
    /// Subscribe this symbol's streams on the running connection and sync its book (live).
    AddSymbol(Symbol),
    /// Unsubscribe this symbol's streams and forget its book (live).
    RemoveSymbol(Symbol),
    /// End the session.
    Quit,
}

/// On, off, or the other of the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    On,
    Off,
    Toggle,
}

/// What a driver tells the screen.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// What a command did, or why it did nothing, for the status line.
    Notice(String),
    /// The driver has ended (its last view stays on screen).
    Ended,
}

/// The screen's end: commands out, events in.
#[derive(Debug)]
pub struct ScreenEnd {
    commands: CommandTx,
    pub events: mpsc::UnboundedReceiver<Event>,
}

impl ScreenEnd {
    /// Sends a command; `false` when the driver has gone.
    pub fn send(&self, c: Command) -> bool {
        match &self.commands {
            CommandTx::Task(tx) => tx.send(c).is_ok(),
            CommandTx::Thread(tx) => tx.send(c).is_ok(),
        }
    }
}

/// A driver's end: commands in (`R`: a tokio receiver for a driver on a runtime, a std one for
/// a driver on its own thread), events out.
#[derive(Debug)]
pub struct DriverEnd<R> {
    pub commands: R,
    pub events: EventTx,
}

/// The live driver's end (it runs on a runtime).
pub type LiveEnd = DriverEnd<mpsc::UnboundedReceiver<Command>>;
/// The replay loop's end (it runs on a thread and waits on commands with a timeout).
pub type ReplayEnd = DriverEnd<std::sync::mpsc::Receiver<Command>>;

#[derive(Debug)]
enum CommandTx {
    Task(mpsc::UnboundedSender<Command>),
    Thread(std::sync::mpsc::Sender<Command>),
}

/// Sends events to the screen (from any thread, never blocking).
#[derive(Clone, Debug)]
pub struct EventTx(mpsc::UnboundedSender<Event>);

impl EventTx {
    pub fn send(&self, e: Event) {
        // Nobody listening (the screen closed) is not the driver's problem.
        let _ = self.0.send(e);
    }

    pub fn notice(&self, text: impl Into<String>) {
        self.send(Event::Notice(text.into()));
    }
}

/// Channels between the screen and a live driver.
pub fn live_channel() -> (ScreenEnd, LiveEnd) {
    let (ctx, crx) = mpsc::unbounded_channel();
    let (etx, erx) = mpsc::unbounded_channel();
    (
        ScreenEnd {
            commands: CommandTx::Task(ctx),
            events: erx,
        },
        DriverEnd {
            commands: crx,
            events: EventTx(etx),
        },
    )
}

/// Channels between the screen and a replay thread.
pub fn replay_channel() -> (ScreenEnd, ReplayEnd) {
    let (ctx, crx) = std::sync::mpsc::channel();
    let (etx, erx) = mpsc::unbounded_channel();
    (
        ScreenEnd {
            commands: CommandTx::Thread(ctx),
            events: erx,
        },
        DriverEnd {
            commands: crx,
            events: EventTx(etx),
        },
    )
}
