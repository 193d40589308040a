//! Drivers that touch files and clocks: replay of captures and recordings through the engine.
//!
//! Owns: the real-time loops around the [`Player`] (which owns pacing, commands, checkpoints
//! and error bookkeeping with file:line) — headless ([`play`], [`play_out`]) and with the
//! screen ([`play_view`]) — a replay's view, writing feature vectors as JSON lines, and
//! seeding a replay's context history from kline files ([`seed_from_klines`]). Must
//! not touch: market logic (the engine's), the summary's shape, how a view is assembled
//! ([`crate::publish`]).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

pub use crate::models::{load_models, pressure_gate};
pub use crate::player::{
    Player, PlayerOptions, Poll, ReplayCommand, ReplayOptions, StrictStop, TimeArg,
};

use crate::command::{Command, ReplayEnd};
use crate::publish::{self, EventTap, Extras, Publisher, Stamp, TapEvent};
use crate::shutdown::Shutdown;
use microstate_core::engine::Engine;
use microstate_core::features::json::FeatureRecord;
use microstate_core::features::{FeatureParams, Schema};
use microstate_core::latency::Percentiles;
use microstate_core::latency::{LatencySummary, Stage};
use microstate_core::ml::context::SeedOutcome;
use microstate_core::num::Symbol;
use microstate_core::summary::{RunInfo, Summary};
use microstate_core::view::{ReplayView, StageBuckets, StageView, View};
use microstate_io::record::klines::KlineSeries;
use microstate_io::record::{FrameSource, Speed};

/// What seeding a replay's context from a kline file did.
#[derive(Clone, Debug, PartialEq)]
pub struct KlineSeed {
    pub symbol: Symbol,
    /// Minutes taken: the last ones over before the recording's first frame.
    pub used: usize,
    /// Rows left out because their minute was not over before the first frame (no look-ahead).
    pub after_start: usize,
    /// The last minute taken (ms, the price at that boundary), if any.
    pub last_minute_ms: Option<i64>,
    /// The recording's first frame (ms).
    pub first_frame_ms: i64,
    pub outcome: SeedOutcome,
}

/// Seeds `symbol`'s context history from a kline file, with only the minutes that were over
/// before the recording's first frame: a kline opening at `t` gives the price at `t + 1 min`
/// and is used when `t + 1 min` ≤ the first frame's receive time (the context's minutes are
/// stamped by exchange event time, which a recording's first frame precedes or trails by the
/// latency). Of those, the last `LOOKBACK` + margin minutes. `None` for a recording with no
/// frame.
pub fn seed_from_klines(
    player: &mut Player,
    symbol: Symbol,
    series: &KlineSeries,
) -> anyhow::Result<Option<KlineSeed>> {
    use microstate_core::engine::KLINE_WANT_MARGIN;
    use microstate_core::ml::context::{LOOKBACK, MINUTE_MS};
    let Some(first) = player.first_time()? else {
        return Ok(None);
    };
    let first_ms = (first.0 / 1_000_000) as i64;
    let mut minutes: Vec<(i64, f64)> = series
        .rows
        .iter()
        .map(|k| (k.open_time_ms + MINUTE_MS, k.close))
        .filter(|&(t, _)| t <= first_ms)
        .collect();
    let after_start = series.rows.len() - minutes.len();
    minutes.sort_by_key(|&(t, _)| t);
    let keep = LOOKBACK + KLINE_WANT_MARGIN as usize + 1;
    let minutes = &minutes[minutes.len().saturating_sub(keep)..];
    let name = std::path::Path::new(&series.source)
        .file_name()
        .map_or(series.source.clone(), |n| n.to_string_lossy().into_owned());
    let outcome = player.seed_context(symbol, minutes, &format!("klines from {name}"))?;
    Ok(Some(KlineSeed {
        symbol,
        used: minutes.len(),
        after_start,
        last_minute_ms: minutes.last().map(|&(t, _)| t),
        first_frame_ms: first_ms,
        outcome,
    }))
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
    play_out(player, Instant::now())
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
    let outcome = play_out(player, Instant::now())?;
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

/// Plays to the end in real time (paced by the player's speed) and sums up. `epoch` is the
/// origin of the clock the player has been given so far (the time of any commands already
/// applied).
pub fn play_out(mut player: Player, epoch: Instant) -> Result<ReplayOutcome, StrictStop> {
    // Nothing can seek this player any more (it is played out here and consumed): checkpoints
    // would be engine clones nobody restores.
    player.stop_checkpoints();
    let start = Instant::now();
    play(&mut player, epoch)?;
    Ok(outcome_of(player, start.elapsed().as_secs_f64()))
}

/// What a replay that ran for `elapsed_s` produced (the player where it stopped).
pub fn outcome_of(player: Player, elapsed_s: f64) -> ReplayOutcome {
    let speed = player.status().speed;
    let pacing_late_ns = player.lateness().map(Percentiles::of);
    let position = player.status().position.map_or(0, |p| p.0);
    let latency = player.latency().map(|l| LatencySummary::of(l, position));
    let (engine, errors_total, errors, digest) = player.into_parts();
    ReplayOutcome {
        engine,
        errors_total,
        errors,
        elapsed_s,
        digest: digest.map(|d| d.hex()),
        speed,
        pacing_late_ns,
        latency,
    }
}

/// The headless real-time loop: polls the player with this thread's monotonic clock (ns since
/// `epoch`) and sleeps until the next frame is due. Returns when the replay is done (or
/// paused: nobody could resume it).
pub fn play(player: &mut Player, epoch: Instant) -> Result<(), StrictStop> {
    let now = || epoch.elapsed().as_nanos() as u64;
    loop {
        match player.poll(now())? {
            Poll::Fed(_) => {}
            Poll::Done | Poll::Paused => return Ok(()),
            Poll::Wait(ns) => std::thread::sleep(Duration::from_nanos(ns)),
        }
    }
}

/// The view of a replay: the engine's, at the replay position, with the player's state and
/// latency stages (unnumbered: what tests and benchmarks draw).
pub fn replay_view(player: &Player) -> View {
    publish::view(
        player.engine(),
        replay_extras(
            player,
            replay_stage_views(player),
            Arc::new(replay_stage_buckets(player)),
        ),
        Stamp::default(),
    )
}

/// The latency stages of a replay for the screen: the recorded session's (`rec …`) and this
/// replay's processing (`replay …`). Merging the window histograms is the costly part of a
/// view: the screen loop refreshes it twice a second, not per view.
pub fn replay_stage_views(player: &Player) -> Vec<StageView> {
    let now = player.status().position.map_or(0, |p| p.0);
    let Some(l) = player.latency() else {
        return Vec::new();
    };
    publish::stage_views(l, now)
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

/// The latency stages of a replay as fixed-bound histograms (for the API's metrics).
pub fn replay_stage_buckets(player: &Player) -> Vec<StageBuckets> {
    player
        .latency()
        .map_or_else(Vec::new, publish::stage_buckets)
}

/// The stage views and buckets of a replay, refreshed at most twice a second (merging the
/// window histograms is the costly part of a view).
#[derive(Default)]
struct StageCache {
    at: Option<Instant>,
    views: Vec<StageView>,
    buckets: Arc<Vec<StageBuckets>>,
}

impl StageCache {
    /// `buckets`: also the Prometheus buckets (only an API shows them; on the screen alone
    /// they were ~40 % of a refresh's work).
    fn refresh(&mut self, player: &Player, force: bool, buckets: bool) {
        if force
            || self
                .at
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(500))
        {
            self.at = Some(Instant::now());
            self.views = replay_stage_views(player);
            self.buckets = if buckets {
                Arc::new(replay_stage_buckets(player))
            } else {
                Arc::default()
            };
        }
    }
}

/// A headless replay whose views are served (the API): plays at the player's pace, publishing
/// views as it goes (and every trade through the publisher's event stream, when it has one,
/// see [`attach_event_tap`]); at the end it publishes the final view and returns — or, with
/// `hold`, keeps that view up until `shutdown`. Returns early on `shutdown`.
pub fn play_published(
    player: &mut Player,
    epoch: Instant,
    view: &mut Publisher,
    shutdown: &Shutdown,
    hold: bool,
) -> Result<(), StrictStop> {
    let now = || epoch.elapsed().as_nanos() as u64;
    let mut stages = StageCache::default();
    while !shutdown.is_shutdown() {
        let poll = player.poll(now())?;
        let ended = matches!(poll, Poll::Done | Poll::Paused);
        if view.due() || ended {
            stages.refresh(player, ended, true);
            let extras = replay_extras(player, stages.views.clone(), Arc::clone(&stages.buckets));
            view.publish(player.engine(), extras);
        }
        match poll {
            Poll::Fed(_) => {}
            Poll::Wait(ns) => std::thread::sleep(Duration::from_nanos(ns).min(view.every)),
            Poll::Paused | Poll::Done => {
                if !hold {
                    return Ok(());
                }
                while !shutdown.is_shutdown() {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
    Ok(())
}

/// Sends every trade the player's engine takes in to `tx` (the API's event stream).
pub fn attach_event_tap(player: &mut Player, tx: tokio::sync::broadcast::Sender<Arc<TapEvent>>) {
    let mut tap = EventTap::new(tx);
    player.add_observer(Box::new(move |e: &Engine| tap.after_frame(e)));
}

/// What a replay adds to the engine's view: its position as the clock, the player's state, the
/// recorded session's clock offset, the given latency stages.
fn replay_extras(
    player: &Player,
    latency: Vec<StageView>,
    latency_buckets: Arc<Vec<StageBuckets>>,
) -> Extras<'_> {
    let st = player.status();
    let now = st.position.map_or(0, |p| p.0);
    let clock = player.latency().and_then(|l| l.clock.in_use(now));
    Extras {
        now_ns: now,
        replay: Some(ReplayView {
            speed: st.speed.to_string(),
            paused: st.paused,
            done: st.done,
            first_ns: st.first.map(|t| t.0),
            position_ns: st.position.map(|t| t.0),
            last_ns: st.last.map(|t| t.0),
        }),
        clock_offset: clock.map(|e| (e.offset_ns, e.uncertainty_ns * 2)),
        clock_source: clock.map_or(String::new(), |e| format!("{}, rec", e.source)),
        latency,
        latency_buckets,
        history_sources: Some(player.history_sources()),
        ..Extras::default()
    }
}

/// The real-time loop of a replay on screen: like [`play`], publishing views as it goes and
/// taking the screen's [`Command`]s, until the screen quits, the command channel closes or
/// `shutdown` (the replay's end leaves the last view on screen; the loop waits for the quit).
pub fn play_view(
    player: &mut Player,
    screen: &ReplayEnd,
    epoch: Instant,
    view: &mut Publisher,
    shutdown: &Shutdown,
) -> Result<(), StrictStop> {
    let now = || epoch.elapsed().as_nanos() as u64;
    let mut stages = StageCache::default();
    // A command: `false` to stop.
    let act = |player: &mut Player,
               view: &mut Publisher,
               c: Command,
               now: u64|
     -> Result<bool, StrictStop> {
        match c {
            Command::Replay(c) => player.command(c, now)?,
            Command::AlertPrice(level) => {
                view.add_price_alert(level);
                screen.events.notice(format!(
                    "alert when {} crosses {}",
                    level.symbol, level.price
                ));
            }
            Command::Resync(_) => screen.events.notice("a replay resyncs exactly as recorded"),
            Command::Record(_) => screen.events.notice("recording is for live sessions"),
            Command::AddSymbol(s) => screen.events.notice(format!(
                "a replay has only its recorded symbols; {s} is not added"
            )),
            Command::RemoveSymbol(s) => screen
                .events
                .notice(format!("a replay plays every recorded symbol; {s} stays")),
            Command::Quit => return Ok(false),
        }
        Ok(true)
    };
    // Something the last view does not show yet: frames fed or a command acted on since.
    let mut changed = true;
    while !shutdown.is_shutdown() {
        while let Ok(c) = screen.commands.try_recv() {
            if !act(player, view, c, now())? {
                return Ok(());
            }
            changed = true;
        }
        let poll = player.poll(now())?;
        // At most one view per frame time while playing (the screen draws no faster), and a
        // stopped player's state (paused, or at the end) at once, once. Publishing after every
        // fed batch instead (a 1× replay goes quiet between messages) built and sent views at
        // the message rate, several times what the screen can show.
        let publish = match poll {
            Poll::Fed(_) => {
                changed = true;
                view.due()
            }
            // Between messages the replay clock moves on: the screen's clock follows it.
            Poll::Wait(_) => view.due(),
            Poll::Paused | Poll::Done => changed,
        };
        if publish {
            stages.refresh(player, false, view.serves_api());
            let extras = replay_extras(player, stages.views.clone(), Arc::clone(&stages.buckets));
            view.publish(player.engine(), extras);
            changed = false;
        }
        // Never sleep past the next view, so the screen's clock keeps moving.
        let wait = match poll {
            Poll::Fed(_) => continue,
            Poll::Wait(ns) => Duration::from_nanos(ns).min(view.every),
            Poll::Paused | Poll::Done => view.every,
        };
        match screen.commands.recv_timeout(wait) {
            Ok(c) => {
                if !act(player, view, c, now())? {
                    return Ok(());
                }
                changed = true;
            }
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
            // Before the first event time (a spot bookTicker carries none) a vector has no
            // place on the event-time axis: a `ts_ns` of 0 would be a lie, so it is not written.
            if v.ts_ns() == 0 {
                continue;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Event, Switch, replay_channel};
    use crate::shutdown::Stop;
    use microstate_core::num::Symbol;

    fn excerpt() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../assets/demo/btcusdt_20240808-excerpt.gz")
    }

    #[test]
    fn the_screen_loop_answers_what_a_replay_cannot_do_and_quits_on_command() {
        let mut player = Player::open(&[excerpt()], PlayerOptions::default()).expect("open");
        let (screen, driver) = replay_channel();
        let (tx, mut views) = tokio::sync::watch::channel(std::sync::Arc::new(View::default()));
        let mut publisher = Publisher::new(tx, Duration::from_millis(10), Default::default());
        let btc = Symbol::new(b"BTCUSDT").expect("symbol");
        for c in [
            Command::Resync(btc),
            Command::Record(Switch::Toggle),
            Command::Replay(ReplayCommand::Step),
        ] {
            assert!(screen.send(c));
        }
        // Quit once a view shows the step: the loop must have applied it and published.
        let stop = Stop::new();
        let quit = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            rt.block_on(async {
                loop {
                    views.changed().await.expect("views");
                    let v = views.borrow_and_update().clone();
                    if v.replay.as_ref().is_some_and(|r| r.paused) && v.frames == 1 {
                        break;
                    }
                }
            });
            assert!(screen.send(Command::Quit));
            screen
        });
        let epoch = Instant::now();
        play_view(
            &mut player,
            &driver,
            epoch,
            &mut publisher,
            &stop.shutdown(),
        )
        .expect("play");
        let mut screen = quit.join().expect("the watcher");
        assert_eq!(
            player.status().fed,
            1,
            "one step, then paused until the quit"
        );
        let mut notices = Vec::new();
        while let Ok(e) = screen.events.try_recv() {
            notices.push(e);
        }
        assert_eq!(
            notices,
            [
                Event::Notice("a replay resyncs exactly as recorded".into()),
                Event::Notice("recording is for live sessions".into()),
            ]
        );
    }

    #[test]
    fn the_screen_loop_ends_on_shutdown() {
        let mut player = Player::open(&[excerpt()], PlayerOptions::default()).expect("open");
        let (_screen, driver) = replay_channel();
        let (tx, _views) = tokio::sync::watch::channel(std::sync::Arc::new(View::default()));
        let mut publisher = Publisher::new(tx, Duration::from_millis(10), Default::default());
        let stop = Stop::new();
        stop.stop();
        play_view(
            &mut player,
            &driver,
            Instant::now(),
            &mut publisher,
            &stop.shutdown(),
        )
        .expect("play");
        assert_eq!(player.status().fed, 0);
    }
}
