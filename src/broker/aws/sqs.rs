//! Every SQS call: the [`Broker`] implementation for [`AwsBroker`], one generic
//! helper for the batch calls, and the conversions to and from the SDK's types.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::operation::change_message_visibility_batch::ChangeMessageVisibilityBatchOutput;
use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchOutput;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput;
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry,
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    MessageSystemAttributeNameForSends, MessageSystemAttributeValue, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use chrono::{DateTime, Utc};

use super::AwsBroker;
use super::errors::classify_code;
use crate::broker::{
    AlarmState, BatchOutcome, Broker, BrokerError, BrokerResult, DEFAULT_MAX_MESSAGE_BYTES,
    Message, MessageAttribute, MoveTask, MoveTaskStatus, OutgoingMessage, QueueAttrs, QueueMetrics,
    Place, QueueRef, QueueSelection, RedrivePolicy,
};

/// SQS batch calls take at most this many entries.
const SQS_BATCH: usize = 10;

/// The longest long poll a receive may ask for; it stays within one attempt's timeout.
const MAX_WAIT_SECS: u64 = 5;
/// The longest visibility timeout SQS takes: 12 hours.
const MAX_VISIBILITY_SECS: u64 = 12 * 60 * 60;
/// The longest delay SQS takes: 15 minutes.
const MAX_DELAY_SECS: u64 = 15 * 60;

impl AwsBroker {
    /// ListQueues, following NextToken to the end.
    async fn list_all_urls(&self, prefix: Option<&str>) -> BrokerResult<Vec<String>> {
        let mut urls = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .sqs
                .list_queues()
                .set_queue_name_prefix(prefix.map(str::to_string))
                .max_results(1000)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| self.sqs_err(e))?;
            urls.extend(out.queue_urls().iter().cloned());
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(urls)
    }
}

#[async_trait]
impl Broker for AwsBroker {
    fn describe(&self) -> String {
        self.description.clone()
    }

    async fn list_queues(&self, selection: &QueueSelection) -> BrokerResult<Vec<QueueRef>> {
        let mut found: BTreeMap<String, QueueRef> = BTreeMap::new();
        let here = Place::new(self.region.clone(), "");
        if selection.place.as_ref().is_some_and(|p| !p.holds(&here)) {
            return Ok(Vec::new());
        }
        let mut add = |url: String| {
            let q = queue_ref_from_url(&url, &self.region);
            if selection.place.as_ref().is_none_or(|p| p.holds(&q.place)) {
                found.entry(q.name.clone()).or_insert(q);
            }
        };
        if selection.is_all() {
            for url in self.list_all_urls(None).await? {
                add(url);
            }
        } else {
            for prefix in &selection.prefixes {
                for url in self.list_all_urls(Some(prefix)).await? {
                    add(url);
                }
            }
            for name in &selection.names {
                let out = self.sqs.get_queue_url().queue_name(name).send().await;
                match out.map_err(|e| self.sqs_err(e)) {
                    Ok(out) => {
                        if let Some(url) = out.queue_url() {
                            add(url.to_string());
                        }
                    }
                    // A named queue that does not exist is left out; the others still show.
                    Err(BrokerError::NotFound(msg)) => {
                        tracing::warn!(queue = %name, "queue not found: {msg}");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(found.into_values().collect())
    }

    async fn queue_attributes(&self, queue: &QueueRef) -> BrokerResult<QueueAttrs> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| self.sqs_err(e))?;
        let empty = HashMap::new();
        parse_queue_attrs(queue, out.attributes().unwrap_or(&empty))
    }

    async fn dead_letter_sources(&self, dlq: &QueueRef) -> BrokerResult<Vec<QueueRef>> {
        let mut sources = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .sqs
                .list_dead_letter_source_queues()
                .queue_url(&dlq.url)
                .max_results(1000)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| self.sqs_err(e))?;
            sources.extend(
                out.queue_urls()
                    .iter()
                    .map(|u| queue_ref_from_url(u, &self.region)),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        sources.sort();
        sources.dedup();
        Ok(sources)
    }

    async fn metrics(&self, queues: &[QueueRef]) -> BrokerResult<Vec<QueueMetrics>> {
        self.fetch_metrics(queues).await
    }

    async fn alarm_state(&self, alarm: &str) -> BrokerResult<AlarmState> {
        self.read_alarm(alarm).await
    }

    async fn receive(
        &self,
        queue: &QueueRef,
        max: u32,
        visibility: Duration,
    ) -> BrokerResult<Vec<Message>> {
        self.receive_waiting(queue, max, visibility, Duration::ZERO)
            .await
    }

    async fn receive_waiting(
        &self,
        queue: &QueueRef,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> BrokerResult<Vec<Message>> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(max.clamp(1, SQS_BATCH as u32) as i32)
            .visibility_timeout(secs_i32(visibility, MAX_VISIBILITY_SECS))
            .wait_time_seconds(secs_i32(wait, MAX_WAIT_SECS))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| self.sqs_err(e))?;
        Ok(out.messages().iter().map(convert_message).collect())
    }

    async fn send(&self, queue: &QueueRef, message: OutgoingMessage) -> BrokerResult<String> {
        let attributes = to_sdk_attributes(&message.attributes)?;
        let out = self
            .sqs
            .send_message()
            .queue_url(&queue.url)
            .message_body(message.body)
            .set_message_attributes(attributes)
            .set_message_system_attributes(trace_attribute(message.trace_header)?)
            .set_message_group_id(message.group_id)
            .set_message_deduplication_id(message.dedup_id)
            .set_delay_seconds(message.delay.map(|d| secs_i32(d, MAX_DELAY_SECS)))
            .send()
            .await
            .map_err(|e| self.sqs_err(e))?;
        out.message_id()
            .map(str::to_string)
            .ok_or_else(|| BrokerError::Other("SendMessage returned no message id".into()))
    }

    async fn send_batch(
        &self,
        queue: &QueueRef,
        messages: Vec<OutgoingMessage>,
    ) -> BrokerResult<BatchOutcome<String>> {
        let entries = entries(messages, |id, m| {
            Ok(SendMessageBatchRequestEntry::builder()
                .id(id)
                .message_body(m.body)
                .set_message_attributes(to_sdk_attributes(&m.attributes)?)
                .set_message_system_attributes(trace_attribute(m.trace_header)?)
                .set_message_group_id(m.group_id)
                .set_message_deduplication_id(m.dedup_id)
                .set_delay_seconds(m.delay.map(|d| secs_i32(d, MAX_DELAY_SECS)))
                .build()?)
        })?;
        run_batches(entries, |chunk| async move {
            let out = self
                .sqs
                .send_message_batch()
                .queue_url(&queue.url)
                .set_entries(Some(chunk))
                .send()
                .await;
            out.map(|o| o.results()).map_err(|e| self.sqs_err(e))
        })
        .await
    }

    async fn delete(&self, queue: &QueueRef, receipt_handle: &str) -> BrokerResult<()> {
        self.sqs
            .delete_message()
            .queue_url(&queue.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| self.sqs_err(e))?;
        Ok(())
    }

    async fn delete_batch(
        &self,
        queue: &QueueRef,
        receipt_handles: Vec<String>,
    ) -> BrokerResult<BatchOutcome<()>> {
        let entries = entries(receipt_handles, |id, handle| {
            Ok(DeleteMessageBatchRequestEntry::builder()
                .id(id)
                .receipt_handle(handle)
                .build()?)
        })?;
        run_batches(entries, |chunk| async move {
            let out = self
                .sqs
                .delete_message_batch()
                .queue_url(&queue.url)
                .set_entries(Some(chunk))
                .send()
                .await;
            out.map(|o| o.results()).map_err(|e| self.sqs_err(e))
        })
        .await
    }

    async fn change_visibility(
        &self,
        queue: &QueueRef,
        receipt_handles: Vec<String>,
        visibility: Duration,
    ) -> BrokerResult<BatchOutcome<()>> {
        let secs = secs_i32(visibility, MAX_VISIBILITY_SECS);
        let entries = entries(receipt_handles, |id, handle| {
            Ok(ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(id)
                .receipt_handle(handle)
                .visibility_timeout(secs)
                .build()?)
        })?;
        run_batches(entries, |chunk| async move {
            let out = self
                .sqs
                .change_message_visibility_batch()
                .queue_url(&queue.url)
                .set_entries(Some(chunk))
                .send()
                .await;
            out.map(|o| o.results()).map_err(|e| self.sqs_err(e))
        })
        .await
    }

    async fn start_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        rate: Option<u32>,
    ) -> BrokerResult<String> {
        let out = self
            .sqs
            .start_message_move_task()
            .source_arn(source_arn)
            .set_destination_arn(destination_arn.map(str::to_string))
            .set_max_number_of_messages_per_second(
                rate.map(|r| i32::try_from(r).unwrap_or(i32::MAX)),
            )
            .send()
            .await
            .map_err(|e| self.sqs_err(e))?;
        out.task_handle().map(str::to_string).ok_or_else(|| {
            BrokerError::Other("StartMessageMoveTask returned no task handle".into())
        })
    }

    async fn list_move_tasks(&self, source_arn: &str) -> BrokerResult<Vec<MoveTask>> {
        let out = self
            .sqs
            .list_message_move_tasks()
            .source_arn(source_arn)
            .max_results(10)
            .send()
            .await
            .map_err(|e| self.sqs_err(e))?;
        Ok(out
            .results()
            .iter()
            .map(|t| MoveTask {
                handle: t.task_handle().map(str::to_string),
                source_arn: t.source_arn().unwrap_or(source_arn).to_string(),
                destination_arn: t.destination_arn().map(str::to_string),
                status: MoveTaskStatus::parse(t.status().unwrap_or("UNKNOWN")),
                moved: u64::try_from(t.approximate_number_of_messages_moved()).unwrap_or(0),
                to_move: t
                    .approximate_number_of_messages_to_move()
                    .and_then(|n| u64::try_from(n).ok()),
                rate: t
                    .max_number_of_messages_per_second()
                    .and_then(|n| u32::try_from(n).ok()),
                failure_reason: t.failure_reason().map(str::to_string),
                started_at: match t.started_timestamp() {
                    0 => None,
                    ms => DateTime::<Utc>::from_timestamp_millis(ms),
                },
            })
            .collect())
    }

    async fn cancel_move_task(&self, handle: &str) -> BrokerResult<u64> {
        let out = self
            .sqs
            .cancel_message_move_task()
            .task_handle(handle)
            .send()
            .await
            .map_err(|e| self.sqs_err(e))?;
        Ok(u64::try_from(out.approximate_number_of_messages_moved()).unwrap_or(0))
    }
}

/// Runs a batch call over `entries` in chunks of 10. Entry ids are the original
/// indexes, so outcomes come back keyed by index, in index order.
///
/// If the first call fails as a whole, nothing was done and that error is returned.
/// If a later call fails as a whole, its entries and all later ones get that error
/// (earlier chunks did happen, so the caller must see per-entry outcomes).
/// One batch request entry per item, its id the item's index.
fn entries<I, E>(
    items: Vec<I>,
    mut entry: impl FnMut(String, I) -> BrokerResult<E>,
) -> BrokerResult<Vec<E>> {
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| entry(index.to_string(), item))
        .collect()
}

/// The answer of a batch call: each entry's result, by the entry's id.
trait BatchAnswer {
    type Ok;
    fn results(&self) -> Vec<(String, BrokerResult<Self::Ok>)>;
}

/// The three batch answers differ only in what a success carries.
macro_rules! batch_answer {
    ($output:ty, $ok:ty, |$s:ident| $value:expr) => {
        impl BatchAnswer for $output {
            type Ok = $ok;
            fn results(&self) -> Vec<(String, BrokerResult<$ok>)> {
                let ok = self
                    .successful()
                    .iter()
                    .map(|$s| ($s.id().to_string(), Ok($value)));
                ok.chain(self.failed().iter().map(batch_entry_error))
                    .collect()
            }
        }
    };
}

batch_answer!(SendMessageBatchOutput, String, |s| s
    .message_id()
    .to_string());
batch_answer!(DeleteMessageBatchOutput, (), |_s| ());
batch_answer!(ChangeMessageVisibilityBatchOutput, (), |_s| ());

/// Sends `entries` in batches of ten, and puts each result at its entry's index.
/// A call that fails fails its entries and every later one; when the very first
/// fails, the whole call does.
async fn run_batches<E, T, F, Fut>(entries: Vec<E>, mut call: F) -> BrokerResult<BatchOutcome<T>>
where
    T: Clone,
    F: FnMut(Vec<E>) -> Fut,
    Fut: std::future::Future<Output = BrokerResult<Vec<(String, BrokerResult<T>)>>>,
{
    let mut outcome: BatchOutcome<T> = Vec::with_capacity(entries.len());
    let mut entries = entries.into_iter().enumerate().peekable();
    while entries.peek().is_some() {
        let chunk: Vec<(usize, E)> = entries.by_ref().take(SQS_BATCH).collect();
        let indexes: Vec<usize> = chunk.iter().map(|(i, _)| *i).collect();
        let chunk: Vec<E> = chunk.into_iter().map(|(_, e)| e).collect();
        match call(chunk).await {
            Ok(results) => {
                let mut by_id: HashMap<String, BrokerResult<T>> = results.into_iter().collect();
                for index in indexes {
                    let result = by_id.remove(&index.to_string()).unwrap_or_else(|| {
                        Err(BrokerError::Other(format!(
                            "the server returned no result for batch entry {index}"
                        )))
                    });
                    outcome.push((index, result));
                }
            }
            Err(e) if outcome.is_empty() => return Err(e),
            Err(e) => {
                for index in indexes {
                    outcome.push((index, Err(e.clone())));
                }
                for (index, _) in entries.by_ref() {
                    outcome.push((index, Err(e.clone())));
                }
            }
        }
    }
    Ok(outcome)
}

fn batch_entry_error<T>(e: &BatchResultErrorEntry) -> (String, BrokerResult<T>) {
    let message = e.message().unwrap_or_default();
    (
        e.id().to_string(),
        Err(classify_code(e.code(), message, None)),
    )
}

/// The queue at a queue URL in `region`: its name is the last path segment, and
/// the account the one before it when that is a 12-digit number.
fn queue_ref_from_url(url: &str, region: &str) -> QueueRef {
    let mut segments = url.trim_end_matches('/').rsplit('/');
    let name = segments.next().unwrap_or(url);
    let account = segments
        .next()
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_default();
    QueueRef {
        name: name.to_string(),
        url: url.to_string(),
        place: Place::new(region, account),
    }
}

fn parse_queue_attrs(
    queue: &QueueRef,
    attrs: &HashMap<QueueAttributeName, String>,
) -> BrokerResult<QueueAttrs> {
    let get = |name: QueueAttributeName| attrs.get(&name).map(String::as_str);
    let count = |name: QueueAttributeName| -> BrokerResult<u64> {
        match get(name.clone()) {
            None => Ok(0),
            Some(v) => v.trim().parse().map_err(|_| {
                BrokerError::Other(format!(
                    "{}: attribute {} is not a number: {v:?}",
                    queue.name,
                    name.as_str()
                ))
            }),
        }
    };
    let arn = get(QueueAttributeName::QueueArn)
        .ok_or_else(|| BrokerError::Other(format!("{}: no QueueArn attribute", queue.name)))?
        .to_string();
    let redrive = match get(QueueAttributeName::RedrivePolicy) {
        None => None,
        Some(json) if json.trim().is_empty() => None,
        Some(json) => match parse_redrive_policy(json) {
            Ok(policy) => Some(policy),
            Err(e) => {
                tracing::warn!(queue = %queue.name, "ignoring RedrivePolicy: {e}");
                None
            }
        },
    };
    let flag = |name: QueueAttributeName| get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Ok(QueueAttrs {
        arn,
        visible: count(QueueAttributeName::ApproximateNumberOfMessages)?,
        in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?,
        delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed)?,
        fifo: flag(QueueAttributeName::FifoQueue) || queue.is_fifo(),
        content_based_dedup: flag(QueueAttributeName::ContentBasedDeduplication),
        visibility_timeout: Duration::from_secs(count(QueueAttributeName::VisibilityTimeout)?),
        retention: Duration::from_secs(count(QueueAttributeName::MessageRetentionPeriod)?),
        redrive,
        max_message_size: match get(QueueAttributeName::MaximumMessageSize) {
            Some(_) => usize::try_from(count(QueueAttributeName::MaximumMessageSize)?)
                .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES),
            None => DEFAULT_MAX_MESSAGE_BYTES,
        },
    })
}

/// Parses a RedrivePolicy attribute. `maxReceiveCount` may be a string or a number.
fn parse_redrive_policy(json: &str) -> Result<RedrivePolicy, String> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("not JSON ({e}): {json}"))?;
    let dlq_arn = value
        .get("deadLetterTargetArn")
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("no deadLetterTargetArn: {json}"))?
        .to_string();
    let max_receive_count = match value.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
    .and_then(|n| u32::try_from(n).ok())
    .ok_or_else(|| format!("no valid maxReceiveCount: {json}"))?;
    Ok(RedrivePolicy {
        dlq_arn,
        max_receive_count,
    })
}

fn convert_message(m: &aws_sdk_sqs::types::Message) -> Message {
    let empty_sys = HashMap::new();
    let sys = m.attributes().unwrap_or(&empty_sys);
    let sys_get = |name: MessageSystemAttributeName| sys.get(&name).cloned();
    let millis = |name: MessageSystemAttributeName| {
        sys_get(name)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .and_then(DateTime::<Utc>::from_timestamp_millis)
    };
    let attributes = m
        .message_attributes()
        .map(|attrs| {
            attrs
                .iter()
                .map(|(name, v)| {
                    let value = match (v.string_value(), v.binary_value()) {
                        (Some(s), _) => s.to_string(),
                        (None, Some(b)) => base64_encode(b.as_ref()),
                        (None, None) => String::new(),
                    };
                    (
                        name.clone(),
                        MessageAttribute {
                            data_type: v.data_type().to_string(),
                            value,
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Message {
        message_id: m.message_id().unwrap_or_default().to_string(),
        receipt_handle: m.receipt_handle().unwrap_or_default().to_string(),
        body: m.body().unwrap_or_default().to_string(),
        attributes,
        receive_count: sys_get(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
        sent_at: millis(MessageSystemAttributeName::SentTimestamp),
        first_received_at: millis(MessageSystemAttributeName::ApproximateFirstReceiveTimestamp),
        dlq_source_arn: sys_get(MessageSystemAttributeName::DeadLetterQueueSourceArn),
        group_id: sys_get(MessageSystemAttributeName::MessageGroupId),
        dedup_id: sys_get(MessageSystemAttributeName::MessageDeduplicationId),
        trace_header: sys_get(MessageSystemAttributeName::AwsTraceHeader),
    }
}

/// The `AWSTraceHeader` system attribute to send, when the message has one.
fn trace_attribute(
    trace: Option<String>,
) -> BrokerResult<Option<HashMap<MessageSystemAttributeNameForSends, MessageSystemAttributeValue>>>
{
    let Some(trace) = trace else {
        return Ok(None);
    };
    let value = MessageSystemAttributeValue::builder()
        .data_type("String")
        .string_value(trace)
        .build()
        .map_err(|e| BrokerError::Invalid(format!("AWSTraceHeader: {e}")))?;
    Ok(Some(HashMap::from([(
        MessageSystemAttributeNameForSends::AwsTraceHeader,
        value,
    )])))
}

/// Message attributes for the SDK. Binary attributes travel base64-encoded in
/// [`MessageAttribute::value`], as the console shows them.
fn to_sdk_attributes(
    attrs: &BTreeMap<String, MessageAttribute>,
) -> BrokerResult<Option<HashMap<String, MessageAttributeValue>>> {
    if attrs.is_empty() {
        return Ok(None);
    }
    let mut out = HashMap::with_capacity(attrs.len());
    for (name, attr) in attrs {
        let builder = MessageAttributeValue::builder().data_type(&attr.data_type);
        let builder = if attr.data_type.starts_with("Binary") {
            let bytes = base64_decode(&attr.value).ok_or_else(|| {
                BrokerError::Invalid(format!("attribute {name}: binary value is not base64"))
            })?;
            builder.binary_value(Blob::new(bytes))
        } else {
            builder.string_value(&attr.value)
        };
        let value = builder
            .build()
            .map_err(|e| BrokerError::Invalid(format!("attribute {name}: {e}")))?;
        out.insert(name.clone(), value);
    }
    Ok(Some(out))
}

fn secs_i32(d: Duration, max: u64) -> i32 {
    i32::try_from(d.as_secs().min(max)).unwrap_or(i32::MAX)
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let text: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redrive_policy_count_as_string_or_number() {
        let arn = "arn:aws:sqs:us-east-1:000000000000:orders-dlq";
        let s = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"3"}}"#);
        let n = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":5}}"#);
        assert_eq!(
            parse_redrive_policy(&s),
            Ok(RedrivePolicy {
                dlq_arn: arn.into(),
                max_receive_count: 3
            })
        );
        assert_eq!(parse_redrive_policy(&n).map(|p| p.max_receive_count), Ok(5));
        assert!(parse_redrive_policy("{}").is_err());
        assert!(parse_redrive_policy("not json").is_err());
        assert!(
            parse_redrive_policy(&format!(
                r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"x"}}"#
            ))
            .is_err()
        );
    }

    #[test]
    fn queue_attrs_parse() {
        let q = queue_ref_from_url(
            "http://127.0.0.1:4566/queue/us-east-1/000000000000/orders",
            "us-east-1",
        );
        assert_eq!(q.name, "orders");
        assert_eq!(q.place, Place::new("us-east-1", "000000000000"));
        let other = queue_ref_from_url("http://sqs.local/orders", "eu-west-1");
        assert_eq!(other.place, Place::new("eu-west-1", ""));
        let attrs: HashMap<QueueAttributeName, String> = [
            (
                QueueAttributeName::QueueArn,
                "arn:aws:sqs:us-east-1:0:orders",
            ),
            (QueueAttributeName::ApproximateNumberOfMessages, "7"),
            (
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                "2",
            ),
            (QueueAttributeName::ApproximateNumberOfMessagesDelayed, "1"),
            (QueueAttributeName::VisibilityTimeout, "30"),
            (QueueAttributeName::MessageRetentionPeriod, "345600"),
            (
                QueueAttributeName::RedrivePolicy,
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:0:dlq","maxReceiveCount":3}"#,
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
        let parsed = parse_queue_attrs(&q, &attrs).expect("attrs");
        assert_eq!(parsed.visible, 7);
        assert_eq!(parsed.in_flight, 2);
        assert_eq!(parsed.delayed, 1);
        assert!(!parsed.fifo);
        assert_eq!(parsed.visibility_timeout, Duration::from_secs(30));
        assert_eq!(parsed.retention, Duration::from_secs(345_600));
        assert_eq!(
            parsed.redrive.map(|r| (r.dlq_arn, r.max_receive_count)),
            Some(("arn:aws:sqs:us-east-1:0:dlq".to_string(), 3))
        );
    }

    #[test]
    fn base64_round_trip() {
        for input in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"fooba",
            b"foobar",
            &[0, 255, 128],
        ] {
            let encoded = base64_encode(input);
            assert_eq!(base64_decode(&encoded).as_deref(), Some(input), "{encoded}");
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_decode("Zm8"), None);
        assert_eq!(base64_decode("Z=8="), None);
    }

    #[tokio::test]
    async fn batches_keep_indexes_and_partial_failures() {
        // 25 entries -> chunks of 10, 10, 5; the second call fails as a whole.
        let mut calls = 0;
        let outcome = run_batches((0..25).collect::<Vec<usize>>(), |chunk| {
            calls += 1;
            let n = calls;
            async move {
                if n == 2 {
                    return Err(BrokerError::Throttled("slow down".into()));
                }
                Ok(chunk
                    .into_iter()
                    .map(|i| {
                        let r = if i == 3 {
                            Err(BrokerError::Invalid("bad".into()))
                        } else {
                            Ok(i * 2)
                        };
                        (i.to_string(), r)
                    })
                    .collect())
            }
        })
        .await
        .expect("first chunk worked");
        assert_eq!(outcome.len(), 25);
        assert_eq!(calls, 2, "no call after a whole-call failure");
        assert!(outcome.iter().enumerate().all(|(i, (idx, _))| i == *idx));
        assert_eq!(outcome[0].1, Ok(0));
        assert_eq!(outcome[3].1, Err(BrokerError::Invalid("bad".into())));
        assert_eq!(outcome[9].1, Ok(18));
        assert!(matches!(outcome[10].1, Err(BrokerError::Throttled(_))));
        assert!(matches!(outcome[24].1, Err(BrokerError::Throttled(_))));

        let first_fails = run_batches(vec![1, 2, 3], |_chunk| async {
            Err::<Vec<(String, BrokerResult<()>)>, _>(BrokerError::Unreachable("x".into()))
        })
        .await;
        assert!(matches!(first_fails, Err(BrokerError::Unreachable(_))));

        let empty = run_batches(Vec::<u8>::new(), |_chunk| async {
            Ok::<Vec<(String, BrokerResult<()>)>, BrokerError>(vec![])
        })
        .await;
        assert_eq!(empty, Ok(vec![]));
    }
}
