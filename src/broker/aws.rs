//! The real backend: Amazon SQS and CloudWatch through the AWS SDK for Rust.
//!
//! Credentials and region come from aws-config's standard chain (environment,
//! profiles, SSO, web identity, container and instance roles), optionally narrowed by
//! `--profile` / `--region`, and `--endpoint-url` points both clients at an
//! SQS-compatible server such as LocalStack.
//!
//! Every SDK error goes through one helper, [`map_sdk_error`], which sorts it into a
//! [`BrokerError`] the UI can explain and the pollers can back off on. The SDK's own
//! retries are kept short (two attempts) so that the pollers' backoff is in charge.

use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::bail;
use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_cloudwatch::types::{
    AlarmType, Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, StateValue,
};
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::config::retry::RetryConfig;
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use aws_sdk_sqs::config::{Credentials, Region};
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry,
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    MessageSystemAttributeNameForSends, MessageSystemAttributeValue, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use chrono::{DateTime, Utc};

use super::{
    AlarmState, BatchOutcome, Broker, BrokerError, BrokerResult, DEFAULT_MAX_MESSAGE_BYTES,
    Message, MessageAttribute, MoveTask, OutgoingMessage, QueueAttrs, QueueMetrics, QueueRef,
    QueueSelection, RedrivePolicy,
};

/// Connect timeout for every call.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Upper bound for one attempt of a call.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(6);
/// Upper bound for a whole call, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound for a CloudWatch call.
const METRICS_TIMEOUT: Duration = Duration::from_secs(30);
/// The SDK's own attempts per call; the pollers' backoff does the rest.
const MAX_ATTEMPTS: u32 = 2;
/// SQS batch calls take at most this many entries.
const SQS_BATCH: usize = 10;
/// GetMetricData takes at most this many queries per call.
const MAX_METRIC_QUERIES: usize = 500;
/// The four metrics we ask for per queue.
const METRICS_PER_QUEUE: usize = 4;
/// How far back GetMetricData looks for the latest datapoint.
const METRIC_WINDOW: Duration = Duration::from_secs(10 * 60);
/// CloudWatch publishes SQS metrics once a minute.
const METRIC_PERIOD_SECS: i32 = 60;
/// SQS limits.
const MAX_VISIBILITY_SECS: u64 = 12 * 60 * 60;
const MAX_DELAY_SECS: u64 = 15 * 60;

/// Where to connect: all optional, the standard chain fills the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    /// A named profile from ~/.aws/config (`--profile`).
    pub profile: Option<String>,
    /// The region (`--region`); else from the environment or the profile.
    pub region: Option<String>,
    /// An SQS-compatible endpoint such as `http://127.0.0.1:4566` (`--endpoint-url`).
    pub endpoint_url: Option<String>,
}

/// Amazon SQS and CloudWatch (or a compatible server) behind the [`Broker`] trait.
#[derive(Debug, Clone)]
pub struct AwsBroker {
    sqs: aws_sdk_sqs::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    /// For the status bar.
    description: String,
    /// How errors name the SQS side ("http://127.0.0.1:4566", "SQS in eu-west-1").
    sqs_target: String,
    /// How errors name the CloudWatch side.
    cloudwatch_target: String,
}

impl AwsBroker {
    /// Resolves configuration through aws-config's standard chain, narrowed by `opts`.
    ///
    /// Does no network I/O itself: credentials are resolved on the first call. With an
    /// endpoint URL and no AWS credentials or config on this machine, it uses the
    /// static pair `test`/`test` and region `us-east-1`, which local servers accept.
    pub async fn connect(opts: &AwsOptions) -> anyhow::Result<AwsBroker> {
        let local_without_credentials =
            opts.endpoint_url.is_some() && opts.profile.is_none() && !has_credentials_hint();

        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(MAX_ATTEMPTS)
                    .with_initial_backoff(Duration::from_millis(200)),
            );
        if let Some(profile) = &opts.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &opts.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = &opts.region {
            loader = loader.region(Region::new(region.clone()));
        } else if local_without_credentials {
            let region = env_nonempty("AWS_REGION")
                .or_else(|| env_nonempty("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_string());
            loader = loader.region(Region::new(region));
        }
        if local_without_credentials {
            loader = loader.credentials_provider(Credentials::new(
                "test",
                "test",
                None,
                None,
                "lazysqs-local-endpoint",
            ));
        }
        let mut config = loader.load().await;

        if config.region().is_none() {
            if opts.endpoint_url.is_some() {
                config = config.to_builder().region(Region::new("us-east-1")).build();
            } else {
                bail!(
                    "no AWS region configured: pass --region, set AWS_REGION, \
                     or set a region in your AWS profile"
                );
            }
        }
        let region = config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_string());

        let (description, sqs_target, cloudwatch_target) = match &opts.endpoint_url {
            Some(url) => {
                // Shown and logged without user info or query secrets.
                let shown = crate::redact::url(url);
                (format!("{shown} ({region})"), shown.clone(), shown)
            }
            None => {
                let mut description = format!("AWS {region}");
                if let Some(profile) = &opts.profile {
                    description.push_str(&format!(" (profile {profile})"));
                }
                (
                    description,
                    format!("SQS in {region}"),
                    format!("CloudWatch in {region}"),
                )
            }
        };

        Ok(AwsBroker::from_parts(
            &config,
            description,
            sqs_target,
            cloudwatch_target,
        ))
    }

    fn from_parts(
        config: &aws_config::SdkConfig,
        description: String,
        sqs_target: String,
        cloudwatch_target: String,
    ) -> AwsBroker {
        AwsBroker {
            sqs: aws_sdk_sqs::Client::new(config),
            // GetMetricData is polled once a minute and can be slow on a large
            // metric store: it gets more time than the SQS calls.
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(config)
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(CONNECT_TIMEOUT)
                            .operation_attempt_timeout(METRICS_TIMEOUT)
                            .operation_timeout(METRICS_TIMEOUT)
                            .build(),
                    )
                    .build(),
            ),
            description,
            sqs_target,
            cloudwatch_target,
        }
    }

    fn sqs_err<E>(&self, err: SdkError<E, HttpResponse>) -> BrokerError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        map_sdk_error(&self.sqs_target, err)
    }

    fn cw_err<E>(&self, err: SdkError<E, HttpResponse>) -> BrokerError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        map_sdk_error(&self.cloudwatch_target, err)
    }

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

    /// One GetMetricData call (plus its NextToken pages) for at most 500 queries.
    /// Returns, per query id, the latest datapoint.
    async fn latest_datapoints(
        &self,
        queries: Vec<MetricDataQuery>,
    ) -> BrokerResult<HashMap<String, f64>> {
        let end = SystemTime::now();
        let start = end
            .checked_sub(METRIC_WINDOW)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        // id -> (timestamp in seconds, value)
        let mut latest: HashMap<String, (f64, f64)> = HashMap::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .cloudwatch
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(aws_sdk_cloudwatch::primitives::DateTime::from(start))
                .end_time(aws_sdk_cloudwatch::primitives::DateTime::from(end))
                .scan_by(ScanBy::TimestampDescending)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| self.cw_err(e))?;
            for result in out.metric_data_results() {
                let Some(id) = result.id() else { continue };
                for (ts, value) in result.timestamps().iter().zip(result.values()) {
                    let ts = ts.as_secs_f64();
                    let newer = latest.get(id).is_none_or(|(seen, _)| ts > *seen);
                    if newer {
                        latest.insert(id.to_string(), (ts, *value));
                    }
                }
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(latest.into_iter().map(|(id, (_, v))| (id, v)).collect())
    }
}

#[async_trait]
impl Broker for AwsBroker {
    fn describe(&self) -> String {
        self.description.clone()
    }

    async fn list_queues(&self, selection: &QueueSelection) -> BrokerResult<Vec<QueueRef>> {
        let mut found: BTreeMap<String, QueueRef> = BTreeMap::new();
        let mut add = |url: String| {
            let q = queue_ref_from_url(&url);
            found.entry(q.name.clone()).or_insert(q);
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
            sources.extend(out.queue_urls().iter().map(|u| queue_ref_from_url(u)));
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
        let mut metrics = vec![QueueMetrics::default(); queues.len()];
        let per_call = MAX_METRIC_QUERIES / METRICS_PER_QUEUE;
        for (chunk_no, chunk) in queues.chunks(per_call).enumerate() {
            let base = chunk_no * per_call;
            let queries: Vec<MetricDataQuery> = chunk
                .iter()
                .enumerate()
                .flat_map(|(i, q)| metric_queries(base + i, &q.name))
                .collect();
            let latest = self.latest_datapoints(queries).await?;
            for (i, _) in chunk.iter().enumerate() {
                let index = base + i;
                let get = |kind: MetricKind| {
                    latest
                        .get(&metric_id(index, kind))
                        .copied()
                        .and_then(usable)
                };
                metrics[index] = QueueMetrics {
                    age_of_oldest: get(MetricKind::Age)
                        .and_then(|secs| Duration::try_from_secs_f64(secs).ok()),
                    sent_per_min: get(MetricKind::Sent),
                    received_per_min: get(MetricKind::Received),
                    deleted_per_min: get(MetricKind::Deleted),
                };
            }
        }
        Ok(metrics)
    }

    async fn alarm_state(&self, alarm: &str) -> BrokerResult<AlarmState> {
        let out = self
            .cloudwatch
            .describe_alarms()
            .alarm_names(alarm)
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .send()
            .await
            .map_err(|e| self.cw_err(e))?;
        let state = out
            .metric_alarms()
            .iter()
            .filter(|a| a.alarm_name() == Some(alarm))
            .find_map(|a| a.state_value())
            .or_else(|| {
                out.composite_alarms()
                    .iter()
                    .filter(|a| a.alarm_name() == Some(alarm))
                    .find_map(|a| a.state_value())
            });
        match state {
            Some(StateValue::Ok) => Ok(AlarmState::Ok),
            Some(StateValue::Alarm) => Ok(AlarmState::Alarm),
            Some(StateValue::InsufficientData) => Ok(AlarmState::InsufficientData),
            Some(other) => Err(BrokerError::Other(format!(
                "alarm {alarm} has an unknown state {}",
                other.as_str()
            ))),
            None => Err(BrokerError::NotFound(format!(
                "no CloudWatch alarm named {alarm}"
            ))),
        }
    }

    async fn receive(
        &self,
        queue: &QueueRef,
        max: u32,
        visibility: Duration,
    ) -> BrokerResult<Vec<Message>> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(max.clamp(1, SQS_BATCH as u32) as i32)
            .visibility_timeout(secs_i32(visibility, MAX_VISIBILITY_SECS))
            .wait_time_seconds(0)
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
        let mut entries = Vec::with_capacity(messages.len());
        for (index, m) in messages.into_iter().enumerate() {
            let entry = SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(m.body)
                .set_message_attributes(to_sdk_attributes(&m.attributes)?)
                .set_message_system_attributes(trace_attribute(m.trace_header)?)
                .set_message_group_id(m.group_id)
                .set_message_deduplication_id(m.dedup_id)
                .set_delay_seconds(m.delay.map(|d| secs_i32(d, MAX_DELAY_SECS)))
                .build()
                .map_err(|e| BrokerError::Invalid(e.to_string()))?;
            entries.push(entry);
        }
        let total = entries.len();
        run_batches(total, entries, |chunk| async move {
            let out = self
                .sqs
                .send_message_batch()
                .queue_url(&queue.url)
                .set_entries(Some(chunk))
                .send()
                .await
                .map_err(|e| self.sqs_err(e))?;
            let ok = out
                .successful()
                .iter()
                .map(|s| (s.id().to_string(), Ok(s.message_id().to_string())));
            let failed = out.failed().iter().map(batch_entry_error);
            Ok(ok.chain(failed).collect())
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
        let mut entries = Vec::with_capacity(receipt_handles.len());
        for (index, handle) in receipt_handles.into_iter().enumerate() {
            let entry = DeleteMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .receipt_handle(handle)
                .build()
                .map_err(|e| BrokerError::Invalid(e.to_string()))?;
            entries.push(entry);
        }
        let total = entries.len();
        run_batches(total, entries, |chunk| async move {
            let out = self
                .sqs
                .delete_message_batch()
                .queue_url(&queue.url)
                .set_entries(Some(chunk))
                .send()
                .await
                .map_err(|e| self.sqs_err(e))?;
            let ok = out
                .successful()
                .iter()
                .map(|s| (s.id().to_string(), Ok(())));
            let failed = out.failed().iter().map(batch_entry_error);
            Ok(ok.chain(failed).collect())
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
        let mut entries = Vec::with_capacity(receipt_handles.len());
        for (index, handle) in receipt_handles.into_iter().enumerate() {
            let entry = ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(index.to_string())
                .receipt_handle(handle)
                .visibility_timeout(secs)
                .build()
                .map_err(|e| BrokerError::Invalid(e.to_string()))?;
            entries.push(entry);
        }
        let total = entries.len();
        run_batches(total, entries, |chunk| async move {
            let out = self
                .sqs
                .change_message_visibility_batch()
                .queue_url(&queue.url)
                .set_entries(Some(chunk))
                .send()
                .await
                .map_err(|e| self.sqs_err(e))?;
            let ok = out
                .successful()
                .iter()
                .map(|s| (s.id().to_string(), Ok(())));
            let failed = out.failed().iter().map(batch_entry_error);
            Ok(ok.chain(failed).collect())
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
                status: t.status().unwrap_or("UNKNOWN").to_string(),
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
async fn run_batches<E, T, F, Fut>(
    total: usize,
    entries: Vec<E>,
    mut call: F,
) -> BrokerResult<BatchOutcome<T>>
where
    T: Clone,
    F: FnMut(Vec<E>) -> Fut,
    Fut: std::future::Future<Output = BrokerResult<Vec<(String, BrokerResult<T>)>>>,
{
    let mut outcome: BatchOutcome<T> = Vec::with_capacity(total);
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

#[derive(Debug, Clone, Copy)]
enum MetricKind {
    Age,
    Sent,
    Received,
    Deleted,
}

impl MetricKind {
    const ALL: [MetricKind; METRICS_PER_QUEUE] = [
        MetricKind::Age,
        MetricKind::Sent,
        MetricKind::Received,
        MetricKind::Deleted,
    ];

    fn metric_name(self) -> &'static str {
        match self {
            MetricKind::Age => "ApproximateAgeOfOldestMessage",
            MetricKind::Sent => "NumberOfMessagesSent",
            MetricKind::Received => "NumberOfMessagesReceived",
            MetricKind::Deleted => "NumberOfMessagesDeleted",
        }
    }

    fn stat(self) -> &'static str {
        match self {
            MetricKind::Age => "Maximum",
            _ => "Sum",
        }
    }

    fn short(self) -> &'static str {
        match self {
            MetricKind::Age => "age",
            MetricKind::Sent => "sent",
            MetricKind::Received => "recv",
            MetricKind::Deleted => "del",
        }
    }
}

/// A GetMetricData query id: must match `^[a-z][a-zA-Z0-9_]*$`.
fn metric_id(queue_index: usize, kind: MetricKind) -> String {
    format!("q{queue_index}_{}", kind.short())
}

fn metric_queries(queue_index: usize, queue_name: &str) -> Vec<MetricDataQuery> {
    MetricKind::ALL
        .iter()
        .map(|&kind| {
            MetricDataQuery::builder()
                .id(metric_id(queue_index, kind))
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace("AWS/SQS")
                                .metric_name(kind.metric_name())
                                .dimensions(
                                    Dimension::builder()
                                        .name("QueueName")
                                        .value(queue_name)
                                        .build(),
                                )
                                .build(),
                        )
                        .period(METRIC_PERIOD_SECS)
                        .stat(kind.stat())
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect()
}

/// The queue at a queue URL: its name is the last path segment.
fn queue_ref_from_url(url: &str) -> QueueRef {
    let name = url.trim_end_matches('/').rsplit('/').next().unwrap_or(url);
    QueueRef {
        name: name.to_string(),
        url: url.to_string(),
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

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Whether AWS credentials or configuration are likely present, without any network
/// call: credential environment variables, a profile, web identity, container
/// credentials, or ~/.aws/credentials or ~/.aws/config. The CLI uses it to choose
/// between the demo and AWS.
pub fn has_credentials_hint() -> bool {
    credentials_hint_from(env_nonempty, dirs::home_dir().as_deref())
}

fn credentials_hint_from(env: impl Fn(&str) -> Option<String>, home: Option<&Path>) -> bool {
    const VARS: [&str; 6] = [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ];
    if VARS.iter().any(|v| env(v).is_some()) {
        return true;
    }
    let file_from_env = |v: &str| env(v).is_some_and(|p| Path::new(&p).is_file());
    if file_from_env("AWS_SHARED_CREDENTIALS_FILE") || file_from_env("AWS_CONFIG_FILE") {
        return true;
    }
    home.is_some_and(|h| {
        h.join(".aws").join("credentials").is_file() || h.join(".aws").join("config").is_file()
    })
}

/// Sorts any SDK error into a [`BrokerError`]. `target` names what we talked to, for
/// messages such as "cannot reach http://127.0.0.1:4566: connection refused".
pub(crate) fn map_sdk_error<E>(target: &str, err: SdkError<E, HttpResponse>) -> BrokerError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            let message = service
                .err()
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
            classify_code(code, &message, Some(status))
        }
        SdkError::TimeoutError(_) => BrokerError::Unreachable(format!(
            "{target} did not answer within {}s",
            OPERATION_TIMEOUT.as_secs()
        )),
        SdkError::DispatchFailure(failure) => {
            let chain = error_chain(&err);
            if let Some(reason) = credentials_reason(&chain) {
                BrokerError::Auth(reason)
            } else if failure.is_user() {
                BrokerError::Invalid(format!("request to {target} failed: {}", chain.join(": ")))
            } else {
                BrokerError::Unreachable(format!("cannot reach {target}: {}", root_cause(&err)))
            }
        }
        SdkError::ResponseError(response) => {
            let status = response.raw().status().as_u16();
            let detail = format!(
                "unexpected response from {target} (HTTP {status}): {}",
                DisplayErrorContext(&err)
            );
            match status {
                401 | 403 => BrokerError::Auth(detail),
                429 => BrokerError::Throttled(detail),
                _ => BrokerError::Other(detail),
            }
        }
        SdkError::ConstructionFailure(_) => {
            let chain = error_chain(&err);
            if let Some(reason) = credentials_reason(&chain) {
                BrokerError::Auth(reason)
            } else {
                BrokerError::Invalid(format!("could not build the request: {}", chain.join(": ")))
            }
        }
        _ => BrokerError::Other(DisplayErrorContext(&err).to_string()),
    }
}

/// Sorts an AWS error code (from a service error or a batch entry) into a
/// [`BrokerError`]. Codes arrive in both the JSON form (`QueueDoesNotExist`) and the
/// query-compatible form (`AWS.SimpleQueueService.NonExistentQueue`).
fn classify_code(code: &str, message: &str, status: Option<u16>) -> BrokerError {
    let short = code.rsplit('.').next().unwrap_or(code);
    let short = short.strip_suffix("Exception").unwrap_or(short);
    let text = if message.is_empty() {
        code.to_string()
    } else if code.is_empty() {
        message.to_string()
    } else {
        format!("{code}: {message}")
    };
    const THROTTLED: &[&str] = &[
        "Throttling",
        "Throttled",
        "RequestThrottled",
        "OverLimit",
        "TooManyRequests",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceeded",
        "TransactionInProgress",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "KmsThrottled",
    ];
    const AUTH: &[&str] = &[
        "AccessDenied",
        "NotAuthorized",
        "AuthFailure",
        "AuthorizationError",
        "ExpiredToken",
        "InvalidClientTokenId",
        "UnrecognizedClient",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidSignature",
        "MissingAuthenticationToken",
        "MissingClientTokenId",
        "InvalidSecurity",
        "RequestExpired",
        "OptInRequired",
        "KmsAccessDenied",
        "InvalidToken",
    ];
    const NOT_FOUND: &[&str] = &[
        "QueueDoesNotExist",
        "NonExistentQueue",
        "ResourceNotFound",
        "NotFound",
        "QueueDeletedRecently",
    ];
    const UNSUPPORTED: &[&str] = &[
        "UnsupportedOperation",
        "InvalidAction",
        "UnknownOperation",
        "NotImplemented",
    ];
    if THROTTLED.contains(&short) || short.contains("Throttl") || status == Some(429) {
        BrokerError::Throttled(text)
    } else if AUTH.contains(&short) || short.starts_with("AccessDenied") {
        BrokerError::Auth(text)
    } else if NOT_FOUND.contains(&short) {
        BrokerError::NotFound(text)
    } else if UNSUPPORTED.contains(&short) || message.contains("not yet implemented") {
        BrokerError::Unsupported(text)
    } else if short.starts_with("Invalid")
        || short.starts_with("Missing")
        || short.starts_with("Validation")
        || short.contains("Batch")
        || short.ends_with("TooLong")
        || matches!(
            short,
            "ReceiptHandleIsInvalid" | "MessageNotInflight" | "PurgeQueueInProgress"
        )
    {
        BrokerError::Invalid(text)
    } else {
        match status {
            Some(401 | 403) => BrokerError::Auth(text),
            Some(404) => BrokerError::NotFound(text),
            _ => BrokerError::Other(text),
        }
    }
}

/// The Display of `err` and each of its sources, without repeats.
fn error_chain(err: &(dyn StdError + 'static)) -> Vec<String> {
    let mut chain: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && chain.last() != Some(&text) {
            chain.push(text);
        }
        current = e.source();
    }
    chain
}

/// When the chain says the credentials could not be loaded: a readable reason, from
/// the first error that mentions them down to the root cause.
fn credentials_reason(chain: &[String]) -> Option<String> {
    let first = chain.iter().position(|s| {
        let s = s.to_ascii_lowercase();
        s.contains("credential") || s.contains("sso session") || s.contains("sso token")
    })?;
    Some(format!(
        "could not load AWS credentials: {}",
        chain[first..].join(": ")
    ))
}

/// A short reason for a connection failure: "connection refused", "timed out", or the
/// innermost error's text.
fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut current = Some(err);
    let mut last = err.to_string();
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind;
            return match io.kind() {
                ErrorKind::ConnectionRefused => "connection refused".to_string(),
                ErrorKind::ConnectionReset => "connection reset".to_string(),
                ErrorKind::ConnectionAborted => "connection aborted".to_string(),
                ErrorKind::TimedOut => "connection timed out".to_string(),
                ErrorKind::AddrNotAvailable => "address not available".to_string(),
                _ => io.to_string(),
            };
        }
        let text = e.to_string();
        if !text.is_empty() {
            last = text;
        }
        current = e.source();
    }
    let lower = last.to_ascii_lowercase();
    if lower.contains("timed out") || lower.contains("timeout") {
        "connection timed out".to_string()
    } else {
        last
    }
}

/// A datapoint as a figure: NaN and infinities are no data, negatives and
/// subnormals are zero.
fn usable(v: f64) -> Option<f64> {
    if !v.is_finite() {
        None
    } else if v < f64::MIN_POSITIVE {
        Some(0.0)
    } else {
        Some(v)
    }
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
    fn datapoints_that_are_not_numbers_are_no_data() {
        assert_eq!(usable(f64::NAN), None);
        assert_eq!(usable(f64::INFINITY), None);
        assert_eq!(usable(-3.0), Some(0.0));
        assert_eq!(usable(f64::MIN_POSITIVE / 2.0), Some(0.0));
        assert_eq!(usable(42.0), Some(42.0));
    }

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
        let q = queue_ref_from_url("http://127.0.0.1:4566/queue/us-east-1/000000000000/orders");
        assert_eq!(q.name, "orders");
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
    fn metric_ids_are_valid_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for i in [0usize, 1, 124, 125, 1049] {
            for kind in MetricKind::ALL {
                let id = metric_id(i, kind);
                let mut chars = id.chars();
                assert!(chars.next().is_some_and(|c| c.is_ascii_lowercase()), "{id}");
                assert!(chars.all(|c| c.is_ascii_alphanumeric() || c == '_'), "{id}");
                assert!(seen.insert(id));
            }
        }
        assert_eq!(
            MAX_METRIC_QUERIES / METRICS_PER_QUEUE * METRICS_PER_QUEUE,
            500
        );
    }

    #[test]
    fn codes_are_classified() {
        use BrokerError::*;
        let kind = |code: &str| classify_code(code, "msg", Some(400)).kind();
        assert_eq!(kind("ThrottlingException"), Throttled(String::new()).kind());
        assert_eq!(kind("RequestThrottled"), "throttled");
        assert_eq!(kind("AWS.SimpleQueueService.RequestThrottled"), "throttled");
        assert_eq!(kind("OverLimit"), "throttled");
        assert_eq!(kind("ExpiredToken"), "credentials");
        assert_eq!(kind("InvalidClientTokenId"), "credentials");
        assert_eq!(kind("SignatureDoesNotMatch"), "credentials");
        assert_eq!(kind("AccessDeniedException"), "credentials");
        assert_eq!(kind("AccessDenied"), "credentials");
        assert_eq!(kind("AWS.SimpleQueueService.NonExistentQueue"), "not found");
        assert_eq!(kind("QueueDoesNotExist"), "not found");
        assert_eq!(kind("ResourceNotFoundException"), "not found");
        assert_eq!(
            kind("AWS.SimpleQueueService.UnsupportedOperation"),
            "unsupported"
        );
        assert_eq!(kind("InvalidParameterValue"), "invalid");
        assert_eq!(kind("MissingParameter"), "invalid");
        assert_eq!(kind("ReceiptHandleIsInvalid"), "invalid");
        assert_eq!(
            kind("AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
            "invalid"
        );
        assert_eq!(kind("InternalError"), "error");
        assert_eq!(classify_code("", "", Some(429)).kind(), "throttled");
        assert_eq!(classify_code("", "", Some(403)).kind(), "credentials");
        assert_eq!(
            classify_code(
                "InternalFailure",
                "API action 'X' not yet implemented",
                None
            )
            .kind(),
            "unsupported"
        );
    }

    #[test]
    fn credentials_hint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = |_: &str| None::<String>;
        assert!(!credentials_hint_from(none, Some(dir.path())));
        assert!(!credentials_hint_from(none, None));
        assert!(credentials_hint_from(
            |v: &str| (v == "AWS_PROFILE").then(|| "prod".to_string()),
            None
        ));
        assert!(credentials_hint_from(
            |v: &str| (v == "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").then(|| "/x".to_string()),
            None
        ));
        std::fs::create_dir(dir.path().join(".aws")).expect("mkdir");
        std::fs::write(dir.path().join(".aws/config"), "[default]\n").expect("write");
        assert!(credentials_hint_from(none, Some(dir.path())));
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
        let outcome = run_batches(25, (0..25).collect::<Vec<usize>>(), |chunk| {
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

        let first_fails = run_batches(3, vec![1, 2, 3], |_chunk| async {
            Err::<Vec<(String, BrokerResult<()>)>, _>(BrokerError::Unreachable("x".into()))
        })
        .await;
        assert!(matches!(first_fails, Err(BrokerError::Unreachable(_))));

        let empty = run_batches(0, Vec::<u8>::new(), |_chunk| async {
            Ok::<Vec<(String, BrokerResult<()>)>, BrokerError>(vec![])
        })
        .await;
        assert_eq!(empty, Ok(vec![]));
    }

    #[tokio::test]
    async fn failing_credentials_are_an_auth_error() {
        // Only a profile provider for a profile that does not exist (no fallback to
        // instance metadata), and an endpoint nothing listens on: the credential
        // lookup fails before any connection is tried.
        let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_name("lazysqs-test-no-such-profile")
            .build();
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:1")
            .credentials_provider(provider)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .load()
            .await;
        let broker = AwsBroker::from_parts(&config, "test".into(), "sqs".into(), "cw".into());
        let err = broker
            .list_queues(&QueueSelection::default())
            .await
            .expect_err("no credentials");
        match &err {
            BrokerError::Auth(msg) => {
                assert!(msg.starts_with("could not load AWS credentials: "), "{msg}");
            }
            other => panic!("expected Auth, got {other:?}"),
        }
    }
}
