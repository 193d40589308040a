//! Rendering: a pure function of `(View, UiState)`, one module per screen region.
//!
//! Owns: layout and drawing. Must not touch: engine state (only the `View`), clocks (times are
//! the view's `now_ns`), I/O.
//!
//! Layout (120×40 and up): status bar; depth ladder on the left; price chart (or heatmap) top
//! right; imbalance, pressure and context in a row; interpretation; latency; the symbols table;
//! a key-hint line. A replay adds its progress bar under the status bar; alerts, a line above
//! the symbols. Volume at price (`v`) sits beside the ladder, the tape (`t`) at the right of the
//! chart (in its place when the chart would be too narrow). Below 100 columns or 30 rows the smaller panels give way to the ladder,
//! the chart and the symbols.

pub mod alerts;
pub mod cells;
pub mod connection;
pub mod fmt;
pub mod heatmap;
pub mod ladder;
pub mod latency;
pub mod panels;
pub mod price;
pub mod progress;
pub mod prompt;
pub mod status;
pub mod symbols;
pub mod tape;
pub mod volume;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::keys::Bindings;
use super::mouse::{Hits, Panel as HitPanel};
use super::state::{FullScreen, Panel, UiState};
use super::theme::Theme;
use microstate_core::book::sync::Phase;
use microstate_core::view::{Source, SymbolView, View};

/// SYNCED / SYNCING / GAP→RESYNC / STALE with its style.
pub fn sync_label(s: &SymbolView, theme: &Theme) -> (String, Style) {
    if s.stale {
        return ("STALE".into(), theme.warn);
    }
    match s.phase {
        Phase::Synced => ("SYNCED".into(), theme.good),
        Phase::Syncing => ("SYNCING".into(), theme.warn),
        Phase::Resyncing => ("GAP→RESYNC".into(), theme.bad),
    }
}

/// Smallest terminal the screen is drawn on; below it, a notice says what is needed.
pub const MIN_SIZE: (u16, u16) = (60, 16);

/// What the body says while a live session has no book because it is not connected: the
/// connection's own words (the cause, the attempt, the next retry) and, when there is no
/// network, the offline demo. `None` once connected or with a book to show.
pub fn not_connected(view: &View, sel: Option<&SymbolView>) -> Option<Vec<Line<'static>>> {
    if view.connection.is_empty() || view.connection.starts_with("up") {
        return None;
    }
    if sel.is_some_and(|s| !s.bids.is_empty() || !s.asks.is_empty()) {
        return None;
    }
    let mut lines = vec![
        Line::from("Not connected."),
        Line::from(""),
        Line::from(view.connection.clone()),
    ];
    if matches!(view.source, Source::Live { .. }) {
        lines.push(Line::from(""));
        lines.push(Line::from(
            "No network? `microstate-tui demo` runs the same client against a local exchange.",
        ));
    }
    Some(lines)
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame, view: &View, ui: &UiState, theme: &Theme, keys: &Bindings) {
    draw_hits(f, view, ui, theme, keys);
}

/// [`draw`], returning where each panel went (for the mouse).
pub fn draw_hits(f: &mut Frame, view: &View, ui: &UiState, theme: &Theme, keys: &Bindings) -> Hits {
    let mut hits = Hits::default();
    let area = f.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let text = format!(
            "terminal too small: need {}×{}, have {}×{} (q quits)",
            MIN_SIZE.0, MIN_SIZE.1, area.width, area.height
        );
        f.render_widget(
            Paragraph::new(text)
                .style(theme.warn)
                .wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return hits;
    }
    let small = area.width < 100 || area.height < 30;
    let full = ui.full;
    let symbols_h = if ui.shows(Panel::Symbols) && full == FullScreen::Off {
        (view.symbols.len() as u16 + 3).clamp(4, if small { 5 } else { 9 })
    } else {
        0
    };
    let [status, progress_area, body, alerts_area, symbols_area, hint] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(view.replay.is_some())),
        Constraint::Min(8),
        Constraint::Length(u16::from(!view.alerts.is_empty())),
        Constraint::Length(symbols_h),
        Constraint::Length(1),
    ])
    .areas(area);
    let sel = view.symbols.get(ui.symbol_index(view));
    // One line of spans, written as a Paragraph of it would leave the cells (`cells::line_spans`).
    let status_line = status::line(view, ui, sel, theme, status.width as usize);
    if status.height > 0 {
        cells::line_spans(
            f.buffer_mut(),
            status.x,
            status.y,
            &status_line.spans,
            status.width,
        );
    }
    if let Some(r) = &view.replay {
        progress::render(f, progress_area, r, theme);
    }
    alerts::render(f, alerts_area, view, theme);
    let volume_w = if ui.volume { 28 } else { 0 };
    match full {
        FullScreen::Ladder => {
            let [left, vol] =
                Layout::horizontal([Constraint::Min(20), Constraint::Length(volume_w)]).areas(body);
            ladder_or_connection(f, left, view, ui, sel, theme);
            hits.panels.push((HitPanel::Ladder, left));
            if ui.volume {
                volume::render(f, vol, view, sel, ui, theme);
                hits.panels.push((HitPanel::Volume, vol));
            }
        }
        FullScreen::Chart => {
            chart_or_heatmap(f, body, view, ui, sel, theme);
            hits.panels.push((HitPanel::Chart, body));
        }
        FullScreen::Off => normal_body(f, body, view, ui, sel, theme, small, &mut hits),
    }
    if symbols_h > 0 {
        hits.symbol_rows = symbols::render(f, symbols_area, view, ui, theme);
        hits.panels.push((HitPanel::Symbols, symbols_area));
    }
    if let Some((_, r)) = ui
        .focus
        .and_then(|p| hits.panels.iter().find(|(q, _)| *q == p))
    {
        focus_border(f, *r, theme);
    }
    hint_line(f, hint, view, ui, theme);
    if let Some(p) = &ui.prompt {
        prompt::render(f, hint, p, theme);
    }
    if ui.help {
        help(f, area, keys, theme);
    }
    hits
}

/// The ladder, or while a live session is not connected, why.
fn ladder_or_connection(
    f: &mut Frame,
    area: Rect,
    view: &View,
    ui: &UiState,
    sel: Option<&SymbolView>,
    theme: &Theme,
) {
    match not_connected(view, sel) {
        Some(mut lines) => {
            if let Some(c) = connection::counters(view, theme) {
                lines.push(Line::from(""));
                lines.push(c);
            }
            let block = Block::default()
                .borders(Borders::ALL)
                .title(Span::styled(" Connection ", theme.title));
            f.render_widget(
                Paragraph::new(lines)
                    .style(theme.warn)
                    .wrap(ratatui::widgets::Wrap { trim: true })
                    .block(block),
                area,
            );
        }
        None => ladder::render(f, area, sel, ui, theme),
    }
}

/// Rows of the latency panel: its table and as much of the histogram as the screen affords
/// (taller on a tall screen: 200×60 shows the histogram whole).
pub fn latency_height(view: &View, screen_h: u16) -> u16 {
    if view.latency.is_empty() {
        return 3;
    }
    let cap = if screen_h >= 50 { 28 } else { 15 };
    (view.latency.len() as u16 + 7 + if screen_h >= 50 { 12 } else { 0 }).min(cap)
}

/// The normal layout: ladder (and volume) on the left; chart, gauges, interpretation and latency
/// on the right; hidden panels give their room to the others.
#[allow(clippy::too_many_arguments)]
fn normal_body(
    f: &mut Frame,
    body: Rect,
    view: &View,
    ui: &UiState,
    sel: Option<&SymbolView>,
    theme: &Theme,
    small: bool,
    hits: &mut Hits,
) {
    let chart_on = ui.shows(Panel::Chart);
    let gauges_on = ui.shows(Panel::Gauges);
    let interp_on = ui.shows(Panel::Interpretation) && !small;
    let lat_on = ui.shows(Panel::Latency) && !small;
    let right_on = chart_on || gauges_on || interp_on || lat_on;
    let ladder_on = ui.shows(Panel::Ladder);
    let ladder_w = if small { 36 } else { 48 }.min(body.width / 2);
    let volume_w = if ui.volume && ladder_on { 28 } else { 0 };
    let [left, vol, right] = Layout::horizontal([
        match (ladder_on, right_on) {
            (false, _) => Constraint::Length(0),
            (true, true) => Constraint::Length(ladder_w),
            (true, false) => Constraint::Min(20),
        },
        Constraint::Length(volume_w),
        if right_on {
            Constraint::Min(20)
        } else {
            Constraint::Length(0)
        },
    ])
    .areas(body);
    if ladder_on {
        ladder_or_connection(f, left, view, ui, sel, theme);
        hits.panels.push((HitPanel::Ladder, left));
    }
    if volume_w > 0 {
        volume::render(f, vol, view, sel, ui, theme);
        hits.panels.push((HitPanel::Volume, vol));
    }
    if !right_on {
        return;
    }
    let len = |on: bool, n: u16| Constraint::Length(if on { n } else { 0 });
    let lat_h = latency_height(view, f.area().height);
    let [chart, row, interp, lat, rest] = Layout::vertical([
        if chart_on {
            Constraint::Min(if small { 6 } else { 8 })
        } else {
            Constraint::Length(0)
        },
        len(gauges_on, 6),
        len(interp_on, 4),
        if lat_on && !chart_on {
            Constraint::Min(lat_h)
        } else {
            len(lat_on, lat_h)
        },
        if chart_on || lat_on {
            Constraint::Length(0)
        } else {
            Constraint::Min(0)
        },
    ])
    .areas(right);
    let _ = rest;
    if chart_on {
        chart_or_heatmap(f, chart, view, ui, sel, theme);
        hits.panels.push((HitPanel::Chart, chart));
    }
    if gauges_on {
        if small {
            panels::imbalance(f, row, sel, theme);
            hits.panels.push((HitPanel::Imbalance, row));
        } else {
            let [a, b, c] = Layout::horizontal([
                Constraint::Percentage(40),
                Constraint::Percentage(30),
                Constraint::Percentage(30),
            ])
            .areas(row);
            panels::imbalance(f, a, sel, theme);
            panels::pressure(f, b, sel, theme);
            panels::context(f, c, sel, theme);
            hits.panels.extend([
                (HitPanel::Imbalance, a),
                (HitPanel::Pressure, b),
                (HitPanel::Context, c),
            ]);
        }
    }
    if interp_on {
        panels::interpretation(f, interp, sel, theme);
        hits.panels.push((HitPanel::Interpretation, interp));
    }
    if lat_on {
        hits.panels.push((HitPanel::Latency, lat));
        latency::render(
            f,
            lat,
            view,
            ui.drawn_view.as_ref(),
            ui.latency_stage,
            theme,
        );
    }
}

fn chart_or_heatmap(
    f: &mut Frame,
    area: Rect,
    view: &View,
    ui: &UiState,
    sel: Option<&SymbolView>,
    theme: &Theme,
) {
    let area = if ui.tape {
        // The tape at the right of the chart, or in its place when the chart would be too narrow.
        let tape_w = 40.min(area.width);
        let (chart, tape_area) = if area.width >= tape_w + 24 {
            let [c, t] =
                Layout::horizontal([Constraint::Min(24), Constraint::Length(tape_w)]).areas(area);
            (Some(c), t)
        } else {
            (None, area)
        };
        tape::render(f, tape_area, sel, ui, theme);
        match chart {
            Some(c) => c,
            None => return,
        }
    } else {
        area
    };
    if ui.heatmap {
        heatmap::render(f, area, view, sel, ui, theme);
    } else {
        price::render(
            f,
            area,
            sel,
            view.now_ns,
            theme,
            &mut ui.price_grid.borrow_mut(),
        );
    }
}

fn hint_line(f: &mut Frame, area: Rect, view: &View, ui: &UiState, theme: &Theme) {
    let text = match &ui.message {
        Some(m) => m.clone(),
        None => {
            let mut h = String::from(match ui.full {
                FullScreen::Off => "",
                FullScreen::Ladder => " full-screen ladder (f: chart) ·",
                FullScreen::Chart => " full-screen chart (f: back) ·",
            });
            h.push_str(" q quit · ? help · ←/→ symbol · [ ] zoom · h heatmap");
            if ui.heatmap {
                h.push_str(" · z/Z price zoom · c auto");
            }
            h.push_str(" · l latency");
            if view.replay.is_some() {
                h.push_str(" · space pause · +/- speed · 0 1× · . step · </> seek");
            } else {
                h.push_str(" · space freeze · r record · s resync");
            }
            h
        }
    };
    if area.height > 0 {
        cells::put(f.buffer_mut(), area.x, area.y, &text, area.width, theme.dim);
    }
}

/// The help overlay's text for a screen of `w`×`h`: one column of `keys  what it does` while it
/// fits in height, else as many columns side by side as it takes (descriptions cut with `…`
/// when the columns would be wider than the screen). Returns the lines and the inner size.
pub fn help_text(entries: &[(String, &'static str)], w: u16, h: u16) -> (Vec<String>, u16, u16) {
    let rows = usize::from(h.saturating_sub(2)).max(1);
    let ncols = entries.len().div_ceil(rows).max(1);
    let rows = entries.len().div_ceil(ncols);
    let key_w = entries
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let desc_w = entries
        .iter()
        .map(|(_, d)| d.chars().count())
        .max()
        .unwrap_or(0);
    let room = usize::from(w.saturating_sub(2));
    // Columns are separated by two spaces.
    let col_w = (key_w + desc_w).min((room + 2) / ncols - 2);
    let desc_w = col_w.saturating_sub(key_w);
    let mut lines = Vec::with_capacity(rows);
    for r in 0..rows {
        let mut line = String::new();
        for c in 0..ncols {
            let Some((k, d)) = entries.get(c * rows + r) else {
                break;
            };
            if c > 0 {
                line.push_str("  ");
            }
            let d: String = if d.chars().count() > desc_w {
                d.chars()
                    .take(desc_w.saturating_sub(1))
                    .chain(std::iter::once('…'))
                    .collect()
            } else {
                d.to_string()
            };
            line.push_str(&format!(" {k:<kw$}{d:<desc_w$}", kw = key_w - 1));
        }
        lines.push(line.trim_end().to_string());
    }
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u16;
    (lines, width.min(room as u16), rows as u16)
}

fn help(f: &mut Frame, area: Rect, keys: &Bindings, theme: &Theme) {
    let entries = keys.help();
    let (text, tw, th) = help_text(&entries, area.width, area.height);
    let w = (tw + 3).max(30).min(area.width);
    let h = (th + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let lines: Vec<Line> = text
        .into_iter()
        .map(|l| Line::from(Span::styled(l, theme.text)))
        .collect();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(Span::styled(" Keys (? or Esc to close) ", theme.title)),
        ),
        r,
    );
}

/// The focused panel's border in the accent colour (the characters, titles included, stay).
fn focus_border(f: &mut Frame, r: Rect, theme: &Theme) {
    if r.width < 2 || r.height < 2 {
        return;
    }
    let buf = f.buffer_mut();
    let (x1, y1) = (r.x + r.width - 1, r.y + r.height - 1);
    let mut paint = |x: u16, y: u16| {
        if let Some(c) = buf.cell_mut((x, y))
            && matches!(c.symbol(), "─" | "│" | "┌" | "┐" | "└" | "┘")
        {
            c.set_style(theme.accent);
        }
    };
    for x in r.x..=x1 {
        paint(x, r.y);
        paint(x, y1);
    }
    for y in r.y..=y1 {
        paint(r.x, y);
        paint(x1, y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_taller_on_a_tall_screen() {
        let mut v = View::default();
        assert_eq!(latency_height(&v, 60), 3, "not measured: one line");
        let stage = microstate_core::view::StageView {
            name: "parse".into(),
            count: 1,
            p50: 1,
            p90: 1,
            p99: 1,
            p999: 1,
            max: 1,
            buckets: Vec::new(),
        };
        v.latency = vec![stage; 12];
        assert_eq!(latency_height(&v, 40), 15);
        // 200×60: the table and a 9-row histogram.
        assert_eq!(latency_height(&v, 60), 28);
    }

    #[test]
    fn help_goes_into_columns_and_fits_80x24() {
        let entries = Bindings::default().help();
        let (lines, w, h) = help_text(&entries, 80, 24);
        assert!(h <= 22 && w <= 78, "{w}×{h}");
        assert!(lines.iter().all(|l| l.chars().count() <= 78));
        // Every entry is there once, whole or cut with `…`.
        let text = lines.join("\n");
        for (k, _) in &entries {
            assert!(text.contains(&format!(" {k} ")), "{k}");
        }
        // Tall enough: one column.
        let (_, _, h) = help_text(&entries[..5], 80, 24);
        assert_eq!(h, 5);
    }
}
