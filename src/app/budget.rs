//! The polling budget. Queues that matter now (on screen, selected, flagged) are
//! polled every `attributes_secs`; the rest take turns with what is left of
//! `[refresh] max_requests_per_second`, so that thousands of idle queues cost a
//! fixed number of requests, and each is at most [`Budget::bound`] old.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the request rate is measured.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// A token bucket for the dashboard's own SQS requests, and a meter of them.
#[derive(Debug, Clone)]
pub struct Budget {
    per_sec: f64,
    tokens: f64,
    last: Option<Instant>,
    /// Where the next turn of the other queues starts.
    pub(crate) cursor: usize,
    /// When each recent request went out.
    sent: VecDeque<Instant>,
}

impl Budget {
    pub fn new(per_sec: f64) -> Self {
        Budget {
            per_sec,
            tokens: 0.0,
            last: None,
            cursor: 0,
            sent: VecDeque::new(),
        }
    }

    /// Requests per second the budget allows.
    pub fn per_sec(&self) -> f64 {
        self.per_sec
    }

    /// Tokens earned since the last call, at most one second's worth.
    pub(crate) fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.per_sec).min(self.per_sec.max(1.0));
        }
        self.last = Some(now);
    }

    /// Whether a request that may wait can go now; takes its token if so.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        self.note(now);
        true
    }

    /// A request that goes regardless (a queue on screen): it still uses the budget.
    pub(crate) fn spend(&mut self, now: Instant) {
        self.tokens = (self.tokens - 1.0).max(-self.per_sec);
        self.note(now);
    }

    fn note(&mut self, now: Instant) {
        self.sent.push_back(now);
        while self
            .sent
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) > RATE_WINDOW)
        {
            self.sent.pop_front();
        }
    }

    /// Requests per second over the last few seconds.
    pub fn rate(&self, now: Instant) -> f64 {
        let recent = self
            .sent
            .iter()
            .filter(|&&t| now.saturating_duration_since(t) <= RATE_WINDOW)
            .count();
        recent as f64 / RATE_WINDOW.as_secs_f64()
    }

    /// How old a queue that is not on screen may get: its turn comes once the
    /// others' have, with what the `hot` queues (each polled every `every`) and the
    /// `other` requests a second (DLQ links, move tasks) leave. `None` when they
    /// take the whole budget. After the first sweep: at the start every queue's DLQ
    /// link is looked up once too.
    pub fn bound(&self, cold: usize, hot: usize, every: Duration, other: f64) -> Option<Duration> {
        let hot_rate = hot as f64 / every.as_secs_f64().max(f64::MIN_POSITIVE);
        let left = self.per_sec - hot_rate - other;
        if cold == 0 {
            return Some(every);
        }
        if left <= 0.0 {
            return None;
        }
        Some(every.max(Duration::from_secs_f64(cold as f64 / left)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_accrue_at_the_rate_up_to_one_second() {
        let t0 = Instant::now();
        let mut b = Budget::new(20.0);
        b.refill(t0);
        assert!(!b.take(t0));
        b.refill(t0 + Duration::from_millis(500));
        let granted = (0..100).filter(|_| b.take(t0)).count();
        assert_eq!(granted, 10);
        b.refill(t0 + Duration::from_secs(60));
        let granted = (0..100).filter(|_| b.take(t0)).count();
        assert_eq!(granted, 20, "an idle minute saves one second's worth");
    }

    #[test]
    fn spending_goes_into_debt_that_holds_the_rest_back() {
        let t0 = Instant::now();
        let mut b = Budget::new(10.0);
        b.refill(t0);
        for _ in 0..5 {
            b.spend(t0);
        }
        b.refill(t0 + Duration::from_millis(600));
        assert!(b.take(t0), "6 earned, 5 owed: one left");
        assert!(!b.take(t0));
    }

    #[test]
    fn the_bound_is_a_turn_of_the_others_with_what_is_left() {
        let b = Budget::new(20.0);
        let every = Duration::from_secs(5);
        // 40 on screen every 5 s: 8 a second; 1,960 others share 12 a second.
        let bound = b.bound(1960, 40, every, 0.0).expect("a bound");
        assert!(
            (bound.as_secs_f64() - 1960.0 / 12.0).abs() < 0.01,
            "{bound:?}"
        );
        assert_eq!(b.bound(0, 40, every, 0.0), Some(every));
        assert_eq!(
            b.bound(10, 200, every, 0.0),
            None,
            "on-screen queues take it all"
        );
        assert_eq!(
            b.bound(10, 0, every, 25.0),
            None,
            "other requests count too"
        );
        // A few idle queues are never older than the interval.
        assert_eq!(b.bound(5, 5, every, 0.0), Some(every));
    }

    #[test]
    fn the_rate_counts_the_last_ten_seconds() {
        let t0 = Instant::now();
        let mut b = Budget::new(100.0);
        for i in 0..50 {
            b.spend(t0 + Duration::from_millis(i * 100));
        }
        let now = t0 + Duration::from_secs(5);
        assert!((b.rate(now) - 5.0).abs() < 0.01, "{}", b.rate(now));
        assert_eq!(b.rate(t0 + Duration::from_secs(30)), 0.0);
    }
}
