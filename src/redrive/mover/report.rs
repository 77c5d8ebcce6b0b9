//! What the mover tells: the live [`Progress`] and the final [`Report`].

use tokio::time::Instant;

use super::{RECENT_FAILURES, Run, Stats, remaining, target_label};
use crate::redrive::canary::Ramp;
use crate::redrive::{Mode, Progress, RateMeter, Report, RunState, eta};

impl Run {
    pub(super) fn publish(&self, state: RunState) -> Progress {
        let now = Instant::now();
        let p = {
            let mut s = self.stats();
            let moved = s.moved;
            if let Some(m) = s.meter.as_mut() {
                m.record(now, moved);
            }
            let rate = s.meter.as_ref().map_or(0.0, RateMeter::rate);
            let attempted = s.moved + s.failed;
            // A canary's returns are back in the DLQ's depth: they are not more
            // to move, so its total stays the messages it started with.
            let from_start = self
                .cfg
                .expected
                .map(|e| e.saturating_sub(attempted + s.skipped));
            let in_queue = match s.ramp {
                Some(_) => from_start,
                None => s.depth.or(from_start),
            };
            // Stopped early (cancelled, halted), the rest is still in the DLQ.
            let left = if state == RunState::Completed {
                Some(0)
            } else {
                remaining(self.cfg.max, attempted, in_queue)
            };
            let target = self.limiter.rate();
            let start = s.failures.len().saturating_sub(RECENT_FAILURES);
            Progress {
                mode: Mode::ClientSide,
                state,
                moved,
                failed: s.failed,
                skipped: s.skipped,
                not_deleted: s.not_deleted,
                retries: self.retries(&s),
                total: left.map(|l| attempted + l),
                remaining: left,
                rate: if state.is_finished() {
                    self.average_rate(&s, s.last_move.unwrap_or(now))
                } else {
                    rate
                },
                target_rate: target,
                elapsed: now.saturating_duration_since(self.started),
                eta: if state.is_finished() {
                    None
                } else {
                    eta(left, rate, target)
                },
                detail: s.fatal.clone().or_else(|| s.last_error.clone()),
                recent_failures: s.failures[start..].to_vec(),
                canary: s.ramp.as_ref().map(|r| {
                    if state.is_finished() {
                        r.finished()
                    } else {
                        r.report().clone()
                    }
                }),
                concurrency: Some(self.gate.limit()),
            }
        };
        self.progress.send_replace(p.clone());
        p
    }

    /// Moved per second of running (pauses excluded) from the start to `end`.
    fn average_rate(&self, s: &Stats, end: Instant) -> f64 {
        let now = end;
        let mut paused = s.paused;
        if let Some(since) = s.paused_since {
            paused += now.saturating_duration_since(since);
        }
        let active = now
            .saturating_duration_since(self.started)
            .saturating_sub(paused)
            .as_secs_f64();
        if active > 0.0 {
            s.moved as f64 / active
        } else {
            0.0
        }
    }

    pub(super) fn report(&self, state: RunState, p: &Progress) -> Report {
        let s = self.stats();
        Report {
            mode: Mode::ClientSide,
            state,
            source: self.cfg.source.name.clone(),
            destination: target_label(&self.cfg.target),
            moved: s.moved,
            failed: s.failed,
            skipped: s.skipped,
            not_deleted: s.not_deleted,
            retries: self.retries(&s),
            duration_secs: p.elapsed.as_secs_f64(),
            rate: self.average_rate(&s, s.last_move.unwrap_or_else(Instant::now)),
            target_rate: self.limiter.rate(),
            by_destination: s.by_destination.clone(),
            failures: s.failures.clone(),
            error: s.fatal.clone(),
            task_handle: None,
            canary: s.ramp.as_ref().map(Ramp::finished),
            arrivals: None,
            left: None,
        }
    }
}
