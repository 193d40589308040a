//! The batch reference for the feature engine: every feature recomputed from scratch, from the
//! raw inputs the engine's features took in (the tap), with its own BTreeMap book.
//!
//! It shares nothing with the core's `features` but the public schema (indices, names) and the raw
//! input types: no ring buffers, no running sums, no cursors. Each query walks the whole log
//! of the window. Where the definition itself is exact integer arithmetic (OFI, depths,
//! volumes, inter-trade time moments) it computes the same exact integers by another route
//! (e.g. two-pass deviations for the variance); squared returns and the EWMA are summed in
//! plain f64.
#![allow(dead_code)]

use std::collections::BTreeMap;

use microstate_core::features::{FeatureParams, N_DEPTHS, N_FEATURES, TapEvent, idx};
use microstate_core::wire::Level;

struct DiffFact {
    t: u64,
    /// bid + ask mantissas, 0 without both sides.
    m2: u128,
    /// (best-level OFI, multi-level OFI) when a previous post-resync state existed.
    ofi: Option<(i128, i128)>,
    d1: u128,
    dk: u128,
    /// Mid log-return against the previous update, when both mids exist and differ.
    r: Option<f64>,
}

struct TradeFact {
    t: u64,
    px: u64,
    qty: u64,
    buy: bool,
}

/// Top levels of one state: (price, qty), best first, missing levels by convention
/// (bids price 0, asks price u64::MAX, qty 0).
type TopK = (Vec<(u64, u64)>, Vec<(u64, u64)>);

pub struct Batch {
    p: FeatureParams,
    clock: u64,
    bids: BTreeMap<u64, u64>,
    asks: BTreeMap<u64, u64>,
    hole: bool,
    valid_from: u64,
    /// Index in `diffs` / `trades` where the current sync period began.
    diffs_at_resync: usize,
    trades_at_resync: usize,
    prev: Option<TopK>,
    tick: u64,
    diffs: Vec<DiffFact>,
    /// (time, return) of every update that had one, and where the current sync period began.
    returns: Vec<(u64, f64)>,
    returns_at_resync: usize,
    trades: Vec<TradeFact>,
    tickers: Vec<u64>,
}

fn set(side: &mut BTreeMap<u64, u64>, l: &Level) {
    if l.qty.0 == 0 {
        side.remove(&l.price.0);
    } else {
        side.insert(l.price.0, l.qty.0);
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl Batch {
    pub fn new(p: FeatureParams) -> Self {
        Batch {
            p,
            clock: 0,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            hole: true,
            valid_from: 0,
            diffs_at_resync: 0,
            trades_at_resync: 0,
            prev: None,
            tick: 0,
            diffs: Vec::new(),
            returns: Vec::new(),
            returns_at_resync: 0,
            trades: Vec::new(),
            tickers: Vec::new(),
        }
    }

    fn see(&mut self, e_ms: Option<u64>) -> u64 {
        if let Some(ms) = e_ms {
            self.clock = self.clock.max(ms * 1_000_000);
        }
        self.clock
    }

    fn top(&self, k: usize) -> TopK {
        let mut b: Vec<(u64, u64)> = self
            .bids
            .iter()
            .rev()
            .take(k)
            .map(|(&p, &q)| (p, q))
            .collect();
        let mut a: Vec<(u64, u64)> = self.asks.iter().take(k).map(|(&p, &q)| (p, q)).collect();
        b.resize(k, (0, 0));
        a.resize(k, (u64::MAX, 0));
        (b, a)
    }

    fn m2(&self) -> u128 {
        match (self.bids.keys().next_back(), self.asks.keys().next()) {
            (Some(&b), Some(&a)) => b as u128 + a as u128,
            _ => 0,
        }
    }

    pub fn feed(&mut self, e: &TapEvent) {
        match e {
            TapEvent::Snapshot { bids, asks } => {
                self.bids.clear();
                self.asks.clear();
                bids.iter().for_each(|l| set(&mut self.bids, l));
                asks.iter().for_each(|l| set(&mut self.asks, l));
            }
            TapEvent::Diff {
                event_time_ms,
                bids,
                asks,
            } => {
                let before_m2 = self.m2();
                bids.iter().for_each(|l| set(&mut self.bids, l));
                asks.iter().for_each(|l| set(&mut self.asks, l));
                let t = self.see(Some(*event_time_ms));
                if self.hole {
                    self.hole = false;
                    self.valid_from = t;
                    self.diffs_at_resync = self.diffs.len();
                    self.trades_at_resync = self.trades.len();
                    self.returns_at_resync = self.returns.len();
                    self.prev = None;
                }
                for p in [self.bids.keys().next_back(), self.asks.keys().next()]
                    .into_iter()
                    .flatten()
                {
                    if *p != 0 {
                        self.tick = gcd(self.tick, *p);
                    }
                }
                let k = self.p.ofi_levels;
                let now = self.top(k);
                let m2 = self.m2();
                let ofi = self.prev.as_ref().map(|(pb, pa)| {
                    // Cont–Kukanov–Stoikov per level, written out from the paper's cases.
                    let mut levels = Vec::new();
                    for m in 0..k {
                        let (b0, qb0) = pb[m];
                        let (b1, qb1) = now.0[m];
                        let (a0, qa0) = pa[m];
                        let (a1, qa1) = now.1[m];
                        let bid_part: i128 = match b1.cmp(&b0) {
                            std::cmp::Ordering::Greater => qb1 as i128,
                            std::cmp::Ordering::Equal => qb1 as i128 - qb0 as i128,
                            std::cmp::Ordering::Less => -(qb0 as i128),
                        };
                        let ask_part: i128 = match a1.cmp(&a0) {
                            std::cmp::Ordering::Less => qa1 as i128,
                            std::cmp::Ordering::Equal => qa1 as i128 - qa0 as i128,
                            std::cmp::Ordering::Greater => -(qa0 as i128),
                        };
                        levels.push(bid_part - ask_part);
                    }
                    (levels[0], levels.iter().sum())
                });
                // A return needs the previous post-resync state (`prev`) with both sides.
                let r = (self.prev.is_some() && before_m2 > 0 && m2 > 0 && m2 != before_m2)
                    .then(|| ((m2 as i128 - before_m2 as i128) as f64 / before_m2 as f64).ln_1p());
                let d1 = (now.0[0].1 + now.1[0].1) as u128;
                let dk = (0..k)
                    .map(|m| now.0[m].1 as u128 + now.1[m].1 as u128)
                    .sum();
                if let Some(r) = r {
                    self.returns.push((t, r));
                }
                self.diffs.push(DiffFact {
                    t,
                    m2,
                    ofi,
                    d1,
                    dk,
                    r,
                });
                self.prev = Some(now);
            }
            TapEvent::Trade(tr) => {
                let t = self.see(Some(tr.event_time_ms));
                self.trades.push(TradeFact {
                    t,
                    px: tr.price.0,
                    qty: tr.qty.0,
                    buy: !tr.buyer_is_maker,
                });
            }
            TapEvent::Ticker(tk) => {
                let t = self.see(tk.event_time_ms);
                self.tickers.push(t);
            }
            TapEvent::Gap { event_time_ms } => {
                self.see(*event_time_ms);
                self.hole = true;
                self.prev = None;
            }
        }
    }

    pub fn ts_ns(&self) -> u64 {
        self.clock
    }

    /// Every feature at the current time, from scratch; `None` where invalid.
    pub fn vector(&self) -> Vec<Option<f64>> {
        let mut out: Vec<Option<f64>> = vec![None; N_FEATURES];
        let t = self.clock;
        let s8 = 1e8;
        let m2 = self.m2();
        let book = !self.hole && m2 > 0;
        if book {
            let (&b, &qb) = self.bids.iter().next_back().expect("bid");
            let (&a, &qa) = self.asks.iter().next().expect("ask");
            out[idx::BID_PX] = Some(b as f64 / s8);
            out[idx::ASK_PX] = Some(a as f64 / s8);
            out[idx::BID_QTY] = Some(qb as f64 / s8);
            out[idx::ASK_QTY] = Some(qa as f64 / s8);
            out[idx::MID] = Some((b as f64 + a as f64) / 2.0 / s8);
            let (bf, af, qbf, qaf) = (b as f64 / s8, a as f64 / s8, qb as f64 / s8, qa as f64 / s8);
            out[idx::MICROPRICE] = Some((bf * qaf + af * qbf) / (qbf + qaf));
            // microprice − mid as one exact fraction: 2(b·qa + a·qb) − (b + a)(qb + qa) over
            // 2(qb + qa).
            let num = 2 * (b as i128 * qa as i128 + a as i128 * qb as i128)
                - (b as i128 + a as i128) * (qb as i128 + qa as i128);
            out[idx::MICRO_MINUS_MID] = Some(num as f64 / (2.0 * (qb + qa) as f64) / s8);
            let spread = a as i128 - b as i128;
            out[idx::SPREAD] = Some(spread as f64 / s8);
            out[idx::SPREAD_BPS] =
                Some(1e4 * (spread as f64 / s8) / ((b as f64 + a as f64) / 2.0 / s8));
            out[idx::TICK] = Some(self.tick as f64 / s8);
            out[idx::SPREAD_TICKS] = Some((spread / self.tick as i128) as f64);
            out[idx::ONE_TICK] = Some(if spread == self.tick as i128 {
                1.0
            } else {
                0.0
            });
            // Last mid change since the resync.
            let since = &self.diffs[self.diffs_at_resync..];
            let last_change = since
                .windows(2)
                .rev()
                .find(|w| w[0].m2 > 0 && w[1].m2 > 0 && w[0].m2 != w[1].m2)
                .map(|w| w[1].t);
            out[idx::MID_AGE] = last_change.map(|c| (t - c) as f64 / 1e9);
            let big = self.p.depth_levels[N_DEPTHS - 1];
            let bid_levels: Vec<(u64, u64)> = self
                .bids
                .iter()
                .rev()
                .take(big)
                .map(|(&p, &q)| (p, q))
                .collect();
            let ask_levels: Vec<(u64, u64)> =
                self.asks.iter().take(big).map(|(&p, &q)| (p, q)).collect();
            for (j, &n) in self.p.depth_levels.iter().enumerate() {
                let bsum: u128 = bid_levels.iter().take(n).map(|l| l.1 as u128).sum();
                let asum: u128 = ask_levels.iter().take(n).map(|l| l.1 as u128).sum();
                out[idx::BID_DEPTH + j] = Some(bsum as f64 / s8);
                out[idx::ASK_DEPTH + j] = Some(asum as f64 / s8);
                let bn: f64 = bid_levels
                    .iter()
                    .take(n)
                    .map(|l| (l.0 as f64 / s8) * (l.1 as f64 / s8))
                    .sum();
                let an: f64 = ask_levels
                    .iter()
                    .take(n)
                    .map(|l| (l.0 as f64 / s8) * (l.1 as f64 / s8))
                    .sum();
                out[idx::BID_NOTIONAL + j] = Some(bn);
                out[idx::ASK_NOTIONAL + j] = Some(an);
                out[idx::IMBALANCE + 1 + j] =
                    Some((bsum as i128 - asum as i128) as f64 / (bsum + asum) as f64);
            }
            let x = self.p.band_bps as u128;
            // Walk from the best level outwards while inside the band.
            let band_b: u128 = self
                .bids
                .iter()
                .rev()
                .take_while(|(p, _)| 20_000 * **p as u128 >= m2 * (10_000 - x))
                .map(|(_, q)| *q as u128)
                .sum();
            let band_a: u128 = self
                .asks
                .iter()
                .take_while(|(p, _)| 20_000 * **p as u128 <= m2 * (10_000 + x))
                .map(|(_, q)| *q as u128)
                .sum();
            out[idx::BID_DEPTH + N_DEPTHS] = Some(band_b as f64 / s8);
            out[idx::ASK_DEPTH + N_DEPTHS] = Some(band_a as f64 / s8);
            out[idx::IMBALANCE] = Some((qb as f64 - qa as f64) / (qb as f64 + qa as f64));
            let (mut num, mut den) = (0i128, 0i128);
            for i in 0..big {
                let w = (big - i) as i128;
                let qb = bid_levels.get(i).map_or(0, |l| l.1) as i128;
                let qa = ask_levels.get(i).map_or(0, |l| l.1) as i128;
                num += w * qb - w * qa;
                den += w * qb + w * qa;
            }
            out[idx::IMBALANCE + 1 + N_DEPTHS] = Some(num as f64 / den as f64);
            // Last trade since the resync vs mid.
            if self.trades.len() > self.trades_at_resync {
                let px = self.trades.last().expect("trade").px;
                out[idx::TRADE_VS_MID] =
                    Some(1e4 * ((2 * px as i128 - m2 as i128) as f64 / 2.0) / (m2 as f64 / 2.0));
            }
            // EWMA: every return since the resync, weighted by its age.
            let h = self.p.ewma_half_life_ns;
            if t - self.valid_from >= h {
                let hs = h as f64 / 1e9;
                let s: f64 = self.returns[self.returns_at_resync..]
                    .iter()
                    .map(|&(ti, r)| r * r * 0.5f64.powf((t - ti) as f64 / 1e9 / hs))
                    .sum();
                let elapsed = (t - self.valid_from) as f64 / 1e9;
                let weight = hs / std::f64::consts::LN_2 * (1.0 - 0.5f64.powf(elapsed / hs));
                out[idx::EWMA_VOL] = Some(1e4 * (s / weight).sqrt());
            }
        }
        // `ofi.last` / `mlofi.last`: the last update's, when it had a predecessor.
        if !self.hole
            && let Some((o, ml)) = self.diffs.last().and_then(|d| d.ofi)
        {
            out[idx::OFI] = Some(o as f64 / s8);
            out[idx::MLOFI] = Some(ml as f64 / s8);
        }
        for (w, &len) in self.p.windows_ns.iter().enumerate() {
            if self.hole || t < self.valid_from + len {
                continue;
            }
            let in_window = |te: u64| te + len > t;
            let secs = len as f64 / 1e9;
            // Facts are in time order: the window is a suffix, found by binary search.
            let first_diff = self.diffs.partition_point(|d| !in_window(d.t));
            let diffs: Vec<&DiffFact> = self.diffs[first_diff..].iter().collect();
            let n = diffs.len();
            let ofi: i128 = diffs.iter().filter_map(|d| d.ofi).map(|o| o.0).sum();
            let mlofi: i128 = diffs.iter().filter_map(|d| d.ofi).map(|o| o.1).sum();
            out[idx::OFI + 1 + w] = Some(ofi as f64 / s8);
            out[idx::MLOFI + 1 + w] = Some(mlofi as f64 / s8);
            let avg_d1 = diffs.iter().map(|d| d.d1 as f64 / 2.0).sum::<f64>() / n as f64;
            let k = self.p.ofi_levels as f64;
            let avg_dk = diffs.iter().map(|d| d.dk as f64 / (2.0 * k)).sum::<f64>() / n as f64;
            out[idx::OFI_NORM + w] = Some(if n > 0 && avg_d1 > 0.0 {
                ofi as f64 / avg_d1
            } else {
                0.0
            });
            out[idx::MLOFI_NORM + w] = Some(if n > 0 && avg_dk > 0.0 {
                mlofi as f64 / avg_dk
            } else {
                0.0
            });
            let rs: f64 = diffs.iter().filter_map(|d| d.r).map(|r| r * r).sum();
            out[idx::RV + w] = Some(1e4 * rs.sqrt());
            out[idx::DEPTH_RATE + w] = Some(n as f64 / secs);
            let start = first_diff.checked_sub(1).map(|i| self.diffs[i].m2);
            if let Some(s) = start
                && s > 0
                && m2 > 0
            {
                out[idx::RET + w] =
                    Some(1e4 * ((m2 as i128 - s as i128) as f64 / s as f64).ln_1p());
            }
            // Trades, with their inter-arrival times (from the previous trade, in or out).
            let first = self.trades.partition_point(|x| !in_window(x.t));
            let tw = &self.trades[first..];
            let nt = tw.len();
            let (mut vb, mut vs, mut nb) = (0u128, 0u128, 0usize);
            let mut notional = 0f64;
            for x in tw {
                if x.buy {
                    vb += x.qty as u128;
                    nb += 1;
                } else {
                    vs += x.qty as u128;
                }
                notional += (x.px as f64 / s8) * (x.qty as f64 / s8);
            }
            out[idx::TRADE_RATE + w] = Some(nt as f64 / secs);
            out[idx::VOLUME + w] = Some((vb + vs) as f64 / s8);
            out[idx::SIGNED_VOLUME + w] = Some((vb as i128 - vs as i128) as f64 / s8);
            if nt > 0 {
                out[idx::TRADE_IMBALANCE + w] = Some((nb as f64 - (nt - nb) as f64) / nt as f64);
            }
            if vb + vs > 0 {
                out[idx::VOLUME_IMBALANCE + w] =
                    Some((vb as i128 - vs as i128) as f64 / (vb + vs) as f64);
                out[idx::VWAP + w] = Some(notional / ((vb + vs) as f64 / s8));
            }
            let ivs: Vec<i128> = (first.max(1)..self.trades.len())
                .map(|i| (self.trades[i].t - self.trades[i - 1].t) as i128)
                .collect();
            if ivs.len() >= 2 {
                let n = ivs.len() as i128;
                let sum: i128 = ivs.iter().sum();
                // n·Σ(τ − mean)² · n = Σ(nτ − Στ)² / n: two passes, exact.
                let dev: i128 = ivs
                    .iter()
                    .map(|&x| (n * x - sum) * (n * x - sum))
                    .sum::<i128>()
                    / n;
                let sd = (dev as f64).sqrt();
                let mu = sum as f64;
                if sd + mu > 0.0 {
                    out[idx::BURSTINESS + w] = Some((sd - mu) / (sd + mu));
                }
            }
            let ticks = self.tickers.len() - self.tickers.partition_point(|&x| !in_window(x));
            out[idx::TICKER_RATE + w] = Some(ticks as f64 / secs);
        }
        out
    }
}

/// Equal within a relative 1e-9, and bit for bit where the value is an integer by definition.
pub fn close(name: &str, a: f64, b: f64) -> bool {
    let integer = matches!(name, "one_tick" | "spread_ticks");
    if integer {
        return a == b;
    }
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}
