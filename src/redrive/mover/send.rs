//! Where each message goes and how it gets there: the route to its source queue,
//! the destination's size limit, batches split by size, send then delete exactly
//! what was sent, retries, and failures held for the report.

use std::collections::{BTreeMap, HashMap};

use tokio::time::Instant;

use super::{HoldReason, Run, Target, backoff, transient};
use crate::broker::{
    BatchOutcome, BrokerError, BrokerResult, Message, OutgoingMessage, Place, QueueRef,
    QueueSelection, name_from_arn, size_batches, validate_outgoing,
};
use crate::redrive::MessageFailure;
use crate::redrive::concurrency::{Gate, Outcome};

/// The group id given to messages sent to a FIFO queue that came without one.
pub(crate) const DEFAULT_GROUP_ID: &str = "lazysqs-redrive";

impl Run {
    async fn route(&self, m: &Message) -> Result<QueueRef, String> {
        match &self.cfg.target {
            Target::Queue(q) => Ok(q.clone()),
            Target::OwnSource { fallback } => match &m.dlq_source_arn {
                Some(arn) => self.resolve(arn).await,
                None => fallback.clone().ok_or_else(|| {
                    "no DeadLetterQueueSourceArn, and the DLQ has no single source queue".into()
                }),
            },
        }
    }

    /// The queue behind a DeadLetterQueueSourceArn, looked up once.
    async fn resolve(&self, arn: &str) -> Result<QueueRef, String> {
        if let Some(r) = crate::sync::lock(&self.routes).get(arn) {
            return r.clone();
        }
        let prefix = |a: &str| a.rsplit_once(':').map(|(p, _)| p.to_string());
        if prefix(arn) != prefix(&self.cfg.source_arn) {
            let r = Err(format!("its source {arn} is in another account or region"));
            self.remember(arn, &r);
            return r;
        }
        let name = name_from_arn(arn).to_string();
        let place = Place::of_arn(arn);
        let r = match self
            .broker
            .list_queues(&QueueSelection::named(&name, Some(&place)))
            .await
        {
            Ok(qs) => qs
                .into_iter()
                .find(|q| q.name == name && place.holds(&q.place))
                .ok_or_else(|| format!("its source queue {name} no longer exists")),
            // Not remembered: it may pass.
            Err(e) => return Err(format!("cannot look up its source queue {name}: {e}")),
        };
        self.remember(arn, &r);
        r
    }

    fn remember(&self, arn: &str, r: &Result<QueueRef, String>) {
        crate::sync::lock(&self.routes).insert(arn.to_string(), r.clone());
    }

    pub(super) async fn move_messages(&self, messages: Vec<Message>) {
        let mut groups: BTreeMap<String, (QueueRef, Vec<Message>)> = BTreeMap::new();
        let mut failed = Vec::new();
        for mut m in messages {
            if let Some(t) = &self.cfg.transform {
                match t.apply(&m.body) {
                    Ok(fixed) => m.body = fixed,
                    Err(why) => {
                        failed.push((m, None, format!("transform: {why}")));
                        continue;
                    }
                }
            }
            match self.route(&m).await {
                Ok(q) => {
                    let dead = self.stats().dead.get(&q.name).cloned();
                    match dead {
                        Some(why) => failed.push((m, Some(q.name.clone()), why)),
                        None => groups
                            .entry(q.name.clone())
                            .or_insert_with(|| (q, Vec::new()))
                            .1
                            .push(m),
                    }
                }
                Err(why) => failed.push((m, None, why)),
            }
        }
        self.fail(failed).await;
        for (_, (dest, batch)) in groups {
            self.send_and_delete(&dest, batch).await;
        }
    }

    /// Records failures and holds the messages until the pass ends.
    async fn fail(&self, failed: Vec<(Message, Option<String>, String)>) {
        if failed.is_empty() {
            return;
        }
        let mut hold = Vec::with_capacity(failed.len());
        {
            let mut s = self.stats();
            for (m, destination, reason) in failed {
                s.failed += 1;
                s.failures.push(MessageFailure {
                    message_id: m.message_id.clone(),
                    destination,
                    reason,
                });
                hold.push(m);
            }
        }
        self.hold(hold, HoldReason::Failed).await;
    }

    /// The destination's MaximumMessageSize, read once per destination.
    async fn limit_of(&self, dest: &QueueRef) -> usize {
        let known = crate::sync::lock(&self.limits).get(&dest.url).copied();
        if let Some(limit) = known {
            return limit;
        }
        let limit = crate::recovery::destination_limit(self.broker.as_ref(), dest).await;
        crate::sync::lock(&self.limits).insert(dest.url.clone(), limit);
        limit
    }

    /// Checks each message against the destination's limit (one over it fails
    /// alone and stays in the DLQ), sends the rest in batches split by size (in
    /// rounds for a FIFO destination, see [`rounds`]), then deletes what was sent.
    async fn send_and_delete(&self, dest: &QueueRef, batch: Vec<Message>) {
        let limit = self.limit_of(dest).await;
        let mut ok = Vec::with_capacity(batch.len());
        let mut too_large = Vec::new();
        for m in batch {
            let out = outgoing(&m, dest);
            match validate_outgoing(&dest.name, &out, limit) {
                Ok(()) => ok.push((m, out)),
                Err(e) => too_large.push((m, Some(dest.name.clone()), e.to_string())),
            }
        }
        self.fail(too_large).await;
        let (batch, outgoing): (Vec<Message>, Vec<OutgoingMessage>) = ok.into_iter().unzip();
        let mut sent = Sent::default();
        // FIFO groups whose message could not be sent, with that message's id.
        let mut blocked: HashMap<String, String> = HashMap::new();
        for round in rounds(&outgoing, dest.is_fifo()) {
            let (go, held_back): (Vec<usize>, Vec<usize>) = round.into_iter().partition(|&i| {
                outgoing[i]
                    .group_id
                    .as_ref()
                    .is_none_or(|g| !blocked.contains_key(g))
            });
            for i in held_back {
                let group = outgoing[i].group_id.clone().unwrap_or_default();
                let before = blocked.get(&group).cloned().unwrap_or_default();
                sent.given_up.push(i);
                sent.errors.insert(
                    i,
                    BrokerError::Other(format!(
                        "not sent: {before}, before it in group {group}, could not be moved, \
                         and sending this one first would break the group's order"
                    )),
                );
            }
            let first_new = sent.given_up.len();
            let sizes: Vec<usize> = go.iter().map(|&i| outgoing[i].size()).collect();
            for range in size_batches(&sizes) {
                self.send_entries(dest, &outgoing, &go[range], &mut sent)
                    .await;
            }
            for &i in &sent.given_up[first_new..] {
                if let Some(g) = &outgoing[i].group_id {
                    blocked
                        .entry(g.clone())
                        .or_insert_with(|| batch[i].message_id.clone());
                }
            }
        }
        self.settle(dest, &batch, sent).await;
    }

    /// SendMessageBatch of `entries` (indexes into `outgoing`), retrying entries that
    /// failed for a reason that may pass.
    async fn send_entries(
        &self,
        dest: &QueueRef,
        outgoing: &[OutgoingMessage],
        entries: &[usize],
        sent: &mut Sent,
    ) {
        let mut pending: Vec<usize> = entries.to_vec();
        let attempts = self.cfg.options.attempts.max(1);
        for attempt in 0..attempts {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                self.stats().retries += 1;
                tokio::time::sleep(backoff(attempt)).await;
            }
            let request: Vec<OutgoingMessage> =
                pending.iter().map(|&i| outgoing[i].clone()).collect();
            match self.send_call(dest, request).await {
                Err(e) => {
                    let stop = !transient(&e);
                    for &i in &pending {
                        sent.errors.insert(i, e.clone());
                    }
                    if stop {
                        break;
                    }
                }
                Ok(outcome) => {
                    let mut answered = vec![false; pending.len()];
                    let mut retry = Vec::new();
                    for (j, result) in outcome {
                        let Some(&i) = pending.get(j) else { continue };
                        answered[j] = true;
                        match result {
                            Ok(new_id) => {
                                sent.errors.remove(&i);
                                sent.ok.push((i, new_id));
                            }
                            Err(e) => {
                                if transient(&e) {
                                    retry.push(i);
                                } else {
                                    sent.given_up.push(i);
                                }
                                sent.errors.insert(i, e);
                            }
                        }
                    }
                    for (j, &i) in pending.iter().enumerate() {
                        if !answered[j] {
                            sent.errors
                                .insert(i, BrokerError::Other("no result for this entry".into()));
                            retry.push(i);
                        }
                    }
                    pending = retry;
                }
            }
        }
        sent.given_up.extend(pending);
    }

    /// One SendMessageBatch; to a FIFO queue, through its shared lane.
    async fn send_call(
        &self,
        dest: &QueueRef,
        request: Vec<OutgoingMessage>,
    ) -> BrokerResult<BatchOutcome<String>> {
        if dest.is_fifo() {
            return Ok(self
                .lanes
                .send(&self.broker, &self.gate, dest, request)
                .await);
        }
        sampled(&self.gate, self.broker.send_batch(dest, request)).await
    }

    /// After the sends: deletes exactly the messages whose send was confirmed, and
    /// reports and holds the rest.
    async fn settle(&self, dest: &QueueRef, batch: &[Message], sent: Sent) {
        let Sent {
            ok,
            given_up,
            errors,
        } = sent;
        // A destination that is gone or forbidden fails every later message fast.
        if let Some(e) = given_up.iter().find_map(|i| errors.get(i)).cloned()
            && matches!(e, BrokerError::NotFound(_) | BrokerError::Auth(_))
        {
            self.stats()
                .dead
                .insert(dest.name.clone(), format!("{}: {e}", dest.name));
        }
        let handles: Vec<String> = ok
            .iter()
            .map(|(i, _)| batch[*i].receipt_handle.clone())
            .collect();
        let deleted = if handles.is_empty() {
            Vec::new()
        } else {
            self.delete_with_retries(handles).await
        };
        let mut not_deleted = Vec::new();
        {
            let mut s = self.stats();
            s.moved += ok.len() as u64;
            if let Some(ramp) = s.ramp.as_mut() {
                ramp.sent(ok.len() as u64);
                s.sent_ids.extend(ok.iter().map(|(_, id)| id.clone()));
            }
            if !ok.is_empty() {
                s.last_move = Some(Instant::now());
            }
            *s.by_destination.entry(dest.name.clone()).or_default() += ok.len() as u64;
            for (k, (i, _)) in ok.iter().enumerate() {
                if let Some(Err(e)) = deleted.get(k) {
                    s.not_deleted += 1;
                    s.last_error = Some(format!(
                        "message {} was sent to {} but not deleted from {}: {e}",
                        batch[*i].message_id, dest.name, self.cfg.source.name
                    ));
                    not_deleted.push(batch[*i].clone());
                }
            }
        }
        self.hold(not_deleted, HoldReason::SentNotDeleted).await;
        let failed = given_up
            .into_iter()
            .map(|i| {
                let why = errors
                    .get(&i)
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "the send failed".into());
                (batch[i].clone(), Some(dest.name.clone()), why)
            })
            .collect();
        self.fail(failed).await;
    }

    /// DeleteMessageBatch with retries; one result per handle, in order.
    pub(super) async fn delete_with_retries(&self, handles: Vec<String>) -> Vec<BrokerResult<()>> {
        let mut results: Vec<BrokerResult<()>> =
            vec![Err(BrokerError::Other("not deleted".into())); handles.len()];
        let mut pending: Vec<usize> = (0..handles.len()).collect();
        let attempts = self.cfg.options.attempts.max(1);
        for attempt in 0..attempts {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                self.stats().retries += 1;
                tokio::time::sleep(backoff(attempt)).await;
            }
            let request: Vec<String> = pending.iter().map(|&i| handles[i].clone()).collect();
            let answer = sampled(
                &self.gate,
                self.broker.delete_batch(&self.cfg.source, request),
            )
            .await;
            match answer {
                Err(e) => {
                    let stop = !transient(&e);
                    for &i in &pending {
                        results[i] = Err(e.clone());
                    }
                    if stop {
                        break;
                    }
                }
                Ok(outcome) => {
                    let mut retry = Vec::new();
                    let mut answered = vec![false; pending.len()];
                    for (j, r) in outcome {
                        let Some(&i) = pending.get(j) else { continue };
                        answered[j] = true;
                        if let Err(e) = &r
                            && transient(e)
                        {
                            retry.push(i);
                        }
                        results[i] = r;
                    }
                    for (j, &i) in pending.iter().enumerate() {
                        if !answered[j] {
                            retry.push(i);
                        }
                    }
                    pending = retry;
                }
            }
        }
        results
    }
}

/// What sending a batch came to.
#[derive(Debug, Default)]
struct Sent {
    /// Indexes sent, with the MessageId the destination gave each.
    ok: Vec<(usize, String)>,
    /// Indexes not sent, for good.
    given_up: Vec<usize>,
    errors: HashMap<usize, BrokerError>,
}

/// The order in which a batch is sent. To a standard queue: all at once. To a FIFO
/// queue: round `k` holds the `k`-th message of each group, so that a call never
/// carries two messages of one group. If one fails, the later ones of its group are
/// not sent: otherwise the destination would get them before it.
fn rounds(outgoing: &[OutgoingMessage], fifo: bool) -> Vec<Vec<usize>> {
    if !fifo {
        return vec![(0..outgoing.len()).collect()];
    }
    let mut seen: HashMap<Option<&str>, usize> = HashMap::new();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (i, m) in outgoing.iter().enumerate() {
        let k = seen.entry(m.group_id.as_deref()).or_default();
        if rounds.len() <= *k {
            rounds.push(Vec::new());
        }
        rounds[*k].push(i);
        *k += 1;
    }
    rounds
}

/// Runs one batch call, and gives its latency and what it says about load to the
/// concurrency limit.
pub(super) async fn sampled<T>(
    gate: &Gate,
    call: impl Future<Output = BrokerResult<BatchOutcome<T>>>,
) -> BrokerResult<BatchOutcome<T>> {
    let started = Instant::now();
    let answer = call.await;
    gate.sample(started.elapsed(), load(&answer));
    answer
}

/// What a call's answer says about the server's load.
fn load<T>(answer: &BrokerResult<BatchOutcome<T>>) -> Outcome {
    let busy =
        |e: &BrokerError| matches!(e, BrokerError::Throttled(_) | BrokerError::Unreachable(_));
    let throttled = match answer {
        Err(e) => busy(e),
        Ok(entries) => entries
            .iter()
            .any(|(_, r)| r.as_ref().err().is_some_and(busy)),
    };
    if throttled {
        Outcome::Throttled
    } else {
        Outcome::Answered
    }
}

/// The message to send for `m` to `dest`: see [`OutgoingMessage::carrying`]. A
/// FIFO destination needs a group: a message from a standard queue gets
/// [`DEFAULT_GROUP_ID`].
pub fn outgoing(m: &Message, dest: &QueueRef) -> OutgoingMessage {
    let group = match &m.group_id {
        None if dest.is_fifo() => Some(DEFAULT_GROUP_ID.to_string()),
        g => g.clone(),
    };
    OutgoingMessage::carrying(
        dest,
        m.body.clone(),
        m.attributes.clone(),
        group,
        m.trace_header.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn fifo_rounds_carry_one_message_per_group_in_order() {
        let m = |g: Option<&str>| OutgoingMessage {
            group_id: g.map(str::to_string),
            ..Default::default()
        };
        let batch = [
            m(Some("a")),
            m(Some("a")),
            m(Some("b")),
            m(Some("a")),
            m(Some("b")),
            m(Some("c")),
        ];
        assert_eq!(
            rounds(&batch, true),
            vec![vec![0, 2, 5], vec![1, 4], vec![3]]
        );
        assert_eq!(rounds(&batch, false), vec![vec![0, 1, 2, 3, 4, 5]]);
        assert!(rounds(&[], true).is_empty());
    }

    #[test]
    fn throttling_and_timeouts_ask_for_less() {
        let ok: BrokerResult<BatchOutcome<()>> = Ok(vec![(0, Ok(()))]);
        assert_eq!(load(&ok), Outcome::Answered);
        let entry: BrokerResult<BatchOutcome<()>> = Ok(vec![
            (0, Ok(())),
            (1, Err(BrokerError::Throttled("slow down".into()))),
        ]);
        assert_eq!(load(&entry), Outcome::Throttled);
        let call: BrokerResult<BatchOutcome<()>> =
            Err(BrokerError::Unreachable("timed out".into()));
        assert_eq!(load(&call), Outcome::Throttled);
        let other: BrokerResult<BatchOutcome<()>> = Err(BrokerError::NotFound("gone".into()));
        assert_eq!(load(&other), Outcome::Answered);
    }

    #[test]
    fn outgoing_keeps_attributes_and_groups_with_fresh_dedup_ids() {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "schema".to_string(),
            crate::broker::MessageAttribute {
                data_type: "String".into(),
                value: "order.v2".into(),
            },
        );
        let m = Message {
            message_id: "m1".into(),
            receipt_handle: "r1".into(),
            body: "{}".into(),
            attributes: attributes.clone(),
            receive_count: 1,
            sent_at: None,
            first_received_at: None,
            dlq_source_arn: None,
            group_id: Some("customer-7".into()),
            dedup_id: Some("d-1".into()),
            trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793".into()),
        };
        let fifo = crate::sim::model::queue_ref("invoices.fifo");
        let a = outgoing(&m, &fifo);
        let b = outgoing(&m, &fifo);
        assert_eq!(a.attributes, attributes);
        assert_eq!(a.group_id.as_deref(), Some("customer-7"));
        assert!(a.dedup_id.is_some());
        assert_ne!(a.dedup_id, b.dedup_id);
        assert_ne!(a.dedup_id.as_deref(), Some("d-1"));
        let standard = crate::sim::model::queue_ref("orders");
        let c = outgoing(&m, &standard);
        // Fair queues: a standard queue keeps the group id too.
        assert_eq!(c.group_id.as_deref(), Some("customer-7"));
        assert_eq!(c.dedup_id, None);
        assert_eq!(c.trace_header, m.trace_header);
        let no_group = Message {
            group_id: None,
            ..m
        };
        assert_eq!(
            outgoing(&no_group, &fifo).group_id.as_deref(),
            Some(DEFAULT_GROUP_ID)
        );
    }
}
