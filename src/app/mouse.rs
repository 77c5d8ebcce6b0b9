//! The mouse, as lazygit and k9s users expect: click a row to select it,
//! double-click to open it, the wheel scrolls, a click on a pane focuses it.
//! Keys stay the primary interface: every mouse action is one a key does.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use super::{App, Cmd, Pane};
use crate::layout::{self, contains};

/// Two clicks on the same row within this are a double-click.
const DOUBLE_CLICK: Duration = Duration::from_millis(400);

/// The last left click: when, and on which row of which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Click {
    pub at: Instant,
    pub list: List,
    pub row: usize,
}

/// The lists a click can land in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Queues,
    Messages,
    Groups,
}

impl App {
    pub(super) fn on_mouse(&mut self, m: MouseEvent) -> Vec<Cmd> {
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        match m.kind {
            MouseEventKind::ScrollDown => self.on_key(key(KeyCode::Down)),
            MouseEventKind::ScrollUp => self.on_key(key(KeyCode::Up)),
            MouseEventKind::Down(MouseButton::Left) => self.on_click(m.column, m.row),
            _ => Vec::new(),
        }
    }

    fn on_click(&mut self, x: u16, y: u16) -> Vec<Cmd> {
        // Dialogs and help take keys only.
        let dialog = !self.overlays.is_empty()
            || self.triage.as_ref().is_some_and(|t| t.fix.is_some())
            || self.browser.as_ref().is_some_and(|b| b.editor.is_some());
        if dialog || self.present {
            return Vec::new();
        }
        let areas = self.areas(self.screen);
        if !contains(areas.queues, x, y) {
            if self.browser.is_none() && self.triage.is_none() {
                if contains(areas.rates, x, y) {
                    self.focus = Pane::Rates;
                } else if contains(areas.breaker, x, y) {
                    self.focus = Pane::Breaker;
                }
                self.dirty = true;
            }
            return Vec::new();
        }
        let now = self.now;
        let (list, row) = match (&self.browser, &self.triage) {
            (Some(b), _) => {
                // Border, header, then the rows.
                let shown = areas.queues.height.saturating_sub(3) as usize;
                let first = layout::scroll_offset(b.selected, shown);
                let Some(i) = row_at(areas.queues.y + 2, y, first) else {
                    return Vec::new();
                };
                if i >= b.visible().len() {
                    return Vec::new();
                }
                (List::Messages, i)
            }
            (None, Some(t)) => {
                let [_, table, _] = layout::triage(areas.queues);
                let shown = table.height.saturating_sub(1) as usize;
                let first = layout::scroll_offset(t.selected, shown);
                let Some(i) = row_at(table.y + 1, y, first) else {
                    return Vec::new();
                };
                if i >= t.groups.len() {
                    return Vec::new();
                }
                (List::Groups, i)
            }
            (None, None) => {
                self.focus = Pane::Queues;
                let (rows, first, _) = self.queue_window(areas.queues);
                let Some(i) = row_at(areas.queues.y + 2, y, first) else {
                    return Vec::new();
                };
                let Some(&q) = rows.get(i) else {
                    return Vec::new();
                };
                self.selected = Some(self.queues[q].queue.url.clone());
                (List::Queues, i)
            }
        };
        match list {
            List::Messages => {
                if let Some(b) = self.browser.as_mut() {
                    b.selected = row;
                }
            }
            List::Groups => {
                if let Some(t) = self.triage.as_mut() {
                    t.selected = row;
                }
            }
            List::Queues => {}
        }
        self.dirty = true;
        let double = self.last_click.is_some_and(|c| {
            c.list == list && c.row == row && now.duration_since(c.at) <= DOUBLE_CLICK
        });
        self.last_click = Some(Click { at: now, list, row });
        if double {
            self.last_click = None;
            return self.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        }
        Vec::new()
    }
}

/// The index in a list of the row at screen line `y`, when its rows start at
/// line `top` and the first one shown is `first`.
fn row_at(top: u16, y: u16, first: usize) -> Option<usize> {
    (y >= top).then(|| first + usize::from(y - top))
}
