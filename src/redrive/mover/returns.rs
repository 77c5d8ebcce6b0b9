//! A canary's side of the mover: reading the DLQ for returns, stepping the
//! rate, halting, and watching the DLQ a while after it ran dry.

use std::time::Duration;

use tokio::time::Instant;

use super::{CANARY_DEPTH_EVERY, DEPTH_EVERY, HoldReason, Run};
use crate::broker::Message;
use crate::redrive::RunState;
use crate::redrive::canary::Step;

impl Run {
    /// A canary reads the DLQ every second, for returns; otherwise every few.
    pub(super) fn depth_every(&self) -> Duration {
        if self.cfg.canary.is_some() {
            CANARY_DEPTH_EVERY
        } else {
            DEPTH_EVERY
        }
    }

    fn elapsed_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Moves the canary on: a faster stage after a quiet window, or a halt.
    pub(super) fn steer_canary(&self) {
        let step = {
            let mut s = self.stats();
            let Some(ramp) = s.ramp.as_mut() else {
                return;
            };
            ramp.tick(self.elapsed_secs(), &self.cfg.source.name)
        };
        match step {
            Step::Hold => {}
            Step::Rate(rate) => self.limiter.set_rate(rate),
            Step::Halt(reason) if self.cfg.source.is_fifo() => {
                let mut s = self.stats();
                s.last_error = Some(format!(
                    "{reason}; finishing the {} group(s) it began, so that each stays in order",
                    s.begun.len()
                ));
                s.finishing = true;
            }
            Step::Halt(reason) => {
                self.stats().last_error = Some(reason);
                self.control.cancel();
            }
        }
    }

    /// After the DLQ ran dry, a canary watches it for one more window: what it
    /// sent last may still come back.
    pub(super) async fn watch_tail(&self) {
        let Some(canary) = self.cfg.canary else {
            return;
        };
        if self.stats().finishing {
            return;
        }
        let end = Instant::now() + canary.window;
        while Instant::now() < end && !self.is_cancelled() {
            self.read_depth().await;
            if let Some(reason) = {
                let mut s = self.stats();
                s.ramp.as_mut().and_then(|r| r.judge(&self.cfg.source.name))
            } {
                self.stats().last_error = Some(reason);
                return;
            }
            self.publish(RunState::Watching);
            tokio::select! {
                _ = tokio::time::sleep(CANARY_DEPTH_EVERY) => {}
                _ = self.cancelled() => return,
            }
        }
    }

    /// A FIFO canary moves whole groups. The messages of a group come back to the
    /// DLQ's tail in order (the consumer fails them one by one), so a group moved
    /// to its end keeps its order there; a group cut short would stand behind its
    /// returned head. So once halted it moves only the rest of the groups it began,
    /// and holds the others untouched until the pass ends.
    pub(super) async fn keep_groups_whole(&self, fresh: Vec<Message>) -> Vec<Message> {
        if self.cfg.canary.is_none() || !self.cfg.source.is_fifo() {
            return fresh;
        }
        let (go, wait): (Vec<Message>, Vec<Message>) = {
            let mut s = self.stats();
            if s.finishing {
                fresh
                    .into_iter()
                    .partition(|m| m.group_id.as_ref().is_some_and(|g| s.begun.contains(g)))
            } else {
                for g in fresh.iter().filter_map(|m| m.group_id.clone()) {
                    s.begun.insert(g);
                }
                (fresh, Vec::new())
            }
        };
        self.hold(wait, HoldReason::NotBegun).await;
        go
    }

    /// Messages this run sent that are back in the DLQ: counted as returns and
    /// held, never sent again in this run. Returns the others.
    pub(super) async fn set_aside_returns(&self, fresh: Vec<Message>) -> Vec<Message> {
        let (back, rest): (Vec<Message>, Vec<Message>) = {
            let s = self.stats();
            if s.ramp.is_none() {
                return fresh;
            }
            fresh
                .into_iter()
                .partition(|m| s.sent_ids.contains(&m.message_id))
        };
        if !back.is_empty() {
            if let Some(ramp) = self.stats().ramp.as_mut() {
                ramp.returned(back.len() as u64);
            }
            self.hold(back, HoldReason::Returned).await;
        }
        rest
    }
}
