//! After an import of fixed copies: the originals still in the DLQ, matched by
//! the exported `message_id`. Deleted (`--delete-from`) only once their copy was
//! sent, or counted, so that a later redrive does not send them a second time.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde::Serialize;

use super::audit::Audit;
use crate::broker::{Broker, Message, QueueRef};

/// How long a scanned message stays hidden before it is given back: the scan
/// gives everything back when it ends, so this only bounds a crash.
const HOLD: Duration = Duration::from_secs(120);
/// Receives in a row that bring no new message after which the DLQ is taken as
/// scanned (SQS samples its servers: one empty answer does not mean empty).
const EMPTY_TO_STOP: u32 = 3;
/// The most messages a scan looks at.
pub const SCAN_CAP: usize = 10_000;

/// What became of the originals of the copies sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OriginalsReport {
    /// Originals deleted from the DLQ.
    pub deleted: usize,
    /// Originals seen in the DLQ and left there (no `--delete-from`, or the delete failed).
    pub still_there: usize,
    /// Ids sent whose original the scan did not see.
    pub not_found: usize,
    /// Messages the scan received (and gave back, but for the deleted ones).
    pub scanned: usize,
    /// The scan saw the DLQ's end; else it stopped at the cap and the counts are
    /// a lower bound.
    pub complete: bool,
    /// Why deletes failed (message id, reason).
    pub failed: Vec<(String, String)>,
}

/// Scans `dlq` for the messages whose id is in `sent` (each a message whose
/// fixed copy was sent); deletes them when `delete`, else only counts them.
/// Every other message is given back (visibility 0) when the scan ends.
pub async fn settle(
    broker: &dyn Broker,
    audit: &Audit,
    dlq: &QueueRef,
    sent: &BTreeSet<String>,
    delete: bool,
) -> OriginalsReport {
    let mut report = OriginalsReport::default();
    let mut held: HashMap<String, Message> = HashMap::new();
    let mut empty = 0;
    let mut error = None;
    while empty < EMPTY_TO_STOP && held.len() < SCAN_CAP {
        let batch = match broker.receive(dlq, 10, HOLD).await {
            Ok(b) => b,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        let before = held.len();
        for m in batch {
            // Received again: only the newest receipt handle works.
            held.insert(m.message_id.clone(), m);
        }
        empty = if held.len() == before { empty + 1 } else { 0 };
    }
    report.scanned = held.len();
    report.complete = error.is_none() && held.len() < SCAN_CAP;
    if let Some(e) = error {
        report.failed.push((
            String::new(),
            format!("the scan of {} stopped: {e}", dlq.name),
        ));
    }
    let mut give_back = Vec::new();
    for (id, m) in held {
        if !sent.contains(&id) {
            give_back.push(m.receipt_handle);
        } else if !delete {
            report.still_there += 1;
            give_back.push(m.receipt_handle);
        } else {
            match super::delete(broker, audit, dlq, &m).await {
                Ok(()) => report.deleted += 1,
                Err(e) => {
                    report.still_there += 1;
                    report.failed.push((id, e.to_string()));
                    give_back.push(m.receipt_handle);
                }
            }
        }
    }
    let _ = super::set_visibility(broker, dlq, give_back, Duration::ZERO).await;
    report.not_found = sent.len() - report.deleted - report.still_there;
    report
}
