//! Presentation mode: a larger, simpler layout for a shared screen. Few columns,
//! the selected queue's depth in big digits, the breaker state as a big badge, and
//! an event ticker that tells the story. Works from 100×30.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};
use tui_big_text::{BigText, PixelSize};

use super::theme::Theme;
use crate::app::App;
use crate::breaker::BreakerState;
use crate::format;
use crate::health::Flag;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let ticker_height = (area.height / 4).clamp(4, 9);
    let [main, ticker] =
        Layout::vertical([Constraint::Min(10), Constraint::Length(ticker_height)]).areas(area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(main);
    draw_queues(frame, left, app, theme);
    let [number, badge] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(right);
    draw_big_number(frame, number, app, theme);
    draw_badge(frame, badge, app, theme);
    draw_ticker(frame, ticker, app, theme);
}

fn block<'a>(title: String, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(title, theme.title))
}

fn draw_queues(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let selected = app.selected_index();
    let rows: Vec<Row> = app
        .visible_rows()
        .into_iter()
        .take(area.height.saturating_sub(3) as usize)
        .map(|i| {
            let row = &app.queues[i];
            let flags = &row.derived.flags;
            let (health, style) = if row.stale.is_some() {
                ("⚠ stale".to_string(), theme.warn)
            } else if flags.is_empty() {
                ("✔ ok".to_string(), theme.good)
            } else {
                let bad = flags.contains(&Flag::DlqNotEmpty) || flags.contains(&Flag::BreakerOpen);
                (
                    flags[0].label().to_string(),
                    if bad { theme.bad } else { theme.warn },
                )
            };
            let r = Row::new(vec![
                Cell::from(format::truncate(&row.queue.name, 22)),
                Cell::from(
                    Line::from(format::count(row.attrs.as_ref().map(|a| a.visible)))
                        .right_aligned(),
                ),
                Cell::from(
                    Line::from(format::count(row.attrs.as_ref().map(|a| a.in_flight)))
                        .right_aligned(),
                ),
                Cell::from(Span::styled(health, style)),
            ]);
            if Some(i) == selected {
                r.style(theme.selected)
            } else {
                r
            }
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(22),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Fill(1),
        ],
    )
    .header(
        Row::new(["Queue", "Visible", "In flight", "Health"].map(Cell::from)).style(theme.header),
    )
    .block(block(format!(" {} ", app.source), theme));
    frame.render_widget(table, area);
}

fn draw_big_number(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(row) = app.story_row() else {
        frame.render_widget(block(" Queue ".into(), theme), area);
        return;
    };
    let b = block(format!(" {} — messages waiting ", row.queue.name), theme);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let depth = row.attrs.as_ref().map(|a| a.visible);
    let text = format::count(depth);
    let style = match depth {
        Some(d) if d > 0 && app.is_dlq(row) => theme.bad,
        _ => theme.title,
    };
    let big = BigText::builder()
        .pixel_size(pixel_size(inner, text.chars().count()))
        .style(style)
        .lines(vec![Line::from(text)])
        .centered()
        .build();
    frame.render_widget(big, inner);
}

fn draw_badge(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(b) = app.breakers.first() else {
        frame.render_widget(
            Paragraph::new("no circuit breaker configured").block(block(" Circuit ".into(), theme)),
            area,
        );
        return;
    };
    let (word, style): (&str, Style) = match b.state {
        BreakerState::Closed => ("CLOSED", theme.good),
        BreakerState::Open => ("OPEN", theme.bad),
        BreakerState::HalfOpen => ("HALF-OPEN", theme.warn),
        BreakerState::Unknown => ("?", theme.dim),
    };
    let outer = block(
        format!(" circuit {}: {} ", b.config.name, b.state.label()),
        theme,
    )
    .border_style(style);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let big = BigText::builder()
        .pixel_size(pixel_size(inner, word.chars().count()))
        .style(style)
        .lines(vec![Line::from(word)])
        .centered()
        .build();
    frame.render_widget(big, inner);
}

/// The biggest font that fits `chars` characters in `area`.
fn pixel_size(area: Rect, chars: usize) -> PixelSize {
    let chars = chars.max(1) as u16;
    let fits = |w: u16, h: u16| chars * w <= area.width && h <= area.height;
    if fits(8, 8) {
        PixelSize::Full
    } else if fits(8, 4) {
        PixelSize::HalfHeight
    } else if fits(4, 4) {
        PixelSize::Quadrant
    } else if fits(8, 2) {
        PixelSize::QuarterHeight
    } else {
        PixelSize::Octant
    }
}

fn draw_ticker(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let height = area.height.saturating_sub(2) as usize;
    let skip = app.events.len().saturating_sub(height);
    let lines: Vec<Line> = app
        .events
        .iter()
        .skip(skip)
        .map(|e| {
            Line::from(vec![
                Span::styled(
                    format!("{} ", e.at.with_timezone(&chrono::Local).format("%H:%M:%S")),
                    theme.dim,
                ),
                Span::raw(e.text.clone()),
            ])
        })
        .collect();
    let lines = if lines.is_empty() {
        vec![Line::styled("nothing has happened yet", theme.dim)]
    } else {
        lines
    };
    frame.render_widget(
        Paragraph::new(lines).block(block(" What happened ".into(), theme)),
        area,
    );
}
