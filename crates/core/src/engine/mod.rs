//! The engine: one owner for every symbol's market state, driven one raw frame at a time.
//!
//! Owns: the decoder, each symbol's [`BookSync`], its [`FeatureState`], the bookTicker
//! cross-check, per-symbol counters, and the routing of REST kline answers into the context
//! history ([`Engine::seed_context`], [`Engine::context_wants`]). Must not touch: I/O, clocks (receive times arrive on the frames), the screen. Live
//! ingest, replay, tests and benchmarks all drive this same code through [`Engine::on_frame`].

pub mod history;

use std::collections::{HashMap, VecDeque};

use crate::book::sync::{BookSync, DEFAULT_MAX_BUFFER, Rules};
use crate::book::{Bbo, OrderBook};
use crate::features::{FeatureParams, FeatureState};
use crate::limits::{LimitCounters, Limits};
use crate::market::Market;
use crate::ml::context::SeedOutcome;
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
        "kline answer without a symbol (REST kline bodies need the symbol they were asked for)"
    )]
    KlinesWithoutSymbol,
    #[error(
        "{symbol} carries {got} data but was set up as {expected}; replay spot and futures captures of one symbol separately"
    )]
    MarketMismatch {
        symbol: Symbol,
        expected: Market,
        got: Market,
    },
    #[error(
        "{symbol}: {levels} levels on one side, more than limits.max_levels ({max}): refused whole"
    )]
    TooManyLevels {
        symbol: Symbol,
        levels: usize,
        max: usize,
    },
    #[error("{symbol}: a new symbol beyond limits.max_symbols ({max}): its frames are refused")]
    TooManySymbols { symbol: Symbol, max: usize },
}

/// Engine settings.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// Forces the market (and so the sync rules); `None` reads it from the data.
    pub market: Option<Market>,
    /// Diffs kept while waiting for a snapshot.
    pub max_buffer: usize,
    /// Caps on what the input decides (levels, symbols, window entries, stale runs).
    pub limits: Limits,
    /// Recent history kept per symbol for the screen (`None`: none kept).
    pub history: Option<history::HistoryConfig>,
    /// Per-symbol features (`None`: off, the engine keeps books only).
    pub features: Option<FeatureParams>,
    /// Record what the features take in (tests that recompute them independently). A test-only
    /// cargo feature (`tap`) rather than a constructor argument: the tap keeps every input in
    /// a growing list, so a build that could switch it on in a long live session would be a
    /// leak waiting for a typo; without the feature the field, the list and every check of it
    /// are not compiled at all. The app enables it through a dev-dependency, for its tests only.
    #[cfg(feature = "tap")]
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
            limits: Limits::default(),
            history: Some(history::HistoryConfig::default()),
            features: Some(FeatureParams::default()),
            #[cfg(feature = "tap")]
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
    /// Recent mid samples, trades and resting-size columns, for the screen: shared with the
    /// views that show it, changed copy-on-write (see [`history`]).
    pub history: std::sync::Arc<history::History>,
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
            sync: BookSync::new(cfg.market.map(Market::rules), cfg.max_buffer)
                .with_max_stale_run(cfg.limits.max_stale_run),
            frames: 0,
            trades: 0,
            book_tickers: 0,
            ticker_check: TickerCheck::default(),
            last_trade: None,
            last_recv: Nanos(0),
            last_depth_recv: Nanos(0),
            duplicates: 0,
            history: std::sync::Arc::default(),
            signals: None,
            signals_seen: 0,
            last_trade_ids: [None, None],
            last_ticker_u: None,
            forced: cfg.market.is_some(),
            features: cfg.features.map(|p| {
                #[allow(unused_mut)]
                let mut f = Box::new(FeatureState::new(p));
                f.set_max_window_entries(cfg.limits.max_window_entries);
                #[cfg(feature = "tap")]
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

/// The engine's symbol table, borrowed apart from the decoder (whose event borrows it).
struct Slots<'a> {
    symbols: &'a mut Vec<SymbolState>,
    by_symbol: &'a mut HashMap<Symbol, usize>,
    last: &'a mut usize,
    refused: &'a mut u64,
    cfg: &'a EngineConfig,
}

impl Slots<'_> {
    /// The symbol's slot, made if new; `None` (counted) when a new one would pass
    /// `limits.max_symbols`. O(1): the last symbol, else a hash lookup.
    fn index(self, s: Symbol) -> Option<usize> {
        if self.symbols.get(*self.last).is_some_and(|x| x.symbol == s) {
            return Some(*self.last);
        }
        let i = match self.by_symbol.get(&s) {
            Some(&i) => i,
            None if self.symbols.len() >= self.cfg.limits.max_symbols => {
                *self.refused += 1;
                if *self.refused == 1 {
                    tracing::warn!(
                        %s, max = self.cfg.limits.max_symbols,
                        "more symbols than limits.max_symbols: frames of new ones are refused"
                    );
                }
                return None;
            }
            None => {
                self.symbols.push(SymbolState::new(s, self.cfg));
                let i = self.symbols.len() - 1;
                self.by_symbol.insert(s, i);
                i
            }
        };
        *self.last = i;
        Some(i)
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
    /// Frames and symbols the engine's own bounds refused (levels, symbols); the sync's and
    /// the features' trips are per symbol ([`Engine::limit_counters`] adds them up).
    pub limits: LimitCounters,
    /// Frames about a symbol that was never added while the engine takes only added symbols
    /// ([`Engine::only_added_symbols`]): dropped, no book made for them.
    pub unsolicited: u64,
    /// Frames about a symbol removed while running ([`Engine::remove_symbol`]) that were
    /// already on their way: dropped, but not a peer's fault.
    pub after_removal: u64,
}

/// The engine. Cloning it is a checkpoint (replay seeks restore one).
#[derive(Clone)]
pub struct Engine {
    cfg: EngineConfig,
    decoder: Decoder,
    symbols: Vec<SymbolState>,
    /// Where each symbol is in `symbols` (a linear search took seconds at 30k symbols).
    by_symbol: HashMap<Symbol, usize>,
    last_idx: usize,
    /// Only symbols added with [`Engine::add_symbol`] are kept (live sessions).
    closed: bool,
    /// Symbols removed while running: their late frames are not counted as unsolicited.
    removed: std::collections::HashSet<Symbol>,
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
            by_symbol: HashMap::new(),
            last_idx: 0,
            closed: false,
            removed: std::collections::HashSet::new(),
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
        self.by_symbol.get(&s).and_then(|&i| self.symbols.get(i))
    }

    fn symbol_mut(&mut self, s: Symbol) -> Option<&mut SymbolState> {
        self.by_symbol
            .get(&s)
            .and_then(|&i| self.symbols.get_mut(i))
    }

    /// Every bound that tripped so far: the engine's own (levels, symbols) plus each symbol's
    /// sync (impossible ids, stale runs) and features (window entries).
    pub fn limit_counters(&self) -> LimitCounters {
        let mut c = self.stats.limits;
        for st in &self.symbols {
            let k = st.sync.counters();
            c.bad_ids += k.bad_ids;
            c.stale_runs += k.stale_runs;
            if let Some(f) = st.features.as_deref() {
                c.window_entries += f.window_evictions();
            }
        }
        c
    }

    /// Symbols whose books wait for a REST snapshot (live ingest fetches one for each).
    pub fn snapshot_requests(&self) -> impl Iterator<Item = Symbol> + '_ {
        self.symbols
            .iter()
            .filter(|s| s.sync.needs_snapshot())
            .map(|s| s.symbol)
    }

    /// The symbol's slot, made if new; `None` (counted) when a new one would pass
    /// `limits.max_symbols`.
    fn index(&mut self, s: Symbol) -> Option<usize> {
        Slots {
            symbols: &mut self.symbols,
            by_symbol: &mut self.by_symbol,
            last: &mut self.last_idx,
            refused: &mut self.stats.limits.symbols,
            cfg: &self.cfg,
        }
        .index(s)
    }

    /// Forgets a symbol's book continuity (its stream connection was lost): it waits for a new
    /// snapshot, and diffs from the new connection are buffered meanwhile. Also clears the
    /// duplicate filters, since a new connection may legitimately restart from older ids (e.g. a
    /// restarted local exchange).
    pub fn reset_symbol(&mut self, s: Symbol) {
        if let Some(st) = self.symbol_mut(s) {
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
    /// `false` when `limits.max_symbols` refused it.
    pub fn add_symbol(&mut self, s: Symbol) -> bool {
        self.removed.remove(&s);
        self.index(s).is_some()
    }

    /// Forgets a symbol (live: it was unsubscribed): its book, features and history go, and
    /// while the engine takes only added symbols ([`Self::only_added_symbols`]), frames still
    /// in flight for it are dropped (counted in [`EngineStats::after_removal`], not as
    /// unsolicited). `false` when it was not there.
    pub fn remove_symbol(&mut self, s: Symbol) -> bool {
        let Some(i) = self.by_symbol.remove(&s) else {
            return false;
        };
        self.symbols.remove(i);
        for (j, st) in self.symbols.iter().enumerate().skip(i) {
            self.by_symbol.insert(st.symbol, j);
        }
        self.last_idx = 0;
        self.touched = None;
        self.removed.insert(s);
        true
    }

    /// From now on, frames and snapshots about a symbol not added with [`Self::add_symbol`]
    /// are counted ([`EngineStats::unsolicited`]) and dropped: a peer that streams symbols
    /// nobody subscribed to cannot make books (nor snapshot requests) for them. Live sessions
    /// set this; replays keep every symbol a capture holds.
    pub fn only_added_symbols(&mut self) {
        self.closed = true;
    }

    /// Frame counters (offered, unattributed, refused, unsolicited).
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// The symbol the last frame was about, when it was taken in (not for frames that failed
    /// or named no symbol): what observers of the engine look at after each frame.
    pub fn touched(&self) -> Option<&SymbolState> {
        self.touched.and_then(|i| self.symbols.get(i))
    }

    /// Seeds `symbol`'s context history from fetched minute prices (`(minute_ms, price)`: the
    /// price at that minute boundary, i.e. a closed 1-minute kline's close at `open_time + 1
    /// min`), merging them with what the live minutes already hold
    /// ([`crate::ml::context::ContextState::seed`]). With 240 minutes the context is ready at
    /// once; after a gap, the fetched minutes refill it instead of a new 4-hour warm-up. The
    /// symbol is added if new. Needs models ([`Self::set_models`]).
    pub fn seed_context(
        &mut self,
        symbol: Symbol,
        minutes: &[(i64, f64)],
    ) -> Result<SeedOutcome, SeedError> {
        let models = self.models.clone().ok_or(SeedError::NoModels)?;
        let i = self.index(symbol).ok_or(SeedError::TooManySymbols)?;
        let sig = self.symbols[i]
            .signals
            .get_or_insert_with(|| Box::new(crate::ml::signals::Signals::new(models)));
        Ok(sig.seed_context(minutes))
    }

    /// The 1-minute klines each symbol's context lacks at `now_ms` (ms since the epoch: wall
    /// time live, the frames' time in a replay): the whole lookback while it warms up, the
    /// missing minutes after a gap. A driver fetches them (inside its request-weight budget,
    /// one request in flight per symbol, backing off when an answer did not help) and feeds the
    /// answer back through [`Self::on_frame`] with the symbol as hint, or calls
    /// [`Self::seed_context`]. Empty without models.
    pub fn context_wants(&self, now_ms: i64) -> Vec<KlineWant> {
        if self.models.is_none() {
            return Vec::new();
        }
        self.symbols
            .iter()
            .filter_map(|st| {
                let state = st.signals.as_deref().map(|s| s.context_state());
                kline_want(st.symbol, state, now_ms)
            })
            .collect()
    }

    /// Runs these models on every symbol's features (context over minute mids, interpretation).
    /// Whether models were given ([`Self::set_models`]).
    pub fn has_models(&self) -> bool {
        self.models.is_some()
    }

    pub fn set_models(&mut self, models: std::sync::Arc<crate::ml::signals::Models>) {
        self.models = Some(models);
    }

    /// A symbol's models state, to hand it weights or drain its resolved samples.
    pub fn signals_mut(&mut self, s: Symbol) -> Option<&mut crate::ml::signals::Signals> {
        self.symbol_mut(s).and_then(|x| x.signals.as_deref_mut())
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
            let SymbolState {
                history,
                trades,
                last_trade,
                sync,
                ..
            } = &mut self.symbols[i];
            let seen = history::Observed {
                trades: *trades,
                last_trade: last_trade.as_ref(),
                sync,
            };
            // Written only when something is added: a view sharing it keeps the old one.
            if history.wants(&seen, f.recv.0) {
                std::sync::Arc::make_mut(history).observe(cfg, &seen, f.recv.0);
            }
        }
        r
    }

    fn apply(&mut self, f: RawFrame<'_>) -> Result<(), EngineError> {
        if crate::wire::klines::is_klines_body(f.bytes) {
            return self.on_klines(f);
        }
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
        if self.closed && !self.by_symbol.contains_key(&symbol) {
            if self.removed.contains(&symbol) {
                self.stats.after_removal += 1;
            } else {
                self.stats.unsolicited += 1;
            }
            return Ok(());
        }
        let max = self.cfg.limits.max_levels;
        let levels = match &ev {
            Event::Depth(d) => d.bids.len().max(d.asks.len()),
            Event::Snapshot(s) => s.bids.len().max(s.asks.len()),
            _ => 0,
        };
        if levels > max {
            self.stats.limits.levels += 1;
            return Err(EngineError::TooManyLevels {
                symbol,
                levels,
                max,
            });
        }
        let i = Slots {
            symbols: &mut self.symbols,
            by_symbol: &mut self.by_symbol,
            last: &mut self.last_idx,
            refused: &mut self.stats.limits.symbols,
            cfg: &self.cfg,
        }
        .index(symbol)
        .ok_or(EngineError::TooManySymbols {
            symbol,
            max: self.cfg.limits.max_symbols,
        })?;
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
                #[cfg(feature = "tap")]
                if let Some(f) = features.as_deref_mut() {
                    f.tap_snapshot(s);
                }
                let _outcome = sync.on_snapshot(s, &mut |book, d| {
                    ticker_check.on_applied(symbol, d.final_id, book.bbo());
                    if let Some(f) = features.as_deref_mut() {
                        timed(clock, feat, || f.on_book(book, d));
                    }
                });
                if let Some(f) = features.as_deref_mut() {
                    #[cfg(feature = "tap")]
                    if _outcome == crate::book::sync::SnapshotOutcome::Ignored {
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

impl Engine {
    /// A REST kline answer: seeds the symbol's context with the minutes that are over at the
    /// frame's receive time (an in-progress kline's close is not a close yet).
    fn on_klines(&mut self, f: RawFrame<'_>) -> Result<(), EngineError> {
        let klines = crate::wire::klines::parse_klines(f.bytes)?;
        let symbol = f.symbol_hint.ok_or(EngineError::KlinesWithoutSymbol)?;
        if self.models.is_none() {
            // Books only (the local exchange): nothing keeps minute prices.
            self.stats.unattributed += 1;
            return Ok(());
        }
        let now_ms = f.recv.0 / 1_000_000;
        let minutes: Vec<(i64, f64)> = klines
            .iter()
            .filter(|k| k.closed_at(now_ms))
            .map(|k| k.close_sample())
            .collect();
        if let Err(e) = self.seed_context(symbol, &minutes) {
            tracing::debug!(%symbol, "klines not used: {e}");
        }
        self.touched = self.by_symbol.get(&symbol).copied();
        Ok(())
    }
}

/// Why minute prices could not seed a context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error("no models: the engine keeps no context history without them")]
    NoModels,
    #[error("a new symbol beyond limits.max_symbols")]
    TooManySymbols,
}

/// Klines a symbol's context wants: open times `start_ms ..= end_ms` (1-minute klines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KlineWant {
    pub symbol: Symbol,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl KlineWant {
    /// How many 1-minute klines the range spans.
    pub fn minutes(&self) -> i64 {
        (self.end_ms - self.start_ms) / crate::ml::context::MINUTE_MS + 1
    }
}

/// Extra minutes asked for on top of the lookback (a few missing minutes are filled anyway).
pub const KLINE_WANT_MARGIN: i64 = 10;

fn kline_want(
    symbol: Symbol,
    state: Option<&crate::ml::context::ContextState>,
    now_ms: i64,
) -> Option<KlineWant> {
    use crate::ml::context::{LOOKBACK, MINUTE_MS};
    // The last closed kline opened a minute before the current minute's start.
    let current = now_ms - now_ms.rem_euclid(MINUTE_MS);
    let end_ms = current - MINUTE_MS;
    let ready = state.is_some_and(|s| s.is_ready());
    let start_ms = match state.and_then(|s| s.last_ts()) {
        // Ready, and only the boundary now under way may still be unsampled: nothing wanted.
        Some(last) if ready && last >= current - MINUTE_MS => return None,
        // Ready with a hole: from the kline that closes at the last price held.
        Some(last) if ready => last - MINUTE_MS,
        _ => end_ms - (LOOKBACK as i64 + KLINE_WANT_MARGIN) * MINUTE_MS,
    };
    (start_ms <= end_ms).then_some(KlineWant {
        symbol,
        start_ms,
        end_ms,
    })
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

#[cfg(test)]
mod tests;

/// Context seeding through the engine: kline answers and `seed_context`.
#[cfg(test)]
mod context_tests {
    use super::*;
    use crate::ml::context::{ContextModel, LOOKBACK, MINUTE_MS};
    use crate::ml::signals::Models;
    use crate::summary::SymbolSummary;

    fn engine() -> Engine {
        let mut e = Engine::new(EngineConfig::default());
        let mut m = Models::none("test");
        m.context = Ok(ContextModel::seeded(1));
        e.set_models(std::sync::Arc::new(m));
        e
    }

    /// A Binance kline answer for `n` minutes whose last kline opens at `last_open`.
    fn answer(n: usize, last_open: i64) -> String {
        let rows: Vec<String> = (0..n)
            .map(|i| {
                let open = last_open - (n - 1 - i) as i64 * MINUTE_MS;
                let c = 60_000.0 + 10.0 * ((i as f64) / 9.0).sin() + i as f64 * 0.5;
                format!(
                    "[{open},\"{c:.2}\",\"{c:.2}\",\"{c:.2}\",\"{c:.2}\",\"1.5\",{},\"90000.0\",12,\"0.7\",\"42000.0\",\"0\"]",
                    open + MINUTE_MS - 1
                )
            })
            .collect();
        format!("[{}]", rows.join(","))
    }

    #[test]
    fn a_kline_answer_through_on_frame_makes_the_context_ready() {
        let mut e = engine();
        let s: Symbol = "BTCUSDT".parse().expect("symbol");
        let now_ms: i64 = 1_723_161_605_000; // 2024-08-09 00:00:05
        let current = now_ms - now_ms % MINUTE_MS;
        // Nothing held yet: the whole lookback (plus a margin) is wanted once the symbol exists.
        assert!(e.context_wants(now_ms).is_empty());
        e.add_symbol(s);
        let w = e.context_wants(now_ms);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].end_ms, current - MINUTE_MS);
        assert_eq!(w[0].minutes(), LOOKBACK as i64 + KLINE_WANT_MARGIN + 1);
        // Binance includes the kline still in progress: it must not count as a close.
        let body = answer(300, current);
        e.on_frame(RawFrame {
            recv: Nanos(now_ms as u64 * 1_000_000),
            bytes: body.as_bytes(),
            symbol_hint: Some(s),
        })
        .expect("klines");
        let st = e.symbol(s).expect("symbol");
        let sig = st.signals.as_deref().expect("signals");
        assert!(sig.context_state().is_ready());
        assert_eq!(
            sig.context_state().last_ts(),
            Some(current),
            "last close at the boundary now"
        );
        assert_eq!(sig.context_state().seeded, 299);
        let sum = serde_json::to_value(SymbolSummary::of(st)).expect("json");
        assert_eq!(sum["models"]["context"]["state"], "ready");
        assert_eq!(sum["models"]["context"]["history_minutes"], LOOKBACK as u64);
        assert_eq!(
            sum["models"]["context"]["trend"].as_array().map(Vec::len),
            Some(2)
        );
        assert!(e.context_wants(now_ms).is_empty(), "nothing missing");
        // Five minutes without data: the missing minutes are wanted, from the last close held.
        let later = now_ms + 5 * MINUTE_MS;
        let w = e.context_wants(later);
        assert_eq!(w[0].start_ms, current - MINUTE_MS);
        assert_eq!(w[0].end_ms, current + 4 * MINUTE_MS);
        // A kline answer without the symbol it was asked for is refused, the state unchanged.
        let r = e.on_frame(RawFrame {
            recv: Nanos(later as u64 * 1_000_000),
            bytes: body.as_bytes(),
            symbol_hint: None,
        });
        assert_eq!(r, Err(EngineError::KlinesWithoutSymbol));
        let bad = e.on_frame(RawFrame {
            recv: Nanos(later as u64 * 1_000_000),
            bytes: b"[[1,\"x\"]]",
            symbol_hint: Some(s),
        });
        assert!(matches!(bad, Err(EngineError::Parse(_))));
    }

    #[test]
    fn seeding_needs_models_and_a_warming_summary_says_so() {
        let mut plain = Engine::new(EngineConfig::default());
        let s: Symbol = "ETHUSDT".parse().expect("symbol");
        assert_eq!(plain.seed_context(s, &[(0, 1.0)]), Err(SeedError::NoModels));
        let mut e = engine();
        let o = e
            .seed_context(s, &[(60_000, 1.0), (120_000, 1.1)])
            .expect("models");
        assert!(!o.ready);
        let sum =
            serde_json::to_value(SymbolSummary::of(e.symbol(s).expect("symbol"))).expect("json");
        assert_eq!(sum["models"]["context"]["state"], "warming_up");
        assert_eq!(sum["models"]["context"]["history_minutes"], 1);
        assert_eq!(
            sum["models"]["context"]["minutes_left"],
            LOOKBACK as u64 - 1
        );
    }
}
