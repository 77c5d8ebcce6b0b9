//! Recovering failed messages one at a time: browse (receive with a short
//! visibility, extend, release), requeue (send, then delete), delete, export, import.
//!
//! These run in the runtime's tasks, never in `update`. Each mutation is written
//! to the audit log before and after the call.

pub mod audit;
pub mod export;
pub mod originals;

use std::time::Duration;

use crate::broker::DEFAULT_MAX_MESSAGE_BYTES;
use crate::broker::{
    Broker, BrokerError, BrokerResult, Message, OutgoingMessage, Place, QueueRef, QueueSelection,
    validate_outgoing,
};
use audit::Audit;

/// How long a browsed message stays hidden before it needs extending (short, so a
/// crash gives messages back soon; extended every [`EXTEND_EVERY`] while held).
pub const BROWSE_VISIBILITY: Duration = Duration::from_secs(60);
/// How often held messages are extended while the browser is open.
pub const EXTEND_EVERY: Duration = Duration::from_secs(10);
/// Empty receives in a row after which loading stops (SQS samples servers, so one
/// empty answer does not mean the queue is empty).
const EMPTY_RECEIVES_TO_STOP: u32 = 3;

/// Receives up to `cap` messages, 10 per call, de-duplicated by message id (the
/// newest receipt handle wins: older ones are no longer valid).
pub async fn load(
    broker: &dyn Broker,
    queue: &QueueRef,
    cap: usize,
    visibility: Duration,
) -> BrokerResult<Vec<Message>> {
    let mut held: Vec<Message> = Vec::new();
    let mut empty = 0;
    while held.len() < cap && empty < EMPTY_RECEIVES_TO_STOP {
        let want = (cap - held.len()).min(10) as u32;
        let batch = match broker.receive(queue, want, visibility).await {
            Ok(b) => b,
            // What is already held must still be shown (and released later).
            Err(e) if held.is_empty() => return Err(e),
            Err(_) => break,
        };
        let mut new = 0;
        for m in batch {
            match held.iter_mut().find(|h| h.message_id == m.message_id) {
                Some(h) => *h = m,
                None => {
                    held.push(m);
                    new += 1;
                }
            }
        }
        if new == 0 {
            empty += 1;
        } else {
            empty = 0;
        }
    }
    Ok(held)
}

/// How many visibility batches are changed at once.
const VISIBILITY_CONCURRENCY: usize = 16;

/// Sets the visibility of held messages, several batches of 10 at once; returns
/// the receipts that failed, with why.
pub async fn set_visibility(
    broker: &dyn Broker,
    queue: &QueueRef,
    receipts: Vec<String>,
    visibility: Duration,
) -> Vec<(String, BrokerError)> {
    use futures::StreamExt;
    let chunks: Vec<Vec<String>> = receipts.chunks(10).map(<[String]>::to_vec).collect();
    futures::stream::iter(chunks)
        .map(|chunk| async move {
            let mut failed = Vec::new();
            match broker
                .change_visibility(queue, chunk.clone(), visibility)
                .await
            {
                Ok(outcome) => {
                    for (i, r) in outcome {
                        if let Err(e) = r {
                            failed.push((chunk[i].clone(), e));
                        }
                    }
                }
                Err(e) => failed.extend(chunk.into_iter().map(|r| (r, e.clone()))),
            }
            failed
        })
        .buffer_unordered(VISIBILITY_CONCURRENCY)
        .flat_map(futures::stream::iter)
        .collect()
        .await
}

/// Finds a queue by name, in `near`'s region and account when given (a DLQ's
/// source queue lives where the DLQ does). Watching several places, a name found
/// in more than one of them with no `near` is refused rather than guessed.
pub async fn resolve_queue(
    broker: &dyn Broker,
    name: &str,
    near: Option<&Place>,
) -> BrokerResult<QueueRef> {
    let found: Vec<QueueRef> = broker
        .list_queues(&QueueSelection::named(name, near))
        .await?
        .into_iter()
        .filter(|q| q.name == name && near.is_none_or(|p| p.holds(&q.place)))
        .collect();
    match found.as_slice() {
        [] => Err(BrokerError::NotFound(format!("queue {name}"))),
        [one] => Ok(one.clone()),
        many => Err(BrokerError::Invalid(format!(
            "there is a queue {name} in {}: name it by ARN or URL",
            many.iter()
                .map(|q| q.place.to_string())
                .collect::<Vec<_>>()
                .join(" and in ")
        ))),
    }
}

/// The destination's MaximumMessageSize, read from its attributes (SQS's default
/// when they cannot be read: the server still refuses what is too large).
pub(crate) async fn destination_limit(broker: &dyn Broker, dest: &QueueRef) -> usize {
    broker
        .queue_attributes(dest)
        .await
        .map(|a| a.max_message_size)
        .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES)
}

/// A request to move one message back.
#[derive(Debug, Clone, PartialEq)]
pub struct RequeueRequest {
    pub from: QueueRef,
    pub message: Message,
    /// The body to send: the edited one, or the original.
    pub body: String,
    /// The destination queue's name.
    pub to: String,
}

/// How a requeue ended, and so where the message is now.
#[derive(Debug, Clone, PartialEq)]
pub enum RequeueOutcome {
    /// Sent to the destination and deleted from the source.
    Done { new_id: String },
    /// Not sent: the message is still in the source queue.
    SendFailed(BrokerError),
    /// Sent, but the delete failed: the message is in both queues.
    DeleteFailed { new_id: String, error: BrokerError },
}

impl RequeueOutcome {
    /// What happened and where the message is now, for the user.
    pub fn describe(&self, req: &RequeueRequest) -> String {
        let id = &req.message.message_id;
        match self {
            RequeueOutcome::Done { new_id } => format!(
                "requeued {id} to {} as {new_id} and removed it from {}",
                req.to, req.from.name
            ),
            RequeueOutcome::SendFailed(e) => format!(
                "not requeued: sending {id} to {} failed ({e}); it is still in {}",
                req.to, req.from.name
            ),
            RequeueOutcome::DeleteFailed { new_id, error } => format!(
                "sent {id} to {} as {new_id}, but deleting it from {} failed ({error}): it is now in BOTH queues — press D to retry the delete",
                req.to, req.from.name
            ),
        }
    }
}

/// Renews our hold on a message before acting on it: if it lapsed, someone else
/// may hold the message, and acting on it could silently do nothing.
async fn renew_hold(broker: &dyn Broker, queue: &QueueRef, m: &Message) -> BrokerResult<()> {
    let lapsed = match broker
        .change_visibility(queue, vec![m.receipt_handle.clone()], BROWSE_VISIBILITY)
        .await
    {
        Ok(outcome) => outcome.into_iter().find_map(|(_, r)| r.err()),
        Err(e) => Some(e),
    };
    match lapsed {
        None => Ok(()),
        Some(e) => Err(BrokerError::Invalid(format!(
            "our hold on the message lapsed ({e}); reload and try again"
        ))),
    }
}

/// Send, then delete: never delete until the send is confirmed.
pub async fn requeue(broker: &dyn Broker, audit: &Audit, req: &RequeueRequest) -> RequeueOutcome {
    let m = &req.message;
    let id = m.message_id.as_str();
    let from = &req.from;
    let to = req.to.as_str();
    // Nothing happens off the record.
    if let Err(e) = audit.record("requeue", from, id, Some(to), None, "started") {
        return RequeueOutcome::SendFailed(BrokerError::Invalid(e.to_string()));
    }
    if let Err(e) = renew_hold(broker, from, m).await {
        let _ = audit.record("requeue", from, id, Some(to), None, format!("failed: {e}"));
        return RequeueOutcome::SendFailed(e);
    }
    let sent = async {
        let dest = resolve_queue(broker, to, Some(&from.place)).await?;
        let out = OutgoingMessage::carrying(
            &dest,
            req.body.clone(),
            m.attributes.clone(),
            m.group_id.clone(),
            m.trace_header.clone(),
        );
        let limit = destination_limit(broker, &dest).await;
        validate_outgoing(&dest.name, &out, limit)?;
        broker.send(&dest, out).await
    }
    .await;
    let new_id = match sent {
        Ok(new_id) => new_id,
        Err(e) => {
            let _ = audit.record(
                "requeue",
                from,
                id,
                Some(to),
                None,
                format!("failed: send: {e}"),
            );
            return RequeueOutcome::SendFailed(e);
        }
    };
    // The send happened: record it, whatever comes next.
    let _ = audit.record("requeue", from, id, Some(to), Some(&new_id), "sent");
    match broker.delete(from, &m.receipt_handle).await {
        Ok(()) => {
            let _ = audit.record("requeue", from, id, Some(to), Some(&new_id), "ok");
            RequeueOutcome::Done { new_id }
        }
        Err(error) => {
            let _ = audit.record(
                "requeue",
                from,
                id,
                Some(to),
                Some(&new_id),
                format!("failed: delete: {error}; message is in both queues"),
            );
            RequeueOutcome::DeleteFailed { new_id, error }
        }
    }
}

/// Deletes one held message, after renewing the hold (a lapsed hold means
/// someone else may be working on it).
pub async fn delete(
    broker: &dyn Broker,
    audit: &Audit,
    queue: &QueueRef,
    m: &Message,
) -> BrokerResult<()> {
    audit
        .record("delete", queue, &m.message_id, None, None, "started")
        .map_err(|e| BrokerError::Invalid(e.to_string()))?;
    let r = match renew_hold(broker, queue, m).await {
        Ok(()) => broker.delete(queue, &m.receipt_handle).await,
        Err(e) => Err(e),
    };
    let _ = audit.record(
        "delete",
        queue,
        &m.message_id,
        None,
        None,
        match &r {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("failed: {e}"),
        },
    );
    r
}

/// Retries the delete of a message that was already sent elsewhere. If its receipt
/// handle no longer works, receives the queue looking for the message by id.
pub async fn retry_delete(
    broker: &dyn Broker,
    audit: &Audit,
    queue: &QueueRef,
    m: &Message,
) -> BrokerResult<()> {
    if delete(broker, audit, queue, m).await.is_ok() {
        return Ok(());
    }
    for _ in 0..20 {
        let batch = broker.receive(queue, 10, BROWSE_VISIBILITY).await?;
        if batch.is_empty() {
            break;
        }
        let (found, others): (Vec<Message>, Vec<Message>) = batch
            .into_iter()
            .partition(|x| x.message_id == m.message_id);
        let _ = set_visibility(
            broker,
            queue,
            others.into_iter().map(|x| x.receipt_handle).collect(),
            Duration::ZERO,
        )
        .await;
        if let Some(again) = found.first() {
            return delete(broker, audit, queue, again).await;
        }
    }
    Err(BrokerError::NotFound(format!(
        "message {} is not visible in {} right now (someone may hold it); try again later",
        m.message_id, queue.name
    )))
}
