//! The seeded synthetic market: an endless, deterministic stream of Binance frames.
//!
//! Owns: the simulated markets of the configured symbols ([`model`]), their merge into one
//! time-ordered stream with simulated network latency, and the frames' bytes ([`render`]). Must
//! not touch: I/O, clocks, threads, the engine. It is a [`FrameSource`] like a capture file, so
//! the local test exchange serves it for demos and hours-long soak tests, and tests feed it to the
//! engine directly.
//!
//! # The stream
//! 1. one REST depth snapshot per symbol (every level of its book), then
//! 2. combined-stream WebSocket frames in event-time order: `@trade` as market orders fill,
//!    `@depth@100ms` every 100 ms per symbol (at a per-symbol phase; skipped when nothing
//!    changed), and `@bookTicker` whenever a diff changed the best bid or ask. A ticker carries
//!    that diff's final `u` and exactly the book's best levels after it; it comes just before or
//!    just after its diff, at random, as Binance's separate streams interleave.
//!
//! Spot update ids are contiguous (`U == previous u + 1`); USD-M diffs carry `T` and
//! `pu == previous u` with ids that skip. The first diff straddles the snapshot's
//! `lastUpdateId`, so a book following Binance's procedure syncs with no gap. Receive times
//! trail event times by a drifting 1–4 ms plus up to 1 ms of jitter, and never go backwards
//! (one TCP connection delivers in order). Same seed and config, same bytes.

mod model;
mod render;

use std::collections::VecDeque;

pub use model::Regime;

use crate::klines::SymbolKlines;
use microstate_core::market::Market;
use microstate_core::num::{Nanos, Price, Qty, SCALE, Symbol};
use microstate_core::rng::Rng;
use microstate_core::wire::klines::WireKline;
use microstate_io::record::{CapturedFrame, FrameKind, FrameSource, ReadError};
use model::{DiffOut, Lvl, Spec, SymbolSim, TradeOut};
use render::Names;

/// 2024-01-01T00:00:00Z in nanoseconds since the epoch.
pub const DEFAULT_START_NS: u64 = 1_704_067_200_000_000_000;

/// Simulated time run silently before the stream starts, so the first snapshot shows the
/// model's steady state rather than the seeded initial book.
const BURN_IN_MS: u64 = 20_000;
/// Bounds of the slowly drifting part of the latency, ns.
const LATENCY_MIN_NS: u64 = 1_000_000;
const LATENCY_MAX_NS: u64 = 4_000_000;
/// Per-frame jitter on top, ns (so latency spans 1–5 ms).
const JITTER_NS: u64 = 1_000_000;

/// What to simulate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntheticConfig {
    /// Everything random derives from this: same seed and config, byte-identical frames.
    pub seed: u64,
    /// Symbols to simulate (duplicates are dropped). The first trades like BTC (around 60,000,
    /// tick 0.1), the second like ETH (around 3,000, tick 0.01), the rest around 1.5 (tick
    /// 0.00001). Each symbol's market depends only on the seed and its position in this list.
    pub symbols: Vec<Symbol>,
    /// Time of the first event, ns since the epoch.
    pub start_ns: u64,
    /// `Spot` or `UsdM` wire format and sequencing. `CoinM` is produced in the USD-M format.
    pub market: Market,
}

impl SyntheticConfig {
    /// Spot, starting at 2024-01-01T00:00:00Z.
    pub fn new(seed: u64, symbols: Vec<Symbol>) -> Self {
        SyntheticConfig {
            seed,
            symbols,
            start_ns: DEFAULT_START_NS,
            market: Market::Spot,
        }
    }
}

/// A frame decided but not yet written. Frames are written lazily, one per `advance`, and the
/// simulation only moves on once all are out, so a diff's levels are read from its book exactly
/// as they stood when it was published.
#[derive(Clone, Copy, Debug)]
enum Pending {
    Snapshot(usize),
    Trade(usize, TradeOut),
    Depth(usize, DiffOut),
    Ticker(usize, DiffOut, Lvl, Lvl),
}

/// The generator. Never ends: [`FrameSource::advance`] always yields a frame (unless no symbol
/// was configured, when the stream is empty).
pub struct SyntheticSource {
    sims: Vec<SymbolSim>,
    names: Vec<Names>,
    symbols: Vec<Symbol>,
    /// Latency, jitter and interleaving choices (per-symbol markets have their own streams).
    rng: Rng,
    queue: VecDeque<Pending>,
    trades: Vec<TradeOut>,
    /// Scratch for a diff's sorted prices.
    bid_ticks: Vec<u64>,
    ask_ticks: Vec<u64>,
    start_ms: u64,
    now_ms: u64,
    latency_ns: u64,
    last_recv: u64,
    frame: CapturedFrame,
    files: Vec<String>,
    seed: u64,
    /// Each symbol's mid at the start (ticks ×2, so a half-tick mid stays exact).
    start_mid2: Vec<u64>,
}

/// Minutes of history [`SyntheticSource::history_klines`] gives by default: 24 hours and the
/// context model's 4-hour lookback on top, so a client starting at once has both.
pub const HISTORY_MINUTES: usize = 24 * 60 + 240;

impl SyntheticSource {
    pub fn new(cfg: SyntheticConfig) -> Self {
        let futures = cfg.market != Market::Spot;
        let mut symbols: Vec<Symbol> = Vec::with_capacity(cfg.symbols.len());
        for s in cfg.symbols {
            if !symbols.contains(&s) {
                symbols.push(s);
            }
        }
        let start_ms = cfg.start_ns / 1_000_000;
        let mut sims = Vec::with_capacity(symbols.len());
        let mut names = Vec::with_capacity(symbols.len());
        for (i, s) in symbols.iter().enumerate() {
            let spec = Spec::for_index(i, futures);
            let rng = Rng::new(cfg.seed, i as u64 + 1);
            let mut sim = SymbolSim::new(spec, futures, rng, start_ms, BURN_IN_MS);
            sim.begin_capture(start_ms);
            sims.push(sim);
            names.push(Names {
                upper: s.as_str().to_owned(),
                lower: s.lower(),
                futures,
                spec,
            });
        }
        let start_mid2 = sims
            .iter()
            .map(|sim| match (sim.bids.best(), sim.asks.best()) {
                (Some(b), Some(a)) => b.ticks + a.ticks,
                _ => 2 * sim.spec.base_ticks,
            })
            .collect();
        let queue = (0..sims.len()).map(Pending::Snapshot).collect();
        let mut rng = Rng::new(cfg.seed, 0);
        let latency_ns = LATENCY_MIN_NS + rng.below(LATENCY_MAX_NS - LATENCY_MIN_NS);
        SyntheticSource {
            files: vec![format!(
                "synthetic:{}:seed={}:{}",
                cfg.market,
                cfg.seed,
                symbols
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )],
            sims,
            names,
            symbols,
            rng,
            queue,
            trades: Vec::with_capacity(16),
            bid_ticks: Vec::with_capacity(64),
            ask_ticks: Vec::with_capacity(64),
            start_ms,
            now_ms: start_ms,
            latency_ns,
            last_recv: 0,
            frame: CapturedFrame::default(),
            seed: cfg.seed,
            start_mid2,
        }
    }

    /// The market's 1-minute history before it starts: `minutes` klines per symbol, the last
    /// one closing at the start minute at the mid of the first snapshot, so the history runs
    /// straight into the live prices. Deterministic from the seed (each symbol its own stream,
    /// integer arithmetic only). The walk moves about 2 bp a minute with a slowly changing
    /// drift, so the trend has stretches of every label. Synthetic: a screen showing a context
    /// built on it must say so.
    pub fn history_klines(&self, minutes: usize) -> Vec<SymbolKlines> {
        let start_min = self.start_ms - self.start_ms % 60_000;
        self.sims
            .iter()
            .zip(&self.symbols)
            .zip(&self.start_mid2)
            .enumerate()
            .map(|(i, ((sim, &symbol), &mid2))| {
                let spec = sim.spec;
                let mut rng = Rng::new(self.seed, 0x4B4C_0000 + i as u64);
                // Half-ticks throughout: the start mid may sit between two ticks.
                let sigma = (spec.base_ticks * 2 * 2 / 10_000).max(2) as i64;
                let floor = spec.base_ticks as i64;
                let mut p = vec![0i64; minutes + 1];
                p[minutes] = mid2 as i64;
                let mut drift = 0i64;
                let u = |rng: &mut Rng, w: i64| rng.below(2 * w as u64 + 1) as i64 - w;
                for k in (0..minutes).rev() {
                    drift = drift * 31 / 32 + u(&mut rng, (sigma / 8).max(1));
                    let step: i64 = (0..4).map(|_| u(&mut rng, sigma)).sum::<i64>() + drift;
                    p[k] = (p[k + 1] - step).max(floor);
                }
                let half_tick = spec.tick / 2;
                let px = |h: i64| Price(h as u64 * half_tick);
                let klines = (0..minutes)
                    .map(|j| {
                        let open_ms = start_min - (minutes - j) as u64 * 60_000;
                        let (o, c) = (p[j], p[j + 1]);
                        let wick = (sigma / 2).max(1);
                        let hi = o.max(c) + rng.below(wick as u64) as i64;
                        let lo = (o.min(c) - rng.below(wick as u64) as i64).max(1);
                        let lots = spec.unit * (20 + rng.below(40));
                        let qty = lots * spec.lot;
                        let close = px(c);
                        WireKline {
                            open_time_ms: open_ms,
                            open: px(o),
                            high: px(hi),
                            low: px(lo),
                            close,
                            volume: Qty(qty),
                            close_time_ms: open_ms + 59_999,
                            quote_volume: Qty(
                                (close.0 as u128 * qty as u128 / SCALE as u128) as u64
                            ),
                            trades: 20 + rng.below(40),
                        }
                    })
                    .collect();
                SymbolKlines {
                    symbol,
                    klines,
                    source: format!("synthetic history (seed {})", self.seed),
                }
            })
            .collect()
    }

    /// The symbols simulated, in configuration order (duplicates dropped).
    pub fn symbols(&self) -> &[Symbol] {
        &self.symbols
    }

    /// The current order-flow regime of `symbol`'s market.
    pub fn regime(&self, symbol: Symbol) -> Option<Regime> {
        let i = self.symbols.iter().position(|&s| s == symbol)?;
        Some(self.sims[i].regime)
    }

    /// Simulated event time reached, ns since the epoch.
    pub fn now(&self) -> Nanos {
        Nanos(self.now_ms * 1_000_000)
    }

    /// Runs one millisecond of every market, queueing the frames it produced.
    fn step(&mut self) {
        self.now_ms += 1;
        let now = self.now_ms;
        for (i, sim) in self.sims.iter_mut().enumerate() {
            self.trades.clear();
            sim.step_ms(now, &mut self.trades);
            self.queue
                .extend(self.trades.iter().map(|&t| Pending::Trade(i, t)));
            if now < sim.next_publish_ms {
                continue;
            }
            let Some(d) = sim.publish(now) else { continue };
            let ticker = sim.ticker().map(|(b, a)| Pending::Ticker(i, d, b, a));
            match ticker {
                Some(t) if self.rng.below(2) == 0 => {
                    self.queue.push_back(t);
                    self.queue.push_back(Pending::Depth(i, d));
                }
                Some(t) => {
                    self.queue.push_back(Pending::Depth(i, d));
                    self.queue.push_back(t);
                }
                None => self.queue.push_back(Pending::Depth(i, d)),
            }
        }
    }

    /// Receive time of a frame sent at `event_ms`: latency drifts in a bounded random walk, plus
    /// jitter, and arrivals stay in order.
    fn recv(&mut self, event_ms: u64) -> Nanos {
        let step = self.rng.below(100_001);
        self.latency_ns = (self.latency_ns + step)
            .saturating_sub(50_000)
            .clamp(LATENCY_MIN_NS, LATENCY_MAX_NS);
        let t = event_ms * 1_000_000 + self.latency_ns + self.rng.below(JITTER_NS);
        self.last_recv = t.max(self.last_recv + 1);
        Nanos(self.last_recv)
    }

    fn write(&mut self, p: Pending) {
        match p {
            Pending::Snapshot(i) => {
                let recv = self.recv(self.start_ms);
                let (sim, names, ms) = (&self.sims[i], &self.names[i], self.start_ms);
                self.frame
                    .write(recv, FrameKind::Rest, Some(self.symbols[i]), |buf| {
                        names.snapshot(buf, &sim.bids, &sim.asks, sim.last_id, ms)
                    });
            }
            Pending::Trade(i, t) => {
                let recv = self.recv(t.time_ms);
                let names = &self.names[i];
                self.frame
                    .write(recv, FrameKind::Ws, None, |buf| names.trade(buf, &t));
            }
            Pending::Ticker(i, d, bid, ask) => {
                let recv = self.recv(d.event_ms);
                let names = &self.names[i];
                self.frame.write(recv, FrameKind::Ws, None, |buf| {
                    names.book_ticker(buf, d.last, bid, ask, d.event_ms, d.transact_ms)
                });
            }
            Pending::Depth(i, d) => {
                let recv = self.recv(d.event_ms);
                let sim = &mut self.sims[i];
                // Binance lists a diff's bids high to low and its asks low to high.
                self.bid_ticks.clear();
                self.bid_ticks.extend_from_slice(&sim.bids.touched);
                self.bid_ticks.sort_unstable_by(|a, b| b.cmp(a));
                self.ask_ticks.clear();
                self.ask_ticks.extend_from_slice(&sim.asks.touched);
                self.ask_ticks.sort_unstable();
                sim.bids.touched.clear();
                sim.asks.touched.clear();
                let (sim, names) = (&self.sims[i], &self.names[i]);
                let (bt, at) = (&self.bid_ticks, &self.ask_ticks);
                self.frame.write(recv, FrameKind::Ws, None, |buf| {
                    names.depth(buf, &d, &sim.bids, bt, &sim.asks, at)
                });
            }
        }
    }
}

impl FrameSource for SyntheticSource {
    fn advance(&mut self) -> Result<bool, ReadError> {
        if self.sims.is_empty() {
            return Ok(false);
        }
        loop {
            if let Some(p) = self.queue.pop_front() {
                self.write(p);
                return Ok(true);
            }
            self.step();
        }
    }

    fn current(&self) -> &CapturedFrame {
        &self.frame
    }

    fn files(&self) -> &[String] {
        &self.files
    }
}

#[cfg(test)]
mod tests;
