//! Bulk redrives on the audit record: a line before (the plan) and a line after
//! (the outcome), and one line for each message that failed; the same for
//! cancelling a move task started elsewhere.

use serde_json::json;

use super::task::Cancel;
use super::{Destination, Mode, Plan, Report};
use crate::broker::{Broker, BrokerError, BrokerResult, QueueRef};
use crate::recovery::audit::{Audit, AuditError};

fn action(plan: &Plan) -> &'static str {
    match plan.mode {
        Mode::ClientSide => "redrive",
        Mode::MoveTask => "move-task",
    }
}

fn destination(plan: &Plan) -> Option<String> {
    match &plan.request.destination {
        Destination::OwnSource if plan.destinations.is_empty() => None,
        Destination::OwnSource => Some(plan.destinations.join(",")),
        Destination::Queue(q) => Some(q.name.clone()),
    }
}

/// The line before a redrive starts. An error means it must not start.
pub fn started(audit: &Audit, plan: &Plan) -> Result<(), AuditError> {
    let r = &plan.request;
    audit.record_bulk(
        action(plan),
        &r.source,
        destination(plan).as_deref(),
        "started",
        json!({
            "plan": plan.preview(),
            "mode": plan.mode,
            "visible": plan.visible,
            "rate": r.rate,
            "max": r.max,
            "filter": r.filter.as_ref().map(|f| f.to_string()),
            "destination_arn": plan.destination_arn,
        }),
    )
}

/// The lines after a redrive ends: one per failed message, then the outcome.
pub fn finished(audit: &Audit, plan: &Plan, report: &Report) {
    let source = &plan.request.source;
    for f in &report.failures {
        let _ = audit.record(
            action(plan),
            source,
            &f.message_id,
            f.destination.as_deref(),
            None,
            format!("failed: {}", f.reason),
        );
    }
    let _ = audit.record_bulk(
        action(plan),
        source,
        destination(plan).as_deref(),
        format!(
            "{}: moved {}, failed {}, not deleted {}",
            report.state.label(),
            report.moved,
            report.failed,
            report.not_deleted
        ),
        json!({
            "state": report.state,
            "moved": report.moved,
            "failed": report.failed,
            "skipped": report.skipped,
            "not_deleted": report.not_deleted,
            "by_destination": report.by_destination,
            "error": report.error,
            "canary": report.canary,
            "task_handle": report.task_handle,
            "duration_secs": report.duration_secs,
        }),
    );
}

/// CancelMessageMoveTask on the record, only for a task that is RUNNING (see
/// [`super::task::cancel_if_running`]): refused when the line before cannot be
/// written.
pub async fn cancel_move_task(
    broker: &dyn Broker,
    audit: &Audit,
    queue: &QueueRef,
    handle: &str,
) -> BrokerResult<Cancel> {
    let details = json!({ "task_handle": handle });
    audit
        .record_bulk("move-task-cancel", queue, None, "started", details.clone())
        .map_err(|e| BrokerError::Invalid(e.to_string()))?;
    let result = match broker.queue_attributes(queue).await {
        Ok(a) => super::task::cancel_if_running(broker, &a.arn, handle).await,
        Err(e) => Err(e),
    };
    let outcome = match &result {
        Ok(Cancel::Sent { moved }) => format!("ok: it had moved {moved}"),
        Ok(Cancel::NotRunning(status)) => format!("not sent: the task is {status}, not running"),
        Err(e) => format!("failed: {e}"),
    };
    let _ = audit.record_bulk("move-task-cancel", queue, None, outcome, details);
    result
}
