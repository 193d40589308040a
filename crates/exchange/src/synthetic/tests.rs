//! Tests of the synthetic market: determinism, engine sync with zero gaps, wire shapes, regimes
//! and book invariants. Each runs well under two seconds in a debug build.

use super::model::{MAX_LEVELS, MIN_LEVELS, Regime, Spec, SymbolSim};
use super::*;
use microstate_core::engine::Engine;
use microstate_core::rng::Rng;
use microstate_core::wire::reference::{self, OwnedEvent};

fn sym(s: &str) -> Symbol {
    Symbol::new(s.as_bytes()).expect("symbol")
}

fn three() -> Vec<Symbol> {
    vec![sym("BTCUSDT"), sym("ETHUSDT"), sym("SOLUSDT")]
}

fn frames(src: &mut SyntheticSource, n: usize) -> Vec<(Nanos, FrameKind, Option<Symbol>, Vec<u8>)> {
    (0..n)
        .map(|_| {
            assert!(src.advance().expect("advance"));
            let f = src.current();
            (f.recv, f.kind, f.symbol_hint, f.body().to_vec())
        })
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let a = frames(
        &mut SyntheticSource::new(SyntheticConfig::new(7, three())),
        5_000,
    );
    let b = frames(
        &mut SyntheticSource::new(SyntheticConfig::new(7, three())),
        5_000,
    );
    assert!(a == b, "same seed must give identical frames");
    let c = frames(
        &mut SyntheticSource::new(SyntheticConfig::new(8, three())),
        5_000,
    );
    assert!(a != c, "another seed must give other frames");
    // Kinds: snapshots first (with the symbol they were requested for), then the WebSocket.
    assert!(a[..3].iter().all(|f| f.1 == FrameKind::Rest));
    assert_eq!(a[0].2, Some(sym("BTCUSDT")));
    assert!(a[3..].iter().all(|f| f.1 == FrameKind::Ws && f.2.is_none()));
}

/// Feeds `n` frames to a fresh engine, checking the stream's own rules on the way and, right
/// after each diff, that the engine's book equals the generator's level for level.
fn run_engine(cfg: SyntheticConfig, n: usize) -> Engine {
    let mut src = SyntheticSource::new(cfg);
    let mut engine = Engine::new(Default::default());
    let mut decoder = microstate_core::wire::binance::Decoder::new();
    let mut last_recv = Nanos(0);
    let mut books_compared = 0;
    for _ in 0..n {
        assert!(src.advance().expect("advance"));
        let f = src.current();
        assert!(f.recv > last_recv, "receive times must increase");
        last_recv = f.recv;
        engine
            .on_frame(f.raw())
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(f.body())));
        // A symbol's book does not move between its diff and the next millisecond step.
        let Ok(microstate_core::wire::Event::Depth(d)) = decoder.decode(f.body()) else {
            continue;
        };
        let i = src
            .symbols
            .iter()
            .position(|&s| s == d.symbol)
            .expect("known");
        let (sim, st) = (&src.sims[i], engine.symbol(d.symbol).expect("seen"));
        if !st.sync.is_synced() {
            continue;
        }
        let (tick, lot) = (sim.spec.tick, sim.spec.lot);
        let mine = |side: &model::Side| {
            side.levels
                .iter()
                .rev()
                .map(|l| (l.ticks * tick, l.lots * lot))
                .collect::<Vec<_>>()
        };
        let theirs = |side: &microstate_core::book::Side| {
            side.iter()
                .map(|l| (l.price.0, l.qty.0))
                .collect::<Vec<_>>()
        };
        assert!(mine(&sim.bids) == theirs(&st.book().bids), "bids differ");
        assert!(mine(&sim.asks) == theirs(&st.book().asks), "asks differ");
        books_compared += 1;
    }
    assert!(books_compared > 100, "{books_compared} books compared");
    engine
}

fn assert_clean_sync(engine: &Engine, symbols: &[Symbol]) {
    assert_eq!(engine.stats.errors, 0);
    assert_eq!(engine.symbols().len(), symbols.len());
    for st in engine.symbols() {
        let c = st.sync.counters();
        let t = &st.ticker_check;
        assert!(st.sync.is_synced(), "{} not synced: {c:?}", st.symbol);
        assert_eq!(c.gaps, 0, "{}", st.symbol);
        assert_eq!(c.crossed_events, 0, "{}", st.symbol);
        assert_eq!(c.stale, 0, "{}", st.symbol);
        assert_eq!(c.snapshots, 1, "{}", st.symbol);
        assert!(c.applied > 100, "{}: {c:?}", st.symbol);
        assert!(t.compared > 0, "{}: no ticker compared", st.symbol);
        assert_eq!(
            t.compared, t.matched,
            "{}: {} mismatched",
            st.symbol, t.mismatched
        );
        assert!(st.trades > 0, "{}: no trades", st.symbol);
        let bbo = st.book().bbo();
        assert!(bbo.bid.is_some() && bbo.ask.is_some());
        assert!(!st.book().is_crossed());
    }
}

#[test]
fn spot_stream_syncs_engine_without_gaps() {
    let cfg = SyntheticConfig::new(42, three());
    let engine = run_engine(cfg, 20_000);
    assert_clean_sync(&engine, &three());
    for st in engine.symbols() {
        assert_eq!(st.market, Some(Market::Spot));
    }
}

#[test]
fn usdm_stream_follows_futures_rules() {
    let mut cfg = SyntheticConfig::new(3, vec![sym("BTCUSDT"), sym("ETHUSDT")]);
    cfg.market = Market::UsdM;
    let engine = run_engine(cfg.clone(), 12_000);
    assert_clean_sync(&engine, &cfg.symbols);
    for st in engine.symbols() {
        assert_eq!(st.market, Some(Market::UsdM));
        assert_eq!(
            st.sync.rules(),
            Some(microstate_core::book::sync::Rules::Futures)
        );
    }
    // Wire details: pu chains, ids skip, futures fields present, spot fields absent.
    let mut src = SyntheticSource::new(cfg);
    let mut last_u: std::collections::HashMap<Symbol, u64> = Default::default();
    let (mut skipped, mut saw) = (false, [false; 3]);
    for (i, (_, _, _, body)) in frames(&mut src, 5_000).iter().enumerate() {
        let text = std::str::from_utf8(body).expect("utf8");
        match reference::decode(body).expect("decodes") {
            OwnedEvent::Snapshot(s) => {
                assert!(s.event_time_ms.is_some() && s.transact_time_ms.is_some());
                assert!(i < 2);
            }
            OwnedEvent::Depth(d) => {
                saw[0] = true;
                assert!(d.transact_time_ms.is_some_and(|t| t <= d.event_time_ms));
                let pu = d.prev_final_id.expect("pu");
                if let Some(&prev) = last_u.get(&d.symbol) {
                    assert_eq!(pu, prev, "pu must equal the previous u");
                    skipped |= d.first_id > pu + 1;
                }
                last_u.insert(d.symbol, d.final_id);
                assert!(text.contains("@depth@100ms"));
                assert!(
                    !text.contains(".00000000\""),
                    "futures prints short decimals"
                );
            }
            OwnedEvent::Trade(_) => {
                saw[1] = true;
                assert!(text.contains(r#""X":"MARKET""#) && !text.contains(r#""M""#));
            }
            OwnedEvent::BookTicker(t) => {
                saw[2] = true;
                assert!(t.event_time_ms.is_some() && t.transact_time_ms.is_some());
                assert!(text.contains(r#""e":"bookTicker""#));
            }
            OwnedEvent::Other(o) => panic!("unexpected frame {o:?}: {text}"),
        }
    }
    assert!(skipped, "futures update ids should not be contiguous");
    assert_eq!(saw, [true; 3]);
}

#[test]
fn spot_wire_shapes_match_binance_and_both_decoders() {
    let mut src = SyntheticSource::new(SyntheticConfig::new(5, three()));
    let mut decoder = microstate_core::wire::binance::Decoder::new();
    let mut last_u: std::collections::HashMap<Symbol, u64> = Default::default();
    let mut by_kind = [0u32; 4];
    for (recv, _, _, body) in frames(&mut src, 4_000) {
        let text = std::str::from_utf8(&body).expect("utf8");
        let slow = reference::decode(&body).expect("reference decodes");
        let fast = decoder.decode(&body).expect("fast decodes");
        assert!(slow.same_as(&fast), "decoders disagree on {text}");
        let event_ms = match &slow {
            OwnedEvent::Snapshot(s) => {
                by_kind[0] += 1;
                assert!(s.event_time_ms.is_none() && s.bids.len() >= MIN_LEVELS);
                assert!(text.starts_with(r#"{"lastUpdateId":"#));
                None
            }
            OwnedEvent::Depth(d) => {
                by_kind[1] += 1;
                assert!(d.prev_final_id.is_none() && d.transact_time_ms.is_none());
                if let Some(&prev) = last_u.get(&d.symbol) {
                    assert_eq!(d.first_id, prev + 1, "spot ids are contiguous");
                }
                last_u.insert(d.symbol, d.final_id);
                // Bids high to low, asks low to high, each price once.
                assert!(d.bids.windows(2).all(|w| w[0].price > w[1].price));
                assert!(d.asks.windows(2).all(|w| w[0].price < w[1].price));
                Some(d.event_time_ms)
            }
            OwnedEvent::Trade(t) => {
                by_kind[2] += 1;
                assert!(text.contains(r#""M":true"#) && !text.contains(r#""X""#));
                assert_eq!(t.event_time_ms, t.trade_time_ms);
                Some(t.event_time_ms)
            }
            OwnedEvent::BookTicker(t) => {
                by_kind[3] += 1;
                assert!(t.event_time_ms.is_none() && !text.contains(r#""e""#));
                None
            }
            OwnedEvent::Other(o) => panic!("unexpected frame {o:?}: {text}"),
        };
        // Prices and quantities are printed with Binance's 8 spot decimals.
        for string in text.split('"').skip(1).step_by(2) {
            if let Some((int, frac)) = string.split_once('.') {
                let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
                assert!(
                    digits(int) && digits(frac) && frac.len() == 8,
                    "{string} in {text}"
                );
            }
        }
        if let Some(e) = event_ms {
            let lag = recv.0 as i64 - (e * 1_000_000) as i64;
            assert!((1_000_000..=50_000_000).contains(&lag), "lag {lag} ns");
        }
    }
    assert!(by_kind.iter().all(|&n| n > 0), "{by_kind:?}");
}

#[test]
fn latency_is_mostly_one_to_five_ms() {
    let mut src = SyntheticSource::new(SyntheticConfig::new(11, vec![sym("BTCUSDT")]));
    let mut decoder = microstate_core::wire::binance::Decoder::new();
    let (mut within, mut total) = (0, 0);
    for (recv, _, _, body) in frames(&mut src, 3_000) {
        if let Ok(microstate_core::wire::Event::Depth(d)) = decoder.decode(&body) {
            total += 1;
            let lag = recv.0 - d.event_time_ms * 1_000_000;
            within += (1_000_000..=5_000_000).contains(&lag) as u32;
        }
    }
    assert!(total > 100 && within * 10 >= total * 9, "{within}/{total}");
}

/// Runs one symbol's model for `minutes` of event time, checking the book at every step.
fn run_model(seed: u64, index: usize, minutes: u64) -> Vec<(Regime, i64)> {
    let start = DEFAULT_START_NS / 1_000_000;
    let spec = Spec::for_index(index, false);
    let mut sim = SymbolSim::new(spec, false, Rng::new(seed, 1), start, 1_000);
    sim.begin_capture(start);
    let mut trades = Vec::new();
    let mut windows = Vec::new();
    let mut mid = sim.mid2() as i64;
    for now in start + 1..start + minutes * 60_000 {
        sim.step_ms(now, &mut trades);
        for t in trades.drain(..) {
            assert!(t.lots > 0);
        }
        let (b, a) = (sim.bids.best().expect("bid"), sim.asks.best().expect("ask"));
        assert!(b.ticks < a.ticks, "crossed at {now}");
        if now >= sim.next_publish_ms {
            for side in [&sim.bids, &sim.asks] {
                let n = side.levels.len();
                assert!((MIN_LEVELS..=MAX_LEVELS).contains(&n), "{n} levels");
                assert_eq!(side.total, side.levels.iter().map(|l| l.lots).sum::<u64>());
                assert!(side.levels.iter().all(|l| l.lots > 0));
            }
            let regime = sim.regime;
            sim.publish(now);
            sim.bids.touched.clear();
            sim.asks.touched.clear();
            let m = sim.mid2() as i64;
            windows.push((regime, m - mid));
            mid = m;
        }
    }
    windows
}

#[test]
fn regimes_persist_switch_and_drift_the_mid() {
    let windows = run_model(1, 0, 50);
    let count = |r| windows.iter().filter(|w| w.0 == r).count();
    let drift = |r| {
        windows
            .iter()
            .filter(|w| w.0 == r)
            .map(|w| w.1)
            .sum::<i64>()
    };
    let (calm, up, down) = (
        count(Regime::Calm),
        count(Regime::TrendUp),
        count(Regime::TrendDown),
    );
    assert!(calm > 0 && up > 0 && down > 0, "{calm} {up} {down}");
    let switches = windows.windows(2).filter(|w| w[0].0 != w[1].0).count();
    assert!(switches >= 4, "{switches} switches");
    // Persistent: a stay lasts minutes, not a few windows.
    assert!(windows.len() / (switches + 1) > 300, "{switches} switches");
    // Trends move the mid their way, per window far faster than calm drifts.
    let (d_calm, d_up, d_down) = (
        drift(Regime::Calm),
        drift(Regime::TrendUp),
        drift(Regime::TrendDown),
    );
    assert!(d_up > 0 && d_down < 0, "drifts: up {d_up}, down {d_down}");
    let calm_rate = d_calm.abs() * 20;
    assert!(
        calm_rate * (up as i64) < d_up * calm as i64,
        "calm {d_calm}, up {d_up}"
    );
    assert!(
        calm_rate * (down as i64) < -d_down * calm as i64,
        "calm {d_calm}, down {d_down}"
    );
}

#[test]
fn books_never_cross_or_empty_for_every_symbol_kind() {
    for index in 0..3 {
        let w = run_model(100 + index as u64, index, 4);
        assert!(w.len() > 2_000);
    }
}

#[test]
fn is_a_sendable_frame_source() {
    // The exchange boxes sources as `Box<dyn FrameSource + Send>`, as it does capture readers.
    let b: Box<dyn FrameSource + Send> = Box::new(SyntheticSource::new(SyntheticConfig::new(
        1,
        vec![sym("BTCUSDT")],
    )));
    assert_eq!(b.files().len(), 1);
}

#[test]
fn empty_and_duplicate_symbol_lists() {
    let mut empty = SyntheticSource::new(SyntheticConfig::new(1, vec![]));
    assert!(!empty.advance().expect("advance"));
    let dup = SyntheticSource::new(SyntheticConfig::new(
        1,
        vec![sym("BTCUSDT"), sym("BTCUSDT")],
    ));
    assert_eq!(dup.symbols(), &[sym("BTCUSDT")]);
    assert_eq!(dup.regime(sym("BTCUSDT")), Some(Regime::Calm));
    assert_eq!(dup.regime(sym("ETHUSDT")), None);
    assert!(dup.files()[0].contains("seed=1"));
}

/// Release-mode throughput: `cargo test --release --lib synthetic -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let mut src = SyntheticSource::new(SyntheticConfig::new(1, three()));
    let n = 3_000_000;
    let t = std::time::Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        assert!(src.advance().expect("advance"));
        bytes += src.current().body().len();
    }
    let secs = t.elapsed().as_secs_f64();
    let sim_s = (src.now().0 - DEFAULT_START_NS) as f64 / 1e9;
    println!(
        "{n} frames in {secs:.2} s: {:.0} frames/s, {:.0} MB/s, {sim_s:.0} s of market time",
        n as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

/// Prints what the model looks like: `cargo test --release --lib synthetic::tests::profile --
/// --ignored --nocapture`.
#[test]
#[ignore]
fn profile() {
    for index in 0..3 {
        let start = DEFAULT_START_NS / 1_000_000;
        let spec = Spec::for_index(index, false);
        let mut sim = SymbolSim::new(spec, false, Rng::new(9, 1), start, 20_000);
        sim.begin_capture(start);
        let (mut trades, mut n_trades, mut trade_lots) = (Vec::new(), 0u64, 0u64);
        let (mut spread_sum, mut touch_sum, mut levels_sum, mut windows) = (0u64, 0u64, 0u64, 0u64);
        let (mut changes, mut mid_moves, mut last_mid) = (0u64, 0u64, sim.mid2());
        let mut per_minute: Vec<(Regime, i64)> = Vec::new();
        let mut minute_start = sim.mid2() as i64;
        let minutes = 60;
        for now in start + 1..start + minutes * 60_000 {
            sim.step_ms(now, &mut trades);
            n_trades += trades.len() as u64;
            trade_lots += trades.iter().map(|t| t.lots).sum::<u64>();
            trades.clear();
            if sim.mid2() != last_mid {
                mid_moves += 1;
                last_mid = sim.mid2();
            }
            if now >= sim.next_publish_ms {
                let (b, a) = (sim.bids.best().expect("b"), sim.asks.best().expect("a"));
                spread_sum += a.ticks - b.ticks;
                touch_sum += b.lots + a.lots;
                levels_sum += (sim.bids.levels.len() + sim.asks.levels.len()) as u64;
                changes += (sim.bids.touched.len() + sim.asks.touched.len()) as u64;
                sim.bids.touched.clear();
                sim.asks.touched.clear();
                windows += 1;
                sim.publish(now);
            }
            if (now - start).is_multiple_of(60_000) {
                per_minute.push((sim.regime, sim.mid2() as i64 / 2 - minute_start / 2));
                minute_start = sim.mid2() as i64;
            }
        }
        let secs = (minutes * 60) as f64;
        println!(
            "symbol {index}: unit {} lots, {:.1} trades/s ({:.2} units each), spread {:.2} ticks, touch {:.2} units, {:.0} levels/side, {:.1} levels per diff, {:.2} mid moves/s, mid {} -> {} ticks",
            spec.unit,
            n_trades as f64 / secs,
            trade_lots as f64 / n_trades.max(1) as f64 / spec.unit as f64,
            spread_sum as f64 / windows as f64,
            touch_sum as f64 / windows as f64 / 2.0 / spec.unit as f64,
            levels_sum as f64 / windows as f64 / 2.0,
            changes as f64 / windows as f64,
            mid_moves as f64 / secs,
            spec.base_ticks,
            sim.mid2() / 2,
        );
        println!("  per minute (regime at end, mid change in ticks): {per_minute:?}");
    }
}

#[test]
fn history_klines_are_deterministic_and_run_into_the_live_prices() {
    let cfg = SyntheticConfig::new(7, three());
    let src = SyntheticSource::new(cfg.clone());
    let h = src.history_klines(HISTORY_MINUTES);
    assert_eq!(h, SyntheticSource::new(cfg).history_klines(HISTORY_MINUTES));
    let other = SyntheticSource::new(SyntheticConfig::new(8, three())).history_klines(60);
    assert_ne!(
        other[0].klines,
        h[0].klines[h[0].klines.len() - 60..].to_vec()
    );
    assert_eq!(h.len(), 3);
    let start_ms = DEFAULT_START_NS / 1_000_000;
    for (s, sym_klines) in three().iter().zip(&h) {
        assert_eq!(sym_klines.symbol, *s);
        let k = &sym_klines.klines;
        assert!(k.len() * 60_000 >= 24 * 3_600_000, "at least 24 h");
        // One a minute, no gap, the last closing at the start.
        assert!(
            k.windows(2)
                .all(|w| w[1].open_time_ms == w[0].open_time_ms + 60_000)
        );
        assert!(k.windows(2).all(|w| w[1].open == w[0].close));
        let last = k[k.len() - 1];
        assert_eq!(last.close_time_ms + 1, start_ms);
        assert!(
            k.iter()
                .all(|x| x.low <= x.open.min(x.close) && x.high >= x.open.max(x.close))
        );
    }
    // The last close is the first snapshot's mid.
    let mut src = SyntheticSource::new(SyntheticConfig::new(7, three()));
    assert!(src.advance().expect("advance"));
    let snap = reference::decode(src.current().body()).expect("snapshot");
    let OwnedEvent::Snapshot(sn) = snap else {
        panic!("first frame is a snapshot")
    };
    let mid2 = sn.bids[0].price.0 + sn.asks[0].price.0;
    assert_eq!(h[0].klines.last().map(|k| k.close.0 * 2), Some(mid2));
    // The walk moves: the 24 h range is more than a few ticks, and trends of both signs
    // exist over 15-minute windows.
    let closes: Vec<f64> = h[0].klines.iter().map(|k| k.close.to_f64()).collect();
    let ups = closes.windows(16).filter(|w| w[15] > w[0] * 1.001).count();
    let downs = closes.windows(16).filter(|w| w[15] < w[0] * 0.999).count();
    assert!(ups > 50 && downs > 50, "{ups} {downs}");
}
