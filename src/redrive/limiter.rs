//! A token-bucket rate limiter on tokio's clock.
//!
//! Tokens accrue at `rate` per second up to `burst`; [`RateLimiter::acquire`] takes
//! `n` of them, waiting as long as needed. A call reserves its tokens at once (the
//! bucket may go into debt) and then sleeps until the debt is paid, so concurrent
//! callers are served in the order they asked and the long-run rate is exact: over
//! any window the limiter grants at most `burst + rate × window` tokens.
//!
//! The bucket starts empty, so the first tokens arrive after `n / rate` seconds and
//! a run's measured rate (moved ÷ elapsed) never overshoots the target.
//!
//! Tokens that turn out not to be needed (a receive returned fewer messages than
//! asked for) can be handed back with [`RateLimiter::refund`].

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket shared by the workers of one redrive.
#[derive(Debug)]
pub struct RateLimiter {
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Tokens per second; `None` is unlimited.
    rate: Option<f64>,
    /// The most tokens the bucket holds (the largest burst after an idle spell).
    burst: f64,
    /// May be negative: tokens already promised to callers that are still waiting.
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        if let Some(rate) = self.rate {
            let dt = now.saturating_duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + dt * rate).min(self.burst);
        }
        self.last = now;
    }
}

impl RateLimiter {
    /// A limiter granting `rate` tokens per second (`None`: no limit), with bursts of
    /// at most `burst` tokens (at least 1). It starts empty.
    pub fn new(rate: Option<f64>, burst: u32) -> Self {
        RateLimiter {
            bucket: Mutex::new(Bucket {
                rate: rate.filter(|r| r.is_finite() && *r > 0.0),
                burst: f64::from(burst.max(1)),
                tokens: 0.0,
                last: Instant::now(),
            }),
        }
    }

    /// A limiter that never waits.
    pub fn unlimited() -> Self {
        Self::new(None, 1)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        crate::sync::lock(&self.bucket)
    }

    /// The target rate in tokens per second; `None` is unlimited.
    pub fn rate(&self) -> Option<f64> {
        self.lock().rate
    }

    /// Changes the rate from now on. Tokens earned so far are kept; callers already
    /// waiting keep the wake-up time they were given.
    pub(crate) fn set_rate(&self, rate: Option<f64>) {
        let mut b = self.lock();
        b.refill(Instant::now());
        b.rate = rate.filter(|r| r.is_finite() && *r > 0.0);
        if b.rate.is_none() {
            b.tokens = 0.0;
        }
    }

    /// Reserves `n` tokens; returns when the caller may use them (`None`: now).
    pub(crate) fn reserve(&self, n: u32) -> Option<Instant> {
        let now = Instant::now();
        let mut b = self.lock();
        let rate = b.rate?;
        b.refill(now);
        b.tokens -= f64::from(n);
        if b.tokens >= 0.0 {
            None
        } else {
            let wait =
                Duration::try_from_secs_f64(-b.tokens / rate).unwrap_or(Duration::from_secs(3600));
            Some(now + wait)
        }
    }

    /// Takes `n` tokens, waiting until they are available.
    pub(crate) async fn acquire(&self, n: u32) {
        if let Some(at) = self.reserve(n) {
            tokio::time::sleep_until(at).await;
        }
    }

    /// Hands back `n` tokens that were acquired but not used.
    pub(crate) fn refund(&self, n: u32) {
        let mut b = self.lock();
        if b.rate.is_some() {
            b.refill(Instant::now());
            b.tokens = (b.tokens + f64::from(n)).min(b.burst);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// Runs `workers` tasks taking `batch` tokens at a time for `window` of paused
    /// tokio time; returns how many tokens were granted.
    async fn granted_over(rate: f64, batch: u32, workers: usize, window: Duration) -> u64 {
        let limiter = Arc::new(RateLimiter::new(Some(rate), batch));
        let granted = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + window;
        let mut tasks = Vec::new();
        for _ in 0..workers {
            let limiter = limiter.clone();
            let granted = granted.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    limiter.acquire(batch).await;
                    if Instant::now() > deadline {
                        break;
                    }
                    granted.fetch_add(u64::from(batch), Ordering::Relaxed);
                    // Some work per batch, as the mover's calls take.
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
            }));
        }
        for t in tasks {
            t.await.expect("worker");
        }
        granted.load(Ordering::Relaxed)
    }

    fn assert_within(actual: u64, expected: f64, tolerance: f64) {
        let err = (actual as f64 - expected).abs() / expected;
        assert!(
            err <= tolerance,
            "granted {actual}, expected {expected} ±{:.0}% (off by {:.2}%)",
            tolerance * 100.0,
            err * 100.0
        );
    }

    #[tokio::test(start_paused = true)]
    async fn holds_the_rate_within_five_percent_over_a_minute() {
        for (rate, batch, workers) in [
            (1.0, 1, 1),
            (10.0, 10, 4),
            (20.0, 10, 8),
            (100.0, 10, 8),
            (500.0, 10, 8),
            (7.5, 7, 3),
        ] {
            let got = granted_over(rate, batch, workers, Duration::from_secs(60)).await;
            assert_within(got, rate * 60.0, 0.05);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn starts_empty_so_the_first_batch_waits() {
        let limiter = RateLimiter::new(Some(10.0), 10);
        let start = Instant::now();
        limiter.acquire(10).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        limiter.acquire(5).await;
        assert_eq!(start.elapsed(), Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_are_served_in_order_without_overshoot() {
        let limiter = Arc::new(RateLimiter::new(Some(20.0), 10));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                limiter.acquire(10).await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.expect("task").duration_since(start));
        }
        times.sort();
        let want: Vec<Duration> = [500, 1000, 1500, 2000]
            .iter()
            .map(|ms| Duration::from_millis(*ms))
            .collect();
        assert_eq!(times, want);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_earns_at_most_one_burst() {
        let limiter = RateLimiter::new(Some(10.0), 10);
        tokio::time::sleep(Duration::from_secs(60)).await;
        let start = Instant::now();
        limiter.acquire(10).await; // the saved burst
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire(10).await; // then the rate again
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn refunds_return_unused_tokens() {
        let limiter = RateLimiter::new(Some(10.0), 10);
        limiter.acquire(10).await;
        limiter.refund(8);
        let start = Instant::now();
        limiter.acquire(8).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        // Refunds never exceed the burst.
        limiter.refund(100);
        limiter.acquire(10).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire(1).await;
        assert_eq!(start.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_changes_take_effect_and_unlimited_never_waits() {
        let limiter = RateLimiter::new(Some(10.0), 10);
        let start = Instant::now();
        limiter.acquire(10).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        limiter.set_rate(Some(100.0));
        limiter.acquire(10).await;
        assert_eq!(start.elapsed(), Duration::from_millis(1100));
        limiter.set_rate(None);
        assert_eq!(limiter.rate(), None);
        for _ in 0..1000 {
            limiter.acquire(10).await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(1100));
        let unlimited = RateLimiter::unlimited();
        assert!(unlimited.reserve(1_000_000).is_none());
    }
}
