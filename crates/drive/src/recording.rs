//! Recordings a live driver makes: where a new one goes, the writer thread it owns while it
//! runs, and what is left when it ends.
//!
//! Owns: starting a recording (file name from the header's market, symbols and start time) and
//! joining its writer thread. Must not touch: the file format and the writer itself
//! ([`microstate_io::record`]), what is recorded (the live driver's journal).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use microstate_io::record::format::Header;
use microstate_io::record::writer::{self, RecordOptions, Recorder, RecorderStats};

/// Where and how a recording is written.
#[derive(Clone, Debug)]
pub struct RecordSetup {
    /// The folder new recordings go to.
    pub dir: PathBuf,
    /// Header template (its time is set when a recording starts).
    pub header: Header,
    pub options: RecordOptions,
}

impl RecordSetup {
    /// Starts a recording now, in `dir`, named after the header's market and symbols and the
    /// time.
    pub fn start(&self) -> Result<Recording, RecordError> {
        let now = microstate_io::ingest::now_nanos().0;
        let mut header = self.header.clone();
        header.created_wall_ns = now;
        let path = self
            .dir
            .join(writer::file_name(&header.market, &header.symbols, now));
        Recording::start(&path, &header, self.options)
            .map_err(|source| RecordError { path, source })
    }
}

/// A recording that could not be started.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct RecordError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// A recording being written: the handle records go to and the writer thread behind it.
#[derive(Debug)]
pub struct Recording {
    recorder: Recorder,
    thread: JoinHandle<std::io::Result<()>>,
    /// Started by a command (the screen's key) rather than with the session.
    pub(crate) from_command: bool,
}

impl Recording {
    /// Starts the writer thread on a new file at `path`.
    pub fn start(path: &Path, header: &Header, options: RecordOptions) -> std::io::Result<Self> {
        let (recorder, thread) = writer::start(path, header, options)?;
        Ok(Recording {
            recorder,
            thread,
            from_command: false,
        })
    }

    /// The first file (rotation adds parts beside it).
    pub fn path(&self) -> &Path {
        &self.recorder.path
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Closes the recording: the writer writes what is queued and ends; this waits for it.
    /// Every other [`Recorder`] clone must be gone first, or this waits for ever.
    pub fn finish(self) -> RecordingEnd {
        let stats = self.recorder.stats.clone();
        let path = self.recorder.path.clone();
        drop(self.recorder);
        RecordingEnd {
            path,
            stats,
            result: self.thread.join().ok(),
            from_command: self.from_command,
        }
    }
}

/// A finished recording.
#[derive(Debug)]
pub struct RecordingEnd {
    /// The first file.
    pub path: PathBuf,
    /// What was written, dropped and lost, and every part's file.
    pub stats: Arc<RecorderStats>,
    /// How the writer ended (`Err`: its last part failed); `None`: its thread panicked.
    pub result: Option<std::io::Result<()>>,
    /// Started by a command during the session (not with it).
    pub from_command: bool,
}
