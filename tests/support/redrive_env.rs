//! A LocalStack world for redrive tests: queues with DLQs, messages failed into
//! them, counts, and the `lazysqs redrive` command pointed at the server.
//! The including test crate declares `mod localstack;`.

#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use futures::StreamExt;
use lazysqs::broker::aws::AwsBroker;
use lazysqs::broker::{Broker, OutgoingMessage, QueueRef, QueueSelection};
use lazysqs::redrive::{self, ClientOptions, Report, Request};

use crate::localstack;

/// Names these tests in the panic when CI runs them without a server.
pub const SUITE: &str = "the redrive tests";

pub struct Env {
    pub endpoint: String,
    pub broker: Arc<AwsBroker>,
    pub sqs: aws_sdk_sqs::Client,
    pub prefix: String,
}

impl Env {
    pub async fn new(test: &str) -> Option<Env> {
        let endpoint = localstack::endpoint(SUITE, test)?;
        Some(Env {
            broker: Arc::new(localstack::connect(&endpoint).await),
            sqs: localstack::sqs(&endpoint).await,
            prefix: localstack::unique_prefix(&format!("lzr-{test}")),
            endpoint,
        })
    }

    pub fn dyn_broker(&self) -> Arc<dyn Broker> {
        self.broker.clone()
    }

    pub async fn create(&self, suffix: &str, attrs: &[(QueueAttributeName, &str)]) -> QueueRef {
        let name = format!("{}-{suffix}", self.prefix);
        let mut req = self.sqs.create_queue().queue_name(&name);
        for (k, v) in attrs {
            req = req.attributes(k.clone(), *v);
        }
        let out = req.send().await.expect("create queue");
        QueueRef {
            name,
            url: out.queue_url().expect("queue url").to_string(),
            place: Default::default(),
        }
    }

    pub async fn arn(&self, q: &QueueRef) -> String {
        self.broker.queue_attributes(q).await.expect("attrs").arn
    }

    /// A source queue whose redrive policy points at a new DLQ (maxReceiveCount 1).
    pub async fn with_dlq(&self, suffix: &str, fifo: bool) -> (QueueRef, QueueRef) {
        let ext = if fifo { ".fifo" } else { "" };
        let fifo_attrs: Vec<(QueueAttributeName, &str)> = if fifo {
            vec![
                (QueueAttributeName::FifoQueue, "true"),
                (QueueAttributeName::ContentBasedDeduplication, "true"),
            ]
        } else {
            vec![]
        };
        let dlq = self
            .create(&format!("{suffix}-dlq{ext}"), &fifo_attrs)
            .await;
        let policy = format!(
            r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"1"}}"#,
            self.arn(&dlq).await
        );
        let mut attrs = fifo_attrs.clone();
        attrs.push((QueueAttributeName::RedrivePolicy, policy.as_str()));
        let source = self.create(&format!("{suffix}{ext}"), &attrs).await;
        (source, dlq)
    }

    /// Sends messages, 10 per call, several calls at once.
    pub async fn send_all(&self, q: &QueueRef, messages: Vec<OutgoingMessage>) {
        let chunks: Vec<Vec<OutgoingMessage>> = messages.chunks(10).map(<[_]>::to_vec).collect();
        let results: Vec<_> = futures::stream::iter(chunks)
            .map(|c| async move { self.broker.send_batch(q, c).await })
            .buffer_unordered(4)
            .collect()
            .await;
        for r in results {
            for (_, e) in r.expect("send batch") {
                e.expect("sent");
            }
        }
    }

    /// Sends messages in order, 10 per call, one call at a time (FIFO order).
    pub async fn send_in_order(&self, q: &QueueRef, messages: Vec<OutgoingMessage>) {
        for chunk in messages.chunks(10) {
            for (_, e) in self
                .broker
                .send_batch(q, chunk.to_vec())
                .await
                .expect("send")
            {
                e.expect("sent");
            }
        }
    }

    /// Receives (with visibility 0, never deleting) until `n` messages sit in the DLQ:
    /// they carry DeadLetterQueueSourceArn, as real failures do.
    pub async fn fail_into_dlq(&self, source: &QueueRef, dlq: &QueueRef, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.counts(dlq).await.0 < n {
            assert!(Instant::now() < deadline, "messages did not reach the DLQ");
            let _ = self.broker.receive(source, 10, Duration::ZERO).await;
        }
    }

    /// (visible, in flight).
    pub async fn counts(&self, q: &QueueRef) -> (u64, u64) {
        let a = self.broker.queue_attributes(q).await.expect("attrs");
        (a.visible, a.in_flight)
    }

    pub async fn wait_no_in_flight(&self, q: &QueueRef, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.counts(q).await.1 > 0 {
            assert!(
                Instant::now() < deadline,
                "{} still has messages in flight",
                q.name
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Every message of a queue (received and hidden for an hour, not deleted).
    pub async fn drain_bodies(&self, q: &QueueRef) -> Vec<lazysqs::broker::Message> {
        let (visible, _) = self.counts(q).await;
        let mut out = Vec::new();
        let mut empty = 0;
        while empty < 5 {
            let got = self
                .broker
                .receive(q, 10, Duration::from_secs(3600))
                .await
                .expect("receive");
            if got.is_empty() {
                if out.len() as u64 >= visible {
                    empty += 1;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            } else {
                empty = 0;
                out.extend(got);
            }
        }
        out
    }

    pub async fn cleanup(&self) {
        let queues = self
            .broker
            .list_queues(&QueueSelection {
                names: vec![],
                prefixes: vec![self.prefix.clone()],
                place: None,
            })
            .await
            .unwrap_or_default();
        for q in queues {
            let _ = self.sqs.delete_queue().queue_url(&q.url).send().await;
        }
    }
}

pub fn text(body: String) -> OutgoingMessage {
    OutgoingMessage {
        body,
        ..Default::default()
    }
}

pub fn client(workers: usize) -> ClientOptions {
    ClientOptions {
        workers,
        ..ClientOptions::default()
    }
}

pub async fn run(env: &Env, req: Request) -> Report {
    let broker = env.dyn_broker();
    let plan = redrive::plan(broker.as_ref(), req).await.expect("plan");
    let handle = redrive::start(broker, &plan, &lazysqs::recovery::audit::Audit::default())
        .await
        .expect("start");
    tokio::time::timeout(Duration::from_secs(180), handle.wait())
        .await
        .expect("the redrive ends")
}

/// The `lazysqs redrive` command, talking to the test server.
pub fn lazysqs_redrive(env: &Env, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lazysqs"));
    let log = std::env::temp_dir().join(format!("{}.log", env.prefix));
    cmd.arg("--endpoint-url")
        .arg(&env.endpoint)
        .arg("--log-file")
        .arg(log)
        .arg("redrive")
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}
