//! The `Broker` trait: the only door to a queue system.
//!
//! Everything above it (panes, pollers, breakers, requeue, redrive) is written once
//! and runs against either backend: [`aws::AwsBroker`] or [`crate::sim::SimBroker`].

pub mod aws;
pub mod multi;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What went wrong talking to a queue system, sorted so the UI can say something
/// useful and pollers can back off.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("credentials: {0}")]
    Auth(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("{0}")]
    Other(String),
}

impl BrokerError {
    /// A short label for the status bar.
    pub fn kind(&self) -> &'static str {
        match self {
            BrokerError::Throttled(_) => "throttled",
            BrokerError::Auth(_) => "credentials",
            BrokerError::NotFound(_) => "not found",
            BrokerError::Unsupported(_) => "unsupported",
            BrokerError::Unreachable(_) => "unreachable",
            BrokerError::Invalid(_) => "invalid",
            BrokerError::Other(_) => "error",
        }
    }
}

pub type BrokerResult<T> = Result<T, BrokerError>;

/// A queue as the broker names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueRef {
    pub name: String,
    pub url: String,
    /// Where it lives; every call about it goes there.
    pub place: Place,
}

impl QueueRef {
    /// A queue whose place is not known (the simulation, a test): it matches any.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> QueueRef {
        QueueRef {
            name: name.into(),
            url: url.into(),
            place: Place::default(),
        }
    }

    pub fn is_fifo(&self) -> bool {
        self.name.ends_with(".fifo")
    }
}

/// Where a queue lives: its region and account. An empty part is not known, and
/// matches any (the simulation has neither).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Place {
    pub region: String,
    pub account: String,
}

impl Place {
    pub fn new(region: impl Into<String>, account: impl Into<String>) -> Place {
        Place {
            region: region.into(),
            account: account.into(),
        }
    }

    /// The place an ARN names: `arn:PARTITION:sqs:REGION:ACCOUNT:NAME`.
    pub fn of_arn(arn: &str) -> Place {
        let parts: Vec<&str> = arn.split(':').collect();
        match parts.as_slice() {
            ["arn", _, _, region, account, _] => Place::new(*region, *account),
            _ => Place::default(),
        }
    }

    /// Whether a queue at `other` may be here: each part equal, or unknown on one side.
    pub fn holds(&self, other: &Place) -> bool {
        let same = |a: &str, b: &str| a.is_empty() || b.is_empty() || a == b;
        same(&self.region, &other.region) && same(&self.account, &other.account)
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.region.is_empty(), self.account.is_empty()) {
            (false, false) => write!(f, "{} in account {}", self.region, self.account),
            (false, true) => f.write_str(&self.region),
            (true, false) => write!(f, "account {}", self.account),
            (true, true) => f.write_str("anywhere"),
        }
    }
}

/// Each place's listing put together: the queues of every place that answered,
/// and the places that failed (named for people; "" when there is only one).
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub found: Vec<QueueRef>,
    pub failed: Vec<(String, BrokerError)>,
}

impl Discovery {
    /// From each place's listing.
    pub fn of_each(listings: Vec<(String, BrokerResult<Vec<QueueRef>>)>) -> Discovery {
        let several = listings.len() > 1;
        let mut d = Discovery::default();
        for (place, result) in listings {
            match result {
                Ok(queues) => d.found.extend(queues),
                Err(e) => d
                    .failed
                    .push((if several { place } else { String::new() }, e)),
            }
        }
        d
    }

    /// The queues found, or the first error when every place failed.
    pub fn or_all_failed(self, places: usize) -> BrokerResult<Discovery> {
        match self.failed.first() {
            Some((_, e)) if self.failed.len() == places => Err(e.clone()),
            _ => Ok(self),
        }
    }
}

impl From<BrokerResult<Vec<QueueRef>>> for Discovery {
    fn from(result: BrokerResult<Vec<QueueRef>>) -> Discovery {
        Discovery::of_each(vec![(String::new(), result)])
    }
}

/// Which queues to watch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueSelection {
    /// Exact queue names.
    pub names: Vec<String>,
    /// Name prefixes.
    pub prefixes: Vec<String>,
    /// Only queues that may be here (see [`Place::holds`]); `None`: anywhere.
    pub place: Option<Place>,
}

impl QueueSelection {
    /// One queue by name, near `place` when given.
    pub fn named(name: &str, place: Option<&Place>) -> QueueSelection {
        QueueSelection {
            names: vec![name.to_string()],
            prefixes: Vec::new(),
            place: place.cloned(),
        }
    }

    pub(crate) fn is_all(&self) -> bool {
        self.names.is_empty() && self.prefixes.is_empty()
    }

    pub fn matches(&self, name: &str) -> bool {
        self.is_all()
            || self.names.iter().any(|n| n == name)
            || self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }
}

/// The redrive policy of a source queue: where its failures go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    pub dlq_arn: String,
    pub max_receive_count: u32,
}

/// Queue attributes, from one GetQueueAttributes call.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueAttrs {
    pub arn: String,
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
    pub fifo: bool,
    pub content_based_dedup: bool,
    pub visibility_timeout: Duration,
    pub retention: Duration,
    pub redrive: Option<RedrivePolicy>,
    /// MaximumMessageSize: the most a message (body and attributes) may weigh.
    pub max_message_size: usize,
}

impl QueueAttrs {
    /// Every message the queue holds: visible, in flight and delayed.
    pub fn depth(&self) -> u64 {
        self.visible + self.in_flight + self.delayed
    }
}

/// Per-queue metrics (CloudWatch in AWS). `None` means no data, never zero.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueMetrics {
    pub age_of_oldest: Option<Duration>,
    /// Messages sent in the last minute.
    pub sent_per_min: Option<f64>,
    /// Messages received in the last minute.
    pub received_per_min: Option<f64>,
    /// Messages deleted in the last minute.
    pub deleted_per_min: Option<f64>,
    /// The start of the minute the per-minute figures are for (CloudWatch's
    /// metrics land late: this says how late).
    pub minute: Option<DateTime<Utc>>,
}

/// The state of a CloudWatch-style alarm, which a circuit breaker can follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

/// A message as received, with the receipt handle that lets us delete it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// Message attributes: name → (data type, string value).
    pub attributes: BTreeMap<String, MessageAttribute>,
    pub receive_count: u32,
    pub sent_at: Option<DateTime<Utc>>,
    pub first_received_at: Option<DateTime<Utc>>,
    pub dlq_source_arn: Option<String>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    /// The `AWSTraceHeader` system attribute (X-Ray tracing).
    pub trace_header: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    pub data_type: String,
    pub value: String,
}

/// A message to send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutgoingMessage {
    pub body: String,
    pub attributes: BTreeMap<String, MessageAttribute>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    pub delay: Option<Duration>,
    /// Sent as the `AWSTraceHeader` system attribute.
    pub trace_header: Option<String>,
}

impl OutgoingMessage {
    /// The message that carries `body` to `dest` with everything the original
    /// had: every attribute, its group id (on standard queues too: fair queues)
    /// and its trace header. A FIFO destination gets a fresh deduplication id,
    /// since SQS silently drops a reused one within five minutes. Requeue,
    /// redrive and import all build their messages here.
    pub(crate) fn carrying(
        dest: &QueueRef,
        body: String,
        attributes: BTreeMap<String, MessageAttribute>,
        group_id: Option<String>,
        trace_header: Option<String>,
    ) -> OutgoingMessage {
        OutgoingMessage {
            body,
            attributes,
            group_id,
            dedup_id: dest
                .is_fifo()
                .then(|| uuid::Uuid::new_v4().simple().to_string()),
            delay: None,
            trace_header,
        }
    }

    /// The size SQS counts against MaximumMessageSize: the body plus each
    /// attribute's name, data type and value (binary values decoded).
    pub fn size(&self) -> usize {
        self.body.len() + attributes_size(&self.attributes)
    }
}

/// What message attributes add to a message's size, as SQS counts it: each
/// name, data type and value.
pub(crate) fn attributes_size(attributes: &BTreeMap<String, MessageAttribute>) -> usize {
    attributes
        .iter()
        .map(|(name, a)| name.len() + a.data_type.len() + a.value_len())
        .sum()
}

impl MessageAttribute {
    /// The value's size in bytes as SQS counts it (binary values are carried
    /// base64-encoded here).
    pub(crate) fn value_len(&self) -> usize {
        if self.data_type.starts_with("Binary") {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(&self.value)
                .map_or(self.value.len(), |b| b.len())
        } else {
            self.value.len()
        }
    }
}

/// Splits messages, in order, into SendMessageBatch requests of at most 10
/// entries and [`MAX_BATCH_BYTES`] in total. A message over the batch limit on its
/// own goes alone (the per-message check refuses it first).
pub(crate) fn size_batches(sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0usize);
    for (i, &size) in sizes.iter().enumerate() {
        if i > start && (i - start == MAX_BATCH_ENTRIES || bytes + size > MAX_BATCH_BYTES) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// One entry of a batch call's result: the entry's index in the request, and its outcome.
pub type BatchOutcome<T> = Vec<(usize, BrokerResult<T>)>;

/// Where a move task stands, as ListMessageMoveTasks says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveTaskStatus {
    Running,
    Cancelling,
    Cancelled,
    Completed,
    Failed,
    /// A status this version does not know, as the server wrote it.
    Other(String),
}

impl MoveTaskStatus {
    pub fn parse(s: &str) -> MoveTaskStatus {
        match s {
            "RUNNING" => MoveTaskStatus::Running,
            "CANCELLING" => MoveTaskStatus::Cancelling,
            "CANCELLED" => MoveTaskStatus::Cancelled,
            "COMPLETED" => MoveTaskStatus::Completed,
            "FAILED" => MoveTaskStatus::Failed,
            other => MoveTaskStatus::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            MoveTaskStatus::Running => "RUNNING",
            MoveTaskStatus::Cancelling => "CANCELLING",
            MoveTaskStatus::Cancelled => "CANCELLED",
            MoveTaskStatus::Completed => "COMPLETED",
            MoveTaskStatus::Failed => "FAILED",
            MoveTaskStatus::Other(s) => s,
        }
    }

    pub fn is_running(&self) -> bool {
        *self == MoveTaskStatus::Running
    }
}

impl std::fmt::Display for MoveTaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A server-side message move task (StartMessageMoveTask).
#[derive(Debug, Clone, PartialEq)]
pub struct MoveTask {
    pub handle: Option<String>,
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub status: MoveTaskStatus,
    pub moved: u64,
    pub to_move: Option<u64>,
    pub rate: Option<u32>,
    pub failure_reason: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
}

/// A queue system: real SQS and CloudWatch, or the built-in simulation.
#[async_trait]
pub trait Broker: Send + Sync {
    /// Where the data comes from, for the status bar ("demo", "us-east-1 (prod)").
    fn describe(&self) -> String;

    /// Calls the client library made again on its own (attempts after a call's
    /// first) since this broker was made, on every task that uses it; 0 where the
    /// library does not retry. Reports count the difference over their run.
    fn sdk_retries(&self) -> u64 {
        0
    }

    async fn list_queues(&self, selection: &QueueSelection) -> BrokerResult<Vec<QueueRef>>;
    /// The listing of each place apart, named for people ("eu-west-1 (profile b)"),
    /// so that one place failing hides none of the others. By default: one place.
    async fn list_queues_each(
        &self,
        selection: &QueueSelection,
    ) -> Vec<(String, BrokerResult<Vec<QueueRef>>)> {
        vec![(self.describe(), self.list_queues(selection).await)]
    }
    async fn queue_attributes(&self, queue: &QueueRef) -> BrokerResult<QueueAttrs>;
    /// The queues whose redrive policy points at this DLQ (and those the config
    /// declares, see [`Broker::declared_sources`]).
    async fn dead_letter_sources(&self, dlq: &QueueRef) -> BrokerResult<Vec<QueueRef>>;
    /// The names among [`Broker::dead_letter_sources`] that only the config
    /// declares (`[[dlq]]`), with no redrive policy: SQS does not know the link,
    /// so no move task can start from this DLQ. By default: none.
    fn declared_sources(&self, _dlq: &QueueRef) -> Vec<String> {
        Vec::new()
    }
    /// Metrics for many queues at once (batched in AWS).
    async fn metrics(&self, queues: &[QueueRef]) -> BrokerResult<Vec<QueueMetrics>>;
    async fn alarm_state(&self, alarm: &str) -> BrokerResult<AlarmState>;

    async fn receive(
        &self,
        queue: &QueueRef,
        max: u32,
        visibility: Duration,
    ) -> BrokerResult<Vec<Message>>;
    /// A receive that waits up to `wait` for a message when none is there (SQS long
    /// polling, which also asks every server rather than a sample). By default: a
    /// receive, and when it brings nothing, another after `wait`.
    async fn receive_waiting(
        &self,
        queue: &QueueRef,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> BrokerResult<Vec<Message>> {
        let got = self.receive(queue, max, visibility).await?;
        if !got.is_empty() || wait.is_zero() {
            return Ok(got);
        }
        tokio::time::sleep(wait).await;
        self.receive(queue, max, visibility).await
    }
    /// Sends one message; returns the new message id.
    async fn send(&self, queue: &QueueRef, message: OutgoingMessage) -> BrokerResult<String>;
    async fn send_batch(
        &self,
        queue: &QueueRef,
        messages: Vec<OutgoingMessage>,
    ) -> BrokerResult<BatchOutcome<String>>;
    async fn delete(&self, queue: &QueueRef, receipt_handle: &str) -> BrokerResult<()>;
    async fn delete_batch(
        &self,
        queue: &QueueRef,
        receipt_handles: Vec<String>,
    ) -> BrokerResult<BatchOutcome<()>>;
    async fn change_visibility(
        &self,
        queue: &QueueRef,
        receipt_handles: Vec<String>,
        visibility: Duration,
    ) -> BrokerResult<BatchOutcome<()>>;

    async fn start_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        rate: Option<u32>,
    ) -> BrokerResult<String>;
    async fn list_move_tasks(&self, source_arn: &str) -> BrokerResult<Vec<MoveTask>>;
    async fn cancel_move_task(&self, handle: &str) -> BrokerResult<u64>;
}

/// SQS's MaximumMessageSize for a new queue, and its ceiling, since 2025 (1 MiB).
pub(crate) const DEFAULT_MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// The most a SendMessageBatch request may carry in all.
pub(crate) const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// The most entries a batch call may carry.
pub(crate) const MAX_BATCH_ENTRIES: usize = 10;
/// How many message attributes SQS accepts.
pub(crate) const MAX_ATTRIBUTES: usize = 10;

/// A size for people: bytes, KiB or MiB.
pub(crate) fn human_size(bytes: usize) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

/// Checks what SQS itself would refuse, before a message goes anywhere: `limit`
/// is the destination queue's MaximumMessageSize.
pub(crate) fn validate_outgoing(
    queue: &str,
    msg: &OutgoingMessage,
    limit: usize,
) -> BrokerResult<()> {
    if msg.body.is_empty() {
        return Err(BrokerError::Invalid(
            "a message body cannot be empty".into(),
        ));
    }
    let size = msg.size();
    if size > limit {
        return Err(BrokerError::Invalid(format!(
            "the message is {size} bytes ({}, body and attributes), over {queue}'s limit of {limit} bytes ({})",
            human_size(size),
            human_size(limit)
        )));
    }
    if msg.attributes.len() > MAX_ATTRIBUTES {
        return Err(BrokerError::Invalid(format!(
            "{} message attributes, over the limit of {MAX_ATTRIBUTES}",
            msg.attributes.len()
        )));
    }
    if queue.ends_with(".fifo") && msg.group_id.is_none() {
        return Err(BrokerError::Invalid(format!(
            "{queue} is a FIFO queue: a message needs a MessageGroupId"
        )));
    }
    Ok(())
}

/// The queue name at the end of an ARN (`arn:aws:sqs:region:account:name`).
pub fn name_from_arn(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}
