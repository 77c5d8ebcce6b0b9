//! The queues pane: one row per queue with its figures and health flags.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use super::theme::Theme;
use crate::app::{App, Pane, QueueRow};
use crate::format;
use crate::health::{Drain, Flag};

const HEADER: [&str; 12] = [
    "Queue",
    "Type",
    "Visible",
    "In flight",
    "Delayed",
    "Oldest",
    "In/min",
    "Out/min",
    "Trend",
    "Drain",
    "DLQ",
    "Health",
];

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let rows = app.visible_rows();
    let title = {
        let mut t = format!(
            " Queues ({}{}) sort: {} ",
            rows.len(),
            if rows.len() == app.queues.len() {
                String::new()
            } else {
                format!(" of {}", app.queues.len())
            },
            app.sort.label()
        );
        if app.filter_editing || !app.filter.is_empty() {
            t.push_str(&format!(
                "filter: /{}{} ",
                app.filter,
                if app.filter_editing { "▏" } else { "" }
            ));
        }
        t
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if app.focus == Pane::Queues {
            theme.focus_border
        } else {
            theme.border
        })
        .title(Span::styled(title, theme.title));
    let inner_height = area.height.saturating_sub(3) as usize;
    let selected = app.selected_index();
    let selected_pos = rows.iter().position(|&i| Some(i) == selected).unwrap_or(0);
    let offset = selected_pos.saturating_sub(inner_height.saturating_sub(1));
    // On narrow screens the least needed columns go, so Health always shows.
    let narrow = area.width < 150;
    let hidden: &[usize] = if narrow { &[1, 4, 8] } else { &[] };
    let body: Vec<Row> = rows
        .iter()
        .skip(offset)
        .take(inner_height.max(1))
        .map(|&i| {
            let row = &app.queues[i];
            let cells = queue_cells(app, row, theme, if narrow { 12 } else { 22 });
            let r = Row::new(
                cells
                    .into_iter()
                    .enumerate()
                    .filter(|(c, _)| !hidden.contains(c))
                    .map(|(_, cell)| cell),
            );
            if Some(i) == selected {
                r.style(theme.selected)
            } else {
                r
            }
        })
        .collect();
    let empty = body.is_empty();
    let name_width = rows
        .iter()
        .map(|&i| app.queues[i].queue.name.chars().count() + 2)
        .max()
        .unwrap_or(10)
        .clamp(10, 48) as u16;
    let widths = [
        Constraint::Length(name_width),
        Constraint::Length(4),
        Constraint::Length(7),
        Constraint::Length(9),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(8),
        Constraint::Length(if narrow { 18 } else { 26 }),
        Constraint::Fill(1),
    ];
    let shown = |c: &usize| !hidden.contains(c);
    let table = Table::new(body, (0..widths.len()).filter(shown).map(|c| widths[c]))
        .header(
            Row::new(
                (0..HEADER.len())
                    .filter(shown)
                    .map(|c| Cell::from(HEADER[c])),
            )
            .style(theme.header),
        )
        .block(block);
    frame.render_widget(table, area);
    if empty {
        let msg = if app.queues.is_empty() {
            match &app.discovery_error {
                Some(e) => format!("No queues yet: {e}"),
                None => "Looking for queues…".to_string(),
            }
        } else {
            format!("No queue matches /{}", app.filter)
        };
        let inner = Rect {
            x: area.x + 2,
            y: area.y + 2,
            width: area.width.saturating_sub(4),
            height: 1.min(area.height.saturating_sub(3)),
        };
        frame.render_widget(Line::styled(msg, theme.warn), inner);
    }
}

/// The cells of one row, in the order of [`HEADER`].
fn queue_cells<'a>(
    app: &App,
    row: &'a QueueRow,
    theme: &Theme,
    dlq_name_max: usize,
) -> Vec<Cell<'a>> {
    let attrs = row.attrs.as_ref();
    let metrics = row.metrics.as_ref();
    let stale = row.stale.is_some();
    let name = if stale {
        format!("⚠ {}", row.queue.name)
    } else {
        row.queue.name.clone()
    };
    let kind = if row.queue.is_fifo() || attrs.is_some_and(|a| a.fifo) {
        "FIFO"
    } else {
        "std"
    };
    let oldest = metrics
        .and_then(|m| m.age_of_oldest)
        .map_or_else(|| "—".to_string(), format::duration);
    let arrival = metrics.and_then(|m| m.sent_per_min);
    let consumption = metrics.and_then(|m| m.deleted_per_min);
    let (trend, trend_style) = match row.trend() {
        1 => ("↑", theme.warn),
        -1 => ("↓", theme.good),
        _ => ("→", theme.dim),
    };
    let drain = match Drain::of(row.depth(), arrival, consumption) {
        Some(Drain::In(t)) => Span::raw(format::duration(t)),
        Some(d @ (Drain::Growing | Drain::Stalled)) => Span::styled(d.label(), theme.warn),
        Some(d) => Span::styled(d.label(), theme.dim),
        None => Span::styled("—", theme.dim),
    };
    let dlq = match row.dlq_name() {
        Some(dlq) => {
            let depth = app.row_by_name(dlq).and_then(|r| r.depth());
            let text = format!(
                "{} ({})",
                format::truncate(dlq, dlq_name_max),
                format::count(depth)
            );
            Span::styled(
                text,
                if depth.unwrap_or(0) > 0 {
                    theme.bad
                } else {
                    theme.base
                },
            )
        }
        None if !row.dlq_sources.is_empty() => Span::styled(
            format!(
                "← {}",
                format::truncate(&row.dlq_sources.join(","), dlq_name_max)
            ),
            theme.dim,
        ),
        None => Span::styled("", theme.dim),
    };
    let flags = app.flags(row);
    let health = if stale {
        Span::styled("⚠ stale", theme.warn)
    } else if flags.is_empty() {
        if attrs.is_some() {
            Span::styled("✔ ok", theme.good)
        } else {
            Span::styled("…", theme.dim)
        }
    } else {
        let text = flags
            .iter()
            .map(|f| f.label())
            .collect::<Vec<_>>()
            .join(" ");
        let style = if flags.contains(&Flag::DlqNotEmpty) || flags.contains(&Flag::BreakerOpen) {
            theme.bad
        } else {
            theme.warn
        };
        Span::styled(text, style)
    };
    let num = |v: Option<u64>| Cell::from(Line::from(format::count(v)).right_aligned());
    vec![
        Cell::from(name),
        Cell::from(kind),
        num(attrs.map(|a| a.visible)),
        num(attrs.map(|a| a.in_flight)),
        num(attrs.map(|a| a.delayed)),
        Cell::from(Line::from(oldest).right_aligned()),
        Cell::from(Line::from(format::rate(arrival)).right_aligned()),
        Cell::from(Line::from(format::rate(consumption)).right_aligned()),
        Cell::from(Span::styled(trend, trend_style)),
        Cell::from(drain),
        Cell::from(dlq),
        Cell::from(health),
    ]
}
