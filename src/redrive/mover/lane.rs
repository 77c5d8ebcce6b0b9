//! FIFO sends shared by all workers.
//!
//! A send to a FIFO queue carries one message per group (see `send::rounds`), and a
//! FIFO receive mostly brings ten of one group, so each worker's call would carry a
//! single message. A lane per FIFO destination gathers what the workers hand it into
//! calls of up to ten (one per group, within the size limit): a round across many
//! groups costs one call, not one per group. A worker hands in the next message of a
//! group only after the lane answered for the one before, so order holds.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::send::sampled;
use crate::broker::{
    BatchOutcome, Broker, BrokerError, BrokerResult, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES,
    OutgoingMessage, QueueRef,
};
use crate::redrive::concurrency::Gate;

/// How long a lane waits after the first message for others to join its call.
const LINGER: Duration = Duration::from_millis(1);

struct Entry {
    out: OutgoingMessage,
    reply: oneshot::Sender<BrokerResult<String>>,
}

/// One lane per FIFO destination, started on first use; each ends with the run.
#[derive(Default)]
pub(super) struct Lanes(Mutex<HashMap<String, mpsc::UnboundedSender<Entry>>>);

impl Lanes {
    /// Sends `messages` (each of a different group) to `dest` in shared calls; one
    /// result per message, in order.
    pub(super) async fn send(
        &self,
        broker: &Arc<dyn Broker>,
        gate: &Arc<Gate>,
        dest: &QueueRef,
        messages: Vec<OutgoingMessage>,
    ) -> BatchOutcome<String> {
        let lane = {
            let mut lanes = crate::sync::lock(&self.0);
            lanes
                .entry(dest.url.clone())
                .or_insert_with(|| {
                    let (tx, rx) = mpsc::unbounded_channel();
                    tokio::spawn(run(broker.clone(), gate.clone(), dest.clone(), rx));
                    tx
                })
                .clone()
        };
        let mut answers = Vec::with_capacity(messages.len());
        for out in messages {
            let (reply, answer) = oneshot::channel();
            // A closed lane drops the entry, and with it the reply: answered below.
            let _ = lane.send(Entry { out, reply });
            answers.push(answer);
        }
        let mut outcome = Vec::with_capacity(answers.len());
        for (i, answer) in answers.into_iter().enumerate() {
            let r = answer.await.unwrap_or_else(|_| {
                Err(BrokerError::Other(
                    "the send's answer was lost; it may or may not have arrived".into(),
                ))
            });
            outcome.push((i, r));
        }
        outcome
    }
}

async fn run(
    broker: Arc<dyn Broker>,
    gate: Arc<Gate>,
    dest: QueueRef,
    mut rx: mpsc::UnboundedReceiver<Entry>,
) {
    let mut waiting: VecDeque<Entry> = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match rx.recv().await {
                Some(e) => waiting.push_back(e),
                None => return,
            }
            tokio::time::sleep(LINGER).await;
        }
        while let Ok(e) = rx.try_recv() {
            waiting.push_back(e);
        }
        let call = take_call(&mut waiting);
        tokio::spawn(send_call(broker.clone(), gate.clone(), dest.clone(), call));
    }
}

/// The next call's entries from the front of `waiting`: up to ten, one per group,
/// within the size limit. The others keep their order for the next call.
fn take_call(waiting: &mut VecDeque<Entry>) -> Vec<Entry> {
    let mut call = Vec::new();
    let mut groups = HashSet::new();
    let mut bytes = 0;
    let mut rest = VecDeque::with_capacity(waiting.len());
    while let Some(e) = waiting.pop_front() {
        let size = e.out.size();
        let fits = call.is_empty() || (bytes + size <= MAX_BATCH_BYTES);
        if call.len() < MAX_BATCH_ENTRIES && fits && groups.insert(e.out.group_id.clone()) {
            bytes += size;
            call.push(e);
        } else {
            rest.push_back(e);
        }
    }
    *waiting = rest;
    call
}

async fn send_call(broker: Arc<dyn Broker>, gate: Arc<Gate>, dest: QueueRef, call: Vec<Entry>) {
    let (outs, replies): (Vec<OutgoingMessage>, Vec<_>) =
        call.into_iter().map(|e| (e.out, e.reply)).unzip();
    let answer = sampled(&gate, broker.send_batch(&dest, outs)).await;
    let mut replies: Vec<Option<oneshot::Sender<_>>> = replies.into_iter().map(Some).collect();
    match answer {
        Err(e) => {
            for r in replies.into_iter().flatten() {
                let _ = r.send(Err(e.clone()));
            }
        }
        Ok(outcome) => {
            for (j, result) in outcome {
                if let Some(r) = replies.get_mut(j).and_then(Option::take) {
                    let _ = r.send(result);
                }
            }
            for r in replies.into_iter().flatten() {
                let _ = r.send(Err(BrokerError::Other("no result for this entry".into())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(group: &str, size: usize) -> Entry {
        let (reply, _) = oneshot::channel();
        Entry {
            out: OutgoingMessage {
                body: "x".repeat(size),
                group_id: Some(group.into()),
                ..Default::default()
            },
            reply,
        }
    }

    fn groups(entries: &[Entry]) -> Vec<&str> {
        entries
            .iter()
            .map(|e| e.out.group_id.as_deref().unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_call_takes_one_per_group_up_to_ten_and_the_rest_keep_their_order() {
        let mut waiting: VecDeque<Entry> = ["a", "b", "a", "c", "b"]
            .into_iter()
            .map(|g| entry(g, 10))
            .collect();
        let call = take_call(&mut waiting);
        assert_eq!(groups(&call), ["a", "b", "c"]);
        let rest: Vec<Entry> = waiting.into_iter().collect();
        assert_eq!(groups(&rest), ["a", "b"]);

        let mut many: VecDeque<Entry> = (0..14).map(|i| entry(&format!("g{i}"), 10)).collect();
        assert_eq!(take_call(&mut many).len(), 10);
        assert_eq!(many.len(), 4);
    }

    #[test]
    fn a_call_stays_within_the_size_limit() {
        let mut waiting: VecDeque<Entry> = ["a", "b", "c"]
            .into_iter()
            .map(|g| entry(g, 400 * 1024))
            .collect();
        assert_eq!(groups(&take_call(&mut waiting)), ["a", "b"]);
        assert_eq!(groups(&take_call(&mut waiting)), ["c"]);
    }
}
