//! The real `AwsBroker` against a real SQS-compatible server (LocalStack, started by
//! `scripts/local-sqs.sh start` or `.ci/run`).
//!
//! Set `LAZYSQS_TEST_ENDPOINT=http://127.0.0.1:4566` to run these. Without it they
//! skip with a printed reason on a developer's machine, and fail in CI (`CI` set):
//! they must never be silently skipped there.
//!
//! Every test works on its own queues, named with a random prefix, so the tests can
//! run in parallel against one server.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use aws_sdk_sqs::types::QueueAttributeName;
use futures::StreamExt;
use lazysqs::broker::aws::AwsBroker;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use lazysqs::broker::{
    AlarmState, Broker, BrokerError, MessageAttribute, OutgoingMessage, QueueRef, QueueSelection,
};

mod localstack;

/// Names these tests in the panic when CI runs them without a server.
const SUITE: &str = "the AWS backend tests";

/// LocalStack is one Python process: while a test creates a thousand queues, calls
/// from the other tests can take many seconds. Such tests take this lock for writing,
/// the others for reading, so they run alone.
static SERVER_LOAD: RwLock<()> = RwLock::const_new(());

enum LoadGuard {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

/// One test's view of the server: the broker under test, plain SDK clients for setup,
/// and a unique queue name prefix.
struct TestEnv {
    broker: AwsBroker,
    sqs: aws_sdk_sqs::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    prefix: String,
    _load: LoadGuard,
}

impl TestEnv {
    async fn new(test: &str) -> Option<TestEnv> {
        let endpoint = localstack::endpoint(SUITE, test)?;
        let load = LoadGuard::Shared(SERVER_LOAD.read().await);
        Some(TestEnv::with_guard(test, endpoint, load).await)
    }

    /// For a test that loads the server heavily: no other test runs meanwhile.
    async fn exclusive(test: &str) -> Option<TestEnv> {
        let endpoint = localstack::endpoint(SUITE, test)?;
        let load = LoadGuard::Exclusive(SERVER_LOAD.write().await);
        Some(TestEnv::with_guard(test, endpoint, load).await)
    }

    async fn with_guard(test: &str, endpoint: String, load: LoadGuard) -> TestEnv {
        let config = localstack::sdk_config(&endpoint).await;
        TestEnv {
            broker: localstack::connect(&endpoint).await,
            sqs: aws_sdk_sqs::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            prefix: localstack::unique_prefix(&format!("lzt-{test}")),
            _load: load,
        }
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }

    async fn create(&self, suffix: &str, attrs: &[(QueueAttributeName, String)]) -> QueueRef {
        let name = self.name(suffix);
        let mut req = self.sqs.create_queue().queue_name(&name);
        for (k, v) in attrs {
            req = req.attributes(k.clone(), v);
        }
        let out = req.send().await.expect("create queue");
        QueueRef {
            name,
            url: out.queue_url().expect("queue url").to_string(),
            place: Default::default(),
        }
    }

    async fn arn(&self, queue: &QueueRef) -> String {
        self.broker
            .queue_attributes(queue)
            .await
            .expect("attributes")
            .arn
    }

    /// A source queue and its DLQ, with the given maxReceiveCount (as a JSON string).
    async fn with_dlq(&self, suffix: &str, max_receive_count: u32) -> (QueueRef, QueueRef) {
        let dlq = self.create(&format!("{suffix}-dlq"), &[]).await;
        let dlq_arn = self.arn(&dlq).await;
        let policy = format!(
            r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receive_count}"}}"#
        );
        let source = self
            .create(suffix, &[(QueueAttributeName::RedrivePolicy, policy)])
            .await;
        (source, dlq)
    }

    /// Deletes every queue of this test.
    async fn cleanup(&self) {
        let queues = self
            .broker
            .list_queues(&QueueSelection {
                names: vec![],
                prefixes: vec![self.prefix.clone()],
                place: None,
            })
            .await
            .expect("list for cleanup");
        futures::stream::iter(queues)
            .map(|q| async move {
                let _ = self.sqs.delete_queue().queue_url(&q.url).send().await;
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
    }
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `timeout`.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn attr(data_type: &str, value: &str) -> MessageAttribute {
    MessageAttribute {
        data_type: data_type.into(),
        value: value.into(),
    }
}

fn sample_attributes() -> BTreeMap<String, MessageAttribute> {
    BTreeMap::from([
        ("source".to_string(), attr("String", "web")),
        ("attempt".to_string(), attr("Number", "3")),
        ("blob".to_string(), attr("Binary", "AAEC/w==")),
        ("schema".to_string(), attr("String.custom", "order.v2")),
    ])
}

fn text(body: &str) -> OutgoingMessage {
    OutgoingMessage {
        body: body.into(),
        ..OutgoingMessage::default()
    }
}

/// Receives until `count` messages are held (or panics after 15 s).
async fn receive_n(
    broker: &AwsBroker,
    queue: &QueueRef,
    count: usize,
    visibility: Duration,
) -> Vec<lazysqs::broker::Message> {
    let mut held = Vec::new();
    let start = Instant::now();
    while held.len() < count {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "received only {} of {count} messages from {}",
            held.len(),
            queue.name
        );
        let want = (count - held.len()).min(10) as u32;
        held.extend(
            broker
                .receive(queue, want, visibility)
                .await
                .expect("receive"),
        );
    }
    held
}

#[tokio::test]
async fn discovery_by_prefix_and_by_name() {
    let Some(env) = TestEnv::new("disc").await else {
        return;
    };
    let a = env.create("a", &[]).await;
    let b = env.create("b", &[]).await;
    let other = env
        .create(
            "other.fifo",
            &[(QueueAttributeName::FifoQueue, "true".into())],
        )
        .await;

    // By prefix: both, sorted by name; not the queue outside the prefix.
    let by_prefix = env
        .broker
        .list_queues(&QueueSelection {
            names: vec![],
            prefixes: vec![env.name("")],
            place: None,
        })
        .await
        .expect("by prefix");
    let names: Vec<&str> = by_prefix.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(
        names,
        vec![a.name.as_str(), b.name.as_str(), other.name.as_str()]
    );
    assert_eq!(by_prefix[0].url, a.url);

    // Exact names (a missing one is left out), plus an overlapping prefix: no duplicates.
    let mixed = env
        .broker
        .list_queues(&QueueSelection {
            names: vec![other.name.clone(), env.name("missing"), a.name.clone()],
            prefixes: vec![env.name("a")],
            place: None,
        })
        .await
        .expect("by name");
    let names: Vec<&str> = mixed.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, vec![a.name.as_str(), other.name.as_str()]);
    assert!(mixed[1].is_fifo());

    // A queue that is gone maps to NotFound.
    env.sqs
        .delete_queue()
        .queue_url(&b.url)
        .send()
        .await
        .expect("delete");
    let err = env
        .broker
        .queue_attributes(&b)
        .await
        .expect_err("queue was deleted");
    assert!(matches!(err, BrokerError::NotFound(_)), "{err:?}");

    env.cleanup().await;
}

#[tokio::test]
async fn listing_paginates_past_1000_queues() {
    let Some(env) = TestEnv::exclusive("page").await else {
        return;
    };
    const QUEUES: usize = 1_050;
    const CONCURRENCY: usize = 16;

    let start = Instant::now();
    let created: Vec<String> = futures::stream::iter(0..QUEUES)
        .map(|i| {
            let name = env.name(&format!("{i:04}"));
            let sqs = env.sqs.clone();
            async move {
                sqs.create_queue()
                    .queue_name(&name)
                    .send()
                    .await
                    .expect("create queue");
                name
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let create_time = start.elapsed();
    eprintln!(
        "created {QUEUES} queues in {:.1}s ({CONCURRENCY} at a time, {:.0} queues/s)",
        create_time.as_secs_f64(),
        QUEUES as f64 / create_time.as_secs_f64()
    );
    assert_eq!(created.len(), QUEUES);

    // The server really paginates: one page of at most 1,000 and a NextToken.
    let first_page = env
        .sqs
        .list_queues()
        .queue_name_prefix(&env.prefix)
        .max_results(1000)
        .send()
        .await
        .expect("first page");
    assert_eq!(first_page.queue_urls().len(), 1000);
    assert!(first_page.next_token().is_some(), "expected a NextToken");

    // By prefix: all 1,050, each once.
    let start = Instant::now();
    let by_prefix = env
        .broker
        .list_queues(&QueueSelection {
            names: vec![],
            prefixes: vec![env.prefix.clone()],
            place: None,
        })
        .await
        .expect("list by prefix");
    eprintln!(
        "listed {} queues by prefix in {:?}",
        by_prefix.len(),
        start.elapsed()
    );
    let expected: BTreeSet<String> = created.into_iter().collect();
    let got: BTreeSet<String> = by_prefix.iter().map(|q| q.name.clone()).collect();
    assert_eq!(by_prefix.len(), QUEUES);
    assert_eq!(got, expected);

    // All queues in the region: ours are among them (other tests' queues may be too).
    let all = env
        .broker
        .list_queues(&QueueSelection::default())
        .await
        .expect("list all");
    let all: HashSet<String> = all.into_iter().map(|q| q.name).collect();
    assert!(all.len() >= QUEUES);
    assert!(
        expected.iter().all(|n| all.contains(n)),
        "list-all missed queues"
    );

    let start = Instant::now();
    env.cleanup().await;
    eprintln!(
        "deleted {QUEUES} queues in {:.1}s",
        start.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn attributes_count_visible_in_flight_and_delayed() {
    let Some(env) = TestEnv::new("attrs").await else {
        return;
    };
    let q = env
        .create(
            "work",
            &[
                (QueueAttributeName::VisibilityTimeout, "45".into()),
                (QueueAttributeName::MessageRetentionPeriod, "86400".into()),
            ],
        )
        .await;
    let empty = env.broker.queue_attributes(&q).await.expect("attributes");
    assert_eq!((empty.visible, empty.in_flight, empty.delayed), (0, 0, 0));
    assert_eq!(empty.visibility_timeout, Duration::from_secs(45));
    assert_eq!(empty.retention, Duration::from_secs(86_400));
    assert!(empty.redrive.is_none());
    assert!(!empty.fifo);
    assert!(
        empty.arn.ends_with(&format!(":{}", q.name)),
        "{}",
        empty.arn
    );

    for i in 0..6 {
        env.broker
            .send(&q, text(&format!("now {i}")))
            .await
            .expect("send");
    }
    for i in 0..2 {
        let delayed = OutgoingMessage {
            delay: Some(Duration::from_secs(600)),
            ..text(&format!("later {i}"))
        };
        env.broker.send(&q, delayed).await.expect("send delayed");
    }
    let held = receive_n(&env.broker, &q, 2, Duration::from_secs(300)).await;
    assert_eq!(held.len(), 2);

    let attrs = env.broker.queue_attributes(&q).await.expect("attributes");
    assert_eq!(
        (attrs.visible, attrs.in_flight, attrs.delayed),
        (4, 2, 2),
        "visible / in flight / delayed"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn dlq_links_both_ways() {
    let Some(env) = TestEnv::new("links").await else {
        return;
    };
    let (orders, dlq) = env.with_dlq("orders", 3).await;
    let dlq_arn = env.arn(&dlq).await;
    // A second source sharing the DLQ, its maxReceiveCount a JSON number.
    let refunds = env
        .create(
            "refunds",
            &[(
                QueueAttributeName::RedrivePolicy,
                format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":5}}"#),
            )],
        )
        .await;
    let unrelated = env.create("unrelated", &[]).await;

    let orders_attrs = env.broker.queue_attributes(&orders).await.expect("attrs");
    let policy = orders_attrs.redrive.expect("orders has a redrive policy");
    assert_eq!(policy.dlq_arn, dlq_arn);
    assert_eq!(policy.max_receive_count, 3);
    let refunds_attrs = env.broker.queue_attributes(&refunds).await.expect("attrs");
    assert_eq!(refunds_attrs.redrive.map(|p| p.max_receive_count), Some(5));

    let sources = env.broker.dead_letter_sources(&dlq).await.expect("sources");
    let names: Vec<&str> = sources.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, vec![orders.name.as_str(), refunds.name.as_str()]);
    assert_eq!(sources[0].url, orders.url);

    let none = env
        .broker
        .dead_letter_sources(&unrelated)
        .await
        .expect("sources");
    assert!(none.is_empty());
    env.cleanup().await;
}

#[tokio::test]
async fn failed_message_reaches_dlq_with_its_source_arn() {
    let Some(env) = TestEnv::new("redrive").await else {
        return;
    };
    let (orders, dlq) = env.with_dlq("orders", 2).await;
    let orders_arn = env.arn(&orders).await;
    let message = OutgoingMessage {
        body: r#"{"order_id":"ord-1","coffee":"flat white"}"#.into(),
        attributes: sample_attributes(),
        ..OutgoingMessage::default()
    };
    let id = env.broker.send(&orders, message).await.expect("send");

    // A consumer that keeps failing: receive, never delete, visibility 0.
    eventually(
        "the message to reach the DLQ",
        Duration::from_secs(20),
        || async {
            let _ = env
                .broker
                .receive(&orders, 10, Duration::ZERO)
                .await
                .expect("receive");
            let attrs = env.broker.queue_attributes(&dlq).await.expect("attrs");
            (attrs.visible == 1).then_some(())
        },
    )
    .await;

    let dead = receive_n(&env.broker, &dlq, 1, Duration::from_secs(30)).await;
    let dead = &dead[0];
    assert_eq!(dead.message_id, id);
    assert_eq!(dead.dlq_source_arn.as_deref(), Some(orders_arn.as_str()));
    assert!(
        dead.receive_count > 2,
        "receive count {}",
        dead.receive_count
    );
    assert_eq!(dead.attributes, sample_attributes());
    assert!(dead.sent_at.is_some());
    assert_eq!(
        env.broker
            .queue_attributes(&orders)
            .await
            .expect("attrs")
            .visible,
        0
    );
    env.cleanup().await;
}

#[tokio::test]
async fn send_receive_delete_and_batches() {
    let Some(env) = TestEnv::new("msgs").await else {
        return;
    };
    let q = env.create("work", &[]).await;

    // One message, attributes round-trip, visibility released and taken again.
    let sent = OutgoingMessage {
        body: "hello ☕".into(),
        attributes: sample_attributes(),
        ..OutgoingMessage::default()
    };
    let id = env.broker.send(&q, sent).await.expect("send");
    let got = receive_n(&env.broker, &q, 1, Duration::from_secs(60)).await;
    let first = &got[0];
    assert_eq!(first.message_id, id);
    assert_eq!(first.body, "hello ☕");
    assert_eq!(first.attributes, sample_attributes());
    assert_eq!(first.receive_count, 1);
    assert!(first.sent_at.is_some() && first.first_received_at.is_some());
    assert!(first.dlq_source_arn.is_none() && first.group_id.is_none());
    assert!(
        env.broker
            .receive(&q, 10, Duration::from_secs(60))
            .await
            .expect("receive")
            .is_empty(),
        "the message is in flight"
    );

    let released = env
        .broker
        .change_visibility(&q, vec![first.receipt_handle.clone()], Duration::ZERO)
        .await
        .expect("change visibility");
    assert_eq!(released, vec![(0, Ok(()))]);
    let again = receive_n(&env.broker, &q, 1, Duration::from_secs(60)).await;
    assert_eq!(again[0].message_id, id);
    assert_eq!(again[0].receive_count, 2);
    env.broker
        .delete(&q, &again[0].receipt_handle)
        .await
        .expect("delete");
    let attrs = env.broker.queue_attributes(&q).await.expect("attrs");
    assert_eq!((attrs.visible, attrs.in_flight), (0, 0));

    // Batches: 23 messages go out in chunks of 10, outcomes keyed by original index.
    let batch: Vec<OutgoingMessage> = (0..23)
        .map(|i| OutgoingMessage {
            attributes: BTreeMap::from([("n".to_string(), attr("Number", &i.to_string()))]),
            ..text(&format!("batch {i}"))
        })
        .collect();
    let outcome = env.broker.send_batch(&q, batch).await.expect("send batch");
    assert_eq!(outcome.len(), 23);
    for (i, (index, result)) in outcome.iter().enumerate() {
        assert_eq!(*index, i);
        assert!(result.as_ref().is_ok_and(|id| !id.is_empty()), "{result:?}");
    }
    let held = receive_n(&env.broker, &q, 23, Duration::from_secs(120)).await;
    let bodies: BTreeSet<String> = held.iter().map(|m| m.body.clone()).collect();
    assert_eq!(bodies.len(), 23);
    for m in &held {
        let n = m.body.trim_start_matches("batch ");
        assert_eq!(m.attributes.get("n"), Some(&attr("Number", n)));
    }

    // Release 12 of them in one call (two chunks), with a bad handle in the middle.
    let mut handles: Vec<String> = held[..12]
        .iter()
        .map(|m| m.receipt_handle.clone())
        .collect();
    handles.insert(5, "not-a-receipt-handle".into());
    let outcome = env
        .broker
        .change_visibility(&q, handles, Duration::ZERO)
        .await
        .expect("change visibility batch");
    assert_eq!(outcome.len(), 13);
    for (i, (index, result)) in outcome.iter().enumerate() {
        assert_eq!(*index, i);
        if i == 5 {
            assert!(
                matches!(result, Err(BrokerError::Invalid(_) | BrokerError::Other(_))),
                "{result:?}"
            );
        } else {
            assert_eq!(result, &Ok(()), "entry {i}");
        }
    }
    let attrs = env.broker.queue_attributes(&q).await.expect("attrs");
    assert_eq!((attrs.visible, attrs.in_flight), (12, 11));

    // Delete everything: the 11 still held plus the 12 received again.
    let mut handles: Vec<String> = held[12..]
        .iter()
        .map(|m| m.receipt_handle.clone())
        .collect();
    let rest = receive_n(&env.broker, &q, 12, Duration::from_secs(120)).await;
    handles.extend(rest.iter().map(|m| m.receipt_handle.clone()));
    handles.push("not-a-receipt-handle".into());
    let outcome = env
        .broker
        .delete_batch(&q, handles)
        .await
        .expect("delete batch");
    assert_eq!(outcome.len(), 24);
    assert!(outcome[..23].iter().all(|(_, r)| r.is_ok()), "{outcome:?}");
    assert_eq!(outcome[23].0, 23);
    assert!(outcome[23].1.is_err());
    let attrs = env.broker.queue_attributes(&q).await.expect("attrs");
    assert_eq!((attrs.visible, attrs.in_flight, attrs.delayed), (0, 0, 0));

    // Empty batches make no call.
    assert_eq!(env.broker.send_batch(&q, vec![]).await, Ok(vec![]));
    assert_eq!(env.broker.delete_batch(&q, vec![]).await, Ok(vec![]));
    env.cleanup().await;
}

#[tokio::test]
async fn fifo_needs_a_group_id() {
    let Some(env) = TestEnv::new("fifo").await else {
        return;
    };
    let q = env
        .create(
            "invoices.fifo",
            &[(QueueAttributeName::FifoQueue, "true".into())],
        )
        .await;
    let attrs = env.broker.queue_attributes(&q).await.expect("attrs");
    assert!(attrs.fifo && !attrs.content_based_dedup);

    let err = env
        .broker
        .send(&q, text("no group"))
        .await
        .expect_err("FIFO send without a group id must fail");
    assert!(
        matches!(err, BrokerError::Invalid(_) | BrokerError::Other(_)),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("MessageGroupId"),
        "unreadable: {err}"
    );

    let message = OutgoingMessage {
        group_id: Some("customer-17".into()),
        dedup_id: Some("inv-501".into()),
        attributes: BTreeMap::from([("currency".to_string(), attr("String", "EUR"))]),
        ..text("invoice 501")
    };
    env.broker.send(&q, message.clone()).await.expect("send");
    // Same dedup id within 5 minutes: accepted, silently dropped.
    env.broker.send(&q, message).await.expect("send duplicate");
    let got = receive_n(&env.broker, &q, 1, Duration::from_secs(30)).await;
    assert_eq!(got[0].group_id.as_deref(), Some("customer-17"));
    assert_eq!(got[0].dedup_id.as_deref(), Some("inv-501"));
    assert_eq!(
        got[0].attributes.get("currency"),
        Some(&attr("String", "EUR"))
    );
    let attrs = env.broker.queue_attributes(&q).await.expect("attrs");
    assert_eq!(
        (attrs.visible, attrs.in_flight),
        (0, 1),
        "the duplicate was dropped"
    );

    // In a batch, the server may reject the one entry or the whole call; either
    // way the caller learns that the message without a group was not sent.
    let batch = vec![
        OutgoingMessage {
            group_id: Some("g".into()),
            dedup_id: Some("d1".into()),
            ..text("ok")
        },
        OutgoingMessage {
            dedup_id: Some("d2".into()),
            ..text("no group in a batch")
        },
    ];
    match env.broker.send_batch(&q, batch).await {
        Ok(outcome) => {
            assert!(outcome[0].1.is_ok(), "{outcome:?}");
            assert!(outcome[1].1.is_err(), "{outcome:?}");
        }
        Err(err) => {
            assert!(matches!(err, BrokerError::Invalid(_)), "{err:?}");
            assert!(
                err.to_string().contains("MessageGroupId"),
                "unreadable: {err}"
            );
        }
    }
    env.cleanup().await;
}

#[tokio::test]
async fn metrics_come_from_get_metric_data() {
    // Exclusive: LocalStack answers 500 metric queries in about a second when idle,
    // but slowly while other tests keep it busy.
    let Some(env) = TestEnv::exclusive("metrics").await else {
        return;
    };
    let busy = env.create("busy", &[]).await;
    let idle = env.create("idle", &[]).await;
    for i in 0..3 {
        env.broker
            .send(&busy, text(&format!("m{i}")))
            .await
            .expect("send");
    }
    let got = receive_n(&env.broker, &busy, 1, Duration::from_secs(60)).await;
    env.broker
        .delete(&busy, &got[0].receipt_handle)
        .await
        .expect("delete");

    // 130 queues (130 × 4 = 520 queries: two GetMetricData calls); the busy one is
    // in the second call, so results must map back to the right index.
    let mut queues: Vec<QueueRef> = (0..128)
        .map(|i| QueueRef {
            name: env.name(&format!("ghost-{i}")),
            url: format!("{}/ghost-{i}", idle.url),
            place: Default::default(),
        })
        .collect();
    queues.push(idle.clone());
    queues.push(busy.clone());

    let metrics = eventually("NumberOfMessagesSent", Duration::from_secs(30), || async {
        let m = env.broker.metrics(&queues).await.expect("metrics");
        m[129].sent_per_min.is_some().then_some(m)
    })
    .await;
    assert_eq!(metrics.len(), 130);
    let busy_m = &metrics[129];
    assert_eq!(busy_m.sent_per_min, Some(3.0));
    // LocalStack never publishes ApproximateAgeOfOldestMessage: no data, never zero.
    assert_eq!(busy_m.age_of_oldest, None);
    for m in &metrics[..129] {
        assert_eq!(
            m,
            &lazysqs::broker::QueueMetrics::default(),
            "no data is None"
        );
    }
    let busy_m = eventually("Received and Deleted", Duration::from_secs(30), || async {
        let m = env.broker.metrics(&queues[129..]).await.expect("metrics");
        let m = m[0].clone();
        (m.received_per_min.is_some() && m.deleted_per_min.is_some()).then_some(m)
    })
    .await;
    assert_eq!(busy_m.received_per_min, Some(1.0));
    assert_eq!(busy_m.deleted_per_min, Some(1.0));
    assert_eq!(env.broker.metrics(&[]).await, Ok(vec![]));
    env.cleanup().await;
}

#[tokio::test]
async fn alarm_state_follows_set_alarm_state() {
    let Some(env) = TestEnv::new("alarm").await else {
        return;
    };
    let alarm = env.name("payments-breaker");
    env.cloudwatch
        .put_metric_alarm()
        .alarm_name(&alarm)
        .namespace("AWS/SQS")
        .metric_name("NumberOfMessagesSent")
        .dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name("QueueName")
                .value(env.name("payments-dlq"))
                .build(),
        )
        .statistic(Statistic::Sum)
        .period(3600)
        .evaluation_periods(1)
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("put alarm");

    for (state, expected) in [
        (StateValue::Alarm, AlarmState::Alarm),
        (StateValue::Ok, AlarmState::Ok),
        (StateValue::InsufficientData, AlarmState::InsufficientData),
        (StateValue::Alarm, AlarmState::Alarm),
    ] {
        env.cloudwatch
            .set_alarm_state()
            .alarm_name(&alarm)
            .state_value(state)
            .state_reason("lazysqs test")
            .send()
            .await
            .expect("set alarm state");
        assert_eq!(env.broker.alarm_state(&alarm).await, Ok(expected));
    }

    let missing = env.broker.alarm_state(&env.name("no-such-alarm")).await;
    assert!(
        matches!(missing, Err(BrokerError::NotFound(_))),
        "{missing:?}"
    );

    env.cloudwatch
        .delete_alarms()
        .alarm_names(&alarm)
        .send()
        .await
        .expect("delete alarm");
}

#[tokio::test]
async fn move_tasks_start_list_and_cancel() {
    let Some(env) = TestEnv::new("move").await else {
        return;
    };
    let (orders, dlq) = env.with_dlq("orders", 1).await;
    let orders_arn = env.arn(&orders).await;
    let dlq_arn = env.arn(&dlq).await;

    // Real failures: each message passes maxReceiveCount and carries its source ARN.
    let batch: Vec<OutgoingMessage> = (0..6).map(|i| text(&format!("order {i}"))).collect();
    env.broker.send_batch(&orders, batch).await.expect("send");
    eventually("6 messages in the DLQ", Duration::from_secs(20), || async {
        let _ = env.broker.receive(&orders, 10, Duration::ZERO).await;
        let a = env.broker.queue_attributes(&dlq).await.expect("attrs");
        (a.visible == 6).then_some(())
    })
    .await;

    // A slow task (1 message/s) back to the source, cancelled while running.
    let handle = env
        .broker
        .start_move_task(&dlq_arn, Some(&orders_arn), Some(1))
        .await
        .expect("start move task");
    assert!(!handle.is_empty());
    let tasks = env.broker.list_move_tasks(&dlq_arn).await.expect("list");
    let task = tasks.first().expect("one task");
    assert_eq!(task.handle.as_deref(), Some(handle.as_str()));
    assert_eq!(task.status, lazysqs::broker::MoveTaskStatus::Running);
    assert_eq!(task.source_arn, dlq_arn);
    assert_eq!(task.destination_arn.as_deref(), Some(orders_arn.as_str()));
    assert_eq!(task.rate, Some(1));
    assert!(task.started_at.is_some());

    // One active task per queue.
    let second = env.broker.start_move_task(&dlq_arn, None, None).await;
    assert!(second.is_err(), "{second:?}");

    let moved = env.broker.cancel_move_task(&handle).await.expect("cancel");
    assert!(moved < 6, "moved {moved}");
    let status = eventually("the task to stop", Duration::from_secs(15), || async {
        // Only a RUNNING task carries its handle; the latest task comes first.
        let tasks = env.broker.list_move_tasks(&dlq_arn).await.expect("list");
        let t = tasks.into_iter().next()?;
        (!t.status.is_running()).then_some(t.status)
    })
    .await;
    assert!(
        matches!(
            status,
            lazysqs::broker::MoveTaskStatus::Cancelling
                | lazysqs::broker::MoveTaskStatus::Cancelled
        ),
        "status {status}"
    );

    // A fast task with no destination: each message goes back to its own source.
    eventually("the first task to end", Duration::from_secs(15), || async {
        env.broker
            .start_move_task(&dlq_arn, None, Some(50))
            .await
            .ok()
    })
    .await;
    eventually("the DLQ to drain back", Duration::from_secs(20), || async {
        let d = env.broker.queue_attributes(&dlq).await.expect("attrs");
        let o = env.broker.queue_attributes(&orders).await.expect("attrs");
        (d.visible + d.in_flight == 0 && o.visible == 6).then_some(())
    })
    .await;
    let tasks = env.broker.list_move_tasks(&dlq_arn).await.expect("list");
    assert_eq!(tasks.first().map(|t| t.status.as_str()), Some("COMPLETED"));

    let err = env
        .broker
        .cancel_move_task("no-such-task-handle")
        .await
        .expect_err("bad handle");
    assert!(
        matches!(err, BrokerError::NotFound(_) | BrokerError::Invalid(_)),
        "{err:?}"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn unreachable_endpoint_fails_fast_and_clearly() {
    // Needs no server: nothing listens on port 1.
    let broker = localstack::connect("http://127.0.0.1:1").await; // does no I/O
    assert!(broker.describe().contains("127.0.0.1:1"));
    let start = Instant::now();
    let err = broker
        .list_queues(&QueueSelection::default())
        .await
        .expect_err("nothing listens there");
    let elapsed = start.elapsed();
    match &err {
        BrokerError::Unreachable(msg) => {
            assert!(msg.contains("http://127.0.0.1:1"), "{msg}");
            assert!(msg.contains("connection refused"), "{msg}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    let q = QueueRef {
        name: "x".into(),
        url: "http://127.0.0.1:1/queue/us-east-1/000000000000/x".into(),
        place: Default::default(),
    };
    let err = broker.queue_attributes(&q).await.expect_err("unreachable");
    assert_eq!(err.kind(), "unreachable");
    let err = broker
        .metrics(std::slice::from_ref(&q))
        .await
        .expect_err("unreachable");
    assert_eq!(err.kind(), "unreachable");
}
