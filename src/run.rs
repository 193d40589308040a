//! Drivers that touch files: headless replay of captures through the engine.
//!
//! Owns: the loop that moves frames from readers into the engine, and error bookkeeping with
//! file:line. Must not touch: market logic (the engine's), the summary's shape.

use std::path::PathBuf;
use std::time::Instant;

use crate::engine::{Engine, EngineConfig};
use crate::market::Market;
use crate::record::{self, FrameKind, FrameSource, Merge, Merged};
use crate::summary::{RunInfo, Summary};

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
        });
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
    let mut engine = Engine::new(EngineConfig {
        market: opts.market,
        ..EngineConfig::default()
    });
    let mut merge = Merge::new(sources);
    let mut errors_total = 0u64;
    let mut errors = Vec::new();
    let start = Instant::now();
    let mut note = |msg: String| -> Result<(), StrictStop> {
        errors_total += 1;
        if opts.strict {
            return Err(StrictStop(msg));
        }
        if errors.len() < opts.errors_listed {
            tracing::warn!("{msg}");
            errors.push(msg);
        }
        Ok(())
    };
    while let Some(item) = merge.next_frame() {
        match item {
            Merged::Frame { frame, .. } if frame.kind == FrameKind::Reset => {
                if let Some(s) = frame.symbol_hint {
                    engine.reset_symbol(s);
                }
            }
            Merged::Frame { frame, file } => {
                if let Err(e) = engine.on_frame(frame.raw()) {
                    note(format!("{file}:{}: {e}", frame.line))?;
                }
            }
            Merged::Error(e) => note(e.to_string())?,
        }
    }
    Ok(ReplayOutcome {
        engine,
        errors_total,
        errors,
        elapsed_s: start.elapsed().as_secs_f64(),
    })
}

/// Opens files or folders (formats detected) and replays them.
pub fn replay_paths(paths: &[PathBuf], opts: &ReplayOptions) -> anyhow::Result<ReplayOutcome> {
    use anyhow::Context;
    let sources = record::open_captures(paths).context("opening the capture")?;
    if sources.is_empty() {
        anyhow::bail!("no capture files found in {paths:?}");
    }
    Ok(replay_sources(sources, opts)?)
}
