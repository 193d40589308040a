//! Golden replays of every real capture in ../shared/data: the counts its README states, and the
//! final book equal, level for level, to an independent rebuild (microstate-testkit).

use std::path::PathBuf;

use microstate_core::num::Symbol;
use microstate_core::summary::SymbolSummary;
use microstate_drive::replay::{ReplayOptions, ReplayOutcome, replay_paths};
use microstate_testkit::*;
use serde_json::Value;

fn replay(files: &[PathBuf]) -> ReplayOutcome {
    replay_paths(files, &ReplayOptions::default()).expect("replay")
}

fn sym(o: &ReplayOutcome, s: &str) -> SymbolSummary {
    let st = o
        .engine
        .symbol(Symbol::new(s.as_bytes()).expect("symbol"))
        .unwrap_or_else(|| panic!("{s} not in replay"));
    SymbolSummary::of(st)
}

fn all_levels(o: &ReplayOutcome, s: &str) -> (Vec<[String; 2]>, Vec<[String; 2]>) {
    let b = o
        .engine
        .symbol(Symbol::new(s.as_bytes()).expect("symbol"))
        .expect("symbol")
        .book();
    let f = |it: &mut dyn Iterator<Item = microstate_core::wire::Level>| {
        it.map(|l| [l.price.to_string(), l.qty.to_string()])
            .collect::<Vec<_>>()
    };
    (f(&mut b.bids.iter()), f(&mut b.asks.iter()))
}

fn assert_matches_rebuild(o: &ReplayOutcome, s: &str, r: &Rebuild) {
    let got = sym(o, s);
    assert_eq!(got.depth_updates.applied, r.applied, "{s} applied");
    assert_eq!(got.gaps, r.gaps, "{s} gaps");
    assert_eq!(got.crossed_events, r.crossed, "{s} crossed");
    assert_eq!(
        got.final_book.last_update_id,
        Some(r.book.last),
        "{s} last id"
    );
    assert_eq!(got.final_book.bids, r.book.top_bids(10), "{s} top bids");
    assert_eq!(got.final_book.asks, r.book.top_asks(10), "{s} top asks");
    let (bids, asks) = all_levels(o, s);
    assert_eq!(bids, r.book.top_bids(usize::MAX), "{s} every bid level");
    assert_eq!(asks, r.book.top_asks(usize::MAX), "{s} every ask level");
}

#[test]
fn spot_capture_matches_readme_facts_and_independent_rebuild() {
    let files = spot_files();
    let o = replay(&files);
    assert_eq!(o.errors_total, 0, "{:?}", o.errors);
    let s = sym(&o, "BTCUSDT");
    assert_eq!(s.market, "spot");
    assert_eq!(s.state, "synced");
    assert_eq!(s.frames, 99_573);
    assert_eq!(s.depth_updates.applied, 6_493);
    assert_eq!(s.depth_updates.dropped_before_sync, 2);
    assert_eq!(s.snapshots, 1);
    assert_eq!((s.gaps, s.resyncs, s.crossed_events), (0, 0, 0));
    assert_eq!(s.trades, 19_904);
    assert_eq!(
        (s.book_ticker_check.compared, s.book_ticker_check.matched),
        (1_072, 1_072)
    );
    assert_eq!(s.final_book.last_update_id, Some(50_093_696_318));
    assert_eq!(
        s.final_book.bids[0],
        ["61602.01".to_string(), "1.67177".to_string()]
    );
    assert_eq!(s.final_book.bids.len(), 10);
    assert_eq!(s.final_book.asks.len(), 10);

    let (diffs, snap) = hft_parts(&gz_lines(&files));
    assert_matches_rebuild(&o, "BTCUSDT", &rebuild(&diffs, &snap, false));
}

#[test]
fn usdm_capture_matches_readme_facts_and_independent_rebuild() {
    let files = usdm_files();
    let o = replay(&files);
    assert_eq!(o.errors_total, 0, "{:?}", o.errors);
    let s = sym(&o, "BTCUSDT");
    assert_eq!(s.market, "usdm");
    assert_eq!(s.state, "synced");
    assert_eq!(s.depth_updates.applied, 9_017);
    assert_eq!((s.gaps, s.resyncs, s.crossed_events), (0, 0, 0));
    assert_eq!(
        (s.book_ticker_check.compared, s.book_ticker_check.matched),
        (625, 625)
    );

    let (diffs, snap) = hft_parts(&gz_lines(&files));
    assert_matches_rebuild(&o, "BTCUSDT", &rebuild(&diffs, &snap, true));
}

/// Parses a cryptofeed pair into per-symbol diffs and snapshots.
fn cryptofeed_parts(prefix: &str) -> Vec<(String, Vec<Value>, Value)> {
    let dir = data_dir().join("cryptofeed");
    let http = std::fs::read_to_string(dir.join(format!("{prefix}.http.0.0"))).expect("http");
    let ws = std::fs::read_to_string(dir.join(format!("{prefix}.ws.1.0"))).expect("ws");
    let mut out: Vec<(String, Vec<Value>, Value)> = Vec::new();
    for l in http.lines().filter(|l| !l.is_empty()) {
        let (url, rest) = l.split_once(" -> ").expect("url");
        let symbol = url
            .split("symbol=")
            .nth(1)
            .expect("symbol")
            .split('&')
            .next()
            .expect("s");
        let (_, body) = rest.split_once(": ").expect("body");
        out.push((
            symbol.to_string(),
            Vec::new(),
            serde_json::from_str(body).expect("json"),
        ));
    }
    for l in ws.lines().skip(1).filter(|l| !l.is_empty()) {
        let (_, frame) = l.split_once(": ").expect("frame");
        let v: Value = serde_json::from_str(frame).expect("json");
        if v["stream"].as_str().is_some_and(|s| s.contains("@depth")) {
            let s = v["data"]["s"].as_str().expect("s").to_string();
            let entry = out
                .iter_mut()
                .find(|(x, _, _)| *x == s)
                .expect("symbol with snapshot");
            entry.1.push(v["data"].clone());
        }
    }
    out
}

fn cryptofeed_case(prefix: &str, futures: bool, market: &str, symbols: &[&str]) {
    let dir = data_dir().join("cryptofeed");
    // Naming one file of the pair brings its partner.
    let o = replay(&[dir.join(format!("{prefix}.ws.1.0"))]);
    assert_eq!(o.errors_total, 0, "{:?}", o.errors);
    let parts = cryptofeed_parts(prefix);
    assert_eq!(parts.len(), symbols.len());
    for (s, diffs, snap) in &parts {
        assert!(symbols.contains(&s.as_str()), "{s}");
        let got = sym(&o, s);
        assert_eq!(got.state, "synced", "{s}");
        assert_eq!(got.market, market, "{s}");
        assert_eq!(got.gaps, 0, "{s}");
        assert_eq!(
            got.book_ticker_check.compared, got.book_ticker_check.matched,
            "{s}"
        );
        assert!(got.depth_updates.applied > 0, "{s}");
        assert_matches_rebuild(&o, s, &rebuild(diffs, snap, futures));
    }
}

#[test]
fn cryptofeed_spot_every_symbol_synced_without_gaps() {
    cryptofeed_case(
        "BINANCE",
        false,
        "spot",
        &["NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"],
    );
}

#[test]
fn cryptofeed_futures_every_symbol_synced_without_gaps() {
    cryptofeed_case(
        "BINANCE_FUTURES",
        true,
        "usdm",
        &["SUSHIUSDT", "AKROUSDT", "KEEPUSDT", "CTKUSDT"],
    );
}

#[test]
fn folder_argument_replays_every_capture_in_it() {
    let o = replay(&[data_dir().join("binance-spot")]);
    assert_eq!(sym(&o, "BTCUSDT").depth_updates.applied, 6_493);
}
