//! The scripted story's canary redrive: a move task per stage, as SQS needs
//! (a task's rate is fixed when it starts), stepped by the same
//! [`Ramp`](crate::redrive::canary::Ramp) as a real canary, with returns read
//! from the DLQ's depth.

use std::time::Duration;

use super::model::{Model, arn};
use crate::broker::BrokerResult;
use crate::redrive::canary::{Canary, Ramp, Step};

/// A canary redrive the story started.
#[derive(Debug, Clone)]
pub struct StoryCanary {
    dlq: String,
    ramp: Ramp,
    /// The running stage's task.
    handle: Option<String>,
    /// Messages moved by the stages before the running one.
    moved_before: u64,
}

impl StoryCanary {
    /// Starts the first stage: 1 msg/s toward `target`.
    pub fn start(model: &mut Model, dlq: &str, target: u32) -> BrokerResult<StoryCanary> {
        let ramp = Ramp::new(Canary::default(), Some(f64::from(target)), secs(model));
        let mut c = StoryCanary {
            dlq: dlq.to_string(),
            ramp,
            handle: None,
            moved_before: 0,
        };
        c.handle = Some(c.start_stage(model)?);
        Ok(c)
    }

    fn start_stage(&self, model: &mut Model) -> BrokerResult<String> {
        let rate = self.ramp.rate().map(|r| r.round().max(1.0) as u32);
        model.start_move_task(&arn(&self.dlq), None, rate)
    }

    /// Moved by the running stage's task.
    fn moved_now(&self, model: &Model) -> u64 {
        let Some(handle) = &self.handle else { return 0 };
        model
            .list_move_tasks(&arn(&self.dlq))
            .into_iter()
            .find(|t| t.handle.as_deref() == Some(handle.as_str()))
            .map_or(0, |t| t.moved)
    }

    /// One step of the story's clock: reads the DLQ, moves the ramp on, and
    /// says what changed. `None` once the stages are over and nothing changed.
    pub fn step(&mut self, model: &mut Model) -> Option<String> {
        let moved = self.moved_before + self.moved_now(model);
        if let Ok(a) = model.attributes(&self.dlq) {
            self.ramp.depth(a.depth(), moved, secs(model));
        }
        match self.ramp.tick(secs(model), &self.dlq) {
            Step::Hold => None,
            Step::Rate(rate) => {
                if let Some(h) = self.handle.take() {
                    self.moved_before += model.cancel_move_task(&h).unwrap_or(0);
                }
                self.handle = self.start_stage(model).ok();
                let rate = rate.map_or("full speed".into(), |r| format!("{r:.0}/s"));
                Some(format!(
                    "canary redrive of {}: nothing came back, now at {rate}",
                    self.dlq
                ))
            }
            Step::Halt(reason) => {
                if let Some(h) = self.handle.take() {
                    let _ = model.cancel_move_task(&h);
                }
                Some(format!("canary redrive of {} {reason}", self.dlq))
            }
        }
    }
}

fn secs(model: &Model) -> f64 {
    Duration::as_secs_f64(&model.now())
}
