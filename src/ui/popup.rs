//! Dialogs: confirmations and the destination picker.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::theme::Theme;
use crate::app::popup::Popup;

pub fn draw(frame: &mut Frame, area: Rect, popup: &Popup, theme: &Theme) {
    let (title, lines): (String, Vec<Line>) = match popup {
        Popup::Confirm { title, lines, .. } => (
            title.clone(),
            lines.iter().map(|l| Line::raw(l.clone())).collect(),
        ),
        Popup::TypeCount {
            title,
            lines,
            expected,
            typed,
            ..
        } => {
            let mut shown: Vec<Line> = lines.iter().map(|l| Line::raw(l.clone())).collect();
            shown.push(Line::raw(""));
            let style = if typed == expected {
                theme.title
            } else {
                theme.warn
            };
            shown.push(Line::from(vec![
                Span::raw("count: "),
                Span::styled(format!("{typed}▏"), style),
            ]));
            (title.clone(), shown)
        }
        Popup::PickQueue {
            message_id,
            queues,
            selected,
        } => {
            let mut lines = vec![
                Line::raw(format!(
                    "{message_id} has no source queue on record. Requeue it to:"
                )),
                Line::raw(""),
            ];
            lines.extend(queues.iter().enumerate().map(|(i, q)| {
                if i == *selected {
                    Line::styled(format!("▶ {q}"), theme.selected)
                } else {
                    Line::raw(format!("  {q}"))
                }
            }));
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                "j/k choose, Enter pick, Esc cancel",
                theme.dim,
            ));
            ("Pick a destination".to_string(), lines)
        }
    };
    // Two spare lines for what wraps.
    boxed(frame, area, &title, lines, 90, 2, theme.warn, theme);
}

/// A dialog centred on `area`: at most `width` wide, as tall as its lines plus
/// borders and `spare` lines, cleared beneath, lines wrapped.
#[allow(clippy::too_many_arguments)]
pub(crate) fn boxed(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line>,
    width: u16,
    spare: u16,
    border: ratatui::style::Style,
    theme: &Theme,
) {
    let width = width.min(area.width);
    let height = (lines.len() as u16 + 2 + spare).min(area.height);
    let rect = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(border)
                .title(Span::styled(format!(" {title} "), theme.title)),
        ),
        rect,
    );
}
