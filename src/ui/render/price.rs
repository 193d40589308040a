//! The price panel: mid and microprice over the recent minutes, trades marked by side.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};

use super::fmt;
use crate::ui::theme::Theme;
use microstate_core::view::SymbolView;

/// Most seconds of history shown; less while less history exists (at least `MIN_WINDOW_S`).
pub const WINDOW_S: f64 = 180.0;
pub const MIN_WINDOW_S: f64 = 20.0;

/// The x span to show: the history's, within the bounds.
pub fn window_s(s: &SymbolView, now_ns: u64) -> f64 {
    let oldest = s.history.samples.front().map(|p| p.t_ns).unwrap_or(now_ns);
    (now_ns.saturating_sub(oldest) as f64 / 1e9).clamp(MIN_WINDOW_S, WINDOW_S)
}

/// Chart points (seconds before `now`, value) of mid, microprice, buy and sell trades, and the
/// y range that holds them.
#[allow(clippy::type_complexity)]
pub fn series(
    s: &SymbolView,
    now_ns: u64,
) -> (
    Vec<(f64, f64)>,
    Vec<(f64, f64)>,
    Vec<(f64, f64)>,
    Vec<(f64, f64)>,
    Option<(f64, f64)>,
) {
    let x = |t: u64| -((now_ns.saturating_sub(t)) as f64 / 1e9);
    let h = &s.history;
    let w = window_s(s, now_ns);
    let keep = |t: u64| (now_ns.saturating_sub(t) as f64) / 1e9 <= w;
    let mid: Vec<(f64, f64)> = h
        .samples
        .iter()
        .filter(|p| keep(p.t_ns))
        .map(|p| (x(p.t_ns), p.mid))
        .collect();
    let micro: Vec<(f64, f64)> = h
        .samples
        .iter()
        .filter(|p| keep(p.t_ns))
        .map(|p| (x(p.t_ns), p.microprice))
        .collect();
    let (mut buys, mut sells) = (Vec::new(), Vec::new());
    for t in h.trades.iter().filter(|t| keep(t.t_ns)) {
        if t.buy {
            buys.push((x(t.t_ns), t.price));
        } else {
            sells.push((x(t.t_ns), t.price));
        }
    }
    let range = mid
        .iter()
        .chain(&micro)
        .chain(&buys)
        .chain(&sells)
        .map(|p| p.1)
        .fold(None, |r: Option<(f64, f64)>, v| {
            Some(r.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        });
    (mid, micro, buys, sells, range)
}

/// The price axis' labels, evenly spaced from `lo` to `hi`: about one per three rows of a panel
/// `height` rows tall, between 2 (min and max) and 9.
pub fn y_labels(lo: f64, hi: f64, dec: usize, height: u16) -> Vec<String> {
    let n = (usize::from(height.saturating_sub(3)) / 3).clamp(2, 9);
    (0..n)
        .map(|i| fmt::price(lo + (hi - lo) * i as f64 / (n - 1) as f64, dec))
        .collect()
}

pub fn render(f: &mut Frame, area: Rect, s: Option<&SymbolView>, now_ns: u64, theme: &Theme) {
    let block = Block::default().borders(Borders::ALL).title(Span::styled(
        " Price · mid ⣀ microprice · trades • buy/sell ",
        theme.title,
    ));
    let Some(s) = s else {
        f.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let (mid, micro, buys, sells, range) = series(s, now_ns);
    // At most two points per braille dot column: more cannot be seen and only cost time.
    let dots = (area.width as usize).saturating_sub(12).max(1) * 2 * 2;
    let thin = |v: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
        let k = v.len().div_ceil(dots).max(1);
        if k == 1 {
            v
        } else {
            v.into_iter().step_by(k).collect()
        }
    };
    let (mid, micro, buys, sells) = (thin(mid), thin(micro), thin(buys), thin(sells));
    let Some((lo, hi)) = range else {
        f.render_widget(
            Paragraph::new("no prices yet (the book is not synced)")
                .style(theme.dim)
                .block(block),
            area,
        );
        return;
    };
    let pad = ((hi - lo) * 0.05).max(s.tick.unwrap_or(0.01));
    let (lo, hi) = (lo - pad, hi + pad);
    let dec = fmt::decimals_for(s.tick);
    let datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.accent)
            .data(&mid),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Scatter)
            .style(theme.dim)
            .data(&micro),
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(theme.bid)
            .data(&buys),
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(theme.ask)
            .data(&sells),
    ];
    let w = window_s(s, now_ns);
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(
            Axis::default()
                .bounds([-w, 0.0])
                .labels([
                    format!("-{:.0}s", w),
                    format!("-{:.0}s", w / 2.0),
                    "now".to_string(),
                ])
                .style(theme.dim),
        )
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .labels(y_labels(lo, hi, dec, area.height))
                .style(theme.dim),
        );
    f.render_widget(chart, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_axis_has_labels_between_min_and_max() {
        assert_eq!(y_labels(100.0, 101.0, 2, 8), ["100.00", "101.00"]);
        assert_eq!(
            y_labels(100.0, 101.0, 2, 18),
            ["100.00", "100.25", "100.50", "100.75", "101.00"]
        );
        assert_eq!(y_labels(100.0, 101.0, 2, 200).len(), 9);
    }
}
