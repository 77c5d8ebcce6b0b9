//! The message browser: the list, the detail view and the editor.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use super::theme::Theme;
use crate::app::App;
use crate::app::browser::{Browser, Held, HeldState};
use crate::app::editor::{BodyCheck, Editor};
use crate::format;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, b: &Browser, theme: &Theme) {
    if let Some(editor) = &b.editor {
        draw_editor(frame, area, b, editor, theme);
        return;
    }
    match b.detail {
        Some(scroll) => {
            let [list, detail] =
                Layout::vertical([Constraint::Percentage(35), Constraint::Percentage(65)])
                    .areas(area);
            draw_list(frame, list, app, b, theme);
            if let Some(h) = b.selected_message() {
                draw_detail(frame, detail, h, scroll, &app.redaction(), theme);
            }
        }
        None => draw_list(frame, area, app, b, theme),
    }
}

fn draw_list(frame: &mut Frame, area: Rect, app: &App, b: &Browser, theme: &Theme) {
    let visible = b.visible();
    let held = b.messages.iter().filter(|h| h.is_held()).count();
    let mut title = match &b.group {
        Some(g) => format!(
            " {} — triage group \"{g}\": {held} message(s) ",
            b.queue.name
        ),
        None => String::new(),
    };
    if b.group.is_none() {
        title = format!(
            " {} — holding {held} of ~{} message(s){} ",
            app.queue_label(&b.queue),
            format::count(b.approx_total.map(|t| t.max(held as u64))),
            if b.messages.len() >= b.cap {
                format!(" (cap {})", b.cap)
            } else {
                String::new()
            }
        );
    }
    if b.loading {
        title.push_str("loading… ");
    }
    if b.filter_editing || !b.filter.is_empty() {
        title.push_str(&format!(
            "filter: /{}{} ",
            b.filter,
            if b.filter_editing { "▏" } else { "" }
        ));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus_border)
        .title(Span::styled(title, theme.title));
    let height = area.height.saturating_sub(3) as usize;
    let offset = crate::layout::scroll_offset(b.selected, height);
    let now = app.wall_now();
    let rules = app.redaction();
    // Each row's cells as text first, so the columns can take their content's width.
    let cells: Vec<(usize, [Span<'static>; 8])> = visible
        .iter()
        .enumerate()
        .skip(offset)
        .take(height.max(1))
        .map(|(pos, &i)| {
            let h = &b.messages[i];
            let m = &h.message;
            let age = m
                .sent_at
                .map(|t| format::duration((now - t).to_std().unwrap_or_default()))
                .unwrap_or_else(|| "—".into());
            let sent = m
                .sent_at
                .map(|t| {
                    t.with_timezone(&chrono::Local)
                        .format("%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_else(|| "—".into());
            let receives = match b.max_receive_count {
                Some(max) if m.receive_count >= max => {
                    Span::styled(format!("{} ⚠ next → DLQ", m.receive_count), theme.bad)
                }
                _ => Span::raw(m.receive_count.to_string()),
            };
            let shown = crate::json_text::one_line(&crate::redact::body(h.body(), &rules));
            (
                pos,
                [
                    state_span(h, theme),
                    Span::raw(format::truncate(&m.message_id, 20)),
                    Span::raw(sent),
                    Span::raw(age),
                    receives,
                    Span::raw(crate::broker::human_size(h.body().len())),
                    Span::raw(h.source_queue().unwrap_or("—").to_string()),
                    Span::raw(format::truncate(&shown, 400)),
                ],
            )
        })
        .collect();
    let mut desired = COLUMNS.map(|c| c.chars().count());
    for (_, row) in &cells {
        for (c, span) in row.iter().enumerate() {
            desired[c] = desired[c].max(span.width());
        }
    }
    let widths = browser_columns(&desired, usize::from(area.width.saturating_sub(2)));
    let shown: Vec<usize> = (0..COLUMNS.len())
        .filter(|&c| widths[c].is_some())
        .collect();
    let rows: Vec<Row> = cells
        .into_iter()
        .map(|(pos, row)| {
            let r = Row::new(shown.iter().map(|&c| {
                let line = Line::from(row[c].clone());
                Cell::from(if RIGHT[c] { line.right_aligned() } else { line })
            }));
            if pos == b.selected {
                r.style(theme.selected)
            } else {
                r
            }
        })
        .collect();
    let empty = rows.is_empty();
    let constraints: Vec<Constraint> = shown
        .iter()
        .map(|&c| match c {
            BODY => Constraint::Fill(1),
            _ => Constraint::Length(widths[c].unwrap_or_default() as u16),
        })
        .collect();
    let table = Table::new(rows, constraints)
        .header(Row::new(shown.iter().map(|&c| Cell::from(COLUMNS[c]))).style(theme.header))
        .block(block);
    frame.render_widget(table, area);
    if empty && area.height > 3 {
        let text = if b.loading {
            "Receiving messages (they stay hidden from consumers while held here)…".to_string()
        } else if let Some(e) = &b.load_error {
            format!("Could not load messages: {e}")
        } else if b.messages.is_empty() {
            "No messages visible in this queue right now.".to_string()
        } else {
            format!("No loaded message matches /{}", b.filter)
        };
        let line = Rect {
            x: area.x + 2,
            y: area.y + 2,
            width: area.width.saturating_sub(4),
            height: 1,
        };
        frame.render_widget(Line::styled(text, theme.warn), line);
    }
}

/// The browser's columns, in the order they are drawn.
const COLUMNS: [&str; 8] = [
    "State", "Id", "Sent", "Age", "Receives", "Size", "Source", "Body",
];
/// Right-aligned columns (numbers).
const RIGHT: [bool; 8] = [false, false, false, true, false, true, false, false];
const BODY: usize = 7;
/// The body is kept at least this wide; other columns go first.
const MIN_BODY: usize = 24;
/// The order columns are kept in as the terminal narrows: body, receives and
/// age last.
const KEEP: [usize; 8] = [BODY, 4, 3, 0, 6, 1, 5, 2];

/// Which browser columns fit in `room`, at their content's width; the body
/// takes what is left (at least [`MIN_BODY`]).
fn browser_columns(desired: &[usize; 8], room: usize) -> [Option<usize>; 8] {
    let mut widths = [None; 8];
    let mut used = MIN_BODY.min(room);
    widths[BODY] = Some(used);
    for &c in &KEEP[1..] {
        if used + 1 + desired[c] <= room {
            widths[c] = Some(desired[c]);
            used += 1 + desired[c];
        }
    }
    widths
}

fn state_span(h: &Held, theme: &Theme) -> Span<'static> {
    let edited = h.edited.is_some();
    match &h.state {
        HeldState::Held if edited => Span::styled("✎ edited", theme.warn),
        HeldState::Held => Span::styled("● held", theme.dim),
        HeldState::Working(what) => Span::styled(format!("… {what}"), theme.warn),
        HeldState::Requeued { to, .. } => Span::styled(format!("✔ → {to}"), theme.good),
        HeldState::Deleted => Span::styled("✖ deleted", theme.dim),
        HeldState::InBoth { .. } => Span::styled("⚠ in both", theme.bad),
        HeldState::Expired => Span::styled("⌛ expired", theme.bad),
    }
}

/// The body pretty-printed when it is JSON (every token as it is), else as it is.
pub(crate) fn pretty_body(body: &str) -> String {
    crate::json_text::pretty(body)
}

fn draw_detail(
    frame: &mut Frame,
    area: Rect,
    h: &Held,
    scroll: u16,
    rules: &[String],
    theme: &Theme,
) {
    let m = &h.message;
    let mut lines: Vec<Line> = Vec::new();
    let heading = |t: &str| Line::styled(t.to_string(), theme.header);
    lines.push(heading(if h.edited.is_some() {
        "Body (edited, not yet requeued)"
    } else {
        "Body"
    }));
    let body = pretty_body(&crate::redact::body(h.body(), rules));
    if crate::redact::hides_something(h.body(), rules) {
        lines.push(Line::styled(
            "(some fields are redacted: u reveals them)",
            theme.warn,
        ));
    }
    let is_json = crate::json_text::is_json(h.body());
    if !is_json {
        lines.push(Line::styled("(raw text, not JSON)", theme.dim));
    }
    lines.extend(body.lines().map(|l| Line::raw(l.to_string())));
    lines.push(Line::raw(""));
    lines.push(heading("Message attributes"));
    if m.attributes.is_empty() {
        lines.push(Line::styled("  (none)", theme.dim));
    }
    for (k, a) in &m.attributes {
        let value = crate::redact::attribute_value(k, &a.value, rules);
        lines.push(Line::raw(format!("  {k} ({}) = {value}", a.data_type)));
    }
    lines.push(Line::raw(""));
    lines.push(heading("System attributes"));
    let fmt_time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "—".into())
    };
    for (k, v) in [
        ("MessageId", m.message_id.clone()),
        ("ApproximateReceiveCount", m.receive_count.to_string()),
        ("SentTimestamp", fmt_time(m.sent_at)),
        (
            "ApproximateFirstReceiveTimestamp",
            fmt_time(m.first_received_at),
        ),
        (
            "DeadLetterQueueSourceArn",
            m.dlq_source_arn.clone().unwrap_or_else(|| "—".into()),
        ),
        (
            "MessageGroupId",
            m.group_id.clone().unwrap_or_else(|| "—".into()),
        ),
        (
            "MessageDeduplicationId",
            m.dedup_id.clone().unwrap_or_else(|| "—".into()),
        ),
    ] {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k}: "), theme.dim),
            Span::raw(v),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(theme.border)
                    .title(Span::styled(
                        format!(" Message {} (j/k scroll, Esc back) ", m.message_id),
                        theme.title,
                    )),
            ),
        area,
    );
}

fn draw_editor(frame: &mut Frame, area: Rect, b: &Browser, editor: &Editor, theme: &Theme) {
    let [text_area, status] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let mut textarea = editor.textarea.clone();
    textarea.set_block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(theme.focus_border)
            .title(Span::styled(
                format!(
                    " Editing {} in {} — Ctrl-S keep, Esc cancel ",
                    editor.message_id, b.queue.name
                ),
                theme.title,
            )),
    );
    frame.render_widget(&textarea, text_area);
    let check = match &editor.check {
        BodyCheck::Json => Span::styled("✔ valid JSON", theme.good),
        BodyCheck::NotJson {
            line,
            column,
            message,
        } => Span::styled(
            format!("✖ invalid JSON at line {line}, column {column}: {message}"),
            theme.bad,
        ),
    };
    let over = editor.over_limit();
    let size_span = Span::styled(
        format!(
            "{}{} / {}{}",
            if over { "✖ too large: " } else { "" },
            crate::broker::human_size(editor.bytes),
            crate::broker::human_size(editor.limit),
            editor
                .limit_of
                .as_deref()
                .map(|q| format!(" ({q}'s limit)"))
                .unwrap_or_default()
        ),
        if over { theme.bad } else { theme.dim },
    );
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::raw(" "),
            check,
            Span::styled("  │  ", theme.dim),
            size_span,
        ])),
        status,
    );
}
