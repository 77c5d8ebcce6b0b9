//! The recovery functions (load, release, requeue, delete, retry, import, audit) on
//! both backends: the built-in simulation, and the real `AwsBroker` against a real
//! SQS-compatible server (LocalStack).
//!
//! Every scenario is written once against [`Env`] and run twice: `…_on_sim` and
//! `…_on_localstack`. The LocalStack half needs `LAZYSQS_TEST_ENDPOINT` (e.g.
//! `http://127.0.0.1:4566`, see `scripts/local-sqs.sh start`); without it the test
//! prints why it skips, except in CI (`CI` set) where it fails. Each LocalStack test
//! works on its own queues, named with a random prefix.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use lazysqs::broker::{
    Broker, Message, MessageAttribute, OutgoingMessage, QueueRef, QueueSelection, name_from_arn,
};
use lazysqs::recovery::audit::Audit;
use lazysqs::recovery::export::{ExportedMessage, import, to_jsonl};
use lazysqs::recovery::{
    self, BROWSE_VISIBILITY, RequeueOutcome, RequeueRequest, resolve_queue, set_visibility,
};
use lazysqs::sim::model::QueueSpec;
use lazysqs::sim::scenario::ScenarioFile;
use lazysqs::sim::{Sim, SimBroker};
use serde_json::Value;

mod localstack;

/// Names these tests in the panic when CI runs them without a server.
const SUITE: &str = "the recovery tests against LocalStack";

// ---------------------------------------------------------------- the two backends

enum Backend {
    Sim(SimBroker),
    Aws(aws_sdk_sqs::Client),
}

/// One test's queue system, its queue name prefix and its audit log.
struct Env {
    backend: Backend,
    broker: Arc<dyn Broker>,
    prefix: String,
    dir: tempfile::TempDir,
    audit_path: PathBuf,
}

/// How a test queue is made.
#[derive(Clone, Copy, Default)]
struct Spec<'a> {
    fifo: bool,
    content_dedup: bool,
    /// (DLQ, maxReceiveCount)
    redrive: Option<(&'a QueueRef, u32)>,
}

impl Env {
    fn with(backend: Backend, broker: Arc<dyn Broker>, prefix: String) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let audit_path = dir.path().join("audit.jsonl");
        Env {
            backend,
            broker,
            prefix,
            dir,
            audit_path,
        }
    }

    /// A fresh simulation with no scenario traffic, on its own clock.
    fn sim() -> Env {
        let file = ScenarioFile::parse("name = \"recovery-tests\"\n").expect("scenario");
        let sim = SimBroker::new(Sim::new(file).expect("sim"));
        Env::with(Backend::Sim(sim.clone()), Arc::new(sim), "t".into())
    }

    async fn localstack(test: &str) -> Option<Env> {
        let endpoint = localstack::endpoint(SUITE, test)?;
        Some(Env::with(
            Backend::Aws(localstack::sqs(&endpoint).await),
            Arc::new(localstack::connect(&endpoint).await),
            localstack::unique_prefix(&format!("lzr-{test}")),
        ))
    }

    fn b(&self) -> &dyn Broker {
        self.broker.as_ref()
    }

    fn audit(&self) -> Audit {
        Audit::new(Some(self.audit_path.clone()))
    }

    fn is_sim(&self) -> bool {
        matches!(self.backend, Backend::Sim(_))
    }

    fn name(&self, suffix: &str, fifo: bool) -> String {
        format!(
            "{}-{suffix}{}",
            self.prefix,
            if fifo { ".fifo" } else { "" }
        )
    }

    async fn create(&self, suffix: &str, spec: Spec<'_>) -> QueueRef {
        let name = self.name(suffix, spec.fifo);
        match &self.backend {
            Backend::Sim(sim) => {
                let mut q = QueueSpec::new(&name);
                q.content_based_dedup = spec.content_dedup;
                q.redrive = spec.redrive.map(|(dlq, max)| (dlq.name.clone(), max));
                sim.lock().model.create_queue(q)
            }
            Backend::Aws(sqs) => {
                let mut req = sqs.create_queue().queue_name(&name);
                if spec.fifo {
                    req = req.attributes(QueueAttributeName::FifoQueue, "true");
                }
                if spec.content_dedup {
                    req = req.attributes(QueueAttributeName::ContentBasedDeduplication, "true");
                }
                if let Some((dlq, max)) = spec.redrive {
                    let dlq_arn = self.b().queue_attributes(dlq).await.expect("dlq arn").arn;
                    req = req.attributes(
                        QueueAttributeName::RedrivePolicy,
                        format!(
                            r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max}"}}"#
                        ),
                    );
                }
                let out = req.send().await.expect("create queue");
                QueueRef {
                    name,
                    url: out.queue_url().expect("queue url").to_string(),
                    place: Default::default(),
                }
            }
        }
    }

    /// Deletes a queue, where the backend can (the simulation cannot).
    async fn delete_queue(&self, q: &QueueRef) -> bool {
        match &self.backend {
            Backend::Sim(_) => false,
            Backend::Aws(sqs) => {
                sqs.delete_queue()
                    .queue_url(&q.url)
                    .send()
                    .await
                    .expect("delete queue");
                true
            }
        }
    }

    /// Lets `d` pass: model time in the simulation, real time on a server.
    async fn pass(&self, d: Duration) {
        match &self.backend {
            Backend::Sim(sim) => sim.advance(d),
            Backend::Aws(_) => tokio::time::sleep(d).await,
        }
    }

    /// Polls `check` until it gives `Some`: once in the simulation (it is exact and
    /// synchronous), for up to 15 s on a server.
    async fn until<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let timeout = if self.is_sim() {
            Duration::ZERO
        } else {
            Duration::from_secs(15)
        };
        let start = Instant::now();
        loop {
            if let Some(v) = check().await {
                return v;
            }
            assert!(
                start.elapsed() < timeout,
                "gave up after {timeout:?} waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// (visible, in flight)
    async fn counts(&self, q: &QueueRef) -> (u64, u64) {
        let a = self.b().queue_attributes(q).await.expect("attributes");
        (a.visible, a.in_flight)
    }

    async fn wait_counts(&self, q: &QueueRef, want: (u64, u64)) {
        let what = format!("{} to hold (visible, in flight) = {want:?}", q.name);
        self.until(&what, || async {
            (self.counts(q).await == want).then_some(())
        })
        .await;
    }

    async fn send(&self, q: &QueueRef, body: &str, group: Option<&str>) -> String {
        self.b()
            .send(
                q,
                OutgoingMessage {
                    body: body.into(),
                    attributes: attributes(),
                    group_id: group.map(str::to_string),
                    dedup_id: None,
                    delay: None,
                    trace_header: None,
                },
            )
            .await
            .expect("send")
    }

    /// Receives `source` without deleting until `dlq` has `want_in_dlq` visible
    /// messages: the consumer keeps failing, SQS moves the message on.
    async fn fail_into_dlq(&self, source: &QueueRef, dlq: &QueueRef, want_in_dlq: u64) {
        for _ in 0..20 {
            if self.counts(dlq).await.0 >= want_in_dlq {
                return;
            }
            self.b()
                .receive(source, 10, Duration::ZERO)
                .await
                .expect("receive from the source");
            if !self.is_sim() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        assert_eq!(
            self.counts(dlq).await.0,
            want_in_dlq,
            "the message did not fail into {}",
            dlq.name
        );
    }

    /// Receives `want` messages from `q` (holding them for 30 s); on a server, keeps
    /// trying for a while, since a send may take a moment to show.
    async fn receive_all(&self, q: &QueueRef, want: usize) -> Vec<Message> {
        let tries = if self.is_sim() { 3 } else { 75 };
        let mut got: Vec<Message> = Vec::new();
        for _ in 0..tries {
            let batch = self
                .b()
                .receive(q, 10, Duration::from_secs(30))
                .await
                .expect("receive");
            got.extend(batch);
            if got.len() >= want {
                break;
            }
            if !self.is_sim() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        assert_eq!(got.len(), want, "messages in {}: {got:?}", q.name);
        got
    }

    async fn cleanup(&self) {
        if let Backend::Aws(sqs) = &self.backend {
            let queues = self
                .b()
                .list_queues(&QueueSelection {
                    names: Vec::new(),
                    prefixes: vec![self.prefix.clone()],
                    place: None,
                })
                .await
                .unwrap_or_default();
            for q in queues {
                let _ = sqs.delete_queue().queue_url(&q.url).send().await;
            }
        }
    }

    fn audit_lines(&self) -> Vec<Value> {
        audit_lines(&self.audit_path)
    }
}

fn audit_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line not JSON ({e}): {l}"))
        })
        .collect()
}

/// The outcomes of the audit lines about one message, in order.
fn outcomes(lines: &[Value], action: &str, message_id: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["action"] == action && l["message_id"] == message_id)
        .map(|l| l["outcome"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn attr(data_type: &str, value: &str) -> MessageAttribute {
    MessageAttribute {
        data_type: data_type.into(),
        value: value.into(),
    }
}

/// Attributes of every kind SQS has, to see that a requeue keeps them all.
fn attributes() -> BTreeMap<String, MessageAttribute> {
    BTreeMap::from([
        ("origin".to_string(), attr("String", "web-shop")),
        ("attempt".to_string(), attr("Number", "3")),
        ("signature".to_string(), attr("Binary", "AAEC/w==")),
        ("trace.id".to_string(), attr("String.uuid", "4f1c-77aa")),
    ])
}

const ORDER: &str = r#"{"order_id":"ord-000042","customer":"Ana","coffee":"latte"}"#;
const FIXED: &str =
    r#"{"order_id":"ord-000042","customer":"Ana","coffee":"latte","store_id":"store-07"}"#;

/// Runs a scenario on the simulation.
macro_rules! on_sim {
    ($name:ident, $scenario:ident) => {
        #[tokio::test]
        async fn $name() {
            let env = Env::sim();
            $scenario(&env).await;
        }
    };
}

/// Runs a scenario against LocalStack, cleaning its queues up even when it fails.
macro_rules! on_localstack {
    ($name:ident, $scenario:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(env) = Env::localstack(stringify!($scenario)).await else {
                return;
            };
            let env = Arc::new(env);
            let run = {
                let env = env.clone();
                tokio::spawn(async move { $scenario(&env).await })
            };
            let result = run.await;
            env.cleanup().await;
            if let Err(e) = result {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    };
}

macro_rules! both {
    ($scenario:ident, $sim:ident, $aws:ident) => {
        on_sim!($sim, $scenario);
        on_localstack!($aws, $scenario);
    };
}

// ---------------------------------------------------------------- requeue

/// A message that failed into the DLQ is loaded, edited, requeued: it arrives at its
/// source with the edited body and every attribute, and is gone from the DLQ.
async fn edited_requeue(env: &Env) {
    let dlq = env.create("orders-dlq", Spec::default()).await;
    let source = env
        .create(
            "orders",
            Spec {
                redrive: Some((&dlq, 1)),
                ..Spec::default()
            },
        )
        .await;
    env.send(&source, ORDER, None).await;
    env.fail_into_dlq(&source, &dlq, 1).await;
    env.wait_counts(&source, (0, 0)).await;

    let held = recovery::load(env.b(), &dlq, 500, BROWSE_VISIBILITY)
        .await
        .expect("load");
    assert_eq!(held.len(), 1, "{held:?}");
    let m = held[0].clone();
    assert_eq!(m.body, ORDER);
    assert_eq!(m.attributes, attributes());
    let source_arn = m.dlq_source_arn.clone().expect("DeadLetterQueueSourceArn");
    assert_eq!(name_from_arn(&source_arn), source.name);
    env.wait_counts(&dlq, (0, 1)).await;

    let req = RequeueRequest {
        from: dlq.clone(),
        message: m.clone(),
        body: FIXED.into(),
        to: name_from_arn(&source_arn).to_string(),
    };
    let outcome = recovery::requeue(env.b(), &env.audit(), &req).await;
    let RequeueOutcome::Done { new_id } = &outcome else {
        panic!("expected Done, got {outcome:?}");
    };
    assert!(outcome.describe(&req).contains("requeued"));

    env.wait_counts(&dlq, (0, 0)).await;
    let arrived = env.receive_all(&source, 1).await;
    assert_eq!(arrived.len(), 1, "{arrived:?}");
    assert_eq!(&arrived[0].message_id, new_id);
    assert_eq!(arrived[0].body, FIXED);
    assert_eq!(arrived[0].attributes, attributes());

    let lines = env.audit_lines();
    assert_eq!(
        outcomes(&lines, "requeue", &m.message_id),
        ["started", "sent", "ok"],
        "{lines:?}"
    );
    let ok = lines.last().expect("a line");
    assert_eq!(ok["queue"], dlq.name.as_str());
    assert_eq!(ok["destination"], source.name.as_str());
    assert_eq!(ok["new_message_id"], new_id.as_str());
    assert!(ok["time"].as_str().is_some_and(|t| t.contains('T')), "{ok}");
}
both!(
    edited_requeue,
    edited_requeue_arrives_with_every_attribute_and_leaves_the_dlq_on_sim,
    edited_requeue_arrives_with_every_attribute_and_leaves_the_dlq_on_localstack
);

/// A FIFO requeue keeps the group id, and a second requeue of the same body within
/// five minutes is not dropped as a duplicate (content-based deduplication is on).
async fn fifo_requeue_twice(env: &Env) {
    let fifo = Spec {
        fifo: true,
        content_dedup: true,
        ..Spec::default()
    };
    let dlq = env.create("invoices-dlq", fifo).await;
    let source = env
        .create(
            "invoices",
            Spec {
                redrive: Some((&dlq, 1)),
                ..fifo
            },
        )
        .await;
    let body = r#"{"invoice_id":"inv-7","total":"n/a"}"#;
    env.send(&source, body, Some("acme")).await;
    let mut ids = Vec::new();
    for round in 1..=2 {
        env.fail_into_dlq(&source, &dlq, 1).await;
        let held = recovery::load(env.b(), &dlq, 500, BROWSE_VISIBILITY)
            .await
            .expect("load");
        assert_eq!(held.len(), 1, "round {round}: {held:?}");
        assert_eq!(held[0].group_id.as_deref(), Some("acme"));
        let req = RequeueRequest {
            from: dlq.clone(),
            message: held[0].clone(),
            body: body.into(),
            to: source.name.clone(),
        };
        let outcome = recovery::requeue(env.b(), &env.audit(), &req).await;
        let RequeueOutcome::Done { new_id } = outcome else {
            panic!("round {round}: expected Done, got {outcome:?}");
        };
        env.wait_counts(&dlq, (0, 0)).await;
        // It is really there (not silently deduplicated), in its group.
        env.wait_counts(&source, (1, 0)).await;
        let arrived = env
            .b()
            .receive(&source, 10, Duration::ZERO)
            .await
            .expect("receive");
        assert_eq!(arrived.len(), 1, "round {round}: {arrived:?}");
        assert_eq!(arrived[0].message_id, new_id);
        assert_eq!(arrived[0].body, body);
        assert_eq!(arrived[0].group_id.as_deref(), Some("acme"));
        assert_eq!(arrived[0].attributes, attributes());
        assert!(
            arrived[0].dedup_id.as_deref() != held[0].dedup_id.as_deref(),
            "a fresh deduplication id: {:?}",
            arrived[0].dedup_id
        );
        ids.push(new_id);
    }
    assert_ne!(ids[0], ids[1]);
}
both!(
    fifo_requeue_twice,
    fifo_requeue_keeps_the_group_and_is_not_deduplicated_on_sim,
    fifo_requeue_keeps_the_group_and_is_not_deduplicated_on_localstack
);

/// The destination is gone: nothing is deleted, the message is still in the DLQ.
async fn send_fails_destination_gone(env: &Env) {
    let dlq = env.create("orders-dlq", Spec::default()).await;
    let source = env
        .create(
            "orders",
            Spec {
                redrive: Some((&dlq, 1)),
                ..Spec::default()
            },
        )
        .await;
    env.send(&source, ORDER, None).await;
    env.fail_into_dlq(&source, &dlq, 1).await;
    // Delete the source queue (the simulation cannot: there, ask for one that never was).
    let to = if env.delete_queue(&source).await {
        source.name.clone()
    } else {
        env.name("gone", false)
    };
    let held = recovery::load(env.b(), &dlq, 500, BROWSE_VISIBILITY)
        .await
        .expect("load");
    assert_eq!(held.len(), 1);
    let req = RequeueRequest {
        from: dlq.clone(),
        message: held[0].clone(),
        body: FIXED.into(),
        to: to.clone(),
    };
    let outcome = recovery::requeue(env.b(), &env.audit(), &req).await;
    assert!(
        matches!(outcome, RequeueOutcome::SendFailed(_)),
        "{outcome:?}"
    );
    let said = outcome.describe(&req);
    assert!(said.contains("not requeued"), "{said}");
    assert!(said.contains(&format!("still in {}", dlq.name)), "{said}");

    // Still held by us, and still there once released, unchanged.
    env.wait_counts(&dlq, (0, 1)).await;
    let failed = set_visibility(
        env.b(),
        &dlq,
        vec![held[0].receipt_handle.clone()],
        Duration::ZERO,
    )
    .await;
    assert!(failed.is_empty(), "{failed:?}");
    env.wait_counts(&dlq, (1, 0)).await;
    let again = recovery::load(env.b(), &dlq, 500, BROWSE_VISIBILITY)
        .await
        .expect("load");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id, held[0].message_id);
    assert_eq!(again[0].body, ORDER);

    let lines = env.audit_lines();
    let seen = outcomes(&lines, "requeue", &held[0].message_id);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], "started");
    assert!(seen[1].starts_with("failed: send"), "{seen:?}");
}
both!(
    send_fails_destination_gone,
    a_send_to_a_missing_queue_leaves_the_message_in_the_dlq_on_sim,
    a_send_to_a_deleted_queue_leaves_the_message_in_the_dlq_on_localstack
);

/// A FIFO destination needs a group id the message does not have.
async fn send_fails_fifo_without_group(env: &Env) {
    let dlq = env.create("plain-dlq", Spec::default()).await;
    let target = env
        .create(
            "strict",
            Spec {
                fifo: true,
                ..Spec::default()
            },
        )
        .await;
    env.send(&dlq, ORDER, None).await;
    let held = recovery::load(env.b(), &dlq, 500, BROWSE_VISIBILITY)
        .await
        .expect("load");
    assert_eq!(held.len(), 1);
    let req = RequeueRequest {
        from: dlq.clone(),
        message: held[0].clone(),
        body: ORDER.into(),
        to: target.name.clone(),
    };
    let outcome = recovery::requeue(env.b(), &env.audit(), &req).await;
    let RequeueOutcome::SendFailed(e) = &outcome else {
        panic!("expected SendFailed, got {outcome:?}");
    };
    assert!(e.to_string().contains("MessageGroupId"), "{e}");
    env.wait_counts(&dlq, (0, 1)).await;
    env.wait_counts(&target, (0, 0)).await;
}
both!(
    send_fails_fifo_without_group,
    a_fifo_destination_without_a_group_id_fails_the_send_on_sim,
    a_fifo_destination_without_a_group_id_fails_the_send_on_localstack
);

/// The receipt handle expired before the delete: the message is in both queues, the
/// outcome says so, and `retry_delete` then removes it from the DLQ.
///
/// FIFO queues, because LocalStack (like SQS) lets an old receipt handle of a standard
/// queue delete the message; on FIFO queues an expired handle is refused.
async fn delete_fails_then_retry(env: &Env) {
    let fifo = Spec {
        fifo: true,
        content_dedup: true,
        ..Spec::default()
    };
    let dlq = env.create("pay-dlq", fifo).await;
    let source = env
        .create(
            "pay",
            Spec {
                redrive: Some((&dlq, 1)),
                ..fifo
            },
        )
        .await;
    env.send(&source, ORDER, Some("g1")).await;
    env.fail_into_dlq(&source, &dlq, 1).await;

    let held = recovery::load(env.b(), &dlq, 500, Duration::from_secs(1))
        .await
        .expect("load");
    assert_eq!(held.len(), 1);
    env.pass(Duration::from_millis(2500)).await;
    env.wait_counts(&dlq, (1, 0)).await;

    let req = RequeueRequest {
        from: dlq.clone(),
        message: held[0].clone(),
        body: FIXED.into(),
        to: source.name.clone(),
    };
    let outcome = recovery::requeue(env.b(), &env.audit(), &req).await;
    // Where the server refuses to renew a lapsed hold (the simulation, like SQS),
    // nothing is sent at all; where it renews it anyway (LocalStack), the delete
    // fails afterwards and the message is in both queues.
    if let RequeueOutcome::SendFailed(e) = &outcome {
        assert!(e.to_string().contains("hold on the message lapsed"), "{e}");
        assert!(outcome.describe(&req).contains("still in"), "{outcome:?}");
        env.wait_counts(&source, (0, 0)).await;
        env.wait_counts(&dlq, (1, 0)).await;
        return;
    }
    let RequeueOutcome::DeleteFailed { new_id, .. } = &outcome else {
        panic!("expected DeleteFailed, got {outcome:?}");
    };
    let said = outcome.describe(&req);
    assert!(said.contains("BOTH queues"), "{said}");
    env.wait_counts(&source, (1, 0)).await;
    env.wait_counts(&dlq, (1, 0)).await;
    let lines = env.audit_lines();
    let seen = outcomes(&lines, "requeue", &held[0].message_id);
    assert_eq!(seen[..2], ["started", "sent"], "{seen:?}");
    assert!(
        seen[2].contains("failed: delete") && seen[2].contains("both queues"),
        "{seen:?}"
    );

    recovery::retry_delete(env.b(), &env.audit(), &dlq, &held[0])
        .await
        .expect("the retry deletes it");
    env.wait_counts(&dlq, (0, 0)).await;
    let arrived = env.receive_all(&source, 1).await;
    assert_eq!(arrived.len(), 1, "exactly one copy: {arrived:?}");
    assert_eq!(&arrived[0].message_id, new_id);
    assert_eq!(arrived[0].body, FIXED);
    let lines = env.audit_lines();
    assert_eq!(
        outcomes(&lines, "delete", &held[0].message_id)
            .last()
            .map(String::as_str),
        Some("ok"),
        "{lines:?}"
    );
}
both!(
    delete_fails_then_retry,
    an_expired_receipt_fails_the_delete_and_retry_delete_succeeds_on_sim,
    an_expired_receipt_fails_the_delete_and_retry_delete_succeeds_on_localstack
);

/// Standard queues in the simulation: our receipt went stale because someone else
/// received the message meanwhile, so the requeue stops before sending anything.
#[tokio::test]
async fn a_stale_receipt_stops_the_requeue_before_the_send_on_sim() {
    let env = Env::sim();
    let dlq = env.create("orders-dlq", Spec::default()).await;
    let source = env.create("orders", Spec::default()).await;
    env.send(&dlq, ORDER, None).await;
    let held = recovery::load(env.b(), &dlq, 500, Duration::from_secs(1))
        .await
        .expect("load");
    env.pass(Duration::from_secs(2)).await;
    let other = env
        .b()
        .receive(&dlq, 10, Duration::from_secs(1))
        .await
        .expect("someone else receives it");
    assert_eq!(other.len(), 1);
    let req = RequeueRequest {
        from: dlq.clone(),
        message: held[0].clone(),
        body: FIXED.into(),
        to: source.name.clone(),
    };
    let outcome = recovery::requeue(env.b(), &env.audit(), &req).await;
    // The renewal of our hold fails first, so nothing is sent: no duplicate.
    let RequeueOutcome::SendFailed(e) = &outcome else {
        panic!("expected the lapsed hold to stop the send, got {outcome:?}");
    };
    assert!(e.to_string().contains("hold on the message lapsed"), "{e}");
    env.wait_counts(&source, (0, 0)).await;
    env.wait_counts(&dlq, (0, 1)).await;
}

// ---------------------------------------------------------------- browse

/// Loading holds every message (paging 10 at a time, no duplicates, up to the cap);
/// releasing gives them all back.
async fn load_and_release(env: &Env) {
    let q = env.create("browse", Spec::default()).await;
    for i in 0..25 {
        env.send(&q, &format!(r#"{{"n":{i}}}"#), None).await;
    }
    env.wait_counts(&q, (25, 0)).await;

    let capped = recovery::load(env.b(), &q, 12, BROWSE_VISIBILITY)
        .await
        .expect("load");
    assert_eq!(capped.len(), 12, "the cap");
    env.wait_counts(&q, (13, 12)).await;
    let failed = set_visibility(
        env.b(),
        &q,
        capped.iter().map(|m| m.receipt_handle.clone()).collect(),
        Duration::ZERO,
    )
    .await;
    assert!(failed.is_empty(), "{failed:?}");
    env.wait_counts(&q, (25, 0)).await;

    let held = recovery::load(env.b(), &q, 500, BROWSE_VISIBILITY)
        .await
        .expect("load");
    assert_eq!(held.len(), 25);
    let mut ids: Vec<&str> = held.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25, "no message twice");
    env.wait_counts(&q, (0, 25)).await;

    // Extending keeps them hidden; releasing returns the count to what it was.
    let receipts: Vec<String> = held.iter().map(|m| m.receipt_handle.clone()).collect();
    let failed = set_visibility(env.b(), &q, receipts.clone(), BROWSE_VISIBILITY).await;
    assert!(failed.is_empty(), "{failed:?}");
    env.wait_counts(&q, (0, 25)).await;
    let failed = set_visibility(env.b(), &q, receipts, Duration::ZERO).await;
    assert!(failed.is_empty(), "{failed:?}");
    env.wait_counts(&q, (25, 0)).await;
}
both!(
    load_and_release,
    load_holds_everything_and_release_gives_it_back_on_sim,
    load_holds_everything_and_release_gives_it_back_on_localstack
);

#[tokio::test]
async fn an_expired_hold_is_reported_by_set_visibility_on_sim() {
    let env = Env::sim();
    let q = env.create("browse", Spec::default()).await;
    env.send(&q, ORDER, None).await;
    let held = recovery::load(env.b(), &q, 500, Duration::from_secs(1))
        .await
        .expect("load");
    env.pass(Duration::from_secs(2)).await;
    let receipt = held[0].receipt_handle.clone();
    let failed = set_visibility(env.b(), &q, vec![receipt.clone()], BROWSE_VISIBILITY).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, receipt);
}

/// `d` renews the hold before deleting: when it lapsed and someone else received
/// the message, the delete is refused and the message stays where it is.
#[tokio::test]
async fn a_delete_with_a_lapsed_hold_is_refused_on_sim() {
    let env = Env::sim();
    let q = env.create("lapsed", Spec::default()).await;
    env.send(&q, ORDER, None).await;
    let held = recovery::load(env.b(), &q, 500, Duration::from_secs(1))
        .await
        .expect("load");
    env.pass(Duration::from_secs(2)).await;
    // Someone else has it now.
    let other = env
        .b()
        .receive(&q, 10, Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(other.len(), 1);
    let err = recovery::delete(env.b(), &env.audit(), &q, &held[0])
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains("hold on the message lapsed"),
        "{err}"
    );
    assert_eq!(
        env.counts(&q).await,
        (0, 1),
        "still there, held by the other"
    );
    assert_eq!(
        outcomes(&env.audit_lines(), "delete", &held[0].message_id).len(),
        2,
        "refused on the record too"
    );
}

// ---------------------------------------------------------------- delete and audit

/// Every mutation writes a "started" line before and an "ok" line after.
async fn audit_every_mutation(env: &Env) {
    let dlq = env.create("audit-dlq", Spec::default()).await;
    let dest = env.create("audit-dest", Spec::default()).await;
    env.send(&dlq, ORDER, None).await;
    env.send(&dlq, FIXED, None).await;
    let held = recovery::load(env.b(), &dlq, 500, BROWSE_VISIBILITY)
        .await
        .expect("load");
    assert_eq!(held.len(), 2);
    let audit = env.audit();

    recovery::delete(env.b(), &audit, &dlq, &held[0])
        .await
        .expect("delete");
    let req = RequeueRequest {
        from: dlq.clone(),
        message: held[1].clone(),
        body: held[1].body.clone(),
        to: dest.name.clone(),
    };
    let outcome = recovery::requeue(env.b(), &audit, &req).await;
    assert!(
        matches!(outcome, RequeueOutcome::Done { .. }),
        "{outcome:?}"
    );
    env.wait_counts(&dlq, (0, 0)).await;

    let lines = env.audit_lines();
    assert_eq!(
        outcomes(&lines, "delete", &held[0].message_id),
        ["started", "ok"]
    );
    assert_eq!(
        outcomes(&lines, "requeue", &held[1].message_id),
        ["started", "sent", "ok"]
    );
    for l in &lines {
        for field in ["time", "action", "queue", "message_id", "outcome"] {
            assert!(l[field].is_string(), "{field} missing: {l}");
        }
    }
    // The delete is done: a second one with the same receipt is a failure, audited.
    if env.is_sim() {
        recovery::delete(env.b(), &audit, &dlq, &held[0])
            .await
            .expect_err("already deleted");
        let seen = outcomes(&env.audit_lines(), "delete", &held[0].message_id);
        assert!(
            seen.last().is_some_and(|o| o.starts_with("failed")),
            "{seen:?}"
        );
    }
}
both!(
    audit_every_mutation,
    the_audit_log_has_started_and_ok_for_every_mutation_on_sim,
    the_audit_log_has_started_and_ok_for_every_mutation_on_localstack
);

// ---------------------------------------------------------------- import

/// An exported file, edited in an editor, goes back: every good line is sent with
/// its attributes; bad lines are reported by number and the rest still go.
async fn import_exported(env: &Env) {
    let dlq = env.create("exp-dlq", Spec::default()).await;
    let dest = env.create("exp-dest", Spec::default()).await;
    for i in 0..3 {
        env.send(&dlq, &format!(r#"{{"order_id":"ord-{i}"}}"#), None)
            .await;
    }
    let held = recovery::load(env.b(), &dlq, 500, BROWSE_VISIBILITY)
        .await
        .expect("load");
    assert_eq!(held.len(), 3);
    let mut exported: Vec<ExportedMessage> = held
        .iter()
        .map(|m| ExportedMessage::new(m, &m.body))
        .collect();
    exported[1].body = r#"{"order_id":"ord-1","store_id":"store-01"}"#.into();
    let jsonl = to_jsonl(&exported);
    let mut lines: Vec<&str> = jsonl.lines().collect();
    lines.insert(1, "{this is not JSON");
    lines.insert(3, "");
    lines.insert(4, r#"{"message_id":"no-body"}"#);
    let path = env.dir.path().join("fixed.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    // Lines: 1 ok, 2 bad, 3 ok, 4 empty, 5 bad, 6 ok.

    let report = import(env.b(), &env.audit(), &path, &dest)
        .await
        .expect("import");
    assert_eq!(report.sent, 3, "{report:?}");
    let bad: Vec<usize> = report.failed.iter().map(|(n, _)| *n).collect();
    assert_eq!(bad, [2, 5], "{report:?}");
    assert!(
        report.failed[0].1.contains("not an exported message"),
        "{report:?}"
    );

    let arrived = env.receive_all(&dest, 3).await;
    let mut bodies: Vec<&str> = arrived.iter().map(|m| m.body.as_str()).collect();
    bodies.sort();
    assert_eq!(
        bodies,
        [
            r#"{"order_id":"ord-0"}"#,
            r#"{"order_id":"ord-1","store_id":"store-01"}"#,
            r#"{"order_id":"ord-2"}"#
        ]
    );
    assert!(arrived.iter().all(|m| m.attributes == attributes()));
    let audit = env.audit_lines();
    for m in &held {
        assert_eq!(outcomes(&audit, "import", &m.message_id), ["started", "ok"]);
    }

    // Into a FIFO queue, a line needs a group id: the one without is reported.
    let fifo = env
        .create(
            "exp-dest",
            Spec {
                fifo: true,
                ..Spec::default()
            },
        )
        .await;
    exported[0].group_id = Some("g1".into());
    exported[2].group_id = Some("g2".into());
    std::fs::write(&path, to_jsonl(&exported)).expect("write");
    let report = import(env.b(), &env.audit(), &path, &fifo)
        .await
        .expect("import");
    assert_eq!(report.sent, 2, "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].0, 2);
    assert!(report.failed[0].1.contains("MessageGroupId"), "{report:?}");
    env.wait_counts(&fifo, (2, 0)).await;
}
both!(
    import_exported,
    import_sends_every_good_line_and_reports_bad_ones_on_sim,
    import_sends_every_good_line_and_reports_bad_ones_on_localstack
);

/// `lazysqs import FILE --to QUEUE` against LocalStack: exit status 1 when a line
/// failed, each failure on stderr with its line number, the audit log in HOME.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_command_reports_failed_lines_on_localstack() {
    let Some(env) = Env::localstack("import-cli").await else {
        return;
    };
    let endpoint = localstack::endpoint(SUITE, "import-cli").unwrap_or_default();
    let dest = env.create("cli-dest", Spec::default()).await;
    let m = |id: &str, body: &str| ExportedMessage {
        message_id: id.into(),
        body: body.into(),
        attributes: BTreeMap::new(),
        group_id: None,
        dedup_id: None,
        source_queue: None,
        receive_count: 1,
        sent_at: None,
        trace_header: None,
        masked_fields: Vec::new(),
    };
    let home = tempfile::tempdir().expect("home");
    let path = home.path().join("msgs.jsonl");
    let good = to_jsonl(&[m("a", "first"), m("b", "second")]);
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(1, "garbage");
    std::fs::write(&path, lines.join("\n")).expect("write");

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .arg("import")
        .arg(&path)
        .args(["--to", &dest.name, "--endpoint-url", &endpoint])
        .args(["--region", "us-east-1"])
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join(".local/share"))
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .expect("run lazysqs import");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let result = std::panic::AssertUnwindSafe(async {
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("msgs.jsonl:2: not sent"), "{stderr}");
        assert!(stderr.contains("sent 2 message(s)"), "{stderr}");
        env.wait_counts(&dest, (2, 0)).await;
        let audit = audit_lines(&home.path().join(".local/share/lazysqs/audit.jsonl"));
        assert_eq!(outcomes(&audit, "import", "a"), ["started", "ok"]);
        assert_eq!(outcomes(&audit, "import", "b"), ["started", "ok"]);
    });
    let result = futures::FutureExt::catch_unwind(result).await;
    env.cleanup().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[tokio::test]
async fn resolve_queue_finds_by_exact_name_on_sim() {
    let env = Env::sim();
    let a = env.create("orders", Spec::default()).await;
    env.create("orders-dlq", Spec::default()).await;
    assert_eq!(
        resolve_queue(env.b(), &a.name, None)
            .await
            .expect("found")
            .url,
        a.url
    );
    let e = resolve_queue(env.b(), "t-nope", None)
        .await
        .expect_err("missing");
    assert_eq!(e.kind(), "not found");
}

/// `lazysqs import FILE --to QUEUE EXTRA…` against LocalStack, with `home` as the
/// home (and audit log) directory.
async fn import_command(
    endpoint: &str,
    home: &Path,
    file: &Path,
    to: &str,
    extra: &[&str],
) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .arg("import")
        .arg(file)
        .args(["--to", to, "--endpoint-url", endpoint])
        .args(["--region", "us-east-1"])
        .args(extra)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .expect("run lazysqs import")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_counts_or_deletes_the_originals_of_the_copies_it_sent_on_localstack() {
    let Some(env) = Env::localstack("import-originals").await else {
        return;
    };
    let endpoint = localstack::endpoint(SUITE, "import-originals").unwrap_or_default();
    let dlq = env.create("orig-dlq", Spec::default()).await;
    let source = env
        .create(
            "orig",
            Spec {
                redrive: Some((&dlq, 5)),
                ..Spec::default()
            },
        )
        .await;
    for i in 0..4 {
        env.send(&dlq, &format!(r#"{{"n":{i},"coffee":"latte"}}"#), None)
            .await;
    }
    env.wait_counts(&dlq, (4, 0)).await;
    // Export all four (as `x` does), fixed; the last one exported while masked,
    // which import refuses: its original must stay.
    let mut held: Vec<Message> = Vec::new();
    while held.len() < 4 {
        for m in env
            .b()
            .receive(&dlq, 10, Duration::from_secs(30))
            .await
            .expect("receive")
        {
            if !held.iter().any(|h| h.message_id == m.message_id) {
                held.push(m);
            }
        }
    }
    let receipts = held.iter().map(|m| m.receipt_handle.clone()).collect();
    set_visibility(env.b(), &dlq, receipts, Duration::ZERO).await;
    env.wait_counts(&dlq, (4, 0)).await;
    let mut lines: Vec<ExportedMessage> = held
        .iter()
        .map(|m| ExportedMessage::new(m, &m.body.replace("latte", "mocha")))
        .collect();
    lines[3].masked_fields = vec!["coffee".into()];
    let kept = held[3].message_id.clone();
    let home = tempfile::tempdir().expect("home");
    let path = home.path().join("fixed.jsonl");
    std::fs::write(&path, to_jsonl(&lines)).expect("write");

    let result = std::panic::AssertUnwindSafe(async {
        // Without --delete-from: the originals are counted in --to's DLQ, and stay.
        let out = import_command(&endpoint, home.path(), &path, &source.name, &[]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "one line refused: {stderr}");
        assert!(stderr.contains("sent 3 message(s)"), "{stderr}");
        assert!(
            stderr.contains(&format!("originals still in {}: about 3", dlq.name))
                && stderr.contains("approximate")
                && stderr.contains("--delete-from"),
            "{stderr}"
        );
        env.wait_counts(&dlq, (4, 0)).await;
        env.wait_counts(&source, (3, 0)).await;

        // With it: each original whose copy was sent is deleted; the refused one stays.
        let out = import_command(
            &endpoint,
            home.path(),
            &path,
            &source.name,
            &["--delete-from", &dlq.name],
        )
        .await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "one line refused: {stderr}");
        assert!(
            stderr.contains(&format!(
                "originals in {}: 3 deleted, 0 not found, 0 still there",
                dlq.name
            )),
            "{stderr}"
        );
        env.wait_counts(&dlq, (1, 0)).await;
        env.wait_counts(&source, (6, 0)).await;
        let left = env
            .b()
            .receive(&dlq, 10, Duration::from_secs(5))
            .await
            .expect("receive");
        assert_eq!(
            left.iter()
                .map(|m| m.message_id.clone())
                .collect::<Vec<_>>(),
            vec![kept.clone()],
            "the original of the copy not sent stays"
        );
        let audit = audit_lines(&home.path().join(".local/share/lazysqs/audit.jsonl"));
        for m in &held[..3] {
            assert_eq!(outcomes(&audit, "delete", &m.message_id), ["started", "ok"]);
        }
        assert!(outcomes(&audit, "delete", &kept).is_empty());
    });
    let result = futures::FutureExt::catch_unwind(result).await;
    env.cleanup().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
