//! The message browser: the messages of one queue, held with a short visibility
//! timeout, read, edited, requeued, deleted or exported.

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::editor::Editor;
use super::popup::{Pending, Popup};
use super::{App, Cmd};
use crate::broker::{BrokerError, DEFAULT_MAX_MESSAGE_BYTES, Message, QueueRef, name_from_arn};
use crate::keymap::{Action, Scope};
use crate::recovery::{EXTEND_EVERY, RequeueOutcome, RequeueRequest};

/// Most messages the browser holds at once, unless configured.
pub(crate) const DEFAULT_CAP: usize = 500;

/// What became of a message the browser loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum HeldState {
    /// Held by us (invisible to consumers) until released.
    Held,
    /// A call is under way.
    Working(&'static str),
    Requeued {
        to: String,
        new_id: String,
    },
    Deleted,
    /// Sent, but the delete failed: the message is in both queues.
    InBoth {
        to: String,
        new_id: String,
    },
    /// Our receipt handle no longer works.
    Expired,
}

impl HeldState {
    /// Where a message is after a requeue to `to` ended so.
    pub(crate) fn after_requeue(to: &str, outcome: &RequeueOutcome) -> HeldState {
        match outcome {
            RequeueOutcome::Done { new_id } => HeldState::Requeued {
                to: to.to_string(),
                new_id: new_id.clone(),
            },
            RequeueOutcome::SendFailed(_) => HeldState::Held,
            RequeueOutcome::DeleteFailed { new_id, .. } => HeldState::InBoth {
                to: to.to_string(),
                new_id: new_id.clone(),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct Held {
    pub message: Message,
    /// The edited body, not yet requeued.
    pub edited: Option<String>,
    pub state: HeldState,
}

impl Held {
    pub fn body(&self) -> &str {
        self.edited.as_deref().unwrap_or(&self.message.body)
    }

    /// Whether we still hold it (its receipt handle is ours to release).
    pub(crate) fn is_held(&self) -> bool {
        matches!(self.state, HeldState::Held | HeldState::Working(_))
    }

    pub fn source_queue(&self) -> Option<&str> {
        self.message.dlq_source_arn.as_deref().map(name_from_arn)
    }

    /// Where a requeue sends it: the queue it came from, else the DLQ's only
    /// source queue (`sources`: the queues whose failures land in the DLQ).
    pub fn destination(&self, sources: &[String]) -> Option<String> {
        self.source_queue()
            .map(str::to_string)
            .or_else(|| (sources.len() == 1).then(|| sources[0].clone()))
    }
}

/// One queue's messages.
#[derive(Debug, Clone)]
pub struct Browser {
    pub queue: QueueRef,
    /// The queue's own maxReceiveCount, when it has a redrive policy.
    pub max_receive_count: Option<u32>,
    /// ApproximateNumberOfMessages when opened.
    pub approx_total: Option<u64>,
    /// Queues whose failures land here (ListDeadLetterSourceQueues).
    pub sources: Vec<String>,
    pub messages: Vec<Held>,
    pub loading: bool,
    pub load_error: Option<String>,
    pub cap: usize,
    /// Selected row, an index into [`Browser::visible`].
    pub selected: usize,
    pub filter: String,
    pub filter_editing: bool,
    /// The detail view, with its scroll offset, when open.
    pub detail: Option<u16>,
    pub editor: Option<Editor>,
    pub next_extend: Instant,
    pub extending: bool,
    /// The redaction rules in force (kept in step with [`App::redaction`]).
    pub redaction: Vec<String>,
    /// Showing one triage group: its messages go back to the triage on close.
    pub from_triage: bool,
    /// The triage group's name, for the title.
    pub group: Option<String>,
}

impl Browser {
    /// A browser over messages a triage already holds (one group).
    pub(crate) fn lent(
        queue: QueueRef,
        sources: Vec<String>,
        messages: Vec<Held>,
        cap: usize,
        now: Instant,
    ) -> Browser {
        Browser {
            queue,
            max_receive_count: None,
            approx_total: None,
            sources,
            messages,
            loading: false,
            load_error: None,
            cap,
            selected: 0,
            filter: String::new(),
            filter_editing: false,
            detail: None,
            editor: None,
            next_extend: now + EXTEND_EVERY,
            extending: false,
            redaction: Vec::new(),
            from_triage: true,
            group: None,
        }
    }

    /// Indices of the messages shown, after the filter. The filter matches the
    /// body and attributes as shown (masked values as their mask), so a masked
    /// value cannot be probed by typing guesses.
    pub fn visible(&self) -> Vec<usize> {
        let f = self.filter.to_lowercase();
        let rules = &self.redaction;
        (0..self.messages.len())
            .filter(|&i| {
                if f.is_empty() {
                    return true;
                }
                let h = &self.messages[i];
                crate::redact::body(h.body(), rules)
                    .to_lowercase()
                    .contains(&f)
                    || h.message.message_id.to_lowercase().contains(&f)
                    || h.message.attributes.iter().any(|(k, a)| {
                        k.to_lowercase().contains(&f)
                            || crate::redact::attribute_value(k, &a.value, rules)
                                .to_lowercase()
                                .contains(&f)
                    })
            })
            .collect()
    }

    /// The selected message, if any; `Err` says why it cannot be acted on (it is
    /// no longer held here).
    pub(crate) fn selected_held(&self) -> Option<Result<&Held, String>> {
        let h = self.selected_message()?;
        Some(if h.is_held() {
            Ok(h)
        } else {
            Err(format!("{} is no longer held here", h.message.message_id))
        })
    }

    pub fn selected_message(&self) -> Option<&Held> {
        self.visible()
            .get(self.selected)
            .map(|&i| &self.messages[i])
    }

    fn selected_index(&self) -> Option<usize> {
        self.visible().get(self.selected).copied()
    }

    pub(super) fn find(&mut self, message_id: &str) -> Option<&mut Held> {
        self.messages
            .iter_mut()
            .find(|h| h.message.message_id == message_id)
    }

    /// Receipt handles of everything still held.
    pub(crate) fn held_receipts(&self) -> Vec<String> {
        self.messages
            .iter()
            .filter(|h| h.is_held())
            .map(|h| h.message.receipt_handle.clone())
            .collect()
    }
}

/// Results of the browser's commands.
#[derive(Debug, Clone)]
pub enum BrowserMsg {
    Loaded(QueueRef, Result<Vec<Message>, BrokerError>),
    Extended(QueueRef, Vec<(String, BrokerError)>),
    Requeued(Box<RequeueRequest>, RequeueOutcome),
    Deleted {
        queue: QueueRef,
        message_id: String,
        result: Result<(), BrokerError>,
        /// A retried delete of a message already sent elsewhere.
        retry: bool,
    },
    Exported {
        path: String,
        count: usize,
        result: Result<(), String>,
    },
}

/// The browser's commands, run by the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum BrowserCmd {
    /// Releases `release` (visibility 0) first, then loads up to `cap` messages.
    Load {
        queue: QueueRef,
        release: Vec<String>,
        cap: usize,
    },
    Extend {
        queue: QueueRef,
        receipts: Vec<String>,
    },
    Release {
        queue: QueueRef,
        receipts: Vec<String>,
    },
    Requeue(Box<RequeueRequest>),
    Delete {
        queue: QueueRef,
        message: Box<Message>,
        retry: bool,
    },
    Export {
        path: String,
        contents: String,
        count: usize,
    },
}

impl App {
    /// Enter on a queue row: open its messages, after a warning where reading them
    /// counts towards their move to a DLQ.
    pub(super) fn open_browser(&mut self) -> Vec<Cmd> {
        match self.gate_reading("browsing", "Browse", Pending::Browse) {
            Some(queue) => self.start_browser(queue),
            None => Vec::new(),
        }
    }

    /// Reading a queue with a redrive policy is receiving it: each read counts
    /// towards its maxReceiveCount and can move a message to its DLQ. Read-only
    /// mode refuses; otherwise the user is asked first (`on_yes` then opens it).
    /// Returns the selected queue when it may be read at once.
    pub(super) fn gate_reading(
        &mut self,
        what: &str,
        verb: &str,
        on_yes: fn(QueueRef) -> Pending,
    ) -> Option<QueueRef> {
        let queue = self.selected_row()?.queue.clone();
        if let Some(why) = self.redrive_holding(&queue) {
            self.notify(why, true);
            return None;
        }
        let row = self.selected_row()?;
        let Some(policy) = row.attrs.as_ref().and_then(|a| a.redrive.clone()) else {
            return Some(queue);
        };
        if self.read_only {
            let text = format!(
                "read-only: {what} {} is turned off — every read counts towards its maxReceiveCount ({}) and can move a message to its DLQ; a DLQ can be read",
                queue.name, policy.max_receive_count
            );
            self.notify(text, true);
            return None;
        }
        let dlq = name_from_arn(&policy.dlq_arn).to_string();
        self.overlays.show_popup(Popup::Confirm {
            title: format!("{verb} {}?", queue.name),
            lines: vec![
                format!(
                    "Reading a message is receiving it: each read counts towards {}'s maxReceiveCount ({}).",
                    queue.name, policy.max_receive_count
                ),
                format!(
                    "Messages already received {} time(s) will move to {dlq} on their next receive.",
                    policy.max_receive_count.saturating_sub(1)
                ),
                format!("{verb} anyway? (y/Enter: yes, n/Esc: no)"),
            ],
            on_yes: on_yes(queue),
        });
        None
    }

    pub(super) fn start_browser(&mut self, queue: QueueRef) -> Vec<Cmd> {
        let row = self.row_index(&queue).map(|i| &self.queues[i]);
        let attrs = row.and_then(|r| r.attrs.as_ref());
        let sources = self.sources_of(&queue);
        self.browser = Some(Browser {
            max_receive_count: attrs
                .and_then(|a| a.redrive.as_ref())
                .map(|p| p.max_receive_count),
            approx_total: attrs.map(|a| a.visible),
            sources,
            messages: Vec::new(),
            loading: true,
            load_error: None,
            cap: self.browse_cap,
            selected: 0,
            filter: String::new(),
            filter_editing: false,
            detail: None,
            editor: None,
            next_extend: self.now + EXTEND_EVERY,
            extending: false,
            redaction: self.redaction(),
            from_triage: false,
            group: None,
            queue: queue.clone(),
        });
        self.sqs_requests += 1;
        vec![Cmd::Browser(BrowserCmd::Load {
            queue,
            release: Vec::new(),
            cap: self.browse_cap,
        })]
    }

    /// Closes the browser, releasing everything it holds.
    pub(super) fn close_browser(&mut self) -> Vec<Cmd> {
        let Some(b) = self.browser.take() else {
            return Vec::new();
        };
        if b.from_triage {
            // Still held: the triage keeps them.
            self.return_lent(b.messages);
            return Vec::new();
        }
        let receipts = b.held_receipts();
        self.hurry(&b.queue.name);
        if receipts.is_empty() {
            return Vec::new();
        }
        vec![Cmd::Browser(BrowserCmd::Release {
            queue: b.queue,
            receipts,
        })]
    }

    /// Polls a queue's attributes soon (after a change we made).
    fn hurry(&mut self, name: &str) {
        if let Some(i) = self.index_of_name(name) {
            self.queues[i].schedule.hurry();
        }
    }

    /// The browser's part of a tick: extend held messages before they expire.
    pub(super) fn browser_tick(&mut self) -> Vec<Cmd> {
        let now = self.now;
        let Some(b) = self.browser.as_mut() else {
            return Vec::new();
        };
        if b.loading || b.extending || now < b.next_extend {
            return Vec::new();
        }
        b.next_extend = now + EXTEND_EVERY;
        let receipts = b.held_receipts();
        if receipts.is_empty() {
            return Vec::new();
        }
        b.extending = true;
        vec![Cmd::Browser(BrowserCmd::Extend {
            queue: b.queue.clone(),
            receipts,
        })]
    }

    pub(super) fn on_browser_msg(&mut self, msg: BrowserMsg) -> Vec<Cmd> {
        self.dirty = true;
        match msg {
            BrowserMsg::Loaded(queue, result) => {
                let Some(b) = self.browser.as_mut().filter(|b| b.queue == queue) else {
                    // The browser closed while loading: give the messages back.
                    return match result {
                        Ok(ms) if !ms.is_empty() => vec![Cmd::Browser(BrowserCmd::Release {
                            queue,
                            receipts: ms.into_iter().map(|m| m.receipt_handle).collect(),
                        })],
                        _ => Vec::new(),
                    };
                };
                b.loading = false;
                b.next_extend = self.now + EXTEND_EVERY;
                match result {
                    Ok(ms) => {
                        b.load_error = None;
                        // Edits not yet requeued survive a reload.
                        let previous = std::mem::take(&mut b.messages);
                        let edit_of = |id: &str| {
                            previous
                                .iter()
                                .find(|h| h.message.message_id == id)
                                .and_then(|h| h.edited.clone())
                        };
                        // So does "in both queues": requeueing it again would send a second copy.
                        let state_of = |id: &str| {
                            previous
                                .iter()
                                .find(|h| h.message.message_id == id)
                                .map(|h| h.state.clone())
                                .filter(|s| matches!(s, HeldState::InBoth { .. }))
                                .unwrap_or(HeldState::Held)
                        };
                        b.messages = ms
                            .into_iter()
                            .map(|message| Held {
                                edited: edit_of(&message.message_id),
                                state: state_of(&message.message_id),
                                message,
                            })
                            .collect();
                        let lost = b
                            .editor
                            .as_ref()
                            .filter(|e| {
                                !b.messages
                                    .iter()
                                    .any(|h| h.message.message_id == e.message_id)
                            })
                            .map(|e| e.message_id.clone());
                        b.selected = b.selected.min(b.messages.len().saturating_sub(1));
                        if let Some(id) = lost {
                            self.notify(
                                format!("{id} is no longer held here (someone else received it); your edit cannot be kept"),
                                true,
                            );
                        }
                    }
                    Err(e) => b.load_error = Some(e.to_string()),
                }
                Vec::new()
            }
            BrowserMsg::Extended(queue, failed) => {
                let Some(b) = self.browser.as_mut().filter(|b| b.queue == queue) else {
                    return Vec::new();
                };
                b.extending = false;
                if failed.is_empty() {
                    return Vec::new();
                }
                for h in &mut b.messages {
                    if failed.iter().any(|(r, _)| *r == h.message.receipt_handle) {
                        h.state = HeldState::Expired;
                    }
                }
                let reason = failed[0].1.to_string();
                let text = format!(
                    "{} held message(s) in {} expired under us ({reason}); someone else may hold them now — reloading",
                    failed.len(),
                    queue.name
                );
                self.notify(text, true);
                self.reload_browser()
            }
            BrowserMsg::Requeued(req, outcome) => {
                let text = outcome.describe(&req);
                let error = !matches!(outcome, RequeueOutcome::Done { .. });
                if let Some(b) = self.browser.as_mut()
                    && let Some(h) = b.find(&req.message.message_id)
                {
                    h.state = HeldState::after_requeue(&req.to, &outcome);
                }
                self.hurry(&req.from.name);
                self.hurry(&req.to);
                self.notify(text, error);
                Vec::new()
            }
            BrowserMsg::Deleted {
                queue,
                message_id,
                result,
                retry,
            } => {
                let text = match &result {
                    Ok(()) if retry => format!(
                        "deleted {message_id} from {}: it is now only in its destination",
                        queue.name
                    ),
                    Ok(()) => format!("deleted {message_id} from {}", queue.name),
                    Err(e) => format!(
                        "delete of {message_id} failed ({e}); it is still in {}",
                        queue.name
                    ),
                };
                if let Some(b) = self.browser.as_mut()
                    && let Some(h) = b.find(&message_id)
                {
                    h.state = match (&result, std::mem::replace(&mut h.state, HeldState::Held)) {
                        (Ok(()), HeldState::InBoth { to, new_id }) => {
                            HeldState::Requeued { to, new_id }
                        }
                        (Ok(()), _) => HeldState::Deleted,
                        (Err(_), HeldState::InBoth { to, new_id }) => {
                            HeldState::InBoth { to, new_id }
                        }
                        (Err(_), _) => HeldState::Held,
                    };
                }
                self.hurry(&queue.name);
                self.notify(text, result.is_err());
                Vec::new()
            }
            BrowserMsg::Exported {
                path,
                count,
                result,
            } => {
                match result {
                    Ok(()) => self.notify(format!("exported {count} message(s) to {path}"), false),
                    Err(e) => self.notify(format!("export to {path} failed: {e}"), true),
                }
                Vec::new()
            }
        }
    }

    fn reload_browser(&mut self) -> Vec<Cmd> {
        if self.browser.as_ref().is_some_and(|b| b.from_triage) {
            self.notify(
                "a triage group is not reloaded: Esc goes back to the triage",
                true,
            );
            return Vec::new();
        }
        let Some(b) = self.browser.as_mut() else {
            return Vec::new();
        };
        let release = b.held_receipts();
        b.loading = true;
        for h in &mut b.messages {
            if h.is_held() {
                h.state = HeldState::Working("reloading");
            }
        }
        self.sqs_requests += 1;
        vec![Cmd::Browser(BrowserCmd::Load {
            queue: b.queue.clone(),
            release,
            cap: b.cap,
        })]
    }

    /// A key while the browser is open (popups and help are handled before).
    pub(super) fn on_browser_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        let rules = self.redaction();
        let Some(b) = self.browser.as_mut() else {
            return Vec::new();
        };
        if b.editor.is_some() {
            return self.on_editor_key(key);
        }
        if b.filter_editing {
            match key.code {
                KeyCode::Enter => b.filter_editing = false,
                KeyCode::Esc => {
                    b.filter_editing = false;
                    b.filter.clear();
                }
                KeyCode::Backspace => {
                    b.filter.pop();
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    b.filter.push(c);
                    b.selected = 0;
                }
                _ => {}
            }
            return Vec::new();
        }
        let Some(action) = self.keymap.action_in(&key, Scope::Browser) else {
            return Vec::new();
        };
        if self.refuses(action) {
            return Vec::new();
        }
        let Some(b) = self.browser.as_mut() else {
            return Vec::new();
        };
        let count = b.visible().len();
        match action {
            Action::Quit => return self.quit(),
            Action::Help => self.overlays.open_help(),
            Action::Back => {
                if b.detail.is_some() {
                    b.detail = None;
                } else if !b.filter.is_empty() {
                    b.filter.clear();
                } else {
                    return self.close_browser();
                }
            }
            Action::Up | Action::Down | Action::Top | Action::Bottom => {
                let delta: i64 = match action {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::Top => i64::MIN / 2,
                    _ => i64::MAX / 2,
                };
                match b.detail.as_mut() {
                    Some(scroll) => {
                        *scroll = (*scroll as i64 + delta).clamp(0, u16::MAX as i64) as u16;
                    }
                    None if count > 0 => {
                        b.selected =
                            (b.selected as i64 + delta).clamp(0, count as i64 - 1) as usize;
                    }
                    None => {}
                }
            }
            Action::Open if b.selected_message().is_some() => b.detail = Some(0),
            Action::Filter => b.filter_editing = true,
            Action::Reload => return self.reload_browser(),
            Action::Present | Action::Reveal => self.toggle_view(action),
            Action::Edit => {
                let h = match b.selected_held() {
                    Some(Ok(h)) => h,
                    Some(Err(why)) => return self.refuse(why),
                    None => return Vec::new(),
                };
                if crate::redact::hides_something(h.body(), &rules) {
                    self.notify(
                        "this message has redacted fields: reveal them (u) before editing",
                        true,
                    );
                    return Vec::new();
                }
                let dest = h.destination(&b.sources);
                let limit = dest
                    .as_deref()
                    .and_then(|d| {
                        // The source queue lives where the DLQ does.
                        let home = &b.queue.place;
                        self.queues
                            .iter()
                            .find(|r| r.queue.name == d && home.holds(&r.queue.place))
                    })
                    .and_then(|r| r.attrs.as_ref())
                    .map_or(DEFAULT_MAX_MESSAGE_BYTES, |a| a.max_message_size);
                let editor = Editor::new(h, limit, dest);
                if let Some(b) = self.browser.as_mut() {
                    b.editor = Some(editor);
                }
            }
            Action::Requeue => return self.ask_requeue(),
            Action::Delete => {
                let h = match b.selected_held() {
                    Some(Ok(h)) => h,
                    Some(Err(why)) => return self.refuse(why),
                    None => return Vec::new(),
                };
                let id = h.message.message_id.clone();
                let preview = crate::format::truncate(
                    &crate::json_text::one_line(&crate::redact::body(h.body(), &rules)),
                    60,
                );
                self.overlays.show_popup(Popup::Confirm {
                    title: "Delete this message?".into(),
                    lines: vec![
                        format!("Delete {id} from {} for good?", b.queue.name),
                        preview,
                        "y/Enter: delete, n/Esc: keep".into(),
                    ],
                    on_yes: Pending::Delete { message_id: id },
                });
            }
            Action::RetryDelete => {
                let Some(h) = b.selected_message() else {
                    return Vec::new();
                };
                if !matches!(h.state, HeldState::InBoth { .. }) {
                    self.notify("nothing to retry: this message is not in two queues", true);
                    return Vec::new();
                }
                return vec![Cmd::Browser(BrowserCmd::Delete {
                    queue: b.queue.clone(),
                    message: Box::new(h.message.clone()),
                    retry: true,
                })];
            }
            Action::Export | Action::ExportAll => {
                let picked: Vec<usize> = if action == Action::Export {
                    b.selected_index().into_iter().collect()
                } else {
                    b.visible()
                };
                let name = b.queue.name.clone();
                let held: Vec<Held> = picked.iter().map(|&i| b.messages[i].clone()).collect();
                let refs: Vec<&Held> = held.iter().collect();
                return self.export_messages(&name, &refs);
            }
            _ => {}
        }
        Vec::new()
    }

    /// Whether read-only mode refuses `action` (and says so).
    /// Says why not, and does nothing.
    pub(super) fn refuse(&mut self, why: String) -> Vec<Cmd> {
        self.notify(why, true);
        Vec::new()
    }

    pub(super) fn refuses(&mut self, action: Action) -> bool {
        let refused = action.mutates() && self.read_only;
        if refused {
            self.notify(
                format!("read-only: {} is turned off", action.describe()),
                true,
            );
        }
        refused
    }
}
