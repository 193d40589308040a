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
use crate::view::{ReplayView, Source, View};

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

/// Publishes `View`s to the screen through a watch channel, at most every `every`.
pub struct ViewTx {
    pub tx: tokio::sync::watch::Sender<std::sync::Arc<View>>,
    pub every: Duration,
    pub source: Source,
    seq: u64,
    last: Option<Instant>,
}

impl ViewTx {
    pub fn new(
        tx: tokio::sync::watch::Sender<std::sync::Arc<View>>,
        every: Duration,
        source: Source,
    ) -> ViewTx {
        ViewTx {
            tx,
            every,
            source,
            seq: 0,
            last: None,
        }
    }

    /// Time for another view?
    pub fn due(&self) -> bool {
        self.last.is_none_or(|t| t.elapsed() >= self.every)
    }

    /// Sends `v` (numbered, with the source filled in).
    pub fn send(&mut self, mut v: View) {
        self.seq += 1;
        v.seq = self.seq;
        v.source = self.source.clone();
        self.last = Some(Instant::now());
        self.tx.send_replace(std::sync::Arc::new(v));
    }

    /// Nobody is watching any more (the screen closed).
    pub fn closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The view of a replay: the engine's, at the replay position, with the player's state.
pub fn replay_view(player: &Player) -> View {
    let st = player.status();
    let now = st.position.map_or(0, |p| p.0);
    let mut v = View::of_engine(player.engine(), now, 0);
    v.replay = Some(ReplayView {
        speed: st.speed.to_string(),
        paused: st.paused,
        done: st.done,
        first_ns: st.first.map(|t| t.0),
        position_ns: st.position.map(|t| t.0),
    });
    v.connection = String::new();
    v
}

/// The real-time loop of a replay on screen: like [`play`], publishing views as it goes,
/// until the replay ends (the last view stays on screen) or `stop` is set.
pub fn play_view(
    player: &mut Player,
    commands: &Receiver<ReplayCommand>,
    epoch: Instant,
    view: &mut ViewTx,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<(), StrictStop> {
    use std::sync::atomic::Ordering;
    let now = || epoch.elapsed().as_nanos() as u64;
    while !stop.load(Ordering::Relaxed) {
        while let Ok(c) = commands.try_recv() {
            player.command(c, now())?;
        }
        let poll = player.poll(now())?;
        if view.due() || !matches!(poll, Poll::Fed(_)) {
            view.send(replay_view(player));
        }
        // Never sleep past the next view, so the screen's clock keeps moving.
        let wait = match poll {
            Poll::Fed(_) => continue,
            Poll::Wait(ns) => Duration::from_nanos(ns).min(view.every),
            Poll::Paused | Poll::Done => view.every,
        };
        match commands.recv_timeout(wait) {
            Ok(c) => player.command(c, now())?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
    Ok(())
}
