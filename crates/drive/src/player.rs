//! The replay player: feeds recorded frames to the engine paced by their receive times, under
//! commands (pause, resume, step, seek, speed).
//!
//! Owns: the readers' position, the engine of the replay, the pacing anchor, checkpoints for
//! seeking, the output digest, and how a replay runs ([`ReplayOptions`]). Must not touch:
//! clocks — the caller passes "now" (a monotonic reading in ns) into [`Player::poll`] and
//! [`Player::command`], so tests drive it in virtual time and the loops of the `replay` module
//! (headless, and with the screen) drive it in real time.
//!
//! # Pacing
//! A frame recorded at `recv` is due at `anchor_now + (recv − anchor_recv) / speed`. The anchor
//! is set at the first frame and again on every resume, speed change and seek, at the current
//! position, so the replay continues from where it is without a jump. At [`Speed::Max`] nothing
//! waits. Frames whose receive time goes backwards (frames of two connections, in the order the
//! live engine took them) are due at once: the order is the recorded one, never re-sorted.
//!
//! # Determinism
//! The engine sees the same frames in the same order whatever the speed, pauses or steps, so
//! its outputs — and the [`Digest`] of them — are identical. Pacing only decides *when*.
//!
//! # Seeking
//! Every `checkpoint_every` of recorded time the player keeps a clone of the engine and the
//! reader position (frames consumed). A seek restores the last checkpoint at or before the
//! target — reopening the files and skipping to its position without decoding into the
//! engine — then feeds at full speed up to the target. Seeking forward past known checkpoints
//! just feeds forward. Players built from already opened sources cannot reopen them: they seek
//! forward only.

use microstate_core::calendar::parse_utc;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use microstate_core::digest::Digest;
use microstate_core::engine::{Engine, EngineConfig, SeedError};
use microstate_core::features::FeatureParams;
use microstate_core::latency::Latency;
use microstate_core::market::Market;
use microstate_core::ml::context::SeedOutcome;
use microstate_core::num::{Nanos, Symbol};
use microstate_io::record::{self, FrameKind, FrameSource, Merge, Merged, Speed};

/// How a replay runs.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// Forces the market rules; `None` reads them from the data.
    pub market: Option<Market>,
    /// Stop at the first bad frame or line instead of counting it and going on.
    pub strict: bool,
    /// Errors kept with their text in the summary (all are counted).
    pub errors_listed: usize,
    /// Feature parameters (`None`: books only).
    pub features: Option<FeatureParams>,
    /// Write feature vectors as JSON lines to this path (`-`: stdout).
    pub features_jsonl: Option<String>,
    /// Write one vector per symbol per this much event time instead of one per event.
    pub features_every: Option<Duration>,
    /// Caps on what the input decides (`[limits]`): line bytes for the readers, the rest for
    /// the engine.
    pub limits: microstate_core::limits::Limits,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            market: None,
            strict: false,
            errors_listed: 50,
            features: Some(FeatureParams::default()),
            features_jsonl: None,
            features_every: None,
            limits: microstate_core::limits::Limits::default(),
        }
    }
}

/// A replay stopped by `--strict`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StrictStop(pub String);

/// What the user can ask of a replay (keys in the screen, tests, scripts).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReplayCommand {
    Pause,
    Resume,
    TogglePause,
    /// Feed exactly one more frame, then stay paused (pauses a running replay).
    Step,
    SetSpeed(Speed),
    /// Twice as fast (up to 1000×).
    Faster,
    /// Half as fast (down to 0.1×).
    Slower,
    /// Go to this recorded receive time (ns since the epoch).
    SeekTo(Nanos),
    /// Go forward (or back, if negative) by this much recorded time, ns.
    SeekBy(i64),
}

/// What [`Player::poll`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    /// Fed this many frames; poll again.
    Fed(u32),
    /// The next frame is due in this many ns (of the caller's clock).
    Wait(u64),
    /// Paused: nothing happens until a command.
    Paused,
    /// The recording is exhausted (or `until` was reached).
    Done,
}

/// How a player runs.
#[derive(Clone, Debug)]
pub struct PlayerOptions {
    pub replay: ReplayOptions,
    pub speed: Speed,
    /// A checkpoint (engine clone) every this much recorded time, ns.
    pub checkpoint_every_ns: u64,
    /// Stop at the first frame received after this time (ns since the epoch).
    pub until: Option<Nanos>,
    /// Keep a digest of the engine's outputs.
    pub digest: bool,
    /// Most frames fed by one poll (keeps commands responsive at full speed).
    pub batch: u32,
    /// Latency histograms: the original session's (from recorded times) and this replay's
    /// processing (parse, book, features, timed on this machine's clock).
    pub latency: bool,
    /// Models run on the features (`None`: none).
    pub models: Option<std::sync::Arc<microstate_core::ml::signals::Models>>,
}

impl Default for PlayerOptions {
    fn default() -> Self {
        PlayerOptions {
            replay: ReplayOptions::default(),
            speed: Speed::Max,
            checkpoint_every_ns: 30_000_000_000,
            until: None,
            digest: false,
            batch: 4096,
            latency: true,
            models: None,
        }
    }
}

/// Where a replay is, for display.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlayerStatus {
    pub speed: Speed,
    pub paused: bool,
    pub done: bool,
    /// Receive time of the first frame, once seen.
    pub first: Option<Nanos>,
    /// Receive time of the last frame fed.
    pub position: Option<Nanos>,
    /// Frames fed to the engine (a seek back takes them back).
    pub fed: u64,
    pub checkpoints: usize,
    /// Receive time of the recording's end, when the files index it (`.msrec` chunk headers);
    /// `None` for captures without an index.
    pub last: Option<Nanos>,
}

/// The last time any of `paths` (files or folders of `.msrec` recordings) records, from the
/// chunk headers alone (36 bytes a chunk); `None` when a path is not a recording with an index
/// (a capture) or cannot be listed.
pub fn recording_end(paths: &[PathBuf]) -> Option<u64> {
    let is_msrec = |p: &std::path::Path| p.extension().is_some_and(|e| e == "msrec");
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            for e in std::fs::read_dir(p).ok()? {
                let f = e.ok()?.path();
                if is_msrec(&f) {
                    files.push(f);
                }
            }
        } else if is_msrec(p) {
            files.push(p.clone());
        } else {
            return None;
        }
    }
    files
        .iter()
        .map(|f| {
            microstate_io::record::format::index(f)
                .ok()
                .and_then(|i| i.chunks.last().map(|c| c.last_wall_ns))
        })
        .try_fold(None, |acc: Option<u64>, x| {
            x.map(|x| Some(acc.map_or(x, |a| a.max(x))))
        })?
}

#[derive(Clone)]
struct Checkpoint {
    /// Recorded time of the last frame before it.
    at: u64,
    consumed: u64,
    fed: u64,
    engine: Engine,
    errors_total: u64,
    errors_kept: usize,
    digest: Option<Digest>,
}

/// Called with the engine after every frame a player feeds.
pub type Observer = Box<dyn FnMut(&Engine) + Send>;

/// A replay in progress.
pub struct Player {
    paths: Vec<PathBuf>,
    /// Receive time of the recording's end, where the files index it ([`recording_end`]).
    end: Option<u64>,
    opts: PlayerOptions,
    merge: Merge,
    /// Items taken from the merge (frames and read errors): the reader position.
    consumed: u64,
    fed: u64,
    engine: Engine,
    errors_total: u64,
    errors: Vec<String>,
    digest: Option<Digest>,
    speed: Speed,
    paused: bool,
    steps: u64,
    /// (caller's now, recorded time) the pacing counts from.
    anchor: Option<(u64, u64)>,
    first: Option<u64>,
    position: Option<u64>,
    done: bool,
    checkpoints: Vec<Checkpoint>,
    next_checkpoint: u64,
    /// How late frames were fed against their due time, ns (paced frames only).
    lateness: Option<hdrhistogram::Histogram<u64>>,
    /// Called with the engine after every frame fed (feature writers, checks).
    observer: Option<Observer>,
    latency: Option<Box<Latency>>,
    /// The caller's clock at the last poll.
    now: u64,
    /// Per symbol: where context history seeded from outside the recording came from.
    history_sources: HashMap<Symbol, String>,
}

impl Player {
    /// Opens files or folders (formats detected), ready to play.
    pub fn open(paths: &[PathBuf], opts: PlayerOptions) -> anyhow::Result<Player> {
        use anyhow::Context;
        let sources = record::open_captures_capped(paths, opts.replay.limits.max_line_bytes)
            .context("opening the capture")?;
        if sources.is_empty() {
            anyhow::bail!("no capture files found in {paths:?}");
        }
        let mut p = Player::from_sources(sources, opts);
        p.paths = paths.to_vec();
        p.end = recording_end(paths);
        Ok(p)
    }

    /// Plays already opened sources (they cannot be reopened: seeks go forward only).
    pub fn from_sources(sources: Vec<Box<dyn FrameSource + Send>>, opts: PlayerOptions) -> Player {
        let engine = Engine::new(EngineConfig {
            market: opts.replay.market,
            features: opts.replay.features,
            limits: opts.replay.limits,
            ..EngineConfig::default()
        });
        let digest = opts.digest.then(Digest::default);
        let mut engine = engine;
        if opts.latency {
            engine.set_clock(microstate_io::ingest::mono_nanos);
        }
        if let Some(m) = &opts.models {
            engine.set_models(m.clone());
        }
        let start = Checkpoint {
            at: 0,
            consumed: 0,
            fed: 0,
            engine: engine.clone(),
            errors_total: 0,
            errors_kept: 0,
            digest: digest.clone(),
        };
        Player {
            paths: Vec::new(),
            end: None,
            speed: opts.speed,
            merge: Merge::new(sources),
            consumed: 0,
            fed: 0,
            engine,
            errors_total: 0,
            errors: Vec::new(),
            digest,
            paused: false,
            steps: 0,
            anchor: None,
            first: None,
            position: None,
            done: false,
            checkpoints: vec![start],
            next_checkpoint: 0,
            lateness: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000, 3).ok(),
            observer: None,
            latency: opts
                .latency
                .then(|| Box::new(Latency::new(60_000_000_000, 6))),
            now: 0,
            history_sources: HashMap::new(),
            opts,
        }
    }

    /// Seeds `symbol`'s context history with minute prices from outside the recording (kline
    /// files: `(minute_ms, price)`, see [`Engine::seed_context`]), `source` saying where they
    /// came from. The caller passes only minutes that were over before the recording's first
    /// frame (no look-ahead). The checkpoints are seeded too, so a seek back keeps the seed.
    pub fn seed_context(
        &mut self,
        symbol: Symbol,
        minutes: &[(i64, f64)],
        source: &str,
    ) -> Result<SeedOutcome, SeedError> {
        let out = self.engine.seed_context(symbol, minutes)?;
        for cp in &mut self.checkpoints {
            cp.engine.seed_context(symbol, minutes)?;
        }
        self.history_sources.insert(symbol, source.to_string());
        Ok(out)
    }

    /// Per symbol: where seeded context history came from ([`Self::seed_context`]).
    pub fn history_sources(&self) -> &HashMap<Symbol, String> {
        &self.history_sources
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, to exchange samples and weights with an online learner between polls
    /// ([`Engine::exchange_with_learner`]).
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// Calls `f` with the engine after every frame fed (not during a seek's restore).
    pub fn set_observer(&mut self, f: Observer) {
        self.observer = Some(f);
    }

    /// Adds an observer after the one already set (each sees every frame, in order).
    pub fn add_observer(&mut self, mut f: Observer) {
        self.observer = Some(match self.observer.take() {
            None => f,
            Some(mut g) => Box::new(move |e: &Engine| {
                g(e);
                f(e);
            }),
        });
    }

    /// Takes no more checkpoints: for a caller that will not seek any more (a replay played out
    /// to its end by [`crate::replay::play_out`], which owns the player). A checkpoint is an
    /// engine clone every `checkpoint_every_ns` of recorded time, only ever used by a seek.
    pub fn stop_checkpoints(&mut self) {
        self.opts.checkpoint_every_ns = u64::MAX;
        self.next_checkpoint = u64::MAX;
    }

    /// Stops the replay at the first frame received after `t`.
    pub fn set_until(&mut self, t: Nanos) {
        self.opts.until = Some(t);
    }

    pub fn into_parts(self) -> (Engine, u64, Vec<String>, Option<Digest>) {
        (self.engine, self.errors_total, self.errors, self.digest)
    }

    /// Latency of the original session (E→receive from recorded times) and of this replay's
    /// processing.
    pub fn latency(&self) -> Option<&Latency> {
        self.latency.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    pub fn errors_total(&self) -> u64 {
        self.errors_total
    }

    /// Lateness of paced frames against their due time (ns), if any were paced.
    pub fn lateness(&self) -> Option<&hdrhistogram::Histogram<u64>> {
        self.lateness.as_ref().filter(|h| !h.is_empty())
    }

    pub fn status(&self) -> PlayerStatus {
        PlayerStatus {
            speed: self.speed,
            paused: self.paused,
            done: self.done,
            first: self.first.map(Nanos),
            position: self.position.map(Nanos),
            fed: self.fed,
            checkpoints: self.checkpoints.len(),
            last: self.end.map(Nanos),
        }
    }

    /// Receive time of the first frame (reads ahead to it if nothing was fed yet).
    pub fn first_time(&mut self) -> Result<Option<Nanos>, StrictStop> {
        if self.first.is_none() && !self.done {
            loop {
                match self.merge.next_frame() {
                    None => break,
                    Some(Merged::Error(e)) => {
                        self.consumed += 1;
                        self.read_error(e)?;
                    }
                    Some(Merged::Frame { frame, .. }) => {
                        self.first = Some(frame.recv.0);
                        self.merge.unread();
                        break;
                    }
                }
            }
        }
        Ok(self.first.map(Nanos))
    }

    /// Acts on a command at the caller's time `now` (monotonic ns).
    pub fn command(&mut self, cmd: ReplayCommand, now: u64) -> Result<(), StrictStop> {
        match cmd {
            ReplayCommand::Pause => self.pause(),
            ReplayCommand::Resume => self.resume(now),
            ReplayCommand::TogglePause if self.paused => self.resume(now),
            ReplayCommand::TogglePause => self.pause(),
            ReplayCommand::Step => {
                self.pause();
                self.steps += 1;
            }
            ReplayCommand::SetSpeed(s) => self.set_speed(s, now),
            ReplayCommand::Faster => self.set_speed(self.speed.faster(), now),
            ReplayCommand::Slower => self.set_speed(self.speed.slower(), now),
            ReplayCommand::SeekTo(t) => self.seek(t.0, now)?,
            ReplayCommand::SeekBy(d) => {
                let from = match self.position {
                    Some(p) => p,
                    None => self.first_time()?.map_or(0, |t| t.0),
                };
                self.seek(from.saturating_add_signed(d), now)?;
            }
        }
        Ok(())
    }

    fn pause(&mut self) {
        self.paused = true;
        self.anchor = None;
    }

    fn resume(&mut self, now: u64) {
        self.paused = false;
        self.steps = 0;
        self.anchor = self.position.map(|p| (now, p));
    }

    fn set_speed(&mut self, s: Speed, now: u64) {
        self.speed = s;
        if !self.paused {
            self.anchor = self.position.map(|p| (now, p));
        }
    }

    /// Feeds what is due at `now` (monotonic ns of the caller's clock).
    pub fn poll(&mut self, now: u64) -> Result<Poll, StrictStop> {
        self.now = now;
        if self.done {
            return Ok(Poll::Done);
        }
        if self.paused && self.steps == 0 {
            return Ok(Poll::Paused);
        }
        let mut fed = 0u32;
        while fed < self.opts.batch {
            let Some(recv) = self.peek_recv()? else {
                break;
            };
            if self.opts.until.is_some_and(|u| recv > u.0) {
                self.merge.unread();
                self.done = true;
                break;
            }
            self.first.get_or_insert(recv);
            if let (Speed::Factor(x), false) = (self.speed, self.paused) {
                let (a_now, a_rec) = *self.anchor.get_or_insert((now, recv));
                let due = a_now + (recv.saturating_sub(a_rec) as f64 / x) as u64;
                if due > now {
                    self.merge.unread();
                    return Ok(if fed > 0 {
                        Poll::Fed(fed)
                    } else {
                        Poll::Wait(due - now)
                    });
                }
                if let Some(h) = self.lateness.as_mut() {
                    h.saturating_record((now - due).max(1));
                }
            }
            self.feed_current()?;
            fed += 1;
            if self.paused {
                self.steps -= 1;
                break;
            }
        }
        Ok(if fed > 0 {
            Poll::Fed(fed)
        } else if self.done {
            Poll::Done
        } else {
            Poll::Paused
        })
    }

    /// The receive time of the next frame, which stays loaded (the caller feeds it with
    /// [`Self::feed_current`] or puts it back with `merge.unread()`). Read errors on the way are
    /// noted and skipped; `None` at the end (then `done` is set).
    fn peek_recv(&mut self) -> Result<Option<u64>, StrictStop> {
        loop {
            match self.merge.next_frame() {
                None => {
                    self.done = true;
                    return Ok(None);
                }
                Some(Merged::Error(e)) => {
                    self.consumed += 1;
                    self.read_error(e)?;
                }
                Some(Merged::Frame { frame, .. }) => return Ok(Some(frame.recv.0)),
            }
        }
    }

    /// Feeds the frame the merge just returned (it is still its current one).
    fn feed_current(&mut self) -> Result<(), StrictStop> {
        self.merge.unread();
        let Some(Merged::Frame { frame, file }) = self.merge.next_frame() else {
            return Ok(());
        };
        self.consumed += 1;
        self.fed += 1;
        let recv = frame.recv.0;
        let mut refused = None;
        if frame.kind == FrameKind::Reset {
            if let Some(s) = frame.symbol_hint {
                self.engine.reset_symbol(s);
                if let Some(d) = self.digest.as_mut() {
                    d.reset(s);
                }
            }
        } else {
            let r = self.engine.on_frame(frame.raw());
            if let Some(d) = self.digest.as_mut() {
                let e = r.as_ref().err().map(|e| e.to_string());
                d.frame(&self.engine, e.as_deref());
            }
            match r {
                Err(e) => refused = Some(format!("{file}:{}: {e}", frame.line)),
                Ok(()) => {
                    if let Some(l) = self.latency.as_mut() {
                        // Windows run on recorded time: "the last 60 s" of the recording, for
                        // the original session's stages and this replay's processing alike.
                        l.on_frame(self.engine.last_times(), recv, recv);
                    }
                }
            }
        }
        if let Some(msg) = refused {
            self.note(msg)?;
        }
        if let Some(o) = self.observer.as_mut() {
            o(&self.engine);
        }
        self.position = Some(recv);
        if recv >= self.next_checkpoint {
            self.take_checkpoint(recv);
        }
        Ok(())
    }

    fn take_checkpoint(&mut self, at: u64) {
        self.next_checkpoint = at.saturating_add(self.opts.checkpoint_every_ns);
        if self.checkpoints.iter().any(|c| c.consumed == self.consumed) {
            return;
        }
        let at_pos = self
            .checkpoints
            .partition_point(|c| c.consumed < self.consumed);
        self.checkpoints.insert(
            at_pos,
            Checkpoint {
                at,
                consumed: self.consumed,
                fed: self.fed,
                engine: self.engine.clone(),
                errors_total: self.errors_total,
                errors_kept: self.errors.len(),
                digest: self.digest.clone(),
            },
        );
    }

    /// A read error: noted; a line over the byte cap is also counted with the engine's other
    /// tripped bounds (so checkpoints and the summary carry it).
    fn read_error(&mut self, e: record::ReadError) -> Result<(), StrictStop> {
        if matches!(e, record::ReadError::TooLong { .. }) {
            self.engine.stats.limits.line_bytes += 1;
        }
        self.note(e.to_string())
    }

    /// Counts an error and keeps its text (control bytes from the data escaped, so a message
    /// cannot drive the terminal it is printed on).
    fn note(&mut self, msg: String) -> Result<(), StrictStop> {
        let msg = microstate_core::limits::escape_controls(&msg);
        self.errors_total += 1;
        if self.opts.replay.strict {
            return Err(StrictStop(msg));
        }
        if self.errors.len() < self.opts.replay.errors_listed {
            tracing::warn!("{msg}");
            self.errors.push(msg);
        }
        Ok(())
    }

    /// Goes to recorded time `t`: every frame received before `t` has been fed after it.
    fn seek(&mut self, t: u64, now: u64) -> Result<(), StrictStop> {
        let back = self.position.is_some_and(|p| t < p);
        // The best checkpoint at or before `t`: restore it when it is ahead of us, or when we
        // must go back.
        let cp = self
            .checkpoints
            .iter()
            .rev()
            .find(|c| c.at < t || c.consumed == 0)
            .cloned();
        if let Some(cp) = cp
            && (back || cp.consumed > self.consumed)
        {
            if cp.consumed < self.consumed {
                if self.paths.is_empty() {
                    tracing::warn!("this replay cannot reopen its sources: seeking forward only");
                    return Ok(());
                }
                match record::open_captures(&self.paths) {
                    Ok(s) => self.merge = Merge::new(s),
                    Err(e) => return self.note(format!("seeking: reopening the capture: {e}")),
                }
                self.consumed = 0;
                self.done = false;
            }
            // Skip to the checkpoint's position without feeding the engine.
            while self.consumed < cp.consumed {
                if self.merge.next_frame().is_none() {
                    break;
                }
                self.consumed += 1;
            }
            self.engine = cp.engine;
            self.fed = cp.fed;
            self.errors_total = cp.errors_total;
            self.errors.truncate(cp.errors_kept);
            self.digest = cp.digest;
            self.position = (cp.consumed > 0).then_some(cp.at);
            self.next_checkpoint = cp.at.saturating_add(self.opts.checkpoint_every_ns);
            self.done = false;
        }
        // Feed at full speed up to `t`.
        while let Some(recv) = self.peek_recv()? {
            self.first.get_or_insert(recv);
            if recv >= t || self.opts.until.is_some_and(|u| recv > u.0) {
                self.merge.unread();
                break;
            }
            self.feed_current()?;
        }
        self.position = Some(t.max(self.position.unwrap_or(0)));
        if !self.paused {
            self.anchor = Some((now, t));
        }
        Ok(())
    }
}

/// A point in a recording given on the command line: `+90s` / `90s` / `1m30s` from the first
/// frame, or a UTC time `2024-08-08T23:58:00Z` (fractions of a second allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeArg {
    FromStart(u64),
    At(Nanos),
}

impl TimeArg {
    pub fn parse(s: &str) -> Result<TimeArg, String> {
        let t = s.trim();
        if t.contains('T') || t.contains('-') && t.len() >= 10 {
            return parse_utc(t)
                .map(|n| TimeArg::At(Nanos(n)))
                .ok_or_else(|| format!("{s:?}: not a UTC time like 2024-08-08T23:58:00Z"));
        }
        microstate_core::units::parse_duration(t.strip_prefix('+').unwrap_or(t))
            .map(|d| TimeArg::FromStart(d.as_nanos() as u64))
            .map_err(|e| format!("{e}; or give a UTC time like 2024-08-08T23:58:00Z"))
    }

    /// The time in ns since the epoch, given the recording's first frame.
    pub fn resolve(self, first: Nanos) -> Nanos {
        match self {
            TimeArg::FromStart(d) => Nanos(first.0.saturating_add(d)),
            TimeArg::At(t) => t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_arguments() {
        assert_eq!(
            TimeArg::parse("+90s"),
            Ok(TimeArg::FromStart(90_000_000_000))
        );
        assert_eq!(
            TimeArg::parse("1m30s"),
            Ok(TimeArg::FromStart(90_000_000_000))
        );
        assert_eq!(
            TimeArg::parse("2024-08-08T23:54:13Z"),
            Ok(TimeArg::At(Nanos(1_723_161_253_000_000_000)))
        );
        assert_eq!(
            TimeArg::parse("2024-08-08 23:54:13.5"),
            Ok(TimeArg::At(Nanos(1_723_161_253_500_000_000)))
        );
        assert_eq!(
            TimeArg::parse("2024-02-29T00:00:00Z"),
            Ok(TimeArg::At(Nanos(19_782 * 86_400 * 1_000_000_000)))
        );
        assert!(TimeArg::parse("2024-13-01T00:00:00Z").is_err());
        assert!(TimeArg::parse("yesterday").is_err());
        assert_eq!(TimeArg::FromStart(5).resolve(Nanos(10)), Nanos(15));
    }
}
