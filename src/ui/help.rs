//! The help popup, generated from the keymap, with the polling cost estimate.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::theme::Theme;
use crate::app::App;
use crate::app::keymap::Scope;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut lines = Vec::new();
    for scope in [Scope::Everywhere, Scope::Dashboard, Scope::Browser] {
        lines.push(Line::styled(scope.title(), theme.header));
        for (action, _) in app.keymap.bindings() {
            if action.scope() != scope || (action.is_demo() && !app.demo) {
                continue;
            }
            let off = app.read_only && action.mutates();
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<14}", app.keymap.label(action)), theme.title),
                Span::styled(
                    format!(
                        "{}{}",
                        action.describe(),
                        if off { " (off: read-only)" } else { "" }
                    ),
                    if off { theme.dim } else { theme.base },
                ),
            ]));
        }
    }
    lines.push(Line::styled(
        "  dialogs: y/Enter confirm, n/Esc cancel; editor: Ctrl-S keep, Esc cancel",
        theme.dim,
    ));
    lines.push(Line::raw(""));
    lines.push(Line::styled("Polling", theme.header));
    lines.push(Line::raw(format!(
        "  attributes every {}s, metrics every {}s, breakers every {}s",
        app.refresh.attributes_secs, app.refresh.metrics_secs, app.refresh.breakers_secs
    )));
    lines.push(Line::raw(format!(
        "  estimated API cost: ${:.4}/hour for {} queues{}",
        app.cost_per_hour(),
        app.queues.len(),
        if app.demo { " (free in the demo)" } else { "" }
    )));
    lines.push(Line::raw(format!(
        "  requests so far: {} SQS, {} metrics",
        app.sqs_requests, app.metrics_requested
    )));
    if let Some(path) = &app.audit_path {
        lines.push(Line::raw(format!("  audit log: {path}")));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Esc or ? closes this help", theme.dim));

    let height = (lines.len() as u16 + 2).min(area.height);
    let width = 72.min(area.width);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.focus_border)
                .title(Span::styled(" Help ", theme.title)),
        ),
        popup,
    );
}
