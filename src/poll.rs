//! Poll scheduling: one fetch in flight per source, an interval between fetches,
//! and exponential backoff with jitter after errors. Pure: the app asks whether a
//! fetch is due and tells the schedule how it went.

use std::time::{Duration, Instant};

/// The longest wait between retries after errors.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub interval: Duration,
    next_due: Option<Instant>,
    in_flight: bool,
    failures: u32,
}

impl Schedule {
    /// A schedule that is due at once.
    pub fn new(interval: Duration) -> Self {
        Schedule {
            interval,
            next_due: None,
            in_flight: false,
            failures: 0,
        }
    }

    pub fn due(&self, now: Instant) -> bool {
        !self.in_flight && self.next_due.is_none_or(|t| now >= t)
    }

    /// Whether a fetch is under way (one at a time per source).
    pub fn in_flight(&self) -> bool {
        self.in_flight
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn start(&mut self) {
        self.in_flight = true;
    }

    pub fn succeed(&mut self, now: Instant) {
        self.in_flight = false;
        self.failures = 0;
        self.next_due = Some(now + self.interval);
    }

    /// Backs off: the interval doubled per failure in a row, at most five minutes,
    /// scaled by `jitter` in [0, 1) to between half and all of that.
    pub fn fail(&mut self, now: Instant, jitter: f64) -> Duration {
        self.in_flight = false;
        self.failures = self.failures.saturating_add(1);
        let factor = 2f64.powi(self.failures.min(16) as i32);
        let full = self.interval.mul_f64(factor).min(MAX_BACKOFF);
        let wait = full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
        self.next_due = Some(now + wait);
        wait
    }

    /// Makes the next fetch due at once (after a user's action).
    pub(crate) fn hurry(&mut self) {
        self.next_due = None;
    }
}

/// A tiny deterministic random source for jitter, so `update` stays pure.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Self {
        Jitter(seed | 1)
    }

    /// A number in [0, 1).
    pub fn sample(&mut self) -> f64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545F4914F6CDD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fetch_in_flight_then_interval() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Duration::from_secs(5));
        assert!(s.due(t0));
        s.start();
        assert!(!s.due(t0 + Duration::from_secs(60)));
        s.succeed(t0);
        assert!(!s.due(t0 + Duration::from_secs(4)));
        assert!(s.due(t0 + Duration::from_secs(5)));
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Duration::from_secs(5));
        let first = s.fail(t0, 0.0);
        assert_eq!(first, Duration::from_secs(5));
        let second = s.fail(t0, 0.999);
        assert!(second > Duration::from_secs(19) && second <= Duration::from_secs(20));
        for _ in 0..20 {
            s.fail(t0, 0.999);
        }
        assert!(s.fail(t0, 0.999) <= MAX_BACKOFF);
        s.succeed(t0);
        assert_eq!(s.failures(), 0);
    }

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let mut j = Jitter::new(42);
        let xs: Vec<f64> = (0..100).map(|_| j.sample()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.windows(2).any(|w| w[0] != w[1]));
    }
}
