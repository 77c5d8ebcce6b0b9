//! Two features on one queue: a redrive (ours or a move task started elsewhere)
//! and a view that holds messages (the browser, triage) never work one DLQ at
//! once. Opening a view on a DLQ being redriven is refused, and a redrive of a
//! DLQ a view holds is refused; each says which and what to do. A redrive that
//! ends with messages still in its DLQ says how many are left, and where.

use crate::app::App;
use crate::broker::QueueRef;

impl App {
    /// Why `queue` cannot be read by a view now: a redrive or a move task is
    /// moving its messages.
    pub(in crate::app) fn redrive_holding(&self, queue: &QueueRef) -> Option<String> {
        let cancel = self.keymap.label(crate::keymap::Action::RedriveCancel);
        if let Some(run) = self.active_redrive_of(queue) {
            let paused = run
                .progress
                .as_ref()
                .is_some_and(|p| p.state == crate::redrive::RunState::Paused);
            return Some(format!(
                "a redrive of {} is {}: let it finish or cancel it ({cancel}) before reading its messages",
                queue.name,
                if paused { "paused" } else { "running" }
            ));
        }
        let row = self.row_index(queue).map(|i| &self.queues[i])?;
        row.move_task.as_ref().filter(|t| t.status.is_running())?;
        Some(format!(
            "a move task is moving the messages of {} (started elsewhere): let it finish or cancel it ({cancel}) before reading them",
            queue.name
        ))
    }

    /// The view that holds messages of `queue`, and how many: what a redrive
    /// of it could not move.
    pub(in crate::app) fn view_holding(&self, queue: &QueueRef) -> Option<(&'static str, usize)> {
        if let Some(t) = self.triage.as_ref().filter(|t| t.queue.url == queue.url) {
            return Some(("triage", t.held_count()));
        }
        self.browser
            .as_ref()
            .filter(|b| b.queue.url == queue.url && !b.from_triage)
            .map(|b| ("the browser", b.held_receipts().len()))
            .filter(|(_, n)| *n > 0)
    }

    /// A reading of row `i`'s depth: the latest finished redrive out of it, if
    /// it completed, learns how many are left there; the first time that is
    /// more than none, the user is told.
    pub(in crate::app) fn note_left_after_redrive(&mut self, i: usize) {
        let queue = self.queues[i].queue.clone();
        let Some(depth) = self.queues[i].depth() else {
            return;
        };
        let Some(run) = self
            .redrives
            .iter_mut()
            .rev()
            .find(|r| r.plan.request.source.url == queue.url)
            .filter(|r| r.report.is_some())
        else {
            return;
        };
        if run.skip_reading {
            // Asked for before the run ended: it may count what has moved since.
            run.skip_reading = false;
            return;
        }
        let first = run.left.is_none();
        run.left = Some(depth);
        let completed = run
            .report
            .as_ref()
            .is_some_and(|r| r.state == crate::redrive::RunState::Completed);
        if first && completed && depth > 0 {
            let text = format!(
                "the redrive of {0} completed, but {depth} are left in {0}",
                queue.name
            );
            self.tell(text.clone());
            self.notify(text, true);
        }
    }
}
