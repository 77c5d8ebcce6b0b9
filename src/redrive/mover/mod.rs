//! The client-side mover: receive up to 10 → SendMessageBatch → DeleteMessageBatch of
//! exactly the entries whose send succeeded.
//!
//! **Never lose a message.** A message is deleted from the DLQ only after the
//! destination confirmed its send. A crash between the two leaves it in both queues (a
//! duplicate; SQS is at-least-once anyway), never in neither.
//!
//! - Workers share one token bucket ([`RateLimiter`]); a worker takes the tokens for
//!   a batch *before* receiving it, so messages are not held while waiting, and hands
//!   back those it did not use.
//! - How many batches are in flight is found as the run goes, up to `--workers`
//!   ([`super::concurrency`]); a worker receives its next batch while it moves the
//!   current one, and long-polls the tail ([`worker`]).
//! - To a FIFO queue, a call carries one message per group, and a message that
//!   cannot be sent keeps the rest of its group behind it ([`send`], [`lane`]).
//! - Each message goes to its own source (`DeadLetterQueueSourceArn`, else the DLQ's
//!   single source queue) or to the chosen queue. Message attributes and FIFO group ids
//!   are kept; FIFO sends get a fresh deduplication id (SQS silently drops a resend with
//!   the same id within 5 minutes).
//! - Failed batch entries are retried (with backoff) when the error may pass, then
//!   reported per message.
//! - Messages the filter does not select, and messages that could not be moved, are
//!   *held* (kept invisible) until the pass ends and then released untouched
//!   (ChangeMessageVisibility 0). Holding is what makes a filtered pass end: otherwise
//!   the unselected messages would be received again and again. A held message seen
//!   again (its hold ran out) is held again and counts as nothing new, so a pass ends
//!   after a few receives that bring nothing new.
//! - Pause, resume, cancel and rate changes act between batches through [`Control`];
//!   a batch in hand is always finished, so cancel never leaves a message half-moved.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

mod lane;
mod report;
mod returns;
mod send;
mod worker;

pub(crate) use send::DEFAULT_GROUP_ID;
pub use send::outgoing;

use super::canary::{Canary, Ramp};
use super::concurrency::{self, Adaptive, Gate};
use super::limiter::RateLimiter;
use super::{
    Control, Directive, Filter, MessageFailure, Mode, Progress, RateMeter, RedriveHandle, Report,
    RunState,
};
use crate::broker::{Broker, BrokerError, Message, QueueRef};

/// SQS batch calls take at most 10 entries.
const BATCH: u32 = 10;
/// The most batches in flight for a filtered run with a rate (see [`MoverConfig::cap`]).
const PAY_AFTER_CAP: usize = 16;
/// How often progress is published when nothing else happens.
const TICK: Duration = Duration::from_millis(250);
/// How often the DLQ's depth is read for the remaining estimate.
const DEPTH_EVERY: Duration = Duration::from_secs(5);
/// How often a canary reads it, for returns.
const CANARY_DEPTH_EVERY: Duration = Duration::from_secs(1);
/// Failures kept in [`Progress::recent_failures`].
const RECENT_FAILURES: usize = 5;
/// The longest a message may stay invisible in SQS.
/// Messages a filtered pass skips are held at most this long: if lazysqs is
/// killed, they are back within minutes, never hours.
const MAX_HOLD: Duration = Duration::from_secs(15 * 60);
const MIN_HOLD: Duration = Duration::from_secs(5 * 60);

/// Where the messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Each message's `DeadLetterQueueSourceArn`; without one, `fallback` (the DLQ's
    /// single source queue), else the message stays and is reported.
    OwnSource {
        fallback: Option<QueueRef>,
    },
    Queue(QueueRef),
}

/// A client-side move.
#[derive(Debug, Clone)]
pub struct MoverConfig {
    /// The DLQ.
    pub source: QueueRef,
    pub source_arn: String,
    pub target: Target,
    /// Messages per second; `None`: unlimited.
    pub rate: Option<f64>,
    /// Move (or fail) at most this many.
    pub max: Option<u64>,
    pub filter: Option<Filter>,
    /// Applied to each body before it is sent; see [`crate::triage::Transform`].
    pub transform: Option<crate::triage::Transform>,
    pub options: super::ClientOptions,
    /// Visible messages at the start, for the first remaining estimate.
    pub expected: Option<u64>,
    /// Start slow and halt when messages come back (see [`super::canary`]).
    pub canary: Option<Canary>,
}

impl MoverConfig {
    /// Messages per receive at the start: 10, or fewer at low rates so that the
    /// flow is smooth.
    fn batch(&self) -> u32 {
        batch_at(self.first_rate())
    }

    /// The rate the run starts at: the canary's first stage, else the target.
    fn first_rate(&self) -> Option<f64> {
        match self.canary {
            Some(c) => Some(self.rate.map_or(c.start, |t| c.start.min(t))),
            None => self.rate,
        }
    }

    /// How many batches may be in flight at most. A filtered run with a rate pays
    /// for a batch after receiving it, so a batch in flight may wait for tokens: it
    /// keeps to [`PAY_AFTER_CAP`].
    fn cap(&self) -> usize {
        let cap = self.options.workers.max(1);
        match (self.rate, &self.filter) {
            (Some(_), Some(_)) => cap.min(PAY_AFTER_CAP),
            _ => cap,
        }
    }

    /// How long a received message stays hidden while it is moved. Paying after the
    /// receive (with a filter) can keep a batch waiting for tokens up to about one
    /// second per batch in flight, so the visibility covers that too.
    fn receive_visibility(&self) -> Duration {
        let v = self.options.visibility;
        match (self.rate, &self.filter) {
            (Some(rate), Some(_)) => {
                let wait = f64::from(self.batch()) / rate * self.cap() as f64;
                v.max(Duration::from_secs_f64(wait.min(3600.0)) + Duration::from_secs(15))
            }
            _ => v,
        }
    }

    /// How long unselected and failed messages are held: long enough for a whole pass
    /// over the queue at a modest 20 receives per second, at least five minutes.
    fn hold(&self) -> Duration {
        skip_hold(self.expected.unwrap_or(0))
    }
}

/// Messages per receive at `rate`: 10, or fewer below 10 a second.
fn batch_at(rate: Option<f64>) -> u32 {
    match rate {
        Some(r) if r < f64::from(BATCH) => (r.floor() as u32).clamp(1, BATCH),
        _ => BATCH,
    }
}

/// How long a pass over `expected` messages holds those it skips or fails to
/// move (so that it does not see them twice): between 5 and 15 minutes.
pub(crate) fn skip_hold(expected: u64) -> Duration {
    let scan = Duration::from_millis(expected.saturating_mul(50));
    scan.max(MIN_HOLD).min(MAX_HOLD)
}

/// Starts a client-side move in the background.
pub fn spawn(broker: Arc<dyn Broker>, cfg: MoverConfig) -> RedriveHandle {
    let limiter = Arc::new(RateLimiter::new(cfg.first_rate(), cfg.batch()));
    let control = Control::new(Mode::ClientSide, Some(limiter.clone()));
    let mut first = Progress::new(Mode::ClientSide, cfg.first_rate());
    first.remaining = remaining(cfg.max, 0, cfg.expected);
    first.total = first.remaining;
    let (tx, rx) = watch::channel(first);
    let fallback = Report::nothing(
        Mode::ClientSide,
        &cfg.source.name,
        target_label(&cfg.target),
        cfg.rate,
    );
    let stats = Stats {
        ramp: cfg.canary.map(|c| Ramp::new(c, cfg.rate, 0.0)),
        ..Stats::default()
    };
    let cap = cfg.cap();
    let run = Arc::new(Run {
        sdk_retries_at_start: broker.sdk_retries(),
        gate: Gate::new(Adaptive::new(concurrency::START.min(cap), cap)),
        broker,
        directive: control.subscribe(),
        control: control.clone(),
        hold: cfg.hold(),
        cfg,
        limiter,
        claimed: AtomicU64::new(0),
        passed: AtomicBool::new(false),
        in_hand: AtomicUsize::new(0),
        lanes: lane::Lanes::default(),
        stats: Mutex::new(stats),
        routes: Mutex::new(HashMap::new()),
        limits: Mutex::new(HashMap::new()),
        progress: tx,
        started: Instant::now(),
        drained: Notify::new(),
    });
    let task = tokio::spawn(run.execute());
    RedriveHandle::new(rx, control, task, fallback)
}

fn target_label(t: &Target) -> String {
    match t {
        Target::OwnSource { .. } => "own source".into(),
        Target::Queue(q) => q.name.clone(),
    }
}

fn remaining(max: Option<u64>, attempted: u64, in_queue: Option<u64>) -> Option<u64> {
    match (max, in_queue) {
        (Some(m), Some(q)) => Some(m.saturating_sub(attempted).min(q)),
        (Some(m), None) => Some(m.saturating_sub(attempted)),
        (None, q) => q,
    }
}

/// Why a message is held until the pass ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HoldReason {
    /// Not selected by the filter.
    Unselected,
    /// Its move failed; reported.
    Failed,
    /// Sent, but the delete failed: delete it when seen again.
    SentNotDeleted,
    /// Sent by this redrive and back in the DLQ: not sent again in this run.
    Returned,
    /// A halted FIFO canary finishes only the groups it began (see
    /// [`Run::keep_groups_whole`]); the others wait untouched.
    NotBegun,
}

#[derive(Debug, Clone)]
struct Held {
    receipt: String,
    reason: HoldReason,
}

#[derive(Debug, Default)]
struct Stats {
    moved: u64,
    failed: u64,
    skipped: u64,
    not_deleted: u64,
    /// Calls the mover itself made again (the SDK's are counted by the broker).
    retries: u64,
    by_destination: BTreeMap<String, u64>,
    failures: Vec<MessageFailure>,
    /// Held messages by message id.
    held: HashMap<String, Held>,
    /// Destinations that cannot take messages (deleted, no access): name → reason.
    dead: HashMap<String, String>,
    /// The DLQ's depth at the last reading.
    depth: Option<u64>,
    /// When it was read (by the progress tick or a worker's tail check).
    depth_at: Option<Instant>,
    /// How long moving a batch takes (a moving average), for pipelining.
    move_secs: Option<f64>,
    fatal: Option<String>,
    last_error: Option<String>,
    paused: Duration,
    paused_since: Option<Instant>,
    meter: Option<RateMeter>,
    /// When the last message was moved: the end of the span the average rate covers.
    last_move: Option<Instant>,
    /// The canary's ramp, and the MessageIds this run gave the messages it sent.
    ramp: Option<Ramp>,
    sent_ids: HashSet<String>,
    /// FIFO groups a canary has begun to move.
    begun: HashSet<String>,
    /// A FIFO canary halted and is finishing the groups it began.
    finishing: bool,
}

struct Run {
    broker: Arc<dyn Broker>,
    /// How many batches may be in flight: found as the run goes, up to `workers`.
    gate: Arc<Gate>,
    cfg: MoverConfig,
    limiter: Arc<RateLimiter>,
    directive: watch::Receiver<Directive>,
    /// To stop the run itself when the canary halts.
    control: Control,
    /// Messages taken toward `max` (moved, failed, or in hand).
    claimed: AtomicU64,
    /// A worker found the queue drained: the pass is over, no more fetches.
    passed: AtomicBool,
    /// Batches received and not yet moved.
    in_hand: AtomicUsize,
    /// Shared calls to FIFO destinations.
    lanes: lane::Lanes,
    stats: Mutex<Stats>,
    /// DeadLetterQueueSourceArn → queue.
    routes: Mutex<HashMap<String, Result<QueueRef, String>>>,
    /// Destination URL → its MaximumMessageSize.
    limits: Mutex<HashMap<String, usize>>,
    progress: watch::Sender<Progress>,
    started: Instant,
    /// The broker's count of SDK retries when the run started.
    sdk_retries_at_start: u64,
    hold: Duration,
    /// Wakes workers waiting for tokens when one finds the queue empty.
    drained: Notify,
}

/// Whether retrying may help.
fn transient(e: &BrokerError) -> bool {
    matches!(
        e,
        BrokerError::Throttled(_) | BrokerError::Unreachable(_) | BrokerError::Other(_)
    )
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(6)))
}

impl Run {
    fn stats(&self) -> MutexGuard<'_, Stats> {
        crate::sync::lock(&self.stats)
    }

    /// Counts a call about to be made again, and says why.
    fn retrying(&self, why: String) {
        let mut s = self.stats();
        s.retries += 1;
        s.last_error = Some(why);
    }

    /// Calls made again so far: the mover's own and the SDK's during the run.
    fn retries(&self, s: &Stats) -> u64 {
        let sdk = self.broker.sdk_retries();
        s.retries + sdk.saturating_sub(self.sdk_retries_at_start)
    }

    async fn execute(self: Arc<Self>) -> Report {
        self.stats().meter = Some(RateMeter::new(Duration::from_secs(10)));
        self.publish(RunState::Running);
        let mut workers = JoinSet::new();
        for _ in 0..self.cfg.cap() {
            workers.spawn(self.clone().worker());
        }
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_depth = Instant::now();
        loop {
            tokio::select! {
                joined = workers.join_next() => match joined {
                    None => break,
                    Some(Err(e)) => {
                        let mut s = self.stats();
                        s.fatal.get_or_insert_with(|| format!("a worker stopped: {e}"));
                    }
                    Some(Ok(())) => {}
                },
                _ = tick.tick() => {
                    if last_depth.elapsed() >= self.depth_every() {
                        last_depth = Instant::now();
                        self.read_depth().await;
                    }
                    self.steer_canary();
                    self.publish(self.live_state());
                }
            }
        }
        if !self.is_cancelled() && self.stats().fatal.is_none() {
            self.watch_tail().await;
        }
        self.release_all().await;
        let cancelled = *self.directive.borrow() == Directive::Cancel;
        let halted = {
            let mut s = self.stats();
            let outside = self.control.halt_reason();
            if let (Some(ramp), Some(why)) = (s.ramp.as_mut(), outside)
                && !ramp.report().halted
            {
                ramp.halt(why);
            }
            s.ramp.as_ref().is_some_and(|r| r.report().halted)
        };
        let state = if self.stats().fatal.is_some() {
            RunState::Failed
        } else if halted {
            RunState::Halted
        } else if cancelled {
            RunState::Cancelled
        } else {
            RunState::Completed
        };
        let p = self.publish(state);
        Report {
            left: super::Left::read(self.broker.as_ref(), &self.cfg.source).await,
            ..self.report(state, &p)
        }
    }

    /// The state while workers run, from the directive (and pause bookkeeping).
    fn live_state(&self) -> RunState {
        let d = *self.directive.borrow();
        let now = Instant::now();
        let mut s = self.stats();
        match (d, s.paused_since) {
            (Directive::Pause, None) => s.paused_since = Some(now),
            (Directive::Run | Directive::Cancel, Some(since)) => {
                s.paused += now.saturating_duration_since(since);
                s.paused_since = None;
            }
            _ => {}
        }
        match d {
            Directive::Run => RunState::Running,
            Directive::Pause => RunState::Paused,
            Directive::Cancel => RunState::Cancelling,
        }
    }

    async fn read_depth(&self) {
        // Moved out of the DLQ (sent and deleted), counted before and after the read:
        // batches finish while it is under way. The first reading, the base, takes
        // the count after it, later ones the count before it, so that a delete the
        // reading already saw is never mistaken for a return.
        let gone = |s: &Stats| s.moved.saturating_sub(s.not_deleted);
        let before = gone(&self.stats());
        if let Ok(a) = self.broker.queue_attributes(&self.cfg.source).await {
            let mut s = self.stats();
            s.depth = Some(a.visible);
            s.depth_at = Some(Instant::now());
            let after = gone(&s);
            let at = self.started.elapsed().as_secs_f64();
            if let Some(ramp) = s.ramp.as_mut() {
                let moved = if ramp.has_depth_base() { before } else { after };
                ramp.depth(a.depth(), moved, at);
            }
        }
    }

    /// Messages received again after their hold ran out: delete the ones already
    /// sent, hold the others again.
    async fn seen_again(&self, seen: Vec<Message>) {
        if seen.is_empty() {
            return;
        }
        let (sent, rest): (Vec<Message>, Vec<Message>) = {
            let s = self.stats();
            seen.into_iter().partition(|m| {
                s.held.get(&m.message_id).map(|h| h.reason) == Some(HoldReason::SentNotDeleted)
            })
        };
        if !sent.is_empty() {
            let handles = sent.iter().map(|m| m.receipt_handle.clone()).collect();
            let outcome = self.delete_with_retries(handles).await;
            let mut again = Vec::new();
            {
                let mut s = self.stats();
                for (i, m) in sent.into_iter().enumerate() {
                    if outcome.get(i).is_some_and(Result::is_ok) {
                        s.held.remove(&m.message_id);
                        s.not_deleted = s.not_deleted.saturating_sub(1);
                    } else {
                        again.push(m);
                    }
                }
            }
            self.hold(again, HoldReason::SentNotDeleted).await;
        }
        let by_reason: Vec<(Message, HoldReason)> = {
            let s = self.stats();
            rest.into_iter()
                .map(|m| {
                    let r = s
                        .held
                        .get(&m.message_id)
                        .map_or(HoldReason::Unselected, |h| h.reason);
                    (m, r)
                })
                .collect()
        };
        for reason in [
            HoldReason::Unselected,
            HoldReason::Failed,
            HoldReason::Returned,
            HoldReason::NotBegun,
        ] {
            let group: Vec<Message> = by_reason
                .iter()
                .filter(|(_, r)| *r == reason)
                .map(|(m, _)| m.clone())
                .collect();
            self.hold(group, reason).await;
        }
    }

    /// Keeps messages invisible until the pass ends; remembers their receipts.
    async fn hold(&self, messages: Vec<Message>, reason: HoldReason) {
        if messages.is_empty() {
            return;
        }
        let handles: Vec<String> = messages.iter().map(|m| m.receipt_handle.clone()).collect();
        if let Err(e) = self
            .broker
            .change_visibility(&self.cfg.source, handles, self.hold)
            .await
        {
            // They stay hidden for the receive's visibility and come back; harmless.
            self.stats().last_error = Some(format!("hold: {e}"));
        }
        let mut s = self.stats();
        for m in messages {
            s.held.insert(
                m.message_id,
                Held {
                    receipt: m.receipt_handle,
                    reason,
                },
            );
        }
    }

    /// Makes messages visible again at once.
    async fn release(&self, handles: Vec<String>) {
        if handles.is_empty() {
            return;
        }
        if let Err(e) = self
            .broker
            .change_visibility(&self.cfg.source, handles, Duration::ZERO)
            .await
        {
            tracing::warn!("release: {e}");
        }
    }

    /// At the end of the pass: every held message becomes visible again.
    async fn release_all(&self) {
        let handles: Vec<String> = {
            let mut s = self.stats();
            s.held.drain().map(|(_, h)| h.receipt).collect()
        };
        for chunk in handles.chunks(BATCH as usize) {
            self.release(chunk.to_vec()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_size_follows_low_rates_and_hold_scales_with_the_queue() {
        let cfg = |rate: Option<f64>, expected: Option<u64>| MoverConfig {
            source: crate::sim::model::queue_ref("dlq"),
            source_arn: crate::sim::model::arn("dlq"),
            target: Target::OwnSource { fallback: None },
            rate,
            max: None,
            filter: None,
            transform: None,
            options: super::super::ClientOptions::default(),
            expected,
            canary: None,
        };
        assert_eq!(cfg(None, None).batch(), 10);
        assert_eq!(cfg(Some(500.0), None).batch(), 10);
        assert_eq!(cfg(Some(3.0), None).batch(), 3);
        assert_eq!(cfg(Some(0.5), None).batch(), 1);
        assert_eq!(cfg(None, Some(10)).hold(), MIN_HOLD);
        assert_eq!(cfg(None, Some(10_000)).hold(), Duration::from_secs(500));
        assert_eq!(cfg(None, Some(u64::MAX)).hold(), MAX_HOLD);
    }

    #[test]
    fn remaining_counts_down_the_budget_or_the_queue() {
        assert_eq!(remaining(None, 5, Some(10)), Some(10));
        assert_eq!(remaining(Some(100), 30, Some(1000)), Some(70));
        assert_eq!(remaining(Some(100), 30, Some(20)), Some(20));
        assert_eq!(remaining(Some(100), 130, None), Some(0));
        assert_eq!(remaining(None, 0, None), None);
    }
}
