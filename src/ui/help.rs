//! The help popup, generated from the keymap, with the polling cost estimate.
//! Descriptions wrap; when the lines do not fit, the popup scrolls.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::theme::Theme;
use crate::app::App;
use crate::format;
use crate::keymap::Scope;

/// Width of the key column.
const KEYS: usize = 16;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, scroll: usize, theme: &Theme) {
    // Two columns side by side on a wide screen, else one that scrolls.
    let columns: usize = if area.width >= 150 { 2 } else { 1 };
    let width = (if columns == 1 { 90 } else { 160 }).min(area.width);
    let column_width = width.saturating_sub(2) as usize / columns;
    let keys = key_lines(app, theme, column_width);
    let mut rest = other_lines(app, theme);
    let per_column = keys.len().div_ceil(columns);
    let total = per_column + rest.len();
    let height = (total + 2).min(area.height as usize) as u16;
    let room = height.saturating_sub(2) as usize;
    let scroll = scroll.min(total.saturating_sub(room));
    let title = if total > room {
        format!(
            " Help: lines {}–{} of {total} (↑↓ PgUp PgDn scroll, Esc closes) ",
            scroll + 1,
            (scroll + room).min(total)
        )
    } else {
        " Help (Esc closes) ".to_string()
    };
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus_border)
        .title(Span::styled(
            format::truncate(&title, width as usize),
            theme.title,
        ));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    if columns == 1 {
        let mut lines = keys;
        lines.append(&mut rest);
        let shown: Vec<Line> = lines.into_iter().skip(scroll).take(room).collect();
        frame.render_widget(Paragraph::new(shown), inner);
        return;
    }
    let [keys_area, rest_area] =
        Layout::vertical([Constraint::Length(per_column as u16), Constraint::Fill(1)]).areas(inner);
    let halves = Layout::horizontal([Constraint::Ratio(1, 2); 2]).split(keys_area);
    for (i, chunk) in keys.chunks(per_column.max(1)).enumerate() {
        if let Some(r) = halves.get(i) {
            frame.render_widget(Paragraph::new(chunk.to_vec()), *r);
        }
    }
    frame.render_widget(Paragraph::new(rest), rest_area);
}

/// One heading per scope, then every action's keys and wrapped description.
fn key_lines(app: &App, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for scope in Scope::ALL {
        lines.push(Line::styled(scope.title(), theme.header));
        for (action, _) in app.keymap.bindings() {
            if action.scope() != scope || (action.is_demo() && !app.demo) {
                continue;
            }
            let off = app.read_only && action.mutates();
            let text = format!(
                "{}{}",
                action.describe(),
                if off { " (off: read-only)" } else { "" }
            );
            let style = if off { theme.dim } else { theme.base };
            let label = format!("  {:<w$}", app.keymap.label(action), w = KEYS - 2);
            for (i, part) in format::wrap(&text, width.saturating_sub(KEYS).max(10))
                .into_iter()
                .enumerate()
            {
                let keys = if i == 0 {
                    label.clone()
                } else {
                    " ".repeat(KEYS)
                };
                lines.push(Line::from(vec![
                    Span::styled(keys, theme.title),
                    Span::styled(part, style),
                ]));
            }
        }
    }
    lines
}

fn other_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled("Polling", theme.header)];
    lines.push(Line::raw(format!(
        "  attributes every {}s, metrics every {}s, breakers every {}s",
        app.refresh.attributes_secs, app.refresh.metrics_secs, app.refresh.breakers_secs
    )));
    let hot = app.hot_rows().iter().filter(|&&h| h).count();
    let bound = app.staleness_bound().map_or_else(
        || "the budget is all theirs: raise max_requests_per_second".to_string(),
        |b| {
            format!(
                "each of the other {} is at most {} old",
                app.queues.len() - hot,
                crate::format::duration(b)
            )
        },
    );
    lines.push(Line::raw(format!(
        "  budget {:.0} requests/s ({:.1}/s now): {hot} on screen, selected or flagged every {}s; {bound}",
        app.budget.per_sec(),
        app.budget.rate(app.now),
        app.refresh.attributes_secs,
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
    lines
}
