//! The feature schema: names, units, meanings and order of the feature vector, and its version.
//!
//! Owns: the layout of [`super::FeatureVector`] (index constants in [`idx`]) and its description
//! ([`Schema`]). Must not touch: how features are computed. Models (P7) key on
//! [`FEATURE_SCHEMA_VERSION`] and on the names: any change of order, meaning or unit bumps the
//! version.
//!
//! The vector is family-major: each family (`ofi`, `vwap`, …) occupies consecutive slots, one
//! per key (a window, a depth, …). A feature's name is `family` or `family.key`; the headless
//! JSON nests on the dot (`"ofi":{"last":…,"1s":…}`). Keys carry the configured values (window
//! `10s`, depth `5`, band `10bps`), so a vector computed with other tunables has other names.
//! The number of windows (3) and of depths (3) is fixed by this version.

use std::fmt::Write as _;

use super::FeatureParams;

/// Version of the layout below. Bump on any change of order, meaning or unit.
pub const FEATURE_SCHEMA_VERSION: u32 = 1;

/// Number of time windows (their lengths are tunable).
pub const N_WINDOWS: usize = 3;
/// Number of top-N depths (their values are tunable).
pub const N_DEPTHS: usize = 3;

/// Slot of every feature in the vector.
pub mod idx {
    use super::{N_DEPTHS, N_WINDOWS};

    pub const BID_PX: usize = 0;
    pub const ASK_PX: usize = 1;
    pub const BID_QTY: usize = 2;
    pub const ASK_QTY: usize = 3;
    pub const MID: usize = 4;
    pub const MICROPRICE: usize = 5;
    pub const MICRO_MINUS_MID: usize = 6;
    pub const SPREAD: usize = 7;
    pub const SPREAD_TICKS: usize = 8;
    pub const SPREAD_BPS: usize = 9;
    pub const TICK: usize = 10;
    pub const ONE_TICK: usize = 11;
    pub const MID_AGE: usize = 12;
    /// `bid_depth.N` for each depth, then `bid_depth.<band>bps`.
    pub const BID_DEPTH: usize = 13;
    pub const ASK_DEPTH: usize = BID_DEPTH + N_DEPTHS + 1;
    pub const BID_NOTIONAL: usize = ASK_DEPTH + N_DEPTHS + 1;
    pub const ASK_NOTIONAL: usize = BID_NOTIONAL + N_DEPTHS;
    /// `imbalance.1`, `imbalance.N` for each depth, `imbalance.weighted`.
    pub const IMBALANCE: usize = ASK_NOTIONAL + N_DEPTHS;
    /// `ofi.last`, then one per window.
    pub const OFI: usize = IMBALANCE + N_DEPTHS + 2;
    pub const MLOFI: usize = OFI + 1 + N_WINDOWS;
    pub const OFI_NORM: usize = MLOFI + 1 + N_WINDOWS;
    pub const MLOFI_NORM: usize = OFI_NORM + N_WINDOWS;
    pub const RET: usize = MLOFI_NORM + N_WINDOWS;
    pub const RV: usize = RET + N_WINDOWS;
    pub const EWMA_VOL: usize = RV + N_WINDOWS;
    pub const TRADE_VS_MID: usize = EWMA_VOL + 1;
    pub const DEPTH_RATE: usize = TRADE_VS_MID + 1;
    pub const TRADE_RATE: usize = DEPTH_RATE + N_WINDOWS;
    pub const TICKER_RATE: usize = TRADE_RATE + N_WINDOWS;
    pub const BURSTINESS: usize = TICKER_RATE + N_WINDOWS;
    pub const VOLUME: usize = BURSTINESS + N_WINDOWS;
    pub const SIGNED_VOLUME: usize = VOLUME + N_WINDOWS;
    pub const TRADE_IMBALANCE: usize = SIGNED_VOLUME + N_WINDOWS;
    pub const VOLUME_IMBALANCE: usize = TRADE_IMBALANCE + N_WINDOWS;
    pub const VWAP: usize = VOLUME_IMBALANCE + N_WINDOWS;
    /// Number of features.
    pub const N: usize = VWAP + N_WINDOWS;
}

/// Number of features in the vector.
pub const N_FEATURES: usize = idx::N;

/// What a feature's validity depends on (see the module docs of [`super`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// The book is synced (not inside a gap) and the value is defined.
    Book,
    /// Window `i` lies wholly after the last resync, and the value is defined.
    Window(usize),
}

/// How a family expands into keys.
#[derive(Clone, Copy, Debug)]
enum Keys {
    /// One feature, named after the family.
    Single,
    /// One per depth N, then the ±bps band.
    DepthsAndBand,
    /// One per depth N.
    Depths,
    /// `1`, one per depth N, `weighted`.
    Imbalance,
    /// `last`, then one per window.
    LastAndWindows,
    /// One per window.
    Windows,
}

/// One family of the schema: the documented table.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    pub name: &'static str,
    pub unit: &'static str,
    pub meaning: &'static str,
    keys: Keys,
}

const fn fam(name: &'static str, unit: &'static str, keys: Keys, meaning: &'static str) -> Family {
    Family {
        name,
        unit,
        meaning,
        keys,
    }
}

/// Every family, in vector order.
pub const FAMILIES: &[Family] = &[
    fam("bid_px", "price", Keys::Single, "best bid price"),
    fam("ask_px", "price", Keys::Single, "best ask price"),
    fam("bid_qty", "base", Keys::Single, "quantity at the best bid"),
    fam("ask_qty", "base", Keys::Single, "quantity at the best ask"),
    fam("mid", "price", Keys::Single, "(bid + ask) / 2"),
    fam(
        "microprice",
        "price",
        Keys::Single,
        "(bid·askQty + ask·bidQty) / (bidQty + askQty)",
    ),
    fam(
        "microprice_minus_mid",
        "price",
        Keys::Single,
        "microprice − mid, exactly (ask − bid)(bidQty − askQty) / (2(bidQty + askQty))",
    ),
    fam("spread", "price", Keys::Single, "ask − bid"),
    fam(
        "spread_ticks",
        "ticks",
        Keys::Single,
        "spread / tick (an integer)",
    ),
    fam("spread_bps", "bps", Keys::Single, "10⁴ · spread / mid"),
    fam(
        "tick",
        "price",
        Keys::Single,
        "tick size inferred as the GCD of every best bid/ask price seen (the true tick divides it)",
    ),
    fam(
        "one_tick",
        "0/1",
        Keys::Single,
        "spread regime: 1 when the spread is exactly one tick, 0 when wider",
    ),
    fam(
        "mid_age",
        "s",
        Keys::Single,
        "event time since the mid last changed; invalid until a change is seen after the last resync",
    ),
    fam(
        "bid_depth",
        "base",
        Keys::DepthsAndBand,
        "bid quantity in the top N levels; `<x>bps`: within x bps below mid (price ≥ mid·(1 − x/10⁴))",
    ),
    fam(
        "ask_depth",
        "base",
        Keys::DepthsAndBand,
        "ask quantity in the top N levels; `<x>bps`: within x bps above mid (price ≤ mid·(1 + x/10⁴))",
    ),
    fam(
        "bid_notional",
        "quote",
        Keys::Depths,
        "Σ price·qty over the top N bid levels",
    ),
    fam(
        "ask_notional",
        "quote",
        Keys::Depths,
        "Σ price·qty over the top N ask levels",
    ),
    fam(
        "imbalance",
        "ratio",
        Keys::Imbalance,
        "(B − A) / (B + A) of quantities at level 1 / in the top N; `weighted`: top-N levels weighted N, N−1, …, 1 by rank (N = largest depth)",
    ),
    fam(
        "ofi",
        "base",
        Keys::LastAndWindows,
        "Cont–Kukanov–Stoikov best-level order-flow imbalance: `last` of the last book update, per window the sum over its book updates",
    ),
    fam(
        "mlofi",
        "base",
        Keys::LastAndWindows,
        "multi-level OFI: the same per level 1..k (k = ofi_levels), summed over the levels",
    ),
    fam(
        "ofi_norm",
        "ratio",
        Keys::Windows,
        "window OFI / average level-1 depth ((bidQty + askQty)/2 averaged over the window's book updates); 0 without updates",
    ),
    fam(
        "mlofi_norm",
        "ratio",
        Keys::Windows,
        "window multi-level OFI / average per-level depth of levels 1..k over the window's book updates; 0 without updates",
    ),
    fam(
        "ret",
        "bps",
        Keys::Windows,
        "mid log-return over the window: 10⁴·ln(mid now / mid at the window start)",
    ),
    fam(
        "rv",
        "bps",
        Keys::Windows,
        "realized volatility: 10⁴·√(Σ r²) over the per-update mid log-returns r in the window",
    ),
    fam(
        "ewma_vol",
        "bps/√s",
        Keys::Single,
        "EWMA of squared mid log-returns per second of event time (half-life ewma_half_life), bias-corrected since the last resync; valid one half-life after it",
    ),
    fam(
        "trade_vs_mid",
        "bps",
        Keys::Single,
        "10⁴·(last trade price − mid) / mid; invalid until a trade is seen after the last resync",
    ),
    fam(
        "depth_rate",
        "1/s",
        Keys::Windows,
        "book (diff) updates applied per second",
    ),
    fam("trade_rate", "1/s", Keys::Windows, "trades per second"),
    fam(
        "ticker_rate",
        "1/s",
        Keys::Windows,
        "bookTicker updates per second",
    ),
    fam(
        "burstiness",
        "ratio",
        Keys::Windows,
        "(σ − μ)/(σ + μ) of inter-trade times ending in the window (−1 regular, 0 Poisson, → 1 bursty); needs 2 intervals",
    ),
    fam("volume", "base", Keys::Windows, "traded quantity"),
    fam(
        "signed_volume",
        "base",
        Keys::Windows,
        "buyer-initiated minus seller-initiated quantity (aggressor from the `m` flag)",
    ),
    fam(
        "trade_imbalance",
        "ratio",
        Keys::Windows,
        "(buys − sells)/(buys + sells) counted in trades; needs a trade",
    ),
    fam(
        "volume_imbalance",
        "ratio",
        Keys::Windows,
        "(buy − sell)/(buy + sell) quantity; needs a trade",
    ),
    fam(
        "vwap",
        "price",
        Keys::Windows,
        "volume-weighted average trade price; needs a trade",
    ),
];

/// A window length as it appears in names: whole seconds as `10s`, else milliseconds (`250ms`).
pub fn window_label(ns: u64) -> String {
    if ns.is_multiple_of(1_000_000_000) {
        format!("{}s", ns / 1_000_000_000)
    } else {
        format!("{}ms", ns / 1_000_000)
    }
}

/// One feature of the vector.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureInfo {
    /// `family` or `family.key`.
    pub name: String,
    pub unit: &'static str,
    pub meaning: &'static str,
    pub validity: Validity,
}

impl FeatureInfo {
    /// The family part of the name and the key, if any.
    pub fn split(&self) -> (&str, Option<&str>) {
        match self.name.split_once('.') {
            Some((f, k)) => (f, Some(k)),
            None => (&self.name, None),
        }
    }
}

/// The schema of one configuration: every feature in vector order.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    pub version: u32,
    pub features: Vec<FeatureInfo>,
    /// Window labels (`1s`, `10s`, `60s`), in order.
    pub windows: [String; N_WINDOWS],
}

impl Schema {
    pub fn new(p: &FeatureParams) -> Schema {
        let windows = p.windows_ns.map(window_label);
        let mut features = Vec::with_capacity(N_FEATURES);
        for f in FAMILIES {
            let mut push = |key: Option<String>, validity: Validity| {
                let mut name = f.name.to_string();
                if let Some(k) = key {
                    let _ = write!(name, ".{k}");
                }
                features.push(FeatureInfo {
                    name,
                    unit: f.unit,
                    meaning: f.meaning,
                    validity,
                });
            };
            let per_window = |push: &mut dyn FnMut(Option<String>, Validity)| {
                for (i, w) in windows.iter().enumerate() {
                    push(Some(w.clone()), Validity::Window(i));
                }
            };
            match f.keys {
                Keys::Single => push(None, Validity::Book),
                Keys::Depths | Keys::DepthsAndBand => {
                    for n in p.depth_levels {
                        push(Some(n.to_string()), Validity::Book);
                    }
                    if matches!(f.keys, Keys::DepthsAndBand) {
                        push(Some(format!("{}bps", p.band_bps)), Validity::Book);
                    }
                }
                Keys::Imbalance => {
                    push(Some("1".into()), Validity::Book);
                    for n in p.depth_levels {
                        push(Some(n.to_string()), Validity::Book);
                    }
                    push(Some("weighted".into()), Validity::Book);
                }
                Keys::LastAndWindows => {
                    push(Some("last".into()), Validity::Book);
                    per_window(&mut push);
                }
                Keys::Windows => per_window(&mut push),
            }
        }
        Schema {
            version: FEATURE_SCHEMA_VERSION,
            features,
            windows,
        }
    }

    /// Slot of a feature by name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|f| f.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schema_matches_the_index_constants() {
        let s = Schema::new(&FeatureParams::default());
        assert_eq!(s.features.len(), N_FEATURES);
        let at = |i: usize| s.features[i].name.as_str();
        assert_eq!(at(idx::BID_PX), "bid_px");
        assert_eq!(at(idx::MID), "mid");
        assert_eq!(at(idx::MID_AGE), "mid_age");
        assert_eq!(at(idx::BID_DEPTH), "bid_depth.5");
        assert_eq!(at(idx::BID_DEPTH + 3), "bid_depth.10bps");
        assert_eq!(at(idx::ASK_DEPTH + 2), "ask_depth.20");
        assert_eq!(at(idx::ASK_NOTIONAL), "ask_notional.5");
        assert_eq!(at(idx::IMBALANCE), "imbalance.1");
        assert_eq!(at(idx::IMBALANCE + 2), "imbalance.10");
        assert_eq!(at(idx::IMBALANCE + 4), "imbalance.weighted");
        assert_eq!(at(idx::OFI), "ofi.last");
        assert_eq!(at(idx::OFI + 3), "ofi.60s");
        assert_eq!(at(idx::MLOFI), "mlofi.last");
        assert_eq!(at(idx::OFI_NORM), "ofi_norm.1s");
        assert_eq!(at(idx::RET + 1), "ret.10s");
        assert_eq!(at(idx::EWMA_VOL), "ewma_vol");
        assert_eq!(at(idx::TRADE_VS_MID), "trade_vs_mid");
        assert_eq!(at(idx::DEPTH_RATE), "depth_rate.1s");
        assert_eq!(at(idx::VWAP + 2), "vwap.60s");
        assert_eq!(s.windows, ["1s", "10s", "60s"]);
    }

    #[test]
    fn names_are_unique_and_families_contiguous() {
        let s = Schema::new(&FeatureParams::default());
        let mut seen = std::collections::HashSet::new();
        let mut families: Vec<&str> = Vec::new();
        for f in &s.features {
            assert!(seen.insert(f.name.clone()), "duplicate {}", f.name);
            let fam = f.split().0;
            if families.last() != Some(&fam) {
                assert!(!families.contains(&fam), "{fam} not contiguous");
                families.push(fam);
            }
        }
        assert_eq!(families.len(), FAMILIES.len());
    }

    /// README's "Features" table lists every family with its unit, in order.
    #[test]
    fn readme_documents_every_family() {
        let path =
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let mut at = readme
            .find("| family | keys | unit | meaning |")
            .expect("table");
        for f in FAMILIES {
            let row = format!("| `{}` |", f.name);
            let i = readme[at..]
                .find(&row)
                .unwrap_or_else(|| panic!("{} not in order", f.name));
            at += i;
            let line = readme[at..].lines().next().unwrap_or_default();
            assert!(line.contains(&format!("| {} |", f.unit)), "{line}");
        }
        assert!(readme.contains(&format!("version {FEATURE_SCHEMA_VERSION}")));
    }

    #[test]
    fn window_labels() {
        assert_eq!(window_label(1_000_000_000), "1s");
        assert_eq!(window_label(60_000_000_000), "60s");
        assert_eq!(window_label(250_000_000), "250ms");
    }
}
