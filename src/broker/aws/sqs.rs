//! Every SQS call: the [`Broker`] implementation for [`AwsBroker`], one generic
//! helper for the batch calls, and the conversions to and from the SDK's types.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::operation::change_message_visibility_batch::ChangeMessageVisibilityBatchOutput;
use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchOutput;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput;
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry,
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use chrono::{DateTime, Utc};

use super::AwsBroker;
use super::convert::{
    convert_message, parse_queue_attrs, queue_ref_from_url, secs_i32, to_sdk_attributes,
    trace_attribute,
};
use super::errors::classify_code;
use crate::broker::{
    AlarmState, BatchOutcome, Broker, BrokerError, BrokerResult, Message, MoveTask, MoveTaskStatus,
    OutgoingMessage, Place, QueueAttrs, QueueMetrics, QueueRef, QueueSelection,
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

    fn sdk_retries(&self) -> u64 {
        self.retries.get()
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

#[cfg(test)]
mod tests {
    use super::*;

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
