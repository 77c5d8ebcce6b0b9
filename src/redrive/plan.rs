//! Planning a redrive: what the user asked for, the checks against the queues,
//! and the choice between an SQS move task and the client-side mover.

use std::fmt;
use std::time::Duration;

use crate::broker::{Broker, BrokerError, MoveTask, QueueRef};

use super::{Filter, MAX_TASK_RATE, Mode, mover};

/// What the user asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ModePreference {
    /// A move task where it can serve, else client-side.
    #[default]
    Auto,
    MoveTask,
    ClientSide,
}

/// Where the messages go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Destination {
    /// Each message back to the queue it failed from (its `DeadLetterQueueSourceArn`,
    /// else the DLQ's single source queue).
    #[default]
    OwnSource,
    /// One chosen queue.
    Queue(QueueRef),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::OwnSource => f.write_str("own source"),
            Destination::Queue(q) => f.write_str(&q.name),
        }
    }
}

/// Tuning of a client-side move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// The most batches in flight at once (`--workers`). Against a real endpoint
    /// (milliseconds per call) throughput grows with them, up to where the server
    /// queues calls or throttles: the mover finds that point itself
    /// ([`super::concurrency`]) and keeps under this cap.
    pub workers: usize,
    /// How long a received message stays hidden while it is being moved.
    pub visibility: Duration,
    /// Attempts per batch entry before a message is reported as failed.
    pub attempts: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            workers: 256,
            visibility: Duration::from_secs(30),
            attempts: 4,
        }
    }
}

/// A redrive as the user described it, before any check.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The dead-letter queue to drain.
    pub source: QueueRef,
    pub destination: Destination,
    /// Messages per second; `None`: as fast as possible (a move task then uses the
    /// server's own pace).
    pub rate: Option<u32>,
    /// Move at most this many (client-side only); `None`: all.
    pub max: Option<u64>,
    /// Move only the messages it selects (client-side only).
    pub filter: Option<Filter>,
    /// Fix each body with this jq expression before sending it (client-side
    /// only); a message it fails on stays in the DLQ and is reported.
    pub transform: Option<crate::triage::Transform>,
    pub mode: ModePreference,
    pub client: ClientOptions,
    /// Start slow and halt when messages come back (client-side).
    pub canary: Option<super::canary::Canary>,
}

/// Whether the server runs move tasks for this queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskSupport {
    Yes,
    /// It does not (the reason, e.g. "not supported: ListMessageMoveTasks").
    No(String),
}

/// What the choice of mode depends on; see [`choose_mode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeFacts {
    pub preference: ModePreference,
    pub filtered: bool,
    pub max: Option<u64>,
    pub rate: Option<u32>,
    /// Whether some queue's redrive policy points at the source (ListDeadLetterSourceQueues).
    pub source_is_dlq: bool,
    /// `None`: each message's own source. `Some`: a chosen queue, and whether a move
    /// task can target it (same account and region, same kind: FIFO or standard).
    pub chosen_destination: Option<Result<(), String>>,
    pub support: TaskSupport,
    /// A move task already running on this DLQ (started here or elsewhere).
    pub running_task: bool,
    /// The DLQ is a FIFO queue.
    pub fifo: bool,
}

/// Why auto mode moves a FIFO DLQ client-side.
pub(crate) const FIFO_CLIENT_SIDE: &str = "client-side: a FIFO DLQ is moved with fresh \
     deduplication ids, each group in order (a move task may re-send the ids the source \
     saw in the last 5 minutes, and the source drops those)";

/// What `--move-task` on a FIFO DLQ risks, in its plan.
pub(crate) const FIFO_TASK_RISK: &str = "a move task re-sends FIFO messages as the server \
     chooses: a source that saw a message's deduplication id in the last 5 minutes drops it, \
     and the task still counts it as moved. lazysqs checks the destinations' depth \
     afterwards; client-side (the default for FIFO) sends fresh ids";

/// Chooses the mode: a move task by default where it can serve, else client-side.
/// Returns the mode and why, or why the preferred mode is impossible.
pub(crate) fn choose_mode(f: &ModeFacts) -> Result<(Mode, String), String> {
    let mut blockers = Vec::new();
    if f.filtered {
        blockers.push("a filter or a transform needs a client-side move".to_string());
    }
    if f.max.is_some() {
        blockers.push("a move task cannot stop after N messages".to_string());
    }
    if let Some(rate) = f.rate
        && rate > MAX_TASK_RATE
    {
        blockers.push(format!(
            "a move task moves at most {MAX_TASK_RATE} messages/s, not {rate}"
        ));
    }
    if !f.source_is_dlq {
        blockers.push(
            "no queue names it as its dead-letter queue, and a move task starts only from one"
                .to_string(),
        );
    }
    if let Some(Err(why)) = &f.chosen_destination {
        blockers.push(why.clone());
    }
    if let TaskSupport::No(why) = &f.support {
        blockers.push(format!("the server has no move tasks ({why})"));
    }
    match f.preference {
        ModePreference::ClientSide => {
            if f.running_task {
                Ok((
                    Mode::ClientSide,
                    "client-side, as asked (a move task is also running on this queue)".into(),
                ))
            } else {
                Ok((Mode::ClientSide, "client-side, as asked".into()))
            }
        }
        ModePreference::MoveTask | ModePreference::Auto if f.running_task => Err(
            "a move task is already running on this queue (SQS allows one at a time): \
             cancel it first, or move client-side"
                .into(),
        ),
        ModePreference::MoveTask => match blockers.first() {
            Some(why) => Err(format!("an SQS move task cannot do this: {why}")),
            None => Ok((Mode::MoveTask, "SQS move task, as asked".into())),
        },
        ModePreference::Auto => match blockers.first() {
            Some(why) => Ok((Mode::ClientSide, format!("client-side: {why}"))),
            None if f.fifo => Ok((Mode::ClientSide, FIFO_CLIENT_SIDE.into())),
            None => Ok((
                Mode::MoveTask,
                "SQS move task: the server moves the messages".into(),
            )),
        },
    }
}

/// Why a redrive cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Invalid(String),
    /// SQS runs one move task per queue at a time, and one is running.
    #[error(
        "a move task is already running on {queue} (SQS allows one at a time): \
         cancel it first, or move client-side"
    )]
    TaskRunning { queue: String },
    /// Back to their source, from a queue no queue sends its failures to.
    #[error(
        "no queue names {queue} as its dead-letter queue (no redrive policy, no [[dlq]] \
         in the config): there is no source to send its messages back to; choose a destination"
    )]
    NotADlq { queue: String },
    /// A move task was insisted on and cannot serve (why, in full).
    #[error("{0}")]
    MoveTaskCannot(String),
    #[error("{context}: {error}")]
    Broker {
        context: String,
        #[source]
        error: BrokerError,
    },
}

/// A checked redrive, ready to start: the chosen mode and everything a preview shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub request: Request,
    pub source_arn: String,
    pub source_fifo: bool,
    /// Visible messages in the DLQ when planned (approximate).
    pub visible: u64,
    /// Queues whose redrive policy points at the DLQ.
    pub dlq_sources: Vec<QueueRef>,
    /// The chosen destination's ARN (`None`: each message's own source).
    pub destination_arn: Option<String>,
    pub mode: Mode,
    /// Why this mode.
    pub mode_reason: String,
    /// The queues messages may go to, by name: for the breaker gate.
    pub destinations: Vec<String>,
    pub warnings: Vec<String>,
    /// A move task already running on the DLQ.
    pub running_task: Option<MoveTask>,
}

impl Plan {
    /// How many messages the redrive expects to take (before the filter).
    pub fn expected(&self) -> u64 {
        match self.request.max {
            Some(max) => max.min(self.visible),
            None => self.visible,
        }
    }

    /// The queues a move task delivers to, for its arrival check: the chosen one, or
    /// the DLQ's sources.
    pub(crate) fn destination_queues(&self) -> Vec<QueueRef> {
        match &self.request.destination {
            Destination::Queue(q) => vec![q.clone()],
            Destination::OwnSource => self.dlq_sources.clone(),
        }
    }

    /// The single source queue a message without `DeadLetterQueueSourceArn` goes back to.
    pub(crate) fn fallback_source(&self) -> Option<QueueRef> {
        match self.dlq_sources.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        }
    }

    /// One line saying what will happen.
    pub fn preview(&self) -> String {
        let r = &self.request;
        let count = match (r.max, &r.filter) {
            (Some(max), _) if max < self.visible => {
                format!("up to {max} of {} messages", self.visible)
            }
            (_, Some(_)) => format!("up to {} messages", self.visible),
            _ => format!("all {} messages", self.visible),
        };
        let mut filter = r
            .filter
            .as_ref()
            .map(|f| format!(" where {f}"))
            .unwrap_or_default();
        if let Some(t) = &r.transform {
            filter.push_str(&format!(", fixed with jq `{}`,", t.code()));
        }
        let to = match &r.destination {
            Destination::OwnSource if self.destinations.is_empty() => {
                "back to their source queues".to_string()
            }
            Destination::OwnSource => {
                format!("back to their source ({})", self.destinations.join(", "))
            }
            Destination::Queue(q) => format!("to {}", q.name),
        };
        let mut rate = match r.rate {
            Some(n) => format!("at {n} msg/s"),
            None if self.mode == Mode::MoveTask => "at the server's pace".to_string(),
            None => "as fast as possible".to_string(),
        };
        if let Some(c) = &r.canary {
            let top = match r.rate {
                Some(n) => format!("up to {n} msg/s"),
                None => "up to full speed".to_string(),
            };
            rate = format!(
                "as a canary: from {} msg/s, doubling every {} while at most {} come back, {top}",
                crate::format::rate(Some(c.start)),
                crate::format::duration(c.window),
                c.max_returns
            );
        }
        format!(
            "move {count}{filter} from {} {to} {rate}, {}",
            r.source.name, self.mode_reason
        )
    }
}

/// Checks a request against the queues and chooses the mode.
pub async fn plan(broker: &dyn Broker, request: Request) -> Result<Plan, PlanError> {
    if request.rate == Some(0) {
        return Err(PlanError::Invalid(
            "the rate must be at least 1 message/s".into(),
        ));
    }
    if request.max == Some(0) {
        return Err(PlanError::Invalid("--max must be at least 1".into()));
    }
    if request.client.workers == 0 {
        return Err(PlanError::Invalid("at least one worker is needed".into()));
    }
    let src = &request.source;
    let attrs = broker
        .queue_attributes(src)
        .await
        .map_err(|error| PlanError::Broker {
            context: format!("cannot read the queue {}", src.name),
            error,
        })?;
    let mut warnings = Vec::new();
    let (dlq_sources, sources_known) = match broker.dead_letter_sources(src).await {
        Ok(s) => (s, true),
        Err(e) => {
            warnings.push(format!(
                "cannot list the queues that use {} as their DLQ: {e}",
                src.name
            ));
            (Vec::new(), false)
        }
    };
    let mut destination_arn = None;
    let chosen_destination = match &request.destination {
        Destination::OwnSource if sources_known && dlq_sources.is_empty() => {
            return Err(PlanError::NotADlq {
                queue: src.name.clone(),
            });
        }
        Destination::OwnSource => {
            if sources_known && dlq_sources.len() != 1 {
                warnings.push(format!(
                    "{} is the DLQ of {} queues: a message without DeadLetterQueueSourceArn \
                     cannot be placed and stays in the DLQ",
                    src.name,
                    dlq_sources.len()
                ));
            }
            None
        }
        Destination::Queue(dest) => {
            if dest.url == src.url {
                return Err(PlanError::Invalid(format!(
                    "{} is both the source and the destination",
                    src.name
                )));
            }
            let d = broker
                .queue_attributes(dest)
                .await
                .map_err(|error| PlanError::Broker {
                    context: format!("cannot read the destination queue {}", dest.name),
                    error,
                })?;
            let target = if arn_prefix(&d.arn) != arn_prefix(&attrs.arn) {
                Err("a move task only targets a queue in the same account and region".into())
            } else if d.fifo != attrs.fifo {
                Err("a move task only targets a queue of the same kind (FIFO or standard)".into())
            } else {
                Ok(())
            };
            if d.fifo && !attrs.fifo {
                warnings.push(format!(
                    "{} is FIFO and {} is not: the messages get the group id {}",
                    dest.name,
                    src.name,
                    mover::DEFAULT_GROUP_ID
                ));
            }
            destination_arn = Some(d.arn);
            Some(target)
        }
    };
    let (support, running_task) = match broker.list_move_tasks(&attrs.arn).await {
        Ok(tasks) => (
            TaskSupport::Yes,
            tasks.into_iter().find(|t| t.status.is_running()),
        ),
        Err(e) => (TaskSupport::No(e.to_string()), None),
    };
    let facts = ModeFacts {
        preference: request.mode,
        filtered: request.filter.is_some() || request.transform.is_some(),
        max: request.max,
        rate: request.rate,
        source_is_dlq: !dlq_sources.is_empty(),
        chosen_destination,
        support,
        running_task: running_task.is_some(),
        fifo: attrs.fifo,
    };
    if facts.running_task && request.mode != ModePreference::ClientSide {
        return Err(PlanError::TaskRunning {
            queue: src.name.clone(),
        });
    }
    let declared: Vec<String> = broker
        .declared_sources(src)
        .into_iter()
        .filter(|name| dlq_sources.iter().any(|q| &q.name == name))
        .collect();
    let (mode, mode_reason) = if declared.is_empty() || request.mode == ModePreference::ClientSide {
        choose_mode(&facts).map_err(|why| match request.mode {
            ModePreference::MoveTask => PlanError::MoveTaskCannot(why),
            _ => PlanError::Invalid(why),
        })?
    } else {
        let why = format!(
            "{}'s link to {} is declared in the config, not a redrive policy: SQS does not \
             know it as a DLQ, so no move task can start from it",
            src.name,
            declared.join(", ")
        );
        if request.mode == ModePreference::MoveTask {
            return Err(PlanError::MoveTaskCannot(format!(
                "an SQS move task cannot do this: {why}"
            )));
        }
        (Mode::ClientSide, format!("client-side: {why}"))
    };
    let destinations = match &request.destination {
        Destination::OwnSource => dlq_sources.iter().map(|q| q.name.clone()).collect(),
        Destination::Queue(q) => vec![q.name.clone()],
    };
    if mode == Mode::ClientSide {
        let hold = mover::skip_hold(attrs.visible);
        warnings.push(format!(
            "messages {} stay hidden for up to {} min so this pass does not see them twice; \
             stopping lazysqs gives them back at once",
            if request.filter.is_some() {
                "the filter skips, and any that fail,"
            } else {
                "that fail to move"
            },
            hold.as_secs().div_ceil(60)
        ));
    }
    if mode == Mode::MoveTask && attrs.fifo {
        warnings.push(FIFO_TASK_RISK.into());
    }
    if request.source.is_fifo() && request.filter.is_some() {
        warnings.push(
            "on a FIFO queue a filter keeps the order: messages behind an unmatched one \
             of the same group stay where they are"
                .into(),
        );
    }
    Ok(Plan {
        source_arn: attrs.arn,
        source_fifo: attrs.fifo,
        visible: attrs.visible,
        dlq_sources,
        destination_arn,
        mode,
        mode_reason,
        destinations,
        warnings,
        running_task,
        request,
    })
}

/// `arn:partition:sqs:region:account:` of a queue ARN.
fn arn_prefix(arn: &str) -> &str {
    match arn.rfind(':') {
        Some(i) => &arn[..=i],
        None => arn,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
