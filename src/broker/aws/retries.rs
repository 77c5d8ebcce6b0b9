//! Counting the SDK's own retries: the standard retry mode tries a call again by
//! itself (throttling, HTTP 5xx, a reset connection, an attempt that timed out), so
//! lazysqs would not see them. An interceptor counts every attempt after a call's
//! first, read from the `amz-sdk-request: attempt=N; max=M` header the SDK puts on
//! each attempt, so reports can say how many calls were made again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_sqs::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sqs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sqs::error::BoxError;

/// Shared by the clones of a client: attempts after the first, since it was made.
#[derive(Debug, Clone, Default)]
pub(super) struct RetryCounter(Arc<AtomicU64>);

impl RetryCounter {
    pub(super) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The attempt number in an `amz-sdk-request` header (`attempt=2; max=2`).
fn attempt_of(header: &str) -> Option<u32> {
    header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("attempt="))
        .and_then(|n| n.trim().parse().ok())
}

impl Intercept for RetryCounter {
    fn name(&self) -> &'static str {
        "lazysqs::RetryCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = context
            .request()
            .headers()
            .get("amz-sdk-request")
            .and_then(attempt_of);
        if attempt.is_some_and(|n| n > 1) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::attempt_of;

    #[test]
    fn reads_the_attempt_number() {
        assert_eq!(attempt_of("attempt=1; max=2"), Some(1));
        assert_eq!(
            attempt_of("ttl=20260101T000000Z; attempt=3; max=3"),
            Some(3)
        );
        assert_eq!(attempt_of("max=3"), None);
    }
}
