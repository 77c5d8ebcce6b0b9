//! The redrive dialog and the redrive progress pane.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, Paragraph, Wrap};

use super::theme::Theme;
use crate::app::App;
use crate::app::redrive::{RedriveField, RedriveForm};
use crate::format;
use crate::keymap::Action;
use crate::redrive::RunState;

pub(crate) fn draw_form(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    form: &RedriveForm,
    theme: &Theme,
) {
    let value = |f: RedriveField| -> String {
        match f {
            RedriveField::Destination => format!("◀ {} ▶", form.destinations[form.destination]),
            RedriveField::Rate => form.rate.clone(),
            RedriveField::HowMany if form.max.is_empty() => "all".to_string(),
            RedriveField::HowMany => form.max.clone(),
            RedriveField::Mode => format!("◀ {} ▶", form.mode_label()),
            RedriveField::Canary if form.canary => {
                let c = crate::redrive::canary::Canary::default();
                format!(
                    "◀ on ▶ from {} msg/s, ×2 every {} while ≤ {} come back",
                    format::rate(Some(c.start)),
                    format::duration(c.window),
                    c.max_returns
                )
            }
            RedriveField::Canary => "◀ off ▶".to_string(),
            RedriveField::Filter if form.group.is_some() => form
                .group
                .as_ref()
                .map(|g| g.to_string())
                .unwrap_or_default(),
            RedriveField::Filter if form.filter.is_empty() => "(none: every message)".to_string(),
            RedriveField::Filter => form.filter.clone(),
        }
    };
    let mut lines = vec![
        Line::raw(format!("Move the messages of {} back.", form.dlq.name)),
        Line::raw(""),
    ];
    for field in RedriveField::ALL {
        let focused = field == form.field;
        let cursor = if focused && field.is_text() {
            "▏"
        } else {
            ""
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} {:<14}", if focused { "▶" } else { " " }, field.label()),
                if focused { theme.selected } else { theme.title },
            ),
            Span::raw(format!(" {}{cursor}", value(field))),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "filter: text the body contains, or field=value on a JSON field (dotted path)",
        theme.dim,
    ));
    let keys = |a| app.keymap.label_in_text(a);
    lines.push(Line::styled(
        format!(
            "{}/{} field, ←→ choose, type to edit, {}: preview, {}: cancel",
            keys(Action::NextField),
            keys(Action::PrevField),
            keys(Action::Confirm),
            keys(Action::Cancel)
        ),
        theme.dim,
    ));
    if let Some(note) = &form.note {
        lines.push(Line::styled(format!("⚠ {note}"), theme.warn));
    }
    if form.planning {
        lines.push(Line::styled("checking the queues…", theme.warn));
    }
    if let Some(e) = &form.error {
        lines.push(Line::styled(format!("✖ {e}"), theme.bad));
    }
    let title = format!("Redrive {}", app.queue_label(&form.dlq));
    super::popup::boxed(frame, area, &title, lines, 90, 0, theme.focus_border, theme);
}

pub(crate) fn draw_progress(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(" Redrive ", theme.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines: Vec<Line> = Vec::new();
    let mut gauge = None;
    if let Some(run) = app.current_redrive() {
        let r = &run.plan.request;
        let p = run.progress.as_ref();
        let state = match (&run.report, &run.error, p) {
            (Some(rep), _, _) => match run.left {
                Some(n) if n > 0 => format!("{}, {n} left in {}", rep.state.label(), r.source.name),
                _ => rep.state.label().to_string(),
            },
            (_, Some(_), _) => "failed to start".to_string(),
            (_, _, Some(p)) => p.state.label().to_string(),
            _ => "starting".to_string(),
        };
        let state_style = match (&run.report, p.map(|p| p.state)) {
            (Some(_), _) if run.left.is_some_and(|n| n > 0) => theme.warn,
            (Some(rep), _) if rep.succeeded() => theme.good,
            (Some(_), _) => theme.bad,
            (_, Some(RunState::Paused)) => theme.warn,
            _ => theme.title,
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{} → {} ({}) ",
                    r.source.name,
                    r.destination,
                    run.plan.mode.label()
                ),
                theme.title,
            ),
            Span::styled(state, state_style),
        ]));
        if let Some(p) = p {
            let total = p.total.map_or_else(|| "?".to_string(), |t| t.to_string());
            lines.push(Line::raw(format!(
                "moved {} of {total}  failed {}  skipped {}{}",
                p.moved,
                p.failed,
                p.skipped,
                if p.not_deleted > 0 {
                    format!("  ⚠ in both queues {}", p.not_deleted)
                } else {
                    String::new()
                }
            )));
            let target = p
                .target_rate
                .map_or_else(|| "unlimited".to_string(), |t| format!("{t:.0}/s"));
            let concurrency = p
                .concurrency
                .map(|c| format!("  concurrency {c}"))
                .unwrap_or_default();
            lines.push(Line::raw(format!(
                "rate {:.1}/s (target {target}){concurrency}  elapsed {}  ETA {}",
                p.rate,
                format::duration(p.elapsed),
                p.eta.map_or_else(|| "—".to_string(), format::duration)
            )));
            let canary = run.report.as_ref().and_then(|r| r.canary.as_ref());
            if let Some(c) = canary.or(p.canary.as_ref()) {
                let style = if c.halted { theme.bad } else { theme.warn };
                lines.push(Line::styled(c.line(), style));
            }
            if let Some(d) = p.detail.as_ref().filter(|_| p.canary.is_none()) {
                lines.push(Line::styled(d.clone(), theme.dim));
            }
            for f in p.recent_failures.iter().take(2) {
                lines.push(Line::styled(
                    format!("✖ {}: {}", f.message_id, f.reason),
                    theme.bad,
                ));
            }
            gauge = p.fraction();
        }
        if let Some(e) = &run.error {
            lines.push(Line::styled(format!("✖ {e}"), theme.bad));
        }
        if run.is_active() {
            let pause = if run.plan.mode == crate::redrive::Mode::ClientSide {
                format!("{} pause/resume · ", app.keymap.label(Action::RedrivePause))
            } else {
                String::new()
            };
            lines.push(Line::styled(
                format!("{pause}{} cancel", app.keymap.label(Action::RedriveCancel)),
                theme.dim,
            ));
        } else if run
            .report
            .as_ref()
            .is_some_and(|r| r.state == RunState::Halted)
        {
            lines.push(Line::styled(
                format!(
                    "the rest stay in {}; {} on it redrives again once its consumer is fixed",
                    r.source.name,
                    app.keymap.label(Action::Redrive)
                ),
                theme.dim,
            ));
        }
    }
    for row in &app.queues {
        let Some(t) = &row.move_task else {
            continue;
        };
        if app.active_redrive_of(&row.queue).is_some() {
            continue;
        }
        lines.push(Line::styled(
            format!(
                "move task on {} (started elsewhere): {} of {} moved, {}{}",
                row.queue.name,
                t.moved,
                format::count(t.to_move),
                t.status,
                t.rate.map(|r| format!(" at {r}/s")).unwrap_or_default()
            ),
            theme.warn,
        ));
    }
    let [gauge_area, text_area] = Layout::vertical([
        Constraint::Length(if gauge.is_some() { 1 } else { 0 }),
        Constraint::Fill(1),
    ])
    .areas(inner);
    if let Some(ratio) = gauge {
        frame.render_widget(
            Gauge::default()
                .gauge_style(theme.good)
                .ratio(ratio)
                .label(format!("{:.0}%", ratio * 100.0)),
            gauge_area,
        );
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text_area);
}
