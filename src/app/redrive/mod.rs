//! Bulk redrive from the dashboard: the `R` dialog, the plan's confirmation with
//! the circuit-breaker gate, live progress with pause, resume and cancel, move
//! tasks started elsewhere, and the optional auto-redrive when a breaker closes.

mod conflicts;
mod form;

use std::time::Instant;

use super::popup::{Pending, Popup};
use super::{App, Cmd};
use crate::breaker::BreakerState;
use crate::broker::{BrokerError, MoveTask, QueueRef};
use crate::redrive::canary::Canary;
use crate::redrive::gate::{self, GateDecision, Guard};
use crate::redrive::task::Cancel;
use crate::redrive::{
    ClientOptions, ControlError, Destination, ModePreference, Plan, Progress, Report, Request,
};
pub use form::{RedriveField, RedriveForm};

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
    /// The DLQ's depth read after the run ended: what it left there.
    pub left: Option<u64>,
    /// A depth poll was in flight when the run ended: its answer is skipped.
    pub skip_reading: bool,
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
        result: Result<Cancel, BrokerError>,
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
            left: None,
            skip_reading: false,
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
                let dlq = run.plan.request.source.clone();
                let polling = self
                    .row_index(&dlq)
                    .is_some_and(|i| self.queues[i].schedule.in_flight());
                if let Some(run) = self.redrives.iter_mut().find(|r| r.id == id) {
                    run.skip_reading = polling;
                }
                self.tell(text.clone());
                self.notify(text, failed);
                for name in names.iter().chain(std::iter::once(&source)) {
                    if let Some(i) = self.index_of_name(name) {
                        self.queues[i].schedule.hurry();
                    }
                }
                // Our move task ended with the run: not one to show as another's.
                if let Some(i) = self.index_of_name(&source) {
                    self.set_move_task(i, None);
                    self.queues[i].tasks_schedule.hurry();
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
                    Ok(Cancel::Sent { moved }) => {
                        let text =
                            format!("move task on {} cancelled after {moved} moved", queue.name);
                        self.tell(text.clone());
                        self.notify(text, false);
                    }
                    Ok(Cancel::NotRunning(status)) => self.notify(
                        format!(
                            "the move task on {} is {status}, not running: nothing to cancel",
                            queue.name
                        ),
                        false,
                    ),
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
                lines.push("y: FORCE it anyway (not Enter), n/Esc: cancel".into());
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

    /// A DLQ's inflow over the last minute of polls, per second of this
    /// clock: what a canary does not count as returns.
    fn background_inflow(&self, dlq: &QueueRef) -> f64 {
        self.row_index(dlq)
            .and_then(|i| self.queues[i].measured_inflow())
            .map_or(0.0, |per_min| per_min / 60.0)
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
        // Its DLQ by ARN: another region may have one of the same name.
        let Some(dlq) = self.row_by_name(&queue).and_then(|r| self.dlq_row(r)) else {
            return Vec::new();
        };
        let dlq_name = dlq.queue.name.clone();
        let visible = dlq.attrs.as_ref().map_or(0, |a| a.visible);
        let source = dlq.queue.clone();
        let background = self.background_inflow(&source);
        let busy = dlq.move_task.is_some()
            || self
                .redrives
                .iter()
                .any(|r| r.is_active() && r.plan.request.source.url == source.url);
        if let Some((view, n)) = self.view_holding(&source)
            && !busy
            && !self.read_only
            && gate::should_auto_redrive(self.redrive_settings.auto, before, b.state, visible)
        {
            self.tell(format!(
                "auto-redrive of {dlq_name} held back: {view} holds {n} of its messages"
            ));
            return Vec::new();
        }
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
            canary: self.redrive_settings.canary.then(|| Canary {
                background_per_sec: background,
                ..Canary::default()
            }),
        };
        vec![Cmd::Redrive(RedriveCmd::Plan {
            request: Box::new(request),
            auto: true,
        })]
    }
}
