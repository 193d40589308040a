//! Volume at price, beside the ladder and row for row with it: traded volume per ladder row
//! (bought by takers, sold by takers) over the trades the screen holds, and the resting size
//! pulled (−) or stacked (+) per row since the reference moment (`b` resets it).
//!
//! Owns: putting the view's volume per exact price into the ladder's rows, the change since the
//! reference, and drawing them. Must not touch: the binning per exact price (the core's `tape`
//! module puts it into the `View`), the ladder's rows (the UI state buckets them).

use std::collections::HashMap;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use super::{cells, fmt};
use crate::ui::depth::{Row, bucket_rows};
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use microstate_core::view::{SymbolView, View};

/// One ladder row's volume: traded by buying and selling takers (base asset), and the resting
/// size change since the reference.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct VolRow {
    pub buy: f64,
    pub sell: f64,
    /// `None` where the reference showed nothing of that price (outside its levels).
    pub change: Option<f64>,
}

/// The volume of each of `rows` (the ladder's rows of `s` at `ticks` ticks a row, in their
/// order). A trade price at or below the mid counts in the bid row that holds it, above the mid
/// in the ask row (the ladder's own bucketing: bids floored, asks ceiled); prices outside the
/// rows shown are left out. `change` compares with the same rows of `reference`, within the
/// price range the reference's levels covered (beyond it the reference says nothing).
pub fn volume_rows(
    s: &SymbolView,
    rows: &[Row],
    ticks: u32,
    reference: Option<&SymbolView>,
) -> Vec<VolRow> {
    let tick = s.tick_exact.map_or(1_000_000, |t| t.0.max(1));
    let width = tick.saturating_mul(u64::from(ticks.max(1)));
    let mid2 = match (s.bids.first(), s.asks.first()) {
        (Some(b), Some(a)) => Some(b.price.0 + a.price.0),
        _ => None,
    };
    let mut traded: HashMap<i64, (f64, f64)> = HashMap::new();
    for v in &s.volume {
        let p = v.price.0;
        let bid = mid2.is_none_or(|m| p.saturating_mul(2) <= m);
        let key = if bid {
            (p / width) as i64 * 2
        } else {
            p.div_ceil(width) as i64 * 2 + 1
        };
        let e = traded.entry(key).or_default();
        e.0 += v.buy;
        e.1 += v.sell;
    }
    let reference = reference.filter(|r| r.symbol == s.symbol);
    // Per row price, whatever side it was on then: a level the touch moved across (a bid then,
    // an ask now) compares with what rested there.
    let mut before: HashMap<i64, f64> = HashMap::new();
    if let Some(r) = reference {
        for row in bucket_rows(r, ticks) {
            *before.entry(row.key.div_euclid(2)).or_default() += row.qty;
        }
    }
    // The prices the reference covered: its deepest bid to its deepest ask.
    let covered = reference.and_then(|r| {
        let lo = r.bids.last().or(r.asks.first())?.price.to_f64();
        let hi = r.asks.last().or(r.bids.first())?.price.to_f64();
        Some((lo, hi))
    });
    rows.iter()
        .map(|r| {
            let (buy, sell) = traded.get(&r.key).copied().unwrap_or_default();
            VolRow {
                buy,
                sell,
                change: covered
                    .filter(|(lo, hi)| r.price >= *lo && r.price <= *hi)
                    .map(|_| r.qty - before.get(&r.key.div_euclid(2)).copied().unwrap_or(0.0)),
            }
        })
        .collect()
}

/// A signed size in at most 8 characters, `·` for nothing.
fn signed(x: f64) -> String {
    if x.abs() < 1e-12 {
        "·".into()
    } else if x > 0.0 {
        format!("+{}", fmt::qty(x))
    } else {
        format!("-{}", fmt::qty(-x))
    }
}

fn unsigned(x: f64) -> String {
    if x.abs() < 1e-12 {
        "·".into()
    } else {
        fmt::qty(x)
    }
}

/// Drawn row for row with the ladder in an area of the same height.
pub fn render(
    f: &mut Frame,
    area: Rect,
    view: &View,
    s: Option<&SymbolView>,
    ui: &UiState,
    theme: &Theme,
) {
    let now_ns = view.now_ns;
    // The reference moment in event time, as the tape and the alerts write times.
    let offset = crate::ui::clock::event_offset(view, s);
    let since = ui
        .reference
        .as_ref()
        .filter(|r| s.is_some_and(|s| s.symbol == r.symbol) && r.last_depth_recv_ns > 0)
        .map(|r| crate::ui::clock::to_event(r.last_depth_recv_ns, offset));
    let title = match (s, since) {
        (Some(_), Some(t)) => format!(" Volume · Δ since {} ", &fmt::clock(t)[..8]),
        _ => " Volume ".into(),
    };
    let inner = cells::block(
        f.buffer_mut(),
        area,
        &[Span::styled(title, theme.title)],
        &[],
    );
    let Some(s) = s else {
        return;
    };
    if s.bids.is_empty() && s.asks.is_empty() {
        f.render_widget(Paragraph::new("no book yet").style(theme.dim), inner);
        return;
    }
    let zoom = ui.ticks_per_row();
    let rows = ui.ladder_rows(s, zoom);
    let vols = volume_rows(s, &rows, zoom, ui.reference.as_ref());
    let per_side = (inner.height as usize).saturating_sub(1) / 2;
    let w = inner.width as usize;
    let buf = f.buffer_mut();
    let line = |buf: &mut ratatui::buffer::Buffer, y: u16, v: &VolRow| {
        let mut x = inner.x;
        for (text, style) in [
            (format!("{:>8}", unsigned(v.buy)), theme.bid),
            (format!("{:>8}", unsigned(v.sell)), theme.ask),
            (
                format!(" {:>8}", v.change.map_or(String::new(), signed)),
                match v.change {
                    Some(c) if c > 0.0 => theme.grew,
                    Some(c) if c < 0.0 => theme.shrank,
                    _ => theme.dim,
                },
            ),
        ] {
            let room = (inner.x as usize + w).saturating_sub(x as usize);
            if room == 0 {
                break;
            }
            buf.set_stringn(x, y, &text, room, style);
            x += text.chars().count() as u16;
        }
    };
    let asks: Vec<&VolRow> = rows
        .iter()
        .zip(&vols)
        .filter(|(r, _)| !r.bid)
        .map(|(_, v)| v)
        .take(per_side)
        .collect();
    let mut y = inner.y + (per_side - asks.len()) as u16;
    for v in asks.iter().rev() {
        line(buf, y, v);
        y += 1;
    }
    let held = if s.volume_since_ns > 0 && now_ns > s.volume_since_ns {
        format!("traded {}", fmt::dur_ns(now_ns - s.volume_since_ns))
    } else {
        "traded".into()
    };
    buf.set_stringn(
        inner.x,
        y,
        format!("{:^w$}", format!("{held} · buy sell Δ")),
        w,
        theme.accent,
    );
    y += 1;
    for v in rows
        .iter()
        .zip(&vols)
        .filter(|(r, _)| r.bid)
        .map(|(_, v)| v)
        .take(per_side)
    {
        if y >= inner.y + inner.height {
            break;
        }
        line(buf, y, v);
        y += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use microstate_core::book::sync::Phase;
    use microstate_core::num::{Price, Qty, Symbol};
    use microstate_core::tape::VolumeAtPrice;
    use microstate_core::view::ModelView;
    use microstate_core::wire::Level;

    fn lvl(p: u64, q: u64) -> Level {
        Level {
            price: Price(p * 1_000_000),
            qty: Qty(q * 100_000_000),
        }
    }

    fn sv(bids: Vec<Level>, asks: Vec<Level>, volume: Vec<VolumeAtPrice>) -> SymbolView {
        SymbolView {
            symbol: Symbol::new(b"BTCUSDT").expect("symbol"),
            market: "spot".into(),
            phase: Phase::Synced,
            stale: false,
            gaps: 0,
            resyncs: 0,
            applied: 0,
            snapshots: 0,
            trades: 0,
            last_update_id: 0,
            last_depth_recv_ns: 0,
            bids,
            asks,
            tick_exact: Some(Price(1_000_000)),
            tick: Some(0.01),
            tick_listed: false,
            mid: None,
            microprice: None,
            spread: None,
            imbalance: [None; 3],
            history: Arc::default(),
            tape: Vec::new(),
            volume,
            volume_since_ns: 0,
            features: None,
            pressure: ModelView::default(),
            context: ModelView::default(),
            interpretation: ModelView::default(),
            feature_vector: None,
            crossed_events: 0,
            feature_updates: 0,
        }
    }

    #[test]
    fn traded_volume_lands_in_the_ladder_rows_and_changes_compare_with_the_reference() {
        // Bids 100, 99, 98; asks 101, 102 (in cents); trades at 100 (sold into the bid), 101
        // (bought from the ask), 98 and 103 (not shown).
        let vol = |p: u64, buy: f64, sell: f64| VolumeAtPrice {
            price: Price(p * 1_000_000),
            buy,
            sell,
        };
        let s = sv(
            vec![lvl(100, 2), lvl(99, 1), lvl(98, 4)],
            vec![lvl(101, 3), lvl(102, 1)],
            vec![
                vol(103, 1.0, 0.0),
                vol(101, 0.5, 0.0),
                vol(100, 0.0, 2.0),
                vol(98, 0.25, 0.25),
            ],
        );
        let rows = bucket_rows(&s, 1);
        let v = volume_rows(&s, &rows, 1, None);
        let at = |price: f64, bid: bool| {
            let i = rows
                .iter()
                .position(|r| (r.price - price).abs() < 1e-9 && r.bid == bid)
                .expect("row");
            v[i]
        };
        assert_eq!((at(1.01, false).buy, at(1.01, false).sell), (0.5, 0.0));
        assert_eq!((at(1.00, true).buy, at(1.00, true).sell), (0.0, 2.0));
        assert_eq!((at(0.98, true).buy, at(0.98, true).sell), (0.25, 0.25));
        assert_eq!(at(0.99, true), VolRow::default());
        let shown: f64 = v.iter().map(|r| r.buy + r.sell).sum();
        assert!((shown - 3.0).abs() < 1e-12, "103 is above the rows shown");
        // Two ticks a row: bids floor (100, 98), asks ceil (102).
        let rows2 = bucket_rows(&s, 2);
        let v2 = volume_rows(&s, &rows2, 2, None);
        let total: f64 = v2.iter().map(|r| r.buy + r.sell).sum();
        assert!(
            (total - 3.0).abs() < 1e-12,
            "101 lands in the 102 row, 103 in a 104 row that is not shown: {v2:?}"
        );
        // Pulled and stacked since the reference.
        let reference = sv(vec![lvl(100, 5), lvl(99, 1)], vec![lvl(101, 1)], Vec::new());
        let c = volume_rows(&s, &rows, 1, Some(&reference));
        let change = |price: f64, bid: bool| {
            let i = rows
                .iter()
                .position(|r| (r.price - price).abs() < 1e-9 && r.bid == bid)
                .expect("row");
            c[i].change
        };
        assert_eq!(change(1.00, true), Some(-3.0), "pulled");
        assert_eq!(change(0.99, true), Some(0.0));
        assert_eq!(
            change(0.98, true),
            None,
            "below the reference's deepest bid"
        );
        assert_eq!(change(1.01, false), Some(2.0), "stacked");
        // The touch moved down a tick: 100 was a bid of 5, now it is an ask of 1.
        let moved = sv(vec![lvl(99, 1)], vec![lvl(100, 1), lvl(101, 3)], Vec::new());
        let rows_m = bucket_rows(&moved, 1);
        let m = volume_rows(&moved, &rows_m, 1, Some(&reference));
        assert_eq!(m[0].change, Some(-4.0), "{rows_m:?} {m:?}");
        assert_eq!(change(1.02, false), None, "above its deepest ask");
        assert!(
            v.iter().all(|r| r.change.is_none()),
            "no reference, no change"
        );
    }

    #[test]
    fn signed_sizes() {
        assert_eq!(signed(0.0), "·");
        assert_eq!(signed(1.5), "+1.500");
        assert_eq!(signed(-0.25), "-0.25000");
        assert_eq!(unsigned(12_345.0), "12.3k");
    }
}
