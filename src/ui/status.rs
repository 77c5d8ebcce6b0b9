//! The status bar: data source, refresh age, stale or error markers, notices and key hints.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use crate::app::App;
use crate::keymap::Action;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = vec![Span::styled(format!(" {} ", app.source), theme.header)];
    if app.read_only {
        spans.push(Span::styled("│ READ-ONLY ", theme.bad));
    }
    let refreshed = match app.refresh_age() {
        Some(age) => format!("refreshed {age}"),
        None => "waiting for data".to_string(),
    };
    spans.push(Span::styled(format!("│ {refreshed} "), theme.dim));
    let stale = app.stale_rows();
    if let Some(e) = app.discovery_error.as_ref().or(app.metrics_error.as_ref()) {
        spans.push(Span::styled(format!("│ ⚠ {e} "), theme.bad));
    }
    if stale > 0 {
        let reason = app
            .queues
            .iter()
            .find_map(|q| q.stale.as_deref())
            .unwrap_or_default();
        spans.push(Span::styled(
            format!("│ ⚠ {stale} stale: {reason} "),
            theme.warn,
        ));
    }
    if let Some(n) = app.notice_shown() {
        let style = if n.error { theme.bad } else { theme.warn };
        spans.push(Span::styled(format!("│ {} ", n.text), style));
    }
    if !app.demo && app.browser.is_none() && app.triage.is_none() {
        // What the dashboard's own polling costs (the demo's is free); the browser
        // and triage need the room for their keys.
        spans.push(Span::styled(
            format!(
                "│ {:.1} req/s ${:.3}/h ",
                app.budget.rate(app.now),
                app.cost_per_hour()
            ),
            theme.dim,
        ));
    }
    spans.push(Span::styled("│ ", theme.dim));
    for action in hint_actions(app) {
        spans.push(Span::styled(app.keymap.label(action), theme.title));
        spans.push(Span::styled(format!(" {}  ", action.hint()), theme.dim));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn hint_actions(app: &App) -> Vec<Action> {
    if let Some(b) = &app.browser {
        if b.editor.is_some() {
            return Vec::new();
        }
        let mut actions = vec![Action::Help, Action::Open, Action::Back, Action::Filter];
        if !app.read_only {
            actions.extend([Action::Edit, Action::Requeue, Action::Delete]);
        }
        actions.extend([Action::Export, Action::Quit]);
        return actions;
    }
    if app.triage.is_some() {
        let mut actions = vec![Action::Help, Action::Open, Action::GroupBy, Action::Back];
        if !app.read_only {
            actions.extend([Action::Edit, Action::Requeue, Action::Delete]);
        }
        actions.extend([Action::Export, Action::Quit]);
        return actions;
    }
    let mut actions = vec![
        Action::Help,
        Action::Open,
        Action::Triage,
        Action::Filter,
        Action::Sort,
        Action::NextPane,
    ];
    if app.demo {
        actions.extend([Action::DemoFault, Action::DemoPause]);
    }
    actions.push(Action::Quit);
    actions
}
