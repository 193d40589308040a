//! The five tables: their Arrow schemas and the column builders that collect one batch of rows.
//!
//! Owns: column names, types and order of `book`, `trades`, `features`, `signals` and
//! `events`, and how one engine state becomes one row ([`RowBuffer`] and its five buffers).
//! Must not touch: files and partitions ([`crate::files`]), when a row is due
//! ([`crate::exporter`]).
//!
//! Prices and quantities are `DECIMAL(18, 8)` (Parquet `INT64`), or `DECIMAL(38, 8)` (16-byte
//! fixed-length) with `[export] decimal_precision = 38`: the engine's exact mantissas (value ×
//! 10⁸) stored as they are, so every value is exact and every engine reads it as a decimal with
//! no scale to remember. A mantissa past 18 digits (10¹⁰ units or more) does not fit the narrow
//! type and is refused ([`Overflow`]), never truncated (README "Export to Parquet" says why 18).
//! Times are `INT64` nanoseconds since the epoch, UTC (`ts_ns` exchange event time, `recv_ns`
//! local receive time): Spark cannot read Parquet's nanosecond timestamp type without a legacy
//! flag, plain integers it reads everywhere.

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Decimal64Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int64Builder, StringBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};

use microstate_core::book::OrderBook;
use microstate_core::features::{FeatureVector, Schema as FeatureSchema};
use microstate_core::ml::context::HORIZONS_MIN;
use microstate_core::wire::Trade;

/// Scale of every price and quantity column (the engine's fixed point).
pub const DECIMAL_SCALE: i8 = 8;
/// The default precision of prices and quantities: `DECIMAL(18, 8)`, stored as Parquet `INT64`.
pub const DECIMAL_PRECISION: u8 = 18;
/// The wide precision: `DECIMAL(38, 8)`, a 16-byte fixed-length value (every `u64` fits).
pub const WIDE_DECIMAL_PRECISION: u8 = 38;
/// Largest mantissa `DECIMAL(18, 8)` holds: 9,999,999,999.99999999.
pub const MAX_MANTISSA_18: u64 = 999_999_999_999_999_999;

/// A price or quantity too large for the narrow decimal type: `column` (index in the table's
/// schema) held `mantissa` (value × 10⁸).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow {
    pub column: usize,
    pub mantissa: u64,
}

/// Price and quantity columns of one table, narrow (`DECIMAL(18, 8)`, `i64`) or wide
/// (`DECIMAL(38, 8)`, `i128`); one variant for all the table's columns, so a row's appends
/// run without a per-value branch on the type.
enum Decimals {
    Narrow(Vec<Decimal64Builder>),
    Wide(Vec<Decimal128Builder>),
}

fn decimal_type(precision: u8) -> DataType {
    if precision <= DECIMAL_PRECISION {
        DataType::Decimal64(precision, DECIMAL_SCALE)
    } else {
        DataType::Decimal128(precision, DECIMAL_SCALE)
    }
}

impl Decimals {
    fn new(precision: u8, columns: usize) -> Decimals {
        let t = decimal_type(precision);
        if precision <= DECIMAL_PRECISION {
            Decimals::Narrow(
                (0..columns)
                    .map(|_| Decimal64Builder::with_capacity(1024).with_data_type(t.clone()))
                    .collect(),
            )
        } else {
            Decimals::Wide(
                (0..columns)
                    .map(|_| Decimal128Builder::with_capacity(1024).with_data_type(t.clone()))
                    .collect(),
            )
        }
    }

    fn finish(&mut self) -> impl Iterator<Item = ArrayRef> + '_ {
        let (narrow, wide) = match self {
            Decimals::Narrow(v) => (Some(v), None),
            Decimals::Wide(v) => (None, Some(v)),
        };
        let narrow = narrow
            .into_iter()
            .flat_map(|v| v.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        let wide = wide
            .into_iter()
            .flat_map(|v| v.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        narrow.chain(wide)
    }
}

/// Appends `levels` (price, quantity) to `cols` from `first` on (price at even, quantity at odd
/// offsets) and nulls after them; the first mantissa too large for the narrow type, if any.
/// `base` is the schema index of `cols[0]`.
#[inline]
fn push_levels(
    d: &mut Decimals,
    base: usize,
    from: usize,
    to: usize,
    levels: impl Iterator<Item = microstate_core::wire::Level>,
) -> Option<Overflow> {
    let mut over = None;
    match d {
        Decimals::Narrow(all) => {
            let cols = &mut all[from..to];
            let mut k = 0;
            for l in levels.take(cols.len() / 2) {
                let (p, q) = (l.price.0, l.qty.0);
                if (p > MAX_MANTISSA_18 || q > MAX_MANTISSA_18) && over.is_none() {
                    let (column, mantissa) = if p > MAX_MANTISSA_18 { (0, p) } else { (1, q) };
                    over = Some(Overflow {
                        column: base + from + 2 * k + column,
                        mantissa,
                    });
                }
                cols[2 * k].append_value(p as i64);
                cols[2 * k + 1].append_value(q as i64);
                k += 1;
            }
            for c in &mut cols[2 * k..] {
                c.append_null();
            }
        }
        Decimals::Wide(all) => {
            let cols = &mut all[from..to];
            let mut k = 0;
            for l in levels.take(cols.len() / 2) {
                cols[2 * k].append_value(l.price.0 as i128);
                cols[2 * k + 1].append_value(l.qty.0 as i128);
                k += 1;
            }
            for c in &mut cols[2 * k..] {
                c.append_null();
            }
        }
    }
    over
}

/// One of the exported tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Book,
    Trades,
    Features,
    Signals,
    Events,
}

impl Table {
    pub const ALL: [Table; 5] = [
        Table::Book,
        Table::Trades,
        Table::Features,
        Table::Signals,
        Table::Events,
    ];

    /// The folder name under the output folder.
    pub fn name(self) -> &'static str {
        match self {
            Table::Book => "book",
            Table::Trades => "trades",
            Table::Features => "features",
            Table::Signals => "signals",
            Table::Events => "events",
        }
    }

    pub fn parse(s: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// Rows of one table collected column by column until they are handed to the file as a batch.
pub trait RowBuffer {
    const TABLE: Table;
    fn schema(&self) -> SchemaRef;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The rows collected so far as one batch; the buffer is empty afterwards.
    fn take_batch(&mut self) -> Result<RecordBatch, ArrowError>;
    /// An empty buffer with the same columns (for the next partition).
    fn fresh(&self) -> Self;
}

fn int(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Int64, nullable)
}

fn text(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn batch(schema: &SchemaRef, cols: Vec<ArrayRef>) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_new(schema.clone(), cols)
}

/// Nanoseconds as Parquet's signed INT64 (every time before 2262 fits).
#[inline]
fn ns(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `book`: `ts_ns`, `recv_ns`, `last_update_id`, then `bid_px_k`, `bid_qty_k` for k = 1..N, then
/// `ask_px_k`, `ask_qty_k`; null past the book's last level.
pub struct BookRows {
    depth: usize,
    precision: u8,
    schema: SchemaRef,
    ts: Int64Builder,
    recv: Int64Builder,
    id: Int64Builder,
    /// `4 × depth` columns in schema order.
    levels: Decimals,
}

impl BookRows {
    /// `depth` levels a side, prices and quantities `DECIMAL(precision, 8)`.
    pub fn new(depth: usize, precision: u8) -> BookRows {
        let mut fields = vec![
            int("ts_ns", false),
            int("recv_ns", false),
            int("last_update_id", false),
        ];
        for side in ["bid", "ask"] {
            for k in 1..=depth {
                let t = decimal_type(precision);
                fields.push(Field::new(format!("{side}_px_{k}"), t.clone(), true));
                fields.push(Field::new(format!("{side}_qty_{k}"), t, true));
            }
        }
        BookRows {
            depth,
            precision,
            schema: Arc::new(Schema::new(fields)),
            ts: Int64Builder::with_capacity(1024),
            recv: Int64Builder::with_capacity(1024),
            id: Int64Builder::with_capacity(1024),
            levels: Decimals::new(precision, 4 * depth),
        }
    }

    /// One row: the book's best `depth` levels a side. A price or quantity too large for
    /// `DECIMAL(18, 8)` is reported (the row is complete either way).
    pub fn push(&mut self, ts_ns: u64, recv_ns: u64, book: &OrderBook) -> Result<(), Overflow> {
        self.ts.append_value(ns(ts_ns));
        self.recv.append_value(ns(recv_ns));
        self.id.append_value(ns(book.last_update_id));
        let d = self.depth;
        let bids = push_levels(&mut self.levels, 3, 0, 2 * d, book.bids.top(d));
        let asks = push_levels(&mut self.levels, 3, 2 * d, 4 * d, book.asks.top(d));
        match bids.or(asks) {
            Some(o) => Err(o),
            None => Ok(()),
        }
    }
}

impl RowBuffer for BookRows {
    const TABLE: Table = Table::Book;
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn len(&self) -> usize {
        self.ts.len()
    }
    fn take_batch(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.ts.finish()),
            Arc::new(self.recv.finish()),
            Arc::new(self.id.finish()),
        ];
        cols.extend(self.levels.finish());
        batch(&self.schema, cols)
    }
    fn fresh(&self) -> Self {
        BookRows::new(self.depth, self.precision)
    }
}

/// `trades`: every trade the engine took in (duplicates from overlapping connections skipped).
pub struct TradeRows {
    precision: u8,
    schema: SchemaRef,
    ts: Int64Builder,
    recv: Int64Builder,
    trade_time: Int64Builder,
    id: Int64Builder,
    /// `price`, `qty`.
    decimals: Decimals,
    side: StringBuilder,
    kind: StringBuilder,
}

impl TradeRows {
    /// Prices and quantities `DECIMAL(precision, 8)`.
    pub fn new(precision: u8) -> TradeRows {
        TradeRows {
            precision,
            schema: Arc::new(Schema::new(vec![
                int("ts_ns", false),
                int("recv_ns", false),
                int("trade_time_ns", false),
                int("trade_id", false),
                Field::new("price", decimal_type(precision), false),
                Field::new("qty", decimal_type(precision), false),
                text("taker_side", false),
                text("kind", false),
            ])),
            ts: Int64Builder::new(),
            recv: Int64Builder::new(),
            trade_time: Int64Builder::new(),
            id: Int64Builder::new(),
            decimals: Decimals::new(precision, 2),
            side: StringBuilder::new(),
            kind: StringBuilder::new(),
        }
    }

    /// One trade; a price or quantity too large for `DECIMAL(18, 8)` is reported (the row is
    /// complete either way).
    pub fn push(&mut self, recv_ns: u64, t: &Trade) -> Result<(), Overflow> {
        self.ts
            .append_value(ns(t.event_time_ms.saturating_mul(1_000_000)));
        self.recv.append_value(ns(recv_ns));
        self.trade_time
            .append_value(ns(t.trade_time_ms.saturating_mul(1_000_000)));
        self.id.append_value(ns(t.id));
        let level = microstate_core::wire::Level {
            price: t.price,
            qty: t.qty,
        };
        let over = push_levels(&mut self.decimals, 4, 0, 2, std::iter::once(level));
        // `m`: the buyer was the maker, so the taker sold.
        self.side
            .append_value(if t.buyer_is_maker { "sell" } else { "buy" });
        self.kind.append_value(match t.kind {
            microstate_core::wire::TradeKind::Trade => "trade",
            microstate_core::wire::TradeKind::AggTrade => "aggTrade",
        });
        match over {
            Some(o) => Err(o),
            None => Ok(()),
        }
    }
}

impl RowBuffer for TradeRows {
    const TABLE: Table = Table::Trades;
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn len(&self) -> usize {
        self.ts.len()
    }
    fn take_batch(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.ts.finish()),
            Arc::new(self.recv.finish()),
            Arc::new(self.trade_time.finish()),
            Arc::new(self.id.finish()),
        ];
        cols.extend(self.decimals.finish());
        cols.push(Arc::new(self.side.finish()));
        cols.push(Arc::new(self.kind.finish()));
        batch(&self.schema, cols)
    }
    fn fresh(&self) -> Self {
        TradeRows::new(self.precision)
    }
}

/// A feature's column name: its `--features-jsonl` name with the dot as an underscore
/// (`imbalance.1` → `imbalance_1`, `ofi.10s` → `ofi_10s`): Spark reads a dot in a column name
/// as a nested field.
pub fn feature_column(name: &str) -> String {
    name.replace('.', "_")
}

/// `features`: `ts_ns` (the feature clock), `recv_ns`, `event`, `valid_book`, `valid_<window>`,
/// then every feature of the schema as a nullable DOUBLE (null where invalid).
pub struct FeatureRows {
    names: FeatureSchema,
    schema: SchemaRef,
    ts: Int64Builder,
    recv: Int64Builder,
    event: StringBuilder,
    valid_book: BooleanBuilder,
    valid_windows: Vec<BooleanBuilder>,
    values: Vec<Float64Builder>,
}

impl FeatureRows {
    pub fn new(names: &FeatureSchema) -> FeatureRows {
        let mut fields = vec![
            int("ts_ns", false),
            int("recv_ns", false),
            text("event", false),
            Field::new("valid_book", DataType::Boolean, false),
        ];
        for w in &names.windows {
            fields.push(Field::new(format!("valid_{w}"), DataType::Boolean, false));
        }
        for f in &names.features {
            fields.push(Field::new(feature_column(&f.name), DataType::Float64, true));
        }
        FeatureRows {
            schema: Arc::new(Schema::new(fields)),
            ts: Int64Builder::new(),
            recv: Int64Builder::new(),
            event: StringBuilder::new(),
            valid_book: BooleanBuilder::new(),
            valid_windows: names
                .windows
                .iter()
                .map(|_| BooleanBuilder::new())
                .collect(),
            values: names
                .features
                .iter()
                .map(|_| Float64Builder::with_capacity(1024))
                .collect(),
            names: names.clone(),
        }
    }

    pub fn push(&mut self, recv_ns: u64, v: &FeatureVector) {
        self.ts.append_value(ns(v.ts_ns()));
        self.recv.append_value(ns(recv_ns));
        self.event.append_value(v.event().as_str());
        self.valid_book.append_value(v.book_valid());
        for (i, b) in self.valid_windows.iter_mut().enumerate() {
            b.append_value(v.window_valid(i));
        }
        for (i, b) in self.values.iter_mut().enumerate() {
            // Invalid features are null, and so is a non-finite value (as in the JSON lines).
            b.append_option(v.get(i).filter(|x| x.is_finite()));
        }
    }
}

impl RowBuffer for FeatureRows {
    const TABLE: Table = Table::Features;
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn len(&self) -> usize {
        self.ts.len()
    }
    fn take_batch(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.ts.finish()),
            Arc::new(self.recv.finish()),
            Arc::new(self.event.finish()),
            Arc::new(self.valid_book.finish()),
        ];
        cols.extend(
            self.valid_windows
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        cols.extend(
            self.values
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        batch(&self.schema, cols)
    }
    fn fresh(&self) -> Self {
        FeatureRows::new(&self.names)
    }
}

/// What the models said at one moment, per symbol: one `signals` row when any of it changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignalRow {
    /// Pressure probabilities DOWN, FLAT, UP (None while the model has no output).
    pub probs: Option<[f32; 3]>,
    /// Whether the screen shows the pressure direction (inputs in range, live edge).
    pub shown: bool,
    /// Why the direction is held back or missing.
    pub pressure_note: Option<String>,
    /// Best baseline's Brier − the model's over the recent resolved predictions.
    pub edge: Option<f64>,
    pub best_baseline: Option<&'static str>,
    /// `warming_up` / `ready` (None without a context model).
    pub context_state: Option<&'static str>,
    /// The trend the interpretation reads (BULLISH / NEUTRAL / BEARISH).
    pub context_trend: Option<&'static str>,
    /// Per horizon of [`HORIZONS_MIN`]: the trend and the forecast range.
    pub horizons: [HorizonCells; HORIZONS_MIN.len()],
    pub interpretation: Option<String>,
    pub tone: Option<&'static str>,
}

/// One context horizon's cells of a [`SignalRow`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HorizonCells {
    pub trend: Option<&'static str>,
    pub z: Option<f64>,
    pub move_bps: Option<f64>,
    pub drift_bps: Option<f64>,
    pub range_68_bps: Option<[f64; 2]>,
    pub range_95_bps: Option<[f64; 2]>,
}

/// `signals`: pressure probabilities, whether they are shown and why not, the live edge, the
/// context trend and forecast ranges per horizon, the interpretation label.
pub struct SignalRows {
    schema: SchemaRef,
    ts: Int64Builder,
    recv: Int64Builder,
    probs: [Float32Builder; 3],
    shown: BooleanBuilder,
    note: StringBuilder,
    edge: Float64Builder,
    best: StringBuilder,
    state: StringBuilder,
    trend: StringBuilder,
    /// Per horizon: trend label, then z, move, drift, 68 % lo/hi, 95 % lo/hi.
    h_label: Vec<StringBuilder>,
    h_num: Vec<[Float64Builder; 7]>,
    interp: StringBuilder,
    tone: StringBuilder,
}

impl Default for SignalRows {
    fn default() -> Self {
        let f64n = |n: String| Field::new(n, DataType::Float64, true);
        let mut fields = vec![
            int("ts_ns", false),
            int("recv_ns", false),
            Field::new("p_down", DataType::Float32, true),
            Field::new("p_flat", DataType::Float32, true),
            Field::new("p_up", DataType::Float32, true),
            Field::new("pressure_shown", DataType::Boolean, false),
            text("pressure_note", true),
            f64n("edge".into()),
            text("best_baseline", true),
            text("context_state", true),
            text("context_trend", true),
        ];
        for h in HORIZONS_MIN {
            fields.push(text(&format!("trend_{h}m"), true));
            for c in [
                "z",
                "move_bps",
                "drift_bps",
                "range68_lo_bps",
                "range68_hi_bps",
                "range95_lo_bps",
                "range95_hi_bps",
            ] {
                fields.push(f64n(format!("ctx_{h}m_{c}")));
            }
        }
        fields.push(text("interpretation", true));
        fields.push(text("tone", true));
        SignalRows {
            schema: Arc::new(Schema::new(fields)),
            ts: Int64Builder::new(),
            recv: Int64Builder::new(),
            probs: std::array::from_fn(|_| Float32Builder::new()),
            shown: BooleanBuilder::new(),
            note: StringBuilder::new(),
            edge: Float64Builder::new(),
            best: StringBuilder::new(),
            state: StringBuilder::new(),
            trend: StringBuilder::new(),
            h_label: HORIZONS_MIN.iter().map(|_| StringBuilder::new()).collect(),
            h_num: HORIZONS_MIN
                .iter()
                .map(|_| std::array::from_fn(|_| Float64Builder::new()))
                .collect(),
            interp: StringBuilder::new(),
            tone: StringBuilder::new(),
        }
    }
}

fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

impl SignalRows {
    pub fn push(&mut self, ts_ns: u64, recv_ns: u64, r: &SignalRow) {
        self.ts.append_value(ns(ts_ns));
        self.recv.append_value(ns(recv_ns));
        for (i, b) in self.probs.iter_mut().enumerate() {
            b.append_option(r.probs.map(|p| p[i]));
        }
        self.shown.append_value(r.shown);
        self.note.append_option(r.pressure_note.as_deref());
        self.edge.append_option(finite(r.edge));
        self.best.append_option(r.best_baseline);
        self.state.append_option(r.context_state);
        self.trend.append_option(r.context_trend);
        for (h, c) in r.horizons.iter().enumerate() {
            self.h_label[h].append_option(c.trend);
            let v = [
                c.z,
                c.move_bps,
                c.drift_bps,
                c.range_68_bps.map(|r| r[0]),
                c.range_68_bps.map(|r| r[1]),
                c.range_95_bps.map(|r| r[0]),
                c.range_95_bps.map(|r| r[1]),
            ];
            for (b, x) in self.h_num[h].iter_mut().zip(v) {
                b.append_option(finite(x));
            }
        }
        self.interp.append_option(r.interpretation.as_deref());
        self.tone.append_option(r.tone);
    }
}

impl RowBuffer for SignalRows {
    const TABLE: Table = Table::Signals;
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn len(&self) -> usize {
        self.ts.len()
    }
    fn take_batch(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut cols: Vec<ArrayRef> =
            vec![Arc::new(self.ts.finish()), Arc::new(self.recv.finish())];
        cols.extend(
            self.probs
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        cols.push(Arc::new(self.shown.finish()));
        cols.push(Arc::new(self.note.finish()));
        cols.push(Arc::new(self.edge.finish()));
        cols.push(Arc::new(self.best.finish()));
        cols.push(Arc::new(self.state.finish()));
        cols.push(Arc::new(self.trend.finish()));
        for (l, nums) in self.h_label.iter_mut().zip(self.h_num.iter_mut()) {
            cols.push(Arc::new(l.finish()));
            cols.extend(nums.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        }
        cols.push(Arc::new(self.interp.finish()));
        cols.push(Arc::new(self.tone.finish()));
        batch(&self.schema, cols)
    }
    fn fresh(&self) -> Self {
        SignalRows::default()
    }
}

/// What an `events` row is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The book first became synced.
    Synced,
    /// A break in the update-id chain (`expected_id`, `got_id`): the book is unreliable until
    /// the next `resync`.
    Gap,
    /// The book is synced again after a gap.
    Resync,
    /// The recorded session reset the book (its connection was lost): a reconnect; the book is
    /// unreliable until the next `synced`/`resync`.
    Reset,
    /// No depth update for longer than `stale_after` (event time): `duration_ns` is the
    /// silence, which ended at `ts_ns` (the depth update that broke it).
    Stale,
    /// The book was crossed after a diff.
    Crossed,
    /// Diffs waiting for a snapshot were shed (buffer full).
    BufferOverflow,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Synced => "synced",
            EventKind::Gap => "gap",
            EventKind::Resync => "resync",
            EventKind::Reset => "reset",
            EventKind::Stale => "stale",
            EventKind::Crossed => "crossed",
            EventKind::BufferOverflow => "buffer_overflow",
        }
    }
}

/// One `events` row.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub ts_ns: u64,
    pub recv_ns: u64,
    pub kind: EventKind,
    pub expected_id: Option<u64>,
    pub got_id: Option<u64>,
    pub duration_ns: Option<u64>,
    pub detail: String,
}

/// `events`: gaps, resyncs, resets (reconnects), stale periods, crossed books.
pub struct EventRows {
    schema: SchemaRef,
    ts: Int64Builder,
    recv: Int64Builder,
    kind: StringBuilder,
    expected: Int64Builder,
    got: Int64Builder,
    duration: Int64Builder,
    detail: StringBuilder,
}

impl Default for EventRows {
    fn default() -> Self {
        EventRows {
            schema: Arc::new(Schema::new(vec![
                int("ts_ns", false),
                int("recv_ns", false),
                text("kind", false),
                int("expected_id", true),
                int("got_id", true),
                int("duration_ns", true),
                text("detail", false),
            ])),
            ts: Int64Builder::new(),
            recv: Int64Builder::new(),
            kind: StringBuilder::new(),
            expected: Int64Builder::new(),
            got: Int64Builder::new(),
            duration: Int64Builder::new(),
            detail: StringBuilder::new(),
        }
    }
}

impl EventRows {
    pub fn push(&mut self, e: &EventRow) {
        self.ts.append_value(ns(e.ts_ns));
        self.recv.append_value(ns(e.recv_ns));
        self.kind.append_value(e.kind.as_str());
        self.expected.append_option(e.expected_id.map(ns));
        self.got.append_option(e.got_id.map(ns));
        self.duration.append_option(e.duration_ns.map(ns));
        self.detail.append_value(&e.detail);
    }
}

impl RowBuffer for EventRows {
    const TABLE: Table = Table::Events;
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn len(&self) -> usize {
        self.ts.len()
    }
    fn take_batch(&mut self) -> Result<RecordBatch, ArrowError> {
        batch(
            &self.schema,
            vec![
                Arc::new(self.ts.finish()),
                Arc::new(self.recv.finish()),
                Arc::new(self.kind.finish()),
                Arc::new(self.expected.finish()),
                Arc::new(self.got.finish()),
                Arc::new(self.duration.finish()),
                Arc::new(self.detail.finish()),
            ],
        )
    }
    fn fresh(&self) -> Self {
        EventRows::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_columns_are_unique_and_dot_free() {
        let s = FeatureSchema::new(&Default::default());
        let cols: std::collections::BTreeSet<String> =
            s.features.iter().map(|f| feature_column(&f.name)).collect();
        assert_eq!(cols.len(), s.features.len(), "two features share a column");
        assert!(cols.iter().all(|c| !c.contains('.')));
        assert!(cols.contains("imbalance_1") && cols.contains("ofi_10s"));
    }

    #[test]
    fn book_rows_are_null_past_the_last_level() {
        use arrow_array::Array;
        use microstate_core::num::{Price, Qty};
        use microstate_core::wire::Level;
        let mut book = OrderBook::new();
        let l = |p: u64, q: u64| Level {
            price: Price(p),
            qty: Qty(q),
        };
        book.load(&[l(100, 1), l(99, 2)], &[l(101, 3)], 7);
        let mut rows = BookRows::new(3, DECIMAL_PRECISION);
        rows.push(5, 6, &book).expect("fits");
        let b = rows.take_batch().expect("batch");
        assert_eq!(b.num_columns(), 3 + 12);
        assert_eq!(b.schema().field(3).name(), "bid_px_1");
        assert_eq!(b.schema().field(10).name(), "ask_qty_1");
        let dec = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<arrow_array::Decimal64Array>()
                .expect("decimal")
                .clone()
        };
        assert_eq!(dec(3).value(0), 100);
        assert_eq!(dec(6).value(0), 2);
        assert!(dec(7).is_null(0), "no third bid");
        assert_eq!(dec(9).value(0), 101);
        assert!(dec(11).is_null(0), "no second ask");
        assert_eq!(rows.len(), 0, "taking the batch empties the buffer");
    }

    #[test]
    fn a_quantity_past_18_digits_is_refused_narrow_and_kept_wide() {
        use arrow_array::Array;
        use microstate_core::num::{Price, Qty};
        use microstate_core::wire::Level;
        let mut book = OrderBook::new();
        let l = |p: u64, q: u64| Level {
            price: Price(p),
            qty: Qty(q),
        };
        // 12,000,000,000 units: a level of a coin priced at 10⁻⁵ holding 120,000 USDT.
        let big = 12_000_000_000 * 100_000_000;
        book.load(&[l(100, 1)], &[l(101, MAX_MANTISSA_18), l(102, big)], 7);
        let mut narrow = BookRows::new(2, DECIMAL_PRECISION);
        let o = narrow.push(5, 6, &book).expect_err("too wide");
        assert_eq!(o.mantissa, big);
        assert_eq!(narrow.schema().field(o.column).name(), "ask_qty_2");
        let mut wide = BookRows::new(2, WIDE_DECIMAL_PRECISION);
        wide.push(5, 6, &book).expect("fits 38 digits");
        let b = wide.take_batch().expect("batch");
        let c = b
            .column_by_name("ask_qty_2")
            .expect("column")
            .as_any()
            .downcast_ref::<arrow_array::Decimal128Array>()
            .expect("decimal128")
            .clone();
        assert_eq!(c.value(0), big as i128);
        assert_eq!(c.precision(), 38);
    }
}
