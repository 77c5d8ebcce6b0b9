//! Dialogs: confirmations and the destination picker. A dialog's key line is
//! always on screen: when the rest does not fit, the rest scrolls (PgUp/PgDn).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::theme::Theme;
use crate::app::popup::Popup;
use crate::keymap::{Action, Keymap};

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    popup: &Popup,
    scroll: usize,
    keymap: &Keymap,
    theme: &Theme,
) {
    let raw = |ls: &[String]| -> Vec<Line> { ls.iter().map(|l| Line::raw(l.clone())).collect() };
    let (title, body, keys, start): (String, Vec<Line>, Vec<Line>, Start) = match popup {
        Popup::Confirm { title, lines, .. } => {
            let (keys, body) = lines
                .split_last()
                .map_or((&[][..], &[][..]), |(k, b)| (std::slice::from_ref(k), b));
            (title.clone(), raw(body), raw(keys), Start::Scrolled(scroll))
        }
        Popup::TypeCount {
            title,
            lines,
            expected,
            typed,
            ..
        } => {
            let (keys, body) = lines
                .split_last()
                .map_or((&[][..], &[][..]), |(k, b)| (std::slice::from_ref(k), b));
            let style = if typed == expected {
                theme.title
            } else {
                theme.warn
            };
            let mut keys = raw(keys);
            keys.push(Line::from(vec![
                Span::raw("count: "),
                Span::styled(format!("{typed}▏"), style),
            ]));
            (title.clone(), raw(body), keys, Start::Scrolled(scroll))
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
            let keys = vec![
                Line::raw(""),
                Line::styled("j/k choose, Enter pick, Esc cancel", theme.dim),
            ];
            let title = "Pick a destination".to_string();
            (title, lines, keys, Start::Showing(selected + 2))
        }
    };
    let more = format!(
        "{}/{}: more",
        keymap.label(Action::PageUp),
        keymap.label(Action::PageDown)
    );
    let dialog = Dialog {
        title: &title,
        body,
        keys,
        start,
        more: &more,
    };
    dialog.draw(frame, area, 90, theme.warn, theme);
}

/// A dialog whose `keys` lines are always shown below its `body`, which scrolls.
struct Dialog<'a> {
    title: &'a str,
    body: Vec<Line<'a>>,
    keys: Vec<Line<'a>>,
    start: Start,
    /// What the bottom border says when the body does not fit.
    more: &'a str,
}

/// Where a dialog's body starts.
enum Start {
    /// At this line (as far as it can: no room is left empty at the end).
    Scrolled(usize),
    /// Where this line shows.
    Showing(usize),
}

/// Rows `lines` take when wrapped to `width`.
fn rows(lines: &[Line], width: u16) -> usize {
    lines
        .iter()
        .map(|l| {
            Paragraph::new(l.clone())
                .wrap(Wrap { trim: false })
                .line_count(width)
                .max(1)
        })
        .sum()
}

impl Dialog<'_> {
    fn draw(
        self,
        frame: &mut Frame,
        area: Rect,
        width: u16,
        border: ratatui::style::Style,
        theme: &Theme,
    ) {
        let width = width.min(area.width);
        let inner = width.saturating_sub(2);
        let key_rows = rows(&self.keys, inner).min(area.height.saturating_sub(2) as usize);
        let room = (area.height as usize).saturating_sub(2 + key_rows);
        // The furthest scroll that still fills the room.
        let last = (0..self.body.len())
            .find(|&s| rows(&self.body[s..], inner) <= room)
            .unwrap_or(self.body.len());
        let first = match self.start {
            Start::Scrolled(s) => s.min(last),
            Start::Showing(line) => {
                let upto = (line + 1).min(self.body.len());
                (0..upto)
                    .find(|&s| rows(&self.body[s..upto], inner) <= room)
                    .unwrap_or(0)
                    .min(last)
            }
        };
        let body_rows = rows(&self.body, inner).min(room);
        let height = (body_rows + key_rows + 2) as u16;
        let rect = area.centered(Constraint::Length(width), Constraint::Length(height));
        let mut block = Block::default()
            .borders(Borders::ALL)
            .border_style(border)
            .title(Span::styled(format!(" {} ", self.title), theme.title));
        let (above, below) = (first > 0, first < last);
        if above || below {
            let arrows = match (above, below) {
                (true, true) => "▲▼",
                (true, false) => "▲",
                _ => "▼",
            };
            block = block.title_bottom(
                Line::styled(format!(" {arrows} {} ", self.more), theme.title).right_aligned(),
            );
        }
        let inside = block.inner(rect);
        frame.render_widget(Clear, rect);
        frame.render_widget(block, rect);
        let [body_area, keys_area] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(key_rows as u16)])
                .areas(inside);
        let body: Vec<Line> = self.body.into_iter().skip(first).collect();
        frame.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }), body_area);
        frame.render_widget(
            Paragraph::new(self.keys).wrap(Wrap { trim: false }),
            keys_area,
        );
    }
}

/// A dialog centred on `area`: at most `width` wide, as tall as its lines
/// (wrapped) plus borders and `spare` lines, cleared beneath.
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
    let wrapped = rows(&lines, width.saturating_sub(2)) as u16;
    let height = (wrapped + 2 + spare).min(area.height);
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
