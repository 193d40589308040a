//! `replay`: captures and recordings through the engine, on the screen (paced, with controls)
//! or headless (as fast as possible, a summary at the end; feature vectors on request).
//!
//! Owns: the replay options on the command line and the run's end (summary). Must not touch:
//! the player and its loops (the drive crate), the screen's wiring ([`super::screen`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use microstate_core::market::Market;
use microstate_core::num::Symbol;
use microstate_core::summary::Summary;
use microstate_drive::replay::{
    Player, PlayerOptions, ReplayCommand, ReplayOptions, TimeArg, attach_feature_writer,
    finish_feature_writer, play_out, seed_from_klines,
};
use microstate_io::record::klines::format_utc_ms;

use super::report;
use super::setup::{
    init_logging, parse_duration_arg, parse_speed_arg, parse_time_arg, wants_screen,
};

#[derive(clap::Args, Debug)]
pub struct ReplayCmd {
    /// Capture files or folders.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Run without the terminal screen and print a summary (also when stdout is not a
    /// terminal).
    #[arg(long)]
    headless: bool,
    /// Write the summary as JSON to PATH ('-' for stdout) instead of the readable text.
    #[arg(long, value_name = "PATH|-")]
    summary_json: Option<String>,
    /// Force the sync rules (default: read from the data: a diff with `pu` is futures).
    #[arg(long, value_enum)]
    market: Option<Market>,
    /// Stop at the first malformed frame or line (default: count it, report it, go on).
    #[arg(long)]
    strict: bool,
    /// Pace by the recorded receive times: a factor from 0.1 to 1000 (1 = as recorded), or
    /// `max` (as fast as possible). Default: 1 on the screen, max headless.
    #[arg(long, value_parser = parse_speed_arg)]
    speed: Option<microstate_io::record::Speed>,
    /// Config file (screen settings: fps, theme, keys).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Folder holding the models (pressure/, context/). Default: `models.dir` if it holds one,
    /// else models/ beside the binary, in the data dir, or in the source tree.
    #[arg(long, value_name = "DIR")]
    models: Option<PathBuf>,
    /// Start at this point: `+90s` (or `90s`, `2m`) after the first frame, or a UTC time
    /// `2024-08-08T23:58:00Z`. Everything before it is fed at full speed, so the books are
    /// right from the first paced frame.
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    from: Option<TimeArg>,
    /// Stop after this point (same forms as --from).
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    until: Option<TimeArg>,
    /// Add a "digest" (hex) of every engine output to the summary: it is the same at any
    /// speed and with any pauses.
    #[arg(long)]
    digest: bool,
    /// Write feature vectors as JSON lines to PATH ('-' for stdout): one per event, or one
    /// per symbol per --features-every of event time. Shape and names: README "Features".
    #[arg(long, value_name = "PATH|-")]
    features_jsonl: Option<String>,
    /// With --features-jsonl: one vector per symbol per DURATION of exchange event time
    /// (e.g. 100ms, 1s) instead of one per event.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg, requires = "features_jsonl")]
    features_every: Option<Duration>,
    /// Seed the context history from 1-minute kline files ([SYMBOL=]FILE, the formats `eval
    /// --context-data` reads; the symbol from the file name unless given), using only the
    /// minutes that were over before the capture's first frame. For captures with no kline
    /// answers of their own.
    #[arg(long, value_name = "[SYMBOL=]FILE", num_args = 1..)]
    klines: Vec<String>,
    /// Keep the process (and the API) up after the replay ends, until Ctrl-C, so the final
    /// state can be inspected (headless; the screen stays up until you quit anyway).
    #[arg(long)]
    hold: bool,
    #[command(flatten)]
    api: super::serve::ApiArgs,
}

pub fn run(a: ReplayCmd) -> anyhow::Result<ExitCode> {
    if a.features_jsonl.as_deref() == Some("-") && a.summary_json.as_deref() == Some("-") {
        anyhow::bail!(
            "--features-jsonl - and --summary-json - would interleave on stdout: \
             give one of them a file path"
        );
    }
    let screen = wants_screen(a.headless);
    let (mut cfg, _) = microstate::config::load(a.config.as_deref())?;
    let api = a.api.options(&mut cfg)?;
    init_logging(screen.then(|| cfg.ui.log_path()).as_deref());
    microstate::config::resolve_models(&mut cfg, a.models.as_deref());
    let default_speed = if screen {
        microstate_io::record::Speed::Factor(1.0)
    } else {
        microstate_io::record::Speed::Max
    };
    let replay = ReplayOptions {
        market: a.market,
        strict: a.strict,
        features: cfg.features.params(),
        features_jsonl: a.features_jsonl,
        features_every: a.features_every,
        limits: cfg.limits.limits(),
        ..ReplayOptions::default()
    };
    let opts = PlayerOptions {
        replay: replay.clone(),
        speed: a.speed.unwrap_or(default_speed),
        digest: a.digest,
        models: Some(microstate_drive::replay::load_models(&cfg)),
        ..PlayerOptions::default()
    };
    let mut player = Player::open(&a.files, opts)?;
    seed_klines(&mut player, &a.klines, !screen)?;
    let writer = attach_feature_writer(&mut player, &replay)?;
    let epoch = std::time::Instant::now();
    let first = player.first_time()?;
    if let Some(first) = first {
        if let Some(u) = a.until {
            player.set_until(u.resolve(first));
        }
        if let Some(f) = a.from {
            let t = f.resolve(first);
            player.command(ReplayCommand::SeekTo(t), epoch.elapsed().as_nanos() as u64)?;
        }
    }
    let summary_json = a.summary_json;
    if screen {
        let player = super::screen::replay(player, &a.files, &cfg, epoch, api)?;
        if summary_json.is_some() {
            let (engine, errors_total, errors, digest) = player.into_parts();
            let mut s = Summary::of(&engine, errors_total, errors);
            s.digest = digest.map(|d| d.hex());
            report::summary(&s, summary_json.as_deref())?;
            finish_feature_writer(writer, &replay)?;
            return Ok(usable(&engine, &a.files));
        }
        finish_feature_writer(writer, &replay)?;
        return Ok(usable(player.engine(), &a.files));
    }
    let outcome = match api {
        None if !a.hold => play_out(player, epoch)?,
        api => served(player, epoch, &cfg, &a.files, api, a.hold)?,
    };
    finish_feature_writer(writer, &replay)?;
    if replay.features_jsonl.as_deref() == Some("-") && summary_json.is_none() {
        // stdout carries the JSON lines: the readable summary goes to stderr.
        eprint!("{}", outcome.summary().to_text());
    } else {
        report::summary(&outcome.summary(), summary_json.as_deref())?;
    }
    Ok(usable(&outcome.engine, &a.files))
}

/// Success when the engine took in at least one frame; else exit code
/// [`super::exit::NOTHING_READ`] with a message (the summary above lists the errors).
fn usable(engine: &microstate_core::engine::Engine, files: &[PathBuf]) -> ExitCode {
    let taken = engine.stats.frames.saturating_sub(engine.stats.errors);
    if taken > 0 {
        return ExitCode::SUCCESS;
    }
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    eprintln!(
        "error: nothing usable was read from {} ({} frames offered, all refused)",
        microstate_core::limits::escape_controls(&names.join(", ")),
        engine.stats.frames
    );
    ExitCode::from(super::exit::NOTHING_READ)
}

/// A headless replay with the API (or `--hold`): the player on the blocking pool publishing
/// views and trades, the API on this thread's runtime; with `hold`, both stay up after the
/// end until Ctrl-C (or SIGTERM).
fn served(
    mut player: Player,
    epoch: std::time::Instant,
    cfg: &microstate::config::Config,
    files: &[PathBuf],
    api: Option<microstate_api::ApiOptions>,
    hold: bool,
) -> anyhow::Result<microstate_drive::replay::ReplayOutcome> {
    use microstate_drive::publish::Publisher;
    use microstate_drive::shutdown::Stop;
    let every = Duration::from_secs_f64(1.0 / f64::from(cfg.ui.fps.max(1)));
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let source = microstate_core::view::Source::Replay {
        files: names.join(", "),
    };
    super::setup::runtime()?.block_on(async move {
        let stop = Stop::new();
        stop.on_ctrl_c_or_terminate();
        let (publisher, server) = match api {
            Some(opts) => {
                let ch = super::serve::Channels::new(&opts);
                microstate_drive::replay::attach_event_tap(&mut player, ch.events.clone());
                let h = super::serve::start(opts, ch.watch, ch.events, stop.shutdown())?;
                (Publisher::new(ch.views, every, source), Some(h))
            }
            None => {
                let (tx, _) = tokio::sync::watch::channel(Default::default());
                (Publisher::new(tx, every, source), None)
            }
        };
        let shutdown = stop.shutdown();
        let played = tokio::task::spawn_blocking(move || {
            let mut publisher = publisher;
            let start = std::time::Instant::now();
            let r = microstate_drive::replay::play_published(
                &mut player,
                epoch,
                &mut publisher,
                &shutdown,
                hold,
            );
            (player, start.elapsed().as_secs_f64(), r)
        })
        .await;
        stop.stop();
        if let Some(h) = server {
            let _ = tokio::time::timeout(Duration::from_secs(3), h.join()).await;
        }
        let (player, elapsed_s, r) =
            played.map_err(|e| anyhow::anyhow!("the replay thread failed: {e}"))?;
        r?;
        if hold {
            eprintln!("replay held until Ctrl-C: done");
        }
        anyhow::Ok(microstate_drive::replay::outcome_of(player, elapsed_s))
    })
}

/// `--klines`: each file's minutes before the capture's first frame seed its symbol's context
/// history (said on stderr headless; the screen shows the source beside the context).
fn seed_klines(player: &mut Player, specs: &[String], tell: bool) -> anyhow::Result<()> {
    use anyhow::Context;
    for spec in specs {
        let (symbol, file) = match spec.split_once('=') {
            Some((s, f)) => (
                s.parse::<Symbol>()
                    .map_err(|e| anyhow::anyhow!("--klines {spec}: {e}"))?,
                f,
            ),
            None => (
                microstate_exchange::klines::symbol_from_name(spec).with_context(|| {
                    format!(
                        "--klines {spec}: cannot tell the symbol from the file name; write it \
                         as SYMBOL=FILE"
                    )
                })?,
                spec.as_str(),
            ),
        };
        let series = microstate_io::record::klines::read_klines(Path::new(file))
            .with_context(|| format!("--klines {spec}"))?;
        let Some(seed) = seed_from_klines(player, symbol, &series)
            .with_context(|| format!("seeding {symbol} from {file}"))?
        else {
            anyhow::bail!("--klines: the capture has no frame to seed before");
        };
        if seed.used == 0 {
            eprintln!(
                "warning: --klines {file}: no minute of it is over before the capture starts \
                 ({}); {symbol}'s context warms up",
                format_utc_ms(seed.first_frame_ms)
            );
            continue;
        }
        if tell {
            eprintln!(
                "{symbol}: context seeded with {} minutes from {file}, the last at {} \
                 ({} later rows not used: the capture starts at {}){}",
                seed.used,
                seed.last_minute_ms.map_or("-".into(), format_utc_ms),
                seed.after_start,
                format_utc_ms(seed.first_frame_ms),
                if seed.outcome.ready {
                    String::new()
                } else {
                    format!(
                        "; {} minutes held, not enough to be ready",
                        seed.outcome.history_minutes
                    )
                }
            );
        }
    }
    Ok(())
}
