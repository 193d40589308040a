//! The prompt line (over the key-hint line while a prompt is open): the question, what was
//! typed, a cursor, and the completions that match.
//!
//! Owns: drawing it. Must not touch: the prompt's state and what it does (`ui::prompt`, the UI
//! loop).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::ui::prompt::Prompt;
use crate::ui::theme::Theme;

pub fn render(f: &mut Frame, area: Rect, p: &Prompt, theme: &Theme) {
    let mut spans = vec![
        Span::styled(format!(" {}", p.kind.label()), theme.accent),
        Span::raw(p.input.clone()),
        Span::styled("█", theme.accent),
    ];
    let m = p.matches();
    if !p.choices.is_empty() && !m.is_empty() {
        let shown: Vec<&str> = m.iter().take(8).copied().collect();
        let more = if m.len() > shown.len() {
            format!(" +{}", m.len() - shown.len())
        } else {
            String::new()
        };
        spans.push(Span::styled(
            format!("  [{}{more}]", shown.join(" ")),
            theme.dim,
        ));
    }
    f.render_widget(Clear, area);
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
