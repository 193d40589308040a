//! Drivers that touch files and clocks: replay of captures and recordings through the engine.
//!
//! Owns: the real-time loop around the [`Player`] (which owns pacing, commands, checkpoints and
//! error bookkeeping with file:line). Must not touch: market logic (the engine's), the
//! summary's shape.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

pub use crate::player::{Player, PlayerOptions, Poll, ReplayCommand, TimeArg};

use std::io::Write;

use microstate_core::engine::Engine;
use microstate_core::features::json::FeatureRecord;
use microstate_core::features::{FeatureParams, Schema};
use microstate_core::latency::Percentiles;
use microstate_core::latency::{LatencySummary, Stage};
use microstate_core::market::Market;
use microstate_core::summary::{RunInfo, Summary};
use microstate_core::view::{ReplayView, Source, View};
use microstate_io::record::{FrameSource, Speed};

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
    /// The original session's latencies and this replay's processing.
    pub latency: Option<LatencySummary>,
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
        s.latency = self.latency.clone();
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

/// Opens files or folders (formats detected) and replays them as fast as possible; with
/// `features_jsonl`, writes the feature vectors as it goes.
pub fn replay_paths(paths: &[PathBuf], opts: &ReplayOptions) -> anyhow::Result<ReplayOutcome> {
    let mut player = Player::open(
        paths,
        PlayerOptions {
            replay: opts.clone(),
            ..PlayerOptions::default()
        },
    )?;
    let writer = attach_feature_writer(&mut player, opts)?;
    let outcome = play_out(player, None, Instant::now())?;
    finish_feature_writer(writer, opts)?;
    Ok(outcome)
}

/// With `--features-jsonl`: a writer the player feeds after every frame.
pub fn attach_feature_writer(
    player: &mut Player,
    opts: &ReplayOptions,
) -> anyhow::Result<Option<std::sync::Arc<std::sync::Mutex<FeatureWriter>>>> {
    use anyhow::Context;
    let Some(path) = &opts.features_jsonl else {
        return Ok(None);
    };
    let params = opts
        .features
        .context("--features-jsonl needs the features enabled")?;
    let w = FeatureWriter::create(path, &params, opts.features_every)
        .with_context(|| format!("creating {path}"))?;
    let w = std::sync::Arc::new(std::sync::Mutex::new(w));
    let shared = w.clone();
    player.set_observer(Box::new(move |e: &Engine| {
        if let Ok(mut w) = shared.lock() {
            w.after_frame(e);
        }
    }));
    Ok(Some(w))
}

/// Flushes the feature writer (reports the first write error).
pub fn finish_feature_writer(
    w: Option<std::sync::Arc<std::sync::Mutex<FeatureWriter>>>,
    opts: &ReplayOptions,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let Some(w) = w else { return Ok(()) };
    let path = opts.features_jsonl.as_deref().unwrap_or("-");
    let w = std::sync::Arc::try_unwrap(w)
        .map_err(|_| anyhow::anyhow!("the feature writer is still in use"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("the feature writer was poisoned"))?;
    w.finish()
        .with_context(|| format!("writing feature vectors to {path}"))?;
    Ok(())
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
    let position = player.status().position.map_or(0, |p| p.0);
    let latency = player.latency().map(|l| LatencySummary::of(l, position));
    let (engine, errors_total, errors, digest) = player.into_parts();
    Ok(ReplayOutcome {
        engine,
        errors_total,
        errors,
        elapsed_s,
        digest: digest.map(|d| d.hex()),
        speed,
        pacing_late_ns,
        latency,
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
        v.published_ns = microstate_io::ingest::now_nanos().0;
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
    let mut v = replay_view_base(player);
    v.latency = replay_stage_views(player);
    v
}

/// The latency stages of a replay for the screen: the recorded session's (`rec …`) and this
/// replay's processing (`replay …`). Merging the window histograms is the costly part of a
/// view: the screen loop refreshes it twice a second, not per view.
pub fn replay_stage_views(player: &Player) -> Vec<microstate_core::view::StageView> {
    let now = player.status().position.map_or(0, |p| p.0);
    let Some(l) = player.latency() else {
        return Vec::new();
    };
    crate::live::stage_views(l, now)
        .into_iter()
        .map(|mut sv| {
            let original = [
                Stage::ExchangeTtoE,
                Stage::NetworkRaw,
                Stage::NetworkCorrected,
            ]
            .iter()
            .any(|s| sv.name.starts_with(s.name()));
            sv.name = format!("{} {}", if original { "rec" } else { "replay" }, sv.name);
            sv
        })
        .collect()
}

/// A replay's view without the latency stages.
pub fn replay_view_base(player: &Player) -> View {
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
    if let Some(e) = player.latency().and_then(|l| l.clock.in_use(now)) {
        v.clock_offset = Some((e.offset_ns, e.uncertainty_ns * 2));
        v.clock_source = format!("{}, rec", e.source);
    }
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
    let mut stages: (Option<Instant>, Vec<microstate_core::view::StageView>) = (None, Vec::new());
    while !stop.load(Ordering::Relaxed) {
        while let Ok(c) = commands.try_recv() {
            player.command(c, now())?;
        }
        let poll = player.poll(now())?;
        if view.due() || !matches!(poll, Poll::Fed(_)) {
            if stages
                .0
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(500))
            {
                stages = (Some(Instant::now()), replay_stage_views(player));
            }
            let mut v = replay_view_base(player);
            v.latency = stages.1.clone();
            view.send(v);
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

/// Writes each symbol's new feature vector as one JSON line (shape: `features::json`).
pub struct FeatureWriter {
    out: std::io::BufWriter<Box<dyn Write + Send>>,
    schema: Schema,
    every_ns: Option<u64>,
    /// Per symbol (engine order): updates seen, and the next event time due when sampling.
    seen: Vec<(u64, u64)>,
    lines: u64,
    /// The first write error; later writes are skipped and `finish` reports it.
    error: Option<std::io::Error>,
}

impl FeatureWriter {
    /// `path` `-` is stdout. `every`: one vector per symbol per that much event time (the
    /// first vector at or after each multiple of it), else one per event.
    pub fn create(
        path: &str,
        params: &FeatureParams,
        every: Option<Duration>,
    ) -> std::io::Result<FeatureWriter> {
        let out: Box<dyn Write + Send> = if path == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(std::fs::File::create(path)?)
        };
        Ok(FeatureWriter {
            out: std::io::BufWriter::with_capacity(1 << 16, out),
            schema: Schema::new(params),
            every_ns: every
                .filter(|d| !d.is_zero())
                .map(|d| d.as_nanos().min(u64::MAX as u128) as u64),
            seen: Vec::new(),
            lines: 0,
            error: None,
        })
    }

    /// Writes what changed since the last call.
    pub fn after_frame(&mut self, engine: &Engine) {
        if self.error.is_some() {
            return;
        }
        for (i, st) in engine.symbols().iter().enumerate() {
            let Some(f) = st.features() else { continue };
            if self.seen.len() <= i {
                self.seen.push((0, 0));
            }
            let (updates, due) = &mut self.seen[i];
            if f.updates() == *updates {
                continue;
            }
            *updates = f.updates();
            let v = f.vector();
            if let Some(every) = self.every_ns {
                if v.ts_ns() < *due {
                    continue;
                }
                *due = (v.ts_ns() / every + 1).saturating_mul(every);
            }
            let rec = FeatureRecord {
                symbol: st.symbol.as_str(),
                schema: &self.schema,
                vector: v,
            };
            let r = serde_json::to_writer(&mut self.out, &rec)
                .map_err(std::io::Error::from)
                .and_then(|()| self.out.write_all(b"\n"));
            if let Err(e) = r {
                self.error = Some(e);
                return;
            }
            self.lines += 1;
        }
    }

    /// Flushes; the number of lines written, or the first error.
    pub fn finish(mut self) -> std::io::Result<u64> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.lines)
    }
}

/// When the pressure direction is held back, from `[models.pressure]`; `learn_queue` resolved
/// samples are kept per symbol for an online learner (0 when none is attached).
pub fn pressure_gate(
    cfg: &microstate_config::Config,
    learn_queue: usize,
) -> microstate_core::ml::signals::PressureGate {
    let p = &cfg.models.pressure;
    microstate_core::ml::signals::PressureGate {
        edge_window: p.edge_window,
        edge_min_scored: p.edge_min_scored,
        min_edge: p.min_edge,
        guard_tolerance: p.guard_tolerance as f32,
        guard_window: p.guard_window,
        guard_share: p.guard_share,
        learn_queue,
    }
}

/// Loads the models named by the config (`models.dir`); a missing or mismatched model becomes
/// the reason shown in its place, and everything else runs.
pub fn load_models(
    cfg: &microstate_config::Config,
) -> std::sync::Arc<microstate_core::ml::signals::Models> {
    let dir = std::path::Path::new(&cfg.models.dir);
    let m = &cfg.models;
    let context = microstate_io::models::load_context(
        &microstate_io::models::model_dir(dir, "context"),
        m.context.z_threshold,
    )
    .map_err(|e| e.to_string());
    if let Err(e) = &context {
        tracing::warn!("context model not loaded: {e}");
    }
    let pressure = microstate_io::models::load_pressure(
        &microstate_io::models::model_dir(dir, "pressure"),
        &cfg.features.params().unwrap_or_default(),
    )
    .map_err(|e| e.to_string());
    if let Err(e) = &pressure {
        tracing::warn!("pressure model not loaded: {e}");
    }
    std::sync::Arc::new(microstate_core::ml::signals::Models {
        context,
        pressure: if cfg.features.params().is_some() {
            pressure
        } else {
            Err("features are off ([features] enabled = false)".into())
        },
        pressure_throttle_ns: m.pressure.throttle.as_nanos() as u64,
        score_window: m.pressure.score_window,
        score_buckets: m.pressure.calibration_buckets,
        pressure_gate: pressure_gate(cfg, 0),
        stale_after_ns: cfg.connection.stale_after.as_nanos() as u64,
        context_label: m.context_label_index(),
        max_gap_fill_min: m.context.max_gap_fill.as_secs() / 60,
        thresholds: microstate_core::ml::interpret::Thresholds {
            min_pressure_confidence: m.interpret.min_pressure_confidence as f32,
        },
    })
}
