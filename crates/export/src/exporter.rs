//! The exporter: looks at the engine after every frame and turns what changed into rows.
//!
//! Owns: when a row is due (a book change, a trade, a feature update, a change of the models'
//! outputs, a sync event; or the first at or after each `every` of event time), the per-symbol
//! memory of what was already exported, and the report. Must not touch: the engine (it only
//! reads it), files ([`crate::files`]), column layouts ([`crate::tables`]).
//!
//! Driven like the `--features-jsonl` writer: the replay player calls [`Exporter::after_frame`]
//! after each frame it feeds, so the export sees exactly the states a replay goes through.

use std::path::PathBuf;

use microstate_core::book::sync::{Phase, SyncCounters};
use microstate_core::engine::{Engine, SymbolState};
use microstate_core::features::{FEATURE_SCHEMA_VERSION, FeatureParams, Schema as FeatureSchema};
use microstate_core::ml::context::{ContextOutput, HORIZONS_MIN};

use crate::error::ExportError;
use crate::files::{Committed, Sink, Staging, WriteSettings};
use crate::tables::{
    BookRows, DECIMAL_PRECISION, EventKind, EventRow, EventRows, FeatureRows, Overflow, RowBuffer,
    SignalRow, SignalRows, Table, TradeRows, WIDE_DECIMAL_PRECISION,
};

/// Version of the exported tables' layout (in every file's metadata).
pub const EXPORT_SCHEMA_VERSION: u32 = 1;

/// What to export and how.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    pub out: PathBuf,
    /// Tables to write (any order; each at most once).
    pub tables: Vec<Table>,
    /// Levels per side in `book`.
    pub depth: usize,
    /// `book`, `features`, `signals`: the first row at or after each multiple of this much
    /// event time (ns) per symbol, instead of one per change.
    pub every_ns: Option<u64>,
    /// Replace part files of an earlier export instead of refusing.
    pub overwrite: bool,
    /// No depth update for longer than this (event time, ns) is a `stale` event.
    pub stale_after_ns: u64,
    /// The feature parameters of the engine (their names are the `features` columns).
    pub features: Option<FeatureParams>,
    /// Precision of prices and quantities: 18 (`DECIMAL(18, 8)`, Parquet `INT64`) or 38
    /// (`DECIMAL(38, 8)`, 16-byte fixed-length, for quantities of 10¹⁰ units or more).
    pub decimal_precision: u8,
    pub write: WriteSettings,
}

/// Most levels a side `--depth` takes.
pub const MAX_DEPTH: usize = 1000;

impl ExportOptions {
    pub fn new(out: PathBuf) -> ExportOptions {
        ExportOptions {
            out,
            tables: Table::ALL.to_vec(),
            depth: 20,
            every_ns: None,
            overwrite: false,
            stale_after_ns: 5_000_000_000,
            features: Some(FeatureParams::default()),
            decimal_precision: DECIMAL_PRECISION,
            write: WriteSettings::default(),
        }
    }

    pub fn wants(&self, t: Table) -> bool {
        self.tables.contains(&t)
    }
}

/// What an export wrote.
#[derive(Clone, Debug, Default)]
pub struct ExportReport {
    /// Rows per table (tables asked for), in [`Table::ALL`] order.
    pub rows: Vec<(Table, u64)>,
    pub files: Vec<PathBuf>,
    /// Part files of an earlier export replaced (`--overwrite`).
    pub removed: Vec<PathBuf>,
    pub symbols: Vec<String>,
}

impl ExportReport {
    pub fn rows_of(&self, t: Table) -> Option<u64> {
        self.rows.iter().find(|(x, _)| *x == t).map(|(_, n)| *n)
    }
}

/// Per symbol: the table sinks and what was exported last.
struct SymbolOut {
    name: String,
    book: Option<Sink<BookRows>>,
    trades: Option<Sink<TradeRows>>,
    features: Option<Sink<FeatureRows>>,
    signals: Option<Sink<SignalRows>>,
    events: Option<Sink<EventRows>>,
    seen_trades: u64,
    book_id: Option<u64>,
    counters: SyncCounters,
    phase: Phase,
    feature_updates: u64,
    signal_updates: u64,
    last_signal: Option<SignalRow>,
    /// Latest exchange event time seen (ns): the time of rows a frame without one produces.
    last_ts: u64,
    /// WebSocket frames and bookTickers of the symbol seen so far (to tell a depth frame).
    frames: u64,
    book_tickers: u64,
    /// Event time of the last depth frame: the time of the book it produced.
    last_depth_ts: Option<u64>,
    due_book: u64,
    due_features: u64,
    due_signals: u64,
}

/// Turns the engine's states into rows of the asked tables; see the module docs.
pub struct Exporter {
    opts: ExportOptions,
    staging: Staging,
    feature_names: Option<FeatureSchema>,
    symbols: Vec<SymbolOut>,
    /// The first error; later frames are ignored and [`Self::finish`] returns it.
    error: Option<ExportError>,
}

impl Exporter {
    /// Checks the options and that the output folder can be written to.
    pub fn create(opts: ExportOptions) -> Result<Exporter, ExportError> {
        if opts.depth == 0 || opts.depth > MAX_DEPTH {
            return Err(ExportError::Option {
                option: "--depth",
                value: opts.depth.to_string(),
                why: "levels per side must be 1 to 1000",
            });
        }
        if ![DECIMAL_PRECISION, WIDE_DECIMAL_PRECISION].contains(&opts.decimal_precision) {
            return Err(ExportError::Option {
                option: "decimal_precision",
                value: opts.decimal_precision.to_string(),
                why: "prices and quantities are DECIMAL(18,8) or DECIMAL(38,8)",
            });
        }
        if opts.every_ns == Some(0) {
            return Err(ExportError::Option {
                option: "--every",
                value: "0".into(),
                why: "a sampling period must be longer than zero",
            });
        }
        if (opts.wants(Table::Features) || opts.wants(Table::Signals)) && opts.features.is_none() {
            return Err(ExportError::Option {
                option: "features",
                value: "off".into(),
                why: "the features and signals tables need the features enabled",
            });
        }
        let feature_names = opts.features.as_ref().map(FeatureSchema::new);
        let mut write = opts.write.clone();
        write.metadata.extend([
            (
                "microstate.export_schema_version".to_string(),
                EXPORT_SCHEMA_VERSION.to_string(),
            ),
            (
                "microstate.features_schema_version".to_string(),
                FEATURE_SCHEMA_VERSION.to_string(),
            ),
            (
                "microstate.units".to_string(),
                "ts_ns/recv_ns/*_ns: INT64 ns since 1970-01-01 UTC (ts_ns exchange event time, \
                 recv_ns local receive time); prices and quantities exact decimals with 8 \
                 decimal places"
                    .to_string(),
            ),
        ]);
        if let Some(every) = opts.every_ns {
            write
                .metadata
                .push(("microstate.every_ns".to_string(), every.to_string()));
        }
        let staging = Staging::new(&opts.out, opts.overwrite, write)?;
        Ok(Exporter {
            opts,
            staging,
            feature_names,
            symbols: Vec::new(),
            error: None,
        })
    }

    /// Looks at every symbol after a frame and writes the rows that are due.
    pub fn after_frame(&mut self, engine: &Engine) {
        if self.error.is_some() {
            return;
        }
        let touched = engine.touched().map(|s| s.symbol);
        let event_ms = engine.last_times().event_ms;
        for (i, st) in engine.symbols().iter().enumerate() {
            if self.symbols.len() <= i {
                self.symbols.push(self.symbol_out(st));
            }
            let ts = if Some(st.symbol) == touched {
                event_ms.map(|ms| ms.saturating_mul(1_000_000))
            } else {
                None
            };
            if let Err(e) = self.on_symbol(i, st, ts) {
                self.error = Some(e);
                return;
            }
        }
    }

    fn symbol_out(&self, st: &SymbolState) -> SymbolOut {
        let name = st.symbol.as_str().to_string();
        let o = &self.opts;
        SymbolOut {
            book: o
                .wants(Table::Book)
                .then(|| Sink::new(&name, BookRows::new(o.depth, o.decimal_precision))),
            trades: o
                .wants(Table::Trades)
                .then(|| Sink::new(&name, TradeRows::new(o.decimal_precision))),
            features: self
                .feature_names
                .as_ref()
                .filter(|_| o.wants(Table::Features))
                .map(|n| Sink::new(&name, FeatureRows::new(n))),
            signals: o
                .wants(Table::Signals)
                .then(|| Sink::new(&name, SignalRows::default())),
            events: o
                .wants(Table::Events)
                .then(|| Sink::new(&name, EventRows::default())),
            name,
            seen_trades: 0,
            book_id: None,
            counters: SyncCounters::default(),
            phase: Phase::Syncing,
            feature_updates: 0,
            signal_updates: 0,
            last_signal: None,
            last_ts: 0,
            frames: 0,
            book_tickers: 0,
            last_depth_ts: None,
            due_book: 0,
            due_features: 0,
            due_signals: 0,
        }
    }

    fn on_symbol(
        &mut self,
        i: usize,
        st: &SymbolState,
        ts: Option<u64>,
    ) -> Result<(), ExportError> {
        let every = self.opts.every_ns;
        let stale_after = self.opts.stale_after_ns;
        let staging = &mut self.staging;
        let s = &mut self.symbols[i];
        if let Some(t) = ts {
            s.last_ts = s.last_ts.max(t);
        }
        let recv = st.last_recv.0;
        // Before the first exchange time of a symbol, rows are stamped with the receive time.
        let now = if s.last_ts > 0 { s.last_ts } else { recv };

        // A diff-depth frame of this symbol: a new WebSocket frame, neither a trade nor a
        // bookTicker, received when the symbol's last depth frame was.
        let depth_frame = ts.is_some()
            && st.frames != s.frames
            && st.trades == s.seen_trades
            && st.book_tickers == s.book_tickers
            && st.last_depth_recv == st.last_recv;
        s.frames = st.frames;
        s.book_tickers = st.book_tickers;
        if st.trades != s.seen_trades {
            s.seen_trades = st.trades;
            if let (Some(sink), Some(t)) = (s.trades.as_mut(), st.last_trade.as_ref()) {
                let t_ns = t.event_time_ms.saturating_mul(1_000_000);
                let rows = sink.rows_at(staging, t_ns)?;
                if let Err(o) = rows.push(recv, t) {
                    return Err(too_wide(Table::Trades, &s.name, &rows.schema(), o));
                }
            }
        }

        let sync = &st.sync;
        let c = *sync.counters();
        let phase = sync.phase();
        if c != s.counters || phase != s.phase {
            let mut events = Vec::new();
            let ev = |kind, detail: String| EventRow {
                ts_ns: now,
                recv_ns: recv,
                kind,
                expected_id: None,
                got_id: None,
                duration_ns: None,
                detail,
            };
            if c.gaps > s.counters.gaps {
                let g = sync.last_gap();
                events.push(EventRow {
                    expected_id: g.map(|g| g.expected),
                    got_id: g.map(|g| g.got),
                    ..ev(
                        EventKind::Gap,
                        g.map_or("sequence gap".into(), |g| {
                            format!("expected {} got {}", g.expected, g.got)
                        }),
                    )
                });
            }
            if s.phase == Phase::Synced && phase != Phase::Synced && c.gaps == s.counters.gaps {
                events.push(ev(
                    EventKind::Reset,
                    "the recorded session reset the book (connection lost)".into(),
                ));
            }
            if c.resyncs > s.counters.resyncs {
                events.push(ev(EventKind::Resync, "synced again after a gap".into()));
            } else if phase == Phase::Synced && s.phase != Phase::Synced {
                events.push(ev(EventKind::Synced, "book synced".into()));
            }
            if c.crossed_events > s.counters.crossed_events {
                events.push(ev(EventKind::Crossed, "best bid >= best ask".into()));
            }
            if c.buffer_overflow > s.counters.buffer_overflow {
                events.push(ev(
                    EventKind::BufferOverflow,
                    format!(
                        "{} buffered diffs shed",
                        c.buffer_overflow - s.counters.buffer_overflow
                    ),
                ));
            }
            s.counters = c;
            s.phase = phase;
            if let Some(sink) = s.events.as_mut() {
                for e in &events {
                    sink.rows_at(staging, e.ts_ns)?.push(e);
                }
            }
        }

        if depth_frame {
            if let (Some(prev), Some(t)) = (s.last_depth_ts, ts)
                && t.saturating_sub(prev) > stale_after
                && let Some(sink) = s.events.as_mut()
            {
                // Stamped when the silence ended, like every event (a running maximum of
                // event time, so the events of a file stay sorted); it began `duration_ns` before.
                let e = EventRow {
                    ts_ns: now,
                    recv_ns: recv,
                    kind: EventKind::Stale,
                    expected_id: None,
                    got_id: None,
                    duration_ns: Some(t - prev),
                    detail: format!("no depth update for {:.3} s", (t - prev) as f64 / 1e9),
                };
                sink.rows_at(staging, e.ts_ns)?.push(&e);
            }
            s.last_depth_ts = ts;
        }

        if let Some(sink) = s.book.as_mut() {
            let book = st.book();
            if sync.is_synced() && s.book_id != Some(book.last_update_id) {
                s.book_id = Some(book.last_update_id);
                // The book's time is the event time of the diff that made it (a snapshot
                // bridged by buffered diffs: the last of them).
                let t = s.last_depth_ts.unwrap_or(now);
                if due(&mut s.due_book, t, every) {
                    let rows = sink.rows_at(staging, t)?;
                    if let Err(o) = rows.push(t, recv, book) {
                        return Err(too_wide(Table::Book, &s.name, &rows.schema(), o));
                    }
                }
            }
        }

        if let Some(f) = st.features() {
            let updated = f.updates() != s.feature_updates;
            s.feature_updates = f.updates();
            if updated && let Some(sink) = s.features.as_mut() {
                let v = f.vector();
                // Before the symbol's first exchange time a vector has no place on the
                // event-time axis: not written (as `--features-jsonl` does not write it).
                if v.ts_ns() != 0 && due(&mut s.due_features, v.ts_ns(), every) {
                    sink.rows_in(staging, v.ts_ns(), v.ts_ns())?.push(recv, v);
                }
            }
            if updated
                && f.updates() != s.signal_updates
                && let (Some(sink), Some(sig)) = (s.signals.as_mut(), st.signals.as_deref())
            {
                s.signal_updates = f.updates();
                let row = signal_row(sig);
                if s.last_signal.as_ref() != Some(&row) {
                    let t = f.vector().ts_ns();
                    if due(&mut s.due_signals, t, every) {
                        let day_ts = if t == 0 { now } else { t };
                        sink.rows_in(staging, t, day_ts)?.push(t, recv, &row);
                        s.last_signal = Some(row);
                    }
                }
            }
        }
        Ok(())
    }

    /// Rows held in memory now: collected in the tables' batches, queued for or being encoded
    /// by the encoding thread, and in the open row groups. Bounded whatever the input's size:
    /// at most `batch_rows` per table and symbol, [`crate::encode::QUEUE_BATCHES`] + 1 batches,
    /// and `row_group_rows` per open part file.
    pub fn buffered_rows(&self) -> usize {
        let collected: usize = self
            .symbols
            .iter()
            .map(|s| {
                s.book.as_ref().map_or(0, Sink::buffered)
                    + s.trades.as_ref().map_or(0, Sink::buffered)
                    + s.features.as_ref().map_or(0, Sink::buffered)
                    + s.signals.as_ref().map_or(0, Sink::buffered)
                    + s.events.as_ref().map_or(0, Sink::buffered)
            })
            .sum();
        collected + self.staging.held_rows()
    }

    /// Closes every part and gives the files their final names; on any error nothing is left.
    pub fn finish(mut self) -> Result<ExportReport, ExportError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut rows: Vec<(Table, u64)> = Table::ALL
            .into_iter()
            .filter(|t| self.opts.wants(*t))
            .map(|t| (t, 0))
            .collect();
        let mut add = |t: Table, n: u64| {
            if let Some(r) = rows.iter_mut().find(|(x, _)| *x == t) {
                r.1 += n;
            }
        };
        let staging = &mut self.staging;
        for s in &mut self.symbols {
            if let Some(k) = s.book.as_mut() {
                k.close(staging)?;
                add(Table::Book, k.total);
            }
            if let Some(k) = s.trades.as_mut() {
                k.close(staging)?;
                add(Table::Trades, k.total);
            }
            if let Some(k) = s.features.as_mut() {
                k.close(staging)?;
                add(Table::Features, k.total);
            }
            if let Some(k) = s.signals.as_mut() {
                k.close(staging)?;
                add(Table::Signals, k.total);
            }
            if let Some(k) = s.events.as_mut() {
                k.close(staging)?;
                add(Table::Events, k.total);
            }
        }
        let symbols = self.symbols.iter().map(|s| s.name.clone()).collect();
        let Committed { files, removed } = self.staging.commit()?;
        Ok(ExportReport {
            rows,
            files,
            removed,
            symbols,
        })
    }
}

/// The error for a price or quantity too large for `DECIMAL(18, 8)`.
fn too_wide(
    table: Table,
    symbol: &str,
    schema: &arrow_schema::SchemaRef,
    o: Overflow,
) -> ExportError {
    ExportError::DecimalOverflow {
        table: table.name(),
        symbol: symbol.to_string(),
        column: schema
            .fields()
            .get(o.column)
            .map_or_else(|| o.column.to_string(), |f| f.name().clone()),
        value: format!(
            "{}.{:08}",
            o.mantissa / 100_000_000,
            o.mantissa % 100_000_000
        ),
    }
}

/// With sampling (`every`), whether a row at `t` is due (and moves the next due time to the
/// next multiple); without, always.
fn due(next: &mut u64, t: u64, every: Option<u64>) -> bool {
    let Some(every) = every else { return true };
    if t < *next {
        return false;
    }
    *next = (t / every + 1).saturating_mul(every);
    true
}

fn tone_name(t: microstate_core::ml::interpret::Tone) -> &'static str {
    use microstate_core::ml::interpret::Tone;
    match t {
        Tone::StrongBullish => "strong_bullish",
        Tone::Bullish => "bullish",
        Tone::Neutral => "neutral",
        Tone::Bearish => "bearish",
        Tone::StrongBearish => "strong_bearish",
        Tone::Caution => "caution",
        Tone::Unreliable => "unreliable",
    }
}

fn signal_row(sig: &microstate_core::ml::signals::Signals) -> SignalRow {
    let edge = sig.pressure_edge();
    let mut row = SignalRow {
        probs: sig.pressure.as_ref().map(|p| p.probs),
        shown: sig.pressure_shown(),
        pressure_note: sig
            .pressure_quiet()
            .or_else(|| sig.pressure_missing())
            .map(str::to_string),
        edge: edge.as_ref().map(|e| e.edge),
        best_baseline: edge.as_ref().map(|e| e.best_baseline),
        context_state: sig.context.as_ref().map(ContextOutput::state),
        interpretation: sig.interpretation.as_ref().map(|i| i.label.clone()),
        tone: sig.interpretation.as_ref().map(|i| tone_name(i.tone)),
        ..SignalRow::default()
    };
    if let Some(ContextOutput::Ready { trend, forecasts }) = &sig.context {
        let head = trend.get(sig.context_label_index()).or(trend.first());
        row.context_trend = head.map(|t| t.label.as_str());
        for (h, cells) in row.horizons.iter_mut().enumerate() {
            let minutes = HORIZONS_MIN[h] as u32;
            if let Some(t) = trend.iter().find(|t| t.horizon_min == minutes) {
                cells.trend = Some(t.label.as_str());
                cells.z = Some(t.z);
                cells.move_bps = Some(t.move_bps);
            }
            if let Some(f) = forecasts.iter().find(|f| f.horizon_min == minutes) {
                cells.drift_bps = Some(f.drift * 1e4);
                cells.range_68_bps = Some([f.range_68[0] * 1e4, f.range_68[1] * 1e4]);
                cells.range_95_bps = Some([f.range_95[0] * 1e4, f.range_95[1] * 1e4]);
            }
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_takes_the_first_row_at_or_after_each_multiple() {
        let mut next = 0;
        let every = Some(100);
        let taken: Vec<u64> = [5, 50, 100, 150, 199, 201, 450]
            .into_iter()
            .filter(|t| due(&mut next, *t, every))
            .collect();
        assert_eq!(taken, [5, 100, 201, 450]);
        let mut next = 0;
        assert!(due(&mut next, 1, None) && due(&mut next, 1, None));
    }
}
