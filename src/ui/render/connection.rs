//! What the network and the bounds turned away, in one line: frames about symbols nobody
//! subscribed to and REST snapshots that could not be used (live), and every `[limits]` bound
//! that tripped (live and replay). Drawn at the foot of the latency panel, and in the Connection
//! panel while a live session is not connected.
//!
//! Owns: that line's wording. Must not touch: layout (the caller gives the place).

use ratatui::text::{Line, Span};

use crate::ui::theme::Theme;
use microstate_core::view::View;

/// The counters' line; `None` when there is nothing to say (a replay whose bounds never
/// tripped). A live session always shows its refusals, zero included, so a person knows they
/// are counted.
pub fn counters(view: &View, theme: &Theme) -> Option<Line<'static>> {
    let limits = view.limits.tripped();
    if view.live.is_none() && limits.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    if view.live.is_some() {
        let r = view.refused;
        parts.push(format!(
            "refused: {} unsolicited, {} unusable snapshot{}",
            r.unsolicited,
            r.snapshots_unusable,
            if r.snapshots_unusable == 1 { "" } else { "s" }
        ));
    }
    if limits.is_empty() {
        parts.push("limits: none tripped".into());
    } else {
        parts.push(format!(
            "limits: {}",
            limits
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let bad = view.refused.unsolicited + view.refused.snapshots_unusable > 0 || !limits.is_empty();
    Some(Line::from(Span::styled(
        format!(" {} ", parts.join(" · ")),
        if bad { theme.warn } else { theme.dim },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use microstate_core::view::{LiveCounters, Refused};

    fn text(l: &Line) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn live_refusals_and_tripped_limits_are_named() {
        let theme = Theme::new(&Default::default(), true);
        let mut v = View::default();
        assert!(
            counters(&v, &theme).is_none(),
            "a clean replay says nothing"
        );
        v.limits.levels = 2;
        let l = counters(&v, &theme).expect("line");
        assert_eq!(text(&l), " limits: levels 2 ");
        v.live = Some(LiveCounters::default());
        v.refused = Refused {
            unsolicited: 7,
            snapshots_unusable: 1,
        };
        v.limits.symbols = 3;
        let l = counters(&v, &theme).expect("line");
        assert_eq!(
            text(&l),
            " refused: 7 unsolicited, 1 unusable snapshot · limits: levels 2, symbols 3 "
        );
        v.limits = Default::default();
        v.refused = Refused::default();
        assert_eq!(
            text(&counters(&v, &theme).expect("line")),
            " refused: 0 unsolicited, 0 unusable snapshots · limits: none tripped "
        );
    }
}
