//! The engine: one owner for every symbol's market state, driven one raw frame at a time.
//!
//! Owns: the decoder, each symbol's [`BookSync`], its [`FeatureState`], the bookTicker
//! cross-check and per-symbol counters. Must not touch: I/O, clocks (receive times arrive on the frames), the screen. Live
//! ingest, replay, tests and benchmarks all drive this same code through [`Engine::on_frame`].

pub mod history;

use std::collections::VecDeque;

use crate::book::sync::{BookSync, DEFAULT_MAX_BUFFER, Rules, SnapshotOutcome};
use crate::book::{Bbo, OrderBook};
use crate::features::{FeatureParams, FeatureState};
use crate::market::Market;
use crate::num::{Nanos, Symbol, UpdateId};
use crate::wire::binance::Decoder;
use crate::wire::{BookTicker, DepthUpdate, Event, ParseError, Trade};

/// One frame as it came off the wire or out of a capture.
#[derive(Clone, Copy, Debug)]
pub struct RawFrame<'a> {
    /// Local receive time.
    pub recv: Nanos,
    /// The frame body: a WebSocket text frame or a REST response body.
    pub bytes: &'a [u8],
    /// The symbol a REST snapshot was requested for (snapshots do not name it).
    pub symbol_hint: Option<Symbol>,
}

/// Why a frame could not be used. The engine state is unchanged by a failed frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("malformed frame: {0}")]
    Parse(#[from] ParseError),
    #[error("depth snapshot without a symbol (none in the body, the request or the stream)")]
    SnapshotWithoutSymbol,
    #[error(
        "{symbol} carries {got} data but was set up as {expected}; replay spot and futures captures of one symbol separately"
    )]
    MarketMismatch {
        symbol: Symbol,
        expected: Market,
        got: Market,
    },
}

/// Engine settings.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// Forces the market (and so the sync rules); `None` reads it from the data.
    pub market: Option<Market>,
    /// Diffs kept while waiting for a snapshot.
    pub max_buffer: usize,
    /// Recent history kept per symbol for the screen (`None`: none kept).
    pub history: Option<history::HistoryConfig>,
    /// Per-symbol features (`None`: off, the engine keeps books only).
    pub features: Option<FeatureParams>,
    /// Record what the features take in (tests that recompute them independently).
    #[doc(hidden)]
    pub feature_tap: bool,
}

impl EngineConfig {
    /// Books without features (the local exchange, which only serves books).
    pub fn books_only() -> Self {
        EngineConfig {
            features: None,
            ..EngineConfig::default()
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            market: None,
            max_buffer: DEFAULT_MAX_BUFFER,
            history: Some(history::HistoryConfig::default()),
            features: Some(FeatureParams::default()),
            feature_tap: false,
        }
    }
}

/// One frame in this many has its stages timed when a clock is lent.
pub const TIMING_EVERY: u64 = 4;

/// Recent applied diffs remembered for matching late-arriving bookTickers.
const TICKER_HISTORY: usize = 512;
/// Early bookTickers kept while their diff has not arrived.
const TICKER_PENDING: usize = 512;

/// Cross-check of `@bookTicker` against the book: a ticker whose `u` equals an applied diff's
/// final `u` must show exactly the book's best bid/ask (price and quantity) right after that
/// diff, whichever of the two arrived first.
#[derive(Clone, Debug, Default)]
pub struct TickerCheck {
    history: VecDeque<(UpdateId, Bbo)>,
    pending: VecDeque<BookTicker>,
    pub compared: u64,
    pub matched: u64,
    pub mismatched: u64,
}

impl TickerCheck {
    fn compare(&mut self, symbol: Symbol, t: &BookTicker, bbo: &Bbo) {
        self.compared += 1;
        let ok = bbo
            .bid
            .is_some_and(|b| b.price == t.bid_price && b.qty == t.bid_qty)
            && bbo
                .ask
                .is_some_and(|a| a.price == t.ask_price && a.qty == t.ask_qty);
        if ok {
            self.matched += 1;
        } else {
            self.mismatched += 1;
            tracing::warn!(
                %symbol, u = t.update_id,
                ticker = %format!("{} x {} / {} x {}", t.bid_price, t.bid_qty, t.ask_price, t.ask_qty),
                book = ?bbo,
                "bookTicker disagrees with the book after the diff with the same u"
            );
        }
    }

    fn on_applied(&mut self, symbol: Symbol, final_id: UpdateId, bbo: Bbo) {
        while let Some(t) = self.pending.front().copied() {
            if t.update_id > final_id {
                break;
            }
            self.pending.pop_front();
            if t.update_id == final_id {
                self.compare(symbol, &t, &bbo);
            }
        }
        if self.history.len() == TICKER_HISTORY {
            self.history.pop_front();
        }
        self.history.push_back((final_id, bbo));
    }

    fn on_ticker(&mut self, symbol: Symbol, t: &BookTicker, last_applied: Option<UpdateId>) {
        if last_applied.is_some_and(|last| t.update_id <= last) {
            if let Ok(i) = self.history.binary_search_by_key(&t.update_id, |&(u, _)| u) {
                let bbo = self.history[i].1;
                self.compare(symbol, t, &bbo);
            }
            return;
        }
        if self.pending.len() == TICKER_PENDING {
            self.pending.pop_front();
        }
        // Tickers normally arrive in `u` order; keep the queue sorted if one does not.
        let at = self
            .pending
            .iter()
            .rposition(|p| p.update_id <= t.update_id)
            .map_or(0, |i| i + 1);
        self.pending.insert(at, *t);
    }

    fn on_gap(&mut self) {
        self.history.clear();
    }
}

/// Everything the engine keeps for one symbol.
#[derive(Clone, Debug)]
pub struct SymbolState {
    pub symbol: Symbol,
    /// Known once the data (or the user) says.
    pub market: Option<Market>,
    pub sync: BookSync,
    /// WebSocket frames attributed to this symbol (snapshots are counted by the sync).
    pub frames: u64,
    pub trades: u64,
    pub book_tickers: u64,
    pub ticker_check: TickerCheck,
    pub last_trade: Option<Trade>,
    /// Receive time of the last frame for this symbol.
    pub last_recv: Nanos,
    /// Receive time of the last diff-depth frame (staleness is judged from it).
    pub last_depth_recv: Nanos,
    /// Trades and bookTickers seen twice (overlapping connections during a switch-over) and
    /// skipped; depth duplicates are counted by the sync as `stale`.
    pub duplicates: u64,
    /// Recent mid samples, trades and resting-size columns, for the screen.
    pub history: history::History,
    /// The models' state and outputs (when the engine was given models).
    pub signals: Option<Box<crate::ml::signals::Signals>>,
    signals_seen: u64,
    last_trade_ids: [Option<u64>; 2],
    last_ticker_u: Option<UpdateId>,
    forced: bool,
    /// Boxed: it is large and most of the engine's work never looks at it.
    features: Option<Box<FeatureState>>,
}

impl SymbolState {
    fn new(symbol: Symbol, cfg: &EngineConfig) -> Self {
        SymbolState {
            symbol,
            market: cfg.market,
            sync: BookSync::new(cfg.market.map(Market::rules), cfg.max_buffer),
            frames: 0,
            trades: 0,
            book_tickers: 0,
            ticker_check: TickerCheck::default(),
            last_trade: None,
            last_recv: Nanos(0),
            last_depth_recv: Nanos(0),
            duplicates: 0,
            history: history::History::default(),
            signals: None,
            signals_seen: 0,
            last_trade_ids: [None, None],
            last_ticker_u: None,
            forced: cfg.market.is_some(),
            features: cfg.features.map(|p| {
                let mut f = Box::new(FeatureState::new(p));
                if cfg.feature_tap {
                    f.enable_tap();
                }
                f
            }),
        }
    }

    /// The symbol's features (the latest vector is [`FeatureState::vector`]), if enabled.
    pub fn features(&self) -> Option<&FeatureState> {
        self.features.as_deref()
    }

    pub fn book(&self) -> &OrderBook {
        self.sync.book()
    }

    /// `u` of the last bookTicker taken in (duplicates excluded).
    pub fn last_ticker_u(&self) -> Option<UpdateId> {
        self.last_ticker_u
    }

    /// Id of the last trade of this kind taken in (duplicates excluded).
    pub fn last_trade_id(&self, kind: crate::wire::TradeKind) -> Option<u64> {
        self.last_trade_ids[kind as usize]
    }

    /// Sets the market from the data the first time it is seen; refuses a contradiction,
    /// unless the user forced the market (then their word stands).
    fn learn_market(&mut self, seen: Market) -> Result<(), EngineError> {
        match self.market {
            _ if self.forced => Ok(()),
            None => {
                self.market = Some(seen);
                Ok(())
            }
            Some(m) if m.rules() == seen.rules() => Ok(()),
            Some(m) => Err(EngineError::MarketMismatch {
                symbol: self.symbol,
                expected: m,
                got: seen,
            }),
        }
    }
}

/// Engine-wide counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct EngineStats {
    /// Frames offered, including failed ones.
    pub frames: u64,
    /// Valid frames that name no symbol (subscription answers, errors).
    pub unattributed: u64,
    pub errors: u64,
}

/// The engine. Cloning it is a checkpoint (replay seeks restore one).
#[derive(Clone)]
pub struct Engine {
    cfg: EngineConfig,
    decoder: Decoder,
    symbols: Vec<SymbolState>,
    last_idx: usize,
    /// The symbol the last frame changed, if it named one and was taken in.
    touched: Option<usize>,
    /// Times of the last frame (event times from the data; stage durations when a clock is set).
    last: FrameTimes,
    /// A clock the caller lends for stage timings (the engine never reads one of its own).
    clock: Option<fn() -> u64>,
    /// The clock for this frame: one frame in [`TIMING_EVERY`] is timed (a clock read costs
    /// ~20 ns, a frame ~400 ns; the stage histograms are samples anyway).
    frame_clock: Option<fn() -> u64>,
    /// Models handed in by the driver (loaded from files there).
    models: Option<std::sync::Arc<crate::ml::signals::Models>>,
    pub stats: EngineStats,
}

/// What the last frame said about time: exchange times from its content, and — when the
/// caller lent a clock ([`Engine::set_clock`]) — how long parsing, the book and the features
/// took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameTimes {
    /// `E`, ms (diffs, trades, futures bookTickers).
    pub event_ms: Option<u64>,
    /// `T`, ms (futures diffs and bookTickers, trades).
    pub transact_ms: Option<u64>,
    /// Clock readings: start, after parsing, at the end (0 without a clock).
    pub started: u64,
    pub parsed: u64,
    pub done: u64,
    /// Time spent in feature updates (part of `done − parsed`).
    pub features_ns: u64,
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Self {
        Engine {
            cfg,
            decoder: Decoder::new(),
            symbols: Vec::new(),
            last_idx: 0,
            touched: None,
            last: FrameTimes::default(),
            clock: None,
            frame_clock: None,
            models: None,
            stats: EngineStats::default(),
        }
    }

    /// Symbols in order of first appearance.
    pub fn symbols(&self) -> &[SymbolState] {
        &self.symbols
    }

    pub fn symbol(&self, s: Symbol) -> Option<&SymbolState> {
        self.symbols.iter().find(|x| x.symbol == s)
    }

    /// Symbols whose books wait for a REST snapshot (live ingest fetches one for each).
    pub fn snapshot_requests(&self) -> impl Iterator<Item = Symbol> + '_ {
        self.symbols
            .iter()
            .filter(|s| s.sync.needs_snapshot())
            .map(|s| s.symbol)
    }

    fn index(
        symbols: &mut Vec<SymbolState>,
        last: &mut usize,
        s: Symbol,
        cfg: &EngineConfig,
    ) -> usize {
        if symbols.get(*last).is_some_and(|x| x.symbol == s) {
            return *last;
        }
        let i = match symbols.iter().position(|x| x.symbol == s) {
            Some(i) => i,
            None => {
                symbols.push(SymbolState::new(s, cfg));
                symbols.len() - 1
            }
        };
        *last = i;
        i
    }

    /// Forgets a symbol's book continuity (its stream connection was lost): it waits for a new
    /// snapshot, and diffs from the new connection are buffered meanwhile. Also clears the
    /// duplicate filters, since a new connection may legitimately restart from older ids (e.g. a
    /// restarted local exchange).
    pub fn reset_symbol(&mut self, s: Symbol) {
        if let Some(st) = self.symbols.iter_mut().find(|x| x.symbol == s) {
            st.sync.reset();
            st.ticker_check.on_gap();
            if let Some(f) = &mut st.features {
                f.on_gap(None);
            }
            st.last_trade_ids = [None, None];
            st.last_ticker_u = None;
        }
    }

    /// Makes sure a symbol exists (live: before its first frame arrives, so it shows up).
    pub fn add_symbol(&mut self, s: Symbol) {
        Self::index(&mut self.symbols, &mut self.last_idx, s, &self.cfg);
    }

    /// The symbol the last frame was about, when it was taken in (not for frames that failed
    /// or named no symbol): what observers of the engine look at after each frame.
    pub fn touched(&self) -> Option<&SymbolState> {
        self.touched.and_then(|i| self.symbols.get(i))
    }

    /// Runs these models on every symbol's features (context over minute mids, interpretation).
    pub fn set_models(&mut self, models: std::sync::Arc<crate::ml::signals::Models>) {
        self.models = Some(models);
    }

    /// A symbol's models state, to hand it weights or drain its resolved samples.
    pub fn signals_mut(&mut self, s: Symbol) -> Option<&mut crate::ml::signals::Signals> {
        self.symbols
            .iter_mut()
            .find(|x| x.symbol == s)
            .and_then(|x| x.signals.as_deref_mut())
    }

    /// The driver's clock says a symbol is stale (no depth frame within `stale_after`) or
    /// fresh again: the interpretation says so at once.
    pub fn set_stale(&mut self, s: Symbol, stale: bool) {
        if let Some(sig) = self.signals_mut(s) {
            sig.set_stale(stale);
        }
    }

    /// One exchange with an online learner, between frames: every symbol's resolved samples
    /// go to it (scored before, so test-then-train holds), and whatever weights it has
    /// published since the last call are taken in. Call it as often as convenient (after
    /// each batch of frames); it does nothing when no learner queue is on
    /// (`models.pressure_gate.learn_queue == 0`).
    pub fn exchange_with_learner(
        &mut self,
        learner: &mut dyn crate::ml::prequential::PressureLearner,
    ) {
        for st in &mut self.symbols {
            let sym = st.symbol;
            if let Some(sig) = st.signals.as_deref_mut() {
                let name = sym.as_str();
                sig.drain_resolved(|r| learner.submit(name, r));
            }
        }
        let symbols = &mut self.symbols;
        learner.poll(&mut |name, w| {
            if let Some(sig) = symbols
                .iter_mut()
                .find(|x| x.symbol.as_str() == name)
                .and_then(|x| x.signals.as_deref_mut())
                && !sig.set_pressure_weights(w)
            {
                tracing::warn!(
                    symbol = name,
                    "published pressure weights do not fit the model"
                );
            }
        });
    }

    /// Lends the engine a clock (ns, any origin) for stage timings in [`Self::last_times`].
    pub fn set_clock(&mut self, clock: fn() -> u64) {
        self.clock = Some(clock);
    }

    /// Event times and stage timings of the last frame.
    pub fn last_times(&self) -> &FrameTimes {
        &self.last
    }

    /// Decodes and applies one frame.
    pub fn on_frame(&mut self, f: RawFrame<'_>) -> Result<(), EngineError> {
        self.stats.frames += 1;
        self.touched = None;
        self.last = FrameTimes::default();
        self.frame_clock = self
            .clock
            .filter(|_| self.stats.frames.is_multiple_of(TIMING_EVERY));
        if let Some(c) = self.frame_clock {
            self.last.started = c();
        }
        let r = self.apply(f);
        if let Some(c) = self.frame_clock {
            self.last.done = c();
        }
        if r.is_err() {
            self.touched = None;
            self.stats.errors += 1;
        }
        if let (Some(models), Some(i)) = (&self.models, self.touched) {
            let st = &mut self.symbols[i];
            if let Some(f) = st.features.as_deref()
                && f.updates() != st.signals_seen
            {
                st.signals_seen = f.updates();
                let synced = st.sync.is_synced();
                st.signals
                    .get_or_insert_with(|| {
                        Box::new(crate::ml::signals::Signals::new(models.clone()))
                    })
                    .on_features(f.vector(), synced);
            }
        }
        if let (Some(cfg), Some(i)) = (&self.cfg.history, self.touched) {
            let st = &mut self.symbols[i];
            let mut h = std::mem::take(&mut st.history);
            h.observe(cfg, st, f.recv.0);
            st.history = h;
        }
        r
    }

    fn apply(&mut self, f: RawFrame<'_>) -> Result<(), EngineError> {
        let ev = self.decoder.decode(f.bytes)?;
        let clock = self.frame_clock;
        if let Some(c) = clock {
            self.last.parsed = c();
        }
        match ev {
            Event::Depth(d) => {
                self.last.event_ms = Some(d.event_time_ms);
                self.last.transact_ms = d.transact_time_ms;
            }
            Event::Trade(t) => {
                self.last.event_ms = Some(t.event_time_ms);
                self.last.transact_ms = Some(t.trade_time_ms);
            }
            Event::BookTicker(t) => {
                self.last.event_ms = t.event_time_ms;
                self.last.transact_ms = t.transact_time_ms;
            }
            _ => {}
        }
        let feat = &mut self.last.features_ns;
        let symbol = match ev {
            Event::Snapshot(s) => match s.symbol.or(f.symbol_hint) {
                Some(sym) => sym,
                None if self.symbols.len() == 1 => self.symbols[0].symbol,
                None => return Err(EngineError::SnapshotWithoutSymbol),
            },
            _ => match ev.symbol() {
                Some(s) => s,
                None => {
                    self.stats.unattributed += 1;
                    return Ok(());
                }
            },
        };
        let i = Self::index(&mut self.symbols, &mut self.last_idx, symbol, &self.cfg);
        self.touched = Some(i);
        let st = &mut self.symbols[i];
        st.last_recv = f.recv;
        if !matches!(ev, Event::Snapshot(_)) {
            st.frames += 1;
        }
        match ev {
            Event::Depth(d) => {
                st.last_depth_recv = f.recv;
                on_depth(st, d, clock, feat)
            }
            Event::Snapshot(s) => {
                if s.event_time_ms.is_some() {
                    st.learn_market(Market::futures_for(symbol))?;
                }
                let SymbolState {
                    sync,
                    ticker_check,
                    features,
                    ..
                } = st;
                if let Some(f) = features.as_deref_mut() {
                    f.tap_snapshot(s);
                }
                let outcome = sync.on_snapshot(s, &mut |book, d| {
                    ticker_check.on_applied(symbol, d.final_id, book.bbo());
                    if let Some(f) = features.as_deref_mut() {
                        timed(clock, feat, || f.on_book(book, d));
                    }
                });
                if let Some(f) = features.as_deref_mut() {
                    if outcome == SnapshotOutcome::Ignored {
                        f.tap_snapshot_ignored();
                    }
                    // The buffered diffs may break the chain after bridging it.
                    if !sync.is_synced() {
                        f.on_gap(None);
                    }
                }
                Ok(())
            }
            Event::Trade(t) => {
                let slot = &mut st.last_trade_ids[t.kind as usize];
                if slot.is_some_and(|last| t.id <= last) {
                    st.duplicates += 1;
                    return Ok(());
                }
                *slot = Some(t.id);
                st.trades += 1;
                st.last_trade = Some(t);
                if let Some(f) = &mut st.features {
                    timed(clock, feat, || f.on_trade(&t));
                }
                Ok(())
            }
            Event::BookTicker(t) => {
                if st.last_ticker_u.is_some_and(|last| t.update_id <= last) {
                    st.duplicates += 1;
                    return Ok(());
                }
                st.last_ticker_u = Some(t.update_id);
                st.book_tickers += 1;
                let last = st.sync.is_synced().then(|| st.sync.book().last_update_id);
                st.ticker_check.on_ticker(symbol, &t, last);
                if let Some(f) = &mut st.features {
                    timed(clock, feat, || f.on_ticker(&t));
                }
                Ok(())
            }
            Event::Other(_) => Ok(()),
        }
    }
}

/// Runs `f`, adding its duration to `acc` when a clock is lent.
#[inline]
fn timed(clock: Option<fn() -> u64>, acc: &mut u64, f: impl FnOnce()) {
    match clock {
        Some(c) => {
            let t = c();
            f();
            *acc += c().saturating_sub(t);
        }
        None => f(),
    }
}

fn on_depth(
    st: &mut SymbolState,
    d: &DepthUpdate,
    clock: Option<fn() -> u64>,
    feat: &mut u64,
) -> Result<(), EngineError> {
    let seen = if d.prev_final_id.is_some() {
        Market::futures_for(d.symbol)
    } else {
        Market::Spot
    };
    st.learn_market(seen)?;
    let symbol = st.symbol;
    let SymbolState {
        sync,
        ticker_check,
        features,
        ..
    } = st;
    let outcome = sync.on_diff(d, &mut |book, d| {
        ticker_check.on_applied(symbol, d.final_id, book.bbo());
        if let Some(f) = features.as_deref_mut() {
            timed(clock, feat, || f.on_book(book, d));
        }
    });
    if let crate::book::sync::DiffOutcome::Gap(g) = outcome {
        ticker_check.on_gap();
        if let Some(f) = features.as_deref_mut() {
            f.on_gap(Some(d.event_time_ms));
        }
        tracing::warn!(%symbol, expected = g.expected, got = g.got, "sequence gap: book out of sync, snapshot needed");
    }
    Ok(())
}

impl Market {
    /// Sync rules of this market.
    pub fn rules(self) -> Rules {
        match self {
            Market::Spot => Rules::Spot,
            Market::UsdM | Market::CoinM => Rules::Futures,
        }
    }
}
