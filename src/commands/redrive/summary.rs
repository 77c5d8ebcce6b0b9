//! The JSON summary `lazysqs redrive` prints on stdout on every exit, and the
//! plain-words reason and next step when it did not run or did not finish.

use std::io::Write;

use serde_json::json;

use crate::broker::BrokerError;
use crate::cli::RedriveArgs;
use crate::redrive::gate::GateDecision;
use crate::redrive::{Plan, PlanError, Report, RunState};

/// How a headless redrive ended: the JSON's `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// `--dry-run`: planned, nothing moved.
    DryRun,
    /// It may not run: read-only mode, the breaker gate, or a plan SQS or the
    /// house rules forbid (a move task already running, a queue that is no DLQ).
    Refused,
    /// No connection, or nothing to connect to.
    NotConnected,
    /// The request could not be planned: a queue not found, a bad value, a failed read.
    NotPlanned,
    /// Nobody said yes.
    NotConfirmed,
    /// Planned and confirmed, but the redrive could not start.
    NotStarted,
    /// It ran and ended so.
    Ran(RunState),
}

impl State {
    pub(super) fn label(self) -> &'static str {
        match self {
            State::DryRun => "dry_run",
            State::Refused => "refused",
            State::NotConnected => "not_connected",
            State::NotPlanned => "not_planned",
            State::NotConfirmed => "not_confirmed",
            State::NotStarted => "not_started",
            State::Ran(s) => s.label(),
        }
    }
}

/// Why a redrive did not run (exit 2), in plain words, and what to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NotRun {
    pub state: State,
    pub error: String,
    pub next_step: String,
}

impl NotRun {
    pub(super) fn new(state: State, error: impl ToString, next_step: impl Into<String>) -> Self {
        NotRun {
            state,
            error: error.to_string(),
            next_step: next_step.into(),
        }
    }

    /// A connection or a read that failed.
    pub(super) fn broker(state: State, error: impl ToString, cause: Option<&BrokerError>) -> Self {
        let next = match cause {
            Some(BrokerError::Auth(_)) => {
                "check the credentials (--profile, AWS_PROFILE) and the permissions, then run it again"
            }
            Some(BrokerError::NotFound(_)) => {
                "check the queue's name: `lazysqs snapshot` lists the queues lazysqs can see"
            }
            _ => "check the connection (--endpoint-url, --region, the network), then run it again",
        };
        NotRun::new(state, error, next)
    }

    /// A request [`crate::redrive::plan`] turned down.
    pub(super) fn plan(e: &PlanError) -> Self {
        match e {
            PlanError::TaskRunning { queue } => NotRun::new(
                State::Refused,
                e,
                format!(
                    "a move task is already running on {queue}: wait for it, cancel it \
                     (the dashboard's redrive pane, or aws sqs cancel-message-move-task), \
                     or pass --client-side to move alongside it"
                ),
            ),
            PlanError::NotADlq { queue } => NotRun::new(
                State::Refused,
                e,
                format!(
                    "name a destination with --to QUEUE, or, if an application sends {queue} its \
                     failures itself, declare the link in the config: [[dlq]] queue = \"{queue}\", \
                     source = \"…\""
                ),
            ),
            PlanError::MoveTaskCannot(_) => NotRun::new(
                State::Refused,
                e,
                "leave out --move-task (or pass --client-side): lazysqs then moves the messages itself",
            ),
            PlanError::Invalid(_) => NotRun::new(
                State::NotPlanned,
                e,
                "fix the command line (see lazysqs redrive --help)",
            ),
            PlanError::Broker { error, .. } => NotRun::broker(State::NotPlanned, e, Some(error)),
        }
    }
}

/// What the redrive knew when it ended; printed as one JSON object.
pub(super) struct Summary<'a> {
    pub args: &'a RedriveArgs,
    pub plan: Option<&'a Plan>,
    pub gate: Option<&'a GateDecision>,
    pub report: Option<&'a Report>,
    pub state: State,
    pub error: Option<String>,
    pub next_step: Option<String>,
    /// Anything else to say (a dry run's sample).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl<'a> Summary<'a> {
    pub(super) fn new(args: &'a RedriveArgs, state: State) -> Self {
        Summary {
            args,
            plan: None,
            gate: None,
            report: None,
            state,
            error: None,
            next_step: None,
            extra: serde_json::Map::new(),
        }
    }

    /// A summary of a planned redrive; `why` it did not run, if it did not.
    pub(super) fn planned(
        args: &'a RedriveArgs,
        plan: &'a Plan,
        gate: &'a GateDecision,
        state: State,
        why: Option<NotRun>,
    ) -> Self {
        Summary {
            plan: Some(plan),
            gate: Some(gate),
            error: why.as_ref().map(|w| w.error.clone()),
            next_step: why.map(|w| w.next_step),
            ..Summary::new(args, state)
        }
    }

    pub(super) fn not_run(args: &'a RedriveArgs, why: &NotRun) -> Self {
        Summary {
            error: Some(why.error.clone()),
            next_step: Some(why.next_step.clone()),
            ..Summary::new(args, why.state)
        }
    }

    /// The summary as JSON: the report's fields when it ran, else what the plan
    /// (or only the command line) said.
    pub(super) fn to_json(&self) -> anyhow::Result<serde_json::Value> {
        let a = self.args;
        let mut v = match self.report {
            Some(report) => serde_json::to_value(report)?,
            None => json!({
                "mode": self.plan.map(|p| p.mode),
                "source": self.plan.map_or(a.from.clone(), |p| p.request.source.name.clone()),
                "destination": self.plan.map_or_else(
                    || a.to.clone().unwrap_or_else(|| "own source".into()),
                    |p| p.request.destination.to_string(),
                ),
                "moved": 0,
                "failed": 0,
                "skipped": 0,
                "not_deleted": 0,
                "duration_secs": 0.0,
                "rate": 0.0,
                "target_rate": a.rate,
                "by_destination": {},
                "failures": [],
                "error": serde_json::Value::Null,
                "task_handle": serde_json::Value::Null,
                "canary": serde_json::Value::Null,
            }),
        };
        let Some(obj) = v.as_object_mut() else {
            return Ok(v);
        };
        obj.insert("state".into(), json!(self.state.label()));
        obj.insert("dry_run".into(), json!(a.dry_run));
        if let Some(e) = &self.error {
            obj.insert("error".into(), json!(e));
        }
        obj.insert("next_step".into(), json!(self.next_step));
        obj.insert(
            "filter".into(),
            json!(a.filter.as_ref().map(|f| f.to_string())),
        );
        obj.insert(
            "transform".into(),
            json!(a.transform.as_ref().map(|t| t.code())),
        );
        obj.insert("max".into(), json!(a.max));
        match self.plan {
            Some(plan) => {
                obj.insert("mode_reason".into(), json!(plan.mode_reason));
                obj.insert("visible_at_start".into(), json!(plan.visible));
                obj.insert("expected".into(), json!(plan.expected()));
                obj.insert("destinations".into(), json!(plan.destinations));
                obj.insert("warnings".into(), json!(plan.warnings));
                obj.insert("preview".into(), json!(plan.preview()));
            }
            None => {
                for key in ["mode_reason", "visible_at_start", "expected", "preview"] {
                    obj.insert(key.into(), serde_json::Value::Null);
                }
                obj.insert("destinations".into(), json!([]));
                obj.insert("warnings".into(), json!([]));
            }
        }
        obj.insert(
            "gate".into(),
            match self.gate {
                Some(g) => serde_json::to_value(g)?,
                None => serde_json::Value::Null,
            },
        );
        obj.extend(self.extra.clone());
        Ok(v)
    }

    /// Prints the summary on stdout.
    pub(super) fn print(&self) -> anyhow::Result<()> {
        let v = self.to_json()?;
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
        Ok(())
    }
}

/// What to do after a run that did not move everything; `None` when it did.
pub(super) fn after_run(plan: &Plan, report: &Report) -> Option<String> {
    if report.succeeded() {
        return None;
    }
    let dlq = &plan.request.source.name;
    if report.canary.as_ref().is_some_and(|c| c.halted) {
        return Some(format!(
            "the rest stay in {dlq}: find out why the messages came back (lazysqs triage --from {dlq}) before redriving again"
        ));
    }
    Some(match report.state {
        RunState::Cancelled => {
            format!("the rest stay in {dlq}: run it again to move them")
        }
        _ if !report.failures.is_empty() => format!(
            "the failed messages stay in {dlq} (see failures): fix them (--transform, or the dashboard) and run it again"
        ),
        _ => format!("the rest stay in {dlq}: run it again once the error is fixed"),
    })
}
