//! Bulk redrive from the dashboard: the `R` dialog, the plan's confirmation with
//! the circuit-breaker gate, live progress with pause, resume and cancel, move
//! tasks started elsewhere, and the optional auto-redrive when a breaker closes.

use crate::keymap::{Action, Scope};
use crate::redrive::canary::Canary;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::overlay::Overlay;
use super::popup::{Pending, Popup};
use super::{App, Cmd};
use crate::breaker::BreakerState;
use crate::broker::{BrokerError, MoveTask, QueueRef};
use crate::redrive::gate::{self, GateDecision, Guard};
use crate::redrive::{
    ClientOptions, ControlError, Destination, Filter, ModePreference, Plan, Progress, Report,
    Request,
};

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
    /// "own source" first, then every other watched queue.
    pub destinations: Vec<String>,
    pub destination: usize,
    pub rate: String,
    /// Empty: all.
    pub max: String,
    pub mode: ModePreference,
    /// Start at 1 msg/s and halt when messages come back (client-side).
    pub canary: bool,
    pub filter: String,
    /// A triage group to move, instead of a typed filter.
    pub group: Option<Filter>,
    /// The focused field.
    pub field: RedriveField,
    pub error: Option<String>,
    /// A plan is being made (checks against the queues).
    pub planning: bool,
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
    pub fn request(&self, queues: &[QueueRef]) -> Result<Request, String> {
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
            i => {
                let name = &self.destinations[i];
                Destination::Queue(
                    queues
                        .iter()
                        .find(|q| &q.name == name)
                        .cloned()
                        .ok_or_else(|| format!("no queue {name}"))?,
                )
            }
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
            canary: self.canary.then(Canary::default),
        })
    }
}

/// What the user asks of a running redrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Steer {
    Pause,
    Resume,
    Cancel,
    /// Stop a canary redrive, and say why (its destination's breaker opened).
    Halt(String),
}

/// A redrive started from this dashboard.
#[derive(Debug, Clone)]
pub struct RedriveRun {
    pub id: u64,
    pub plan: Plan,
    /// Set once the redrive has started and can be steered.
    pub started_ok: bool,
    /// The last pause or resume asked for, until progress says which it is.
    pub asked: Option<Steer>,
    pub progress: Option<Progress>,
    pub report: Option<Report>,
    pub error: Option<String>,
    pub started: Instant,
}

impl RedriveRun {
    pub fn is_active(&self) -> bool {
        self.report.is_none() && self.error.is_none()
    }
}

/// Results of redrive commands.
#[derive(Debug, Clone)]
pub enum RedriveMsg {
    Planned {
        auto: bool,
        result: Result<Box<Plan>, String>,
    },
    Started {
        id: u64,
        result: Result<(), String>,
    },
    /// The answer to a [`RedriveCmd::Steer`].
    Steered {
        id: u64,
        steer: Steer,
        result: Result<(), ControlError>,
    },
    Progress {
        id: u64,
        progress: Box<Progress>,
    },
    Done {
        id: u64,
        report: Box<Report>,
    },
    /// The move tasks of a DLQ (started here or anywhere else).
    MoveTasks {
        queue: QueueRef,
        result: Result<Vec<MoveTask>, BrokerError>,
    },
    Cancelled {
        queue: QueueRef,
        result: Result<u64, BrokerError>,
    },
}

/// Redrive commands for the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum RedriveCmd {
    Plan {
        request: Box<Request>,
        auto: bool,
    },
    Start {
        id: u64,
        plan: Box<Plan>,
    },
    /// Pause, resume or cancel one of our running redrives.
    Steer {
        id: u64,
        steer: Steer,
    },
    FetchMoveTasks {
        queue: QueueRef,
        arn: String,
    },
    CancelMoveTask {
        queue: QueueRef,
        handle: String,
    },
}

impl App {
    /// `R` on a queue row: the dialog, for a DLQ.
    pub(super) fn open_redrive(&mut self) -> Vec<Cmd> {
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
        let mut destinations = vec!["own source".to_string()];
        destinations.extend(
            self.queues
                .iter()
                .map(|r| r.queue.name.clone())
                .filter(|n| *n != dlq.name),
        );
        self.overlays.push(Overlay::RedriveForm(RedriveForm {
            dlq,
            destinations,
            destination: 0,
            rate: self.redrive_settings.rate.to_string(),
            max: String::new(),
            mode: ModePreference::Auto,
            canary: false,
            filter: String::new(),
            group: None,
            field: RedriveField::Destination,
            error: None,
            planning: false,
        }));
        Vec::new()
    }

    pub(super) fn on_redrive_form_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        let queues: Vec<QueueRef> = self.queues.iter().map(|r| r.queue.clone()).collect();
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
                match form.request(&queues) {
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

    /// The guards the gate checks: every breaker that says which queue it guards.
    fn gate_decision(&self, plan: &Plan, force: bool) -> GateDecision {
        let guards = self.breakers.iter().filter_map(|b| {
            Some(Guard {
                breaker: &b.config.name,
                queue: b.config.queue.as_deref()?,
                state: b.state,
                detail: &b.detail,
            })
        });
        gate::check(&plan.destinations, guards, force)
    }

    fn start_redrive(&mut self, plan: Plan, forced: bool) -> Vec<Cmd> {
        self.next_redrive_id += 1;
        let id = self.next_redrive_id;
        let rate = plan
            .request
            .rate
            .map_or("as fast as it can".to_string(), |r| format!("{r}/s"));
        self.tell(format!(
            "redrive of {} started at {rate} ({}){}",
            plan.request.source.name,
            plan.mode.label(),
            if forced {
                ", FORCED past an open breaker"
            } else {
                ""
            }
        ));
        self.redrives.push(RedriveRun {
            id,
            plan: plan.clone(),
            started_ok: false,
            asked: None,
            progress: None,
            report: None,
            error: None,
            started: self.now,
        });
        vec![Cmd::Redrive(RedriveCmd::Start {
            id,
            plan: Box::new(plan),
        })]
    }

    pub(super) fn on_redrive_msg(&mut self, msg: RedriveMsg) -> Vec<Cmd> {
        self.dirty = true;
        match msg {
            RedriveMsg::Planned { auto, result } => {
                if !auto {
                    let Some(form) = self.overlays.form_mut() else {
                        return Vec::new();
                    };
                    form.planning = false;
                    match result {
                        Err(e) => {
                            form.error = Some(e);
                            return Vec::new();
                        }
                        Ok(plan) => {
                            self.overlays.close_form();
                            self.confirm_redrive(*plan);
                        }
                    }
                    return Vec::new();
                }
                match result {
                    Ok(plan) => match self.gate_decision(&plan, false) {
                        d if d.allows() => self.start_redrive(*plan, false),
                        GateDecision::Refused { reason } => {
                            self.tell(format!("auto-redrive held back: {reason}"));
                            Vec::new()
                        }
                        _ => Vec::new(),
                    },
                    Err(e) => {
                        self.tell(format!("auto-redrive not started: {e}"));
                        Vec::new()
                    }
                }
            }
            RedriveMsg::Started { id, result } => {
                let Some(run) = self.redrives.iter_mut().find(|r| r.id == id) else {
                    return Vec::new();
                };
                match result {
                    Ok(()) => run.started_ok = true,
                    Err(e) => {
                        let text = format!(
                            "redrive of {} failed to start: {e}",
                            run.plan.request.source.name
                        );
                        run.error = Some(e);
                        self.notify(text, true);
                    }
                }
                Vec::new()
            }
            RedriveMsg::Steered { id, steer, result } => {
                self.on_steered(id, steer, result);
                Vec::new()
            }
            RedriveMsg::Progress { id, progress } => {
                if let Some(run) = self.redrives.iter_mut().find(|r| r.id == id) {
                    run.progress = Some(*progress);
                }
                Vec::new()
            }
            RedriveMsg::Done { id, report } => {
                let Some(run) = self.redrives.iter_mut().find(|r| r.id == id) else {
                    return Vec::new();
                };
                let source = run.plan.request.source.name.clone();
                let text = format!(
                    "redrive of {source} {}: {} moved, {} failed{}{}",
                    report.state.label(),
                    report.moved,
                    report.failed,
                    if report.not_deleted > 0 {
                        format!(", {} in both queues (delete failed)", report.not_deleted)
                    } else {
                        String::new()
                    },
                    report
                        .error
                        .as_ref()
                        .map(|e| format!(" — {e}"))
                        .unwrap_or_default()
                );
                let failed = !report.succeeded();
                run.report = Some(*report);
                let names: Vec<String> = run.plan.destinations.clone();
                self.tell(text.clone());
                self.notify(text, failed);
                for name in names.iter().chain(std::iter::once(&source)) {
                    if let Some(i) = self.index_of_name(name) {
                        self.queues[i].schedule.hurry();
                    }
                }
                Vec::new()
            }
            RedriveMsg::MoveTasks { queue, result } => {
                let now = self.now;
                if let Some(i) = self.row_index(&queue) {
                    self.queues[i].tasks_schedule.succeed(now);
                    // Servers without move tasks answer with an error: nothing to show.
                    let task = result
                        .ok()
                        .and_then(|ts| ts.into_iter().find(|t| t.status.is_running()));
                    self.set_move_task(i, task);
                }
                Vec::new()
            }
            RedriveMsg::Cancelled { queue, result } => {
                match result {
                    Ok(moved) => {
                        let text =
                            format!("move task on {} cancelled after {moved} moved", queue.name);
                        self.tell(text.clone());
                        self.notify(text, false);
                    }
                    Err(e) => self.notify(
                        format!("cancelling the move task on {} failed: {e}", queue.name),
                        true,
                    ),
                }
                Vec::new()
            }
        }
    }

    /// The confirmation after planning: the preview, warnings, and the gate.
    fn confirm_redrive(&mut self, plan: Plan) {
        let mut lines = vec![plan.preview()];
        lines.extend(plan.warnings.iter().map(|w| format!("⚠ {w}")));
        match self.gate_decision(&plan, false) {
            GateDecision::Refused { reason } => {
                lines.push(format!("✖ {reason}"));
                lines.push("y/Enter: FORCE it anyway, n/Esc: cancel".into());
                self.overlays.show_popup(Popup::Confirm {
                    title: "Breaker OPEN: redrive refused".into(),
                    lines,
                    on_yes: Pending::Redrive {
                        plan: Box::new(plan),
                        force: true,
                    },
                });
            }
            decision => {
                if let GateDecision::Proceed { warnings } = decision {
                    lines.extend(warnings.iter().map(|w| format!("⚠ {w}")));
                }
                lines.push("y/Enter: start, n/Esc: cancel".into());
                self.overlays.show_popup(Popup::Confirm {
                    title: "Start this redrive?".into(),
                    lines,
                    on_yes: Pending::Redrive {
                        plan: Box::new(plan),
                        force: false,
                    },
                });
            }
        }
    }

    /// A confirmed redrive.
    pub(super) fn confirmed_redrive(&mut self, plan: Plan, force: bool) -> Vec<Cmd> {
        if !self.gate_decision(&plan, force).allows() {
            self.notify("the breaker is OPEN: redrive refused", true);
            return Vec::new();
        }
        self.start_redrive(plan, force)
    }

    /// A breaker opened on `queue`: every canary redrive sending there halts
    /// (a plain redrive was started past the gate, or before it, and goes on).
    pub(super) fn halt_canaries_into(&mut self, queue: &str, breaker: &str) -> Vec<Cmd> {
        self.redrives
            .iter()
            .filter(|r| r.is_active() && r.started_ok && r.plan.request.canary.is_some())
            .filter(|r| r.plan.destinations.iter().any(|d| d == queue))
            .map(|r| {
                Cmd::Redrive(RedriveCmd::Steer {
                    id: r.id,
                    steer: Steer::Halt(format!(
                        "halted: the breaker {breaker} guarding {queue} opened"
                    )),
                })
            })
            .collect()
    }

    /// Our running redrive out of `queue`, if one runs.
    pub fn active_redrive_of(&self, queue: &QueueRef) -> Option<&RedriveRun> {
        self.redrives
            .iter()
            .rev()
            .find(|r| r.is_active() && r.plan.request.source.url == queue.url)
    }

    /// The redrive the progress pane shows: the running one, else the latest.
    pub(crate) fn current_redrive(&self) -> Option<&RedriveRun> {
        self.redrives
            .iter()
            .rev()
            .find(|r| r.is_active())
            .or_else(|| self.redrives.last())
    }

    /// Space: pause or resume the running redrive.
    pub(super) fn redrive_pause(&mut self) -> Vec<Cmd> {
        let Some(run) = self.redrives.iter_mut().rev().find(|r| r.is_active()) else {
            self.notify("no redrive is running", true);
            return Vec::new();
        };
        if !run.started_ok {
            self.notify("the redrive is still starting", true);
            return Vec::new();
        }
        if run.plan.mode != crate::redrive::Mode::ClientSide {
            self.notify(ControlError::NotPausable.to_string(), true);
            return Vec::new();
        }
        let paused = match &run.asked {
            Some(asked) => *asked == Steer::Pause,
            None => run
                .progress
                .as_ref()
                .is_some_and(|p| p.state == crate::redrive::RunState::Paused),
        };
        let steer = if paused { Steer::Resume } else { Steer::Pause };
        run.asked = Some(steer.clone());
        vec![Cmd::Redrive(RedriveCmd::Steer { id: run.id, steer })]
    }

    /// The answer to a pause, resume or cancel.
    fn on_steered(&mut self, id: u64, steer: Steer, result: Result<(), ControlError>) {
        let Some(run) = self.redrives.iter_mut().find(|r| r.id == id) else {
            return;
        };
        let name = run.plan.request.source.name.clone();
        match result {
            Err(e) => {
                run.asked = None;
                self.notify(e.to_string(), true);
            }
            Ok(()) => {
                let text = match steer {
                    Steer::Pause => format!("redrive of {name} pausing…"),
                    Steer::Resume => format!("redrive of {name} resumed"),
                    Steer::Cancel => {
                        self.tell(format!("redrive of {name} cancelled by the user"));
                        format!("cancelling the redrive of {name}…")
                    }
                    Steer::Halt(why) => {
                        self.tell(format!("canary redrive of {name} {why}"));
                        format!("canary redrive of {name} {why}")
                    }
                };
                self.notify(text, false);
            }
        }
    }

    /// `c`: cancel the redrive or move task of the selected queue, after a
    /// confirmation naming it.
    pub(super) fn ask_cancel(&mut self) -> Vec<Cmd> {
        let Some(row) = self.selected_row() else {
            return Vec::new();
        };
        let queue = row.queue.clone();
        let ours = self.active_redrive_of(&queue).map(|r| r.id);
        let pending = match (ours, row.move_task.as_ref().and_then(|t| t.handle.clone())) {
            (Some(id), _) => Pending::CancelRedrive { id },
            (None, Some(handle)) => Pending::CancelMoveTask {
                queue: queue.clone(),
                handle,
            },
            (None, None) => {
                self.notify(
                    format!("no redrive or move task is running on {}", queue.name),
                    true,
                );
                return Vec::new();
            }
        };
        let what = match &pending {
            Pending::CancelRedrive { .. } => format!("the redrive of {}", queue.name),
            _ => format!("the move task on {} (started elsewhere)", queue.name),
        };
        self.overlays.show_popup(Popup::Confirm {
            title: format!("Cancel {what}?"),
            lines: vec![
                format!(
                    "Stop {what}. Messages not yet moved stay in {}.",
                    queue.name
                ),
                "y/Enter: cancel it, n/Esc: let it run".into(),
            ],
            on_yes: pending,
        });
        Vec::new()
    }

    /// A confirmed cancel of one of our redrives.
    pub(super) fn cancel_redrive(&mut self, id: u64) -> Vec<Cmd> {
        let Some(run) = self.redrives.iter().find(|r| r.id == id && r.is_active()) else {
            self.notify("that redrive has already finished", false);
            return Vec::new();
        };
        if !run.started_ok {
            self.notify("the redrive is still starting", true);
            return Vec::new();
        }
        vec![Cmd::Redrive(RedriveCmd::Steer {
            id,
            steer: Steer::Cancel,
        })]
    }

    /// Auto-redrive: when a breaker closes and the DLQ behind its queue holds
    /// messages, plan a redrive at the configured rate.
    pub(super) fn maybe_auto_redrive(&mut self, breaker: usize, before: BreakerState) -> Vec<Cmd> {
        let b = &self.breakers[breaker];
        let Some(queue) = b.config.queue.clone() else {
            return Vec::new();
        };
        let Some(dlq_name) = self
            .row_by_name(&queue)
            .and_then(|r| r.dlq_name())
            .map(str::to_string)
        else {
            return Vec::new();
        };
        let Some(dlq) = self.row_by_name(&dlq_name) else {
            return Vec::new();
        };
        let visible = dlq.attrs.as_ref().map_or(0, |a| a.visible);
        let source = dlq.queue.clone();
        let busy = dlq.move_task.is_some()
            || self
                .redrives
                .iter()
                .any(|r| r.is_active() && r.plan.request.source.name == dlq_name);
        if busy
            || self.read_only
            || !gate::should_auto_redrive(self.redrive_settings.auto, before, b.state, visible)
        {
            return Vec::new();
        }
        let rate = self.redrive_settings.auto_rate;
        let text = format!(
            "{} closed and {dlq_name} holds {visible}: auto-redrive at {rate}/s",
            b.config.name
        );
        self.tell(text);
        let request = Request {
            source,
            destination: Destination::OwnSource,
            rate: Some(rate),
            max: None,
            filter: None,
            transform: None,
            mode: ModePreference::Auto,
            client: ClientOptions::default(),
            canary: self.redrive_settings.canary.then(Canary::default),
        };
        vec![Cmd::Redrive(RedriveCmd::Plan {
            request: Box::new(request),
            auto: true,
        })]
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
