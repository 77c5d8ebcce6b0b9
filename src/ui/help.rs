//! The help popup, generated from the keymap, with the polling cost estimate.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::theme::Theme;
use crate::app::App;
use crate::keymap::Scope;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut keys = Vec::new();
    for scope in [Scope::Everywhere, Scope::Dashboard, Scope::Browser] {
        keys.push(Line::styled(scope.title(), theme.header));
        for (action, _) in app.keymap.bindings() {
            if action.scope() != scope || (action.is_demo() && !app.demo) {
                continue;
            }
            let off = app.read_only && action.mutates();
            keys.push(Line::from(vec![
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
    let mut lines = vec![
        Line::styled(
            "dialogs: y/Enter confirm, n/Esc cancel; editor: Ctrl-S keep, Esc cancel",
            theme.dim,
        ),
        Line::styled("Polling", theme.header),
    ];
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
    lines.push(Line::styled("Esc or ? closes this help", theme.dim));

    // Keys in one column when they fit, else in two side by side.
    let room = area.height.saturating_sub(2 + lines.len() as u16) as usize;
    let columns = if keys.len() <= room { 1 } else { 2 };
    let per_column = keys.len().div_ceil(columns);
    let height = (per_column + lines.len() + 2).min(area.height as usize) as u16;
    let width = (if columns == 1 { 80 } else { 150 }).min(area.width);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus_border)
        .title(Span::styled(" Help (Esc closes) ", theme.title));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let [keys_area, rest] =
        Layout::vertical([Constraint::Length(per_column as u16), Constraint::Fill(1)]).areas(inner);
    let halves =
        Layout::horizontal(vec![Constraint::Ratio(1, columns as u32); columns]).split(keys_area);
    for (i, chunk) in keys.chunks(per_column.max(1)).enumerate() {
        if let Some(r) = halves.get(i) {
            frame.render_widget(Paragraph::new(chunk.to_vec()), *r);
        }
    }
    frame.render_widget(Paragraph::new(lines), rest);
}
