//! Shared setup for the tests that run against a real SQS-compatible server
//! (LocalStack, started by `scripts/local-sqs.sh start` or `.ci/run`).
//!
//! ```ignore
//! mod localstack;
//!
//! let Some(endpoint) = localstack::endpoint("the LocalStack tests", "my_test") else {
//!     return;
//! };
//! let broker = localstack::connect(&endpoint).await;
//! let sqs = localstack::sqs(&endpoint).await;
//! let prefix = localstack::unique_prefix("lzt-my_test");
//! ```
//!
//! Kept apart from `tests/common` (the pseudo-terminal helpers) so the test binaries
//! that only talk to the server don't build those.

#![allow(dead_code)]

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sqs::config::{Credentials, Region};
use lazysqs::broker::aws::{AwsBroker, AwsOptions};

/// The variable naming the server's endpoint, e.g. `http://127.0.0.1:4566`.
pub const ENDPOINT_VAR: &str = "LAZYSQS_TEST_ENDPOINT";

/// The region every test uses.
pub const REGION: &str = "us-east-1";

/// Whether we run in CI (`CI` set, and not to "", "0" or "false").
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| !matches!(v.trim(), "" | "0" | "false"))
        .unwrap_or(false)
}

/// The server's endpoint, or `None` (after printing why) when `test` should skip.
/// Panics in CI, where skipping is not allowed; `suite` names the tests in that
/// message ("the LocalStack tests").
pub fn endpoint(suite: &str, test: &str) -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => {
            if in_ci() {
                panic!(
                    "{ENDPOINT_VAR} is not set, but CI is: {suite} must run in CI, never be \
                     skipped. Start LocalStack (scripts/local-sqs.sh start) and set \
                     {ENDPOINT_VAR}=http://127.0.0.1:4566"
                );
            }
            eprintln!(
                "skipping {test}: {ENDPOINT_VAR} is not set (run scripts/local-sqs.sh start \
                 and export {ENDPOINT_VAR}=http://127.0.0.1:4566 to run it)"
            );
            None
        }
    }
}

/// The broker under test, on `endpoint` in [`REGION`], with the default profile.
pub async fn connect(endpoint: &str) -> AwsBroker {
    AwsBroker::connect(&AwsOptions {
        profile: None,
        region: Some(REGION.into()),
        endpoint_url: Some(endpoint.to_string()),
    })
    .await
    .expect("connect")
}

/// SDK configuration for plain clients that set up what a test needs: `endpoint`,
/// [`REGION`], static test/test credentials.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// A plain SQS client for setup (see [`sdk_config`]).
pub async fn sqs(endpoint: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk_config(endpoint).await)
}

/// 8 random hex digits.
pub fn unique_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..8].to_string()
}

/// `<tag>-<8 random hex digits>`: a queue name prefix no other test run shares.
pub fn unique_prefix(tag: &str) -> String {
    format!("{tag}-{}", unique_id())
}

/// Creates the queue `dlq`, then `source` with a redrive policy to it after
/// `max_receive_count` receives. Returns the URLs of the source and of the DLQ.
pub async fn create_with_dlq(
    sqs: &aws_sdk_sqs::Client,
    source: &str,
    dlq: &str,
    max_receive_count: u32,
) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let dlq_url = sqs
        .create_queue()
        .queue_name(dlq)
        .send()
        .await
        .expect("create dlq")
        .queue_url
        .expect("dlq url");
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("dlq arn")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("dlq arn attribute");
    let source_url = sqs
        .create_queue()
        .queue_name(source)
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(
                r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receive_count}"}}"#
            ),
        )
        .send()
        .await
        .expect("create source")
        .queue_url
        .expect("source url");
    (source_url, dlq_url)
}

/// One test's corner of the server: a broker, a plain client and a queue name
/// prefix no other test shares.
pub struct Lab {
    pub endpoint: String,
    pub broker: std::sync::Arc<AwsBroker>,
    pub sqs: aws_sdk_sqs::Client,
    pub prefix: String,
}

impl Lab {
    /// `None` (after saying why) when there is no server outside CI.
    pub async fn new(suite: &str, test: &str) -> Option<Lab> {
        let endpoint = endpoint(suite, test)?;
        Some(Lab {
            broker: std::sync::Arc::new(connect(&endpoint).await),
            sqs: sqs(&endpoint).await,
            prefix: unique_prefix(&format!("lzt-{test}")),
            endpoint,
        })
    }

    pub fn dyn_broker(&self) -> std::sync::Arc<dyn lazysqs::broker::Broker> {
        self.broker.clone()
    }

    /// Creates `<prefix>-<suffix>` with these attributes.
    pub async fn create(
        &self,
        suffix: &str,
        attrs: &[(aws_sdk_sqs::types::QueueAttributeName, &str)],
    ) -> lazysqs::broker::QueueRef {
        let name = format!("{}-{suffix}", self.prefix);
        let mut req = self.sqs.create_queue().queue_name(&name);
        for (k, v) in attrs {
            req = req.attributes(k.clone(), *v);
        }
        let out = req.send().await.expect("create queue");
        lazysqs::broker::QueueRef {
            name,
            url: out.queue_url().expect("queue url").to_string(),
            place: Default::default(),
        }
    }

    /// A source whose redrive policy sends a message to a new DLQ on its second
    /// receive; `attrs` go to the source.
    pub async fn with_dlq(
        &self,
        suffix: &str,
        attrs: &[(aws_sdk_sqs::types::QueueAttributeName, &str)],
    ) -> (lazysqs::broker::QueueRef, lazysqs::broker::QueueRef) {
        use lazysqs::broker::Broker;
        let dlq = self.create(&format!("{suffix}-dlq"), &[]).await;
        let arn = self.broker.queue_attributes(&dlq).await.expect("attrs").arn;
        let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"1"}}"#);
        let mut all = attrs.to_vec();
        all.push((
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            policy.as_str(),
        ));
        let source = self.create(suffix, &all).await;
        (source, dlq)
    }

    /// (visible, in flight)
    pub async fn counts(&self, q: &lazysqs::broker::QueueRef) -> (u64, u64) {
        use lazysqs::broker::Broker;
        let a = self.broker.queue_attributes(q).await.expect("attrs");
        (a.visible, a.in_flight)
    }

    /// Waits up to 30 s for `q` to show `want` (visible, in flight).
    pub async fn wait_counts(&self, q: &lazysqs::broker::QueueRef, want: (u64, u64)) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let now = self.counts(q).await;
            if now == want {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} holds {now:?}, not {want:?}",
                q.name
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Receives from `source` without deleting until `dlq` holds `n`: they carry
    /// DeadLetterQueueSourceArn, as real failures do.
    pub async fn fail_into_dlq(
        &self,
        source: &lazysqs::broker::QueueRef,
        dlq: &lazysqs::broker::QueueRef,
        n: u64,
    ) {
        use lazysqs::broker::Broker;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.counts(dlq).await.0 < n {
            assert!(
                std::time::Instant::now() < deadline,
                "messages did not reach {}",
                dlq.name
            );
            let _ = self
                .broker
                .receive(source, 10, std::time::Duration::ZERO)
                .await;
        }
    }

    /// Receives until `n` messages are in hand (holding them 60 s).
    pub async fn receive_n(
        &self,
        q: &lazysqs::broker::QueueRef,
        n: usize,
    ) -> Vec<lazysqs::broker::Message> {
        use lazysqs::broker::Broker;
        let mut got: Vec<lazysqs::broker::Message> = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while got.len() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {n} messages arrived in {}",
                got.len(),
                q.name
            );
            for m in self
                .broker
                .receive(q, 10, std::time::Duration::from_secs(60))
                .await
                .expect("receive")
            {
                if !got.iter().any(|g| g.message_id == m.message_id) {
                    got.push(m);
                }
            }
        }
        got
    }

    /// Deletes every queue of this test.
    pub async fn cleanup(&self) {
        use lazysqs::broker::Broker;
        let queues = self
            .broker
            .list_queues(&lazysqs::broker::QueueSelection {
                names: Vec::new(),
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
