//! Small panels: imbalance and OFI, pressure, context, interpretation. A panel whose source is
//! not there says so plainly instead of drawing numbers.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{cells, fmt};
use crate::ui::theme::Theme;
use microstate_core::view::{ContextView, ModelView, SymbolView};

/// A horizontal gauge of `x` in −1…1 around a centre mark, `w` cells wide.
pub fn centered_bar(x: f64, w: usize) -> String {
    let half = w / 2;
    let n = ((x.clamp(-1.0, 1.0).abs()) * half as f64).round() as usize;
    let mut s = String::with_capacity(w * 3);
    if x < 0.0 {
        s.push_str(&" ".repeat(half - n));
        s.push_str(&"■".repeat(n));
        s.push('│');
        s.push_str(&" ".repeat(half));
    } else {
        s.push_str(&" ".repeat(half));
        s.push('│');
        s.push_str(&"■".repeat(n));
        s.push_str(&" ".repeat(half - n));
    }
    s
}

/// Draws a panel's border with `title` (and `bottom` under it): ratatui's `Block`, drawn by
/// [`cells::block`]. Returns the inner area.
fn block(f: &mut Frame, area: Rect, title: &str, bottom: &[Span], theme: &Theme) -> Rect {
    cells::block(
        f.buffer_mut(),
        area,
        &[Span::styled(title, theme.title)],
        bottom,
    )
}

pub fn imbalance(f: &mut Frame, area: Rect, s: Option<&SymbolView>, theme: &Theme) {
    let inner = block(f, area, " Imbalance · OFI ", &[], theme);
    let Some(s) = s else {
        return;
    };
    let w = (area.width as usize).saturating_sub(15).max(4);
    let fv = s.features.as_ref();
    // The feature engine's values where it runs (gap-aware), else straight from the book.
    let imb = |k: usize| match fv {
        Some(fv) => fv.imbalance[k],
        None => s.imbalance.get(k).copied().flatten(),
    };
    let gauge = |name: &str, v: Option<f64>| match v {
        Some(x) => Line::from(vec![
            Span::raw(format!("{name:<6}{} ", fmt::signed(x))),
            Span::styled(
                centered_bar(x, w),
                if x >= 0.0 { theme.bid } else { theme.ask },
            ),
        ]),
        None => Line::from(Span::styled(format!("{name:<6}  — (invalid)"), theme.dim)),
    };
    let mut lines = vec![
        gauge("L1", imb(0)),
        gauge("top5", imb(1)),
        gauge("top10", imb(2)),
    ];
    match fv {
        Some(fv) => {
            let cells: Vec<Span> = std::iter::once(Span::raw("OFI "))
                .chain(fv.ofi_norm.iter().zip(&fv.windows).map(|(v, w)| match v {
                    Some(x) => Span::styled(
                        format!("{w}{x:+.1} "),
                        if *x >= 0.0 { theme.bid } else { theme.ask },
                    ),
                    None => Span::styled(format!("{w} — "), theme.dim),
                }))
                .collect();
            lines.push(Line::from(cells));
        }
        None => lines.push(Line::from(Span::styled("OFI: features are off", theme.dim))),
    }
    cells::lines(f.buffer_mut(), inner, &lines);
}

/// A panel whose source is missing: its border and title, and why, all dim (the border too,
/// as a styled `Paragraph` with the block inside draws it).
fn missing(f: &mut Frame, area: Rect, title: &str, why: &str, theme: &Theme) {
    let buf = f.buffer_mut();
    buf.set_style(area.intersection(buf.area), theme.dim);
    let inner = block(f, area, title, &[], theme);
    f.render_widget(
        Paragraph::new(why)
            .style(theme.dim)
            .wrap(Wrap { trim: true }),
        inner,
    );
}

pub fn pressure(f: &mut Frame, area: Rect, s: Option<&SymbolView>, theme: &Theme) {
    let title = " Pressure ≈1 s ";
    match s.map(|s| &s.pressure) {
        // No direction shown (inputs out of range, no live edge): say why, no bars.
        Some(ModelView::Ready(p)) if p.quiet.is_some() => {
            let mut lines = vec![Line::from(Span::styled("no direction", theme.title))];
            if let Some(q) = &p.quiet {
                lines.push(Line::from(Span::styled(q.clone(), theme.dim)));
            }
            if let Some(e) = &p.edge {
                lines.push(Line::from(Span::styled(e.clone(), theme.dim)));
            }
            let inner = block(f, area, title, &[], theme);
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
        }
        Some(ModelView::Ready(p)) => {
            let w = (area.width as usize).saturating_sub(14).max(4);
            let bar = |x: f64| "█".repeat((x * w as f64).round() as usize);
            let lines = vec![
                Line::from(vec![
                    Span::raw(format!("UP   {:>4.0}% ", p.p_up * 100.0)),
                    Span::styled(bar(p.p_up), theme.bid),
                ]),
                Line::from(vec![
                    Span::raw(format!("FLAT {:>4.0}% ", p.p_flat * 100.0)),
                    Span::styled(bar(p.p_flat), theme.dim),
                ]),
                Line::from(vec![
                    Span::raw(format!("DOWN {:>4.0}% ", p.p_down * 100.0)),
                    Span::styled(bar(p.p_down), theme.ask),
                ]),
                Line::from(vec![
                    Span::styled(p.label.clone(), theme.title),
                    Span::styled(
                        p.hit_rate
                            .map_or(String::new(), |h| format!("  hit {:.0}%", h * 100.0)),
                        theme.dim,
                    ),
                ]),
                Line::from(Span::styled(p.edge.clone().unwrap_or_default(), theme.dim)),
            ];
            let inner = block(f, area, title, &[], theme);
            cells::lines(f.buffer_mut(), inner, &lines);
        }
        Some(ModelView::Missing(why)) => missing(f, area, title, why, theme),
        None => missing(f, area, title, "", theme),
    }
}

/// One line of the context panel and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextLine {
    /// `trend 15m ` then the label (coloured by it), then the rest.
    Trend {
        head: String,
        label: String,
        tail: String,
    },
    /// The forecast range, and the words on its (missing) direction.
    Forecast(String),
    Note(String),
}

/// The context panel's lines for an inner width of `width` cells: each horizon's trend (a
/// description of what happened), then the label horizon's forecast range and whether it calls a
/// direction. Short forms below 34 cells.
pub fn context_lines(c: &ContextView, width: u16) -> Vec<ContextLine> {
    let wide = width >= 34;
    let mut out: Vec<ContextLine> = c
        .trend
        .iter()
        .map(|t| ContextLine::Trend {
            head: format!("trend {}m ", t.horizon_min),
            label: t.label.clone(),
            tail: if wide {
                format!(" {:+.1}σ ({:+.0} bp)", t.z, t.move_bps)
            } else {
                format!(" {:+.1}σ", t.z)
            },
        })
        .collect();
    let f = c
        .forecast
        .iter()
        .find(|f| f.horizon_min == c.horizon_min)
        .or(c.forecast.first());
    if let Some(f) = f {
        let r = |x: [f64; 2]| format!("{:+.0}…{:+.0}", x[0], x[1]);
        out.push(ContextLine::Forecast(if wide {
            format!(
                "forecast {}m: 68% {} · 95% {} bp",
                f.horizon_min,
                r(f.range_68_bps),
                r(f.range_95_bps)
            )
        } else {
            format!("next {}m {} bp", f.horizon_min, r(f.range_68_bps))
        }));
        out.push(ContextLine::Note(match &f.call {
            Some(call) => format!("call {call} ({})", f.call_note),
            None if wide => f.call_note.clone(),
            None => "no direction (no skill)".into(),
        }));
    }
    out
}

/// The line under the context panel (its bottom border) for an inner width of `width`: the
/// history behind it and where it came from (`240 min held, 251 fetched · synthetic history`).
/// When both do not fit, the source wins: a synthetic history must always be said.
pub fn context_caption(c: &ContextView, width: u16) -> String {
    let w = usize::from(width);
    let fits = |t: &str| t.chars().count() + 2 <= w;
    match &c.history_source {
        Some(src) => {
            let full = format!("{} · {src}", c.history);
            if fits(&full) { full } else { src.clone() }
        }
        None => c.history.clone(),
    }
}

pub fn context(f: &mut Frame, area: Rect, s: Option<&SymbolView>, theme: &Theme) {
    let title = " Trend · forecast ";
    match s.map(|s| &s.context) {
        Some(ModelView::Ready(c)) => {
            let caption = context_caption(c, area.width.saturating_sub(2));
            let caption_style = if c.history_source.is_some() {
                theme.warn
            } else {
                theme.dim
            };
            let caption = [Span::styled(format!(" {caption} "), caption_style)];
            let style = |label: &str| match label {
                "BULLISH" => theme.bid,
                "BEARISH" => theme.ask,
                _ => theme.text,
            };
            let lines: Vec<Line> = context_lines(c, area.width.saturating_sub(2))
                .into_iter()
                .map(|l| match l {
                    ContextLine::Trend { head, label, tail } => Line::from(vec![
                        Span::styled(head, theme.dim),
                        Span::styled(label.clone(), style(&label)),
                        Span::raw(tail),
                    ]),
                    ContextLine::Forecast(t) => Line::from(t),
                    ContextLine::Note(t) => Line::from(Span::styled(t, theme.dim)),
                })
                .collect();
            let inner = block(f, area, title, &caption, theme);
            cells::lines(f.buffer_mut(), inner, &lines);
        }
        Some(ModelView::Missing(why)) => missing(f, area, title, why, theme),
        None => missing(f, area, title, "", theme),
    }
}

pub fn interpretation(f: &mut Frame, area: Rect, s: Option<&SymbolView>, theme: &Theme) {
    let title = " Interpretation ";
    match s.map(|s| &s.interpretation) {
        Some(ModelView::Ready(i)) => {
            let mut lines = vec![Line::from(Span::styled(i.label.clone(), theme.title))];
            lines.extend(
                i.reasons
                    .iter()
                    .map(|r| Line::from(Span::styled(format!("· {r}"), theme.dim))),
            );
            let inner = block(f, area, title, &[], theme);
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
        }
        Some(ModelView::Missing(why)) => missing(f, area, title, why, theme),
        None => missing(f, area, title, "", theme),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_lines_name_trend_and_forecast() {
        use microstate_core::view::{ForecastView, TrendView};
        let c = ContextView {
            label: "BULLISH".into(),
            horizon_min: 15,
            trend: vec![
                TrendView {
                    horizon_min: 15,
                    label: "BULLISH".into(),
                    z: 1.34,
                    move_bps: 25.2,
                },
                TrendView {
                    horizon_min: 30,
                    label: "NEUTRAL".into(),
                    z: 0.41,
                    move_bps: 12.0,
                },
            ],
            forecast: vec![ForecastView {
                horizon_min: 15,
                drift_bps: 0.4,
                range_68_bps: [-20.4, 21.3],
                range_95_bps: [-45.0, 47.1],
                call: None,
                call_note: "no direction: no out-of-sample skill".into(),
            }],
            history: "240 min held".into(),
            history_source: None,
        };
        assert_eq!(context_caption(&c, 40), "240 min held");
        let synthetic = ContextView {
            history: "240 min held, 251 fetched".into(),
            history_source: Some("synthetic history".into()),
            ..c.clone()
        };
        assert_eq!(
            context_caption(&synthetic, 50),
            "240 min held, 251 fetched · synthetic history"
        );
        assert_eq!(
            context_caption(&synthetic, 20),
            "synthetic history",
            "a narrow panel still says it"
        );
        let wide = context_lines(&c, 40);
        assert_eq!(
            wide[0],
            ContextLine::Trend {
                head: "trend 15m ".into(),
                label: "BULLISH".into(),
                tail: " +1.3σ (+25 bp)".into()
            }
        );
        assert_eq!(
            wide[2],
            ContextLine::Forecast("forecast 15m: 68% -20…+21 · 95% -45…+47 bp".into())
        );
        assert_eq!(
            wide[3],
            ContextLine::Note("no direction: no out-of-sample skill".into())
        );
        let narrow = context_lines(&c, 20);
        assert_eq!(
            narrow[2],
            ContextLine::Forecast("next 15m -20…+21 bp".into())
        );
        assert_eq!(
            narrow[3],
            ContextLine::Note("no direction (no skill)".into())
        );
    }

    #[test]
    fn centered_bars() {
        assert_eq!(centered_bar(0.0, 6), "   │   ");
        assert_eq!(centered_bar(1.0, 6), "   │■■■");
        assert_eq!(centered_bar(-0.67, 6), " ■■│   ");
        assert_eq!(centered_bar(-5.0, 4), "■■│  ");
    }
}
