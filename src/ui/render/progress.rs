//! The replay's progress bar: where the replay is within the recording's time span (first frame
//! to the end the files index), with both ends and the position as times of day.
//!
//! Owns: drawing the bar and its text. Must not touch: seeking (`g` and `<`/`>` send commands).

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{cells, fmt};
use crate::ui::theme::Theme;
use microstate_core::view::ReplayView;

/// The share of the span played (0–1), when the end is known.
pub fn fraction(r: &ReplayView) -> Option<f64> {
    let (first, pos, last) = (r.first_ns?, r.position_ns?, r.last_ns?);
    if last <= first {
        return None;
    }
    Some((pos.saturating_sub(first) as f64 / (last - first) as f64).clamp(0.0, 1.0))
}

/// The text around the bar: `23:54:15`, `23:57:35 · +1m12s of 3m20s`.
fn ends(r: &ReplayView) -> (String, String) {
    let first = r
        .first_ns
        .map_or("—".to_string(), |t| fmt::clock(t)[..8].to_string());
    let played = match (r.first_ns, r.position_ns) {
        (Some(a), Some(p)) => format!("+{}", fmt::dur_ns(p.saturating_sub(a))),
        _ => "+0s".into(),
    };
    let right = match (r.first_ns, r.last_ns) {
        (Some(a), Some(b)) => format!(
            "{} · {played} of {}",
            &fmt::clock(b)[..8],
            fmt::dur_ns(b.saturating_sub(a))
        ),
        _ => format!("{played} · end not indexed"),
    };
    (first, right)
}

pub fn render(f: &mut Frame, area: Rect, r: &ReplayView, theme: &Theme) {
    let (left, mut right) = ends(r);
    let w = area.width as usize;
    if left.chars().count() + right.chars().count() + 24 <= w {
        right.push_str(" · g go to");
    }
    let bar_w = w.saturating_sub(left.chars().count() + right.chars().count() + 5);
    // Written straight into the buffer (`cells`): the cells a Paragraph of these spans leaves,
    // without the bar's two repeated strings or their grapheme segmentation.
    let buf = f.buffer_mut();
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    let (y, right_edge) = (area.y, area.right());
    let room = |x: u16| right_edge.saturating_sub(x);
    let mut x = area.x;
    x += cells::put(buf, x, y, &format!(" {left} "), room(x), theme.dim);
    if bar_w >= 4 {
        let filled = fraction(r).map_or(0, |x| (x * bar_w as f64).round() as usize);
        let n = |k: usize| u16::try_from(k).unwrap_or(u16::MAX);
        x += cells::put(buf, x, y, "▕", room(x), theme.dim);
        x += cells::repeat(buf, x, y, "█", n(filled).min(room(x)), theme.accent);
        x += cells::repeat(buf, x, y, "░", n(bar_w - filled).min(room(x)), theme.dim);
        x += cells::put(buf, x, y, "▏", room(x), theme.dim);
    }
    cells::put(buf, x, y, &format!(" {right}"), room(x), theme.dim);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_played_needs_the_end() {
        let mut r = ReplayView {
            speed: "1×".into(),
            paused: false,
            done: false,
            first_ns: Some(1_000),
            position_ns: Some(1_250),
            last_ns: Some(2_000),
        };
        assert_eq!(fraction(&r), Some(0.25));
        r.position_ns = Some(5_000);
        assert_eq!(fraction(&r), Some(1.0));
        r.last_ns = None;
        assert_eq!(fraction(&r), None);
        assert!(ends(&r).1.contains("end not indexed"));
    }
}
