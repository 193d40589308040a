//! What the integration tests of every crate share: where the real captures are, reading them,
//! and an independent book rebuild that shares no code with the engine (serde_json + BTreeMap +
//! string decimals).
//!
//! Also [`http`]: a plain HTTP/1.1 GET over a real socket (hyper's client), for the API's
//! tests.
//!
//! Owns: the workspace root and `../shared/data` as the tests see them (one place, whichever
//! crate's test binary asks), whole-capture reads, and the naive rebuild the golden tests compare
//! the engine with. Must not touch: any microstate crate — it depends on none, so what it rebuilds
//! is a second opinion, not the engine's own answer. Test-only: crates take it as a
//! dev-dependency; it fails by panicking with a message, as a test should.

pub mod http;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The workspace root (the folder of the root `Cargo.toml`), whichever crate's tests run.
pub fn workspace_root() -> PathBuf {
    // This crate lives at `<root>/crates/testkit`.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .unwrap_or_else(|| panic!("{} has no grandparent folder", here.display()))
        .to_path_buf()
}

/// `../shared/data`, resolved from the workspace root. Fails with a clear message where missing.
pub fn data_dir() -> PathBuf {
    let d = workspace_root().join("../shared/data");
    assert!(
        d.is_dir(),
        "{} not found: the tests read the real Binance captures from ../shared/data next to the \
         project (see README, 'Test data')",
        d.display()
    );
    d
}

/// The two day files of the spot BTCUSDT capture, in order.
pub fn spot_files() -> Vec<PathBuf> {
    let d = data_dir().join("binance-spot");
    vec![d.join("btcusdt_20240808.gz"), d.join("btcusdt_20240809.gz")]
}

/// The two day files of the USD-M BTCUSDT capture, in order.
pub fn usdm_files() -> Vec<PathBuf> {
    let d = data_dir().join("binance-usdm");
    vec![d.join("btcusdt_20240718.gz"), d.join("btcusdt_20240719.gz")]
}

/// All lines of gzip files, in order, with the trailing newline removed.
pub fn gz_lines(files: &[PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).expect("read capture");
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .expect("inflate capture");
        out.extend(s.lines().filter(|l| !l.is_empty()).map(str::to_string));
    }
    out
}

/// Decimal string → integer with 8 decimals, by string manipulation (independent of `num`).
pub fn dec8(s: &str) -> u128 {
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    let f = format!("{f:0<8}");
    assert!(f.len() == 8, "more than 8 decimals: {s}");
    format!("{i}{f}").parse::<u128>().expect("decimal")
}

pub fn show8(m: u128) -> String {
    let i = m / 100_000_000;
    let f = m % 100_000_000;
    if f == 0 {
        return i.to_string();
    }
    let f = format!("{f:08}");
    format!("{i}.{}", f.trim_end_matches('0'))
}

/// A naive book: price → qty, both as 8-decimal integers.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct NaiveBook {
    pub bids: BTreeMap<u128, u128>,
    pub asks: BTreeMap<u128, u128>,
    pub last: u64,
}

impl NaiveBook {
    fn set(side: &mut BTreeMap<u128, u128>, levels: &serde_json::Value) {
        for l in levels.as_array().expect("levels") {
            let p = dec8(l[0].as_str().expect("price"));
            let q = dec8(l[1].as_str().expect("qty"));
            if q == 0 {
                side.remove(&p);
            } else {
                side.insert(p, q);
            }
        }
    }

    pub fn top_bids(&self, n: usize) -> Vec<[String; 2]> {
        self.bids
            .iter()
            .rev()
            .take(n)
            .map(|(p, q)| [show8(*p), show8(*q)])
            .collect()
    }
    pub fn top_asks(&self, n: usize) -> Vec<[String; 2]> {
        self.asks
            .iter()
            .take(n)
            .map(|(p, q)| [show8(*p), show8(*q)])
            .collect()
    }
}

/// Result of the independent rebuild of one symbol.
#[derive(Debug, Default)]
pub struct Rebuild {
    pub book: NaiveBook,
    pub applied: u64,
    pub gaps: u64,
    pub crossed: u64,
}

/// Rebuilds one symbol's book from a list of (payload JSON) in arrival order: collect the diffs,
/// find the snapshot, skip what it covers, apply the rest checking the chain. `futures` picks
/// the `pu` rules. Written from Binance's documentation, sharing nothing with the engine.
pub fn rebuild(
    payloads: &[serde_json::Value],
    snapshot: &serde_json::Value,
    futures: bool,
) -> Rebuild {
    let lid = snapshot["lastUpdateId"].as_u64().expect("lastUpdateId");
    let mut r = Rebuild::default();
    NaiveBook::set(&mut r.book.bids, &snapshot["bids"]);
    NaiveBook::set(&mut r.book.asks, &snapshot["asks"]);
    r.book.last = lid;
    let mut prev: Option<u64> = None;
    for d in payloads {
        let (big_u, u) = (d["U"].as_u64().expect("U"), d["u"].as_u64().expect("u"));
        match prev {
            None => {
                let covered = if futures { u < lid } else { u <= lid };
                if covered {
                    continue;
                }
                let bridges = if futures {
                    big_u <= lid && lid <= u
                } else {
                    big_u <= lid + 1 && lid < u
                };
                if !bridges {
                    r.gaps += 1;
                    break;
                }
            }
            Some(p) => {
                let ok = if futures {
                    d["pu"].as_u64() == Some(p)
                } else {
                    big_u == p + 1
                };
                if !ok {
                    r.gaps += 1;
                    break;
                }
            }
        }
        NaiveBook::set(&mut r.book.bids, &d["b"]);
        NaiveBook::set(&mut r.book.asks, &d["a"]);
        r.book.last = u;
        prev = Some(u);
        r.applied += 1;
        let best_bid = r.book.bids.keys().next_back();
        let best_ask = r.book.asks.keys().next();
        if best_bid.zip(best_ask).is_some_and(|(b, a)| b >= a) {
            r.crossed += 1;
        }
    }
    r
}

/// Splits hftbacktest lines into depth payloads (in order) and the snapshot.
pub fn hft_parts(lines: &[String]) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut diffs = Vec::new();
    let mut snap = None;
    for l in lines {
        let (_, json) = l.split_once(' ').expect("ts json");
        let v: serde_json::Value = serde_json::from_str(json).expect("json");
        if v.get("lastUpdateId").is_some() {
            snap = Some(v);
        } else if v["stream"].as_str().is_some_and(|s| s.contains("@depth")) {
            diffs.push(v["data"].clone());
        }
    }
    (diffs, snap.expect("a snapshot line"))
}
