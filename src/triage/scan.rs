//! Receiving a whole queue for triage, and giving it all back.
//!
//! Every message received stays hidden (its visibility extended while held) and
//! is given back with visibility 0 when the triage ends. Several receives run at
//! once: a scan is bounded by round trips, not by work here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use crate::recovery::set_visibility;

use crate::broker::{Broker, BrokerError, BrokerResult, Message, QueueRef};

/// SQS's limit on a standard queue's in-flight messages: a scan never holds more.
pub(crate) const MAX_IN_FLIGHT: usize = 120_000;
/// How long a scanned message stays hidden before it needs extending: long
/// enough that 20,000 held messages cost few calls to keep, short enough that
/// a crash gives them back within minutes.
pub(crate) const HOLD: Duration = Duration::from_secs(300);
/// How often held messages are extended (well inside [`HOLD`]).
pub const EXTEND_EVERY: Duration = Duration::from_secs(120);
/// Receives in flight at once.
pub const CONCURRENCY: usize = 16;
/// Empty receives in a row (per receiver) after which the queue is taken as
/// empty: SQS samples its servers, so one empty answer does not mean empty.
const EMPTY_TO_STOP: u32 = 3;
/// Calls per receive or give-back batch, when the error may pass (throttling, a
/// server error, a lost connection), before the scan stops or the batch is left to
/// come back when its hold ends.
const ATTEMPTS: u32 = 4;

/// Whether trying again may help.
fn transient(e: &BrokerError) -> bool {
    matches!(
        e,
        BrokerError::Throttled(_) | BrokerError::Unreachable(_) | BrokerError::Other(_)
    )
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(6)))
}

/// What a scan holds.
#[derive(Debug)]
pub struct Scan {
    pub messages: Vec<Message>,
    /// The queue looked empty at the end (not stopped by the cap or a failure).
    pub complete: bool,
    /// Why the scan stopped early, if it failed.
    pub error: Option<BrokerError>,
    /// Calls made again after they failed: the scan's own and the SDK's while it ran.
    pub retries: u64,
}

struct Held {
    by_id: HashMap<String, usize>,
    messages: Vec<Message>,
    /// Received beyond the cap: given back at once.
    overflow: Vec<String>,
}

/// Receives up to `cap` messages (never more than [`MAX_IN_FLIGHT`]), hiding each
/// for [`HOLD`]. `progress` is told the count held after each receive; `stop`
/// is asked before each receive.
pub async fn scan(
    broker: &dyn Broker,
    queue: &QueueRef,
    cap: usize,
    progress: &(dyn Fn(&[Message]) + Sync),
    stop: &(dyn Fn() -> bool + Sync),
) -> Scan {
    let cap = cap.clamp(1, MAX_IN_FLIGHT);
    let sdk_at_start = broker.sdk_retries();
    let retries = AtomicU64::new(0);
    let held = Mutex::new(Held {
        by_id: HashMap::new(),
        messages: Vec::new(),
        overflow: Vec::new(),
    });
    let error: Mutex<Option<BrokerError>> = Mutex::new(None);
    let full = || held.lock().map_or(true, |h| h.messages.len() >= cap);
    let failed = || error.lock().map_or(true, |e| e.is_some());
    let receiver = || async {
        let mut empty = 0;
        while empty < EMPTY_TO_STOP && !stop() && !full() && !failed() {
            let mut attempt = 0;
            let answer = loop {
                match broker.receive(queue, 10, HOLD).await {
                    Err(e) if transient(&e) && attempt + 1 < ATTEMPTS => {
                        attempt += 1;
                        retries.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(backoff(attempt)).await;
                    }
                    answer => break answer,
                }
            };
            let batch = match answer {
                Ok(b) => b,
                Err(e) => {
                    if let Ok(mut slot) = error.lock() {
                        slot.get_or_insert(e);
                    }
                    break;
                }
            };
            let Ok(mut h) = held.lock() else { break };
            let mut new = 0;
            for m in batch {
                if let Some(&i) = h.by_id.get(&m.message_id) {
                    // Received again: only the newest receipt handle works.
                    h.messages[i] = m;
                } else if h.messages.len() >= cap {
                    h.overflow.push(m.receipt_handle);
                } else {
                    let i = h.messages.len();
                    h.by_id.insert(m.message_id.clone(), i);
                    h.messages.push(m);
                    new += 1;
                }
            }
            if new == 0 {
                empty += 1;
            } else {
                empty = 0;
            }
            progress(&h.messages[h.messages.len() - new..]);
        }
    };
    futures::future::join_all((0..CONCURRENCY).map(|_| receiver())).await;
    let held = held.into_inner().unwrap_or_else(|p| p.into_inner());
    let error = error.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut retries = retries.into_inner();
    if !held.overflow.is_empty() {
        retries += give_back_counted(broker, queue, held.overflow)
            .await
            .retries;
    }
    let complete = error.is_none() && !stop() && held.messages.len() < cap;
    Scan {
        messages: held.messages,
        complete,
        error,
        retries: retries + broker.sdk_retries().saturating_sub(sdk_at_start),
    }
}

/// Gives messages back (visibility 0); returns how many could not be.
pub async fn give_back(broker: &dyn Broker, queue: &QueueRef, receipts: Vec<String>) -> usize {
    give_back_counted(broker, queue, receipts).await.failed
}

/// How giving messages back went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GivenBack {
    /// Messages that could not be given back: they reappear when their hold ends.
    pub failed: usize,
    /// Calls made again: the give-back's own and the SDK's while it ran.
    pub retries: u64,
}

/// Gives messages back (visibility 0), trying again those whose change failed for
/// a reason that may pass (setting visibility 0 twice does no harm).
pub async fn give_back_counted(
    broker: &dyn Broker,
    queue: &QueueRef,
    receipts: Vec<String>,
) -> GivenBack {
    let sdk_at_start = broker.sdk_retries();
    let mut retries = 0;
    let mut pending = receipts;
    let mut failed = Vec::new();
    for attempt in 0..ATTEMPTS {
        if pending.is_empty() {
            break;
        }
        if attempt > 0 {
            retries += pending.len().div_ceil(10) as u64;
            tokio::time::sleep(backoff(attempt)).await;
        }
        let (again, lost): (Vec<_>, Vec<_>) =
            set_visibility(broker, queue, pending, Duration::ZERO)
                .await
                .into_iter()
                .partition(|(_, e)| transient(e) && attempt + 1 < ATTEMPTS);
        failed.extend(lost);
        pending = again.into_iter().map(|(r, _)| r).collect();
    }
    for (_, e) in failed.iter().take(3) {
        tracing::warn!("giving a message back to {}: {e}", queue.name);
    }
    GivenBack {
        failed: failed.len(),
        retries: retries + broker.sdk_retries().saturating_sub(sdk_at_start),
    }
}

/// Up to `max` messages received and given straight back (hidden for at most
/// `PEEK_HOLD` if lazysqs dies in between): a look at a queue's bodies that
/// changes nothing, for previews.
pub(crate) async fn peek(
    broker: &dyn Broker,
    queue: &QueueRef,
    max: usize,
) -> BrokerResult<Vec<Message>> {
    let mut seen: Vec<Message> = Vec::new();
    let mut empty = 0;
    while seen.len() < max && empty < EMPTY_TO_STOP {
        let batch = broker.receive(queue, 10, PEEK_HOLD).await;
        let batch = match batch {
            Ok(b) => b,
            Err(e) if seen.is_empty() => return Err(e),
            Err(_) => break,
        };
        let before = seen.len();
        for m in batch {
            if !seen.iter().any(|s| s.message_id == m.message_id) {
                seen.push(m);
            }
        }
        empty = if seen.len() == before { empty + 1 } else { 0 };
    }
    let receipts = seen.iter().map(|m| m.receipt_handle.clone()).collect();
    give_back(broker, queue, receipts).await;
    Ok(seen)
}

/// How long a peeked message stays hidden at most.
const PEEK_HOLD: Duration = Duration::from_secs(30);
