//! Fault cases built from the real spot capture, written to real files: a missing diff, a
//! duplicated diff, a snapshot newer than every diff, a malformed line, a truncated gzip file.

use std::io::Write;
use std::path::PathBuf;

use crate::common::*;
use microstate_core::num::Symbol;
use microstate_core::summary::SymbolSummary;
use microstate_drive::replay::{ReplayOptions, ReplayOutcome, replay_paths};

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("faults");
    std::fs::create_dir_all(&d).expect("tmp dir");
    d.join(name)
}

/// Writes lines as a plain capture file named like the collector's (so the symbol is known).
fn write_capture(case: &str, lines: &[String]) -> PathBuf {
    let dir = tmp(case);
    std::fs::create_dir_all(&dir).expect("case dir");
    let p = dir.join("btcusdt_20240808.txt");
    let mut f = std::fs::File::create(&p).expect("create");
    for l in lines {
        writeln!(f, "{l}").expect("write");
    }
    p
}

fn run(p: &PathBuf) -> ReplayOutcome {
    replay_paths(std::slice::from_ref(p), &ReplayOptions::default()).expect("replay")
}

fn btc(o: &ReplayOutcome) -> SymbolSummary {
    SymbolSummary::of(
        o.engine
            .symbol(Symbol::new(b"BTCUSDT").expect("s"))
            .expect("BTCUSDT"),
    )
}

fn is_depth(l: &str) -> bool {
    l.contains("@depth@100ms")
}

fn spot_lines() -> Vec<String> {
    gz_lines(&spot_files())
}

/// Index of the n-th depth line after the snapshot line.
fn nth_depth_after_snapshot(lines: &[String], n: usize) -> usize {
    let snap = lines
        .iter()
        .position(|l| l.contains("lastUpdateId"))
        .expect("snapshot");
    lines
        .iter()
        .enumerate()
        .skip(snap + 1)
        .filter(|(_, l)| is_depth(l))
        .nth(n)
        .map(|(i, _)| i)
        .expect("depth line")
}

#[test]
fn clean_plain_copy_replays_like_the_gzip_original() {
    let o = run(&write_capture("clean", &spot_lines()));
    let s = btc(&o);
    assert_eq!(
        (s.depth_updates.applied, s.gaps, s.state.as_str()),
        (6_493, 0, "synced")
    );
}

#[test]
fn a_removed_diff_is_exactly_one_gap_and_not_synced() {
    let mut lines = spot_lines();
    let i = nth_depth_after_snapshot(&lines, 500);
    lines.remove(i);
    let o = run(&write_capture("removed", &lines));
    let s = btc(&o);
    assert_eq!(s.gaps, 1);
    assert_ne!(s.state, "synced");
    assert_eq!(s.state, "resyncing");
    assert_eq!(s.resyncs, 0, "no later snapshot in the file to resync from");
    assert!(s.depth_updates.applied < 6_493);
    assert!(
        s.depth_updates.pending > 0,
        "diffs after the gap wait for a snapshot"
    );
    let g = s.last_gap.expect("gap recorded");
    assert!(g.got > g.expected, "{g:?}");
}

#[test]
fn a_gap_followed_by_a_later_snapshot_resyncs() {
    // Remove a diff, then insert a fresh snapshot further on: the book must resync and end
    // identical to the clean replay.
    let clean = run(&write_capture("clean2", &spot_lines()));
    let mut lines = spot_lines();
    let gap_at = nth_depth_after_snapshot(&lines, 500);
    lines.remove(gap_at);
    // A real snapshot of the book at a later point: taken from the clean replay's rebuild.
    let (diffs, snap) = {
        let mut diffs = Vec::new();
        let mut snap = None;
        for l in spot_lines() {
            let (_, j) = l.split_once(' ').expect("ts");
            let v: serde_json::Value = serde_json::from_str(j).expect("json");
            if v.get("lastUpdateId").is_some() {
                snap = Some(v);
            } else if is_depth(&l) {
                diffs.push(v["data"].clone());
            }
        }
        (diffs, snap.expect("snap"))
    };
    // Rebuild up to the 800th diff after the snapshot's bridge and serialize as a REST body.
    let partial: Vec<_> = diffs.iter().take(800).cloned().collect();
    let r = rebuild(&partial, &snap, false);
    let body = serde_json::json!({
        "lastUpdateId": r.book.last,
        "bids": r.book.top_bids(5000),
        "asks": r.book.top_asks(5000),
    });
    let at = nth_depth_after_snapshot(&lines, 900);
    let ts = lines[at].split_once(' ').expect("ts").0.to_string();
    lines.insert(at, format!("{ts} {body}"));
    let o = run(&write_capture("resync", &lines));
    let s = btc(&o);
    assert_eq!(s.gaps, 1);
    assert_eq!(s.resyncs, 1);
    assert_eq!(s.state, "synced");
    assert_eq!(s.snapshots, 2);
    let c = btc(&clean);
    assert_eq!(s.final_book.last_update_id, c.final_book.last_update_id);
    assert_eq!(s.final_book.bids, c.final_book.bids);
    assert_eq!(s.final_book.asks, c.final_book.asks);
    assert_eq!(s.book_ticker_check.compared, s.book_ticker_check.matched);
}

#[test]
fn a_duplicated_diff_is_ignored_and_the_book_is_unchanged() {
    let clean = btc(&run(&write_capture("clean3", &spot_lines())));
    let mut lines = spot_lines();
    let i = nth_depth_after_snapshot(&lines, 300);
    let dup = lines[i].clone();
    lines.insert(i + 3, dup);
    let s = btc(&run(&write_capture("duplicated", &lines)));
    assert_eq!(s.gaps, 0);
    assert_eq!(s.state, "synced");
    assert_eq!(s.depth_updates.stale, 1);
    assert_eq!(s.depth_updates.applied, 6_493);
    assert_eq!(s.final_book.bids, clean.final_book.bids);
    assert_eq!(s.final_book.asks, clean.final_book.asks);
    assert_eq!(s.frames, clean.frames + 1);
}

#[test]
fn a_snapshot_newer_than_every_diff_never_syncs_and_reports_no_gap() {
    let mut lines = spot_lines();
    let i = lines
        .iter()
        .position(|l| l.contains("lastUpdateId"))
        .expect("snapshot");
    let (ts, body) = lines[i].split_once(' ').expect("ts");
    let mut v: serde_json::Value = serde_json::from_str(body).expect("json");
    v["lastUpdateId"] = serde_json::json!(60_000_000_000u64);
    lines[i] = format!("{ts} {v}");
    let s = btc(&run(&write_capture("newer", &lines)));
    assert_eq!(s.depth_updates.applied, 0);
    assert_eq!(s.depth_updates.dropped_before_sync, 6_495);
    assert_eq!(s.gaps, 0);
    assert_eq!(s.state, "syncing");
    assert_eq!(s.book_ticker_check.compared, 0);
}

#[test]
fn a_malformed_line_is_reported_by_number_and_nothing_else_is_lost() {
    let mut lines = spot_lines();
    let i = lines
        .iter()
        .position(|l| l.contains("@trade"))
        .expect("trade")
        + 200;
    let i = i + lines[i..]
        .iter()
        .position(|l| l.contains("@trade"))
        .expect("trade");
    lines[i] = lines[i].replace("\"p\":\"", "\"p\":\"x");
    let p = write_capture("malformed", &lines);
    let o = run(&p);
    assert_eq!(o.errors_total, 1);
    let msg = &o.errors[0];
    assert!(
        msg.contains(&format!(":{}:", i + 1)),
        "line number missing: {msg}"
    );
    assert!(msg.contains("btcusdt_20240808.txt"), "{msg}");
    assert!(msg.contains("bad decimal"), "{msg}");
    let s = btc(&o);
    assert_eq!(s.trades, 19_903);
    assert_eq!(s.depth_updates.applied, 6_493);
    assert_eq!(s.book_ticker_check.matched, 1_072);

    // --strict stops there, naming the line.
    let strict = replay_paths(
        &[p],
        &ReplayOptions {
            strict: true,
            ..Default::default()
        },
    );
    let e = strict.err().expect("strict stops").to_string();
    assert!(e.contains(&format!(":{}:", i + 1)), "{e}");
}

#[test]
fn a_line_without_a_timestamp_is_reported_and_skipped() {
    let mut lines = spot_lines();
    let i = 1000
        + lines[1000..]
            .iter()
            .position(|l| l.contains("@bookTicker"))
            .expect("ticker");
    lines[i] = lines[i].split_once(' ').expect("ts").1.to_string();
    let o = run(&write_capture("nots", &lines));
    assert_eq!(o.errors_total, 1);
    assert!(
        o.errors[0].contains(&format!(":{}:", i + 1)),
        "{}",
        o.errors[0]
    );
    let s = btc(&o);
    assert_eq!((s.depth_updates.applied, s.gaps), (6_493, 0));
    assert_eq!(s.frames, 99_572);
}

#[test]
fn a_truncated_gzip_file_keeps_everything_before_the_cut() {
    let bytes = std::fs::read(&spot_files()[0]).expect("read");
    let dir = tmp("truncated");
    std::fs::create_dir_all(&dir).expect("dir");
    let p = dir.join("btcusdt_20240808.gz");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).expect("write");
    let o = run(&p);
    assert_eq!(o.errors_total, 1);
    assert!(
        o.errors[0].contains("btcusdt_20240808.gz"),
        "{}",
        o.errors[0]
    );
    let s = btc(&o);
    assert!(
        s.frames > 10_000,
        "frames before the cut were replayed: {}",
        s.frames
    );
    assert_eq!(s.state, "synced");
    assert_eq!(s.gaps, 0);
}

#[test]
fn a_file_in_no_known_format_is_a_clear_error() {
    let p = tmp("notes.txt");
    std::fs::write(&p, "hello\n").expect("write");
    let e = replay_paths(&[p], &ReplayOptions::default())
        .err()
        .expect("refused")
        .to_string();
    let chain = format!("{e:#}");
    assert!(chain.contains("opening the capture"), "{chain}");
    let e = microstate_io::record::open_captures(&[tmp("notes.txt")])
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("notes.txt") && e.contains("hello"), "{e}");
}
