//! Triage: a whole queue received, grouped by cause, each group fixed its own way
//! (browse it, export it, delete it, fix it with jq, requeue it).
//!
//! Everything received stays hidden while the view is open (extended every
//! [`scan::EXTEND_EVERY`]) and is given back when it closes or lazysqs quits.

use std::collections::HashMap;
use std::time::Instant;

use crossterm::event::KeyEvent;

use super::browser::{Browser, Held, HeldState};
use super::popup::{Pending, Popup};
use super::{App, Cmd};
use crate::broker::{BrokerError, Message, QueueRef};
use crate::keymap::{Action, Scope};
use crate::recovery::{RequeueOutcome, RequeueRequest};
use crate::triage::{Group, GroupBy, group, scan};

mod fix;

pub use fix::{Diff, Fix, FixPreview};

/// How often the groups are recomputed while a scan streams in.
const REGROUP_EVERY: std::time::Duration = std::time::Duration::from_millis(700);

/// One queue's triage.
#[derive(Debug, Clone)]
pub struct Triage {
    /// Tells this scan's messages from an earlier one's.
    pub id: u64,
    pub queue: QueueRef,
    /// Queues whose failures land here, for messages without a source on record.
    pub sources: Vec<String>,
    /// ApproximateNumberOfMessages when opened.
    pub approx_total: Option<u64>,
    pub cap: usize,
    pub messages: Vec<Held>,
    by_id: HashMap<String, usize>,
    pub scanning: bool,
    /// The scan reached the queue's end.
    pub complete: bool,
    pub error: Option<String>,
    pub by: GroupBy,
    /// The groups of the messages still held, largest first.
    pub groups: Vec<Group>,
    pub selected: usize,
    pub next_extend: Instant,
    pub extending: bool,
    regroup_at: Instant,
    pub fix: Option<Fix>,
    /// Messages lent to the browser (Enter on a group), by id.
    pub lent: std::collections::HashSet<String>,
}

impl Triage {
    /// The messages of the selected group.
    pub(crate) fn selected_group(&self) -> Option<&Group> {
        self.groups.get(self.selected)
    }

    /// Regroups the messages still held here (not lent, not moved or deleted).
    pub(crate) fn regroup(&mut self) {
        let held: Vec<usize> = (0..self.messages.len())
            .filter(|&i| {
                let h = &self.messages[i];
                h.is_held() && !self.lent.contains(&h.message.message_id)
            })
            .collect();
        let key = self.selected_group().map(|g| g.key.clone());
        let mut groups = group(held.iter().map(|&i| &self.messages[i].message), &self.by);
        for g in &mut groups {
            for m in &mut g.members {
                *m = held[*m];
            }
        }
        self.groups = groups;
        // The selection follows its group.
        self.selected = key
            .and_then(|k| self.groups.iter().position(|g| g.key == k))
            .unwrap_or(self.selected)
            .min(self.groups.len().saturating_sub(1));
    }

    /// One message of a group's requeue or delete has its answer. Regrouping
    /// parses every body, so while the others are still under way the message
    /// only leaves its group (when it is no longer held); the last answer
    /// regroups.
    fn settled(&mut self, message_id: &str) {
        let still_working = self
            .messages
            .iter()
            .any(|h| matches!(h.state, HeldState::Working(_)));
        if !still_working {
            self.regroup();
            return;
        }
        let Some(&i) = self.by_id.get(message_id) else {
            return;
        };
        if self.messages[i].is_held() {
            return;
        }
        for g in &mut self.groups {
            g.members.retain(|&m| m != i);
        }
        self.groups.retain(|g| !g.members.is_empty());
        self.selected = self.selected.min(self.groups.len().saturating_sub(1));
    }

    /// Receipts of everything held here (not lent to the browser).
    pub(crate) fn held_receipts(&self) -> Vec<String> {
        self.messages
            .iter()
            .filter(|h| h.is_held() && !self.lent.contains(&h.message.message_id))
            .map(|h| h.message.receipt_handle.clone())
            .collect()
    }

    /// How many messages are held (lent ones included).
    pub(crate) fn held_count(&self) -> usize {
        self.messages.iter().filter(|h| h.is_held()).count()
    }

    fn find(&mut self, message_id: &str) -> Option<&mut Held> {
        let i = *self.by_id.get(message_id)?;
        self.messages.get_mut(i)
    }

    fn groupings(&self) -> Vec<GroupBy> {
        let (fields, attributes) =
            crate::triage::group::fields_and_attributes(self.messages.iter().map(|h| &h.message));
        GroupBy::cycle(&fields, &attributes)
    }
}

/// Results of triage commands.
#[derive(Debug, Clone)]
pub enum TriageMsg {
    Scanned {
        id: u64,
        queue: QueueRef,
        batch: Vec<Message>,
    },
    ScanDone {
        id: u64,
        complete: bool,
        error: Option<String>,
    },
    Extended {
        id: u64,
        failed: usize,
        reason: Option<String>,
    },
    Requeued(u64, Box<RequeueRequest>, RequeueOutcome),
    Deleted {
        id: u64,
        message_id: String,
        result: Result<(), BrokerError>,
    },
}

/// Triage commands, run by the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum TriageCmd {
    /// Receives up to `cap` messages, streaming them back as `Scanned`.
    Scan {
        id: u64,
        queue: QueueRef,
        cap: usize,
    },
    StopScan {
        id: u64,
    },
    Extend {
        id: u64,
        queue: QueueRef,
        receipts: Vec<String>,
    },
    Release {
        queue: QueueRef,
        receipts: Vec<String>,
    },
    /// Send, then delete, each one.
    Requeue {
        id: u64,
        requests: Vec<RequeueRequest>,
    },
    Delete {
        id: u64,
        queue: QueueRef,
        messages: Vec<Message>,
    },
}

impl App {
    /// `t` on a queue row: scan it, after the same warning as browsing where
    /// reading counts towards a move to a DLQ.
    pub(super) fn open_triage(&mut self) -> Vec<Cmd> {
        match self.gate_reading("triage of", "Triage", Pending::Triage) {
            Some(queue) => self.start_triage(queue),
            None => Vec::new(),
        }
    }

    pub(super) fn start_triage(&mut self, queue: QueueRef) -> Vec<Cmd> {
        let sources = self.sources_of(&queue);
        let approx_total = self
            .row_index(&queue)
            .and_then(|i| self.queues[i].attrs.as_ref())
            .map(|a| a.visible);
        self.next_triage_id += 1;
        let id = self.next_triage_id;
        let cap = self.triage_cap;
        self.triage = Some(Triage {
            id,
            queue: queue.clone(),
            sources,
            approx_total,
            cap,
            messages: Vec::new(),
            by_id: HashMap::new(),
            scanning: true,
            complete: false,
            error: None,
            by: GroupBy::Shape,
            groups: Vec::new(),
            selected: 0,
            next_extend: self.now + scan::EXTEND_EVERY,
            extending: false,
            regroup_at: self.now,
            fix: None,
            lent: Default::default(),
        });
        vec![Cmd::Triage(TriageCmd::Scan { id, queue, cap })]
    }

    /// Closes triage: stops a running scan and gives every message back.
    pub(super) fn close_triage(&mut self) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        if self.browser.as_ref().is_some_and(|b| b.from_triage) {
            cmds.extend(self.close_browser());
        }
        let Some(t) = self.triage.take() else {
            return cmds;
        };
        if t.scanning {
            cmds.push(Cmd::Triage(TriageCmd::StopScan { id: t.id }));
        }
        let receipts = t.held_receipts();
        if !receipts.is_empty() {
            cmds.push(Cmd::Triage(TriageCmd::Release {
                queue: t.queue.clone(),
                receipts,
            }));
        }
        if let Some(i) = self.row_index(&t.queue) {
            self.queues[i].schedule.hurry();
        }
        cmds
    }

    /// Triage's part of a tick: extend what it holds, regroup a streaming scan.
    pub(super) fn triage_tick(&mut self) -> Vec<Cmd> {
        let now = self.now;
        let Some(t) = self.triage.as_mut() else {
            return Vec::new();
        };
        if t.scanning && now >= t.regroup_at {
            t.regroup_at = now + REGROUP_EVERY;
            t.regroup();
            self.dirty = true;
        }
        if t.extending || now < t.next_extend {
            return Vec::new();
        }
        t.next_extend = now + scan::EXTEND_EVERY;
        let receipts = t.held_receipts();
        if receipts.is_empty() {
            return Vec::new();
        }
        t.extending = true;
        vec![Cmd::Triage(TriageCmd::Extend {
            id: t.id,
            queue: t.queue.clone(),
            receipts,
        })]
    }

    pub(super) fn on_triage_msg(&mut self, msg: TriageMsg) -> Vec<Cmd> {
        self.dirty = true;
        let current = self.triage.as_ref().map(|t| t.id);
        match msg {
            TriageMsg::Scanned { id, queue, batch } => {
                let Some(t) = self.triage.as_mut().filter(|_| current == Some(id)) else {
                    // The view closed while scanning: give them straight back.
                    return give_back_batch(queue, batch);
                };
                for m in batch {
                    match t.by_id.get(&m.message_id) {
                        Some(&i) => t.messages[i].message = m,
                        None => {
                            t.by_id.insert(m.message_id.clone(), t.messages.len());
                            t.messages.push(Held {
                                message: m,
                                edited: None,
                                state: HeldState::Held,
                            });
                        }
                    }
                }
                Vec::new()
            }
            TriageMsg::ScanDone {
                id,
                complete,
                error,
            } => {
                if let Some(t) = self.triage.as_mut().filter(|_| current == Some(id)) {
                    t.scanning = false;
                    t.complete = complete;
                    t.error = error;
                    t.regroup();
                }
                Vec::new()
            }
            TriageMsg::Extended { id, failed, reason } => {
                if let Some(t) = self.triage.as_mut().filter(|_| current == Some(id)) {
                    t.extending = false;
                    if failed > 0 {
                        let text = format!(
                            "{failed} held message(s) could not be kept hidden ({}); they may be visible to consumers again",
                            reason.unwrap_or_default()
                        );
                        self.notify(text, true);
                    }
                }
                Vec::new()
            }
            TriageMsg::Requeued(id, req, outcome) => {
                let text = outcome.describe(&req);
                let failed = !matches!(outcome, RequeueOutcome::Done { .. });
                if let Some(t) = self.triage.as_mut().filter(|_| current == Some(id))
                    && let Some(h) = t.find(&req.message.message_id)
                {
                    h.state = HeldState::after_requeue(&req.to, &outcome);
                    t.settled(&req.message.message_id);
                }
                if failed {
                    self.notify(text, true);
                } else {
                    self.triage_progress("requeued");
                }
                Vec::new()
            }
            TriageMsg::Deleted {
                id,
                message_id,
                result,
            } => {
                if let Some(t) = self.triage.as_mut().filter(|_| current == Some(id))
                    && let Some(h) = t.find(&message_id)
                {
                    h.state = if result.is_ok() {
                        HeldState::Deleted
                    } else {
                        HeldState::Held
                    };
                    t.settled(&message_id);
                }
                match result {
                    Ok(()) => self.triage_progress("deleted"),
                    Err(e) => self.notify(
                        format!("delete of {message_id} failed ({e}); it is still in the queue"),
                        true,
                    ),
                }
                Vec::new()
            }
        }
    }

    /// "requeued 40, 110 to go" while a group's requeue or delete runs.
    fn triage_progress(&mut self, done: &str) {
        let Some(t) = self.triage.as_ref() else {
            return;
        };
        let working = t
            .messages
            .iter()
            .filter(|h| matches!(h.state, HeldState::Working(_)))
            .count();
        let finished = t
            .messages
            .iter()
            .filter(|h| match done {
                "deleted" => h.state == HeldState::Deleted,
                _ => matches!(h.state, HeldState::Requeued { .. }),
            })
            .count();
        let text = if working == 0 {
            format!("{done} {finished} message(s) in all from {}", t.queue.name)
        } else {
            format!("{done} {finished}, {working} to go")
        };
        self.notify(text, false);
    }

    /// A key while triage is open (and no browser over it).
    pub(super) fn on_triage_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        if self.triage.as_ref().is_some_and(|t| t.fix.is_some()) {
            return self.on_fix_key(key);
        }
        let action = self
            .keymap
            .action_in(&key, Scope::Triage)
            .or_else(|| self.keymap.action_in(&key, Scope::Browser))
            .or_else(|| {
                // The dashboard's R works on a group.
                let a = self.keymap.action_in(&key, Scope::Dashboard);
                a.filter(|a| *a == Action::Redrive)
            });
        let Some(action) = action else {
            return Vec::new();
        };
        if self.refuses(action) {
            return Vec::new();
        }
        let Some(t) = self.triage.as_mut() else {
            return Vec::new();
        };
        let count = t.groups.len();
        match action {
            Action::Quit => return self.quit(),
            Action::Help => {
                self.overlays.open_help();
            }
            Action::Back => return self.close_triage(),
            Action::Up
            | Action::Down
            | Action::Top
            | Action::Bottom
            | Action::PageUp
            | Action::PageDown => {
                let delta: i64 = match action {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::PageUp => -10,
                    Action::PageDown => 10,
                    Action::Top => i64::MIN / 2,
                    _ => i64::MAX / 2,
                };
                if count > 0 {
                    t.selected = (t.selected as i64 + delta).clamp(0, count as i64 - 1) as usize;
                }
            }
            Action::GroupBy => {
                let all = t.groupings();
                let i = all.iter().position(|b| *b == t.by).map_or(0, |i| i + 1);
                t.by = all[i % all.len()].clone();
                t.selected = 0;
                t.regroup();
                let text = format!("grouped by {}", t.by);
                self.notify(text, false);
            }
            Action::Present | Action::Reveal => self.toggle_view(action),
            Action::Open => return self.open_group(),
            Action::Export | Action::ExportAll => return self.export_group(),
            Action::Delete => self.ask_delete_group(),
            Action::Requeue => self.ask_requeue_group(),
            Action::Edit if t.selected_group().is_some() => {
                t.fix = Some(Fix {
                    expression: String::new(),
                    error: None,
                    preview: None,
                });
            }
            Action::Redrive => return self.redrive_group(),
            _ => {}
        }
        Vec::new()
    }

    /// `R`: the bulk redrive dialog for just the selected group (by message id).
    /// Triage gives every message back first: a redrive cannot move what
    /// triage holds. Bodies go as they are in the queue; fixed bodies go with `r`.
    fn redrive_group(&mut self) -> Vec<Cmd> {
        let messages = self.group_messages();
        let Some(t) = self.triage.as_ref() else {
            return Vec::new();
        };
        let Some(g) = t.selected_group() else {
            return Vec::new();
        };
        if messages.is_empty() {
            return Vec::new();
        }
        let fixed = messages.iter().filter(|h| h.edited.is_some()).count();
        let group = crate::redrive::Filter::Ids {
            label: format!("\"{}\"", g.key),
            ids: std::sync::Arc::new(
                messages
                    .iter()
                    .map(|h| h.message.message_id.clone())
                    .collect(),
            ),
        };
        let queue = t.queue.clone();
        let held = t.held_count();
        let mut cmds = self.close_triage();
        self.selected = Some(queue.url.clone());
        cmds.extend(self.open_redrive());
        if self.overlays.form().is_some() && held > 0 {
            let text = format!(
                "triage gave back its {held} messages of {} first: a redrive cannot move what a view holds",
                queue.name
            );
            self.notify(text, false);
        }
        if let Some(form) = self.overlays.form_mut() {
            form.group = Some(group);
            if fixed > 0 {
                form.error = Some(format!(
                    "{fixed} fixed bodies are not part of a redrive (it moves what is in the queue): Esc, then r in triage sends them fixed"
                ));
            }
        }
        cmds
    }

    /// The messages of the selected group that are still held, as clones.
    fn group_messages(&self) -> Vec<Held> {
        let Some(t) = self.triage.as_ref() else {
            return Vec::new();
        };
        t.selected_group()
            .map(|g| {
                g.members
                    .iter()
                    .map(|&i| t.messages[i].clone())
                    .filter(Held::is_held)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Enter: the message browser over just this group (its messages stay held;
    /// they come back here when the browser closes).
    fn open_group(&mut self) -> Vec<Cmd> {
        let messages = self.group_messages();
        let Some(t) = self.triage.as_mut() else {
            return Vec::new();
        };
        if messages.is_empty() {
            return Vec::new();
        }
        t.lent = messages
            .iter()
            .map(|h| h.message.message_id.clone())
            .collect();
        let (queue, sources) = (t.queue.clone(), t.sources.clone());
        let title = t.selected_group().map(|g| g.key.clone());
        let mut b = Browser::lent(queue, sources, messages, self.browse_cap, self.now);
        b.group = title;
        b.redaction = self.redaction();
        self.browser = Some(b);
        Vec::new()
    }

    /// The browser over a triage group closed: its messages come back here.
    pub(super) fn return_lent(&mut self, messages: Vec<Held>) {
        let now = self.now;
        let Some(t) = self.triage.as_mut() else {
            return;
        };
        for h in messages {
            if let Some(mine) = t.find(&h.message.message_id) {
                *mine = h;
            }
        }
        t.lent.clear();
        // The browser held them for a minute at a time: hold them for longer now.
        t.next_extend = now;
        t.regroup();
    }

    fn export_group(&mut self) -> Vec<Cmd> {
        let messages = self.group_messages();
        let Some(t) = self.triage.as_ref() else {
            return Vec::new();
        };
        let name = t.queue.name.clone();
        let refs: Vec<&Held> = messages.iter().collect();
        self.export_messages(&name, &refs)
    }

    fn ask_delete_group(&mut self) {
        let messages = self.group_messages();
        let Some(t) = self.triage.as_ref() else {
            return;
        };
        let Some(g) = t.selected_group() else {
            return;
        };
        if messages.is_empty() {
            return;
        }
        let n = messages.len();
        self.overlays.show_popup(Popup::TypeCount {
            title: format!("Delete {n} messages?"),
            lines: vec![
                format!(
                    "Delete every message of the group \"{}\" from {} for good: {n} message(s).",
                    g.key, t.queue.name
                ),
                "Export them first (x) if they may be needed.".into(),
                format!("Type {n} and press Enter to delete them; Esc cancels."),
            ],
            expected: n.to_string(),
            typed: String::new(),
            on_yes: Pending::TriageDelete {
                ids: messages
                    .iter()
                    .map(|h| h.message.message_id.clone())
                    .collect(),
            },
        });
    }

    fn ask_requeue_group(&mut self) {
        let messages = self.group_messages();
        let Some(t) = self.triage.as_ref() else {
            return;
        };
        let Some(g) = t.selected_group() else {
            return;
        };
        let mut to: std::collections::BTreeMap<String, usize> = Default::default();
        let mut nowhere = 0;
        for h in &messages {
            match h.destination(&t.sources) {
                Some(q) => *to.entry(q).or_default() += 1,
                None => nowhere += 1,
            }
        }
        if nowhere > 0 {
            let text = format!(
                "{nowhere} message(s) of this group have no source queue on record: open the group (Enter) and requeue them one by one (r asks where)"
            );
            self.notify(text, true);
            return;
        }
        let edited = messages.iter().filter(|h| h.edited.is_some()).count();
        let n = messages.len();
        let dests: Vec<String> = to.iter().map(|(q, c)| format!("{q} ({c})")).collect();
        self.overlays.show_popup(Popup::Confirm {
            title: format!("Requeue {n} messages?"),
            lines: vec![
                format!(
                    "Send the {n} message(s) of \"{}\" to {}, then delete each from {}.",
                    g.key,
                    dests.join(", "),
                    t.queue.name
                ),
                if edited > 0 {
                    format!(
                        "{edited} go with FIXED bodies, {} unchanged; every attribute goes with them.",
                        n - edited
                    )
                } else {
                    "They go unchanged, with every message attribute.".into()
                },
                "y/Enter: requeue, n/Esc: cancel".into(),
            ],
            on_yes: Pending::TriageRequeue {
                ids: messages
                    .iter()
                    .map(|h| h.message.message_id.clone())
                    .collect(),
            },
        });
    }

    /// The group's requeue, confirmed.
    pub(super) fn requeue_group(&mut self, ids: Vec<String>) -> Vec<Cmd> {
        let Some(t) = self.triage.as_mut() else {
            return Vec::new();
        };
        let (from, sources) = (t.queue.clone(), t.sources.clone());
        let mut requests = Vec::new();
        for id in &ids {
            let Some(h) = t.find(id).filter(|h| h.is_held()) else {
                continue;
            };
            let Some(to) = h.destination(&sources) else {
                continue;
            };
            h.state = HeldState::Working("requeueing");
            requests.push(RequeueRequest {
                from: from.clone(),
                message: h.message.clone(),
                body: h.body().to_string(),
                to,
            });
        }
        self.sqs_requests += 3 * requests.len() as u64;
        let id = t.id;
        vec![Cmd::Triage(TriageCmd::Requeue { id, requests })]
    }

    /// The group's delete, confirmed.
    pub(super) fn delete_group(&mut self, ids: Vec<String>) -> Vec<Cmd> {
        let Some(t) = self.triage.as_mut() else {
            return Vec::new();
        };
        let mut messages = Vec::new();
        for id in &ids {
            if let Some(h) = t.find(id).filter(|h| h.is_held()) {
                h.state = HeldState::Working("deleting");
                messages.push(h.message.clone());
            }
        }
        self.sqs_requests += 2 * messages.len() as u64;
        vec![Cmd::Triage(TriageCmd::Delete {
            id: t.id,
            queue: t.queue.clone(),
            messages,
        })]
    }
}

fn give_back_batch(queue: QueueRef, batch: Vec<Message>) -> Vec<Cmd> {
    if batch.is_empty() {
        return Vec::new();
    }
    vec![Cmd::Triage(TriageCmd::Release {
        queue,
        receipts: batch.into_iter().map(|m| m.receipt_handle).collect(),
    })]
}
