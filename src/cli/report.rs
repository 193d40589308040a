//! Everything the binary prints as a result: the run summary (JSON or text), the recording's
//! account, and the train/eval reports.
//!
//! Owns: where results go (stdout, a file, stderr) and the few lines around the tables. Must
//! not touch: the tables and the summary text themselves (the train crate renders its tables,
//! the core renders the summary: [`Summary::to_text`]).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use microstate_core::summary::Summary;
use microstate_drive::recording::RecordingEnd;
use microstate_io::record::writer::RecorderStats;
use microstate_train::context::{self as context_train, ContextEvalReport, ContextTrained};
use microstate_train::pressure::{self as pt, TrainedPressure};
use microstate_train::pressure_eval::{self as pe, LiveEvalReport};

/// Writes `value` as one JSON line to stdout (`-`), or pretty to a file.
pub fn json_out(value: &impl serde::Serialize, dest: &str) -> anyhow::Result<()> {
    if dest == "-" {
        let mut o = std::io::stdout().lock();
        serde_json::to_writer(&mut o, value)?;
        writeln!(o)?;
    } else {
        std::fs::write(dest, serde_json::to_string_pretty(value)? + "\n")
            .with_context(|| format!("writing {dest}"))?;
    }
    Ok(())
}

/// Writes the summary as JSON to a path or stdout, or as text to stdout.
pub fn summary(s: &Summary, json: Option<&str>) -> anyhow::Result<()> {
    match json {
        Some(dest) => json_out(s, dest)?,
        // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
        None => {
            let _ = std::io::stdout().lock().write_all(s.to_text().as_bytes());
        }
    }
    Ok(())
}

/// The account of a session's recordings (stderr): a warning for each started on the screen
/// that ended badly, then what the one started with the session holds. A panicked writer of
/// that one is an error.
pub fn recordings(ends: &[RecordingEnd]) -> anyhow::Result<()> {
    for e in ends.iter().filter(|e| e.from_command) {
        match &e.result {
            Some(Err(err)) => eprintln!("warning: the recording ended with an error: {err}"),
            None => eprintln!("warning: the recording thread panicked"),
            Some(Ok(())) => {}
        }
    }
    for e in ends.iter().filter(|e| !e.from_command) {
        let Some(result) = &e.result else {
            anyhow::bail!("the recording thread panicked");
        };
        recording(&e.stats, result);
    }
    Ok(())
}

/// Whether any recording of the session lost data: records dropped (disk behind) or lost to
/// write failures, a writer that failed or panicked. `record` then exits non-zero.
pub fn recordings_lost_data(ends: &[RecordingEnd]) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    ends.iter().any(|e| {
        !matches!(e.result, Some(Ok(())))
            || e.stats.dropped.load(Relaxed) > 0
            || e.stats.lost.load(Relaxed) > 0
            || e.stats.failures.load(Relaxed) > 0
    })
}

/// A recording's account when it ends (stderr): what it holds and whether writing failed.
fn recording(stats: &RecorderStats, ended: &std::io::Result<()>) {
    use std::sync::atomic::Ordering::Relaxed;
    let files = stats.files();
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    eprintln!(
        "recorded {} records in {} chunks, {} bytes on disk, to {} ({} dropped: disk behind; {} lost to write failures)",
        stats.written.load(Relaxed),
        stats.chunks.load(Relaxed),
        stats.file_bytes.load(Relaxed),
        names.join(", "),
        stats.dropped.load(Relaxed),
        stats.lost.load(Relaxed),
    );
    if let Err(e) = ended {
        eprintln!(
            "error: writing the recording failed: {e} ({} failures; every chunk written before stays readable)",
            stats.failures.load(Relaxed)
        );
    } else if let Some(e) = stats.last_error() {
        eprintln!(
            "warning: the recording had {} write failure(s), last: {e}; it went on in a new part",
            stats.failures.load(Relaxed)
        );
    }
}

/// `{key: report}`: the evaluation JSON's one member, named after the model.
struct Keyed<'a, T>(&'static str, &'a T);

impl<T: serde::Serialize> serde::Serialize for Keyed<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, self.1)?;
        m.end()
    }
}

/// `eval --context-data`: JSON under `context`, or the train crate's text (heading, the
/// in-sample warning, the tables).
pub fn eval_context(report: &ContextEvalReport, json: Option<&str>) -> anyhow::Result<()> {
    match json {
        Some(dest) => json_out(&Keyed("context", report), dest)?,
        None => {
            let _ = std::io::stdout()
                .lock()
                .write_all(context_train::render_eval(report).as_bytes());
        }
    }
    Ok(())
}

/// `eval --data`: JSON under `pressure`, or the train crate's text.
pub fn eval_pressure(report: &LiveEvalReport, json: Option<&str>) -> anyhow::Result<()> {
    match json {
        Some(dest) => json_out(&Keyed("pressure", report), dest)?,
        None => {
            let _ = std::io::stdout()
                .lock()
                .write_all(pe::render_live_eval(report).as_bytes());
        }
    }
    Ok(())
}

/// `train pressure`: the result, the held-out evaluation and the walk-forward folds.
pub fn trained_pressure(
    out: &Path,
    seconds: f64,
    t: &TrainedPressure,
    loco: Option<&[pe::LocoRow]>,
) {
    println!(
        "trained {} in {:.1} s: best epoch {} of {} (validation loss {:.4}), temperature {:.3}\n",
        out.display(),
        seconds,
        t.report.best_epoch,
        t.report.epochs_run,
        t.report.best_val_loss,
        t.meta.temperature.unwrap_or(1.0)
    );
    println!("{}", pt::render_eval(&t.eval));
    println!("{}", pt::render_folds(&t.folds));
    if let Some(rows) = loco {
        println!("{}", pe::render_loco(rows));
    }
}

/// `train context`: the result, the periods, the held-out test and the walk-forward folds.
pub fn trained_context(out: &Path, seconds: f64, t: &ContextTrained) {
    let d = &t.meta.details;
    let get = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
    println!(
        "trained {} in {:.1} s: best epoch {} of {} (validation loss {:.4})",
        out.display(),
        seconds,
        t.report.best_epoch,
        t.report.epochs_run,
        t.report.best_val_loss
    );
    println!(
        "train {}\nvalidation {}\ntest (held out) {}\n",
        get("train_period"),
        get("validation_period"),
        get("test_period")
    );
    println!("{}\n", context_train::render_direction(&t.direction));
    println!(
        "held-out test:\n{}",
        context_train::render_horizons(&t.test)
    );
    for f in &t.folds {
        println!(
            "walk-forward fold {}: train {}, test {}\n{}",
            f.fold,
            f.train,
            f.test,
            context_train::render_horizons(&f.horizons)
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::sync::atomic::Ordering::Relaxed;

    use super::*;

    fn end(result: Option<std::io::Result<()>>, stats: RecorderStats) -> RecordingEnd {
        RecordingEnd {
            path: PathBuf::from("x.msrec"),
            stats: Arc::new(stats),
            result,
            from_command: false,
        }
    }

    /// Issue 19 item 9: `record` exited 0 after "writing the recording failed". Every way a
    /// recording loses data makes the session's exit code non-zero.
    #[test]
    fn a_recording_that_lost_data_is_seen() {
        assert!(!recordings_lost_data(&[]));
        assert!(!recordings_lost_data(&[end(
            Some(Ok(())),
            RecorderStats::default()
        )]));
        let counted = |f: fn(&RecorderStats) -> &std::sync::atomic::AtomicU64| {
            let s = RecorderStats::default();
            f(&s).store(1, Relaxed);
            recordings_lost_data(&[end(Some(Ok(())), s)])
        };
        assert!(counted(|s| &s.dropped), "records dropped (disk behind)");
        assert!(counted(|s| &s.lost), "records lost to write failures");
        assert!(counted(|s| &s.failures), "a write failure");
        let disk_full = std::io::Error::other("No space left on device");
        assert!(recordings_lost_data(&[end(
            Some(Err(disk_full)),
            RecorderStats::default()
        )]));
        assert!(
            recordings_lost_data(&[end(None, RecorderStats::default())]),
            "panicked"
        );
    }
}
