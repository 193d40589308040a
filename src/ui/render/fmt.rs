//! Number and time formatting for the screen: plain functions, unit-tested.
//!
//! Prices: every price on the screen (ladder, chart axis, heatmap axis, symbols table, and the
//! tape) is written with [`price_in`], from the symbol's tick (`SymbolView::tick`, the smallest
//! step its book shows) or, before a tick is known, from the price itself — so 0.00000637
//! (LRCBTC) is never drawn as 0.

/// Decimals needed to show prices on a grid of `tick` (0.01 → 2, 0.1 → 1, 1 → 0,
/// 0.00000001 → 8). Tolerates the float noise of a tick computed as a difference of prices
/// (0.00999999999476 → 2). `None` (no tick known): 2.
pub fn decimals_for(tick: Option<f64>) -> usize {
    match tick {
        Some(t) if t > 0.0 => (0..=10)
            .find(|&d| {
                let x = t * 10f64.powi(d as i32);
                // At least one whole unit at this scale: a tick of 1e-8 is not "0 at 0 decimals".
                x.round() >= 1.0 && (x - x.round()).abs() < 1e-6 * x
            })
            .unwrap_or(10),
        _ => 2,
    }
}

/// Decimals for a price on a grid of `tick`, or without a tick, enough for five significant
/// digits of `price` (at least 2): 61602.01 → 2, 0.00000637 → 10.
pub fn decimals_or_from_price(tick: Option<f64>, price: f64) -> usize {
    if tick.is_some_and(|t| t > 0.0) {
        return decimals_for(tick);
    }
    let a = price.abs();
    if a == 0.0 || !a.is_finite() {
        return 2;
    }
    let magnitude = a.log10().floor() as i32; // 61602 → 4, 0.00000637 → -6
    (4 - magnitude).clamp(2, 12) as usize
}

/// A price with `decimals` places.
pub fn price(p: f64, decimals: usize) -> String {
    format!("{p:.decimals$}")
}

/// A price on the grid of `tick` (see [`decimals_or_from_price`]): what the tape, the ladder
/// and the tables call to write one price of a symbol.
pub fn price_in(p: f64, tick: Option<f64>) -> String {
    price(p, decimals_or_from_price(tick, p))
}

/// A quantity in at most 8 characters: 0.00123, 12.345, 1234.5, 12.3k, 1.23M.
pub fn qty(q: f64) -> String {
    let a = q.abs();
    if a >= 1e6 {
        format!("{:.2}M", q / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", q / 1e3)
    } else if a >= 100.0 {
        format!("{q:.1}")
    } else if a >= 1.0 {
        format!("{q:.3}")
    } else {
        format!("{q:.5}")
    }
}

/// A duration in ns as `850µs`, `12.3ms`, `4.2s`, `3m05s`, `5h07m`, `850d13h`.
pub fn dur_ns(ns: u64) -> String {
    let n = ns as f64;
    let s = ns / 1_000_000_000;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}µs", n / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1}ms", n / 1e6)
    } else if ns < 60_000_000_000 {
        format!("{:.1}s", n / 1e9)
    } else if s < 3_600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3_600, (s / 60) % 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s / 3_600) % 24)
    }
}

/// A latency percentile: [`dur_ns`], except at the histograms' ceiling
/// ([`microstate_core::latency::MAX_NS`], 1 min), where the value only says "at least that":
/// `≥1m` (raw E→receive on a clock that is days off, as in the demo of a 2024 capture, sits
/// there; the clock offset on the status bar says by how much).
pub fn latency_ns(ns: u64) -> String {
    // HDR buckets near the top hold values a little under the ceiling too.
    if ns >= microstate_core::latency::MAX_NS - microstate_core::latency::MAX_NS / 500 {
        "≥1m".into()
    } else {
        dur_ns(ns)
    }
}

/// How long ago something happened: `<1ms` rather than `0ns` for what has just happened.
pub fn ago(ns: u64) -> String {
    if ns < 1_000_000 {
        "<1ms".into()
    } else {
        dur_ns(ns)
    }
}

/// A signed duration (clock offsets).
pub fn signed_dur_ns(ns: i64) -> String {
    let sign = if ns < 0 { "−" } else { "+" };
    format!("{sign}{}", dur_ns(ns.unsigned_abs()))
}

/// UTC time of day `23:58:12.345` from ns since the epoch.
pub fn clock(ns: u64) -> String {
    let ms = ns / 1_000_000;
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

/// Bytes as `812 B`, `12.4 KB`, `3.2 MB`, `1.1 GB`.
pub fn bytes(b: u64) -> String {
    let x = b as f64;
    if b < 1_000 {
        format!("{b} B")
    } else if b < 1_000_000 {
        format!("{:.1} KB", x / 1e3)
    } else if b < 1_000_000_000 {
        format!("{:.1} MB", x / 1e6)
    } else {
        format!("{:.2} GB", x / 1e9)
    }
}

/// A signed fraction −1…1 as `+0.42`.
pub fn signed(x: f64) -> String {
    format!("{x:+.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(decimals_for(Some(0.01)), 2);
        assert_eq!(decimals_for(Some(0.1)), 1);
        assert_eq!(decimals_for(Some(1.0)), 0);
        assert_eq!(decimals_for(Some(0.00001)), 5);
        assert_eq!(decimals_for(Some(0.009_999_999_994_76)), 2);
        assert_eq!(decimals_for(Some(0.049_999_999_97)), 2);
        assert_eq!(decimals_for(None), 2);
        assert_eq!(price(61602.01, 2), "61602.01");
        assert_eq!(qty(1.67177), "1.672");
        assert_eq!(qty(0.00123), "0.00123");
        assert_eq!(qty(12_345.0), "12.3k");
        assert_eq!(qty(2_500_000.0), "2.50M");
        assert_eq!(dur_ns(850_000), "850.0µs");
        assert_eq!(dur_ns(4_200_000_000), "4.2s");
        assert_eq!(dur_ns(185_000_000_000), "3m05s");
        assert_eq!(signed_dur_ns(-1_300_000_000), "−1.3s");
        assert_eq!(clock(1_723_161_253_937_085_768), "23:54:13.937");
        assert_eq!(bytes(3_600_000), "3.6 MB");
        assert_eq!(signed(0.4217), "+0.42");
    }

    #[test]
    fn small_prices_keep_their_digits() {
        // LRCBTC and BLZETH trade at 0.00000637 on a tick of 0.00000001: never "0".
        assert_eq!(decimals_for(Some(0.000_000_01)), 8);
        assert_eq!(decimals_for(Some(0.000_001)), 6);
        assert_eq!(price_in(0.000_006_37, Some(0.000_000_01)), "0.00000637");
        assert_eq!(price_in(0.000_006_37, None), "0.0000063700");
        assert_eq!(price_in(61602.01, Some(0.01)), "61602.01");
        assert_eq!(price_in(61602.01, None), "61602.01");
        assert_eq!(price_in(0.2871, Some(0.0001)), "0.2871");
        assert_eq!(decimals_or_from_price(None, 0.0), 2);
    }

    #[test]
    fn long_durations_stay_readable() {
        // The demo's capture is from 2024: a clock offset of about 850 days.
        assert_eq!(dur_ns(73_483_200_000_000_000), "850d12h");
        assert_eq!(signed_dur_ns(-73_483_200_000_000_000), "−850d12h");
        assert_eq!(dur_ns(18_420_000_000_000), "5h07m");
        assert_eq!(ago(0), "<1ms");
        assert_eq!(latency_ns(60_000_000_000), "≥1m");
        assert_eq!(latency_ns(60_129_542_143), "≥1m");
        assert_eq!(latency_ns(1_300_000_000), "1.3s");
        assert_eq!(ago(12_300_000), "12.3ms");
    }
}
