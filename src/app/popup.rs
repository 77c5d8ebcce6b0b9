//! Dialogs over everything else: confirmations and the queue picker. A popup gets
//! keys before anything but help; a confirmed one does what it was opened for.

use crossterm::event::{KeyCode, KeyEvent};

use super::browser::{BrowserCmd, HeldState};
use super::redrive::RedriveCmd;
use super::{App, Cmd, Pane};
use crate::broker::QueueRef;
use crate::keymap::{Action, Scope};
use crate::recovery::RequeueRequest;

/// A dialog over everything else.
#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    /// Accepts y, or Enter unless its `on_yes` needs an explicit y (see
    /// [`Pending::only_y`]); cancels with n or Esc. The last of `lines` is its
    /// key line, always shown; the others scroll when they do not fit.
    Confirm {
        title: String,
        lines: Vec<String>,
        on_yes: Pending,
    },
    /// Asks the user to type a number (a count) before a large deletion. The
    /// last of `lines` says what to type, and stays shown with the count.
    TypeCount {
        title: String,
        lines: Vec<String>,
        expected: String,
        typed: String,
        on_yes: Pending,
    },
    /// Pick a destination queue for a requeue.
    PickQueue {
        message_id: String,
        queues: Vec<String>,
        selected: usize,
    },
}

/// What a confirmed dialog does.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    Browse(QueueRef),
    Triage(QueueRef),
    /// Delete these messages of the triage.
    TriageDelete {
        ids: Vec<String>,
    },
    /// Requeue these messages of the triage to their sources.
    TriageRequeue {
        ids: Vec<String>,
    },
    Requeue {
        message_id: String,
        to: String,
        /// The breaker guarding `to` is OPEN: sent anyway, it may well come back.
        past_open_breaker: bool,
    },
    Delete {
        message_id: String,
    },
    KeepRawEdit,
    /// Close the editor, dropping what was typed.
    DiscardEdit,
    /// Start a planned redrive (forced past an open breaker when `force`).
    Redrive {
        plan: Box<crate::redrive::Plan>,
        force: bool,
    },
    /// Cancel one of our redrives.
    CancelRedrive {
        id: u64,
    },
    /// Cancel a move task started elsewhere.
    CancelMoveTask {
        queue: QueueRef,
        handle: String,
    },
    /// Stop the running redrives, then quit.
    StopAndQuit,
    /// Write an export unmasked.
    Export {
        path: String,
        contents: String,
        count: usize,
    },
}

impl Pending {
    /// What `y` does, when it must be `y`: a step past a refusal, which Enter,
    /// the key that led to the question, must not take by accident.
    pub fn only_y(&self) -> Option<&'static str> {
        match self {
            Pending::Redrive { force: true, .. } => Some("force the redrive"),
            Pending::Requeue {
                past_open_breaker: true,
                ..
            } => Some("requeue it past the open breaker"),
            _ => None,
        }
    }
}

impl Popup {
    /// How many lines the dialog's body has (what it can scroll through).
    fn body_lines(&self) -> usize {
        match self {
            Popup::Confirm { lines, .. } | Popup::TypeCount { lines, .. } => lines.len(),
            // The picker scrolls to its selection.
            Popup::PickQueue { .. } => 0,
        }
    }
}

impl App {
    /// A key while a popup is open.
    pub(super) fn on_popup_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        let lines = self.overlays.popup().map_or(0, Popup::body_lines);
        let by = match self.keymap.action_in_text(&key, Scope::Dialog) {
            Some(Action::PageDown) => 1,
            Some(Action::PageUp) => -1,
            _ => 0,
        };
        if by != 0 {
            self.overlays.scroll_popup(by, lines);
            return Vec::new();
        }
        match self.overlays.popup_mut() {
            None => Vec::new(),
            Some(Popup::Confirm { on_yes, .. }) => match self.keymap.action_in(&key, Scope::Dialog)
            {
                Some(Action::Confirm)
                    if key.code == KeyCode::Enter && on_yes.only_y().is_some() =>
                {
                    let verb = on_yes.only_y().unwrap_or_default();
                    let text = format!(
                        "press y to {verb} (Enter does not answer this question), n or Esc to cancel"
                    );
                    self.notify(text, true);
                    Vec::new()
                }
                Some(Action::Confirm) => {
                    let pending = on_yes.clone();
                    self.overlays.close_popup();
                    self.confirmed(pending)
                }
                Some(Action::Decline | Action::Cancel | Action::Back) => {
                    self.overlays.close_popup();
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Some(Popup::TypeCount {
                expected,
                typed,
                on_yes,
                ..
            }) => {
                match (self.keymap.action_in_text(&key, Scope::Dialog), key.code) {
                    (Some(Action::Cancel), _) => self.overlays.close_popup(),
                    (Some(Action::Confirm), _) if typed == expected => {
                        let pending = on_yes.clone();
                        self.overlays.close_popup();
                        return self.confirmed(pending);
                    }
                    (Some(Action::Confirm), _) => {
                        let text = format!("type {expected} to confirm, or Esc to cancel");
                        self.notify(text, true);
                    }
                    (_, KeyCode::Backspace) => {
                        typed.pop();
                    }
                    (_, KeyCode::Char(c)) if c.is_ascii_digit() => typed.push(c),
                    _ => {}
                }
                Vec::new()
            }
            Some(Popup::PickQueue {
                message_id,
                queues,
                selected,
            }) => {
                match self.keymap.action_in(&key, Scope::Browser) {
                    Some(Action::Up) => *selected = selected.saturating_sub(1),
                    Some(Action::Down) => {
                        *selected = (*selected + 1).min(queues.len().saturating_sub(1))
                    }
                    Some(Action::Open) => {
                        let (id, to) = (message_id.clone(), queues[*selected].clone());
                        self.overlays.show_popup(self.requeue_confirmation(id, to));
                    }
                    Some(Action::Back) | Some(Action::Quit) => self.overlays.close_popup(),
                    _ => {}
                }
                Vec::new()
            }
        }
    }

    fn confirmed(&mut self, pending: Pending) -> Vec<Cmd> {
        match pending {
            Pending::Browse(queue) => {
                self.focus = Pane::Queues;
                self.start_browser(queue)
            }
            Pending::Triage(queue) => {
                self.focus = Pane::Queues;
                self.start_triage(queue)
            }
            Pending::TriageDelete { ids } => self.delete_group(ids),
            Pending::TriageRequeue { ids } => self.requeue_group(ids),
            Pending::KeepRawEdit => {
                self.keep_edit();
                Vec::new()
            }
            Pending::DiscardEdit => {
                if let Some(b) = self.browser.as_mut() {
                    b.editor = None;
                }
                self.notify("edit discarded: the message is unchanged", false);
                Vec::new()
            }
            Pending::Redrive { plan, force } => self.confirmed_redrive(*plan, force),
            Pending::CancelRedrive { id } => self.cancel_redrive(id),
            Pending::StopAndQuit => self.stop_and_quit(),
            Pending::CancelMoveTask { queue, handle } => {
                vec![Cmd::Redrive(RedriveCmd::CancelMoveTask { queue, handle })]
            }
            Pending::Export {
                path,
                contents,
                count,
            } => vec![Cmd::Browser(BrowserCmd::Export {
                path,
                contents,
                count,
            })],
            Pending::Requeue { message_id, to, .. } => {
                let Some(b) = self.browser.as_mut() else {
                    return Vec::new();
                };
                let from = b.queue.clone();
                let Some(h) = b.find(&message_id) else {
                    return Vec::new();
                };
                h.state = HeldState::Working("requeueing");
                let req = RequeueRequest {
                    from,
                    message: h.message.clone(),
                    body: h.body().to_string(),
                    to,
                };
                self.sqs_requests += 2;
                vec![Cmd::Browser(BrowserCmd::Requeue(Box::new(req)))]
            }
            Pending::Delete { message_id } => {
                let Some(b) = self.browser.as_mut() else {
                    return Vec::new();
                };
                let queue = b.queue.clone();
                let Some(h) = b.find(&message_id) else {
                    return Vec::new();
                };
                h.state = HeldState::Working("deleting");
                self.sqs_requests += 1;
                vec![Cmd::Browser(BrowserCmd::Delete {
                    queue,
                    message: Box::new(h.message.clone()),
                    retry: false,
                })]
            }
        }
    }
}
