//! Number and time formatting for the screen: plain functions, unit-tested.

/// Decimals needed to show prices on a grid of `tick` (0.01 → 2, 0.1 → 1, 1 → 0). Tolerates
/// the float noise of a tick computed as a difference of prices (0.00999999999476 → 2).
pub fn decimals_for(tick: Option<f64>) -> usize {
    match tick {
        Some(t) if t > 0.0 => (0..=8)
            .find(|&d| {
                let x = t * 10f64.powi(d as i32);
                (x - x.round()).abs() < 1e-6 * x.max(1.0)
            })
            .unwrap_or(8),
        _ => 2,
    }
}

/// A price with `decimals` places.
pub fn price(p: f64, decimals: usize) -> String {
    format!("{p:.decimals$}")
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

/// A duration in ns as `850µs`, `12.3ms`, `4.2s`, `3m05s`.
pub fn dur_ns(ns: u64) -> String {
    let n = ns as f64;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.1}µs", n / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1}ms", n / 1e6)
    } else if ns < 60_000_000_000 {
        format!("{:.1}s", n / 1e9)
    } else {
        let s = ns / 1_000_000_000;
        format!("{}m{:02}s", s / 60, s % 60)
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
}
