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
use super::mouse::{Hits, Panel};
use super::state::UiState;
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
    let [status, progress_area, body, alerts_area, symbols_area, hint] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(view.replay.is_some())),
        Constraint::Min(8),
        Constraint::Length(u16::from(!view.alerts.is_empty())),
        Constraint::Length((view.symbols.len() as u16 + 3).clamp(4, if small { 5 } else { 9 })),
        Constraint::Length(1),
    ])
    .areas(area);
    let sel = view.symbols.get(ui.symbol_index(view));
    f.render_widget(
        Paragraph::new(status::line(view, ui, sel, theme, status.width as usize)),
        status,
    );
    if let Some(r) = &view.replay {
        progress::render(f, progress_area, r, theme);
    }
    alerts::render(f, alerts_area, view, theme);
    let ladder_w = if small { 36 } else { 48 }.min(area.width / 2);
    let volume_w = if ui.volume { 28 } else { 0 };
    let [left, vol, right] = Layout::horizontal([
        Constraint::Length(ladder_w),
        Constraint::Length(volume_w),
        Constraint::Min(20),
    ])
    .areas(body);
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
                left,
            );
        }
        None => ladder::render(f, left, sel, ui, theme),
    }
    hits.panels.push((Panel::Ladder, left));
    if ui.volume {
        volume::render(f, vol, sel, view.now_ns, ui, theme);
        hits.panels.push((Panel::Volume, vol));
    }
    if small {
        let [chart, imb] =
            Layout::vertical([Constraint::Min(6), Constraint::Length(6)]).areas(right);
        chart_or_heatmap(f, chart, view, ui, sel, theme);
        panels::imbalance(f, imb, sel, theme);
        hits.panels.push((Panel::Chart, chart));
        hits.panels.push((Panel::Imbalance, imb));
    } else {
        let [chart, row, interp, lat] = Layout::vertical([
            Constraint::Min(8),
            Constraint::Length(6),
            Constraint::Length(4),
            Constraint::Length(if view.latency.is_empty() {
                3
            } else {
                (view.latency.len() as u16 + 7).min(15)
            }),
        ])
        .areas(right);
        chart_or_heatmap(f, chart, view, ui, sel, theme);
        let [a, b, c] = Layout::horizontal([
            Constraint::Percentage(40),
            Constraint::Percentage(30),
            Constraint::Percentage(30),
        ])
        .areas(row);
        panels::imbalance(f, a, sel, theme);
        panels::pressure(f, b, sel, theme);
        panels::context(f, c, sel, theme);
        panels::interpretation(f, interp, sel, theme);
        hits.panels.extend([
            (Panel::Chart, chart),
            (Panel::Imbalance, a),
            (Panel::Pressure, b),
            (Panel::Context, c),
            (Panel::Interpretation, interp),
            (Panel::Latency, lat),
        ]);
        latency::render(
            f,
            lat,
            view,
            ui.drawn_view.as_ref(),
            ui.latency_stage,
            theme,
        );
    }
    hits.symbol_rows = symbols::render(f, symbols_area, view, ui, theme);
    hits.panels.push((Panel::Symbols, symbols_area));
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
        heatmap::render(f, area, sel, ui.ticks_per_row(), theme);
    } else {
        price::render(f, area, sel, view.now_ns, theme);
    }
}

fn hint_line(f: &mut Frame, area: Rect, view: &View, ui: &UiState, theme: &Theme) {
    let text = match &ui.message {
        Some(m) => m.clone(),
        None => {
            let mut h =
                String::from(" q quit · ? help · ←/→ symbol · [ ] zoom · h heatmap · l latency");
            if view.replay.is_some() {
                h.push_str(" · space pause · +/- speed · 0 1× · . step · </> seek");
            } else {
                h.push_str(" · space freeze · r record · s resync");
            }
            h
        }
    };
    f.render_widget(Paragraph::new(Span::styled(text, theme.dim)), area);
}

fn help(f: &mut Frame, area: Rect, keys: &Bindings, theme: &Theme) {
    let entries = keys.help();
    let w = 56.min(area.width);
    let h = (entries.len() as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let lines: Vec<Line> = entries
        .iter()
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(format!(" {k:<14}"), theme.accent),
                Span::raw(d.to_string()),
            ])
        })
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
