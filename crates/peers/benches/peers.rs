//! This project's book beside hftbacktest's depths, on the same real level streams, in one run.
//!
//! Each stream (spot BTCUSDT, USD-M BTCUSDT, COIN-M BTCUSD_PERP from `../shared/data`) is a
//! REST snapshot and every diff level after it. Every book loads the snapshot (untimed), then
//! the timed pass applies every level in capture order and reads the best bid and ask after
//! each: "update one level and read best bid/ask". Then "top-20 of both sides" is read many
//! times from the final book, each book writing into the same kind of buffer ([`Tops`]: a fixed
//! array per side of the book's own level type, plus counts): ours its `Level`s (fixed-point
//! price and quantity) through `OrderBook::top_both_into`, hftbacktest's their `(tick, f64)`
//! pairs as they keep them. Nothing is copied or converted after the read, and an untimed check
//! says whether each book's top-20 equals the start of its full level list. Each figure is the median over repeated passes, reported in ns
//! and as a ratio to hftbacktest's `ROIVectorMarketDepth`, whose range of interest is the
//! stream's whole price range (lowest to highest price in the snapshot and the diffs), so it
//! never drops an update. Finally the books are compared level by level and best by best.
//!
//! Run (fat LTO, one codegen unit for all crates, the `peers` profile of the root Cargo.toml):
//!
//! ```text
//! cargo bench -p microstate-peers --bench peers --profile peers            # 11 passes
//! cargo bench -p microstate-peers --bench peers --profile peers -- --quick # 3 passes
//! ```
//!
//! Environment: `PEERS_ONLY=ours|roi|hash`, `PEERS_STREAM=0|1|2` and `PEERS_PASSES=n` restrict
//! the run, e.g. for instruction counts per update, independent of the machine's load
//! (`scripts/peers-callgrind` in crates/peers runs all of them):
//! `PEERS_ONLY=ours PEERS_STREAM=0 PEERS_PASSES=1 valgrind --tool=callgrind
//! --collect-atstart=no --toggle-collect='*apply_all*' target/peers/deps/peers-*`, then
//! the `Ir` total divided by the stream's level updates.

use std::hint::black_box;
use std::time::Instant;

use hftbacktest::depth::{
    HashMapMarketDepth, INVALID_MAX, INVALID_MIN, L2MarketDepth, MarketDepth, ROIVectorMarketDepth,
};
use microstate_core::book::{OrderBook, Side, SideKind};
use microstate_core::num::{Price, Qty, SCALE};
use microstate_core::wire::Level;
use microstate_peers::{CAPTURES, Stream, load};

/// One price level as every book reports it: price in ticks, quantity in `SCALE` units.
type Row = (i64, u64);

/// What the bench needs from a book.
trait Book: Sized {
    const NAME: &'static str;
    fn new(s: &Stream) -> Self;
    fn set(&mut self, is_bid: bool, l: Level);
    /// Best bid and ask as the book itself reports them (what the timed loop reads).
    type Touch;
    fn touch(&self) -> Self::Touch;
    /// Best bid and ask as (price tick, qty) pairs, `None` for an empty side.
    fn bbo(&self) -> (Option<Row>, Option<Row>);
    /// One level as this book reports it, in its own units: `Level` (price and quantity as
    /// fixed-point integers) for ours, `(tick, f64 quantity)` for hftbacktest's.
    type Level: Copy + Default;
    /// Top [`TOP_N`] of both sides, best first, into `out` (timed: no conversion).
    fn top(&self, out: &mut Tops<Self::Level>);
    /// Every level of both sides, best first.
    fn all(&self) -> (Vec<Row>, Vec<Row>);
    /// A level of [`Book::top`] as a row (untimed, for the checks).
    fn row_of(&self, l: Self::Level) -> Row;
    /// Whether [`Book::top`] gives the first [`TOP_N`] rows of [`Book::all`] (untimed).
    fn top_agrees(&self) -> bool {
        let mut out = Tops::default();
        self.top(&mut out);
        let (b, a) = self.all();
        let rows = |ls: &[Self::Level]| ls.iter().map(|&l| self.row_of(l)).collect::<Vec<_>>();
        rows(&out.bids[..out.nb]) == b[..b.len().min(TOP_N)]
            && rows(&out.asks[..out.na]) == a[..a.len().min(TOP_N)]
    }
    /// The ticks this book keeps (ROIVector: its range of interest); `None`: all.
    fn kept(_s: &Stream) -> Option<(i64, i64)> {
        None
    }

    fn loaded(s: &Stream) -> Self {
        let mut b = Self::new(s);
        for l in &s.bids {
            b.set(true, *l);
        }
        for l in &s.asks {
            b.set(false, *l);
        }
        b
    }
}

/// This project's book, through its public API.
struct Ours {
    book: OrderBook,
    tick: u64,
}

impl Ours {
    fn row(&self, l: Level) -> Row {
        ((l.price.0 / self.tick) as i64, l.qty.0)
    }
}

impl Book for Ours {
    const NAME: &'static str = "microstate";
    fn new(s: &Stream) -> Self {
        Ours {
            book: OrderBook::new(),
            tick: s.tick,
        }
    }
    fn loaded(s: &Stream) -> Self {
        let mut b = Self::new(s);
        b.book.load(&s.bids, &s.asks, 0);
        b
    }
    #[inline(always)]
    fn set(&mut self, is_bid: bool, l: Level) {
        let side = if is_bid {
            &mut self.book.bids
        } else {
            &mut self.book.asks
        };
        side.set(l.price, l.qty);
    }
    type Touch = microstate_core::book::Bbo;
    #[inline(always)]
    fn touch(&self) -> Self::Touch {
        self.book.bbo()
    }
    #[inline(always)]
    fn bbo(&self) -> (Option<Row>, Option<Row>) {
        let b = self.book.bbo();
        (b.bid.map(|l| self.row(l)), b.ask.map(|l| self.row(l)))
    }
    type Level = Level;
    /// The slice reader of both sides, as the features and the screen use it.
    #[inline(always)]
    fn top(&self, out: &mut Tops<Level>) {
        (out.nb, out.na) = self.book.top_both_into(&mut out.bids, &mut out.asks);
    }
    fn row_of(&self, l: Level) -> Row {
        self.row(l)
    }
    fn all(&self) -> (Vec<Row>, Vec<Row>) {
        (
            self.book.bids.iter().map(|l| self.row(l)).collect(),
            self.book.asks.iter().map(|l| self.row(l)).collect(),
        )
    }
}

fn to_f64(m: u64) -> f64 {
    m as f64 / SCALE as f64
}

fn qty_units(q: f64) -> u64 {
    (q * SCALE as f64).round() as u64
}

/// ROIVector's range of interest. By default the preset of this bench: the snapshot's mid
/// price ± 2 % (a fixed range set at start that the market does not leave in these captures;
/// levels posted outside it are dropped by ROIVector, and `compare` counts the rows that makes
/// differ). `PEERS_ROI=stream`: the whole stream's price range (nothing dropped, but on these
/// streams 1–18 M ticks, i.e. 9–150 MB per side, because of far outlier levels).
fn roi_range(s: &Stream) -> (u64, u64) {
    if std::env::var("PEERS_ROI").is_ok_and(|v| v == "stream") {
        return (s.min_price, s.max_price);
    }
    let bid = s.bids.iter().map(|l| l.price.0).max().unwrap_or(0);
    let ask = s.asks.iter().map(|l| l.price.0).min().unwrap_or(bid);
    let mid = bid / 2 + ask / 2;
    let lo = (mid - mid / 50) / s.tick * s.tick;
    let hi = (mid + mid / 50) / s.tick * s.tick;
    (lo, hi)
}

/// hftbacktest's ROIVectorMarketDepth: one f64 per tick in the range of interest.
struct Roi(ROIVectorMarketDepth);

impl Book for Roi {
    const NAME: &'static str = "ROIVector";
    fn new(s: &Stream) -> Self {
        let tick = to_f64(s.tick);
        let (lo, hi) = roi_range(s);
        // Lot size one `SCALE` unit: no real quantity rounds to a zero lot.
        Roi(ROIVectorMarketDepth::new(
            tick,
            to_f64(1),
            to_f64(lo),
            to_f64(hi),
        ))
    }
    #[inline(always)]
    fn set(&mut self, is_bid: bool, l: Level) {
        let (p, q) = (to_f64(l.price.0), to_f64(l.qty.0));
        if is_bid {
            black_box(self.0.update_bid_depth(p, q, 0));
        } else {
            black_box(self.0.update_ask_depth(p, q, 0));
        }
    }
    type Touch = (i64, f64, i64, f64);
    #[inline(always)]
    fn touch(&self) -> Self::Touch {
        let d = &self.0;
        (
            d.best_bid_tick(),
            d.best_bid_qty(),
            d.best_ask_tick(),
            d.best_ask_qty(),
        )
    }
    #[inline(always)]
    fn bbo(&self) -> (Option<Row>, Option<Row>) {
        let d = &self.0;
        let bid = (d.best_bid_tick() != INVALID_MIN)
            .then(|| (d.best_bid_tick(), qty_units(d.best_bid_qty())));
        let ask = (d.best_ask_tick() != INVALID_MAX)
            .then(|| (d.best_ask_tick(), qty_units(d.best_ask_qty())));
        (bid, ask)
    }
    type Level = (i64, f64);
    #[inline(always)]
    fn top(&self, out: &mut Tops<(i64, f64)>) {
        let d = &self.0;
        let (lb, ub) = d.roi_tick();
        let mut k = 0;
        if d.best_bid_tick != INVALID_MIN {
            let depth = d.bid_depth();
            let mut t = d.best_bid_tick.min(ub);
            while k < TOP_N && t >= lb.max(d.low_bid_tick) {
                let q = depth[(t - lb) as usize];
                if q > 0.0 {
                    out.bids[k] = (t, q);
                    k += 1;
                }
                t -= 1;
            }
        }
        out.nb = k;
        k = 0;
        if d.best_ask_tick != INVALID_MAX {
            let depth = d.ask_depth();
            let mut t = d.best_ask_tick.max(lb);
            while k < TOP_N && t <= ub.min(d.high_ask_tick) {
                let q = depth[(t - lb) as usize];
                if q > 0.0 {
                    out.asks[k] = (t, q);
                    k += 1;
                }
                t += 1;
            }
        }
        out.na = k;
    }
    fn kept(s: &Stream) -> Option<(i64, i64)> {
        let (lo, hi) = roi_range(s);
        Some(((lo / s.tick) as i64, (hi / s.tick) as i64))
    }
    fn row_of(&self, (t, q): (i64, f64)) -> Row {
        (t, qty_units(q))
    }
    fn all(&self) -> (Vec<Row>, Vec<Row>) {
        let (lb, _) = self.0.roi_tick();
        let rows = |depth: &[f64]| -> Vec<Row> {
            depth
                .iter()
                .enumerate()
                .filter(|(_, q)| **q > 0.0)
                .map(|(i, q)| (lb + i as i64, qty_units(*q)))
                .collect()
        };
        let mut bids = rows(self.0.bid_depth());
        bids.reverse();
        (bids, rows(self.0.ask_depth()))
    }
}

/// hftbacktest's HashMapMarketDepth: a hash map per side, the best kept by scanning ticks.
struct Hash(HashMapMarketDepth);

impl Book for Hash {
    const NAME: &'static str = "HashMap";
    fn new(s: &Stream) -> Self {
        Hash(HashMapMarketDepth::new(to_f64(s.tick), to_f64(1)))
    }
    #[inline(always)]
    fn set(&mut self, is_bid: bool, l: Level) {
        let (p, q) = (to_f64(l.price.0), to_f64(l.qty.0));
        if is_bid {
            black_box(self.0.update_bid_depth(p, q, 0));
        } else {
            black_box(self.0.update_ask_depth(p, q, 0));
        }
    }
    type Touch = (i64, f64, i64, f64);
    #[inline(always)]
    fn touch(&self) -> Self::Touch {
        let d = &self.0;
        (
            d.best_bid_tick(),
            d.best_bid_qty(),
            d.best_ask_tick(),
            d.best_ask_qty(),
        )
    }
    #[inline(always)]
    fn bbo(&self) -> (Option<Row>, Option<Row>) {
        let d = &self.0;
        let bid = (d.best_bid_tick() != INVALID_MIN)
            .then(|| (d.best_bid_tick(), qty_units(d.best_bid_qty())));
        let ask = (d.best_ask_tick() != INVALID_MAX)
            .then(|| (d.best_ask_tick(), qty_units(d.best_ask_qty())));
        (bid, ask)
    }
    type Level = (i64, f64);
    #[inline(always)]
    fn top(&self, out: &mut Tops<(i64, f64)>) {
        let d = &self.0;
        let mut k = 0;
        if d.best_bid_tick != INVALID_MIN {
            let mut t = d.best_bid_tick;
            while k < TOP_N && t >= d.low_bid_tick {
                let q = d.bid_qty_at_tick(t);
                if q > 0.0 {
                    out.bids[k] = (t, q);
                    k += 1;
                }
                t -= 1;
            }
        }
        out.nb = k;
        k = 0;
        if d.best_ask_tick != INVALID_MAX {
            let mut t = d.best_ask_tick;
            while k < TOP_N && t <= d.high_ask_tick {
                let q = d.ask_qty_at_tick(t);
                if q > 0.0 {
                    out.asks[k] = (t, q);
                    k += 1;
                }
                t += 1;
            }
        }
        out.na = k;
    }
    fn row_of(&self, (t, q): (i64, f64)) -> Row {
        (t, qty_units(q))
    }
    fn all(&self) -> (Vec<Row>, Vec<Row>) {
        let rows = |m: &std::collections::HashMap<i64, f64>, desc: bool| -> Vec<Row> {
            let mut v: Vec<Row> = m
                .iter()
                .filter(|(_, q)| **q > 0.0)
                .map(|(t, q)| (*t, qty_units(*q)))
                .collect();
            v.sort_unstable();
            if desc {
                v.reverse();
            }
            v
        };
        (
            rows(&self.0.bid_depth, true),
            rows(&self.0.ask_depth, false),
        )
    }
}

/// The timed loop: every level of the stream, then the best bid and ask. Not inlined, so
/// callgrind can count just this (`--toggle-collect='*apply_all*'`).
#[inline(never)]
fn apply_all<B: Book>(book: &mut B, updates: &[(bool, Level)]) {
    for &(is_bid, l) in updates {
        book.set(is_bid, black_box(l));
        black_box(book.touch());
    }
}

const TOP_N: usize = 20;
const TOP_READS: usize = 100_000;

/// Where a book writes its top [`TOP_N`] of both sides: a fixed array per side of the book's
/// own level type, and how many of each it filled. Every book gets the same kind of buffer and
/// writes its levels as it keeps them; nothing is copied or converted after the read.
#[derive(Clone, Copy)]
struct Tops<L> {
    bids: [L; TOP_N],
    asks: [L; TOP_N],
    nb: usize,
    na: usize,
}

impl<L: Copy + Default> Default for Tops<L> {
    fn default() -> Self {
        Tops {
            bids: [L::default(); TOP_N],
            asks: [L::default(); TOP_N],
            nb: 0,
            na: 0,
        }
    }
}

#[inline(never)]
fn read_tops<B: Book>(book: &B, out: &mut Tops<B::Level>) {
    for _ in 0..TOP_READS {
        black_box(book).top(out);
        black_box(&mut *out);
    }
}

/// `cargo bench --bench core`'s `book/top20_dense` and `book/top20_sparse`, here too: one bid
/// side of 5,000 levels on consecutive ticks of 0.01, and one of 5,000 levels with random gaps
/// of 1..=2,000 ticks; 20 levels read into a `Vec<Level>`.
fn synthetic_sides() -> [(&'static str, Side); 2] {
    const TICK: u64 = 1_000_000;
    let mut dense = Side::new(SideKind::Bid);
    let levels: Vec<Level> = (0..5000u64)
        .map(|k| Level {
            price: Price(6_000_000_000_000 - k * TICK),
            qty: Qty(1_000_000 + k),
        })
        .collect();
    dense.load(&levels);
    let mut sparse = Side::new(SideKind::Bid);
    // The core bench's xorshift64*, same seed: the same sparse book.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut p = 10_000_000_000_000u64;
    let levels: Vec<Level> = (0..5000u64)
        .map(|k| {
            p -= (1 + next() % 2000) * TICK;
            Level {
                price: Price(p),
                qty: Qty(1_000_000 + k),
            }
        })
        .collect();
    sparse.load(&levels);
    [("dense", dense), ("sparse", sparse)]
}

const SIDE_READS: usize = 1_000_000;

#[inline(never)]
fn read_top20_side(side: &Side, buf: &mut Vec<Level>) {
    for _ in 0..SIDE_READS {
        buf.clear();
        buf.resize(20, Level::default());
        let n = black_box(side).top_into(buf);
        buf.truncate(n);
        black_box(&buf);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One pass: load, the timed stream, the timed top-N reads. Returns ns per update and per
/// top-N read of both sides.
fn pass<B: Book>(s: &Stream) -> (f64, f64) {
    let mut book = B::loaded(s);
    let t = Instant::now();
    apply_all(&mut book, &s.updates);
    let update = t.elapsed().as_nanos() as f64 / s.updates.len() as f64;
    let mut out = Tops::default();
    let t = Instant::now();
    read_tops(&book, &mut out);
    let top = t.elapsed().as_nanos() as f64 / TOP_READS as f64;
    (update, top)
}

/// Per book: every pass's ns per update and per top-N read.
#[derive(Default)]
struct Figures {
    update: Vec<f64>,
    top: Vec<f64>,
}

impl Figures {
    fn push(&mut self, (u, t): (f64, f64)) {
        self.update.push(u);
        self.top.push(t);
    }
    fn pick(&self, top: bool) -> &[f64] {
        if top { &self.top } else { &self.update }
    }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Applies the stream untimed to `B` and to our book side by side: how many best bid/ask reads
/// differ on the way, and how the final books differ.
fn compare<B: Book>(s: &Stream) -> String {
    let mut ours = Ours::loaded(s);
    let mut peer = B::loaded(s);
    let (mut bbo_diff, mut crossed) = (0usize, 0usize);
    let mut depth: Vec<u64> = Vec::with_capacity(s.updates.len());
    for &(is_bid, l) in &s.updates {
        // How far from its side's best (before the update) each update lands, in ticks.
        let best = if is_bid {
            ours.book.bids.best()
        } else {
            ours.book.asks.best()
        };
        if let Some(b) = best {
            depth.push(b.price.0.abs_diff(l.price.0) / s.tick);
        }
        ours.set(is_bid, l);
        peer.set(is_bid, l);
        if ours.bbo() != peer.bbo() {
            bbo_diff += 1;
        }
        if ours.book.is_crossed() {
            crossed += 1;
        }
    }
    let tops_agree = ours.top_agrees() && peer.top_agrees();
    let (ob, oa) = ours.all();
    let (pb, pa) = peer.all();
    let same = ob == pb && oa == pa;
    // Our levels outside what the peer keeps (ROIVector's range), and whether the rest agree.
    let (lo, hi) = B::kept(s).unwrap_or((i64::MIN, i64::MAX));
    let inside = |rows: &[Row]| -> Vec<Row> {
        rows.iter()
            .copied()
            .filter(|r| (lo..=hi).contains(&r.0))
            .collect()
    };
    let outside = ob.len() + oa.len() - inside(&ob).len() - inside(&oa).len();
    let same_inside = inside(&ob) == pb && inside(&oa) == pa;
    depth.sort_unstable();
    let pct = |p: usize| depth.get(depth.len() * p / 100).copied().unwrap_or(0);
    format!(
        "{}{:<10} vs microstate: final books {} ({} bid / {} ask levels; {} of ours outside the peer's range; \
         inside it {}); best bid/ask differed after {} of {} updates (ours crossed after {}, \
         mid-diff: bids of a diff are applied before its asks); top-20 reads {} the full books",
        if B::NAME == Roi::NAME {
            format!(
                "update distance from the best, ticks: p50 {} p90 {} p99 {} max {}\n  ",
                pct(50),
                pct(90),
                pct(99),
                depth.last().copied().unwrap_or(0)
            )
        } else {
            String::new()
        },
        B::NAME,
        if same { "EQUAL" } else { "DIFFER" },
        ob.len(),
        oa.len(),
        outside,
        if same_inside { "EQUAL" } else { "DIFFER" },
        bbo_diff,
        s.updates.len(),
        crossed,
        if tops_agree {
            "agree with"
        } else {
            "DIFFER from"
        },
    )
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let passes = std::env::var("PEERS_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 3 } else { 11 });
    let only = std::env::var("PEERS_ONLY").ok();
    let stream_only: Option<usize> = std::env::var("PEERS_STREAM")
        .ok()
        .and_then(|v| v.parse().ok());
    let wants = |name: &str| only.as_deref().is_none_or(|o| o == name);

    let mut sides = Vec::new();
    if only.is_none() || only.as_deref() == Some("sides") {
        let mut buf = Vec::with_capacity(20);
        for (name, side) in synthetic_sides() {
            let mut runs = Vec::new();
            for _ in 0..passes {
                let t = Instant::now();
                read_top20_side(&side, &mut buf);
                runs.push(t.elapsed().as_nanos() as f64 / SIDE_READS as f64);
            }
            sides.push((name, median(runs)));
        }
    }
    let mut table = Vec::new();
    let mut notes = Vec::new();
    for (i, c) in CAPTURES.iter().enumerate() {
        if stream_only.is_some_and(|k| k != i) || only.as_deref() == Some("sides") {
            continue;
        }
        let s = load(c).unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "{}: {} snapshot levels, {} level updates ({:.0} % deletes), tick {} units, prices {}..{} ({} ticks)",
            s.name,
            s.bids.len() + s.asks.len(),
            s.updates.len(),
            100.0 * s.delete_share(),
            s.tick,
            s.min_price,
            s.max_price,
            (s.max_price - s.min_price) / s.tick.max(1) + 1,
        );
        let (lo, hi) = roi_range(&s);
        let outside = s
            .updates
            .iter()
            .filter(|(_, l)| l.price.0 < lo || l.price.0 > hi)
            .count();
        eprintln!(
            "  ROIVector range {lo}..{hi} ({} ticks): {outside} updates fall outside it",
            (hi - lo) / s.tick.max(1) + 1
        );
        // Passes interleave the books, so a burst of load elsewhere on the machine hits all
        // of them alike.
        let (mut ours, mut roi, mut hash) =
            (Figures::default(), Figures::default(), Figures::default());
        for _ in 0..passes {
            if wants("ours") {
                ours.push(pass::<Ours>(&s));
            }
            if wants("roi") {
                roi.push(pass::<Roi>(&s));
            }
            if wants("hash") {
                hash.push(pass::<Hash>(&s));
            }
        }
        if only.is_none() {
            notes.push(format!(
                "{}:\n  {}\n  {}",
                s.name,
                compare::<Roi>(&s),
                compare::<Hash>(&s)
            ));
        }
        table.push((s.name, s.updates.len(), ours, roi, hash));
    }

    let cell = |f: &Figures, base: &Figures, top: bool| -> String {
        let (f, b) = (f.pick(top), base.pick(top));
        match (f.is_empty(), b.is_empty()) {
            (false, false) => format!(
                "{:7.1} ns {:.2}× (min {:.2}×)",
                median(f.to_vec()),
                median(f.to_vec()) / median(b.to_vec()),
                min(f) / min(b)
            ),
            (false, true) => format!("{:7.1} ns", median(f.to_vec())),
            _ => "-".to_string(),
        }
    };
    println!();
    println!(
        "peers: median of {passes} interleaved passes; ratio = median / ROIVector's median (and min / min); ROIVector range: {}",
        if std::env::var("PEERS_ROI").is_ok_and(|v| v == "stream") {
            "the stream's whole price range"
        } else {
            "the snapshot's mid ± 2 %"
        }
    );
    for (title, top) in [
        ("update one level + read best bid/ask", false),
        ("top-20 of both sides", true),
    ] {
        println!();
        println!("{title}");
        println!(
            "| {:<20} | {:>8} | {:<30} | {:<30} | {:<30} |",
            "stream", "updates", "microstate", "ROIVector", "HashMap"
        );
        for (name, n, ours, roi, hash) in &table {
            println!(
                "| {:<20} | {:>8} | {:<30} | {:<30} | {:<30} |",
                name,
                n,
                cell(ours, roi, top),
                cell(roi, roi, top),
                cell(hash, roi, top),
            );
        }
    }
    if !sides.is_empty() {
        println!();
        println!(
            "top-20 of one side of 5,000 levels (as `cargo bench --bench core`'s book/top20_*)"
        );
        for (name, ns) in &sides {
            println!("| {name:<6} | {ns:6.1} ns |");
        }
    }
    if !notes.is_empty() {
        println!();
        for n in notes {
            println!("{n}");
        }
    }
}
