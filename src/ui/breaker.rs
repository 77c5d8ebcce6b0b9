//! The circuit-breaker pane: state, since when, where it comes from, recent transitions.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::theme::Theme;
use crate::app::{App, Pane};
use crate::breaker::BreakerState;
use crate::format;

/// The state with a symbol, so it reads without colour.
pub(crate) fn badge(state: BreakerState, theme: &Theme) -> Span<'static> {
    let (text, style): (&str, Style) = match state {
        BreakerState::Closed => ("● CLOSED", theme.good),
        BreakerState::Open => ("✖ OPEN", theme.bad),
        BreakerState::HalfOpen => ("◐ HALF-OPEN", theme.warn),
        BreakerState::Unknown => ("? unknown", theme.dim),
    };
    Span::styled(text, style)
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if app.focus == Pane::Breaker {
            theme.focus_border
        } else {
            theme.border
        })
        .title(Span::styled(" Circuit breakers ", theme.title));
    let mut lines: Vec<Line> = Vec::new();
    if app.breakers.is_empty() {
        lines.push(Line::styled(
            "No breaker configured (see [[breaker]] in config.example.toml)",
            theme.dim,
        ));
    }
    let now = app.wall_now();
    for b in &app.breakers {
        let since = b
            .since
            .map(|s| {
                let d = (now - s).to_std().unwrap_or_default();
                format!(" for {}", format::duration(d))
            })
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", b.config.name), theme.title),
            badge(b.state, theme),
            Span::raw(since),
        ]));
        lines.push(Line::styled(
            format!("  source: {} — {}", b.config.source.describe(), b.detail),
            theme.dim,
        ));
        if let Some(stale) = &b.stale {
            lines.push(Line::styled(format!("  ⚠ stale: {stale}"), theme.warn));
        }
        for t in b.transitions.iter().rev().skip(app.breaker_scroll).take(6) {
            lines.push(Line::from(vec![
                Span::styled(
                    format!(
                        "  {} ",
                        t.at.with_timezone(&chrono::Local).format("%H:%M:%S")
                    ),
                    theme.dim,
                ),
                Span::raw(format!("{} → ", t.from.label())),
                badge(t.to, theme),
                Span::styled(format!("  {}", t.reason), theme.dim),
            ]));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
