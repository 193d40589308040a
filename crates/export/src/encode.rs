//! The encoding thread: Arrow batches become Parquet (encodings, statistics, zstd) and bytes
//! on disk on a second thread while the engine runs on the first.
//!
//! Owns: the thread, its bounded queue (at most [`QUEUE_BATCHES`] batches waiting: memory
//! stays bounded when the disk or the encoder is slower than the engine), the open
//! `ArrowWriter` of every part file being written, the fsync when a part closes, the count of
//! rows held in memory, and the first error. Must not touch: file names, partitions and the
//! commit ([`crate::files`]), what a row holds ([`crate::tables`]).
//!
//! Each part's batches are written in the order they were sent, by one writer, so a part's
//! bytes do not depend on the thread's timing (re-exports stay byte-identical).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::error::ExportError;

/// Batches that may wait for the encoding thread (beyond the one it is encoding).
pub const QUEUE_BATCHES: usize = 4;

/// A part file the thread writes.
pub type PartId = u64;

enum Job {
    Open {
        id: PartId,
        path: PathBuf,
        file: File,
        schema: SchemaRef,
        props: Box<WriterProperties>,
    },
    Batch {
        id: PartId,
        batch: RecordBatch,
    },
    Close {
        id: PartId,
    },
}

/// Rows held by the thread: queued or being encoded, and in the open row groups.
#[derive(Debug, Default)]
struct Held {
    queued: AtomicUsize,
    row_groups: AtomicUsize,
}

/// The handle of the encoding thread; see the module docs.
#[derive(Debug)]
pub struct Encoder {
    tx: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<Result<(), ExportError>>>,
    next: PartId,
    held: Arc<Held>,
}

impl Encoder {
    pub fn start() -> Result<Encoder, ExportError> {
        let (tx, rx) = sync_channel(QUEUE_BATCHES);
        let held = Arc::new(Held::default());
        let h = held.clone();
        let thread = std::thread::Builder::new()
            .name("export-encode".into())
            .spawn(move || run(rx, &h))
            .map_err(ExportError::Thread)?;
        Ok(Encoder {
            tx: Some(tx),
            thread: Some(thread),
            next: 0,
            held,
        })
    }

    /// Starts a part: the thread writes it to `file` (created at `path`).
    pub fn open(
        &mut self,
        path: PathBuf,
        file: File,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> Result<PartId, ExportError> {
        let id = self.next;
        self.next += 1;
        self.send(Job::Open {
            id,
            path,
            file,
            schema,
            props: Box::new(props),
        })?;
        Ok(id)
    }

    /// Queues a batch of a part (waits while [`QUEUE_BATCHES`] are queued).
    pub fn write(&mut self, id: PartId, batch: RecordBatch) -> Result<(), ExportError> {
        let n = batch.num_rows();
        self.held.queued.fetch_add(n, Ordering::Relaxed);
        self.send(Job::Batch { id, batch })
    }

    /// Ends a part: the rest of its rows, the footer, fsync (done when [`Self::finish`] returns).
    pub fn close(&mut self, id: PartId) -> Result<(), ExportError> {
        self.send(Job::Close { id })
    }

    /// Rows in memory on the thread's side: queued, being encoded, in open row groups.
    pub fn held_rows(&self) -> usize {
        self.held.queued.load(Ordering::Relaxed) + self.held.row_groups.load(Ordering::Relaxed)
    }

    /// Waits until everything sent is written and closed; the thread's first error.
    pub fn finish(&mut self) -> Result<(), ExportError> {
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(ExportError::EncoderStopped),
        }
    }

    fn send(&mut self, job: Job) -> Result<(), ExportError> {
        let sent = match &self.tx {
            Some(tx) => tx.send(job).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The thread stopped at an error: that error (it cannot have ended otherwise).
        self.finish()?;
        Err(ExportError::EncoderStopped)
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The thread: every job in order until the queue closes or a write fails.
fn run(rx: Receiver<Job>, held: &Held) -> Result<(), ExportError> {
    // Per open part: its path (for errors), writer and rows in its open row group.
    let mut open: BTreeMap<PartId, (PathBuf, ArrowWriter<File>, usize)> = BTreeMap::new();
    let parquet = |path: &PathBuf| {
        let path = path.clone();
        move |source| ExportError::Parquet { path, source }
    };
    for job in rx {
        match job {
            Job::Open {
                id,
                path,
                file,
                schema,
                props,
            } => {
                let w = ArrowWriter::try_new(file, schema, Some(*props)).map_err(parquet(&path))?;
                open.insert(id, (path, w, 0));
            }
            Job::Batch { id, batch } => {
                let n = batch.num_rows();
                if let Some((path, w, rows)) = open.get_mut(&id) {
                    w.write(&batch).map_err(parquet(path))?;
                    let now = w.in_progress_rows();
                    held.row_groups.fetch_add(now, Ordering::Relaxed);
                    held.row_groups.fetch_sub(*rows, Ordering::Relaxed);
                    *rows = now;
                }
                held.queued.fetch_sub(n, Ordering::Relaxed);
            }
            Job::Close { id } => {
                if let Some((path, w, rows)) = open.remove(&id) {
                    let file = w.into_inner().map_err(parquet(&path))?;
                    held.row_groups.fetch_sub(rows, Ordering::Relaxed);
                    file.sync_all()
                        .map_err(|source| ExportError::Io { path, source })?;
                }
            }
        }
    }
    Ok(())
}
