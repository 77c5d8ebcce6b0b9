//! How many batches the client-side mover keeps in flight, found as it goes.
//!
//! A latency-gradient limit in the manner of Netflix's concurrency-limits (Gradient,
//! with AIMD's backoff on throttling):
//!
//! - Calls are sampled in windows of about one call per batch in flight. The lowest
//!   window average seen is the no-load round trip (`baseline`).
//! - After each window the limit becomes `limit × gradient + √limit`, where the
//!   gradient is `baseline × TOLERANCE / average`, kept within 0.5–1. While latency
//!   holds, the limit grows by √limit a window; once calls queue at the server
//!   (latency above the knee grows with the limit), it shrinks toward the knee.
//! - At the start it doubles each window while latency holds (slow start).
//! - A throttled call in a window cuts the limit to 70%.
//! - It only grows while the mover uses at least half of it: a rate-limited run keeps
//!   the limit it has.
//! - It does not grow while receives come back empty (more batches in flight would
//!   find nothing more: a FIFO queue has only so many groups to hand out), and
//!   shrinks a little when a quarter of them do.
//!
//! [`Adaptive`] is the arithmetic, on samples the caller gives; [`Gate`] lets the
//! workers in by it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// Latency may rise this much over the baseline before the limit shrinks.
const TOLERANCE: f64 = 1.1;
/// Samples per window at least (more at higher limits: about one per batch in flight).
const MIN_WINDOW: u32 = 10;
const MAX_WINDOW: u32 = 100;
/// A window with a throttled call cuts the limit to this share.
const BACKOFF: f64 = 0.7;
/// A window where a quarter of the receives came back empty shrinks the limit so.
const SHRINK_WHEN_EMPTY: f64 = 0.95;
/// Where a run starts.
pub const START: usize = 8;

/// What a sampled call came back with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered (success or an error that is not about load).
    Answered,
    /// Throttled, or timed out: the server asks for less.
    Throttled,
}

/// The concurrency limit, worked out from call latencies.
#[derive(Debug, Clone)]
pub struct Adaptive {
    limit: f64,
    cap: f64,
    slow_start: bool,
    baseline: Option<f64>,
    window: Window,
}

#[derive(Debug, Clone, Default)]
struct Window {
    samples: u32,
    total_secs: f64,
    throttled: bool,
    /// The most batches in flight at any sample.
    busiest: usize,
    /// Receives that brought nothing to move.
    empty: u32,
}

impl Adaptive {
    /// Starts at `start` (within 1 and `cap`), never above `cap`.
    pub fn new(start: usize, cap: usize) -> Self {
        let cap = cap.max(1) as f64;
        Adaptive {
            limit: (start.max(1) as f64).min(cap),
            cap,
            slow_start: true,
            baseline: None,
            window: Window::default(),
        }
    }

    /// Batches that may be in flight now.
    pub fn limit(&self) -> usize {
        self.limit as usize
    }

    /// One call's latency, with the batches in flight when it ended.
    pub fn sample(&mut self, latency: Duration, in_flight: usize, outcome: Outcome) {
        let w = &mut self.window;
        w.samples += 1;
        w.total_secs += latency.as_secs_f64();
        w.throttled |= outcome == Outcome::Throttled;
        w.busiest = w.busiest.max(in_flight);
        let size = (self.limit as u32).clamp(MIN_WINDOW, MAX_WINDOW);
        if w.samples >= size {
            let w = std::mem::take(&mut self.window);
            self.judge(&w);
        }
    }

    /// A receive that brought nothing to move.
    pub fn empty(&mut self) {
        self.window.empty += 1;
    }

    fn judge(&mut self, w: &Window) {
        if w.throttled {
            self.slow_start = false;
            self.limit = (self.limit * BACKOFF).max(1.0);
            return;
        }
        let average = w.total_secs / f64::from(w.samples);
        let baseline = *self
            .baseline
            .insert(self.baseline.map_or(average, |b| b.min(average)));
        let gradient = if average > 0.0 {
            (baseline * TOLERANCE / average).clamp(0.5, 1.0)
        } else {
            1.0
        };
        let used = w.busiest as f64 >= self.limit / 2.0;
        let next = if w.empty * 4 > w.samples {
            self.slow_start = false;
            self.limit * SHRINK_WHEN_EMPTY
        } else if self.slow_start && gradient >= 1.0 {
            self.limit * 2.0
        } else {
            self.slow_start = false;
            self.limit * gradient + self.limit.sqrt()
        };
        let next = if used && w.empty == 0 {
            next
        } else {
            next.min(self.limit)
        };
        self.limit = next.clamp(1.0, self.cap);
    }
}

/// Lets batches in while fewer than the limit are in flight.
#[derive(Debug)]
pub struct Gate {
    state: Mutex<GateState>,
    changed: Notify,
}

#[derive(Debug)]
struct GateState {
    in_flight: usize,
    adaptive: Adaptive,
}

/// One batch in flight; leaving lets the next in.
#[derive(Debug)]
pub struct Permit {
    gate: Arc<Gate>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        crate::sync::lock(&self.gate.state).in_flight -= 1;
        // One place freed: one waiter (waking them all costs CPU at every batch).
        self.gate.changed.notify_one();
    }
}

impl Gate {
    pub fn new(adaptive: Adaptive) -> Arc<Gate> {
        Arc::new(Gate {
            state: Mutex::new(GateState {
                in_flight: 0,
                adaptive,
            }),
            changed: Notify::new(),
        })
    }

    /// Waits until a batch may be in flight.
    pub async fn enter(self: &Arc<Self>) -> Permit {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut s = crate::sync::lock(&self.state);
                if s.in_flight < s.adaptive.limit() {
                    s.in_flight += 1;
                    return Permit { gate: self.clone() };
                }
            }
            changed.await;
        }
    }

    /// Feeds one call's latency to the limit.
    pub fn sample(&self, latency: Duration, outcome: Outcome) {
        let grew = {
            let mut s = crate::sync::lock(&self.state);
            let before = s.adaptive.limit();
            let in_flight = s.in_flight;
            s.adaptive.sample(latency, in_flight, outcome);
            s.adaptive.limit() > before
        };
        if grew {
            self.changed.notify_waiters();
        }
    }

    /// A receive that brought nothing to move.
    pub fn empty(&self) {
        crate::sync::lock(&self.state).adaptive.empty();
    }

    /// The limit now.
    pub fn limit(&self) -> usize {
        crate::sync::lock(&self.state).adaptive.limit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that answers in `base` up to `knee` calls at once; past it, calls
    /// queue and latency grows with concurrency. Past `throttle_at` it throttles.
    struct Server {
        base: f64,
        knee: f64,
        throttle_at: Option<usize>,
    }

    impl Server {
        fn call(&self, concurrency: usize) -> (Duration, Outcome) {
            let c = concurrency as f64;
            let latency = self.base * (c / self.knee).max(1.0);
            let outcome = match self.throttle_at {
                Some(t) if concurrency > t => Outcome::Throttled,
                _ => Outcome::Answered,
            };
            (Duration::from_secs_f64(latency), outcome)
        }
    }

    /// Runs `windows` rounds of one call per batch in flight at the limit; returns the
    /// limit after each round.
    fn run(a: &mut Adaptive, server: &Server, rounds: usize) -> Vec<usize> {
        (0..rounds)
            .map(|_| {
                let c = a.limit();
                for _ in 0..c.max(MIN_WINDOW as usize) {
                    let (latency, outcome) = server.call(c);
                    a.sample(latency, c, outcome);
                }
                a.limit()
            })
            .collect()
    }

    #[test]
    fn settles_near_the_knee() {
        for knee in [12.0, 40.0, 90.0] {
            let server = Server {
                base: 0.020,
                knee,
                throttle_at: None,
            };
            let mut a = Adaptive::new(START, 256);
            let limits = run(&mut a, &server, 200);
            let settled = &limits[150..];
            let (lo, hi) = (
                *settled.iter().min().expect("rounds"),
                *settled.iter().max().expect("rounds"),
            );
            assert!(
                lo as f64 >= knee * 0.9 && hi as f64 <= knee * 1.5,
                "knee {knee}: settled between {lo} and {hi}"
            );
        }
    }

    #[test]
    fn grows_to_the_cap_while_latency_holds() {
        let server = Server {
            base: 0.020,
            knee: 10_000.0,
            throttle_at: None,
        };
        let mut a = Adaptive::new(START, 256);
        let limits = run(&mut a, &server, 20);
        assert_eq!(limits.last(), Some(&256), "{limits:?}");
        // Slow start: it doubles while nothing queues.
        assert_eq!(&limits[..3], &[16, 32, 64]);
    }

    #[test]
    fn backs_off_on_throttling_and_stays_below_it() {
        let server = Server {
            base: 0.020,
            knee: 10_000.0,
            throttle_at: Some(50),
        };
        let mut a = Adaptive::new(START, 256);
        let limits = run(&mut a, &server, 200);
        let settled = &limits[50..];
        let over = settled.iter().filter(|&&l| l > 50).count();
        let mean = settled.iter().sum::<usize>() as f64 / settled.len() as f64;
        assert!(
            (25.0..=55.0).contains(&mean),
            "mean limit {mean} under throttling at 50"
        );
        // Every time it goes over, the next round cuts it back.
        for pair in settled.windows(2) {
            if pair[0] > 50 {
                assert!(pair[1] < pair[0], "{pair:?}");
            }
        }
        assert!(over < settled.len() / 2, "over the throttle {over} times");
    }

    #[test]
    fn stops_growing_where_receives_come_back_empty() {
        // A FIFO queue with 40 groups: at most 40 batches find messages; each
        // batch in flight beyond them comes back empty.
        let groups = 40;
        let mut a = Adaptive::new(START, 256);
        let mut limits = Vec::new();
        for _ in 0..200 {
            let c = a.limit();
            for _ in 0..c.saturating_sub(groups) {
                a.empty();
            }
            for _ in 0..c.clamp(MIN_WINDOW as usize, groups) {
                a.sample(Duration::from_millis(20), c, Outcome::Answered);
            }
            limits.push(a.limit());
        }
        let settled = &limits[100..];
        let hi = *settled.iter().max().expect("rounds");
        let lo = *settled.iter().min().expect("rounds");
        assert!(
            lo >= groups * 8 / 10 && hi <= groups * 3 / 2,
            "settled between {lo} and {hi} with {groups} groups"
        );
    }

    #[test]
    fn does_not_grow_when_the_mover_uses_little_of_it() {
        let mut a = Adaptive::new(START, 256);
        for _ in 0..1000 {
            a.sample(Duration::from_millis(20), 2, Outcome::Answered);
        }
        assert_eq!(a.limit(), START);
    }

    #[test]
    fn never_above_the_cap_nor_below_one() {
        let mut a = Adaptive::new(500, 4);
        assert_eq!(a.limit(), 4);
        for _ in 0..1000 {
            a.sample(Duration::from_millis(20), 4, Outcome::Throttled);
        }
        assert_eq!(a.limit(), 1);
    }

    #[tokio::test]
    async fn the_gate_lets_in_at_most_the_limit() {
        let gate = Gate::new(Adaptive::new(2, 2));
        let a = gate.enter().await;
        let _b = gate.enter().await;
        let third = tokio::time::timeout(Duration::from_millis(50), gate.enter()).await;
        assert!(third.is_err(), "a third batch got in past a limit of 2");
        drop(a);
        let third = tokio::time::timeout(Duration::from_millis(500), gate.enter()).await;
        assert!(third.is_ok(), "leaving did not let the next one in");
    }
}
