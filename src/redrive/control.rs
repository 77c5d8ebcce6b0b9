//! Steering a running redrive: pause, resume, cancel and the rate, shared by the
//! dashboard and the headless command, and the handle a start returns.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::limiter::RateLimiter;
use super::{Mode, Progress, Report, RunState};

/// What the workers are told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directive {
    Run,
    Pause,
    Cancel,
}

/// Why a control action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("an SQS move task cannot pause or resume: cancel it, and start again later")]
    NotPausable,
    #[error("an SQS move task's rate is fixed when it starts")]
    FixedRate,
    #[error("the rate must be at least 1 message/s")]
    BadRate,
    #[error("the redrive has finished")]
    Finished,
}

/// Steers a running redrive. Cheap to clone; every method returns at once (the
/// workers act on it between batches), so it is safe to call from `update`.
#[derive(Debug, Clone)]
pub struct Control {
    mode: Mode,
    directive: Arc<watch::Sender<Directive>>,
    limiter: Option<Arc<RateLimiter>>,
    /// Why the redrive was halted from outside, when it was.
    halted: Arc<std::sync::Mutex<Option<String>>>,
}

impl Control {
    pub(crate) fn new(mode: Mode, limiter: Option<Arc<RateLimiter>>) -> Self {
        let (tx, _) = watch::channel(Directive::Run);
        Control {
            mode,
            directive: Arc::new(tx),
            limiter,
            halted: Arc::default(),
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Directive> {
        self.directive.subscribe()
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether pause and resume are possible (client-side only).
    pub(crate) fn can_pause(&self) -> bool {
        self.mode == Mode::ClientSide
    }

    pub fn directive(&self) -> Directive {
        *self.directive.borrow()
    }

    fn set(&self, d: Directive) -> Result<(), ControlError> {
        let mut result = Ok(());
        self.directive.send_if_modified(|cur| {
            if *cur == Directive::Cancel && d != Directive::Cancel {
                result = Err(ControlError::Finished);
                return false;
            }
            let changed = *cur != d;
            *cur = d;
            changed
        });
        result
    }

    /// Pauses after the batches in hand (client-side).
    pub fn pause(&self) -> Result<(), ControlError> {
        if !self.can_pause() {
            return Err(ControlError::NotPausable);
        }
        self.set(Directive::Pause)
    }

    pub fn resume(&self) -> Result<(), ControlError> {
        if !self.can_pause() {
            return Err(ControlError::NotPausable);
        }
        self.set(Directive::Run)
    }

    /// Stops: client-side after the batches in hand (nothing is half-moved); a move
    /// task through CancelMessageMoveTask.
    pub fn cancel(&self) {
        let _ = self.set(Directive::Cancel);
    }

    /// Stops like [`Control::cancel`], and says why: the run ends halted (the
    /// destination's breaker opened under a canary redrive).
    pub fn halt(&self, reason: impl Into<String>) {
        *crate::sync::lock(&self.halted) = Some(reason.into());
        self.cancel();
    }

    /// Why the run was halted from outside.
    pub(crate) fn halt_reason(&self) -> Option<String> {
        crate::sync::lock(&self.halted).clone()
    }

    /// Changes the client-side rate from now on (`None`: unlimited).
    pub fn set_rate(&self, rate: Option<u32>) -> Result<(), ControlError> {
        if rate == Some(0) {
            return Err(ControlError::BadRate);
        }
        match &self.limiter {
            Some(l) => {
                l.set_rate(rate.map(f64::from));
                Ok(())
            }
            None => Err(ControlError::FixedRate),
        }
    }

    /// The current target rate (client-side).
    pub fn rate(&self) -> Option<f64> {
        self.limiter.as_ref().and_then(|l| l.rate())
    }
}

/// A running redrive: watch its progress, steer it, and wait for its report.
#[derive(Debug)]
pub struct RedriveHandle {
    /// Always holds the latest [`Progress`]; `changed().await` wakes on each update.
    pub progress: watch::Receiver<Progress>,
    pub control: Control,
    task: JoinHandle<Report>,
    /// Used if the task panicked.
    fallback: Report,
}

impl RedriveHandle {
    pub(crate) fn new(
        progress: watch::Receiver<Progress>,
        control: Control,
        task: JoinHandle<Report>,
        fallback: Report,
    ) -> Self {
        RedriveHandle {
            progress,
            control,
            task,
            fallback,
        }
    }

    /// Waits for the end and returns the report.
    pub async fn wait(self) -> Report {
        match self.task.await {
            Ok(report) => report,
            Err(e) => {
                let p = self.progress.borrow().clone();
                Report {
                    state: RunState::Failed,
                    moved: p.moved,
                    failed: p.failed,
                    skipped: p.skipped,
                    not_deleted: p.not_deleted,
                    retries: p.retries,
                    duration_secs: p.elapsed.as_secs_f64(),
                    error: Some(format!("the redrive task stopped: {e}")),
                    ..self.fallback
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_pauses_resumes_and_cancels_for_good() {
        let c = Control::new(Mode::ClientSide, Some(Arc::new(RateLimiter::unlimited())));
        assert_eq!(c.directive(), Directive::Run);
        c.pause().expect("pause");
        assert_eq!(c.directive(), Directive::Pause);
        c.resume().expect("resume");
        assert_eq!(c.directive(), Directive::Run);
        c.set_rate(Some(20)).expect("rate");
        assert_eq!(c.rate(), Some(20.0));
        assert_eq!(c.set_rate(Some(0)), Err(ControlError::BadRate));
        c.cancel();
        assert_eq!(c.resume(), Err(ControlError::Finished));
        assert_eq!(c.directive(), Directive::Cancel);
        let t = Control::new(Mode::MoveTask, None);
        assert_eq!(t.pause(), Err(ControlError::NotPausable));
        assert_eq!(t.set_rate(Some(5)), Err(ControlError::FixedRate));
    }
}
