//! `lazysqs snapshot` and `lazysqs check` against a real SQS-compatible server
//! (LocalStack, started by `scripts/local-sqs.sh start` or `.ci/run`), driving the
//! real binary as a script or cron job would.
//!
//! Set `LAZYSQS_TEST_ENDPOINT=http://127.0.0.1:4566` to run these. Without it they
//! skip with a printed reason on a developer's machine, and fail in CI (`CI` set).
//! Every test works on its own queues, named with a unique prefix.

mod localstack;
#[path = "support/snapshot_json.rs"]
mod snapshot_json;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};

/// Names these tests in the panic when CI runs them without a server.
const SUITE: &str = "the snapshot tests against a real server";

/// One test's queues on the server, all named `<prefix><suffix>`.
struct Env {
    endpoint: String,
    sqs: aws_sdk_sqs::Client,
    prefix: String,
    home: tempfile::TempDir,
}

impl Env {
    async fn new(test: &str) -> Option<Env> {
        let endpoint = localstack::endpoint(SUITE, test)?;
        Some(Env {
            sqs: localstack::sqs(&endpoint).await,
            endpoint,
            prefix: format!(
                "snap-{}-{}-",
                localstack::unique_id(),
                test.replace('_', "")
            ),
            home: tempfile::tempdir().expect("tempdir"),
        })
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    async fn create(&self, suffix: &str, attrs: &[(QueueAttributeName, &str)]) -> String {
        let mut req = self.sqs.create_queue().queue_name(self.name(suffix));
        for (k, v) in attrs {
            req = req.attributes(k.clone(), *v);
        }
        let out = req.send().await.expect("create queue");
        out.queue_url().expect("queue url").to_string()
    }

    async fn arn(&self, url: &str) -> String {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("arn");
        out.attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .expect("QueueArn")
            .clone()
    }

    fn redrive(dlq_arn: &str, max_receive_count: u32) -> String {
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receive_count}"}}"#)
    }

    async fn send(&self, url: &str, n: usize, delay_secs: i32) {
        for i in 0..n {
            self.sqs
                .send_message()
                .queue_url(url)
                .message_body(format!("{{\"n\":{i}}}"))
                .delay_seconds(delay_secs)
                .send()
                .await
                .expect("send");
        }
    }

    async fn send_fifo(&self, url: &str, n: usize) {
        for i in 0..n {
            self.sqs
                .send_message()
                .queue_url(url)
                .message_body(format!("{{\"invoice\":{i}}}"))
                .message_group_id("g")
                .message_deduplication_id(format!("d{i}"))
                .send()
                .await
                .expect("send fifo");
        }
    }

    async fn visible(&self, url: &str) -> u64 {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .expect("count");
        out.attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|v| v.parse().ok())
            .expect("ApproximateNumberOfMessages")
    }

    /// Receives without deleting (a crashing consumer) until `expected` messages
    /// have passed maxReceiveCount and sit in the DLQ.
    async fn fail_until_dead(&self, url: &str, dlq_url: &str, expected: u64) {
        let start = Instant::now();
        while self.visible(dlq_url).await < expected {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "messages did not reach the DLQ"
            );
            self.sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .send()
                .await
                .expect("receive");
        }
    }

    /// Receives and deletes everything in the queue.
    async fn drain(&self, url: &str) {
        let start = Instant::now();
        while self.visible(url).await > 0 {
            assert!(start.elapsed() < Duration::from_secs(30), "could not drain");
            let out = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .send()
                .await
                .expect("receive");
            for m in out.messages() {
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().expect("receipt"))
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }

    /// Runs the binary against the server with this test's prefix.
    fn lazysqs(&self, args: &[&str]) -> Output {
        self.lazysqs_at(&self.endpoint, args)
    }

    fn lazysqs_at(&self, endpoint: &str, args: &[&str]) -> Output {
        run_binary(self.home.path(), endpoint, &self.prefix, args)
    }

    async fn cleanup(&self) {
        let out = self
            .sqs
            .list_queues()
            .queue_name_prefix(&self.prefix)
            .send()
            .await;
        if let Ok(out) = out {
            for url in out.queue_urls() {
                let _ = self.sqs.delete_queue().queue_url(url).send().await;
            }
        }
    }
}

fn run_binary(home: &Path, endpoint: &str, prefix: &str, args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--endpoint-url", endpoint]);
    if !args.contains(&"--queue") {
        all.extend(["--prefix", prefix]);
    }
    std::process::Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .args(&all)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("LAZYSQS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run lazysqs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", stdout(o), stderr(o)))
}

fn queue<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .find(|q| q["name"] == name)
        .unwrap_or_else(|| panic!("no queue {name} in {v:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_of_seeded_queues_is_exact() {
    let Some(env) = Env::new("snapshot_of_seeded_queues_is_exact").await else {
        return;
    };
    // orders and orders2 share one DLQ; a FIFO pair; an idle queue.
    let dlq = env
        .create(
            "orders-dlq",
            &[(QueueAttributeName::MessageRetentionPeriod, "1209600")],
        )
        .await;
    let dlq_arn = env.arn(&dlq).await;
    let orders = env
        .create(
            "orders",
            &[(
                QueueAttributeName::RedrivePolicy,
                &Env::redrive(&dlq_arn, 3),
            )],
        )
        .await;
    let orders2 = env
        .create(
            "orders2",
            &[(
                QueueAttributeName::RedrivePolicy,
                &Env::redrive(&dlq_arn, 1),
            )],
        )
        .await;
    let inv_dlq = env
        .create("inv-dlq.fifo", &[(QueueAttributeName::FifoQueue, "true")])
        .await;
    let inv_dlq_arn = env.arn(&inv_dlq).await;
    let inv = env
        .create(
            "inv.fifo",
            &[
                (QueueAttributeName::FifoQueue, "true"),
                (
                    QueueAttributeName::RedrivePolicy,
                    &Env::redrive(&inv_dlq_arn, 2),
                ),
            ],
        )
        .await;
    env.create("idle", &[]).await;

    // orders: 5 visible, 2 in flight, 3 delayed.
    env.send(&orders, 7, 0).await;
    let held = env
        .sqs
        .receive_message()
        .queue_url(&orders)
        .max_number_of_messages(2)
        .visibility_timeout(600)
        .send()
        .await
        .expect("receive");
    assert_eq!(held.messages().len(), 2);
    env.send(&orders, 3, 900).await;
    // orders-dlq: 3 sent to it, 1 dead letter of orders2.
    env.send(&dlq, 3, 0).await;
    env.send(&orders2, 1, 0).await;
    env.fail_until_dead(&orders2, &dlq, 4).await;
    // inv.fifo: 2 visible; inv-dlq.fifo empty.
    env.send_fifo(&inv, 2).await;

    // Depths and links are SQS's; CloudWatch is left out (its figures are tested on
    // their own, below) so that LocalStack's slow GetMetricData cannot time this out.
    let out = env.lazysqs(&["snapshot", "--json", "--no-metrics"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json_of(&out);
    snapshot_json::check(&v).unwrap_or_else(|e| panic!("{e}\n{v:#}"));
    assert_eq!(v["demo"], false);
    assert_eq!(v["note"], Value::Null);
    assert_eq!(v["metrics_polled"], false);
    assert_eq!(v["metrics_error"], Value::Null);
    assert_eq!(
        v["source"],
        format!("{} (us-east-1)", env.endpoint),
        "{:#}",
        v["source"]
    );
    let names: Vec<&str> = v["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .map(|q| q["name"].as_str().expect("name"))
        .collect();
    let n = |s: &str| env.name(s);
    assert_eq!(
        names,
        [
            n("idle"),
            n("inv-dlq.fifo"),
            n("inv.fifo"),
            n("orders"),
            n("orders-dlq"),
            n("orders2")
        ]
    );

    let o = queue(&v, &n("orders"));
    assert_eq!(
        (&o["visible"], &o["in_flight"], &o["delayed"], &o["depth"]),
        (&json!(5), &json!(2), &json!(3), &json!(10)),
        "{o:#}"
    );
    assert_eq!(o["dlq"], n("orders-dlq"));
    assert_eq!(o["dlq_depth"], 4);
    assert_eq!(o["max_receive_count"], 3);
    assert_eq!(o["dlq_sources"], json!([]));
    assert_eq!(o["is_dlq"], false);
    assert_eq!(o["fifo"], false);
    assert_eq!(o["breaker"], Value::Null);
    assert_eq!(o["error"], Value::Null);

    let d = queue(&v, &n("orders-dlq"));
    assert_eq!(
        (&d["visible"], &d["in_flight"], &d["delayed"], &d["depth"]),
        (&json!(4), &json!(0), &json!(0), &json!(4)),
        "{d:#}"
    );
    assert_eq!(d["dlq"], Value::Null);
    assert_eq!(d["max_receive_count"], Value::Null);
    assert_eq!(d["dlq_sources"], json!([n("orders"), n("orders2")]));
    assert_eq!(d["is_dlq"], true);
    assert_eq!(d["retention_secs"], 1_209_600);
    assert!(
        d["flags"]
            .as_array()
            .expect("flags")
            .contains(&json!("dlq_not_empty"))
    );

    let o2 = queue(&v, &n("orders2"));
    assert_eq!(o2["depth"], 0);
    assert_eq!(o2["dlq"], n("orders-dlq"));
    assert_eq!(o2["max_receive_count"], 1);

    let i = queue(&v, &n("inv.fifo"));
    assert_eq!(i["fifo"], true);
    assert_eq!(i["visible"], 2);
    assert_eq!(i["dlq"], n("inv-dlq.fifo"));
    assert_eq!(i["dlq_depth"], 0);
    let id = queue(&v, &n("inv-dlq.fifo"));
    assert_eq!(id["dlq_sources"], json!([n("inv.fifo")]));
    assert_eq!(id["is_dlq"], true);
    assert_eq!(id["depth"], 0);
    assert_eq!(id["flags"], json!([]));

    let idle = queue(&v, &n("idle"));
    assert_eq!(idle["depth"], 0);
    assert_eq!(idle["arrival_per_min"], Value::Null);
    assert_eq!(idle["dlq_sources"], json!([]));
    assert_eq!(idle["is_dlq"], false);
    assert_eq!(idle["flags"], json!([]));
    assert_eq!(idle["drain"], "empty");

    // Only one queue selected: its DLQ is named, its depth unknown (not polled).
    let only = env.lazysqs(&[
        "snapshot",
        "--json",
        "--no-metrics",
        "--queue",
        &n("orders"),
    ]);
    let only = json_of(&only);
    snapshot_json::check(&only).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(only["queues"].as_array().expect("queues").len(), 1);
    assert_eq!(only["queues"][0]["dlq"], n("orders-dlq"));
    assert_eq!(only["queues"][0]["dlq_depth"], Value::Null);

    // The table shows the same.
    let table = env.lazysqs(&["snapshot", "--no-metrics"]);
    assert_eq!(table.status.code(), Some(0));
    let text = stdout(&table);
    assert!(
        text.contains("\nCloudWatch not asked (--no-metrics)"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!("{} ", n("orders"))))
        .unwrap_or_else(|| panic!("no orders row:\n{text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[1..5], ["std", "5", "2", "3"], "{row}");
    assert!(row.contains(&format!("{} (4)", n("orders-dlq"))), "{row}");
    let dlq_row = text
        .lines()
        .find(|l| l.starts_with(&format!("{} ", n("orders-dlq"))))
        .expect("dlq row");
    assert!(
        dlq_row.contains(&format!("← {},{}", n("orders"), n("orders2"))),
        "{dlq_row}"
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn check_exits_1_with_dead_letters_and_0_once_drained() {
    let Some(env) = Env::new("check_exits_1_with_dead_letters_and_0_once_drained").await else {
        return;
    };
    let dlq = env.create("dlq", &[]).await;
    let dlq_arn = env.arn(&dlq).await;
    let src = env
        .create(
            "src",
            &[(
                QueueAttributeName::RedrivePolicy,
                &Env::redrive(&dlq_arn, 1),
            )],
        )
        .await;
    env.send(&src, 1, 0).await;
    env.fail_until_dead(&src, &dlq, 1).await;
    env.send(&dlq, 1, 0).await;

    // The DLQ rule needs no CloudWatch; leaving it out keeps LocalStack's slow
    // GetMetricData from turning this into "could not look".
    let out = env.lazysqs(&["check", "--no-metrics"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let expected = format!(
        "{}: dlq_not_empty: 2 message(s) waiting (failures of {})",
        env.name("dlq"),
        env.name("src")
    );
    assert!(text.lines().any(|l| l == expected), "{text}");
    assert_eq!(stderr(&out), "", "nothing failed to be read");

    env.drain(&dlq).await;
    let out = env.lazysqs(&["check", "--no-metrics"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        stdout(&out),
        format!("ok: 2 queue(s) healthy on {} (us-east-1)\n", env.endpoint)
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_that_is_down_is_exit_2() {
    let Some(env) = Env::new("an_endpoint_that_is_down_is_exit_2").await else {
        return;
    };
    for args in [&["check"][..], &["snapshot"], &["snapshot", "--json"]] {
        let started = Instant::now();
        let out = env.lazysqs_at("http://127.0.0.1:1", args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stdout(&out));
        assert_eq!(stdout(&out), "", "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("listing queues on http://127.0.0.1:1") && err.contains("unreachable"),
            "{args:?}: {err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "gave up quickly"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_matching_queue_is_exit_2_for_check() {
    let Some(env) = Env::new("no_matching_queue_is_exit_2_for_check").await else {
        return;
    };
    let out = env.lazysqs(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("could not check: no queues match the selection"),
        "{}",
        stderr(&out)
    );
    let out = env.lazysqs(&["snapshot", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = json_of(&out);
    snapshot_json::check(&v).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["queues"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudwatch_figures_are_null_without_data_never_zero() {
    let Some(env) = Env::new("cloudwatch_figures_are_null_without_data_never_zero").await else {
        return;
    };
    // One queue: LocalStack answers GetMetricData slowly (a scan of its whole metric
    // store per query), so this asks for as few metrics as a poll can (4).
    env.create("quiet", &[]).await;
    let out = env.lazysqs(&["snapshot", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json_of(&out);
    snapshot_json::check(&v).unwrap_or_else(|e| panic!("{e}\n{v:#}"));
    assert_eq!(v["metrics_polled"], true);
    assert_eq!(v["metrics_error"], Value::Null, "{v:#}");
    let q = queue(&v, &env.name("quiet"));
    assert_eq!(q["depth"], 0);
    for figure in [
        "arrival_per_min",
        "consumption_per_min",
        "age_of_oldest_secs",
    ] {
        assert_eq!(q[figure], Value::Null, "{figure}: {q:#}");
    }
    assert_eq!(q["drain"], "empty");
    assert_eq!(q["flags"], json!([]));
    env.cleanup().await;
}
