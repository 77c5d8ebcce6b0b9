//! Bulk redrive: moving the messages of a dead-letter queue back to where they came
//! from (or to a chosen queue), at a chosen rate, without ever losing one.
//!
//! Two engines, one API:
//!
//! - **SQS move task** ([`task`]): StartMessageMoveTask on the server, progress from
//!   ListMessageMoveTasks, CancelMessageMoveTask to stop. Used by default where it can
//!   serve: no filter, no count limit, a rate of at most 500/s, the destination is each
//!   message's own source (or a queue of the same kind in the same account and
//!   region), and the server has move tasks.
//! - **Client-side** ([`mover`]): receive 10 → SendMessageBatch → DeleteMessageBatch of
//!   exactly the entries whose send succeeded, by N workers sharing a token bucket
//!   ([`limiter`]); optional [`filter`]; pause, resume and cancel.
//!
//! The flow, for the dashboard and the headless `lazysqs redrive` alike:
//!
//! ```text
//! let plan = redrive::plan(broker.as_ref(), request).await?;   // checks, mode, preview
//! let gate = redrive::gate::check(&plan.destinations, guards, force);
//! if gate.allows() {
//!     let handle = redrive::start(broker.clone(), &plan).await?;
//!     // handle.progress: watch::Receiver<Progress>; handle.control: Control (clone it)
//!     let report = handle.wait().await;
//! }
//! ```

pub mod arrivals;
pub mod canary;
pub mod concurrency;
mod control;
pub mod filter;
pub mod gate;
pub mod limiter;
pub mod mover;
mod plan;
mod progress;
pub mod record;
mod staged;
pub mod task;

use std::sync::Arc;

use serde::Serialize;

use crate::broker::{Broker, BrokerError, BrokerResult};
pub use control::{Control, ControlError, Directive, RedriveHandle};
pub use filter::Filter;
pub use plan::{
    ClientOptions, Destination, ModeFacts, ModePreference, Plan, PlanError, Request, TaskSupport,
    plan,
};
pub use progress::{Left, MessageFailure, Progress, Report, RunState};
pub(crate) use progress::{RateMeter, eta};

/// The most messages per second an SQS move task accepts.
pub(crate) const MAX_TASK_RATE: u32 = 500;

/// How a redrive runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// An SQS message move task (StartMessageMoveTask), run by the server.
    MoveTask,
    /// lazysqs receives, sends and deletes the messages itself.
    ClientSide,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::MoveTask => "SQS move task",
            Mode::ClientSide => "client-side",
        }
    }
}

/// that cannot be recorded does not start). Call [`record::finished`] with its
/// report.
pub async fn start(
    broker: Arc<dyn Broker>,
    plan: &Plan,
    audit: &crate::recovery::audit::Audit,
) -> BrokerResult<RedriveHandle> {
    record::started(audit, plan).map_err(|e| BrokerError::Invalid(e.to_string()))?;
    let r = &plan.request;
    match plan.mode {
        Mode::MoveTask => {
            let cfg = task::TaskConfig {
                source: r.source.clone(),
                source_arn: plan.source_arn.clone(),
                destination_arn: plan.destination_arn.clone(),
                destinations: plan.destination_queues(),
                rate: r.rate,
                poll: task::DEFAULT_POLL,
            };
            match r.canary {
                Some(canary) => staged::start(broker, cfg, canary).await,
                None => task::start(broker, cfg).await,
            }
        }
        Mode::ClientSide => Ok(mover::spawn(
            broker,
            mover::MoverConfig {
                source: r.source.clone(),
                source_arn: plan.source_arn.clone(),
                target: match &r.destination {
                    Destination::OwnSource => mover::Target::OwnSource {
                        fallback: plan.fallback_source(),
                    },
                    Destination::Queue(q) => mover::Target::Queue(q.clone()),
                },
                rate: r.rate.map(f64::from),
                max: r.max,
                filter: r.filter.clone(),
                transform: r.transform.clone(),
                options: r.client,
                expected: Some(plan.visible),
                canary: r.canary,
            },
        )),
    }
}
