//! The triage view: the scan's progress, the groups, a sample of the selected
//! group, and the fix dialog with its before → after preview.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Gauge, Paragraph, Row, Table, Wrap};

use super::theme::Theme;
use crate::app::App;
use crate::app::triage::{Fix, Triage};
use crate::format;
use crate::triage::transform::DiffLine;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, t: &Triage, theme: &Theme) {
    let title = format!(" Triage {} — grouped by {} (b: next) ", t.queue.name, t.by);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus_border)
        .title(Span::styled(
            format::truncate(&title, area.width as usize),
            theme.title,
        ));
    frame.render_widget(block, area);
    let [status, table, sample] = crate::layout::triage(area);
    draw_status(frame, status, t, theme);
    draw_groups(frame, table, t, theme);
    draw_sample(frame, sample, app, t, theme);
}

/// "scanned 8,400 of ~12,000" with a bar while scanning; what was found after.
fn draw_status(frame: &mut Frame, area: Rect, t: &Triage, theme: &Theme) {
    let scanned = t.messages.len();
    let total = t.approx_total.unwrap_or(0).max(scanned as u64);
    let held = t.held_count();
    if t.scanning {
        let ratio = if total == 0 {
            0.0
        } else {
            scanned as f64 / total as f64
        };
        let label = format!("scanning: {scanned} of ~{total} (holding them hidden)");
        frame.render_widget(
            Gauge::default()
                .gauge_style(theme.depth)
                .ratio(ratio.clamp(0.0, 1.0))
                .label(label),
            area,
        );
        return;
    }
    let mut text = format!("scanned {scanned} of ~{total}");
    if t.complete {
        text.push_str(" — the whole queue");
    } else if scanned >= t.cap {
        text.push_str(&format!(
            " — stopped at the cap of {} ([triage] cap)",
            t.cap
        ));
    } else {
        text.push_str(" — partial");
    }
    text.push_str(&format!("; holding {held}, given back on Esc or quit"));
    let mut spans = vec![Span::styled(text, theme.base)];
    if let Some(e) = &t.error {
        spans.push(Span::styled(format!("; the scan stopped: {e}"), theme.bad));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_groups(frame: &mut Frame, area: Rect, t: &Triage, theme: &Theme) {
    let total: usize = t.groups.iter().map(|g| g.count()).sum();
    let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or("—".to_string(), |t| {
            t.with_timezone(&chrono::Local)
                .format("%m-%d %H:%M:%S")
                .to_string()
        })
    };
    // Sent times go first when the terminal is narrow: the group's name matters most.
    let wide = area.width >= 70;
    let height = area.height.saturating_sub(1) as usize;
    let offset = crate::layout::scroll_offset(t.selected, height);
    let count_width = t
        .groups
        .iter()
        .map(|g| g.count().to_string().len())
        .max()
        .unwrap_or(1)
        .max(5) as u16;
    let rows: Vec<Row> = t
        .groups
        .iter()
        .enumerate()
        .skip(offset)
        .take(height.max(1))
        .map(|(i, g)| {
            let fixed = g
                .members
                .iter()
                .filter(|&&m| t.messages[m].edited.is_some())
                .count();
            let mut name = g.key.clone();
            if fixed > 0 {
                name.push_str(&format!("  [fixed {fixed}]"));
            }
            let share = format!("{:.1}%", g.count() as f64 * 100.0 / total.max(1) as f64);
            let mut cells = vec![Cell::from(g.count().to_string()), Cell::from(share)];
            if wide {
                cells.push(Cell::from(time(g.first_sent)));
                cells.push(Cell::from(time(g.last_sent)));
            }
            cells.push(Cell::from(name));
            let row = Row::new(cells);
            if i == t.selected {
                row.style(theme.selected)
            } else {
                row
            }
        })
        .collect();
    let mut widths = vec![Constraint::Length(count_width), Constraint::Length(6)];
    let mut header = vec!["Count", "Share"];
    if wide {
        widths.extend([Constraint::Length(14), Constraint::Length(14)]);
        header.extend(["First sent", "Last sent"]);
    }
    widths.push(Constraint::Fill(1));
    header.push("Group");
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.header))
        .column_spacing(1);
    if t.groups.is_empty() {
        let text = if t.scanning {
            "waiting for the first messages…"
        } else {
            "no messages held: the queue looked empty"
        };
        frame.render_widget(Paragraph::new(Line::styled(text, theme.dim)), area);
        return;
    }
    frame.render_widget(table, area);
}

fn draw_sample(frame: &mut Frame, area: Rect, app: &App, t: &Triage, theme: &Theme) {
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.border)
        .title(Span::styled(
            " sample (redacted like every view) ",
            theme.dim,
        ));
    let Some(g) = t.selected_group() else {
        frame.render_widget(block, area);
        return;
    };
    let h = &t.messages[g.sample()];
    let body = crate::redact::body(h.body(), &app.redaction());
    let mut lines = vec![Line::styled(
        format!(
            "{} · received {}×{}",
            h.message.message_id,
            h.message.receive_count,
            h.source_queue()
                .map(|s| format!(" · from {s}"))
                .unwrap_or_default()
        ),
        theme.dim,
    )];
    lines.extend(
        crate::json_text::pretty(&body)
            .lines()
            .map(|l| Line::raw(l.to_string())),
    );
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

/// The fix dialog, over the whole screen.
pub(crate) fn draw_fix(frame: &mut Frame, area: Rect, t: &Triage, fix: &Fix, theme: &Theme) {
    let group = t.selected_group();
    let n = group.map_or(0, |g| g.count());
    let mut lines = vec![
        Line::raw(format!(
            "A jq expression for the {n} message(s) of \"{}\":",
            group.map_or("", |g| g.key.as_str())
        )),
        Line::from(vec![
            Span::styled("jq> ", theme.title),
            Span::raw(format!("{}▏", fix.expression)),
        ]),
    ];
    if let Some(e) = &fix.error {
        lines.push(Line::styled(e.clone(), theme.bad));
    }
    match &fix.preview {
        Some(p) if p.expression == fix.expression => {
            lines.push(Line::styled(
                format!(
                    "works on {} of {n}{}",
                    p.fixed.len(),
                    match (&p.first_failure, p.failed) {
                        (Some(why), f) if f > 0 =>
                            format!("; fails on {f} ({why}): they stay as they are"),
                        _ => String::new(),
                    }
                ),
                if p.failed > 0 { theme.warn } else { theme.good },
            ));
            // Before the samples, so a small screen never cuts it.
            lines.push(Line::styled(
                "Enter: keep these fixed bodies (nothing is sent until r), Esc: cancel",
                theme.dim,
            ));
            for (id, shown) in &p.samples {
                lines.push(Line::styled(format!("── {id}"), theme.dim));
                match shown {
                    Ok(diff) if diff.is_empty() => {
                        lines.push(Line::styled("   (unchanged)", theme.dim))
                    }
                    Ok(diff) => lines.extend(diff.iter().map(|(kind, text)| {
                        let style = match kind {
                            DiffLine::Removed => theme.bad,
                            DiffLine::Added => theme.good,
                            DiffLine::Same => theme.dim,
                        };
                        Line::styled(format!("{} {text}", kind.sign()), style)
                    })),
                    Err(why) => lines.push(Line::styled(format!("   fails: {why}"), theme.warn)),
                }
            }
        }
        _ => lines.push(Line::styled(
            "Enter: preview before → after, Esc: cancel (e.g. .coffee = \"mocha\")",
            theme.dim,
        )),
    }
    super::popup::boxed(
        frame,
        area,
        "Fix the group",
        lines,
        100,
        0,
        theme.warn,
        theme,
    );
}
