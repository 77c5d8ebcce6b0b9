//! CloudWatch: the latest complete datapoint of four SQS metrics per queue, up to
//! 500 metric queries per GetMetricData call, and alarm states for breakers.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{
    AlarmType, Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, StateValue,
};

use super::AwsBroker;
use crate::broker::{AlarmState, BrokerError, BrokerResult, QueueMetrics, QueueRef};

/// GetMetricData takes at most this many queries per call.
const MAX_METRIC_QUERIES: usize = 500;
/// The four metrics we ask for per queue.
const METRICS_PER_QUEUE: usize = 4;
/// How far back GetMetricData looks for the latest datapoint.
const METRIC_WINDOW: Duration = Duration::from_secs(10 * 60);
/// CloudWatch publishes SQS metrics once a minute.
const METRIC_PERIOD_SECS: i32 = 60;

impl AwsBroker {
    /// One GetMetricData call (plus its NextToken pages) for at most 500 queries.
    /// Returns, per query id, the latest complete minute's datapoint (the newest
    /// minute may still be filling), or the newest when none is complete yet,
    /// with the minute's start in seconds.
    async fn latest_datapoints(
        &self,
        queries: Vec<MetricDataQuery>,
    ) -> BrokerResult<HashMap<String, (f64, f64)>> {
        let end = SystemTime::now();
        let start = end
            .checked_sub(METRIC_WINDOW)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let now = end
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let complete = |ts: f64| ts + f64::from(METRIC_PERIOD_SECS) <= now;
        // id -> (timestamp in seconds, value): complete minutes win over a partial one.
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
                    let better = |seen: f64| match (complete(ts), complete(seen)) {
                        (true, false) => true,
                        (false, true) => false,
                        _ => ts > seen,
                    };
                    let newer = latest.get(id).is_none_or(|(seen, _)| better(*seen));
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
        Ok(latest)
    }

    pub(super) async fn fetch_metrics(
        &self,
        queues: &[QueueRef],
    ) -> BrokerResult<Vec<QueueMetrics>> {
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
                        .and_then(|(_, v)| usable(*v))
                };
                let minute = [MetricKind::Sent, MetricKind::Deleted]
                    .into_iter()
                    .filter_map(|k| latest.get(&metric_id(index, k)).map(|(ts, _)| *ts))
                    .fold(None, |m: Option<f64>, ts| Some(m.map_or(ts, |m| m.max(ts))))
                    .and_then(|ts| chrono::DateTime::from_timestamp(ts as i64, 0));
                metrics[index] = QueueMetrics {
                    age_of_oldest: get(MetricKind::Age)
                        .and_then(|secs| Duration::try_from_secs_f64(secs).ok()),
                    sent_per_min: get(MetricKind::Sent),
                    received_per_min: get(MetricKind::Received),
                    deleted_per_min: get(MetricKind::Deleted),
                    minute,
                };
            }
        }
        Ok(metrics)
    }

    pub(super) async fn read_alarm(&self, alarm: &str) -> BrokerResult<AlarmState> {
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
}
