//! The symbols table's order: by a chosen column (`o` cycles the column, `O` reverses), the
//! session's own order by default.
//!
//! Owns: the sort columns and the order of the table's rows (indices into `View::symbols`).
//! Must not touch: drawing, which rows fit (the table scrolls over this order). The order is
//! computed once per view (the UI state keeps it), so a frame costs the rows it draws, not the
//! rows scrolled out of sight.

use std::cmp::Ordering;

use microstate_core::book::sync::Phase;
use microstate_core::view::{SymbolView, View};

/// The column the table is sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortBy {
    /// As the session lists them (the order they were given or added).
    #[default]
    Session,
    Symbol,
    State,
    Mid,
    /// Spread relative to the mid (bps), so symbols of any price compare.
    Spread,
    Imbalance,
    Gaps,
    /// Time since the last depth update.
    Age,
}

impl SortBy {
    /// The next column (`o`).
    pub fn next(self) -> SortBy {
        match self {
            SortBy::Session => SortBy::Symbol,
            SortBy::Symbol => SortBy::State,
            SortBy::State => SortBy::Mid,
            SortBy::Mid => SortBy::Spread,
            SortBy::Spread => SortBy::Imbalance,
            SortBy::Imbalance => SortBy::Gaps,
            SortBy::Gaps => SortBy::Age,
            SortBy::Age => SortBy::Session,
        }
    }

    /// The column's header, as the table names it.
    pub fn label(self) -> &'static str {
        match self {
            SortBy::Session => "session order",
            SortBy::Symbol => "symbol",
            SortBy::State => "state",
            SortBy::Mid => "mid",
            SortBy::Spread => "spread",
            SortBy::Imbalance => "imb L1",
            SortBy::Gaps => "gaps",
            SortBy::Age => "age",
        }
    }
}

/// Worst first: stale, resyncing, syncing, synced.
fn state_rank(s: &SymbolView) -> u8 {
    if s.stale {
        return 0;
    }
    match s.phase {
        Phase::Resyncing => 1,
        Phase::Syncing => 2,
        Phase::Synced => 3,
    }
}

/// The key of `s` for `by`; `None` (no value yet) sorts last whichever the direction.
fn key(s: &SymbolView, by: SortBy, now_ns: u64) -> Option<f64> {
    match by {
        SortBy::Session | SortBy::Symbol => Some(0.0),
        SortBy::State => Some(f64::from(state_rank(s))),
        SortBy::Mid => s.mid,
        SortBy::Spread => match (s.spread, s.mid) {
            (Some(sp), Some(m)) if m > 0.0 => Some(sp / m * 1e4),
            _ => None,
        },
        SortBy::Imbalance => s.imbalance[0],
        SortBy::Gaps => Some(s.gaps as f64),
        SortBy::Age => {
            (s.last_depth_recv_ns > 0).then(|| now_ns.saturating_sub(s.last_depth_recv_ns) as f64)
        }
    }
}

/// The table's rows in order: indices into `view.symbols`. Ties keep the session's order.
pub fn order(view: &View, by: SortBy, descending: bool) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..view.symbols.len()).collect();
    if by == SortBy::Session {
        if descending {
            idx.reverse();
        }
        return idx;
    }
    let dir = |o: Ordering| if descending { o.reverse() } else { o };
    if by == SortBy::Symbol {
        idx.sort_by(|&a, &b| {
            dir(view.symbols[a]
                .symbol
                .as_str()
                .cmp(view.symbols[b].symbol.as_str()))
        });
        return idx;
    }
    let keys: Vec<Option<f64>> = view
        .symbols
        .iter()
        .map(|s| key(s, by, view.now_ns))
        .collect();
    idx.sort_by(|&a, &b| match (keys[a], keys[b]) {
        (Some(x), Some(y)) => dir(x.total_cmp(&y)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use microstate_core::num::Symbol;

    fn sym(name: &str, mid: Option<f64>, gaps: u64, phase: Phase) -> SymbolView {
        let mut v = empty_symbol_view();
        v.symbol = Symbol::new(name.as_bytes()).expect("symbol");
        v.mid = mid;
        v.spread = mid.map(|m| m * 0.0001);
        v.gaps = gaps;
        v.phase = phase;
        v
    }

    /// A symbol view with nothing in it (the view module makes one from an empty engine).
    fn empty_symbol_view() -> SymbolView {
        let mut e = microstate_core::engine::Engine::new(Default::default());
        let s = Symbol::new(b"X").expect("symbol");
        e.add_symbol(s);
        microstate_core::view::symbol_view(e.symbol(s).expect("added"), false)
    }

    fn names(v: &View, o: &[usize]) -> Vec<String> {
        o.iter().map(|&i| v.symbols[i].symbol.to_string()).collect()
    }

    #[test]
    fn columns_sort_both_ways_with_missing_values_last() {
        let v = View {
            symbols: vec![
                sym("ETHUSDT", Some(3000.0), 2, Phase::Synced),
                sym("BTCUSDT", Some(60000.0), 0, Phase::Synced),
                sym("LRCBTC", None, 5, Phase::Syncing),
                sym("ADAUSDT", Some(0.35), 1, Phase::Resyncing),
            ],
            ..View::default()
        };
        assert_eq!(
            names(&v, &order(&v, SortBy::Session, false)),
            ["ETHUSDT", "BTCUSDT", "LRCBTC", "ADAUSDT"]
        );
        assert_eq!(
            names(&v, &order(&v, SortBy::Symbol, false)),
            ["ADAUSDT", "BTCUSDT", "ETHUSDT", "LRCBTC"]
        );
        assert_eq!(
            names(&v, &order(&v, SortBy::Mid, false)),
            ["ADAUSDT", "ETHUSDT", "BTCUSDT", "LRCBTC"]
        );
        assert_eq!(
            names(&v, &order(&v, SortBy::Mid, true)),
            ["BTCUSDT", "ETHUSDT", "ADAUSDT", "LRCBTC"],
            "descending, the symbol without a mid still last"
        );
        assert_eq!(
            names(&v, &order(&v, SortBy::Gaps, true)),
            ["LRCBTC", "ETHUSDT", "ADAUSDT", "BTCUSDT"]
        );
        assert_eq!(
            names(&v, &order(&v, SortBy::State, false)),
            ["ADAUSDT", "LRCBTC", "ETHUSDT", "BTCUSDT"],
            "worst first; ties in session order"
        );
        // Every column, both ways, is a permutation.
        let mut by = SortBy::Session;
        for _ in 0..8 {
            for d in [false, true] {
                let mut o = order(&v, by, d);
                o.sort_unstable();
                assert_eq!(o, vec![0, 1, 2, 3], "{by:?}");
            }
            by = by.next();
        }
        assert_eq!(by, SortBy::Session, "the cycle comes back");
    }
}
