//! The real level streams the `peers` bench applies to this project's book and to its peers.
//!
//! Owns: reading one capture from `../shared/data` (hftbacktest's collector format, gzip text
//! `<ts> <json>` per line), decoding it with the core's decoder, and flattening it into a
//! snapshot plus every diff level after it, in capture order. Must not touch: the book's
//! internals (the bench drives the public `OrderBook`), sockets, clocks.
//!
//! ```text
//! lib.rs  ── Capture (which files) ──▶ Stream { snapshot, updates, tick }
//! benches/peers.rs  ── Stream ──▶ OrderBook │ ROIVectorMarketDepth │ HashMapMarketDepth
//! ```
//!
//! Not a default member of the workspace: `cargo test` never builds it, and hftbacktest (its
//! bench's dev-dependency) never enters the default build.

use std::io::Read;
use std::path::{Path, PathBuf};

use microstate_core::wire::binance::Decoder;
use microstate_core::wire::{Event, Level};

/// Why a stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PeersError {
    #[error("{path}: {source} (the bench reads the real captures from ../shared/data)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: line {line} is not `<ts> <json>`")]
    Line { path: PathBuf, line: usize },
    #[error("{path}: line {line} does not decode: {message}")]
    Decode {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{name}: no REST snapshot line in the capture")]
    NoSnapshot { name: &'static str },
}

/// One of the real captures the bench replays.
#[derive(Clone, Copy, Debug)]
pub struct Capture {
    /// Short name for the table.
    pub name: &'static str,
    /// Folder under `../shared/data`.
    pub dir: &'static str,
    /// Day files, read in this order as one capture.
    pub files: &'static [&'static str],
}

/// The three streams of issue 18: spot BTCUSDT, USD-M BTCUSDT, COIN-M BTCUSD_PERP.
pub const CAPTURES: [Capture; 3] = [
    Capture {
        name: "spot BTCUSDT",
        dir: "binance-spot",
        files: &["btcusdt_20240808.gz", "btcusdt_20240809.gz"],
    },
    Capture {
        name: "USD-M BTCUSDT",
        dir: "binance-usdm",
        files: &["btcusdt_20240718.gz", "btcusdt_20240719.gz"],
    },
    Capture {
        name: "COIN-M BTCUSD_PERP",
        dir: "binance-coinm",
        files: &["btcusd_perp_20240808.gz", "btcusd_perp_20240809.gz"],
    },
];

/// A capture flattened: the REST snapshot, then every level of every diff whose final id is
/// past the snapshot's, in capture order (`true` = bid).
#[derive(Clone, Debug)]
pub struct Stream {
    pub name: &'static str,
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    pub updates: Vec<(bool, Level)>,
    /// The tick inferred from every price in the stream: the gcd of their differences from the
    /// first one (mantissa units of `num::SCALE`).
    pub tick: u64,
    /// Lowest and highest price in the stream (snapshot and updates).
    pub min_price: u64,
    pub max_price: u64,
}

impl Stream {
    /// Share of updates that delete a level.
    pub fn delete_share(&self) -> f64 {
        let d = self.updates.iter().filter(|(_, l)| l.qty.is_zero()).count();
        d as f64 / self.updates.len().max(1) as f64
    }
}

/// `../shared/data`, from the project root.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

fn inflate(path: &Path, into: &mut Vec<u8>) -> Result<(), PeersError> {
    let err = |source| PeersError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(err)?;
    flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file))
        .read_to_end(into)
        .map_err(err)?;
    if into.last() != Some(&b'\n') {
        into.push(b'\n');
    }
    Ok(())
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Reads and flattens one capture.
pub fn load(capture: &Capture) -> Result<Stream, PeersError> {
    let mut dec = Decoder::new();
    let mut snapshot: Option<(u64, Vec<Level>, Vec<Level>)> = None;
    let mut diffs: Vec<(u64, Vec<Level>, Vec<Level>)> = Vec::new();
    for file in capture.files {
        let path = data_dir().join(capture.dir).join(file);
        let mut bytes = Vec::new();
        inflate(&path, &mut bytes)?;
        for (n, line) in bytes.split(|&c| c == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let sp = line
                .iter()
                .position(|&c| c == b' ')
                .ok_or_else(|| PeersError::Line {
                    path: path.clone(),
                    line: n + 1,
                })?;
            match dec.decode(&line[sp + 1..]) {
                Ok(Event::Snapshot(s)) if snapshot.is_none() => {
                    snapshot = Some((s.last_update_id, s.bids.clone(), s.asks.clone()));
                }
                Ok(Event::Depth(d)) => diffs.push((d.final_id, d.bids.clone(), d.asks.clone())),
                Ok(_) => {}
                Err(e) => {
                    return Err(PeersError::Decode {
                        path: path.clone(),
                        line: n + 1,
                        message: e.to_string(),
                    });
                }
            }
        }
    }
    let (lid, bids, asks) = snapshot.ok_or(PeersError::NoSnapshot { name: capture.name })?;
    let mut updates = Vec::new();
    for (final_id, b, a) in diffs {
        if final_id <= lid {
            continue;
        }
        updates.extend(b.into_iter().map(|l| (true, l)));
        updates.extend(a.into_iter().map(|l| (false, l)));
    }
    let prices = || {
        bids.iter()
            .chain(&asks)
            .chain(updates.iter().map(|(_, l)| l))
            .map(|l| l.price.0)
    };
    let first = prices().next().unwrap_or(0);
    let tick = prices().fold(0, |g, p| gcd(g, p.abs_diff(first)));
    let min_price = prices().min().unwrap_or(0);
    let max_price = prices().max().unwrap_or(0);
    Ok(Stream {
        name: capture.name,
        bids,
        asks,
        updates,
        tick,
        min_price,
        max_price,
    })
}
