//! Stopping never strands a message: SIGTERM or SIGINT to `lazysqs redrive`
//! finishes the batches in hand, gives back everything held (visibility 0) and
//! exits within 10 s; against a real SQS-compatible server (LocalStack).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lazysqs::broker::{Broker, OutgoingMessage};

mod localstack;
use localstack::Lab;

const SUITE: &str = "the stopping tests against LocalStack";

async fn stop_with(signal: i32, test: &str) {
    let Some(lab) = Lab::new(SUITE, test).await else {
        return;
    };
    const N: u64 = 300;
    let dlq = lab.create("dlq", &[]).await;
    let dest = lab.create("dest", &[]).await;
    let batch: Vec<OutgoingMessage> = (0..10)
        .map(|i| OutgoingMessage {
            body: format!(r#"{{"n":{i}}}"#),
            ..OutgoingMessage::default()
        })
        .collect();
    for _ in 0..N / 10 {
        lab.broker
            .send_batch(&dlq, batch.clone())
            .await
            .expect("send");
    }
    lab.wait_counts(&dlq, (N, 0)).await;
    let home = tempfile::tempdir().expect("home");
    // Slow enough to be mid-way when stopped, with a long visibility timeout: a
    // message left held would stay hidden for 10 minutes.
    let child = Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .args([
            "--endpoint-url",
            &lab.endpoint,
            "redrive",
            "--from",
            &dlq.name,
        ])
        .args([
            "--to",
            &dest.name,
            "--client-side",
            "--rate",
            "40",
            "--yes",
            "--quiet",
        ])
        .args(["--visibility-timeout", "600"])
        .env("HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until it is moving.
    let deadline = Instant::now() + Duration::from_secs(30);
    while lab.counts(&dest).await.0 < 40 {
        assert!(Instant::now() < deadline, "the redrive never got going");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let asked = Instant::now();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    let took = asked.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        took < Duration::from_secs(10),
        "took {took:?} to stop: {stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "stopped early is exit 1: {stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(summary["state"], "cancelled", "{summary}");

    // Nothing is left hidden: everything is either moved or visible in the DLQ.
    let (visible, in_flight) = lab.counts(&dlq).await;
    let moved = lab.counts(&dest).await.0;
    assert_eq!(in_flight, 0, "held messages were given back");
    assert_eq!(visible + moved, N, "none lost: {visible} + {moved}");
    assert!(visible > 0, "it was stopped before the end");
    assert_eq!(summary["moved"].as_u64(), Some(moved), "{summary}");
    lab.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_gives_back_everything_and_exits_within_10_s_on_localstack() {
    stop_with(libc::SIGTERM, "sigterm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_gives_back_everything_and_exits_within_10_s_on_localstack() {
    stop_with(libc::SIGINT, "sigint").await;
}
