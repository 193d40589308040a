//! The feature engine on the real captures in ../shared/data: after every event, the engine's
//! incremental vector equals the batch reference (`feature_batch`: everything recomputed
//! from scratch with its own book) — same validity, values within a relative 1e-9, integers
//! exact — on the spot and USD-M captures, both cryptofeed sets, and a spot capture with a
//! forced gap and resync, where the windowed features must go invalid and come back when their
//! window refills. Plus a property test on random event streams.

use std::io::Write;
use std::path::PathBuf;

use crate::feature_batch::{Batch, close};
use microstate_core::engine::{Engine, EngineConfig, RawFrame};
use microstate_core::features::{FeatureParams, FeatureVector, N_FEATURES, N_WINDOWS, Schema, idx};
use microstate_core::num::{Nanos, Symbol};
use microstate_io::record::{Merge, Merged, open_captures};
use microstate_testkit::*;

/// Per symbol: the batch, how much of the tap it has read, events compared.
struct Follower {
    symbol: Symbol,
    batch: Batch,
    read: usize,
    events: u64,
    /// How many times each feature was valid (coverage: each one must come alive somewhere).
    valid_seen: Vec<u64>,
    /// (ts, book valid, windows valid, valid mask) after each event.
    trace: Vec<(u64, bool, [bool; N_WINDOWS], u128)>,
}

struct Run {
    engine: Engine,
    followers: Vec<Follower>,
    schema: Schema,
    /// Compare on every event up to this many per symbol; after that on every `every`-th
    /// event, and on every event while some window is invalid (inside a hole and until every
    /// window has refilled) or a validity group changes. (A debug build recomputing everything
    /// from scratch costs ~20 s per 100k-event capture: the spot capture is compared on every
    /// event, the USD-M and gap runs sampled this way.)
    prefix: u64,
    every: u64,
    /// Events actually compared, over all symbols.
    compared: u64,
}

fn assert_same(schema: &Schema, sym: Symbol, n: u64, v: &FeatureVector, want: &[Option<f64>]) {
    for (i, w) in want.iter().enumerate() {
        let name = &schema.features[i].name;
        match (v.get(i), *w) {
            (None, None) => {}
            (Some(a), Some(b)) if close(name, a, b) => {}
            (got, want) => panic!(
                "{sym} event {n} (ts {}): `{name}` incremental {got:?} vs batch {want:?}",
                v.ts_ns()
            ),
        }
    }
}

impl Run {
    fn new() -> Run {
        Run {
            engine: Engine::new(EngineConfig {
                feature_tap: true,
                ..EngineConfig::default()
            }),
            followers: Vec::new(),
            schema: Schema::new(&FeatureParams::default()),
            prefix: u64::MAX,
            every: 1,
            compared: 0,
        }
    }

    /// Feeds one frame, then brings every symbol's batch up to date and compares.
    fn frame(&mut self, raw: RawFrame<'_>) {
        let _ = self.engine.on_frame(raw);
        for st in self.engine.symbols() {
            let Some(f) = st.features() else { continue };
            // The features know exactly when the book is not synced (the batch follows the
            // features' inputs, so this is checked against the sync machine itself).
            assert_eq!(
                f.in_hole(),
                !st.sync.is_synced(),
                "{} hole vs sync",
                st.symbol
            );
            let fi = match self.followers.iter().position(|x| x.symbol == st.symbol) {
                Some(i) => i,
                None => {
                    self.followers.push(Follower {
                        symbol: st.symbol,
                        batch: Batch::new(*f.params()),
                        read: 0,
                        events: 0,
                        valid_seen: vec![0; N_FEATURES],
                        trace: Vec::new(),
                    });
                    self.followers.len() - 1
                }
            };
            let fo = &mut self.followers[fi];
            let tap = f.tap();
            if tap.len() == fo.read {
                continue;
            }
            for e in &tap[fo.read..] {
                fo.batch.feed(e);
            }
            fo.read = tap.len();
            fo.events += 1;
            let v = f.vector();
            assert_eq!(v.ts_ns(), fo.batch.ts_ns(), "{} clock", st.symbol);
            let groups = (v.book_valid(), std::array::from_fn(|w| v.window_valid(w)));
            let changed = fo.trace.last().is_none_or(|x| (x.1, x.2) != groups);
            let refilling = groups != (true, [true; N_WINDOWS]);
            if fo.events <= self.prefix
                || fo.events.is_multiple_of(self.every)
                || changed
                || refilling
            {
                assert_same(&self.schema, st.symbol, fo.events, v, &fo.batch.vector());
                self.compared += 1;
            }
            for (i, seen) in fo.valid_seen.iter_mut().enumerate() {
                *seen += v.is_valid(i) as u64;
            }
            fo.trace.push((
                v.ts_ns(),
                v.book_valid(),
                std::array::from_fn(|w| v.window_valid(w)),
                v.valid_mask(),
            ));
        }
    }

    fn files(paths: &[PathBuf], prefix: u64, every: u64) -> Run {
        let mut run = Run::new();
        run.prefix = prefix;
        run.every = every;
        let sources = open_captures(paths).expect("open captures");
        let mut merge = Merge::new(sources);
        while let Some(item) = merge.next_frame() {
            match item {
                Merged::Frame { frame, .. } => run.frame(frame.raw()),
                Merged::Error(e) => panic!("capture error: {e}"),
            }
        }
        run
    }

    fn follower(&self, s: &str) -> &Follower {
        self.followers
            .iter()
            .find(|f| f.symbol.as_str() == s)
            .unwrap_or_else(|| panic!("{s} not replayed"))
    }

    /// Every feature was valid at some event.
    fn assert_all_features_came_alive(&self, s: &str) {
        let f = self.follower(s);
        let dead: Vec<&str> = (0..N_FEATURES)
            .filter(|&i| f.valid_seen[i] == 0)
            .map(|i| self.schema.features[i].name.as_str())
            .collect();
        assert!(dead.is_empty(), "{s}: never valid: {dead:?}");
    }
}

#[test]
fn spot_capture_incremental_equals_batch_on_every_event() {
    let run = Run::files(&spot_files(), u64::MAX, 1);
    let f = run.follower("BTCUSDT");
    // 6,493 diffs + 19,904 trades + 73,174 bookTickers, each one vector, each compared.
    assert_eq!(f.events, 6_493 + 19_904 + 73_174);
    assert_eq!(run.compared, f.events);
    run.assert_all_features_came_alive("BTCUSDT");
    // The 60 s window comes alive 60 s after the first sync and stays valid (no gap).
    let first60 = f
        .trace
        .iter()
        .position(|x| x.2[2])
        .expect("60s window valid");
    let synced = f.trace.iter().position(|x| x.1).expect("synced");
    assert!(f.trace[first60].0 >= f.trace[synced].0 + 60_000_000_000);
    assert!(f.trace[first60..].iter().all(|x| x.1 && x.2 == [true; 3]));
}

#[test]
fn usdm_capture_incremental_equals_batch_sampled() {
    // Every event for the first 20,000 and until the 60 s window fills, then every 7th.
    let run = Run::files(&usdm_files(), 20_000, 7);
    let f = run.follower("BTCUSDT");
    assert!(f.events > 70_000, "{}", f.events);
    assert!(run.compared > 20_000 + 7_000, "{}", run.compared);
    run.assert_all_features_came_alive("BTCUSDT");
}

#[test]
fn cryptofeed_captures_incremental_equals_batch_on_every_event() {
    let dir = data_dir().join("cryptofeed");
    for prefix in ["BINANCE", "BINANCE_FUTURES"] {
        let run = Run::files(&[dir.join(format!("{prefix}.ws.1.0"))], u64::MAX, 1);
        assert_eq!(run.followers.len(), 4, "{prefix}");
        for f in &run.followers {
            eprintln!("{prefix} {}: {} events compared", f.symbol, f.events);
            assert!(f.events > 0, "{prefix} {}", f.symbol);
            // ~30 s captures: the 60 s window can never be valid.
            assert!(f.trace.iter().all(|x| !x.2[2]), "{}", f.symbol);
            // Symbols with some activity see their 10 s window fill.
            if f.events > 200 {
                assert!(
                    f.trace.iter().any(|x| x.2[1]),
                    "{}: 10s window never valid",
                    f.symbol
                );
            }
        }
    }
}

/// The spot capture with a run of 30 diffs removed (a sequence gap ~200 s in) and a snapshot of
/// the real book inserted later, which the buffered diffs bridge.
fn gapped_spot_capture() -> PathBuf {
    let mut lines = gz_lines(&spot_files());
    let snap_line = lines
        .iter()
        .position(|l| l.contains("lastUpdateId"))
        .expect("snapshot");
    let depth_after = |lines: &[String], n: usize| {
        lines
            .iter()
            .enumerate()
            .skip(snap_line + 1)
            .filter(|(_, l)| l.contains("@depth@100ms"))
            .nth(n)
            .map(|(i, _)| i)
            .expect("depth line")
    };
    // Payloads of every diff, and the snapshot, for an independent rebuild (microstate-testkit).
    let mut diffs = Vec::new();
    let mut snap = None;
    for l in &lines {
        let (_, j) = l.split_once(' ').expect("ts");
        let v: serde_json::Value = serde_json::from_str(j).expect("json");
        if v.get("lastUpdateId").is_some() {
            snap = Some(v);
        } else if l.contains("@depth@100ms") {
            diffs.push(v["data"].clone());
        }
    }
    let snap = snap.expect("snapshot");
    for _ in 0..30 {
        let i = depth_after(&lines, 2000);
        lines.remove(i);
    }
    let r = rebuild(&diffs[..2100], &snap, false);
    let body = serde_json::json!({
        "lastUpdateId": r.book.last,
        "bids": r.book.top_bids(5000),
        "asks": r.book.top_asks(5000),
    });
    let at = depth_after(&lines, 2150);
    let ts = lines[at].split_once(' ').expect("ts").0.to_string();
    lines.insert(at, format!("{ts} {body}"));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("features-gap");
    std::fs::create_dir_all(&dir).expect("dir");
    let p = dir.join("btcusdt_20240808.txt");
    let mut f = std::fs::File::create(&p).expect("create");
    for l in &lines {
        writeln!(f, "{l}").expect("write");
    }
    p
}

#[test]
fn forced_gap_invalidates_windows_until_they_refill_and_matches_batch() {
    // Every event from the gap until every window has refilled, every 7th elsewhere.
    let run = Run::files(&[gapped_spot_capture()], 20_000, 7);
    let st = run
        .engine
        .symbol(Symbol::new(b"BTCUSDT").expect("s"))
        .expect("BTCUSDT");
    assert_eq!(st.sync.counters().gaps, 1);
    assert_eq!(st.sync.counters().resyncs, 1);
    let f = run.follower("BTCUSDT");
    let tr = &f.trace;
    // Synced with every window valid before the gap.
    let gap = tr
        .iter()
        .enumerate()
        .skip(1)
        .position(|(i, x)| tr[i - 1].1 && !x.1)
        .map(|p| p + 1)
        .expect("the gap shows");
    assert_eq!(tr[gap - 1].2, [true; 3], "all windows valid before the gap");
    // Inside the hole nothing is valid.
    let resync = gap + tr[gap..].iter().position(|x| x.1).expect("resync shows");
    assert!(resync - gap > 10, "a hole of some events: {}", resync - gap);
    assert!(
        tr[gap..resync]
            .iter()
            .all(|x| x.3 == 0 && x.2 == [false; 3])
    );
    // After the resync: book features at once, each window once it lies after the resync.
    let valid_from = st.features().expect("features").valid_from_ns();
    assert_eq!(tr[resync].0, valid_from);
    assert!(tr[resync].3 >> idx::MID & 1 == 1, "mid valid at the resync");
    let windows = FeatureParams::default().windows_ns;
    for (w, &len) in windows.iter().enumerate() {
        let back = resync
            + tr[resync..]
                .iter()
                .position(|x| x.2[w])
                .expect("window refills");
        assert!(
            tr[back].0 >= valid_from + len && tr[back - 1].0 < valid_from + len,
            "window {w} comes back exactly when it lies after the resync"
        );
        assert!(tr[resync..back].iter().all(|x| !x.2[w]));
        assert!(
            tr[back].3 >> (idx::OFI + 1 + w) & 1 == 1,
            "ofi window {w} valid"
        );
        assert!(
            tr[resync..back]
                .iter()
                .all(|x| x.3 >> (idx::RET + w) & 1 == 0)
        );
    }
    assert!(tr.last().expect("events").2 == [true; 3]);
    run.assert_all_features_came_alive("BTCUSDT");
}

mod props {
    //! Random event streams (diffs with ties and late timestamps, trades, tickers with and
    //! without `E`, gaps, resets) through the engine: incremental == batch after every event.
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Ev {
        /// Diff: ms step (0 = tie), bid/ask level changes (tick offset from 100, qty; 0 deletes).
        Diff(u64, Vec<(u64, u64)>, Vec<(u64, u64)>),
        /// Trade: ms step (may go back: late), price offset, qty, buyer is maker.
        Trade(i64, u64, u64, bool),
        Ticker(bool),
        /// A diff that skips ids: a gap.
        Gap,
        Reset,
        /// A fresh snapshot (resyncs after a gap or reset).
        Snapshot,
        /// A snapshot `k` ids behind the stream: the buffered diffs after it are replayed when it
        /// loads (stamped at the clock), and a gap among them breaks the bridge again.
        OldSnapshot(u64),
    }

    fn ev() -> impl Strategy<Value = Ev> {
        let lv = || {
            prop::collection::vec(
                (0u64..12, prop::sample::select(vec![0u64, 1, 5, 20, 300])),
                0..4,
            )
        };
        prop_oneof![
            6 => (prop::sample::select(vec![0u64, 0, 1, 7, 120, 900, 4000]), lv(), lv())
                .prop_map(|(s, b, a)| Ev::Diff(s, b, a)),
            4 => (-3i64..400, 0u64..30, 1u64..500, any::<bool>()).prop_map(|(s, p, q, m)| Ev::Trade(s, p, q, m)),
            3 => any::<bool>().prop_map(Ev::Ticker),
            1 => Just(Ev::Gap),
            1 => Just(Ev::Reset),
            2 => Just(Ev::Snapshot),
            2 => (1u64..13).prop_map(Ev::OldSnapshot),
        ]
    }

    fn levels(side: &std::collections::BTreeMap<u64, u64>) -> String {
        side.iter()
            .map(|(p, q)| format!("[\"{}\",\"{}\"]", p, q))
            .collect::<Vec<_>>()
            .join(",")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
        #[test]
        fn incremental_equals_batch_on_random_streams(evs in prop::collection::vec(ev(), 1..300)) {
            let params = FeatureParams {
                windows_ns: [5_000_000, 50_000_000, 1_000_000_000],
                depth_levels: [1, 2, 5],
                ofi_levels: 3,
                band_bps: 50,
                ewma_half_life_ns: 100_000_000,
            };
            let mut run = Run::new();
            run.engine = Engine::new(EngineConfig {
                feature_tap: true,
                features: Some(params),
                ..EngineConfig::default()
            });
            run.schema = Schema::new(&params);
            // The true book (prices as whole units around 100 so bids < asks always).
            let mut bids = std::collections::BTreeMap::new();
            let mut asks = std::collections::BTreeMap::new();
            bids.insert(95u64, 10u64);
            asks.insert(105u64, 10u64);
            let (mut ms, mut u, mut tid) = (1_700_000_000_000u64, 100u64, 1u64);
            let frame = |run: &mut Run, body: String| {
                run.frame(RawFrame { recv: Nanos(0), bytes: body.as_bytes(), symbol_hint: Symbol::new(b"XUSDT") });
            };
            let snapshot = |u: u64, b: &std::collections::BTreeMap<u64, u64>, a: &std::collections::BTreeMap<u64, u64>| {
                format!("{{\"lastUpdateId\":{u},\"bids\":[{}],\"asks\":[{}]}}", levels(b), levels(a))
            };
            frame(&mut run, snapshot(u, &bids, &asks));
            for e in evs {
                match e {
                    Ev::Diff(step, b, a) => {
                        ms += step;
                        for (off, q) in b {
                            let p = 99 - off; // 88..=99
                            if q == 0 { bids.remove(&p); } else { bids.insert(p, q); }
                        }
                        for (off, q) in a {
                            let p = 101 + off; // 101..=112
                            if q == 0 { asks.remove(&p); } else { asks.insert(p, q); }
                        }
                        // Every price in range: absolute quantities, 0 where absent, so the
                        // engine's book equals this one whether or not it was synced.
                        let side = |m: &std::collections::BTreeMap<u64, u64>, r: std::ops::RangeInclusive<u64>| {
                            r.map(|p| format!("[\"{p}\",\"{}\"]", m.get(&p).copied().unwrap_or(0)))
                                .collect::<Vec<_>>()
                                .join(",")
                        };
                        frame(&mut run, format!(
                            "{{\"stream\":\"xusdt@depth@100ms\",\"data\":{{\"e\":\"depthUpdate\",\"E\":{ms},\"s\":\"XUSDT\",\"U\":{},\"u\":{},\"b\":[{}],\"a\":[{}]}}}}",
                            u + 1, u + 1, side(&bids, 88..=99), side(&asks, 101..=112)));
                        u += 1;
                    }
                    Ev::Trade(step, p, q, m) => {
                        let t = (ms as i64 + step) as u64;
                        ms = ms.max(t);
                        tid += 1;
                        frame(&mut run, format!(
                            "{{\"stream\":\"xusdt@trade\",\"data\":{{\"e\":\"trade\",\"E\":{t},\"s\":\"XUSDT\",\"t\":{tid},\"p\":\"{}\",\"q\":\"{q}\",\"T\":{t},\"m\":{m},\"M\":true}}}}",
                            90 + p));
                    }
                    Ev::Ticker(with_e) => {
                        let e = if with_e { format!(",\"E\":{ms}") } else { String::new() };
                        frame(&mut run, format!(
                            "{{\"stream\":\"xusdt@bookTicker\",\"data\":{{\"u\":{u},\"s\":\"XUSDT\",\"b\":\"1\",\"B\":\"1\",\"a\":\"2\",\"A\":\"1\"{e}}}}}"));
                    }
                    Ev::Gap => {
                        ms += 1;
                        u += 5;
                        frame(&mut run, format!(
                            "{{\"stream\":\"xusdt@depth@100ms\",\"data\":{{\"e\":\"depthUpdate\",\"E\":{ms},\"s\":\"XUSDT\",\"U\":{u},\"u\":{u},\"b\":[],\"a\":[]}}}}"));
                    }
                    Ev::Reset => run.engine.reset_symbol(Symbol::new(b"XUSDT").expect("s")),
                    Ev::OldSnapshot(k) => frame(&mut run, snapshot(u.saturating_sub(k), &bids, &asks)),
                    Ev::Snapshot => {
                        frame(&mut run, snapshot(u, &bids, &asks));
                        // A diff right after bridges it.
                        ms += 1;
                        u += 1;
                        frame(&mut run, format!(
                            "{{\"stream\":\"xusdt@depth@100ms\",\"data\":{{\"e\":\"depthUpdate\",\"E\":{ms},\"s\":\"XUSDT\",\"U\":{u},\"u\":{u},\"b\":[],\"a\":[]}}}}"));
                    }
                }
            }
            prop_assert!(run.followers.len() == 1);
        }
    }
}
