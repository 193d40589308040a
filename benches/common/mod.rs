//! What the benchmarks share: where the real captures are, and the spot capture inflated once.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

/// `../shared/data`, resolved from the project root; a clear panic where it is missing.
pub fn data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    assert!(
        dir.is_dir(),
        "{} not found: benchmarks read the real captures from ../shared/data",
        dir.display()
    );
    dir
}

/// The two day files of the spot capture, in order.
pub fn spot_files() -> Vec<PathBuf> {
    let d = data_dir().join("binance-spot");
    vec![d.join("btcusdt_20240808.gz"), d.join("btcusdt_20240809.gz")]
}

/// The whole spot capture, both day files in order, inflated once and kept for the process
/// (leaked, so replay sources can borrow it as `&'static [u8]` without a copy per run).
pub fn spot_capture() -> &'static [u8] {
    static CAPTURE: OnceLock<&'static [u8]> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let mut all = Vec::new();
        for path in spot_files() {
            let file = std::fs::File::open(&path)
                .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
            flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file))
                .read_to_end(&mut all)
                .unwrap_or_else(|e| panic!("cannot inflate {}: {e}", path.display()));
            if all.last() != Some(&b'\n') {
                all.push(b'\n');
            }
        }
        Box::leak(all.into_boxed_slice())
    })
}
