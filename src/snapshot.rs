//! One headless poll of the selected queues: what `lazysqs snapshot` prints and what
//! `lazysqs check` judges.
//!
//! It watches what the dashboard would (the same `Cli::connect`, selection, config
//! and breakers) and judges with the same rules (`crate::health`). The calls of one
//! poll run concurrently, at most `refresh.max_concurrency` in flight:
//!
//! - per queue: GetQueueAttributes, then ListDeadLetterSourceQueues when the queue
//!   has no redrive policy of its own (so it may be a DLQ);
//! - CloudWatch metrics for every queue in one batched call;
//! - each configured breaker whose state is read from outside (alarm, HTTP, demo).
//!
//! A breaker that follows a rule on a DLQ is judged from the poll itself, with
//! [`breaker::judge_dlq_rule_once`].

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use serde::{Serialize, Serializer};

use crate::breaker::{self, BreakerReading, BreakerState, DemoBreakers};
use crate::broker::{
    Broker, BrokerError, BrokerResult, Discovery, QueueAttrs, QueueMetrics, QueueRef,
    QueueSelection, name_from_arn,
};
use crate::config::{BreakerConfig, BreakerSourceConfig, Thresholds};
use crate::health::{self, Drain, Flag, QueueFacts};

/// How far the demo's simulation is run before its one poll, so that there is
/// traffic, rates and a few dead letters to see.
pub(crate) const DEMO_WARMUP: Duration = Duration::from_secs(120);

/// What to poll, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the data comes from ("demo: coffee-shop", "AWS us-east-1").
    pub source: String,
    pub demo: bool,
    /// Said with the output (the demo's warm-up).
    pub note: Option<String>,
    pub selection: QueueSelection,
    /// Most calls in flight at once (`refresh.max_concurrency`).
    pub max_concurrency: usize,
    pub thresholds: Thresholds,
    pub breakers: Vec<BreakerConfig>,
    /// Whether to ask CloudWatch for rates and ages (GetMetricData is billed per metric).
    pub metrics: bool,
}

/// The result of one poll. Serialized as the `snapshot --json` output, whose shape
/// is documented in the README ("Snapshot JSON").
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// When the poll started.
    #[serde(serialize_with = "rfc3339")]
    pub polled_at: DateTime<Utc>,
    pub source: String,
    pub demo: bool,
    pub note: Option<String>,
    /// Sorted by name.
    pub queues: Vec<QueueSnapshot>,
    pub breakers: Vec<BreakerSnapshot>,
    /// Whether CloudWatch was asked (`--no-metrics` skips it).
    pub metrics_polled: bool,
    /// Why the CloudWatch figures are missing, if the metrics call failed.
    pub metrics_error: Option<String>,
    /// The regions or accounts whose queues could not be listed, and why; the
    /// others are in `queues`.
    pub listing_errors: Vec<String>,
}

/// One queue: every figure of the queue pane. `None` (JSON null) means no data,
/// never zero.
#[derive(Debug, Clone, Serialize)]
pub struct QueueSnapshot {
    pub name: String,
    pub url: String,
    /// Where the queue lives; `null` when not known (the demo).
    pub region: Option<String>,
    pub account: Option<String>,
    pub fifo: bool,
    pub visible: Option<u64>,
    pub in_flight: Option<u64>,
    pub delayed: Option<u64>,
    /// visible + in flight + delayed.
    pub depth: Option<u64>,
    pub age_of_oldest_secs: Option<u64>,
    /// Arrivals per minute: CloudWatch NumberOfMessagesSent in the latest
    /// minute, or for a DLQ polled twice (`--window`), its measured inflow when
    /// larger (CloudWatch does not count redrive-policy moves).
    pub arrival_per_min: Option<f64>,
    /// Where `arrival_per_min` comes from: `cloudwatch` or `depth`.
    pub arrival_source: &'static str,
    /// Arrivals per minute measured from the depth between two polls
    /// (`--window`): its increase, for a DLQ; `null` with one poll or for a
    /// queue that is consumed.
    pub measured_arrival_per_min: Option<f64>,
    /// The change in depth per minute between two polls; `null` with one poll.
    pub net_per_min: Option<f64>,
    /// CloudWatch NumberOfMessagesDeleted in the latest minute.
    pub consumption_per_min: Option<f64>,
    /// empty, stalled, steady, growing or draining (then `drain_secs`).
    #[serde(serialize_with = "drain_label")]
    pub drain: Option<Drain>,
    pub drain_secs: Option<u64>,
    pub retention_secs: Option<u64>,
    /// The DLQ this queue's redrive policy sends failures to.
    pub dlq: Option<String>,
    /// That DLQ's depth, when it is among the polled queues.
    pub dlq_depth: Option<u64>,
    pub max_receive_count: Option<u32>,
    /// The queues that send their failures here.
    pub dlq_sources: Vec<String>,
    pub is_dlq: bool,
    /// The breaker guarding this queue's consumer.
    pub breaker: Option<QueueBreaker>,
    pub flags: Vec<Flag>,
    /// What could not be read for this queue.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueBreaker {
    pub name: String,
    pub state: BreakerState,
    /// Where the state comes from ("alarm payments-errors", "GET http://…").
    pub source: String,
}

/// A configured breaker, as the breaker pane shows it.
#[derive(Debug, Clone, Serialize)]
pub struct BreakerSnapshot {
    pub name: String,
    /// The queue whose consumer it guards.
    pub queue: Option<String>,
    pub state: BreakerState,
    pub source: String,
    pub detail: String,
    /// Why the state could not be read (it is then UNKNOWN).
    pub error: Option<String>,
}

impl Snapshot {
    /// This (second) poll with the rates measured since `first`, taken `window`
    /// before: the net change of every queue's depth, and a DLQ's inflow, which
    /// becomes its arrival when CloudWatch shows less.
    pub(crate) fn measured_since(mut self, first: &Snapshot, window: Duration) -> Snapshot {
        let minutes = window.as_secs_f64() / 60.0;
        if minutes <= 0.0 {
            return self;
        }
        for q in &mut self.queues {
            let before = first
                .queues
                .iter()
                .find(|f| f.url == q.url)
                .and_then(|f| f.depth);
            let (Some(before), Some(now)) = (before, q.depth) else {
                continue;
            };
            q.net_per_min = Some((now as f64 - before as f64) / minutes);
            if q.is_dlq {
                let inflow = now.saturating_sub(before) as f64 / minutes;
                q.measured_arrival_per_min = Some(inflow);
                if q.arrival_per_min.is_none_or(|cw| inflow > cw) {
                    q.arrival_per_min = Some(inflow);
                    q.arrival_source = "depth";
                }
            }
            q.drain = Drain::of(q.depth, q.arrival_per_min, q.consumption_per_min);
            q.drain_secs = q.drain.and_then(Drain::secs);
        }
        self
    }

    /// Whether nothing at all could be read: queues were listed but every one failed.
    pub(crate) fn all_failed(&self) -> bool {
        !self.queues.is_empty()
            && self
                .queues
                .iter()
                .all(|q| q.error.is_some() && q.depth.is_none())
    }
}

fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// One unit of work of a poll.
enum Job {
    Metrics,
    Queue(usize),
    Breaker(usize),
}

/// Its result.
enum Done {
    Metrics(BrokerResult<Vec<QueueMetrics>>),
    Queue(
        usize,
        BrokerResult<QueueAttrs>,
        Option<BrokerResult<Vec<QueueRef>>>,
    ),
    Breaker(usize, BrokerResult<BreakerReading>),
}

async fn run_job(
    broker: &dyn Broker,
    demo: Option<&dyn DemoBreakers>,
    queues: &[QueueRef],
    breakers: &[BreakerConfig],
    job: Job,
) -> Done {
    match job {
        Job::Metrics => Done::Metrics(broker.metrics(queues).await),
        Job::Queue(i) => {
            let q = &queues[i];
            let attrs = broker.queue_attributes(q).await;
            // The reverse DLQ link, for queues that have no redrive policy themselves.
            let sources = match &attrs {
                Ok(a) if a.redrive.is_none() => Some(broker.dead_letter_sources(q).await),
                _ => None,
            };
            Done::Queue(i, attrs, sources)
        }
        Job::Breaker(i) => Done::Breaker(i, breaker::read(broker, demo, &breakers[i]).await),
    }
}

fn judged_from_poll(cfg: &BreakerConfig) -> bool {
    matches!(cfg.source, BreakerSourceConfig::DlqRule { .. })
}

/// Polls once. Fails only when the queues cannot be listed; a queue, the metrics or
/// a breaker that cannot be read is recorded in the snapshot.
/// `demo` is the simulation's breakers, when the demo runs.
pub async fn take(
    broker: &dyn Broker,
    demo: Option<&dyn DemoBreakers>,
    opts: &Options,
) -> BrokerResult<Snapshot> {
    let polled_at = Utc::now();
    let listings = broker.list_queues_each(&opts.selection).await;
    let places = listings.len();
    let listed = Discovery::of_each(listings).or_all_failed(places)?;
    let mut queues = listed.found;
    let listing_errors: Vec<String> = listed
        .failed
        .iter()
        .map(|(place, e)| match place.as_str() {
            "" => e.to_string(),
            place => format!("{place}: {e}"),
        })
        .collect();
    queues.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.place.cmp(&b.place)));
    queues.dedup_by(|a, b| a.url == b.url);

    let jobs = (opts.metrics && !queues.is_empty())
        .then_some(Job::Metrics)
        .into_iter()
        .chain((0..queues.len()).map(Job::Queue))
        .chain(
            (0..opts.breakers.len())
                .filter(|&i| !judged_from_poll(&opts.breakers[i]))
                .map(Job::Breaker),
        );
    let done: Vec<Done> = futures::stream::iter(jobs)
        .map(|job| run_job(broker, demo, &queues, &opts.breakers, job))
        .buffer_unordered(opts.max_concurrency.max(1))
        .collect()
        .await;

    let n = queues.len();
    let mut attrs: Vec<Option<BrokerResult<QueueAttrs>>> = vec![None; n];
    let mut sources: Vec<Option<BrokerResult<Vec<QueueRef>>>> = vec![None; n];
    let mut metrics: Vec<Option<QueueMetrics>> = vec![None; n];
    let mut metrics_error = None;
    let mut readings: BTreeMap<usize, BrokerResult<BreakerReading>> = BTreeMap::new();
    for d in done {
        match d {
            Done::Metrics(Ok(m)) if m.len() == n => metrics = m.into_iter().map(Some).collect(),
            Done::Metrics(Ok(m)) => {
                metrics_error = Some(format!(
                    "metrics: asked for {n} queues, got figures for {}",
                    m.len()
                ));
            }
            Done::Metrics(Err(e)) => metrics_error = Some(format!("metrics: {e}")),
            Done::Queue(i, a, s) => {
                attrs[i] = Some(a);
                sources[i] = s;
            }
            Done::Breaker(i, r) => {
                readings.insert(i, r);
            }
        }
    }

    let ok_attrs = |i: usize| attrs[i].as_ref().and_then(|r| r.as_ref().ok());
    let index: BTreeMap<&str, usize> = queues
        .iter()
        .enumerate()
        .rev()
        .map(|(i, q)| (q.name.as_str(), i))
        .collect();
    // Links go by ARN: two regions may each have an orders-dlq.
    let by_arn: BTreeMap<&str, usize> = (0..queues.len())
        .filter_map(|i| ok_attrs(i).map(|a| (a.arn.as_str(), i)))
        .collect();
    let dlq_arn_of = |i: usize| {
        ok_attrs(i)
            .and_then(|a| a.redrive.as_ref())
            .map(|r| r.dlq_arn.as_str())
    };
    let dlq_of = |i: usize| dlq_arn_of(i).map(|arn| name_from_arn(arn).to_string());
    let depth_of = |i: usize| ok_attrs(i).map(QueueAttrs::depth);
    // DLQ ARN → the polled queues whose redrive policy points at it.
    let mut polled_sources: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (j, q) in queues.iter().enumerate() {
        if let Some(d) = dlq_arn_of(j) {
            polled_sources.entry(d).or_default().push(q.name.clone());
        }
    }

    // Breakers: read from outside, or judged from this poll.
    let breakers: Vec<BreakerSnapshot> = opts
        .breakers
        .iter()
        .enumerate()
        .map(|(i, cfg)| {
            let result = match &cfg.source {
                BreakerSourceConfig::DlqRule {
                    dlq,
                    max_messages,
                    window_minutes,
                } => match index.get(dlq.as_str()) {
                    Some(&j) => match attrs[j].as_ref() {
                        Some(Ok(a)) => Ok(breaker::judge_dlq_rule_once(
                            dlq,
                            a.depth(),
                            metrics[j].as_ref().and_then(|m| m.age_of_oldest),
                            *max_messages,
                            *window_minutes,
                        )),
                        Some(Err(e)) => Err(e.clone()),
                        None => Err(BrokerError::Other(format!("{dlq} was not read"))),
                    },
                    None => Err(BrokerError::NotFound(format!(
                        "the DLQ {dlq} is not among the polled queues"
                    ))),
                },
                _ => readings
                    .remove(&i)
                    .unwrap_or_else(|| Err(BrokerError::Other("the breaker was not read".into()))),
            };
            let (state, detail, error) = match result {
                Ok(r) => (r.state, r.detail, None),
                Err(e) => (BreakerState::Unknown, String::new(), Some(e.to_string())),
            };
            BreakerSnapshot {
                name: cfg.name.clone(),
                queue: cfg.queue.clone(),
                state,
                source: cfg.source.describe(),
                detail,
                error,
            }
        })
        .collect();

    let one_poll = health::one_poll_thresholds(&opts.thresholds);
    let rows = queues
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let a = ok_attrs(i);
            let m = metrics[i].as_ref();
            let mut errors = Vec::new();
            if let Some(Err(e)) = &attrs[i] {
                errors.push(format!("attributes: {e}"));
            }
            let mut dlq_sources: Vec<String> = Vec::new();
            match &sources[i] {
                Some(Ok(found)) => dlq_sources.extend(found.iter().map(|s| s.name.clone())),
                // A server without ListDeadLetterSourceQueues: the policies polled still link.
                Some(Err(BrokerError::Unsupported(_))) | None => {}
                Some(Err(e)) => errors.push(format!("dead-letter sources: {e}")),
            }
            let own_arn = a.map(|a| a.arn.as_str()).unwrap_or_default();
            dlq_sources.extend(polled_sources.get(own_arn).into_iter().flatten().cloned());
            dlq_sources.sort();
            dlq_sources.dedup();
            let is_dlq = !dlq_sources.is_empty();
            let dlq = dlq_of(i);
            let dlq_depth = dlq_arn_of(i)
                .and_then(|d| by_arn.get(d))
                .and_then(|&j| depth_of(j));
            let breaker = opts
                .breakers
                .iter()
                .zip(&breakers)
                .find(|(cfg, _)| cfg.queue.as_deref() == Some(q.name.as_str()))
                .map(|(cfg, b)| QueueBreaker {
                    name: cfg.name.clone(),
                    state: b.state,
                    source: cfg.source.describe(),
                });
            let flags = health::flags(
                &QueueFacts {
                    attrs: a,
                    metrics: m,
                    is_dlq,
                    below_streak: health::one_poll_streak(m),
                    breaker: breaker.as_ref().map(|b| b.state),
                },
                &one_poll,
            );
            let depth = depth_of(i);
            let arrival = m.and_then(|m| m.sent_per_min);
            let consumption = m.and_then(|m| m.deleted_per_min);
            let drain = Drain::of(depth, arrival, consumption);
            let drain_secs = drain.and_then(Drain::secs);
            QueueSnapshot {
                name: q.name.clone(),
                url: q.url.clone(),
                region: Some(q.place.region.clone()).filter(|r| !r.is_empty()),
                account: Some(q.place.account.clone()).filter(|a| !a.is_empty()),
                fifo: a.map_or(q.is_fifo(), |a| a.fifo),
                visible: a.map(|a| a.visible),
                in_flight: a.map(|a| a.in_flight),
                delayed: a.map(|a| a.delayed),
                depth,
                age_of_oldest_secs: m.and_then(|m| m.age_of_oldest).map(|d| d.as_secs()),
                arrival_per_min: arrival,
                arrival_source: "cloudwatch",
                measured_arrival_per_min: None,
                net_per_min: None,
                consumption_per_min: consumption,
                drain,
                drain_secs,
                retention_secs: a.map(|a| a.retention.as_secs()),
                dlq,
                dlq_depth,
                max_receive_count: a
                    .and_then(|a| a.redrive.as_ref())
                    .map(|r| r.max_receive_count),
                dlq_sources,
                is_dlq,
                breaker,
                flags,
                error: (!errors.is_empty()).then(|| errors.join("; ")),
            }
        })
        .collect();

    Ok(Snapshot {
        polled_at,
        source: opts.source.clone(),
        demo: opts.demo,
        note: opts.note.clone(),
        queues: rows,
        breakers,
        metrics_polled: opts.metrics,
        metrics_error,
        listing_errors,
    })
}

fn drain_label<S: Serializer>(d: &Option<Drain>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(d.label()),
        None => s.serialize_none(),
    }
}
