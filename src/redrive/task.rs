//! Server-side move tasks: StartMessageMoveTask, progress from ListMessageMoveTasks,
//! CancelMessageMoveTask.
//!
//! A task is watched by polling ListMessageMoveTasks for its source queue. SQS gives a
//! task's handle only while it runs, so once it has finished it is recognised as the
//! most recent task of the queue (there is at most one running task per queue).
//! Tasks started elsewhere (the console, a script) are watched the same way, through
//! [`watch_task`].

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::time::Instant;

use super::arrivals::ArrivalWatch;
use super::{
    Control, Directive, MAX_TASK_RATE, Mode, Progress, RateMeter, RedriveHandle, Report, RunState,
    eta,
};
use crate::broker::{Broker, BrokerError, BrokerResult, MoveTask, MoveTaskStatus, QueueRef};

/// How often a task's progress is read. ListMessageMoveTasks is cheap, and progress
/// in SQS moves in steps anyway.
pub(crate) const DEFAULT_POLL: Duration = Duration::from_secs(2);
/// Consecutive failed polls after which the watch gives up (the task itself goes on).
const MAX_POLL_ERRORS: u32 = 30;

/// A move task to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskConfig {
    /// The DLQ.
    pub source: QueueRef,
    pub source_arn: String,
    /// `None`: each message back to its own source.
    pub destination_arn: Option<String>,
    /// The queues the messages go to, watched for arrivals (see [`super::arrivals`]).
    pub destinations: Vec<QueueRef>,
    /// MaxNumberOfMessagesPerSecond, 1–500; `None`: the server's own pace.
    pub rate: Option<u32>,
    pub poll: Duration,
}

/// Checks a move task's rate: 1 to 500 messages per second.
pub(crate) fn check_rate(rate: Option<u32>) -> Result<(), BrokerError> {
    match rate {
        Some(r) if !(1..=MAX_TASK_RATE).contains(&r) => Err(BrokerError::Invalid(format!(
            "a move task's rate must be 1 to {MAX_TASK_RATE} messages/s, not {r}"
        ))),
        _ => Ok(()),
    }
}

/// Starts a move task and watches it.
pub async fn start(broker: Arc<dyn Broker>, cfg: TaskConfig) -> BrokerResult<RedriveHandle> {
    check_rate(cfg.rate)?;
    let arrivals = ArrivalWatch::start(broker.as_ref(), cfg.destinations.clone()).await;
    let handle = broker
        .start_move_task(&cfg.source_arn, cfg.destination_arn.as_deref(), cfg.rate)
        .await?;
    Ok(watch_task(
        broker,
        cfg.source,
        cfg.source_arn,
        Some(handle),
        cfg.rate,
        cfg.poll,
        Some(arrivals),
    ))
}

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancel {
    /// CancelMessageMoveTask was sent; the task had moved this many.
    Sent { moved: u64 },
    /// The task was not running (its status), so nothing was sent.
    NotRunning(MoveTaskStatus),
}

/// Cancels a move task only while the server says it is RUNNING: cancelling one
/// that has finished can leave it CANCELLING for good (LocalStack), and no new
/// task may then start on its DLQ.
pub async fn cancel_if_running(
    broker: &dyn Broker,
    source_arn: &str,
    handle: &str,
) -> BrokerResult<Cancel> {
    let tasks = broker.list_move_tasks(source_arn).await?;
    match tasks.iter().find(|t| t.handle.as_deref() == Some(handle)) {
        Some(t) if t.status.is_running() => Ok(Cancel::Sent {
            moved: broker.cancel_move_task(handle).await?,
        }),
        Some(t) => Ok(Cancel::NotRunning(t.status.clone())),
        // SQS drops a finished task's handle: it is not running.
        None => Ok(Cancel::NotRunning(
            find(&tasks, Some(handle)).map_or(MoveTaskStatus::Completed, |t| t.status.clone()),
        )),
    }
}

/// The running move task of a DLQ, if any (started here or elsewhere).
pub async fn running_task(broker: &dyn Broker, source_arn: &str) -> BrokerResult<Option<MoveTask>> {
    Ok(broker
        .list_move_tasks(source_arn)
        .await?
        .into_iter()
        .find(|t| t.status.is_running()))
}

/// The state a move task's status means.
pub(crate) fn state_of(status: &MoveTaskStatus) -> RunState {
    match status {
        MoveTaskStatus::Running => RunState::Running,
        MoveTaskStatus::Cancelling => RunState::Cancelling,
        MoveTaskStatus::Cancelled => RunState::Cancelled,
        MoveTaskStatus::Completed => RunState::Completed,
        MoveTaskStatus::Failed => RunState::Failed,
        MoveTaskStatus::Other(_) => RunState::Starting,
    }
}

/// Progress as one ListMessageMoveTasks entry shows it. `rate` is the measured rate
/// (the caller's; 0 when unknown).
pub(crate) fn progress_of(task: &MoveTask, rate: f64) -> Progress {
    let state = state_of(&task.status);
    let remaining = task.to_move.map(|t| t.saturating_sub(task.moved));
    let elapsed = task
        .started_at
        .and_then(|s| (Utc::now() - s).to_std().ok())
        .unwrap_or_default();
    let target = task.rate.map(f64::from);
    let detail = match &task.failure_reason {
        Some(r) if !r.is_empty() => Some(format!("{}: {r}", task.status)),
        _ => Some(task.status.to_string()),
    };
    Progress {
        mode: Mode::MoveTask,
        state,
        moved: task.moved,
        failed: 0,
        skipped: 0,
        not_deleted: 0,
        retries: 0,
        total: task.to_move,
        remaining: if state.is_finished() {
            Some(0)
                .filter(|_| state == RunState::Completed)
                .or(remaining)
        } else {
            remaining
        },
        rate,
        target_rate: target,
        elapsed,
        eta: if state.is_finished() {
            None
        } else {
            eta(remaining, rate, target)
        },
        detail,
        recent_failures: Vec::new(),
        canary: None,
        concurrency: None,
    }
}

/// Finds our task in a ListMessageMoveTasks answer: by handle while it runs, else
/// the most recent task of the queue.
pub(crate) fn find<'a>(tasks: &'a [MoveTask], handle: Option<&str>) -> Option<&'a MoveTask> {
    if let Some(h) = handle
        && let Some(t) = tasks.iter().find(|t| t.handle.as_deref() == Some(h))
    {
        return Some(t);
    }
    let newest = tasks.iter().max_by_key(|t| t.started_at);
    match (newest, handle) {
        // Ours has finished (SQS dropped its handle): the newest finished task.
        (Some(t), Some(_)) if !t.status.is_running() => Some(t),
        (Some(t), None) => Some(t),
        _ => None,
    }
}

/// Watches a move task of `source_arn`: ours (by `handle`), or with `handle` `None`
/// the queue's current (or most recent) task. Cancel through the handle's
/// [`Control`] sends CancelMessageMoveTask.
pub(crate) fn watch_task(
    broker: Arc<dyn Broker>,
    source: QueueRef,
    source_arn: String,
    handle: Option<String>,
    rate: Option<u32>,
    poll: Duration,
    arrivals: Option<ArrivalWatch>,
) -> RedriveHandle {
    let control = Control::new(Mode::MoveTask, None);
    let (tx, rx) = watch::channel(Progress::new(Mode::MoveTask, rate.map(f64::from)));
    let fallback = Report {
        task_handle: handle.clone(),
        ..Report::nothing(
            Mode::MoveTask,
            &source.name,
            String::new(),
            rate.map(f64::from),
        )
    };
    let directive = control.subscribe();
    let report_base = fallback.clone();
    let task = tokio::spawn(async move {
        Watcher {
            broker,
            source,
            source_arn,
            handle,
            poll,
            progress: tx,
            directive,
            base: report_base,
            arrivals,
        }
        .run()
        .await
    });
    RedriveHandle::new(rx, control, task, fallback)
}

struct Watcher {
    broker: Arc<dyn Broker>,
    source: QueueRef,
    source_arn: String,
    handle: Option<String>,
    poll: Duration,
    progress: watch::Sender<Progress>,
    directive: watch::Receiver<Directive>,
    base: Report,
    /// The destinations' depth, for what the task's count proves.
    arrivals: Option<ArrivalWatch>,
}

impl Watcher {
    async fn run(mut self) -> Report {
        let started = Instant::now();
        let mut meter = RateMeter::new(Duration::from_secs(10));
        let mut errors = 0;
        let mut cancel_sent = false;
        let mut last: Option<MoveTask> = None;
        let mut error: Option<String> = None;
        let mut first = true;
        loop {
            if !first {
                tokio::select! {
                    _ = tokio::time::sleep(self.poll) => {}
                    changed = self.directive.changed() => {
                        if changed.is_err() {
                            // Nobody can cancel any more; keep watching.
                            std::future::pending::<()>().await;
                        }
                    }
                }
            }
            first = false;
            if !cancel_sent && *self.directive.borrow() == Directive::Cancel {
                cancel_sent = true;
                let handle = self
                    .handle
                    .clone()
                    .or_else(|| last.as_ref().and_then(|t| t.handle.clone()));
                match handle {
                    Some(h) => {
                        match cancel_if_running(self.broker.as_ref(), &self.source_arn, &h).await {
                            Ok(_) => {}
                            // The next poll tells how it stands.
                            Err(e) => error = Some(format!("cancel: {e}")),
                        }
                    }
                    None => error = Some("no running task to cancel".into()),
                }
            }
            match self.broker.list_move_tasks(&self.source_arn).await {
                Ok(tasks) => {
                    errors = 0;
                    let Some(t) = find(&tasks, self.handle.as_deref()).cloned() else {
                        if self.handle.is_none() {
                            error = Some("no move task on this queue".into());
                            break;
                        }
                        continue;
                    };
                    if self.handle.is_none() {
                        // Watching a task started elsewhere: stick to it.
                        self.handle = t.handle.clone();
                    }
                    meter.record(Instant::now(), t.moved);
                    let mut p = progress_of(&t, meter.rate());
                    if p.elapsed.is_zero() {
                        p.elapsed = started.elapsed();
                    }
                    if cancel_sent && !p.state.is_finished() {
                        p.state = RunState::Cancelling;
                    }
                    let done = p.state.is_finished();
                    if !done && let Some(a) = self.arrivals.as_mut() {
                        a.sample(self.broker.as_ref()).await;
                    }
                    self.progress.send_replace(p);
                    last = Some(t);
                    if done {
                        break;
                    }
                }
                Err(e) => {
                    errors += 1;
                    self.progress.send_modify(|p| {
                        p.detail = Some(format!("cannot read the task's progress: {e}"));
                    });
                    if errors >= MAX_POLL_ERRORS {
                        error = Some(format!(
                            "lost track of the move task ({e}); it may still be running"
                        ));
                        break;
                    }
                }
            }
        }
        let p = self.progress.borrow().clone();
        let state = last
            .as_ref()
            .map(|t| state_of(&t.status))
            .filter(|s| s.is_finished())
            .unwrap_or(RunState::Failed);
        let error = match (&last, state) {
            (Some(t), RunState::Failed) => t
                .failure_reason
                .clone()
                .filter(|r| !r.is_empty())
                .or(error)
                .or_else(|| Some("the move task failed".into())),
            _ => error.filter(|_| state != RunState::Completed && state != RunState::Cancelled),
        };
        let arrivals = match self.arrivals.take() {
            Some(a) if state != RunState::Failed => a.finish(self.broker.as_ref(), p.moved).await,
            _ => None,
        };
        let error = error.or_else(|| {
            arrivals
                .as_ref()
                .filter(|a| a.shortfall(p.moved).is_some())
                .map(|a| a.note.clone())
        });
        let duration = p.elapsed.max(started.elapsed());
        Report {
            state,
            destination: last
                .as_ref()
                .and_then(|t| t.destination_arn.as_deref())
                .map(|a| crate::broker::name_from_arn(a).to_string())
                .unwrap_or_else(|| "own source".into()),
            moved: p.moved,
            duration_secs: duration.as_secs_f64(),
            rate: if duration.as_secs_f64() > 0.0 {
                p.moved as f64 / duration.as_secs_f64()
            } else {
                0.0
            },
            target_rate: last
                .as_ref()
                .and_then(|t| t.rate.map(f64::from))
                .or(self.base.target_rate),
            error,
            task_handle: self.handle.clone().or(self.base.task_handle.clone()),
            arrivals,
            left: super::Left::read(self.broker.as_ref(), &self.source).await,
            ..self.base
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::broker::{Broker, OutgoingMessage};
    use crate::sim::model::{arn, queue_ref};
    use crate::sim::scenario::ScenarioFile;
    use crate::sim::{Sim, SimBroker};

    fn task(status: &str, handle: Option<&str>, secs: i64) -> MoveTask {
        MoveTask {
            handle: handle.map(str::to_string),
            source_arn: "arn:aws:sqs:r:1:dlq".into(),
            destination_arn: None,
            status: MoveTaskStatus::parse(status),
            moved: 5,
            to_move: Some(10),
            rate: Some(5),
            failure_reason: None,
            started_at: chrono::DateTime::from_timestamp(secs, 0),
        }
    }

    #[test]
    fn finds_our_task_by_handle_then_as_the_newest() {
        let tasks = vec![
            task("COMPLETED", None, 100),
            task("RUNNING", Some("h2"), 200),
        ];
        assert_eq!(
            find(&tasks, Some("h2")).map(|t| &t.status),
            Some(&MoveTaskStatus::Running)
        );
        let done = vec![task("COMPLETED", None, 100), task("CANCELLED", None, 200)];
        assert_eq!(
            find(&done, Some("h2")).map(|t| t.status.as_str()),
            Some("CANCELLED")
        );
        // Another task runs now, not ours: not mistaken for ours.
        let other = vec![task("RUNNING", Some("h3"), 300)];
        assert!(find(&other, Some("h2")).is_none());
        assert_eq!(
            find(&other, None).and_then(|t| t.handle.as_deref()),
            Some("h3")
        );
    }

    #[test]
    fn progress_of_a_task() {
        let p = progress_of(&task("RUNNING", Some("h"), 0), 5.0);
        assert_eq!(p.state, RunState::Running);
        assert_eq!((p.moved, p.total, p.remaining), (5, Some(10), Some(5)));
        assert_eq!(p.eta, Some(Duration::from_secs(1)));
        assert_eq!(p.target_rate, Some(5.0));
        let mut failed = task("FAILED", None, 0);
        failed.failure_reason = Some("AWS.SimpleQueueService.NonExistentQueue".into());
        let p = progress_of(&failed, 0.0);
        assert_eq!(p.state, RunState::Failed);
        assert!(p.detail.expect("detail").contains("NonExistentQueue"));
        assert!(check_rate(Some(0)).is_err());
        assert!(check_rate(Some(501)).is_err());
        assert!(check_rate(Some(500)).is_ok());
        assert!(check_rate(None).is_ok());
    }

    fn sim_with_dlq(n: usize) -> SimBroker {
        let file = ScenarioFile::parse(
            "name = \"redrive\"\n[[queue]]\nname = \"dlq\"\n\
             [[queue]]\nname = \"orders\"\ndead_letter_queue = \"dlq\"\n",
        )
        .expect("scenario");
        let sim = SimBroker::new(Sim::new(file).expect("sim"));
        {
            let mut s = sim.lock();
            for i in 0..n {
                let m = OutgoingMessage {
                    body: format!("m{i}"),
                    ..Default::default()
                };
                s.model.send("dlq", m).expect("send");
            }
        }
        sim
    }

    #[tokio::test]
    async fn watches_a_sim_task_to_completion_and_cancels() {
        let sim = sim_with_dlq(20);
        let broker: Arc<dyn Broker> = Arc::new(sim.clone());
        let h = start(
            broker.clone(),
            TaskConfig {
                source: queue_ref("dlq"),
                source_arn: arn("dlq"),
                destination_arn: Some(arn("orders")),
                destinations: vec![queue_ref("orders")],
                rate: Some(10),
                poll: Duration::from_millis(5),
            },
        )
        .await
        .expect("start");
        let mut progress = h.progress.clone();
        // One simulated second moves 10.
        sim.advance(Duration::from_secs(1));
        progress
            .wait_for(|p| p.moved == 10)
            .await
            .expect("progress");
        h.control.cancel();
        let report = h.wait().await;
        assert_eq!(report.state, RunState::Cancelled);
        assert_eq!(report.moved, 10);
        assert_eq!(report.mode, Mode::MoveTask);
        assert_eq!(report.destination, "orders");
        assert_eq!(sim.lock().model.attributes("dlq").expect("dlq").visible, 10);

        // A task started elsewhere, watched without its handle.
        let other = broker
            .start_move_task(&arn("dlq"), Some(&arn("orders")), Some(100))
            .await
            .expect("start elsewhere");
        let w = watch_task(
            broker.clone(),
            queue_ref("dlq"),
            arn("dlq"),
            None,
            None,
            Duration::from_millis(5),
            None,
        );
        w.progress
            .clone()
            .wait_for(|p| p.state == RunState::Running)
            .await
            .expect("watching");
        sim.advance(Duration::from_secs(1));
        let report = w.wait().await;
        assert_eq!(report.state, RunState::Completed);
        assert_eq!(report.moved, 10);
        assert_eq!(report.task_handle.as_deref(), Some(other.as_str()));
        assert_eq!(
            sim.lock().model.attributes("orders").expect("o").visible,
            20
        );
    }
}
