//! Hostile files and sessions through the real binary (issue 19, items 7–10): exit codes
//! scripts can trust, a corrupt recording chunk that costs that chunk only, a line over the
//! byte cap skipped with a message, and control bytes from a file escaped in every message.

use std::io::Write;
use std::path::PathBuf;

use crate::common::*;

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir.join(name)
}

/// The first `n` lines of the spot capture, as `(receive ns, frame)`.
fn spot_lines(n: usize) -> Vec<(u64, Vec<u8>)> {
    gz_lines(&spot_files())
        .into_iter()
        .take(n)
        .map(|l| {
            let (ts, body) = l.split_once(' ').expect("`<ts> <json>`");
            (ts.parse().expect("ts"), body.as_bytes().to_vec())
        })
        .collect()
}

fn replay_json(file: &std::path::Path) -> (Option<i32>, serde_json::Value, String) {
    let out = bin()
        .arg("replay")
        .arg(file)
        .args(["--headless", "--summary-json", "-"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    (out.status.code(), v, err)
}

/// Item 9: a replay that read nothing usable used to exit 0.
#[test]
fn a_replay_that_reads_nothing_usable_exits_3() {
    let p = tmp("garbage.txt");
    std::fs::write(
        &p,
        "1723161253937085768 {not json\n1723161253937085769 [1,2\n",
    )
    .expect("write");
    let (code, v, err) = replay_json(&p);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("nothing usable was read from"), "{err}");
    assert_eq!(v["errors_total"], 2);
    // Help documents the codes.
    let out = bin().arg("--help").output().expect("help");
    let help = String::from_utf8_lossy(&out.stdout);
    for line in [
        "3  replay: nothing usable was read",
        "4  record: the recording lost data",
        "5  live/record/demo: a requested symbol never synced",
    ] {
        assert!(help.contains(line), "{line} in --help:\n{help}");
    }
}

/// Item 9: one flipped byte in a recording's first chunk gave "0 frames" and exit 0, and a
/// corrupt chunk mid-file discarded every later intact chunk. Now a corrupt chunk costs that
/// chunk only, and the summary says how many bytes were skipped.
#[test]
fn a_corrupt_chunk_costs_that_chunk_only() {
    use microstate_io::record::format::{
        Header, Record, RecordingReader, RecordingWriter, WriterOptions, index,
    };
    let lines = spot_lines(3_000);
    let p = tmp("flipped.msrec");
    let header = Header::new(
        "spot",
        vec!["BTCUSDT".into()],
        vec!["test".into()],
        serde_json::json!({}),
        lines[0].0,
    );
    let opts = WriterOptions {
        // About a dozen chunks over the excerpt.
        flush_interval_ns: (lines[2_999].0 - lines[0].0) / 12,
        ..WriterOptions::default()
    };
    let f = std::fs::File::create(&p).expect("create");
    let mut w = RecordingWriter::new(f, &header, opts).expect("writer");
    for (t, body) in &lines {
        let r = if body.starts_with(b"{\"lastUpdateId\"") {
            Record::RestResponse {
                id: 1,
                symbol: Some("BTCUSDT".into()),
                recv_wall_ns: *t,
                status: 200,
                body: body.clone(),
            }
        } else {
            Record::WsFrame {
                conn: 1,
                recv_wall_ns: *t,
                recv_mono_ns: *t,
                text: body.clone(),
            }
        };
        w.push(&r).expect("push");
    }
    w.flush().expect("flush");
    w.finish().expect("finish");
    let idx = index(&p).expect("index");
    assert!(idx.chunks.len() >= 6, "{} chunks", idx.chunks.len());
    let (first, second) = (idx.chunks[0], idx.chunks[1]);

    let (code, whole, err) = replay_json(&p);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(whole["frames_total"], 3_000);

    // A flipped byte in the first chunk's compressed data, and one in the middle chunk's.
    let mid = idx.chunks[idx.chunks.len() / 2];
    for (chunk, next) in [(first, second), (mid, idx.chunks[idx.chunks.len() / 2 + 1])] {
        let mut bytes = std::fs::read(&p).expect("read");
        bytes[chunk.offset as usize + 40] ^= 0x20;
        let q = tmp("flipped-once.msrec");
        std::fs::write(&q, &bytes).expect("write");
        let (code, v, err) = replay_json(&q);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(
            v["frames_total"].as_u64(),
            Some(3_000 - u64::from(chunk.records)),
            "every other chunk replays"
        );
        let errors = v["errors"].to_string();
        assert!(
            errors.contains(&format!(
                "corrupt chunk at byte {} (CRC mismatch",
                chunk.offset
            )) && errors.contains(&format!(
                "skipped {} bytes to the next good chunk",
                next.offset - chunk.offset
            )),
            "{errors}"
        );
        // The reader agrees record for record.
        let mut r = RecordingReader::open(&q).expect("open");
        let n = r.by_ref().count();
        assert_eq!(n as u64, 3_000 - u64::from(chunk.records));
        assert!(r.take_skipped().is_some());
    }
}

/// Item 7: a line over `limits.max_line_bytes` is skipped while read (never held whole), named
/// with file:line, counted under `limits`, and reading goes on.
#[test]
fn a_line_over_the_byte_cap_is_skipped_named_and_counted() {
    let lines = spot_lines(400);
    let p = tmp("huge-line.txt");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).expect("create"));
    for (i, (t, body)) in lines.iter().enumerate() {
        if i == 200 {
            // 12 MiB, over the 8 MiB default.
            write!(f, "{t} {{\"stream\":\"").expect("write");
            f.write_all(&vec![b'x'; 12 << 20]).expect("write");
            writeln!(f, "\"}}").expect("write");
        }
        write!(f, "{t} ").expect("write");
        f.write_all(body).expect("write");
        writeln!(f).expect("write");
    }
    f.flush().expect("flush");
    drop(f);
    let (code, v, err) = replay_json(&p);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["frames_total"], 400);
    assert_eq!(v["limits"]["line_bytes"], 1, "{v}");
    let e = v["errors"][0].as_str().unwrap_or_default();
    assert!(
        e.contains("huge-line.txt:201: a line of ")
            && e.contains(" bytes, longer than limits.max_line_bytes (8388608): skipped"),
        "{e}"
    );
    assert_eq!(v["symbols"][0]["state"], "synced");
}

/// Item 10: control bytes from a file (a terminal title, a screen clear) reach no message
/// raw — not the summary's errors, not the text summary, not stderr.
#[test]
fn control_bytes_from_a_file_are_escaped_in_every_message() {
    let p = tmp("escapes.txt");
    let lines = spot_lines(50);
    let mut text = Vec::new();
    for (t, body) in &lines {
        text.extend_from_slice(format!("{t} ").as_bytes());
        text.extend_from_slice(body);
        text.push(b'\n');
    }
    text.extend_from_slice(b"\x1b]0;owned\x07\x1b[2J not a line\n");
    text.extend_from_slice(b"1723161253937085768 {\"e\":\"\x1b[31mred\",\x9b\n");
    std::fs::write(&p, &text).expect("write");
    for json in [true, false] {
        let mut cmd = bin();
        cmd.arg("replay").arg(&p).arg("--headless");
        if json {
            cmd.args(["--summary-json", "-"]);
        }
        let out = cmd.output().expect("run");
        assert_eq!(out.status.code(), Some(0));
        // The file's sequences never appear raw (the logger's own colours may).
        let raw: [&[u8]; 4] = [b"\x07", b"\x1b]0;", b"\x1b[2J", b"\x1b[31m"];
        for (name, s) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            for r in raw {
                assert!(
                    !s.windows(r.len()).any(|w| w == r),
                    "{r:?} raw on {name}:\n{}",
                    String::from_utf8_lossy(s)
                );
            }
        }
        assert!(String::from_utf8_lossy(&out.stderr).contains("\\u{1b}]0;owned\\u{7}"));
        let all = String::from_utf8_lossy(&out.stdout);
        assert!(all.contains("2 frames or lines") || json, "{all}");
    }
    let (_, v, _) = replay_json(&p);
    let errors = v["errors"].to_string();
    assert!(errors.contains("u{1b}]0;owned"), "{errors}");
}

/// Item 9: a live session that never synced a symbol it was asked for used to exit 0. The
/// exchange lists the symbol and streams it, but answers every depth snapshot with HTTP 500, so
/// the book can never be bridged.
#[test]
fn a_live_session_that_never_syncs_a_requested_symbol_exits_5() {
    use std::io::BufRead;
    let mut exchange = bin()
        .args([
            "exchange",
            "--synthetic",
            "--seed",
            "3",
            "--symbols",
            "BTCUSDT",
            "--fault",
            "rest-500:1000000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn exchange");
    let mut first = String::new();
    let mut stdout = std::io::BufReader::new(exchange.stdout.take().expect("stdout"));
    stdout.read_line(&mut first).expect("address line");
    let addr = first.trim().to_string();
    let out = bin()
        .args(["live", "btcusdt", "--headless", "--duration", "4s"])
        .args(["--ws-endpoint", &format!("ws://{addr}")])
        .args(["--rest-endpoint", &format!("http://{addr}")])
        .args(["--summary-json", "-"])
        .output()
        .expect("run");
    let _ = exchange.kill();
    let _ = exchange.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("never synced: BTCUSDT"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let btc = v["symbols"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["symbol"] == "BTCUSDT"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(btc["depth_updates"]["applied"].as_u64(), Some(0), "{v}");
    assert!(
        v["live"]["snapshot_errors"].as_u64().unwrap_or(0) > 0,
        "{v}"
    );
}
