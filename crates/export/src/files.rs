//! Where rows land on disk: hive partitions, part files written under a temporary name, and
//! the commit that gives them their final names only once every one of them is complete.
//!
//! Owns: the layout `OUT/<table>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/part-<n>.parquet`, the
//! writer settings (zstd, row groups, sorting metadata), the temporary names
//! (`.part-<n>.parquet.tmp` beside the final one: hidden from DuckDB, Polars and Spark, which
//! skip dot files), fsync before rename, and cleaning up after a failure. Must not touch: what
//! a row holds ([`crate::tables`]), when rows are due ([`crate::exporter`]).
//!
//! A part file is closed (and fsynced) when its partition's day ends or its time would go
//! backwards (so a file is always sorted by `ts_ns`); the renames all happen in
//! [`Staging::commit`] at the end, so an interrupted or failed export leaves no file under a
//! final name, and nothing at all after a failure it lives through.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::encode::{Encoder, PartId};
use crate::error::ExportError;
use crate::tables::{RowBuffer, Table};

/// How part files are written.
#[derive(Clone, Debug)]
pub struct WriteSettings {
    /// Rows per row group (a scan unit: large enough for fast scans, small enough to skip).
    pub row_group_rows: usize,
    /// Rows collected before they are handed to the Parquet writer as one batch.
    pub batch_rows: usize,
    /// zstd level (1–22; 1: the fastest, ~7 % larger files than 3 on the book).
    pub zstd_level: i32,
    /// Key-value metadata written into every file (schema versions, units).
    pub metadata: Vec<(String, String)>,
}

impl Default for WriteSettings {
    fn default() -> Self {
        WriteSettings {
            row_group_rows: 128 * 1024,
            batch_rows: 8192,
            zstd_level: 1,
            metadata: Vec::new(),
        }
    }
}

const DAY_NS: u64 = 86_400_000_000_000;

/// The UTC day of a time in ns since the epoch (days since 1970-01-01).
pub fn day_of(ts_ns: u64) -> i64 {
    (ts_ns / DAY_NS) as i64
}

/// `YYYY-MM-DD` of a day number.
pub fn date_label(day: i64) -> String {
    let (y, m, d) = microstate_core::calendar::civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A finished part file waiting for its final name.
#[derive(Debug)]
struct Staged {
    tmp: PathBuf,
    fin: PathBuf,
}

/// Every part file of one export: the ones finished (under temporary names), the folders this
/// export created, and the commit or the clean-up.
#[derive(Debug)]
pub struct Staging {
    out: PathBuf,
    overwrite: bool,
    settings: WriteSettings,
    staged: Vec<Staged>,
    /// Temporary files open or finished, removed unless committed.
    temps: BTreeSet<PathBuf>,
    /// Folders this export created, removed again (when empty) after a failure.
    created: Vec<PathBuf>,
    /// Part numbers taken per partition folder.
    parts: BTreeMap<PathBuf, u32>,
    /// The thread that encodes, compresses and writes the parts.
    encoder: Encoder,
    committed: bool,
}

/// What a commit did.
#[derive(Debug, Default, Clone)]
pub struct Committed {
    /// Final paths written, in order.
    pub files: Vec<PathBuf>,
    /// Part files of an earlier export removed from the partitions written (`--overwrite`).
    pub removed: Vec<PathBuf>,
}

impl Staging {
    /// Makes sure `out` exists and can be written to (a probe file is created and removed).
    pub fn new(
        out: &Path,
        overwrite: bool,
        settings: WriteSettings,
    ) -> Result<Staging, ExportError> {
        let mut s = Staging {
            out: out.to_path_buf(),
            overwrite,
            settings,
            staged: Vec::new(),
            temps: BTreeSet::new(),
            created: Vec::new(),
            parts: BTreeMap::new(),
            encoder: Encoder::start()?,
            committed: false,
        };
        s.mkdirs(out).map_err(|source| ExportError::CreateDir {
            path: out.to_path_buf(),
            source,
        })?;
        let probe = out.join(".microstate-export-probe");
        let r = File::create(&probe);
        let _ = std::fs::remove_file(&probe);
        if let Err(source) = r {
            s.cleanup();
            return Err(ExportError::NotWritable {
                path: out.to_path_buf(),
                source,
            });
        }
        Ok(s)
    }

    /// `create_dir_all`, remembering every folder it created.
    fn mkdirs(&mut self, dir: &Path) -> std::io::Result<()> {
        let mut missing = Vec::new();
        let mut d = Some(dir);
        while let Some(p) = d {
            if p.as_os_str().is_empty() || p.is_dir() {
                break;
            }
            missing.push(p.to_path_buf());
            d = p.parent();
        }
        for p in missing.into_iter().rev() {
            match std::fs::create_dir(&p) {
                Ok(()) => self.created.push(p),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && p.is_dir() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Opens the next part file of a partition under its temporary name.
    fn open(
        &mut self,
        table: Table,
        symbol: &str,
        day: i64,
        schema: arrow_schema::SchemaRef,
    ) -> Result<OpenPart, ExportError> {
        let dir = self
            .out
            .join(table.name())
            .join(format!("symbol={symbol}"))
            .join(format!("date={}", date_label(day)));
        self.mkdirs(&dir).map_err(|source| ExportError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        let n = self.parts.entry(dir.clone()).or_insert(0);
        let name = format!("part-{n}.parquet");
        *n += 1;
        let fin = dir.join(&name);
        if !self.overwrite && fin.exists() {
            return Err(ExportError::Exists { path: fin });
        }
        let tmp = dir.join(format!(".{name}.tmp"));
        let file = File::create(&tmp).map_err(|source| ExportError::Io {
            path: tmp.clone(),
            source,
        })?;
        self.temps.insert(tmp.clone());
        let props = self.properties(&schema)?;
        let id = self.encoder.open(tmp.clone(), file, schema, props)?;
        Ok(OpenPart {
            day,
            last_ts: 0,
            tmp,
            fin,
            id,
        })
    }

    /// Rows the encoding thread holds (queued, being encoded, in open row groups).
    pub fn held_rows(&self) -> usize {
        self.encoder.held_rows()
    }

    fn properties(&self, schema: &arrow_schema::Schema) -> Result<WriterProperties, ExportError> {
        let s = &self.settings;
        let level = ZstdLevel::try_new(s.zstd_level).map_err(|_| ExportError::Option {
            option: "zstd_level",
            value: s.zstd_level.to_string(),
            why: "zstd levels are 1 to 22",
        })?;
        // Dictionaries only for the text columns (a few distinct labels each). Numbers are
        // written plain: zstd finds a book row's repeats in the previous rows by itself, and
        // without the dictionary the files are smaller (spot capture, trades + book: 11.7 against
        // 14.9 bytes per input frame at zstd 1) and the encoding thread does ~20 % less work.
        let mut b = WriterProperties::builder().set_dictionary_enabled(false);
        for f in schema.fields() {
            if f.data_type() == &arrow_schema::DataType::Utf8 {
                b = b.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), true);
            }
        }
        Ok(b.set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(s.row_group_rows.max(1)))
            .set_statistics_enabled(EnabledStatistics::Chunk)
            // Every file is sorted by its first column, ts_ns (the partition rolls otherwise).
            .set_sorting_columns(Some(vec![SortingColumn {
                column_idx: 0,
                descending: false,
                nulls_first: false,
            }]))
            .set_key_value_metadata(Some(
                s.metadata
                    .iter()
                    .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                    .collect(),
            ))
            .build())
    }

    /// Closes a part (the encoding thread writes its last rows and footer and fsyncs it); it
    /// then waits for [`Self::commit`].
    fn close(&mut self, part: OpenPart) -> Result<(), ExportError> {
        let OpenPart { tmp, fin, id, .. } = part;
        self.encoder.close(id)?;
        self.staged.push(Staged { tmp, fin });
        Ok(())
    }

    /// Gives every finished part its final name (refusing, and removing them all, if one is
    /// taken and `overwrite` is off), then fsyncs the folders. With `overwrite`, part files
    /// of an earlier export left in a partition written now are removed, so a partition holds
    /// exactly this export's files.
    pub fn commit(mut self) -> Result<Committed, ExportError> {
        // Every part written, closed and fsynced first.
        self.encoder.finish()?;
        if !self.overwrite
            && let Some(s) = self.staged.iter().find(|s| s.fin.exists())
        {
            return Err(ExportError::Exists {
                path: s.fin.clone(),
            });
        }
        let mut done = Committed::default();
        let mut dirs = BTreeSet::new();
        for s in &self.staged {
            std::fs::rename(&s.tmp, &s.fin).map_err(|source| ExportError::Io {
                path: s.fin.clone(),
                source,
            })?;
            self.temps.remove(&s.tmp);
            done.files.push(s.fin.clone());
            if let Some(d) = s.fin.parent() {
                dirs.insert(d.to_path_buf());
            }
        }
        if self.overwrite {
            let written: BTreeSet<&PathBuf> = done.files.iter().collect();
            for d in &dirs {
                let Ok(rd) = std::fs::read_dir(d) else {
                    continue;
                };
                for e in rd.flatten() {
                    let p = e.path();
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    if name.starts_with("part-")
                        && name.ends_with(".parquet")
                        && !written.contains(&p)
                    {
                        std::fs::remove_file(&p).map_err(|source| ExportError::Io {
                            path: p.clone(),
                            source,
                        })?;
                        done.removed.push(p);
                    }
                }
            }
        }
        for d in &dirs {
            // A folder's fsync makes the renames durable; not every platform allows it.
            if let Ok(f) = File::open(d) {
                let _ = f.sync_all();
            }
        }
        self.committed = true;
        Ok(done)
    }

    /// Removes every temporary file and the folders this export created (when empty).
    pub fn cleanup(&mut self) {
        // The thread must be done with the files before they are removed.
        let _ = self.encoder.finish();
        for t in std::mem::take(&mut self.temps) {
            let _ = std::fs::remove_file(t);
        }
        for d in std::mem::take(&mut self.created).iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            self.cleanup();
        }
    }
}

/// One part file being written.
struct OpenPart {
    day: i64,
    last_ts: u64,
    tmp: PathBuf,
    fin: PathBuf,
    id: PartId,
}

/// The rows of one table for one symbol: the batch being collected and the part file it goes
/// to, rolled over at the day's end or when time would go backwards.
pub struct Sink<B: RowBuffer> {
    symbol: String,
    rows: B,
    part: Option<OpenPart>,
    /// Rows written, all parts.
    pub total: u64,
}

impl<B: RowBuffer> Sink<B> {
    pub fn new(symbol: &str, rows: B) -> Sink<B> {
        Sink {
            symbol: symbol.to_string(),
            rows,
            part: None,
            total: 0,
        }
    }

    /// The buffer the next row (at `ts_ns`) goes into: opens (or rolls to) its part first.
    pub fn rows_at(&mut self, st: &mut Staging, ts_ns: u64) -> Result<&mut B, ExportError> {
        self.rows_in(st, ts_ns, ts_ns)
    }

    /// Like [`Self::rows_at`], with the partition's day taken from `day_ts` (a row whose own
    /// time is not known yet, 0, goes to the day of the time around it).
    pub fn rows_in(
        &mut self,
        st: &mut Staging,
        ts_ns: u64,
        day_ts: u64,
    ) -> Result<&mut B, ExportError> {
        let day = day_of(day_ts);
        let roll = match &self.part {
            None => true,
            Some(p) => p.day != day || ts_ns < p.last_ts,
        };
        if roll {
            self.close(st)?;
            self.part = Some(st.open(B::TABLE, &self.symbol, day, self.rows.schema())?);
        }
        if self.rows.len() >= st.settings.batch_rows {
            self.write_batch(st)?;
        }
        if let Some(p) = self.part.as_mut() {
            p.last_ts = ts_ns;
        }
        self.total += 1;
        Ok(&mut self.rows)
    }

    /// Rows collected and not yet handed to the encoding thread.
    pub fn buffered(&self) -> usize {
        self.rows.len()
    }

    fn write_batch(&mut self, st: &mut Staging) -> Result<(), ExportError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let batch = self
            .rows
            .take_batch()
            .map_err(|source| ExportError::Arrow {
                table: B::TABLE.name(),
                source,
            })?;
        if let Some(p) = self.part.as_ref() {
            st.encoder.write(p.id, batch)?;
        }
        Ok(())
    }

    /// Writes what is buffered and closes the open part.
    pub fn close(&mut self, st: &mut Staging) -> Result<(), ExportError> {
        self.write_batch(st)?;
        if let Some(p) = self.part.take() {
            st.close(p)?;
        }
        self.rows = self.rows.fresh();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(date_label(0), "1970-01-01");
        // 2024-08-08T23:59:59.999Z and the next millisecond.
        assert_eq!(date_label(day_of(1_723_161_599_999_000_000)), "2024-08-08");
        assert_eq!(date_label(day_of(1_723_161_600_000_000_000)), "2024-08-09");
        assert_eq!(date_label(day_of(951_782_400_000_000_000)), "2000-02-29");
        assert_eq!(date_label(day_of(1_709_251_199_000_000_000)), "2024-02-29");
    }
}
