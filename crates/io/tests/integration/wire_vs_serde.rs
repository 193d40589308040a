//! The fast decoder against the serde_json reference on every frame of every real capture, and
//! on damaged frames (truncated, bytes changed): never a panic, never a different answer.

use microstate_core::wire::binance::Decoder;
use microstate_core::wire::{Event, reference};
use microstate_io::record::{self, Merge, Merged};
use microstate_testkit::data_dir;

/// Every frame (WebSocket and REST bodies) of every capture in ../shared/data.
fn all_frames() -> Vec<Vec<u8>> {
    let d = data_dir();
    let sources = record::open_captures(&[
        d.join("binance-spot"),
        d.join("binance-usdm"),
        d.join("cryptofeed"),
    ])
    .expect("open captures");
    let mut merge = Merge::new(sources);
    let mut out = Vec::new();
    while let Some(m) = merge.next_frame() {
        match m {
            Merged::Frame { frame, .. } => out.push(frame.body().to_vec()),
            Merged::Error(e) => panic!("read error in a clean capture: {e}"),
        }
    }
    out
}

#[test]
fn fast_decoder_equals_serde_json_on_every_captured_frame() {
    let frames = all_frames();
    // spot 99,574 + usdm 71,984 lines, plus cryptofeed frames and snapshots.
    assert!(frames.len() > 171_000, "only {} frames", frames.len());
    let mut dec = Decoder::new();
    let (mut depth, mut snaps, mut trades, mut tickers, mut other) = (0, 0, 0, 0, 0);
    for (i, f) in frames.iter().enumerate() {
        let fast = dec.decode(f).unwrap_or_else(|e| {
            panic!(
                "frame {i} refused by the fast decoder: {e}\n{}",
                String::from_utf8_lossy(f)
            )
        });
        let slow =
            reference::decode(f).unwrap_or_else(|e| panic!("frame {i} refused by serde: {e}"));
        assert!(
            slow.same_as(&fast),
            "frame {i} differs:\nfast {fast:?}\nslow {slow:?}"
        );
        match fast {
            Event::Depth(_) => depth += 1,
            Event::Snapshot(_) => snaps += 1,
            Event::Trade(_) => trades += 1,
            Event::BookTicker(_) => tickers += 1,
            Event::Other(_) => other += 1,
        }
    }
    // Every kind present, so the comparison covered each path.
    assert!(
        depth > 15_000 && trades > 30_000 && tickers > 100_000,
        "{depth} {trades} {tickers}"
    );
    assert_eq!(snaps, 10, "2 hftbacktest + 8 cryptofeed snapshots");
    assert!(other > 0, "kline frames from cryptofeed");
}

/// Deterministic xorshift, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn damaged_frames_never_panic_and_never_disagree() {
    let frames = all_frames();
    let mut dec = Decoder::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut refused = 0u64;
    let noise = b"\"{}[],:0123456789.-eEtrufalsn\\ x";
    for f in frames.iter().step_by(37) {
        // Truncations: always refused.
        for _ in 0..3 {
            let cut = (rng.next() as usize) % f.len();
            let t = &f[..cut];
            let r = dec.decode(t);
            assert!(
                r.is_err(),
                "truncated frame accepted: {}",
                String::from_utf8_lossy(t)
            );
            assert!(reference::decode(t).is_err());
            refused += 1;
        }
        // Byte changes: if both accept, they agree.
        for _ in 0..3 {
            let mut m = f.clone();
            let at = (rng.next() as usize) % m.len();
            m[at] = noise[(rng.next() as usize) % noise.len()];
            let fast = dec.decode(&m);
            let slow = reference::decode(&m);
            if let (Ok(fast), Ok(slow)) = (&fast, &slow) {
                assert!(
                    slow.same_as(fast),
                    "disagree on {}",
                    String::from_utf8_lossy(&m)
                );
            }
            if let Err(e) = &fast {
                assert!(!e.excerpt.is_empty() || m.is_empty());
                assert!(e.excerpt.chars().count() <= 50);
            }
        }
    }
    assert!(refused > 10_000);
}
