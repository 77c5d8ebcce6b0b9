//! One worker of the mover: fetch a batch (tokens from the rate limiter, a permit
//! from the [`Gate`], a receive), move it, and fetch the next one while the current
//! one is sent and deleted (pipelining; not from a FIFO queue).
//!
//! **The tail.** After a receive that brings nothing new, the worker long-polls (a
//! long poll asks every SQS server, where a short one asks a sample) and reads the
//! queue's approximate count. It stops when both say empty. While other batches of
//! this run are in hand it keeps waiting: in a FIFO queue, their groups are locked
//! until they are deleted. With none in hand, it stops after a few fetches with
//! nothing new even if the count says otherwise (held messages seen again, or a
//! count that lags). The first worker to stop so
//! ends the pass for all: the others stop at their next fetch.
//!
//! [`Gate`]: crate::redrive::concurrency::Gate

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::{HoldReason, Run, backoff, batch_at, transient};
use crate::broker::{BrokerResult, Message};
use crate::redrive::Directive;
use crate::redrive::concurrency::Permit;

/// Fetches with nothing new, when none of this run's batches is in hand, before a
/// worker stops although the count says messages are visible.
const EMPTY_ROUNDS: u32 = 4;
/// How long a receive waits for messages in the tail.
const LONG_POLL: Duration = Duration::from_secs(2);
/// The pause after a long poll the server answered at once with nothing new.
const EMPTY_PAUSE: Duration = Duration::from_millis(200);
/// Attempts for a receive before the run fails.
const RECEIVE_ATTEMPTS: u32 = 6;
/// How old a reading of the queue's count may be for the tail's check.
const COUNT_FRESH: Duration = Duration::from_secs(1);

/// What one fetch brought.
enum Fetched {
    /// Messages to move, paid for, with their place in flight.
    Batch(Vec<Message>, Permit),
    /// Nothing new this time.
    Nothing,
    /// This worker is done: drained, the budget used up, cancelled, or the run failed.
    Stop,
}

/// A worker's view of the queue's tail.
#[derive(Debug, Default)]
struct Tail {
    /// Fetches in a row that brought nothing new.
    empty: u32,
}

impl Run {
    pub(super) async fn worker(self: std::sync::Arc<Self>) {
        let mut tail = Tail::default();
        let mut next: Option<(Vec<Message>, Permit)> = None;
        loop {
            let (batch, permit) = match next.take() {
                Some(b) => b,
                None => match self.fetch(&mut tail).await {
                    Fetched::Batch(b, p) => (b, p),
                    Fetched::Nothing => continue,
                    Fetched::Stop => return,
                },
            };
            let stop = if self.may_pipeline() {
                let (_, fetched) =
                    tokio::join!(self.move_batch(batch, permit), self.fetch(&mut tail));
                match fetched {
                    Fetched::Batch(b, p) => {
                        next = Some((b, p));
                        false
                    }
                    Fetched::Nothing => false,
                    Fetched::Stop => true,
                }
            } else {
                self.move_batch(batch, permit).await;
                false
            };
            self.publish(self.live_state());
            if self.is_cancelled() {
                if let Some((batch, _)) = next.take() {
                    // Fetched but not moved: give them back untouched.
                    self.unclaim(u32::try_from(batch.len()).unwrap_or(0), 0);
                    self.release(fresh_handles(&batch)).await;
                    self.in_hand.fetch_sub(1, Ordering::SeqCst);
                }
                return;
            }
            if stop {
                return;
            }
        }
    }

    /// Moves one batch and notes how long it took; its permit is given back after.
    async fn move_batch(&self, batch: Vec<Message>, permit: Permit) {
        let started = Instant::now();
        self.move_messages(batch).await;
        drop(permit);
        self.in_hand.fetch_sub(1, Ordering::SeqCst);
        let took = started.elapsed().as_secs_f64();
        let mut s = self.stats();
        s.move_secs = Some(s.move_secs.map_or(took, |m| m * 0.8 + took * 0.2));
    }

    /// Whether a worker may receive its next batch while it moves the current one:
    /// only while a move takes well within the visibility timeout, so that the next
    /// batch never waits in hand past it. Not from a FIFO queue: a batch waiting in
    /// hand locks its group, which another worker could be moving meanwhile.
    fn may_pipeline(&self) -> bool {
        if self.cfg.source.is_fifo() {
            return false;
        }
        let limit = self.cfg.receive_visibility().as_secs_f64() / 2.0;
        self.stats().move_secs.is_none_or(|m| m < limit)
    }

    async fn fetch(&self, tail: &mut Tail) -> Fetched {
        if self.passed.load(Ordering::SeqCst) || !self.wait_runnable().await {
            return Fetched::Stop;
        }
        let want = self.claim(batch_at(self.limiter.rate()));
        if want == 0 {
            return Fetched::Stop;
        }
        // Normally the tokens are taken before receiving, so that no message waits
        // for them. In the tail the worker is only probing, and with a filter it
        // cannot know how many it will move: then it receives first and pays for what
        // it moves (tokens taken ahead and handed back would delay the other workers
        // and cost the filtered rate).
        let probing = tail.empty > 0;
        let prepaid = !probing && self.cfg.filter.is_none();
        if prepaid {
            tokio::select! {
                _ = self.limiter.acquire(want) => {}
                _ = self.drained.notified() => {
                    // Another worker found the queue empty: stop waiting, probe.
                    self.unclaim(want, want);
                    tail.empty = tail.empty.max(1);
                    return Fetched::Nothing;
                }
                _ = self.cancelled() => {
                    self.unclaim(want, want);
                    return Fetched::Stop;
                }
            }
            if *self.directive.borrow() != Directive::Run {
                self.unclaim(want, want);
                return Fetched::Nothing;
            }
        }
        let paid = if prepaid { want } else { 0 };
        // Taken after the tokens: a batch waiting for tokens is not in flight.
        let permit = tokio::select! {
            p = self.gate.enter() => p,
            _ = self.cancelled() => {
                self.unclaim(want, paid);
                return Fetched::Stop;
            }
        };
        if self.passed.load(Ordering::SeqCst) {
            self.unclaim(want, paid);
            return Fetched::Stop;
        }
        let wait = if probing { LONG_POLL } else { Duration::ZERO };
        let asked = Instant::now();
        let messages = match self.receive(want, wait).await {
            Ok(m) => m,
            Err(e) => {
                self.unclaim(want, paid);
                let mut s = self.stats();
                s.fatal.get_or_insert_with(|| {
                    format!("cannot receive from {}: {e}", self.cfg.source.name)
                });
                return Fetched::Stop;
            }
        };
        if self.stats().fatal.is_some() {
            // Another worker failed: give these back at once.
            self.unclaim(want, paid);
            self.release(fresh_handles(&messages)).await;
            return Fetched::Stop;
        }
        let (fresh, seen): (Vec<Message>, Vec<Message>) = {
            let s = self.stats();
            messages
                .into_iter()
                .partition(|m| !s.held.contains_key(&m.message_id))
        };
        self.seen_again(seen).await;
        let fresh = self.set_aside_returns(fresh).await;
        let fresh = self.keep_groups_whole(fresh).await;
        if fresh.is_empty() {
            self.unclaim(want, paid);
            drop(permit);
            self.gate.empty();
            self.drained.notify_waiters();
            tail.empty += 1;
            if probing && asked.elapsed() < wait / 2 {
                // The server did not wait (it does not long-poll, or it had only
                // messages of locked FIFO groups): pause rather than spin.
                tokio::select! {
                    _ = tokio::time::sleep(EMPTY_PAUSE) => {}
                    _ = self.cancelled() => return Fetched::Stop,
                }
            }
            return if self.tail_done(tail).await {
                // One worker's finding ends the pass for all.
                self.passed.store(true, Ordering::SeqCst);
                self.drained.notify_waiters();
                Fetched::Stop
            } else {
                Fetched::Nothing
            };
        }
        tail.empty = 0;
        let (selected, unselected): (Vec<Message>, Vec<Message>) = match &self.cfg.filter {
            Some(f) => fresh.into_iter().partition(|m| f.selects(m)),
            None => (fresh, Vec::new()),
        };
        let n = u32::try_from(selected.len()).unwrap_or(want).min(want);
        if prepaid {
            self.unclaim(want - n, want - n);
        } else {
            self.unclaim(want - n, 0);
            if n > 0 {
                tokio::select! {
                    _ = self.limiter.acquire(n) => {}
                    _ = self.cancelled() => {
                        // Not moved: give them back untouched.
                        self.unclaim(n, 0);
                        self.release(fresh_handles(&selected)).await;
                        self.skip(unselected).await;
                        return Fetched::Stop;
                    }
                }
            }
        }
        self.skip(unselected).await;
        if selected.is_empty() {
            return Fetched::Nothing;
        }
        self.in_hand.fetch_add(1, Ordering::SeqCst);
        Fetched::Batch(selected, permit)
    }

    /// Holds messages the filter did not select until the pass ends.
    async fn skip(&self, unselected: Vec<Message>) {
        if !unselected.is_empty() {
            self.stats().skipped += unselected.len() as u64;
            self.hold(unselected, HoldReason::Unselected).await;
        }
    }

    /// After a fetch with nothing new: whether this worker is done.
    async fn tail_done(&self, tail: &Tail) -> bool {
        if self.is_cancelled() {
            return true;
        }
        // The first empty fetch was a short poll, which may miss messages; a long
        // poll follows before the count is asked.
        if tail.empty < 2 {
            return false;
        }
        // Batches of this run in hand lock their FIFO groups until they are deleted,
        // and a locked group's messages may not count as visible: wait for them.
        if self.in_hand.load(Ordering::SeqCst) > 0 {
            return false;
        }
        // Visible, yet none came: a count that lags, or held messages seen again.
        !self.visible_recently().await || tail.empty >= EMPTY_ROUNDS
    }

    /// Whether the queue's approximate count says messages are visible, read at most
    /// once a second for all workers and the progress tick together.
    async fn visible_recently(&self) -> bool {
        let known = {
            let s = self.stats();
            s.depth_at
                .filter(|at| at.elapsed() < COUNT_FRESH)
                .and(s.depth)
        };
        if let Some(visible) = known {
            return visible > 0;
        }
        match self.broker.queue_attributes(&self.cfg.source).await {
            Ok(a) => {
                let mut s = self.stats();
                s.depth = Some(a.visible);
                s.depth_at = Some(Instant::now());
                a.visible > 0
            }
            Err(_) => false,
        }
    }

    async fn receive(&self, n: u32, wait: Duration) -> BrokerResult<Vec<Message>> {
        let mut attempt = 0;
        loop {
            match self
                .broker
                .receive_waiting(&self.cfg.source, n, self.cfg.receive_visibility(), wait)
                .await
            {
                Ok(m) => return Ok(m),
                Err(e) if transient(&e) && attempt + 1 < RECEIVE_ATTEMPTS => {
                    self.retrying(format!("receive: {e} (retrying)"));
                    tokio::time::sleep(backoff(attempt + 1)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits while paused; `false` when cancelled.
    async fn wait_runnable(&self) -> bool {
        let mut rx = self.directive.clone();
        loop {
            let d = *rx.borrow_and_update();
            match d {
                Directive::Run => return true,
                Directive::Cancel => return false,
                Directive::Pause => {
                    if rx.changed().await.is_err() {
                        // Nobody can resume it any more.
                        return false;
                    }
                }
            }
        }
    }

    pub(super) async fn cancelled(&self) {
        let mut rx = self.directive.clone();
        loop {
            if *rx.borrow_and_update() == Directive::Cancel {
                return;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    pub(super) fn is_cancelled(&self) -> bool {
        *self.directive.borrow() == Directive::Cancel
    }

    /// Takes up to `n` from the `max` budget.
    fn claim(&self, n: u32) -> u32 {
        let Some(max) = self.cfg.max else {
            self.claimed.fetch_add(u64::from(n), Ordering::SeqCst);
            return n;
        };
        let mut cur = self.claimed.load(Ordering::SeqCst);
        loop {
            let take = max.saturating_sub(cur).min(u64::from(n));
            if take == 0 {
                return 0;
            }
            match self
                .claimed
                .compare_exchange(cur, cur + take, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return u32::try_from(take).unwrap_or(n),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Gives back `budget` of the `max` budget and `tokens` of the rate that were
    /// not used.
    fn unclaim(&self, budget: u32, tokens: u32) {
        if budget > 0 {
            self.claimed.fetch_sub(u64::from(budget), Ordering::SeqCst);
        }
        if tokens > 0 {
            self.limiter.refund(tokens);
        }
    }
}

fn fresh_handles(messages: &[Message]) -> Vec<String> {
    messages.iter().map(|m| m.receipt_handle.clone()).collect()
}
