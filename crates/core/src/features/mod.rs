//! Incremental microstructure features: each book update, trade and bookTicker turns into one
//! feature vector, in O(1) amortized per event.
//!
//! Owns: one symbol's [`FeatureState`] (event clock, gap state, windows, the last vector) and
//! the [`schema`]. Must not touch: the book (it is read, never changed), I/O, wall clocks, the
//! screen. The engine drives it from its callbacks; replay, live, tests and benches see the
//! same numbers.
//!
//! # Time
//! Time is exchange event time `E` in ns (ms × 10⁶), never a local clock. The feature clock of a
//! symbol is the largest `E` among the events it took in: an event with a smaller `E` (streams
//! interleave) is stamped with the clock, not moved back, and counted in [`FeatureState::late`].
//! Spot bookTickers carry no `E`: they take the clock as it is. Diffs buffered before a snapshot
//! and replayed when it bridges are stamped when they are applied, i.e. at the clock then.
//!
//! # Windows and ties
//! A window of length `w` at time `t` is `(t − w, t]`: events with equal timestamps are all in,
//! an event exactly `w` old is out. A vector is emitted after every event, so after the first of
//! two events tied at `t` the window holds only the first (no look-ahead by arrival order); the
//! vector after the second holds both. No feature ever reads an event after the current one.
//!
//! # Validity (gaps)
//! The symbol starts inside a "hole" and enters one again at a sequence gap or a reset (lost
//! connection). The first diff applied after the next snapshot ends the hole: that time is
//! `valid_from`. Then:
//! - book features (level 1, depth, imbalance, `ofi.last`, …) are valid while not in a hole and
//!   defined (both sides present; `ofi.last` needs a previous update since the resync);
//! - a window feature is valid when its window lies wholly after the hole: `t − w ≥ valid_from`
//!   (so after a gap the 1 s features come back 1 s after the resync, the 60 s ones after 60 s),
//!   and its value is defined (e.g. `vwap` needs a trade in the window);
//! - `ewma_vol` restarts at each resync and is valid one half-life after it; `mid_age` and
//!   `trade_vs_mid` are valid once a mid change / a trade has been seen since the resync.
//!
//! An invalid feature has no value ([`FeatureVector::get`] returns `None`; JSON writes null).
//!
//! # Exactness
//! Prices and quantities are integer mantissas, so every windowed sum is an exact integer
//! (i128/u128): OFI, depths, volumes, notionals, inter-trade times and their squares, and even
//! squared log-returns, which are quantized to units of 2⁻¹⁰⁰ per update before summing (exact
//! for every return above ~10⁻⁷, i.e. any real tick). Add-on-enter, subtract-on-leave of exact
//! integers cannot drift, so no periodic recompute is needed (the float running sums the issue
//! feared are not used); the only float state is the EWMA, a sum of positive decayed terms whose
//! relative error stays at a few ulps. Floats appear only when a feature is read out.
//!
//! # Cost
//! A trade or bookTicker touches the sums of its stream and the windows that moved. A diff reads
//! the top levels (max of the depths and the OFI levels) once per side, and the depth within
//! the ±bps band through the book's per-block sums ([`crate::book::Side::qty_within`]).

pub mod json;
pub mod schema;
mod window;

use crate::book::OrderBook;
use crate::num::Price;
use crate::wire::{BookTicker, DepthUpdate, Level, Trade};
pub use schema::{FEATURE_SCHEMA_VERSION, N_DEPTHS, N_FEATURES, N_WINDOWS, Schema, idx};
use window::{Sums, Timed, Windows};

/// Largest depth N a configuration may ask for.
pub const MAX_DEPTH_LEVELS: usize = 50;
/// Largest number of levels in the multi-level OFI.
pub const MAX_OFI_LEVELS: usize = 20;

/// Tunables of the feature engine (from the `[features]` config section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureParams {
    /// Window lengths in ns, strictly ascending.
    pub windows_ns: [u64; N_WINDOWS],
    /// Top-N depths, strictly ascending, at most [`MAX_DEPTH_LEVELS`].
    pub depth_levels: [usize; N_DEPTHS],
    /// Levels 1..k of the multi-level OFI, at most [`MAX_OFI_LEVELS`].
    pub ofi_levels: usize,
    /// Half-width of the depth band around mid, in bps (1..=1000).
    pub band_bps: u32,
    /// Half-life of the EWMA volatility, ns.
    pub ewma_half_life_ns: u64,
}

impl Default for FeatureParams {
    fn default() -> Self {
        FeatureParams {
            windows_ns: [1_000_000_000, 10_000_000_000, 60_000_000_000],
            depth_levels: [5, 10, 20],
            ofi_levels: 10,
            band_bps: 10,
            ewma_half_life_ns: 10_000_000_000,
        }
    }
}

impl FeatureParams {
    /// Checks the ranges; the message names the parameter.
    pub fn validate(&self) -> Result<(), String> {
        let w = &self.windows_ns;
        if w[0] < 1_000_000 || !w.windows(2).all(|p| p[0] < p[1]) {
            return Err(format!(
                "windows must be at least 1ms and strictly ascending, got {:?}",
                w.map(schema::window_label)
            ));
        }
        if w[N_WINDOWS - 1] > 24 * 3_600_000_000_000 {
            return Err("windows must be at most 24h".into());
        }
        if !w.iter().all(|&x| x.is_multiple_of(1_000_000)) {
            return Err("windows must be whole milliseconds".into());
        }
        let d = &self.depth_levels;
        if d[0] == 0 || d[N_DEPTHS - 1] > MAX_DEPTH_LEVELS || !d.windows(2).all(|p| p[0] < p[1]) {
            return Err(format!(
                "depth_levels must be strictly ascending within 1..={MAX_DEPTH_LEVELS}, got {d:?}"
            ));
        }
        if !(1..=MAX_OFI_LEVELS).contains(&self.ofi_levels) {
            return Err(format!(
                "ofi_levels must be 1..={MAX_OFI_LEVELS}, got {}",
                self.ofi_levels
            ));
        }
        if !(1..=1000).contains(&self.band_bps) {
            return Err(format!(
                "depth_band_bps must be 1..=1000, got {}",
                self.band_bps
            ));
        }
        if self.ewma_half_life_ns < 1_000_000 {
            return Err("ewma_half_life must be at least 1ms".into());
        }
        Ok(())
    }

    /// Levels read per side on each book update.
    fn walk(&self) -> usize {
        self.depth_levels[N_DEPTHS - 1].max(self.ofi_levels)
    }
}

/// The event that produced a vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EventKind {
    #[default]
    None,
    Depth,
    Trade,
    Ticker,
    /// A gap or reset: the symbol entered a hole.
    Gap,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::None => "none",
            EventKind::Depth => "depth",
            EventKind::Trade => "trade",
            EventKind::Ticker => "ticker",
            EventKind::Gap => "gap",
        }
    }
}

/// One feature vector: values in schema order, and which of them are valid.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureVector {
    ts_ns: u64,
    event: EventKind,
    values: [f64; N_FEATURES],
    valid: u128,
    book_valid: bool,
    window_valid: [bool; N_WINDOWS],
}

impl Default for FeatureVector {
    fn default() -> Self {
        FeatureVector {
            ts_ns: 0,
            event: EventKind::None,
            values: [0.0; N_FEATURES],
            valid: 0,
            book_valid: false,
            window_valid: [false; N_WINDOWS],
        }
    }
}

impl FeatureVector {
    /// Event time of the vector (the feature clock), ns.
    pub fn ts_ns(&self) -> u64 {
        self.ts_ns
    }
    /// The event that produced it.
    pub fn event(&self) -> EventKind {
        self.event
    }
    /// Feature `i` (see [`idx`]), `None` when invalid.
    #[inline]
    pub fn get(&self, i: usize) -> Option<f64> {
        self.is_valid(i).then(|| self.values[i])
    }
    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        i < N_FEATURES && self.valid >> i & 1 == 1
    }
    /// Bit `i` set when feature `i` is valid.
    pub fn valid_mask(&self) -> u128 {
        self.valid
    }
    /// Not in a hole (the book is synced and continuous since the last resync).
    pub fn book_valid(&self) -> bool {
        self.book_valid
    }
    /// Window `i` lies wholly after the last resync.
    pub fn window_valid(&self, i: usize) -> bool {
        self.window_valid.get(i).copied().unwrap_or(false)
    }
    /// Every feature, `None` where invalid.
    pub fn iter(&self) -> impl Iterator<Item = Option<f64>> + '_ {
        (0..N_FEATURES).map(|i| self.get(i))
    }
}

/// What the features took in, recorded raw for tests that recompute everything independently
/// (only with the test-only cargo feature `tap`, and then only when asked for: see
/// `EngineConfig::feature_tap`).
#[doc(hidden)]
#[derive(Clone, Debug, PartialEq)]
pub enum TapEvent {
    /// A snapshot loaded into the book (the diffs that bridge it follow).
    Snapshot {
        bids: Vec<Level>,
        asks: Vec<Level>,
    },
    /// A diff applied to the book.
    Diff {
        event_time_ms: u64,
        bids: Vec<Level>,
        asks: Vec<Level>,
    },
    Trade(Trade),
    Ticker(BookTicker),
    /// The symbol entered a hole (a gap diff with its `E`, or a reset / lost sync without one).
    Gap {
        event_time_ms: Option<u64>,
    },
}

/// Scale of quantized squared returns: `r²` is summed in units of 2⁻¹⁰⁰.
const R2_SCALE: f64 = (1u128 << 100) as f64;
/// Mantissa scale of prices and quantities.
const S8: f64 = 1e8;
const NS: f64 = 1e9;

/// A squared log-return as an exact integer in units of 2⁻¹⁰⁰ (see the module docs).
#[inline]
fn quantize_r2(r: f64) -> u128 {
    (r * r * R2_SCALE).round() as u128
}

/// `x as f64` (correctly rounded, to nearest even) without the 128-bit library call: values
/// that fit in i64 convert in one instruction; larger ones (notionals are ~10²¹ in mantissa
/// units) keep their top 64 bits, with a sticky bit for whatever lies below, and convert those.
/// Bit for bit the same as `as f64` (a unit test holds it to that).
#[inline]
fn fu(x: u128) -> f64 {
    if x >> 63 == 0 {
        return x as i64 as f64;
    }
    // x ≥ 2^63: shift right so exactly 64 significant bits remain (s may be 0).
    let s = 64 - x.leading_zeros();
    let hi = (x >> s) as u64;
    let sticky = (x & ((1u128 << s) - 1) != 0) as u64;
    // 2^s is exact, and so is the product.
    (hi | sticky) as f64 * f64::from_bits((1023 + s as u64) << 52)
}

/// See [`fu`].
#[inline]
fn fi(x: i128) -> f64 {
    match i64::try_from(x) {
        Ok(v) => v as f64,
        Err(_) if x < 0 => -fu(x.unsigned_abs()),
        Err(_) => fu(x as u128),
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Cont–Kukanov–Stoikov OFI of one level between two book states, in quantity mantissas.
/// A missing bid level is price 0 / qty 0, a missing ask level price `u64::MAX` / qty 0.
#[inline]
pub fn ofi_level(prev: (u64, u64, u64, u64), now: (u64, u64, u64, u64)) -> i128 {
    let (pb0, qb0, pa0, qa0) = prev;
    let (pb, qb, pa, qa) = now;
    let mut e = 0i128;
    if pb >= pb0 {
        e += qb as i128;
    }
    if pb <= pb0 {
        e -= qb0 as i128;
    }
    if pa <= pa0 {
        e -= qa as i128;
    }
    if pa >= pa0 {
        e += qa0 as i128;
    }
    e
}

#[derive(Clone, Copy, Debug)]
struct DiffEntry {
    t: u64,
    /// bid + ask price mantissas (2 × mid), 0 when a side is missing.
    m2: u128,
    ofi: i128,
    mlofi: i128,
    /// bidQty₁ + askQty₁.
    d1: u128,
    /// Σ over levels 1..k of bidQty + askQty.
    dk: u128,
    /// Quantized squared mid log-return of this update (0 when none).
    r2: u128,
}

impl Timed for DiffEntry {
    #[inline]
    fn t(&self) -> u64 {
        self.t
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct DiffSums {
    n: u64,
    ofi: i128,
    mlofi: i128,
    d1: u128,
    dk: u128,
    r2: u128,
    /// `m2` of the last update that left the window: the mid at the window's start.
    start_m2: u128,
}

impl Sums<DiffEntry> for DiffSums {
    #[inline]
    fn add(&mut self, e: &DiffEntry) {
        self.n += 1;
        self.ofi += e.ofi;
        self.mlofi += e.mlofi;
        self.d1 += e.d1;
        self.dk += e.dk;
        self.r2 += e.r2;
    }
    #[inline]
    fn sub(&mut self, e: &DiffEntry) {
        self.n -= 1;
        self.ofi -= e.ofi;
        self.mlofi -= e.mlofi;
        self.d1 -= e.d1;
        self.dk -= e.dk;
        self.r2 -= e.r2;
        self.start_m2 = e.m2;
    }
}

#[derive(Clone, Copy, Debug)]
struct TradeEntry {
    t: u64,
    qty: u64,
    /// price × qty mantissas.
    notional: u128,
    buy: bool,
    /// Time since the previous trade, if there was one.
    iv: Option<u64>,
}

impl Timed for TradeEntry {
    #[inline]
    fn t(&self) -> u64 {
        self.t
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct TradeSums {
    n: u64,
    n_buy: u64,
    vol: u128,
    vol_buy: u128,
    notional: u128,
    n_iv: u64,
    s_iv: u128,
    s_iv2: u128,
}

impl Sums<TradeEntry> for TradeSums {
    #[inline]
    fn add(&mut self, e: &TradeEntry) {
        self.n += 1;
        self.n_buy += e.buy as u64;
        // Wrapping: add and sub stay exact inverses (mod 2^128) even for absurd input (a
        // hostile peer's times and sizes); only the read-out of such a sum is meaningless.
        self.vol = self.vol.wrapping_add(e.qty as u128);
        self.vol_buy = self
            .vol_buy
            .wrapping_add(if e.buy { e.qty as u128 } else { 0 });
        self.notional = self.notional.wrapping_add(e.notional);
        if let Some(iv) = e.iv {
            self.n_iv += 1;
            self.s_iv = self.s_iv.wrapping_add(iv as u128);
            self.s_iv2 = self.s_iv2.wrapping_add(iv as u128 * iv as u128);
        }
    }
    #[inline]
    fn sub(&mut self, e: &TradeEntry) {
        self.n -= 1;
        self.n_buy -= e.buy as u64;
        self.vol = self.vol.wrapping_sub(e.qty as u128);
        self.vol_buy = self
            .vol_buy
            .wrapping_sub(if e.buy { e.qty as u128 } else { 0 });
        self.notional = self.notional.wrapping_sub(e.notional);
        if let Some(iv) = e.iv {
            self.n_iv -= 1;
            self.s_iv = self.s_iv.wrapping_sub(iv as u128);
            self.s_iv2 = self.s_iv2.wrapping_sub(iv as u128 * iv as u128);
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct TickEntry(u64);

impl Timed for TickEntry {
    #[inline]
    fn t(&self) -> u64 {
        self.0
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct TickSums(u64);

impl Sums<TickEntry> for TickSums {
    #[inline]
    fn add(&mut self, _: &TickEntry) {
        self.0 += 1;
    }
    #[inline]
    fn sub(&mut self, _: &TickEntry) {
        self.0 -= 1;
    }
}

/// The top levels of the last book update, for the OFI of the next one.
#[derive(Clone, Copy, Debug)]
struct Top {
    bp: [u64; MAX_OFI_LEVELS],
    bq: [u64; MAX_OFI_LEVELS],
    ap: [u64; MAX_OFI_LEVELS],
    aq: [u64; MAX_OFI_LEVELS],
}

#[inline]
fn bit(i: usize) -> u128 {
    1u128 << i
}

/// One symbol's feature engine.
#[derive(Clone, Debug)]
pub struct FeatureState {
    p: FeatureParams,
    /// Window lengths in seconds (rates divide by them).
    w_s: [f64; N_WINDOWS],
    /// Validity groups: features valid outside a hole / when window `i` is covered.
    book_group: u128,
    window_group: [u128; N_WINDOWS],
    clock: u64,
    late: u64,
    hole: bool,
    valid_from: u64,
    /// 2 × mid of the last update (0: a side was missing).
    m2: u128,
    prev: Top,
    /// A post-resync update exists to compare the next one with.
    prev_known: bool,
    tick: u64,
    mid_changed: bool,
    t_mid_change: u64,
    last_trade_t: Option<u64>,
    last_trade_px: u64,
    trade_since_resync: bool,
    ewma_s: f64,
    ewma_t: u64,
    /// 2^(−(ewma_t − valid_from)/half-life).
    ewma_age: f64,
    /// Per window, the (mid, start mid) its `ret` was computed from.
    ret_key: [(u128, u128); N_WINDOWS],
    /// The last best bid/ask prices folded into `tick`.
    folded: [u64; 2],
    diffs: Windows<DiffEntry, DiffSums>,
    trades: Windows<TradeEntry, TradeSums>,
    tickers: Windows<TickEntry, TickSums>,
    /// Time the windows were last moved to.
    advanced_to: u64,
    /// Features whose current value is defined (before the validity groups apply).
    defined: u128,
    v: FeatureVector,
    updates: u64,
    #[cfg(feature = "tap")]
    tap: Option<Vec<TapEvent>>,
}

impl FeatureState {
    /// `params` should have passed [`FeatureParams::validate`] (the config does it); ones that
    /// do not are replaced by the defaults, with a warning, rather than computing nonsense.
    pub fn new(params: FeatureParams) -> Self {
        let params = match params.validate() {
            Ok(()) => params,
            Err(why) => {
                tracing::warn!("feature parameters refused ({why}): using the defaults");
                FeatureParams::default()
            }
        };
        let schema = Schema::new(&params);
        let mut book_group = 0u128;
        let mut window_group = [0u128; N_WINDOWS];
        for (i, f) in schema.features.iter().enumerate() {
            match f.validity {
                schema::Validity::Book => book_group |= bit(i),
                schema::Validity::Window(w) => window_group[w] |= bit(i),
            }
        }
        let mut st = FeatureState {
            p: params,
            w_s: params.windows_ns.map(|w| w as f64 / NS),
            book_group,
            window_group,
            clock: 0,
            late: 0,
            hole: true,
            valid_from: 0,
            m2: 0,
            prev: Top {
                bp: [0; MAX_OFI_LEVELS],
                bq: [0; MAX_OFI_LEVELS],
                ap: [u64::MAX; MAX_OFI_LEVELS],
                aq: [0; MAX_OFI_LEVELS],
            },
            prev_known: false,
            tick: 0,
            mid_changed: false,
            t_mid_change: 0,
            last_trade_t: None,
            last_trade_px: 0,
            trade_since_resync: false,
            ewma_s: 0.0,
            ewma_t: 0,
            ewma_age: 1.0,
            ret_key: [(0, 0); N_WINDOWS],
            folded: [0; 2],
            diffs: Windows::default(),
            trades: Windows::default(),
            tickers: Windows::default(),
            advanced_to: 0,
            defined: 0,
            v: FeatureVector::default(),
            updates: 0,
            #[cfg(feature = "tap")]
            tap: None,
        };
        // Empty windows read out as zero counts and sums from the start.
        for w in 0..N_WINDOWS {
            st.diff_window(w);
            st.trade_window(w);
            st.ticker_window(w);
        }
        st
    }

    /// Caps the entries each window stream keeps (diffs, trades, tickers), whatever the event
    /// clock says ([`crate::limits::Limits::max_window_entries`]).
    pub fn set_max_window_entries(&mut self, max: usize) {
        self.diffs.set_max(max);
        self.trades.set_max(max);
        self.tickers.set_max(max);
    }

    /// Window entries dropped early because a stream was at its cap.
    pub fn window_evictions(&self) -> u64 {
        self.diffs.evicted() + self.trades.evicted() + self.tickers.evicted()
    }

    pub fn params(&self) -> &FeatureParams {
        &self.p
    }

    /// The vector after the last event.
    pub fn vector(&self) -> &FeatureVector {
        &self.v
    }

    /// Events taken in (each produced a vector).
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Events whose `E` was older than the clock (stamped with the clock).
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Event time at which the last hole ended (0 before the first sync).
    pub fn valid_from_ns(&self) -> u64 {
        self.valid_from
    }

    /// Inside a hole: before the first sync, or after a gap until the resync.
    pub fn in_hole(&self) -> bool {
        self.hole
    }

    /// Starts recording the inputs (tests).
    #[doc(hidden)]
    #[cfg(feature = "tap")]
    pub fn enable_tap(&mut self) {
        self.tap.get_or_insert_with(Vec::new);
    }

    /// The inputs recorded since [`Self::enable_tap`].
    #[doc(hidden)]
    #[cfg(feature = "tap")]
    pub fn tap(&self) -> &[TapEvent] {
        self.tap.as_deref().unwrap_or(&[])
    }

    /// The engine is about to offer a snapshot to the sync (recorded only when tapping).
    #[doc(hidden)]
    #[cfg(feature = "tap")]
    pub fn tap_snapshot(&mut self, s: &crate::wire::Snapshot) {
        if let Some(tap) = &mut self.tap {
            tap.push(TapEvent::Snapshot {
                bids: s.bids.clone(),
                asks: s.asks.clone(),
            });
        }
    }

    /// The snapshot just offered was not loaded: forget it.
    #[doc(hidden)]
    #[cfg(feature = "tap")]
    pub fn tap_snapshot_ignored(&mut self) {
        if let Some(tap) = &mut self.tap
            && matches!(tap.last(), Some(TapEvent::Snapshot { .. }))
        {
            tap.pop();
        }
    }

    #[inline]
    fn advance_clock(&mut self, e_ms: Option<u64>) -> u64 {
        if let Some(ms) = e_ms {
            let ns = ms.saturating_mul(1_000_000);
            if ns > self.clock {
                self.clock = ns;
            } else if ns < self.clock {
                self.late += 1;
            }
        }
        self.clock
    }

    /// After a diff was applied to `book`.
    pub fn on_book(&mut self, book: &OrderBook, d: &DepthUpdate) {
        #[cfg(feature = "tap")]
        if let Some(tap) = &mut self.tap {
            tap.push(TapEvent::Diff {
                event_time_ms: d.event_time_ms,
                bids: d.bids.clone(),
                asks: d.asks.clone(),
            });
        }
        let t = self.advance_clock(Some(d.event_time_ms));
        if self.hole {
            // The first update after a snapshot: the resync.
            self.hole = false;
            self.valid_from = t;
            self.prev_known = false;
            self.mid_changed = false;
            self.trade_since_resync = false;
            self.ewma_s = 0.0;
            self.ewma_t = t;
            self.ewma_age = 1.0;
        }
        self.book_update(book, t);
        self.finish(t, EventKind::Depth, 0b111, 0, 0);
    }

    /// After a trade (duplicates excluded).
    pub fn on_trade(&mut self, tr: &Trade) {
        #[cfg(feature = "tap")]
        if let Some(tap) = &mut self.tap {
            tap.push(TapEvent::Trade(*tr));
        }
        let t = self.advance_clock(Some(tr.event_time_ms));
        let iv = self.last_trade_t.map(|lt| t - lt);
        self.last_trade_t = Some(t);
        self.last_trade_px = tr.price.0;
        self.trade_since_resync = true;
        self.trades.push(TradeEntry {
            t,
            qty: tr.qty.0,
            notional: tr.price.0 as u128 * tr.qty.0 as u128,
            buy: !tr.buyer_is_maker,
            iv,
        });
        self.trade_vs_mid();
        self.finish(t, EventKind::Trade, 0, 0b111, 0);
    }

    /// After a bookTicker (duplicates excluded). Counted only: level 1 comes from the book, so
    /// that it always agrees with the deeper levels.
    pub fn on_ticker(&mut self, tk: &BookTicker) {
        #[cfg(feature = "tap")]
        if let Some(tap) = &mut self.tap {
            tap.push(TapEvent::Ticker(*tk));
        }
        let t = self.advance_clock(tk.event_time_ms);
        self.tickers.push(TickEntry(t));
        self.finish(t, EventKind::Ticker, 0, 0, 0b111);
    }

    /// The book lost continuity: a sequence gap (with the offending diff's `E`), a reset, or a
    /// gap found while bridging (`None`). Idempotent inside a hole.
    pub fn on_gap(&mut self, e_ms: Option<u64>) {
        if self.hole && e_ms.is_none() {
            return;
        }
        #[cfg(feature = "tap")]
        if let Some(tap) = &mut self.tap {
            tap.push(TapEvent::Gap {
                event_time_ms: e_ms,
            });
        }
        let t = self.advance_clock(e_ms);
        self.hole = true;
        self.prev_known = false;
        self.finish(t, EventKind::Gap, 0, 0, 0);
    }

    /// Reads the book after an update: level 1, depths, imbalances, OFI, return.
    fn book_update(&mut self, book: &OrderBook, t: u64) {
        let walk = self.p.walk();
        // Missing levels: bids price 0, asks price u64::MAX, quantity 0 (see `ofi_level`).
        let mut bp = [0u64; MAX_DEPTH_LEVELS];
        let mut bq = [0u64; MAX_DEPTH_LEVELS];
        let mut ap = [u64::MAX; MAX_DEPTH_LEVELS];
        let mut aq = [0u64; MAX_DEPTH_LEVELS];
        // One buffer, filled by the book's slice reader (no per-level iterator state).
        let mut buf = [Level::default(); MAX_DEPTH_LEVELS];
        let walk = walk.min(MAX_DEPTH_LEVELS);
        let nb = book.bids.top_into(&mut buf[..walk]);
        for (i, l) in buf[..nb].iter().enumerate() {
            bp[i] = l.price.0;
            bq[i] = l.qty.0;
        }
        let na = book.asks.top_into(&mut buf[..walk]);
        for (i, l) in buf[..na].iter().enumerate() {
            ap[i] = l.price.0;
            aq[i] = l.qty.0;
        }
        if nb > 0 && bp[0] != self.folded[0] {
            self.folded[0] = bp[0];
            self.fold_tick(bp[0]);
        }
        if na > 0 && ap[0] != self.folded[1] {
            self.folded[1] = ap[0];
            self.fold_tick(ap[0]);
        }
        let m2 = if nb > 0 && na > 0 {
            bp[0] as u128 + ap[0] as u128
        } else {
            0
        };
        let v = &mut self.v.values;
        let mut def = self.defined & !self.book_group;

        // Order-flow imbalance against the previous update.
        let k = self.p.ofi_levels;
        let (mut ofi, mut mlofi) = (0i128, 0i128);
        let mut dk = 0u128;
        for m in 0..k {
            dk += bq[m] as u128 + aq[m] as u128;
        }
        if self.prev_known {
            let pv = &self.prev;
            for m in 0..k {
                let e = ofi_level(
                    (pv.bp[m], pv.bq[m], pv.ap[m], pv.aq[m]),
                    (bp[m], bq[m], ap[m], aq[m]),
                );
                if m == 0 {
                    ofi = e;
                }
                mlofi += e;
            }
            v[idx::OFI] = fi(ofi) / S8;
            v[idx::MLOFI] = fi(mlofi) / S8;
            def |= bit(idx::OFI) | bit(idx::MLOFI);
        }
        self.prev.bp[..k].copy_from_slice(&bp[..k]);
        self.prev.bq[..k].copy_from_slice(&bq[..k]);
        self.prev.ap[..k].copy_from_slice(&ap[..k]);
        self.prev.aq[..k].copy_from_slice(&aq[..k]);

        // Mid log-return against the previous update.
        let mut r2 = 0u128;
        if self.prev_known && self.m2 > 0 && m2 > 0 && m2 != self.m2 {
            let r = (fi(m2 as i128 - self.m2 as i128) / fu(self.m2)).ln_1p();
            r2 = quantize_r2(r);
            self.mid_changed = true;
            self.t_mid_change = t;
            // EWMA of r² in event time: decay to t, then add.
            let h = self.p.ewma_half_life_ns as f64;
            self.ewma_s = self.ewma_s * (-((t - self.ewma_t) as f64) / h).exp2() + r * r;
            self.ewma_t = t;
            self.ewma_age = (-((t - self.valid_from) as f64) / h).exp2();
        }
        self.prev_known = true;
        self.m2 = m2;

        if m2 > 0 {
            let (b, a, qb, qa) = (bp[0], ap[0], bq[0] as u128, aq[0] as u128);
            let spread = a as i128 - b as i128;
            v[idx::BID_PX] = b as f64 / S8;
            v[idx::ASK_PX] = a as f64 / S8;
            v[idx::BID_QTY] = qb as f64 / S8;
            v[idx::ASK_QTY] = qa as f64 / S8;
            v[idx::MID] = fu(m2) / (2.0 * S8);
            let micro_num = b as u128 * qa + a as u128 * qb;
            v[idx::MICROPRICE] = fu(micro_num) / fu(qb + qa) / S8;
            v[idx::MICRO_MINUS_MID] =
                fi(spread * (qb as i128 - qa as i128)) / fu(2 * (qb + qa)) / S8;
            v[idx::SPREAD] = fi(spread) / S8;
            v[idx::SPREAD_BPS] = fi(spread) * 2e4 / fu(m2);
            v[idx::TICK] = self.tick as f64 / S8;
            v[idx::SPREAD_TICKS] = fi(spread) / self.tick as f64;
            v[idx::ONE_TICK] = f64::from(u8::from(spread == self.tick as i128));
            def |= bit(idx::BID_PX)
                | bit(idx::ASK_PX)
                | bit(idx::BID_QTY)
                | bit(idx::ASK_QTY)
                | bit(idx::MID)
                | bit(idx::MICROPRICE)
                | bit(idx::MICRO_MINUS_MID)
                | bit(idx::SPREAD)
                | bit(idx::SPREAD_BPS)
                | bit(idx::TICK)
                | bit(idx::SPREAD_TICKS)
                | bit(idx::ONE_TICK);

            // Top-N depth and notional, and the imbalances, from one pass.
            let top = self.p.depth_levels[N_DEPTHS - 1];
            let (mut sb, mut sa, mut nbn, mut nan) = (0u128, 0u128, 0u128, 0u128);
            let (mut wnum, mut wden) = (0i128, 0u128);
            let mut j = 0;
            for i in 0..top {
                let (qb, qa) = (bq[i] as u128, aq[i] as u128);
                sb += qb;
                sa += qa;
                nbn += bp[i] as u128 * qb;
                // A missing ask level has qty 0, whatever its placeholder price.
                nan += if qa == 0 { 0 } else { ap[i] as u128 * qa };
                let w = (top - i) as u128;
                wnum += w as i128 * (qb as i128 - qa as i128);
                wden += w * (qb + qa);
                if i + 1 == self.p.depth_levels[j] {
                    v[idx::BID_DEPTH + j] = fu(sb) / S8;
                    v[idx::ASK_DEPTH + j] = fu(sa) / S8;
                    v[idx::BID_NOTIONAL + j] = fu(nbn) / (S8 * S8);
                    v[idx::ASK_NOTIONAL + j] = fu(nan) / (S8 * S8);
                    v[idx::IMBALANCE + 1 + j] = fi(sb as i128 - sa as i128) / fu(sb + sa);
                    j += 1;
                }
            }
            v[idx::IMBALANCE] = fi(qb as i128 - qa as i128) / fu(qb + qa);
            v[idx::IMBALANCE + 1 + N_DEPTHS] = fi(wnum) / fu(wden);
            for j in 0..N_DEPTHS {
                def |= bit(idx::BID_DEPTH + j)
                    | bit(idx::ASK_DEPTH + j)
                    | bit(idx::BID_NOTIONAL + j)
                    | bit(idx::ASK_NOTIONAL + j)
                    | bit(idx::IMBALANCE + 1 + j);
            }
            def |= bit(idx::IMBALANCE) | bit(idx::IMBALANCE + 1 + N_DEPTHS);

            // Depth within ±x bps of mid: bids priced ≥ mid·(1 − x/10⁴), asks ≤ mid·(1 + x/10⁴).
            let x = self.p.band_bps as u64;
            let (lo, hi) = if m2 < 1 << 49 {
                // 64-bit arithmetic (no overflow: x ≤ 1000) where it fits: 128-bit division
                // is a library call.
                let m = m2 as u64;
                (
                    (m * (10_000 - x)).div_ceil(20_000),
                    m * (10_000 + x) / 20_000,
                )
            } else {
                let x = x as u128;
                (
                    (m2 * (10_000 - x)).div_ceil(20_000) as u64,
                    (m2 * (10_000 + x) / 20_000).min(u64::MAX as u128) as u64,
                )
            };
            v[idx::BID_DEPTH + N_DEPTHS] = fu(book.bids.qty_within(Price(lo))) / S8;
            v[idx::ASK_DEPTH + N_DEPTHS] = fu(book.asks.qty_within(Price(hi))) / S8;
            def |= bit(idx::BID_DEPTH + N_DEPTHS) | bit(idx::ASK_DEPTH + N_DEPTHS);
        }
        self.defined = def;
        self.diffs.push(DiffEntry {
            t,
            m2,
            ofi,
            mlofi,
            d1: bq[0] as u128 + aq[0] as u128,
            dk,
            r2,
        });
        self.trade_vs_mid();
    }

    #[inline]
    fn fold_tick(&mut self, p: u64) {
        if p != 0 && (self.tick == 0 || !p.is_multiple_of(self.tick)) {
            self.tick = gcd(self.tick, p);
        }
    }

    fn trade_vs_mid(&mut self) {
        let b = bit(idx::TRADE_VS_MID);
        if self.trade_since_resync && self.m2 > 0 {
            let d = 2 * self.last_trade_px as i128 - self.m2 as i128;
            self.v.values[idx::TRADE_VS_MID] = fi(d) * 1e4 / fu(self.m2);
            self.defined |= b;
        } else {
            self.defined &= !b;
        }
    }

    /// Moves the windows to `t`, reads out what changed, and sets validity.
    #[inline]
    fn finish(&mut self, t: u64, event: EventKind, mut dd: u8, mut td: u8, mut kd: u8) {
        if t != self.advanced_to {
            let lens = &self.p.windows_ns;
            dd |= self.diffs.advance(t, lens);
            td |= self.trades.advance(t, lens);
            kd |= self.tickers.advance(t, lens);
            self.advanced_to = t;
            self.time_features(t);
        } else if event == EventKind::Depth {
            self.time_features(t);
        }
        for w in 0..N_WINDOWS {
            if dd >> w & 1 == 1 {
                self.diff_window(w);
            }
            if td >> w & 1 == 1 {
                self.trade_window(w);
            }
            if kd >> w & 1 == 1 {
                self.ticker_window(w);
            }
        }
        let mut groups = 0u128;
        let mut window_valid = [false; N_WINDOWS];
        if !self.hole {
            groups |= self.book_group;
            for (w, ok) in window_valid.iter_mut().enumerate() {
                if t >= self.valid_from.saturating_add(self.p.windows_ns[w]) {
                    *ok = true;
                    groups |= self.window_group[w];
                }
            }
        }
        let v = &mut self.v;
        v.valid = self.defined & groups;
        v.book_valid = !self.hole;
        v.window_valid = window_valid;
        v.ts_ns = t;
        v.event = event;
        self.updates += 1;
    }

    /// Features that move with time alone: `mid_age`, `ewma_vol`.
    #[inline]
    fn time_features(&mut self, t: u64) {
        let v = &mut self.v.values;
        if self.mid_changed && self.m2 > 0 {
            v[idx::MID_AGE] = (t - self.t_mid_change) as f64 / NS;
            self.defined |= bit(idx::MID_AGE);
        } else {
            self.defined &= !bit(idx::MID_AGE);
        }
        let h = self.p.ewma_half_life_ns;
        let since = t.saturating_sub(self.valid_from);
        if !self.hole && self.m2 > 0 && since >= h {
            let hf = h as f64;
            // One exp2: 2^(−(t − valid_from)/h) = 2^(−(ewma_t − valid_from)/h) · 2^(−(t − ewma_t)/h).
            let decay = (-((t - self.ewma_t) as f64) / hf).exp2();
            let s = self.ewma_s * decay;
            let weight_s = hf / NS / std::f64::consts::LN_2 * (1.0 - self.ewma_age * decay);
            v[idx::EWMA_VOL] = 1e4 * (s / weight_s).sqrt();
            self.defined |= bit(idx::EWMA_VOL);
        } else {
            self.defined &= !bit(idx::EWMA_VOL);
        }
    }

    fn ticker_window(&mut self, w: usize) {
        self.v.values[idx::TICKER_RATE + w] = self.tickers.sums[w].0 as f64 / self.w_s[w];
        self.defined |= bit(idx::TICKER_RATE + w);
    }

    fn diff_window(&mut self, w: usize) {
        let s = &self.diffs.sums[w];
        let v = &mut self.v.values;
        let n = s.n as f64;
        v[idx::OFI + 1 + w] = fi(s.ofi) / S8;
        v[idx::MLOFI + 1 + w] = fi(s.mlofi) / S8;
        v[idx::OFI_NORM + w] = if s.d1 > 0 {
            fi(s.ofi) * (2.0 * n) / fu(s.d1)
        } else {
            0.0
        };
        v[idx::MLOFI_NORM + w] = if s.dk > 0 {
            fi(s.mlofi) * (2.0 * self.p.ofi_levels as f64 * n) / fu(s.dk)
        } else {
            0.0
        };
        v[idx::RV + w] = 1e4 * (fu(s.r2) / R2_SCALE).sqrt();
        v[idx::DEPTH_RATE + w] = n / self.w_s[w];
        let mut def = bit(idx::OFI + 1 + w)
            | bit(idx::MLOFI + 1 + w)
            | bit(idx::OFI_NORM + w)
            | bit(idx::MLOFI_NORM + w)
            | bit(idx::RV + w)
            | bit(idx::DEPTH_RATE + w);
        if s.start_m2 > 0 && self.m2 > 0 {
            // ln_1p only when one of the two mids moved since the last read-out.
            let key = (self.m2, s.start_m2);
            if self.ret_key[w] != key {
                self.ret_key[w] = key;
                let d = self.m2 as i128 - s.start_m2 as i128;
                v[idx::RET + w] = 1e4 * (fi(d) / fu(s.start_m2)).ln_1p();
            }
            def |= bit(idx::RET + w);
        }
        self.defined = (self.defined & !bit(idx::RET + w)) | def;
    }

    fn trade_window(&mut self, w: usize) {
        let s = &self.trades.sums[w];
        let v = &mut self.v.values;
        v[idx::TRADE_RATE + w] = s.n as f64 / self.w_s[w];
        v[idx::VOLUME + w] = fu(s.vol) / S8;
        let signed = (s.vol_buy as i128)
            .wrapping_mul(2)
            .wrapping_sub(s.vol as i128);
        v[idx::SIGNED_VOLUME + w] = fi(signed) / S8;
        let mut def = bit(idx::TRADE_RATE + w) | bit(idx::VOLUME + w) | bit(idx::SIGNED_VOLUME + w);
        let mask = bit(idx::TRADE_IMBALANCE + w)
            | bit(idx::VOLUME_IMBALANCE + w)
            | bit(idx::VWAP + w)
            | bit(idx::BURSTINESS + w);
        if s.n > 0 {
            v[idx::TRADE_IMBALANCE + w] = (2 * s.n_buy as i64 - s.n as i64) as f64 / s.n as f64;
            def |= bit(idx::TRADE_IMBALANCE + w);
        }
        if s.vol > 0 {
            v[idx::VOLUME_IMBALANCE + w] = fi(signed) / fu(s.vol);
            v[idx::VWAP + w] = fu(s.notional) / fu(s.vol) / S8;
            def |= bit(idx::VOLUME_IMBALANCE + w) | bit(idx::VWAP + w);
        }
        if s.n_iv >= 2 {
            // (σ − μ)/(σ + μ) = (√(nΣτ² − (Στ)²) − Στ) / (√(…) + Στ): n cancels.
            // Exact while it fits; intervals of absurd length (found by the fuzzing ring: a
            // trade time near 2^64 ns) fall back on floats instead of overflowing.
            let exact = (s.n_iv as u128)
                .checked_mul(s.s_iv2)
                .zip(s.s_iv.checked_mul(s.s_iv))
                .and_then(|(a, b)| a.checked_sub(b));
            let sd = match exact {
                Some(var) => fu(var).sqrt(),
                None => (s.n_iv as f64 * fu(s.s_iv2) - fu(s.s_iv) * fu(s.s_iv))
                    .max(0.0)
                    .sqrt(),
            };
            let mu = fu(s.s_iv);
            if sd + mu > 0.0 {
                v[idx::BURSTINESS + w] = (sd - mu) / (sd + mu);
                def |= bit(idx::BURSTINESS + w);
            }
        }
        self.defined = (self.defined & !mask) | def;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::{Qty, Symbol};
    use crate::wire::TradeKind;

    const P: u64 = 100_000_000; // 1.0 as a mantissa

    fn lv(p: u64, q: u64) -> Level {
        Level {
            price: Price(p * P),
            qty: Qty(q * P),
        }
    }

    fn diff(e_ms: u64, bids: Vec<Level>, asks: Vec<Level>) -> DepthUpdate {
        DepthUpdate {
            symbol: Symbol::new(b"X").unwrap_or_default(),
            event_time_ms: e_ms,
            bids,
            asks,
            ..DepthUpdate::default()
        }
    }

    fn trade(e_ms: u64, p: u64, q: u64, buyer_is_maker: bool) -> Trade {
        Trade {
            symbol: Symbol::new(b"X").unwrap_or_default(),
            kind: TradeKind::Trade,
            id: 0,
            price: Price(p * P),
            qty: Qty(q * P),
            trade_time_ms: e_ms,
            event_time_ms: e_ms,
            buyer_is_maker,
        }
    }

    fn ticker(e_ms: Option<u64>) -> BookTicker {
        BookTicker {
            symbol: Symbol::new(b"X").unwrap_or_default(),
            update_id: 0,
            bid_price: Price(0),
            bid_qty: Qty(0),
            ask_price: Price(0),
            ask_qty: Qty(0),
            event_time_ms: e_ms,
            transact_time_ms: None,
        }
    }

    /// Applies a diff to the book and tells the features.
    fn apply(f: &mut FeatureState, book: &mut OrderBook, d: DepthUpdate) {
        book.apply(&d.bids, &d.asks, 0);
        f.on_book(book, &d);
    }

    fn params() -> FeatureParams {
        FeatureParams {
            windows_ns: [1_000_000_000, 2_000_000_000, 5_000_000_000],
            depth_levels: [1, 2, 3],
            ofi_levels: 2,
            band_bps: 100,
            ewma_half_life_ns: 1_000_000_000,
        }
    }

    #[test]
    fn fast_128_bit_conversions_equal_as_f64() {
        let mut x = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834u128;
        let mut cases: Vec<u128> = vec![
            0,
            1,
            (1 << 63) - 1,
            1 << 63,
            (1 << 64) - 1,
            1 << 64,
            u128::MAX,
            // Ties at the rounding position, with and without bits below.
            (1 << 80) + (1 << 27),
            (1 << 80) + (1 << 27) + 1,
            (1 << 80) + (3 << 27),
        ];
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(x >> (x % 128));
        }
        for &c in &cases {
            assert_eq!(fu(c).to_bits(), (c as f64).to_bits(), "{c}");
            let i = c as i128;
            assert_eq!(fi(i).to_bits(), (i as f64).to_bits(), "{i}");
            let n = i.wrapping_neg();
            assert_eq!(fi(n).to_bits(), (n as f64).to_bits(), "{n}");
        }
    }

    #[test]
    fn ofi_level_table() {
        // (prev bid px, qty, prev ask px, qty) → (now …) → e, in the paper's cases.
        // Prices in tenths: bid 10.0, ask 11.0.
        let cases = [
            // Nothing moved: 0.
            ((100, 5, 110, 5), (100, 5, 110, 5), 0),
            // Bid qty up 3 at the same price: +3; ask qty up 2: −2.
            ((100, 5, 110, 5), (100, 8, 110, 5), 3),
            ((100, 5, 110, 5), (100, 5, 110, 7), -2),
            // Bid price up: +new qty; bid price down: −old qty.
            ((100, 5, 110, 5), (105, 1, 110, 5), 1),
            ((100, 5, 110, 5), (90, 4, 110, 5), -5),
            // Ask price down: −new qty; ask price up: +old qty.
            ((100, 5, 110, 5), (100, 5, 107, 2), -2),
            ((100, 5, 110, 5), (100, 5, 120, 9), 5),
            // Both at once: bid up (+1), ask down (−2).
            ((100, 5, 110, 5), (105, 1, 107, 2), 1 - 2),
            // A level appearing where there was none (bid from price 0 / qty 0).
            ((0, 0, u64::MAX, 0), (100, 4, 110, 6), 4 - 6),
            // A level vanishing (ask to price ∞ / qty 0): +old ask qty.
            ((100, 5, 110, 5), (100, 5, u64::MAX, 0), 5),
        ];
        for (prev, now, want) in cases {
            assert_eq!(ofi_level(prev, now), want, "{prev:?} → {now:?}");
        }
    }

    #[test]
    fn level_one_depth_imbalance_and_ofi_from_a_book() {
        let mut f = FeatureState::new(params());
        let mut book = OrderBook::new();
        book.load(
            &[lv(100, 2), lv(99, 4), lv(98, 6)],
            &[lv(102, 6), lv(103, 1)],
            0,
        );
        apply(&mut f, &mut book, diff(1_000, vec![], vec![]));
        let v = f.vector();
        assert_eq!(v.get(idx::MID), Some(101.0));
        assert_eq!(v.get(idx::SPREAD), Some(2.0));
        // Tick inferred from 100 and 102: 2 (the true tick divides it).
        assert_eq!(v.get(idx::TICK), Some(2.0));
        assert_eq!(v.get(idx::SPREAD_TICKS), Some(1.0));
        assert_eq!(v.get(idx::ONE_TICK), Some(1.0));
        // microprice = (100·6 + 102·2)/8 = 100.5; − mid = −0.5.
        assert_eq!(v.get(idx::MICROPRICE), Some(100.5));
        assert_eq!(v.get(idx::MICRO_MINUS_MID), Some(-0.5));
        assert_eq!(v.get(idx::IMBALANCE), Some((2.0 - 6.0) / 8.0));
        assert_eq!(v.get(idx::BID_DEPTH + 1), Some(6.0));
        assert_eq!(v.get(idx::ASK_DEPTH + 2), Some(7.0));
        assert_eq!(v.get(idx::BID_NOTIONAL), Some(200.0));
        // Band ±100 bps of 101: bids ≥ 99.99, asks ≤ 102.01.
        assert_eq!(v.get(idx::BID_DEPTH + 3), Some(2.0));
        assert_eq!(v.get(idx::ASK_DEPTH + 3), Some(6.0));
        // The first update after a sync has no predecessor: no OFI yet.
        assert_eq!(v.get(idx::OFI), None);
        // Bid 100 grows by 3, ask 102 is taken out (ask price up to 103: +6).
        apply(
            &mut f,
            &mut book,
            diff(1_100, vec![lv(100, 5)], vec![lv(102, 0)]),
        );
        let v = f.vector();
        assert_eq!(v.get(idx::OFI), Some(3.0 + 6.0));
        // Level 2: bid 99 same (0); ask level 2 was 103×1, now missing (price ∞): +1.
        assert_eq!(v.get(idx::MLOFI), Some(9.0 + 1.0));
        assert!(!f.in_hole() && v.book_valid());
    }

    #[test]
    fn windows_are_half_open_ties_included_late_events_stamped_with_the_clock() {
        let mut f = FeatureState::new(params());
        let mut book = OrderBook::new();
        book.load(&[lv(100, 1)], &[lv(101, 1)], 0);
        apply(&mut f, &mut book, diff(10_000, vec![], vec![]));
        // Two trades tied at 10.5 s: after the first the 1 s window holds one, then both.
        f.on_trade(&trade(10_500, 100, 1, false));
        assert_eq!(f.vector().values[idx::TRADE_RATE], 1.0);
        f.on_trade(&trade(10_500, 101, 3, true));
        assert_eq!(f.vector().values[idx::TRADE_RATE], 2.0);
        assert_eq!(f.vector().values[idx::SIGNED_VOLUME], 1.0 - 3.0);
        assert_eq!(f.vector().values[idx::VWAP], (100.0 + 303.0) / 4.0);
        // A spot bookTicker has no E: it takes the clock.
        f.on_ticker(&ticker(None));
        assert_eq!(f.vector().ts_ns(), 10_500_000_000);
        // A late trade (E behind the clock) is stamped with the clock and counted.
        f.on_trade(&trade(10_400, 100, 1, false));
        assert_eq!((f.vector().ts_ns(), f.late()), (10_500_000_000, 1));
        assert_eq!(f.vector().values[idx::TRADE_RATE], 3.0);
        // At exactly 11.5 s the trades of 10.5 s are 1 s old: out of (10.5, 11.5].
        f.on_ticker(&ticker(Some(11_499)));
        assert_eq!(f.vector().values[idx::TRADE_RATE], 3.0);
        f.on_ticker(&ticker(Some(11_500)));
        assert_eq!(f.vector().values[idx::TRADE_RATE], 0.0);
        assert_eq!(f.vector().values[idx::TRADE_RATE + 1], 3.0 / 2.0);
        assert_eq!(
            f.vector().get(idx::VWAP),
            None,
            "no trade in the 1 s window"
        );
        assert_eq!(f.vector().values[idx::TICKER_RATE], 2.0);
    }

    #[test]
    fn a_gap_invalidates_until_each_window_lies_after_the_resync() {
        let mut f = FeatureState::new(params());
        let mut book = OrderBook::new();
        book.load(&[lv(100, 1)], &[lv(101, 1)], 0);
        // Synced at 0 s; at 6 s every window (1, 2, 5 s) is valid.
        apply(&mut f, &mut book, diff(0, vec![], vec![]));
        assert!(!f.vector().window_valid(0));
        apply(&mut f, &mut book, diff(6_000, vec![lv(100, 2)], vec![]));
        let v = f.vector();
        assert!(v.book_valid() && (0..3).all(|w| v.window_valid(w)));
        assert_eq!(v.get(idx::OFI + 3), Some(1.0));
        // A gap at 7 s: nothing is valid, trades keep coming but stay invalid.
        f.on_gap(Some(7_000));
        assert_eq!(f.vector().valid_mask(), 0);
        f.on_trade(&trade(7_500, 100, 1, false));
        assert_eq!(f.vector().valid_mask(), 0);
        // Resync at 8 s: book features at once, no window yet, no OFI (no predecessor).
        apply(&mut f, &mut book, diff(8_000, vec![], vec![]));
        let v = f.vector();
        assert_eq!(f.valid_from_ns(), 8_000_000_000);
        assert!(v.is_valid(idx::MID) && !v.is_valid(idx::OFI));
        assert!((0..3).all(|w| !v.window_valid(w)));
        // The 1 s window comes back at 9 s exactly, the 2 s one at 10 s, the 5 s one at 13 s.
        for (ms, want) in [
            (8_999, [false; 3]),
            (9_000, [true, false, false]),
            (10_000, [true, true, false]),
            (12_999, [true, true, false]),
            (13_000, [true, true, true]),
        ] {
            f.on_ticker(&ticker(Some(ms)));
            let v = f.vector();
            assert_eq!(
                std::array::from_fn(|w| v.window_valid(w)),
                want,
                "at {ms} ms"
            );
            assert_eq!(v.is_valid(idx::TRADE_RATE), want[0]);
            assert_eq!(v.is_valid(idx::OFI + 3), want[2]);
        }
        // The pre-gap OFI left every window; the return over 5 s is from the resync mid.
        assert_eq!(f.vector().get(idx::OFI + 3), Some(0.0));
        assert_eq!(f.vector().get(idx::RET + 2), Some(0.0));
        // A reset behaves like a gap (idempotent inside the hole).
        f.on_gap(None);
        f.on_gap(None);
        assert_eq!(f.vector().valid_mask(), 0);
    }

    #[test]
    fn returns_volatility_and_mid_age() {
        let mut f = FeatureState::new(params());
        let mut a = OrderBook::new();
        a.load(&[lv(100, 1)], &[lv(102, 1)], 0);
        let mut b = OrderBook::new();
        b.load(&[lv(101, 1)], &[lv(103, 1)], 0);
        f.on_book(&a, &diff(0, vec![], vec![]));
        assert_eq!(
            f.vector().get(idx::MID_AGE),
            None,
            "no change seen since the sync"
        );
        // Mid 101 → 102 at 1 s.
        f.on_book(&b, &diff(1_000, vec![], vec![]));
        let r = (1.0f64 / 101.0).ln_1p();
        assert_eq!(f.vector().get(idx::MID_AGE), Some(0.0));
        f.on_ticker(&ticker(Some(1_250)));
        assert_eq!(f.vector().get(idx::MID_AGE), Some(0.25));
        // ret over 5 s is valid from 5 s after the sync: mid 101 → 102; rv is the one return.
        f.on_ticker(&ticker(Some(5_000)));
        let v = f.vector();
        let ret = v.get(idx::RET + 2).expect("ret");
        assert!((ret - 1e4 * r).abs() < 1e-12 * ret, "{ret}");
        let rv = v.get(idx::RV + 2).expect("rv");
        assert!((rv - 1e4 * r).abs() < 1e-12 * rv, "{rv}");
        // The 1 s window no longer holds it.
        assert_eq!(v.get(idx::RV), Some(0.0));
        assert_eq!(v.get(idx::RET), Some(0.0));
        // EWMA (half-life 1 s, valid 1 s after the sync): one return r at 1 s, read at 5 s.
        let want = 1e4
            * (r * r * 0.5f64.powi(4) / (1.0 / std::f64::consts::LN_2 * (1.0 - 0.5f64.powi(5))))
                .sqrt();
        let got = v.get(idx::EWMA_VOL).expect("ewma");
        assert!((got - want).abs() < 1e-12 * want, "{got} vs {want}");
    }
}
