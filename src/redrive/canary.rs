//! Canary redrive: start slow, double the rate after each window in which
//! nothing came back, and halt when messages this redrive sent come back to
//! the DLQ, so that a consumer that still fails burns a handful of receive
//! counts, not the whole queue's.
//!
//! [`Ramp`] is the pure part: stages, returns and the verdict on a clock the
//! caller gives. The client-side mover feeds it what it sends, the returns it
//! recognises by MessageId, and the DLQ's inflow measured from its depth (which
//! sees returns at once, wherever they sit in the queue).

use std::time::Duration;

use serde::Serialize;

/// How a canary redrive ramps up and when it stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Canary {
    /// The first stage's rate, messages per second.
    pub start: f64,
    /// How long each stage runs before the rate doubles.
    pub window: Duration,
    /// Returns in one window that halt the redrive when passed.
    pub max_returns: u64,
    /// Messages per second the DLQ received before the redrive (failures of
    /// their own, a poison message now and then): not counted as returns when
    /// they are read from the depth.
    pub background_per_sec: f64,
}

impl Default for Canary {
    fn default() -> Self {
        Canary {
            start: 1.0,
            window: Duration::from_secs(30),
            max_returns: 2,
            background_per_sec: 0.0,
        }
    }
}

/// Above this, with no target rate, the next stage is as fast as possible.
const UNLIMITED_ABOVE: f64 = 512.0;

/// One stage of the ramp.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    /// Messages per second; `None`: as fast as possible.
    pub rate: Option<f64>,
    /// Seconds from the start of the redrive.
    pub started_secs: f64,
    pub sent: u64,
    pub returns: u64,
}

/// What a canary did, for the progress pane and the JSON summary.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct CanaryReport {
    pub stages: Vec<Stage>,
    /// Messages that came back, over all stages.
    pub returns: u64,
    pub halted: bool,
    pub reason: Option<String>,
    /// Seconds until the rate doubles, while it still can.
    pub next_step_secs: Option<f64>,
}

impl CanaryReport {
    /// One line for people: "canary stage 2 at 2 msg/s · ×2 in 12s · 0 came
    /// back", or why it halted.
    pub fn line(&self) -> String {
        if let Some(reason) = self.reason.as_ref().filter(|_| self.halted) {
            return format!("canary {reason}");
        }
        let stage = self.stages.len();
        let rate = match self.stages.last().and_then(|s| s.rate) {
            Some(r) => format!("{} msg/s", crate::format::rate(Some(r))),
            None => "full speed".to_string(),
        };
        let next = match self.next_step_secs {
            Some(s) => format!(
                " · ×2 in {}",
                crate::format::duration(Duration::from_secs_f64(s))
            ),
            None => String::new(),
        };
        format!(
            "canary stage {stage} at {rate}{next} · {} came back",
            self.returns
        )
    }
}

/// What the ramp asks for after a tick.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Hold,
    /// Change the rate (`None`: as fast as possible).
    Rate(Option<f64>),
    /// Stop sending: too many came back.
    Halt(String),
}

/// The ramp's state.
#[derive(Debug, Clone)]
pub struct Ramp {
    canary: Canary,
    target: Option<f64>,
    report: CanaryReport,
    /// Returns recognised by MessageId in the current stage.
    by_id: u64,
    /// Inflow measured from the DLQ's depth in the current stage.
    by_depth: u64,
    /// (depth, moved so far, seconds) at the stage's first depth reading.
    depth_base: Option<(u64, u64, f64)>,
}

impl Ramp {
    /// A ramp toward `target` (`None`: as fast as possible), starting at `at`.
    pub fn new(canary: Canary, target: Option<f64>, at: f64) -> Self {
        let first = match target {
            Some(t) => canary.start.min(t),
            None => canary.start,
        };
        Ramp {
            canary,
            target,
            report: CanaryReport {
                stages: vec![Stage {
                    rate: Some(first),
                    started_secs: at,
                    sent: 0,
                    returns: 0,
                }],
                ..CanaryReport::default()
            },
            by_id: 0,
            by_depth: 0,
            depth_base: None,
        }
    }

    fn stage(&mut self) -> &mut Stage {
        self.report.stages.last_mut().expect("a ramp has a stage")
    }

    /// The current stage's rate.
    pub fn rate(&self) -> Option<f64> {
        self.report.stages.last().and_then(|s| s.rate)
    }

    pub fn sent(&mut self, n: u64) {
        self.stage().sent += n;
    }

    /// Messages this redrive sent, received again from the DLQ.
    pub fn returned(&mut self, n: u64) {
        self.by_id += n;
        self.settle_returns();
    }

    /// A reading of the DLQ's depth (visible + in flight + delayed) at `at`
    /// seconds, when `moved` messages have been moved in all: what went in since
    /// the stage's first reading, beyond the DLQ's background inflow, came back.
    /// Whether a first depth reading has been taken.
    pub fn has_depth_base(&self) -> bool {
        self.depth_base.is_some()
    }

    pub fn depth(&mut self, depth: u64, moved: u64, at: f64) {
        match self.depth_base {
            None => self.depth_base = Some((depth, moved, at)),
            Some((base, moved_then, then)) => {
                let expected = base.saturating_sub(moved.saturating_sub(moved_then));
                let background = self.canary.background_per_sec * (at - then).max(0.0);
                let came = depth.saturating_sub(expected) as f64 - background;
                self.by_depth = self.by_depth.max(came.max(0.0).floor() as u64);
                self.settle_returns();
            }
        }
    }

    fn settle_returns(&mut self) {
        let now = self.by_id.max(self.by_depth);
        let stage = self.stage();
        let added = now.saturating_sub(stage.returns);
        stage.returns = now;
        self.report.returns += added;
    }

    /// Where the ramp stands at `now` (seconds, the clock of [`Ramp::new`]).
    /// `dlq` names the DLQ for the reason.
    pub fn tick(&mut self, now: f64, dlq: &str) -> Step {
        if self.report.halted {
            return Step::Hold;
        }
        if let Some(reason) = self.judge(dlq) {
            return Step::Halt(reason);
        }
        let window = self.canary.window.as_secs_f64();
        let started = self.stage().started_secs;
        let next = self.next_rate();
        if next == self.rate() {
            self.report.next_step_secs = None;
            return Step::Hold;
        }
        if now - started < window {
            self.report.next_step_secs = Some(started + window - now);
            return Step::Hold;
        }
        self.report.stages.push(Stage {
            rate: next,
            started_secs: now,
            sent: 0,
            returns: 0,
        });
        self.by_id = 0;
        self.by_depth = 0;
        self.depth_base = None;
        self.report.next_step_secs = (self.next_rate() != next).then_some(window);
        Step::Rate(next)
    }

    /// Halts, with the reason, when the current window's returns passed those
    /// allowed.
    pub fn judge(&mut self, dlq: &str) -> Option<String> {
        let (returns, sent) = {
            let s = self.stage();
            (s.returns, s.sent)
        };
        if self.report.halted || returns <= self.canary.max_returns {
            return None;
        }
        let reason = format!(
            "halted: {returns} of the last {sent} came back to {dlq} — its consumer still fails"
        );
        self.halt(reason.clone());
        Some(reason)
    }

    /// The rate after the current stage: double, up to the target.
    fn next_rate(&self) -> Option<f64> {
        let now = self.rate()?;
        match self.target {
            Some(t) => Some((now * 2.0).min(t)),
            None if now >= UNLIMITED_ABOVE => None,
            None => Some(now * 2.0),
        }
    }

    /// What the canary did so far.
    pub fn report(&self) -> &CanaryReport {
        &self.report
    }

    /// What the canary did, once the redrive has ended: no next step.
    pub fn finished(&self) -> CanaryReport {
        CanaryReport {
            next_step_secs: None,
            ..self.report.clone()
        }
    }

    /// Halts from outside (the destination's breaker opened).
    pub fn halt(&mut self, reason: String) {
        self.report.halted = true;
        self.report.reason = Some(reason);
        self.report.next_step_secs = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(target: Option<f64>) -> Ramp {
        let canary = Canary {
            start: 1.0,
            window: Duration::from_secs(30),
            max_returns: 2,
            background_per_sec: 0.0,
        };
        Ramp::new(canary, target, 0.0)
    }

    #[test]
    fn doubles_after_each_quiet_window_up_to_the_target() {
        let mut r = ramp(Some(5.0));
        assert_eq!(r.rate(), Some(1.0));
        assert_eq!(r.tick(29.0, "dlq"), Step::Hold);
        assert_eq!(r.report().next_step_secs, Some(1.0));
        assert_eq!(r.tick(30.0, "dlq"), Step::Rate(Some(2.0)));
        assert_eq!(r.tick(59.0, "dlq"), Step::Hold);
        assert_eq!(r.tick(60.0, "dlq"), Step::Rate(Some(4.0)));
        assert_eq!(r.tick(90.0, "dlq"), Step::Rate(Some(5.0)));
        assert_eq!(r.tick(500.0, "dlq"), Step::Hold, "at the target");
        assert_eq!(r.report().next_step_secs, None);
        let rates: Vec<_> = r.report().stages.iter().map(|s| s.rate).collect();
        assert_eq!(rates, [Some(1.0), Some(2.0), Some(4.0), Some(5.0)]);
    }

    #[test]
    fn without_a_target_it_ends_as_fast_as_possible() {
        let mut r = ramp(None);
        let mut t = 0.0;
        while r.rate().is_some() {
            t += 30.0;
            assert!(matches!(r.tick(t, "dlq"), Step::Rate(_)));
        }
        assert_eq!(r.report().stages.len(), 11, "1, 2, … 512, then unlimited");
        assert_eq!(r.tick(t + 300.0, "dlq"), Step::Hold);
    }

    #[test]
    fn more_returns_than_allowed_in_a_window_halt_it() {
        let mut r = ramp(Some(100.0));
        r.sent(20);
        r.returned(2);
        assert_eq!(r.tick(10.0, "orders-dlq"), Step::Hold, "two are allowed");
        r.returned(1);
        let Step::Halt(why) = r.tick(11.0, "orders-dlq") else {
            panic!("a third return halts");
        };
        assert_eq!(
            why,
            "halted: 3 of the last 20 came back to orders-dlq — its consumer still fails"
        );
        assert!(r.report().halted);
        assert_eq!(r.report().returns, 3);
        assert_eq!(r.tick(100.0, "orders-dlq"), Step::Hold, "a halt is final");
    }

    #[test]
    fn the_dlq_depth_counts_returns_the_receives_have_not_reached() {
        let mut r = ramp(Some(100.0));
        r.depth(50, 0, 0.0);
        r.sent(5);
        // 5 moved out, 2 came back: 47 where 45 were expected.
        r.depth(47, 5, 1.0);
        assert_eq!(r.report().returns, 2);
        // Recognising one of them by id as well does not count it twice.
        r.returned(1);
        assert_eq!(r.report().returns, 2);
        r.depth(48, 5, 2.0);
        assert_eq!(r.report().returns, 3);
        assert!(matches!(r.tick(5.0, "dlq"), Step::Halt(_)));
    }

    #[test]
    fn the_dlq_s_own_inflow_before_the_redrive_is_not_a_return() {
        let canary = Canary {
            background_per_sec: 0.2,
            ..Canary::default()
        };
        let mut r = Ramp::new(canary, Some(100.0), 0.0);
        r.depth(50, 0, 0.0);
        // 20 s: 10 moved out, 4 poison messages in as before, no return.
        r.depth(44, 10, 20.0);
        assert_eq!(r.report().returns, 0);
        // Three more than the background: returns.
        r.depth(47, 10, 20.0);
        assert_eq!(r.report().returns, 3);
    }

    #[test]
    fn returns_are_counted_per_window() {
        let mut r = ramp(Some(100.0));
        r.returned(2);
        assert_eq!(r.tick(30.0, "dlq"), Step::Rate(Some(2.0)));
        r.returned(2);
        assert_eq!(r.tick(40.0, "dlq"), Step::Hold, "two in this window");
        assert_eq!(r.report().returns, 4);
        assert_eq!(r.report().stages[1].returns, 2);
    }
}
