//! The queues pane: one row per queue with its figures and health flags.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use super::theme::Theme;
use crate::app::{App, Pane, QueueRow, RateSource};
use crate::format;
use crate::health::{Drain, Flag, Trend};

/// The columns, in the order they are drawn.
const HEADER: [&str; COLUMNS] = [
    "Queue",
    "Region",
    "Account",
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

const COLUMNS: usize = 14;
const REGION: usize = 1;
const ACCOUNT: usize = 2;
const DLQ: usize = 12;

/// The order in which columns are kept as the terminal narrows: the name, Health,
/// the visible count, the region and the DLQ with its depth go last.
const PRIORITY: [usize; COLUMNS] = [0, 13, 4, REGION, DLQ, ACCOUNT, 5, 7, 8, 9, 11, 10, 6, 3];

/// The sparkline in the Trend column: this many bars over this many seconds.
const SPARK_LEN: usize = 8;
const SPARK_SECS: f64 = 240.0;

/// The narrowest a name may be cut to (in the middle) before columns go.
const MIN_NAME: usize = 12;
/// The narrowest the DLQ column may be cut to before it goes.
const MIN_DLQ: usize = 10;

/// One cell's text and look, measured before the widths are chosen.
struct Text {
    text: String,
    style: ratatui::style::Style,
    right: bool,
    /// Characters at the end that a cut must keep (the DLQ's " (12)").
    keep_end: usize,
}

impl Text {
    /// Columns on screen (some symbols take two).
    fn width(&self) -> usize {
        Span::raw(self.text.as_str()).width()
    }

    fn cell(&self, width: usize) -> Cell<'static> {
        let text = if self.width() <= width {
            self.text.clone()
        } else {
            let n = self.text.chars().count();
            let end: String = self.text.chars().skip(n - self.keep_end.min(n)).collect();
            let start: String = self.text.chars().take(n - self.keep_end.min(n)).collect();
            format!(
                "{}{end}",
                format::middle(&start, width.saturating_sub(end.chars().count()))
            )
        };
        let line = Line::from(Span::styled(text, self.style));
        Cell::from(if self.right {
            line.right_aligned()
        } else {
            line
        })
    }
}

/// Which columns fit in `room` characters, and how wide each is: content widths,
/// columns added in [`PRIORITY`] order while they fit, the name and the DLQ cut
/// in the middle rather than dropped. A column that wants no room is not shown.
fn fit(desired: &[usize; COLUMNS], room: usize) -> [Option<usize>; COLUMNS] {
    let mut widths = [None; COLUMNS];
    let mut used = 0usize;
    for &c in &PRIORITY {
        let gap = usize::from(used > 0);
        let want = desired[c];
        let min = match c {
            0 => want.min(MIN_NAME),
            DLQ => want.min(MIN_DLQ),
            _ => want,
        };
        if want == 0 {
            continue;
        }
        if used + gap + min > room {
            continue;
        }
        let width = want.min(room - used - gap);
        widths[c] = Some(width);
        used += gap + width;
    }
    // Left-over room goes back to a cut name or DLQ column.
    for c in [0, DLQ] {
        if let Some(w) = widths[c]
            && w < desired[c]
        {
            let extra = (desired[c] - w).min(room.saturating_sub(used));
            widths[c] = Some(w + extra);
            used += extra;
        }
    }
    widths
}

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
        if app.overlays.filtering() || !app.filter.is_empty() {
            t.push_str(&format!(
                "filter: /{}{} ",
                app.filter,
                if app.overlays.filtering() { "▏" } else { "" }
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
    let offset = crate::layout::scroll_offset(selected_pos, inner_height);
    let texts: Vec<(usize, [Text; COLUMNS])> = rows
        .iter()
        .skip(offset)
        .take(inner_height.max(1))
        .map(|&i| (i, queue_texts(app, &app.queues[i], theme)))
        .collect();
    let mut desired = HEADER.map(|h| h.chars().count());
    for (_, t) in &texts {
        for (c, cell) in t.iter().enumerate() {
            desired[c] = desired[c].max(cell.width());
        }
    }
    // Where a queue lives is said when the queues live in more than one place.
    let spread = app.spread();
    if spread.regions < 2 {
        desired[REGION] = 0;
    }
    if spread.accounts < 2 {
        desired[ACCOUNT] = 0;
    }
    let widths = fit(&desired, usize::from(area.width.saturating_sub(2)));
    let shown: Vec<usize> = (0..HEADER.len()).filter(|&c| widths[c].is_some()).collect();
    let body: Vec<Row> = texts
        .iter()
        .map(|(i, t)| {
            let r = Row::new(
                shown
                    .iter()
                    .map(|&c| t[c].cell(widths[c].unwrap_or_default())),
            );
            if Some(*i) == selected {
                r.style(theme.selected)
            } else {
                r
            }
        })
        .collect();
    let empty = body.is_empty();
    let constraints: Vec<Constraint> = shown
        .iter()
        .map(|&c| Constraint::Length(widths[c].unwrap_or_default() as u16))
        .collect();
    let table = Table::new(body, constraints)
        .header(Row::new(shown.iter().map(|&c| Cell::from(HEADER[c]))).style(theme.header))
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
fn queue_texts(app: &App, row: &QueueRow, theme: &Theme) -> [Text; COLUMNS] {
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
    let measured = app.arrival(row);
    let arrival = measured.per_min;
    let consumption = metrics.and_then(|m| m.deleted_per_min);
    // The last four minutes of the depth, then the direction.
    let spark = format::sparkline(&row.depth_buckets(SPARK_SECS / app.time_scale, SPARK_LEN));
    let trend = row.derived.trend;
    let trend_style = match trend {
        Trend::Rising => theme.warn,
        Trend::Falling => theme.good,
        Trend::Flat => theme.dim,
    };
    let trend = trend.arrow();
    let plain = ratatui::style::Style::default();
    let t = |text: String, style, right| Text {
        text,
        style,
        right,
        keep_end: 0,
    };
    let drain = match row.derived.drain {
        Some(Drain::In(d)) => t(format::duration(d), plain, false),
        Some(d @ (Drain::Growing | Drain::Stalled)) => t(d.label().into(), theme.warn, false),
        Some(d) => t(d.label().into(), theme.dim, false),
        None => t("—".into(), theme.dim, false),
    };
    let dlq = match row.dlq_name() {
        Some(dlq) => {
            let depth = app.dlq_row(row).and_then(|r| r.depth());
            let depth_text = format!(" ({})", format::count(depth));
            Text {
                keep_end: depth_text.chars().count(),
                text: format!("{dlq}{depth_text}"),
                style: if depth.unwrap_or(0) > 0 {
                    theme.bad
                } else {
                    theme.base
                },
                right: false,
            }
        }
        None if !row.dlq_sources.is_empty() => {
            t(format!("← {}", row.dlq_sources.join(",")), theme.dim, false)
        }
        None => t(String::new(), theme.dim, false),
    };
    let flags = &row.derived.flags;
    let health = if stale {
        t("⚠ stale".into(), theme.warn, false)
    } else if flags.is_empty() {
        if attrs.is_some() {
            t("✔ ok".into(), theme.good, false)
        } else {
            t("…".into(), theme.dim, false)
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
        t(text, style, false)
    };
    let num = |v: Option<u64>| t(format::count(v), plain, true);
    [
        t(name, plain, false),
        t(row.queue.place.region.clone(), theme.dim, false),
        t(row.queue.place.account.clone(), theme.dim, false),
        t(kind.into(), plain, false),
        num(attrs.map(|a| a.visible)),
        num(attrs.map(|a| a.in_flight)),
        num(attrs.map(|a| a.delayed)),
        t(oldest, plain, true),
        match measured.source {
            // "≈": measured from the depth, not CloudWatch (see the rates pane).
            RateSource::Depth => t(format!("≈{}", format::rate(arrival)), plain, true),
            RateSource::CloudWatch => t(format::rate(arrival), plain, true),
        },
        t(format::rate(consumption), plain, true),
        t(format!("{spark} {trend}"), trend_style, false),
        drain,
        dlq,
        health,
    ]
}
