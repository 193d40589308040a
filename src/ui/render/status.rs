//! The status bar: one line, laid out by priority so the narrowest terminal still shows what
//! matters most.
//!
//! Owns: which status items fit in the width and in which wording. Must not touch: anything
//! but the `View` and the screen's own state.
//!
//! Priority, most important first: the selected symbol's sync state; the replay's state and
//! the gap count; ● REC; the clock offset; the connection; the age of the last update; the
//! source; the title. Each item has a long and a short wording; the short wordings of the most
//! essential items are placed first, then lengthened while the line has room, then the same
//! for the rest. Items keep their order on the line whatever fits.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{fmt, sync_label};
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use microstate_core::view::{Source, SymbolView, View};

/// Items of this priority or more important are the essentials: sync state, replay state,
/// gaps, a connection that is not up, ● REC, the clock offset.
const ESSENTIAL: u8 = 3;

/// One item: what joins it to the item before, its priority (0 first) and its wordings,
/// longest first.
struct Item {
    joiner: &'static str,
    prio: u8,
    wordings: Vec<Vec<Span<'static>>>,
}

fn width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(Span::width).sum()
}

/// The status line for `width` columns.
pub fn line(
    view: &View,
    ui: &UiState,
    sel: Option<&SymbolView>,
    theme: &Theme,
    cols: usize,
) -> Line<'static> {
    let items = items(view, ui, sel, theme);
    // choice[i]: index into items[i].wordings, or None when left out.
    let mut choice: Vec<Option<usize>> = vec![None; items.len()];
    let used = |choice: &[Option<usize>]| -> usize {
        let mut w = 0;
        let mut first = true;
        for (it, c) in items.iter().zip(choice) {
            if let Some(k) = c {
                if !first {
                    w += it.joiner.chars().count();
                }
                first = false;
                w += width(&it.wordings[*k]);
            }
        }
        w
    };
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].prio);
    // The essentials (priority up to ESSENTIAL) first, short then long; then the rest, short
    // then long: a long wording of an essential item beats a short one of a minor item.
    for essential in [true, false] {
        let group: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| (items[i].prio <= ESSENTIAL) == essential)
            .collect();
        for &i in &group {
            choice[i] = Some(items[i].wordings.len() - 1);
            if used(&choice) > cols {
                choice[i] = None;
            }
        }
        for &i in &group {
            let Some(mut k) = choice[i] else { continue };
            while k > 0 {
                choice[i] = Some(k - 1);
                if used(&choice) > cols {
                    choice[i] = Some(k);
                    break;
                }
                k -= 1;
            }
        }
    }
    let mut spans = Vec::new();
    let mut first = true;
    for (it, c) in items.into_iter().zip(choice) {
        let Some(k) = c else { continue };
        if !first {
            spans.push(Span::styled(it.joiner, theme.dim));
        }
        first = false;
        spans.extend(it.wordings.into_iter().nth(k).unwrap_or_default());
    }
    Line::from(spans)
}

fn items(view: &View, ui: &UiState, sel: Option<&SymbolView>, theme: &Theme) -> Vec<Item> {
    const SEP: &str = " │ ";
    let s = |t: String, st: Style| Span::styled(t, st);
    let mut items = vec![Item {
        joiner: SEP,
        prio: 7,
        wordings: vec![vec![s(" microstate".into(), theme.title)]],
    }];
    let (kind, what) = match &view.source {
        Source::Live { endpoint } => ("LIVE", endpoint.as_str()),
        Source::Demo { capture } => ("DEMO", capture.as_str()),
        Source::Replay { files } => ("REPLAY", files.as_str()),
        Source::None => ("", ""),
    };
    if !kind.is_empty() {
        items.push(Item {
            joiner: SEP,
            prio: 6,
            wordings: vec![
                vec![Span::raw(format!("{kind} {what}"))],
                vec![Span::raw(kind.to_string())],
            ],
        });
    }
    if !view.connection.is_empty() {
        let up = view.connection.starts_with("up");
        let style = if up { theme.good } else { theme.warn };
        let short = view
            .connection
            .split([':', ','])
            .next()
            .unwrap_or_default()
            .to_string();
        items.push(Item {
            joiner: SEP,
            prio: if up { 4 } else { 1 },
            wordings: vec![
                vec![s(view.connection.clone(), style)],
                vec![s(short, style)],
            ],
        });
    }
    if let Some(r) = &view.replay {
        let state = if r.done {
            "■ end".to_string()
        } else if r.paused {
            "⏸ paused".to_string()
        } else {
            format!("▶ {}", r.speed)
        };
        let mut long = vec![s(state.clone(), theme.accent)];
        if let Some(p) = r.position_ns {
            long.push(Span::raw(format!(" {}", fmt::clock(p))));
        }
        items.push(Item {
            joiner: SEP,
            prio: 1,
            wordings: vec![long, vec![s(state, theme.accent)]],
        });
    } else if ui.frozen {
        items.push(Item {
            joiner: SEP,
            prio: 1,
            wordings: vec![vec![s("❄ frozen".into(), theme.warn)]],
        });
    }
    if let Some(sym) = sel {
        let (label, style) = sync_label(sym, theme);
        items.push(Item {
            joiner: SEP,
            prio: 0,
            wordings: vec![
                vec![
                    Span::raw(format!("{} ", sym.symbol)),
                    s(label.clone(), style),
                ],
                vec![s(label, style)],
            ],
        });
        let gap_style = if sym.gaps > 0 { theme.warn } else { theme.dim };
        items.push(Item {
            joiner: " ",
            prio: 1,
            wordings: vec![
                vec![s(format!("gaps {}", sym.gaps), gap_style)],
                vec![s(format!("g{}", sym.gaps), gap_style)],
            ],
        });
        if sym.last_depth_recv_ns > 0 {
            let age = fmt::ago(view.now_ns.saturating_sub(sym.last_depth_recv_ns));
            items.push(Item {
                joiner: " · ",
                prio: 5,
                wordings: vec![vec![s(format!("upd {age} ago"), theme.dim)]],
            });
        }
    }
    if let Some((off, rtt)) = view.clock_offset {
        let unc = if rtt > 0 {
            format!(" ±{}", fmt::dur_ns(rtt / 2))
        } else {
            String::new()
        };
        let off = fmt::signed_dur_ns(off);
        items.push(Item {
            joiner: SEP,
            prio: 3,
            wordings: vec![
                vec![s(
                    format!("clock {off}{unc} ({})", view.clock_source),
                    theme.dim,
                )],
                vec![s(format!("clock {off}"), theme.dim)],
            ],
        });
    }
    if let Some(r) = &view.recording {
        let mut long = vec![
            s("● REC ".into(), theme.bad),
            Span::raw(fmt::bytes(r.bytes)),
        ];
        if r.failures > 0 {
            long.push(s(format!(" ({} write failures)", r.failures), theme.bad));
        }
        let short = vec![s("● REC".into(), theme.bad)];
        items.push(Item {
            joiner: SEP,
            prio: 2,
            wordings: vec![long, short],
        });
    }
    items
}
