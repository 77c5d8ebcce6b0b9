//! An in-process model of SQS semantics, driven by an explicit clock.
//!
//! Time only moves when [`Model::advance`] is called, so tests are deterministic.
//! It models visibility timeouts, receive counts, the redrive policy to a DLQ,
//! retention, delay, FIFO group ordering and 5-minute deduplication, server-side
//! move tasks at a rate, and per-second counters that give CloudWatch-like metrics.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::broker::{
    AlarmState, BatchOutcome, BrokerError, BrokerResult, Message, MessageAttribute, MoveTask,
    MoveTaskStatus, OutgoingMessage, QueueAttrs, QueueMetrics, QueueRef, RedrivePolicy,
};

pub(crate) use crate::broker::{DEFAULT_MAX_MESSAGE_BYTES, MAX_BATCH_BYTES, validate_outgoing};
const DEDUP_WINDOW: Duration = Duration::from_secs(300);
/// How long per-second counters are kept (CloudWatch-like history).
const COUNTER_HISTORY_SECS: u64 = 15 * 60;
const REGION: &str = "sim-1";
const ACCOUNT: &str = "000000000000";

/// How a queue is created.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpec {
    pub name: String,
    pub visibility_timeout: Duration,
    pub retention: Duration,
    pub delay: Duration,
    pub content_based_dedup: bool,
    /// (DLQ name, maxReceiveCount)
    pub redrive: Option<(String, u32)>,
    /// MaximumMessageSize in bytes.
    pub max_message_size: usize,
}

impl QueueSpec {
    pub fn new(name: &str) -> Self {
        QueueSpec {
            name: name.to_string(),
            visibility_timeout: Duration::from_secs(30),
            retention: Duration::from_secs(4 * 24 * 3600),
            delay: Duration::ZERO,
            content_based_dedup: false,
            redrive: None,
            max_message_size: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

#[derive(Debug, Clone)]
struct SimMessage {
    id: String,
    body: String,
    attributes: BTreeMap<String, MessageAttribute>,
    sent_at: Duration,
    visible_at: Duration,
    receive_count: u32,
    first_received_at: Option<Duration>,
    receipt: Option<String>,
    dlq_source_arn: Option<String>,
    group_id: Option<String>,
    dedup_id: Option<String>,
    trace_header: Option<String>,
}

impl SimMessage {
    fn in_flight(&self, now: Duration) -> bool {
        self.receipt.is_some() && self.visible_at > now
    }
    fn delayed(&self, now: Duration) -> bool {
        self.receipt.is_none() && self.visible_at > now
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    sent: u64,
    received: u64,
    deleted: u64,
}

#[derive(Debug)]
struct SimQueue {
    spec: QueueSpec,
    messages: VecDeque<SimMessage>,
    /// Deduplication id → (time sent, message id), FIFO only.
    dedup: HashMap<String, (Duration, String)>,
    /// Per-second counters: (second, counts).
    counters: VecDeque<(u64, Counts)>,
}

impl SimQueue {
    fn fifo(&self) -> bool {
        self.spec.name.ends_with(".fifo")
    }

    fn count(&mut self, now: Duration, f: impl FnOnce(&mut Counts)) {
        let sec = now.as_secs();
        match self.counters.back_mut() {
            Some((s, c)) if *s == sec => f(c),
            _ => {
                let mut c = Counts::default();
                f(&mut c);
                self.counters.push_back((sec, c));
            }
        }
        while let Some((s, _)) = self.counters.front() {
            if s + COUNTER_HISTORY_SECS < sec {
                self.counters.pop_front();
            } else {
                break;
            }
        }
    }

    /// Sums of the counters over the last `window` before `now`.
    fn window(&self, now: Duration, window: Duration) -> Counts {
        let from = now.saturating_sub(window).as_secs();
        let mut total = Counts::default();
        for (s, c) in self.counters.iter().rev() {
            if *s < from {
                break;
            }
            total.sent += c.sent;
            total.received += c.received;
            total.deleted += c.deleted;
        }
        total
    }

    fn find_by_receipt(&self, receipt: &str, now: Duration) -> BrokerResult<usize> {
        let index = self
            .messages
            .iter()
            .position(|m| m.receipt.as_deref() == Some(receipt))
            .ok_or_else(|| {
                BrokerError::Invalid(format!(
                    "receipt handle is not valid for {} (the message was received again or deleted)",
                    self.spec.name
                ))
            })?;
        if self.messages[index].visible_at <= now {
            return Err(BrokerError::Invalid(format!(
                "receipt handle has expired: the message is visible again in {}",
                self.spec.name
            )));
        }
        Ok(index)
    }
}

#[derive(Debug, Clone)]
struct SimMoveTask {
    handle: String,
    source: String,
    destination: Option<String>,
    rate: u32,
    to_move: u64,
    moved: u64,
    status: MoveTaskStatus,
    failure: Option<String>,
    started_at: Duration,
    budget: f64,
}

/// The whole simulated SQS account.
#[derive(Debug)]
pub struct Model {
    now: Duration,
    epoch: DateTime<Utc>,
    queues: BTreeMap<String, SimQueue>,
    tasks: Vec<SimMoveTask>,
    next_id: u64,
}

impl Model {
    /// A model whose time zero is `epoch` on the wall clock.
    pub fn new(epoch: DateTime<Utc>) -> Self {
        Model {
            now: Duration::ZERO,
            epoch,
            queues: BTreeMap::new(),
            tasks: Vec::new(),
            next_id: 1,
        }
    }

    /// Time since the model started.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Model time as a wall-clock time.
    pub fn wall(&self, at: Duration) -> DateTime<Utc> {
        self.epoch + chrono::Duration::from_std(at).unwrap_or_default()
    }

    pub fn create_queue(&mut self, spec: QueueSpec) -> QueueRef {
        let r = queue_ref(&spec.name);
        self.queues.insert(
            spec.name.clone(),
            SimQueue {
                spec,
                messages: VecDeque::new(),
                dedup: HashMap::new(),
                counters: VecDeque::new(),
            },
        );
        r
    }

    /// The simulation has no CloudWatch alarms: an alarm breaker names one
    /// that is not there.
    pub fn alarm(&self, name: &str) -> BrokerResult<AlarmState> {
        Err(BrokerError::NotFound(format!("alarm {name}")))
    }

    fn fresh_id(&mut self, prefix: &str) -> String {
        let id = self.next_id;
        self.next_id += 1;
        format!("{prefix}-{id:08x}-{:04x}", (id * 2654435761) & 0xffff)
    }

    fn queue(&self, name: &str) -> BrokerResult<&SimQueue> {
        self.queues
            .get(name)
            .ok_or_else(|| BrokerError::NotFound(format!("queue {name}")))
    }

    fn queue_mut(&mut self, name: &str) -> BrokerResult<&mut SimQueue> {
        self.queues
            .get_mut(name)
            .ok_or_else(|| BrokerError::NotFound(format!("queue {name}")))
    }

    /// Moves time forward: expires old messages and runs move tasks.
    pub fn advance(&mut self, dt: Duration) {
        self.now += dt;
        let now = self.now;
        for q in self.queues.values_mut() {
            let retention = q.spec.retention;
            q.messages.retain(|m| m.sent_at + retention > now);
            q.dedup.retain(|_, (t, _)| *t + DEDUP_WINDOW > now);
        }
        self.run_move_tasks(dt);
    }

    pub fn list_queues(&self) -> Vec<QueueRef> {
        self.queues.keys().map(|n| queue_ref(n)).collect()
    }

    pub fn attributes(&self, name: &str) -> BrokerResult<QueueAttrs> {
        let q = self.queue(name)?;
        let now = self.now;
        let (mut visible, mut in_flight, mut delayed) = (0, 0, 0);
        for m in &q.messages {
            if m.in_flight(now) {
                in_flight += 1;
            } else if m.delayed(now) {
                delayed += 1;
            } else {
                visible += 1;
            }
        }
        Ok(QueueAttrs {
            arn: arn(name),
            visible,
            in_flight,
            delayed,
            fifo: q.fifo(),
            content_based_dedup: q.spec.content_based_dedup,
            visibility_timeout: q.spec.visibility_timeout,
            retention: q.spec.retention,
            redrive: q.spec.redrive.as_ref().map(|(dlq, max)| RedrivePolicy {
                dlq_arn: arn(dlq),
                max_receive_count: *max,
            }),
            max_message_size: q.spec.max_message_size,
        })
    }

    pub fn dead_letter_sources(&self, dlq: &str) -> BrokerResult<Vec<QueueRef>> {
        self.queue(dlq)?;
        Ok(self
            .queues
            .values()
            .filter(|q| q.spec.redrive.as_ref().is_some_and(|(d, _)| d == dlq))
            .map(|q| queue_ref(&q.spec.name))
            .collect())
    }

    /// Metrics as CloudWatch would give them, over the last minute.
    pub fn metrics(&self, name: &str) -> BrokerResult<QueueMetrics> {
        let q = self.queue(name)?;
        let c = q.window(self.now, Duration::from_secs(60));
        let oldest = q.messages.iter().map(|m| m.sent_at).min();
        Ok(QueueMetrics {
            age_of_oldest: Some(oldest.map_or(Duration::ZERO, |t| self.now.saturating_sub(t))),
            sent_per_min: Some(c.sent as f64),
            received_per_min: Some(c.received as f64),
            deleted_per_min: Some(c.deleted as f64),
            minute: None,
        })
    }

    pub fn send(&mut self, name: &str, msg: OutgoingMessage) -> BrokerResult<String> {
        self.send_with_source(name, msg, None)
    }

    fn send_with_source(
        &mut self,
        name: &str,
        msg: OutgoingMessage,
        dlq_source_arn: Option<String>,
    ) -> BrokerResult<String> {
        let limit = self.queue(name)?.spec.max_message_size;
        validate_outgoing(name, &msg, limit)?;
        let id = self.fresh_id("msg");
        let now = self.now;
        let q = self.queue_mut(name)?;
        let fifo = q.fifo();
        let dedup_id = if fifo {
            if msg.group_id.is_none() {
                return Err(BrokerError::Invalid(format!(
                    "{name} is a FIFO queue: a message needs a MessageGroupId"
                )));
            }
            let dedup = match (&msg.dedup_id, q.spec.content_based_dedup) {
                (Some(d), _) => d.clone(),
                (None, true) => content_hash(&msg.body),
                (None, false) => {
                    return Err(BrokerError::Invalid(format!(
                        "{name} has no content-based deduplication: a message needs a MessageDeduplicationId"
                    )));
                }
            };
            if let Some((_, original)) = q.dedup.get(&dedup) {
                return Ok(original.clone());
            }
            q.dedup.insert(dedup.clone(), (now, id.clone()));
            Some(dedup)
        } else {
            None
        };
        let delay = if fifo {
            q.spec.delay
        } else {
            msg.delay.unwrap_or(q.spec.delay)
        };
        q.messages.push_back(SimMessage {
            id: id.clone(),
            body: msg.body,
            attributes: msg.attributes,
            sent_at: now,
            visible_at: now + delay,
            receive_count: 0,
            first_received_at: None,
            receipt: None,
            dlq_source_arn,
            group_id: msg.group_id,
            dedup_id,
            trace_header: msg.trace_header,
        });
        q.count(now, |c| c.sent += 1);
        Ok(id)
    }

    /// Receives up to `max` messages (1–10), hiding them for `visibility`.
    /// A message already received maxReceiveCount times moves to the DLQ instead.
    pub fn receive(
        &mut self,
        name: &str,
        max: u32,
        visibility: Duration,
    ) -> BrokerResult<Vec<Message>> {
        if !(1..=10).contains(&max) {
            return Err(BrokerError::Invalid(format!(
                "MaxNumberOfMessages must be 1 to 10, not {max}"
            )));
        }
        let now = self.now;
        let q = self.queue(name)?;
        let fifo = q.fifo();
        let redrive = q.spec.redrive.clone();
        let blocked: HashSet<String> = if fifo {
            q.messages
                .iter()
                .filter(|m| m.in_flight(now))
                .filter_map(|m| m.group_id.clone())
                .collect()
        } else {
            HashSet::new()
        };
        let mut picked = Vec::new();
        let mut to_dlq = Vec::new();
        let mut skipped_groups: HashSet<String> = HashSet::new();
        for (i, m) in q.messages.iter().enumerate() {
            if picked.len() as u32 >= max {
                break;
            }
            let available = m.visible_at <= now;
            if fifo {
                let group = m.group_id.clone().unwrap_or_default();
                if blocked.contains(&group) || skipped_groups.contains(&group) {
                    continue;
                }
                if !available {
                    // A later message of this group must wait for this one.
                    skipped_groups.insert(group);
                    continue;
                }
            } else if !available {
                continue;
            }
            match &redrive {
                Some((dlq, max_receives)) if m.receive_count >= *max_receives => {
                    to_dlq.push((i, dlq.clone()));
                    if fifo {
                        skipped_groups.insert(m.group_id.clone().unwrap_or_default());
                    }
                }
                _ => picked.push(i),
            }
        }
        self.move_to_dlq(name, &to_dlq)?;
        let removed_before = |i: usize| to_dlq.iter().filter(|(j, _)| *j < i).count();
        let mut out = Vec::with_capacity(picked.len());
        let handles: Vec<String> = picked
            .iter()
            .map(|_| self.fresh_id("receipt"))
            .collect::<Vec<_>>();
        let epoch = self.epoch;
        let q = self.queue_mut(name)?;
        for (i, handle) in picked.into_iter().zip(handles) {
            let m = &mut q.messages[i - removed_before(i)];
            m.receive_count += 1;
            m.first_received_at.get_or_insert(now);
            m.visible_at = now + visibility;
            m.receipt = Some(handle.clone());
            out.push(to_message(m, handle, epoch));
        }
        let n = out.len() as u64;
        q.count(now, |c| c.received += n);
        Ok(out)
    }

    fn move_to_dlq(&mut self, name: &str, moves: &[(usize, String)]) -> BrokerResult<()> {
        let source_arn = arn(name);
        for (offset, (i, dlq)) in moves.iter().enumerate() {
            let q = self.queue_mut(name)?;
            let Some(mut m) = q.messages.remove(i - offset) else {
                continue;
            };
            let now = self.now;
            let target = self.queue_mut(dlq)?;
            m.receive_count = 0;
            m.first_received_at = None;
            m.receipt = None;
            m.visible_at = now;
            m.dlq_source_arn = Some(source_arn.clone());
            target.messages.push_back(m);
        }
        Ok(())
    }

    pub fn delete(&mut self, name: &str, receipt: &str) -> BrokerResult<()> {
        let now = self.now;
        let q = self.queue_mut(name)?;
        let i = q.find_by_receipt(receipt, now)?;
        q.messages.remove(i);
        q.count(now, |c| c.deleted += 1);
        Ok(())
    }

    pub fn change_visibility(
        &mut self,
        name: &str,
        receipt: &str,
        visibility: Duration,
    ) -> BrokerResult<()> {
        let now = self.now;
        let q = self.queue_mut(name)?;
        let i = q.find_by_receipt(receipt, now)?;
        q.messages[i].visible_at = now + visibility;
        Ok(())
    }

    pub fn send_batch(
        &mut self,
        name: &str,
        messages: Vec<OutgoingMessage>,
    ) -> BrokerResult<BatchOutcome<String>> {
        check_batch_len(messages.len())?;
        self.queue(name)?;
        let total: usize = messages.iter().map(OutgoingMessage::size).sum();
        if total > MAX_BATCH_BYTES {
            return Err(BrokerError::Invalid(format!(
                "BatchRequestTooLong: the batch is {total} bytes, over {MAX_BATCH_BYTES}"
            )));
        }
        Ok(messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| (i, self.send(name, m)))
            .collect())
    }

    /// Starts a server-side move from a DLQ, like StartMessageMoveTask.
    pub fn start_move_task(
        &mut self,
        source_arn: &str,
        destination_arn: Option<&str>,
        rate: Option<u32>,
    ) -> BrokerResult<String> {
        let source = crate::broker::name_from_arn(source_arn).to_string();
        if self.dead_letter_sources(&source)?.is_empty() {
            return Err(BrokerError::Invalid(format!(
                "{source} is not a dead-letter queue of any queue"
            )));
        }
        if let Some(d) = destination_arn {
            self.queue(crate::broker::name_from_arn(d))?;
        }
        let rate = rate.unwrap_or(500);
        if !(1..=500).contains(&rate) {
            return Err(BrokerError::Invalid(format!(
                "MaxNumberOfMessagesPerSecond must be 1 to 500, not {rate}"
            )));
        }
        if self
            .tasks
            .iter()
            .any(|t| t.source == source && t.status.is_running())
        {
            return Err(BrokerError::Invalid(format!(
                "{source} already has a running move task"
            )));
        }
        let handle = self.fresh_id("task");
        let to_move = self.attributes(&source)?.visible;
        self.tasks.push(SimMoveTask {
            handle: handle.clone(),
            source,
            destination: destination_arn.map(|d| crate::broker::name_from_arn(d).to_string()),
            rate,
            to_move,
            moved: 0,
            status: MoveTaskStatus::Running,
            failure: None,
            started_at: self.now,
            budget: 0.0,
        });
        Ok(handle)
    }

    pub fn list_move_tasks(&self, source_arn: &str) -> Vec<MoveTask> {
        let source = crate::broker::name_from_arn(source_arn);
        self.tasks
            .iter()
            .rev()
            .filter(|t| t.source == source)
            .map(|t| MoveTask {
                handle: t.status.is_running().then(|| t.handle.clone()),
                source_arn: arn(&t.source),
                destination_arn: t.destination.as_deref().map(arn),
                status: t.status.clone(),
                moved: t.moved,
                to_move: Some(t.to_move),
                rate: Some(t.rate),
                failure_reason: t.failure.clone(),
                started_at: Some(self.wall(t.started_at)),
            })
            .collect()
    }

    pub fn cancel_move_task(&mut self, handle: &str) -> BrokerResult<u64> {
        let t = self
            .tasks
            .iter_mut()
            .find(|t| t.handle == handle && t.status.is_running())
            .ok_or_else(|| BrokerError::NotFound(format!("running move task {handle}")))?;
        t.status = MoveTaskStatus::Cancelled;
        Ok(t.moved)
    }

    fn run_move_tasks(&mut self, dt: Duration) {
        for ti in 0..self.tasks.len() {
            if !self.tasks[ti].status.is_running() {
                continue;
            }
            let t = &mut self.tasks[ti];
            t.budget += t.rate as f64 * dt.as_secs_f64();
            let n = t.budget.floor() as u64;
            t.budget -= n as f64;
            let (source, destination) = (t.source.clone(), t.destination.clone());
            for _ in 0..n {
                if self.tasks[ti].moved >= self.tasks[ti].to_move {
                    break;
                }
                match self.move_one(&source, destination.as_deref()) {
                    Ok(true) => self.tasks[ti].moved += 1,
                    Ok(false) => {
                        // Nothing visible left to move.
                        self.tasks[ti].to_move = self.tasks[ti].moved;
                        break;
                    }
                    Err(e) => {
                        self.tasks[ti].status = MoveTaskStatus::Failed;
                        self.tasks[ti].failure = Some(e.to_string());
                        break;
                    }
                }
            }
            let t = &mut self.tasks[ti];
            if t.status.is_running() && t.moved >= t.to_move {
                t.status = MoveTaskStatus::Completed;
            }
        }
    }

    /// Moves the oldest visible message of `source` to its destination: send, then delete.
    fn move_one(&mut self, source: &str, destination: Option<&str>) -> BrokerResult<bool> {
        let now = self.now;
        let q = self.queue(source)?;
        let Some(i) = q.messages.iter().position(|m| m.visible_at <= now) else {
            return Ok(false);
        };
        let m = q.messages[i].clone();
        let target = match destination {
            Some(d) => d.to_string(),
            None => m
                .dlq_source_arn
                .as_deref()
                .map(|a| crate::broker::name_from_arn(a).to_string())
                .ok_or_else(|| {
                    BrokerError::Invalid(format!("message {} has no source queue", m.id))
                })?,
        };
        let fifo_target = target.ends_with(".fifo");
        let out = OutgoingMessage {
            body: m.body.clone(),
            attributes: m.attributes.clone(),
            group_id: m
                .group_id
                .clone()
                .or(fifo_target.then(|| "moved".to_string())),
            dedup_id: fifo_target.then(|| format!("{}-moved-{}", m.id, self.next_id)),
            delay: None,
            trace_header: m.trace_header.clone(),
        };
        self.send(&target, out)?;
        let q = self.queue_mut(source)?;
        q.messages.remove(i);
        q.count(now, |c| c.deleted += 1);
        Ok(true)
    }
}

fn check_batch_len(n: usize) -> BrokerResult<()> {
    if (1..=10).contains(&n) {
        Ok(())
    } else {
        Err(BrokerError::Invalid(format!(
            "a batch holds 1 to 10 entries, not {n}"
        )))
    }
}

fn to_message(m: &SimMessage, receipt: String, epoch: DateTime<Utc>) -> Message {
    let wall = |d: Duration| epoch + chrono::Duration::from_std(d).unwrap_or_default();
    Message {
        message_id: m.id.clone(),
        receipt_handle: receipt,
        body: m.body.clone(),
        attributes: m.attributes.clone(),
        receive_count: m.receive_count,
        sent_at: Some(wall(m.sent_at)),
        first_received_at: m.first_received_at.map(wall),
        dlq_source_arn: m.dlq_source_arn.clone(),
        group_id: m.group_id.clone(),
        dedup_id: m.dedup_id.clone(),
        trace_header: m.trace_header.clone(),
    }
}

/// The simulated ARN of a queue.
pub fn arn(name: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
}

/// The simulated reference of a queue.
pub fn queue_ref(name: &str) -> QueueRef {
    QueueRef::new(name, format!("sim://{REGION}/{ACCOUNT}/{name}"))
}

fn content_hash(body: &str) -> String {
    // FNV-1a: stable and good enough to stand in for SHA-256 here.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in body.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}
