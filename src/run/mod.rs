//! Drivers that touch files and clocks: replay of captures and recordings through the engine.
//!
//! Owns: the real-time loop around the [`Player`] (which owns pacing, commands, checkpoints and
//! error bookkeeping with file:line). Must not touch: market logic (the engine's), the
//! summary's shape.

pub mod player;

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

pub use player::{Player, PlayerOptions, Poll, ReplayCommand, TimeArg};

use crate::engine::Engine;
use crate::market::Market;
use crate::record::{FrameSource, Speed};
use crate::summary::{Percentiles, RunInfo, Summary};

/// How a replay runs.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// Forces the market rules; `None` reads them from the data.
    pub market: Option<Market>,
    /// Stop at the first bad frame or line instead of counting it and going on.
    pub strict: bool,
    /// Errors kept with their text in the summary (all are counted).
    pub errors_listed: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            market: None,
            strict: false,
            errors_listed: 50,
        }
    }
}

/// What a replay produced.
pub struct ReplayOutcome {
    pub engine: Engine,
    pub errors_total: u64,
    pub errors: Vec<String>,
    pub elapsed_s: f64,
    /// Hex digest of the engine's outputs, when asked for.
    pub digest: Option<String>,
    pub speed: Speed,
    pub pacing_late_ns: Option<Percentiles>,
}

impl ReplayOutcome {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::of(&self.engine, self.errors_total, self.errors.clone());
        s.run = Some(RunInfo {
            elapsed_s: self.elapsed_s,
            frames_per_s: if self.elapsed_s > 0.0 {
                self.engine.stats.frames as f64 / self.elapsed_s
            } else {
                0.0
            },
            speed: Some(self.speed.to_string()),
            pacing_late_ns: self.pacing_late_ns,
        });
        s.digest = self.digest.clone();
        s
    }
}

/// A replay stopped by `--strict`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StrictStop(pub String);

/// Replays already opened sources, as fast as possible.
pub fn replay_sources(
    sources: Vec<Box<dyn FrameSource + Send>>,
    opts: &ReplayOptions,
) -> Result<ReplayOutcome, StrictStop> {
    let player = Player::from_sources(
        sources,
        PlayerOptions {
            replay: opts.clone(),
            ..PlayerOptions::default()
        },
    );
    play_out(player, None, Instant::now())
}

/// Opens files or folders (formats detected) and replays them as fast as possible.
pub fn replay_paths(paths: &[PathBuf], opts: &ReplayOptions) -> anyhow::Result<ReplayOutcome> {
    let player = Player::open(
        paths,
        PlayerOptions {
            replay: opts.clone(),
            ..PlayerOptions::default()
        },
    )?;
    Ok(play_out(player, None, Instant::now())?)
}

/// Plays to the end in real time (paced by the player's speed), taking commands from
/// `commands` as they come, and sums up. `epoch` is the origin of the clock the player has
/// been given so far (the time of any commands already applied).
pub fn play_out(
    mut player: Player,
    commands: Option<&Receiver<ReplayCommand>>,
    epoch: Instant,
) -> Result<ReplayOutcome, StrictStop> {
    let start = Instant::now();
    play(&mut player, commands, epoch)?;
    let elapsed_s = start.elapsed().as_secs_f64();
    let speed = player.status().speed;
    let pacing_late_ns = player.lateness().map(Percentiles::of);
    let (engine, errors_total, errors, digest) = player.into_parts();
    Ok(ReplayOutcome {
        engine,
        errors_total,
        errors,
        elapsed_s,
        digest: digest.map(|d| d.hex()),
        speed,
        pacing_late_ns,
    })
}

/// The real-time loop: polls the player with this thread's monotonic clock (ns since `epoch`),
/// sleeps until the next frame is due — waking early for a command — and blocks while paused.
/// Returns when the replay is done or the command channel closes while paused.
pub fn play(
    player: &mut Player,
    commands: Option<&Receiver<ReplayCommand>>,
    epoch: Instant,
) -> Result<(), StrictStop> {
    let now = || epoch.elapsed().as_nanos() as u64;
    loop {
        if let Some(rx) = commands {
            while let Ok(c) = rx.try_recv() {
                player.command(c, now())?;
            }
        }
        match player.poll(now())? {
            Poll::Fed(_) => {}
            Poll::Done => return Ok(()),
            Poll::Wait(ns) => {
                let d = Duration::from_nanos(ns);
                match commands {
                    Some(rx) => match rx.recv_timeout(d) {
                        Ok(c) => player.command(c, now())?,
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => std::thread::sleep(d),
                    },
                    None => std::thread::sleep(d),
                }
            }
            Poll::Paused => match commands.map(Receiver::recv) {
                Some(Ok(c)) => player.command(c, now())?,
                // Nobody can resume it.
                _ => return Ok(()),
            },
        }
    }
}
