//! One symbol's simulated market: a price-level book driven by a queue-reactive order flow with
//! Markov regime switching.
//!
//! Owns: the symbol's book (integer ticks and lots), its update-id counter, its trade ids, its
//! regime and the set of levels changed since the last published diff. Must not touch: wire
//! formats, receive times or other symbols (the source in `mod.rs` merges and renders).
//!
//! # The model
//! A zero-intelligence limit-order-book model in the spirit of Cont, Stoikov & Talreja (2010),
//! simulated in 1 ms slots (at most one book event per slot; the total rate stays far below one
//! per millisecond, so this is a close binomial stand-in for the Poisson clock):
//! - **limit orders** arrive on each side at a constant rate, at a distance `δ ≥ 1` tick from the
//!   *opposite* best quote with `P(δ) ∝ 1/(δ+6)`, so most land at or near the touch and some
//!   inside a wide spread (which closes it). A bid is therefore always below the best ask and an
//!   ask above the best bid: the book cannot cross.
//! - **cancels** hit each side at a rate proportional to the quantity resting there, and pick
//!   their level with probability proportional to its quantity (cancel intensity ∝ queue size).
//! - **market orders** consume the touch, walking a few levels when large, and print one trade
//!   per resting order they fill.
//! - **regimes** switch as a Markov chain checked every 100 ms: calm (symmetric flow) and trending
//!   up or down (more aggressive buying or selling, thinner quoting on the side being lifted),
//!   with mean stays of minutes. A trend's direction leans back towards the base price, so a
//!   soak test running for days stays near its base instead of wandering off.
//!
//! Every individual change to a level consumes one update id (futures also skip ids at random,
//! as Binance's futures ids are not contiguous). A side never drops below [`MIN_LEVELS`] (deep
//! liquidity is topped up beyond the last level) nor grows past [`MAX_LEVELS`] (the level
//! farthest from the touch is cancelled), so the state stays O(levels).

use microstate_core::num::SCALE;
use microstate_core::rng::Rng;

/// Fewest levels a side keeps; below this, liquidity is added beyond the deepest level.
pub(crate) const MIN_LEVELS: usize = 40;
/// Most levels a side keeps; above this, the deepest level is cancelled.
pub(crate) const MAX_LEVELS: usize = 300;
/// Farthest a new limit order lands from the opposite best quote, in ticks.
const MAX_DISTANCE: u64 = 150;
/// Most levels one market order walks.
const MAX_WALK: usize = 6;

/// Rates are in events per second × 1024 so that tilts and sums stay in integers.
const RATE_ONE: u64 = 1024;
/// Limit-order arrivals per second, per side, before the regime's tilt.
const LIMIT_RATE: u64 = 55 * RATE_ONE;
/// Market orders per second, per side, before the regime's tilt.
const MARKET_RATE: u64 = 4 * RATE_ONE;
/// Cancels per second per mean-sized order resting on a side (the queue-size proportionality).
const CANCEL_RATE_PER_UNIT: u64 = RATE_ONE / 2;
/// Cap on the per-slot event probability (of 2^32): keeps the slot clock meaningful even if a
/// side's quantity piles up.
const MAX_SLOT_P32: u64 = 3 << 30;

/// Mean stay in the calm regime, in 100 ms checks (150 s).
const CALM_MEAN_CHECKS: u64 = 1_500;
/// Mean stay in a trending regime, in 100 ms checks (75 s).
const TREND_MEAN_CHECKS: u64 = 750;

/// Notional of a mean-sized order, in quote currency; sizes are drawn around it.
const UNIT_NOTIONAL: u128 = 3_000;

/// The state of the market's order flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Regime {
    /// Symmetric flow: the mid diffuses without drift.
    Calm,
    /// Buyers lift the offer more often and sellers quote thinner: the mid drifts up.
    TrendUp,
    /// The mirror image: the mid drifts down.
    TrendDown,
}

/// Multipliers (× 1/16) on each flow for a regime, indexed `[bid/buy, ask/sell]`.
struct Tilt {
    limit: [u64; 2],
    market: [u64; 2],
    cancel: [u64; 2],
}

impl Regime {
    fn tilt(self) -> Tilt {
        match self {
            Regime::Calm => Tilt {
                limit: [16, 16],
                market: [16, 16],
                cancel: [16, 16],
            },
            Regime::TrendUp => Tilt {
                limit: [19, 14],
                market: [40, 7],
                cancel: [13, 20],
            },
            Regime::TrendDown => Tilt {
                limit: [14, 19],
                market: [7, 40],
                cancel: [20, 13],
            },
        }
    }
}

/// A symbol's instrument rules, all as mantissas with 8 implied decimals ([`SCALE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    /// Price of one tick.
    pub tick: u64,
    /// Quantity of one lot.
    pub lot: u64,
    /// Starting (and long-run anchor) price, in ticks.
    pub base_ticks: u64,
    /// Mean order size in lots (about [`UNIT_NOTIONAL`] of quote currency).
    pub unit: u64,
    /// Decimals printed for prices and quantities (8 on spot, as Binance prints them there).
    pub price_dp: u32,
    pub qty_dp: u32,
}

impl Spec {
    /// The `index`-th configured symbol: a BTC-like, an ETH-like, then cheap coins. Futures use
    /// coarser lots, as Binance's USD-M contracts do.
    pub(crate) fn for_index(index: usize, futures: bool) -> Spec {
        // (base price, tick, lot) as mantissas.
        let (base, tick, lot) = match (index, futures) {
            (0, false) => (60_000 * SCALE, SCALE / 10, 1_000),
            (0, true) => (60_000 * SCALE, SCALE / 10, 100_000),
            (1, false) => (3_000 * SCALE, SCALE / 100, 10_000),
            (1, true) => (3_000 * SCALE, SCALE / 100, 100_000),
            (_, false) => (150_000_000, 1_000, 10_000_000),
            (_, true) => (150_000_000, 1_000, SCALE),
        };
        let unit =
            UNIT_NOTIONAL * SCALE as u128 * SCALE as u128 / (base as u128 * lot as u128).max(1);
        Spec {
            tick,
            lot,
            base_ticks: base / tick,
            unit: (unit as u64).max(1),
            price_dp: if futures { decimals(tick).max(2) } else { 8 },
            qty_dp: if futures { decimals(lot) } else { 8 },
        }
    }
}

/// Decimal places a mantissa needs (`10_000_000` = 0.1 → 1).
fn decimals(mut m: u64) -> u32 {
    let mut d = microstate_core::num::DECIMALS;
    while d > 0 && m.is_multiple_of(10) {
        m /= 10;
        d -= 1;
    }
    d
}

/// One price level: price in ticks, quantity in lots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lvl {
    pub ticks: u64,
    pub lots: u64,
}

/// One side of the simulated book.
#[derive(Clone, Debug)]
pub(crate) struct Side {
    bid: bool,
    /// Sorted so the best level is last (bids by ascending price, asks by descending): activity
    /// is at the touch, so inserts and removals move few entries.
    pub levels: Vec<Lvl>,
    /// Sum of `lots` over `levels` (drives the cancel rate).
    pub total: u64,
    /// Prices changed since the last published diff, each once.
    pub touched: Vec<u64>,
    /// Whether changes are tracked (off during the silent burn-in).
    record: bool,
}

impl Side {
    fn new(bid: bool) -> Side {
        Side {
            bid,
            levels: Vec::with_capacity(MAX_LEVELS + 1),
            total: 0,
            touched: Vec::with_capacity(64),
            record: false,
        }
    }

    #[inline]
    fn key(&self, ticks: u64) -> u64 {
        if self.bid { ticks } else { !ticks }
    }

    #[inline]
    fn find(&self, ticks: u64) -> Result<usize, usize> {
        let k = self.key(ticks);
        self.levels.binary_search_by_key(&k, |l| self.key(l.ticks))
    }

    #[inline]
    pub(crate) fn best(&self) -> Option<Lvl> {
        self.levels.last().copied()
    }

    /// Lots resting at `ticks` (0 when the level is absent, i.e. deleted).
    #[inline]
    pub(crate) fn lots_at(&self, ticks: u64) -> u64 {
        self.find(ticks).map_or(0, |i| self.levels[i].lots)
    }

    #[inline]
    fn touch(&mut self, ticks: u64) {
        if self.record && !self.touched.contains(&ticks) {
            self.touched.push(ticks);
        }
    }

    fn add(&mut self, ticks: u64, lots: u64) {
        match self.find(ticks) {
            Ok(i) => self.levels[i].lots += lots,
            Err(i) => self.levels.insert(i, Lvl { ticks, lots }),
        }
        self.total += lots;
        self.touch(ticks);
    }

    /// Removes `lots` (at most what rests there) from level `i`, deleting it when empty.
    fn take(&mut self, i: usize, lots: u64) {
        let l = &mut self.levels[i];
        let lots = lots.min(l.lots);
        l.lots -= lots;
        let ticks = l.ticks;
        if l.lots == 0 {
            self.levels.remove(i);
        }
        self.total -= lots;
        self.touch(ticks);
    }
}

/// A fill printed by a market order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TradeOut {
    pub id: u64,
    pub ticks: u64,
    pub lots: u64,
    /// `m`: the buyer was the maker, i.e. a sell market order hit the bid.
    pub buyer_is_maker: bool,
    pub time_ms: u64,
}

/// The ids and times of a diff ready to publish; its levels are the sides' `touched` sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DiffOut {
    /// `U`.
    pub first: u64,
    /// `u`.
    pub last: u64,
    /// `pu`: `u` of the previous published diff.
    pub prev: u64,
    /// `E`, ms.
    pub event_ms: u64,
    /// `T`, ms: when the last change happened.
    pub transact_ms: u64,
}

/// One symbol's simulation.
#[derive(Clone, Debug)]
pub(crate) struct SymbolSim {
    pub spec: Spec,
    futures: bool,
    rng: Rng,
    pub bids: Side,
    pub asks: Side,
    pub regime: Regime,
    /// Last update id consumed by a change.
    pub last_id: u64,
    /// First id consumed since the last published diff.
    window_first: Option<u64>,
    /// `u` of the last published diff.
    last_u: u64,
    last_change_ms: u64,
    trade_id: u64,
    /// When the next diff is due (every 100 ms, at a per-symbol phase).
    pub next_publish_ms: u64,
    last_ticker: Option<(Lvl, Lvl)>,
    /// Cumulative weights of limit-order distances 1..=MAX_DISTANCE.
    distance_cdf: Vec<u64>,
}

impl SymbolSim {
    /// A warmed-up book at `start_ms`: levels seeded around the base price, then `burn_in_ms`
    /// of silent simulation so the first snapshot already shows the model's steady state.
    pub(crate) fn new(
        spec: Spec,
        futures: bool,
        mut rng: Rng,
        start_ms: u64,
        burn_in_ms: u64,
    ) -> SymbolSim {
        let mut acc = 0;
        let distance_cdf = (1..=MAX_DISTANCE)
            .map(|d| {
                acc += (1 << 20) / (d + 6);
                acc
            })
            .collect();
        // Ids and trade ids start at plausible, seed-dependent magnitudes.
        let last_id = 1_000_000_000 + rng.below(1_000_000_000);
        let trade_id = 100_000_000 + rng.below(100_000_000);
        let mut sim = SymbolSim {
            spec,
            futures,
            next_publish_ms: start_ms + 1 + rng.below(100),
            rng,
            bids: Side::new(true),
            asks: Side::new(false),
            regime: Regime::Calm,
            last_id,
            window_first: None,
            last_u: last_id,
            last_change_ms: start_ms,
            trade_id,
            last_ticker: None,
            distance_cdf,
        };
        let base = spec.base_ticks;
        for d in 0..MIN_LEVELS as u64 * 2 {
            let (b, a) = (sim.order_size(), sim.order_size());
            sim.bids.add(base - 1 - d, b);
            sim.asks.add(base + d, a);
        }
        let mut scratch = Vec::new();
        let t0 = start_ms.saturating_sub(burn_in_ms);
        for t in t0..start_ms {
            sim.step_ms(t, &mut scratch);
            scratch.clear();
            if t % 100 == 0 {
                sim.switch_regime();
            }
        }
        sim.bids.record = true;
        sim.asks.record = true;
        sim.window_first = None;
        sim.last_u = sim.last_id;
        sim.last_change_ms = start_ms;
        sim
    }

    /// Starts the capture: a few changes land in the first diff window, then the snapshot is
    /// taken. The first diff then straddles the snapshot's `lastUpdateId` as live data does
    /// (`U <= lastUpdateId <= u`), which both the spot and the futures bridging rules accept.
    pub(crate) fn begin_capture(&mut self, now_ms: u64) {
        for _ in 0..1 + self.rng.below(3) {
            let bid = self.rng.below(2) == 0;
            self.limit(bid, now_ms);
        }
    }

    /// Advances one millisecond slot; fills from market orders are appended to `trades`.
    pub(crate) fn step_ms(&mut self, now_ms: u64, trades: &mut Vec<TradeOut>) {
        let tilt = self.regime.tilt();
        let unit = self.spec.unit;
        let cancel = |side: &Side, t: u64| {
            let per_unit = CANCEL_RATE_PER_UNIT as u128 * t as u128 / 16;
            (per_unit * side.total as u128 / unit as u128).min(u64::MAX as u128 >> 8) as u64
        };
        let rates = [
            LIMIT_RATE * tilt.limit[0] / 16,
            LIMIT_RATE * tilt.limit[1] / 16,
            MARKET_RATE * tilt.market[0] / 16,
            MARKET_RATE * tilt.market[1] / 16,
            cancel(&self.bids, tilt.cancel[0]),
            cancel(&self.asks, tilt.cancel[1]),
        ];
        let total: u64 = rates.iter().sum();
        // P(event in this 1 ms slot) = total rate × 1 ms, in units of 2^-32.
        let p32 = ((total as u128) << 32) / (1_000 * RATE_ONE as u128);
        if !self.rng.chance((p32 as u64).min(MAX_SLOT_P32)) {
            return;
        }
        let mut pick = self.rng.below(total);
        let mut which = 0;
        while which < rates.len() - 1 && pick >= rates[which] {
            pick -= rates[which];
            which += 1;
        }
        match which {
            0 => self.limit(true, now_ms),
            1 => self.limit(false, now_ms),
            2 => self.market(true, now_ms, trades),
            3 => self.market(false, now_ms, trades),
            4 => self.cancel(true, now_ms),
            _ => self.cancel(false, now_ms),
        }
    }

    /// Closes the 100 ms window at `now_ms`: checks for a regime switch and returns the diff to
    /// publish, or `None` when nothing changed (Binance sends no empty diffs).
    pub(crate) fn publish(&mut self, now_ms: u64) -> Option<DiffOut> {
        self.next_publish_ms = now_ms + 100;
        self.switch_regime();
        let first = self.window_first.take()?;
        let d = DiffOut {
            first,
            last: self.last_id,
            prev: self.last_u,
            event_ms: now_ms,
            transact_ms: self.last_change_ms,
        };
        self.last_u = self.last_id;
        Some(d)
    }

    /// The best bid and ask if they changed since the last call (a bookTicker is due).
    pub(crate) fn ticker(&mut self) -> Option<(Lvl, Lvl)> {
        let bbo = (self.bids.best()?, self.asks.best()?);
        if self.last_ticker == Some(bbo) {
            return None;
        }
        self.last_ticker = Some(bbo);
        Some(bbo)
    }

    /// Twice the mid price, in ticks (exact).
    pub(crate) fn mid2(&self) -> u64 {
        let b = self.bids.best().map_or(0, |l| l.ticks);
        let a = self.asks.best().map_or(0, |l| l.ticks);
        b + a
    }

    fn switch_regime(&mut self) {
        match self.regime {
            Regime::Calm => {
                if self.rng.chance((1 << 32) / CALM_MEAN_CHECKS) {
                    // Lean towards the base price: 1% above it makes a down-trend 55% likely,
                    // 10% or more above makes it 95% likely.
                    let base = self.spec.base_ticks as i128;
                    let dev_bps = (self.mid2() as i128 / 2 - base) * 10_000 / base.max(1);
                    let p_up = (5_000 - 5 * dev_bps).clamp(500, 9_500) as u64;
                    self.regime = if self.rng.below(10_000) < p_up {
                        Regime::TrendUp
                    } else {
                        Regime::TrendDown
                    };
                }
            }
            Regime::TrendUp | Regime::TrendDown => {
                if self.rng.chance((1 << 32) / TREND_MEAN_CHECKS) {
                    self.regime = Regime::Calm;
                }
            }
        }
    }

    /// Records one book change: consumes an update id.
    fn changed(&mut self, now_ms: u64) {
        // Futures ids also advance for events outside this book's stream; spot's are contiguous.
        let step = if self.futures && self.rng.below(8) == 0 {
            2 + self.rng.below(3)
        } else {
            1
        };
        self.last_id += step;
        self.window_first.get_or_insert(self.last_id);
        self.last_change_ms = now_ms;
    }

    /// A limit order size in lots: `k/24` of a unit for `k` in 1..=16, doubled a geometric number
    /// of times (at most 4): mean about one unit, with a tail of orders up to 10 units.
    fn order_size(&mut self) -> u64 {
        let k = 1 + self.rng.below(16);
        let s = self.rng.halvings(4);
        (self.spec.unit * (k << s) / 24).max(1)
    }

    /// A market order size: `k/16` of a unit doubled up to 6 times (mean about two units, tail
    /// to 64): heavier than resting orders, so some walk the book.
    fn market_size(&mut self) -> u64 {
        let k = 1 + self.rng.below(16);
        let s = self.rng.halvings(6);
        (self.spec.unit * (k << s) / 16).max(1)
    }

    fn distance(&mut self) -> u64 {
        let total = self.distance_cdf.last().copied().unwrap_or(1);
        let x = self.rng.below(total);
        self.distance_cdf.partition_point(|&c| c <= x) as u64 + 1
    }

    fn side(&mut self, bid: bool) -> (&mut Side, &Side) {
        if bid {
            (&mut self.bids, &self.asks)
        } else {
            (&mut self.asks, &self.bids)
        }
    }

    fn limit(&mut self, bid: bool, now_ms: u64) {
        let d = self.distance();
        let lots = self.order_size();
        let (side, opp) = self.side(bid);
        let Some(o) = opp.best() else { return };
        let ticks = if bid {
            if o.ticks <= d {
                return;
            }
            o.ticks - d
        } else {
            o.ticks + d
        };
        side.add(ticks, lots);
        let trim = side.levels.len() > MAX_LEVELS;
        if trim {
            let far = side.levels[0];
            side.take(0, far.lots);
        }
        self.changed(now_ms);
        if trim {
            self.changed(now_ms);
        }
    }

    fn cancel(&mut self, bid: bool, now_ms: u64) {
        let size = self.order_size();
        let unit = self.spec.unit;
        let target = {
            let total = if bid {
                self.bids.total
            } else {
                self.asks.total
            };
            self.rng.below(total)
        };
        let (side, _) = self.side(bid);
        // The level holding the `target`-th lot, counted from the touch: P(level) ∝ its size.
        let mut acc = 0;
        let Some(i) = side.levels.iter().rposition(|l| {
            acc += l.lots;
            acc > target
        }) else {
            return;
        };
        let l = side.levels[i];
        let mut lots = size.min(l.lots);
        // A crumb left behind is cancelled with the rest.
        if l.lots - lots < unit / 16 {
            lots = l.lots;
        }
        if lots == l.lots && side.levels.len() == 1 {
            return;
        }
        side.take(i, lots);
        self.changed(now_ms);
        self.top_up(bid, now_ms);
    }

    fn market(&mut self, buy: bool, now_ms: u64, trades: &mut Vec<TradeOut>) {
        let mut size = self.market_size();
        let unit = self.spec.unit;
        for _ in 0..MAX_WALK {
            let (side, _) = self.side(!buy);
            let n = side.levels.len();
            let Some(best) = side.best() else { break };
            let mut fill = size.min(best.lots);
            if fill == best.lots && n == 1 {
                fill -= 1;
            }
            if fill == 0 {
                break;
            }
            side.take(n - 1, fill);
            self.changed(now_ms);
            // One trade per resting order filled: split fills of several units in up to three.
            let mut pieces = (1 + self.rng.below((fill / unit.max(1)).min(2) + 1)).min(fill);
            let mut left = fill;
            while pieces > 0 {
                // Leaves at least one lot for each piece still to come.
                let q = if pieces == 1 {
                    left
                } else {
                    1 + self.rng.below(left - pieces + 1)
                };
                left -= q;
                pieces -= 1;
                self.trade_id += 1;
                trades.push(TradeOut {
                    id: self.trade_id,
                    ticks: best.ticks,
                    lots: q,
                    buyer_is_maker: !buy,
                    time_ms: now_ms,
                });
            }
            size -= fill;
            if size == 0 {
                break;
            }
        }
        self.top_up(!buy, now_ms);
    }

    /// Keeps at least [`MIN_LEVELS`] on a side by adding liquidity beyond its deepest level.
    fn top_up(&mut self, bid: bool, now_ms: u64) {
        loop {
            let gap = 1 + self.rng.below(3);
            let lots = self.order_size();
            let (side, _) = self.side(bid);
            if side.levels.len() >= MIN_LEVELS {
                return;
            }
            let Some(deep) = side.levels.first().map(|l| l.ticks) else {
                return;
            };
            let ticks = if bid {
                if deep <= gap {
                    return;
                }
                deep - gap
            } else {
                deep + gap
            };
            side.add(ticks, lots);
            self.changed(now_ms);
        }
    }
}
