//! The `R` dialog: its fields, the request they describe, and its keys.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::RedriveCmd;
use crate::app::overlay::Overlay;
use crate::app::{App, Cmd};
use crate::broker::QueueRef;
use crate::keymap::{Action, Scope};
use crate::redrive::canary::Canary;
use crate::redrive::{ClientOptions, Destination, Filter, ModePreference, Request};

/// A field of the redrive dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedriveField {
    Destination,
    Rate,
    HowMany,
    Mode,
    Canary,
    Filter,
}

impl RedriveField {
    /// Every field, in the dialog's order.
    pub const ALL: [RedriveField; 6] = [
        RedriveField::Destination,
        RedriveField::Rate,
        RedriveField::HowMany,
        RedriveField::Mode,
        RedriveField::Canary,
        RedriveField::Filter,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RedriveField::Destination => "destination",
            RedriveField::Rate => "rate (msg/s)",
            RedriveField::HowMany => "how many",
            RedriveField::Mode => "mode",
            RedriveField::Canary => "canary",
            RedriveField::Filter => "filter",
        }
    }

    /// Typed into, rather than chosen with ←→.
    pub(crate) fn is_text(self) -> bool {
        matches!(
            self,
            RedriveField::Rate | RedriveField::HowMany | RedriveField::Filter
        )
    }

    /// The next field (or the one before), wrapping around.
    fn step(self, back: bool) -> RedriveField {
        let n = Self::ALL.len();
        let i = Self::ALL.iter().position(|f| *f == self).unwrap_or(0);
        Self::ALL[if back { (i + n - 1) % n } else { (i + 1) % n }]
    }
}

/// The `R` dialog.
#[derive(Debug, Clone, PartialEq)]
pub struct RedriveForm {
    pub dlq: QueueRef,
    /// "own source" first, then every other watched queue (named with its region
    /// and account when those differ), as shown.
    pub destinations: Vec<String>,
    /// The queue behind each of `destinations` after the first.
    pub targets: Vec<QueueRef>,
    pub destination: usize,
    pub rate: String,
    /// Empty: all.
    pub max: String,
    pub mode: ModePreference,
    /// Start at 1 msg/s and halt when messages come back.
    pub canary: bool,
    /// The DLQ's own inflow when the dialog opened, messages per second.
    pub background: f64,
    pub filter: String,
    /// A triage group to move, instead of a typed filter.
    pub group: Option<Filter>,
    /// The focused field.
    pub field: RedriveField,
    pub error: Option<String>,
    /// A plan is being made (checks against the queues).
    pub planning: bool,
    /// What the user should know before choosing (a move task already running).
    pub note: Option<String>,
}

impl RedriveForm {
    pub(crate) fn mode_label(&self) -> &'static str {
        match self.mode {
            ModePreference::Auto => "auto (SQS move task where it can serve)",
            ModePreference::MoveTask => "SQS move task",
            ModePreference::ClientSide => "client-side",
        }
    }

    /// The request the form describes, or what is wrong with it.
    pub fn request(&self) -> Result<Request, String> {
        let rate = match self.rate.trim() {
            "" => None,
            r => Some(r.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                format!("rate: {r:?} is not a whole number of messages per second ≥ 1")
            })?),
        };
        let max = match self.max.trim() {
            "" | "all" => None,
            m => Some(
                m.parse::<u64>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| format!("how many: {m:?} is not \"all\" or a number ≥ 1"))?,
            ),
        };
        let filter = match (self.group.clone(), self.filter.trim()) {
            (Some(group), _) => Some(group),
            (None, "") => None,
            (None, f) => Some(f.parse::<Filter>().map_err(|e| format!("filter: {e}"))?),
        };
        let destination = match self.destination {
            0 => Destination::OwnSource,
            i => Destination::Queue(
                self.targets
                    .get(i - 1)
                    .cloned()
                    .ok_or_else(|| format!("no queue {}", self.destinations[i]))?,
            ),
        };
        Ok(Request {
            source: self.dlq.clone(),
            destination,
            rate,
            max,
            filter,
            transform: None,
            mode: self.mode,
            client: ClientOptions::default(),
            canary: self.canary.then(|| Canary {
                background_per_sec: self.background,
                ..Canary::default()
            }),
        })
    }
}

impl App {
    /// `R` on a queue row: the dialog, for a DLQ.
    pub(in crate::app) fn open_redrive(&mut self) -> Vec<Cmd> {
        if self.read_only {
            self.notify("read-only: redrive is turned off", true);
            return Vec::new();
        }
        let Some(row) = self.selected_row() else {
            return Vec::new();
        };
        if !self.is_dlq(row) {
            let text = format!(
                "{} is not a dead-letter queue of any watched queue: R redrives a DLQ",
                row.queue.name
            );
            self.notify(text, true);
            return Vec::new();
        }
        let dlq = row.queue.clone();
        if let Some((view, n)) = self.view_holding(&dlq) {
            let text = format!(
                "{view} holds {n} messages of {}: a redrive cannot move them — close it (Esc) first, which gives them back",
                dlq.name
            );
            self.notify(text, true);
            return Vec::new();
        }
        let targets: Vec<QueueRef> = self
            .queues
            .iter()
            .map(|r| r.queue.clone())
            .filter(|q| q.url != dlq.url)
            .collect();
        let mut destinations = vec!["own source".to_string()];
        destinations.extend(targets.iter().map(|q| self.queue_label(q)));
        let background = self.background_inflow(&dlq);
        // SQS runs one move task per queue: with one running, offer client-side.
        let running = row.move_task.clone().filter(|t| t.status.is_running());
        let note = running.as_ref().map(|t| {
            let started = t
                .started_at
                .and_then(|at| (self.wall_now() - at).to_std().ok())
                .map_or(String::new(), |ago| {
                    format!(", started {} ago", crate::format::duration(ago))
                });
            format!(
                "a move task is running on {} ({} of {} moved{started}): SQS runs one at a time, so this one moves client-side; {} on the dashboard cancels the task",
                dlq.name,
                t.moved,
                crate::format::count(t.to_move),
                self.keymap.label(crate::keymap::Action::RedriveCancel)
            )
        });
        let mode = if running.is_some() {
            ModePreference::ClientSide
        } else {
            ModePreference::Auto
        };
        self.overlays.push(Overlay::RedriveForm(RedriveForm {
            dlq,
            destinations,
            targets,
            destination: 0,
            rate: self.redrive_settings.rate.to_string(),
            max: String::new(),
            mode,
            canary: false,
            background,
            filter: String::new(),
            group: None,
            field: RedriveField::Destination,
            error: None,
            planning: false,
            note,
        }));
        Vec::new()
    }

    pub(in crate::app) fn on_redrive_form_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        let Some(form) = self.overlays.form_mut() else {
            return Vec::new();
        };
        let action = self.keymap.action_in_text(&key, Scope::Dialog);
        if form.planning {
            if action == Some(Action::Cancel) {
                self.overlays.close_form();
            }
            return Vec::new();
        }
        let cycle =
            |i: usize, n: usize, back: bool| if back { (i + n - 1) % n } else { (i + 1) % n };
        match action {
            Some(Action::Cancel) => {
                self.overlays.close_form();
                return Vec::new();
            }
            Some(Action::NextField) => {
                form.field = form.field.step(false);
                return Vec::new();
            }
            Some(Action::PrevField) => {
                form.field = form.field.step(true);
                return Vec::new();
            }
            Some(Action::Confirm) => {
                match form.request() {
                    Ok(request) => {
                        form.error = None;
                        form.planning = true;
                        return vec![Cmd::Redrive(RedriveCmd::Plan {
                            request: Box::new(request),
                            auto: false,
                        })];
                    }
                    Err(e) => form.error = Some(e),
                }
                return Vec::new();
            }
            _ => {}
        }
        match key.code {
            KeyCode::Left | KeyCode::Right => {
                let back = key.code == KeyCode::Left;
                match form.field {
                    RedriveField::Destination => {
                        form.destination = cycle(form.destination, form.destinations.len(), back)
                    }
                    RedriveField::Mode => {
                        let modes = [
                            ModePreference::Auto,
                            ModePreference::MoveTask,
                            ModePreference::ClientSide,
                        ];
                        let i = modes.iter().position(|m| *m == form.mode).unwrap_or(0);
                        form.mode = modes[cycle(i, modes.len(), back)];
                    }
                    RedriveField::Canary => form.canary = !form.canary,
                    _ => {}
                }
            }
            KeyCode::Backspace => {
                if let Some(text) = text_field(form) {
                    text.pop();
                }
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                if let Some(text) = text_field(form) {
                    text.push(c);
                }
            }
            _ => {}
        }
        Vec::new()
    }
}

fn text_field(form: &mut RedriveForm) -> Option<&mut String> {
    match form.field {
        RedriveField::Rate => Some(&mut form.rate),
        RedriveField::HowMany => Some(&mut form.max),
        RedriveField::Filter if form.group.is_some() => None,
        RedriveField::Filter => Some(&mut form.filter),
        RedriveField::Destination | RedriveField::Mode | RedriveField::Canary => None,
    }
}
