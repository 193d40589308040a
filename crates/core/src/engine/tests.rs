//! The engine through its public door, [`Engine::on_frame`], fed small frames written in
//! Binance's wire format: per-symbol routing, the market learned from the data (and refused when
//! the data contradicts it), snapshots that do not name their symbol, and the bookTicker
//! cross-check whichever of the ticker and its diff arrives first.

use super::*;
use crate::wire::Level;

fn sym(s: &str) -> Symbol {
    Symbol::new(s.as_bytes()).expect("symbol")
}

/// Event times (ms) the frames carry: a moment of the spot and of the USD-M capture.
const SPOT_MS: u64 = 1_723_161_600_000;
const FUTURES_MS: u64 = 1_721_347_200_000;

/// `[["p","q"],…]`.
fn levels(ls: &[(&str, &str)]) -> String {
    let v: Vec<String> = ls
        .iter()
        .map(|(p, q)| format!("[\"{p}\",\"{q}\"]"))
        .collect();
    format!("[{}]", v.join(","))
}

/// A spot `depthUpdate` in its combined-stream envelope.
fn spot_diff(s: &str, first: u64, last: u64, b: &[(&str, &str)], a: &[(&str, &str)]) -> String {
    format!(
        "{{\"stream\":\"{}@depth@100ms\",\"data\":{{\"e\":\"depthUpdate\",\"E\":{},\
         \"s\":\"{s}\",\"U\":{first},\"u\":{last},\"b\":{},\"a\":{}}}}}",
        s.to_lowercase(),
        SPOT_MS + last % 1_000_000,
        levels(b),
        levels(a)
    )
}

/// A futures `depthUpdate` (with `T` and `pu`) in its combined-stream envelope.
fn futures_diff(
    s: &str,
    first: u64,
    last: u64,
    prev: u64,
    b: &[(&str, &str)],
    a: &[(&str, &str)],
) -> String {
    format!(
        "{{\"stream\":\"{}@depth@0ms\",\"data\":{{\"e\":\"depthUpdate\",\"E\":{},\"T\":{},\
         \"s\":\"{s}\",\"U\":{first},\"u\":{last},\"pu\":{prev},\"b\":{},\"a\":{}}}}}",
        s.to_lowercase(),
        FUTURES_MS + last,
        FUTURES_MS + last,
        levels(b),
        levels(a)
    )
}

/// A spot REST depth body (it names no symbol).
fn spot_snapshot(last: u64, b: &[(&str, &str)], a: &[(&str, &str)]) -> String {
    format!(
        "{{\"lastUpdateId\":{last},\"bids\":{},\"asks\":{}}}",
        levels(b),
        levels(a)
    )
}

/// A futures REST depth body: like spot's, plus `E` and `T`.
fn futures_snapshot(last: u64, b: &[(&str, &str)], a: &[(&str, &str)]) -> String {
    format!(
        "{{\"lastUpdateId\":{last},\"E\":{FUTURES_MS},\"T\":{FUTURES_MS},\"bids\":{},\"asks\":{}}}",
        levels(b),
        levels(a)
    )
}

/// A spot `bookTicker` (no `e`, no `E`) in its combined-stream envelope.
fn ticker(s: &str, u: u64, bid: (&str, &str), ask: (&str, &str)) -> String {
    format!(
        "{{\"stream\":\"{}@bookTicker\",\"data\":{{\"u\":{u},\"s\":\"{s}\",\"b\":\"{}\",\"B\":\"{}\",\
         \"a\":\"{}\",\"A\":\"{}\"}}}}",
        s.to_lowercase(),
        bid.0,
        bid.1,
        ask.0,
        ask.1
    )
}

fn trade(s: &str, id: u64) -> String {
    format!(
        "{{\"stream\":\"{}@trade\",\"data\":{{\"e\":\"trade\",\"E\":{SPOT_MS},\"s\":\"{s}\",\
         \"t\":{id},\"p\":\"100.00\",\"q\":\"0.5\",\"T\":{SPOT_MS},\"m\":true,\"M\":true}}}}",
        s.to_lowercase()
    )
}

/// Feeds one frame, received at `recv` ns, with the symbol a REST request was made for.
fn feed(e: &mut Engine, recv: u64, body: &str, hint: Option<&str>) -> Result<(), EngineError> {
    e.on_frame(RawFrame {
        recv: Nanos(recv),
        bytes: body.as_bytes(),
        symbol_hint: hint.map(sym),
    })
}

fn lv(p: &str, q: &str) -> Level {
    Level {
        price: p.parse().expect("price"),
        qty: q.parse().expect("qty"),
    }
}

/// Every level of both sides, best first.
fn sides(e: &Engine, s: &str) -> (Vec<Level>, Vec<Level>) {
    let b = e.symbol(sym(s)).expect("symbol").book();
    (b.bids.iter().collect(), b.asks.iter().collect())
}

#[test]
fn frames_of_two_symbols_go_to_their_own_books() {
    let mut e = Engine::new(EngineConfig::default());
    // Diffs of both symbols arrive before either snapshot, interleaved; their update ids are
    // unrelated (BTCUSDT near 100, ETHUSDT near 5000), as on Binance.
    let frames: &[(&str, String, Option<&str>)] = &[
        (
            "BTCUSDT",
            spot_diff("BTCUSDT", 99, 101, &[("100.00", "1")], &[]),
            None,
        ),
        (
            "ETHUSDT",
            spot_diff("ETHUSDT", 5000, 5001, &[], &[("3.50", "7")]),
            None,
        ),
        (
            "BTCUSDT",
            spot_snapshot(100, &[("99.00", "4")], &[("101.00", "2")]),
            Some("BTCUSDT"),
        ),
        (
            "ETHUSDT",
            spot_snapshot(5000, &[("3.40", "9")], &[("3.60", "1")]),
            Some("ETHUSDT"),
        ),
        (
            "BTCUSDT",
            spot_diff("BTCUSDT", 102, 102, &[("99.00", "0")], &[("101.00", "3")]),
            None,
        ),
        (
            "ETHUSDT",
            spot_diff("ETHUSDT", 5002, 5004, &[("3.45", "2")], &[]),
            None,
        ),
        ("ETHUSDT", trade("ETHUSDT", 1), None),
        (
            "BTCUSDT",
            ticker("BTCUSDT", 102, ("100.00", "1"), ("101.00", "3")),
            None,
        ),
    ];
    for (i, (s, body, hint)) in frames.iter().enumerate() {
        feed(&mut e, i as u64 + 1, body, *hint).unwrap_or_else(|err| panic!("frame {i}: {err}"));
        let touched = e.touched().map(|t| t.symbol);
        assert_eq!(touched, Some(sym(s)), "frame {i} touched its own symbol");
        assert_eq!(
            e.symbol(sym(s)).map(|t| t.last_recv),
            Some(Nanos(i as u64 + 1))
        );
    }
    let order: Vec<Symbol> = e.symbols().iter().map(|s| s.symbol).collect();
    assert_eq!(
        order,
        [sym("BTCUSDT"), sym("ETHUSDT")],
        "order of first appearance"
    );

    let btc = e.symbol(sym("BTCUSDT")).expect("BTCUSDT");
    let eth = e.symbol(sym("ETHUSDT")).expect("ETHUSDT");
    for st in [btc, eth] {
        assert!(st.sync.is_synced(), "{}: {:?}", st.symbol, st.sync.state());
        assert_eq!(
            st.sync.counters().gaps,
            0,
            "{}: ids of the other symbol",
            st.symbol
        );
        assert_eq!(st.sync.counters().snapshots, 1, "{}", st.symbol);
        assert_eq!(st.market, Some(Market::Spot));
    }
    assert_eq!(btc.book().last_update_id, 102);
    assert_eq!(eth.book().last_update_id, 5004);
    assert_eq!(
        sides(&e, "BTCUSDT"),
        (vec![lv("100.00", "1")], vec![lv("101.00", "3")])
    );
    assert_eq!(
        sides(&e, "ETHUSDT"),
        (
            vec![lv("3.45", "2"), lv("3.40", "9")],
            vec![lv("3.50", "7"), lv("3.60", "1")]
        )
    );
    // Counters stay with their symbol: WebSocket frames (snapshots are the sync's), trades,
    // tickers and the ticker check.
    assert_eq!((btc.frames, btc.trades, btc.book_tickers), (3, 0, 1));
    assert_eq!((eth.frames, eth.trades, eth.book_tickers), (3, 1, 0));
    assert_eq!(
        (btc.ticker_check.compared, btc.ticker_check.matched),
        (1, 1)
    );
    assert_eq!(eth.ticker_check.compared, 0);
    assert_eq!(btc.last_recv, Nanos(8));
    assert_eq!(eth.last_depth_recv, Nanos(6));

    // A frame that names no symbol (a subscription answer) belongs to none.
    feed(&mut e, 9, "{\"result\":null,\"id\":1}", None).expect("answer");
    assert!(e.touched().is_none());
    assert_eq!(
        (e.stats.frames, e.stats.unattributed, e.stats.errors),
        (9, 1, 0)
    );
}

/// The market each first frame teaches a fresh symbol (nothing forced).
#[test]
fn the_market_is_learned_from_the_first_frame_that_says() {
    let cases: &[(&str, String, Option<&str>, Option<Market>)] = &[
        (
            "spot diff",
            spot_diff("BTCUSDT", 1, 2, &[], &[]),
            None,
            Some(Market::Spot),
        ),
        (
            "futures diff",
            futures_diff("BTCUSDT", 1, 2, 0, &[], &[]),
            None,
            Some(Market::UsdM),
        ),
        (
            "COIN-M diff",
            futures_diff("BTCUSD_PERP", 1, 2, 0, &[], &[]),
            None,
            Some(Market::CoinM),
        ),
        (
            "futures snapshot",
            futures_snapshot(5, &[], &[]),
            Some("BTCUSDT"),
            Some(Market::UsdM),
        ),
        // A spot snapshot carries nothing that tells spot from futures.
        (
            "spot snapshot",
            spot_snapshot(5, &[], &[]),
            Some("BTCUSDT"),
            None,
        ),
    ];
    for (name, body, hint, want) in cases {
        let mut e = Engine::new(EngineConfig::books_only());
        feed(&mut e, 1, body, *hint).unwrap_or_else(|err| panic!("{name}: {err}"));
        let st = e.touched().unwrap_or_else(|| panic!("{name}: no symbol"));
        assert_eq!(st.market, *want, "{name}");
    }
}

/// A symbol whose data said one market refuses frames of the other; a market the user forced
/// stands whatever the data says.
#[test]
fn data_of_the_other_market_is_refused_unless_the_market_was_forced() {
    struct Case {
        name: &'static str,
        forced: Option<Market>,
        /// Frames that set the symbol up (all accepted).
        setup: Vec<(String, Option<&'static str>)>,
        /// The frame of the other market, and what the engine says to it.
        other: (String, Option<&'static str>),
        want: Result<(), EngineError>,
        market_after: Market,
    }
    let mismatch = |expected, got| {
        Err(EngineError::MarketMismatch {
            symbol: sym("BTCUSDT"),
            expected,
            got,
        })
    };
    let spot_setup = vec![
        (
            spot_snapshot(100, &[("99.00", "1")], &[("101.00", "1")]),
            Some("BTCUSDT"),
        ),
        (spot_diff("BTCUSDT", 101, 101, &[("99.50", "2")], &[]), None),
    ];
    let cases = [
        Case {
            name: "futures diff (pu) on a symbol learned as spot",
            forced: None,
            setup: spot_setup.clone(),
            other: (
                futures_diff("BTCUSDT", 102, 102, 101, &[("99.00", "0")], &[]),
                None,
            ),
            want: mismatch(Market::Spot, Market::UsdM),
            market_after: Market::Spot,
        },
        Case {
            name: "futures snapshot (E) on a symbol learned as spot",
            forced: None,
            setup: spot_setup.clone(),
            other: (
                futures_snapshot(500, &[("1.00", "1")], &[]),
                Some("BTCUSDT"),
            ),
            want: mismatch(Market::Spot, Market::UsdM),
            market_after: Market::Spot,
        },
        Case {
            name: "spot diff (no pu) on a symbol learned as USD-M",
            forced: None,
            setup: vec![
                (
                    futures_snapshot(100, &[("99.00", "1")], &[("101.00", "1")]),
                    Some("BTCUSDT"),
                ),
                (
                    futures_diff("BTCUSDT", 99, 101, 98, &[("99.50", "2")], &[]),
                    None,
                ),
            ],
            other: (spot_diff("BTCUSDT", 102, 102, &[("99.00", "0")], &[]), None),
            want: mismatch(Market::UsdM, Market::Spot),
            market_after: Market::UsdM,
        },
        Case {
            name: "futures diff on an engine forced to spot: spot rules judge it, and it applies",
            forced: Some(Market::Spot),
            setup: spot_setup.clone(),
            other: (
                futures_diff("BTCUSDT", 102, 102, 101, &[("99.00", "0")], &[]),
                None,
            ),
            want: Ok(()),
            market_after: Market::Spot,
        },
    ];
    for c in cases {
        let mut e = Engine::new(EngineConfig {
            market: c.forced,
            ..EngineConfig::books_only()
        });
        for (i, (body, hint)) in c.setup.iter().enumerate() {
            feed(&mut e, i as u64, body, *hint).unwrap_or_else(|err| panic!("{}: {err}", c.name));
        }
        let before = e.symbol(sym("BTCUSDT")).expect("set up").clone();
        assert!(before.sync.is_synced(), "{}", c.name);
        let got = feed(&mut e, 99, &c.other.0, c.other.1);
        assert_eq!(got, c.want, "{}", c.name);
        let after = e.symbol(sym("BTCUSDT")).expect("still there");
        assert_eq!(after.market, Some(c.market_after), "{}", c.name);
        assert!(after.sync.is_synced(), "{}", c.name);
        if c.want.is_err() {
            assert_eq!(e.stats.errors, 1, "{}", c.name);
            assert!(
                e.touched().is_none(),
                "{}: a refused frame touches nothing",
                c.name
            );
            assert_eq!(after.sync.counters(), before.sync.counters(), "{}", c.name);
            assert_eq!(
                after.book().last_update_id,
                before.book().last_update_id,
                "{}",
                c.name
            );
            let all = |st: &SymbolState| {
                let b = st.book();
                (
                    b.bids.iter().collect::<Vec<_>>(),
                    b.asks.iter().collect::<Vec<_>>(),
                )
            };
            assert_eq!(all(after), all(&before), "{}: book unchanged", c.name);
        } else {
            assert_eq!(e.stats.errors, 0, "{}", c.name);
            assert_eq!(after.sync.rules(), Some(Rules::Spot), "{}", c.name);
            assert_eq!(after.sync.counters().applied, 2, "{}", c.name);
            assert_eq!(
                after.book().bids.best(),
                Some(lv("99.50", "2")),
                "{}",
                c.name
            );
        }
    }
}

/// A REST depth body names no symbol: the request's (the hint) is used; without one, the only
/// symbol there is; with none or several, the snapshot is refused and no book changes.
#[test]
fn a_snapshot_without_a_symbol_goes_to_the_hint_or_the_only_symbol_or_nowhere() {
    struct Case {
        name: &'static str,
        /// Symbols with one buffered diff each (ids 101..=101) before the snapshot.
        known: &'static [&'static str],
        hint: Option<&'static str>,
        /// Err, or the symbol whose book loaded it.
        want: Result<&'static str, EngineError>,
    }
    let cases = [
        Case {
            name: "no symbol yet, no hint",
            known: &[],
            hint: None,
            want: Err(EngineError::SnapshotWithoutSymbol),
        },
        Case {
            name: "one symbol, no hint",
            known: &["BTCUSDT"],
            hint: None,
            want: Ok("BTCUSDT"),
        },
        Case {
            name: "two symbols, no hint",
            known: &["BTCUSDT", "ETHUSDT"],
            hint: None,
            want: Err(EngineError::SnapshotWithoutSymbol),
        },
        Case {
            name: "two symbols, the hint names the second",
            known: &["BTCUSDT", "ETHUSDT"],
            hint: Some("ETHUSDT"),
            want: Ok("ETHUSDT"),
        },
        Case {
            name: "one symbol, the hint names a new one",
            known: &["BTCUSDT"],
            hint: Some("SOLUSDT"),
            want: Ok("SOLUSDT"),
        },
    ];
    for c in cases {
        let mut e = Engine::new(EngineConfig::books_only());
        for s in c.known {
            feed(
                &mut e,
                1,
                &spot_diff(s, 101, 101, &[("10.00", "1")], &[]),
                None,
            )
            .unwrap_or_else(|err| panic!("{}: {err}", c.name));
        }
        let snap = spot_snapshot(100, &[("9.00", "5")], &[("11.00", "5")]);
        let got = feed(&mut e, 2, &snap, c.hint);
        match &c.want {
            Err(want) => {
                assert_eq!(got.as_ref(), Err(want), "{}", c.name);
                assert_eq!(e.stats.errors, 1, "{}", c.name);
                assert!(e.touched().is_none(), "{}", c.name);
                assert_eq!(
                    e.symbols().len(),
                    c.known.len(),
                    "{}: no symbol made up",
                    c.name
                );
                for st in e.symbols() {
                    assert!(st.sync.needs_snapshot(), "{}: {}", c.name, st.symbol);
                    assert_eq!(st.sync.counters().snapshots, 0, "{}", c.name);
                }
            }
            Ok(target) => {
                got.unwrap_or_else(|err| panic!("{}: {err}", c.name));
                assert_eq!(
                    e.touched().map(|t| t.symbol),
                    Some(sym(target)),
                    "{}",
                    c.name
                );
                for st in e.symbols() {
                    let loaded = st.symbol == sym(target);
                    let snapshots = st.sync.counters().snapshots;
                    assert_eq!(snapshots, u64::from(loaded), "{}: {}", c.name, st.symbol);
                    // A known symbol's buffered diff bridges the snapshot at once.
                    let bridged = loaded && c.known.contains(&st.symbol.as_str());
                    assert_eq!(st.sync.is_synced(), bridged, "{}: {}", c.name, st.symbol);
                    if loaded {
                        assert_eq!(st.book().asks.best(), Some(lv("11.00", "5")), "{}", c.name);
                    }
                }
            }
        }
    }
}

/// One step of a ticker scenario on BTCUSDT.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// The snapshot: id 100, bid 100.00 × 1, ask 101.00 × 2.
    Snapshot,
    /// The diff 101..=103: bid 100.50 × 3 (ask unchanged).
    Diff,
    /// The diff 104..=104: ask 100.90 × 4.
    Next,
    /// A bookTicker: `u`, bid, ask.
    Ticker(
        u64,
        (&'static str, &'static str),
        (&'static str, &'static str),
    ),
}

/// The book right after the diff with u = 103.
const BID_103: (&str, &str) = ("100.50", "3");
const ASK_103: (&str, &str) = ("101.00", "2");

/// A bookTicker is compared with the book right after the diff whose final `u` it carries,
/// whether it arrives before that diff (kept until the diff is applied) or after it (matched
/// against the remembered best prices); a `u` no diff ended on is never compared.
#[test]
fn book_ticker_cross_check_in_both_arrival_orders() {
    use Step::*;
    // (name, steps, (compared, matched, mismatched) at the end)
    type Case = (&'static str, &'static [Step], (u64, u64, u64));
    let cases: &[Case] = &[
        (
            "ticker after its diff",
            &[Snapshot, Diff, Ticker(103, BID_103, ASK_103)],
            (1, 1, 0),
        ),
        (
            "ticker before its diff",
            &[Snapshot, Ticker(103, BID_103, ASK_103), Diff],
            (1, 1, 0),
        ),
        (
            "ticker before the snapshot and its diff",
            &[Ticker(103, BID_103, ASK_103), Snapshot, Diff],
            (1, 1, 0),
        ),
        (
            "ticker after its diff and the next one: the book of its own u",
            &[Snapshot, Diff, Next, Ticker(103, BID_103, ASK_103)],
            (1, 1, 0),
        ),
        (
            "ticker after its diff, quantity differs",
            &[Snapshot, Diff, Ticker(103, ("100.50", "2.9"), ASK_103)],
            (1, 0, 1),
        ),
        (
            "ticker before its diff, price differs",
            &[Snapshot, Ticker(103, BID_103, ("101.01", "2")), Diff],
            (1, 0, 1),
        ),
        (
            "ticker after, u inside the diff but not its final u",
            &[Snapshot, Diff, Ticker(102, BID_103, ASK_103)],
            (0, 0, 0),
        ),
        (
            "ticker before, u inside the diff but not its final u",
            &[Snapshot, Ticker(102, BID_103, ASK_103), Diff],
            (0, 0, 0),
        ),
        (
            "ticker before, its diff never comes",
            &[Snapshot, Ticker(103, BID_103, ASK_103)],
            (0, 0, 0),
        ),
    ];
    for (name, steps, want) in cases {
        let mut e = Engine::new(EngineConfig::default());
        for (i, step) in steps.iter().enumerate() {
            let (body, hint) = match *step {
                Snapshot => (
                    spot_snapshot(100, &[("100.00", "1")], &[("101.00", "2")]),
                    Some("BTCUSDT"),
                ),
                Diff => (spot_diff("BTCUSDT", 101, 103, &[BID_103], &[]), None),
                Next => (
                    spot_diff("BTCUSDT", 104, 104, &[], &[("100.90", "4")]),
                    None,
                ),
                Ticker(u, bid, ask) => (ticker("BTCUSDT", u, bid, ask), None),
            };
            feed(&mut e, i as u64, &body, hint).unwrap_or_else(|err| panic!("{name}: {err}"));
            // Nothing is compared before the diff the ticker names has been applied.
            let applied = e.symbol(sym("BTCUSDT")).map(|s| s.book().last_update_id);
            if applied < Some(103) {
                let c = &e.symbol(sym("BTCUSDT")).expect("symbol").ticker_check;
                assert_eq!(c.compared, 0, "{name}: step {i} ({step:?})");
            }
        }
        let st = e.symbol(sym("BTCUSDT")).expect("symbol");
        let bridged = steps.iter().any(|s| matches!(s, Diff));
        assert_eq!(st.sync.is_synced(), bridged, "{name}");
        let c = &st.ticker_check;
        assert_eq!((c.compared, c.matched, c.mismatched), *want, "{name}");
        assert_eq!(st.book_tickers, 1, "{name}");
    }
}

/// Issue 19 item 3: a diff with `u` = 2^64 − 1 froze the book while it showed synced (every
/// later diff "stale", no gap). Now it is refused, counted and the book goes on.
#[test]
fn a_diff_at_the_end_of_the_id_space_is_refused_and_the_book_goes_on() {
    let mut e = Engine::new(EngineConfig::default());
    let b = [("100.00", "1")];
    let a = [("101.00", "1")];
    feed(&mut e, 1, &spot_diff("BTCUSDT", 5, 10, &b, &a), None).unwrap();
    feed(&mut e, 2, &spot_snapshot(8, &b, &a), Some("BTCUSDT")).unwrap();
    assert!(e.symbol(sym("BTCUSDT")).unwrap().sync.is_synced());
    let bogus = spot_diff("BTCUSDT", 11, u64::MAX, &[("100.00", "9")], &[]);
    feed(&mut e, 3, &bogus, None).unwrap();
    feed(
        &mut e,
        4,
        &spot_diff("BTCUSDT", 11, 12, &[("100.00", "2")], &[]),
        None,
    )
    .unwrap();
    let st = e.symbol(sym("BTCUSDT")).unwrap();
    assert!(st.sync.is_synced());
    assert_eq!(st.sync.counters().applied, 2);
    assert_eq!(st.sync.counters().stale, 0);
    assert_eq!(st.book().last_update_id, 12);
    assert_eq!(sides(&e, "BTCUSDT").0, vec![lv("100.00", "2")]);
    assert_eq!(e.limit_counters().bad_ids, 1);
    assert_eq!(e.limit_counters().tripped(), vec![("bad_ids", 1)]);
}

/// Issue 19 items 6 and 7: symbols are found by hash (100k distinct symbols replay in one
/// pass), and no more than `limits.max_symbols` are ever kept: the rest are refused, counted.
#[test]
fn symbols_are_capped_and_counted() {
    let mut e = Engine::new(EngineConfig {
        features: None,
        history: None,
        limits: crate::limits::Limits {
            max_symbols: 1_000,
            ..Default::default()
        },
        ..EngineConfig::default()
    });
    let mut refused = 0;
    for i in 0..100_000u64 {
        let s = format!("S{i}USDT");
        match feed(&mut e, i, &trade(&s, 1), None) {
            Ok(()) => {}
            Err(EngineError::TooManySymbols { max: 1_000, .. }) => refused += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(e.symbols().len(), 1_000);
    assert_eq!(refused, 99_000);
    assert_eq!(e.limit_counters().symbols, 99_000);
    // Known symbols still go through, found by hash.
    feed(&mut e, 1, &trade("S999USDT", 2), None).unwrap();
    feed(&mut e, 1, &trade("S0USDT", 2), None).unwrap();
    assert_eq!(e.symbol(sym("S999USDT")).unwrap().trades, 2);
    assert_eq!(e.symbol(sym("S0USDT")).unwrap().trades, 2);
    assert!(!e.add_symbol(sym("NEWUSDT")));
}

/// Issue 19 item 7: a diff or snapshot with more levels on a side than `limits.max_levels` is
/// refused whole (the book is untouched), counted and named.
#[test]
fn too_many_levels_are_refused_whole() {
    let mut e = Engine::new(EngineConfig {
        limits: crate::limits::Limits {
            max_levels: 3,
            ..Default::default()
        },
        ..EngineConfig::default()
    });
    let b = [("100.00", "1")];
    feed(&mut e, 1, &spot_diff("BTCUSDT", 5, 10, &b, &[]), None).unwrap();
    feed(&mut e, 2, &spot_snapshot(8, &b, &[]), Some("BTCUSDT")).unwrap();
    let four = [
        ("99.00", "1"),
        ("98.00", "1"),
        ("97.00", "1"),
        ("96.00", "1"),
    ];
    let err = feed(&mut e, 3, &spot_diff("BTCUSDT", 11, 12, &four, &[]), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "BTCUSDT: 4 levels on one side, more than limits.max_levels (3): refused whole"
    );
    let err = feed(&mut e, 4, &spot_snapshot(20, &[], &four), Some("ETHUSDT")).unwrap_err();
    assert!(matches!(err, EngineError::TooManyLevels { .. }), "{err}");
    assert!(
        e.symbol(sym("ETHUSDT")).is_none(),
        "a refused frame makes no symbol"
    );
    assert_eq!(sides(&e, "BTCUSDT").0, vec![lv("100.00", "1")]);
    assert_eq!(e.limit_counters().levels, 2);
    assert_eq!(e.stats.errors, 2);
}

/// Live sessions take only the symbols they asked for: a peer streaming others (or answering a
/// snapshot for another symbol) makes no book and no snapshot request; each frame is counted.
#[test]
fn only_added_symbols_are_kept_when_the_engine_is_closed() {
    let mut e = Engine::new(EngineConfig::books_only());
    e.add_symbol(sym("BTCUSDT"));
    e.only_added_symbols();
    for i in 0..1000u64 {
        let s = format!("PHANTOM{i}USDT");
        feed(&mut e, i, &spot_diff(&s, 1, 2, &[("1.00", "1")], &[]), None).expect("dropped");
        feed(&mut e, i, &trade(&s, i), None).expect("dropped");
    }
    feed(
        &mut e,
        2000,
        &spot_snapshot(5, &[("1.00", "1")], &[]),
        Some("ETHUSDT"),
    )
    .expect("dropped");
    feed(
        &mut e,
        2001,
        &spot_diff("BTCUSDT", 1, 2, &[("1.00", "1")], &[]),
        None,
    )
    .expect("kept");
    assert_eq!(e.symbols().len(), 1);
    assert_eq!(e.symbols()[0].symbol, sym("BTCUSDT"));
    assert_eq!(e.symbols()[0].frames, 1);
    assert_eq!(e.stats().unsolicited, 2001);
    assert_eq!(
        e.snapshot_requests().collect::<Vec<_>>(),
        vec![sym("BTCUSDT")]
    );
    // Open (replays): every symbol a capture holds gets its book.
    let mut e = Engine::new(EngineConfig::books_only());
    feed(
        &mut e,
        1,
        &spot_diff("ETHUSDT", 1, 2, &[("1.00", "1")], &[]),
        None,
    )
    .expect("kept");
    assert_eq!((e.symbols().len(), e.stats().unsolicited), (1, 0));
}

/// Issue 19 item 5: feature windows were trimmed by exchange time only, so a peer that froze
/// `E` grew memory without limit. Now each window stream keeps at most
/// `limits.max_window_entries`, and the early departures are counted.
#[test]
fn a_frozen_event_clock_cannot_grow_the_feature_windows() {
    let mut e = Engine::new(EngineConfig {
        limits: crate::limits::Limits {
            max_window_entries: 1_000,
            ..Default::default()
        },
        ..EngineConfig::default()
    });
    for id in 1..=20_000u64 {
        // `trade` stamps every frame with the same `E` and `T`.
        feed(&mut e, id, &trade("BTCUSDT", id), None).unwrap();
    }
    assert_eq!(e.symbol(sym("BTCUSDT")).unwrap().trades, 20_000);
    assert_eq!(e.limit_counters().window_entries, 19_000);
    assert_eq!(
        e.limit_counters().tripped(),
        vec![("window_entries", 19_000)]
    );
}

/// A symbol removed while running (unsubscribed live) loses its book; the others keep theirs
/// and their place lookups stay right; its frames still in flight are dropped as unsolicited.
#[test]
fn a_removed_symbol_is_forgotten_and_the_others_keep_their_books() {
    let mut e = Engine::new(EngineConfig::books_only());
    for s in ["BTCUSDT", "ETHUSDT", "LRCBTC"] {
        e.add_symbol(sym(s));
    }
    e.only_added_symbols();
    feed(
        &mut e,
        1,
        &spot_snapshot(100, &[("3.40", "9")], &[("3.60", "1")]),
        Some("ETHUSDT"),
    )
    .expect("snapshot");
    feed(
        &mut e,
        2,
        &spot_snapshot(7, &[("0.1", "9")], &[("0.2", "1")]),
        Some("LRCBTC"),
    )
    .expect("snapshot");
    assert!(e.remove_symbol(sym("BTCUSDT")));
    assert!(!e.remove_symbol(sym("BTCUSDT")));
    assert_eq!(e.symbols().len(), 2);
    assert_eq!(
        e.symbol(sym("ETHUSDT")).map(|s| s.book().last_update_id),
        Some(100)
    );
    assert_eq!(
        e.symbol(sym("LRCBTC")).map(|s| s.book().last_update_id),
        Some(7)
    );
    assert!(e.symbol(sym("BTCUSDT")).is_none());
    let before = e.stats().unsolicited;
    feed(
        &mut e,
        3,
        &spot_diff("BTCUSDT", 1, 2, &[("1.00", "1")], &[]),
        None,
    )
    .expect("dropped");
    // Late, not a peer's fault: counted apart from the unsolicited.
    assert_eq!(e.stats().unsolicited, before);
    assert_eq!(e.stats().after_removal, 1);
    assert!(e.symbol(sym("BTCUSDT")).is_none());
    // Added again, it starts from nothing.
    assert!(e.add_symbol(sym("BTCUSDT")));
    assert_eq!(e.symbols().len(), 3);
    assert!(
        e.symbol(sym("BTCUSDT"))
            .is_some_and(|s| s.sync.needs_snapshot())
    );
}
