//! Where a redrive stands while it runs ([`Progress`]) and how it ended
//! ([`Report`]), with the rate meter and time-left estimate both engines use.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Serialize, Serializer};
use tokio::time::Instant;

use super::Mode;

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
    /// A canary's tail: the DLQ ran dry; watching it for returns a while longer.
    Watching,
    Completed,
    Cancelled,
    /// A canary stopped it: what it sent came back (or the destination's breaker
    /// opened). Everything not yet moved is still in the DLQ.
    Halted,
    Failed,
}

impl RunState {
    pub(crate) fn is_finished(self) -> bool {
        matches!(
            self,
            RunState::Completed | RunState::Cancelled | RunState::Halted | RunState::Failed
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            RunState::Starting => "starting",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Cancelling => "cancelling",
            RunState::Completed => "completed",
            RunState::Watching => "watching for returns",
            RunState::Cancelled => "cancelled",
            RunState::Halted => "halted",
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
    /// Calls made again after they failed or timed out: the SDK's own retries
    /// (while the run went, on its connection) and the mover's (a receive, or a
    /// batch's failed entries). A SendMessageBatch retried after an answer was lost
    /// may have sent its messages twice (SQS is at-least-once): this counts where
    /// that can have happened. Client-side runs only; 0 for a move task.
    pub retries: u64,
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
    /// A canary's stages and returns so far.
    pub canary: Option<super::canary::CanaryReport>,
    /// Batches the client-side mover lets be in flight at once, as it found best
    /// (see [`super::concurrency`]).
    pub concurrency: Option<usize>,
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
            retries: 0,
            total: None,
            remaining: None,
            rate: 0.0,
            target_rate,
            elapsed: Duration::ZERO,
            eta: None,
            detail: None,
            recent_failures: Vec::new(),
            canary: None,
            concurrency: None,
        }
    }

    /// Done so far as a fraction of the total, for a progress bar.
    pub(crate) fn fraction(&self) -> Option<f64> {
        let total = self.total?;
        if total == 0 {
            return Some(if self.state.is_finished() { 1.0 } else { 0.0 });
        }
        Some(((self.moved + self.failed) as f64 / total as f64).clamp(0.0, 1.0))
    }
}

/// What the DLQ still held when a redrive ended: a run that says "completed"
/// while messages remain (held by another view, a consumer, or come in meanwhile)
/// says how many and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Left {
    pub queue: String,
    pub visible: u64,
    /// Received by someone else (the browser, triage, another tool) and not yet
    /// given back.
    pub in_flight: u64,
}

impl Left {
    /// Reads the DLQ; `None` when it cannot be read.
    pub async fn read(
        broker: &dyn crate::broker::Broker,
        queue: &crate::broker::QueueRef,
    ) -> Option<Left> {
        let a = broker.queue_attributes(queue).await.ok()?;
        Some(Left {
            queue: queue.name.clone(),
            visible: a.visible + a.delayed,
            in_flight: a.in_flight,
        })
    }

    pub fn total(&self) -> u64 {
        self.visible + self.in_flight
    }

    /// "3 left in orders-dlq (2 of them held elsewhere: the browser, triage or a
    /// consumer)", or `None` when it is empty.
    pub fn line(&self) -> Option<String> {
        if self.total() == 0 {
            return None;
        }
        let held = match self.in_flight {
            0 => String::new(),
            n => format!(" ({n} of them held elsewhere: the browser, triage or a consumer)"),
        };
        Some(format!("{} left in {}{held}", self.total(), self.queue))
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
    /// Calls made again after they failed or timed out: the SDK's own retries
    /// (while the run went, on its connection) and the mover's (a receive, or a
    /// batch's failed entries). A SendMessageBatch retried after an answer was lost
    /// may have sent its messages twice (SQS is at-least-once): this counts where
    /// that can have happened. Client-side runs only; 0 for a move task.
    pub retries: u64,
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
    /// A canary's stages, returns, and whether (and why) it halted.
    pub canary: Option<super::canary::CanaryReport>,
    /// A move task: what its destinations' depth says of its count.
    pub arrivals: Option<super::arrivals::Arrivals>,
    /// What the DLQ still held at the end (approximate counts).
    pub left: Option<Left>,
}

impl Report {
    /// The report of a run that moved nothing and failed: the base every run
    /// fills in, and what it says if its task panicked.
    pub(crate) fn nothing(
        mode: Mode,
        source: &str,
        destination: String,
        target_rate: Option<f64>,
    ) -> Report {
        Report {
            mode,
            state: RunState::Failed,
            source: source.to_string(),
            destination,
            moved: 0,
            failed: 0,
            skipped: 0,
            not_deleted: 0,
            retries: 0,
            duration_secs: 0.0,
            rate: 0.0,
            target_rate,
            by_destination: BTreeMap::new(),
            failures: Vec::new(),
            error: None,
            task_handle: None,
            canary: None,
            arrivals: None,
            left: None,
        }
    }

    /// Whether everything asked for was moved.
    pub fn succeeded(&self) -> bool {
        self.state == RunState::Completed && self.failed == 0 && self.error.is_none()
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
