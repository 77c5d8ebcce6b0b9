//! A canary redrive by SQS move tasks: a task's rate is fixed when it starts,
//! so each stage of the [`Ramp`] is a task of its own. Returns are read from the
//! DLQ's depth (a task moves messages out; what goes in beyond that came back).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::arrivals::ArrivalWatch;
use super::canary::{Canary, Ramp, Step};
use super::task::{TaskConfig, check_rate};
use super::{
    Control, Directive, MAX_TASK_RATE, Mode, Progress, RateMeter, RedriveHandle, Report, RunState,
};
use crate::broker::{Broker, BrokerResult, MoveTask};

/// How often the DLQ and the stage's task are read.
const EVERY: Duration = Duration::from_secs(1);
/// How long a cancelled stage may take to stop before the next starts anyway.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// Starts the first stage and steers the rest in the background.
pub async fn start(
    broker: Arc<dyn Broker>,
    cfg: TaskConfig,
    canary: Canary,
) -> BrokerResult<RedriveHandle> {
    check_rate(cfg.rate)?;
    let ramp = Ramp::new(canary, cfg.rate.map(f64::from), 0.0);
    let arrivals = ArrivalWatch::start(broker.as_ref(), cfg.destinations.clone()).await;
    let first = broker
        .start_move_task(
            &cfg.source_arn,
            cfg.destination_arn.as_deref(),
            task_rate(ramp.rate()),
        )
        .await?;
    let control = Control::new(Mode::MoveTask, None);
    let mut p = Progress::new(Mode::MoveTask, ramp.rate());
    p.state = RunState::Running;
    p.canary = Some(ramp.report().clone());
    let (tx, rx) = watch::channel(p);
    let fallback = Report {
        task_handle: Some(first.clone()),
        ..Report::nothing(
            Mode::MoveTask,
            &cfg.source.name,
            "own source".into(),
            cfg.rate.map(f64::from),
        )
    };
    let stages = Stages {
        broker,
        cfg,
        canary,
        ramp,
        handle: Some(first),
        moved_before: 0,
        progress: tx,
        directive: control.subscribe(),
        control: control.clone(),
        base: fallback.clone(),
        arrivals,
    };
    let task = tokio::spawn(stages.run());
    Ok(RedriveHandle::new(rx, control, task, fallback))
}

/// A stage's rate as a move task takes it (`None`: the server's own pace).
fn task_rate(rate: Option<f64>) -> Option<u32> {
    rate.map(|r| (r.round() as u32).clamp(1, MAX_TASK_RATE))
}

struct Stages {
    broker: Arc<dyn Broker>,
    cfg: TaskConfig,
    canary: Canary,
    ramp: Ramp,
    /// The running stage's task.
    handle: Option<String>,
    /// Moved by the stages before the running one.
    moved_before: u64,
    progress: watch::Sender<Progress>,
    directive: watch::Receiver<Directive>,
    control: Control,
    base: Report,
    /// The destinations' depth, for what the stages' counts prove.
    arrivals: ArrivalWatch,
}

impl Stages {
    /// The running stage's task, as the server lists it.
    async fn current(&self) -> Option<MoveTask> {
        let handle = self.handle.as_deref()?;
        let tasks = self
            .broker
            .list_move_tasks(&self.cfg.source_arn)
            .await
            .ok()?;
        super::task::find(&tasks, Some(handle)).cloned()
    }

    /// Cancels the running stage and waits for it to stop; adds what it moved.
    async fn stop_stage(&mut self) {
        let Some(h) = self.handle.take() else { return };
        let _ =
            super::task::cancel_if_running(self.broker.as_ref(), &self.cfg.source_arn, &h).await;
        let until = Instant::now() + STOP_WAIT;
        self.handle = Some(h);
        loop {
            let t = self.current().await;
            if t.as_ref().is_none_or(|t| !t.status.is_running()) || Instant::now() >= until {
                self.moved_before += t.map_or(0, |t| t.moved);
                self.handle = None;
                return;
            }
            tokio::time::sleep(EVERY).await;
        }
    }

    async fn run(mut self) -> Report {
        let started = Instant::now();
        let mut meter = RateMeter::new(Duration::from_secs(10));
        let mut error = None;
        let mut tail_until: Option<Instant> = None;
        let mut total = 0;
        let state = loop {
            tokio::time::sleep(EVERY).await;
            if *self.directive.borrow() == Directive::Cancel {
                self.stop_stage().await;
                if let Some(why) = self.control.halt_reason() {
                    self.ramp.halt(why);
                    break RunState::Halted;
                }
                break RunState::Cancelled;
            }
            let task = self.current().await;
            let moved_now = task.as_ref().map_or(0, |t| t.moved);
            let moved = self.moved_before + moved_now;
            self.ramp.sent(moved.saturating_sub(total));
            total = moved;
            if let Ok(a) = self.broker.queue_attributes(&self.cfg.source).await {
                self.ramp
                    .depth(a.depth(), moved, started.elapsed().as_secs_f64());
            }
            meter.record(Instant::now(), moved);
            self.arrivals.sample(self.broker.as_ref()).await;
            let finished = task.as_ref().is_some_and(|t| !t.status.is_running());
            if let Some(t) = task.as_ref().filter(|_| finished)
                && let Some(why) = t.failure_reason.clone().filter(|r| !r.is_empty())
            {
                error = Some(why);
                break RunState::Failed;
            }
            let elapsed = started.elapsed().as_secs_f64();
            let step = self.ramp.tick(elapsed, &self.cfg.source.name);
            match step {
                Step::Halt(_) => {
                    self.stop_stage().await;
                    break RunState::Halted;
                }
                Step::Rate(rate) if !finished => {
                    self.stop_stage().await;
                    match self
                        .broker
                        .start_move_task(
                            &self.cfg.source_arn,
                            self.cfg.destination_arn.as_deref(),
                            task_rate(rate),
                        )
                        .await
                    {
                        Ok(h) => self.handle = Some(h),
                        Err(e) => {
                            error = Some(format!("the next stage did not start: {e}"));
                            break RunState::Failed;
                        }
                    }
                }
                _ => {}
            }
            if finished {
                // The DLQ ran dry: watch it one more window for returns.
                let until = *tail_until.get_or_insert_with(|| Instant::now() + self.canary.window);
                if Instant::now() >= until {
                    break RunState::Completed;
                }
            }
            self.publish(
                if finished {
                    RunState::Watching
                } else {
                    RunState::Running
                },
                moved,
                meter.rate(),
                started,
            );
        };
        let moved = self.moved_before.max(total);
        let p = self.publish(state, moved, meter.rate(), started);
        let secs = p.elapsed.as_secs_f64();
        let arrivals = match state {
            RunState::Failed => None,
            _ => {
                self.arrivals
                    .clone()
                    .finish(self.broker.as_ref(), moved)
                    .await
            }
        };
        let error = error.or_else(|| {
            arrivals
                .as_ref()
                .filter(|a| a.shortfall(moved).is_some())
                .map(|a| a.note.clone())
        });
        Report {
            state,
            moved,
            duration_secs: secs,
            rate: if secs > 0.0 { moved as f64 / secs } else { 0.0 },
            error,
            canary: Some(self.ramp.finished()),
            arrivals,
            left: super::Left::read(self.broker.as_ref(), &self.cfg.source).await,
            ..self.base.clone()
        }
    }

    fn publish(&self, state: RunState, moved: u64, rate: f64, started: Instant) -> Progress {
        let p = Progress {
            state,
            moved,
            rate,
            target_rate: self.ramp.rate(),
            elapsed: started.elapsed(),
            canary: Some(if state.is_finished() {
                self.ramp.finished()
            } else {
                self.ramp.report().clone()
            }),
            ..Progress::new(Mode::MoveTask, self.ramp.rate())
        };
        self.progress.send_replace(p.clone());
        p
    }
}
