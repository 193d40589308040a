//! `export` as a user runs it, read back with the Apache `parquet` crate: the spot capture's
//! trades and final book against the replay summary and an independent rebuild, the features
//! against `--features-jsonl`, byte-identical re-runs, a recording (.msrec) giving the same
//! rows as the capture it was written from, a corrupt capture, and an unwritable `--out`.

use std::path::{Path, PathBuf};

use arrow_array::{
    Array, BooleanArray, Decimal64Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use crate::common::*;

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("export")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

/// Runs `export FILES --out OUT ARGS --summary-json -`: (success, stdout JSON or Null, stderr).
fn export(files: &[PathBuf], out: &Path, args: &[&str]) -> (bool, Value, String) {
    let o = bin()
        .arg("export")
        .args(files)
        .arg("--out")
        .arg(out)
        .args(args)
        .args(["--summary-json", "-"])
        .output()
        .expect("run export");
    let json = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (
        o.status.success(),
        json,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Every part file of a table, in time order: by date folder, then part number.
fn parts(out: &Path, table: &str, symbol: &str) -> Vec<PathBuf> {
    let dir = out.join(table).join(format!("symbol={symbol}"));
    let mut days: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    days.sort();
    let mut files = Vec::new();
    for d in days {
        assert!(
            d.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("date=")),
            "{}",
            d.display()
        );
        let mut p: Vec<(u32, PathBuf)> = std::fs::read_dir(&d)
            .expect("day")
            .map(|e| e.expect("entry").path())
            .map(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).expect("name");
                let n = name
                    .strip_prefix("part-")
                    .and_then(|n| n.strip_suffix(".parquet"))
                    .unwrap_or_else(|| panic!("only part files in a partition: {name}"));
                (n.parse().expect("part number"), p.clone())
            })
            .collect();
        p.sort();
        files.extend(p.into_iter().map(|(_, p)| p));
    }
    files
}

fn read(files: &[PathBuf]) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for f in files {
        let file = std::fs::File::open(f).expect("open part");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("a Parquet file")
            .build()
            .expect("reader");
        for b in reader {
            out.push(b.expect("batch"));
        }
    }
    out
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> &'a T {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("column {name} has another type"))
}

/// A decimal cell as the exact decimal string (`61602.01`), None when null.
fn dec(b: &RecordBatch, name: &str, row: usize) -> Option<String> {
    let c = col::<Decimal64Array>(b, name);
    assert_eq!(c.scale(), 8, "{name} has 8 decimals");
    assert_eq!(
        c.precision(),
        18,
        "{name} is DECIMAL(18,8), stored as INT64"
    );
    (!c.is_null(row)).then(|| show8(c.value(row) as u128))
}

/// Splits hftbacktest lines into depth payloads (in order) and the snapshot.
fn hft_parts(lines: &[String]) -> (Vec<Value>, Value) {
    let mut diffs = Vec::new();
    let mut snap = None;
    for l in lines {
        let (_, json) = l.split_once(' ').expect("ts json");
        let v: Value = serde_json::from_str(json).expect("json");
        if v.get("lastUpdateId").is_some() {
            snap = Some(v);
        } else if v["stream"].as_str().is_some_and(|s| s.contains("@depth")) {
            diffs.push(v["data"].clone());
        }
    }
    (diffs, snap.expect("a snapshot line"))
}

#[test]
fn the_spot_capture_round_trips_through_parquet() {
    let files = spot_files();
    let out = tmp("spot");
    let (ok, json, err) = export(&files, &out, &[]);
    assert!(ok, "{err}");
    assert!(err.contains("exported 99574 frames of BTCUSDT"), "{err}");

    // Trades: as many as the replay summary counts.
    let replay = bin()
        .arg("replay")
        .args(&files)
        .args(["--headless", "--summary-json", "-"])
        .output()
        .expect("replay");
    let summary: Value = serde_json::from_slice(&replay.stdout).expect("summary");
    let trades_summary = summary["symbols"][0]["trades"].as_u64().expect("trades");
    assert_eq!(trades_summary, 19_904);
    let trades = read(&parts(&out, "trades", "BTCUSDT"));
    assert_eq!(rows(&trades) as u64, trades_summary);
    assert_eq!(json["export"]["tables"]["trades"], trades_summary);
    // Two UTC days: 2024-08-08 and 2024-08-09, each sorted by time.
    assert!(out.join("trades/symbol=BTCUSDT/date=2024-08-08").is_dir());
    assert!(out.join("trades/symbol=BTCUSDT/date=2024-08-09").is_dir());
    let mut ids = Vec::new();
    for f in parts(&out, "trades", "BTCUSDT") {
        let mut last = i64::MIN;
        for b in read(&[f]) {
            let ts = col::<Int64Array>(&b, "ts_ns");
            for i in 0..b.num_rows() {
                assert!(ts.value(i) >= last, "a part file is sorted by ts_ns");
                last = ts.value(i);
            }
            ids.extend(col::<Int64Array>(&b, "trade_id").values().iter().copied());
            let side = col::<StringArray>(&b, "taker_side");
            assert!((0..b.num_rows()).all(|i| matches!(side.value(i), "buy" | "sell")));
        }
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "trade ids increase");

    // Book: one row per book change (every applied diff), the last one the golden final book:
    // the independent rebuild (serde_json + BTreeMap) of the same capture, 20 levels a side.
    let book = read(&parts(&out, "book", "BTCUSDT"));
    // Every applied diff changes the book's id: one row each.
    assert_eq!(rows(&book), 6_493, "one row per applied diff");
    let b = book.last().expect("book rows");
    let r = b.num_rows() - 1;
    let (diffs, snap) = hft_parts(&gz_lines(&files));
    let golden = microstate_testkit::rebuild(&diffs, &snap, false).book;
    assert_eq!(
        col::<Int64Array>(b, "last_update_id").value(r) as u64,
        golden.last
    );
    assert_eq!(golden.last, 50_093_696_318);
    for (side, levels) in [("bid", golden.top_bids(20)), ("ask", golden.top_asks(20))] {
        assert_eq!(levels.len(), 20);
        for (k, [px, qty]) in levels.iter().enumerate() {
            let k = k + 1;
            assert_eq!(
                dec(b, &format!("{side}_px_{k}"), r).as_deref(),
                Some(px.as_str())
            );
            assert_eq!(
                dec(b, &format!("{side}_qty_{k}"), r).as_deref(),
                Some(qty.as_str())
            );
        }
    }
    assert_eq!(dec(b, "bid_px_1", r).as_deref(), Some("61602.01"));

    // Events: one `synced`, no gaps on this capture.
    let events = read(&parts(&out, "events", "BTCUSDT"));
    let kinds: Vec<String> = events
        .iter()
        .flat_map(|b| {
            let k = col::<StringArray>(b, "kind");
            (0..b.num_rows())
                .map(|i| k.value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "synced").count(),
        1,
        "{kinds:?}"
    );
    assert!(!kinds.iter().any(|k| k == "gap"), "{kinds:?}");

    // Features: the same vectors as --features-jsonl, at the same events.
    let jsonl = out.join("features.jsonl");
    let r = bin()
        .arg("replay")
        .args(&files)
        .args(["--headless", "--features-jsonl"])
        .arg(&jsonl)
        .output()
        .expect("replay --features-jsonl");
    assert!(r.status.success());
    let lines: Vec<String> = std::fs::read_to_string(&jsonl)
        .expect("jsonl")
        .lines()
        .map(str::to_string)
        .collect();
    let feats = read(&parts(&out, "features", "BTCUSDT"));
    assert_eq!(rows(&feats), lines.len(), "one row per feature vector");
    let schema = microstate_core::features::Schema::new(&Default::default());
    let mut row = 0usize;
    let mut compared = 0;
    for b in &feats {
        let ts = col::<Int64Array>(b, "ts_ns");
        let event = col::<StringArray>(b, "event");
        let valid = col::<BooleanArray>(b, "valid_book");
        for i in 0..b.num_rows() {
            // Every 37th line in full (and the last): parsing all 100k lines is slow in debug.
            if row.is_multiple_of(37) || row + 1 == lines.len() {
                let v: Value = serde_json::from_str(&lines[row]).expect("line");
                assert_eq!(v["ts_ns"].as_i64(), Some(ts.value(i)), "row {row}");
                assert_eq!(v["event"].as_str(), Some(event.value(i)), "row {row}");
                assert_eq!(v["valid"]["book"].as_bool(), Some(valid.value(i)));
                for f in &schema.features {
                    let (family, key) = f.split();
                    let want = match key {
                        Some(k) => &v[family][k],
                        None => &v[family],
                    };
                    let c = col::<Float64Array>(b, &f.name.replace('.', "_"));
                    let got = (!c.is_null(i)).then(|| c.value(i));
                    match (want.as_f64(), got) {
                        (None, None) => {}
                        (Some(w), Some(g)) => assert!(
                            (w - g).abs() <= 1e-12 * w.abs().max(1.0),
                            "row {row} {}: jsonl {w} parquet {g}",
                            f.name
                        ),
                        (w, g) => panic!("row {row} {}: jsonl {w:?} parquet {g:?}", f.name),
                    }
                }
                compared += 1;
            }
            row += 1;
        }
    }
    assert!(compared > 2_000, "{compared}");
}

/// Every part file under a folder, with its bytes.
fn snapshot(out: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).expect("read");
                files.push((p, bytes));
            }
        }
    }
    files.sort();
    files
}

fn excerpt() -> PathBuf {
    workspace_root().join("assets/demo/btcusdt_20240808-excerpt.gz")
}

#[test]
fn a_second_export_is_refused_or_byte_identical_with_overwrite() {
    let out = tmp("idempotent");
    let (ok, _, err) = export(&[excerpt()], &out, &[]);
    assert!(ok, "{err}");
    let first = snapshot(&out);
    assert!(first.len() >= 5, "{} files", first.len());
    assert!(
        first.iter().all(|(p, _)| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.starts_with("part-") && n.ends_with(".parquet")
        }),
        "no temporary file is left: {:?}",
        first.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );

    let (ok, _, err) = export(&[excerpt()], &out, &[]);
    assert!(!ok, "a second export into the same partitions is refused");
    assert!(
        err.contains("already exists") && err.contains("--overwrite"),
        "{err}"
    );
    assert_eq!(snapshot(&out), first, "and changes nothing");

    let (ok, json, err) = export(&[excerpt()], &out, &["--overwrite"]);
    assert!(ok, "{err}");
    assert_eq!(json["export"]["replaced"].as_array().map(Vec::len), Some(0));
    assert_eq!(snapshot(&out), first, "the same input gives the same bytes");

    // A narrower export over the same partitions replaces what it writes and leaves no stale part.
    let (ok, _, err) = export(&[excerpt()], &out, &["--overwrite", "--every", "1s"]);
    assert!(ok, "{err}");
    let sampled = snapshot(&out);
    assert_eq!(sampled.len(), first.len());
    assert_ne!(sampled, first, "sampled rows differ");
}

#[test]
fn a_recording_exports_the_same_rows_as_the_capture_it_holds() {
    use microstate_io::record::format::journal::live_record_of;
    use microstate_io::record::format::{Header, Record, RecordingWriter, WriterOptions};
    use microstate_io::record::{Merge, Merged, open_captures};
    let dir = tmp("msrec");
    let rec = dir.join("market_BTCUSDT_20240808T235413Z.msrec");
    let header = Header {
        journal: true,
        ..Header::new(
            "spot",
            vec!["BTCUSDT".into()],
            vec![],
            serde_json::Value::Null,
            0,
        )
    };
    let mut w = RecordingWriter::new(
        std::io::BufWriter::new(std::fs::File::create(&rec).expect("create")),
        &header,
        WriterOptions::default(),
    )
    .expect("writer");
    let mut merge = Merge::new(open_captures(&[excerpt()]).expect("open"));
    let mut first = true;
    let mut id = 0;
    while let Some(Merged::Frame { frame, .. }) = merge.next_frame() {
        let recv = frame.recv.0;
        if first {
            w.push(&Record::Lifecycle {
                wall_ns: recv,
                event: "primary".into(),
                detail: "1".into(),
            })
            .expect("push");
            first = false;
        }
        w.push(&live_record_of(frame, "BTCUSDT", &mut id))
            .expect("push");
    }
    w.finish().expect("finish");

    let from_gz = dir.join("from-gz");
    let from_rec = dir.join("from-msrec");
    let tables = ["--tables", "book,trades,events"];
    let (ok, _, err) = export(&[excerpt()], &from_gz, &tables);
    assert!(ok, "{err}");
    let (ok, json, err) = export(&[rec], &from_rec, &tables);
    assert!(ok, "{err}");
    assert!(json["export"]["tables"]["trades"].as_u64() > Some(100));
    let strip = |root: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        snapshot(root)
            .into_iter()
            .map(|(p, b)| (p.strip_prefix(root).expect("under root").to_path_buf(), b))
            .collect()
    };
    let (a, b) = (strip(&from_gz), strip(&from_rec));
    assert_eq!(
        a.iter().map(|x| &x.0).collect::<Vec<_>>(),
        b.iter().map(|x| &x.0).collect::<Vec<_>>()
    );
    assert!(
        a == b,
        "the recording's rows are byte for byte the capture's"
    );
}

#[test]
fn a_corrupt_capture_exports_what_is_valid_and_reports_the_rest() {
    let dir = tmp("corrupt");
    let bytes = std::fs::read(&spot_files()[0]).expect("read");
    let p = dir.join("btcusdt_20240808.gz");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).expect("write");
    let out = dir.join("out");
    let (ok, json, err) = export(std::slice::from_ref(&p), &out, &["--tables", "book,trades"]);
    assert!(ok, "what is valid is exported: {err}");
    assert!(
        err.contains("could not be used") && err.contains("btcusdt_20240808.gz"),
        "the rest is reported: {err}"
    );
    assert_eq!(json["summary"]["errors_total"], 1);
    let trades = json["summary"]["symbols"][0]["trades"].as_u64().expect("n");
    assert!(trades > 1_000, "{trades}");
    assert_eq!(
        rows(&read(&parts(&out, "trades", "BTCUSDT"))) as u64,
        trades
    );
    assert!(rows(&read(&parts(&out, "book", "BTCUSDT"))) > 100);
}

#[test]
fn an_unwritable_out_fails_with_a_clear_message_and_leaves_nothing() {
    let dir = tmp("unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, b"not a folder").expect("write");
    let out = file.join("parquet");
    let (ok, _, err) = export(&[excerpt()], &out, &[]);
    assert!(!ok);
    assert!(
        err.contains("cannot create the output folder") && err.contains("a-file/parquet"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&dir).expect("dir").count(),
        1,
        "nothing but the file"
    );

    // A bad option is refused before anything is written.
    let out = dir.join("out");
    let (ok, _, err) = export(&[excerpt()], &out, &["--depth", "0"]);
    assert!(!ok);
    assert!(err.contains("--depth = 0"), "{err}");
    assert!(!out.exists(), "nothing created");
}

/// Every `events` row of a symbol: (kind, ts_ns, expected_id, got_id, duration_ns).
type EventCells = (String, i64, Option<i64>, Option<i64>, Option<i64>);

fn events_of(out: &Path, symbol: &str) -> Vec<EventCells> {
    let mut v = Vec::new();
    for b in read(&parts(out, "events", symbol)) {
        let kind = col::<StringArray>(&b, "kind");
        let ts = col::<Int64Array>(&b, "ts_ns");
        let opt = |name: &str, i: usize| {
            let c = col::<Int64Array>(&b, name);
            (!c.is_null(i)).then(|| c.value(i))
        };
        for i in 0..b.num_rows() {
            v.push((
                kind.value(i).to_string(),
                ts.value(i),
                opt("expected_id", i),
                opt("got_id", i),
                opt("duration_ns", i),
            ));
        }
    }
    v
}

/// USD-M futures and both cryptofeed sets (several symbols, aggTrades): per symbol, the trades
/// the summary counts and its final book (10 levels a side) in the last book row.
#[test]
fn every_capture_format_exports_its_symbols_books_and_trades() {
    let d = data_dir();
    let cases: [(&str, Vec<PathBuf>); 3] = [
        ("usdm", usdm_files()),
        ("cryptofeed-spot", vec![d.join("cryptofeed/BINANCE.ws.1.0")]),
        (
            "cryptofeed-futures",
            vec![d.join("cryptofeed/BINANCE_FUTURES.ws.1.0")],
        ),
    ];
    for (name, files) in cases {
        let out = tmp(name);
        let (ok, json, err) = export(&files, &out, &["--tables", "book,trades,events"]);
        assert!(ok, "{name}: {err}");
        let symbols = json["summary"]["symbols"].as_array().expect("symbols");
        assert!(!symbols.is_empty(), "{name}");
        for s in symbols {
            let sym = s["symbol"].as_str().expect("symbol");
            let trades = s["trades"].as_u64().expect("trades");
            let got = if trades > 0 {
                rows(&read(&parts(&out, "trades", sym))) as u64
            } else {
                0
            };
            assert_eq!(got, trades, "{name} {sym} trades");
            let fin = &s["final"];
            let book = read(&parts(&out, "book", sym));
            let b = book.last().expect("book rows");
            let r = b.num_rows() - 1;
            assert_eq!(
                Some(col::<Int64Array>(b, "last_update_id").value(r) as u64),
                fin["last_update_id"].as_u64(),
                "{name} {sym}"
            );
            for (side, key) in [("bid", "bids"), ("ask", "asks")] {
                for (k, l) in fin[key].as_array().expect("levels").iter().enumerate() {
                    let k = k + 1;
                    assert_eq!(
                        dec(b, &format!("{side}_px_{k}"), r).as_deref(),
                        l[0].as_str(),
                        "{name} {sym} {side} {k}"
                    );
                    assert_eq!(
                        dec(b, &format!("{side}_qty_{k}"), r).as_deref(),
                        l[1].as_str(),
                        "{name} {sym} {side} {k}"
                    );
                }
            }
            for f in parts(&out, "events", sym) {
                assert!(
                    f.ends_with("part-0.parquet"),
                    "{name} {sym}: events sorted in one part a day: {}",
                    f.display()
                );
            }
            let synced = events_of(&out, sym)
                .iter()
                .filter(|e| e.0 == "synced")
                .count();
            assert_eq!(synced, 1, "{name} {sym}: one first sync");
        }
    }
}

/// A diff removed from the spot capture: the `gap` event names the ids, and no book row is
/// written while the book is out of sync (the capture has no later snapshot to resync from).
#[test]
fn a_gap_is_an_event_and_the_book_stops_until_a_resync() {
    let lines = gz_lines(&spot_files());
    let snap = lines
        .iter()
        .position(|l| l.contains("lastUpdateId"))
        .expect("snapshot");
    let cut = lines
        .iter()
        .enumerate()
        .skip(snap + 1)
        .filter(|(_, l)| l.contains("@depth@100ms"))
        .nth(100)
        .map(|(i, _)| i)
        .expect("a depth line");
    let removed: Value =
        serde_json::from_str(lines[cut].split_once(' ').expect("ts json").1).expect("json");
    let first_id = removed["data"]["U"].as_i64().expect("U");
    let dir = tmp("gap");
    let p = dir.join("btcusdt_20240808.txt");
    let mut text = String::new();
    for (i, l) in lines.iter().enumerate() {
        if i != cut {
            text.push_str(l);
            text.push('\n');
        }
    }
    std::fs::write(&p, text).expect("write");
    let out = dir.join("out");
    let (ok, json, err) = export(&[p], &out, &["--tables", "book,events"]);
    assert!(ok, "{err}");
    let ev = events_of(&out, "BTCUSDT");
    let gaps: Vec<_> = ev.iter().filter(|e| e.0 == "gap").collect();
    assert_eq!(gaps.len(), 1, "{ev:?}");
    assert_eq!(
        gaps[0].2,
        Some(first_id),
        "expected the removed diff's first id"
    );
    assert!(gaps[0].3 > Some(first_id), "got a later id");
    let book = read(&parts(&out, "book", "BTCUSDT"));
    let ts: Vec<i64> = book
        .iter()
        .flat_map(|b| col::<Int64Array>(b, "ts_ns").values().to_vec())
        .collect();
    assert!(
        ts.iter().all(|t| *t < gaps[0].1),
        "no book row after the gap"
    );
    assert!(ts.len() >= 99, "{}", ts.len());
    assert_eq!(json["summary"]["symbols"][0]["gaps"], 1);
}

/// With `connection.stale_after` at 150 ms (the spot diffs come every 100 ms, nine times 200 ms
/// apart), every silence of the depth stream longer than that is a `stale` event as long as
/// the time from one book row to the next, stamped at or after the second.
#[test]
fn depth_silences_longer_than_stale_after_are_stale_events() {
    let dir = tmp("stale");
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, "[connection]\nstale_after = \"150ms\"\n").expect("config");
    let out = dir.join("out");
    let cfg_arg = cfg.display().to_string();
    let (ok, _, err) = export(
        &spot_files(),
        &out,
        &["--tables", "book,events", "--config", &cfg_arg],
    );
    assert!(ok, "{err}");
    let ts: Vec<i64> = read(&parts(&out, "book", "BTCUSDT"))
        .iter()
        .flat_map(|b| col::<Int64Array>(b, "ts_ns").values().to_vec())
        .collect();
    let want: Vec<(i64, i64)> = ts
        .windows(2)
        .filter(|w| w[1] - w[0] > 150_000_000)
        .map(|w| (w[1], w[1] - w[0]))
        .collect();
    let got: Vec<(i64, i64)> = events_of(&out, "BTCUSDT")
        .into_iter()
        .filter(|e| e.0 == "stale" && e.1 > ts[0])
        .map(|e| (e.1, e.4.expect("duration")))
        .collect();
    assert!(!want.is_empty(), "the capture has silences over 150 ms");
    assert_eq!(
        got.iter().map(|g| g.1).collect::<Vec<_>>(),
        want.iter().map(|w| w.1).collect::<Vec<_>>(),
        "the same silences"
    );
    for (g, w) in got.iter().zip(&want) {
        assert!(g.0 >= w.0, "stamped when the silence ended: {g:?} {w:?}");
    }
}

/// A quantity of 10¹⁰ units does not fit `DECIMAL(18,8)`: the export fails naming the table,
/// symbol, column and value and the setting that takes it, and leaves nothing; with
/// `[export] decimal_precision = 38` the same input exports it exactly, as `DECIMAL(38,8)`.
#[test]
fn a_quantity_past_decimal_18_fails_clearly_and_exports_with_precision_38() {
    let lines = gz_lines(&[excerpt()]);
    let at = lines
        .iter()
        .position(|l| l.contains("@trade"))
        .expect("a trade line");
    let huge = "12000000000.00000000";
    let dir = tmp("wide");
    let p = dir.join("btcusdt_20240808.txt");
    let mut text = String::new();
    for (i, l) in lines.iter().enumerate() {
        if i == at {
            let (head, rest) = l.split_once("\"q\":\"").expect("a quantity");
            let (_, tail) = rest.split_once('"').expect("its end");
            text.push_str(&format!("{head}\"q\":\"{huge}\"{tail}"));
        } else {
            text.push_str(l);
        }
        text.push('\n');
    }
    std::fs::write(&p, text).expect("write");
    let out = dir.join("out");
    let (ok, _, err) = export(std::slice::from_ref(&p), &out, &["--tables", "book,trades"]);
    assert!(
        !ok,
        "a value past DECIMAL(18,8) must not be exported narrow"
    );
    assert!(
        err.contains("trades of BTCUSDT")
            && err.contains(&format!("qty = {huge}"))
            && err.contains("decimal_precision = 38"),
        "{err}"
    );
    assert!(
        !out.join("trades").exists() && !out.join("book").exists(),
        "nothing left"
    );

    let cfg = dir.join("wide.toml");
    std::fs::write(&cfg, "[export]\ndecimal_precision = 38\n").expect("config");
    let cfg = cfg.display().to_string();
    let (ok, _, err) = export(&[p], &out, &["--tables", "book,trades", "--config", &cfg]);
    assert!(ok, "{err}");
    let trades = read(&parts(&out, "trades", "BTCUSDT"));
    let wide: Vec<i128> = trades
        .iter()
        .flat_map(|b| {
            let c = col::<arrow_array::Decimal128Array>(b, "qty");
            assert_eq!((c.precision(), c.scale()), (38, 8));
            c.values().to_vec()
        })
        .collect();
    assert_eq!(
        wide.iter()
            .filter(|q| **q == 12_000_000_000 * 100_000_000)
            .count(),
        1,
        "the huge quantity, exactly"
    );
    let book = read(&parts(&out, "book", "BTCUSDT"));
    assert_eq!(
        col::<arrow_array::Decimal128Array>(&book[0], "bid_px_1").precision(),
        38
    );
}
