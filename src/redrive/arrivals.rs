//! What a move task's counts prove, and what they do not.
//!
//! A move task reports how many messages it moved *out of* the DLQ; it never says
//! they arrived. A FIFO source may drop a message re-sent with a deduplication id it
//! saw in the last 5 minutes, and the task still counts it (LocalStack does this).
//! So around a move task lazysqs watches the destinations' depth: when it grew by
//! what was moved, the arrivals are seen; when it did not and nothing consumed from
//! the destinations meanwhile (no message in flight, the depth never fell), the
//! shortfall is an error; otherwise arrivals are not verified, and the summary says so.

use serde::Serialize;

use crate::broker::{Broker, QueueRef};

/// What lazysqs saw arrive at a move task's destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arrivals {
    /// The destination queues watched.
    pub queues: Vec<String>,
    /// How much their depth (visible, in flight and delayed) grew over the run.
    pub depth_growth: u64,
    /// Whether something took messages from them meanwhile, so that their depth
    /// cannot count arrivals.
    pub consumed: bool,
    /// The verdict in plain words.
    pub note: String,
}

impl Arrivals {
    /// Whether the run moved more than could have arrived: the destinations' depth
    /// grew by less than the server's count and nothing consumed from them.
    pub fn shortfall(&self, moved: u64) -> Option<u64> {
        (!self.consumed && self.depth_growth < moved).then(|| moved - self.depth_growth)
    }
}

/// The destinations' depth before a move task, and what was seen of them since.
#[derive(Debug, Clone)]
pub struct ArrivalWatch {
    queues: Vec<QueueRef>,
    /// Depth at the start, per queue (`None`: unreadable, so nothing can be proved).
    base: Vec<Option<u64>>,
    /// The last depth read, per queue.
    last: Vec<Option<u64>>,
    consumed: bool,
}

impl ArrivalWatch {
    /// Reads the destinations' depth before the task starts.
    pub async fn start(broker: &dyn Broker, queues: Vec<QueueRef>) -> Self {
        let mut base = Vec::with_capacity(queues.len());
        let mut consumed = false;
        for q in &queues {
            match broker.queue_attributes(q).await {
                Ok(a) => {
                    // A consumer already at work: depth cannot count arrivals.
                    consumed |= a.in_flight > 0;
                    base.push(Some(a.depth()));
                }
                Err(_) => {
                    consumed = true;
                    base.push(None);
                }
            }
        }
        ArrivalWatch {
            last: base.clone(),
            base,
            queues,
            consumed,
        }
    }

    /// One reading while the task runs: a message in flight, or a depth that fell,
    /// means a consumer takes from the destination.
    pub async fn sample(&mut self, broker: &dyn Broker) {
        for (i, q) in self.queues.iter().enumerate() {
            match broker.queue_attributes(q).await {
                Ok(a) => {
                    let depth = a.depth();
                    if a.in_flight > 0 || self.last[i].is_some_and(|l| depth < l) {
                        self.consumed = true;
                    }
                    self.last[i] = Some(depth);
                }
                Err(_) => self.consumed = true,
            }
        }
    }

    /// The verdict after the task moved `moved` by the server's count.
    pub async fn finish(mut self, broker: &dyn Broker, moved: u64) -> Option<Arrivals> {
        if self.queues.is_empty() {
            return None;
        }
        self.sample(broker).await;
        let growth: u64 = self
            .base
            .iter()
            .zip(&self.last)
            .map(|(b, l)| match (b, l) {
                (Some(b), Some(l)) => l.saturating_sub(*b),
                _ => 0,
            })
            .sum();
        let names: Vec<String> = self.queues.iter().map(|q| q.name.clone()).collect();
        let to = names.join(", ");
        let note = if growth >= moved {
            format!(
                "moved {moved} by the server's count; the depth of {to} grew by {growth} \
                 (other senders count too)"
            )
        } else if self.consumed {
            format!(
                "moved {moved} by the server's count; arrivals not verified (something \
                 consumed from {to} meanwhile; its depth grew by {growth})"
            )
        } else {
            format!(
                "moved {moved} by the server's count, but the depth of {to} grew by only \
                 {growth} and nothing consumed from it: {} not accounted for (a FIFO queue \
                 drops a message re-sent with a deduplication id it saw in the last 5 \
                 minutes; move it client-side, which sends fresh ids)",
                moved - growth
            )
        };
        Some(Arrivals {
            queues: names,
            depth_growth: growth,
            consumed: self.consumed,
            note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shortfall_only_when_nothing_consumed() {
        let a = |growth, consumed| Arrivals {
            queues: vec!["orders.fifo".into()],
            depth_growth: growth,
            consumed,
            note: String::new(),
        };
        assert_eq!(a(0, false).shortfall(6), Some(6));
        assert_eq!(a(6, false).shortfall(6), None);
        assert_eq!(a(8, false).shortfall(6), None);
        assert_eq!(a(0, true).shortfall(6), None);
    }
}
