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

pub mod filter;
pub mod gate;
pub mod limiter;
pub mod mover;
pub mod record;
pub mod task;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Serialize, Serializer};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::broker::{Broker, BrokerError, BrokerResult, MoveTask, QueueRef};
pub use filter::Filter;
use limiter::RateLimiter;

/// The most messages per second an SQS move task accepts.
pub const MAX_TASK_RATE: u32 = 500;

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
    /// Workers receiving and moving batches at once. Each has one call in flight, so
    /// against a real endpoint (milliseconds per call) throughput grows with them; with
    /// a rate limit the idle ones just wait for tokens (without holding messages).
    pub workers: usize,
    /// How long a received message stays hidden while it is being moved.
    pub visibility: Duration,
    /// Attempts per batch entry before a message is reported as failed.
    pub attempts: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            workers: 16,
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
    pub mode: ModePreference,
    pub client: ClientOptions,
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
}

/// Chooses the mode: a move task by default where it can serve, else client-side.
/// Returns the mode and why, or why the preferred mode is impossible.
pub fn choose_mode(f: &ModeFacts) -> Result<(Mode, String), String> {
    let mut blockers = Vec::new();
    if f.filtered {
        blockers.push("a filter needs a client-side move".to_string());
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

    /// The single source queue a message without `DeadLetterQueueSourceArn` goes back to.
    pub fn fallback_source(&self) -> Option<QueueRef> {
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
        let filter = r
            .filter
            .as_ref()
            .map(|f| format!(" where {f}"))
            .unwrap_or_default();
        let to = match &r.destination {
            Destination::OwnSource if self.destinations.is_empty() => {
                "back to their source queues".to_string()
            }
            Destination::OwnSource => {
                format!("back to their source ({})", self.destinations.join(", "))
            }
            Destination::Queue(q) => format!("to {}", q.name),
        };
        let rate = match r.rate {
            Some(n) => format!("at {n} msg/s"),
            None if self.mode == Mode::MoveTask => "at the server's pace".to_string(),
            None => "as fast as possible".to_string(),
        };
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
            if dest.name == src.name {
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
        filtered: request.filter.is_some(),
        max: request.max,
        rate: request.rate,
        source_is_dlq: !dlq_sources.is_empty(),
        chosen_destination,
        support,
        running_task: running_task.is_some(),
    };
    let (mode, mode_reason) = choose_mode(&facts).map_err(PlanError::Invalid)?;
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

/// Starts a planned redrive, after putting it on the audit record (a redrive
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
            task::start(
                broker,
                task::TaskConfig {
                    source: r.source.clone(),
                    source_arn: plan.source_arn.clone(),
                    destination_arn: plan.destination_arn.clone(),
                    rate: r.rate,
                    poll: task::DEFAULT_POLL,
                },
            )
            .await
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
                options: r.client,
                expected: Some(plan.visible),
            },
        )),
    }
}

/// Where a redrive stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Starting,
    Running,
    Paused,
    /// Cancel asked for; finishing the batches in hand (client-side) or waiting for
    /// the server (move task).
    Cancelling,
    Completed,
    Cancelled,
    Failed,
}

impl RunState {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunState::Completed | RunState::Cancelled | RunState::Failed
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            RunState::Starting => "starting",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Cancelling => "cancelling",
            RunState::Completed => "completed",
            RunState::Cancelled => "cancelled",
            RunState::Failed => "failed",
        }
    }
}

/// A message that could not be moved; it is still in the DLQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageFailure {
    pub message_id: String,
    /// Where it was going, when known.
    pub destination: Option<String>,
    pub reason: String,
}

fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

fn opt_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => secs(d, s),
        None => s.serialize_none(),
    }
}

/// A live view of a redrive, sent on a `watch` channel after every batch (client-side)
/// or poll (move task), and at least every half second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub mode: Mode,
    pub state: RunState,
    pub moved: u64,
    /// Messages that could not be moved (they stay in the DLQ).
    pub failed: u64,
    /// Received but not selected by the filter; released untouched.
    pub skipped: u64,
    /// Moved and confirmed sent, but the delete from the DLQ failed: the message
    /// is in both queues (a duplicate, never a loss).
    pub not_deleted: u64,
    /// How many the run expects to move in all, when known (moved + failed + remaining).
    pub total: Option<u64>,
    /// How many are left, when known; with a filter it is an upper bound.
    pub remaining: Option<u64>,
    /// Measured messages per second over the last few seconds.
    pub rate: f64,
    /// The target rate; `None`: unlimited (or the server's own pace).
    pub target_rate: Option<f64>,
    #[serde(rename = "elapsed_secs", serialize_with = "secs")]
    pub elapsed: Duration,
    #[serde(rename = "eta_secs", serialize_with = "opt_secs")]
    pub eta: Option<Duration>,
    /// The move task's status or failure reason, or the latest error.
    pub detail: Option<String>,
    /// The last few failures (all of them are in the [`Report`]).
    pub recent_failures: Vec<MessageFailure>,
}

impl Progress {
    pub(crate) fn new(mode: Mode, target_rate: Option<f64>) -> Self {
        Progress {
            mode,
            state: RunState::Starting,
            moved: 0,
            failed: 0,
            skipped: 0,
            not_deleted: 0,
            total: None,
            remaining: None,
            rate: 0.0,
            target_rate,
            elapsed: Duration::ZERO,
            eta: None,
            detail: None,
            recent_failures: Vec::new(),
        }
    }

    /// Done so far as a fraction of the total, for a progress bar.
    pub fn fraction(&self) -> Option<f64> {
        let total = self.total?;
        if total == 0 {
            return Some(if self.state.is_finished() { 1.0 } else { 0.0 });
        }
        Some(((self.moved + self.failed) as f64 / total as f64).clamp(0.0, 1.0))
    }
}

/// The outcome of a finished redrive; the headless command prints it as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub mode: Mode,
    pub state: RunState,
    pub source: String,
    pub destination: String,
    pub moved: u64,
    pub failed: u64,
    pub skipped: u64,
    pub not_deleted: u64,
    pub duration_secs: f64,
    /// Average messages per second from the start to the last message moved
    /// (pauses excluded).
    pub rate: f64,
    pub target_rate: Option<f64>,
    /// Moved messages per destination queue (client-side).
    pub by_destination: BTreeMap<String, u64>,
    pub failures: Vec<MessageFailure>,
    /// Why the run failed or stopped early.
    pub error: Option<String>,
    /// The move task's handle (ARN-like), for a move task.
    pub task_handle: Option<String>,
}

impl Report {
    /// Whether everything asked for was moved.
    pub fn succeeded(&self) -> bool {
        self.state == RunState::Completed && self.failed == 0 && self.error.is_none()
    }
}

/// What the workers are told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directive {
    Run,
    Pause,
    Cancel,
}

/// Why a control action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("an SQS move task cannot pause or resume: cancel it, and start again later")]
    NotPausable,
    #[error("an SQS move task's rate is fixed when it starts")]
    FixedRate,
    #[error("the rate must be at least 1 message/s")]
    BadRate,
    #[error("the redrive has finished")]
    Finished,
}

/// Steers a running redrive. Cheap to clone; every method returns at once (the
/// workers act on it between batches), so it is safe to call from `update`.
#[derive(Debug, Clone)]
pub struct Control {
    mode: Mode,
    directive: Arc<watch::Sender<Directive>>,
    limiter: Option<Arc<RateLimiter>>,
}

impl Control {
    pub(crate) fn new(mode: Mode, limiter: Option<Arc<RateLimiter>>) -> Self {
        let (tx, _) = watch::channel(Directive::Run);
        Control {
            mode,
            directive: Arc::new(tx),
            limiter,
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Directive> {
        self.directive.subscribe()
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether pause and resume are possible (client-side only).
    pub fn can_pause(&self) -> bool {
        self.mode == Mode::ClientSide
    }

    pub fn directive(&self) -> Directive {
        *self.directive.borrow()
    }

    fn set(&self, d: Directive) -> Result<(), ControlError> {
        let mut result = Ok(());
        self.directive.send_if_modified(|cur| {
            if *cur == Directive::Cancel && d != Directive::Cancel {
                result = Err(ControlError::Finished);
                return false;
            }
            let changed = *cur != d;
            *cur = d;
            changed
        });
        result
    }

    /// Pauses after the batches in hand (client-side).
    pub fn pause(&self) -> Result<(), ControlError> {
        if !self.can_pause() {
            return Err(ControlError::NotPausable);
        }
        self.set(Directive::Pause)
    }

    pub fn resume(&self) -> Result<(), ControlError> {
        if !self.can_pause() {
            return Err(ControlError::NotPausable);
        }
        self.set(Directive::Run)
    }

    /// Stops: client-side after the batches in hand (nothing is half-moved); a move
    /// task through CancelMessageMoveTask.
    pub fn cancel(&self) {
        let _ = self.set(Directive::Cancel);
    }

    /// Changes the client-side rate from now on (`None`: unlimited).
    pub fn set_rate(&self, rate: Option<u32>) -> Result<(), ControlError> {
        if rate == Some(0) {
            return Err(ControlError::BadRate);
        }
        match &self.limiter {
            Some(l) => {
                l.set_rate(rate.map(f64::from));
                Ok(())
            }
            None => Err(ControlError::FixedRate),
        }
    }

    /// The current target rate (client-side).
    pub fn rate(&self) -> Option<f64> {
        self.limiter.as_ref().and_then(|l| l.rate())
    }
}

/// A running redrive: watch its progress, steer it, and wait for its report.
#[derive(Debug)]
pub struct RedriveHandle {
    /// Always holds the latest [`Progress`]; `changed().await` wakes on each update.
    pub progress: watch::Receiver<Progress>,
    pub control: Control,
    task: JoinHandle<Report>,
    /// Used if the task panicked.
    fallback: Report,
}

impl RedriveHandle {
    pub(crate) fn new(
        progress: watch::Receiver<Progress>,
        control: Control,
        task: JoinHandle<Report>,
        fallback: Report,
    ) -> Self {
        RedriveHandle {
            progress,
            control,
            task,
            fallback,
        }
    }

    /// The latest progress.
    pub fn snapshot(&self) -> Progress {
        self.progress.borrow().clone()
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the end and returns the report.
    pub async fn wait(self) -> Report {
        match self.task.await {
            Ok(report) => report,
            Err(e) => {
                let p = self.progress.borrow().clone();
                Report {
                    state: RunState::Failed,
                    moved: p.moved,
                    failed: p.failed,
                    skipped: p.skipped,
                    not_deleted: p.not_deleted,
                    duration_secs: p.elapsed.as_secs_f64(),
                    error: Some(format!("the redrive task stopped: {e}")),
                    ..self.fallback
                }
            }
        }
    }
}

/// Measured rate over a sliding window of (time, total) samples.
#[derive(Debug, Clone)]
pub(crate) struct RateMeter {
    samples: VecDeque<(Instant, u64)>,
    window: Duration,
}

impl RateMeter {
    pub(crate) fn new(window: Duration) -> Self {
        RateMeter {
            samples: VecDeque::new(),
            window,
        }
    }

    pub(crate) fn record(&mut self, now: Instant, total: u64) {
        self.samples.push_back((now, total));
        // Keep one sample at or before the window's start, so the rate spans it all.
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= self.window)
        {
            self.samples.pop_front();
        }
    }

    pub(crate) fn rate(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some((t0, n0)), Some((t1, n1))) if t1 > t0 => {
                n1.saturating_sub(*n0) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

/// Time left at the measured rate (or the target when nothing is measured yet).
pub(crate) fn eta(remaining: Option<u64>, rate: f64, target: Option<f64>) -> Option<Duration> {
    let remaining = remaining?;
    if remaining == 0 {
        return Some(Duration::ZERO);
    }
    let r = if rate > 0.0 { rate } else { target? };
    if r > 0.0 {
        Duration::try_from_secs_f64(remaining as f64 / r).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ModeFacts {
        ModeFacts {
            preference: ModePreference::Auto,
            filtered: false,
            max: None,
            rate: Some(50),
            source_is_dlq: true,
            chosen_destination: None,
            support: TaskSupport::Yes,
            running_task: false,
        }
    }

    #[test]
    fn a_move_task_by_default_where_it_can_serve() {
        assert_eq!(choose_mode(&facts()).map(|m| m.0), Ok(Mode::MoveTask));
        let to_queue = ModeFacts {
            chosen_destination: Some(Ok(())),
            ..facts()
        };
        assert_eq!(choose_mode(&to_queue).map(|m| m.0), Ok(Mode::MoveTask));
    }

    #[test]
    fn client_side_where_a_move_task_cannot_serve() {
        let cases = [
            (
                ModeFacts {
                    filtered: true,
                    ..facts()
                },
                "filter",
            ),
            (
                ModeFacts {
                    max: Some(10),
                    ..facts()
                },
                "after N",
            ),
            (
                ModeFacts {
                    rate: Some(800),
                    ..facts()
                },
                "at most 500",
            ),
            (
                ModeFacts {
                    source_is_dlq: false,
                    ..facts()
                },
                "dead-letter queue",
            ),
            (
                ModeFacts {
                    chosen_destination: Some(Err("same account".into())),
                    ..facts()
                },
                "same account",
            ),
            (
                ModeFacts {
                    support: TaskSupport::No("not supported".into()),
                    ..facts()
                },
                "no move tasks",
            ),
        ];
        for (f, why) in cases {
            let (mode, reason) = choose_mode(&f).expect("a mode");
            assert_eq!(mode, Mode::ClientSide, "{f:?}");
            assert!(reason.contains(why), "{reason} should say {why}");
            let forced = ModeFacts {
                preference: ModePreference::MoveTask,
                ..f
            };
            let err = choose_mode(&forced).expect_err("a move task cannot serve");
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn client_side_when_asked_and_one_task_at_a_time() {
        let asked = ModeFacts {
            preference: ModePreference::ClientSide,
            ..facts()
        };
        assert_eq!(choose_mode(&asked).map(|m| m.0), Ok(Mode::ClientSide));
        let running = ModeFacts {
            running_task: true,
            ..facts()
        };
        assert!(
            choose_mode(&running)
                .expect_err("busy")
                .contains("already running")
        );
        let running_client = ModeFacts {
            preference: ModePreference::ClientSide,
            running_task: true,
            ..facts()
        };
        assert_eq!(
            choose_mode(&running_client).map(|m| m.0),
            Ok(Mode::ClientSide)
        );
    }

    #[test]
    fn control_pauses_resumes_and_cancels_for_good() {
        let c = Control::new(Mode::ClientSide, Some(Arc::new(RateLimiter::unlimited())));
        assert_eq!(c.directive(), Directive::Run);
        c.pause().expect("pause");
        assert_eq!(c.directive(), Directive::Pause);
        c.resume().expect("resume");
        assert_eq!(c.directive(), Directive::Run);
        c.set_rate(Some(20)).expect("rate");
        assert_eq!(c.rate(), Some(20.0));
        assert_eq!(c.set_rate(Some(0)), Err(ControlError::BadRate));
        c.cancel();
        assert_eq!(c.resume(), Err(ControlError::Finished));
        assert_eq!(c.directive(), Directive::Cancel);
        let t = Control::new(Mode::MoveTask, None);
        assert_eq!(t.pause(), Err(ControlError::NotPausable));
        assert_eq!(t.set_rate(Some(5)), Err(ControlError::FixedRate));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_meter_measures_over_its_window() {
        let mut m = RateMeter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        for s in 0..=30u64 {
            m.record(t0 + Duration::from_secs(s), s * 20);
        }
        assert!((m.rate() - 20.0).abs() < 1e-9, "{}", m.rate());
        assert_eq!(eta(Some(100), m.rate(), None), Some(Duration::from_secs(5)));
        assert_eq!(
            eta(Some(100), 0.0, Some(50.0)),
            Some(Duration::from_secs(2))
        );
        assert_eq!(eta(Some(100), 0.0, None), None);
        assert_eq!(eta(Some(0), 0.0, None), Some(Duration::ZERO));
    }
}
