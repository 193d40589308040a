//! Drivers that touch files: headless replay of captures through the engine, and the feature
//! vectors written as JSON lines.
//!
//! Owns: the loop that moves frames from readers into the engine, error bookkeeping with
//! file:line, the `--features-jsonl` file. Must not touch: market logic (the engine's), the
//! summary's and the feature record's shapes.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::engine::{Engine, EngineConfig};
use crate::features::json::FeatureRecord;
use crate::features::{FeatureParams, Schema};
use crate::market::Market;
use crate::record::{self, FrameSource, Merge, Merged};
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
    replay_sources_with(sources, opts, &mut |_| {})
}

/// [`replay_sources`], calling `after` with the engine after every frame.
pub fn replay_sources_with(
    sources: Vec<Box<dyn FrameSource + Send>>,
    opts: &ReplayOptions,
    after: &mut dyn FnMut(&Engine),
) -> Result<ReplayOutcome, StrictStop> {
    let mut engine = Engine::new(EngineConfig {
        market: opts.market,
        features: opts.features,
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
            Merged::Frame { frame, file } => {
                if let Err(e) = engine.on_frame(frame.raw()) {
                    note(format!("{file}:{}: {e}", frame.line))?;
                }
            }
            Merged::Error(e) => note(e.to_string())?,
        }
        after(&engine);
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
    let Some(path) = &opts.features_jsonl else {
        return Ok(replay_sources(sources, opts)?);
    };
    let params = opts
        .features
        .context("--features-jsonl needs the features enabled")?;
    let mut w = FeatureWriter::create(path, &params, opts.features_every)
        .with_context(|| format!("creating {path}"))?;
    let outcome = replay_sources_with(sources, opts, &mut |e| w.after_frame(e))?;
    w.finish()
        .with_context(|| format!("writing feature vectors to {path}"))?;
    Ok(outcome)
}

/// Writes each symbol's new feature vector as one JSON line (shape: `features::json`).
pub struct FeatureWriter {
    out: std::io::BufWriter<Box<dyn Write>>,
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
        let out: Box<dyn Write> = if path == "-" {
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
