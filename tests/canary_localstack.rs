//! Issue 17 against LocalStack: a canary redrive into a consumer that still
//! fails halts after a handful and loses nothing; into one that works, it ramps
//! up and drains the DLQ. Each test runs a small consumer of its own beside the
//! real `lazysqs redrive` binary.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use lazysqs::broker::{Broker, QueueRef};

mod localstack;

#[path = "support/redrive_env.rs"]
mod redrive_env;
use redrive_env::{Env, lazysqs_redrive, text};

/// A consumer of `queue` until `stop`: it receives, and deletes what it
/// received only when `deletes` (one that never deletes is a consumer that
/// still fails: each message goes back to the DLQ after maxReceiveCount 1).
fn consume(
    broker: Arc<dyn Broker>,
    queue: QueueRef,
    deletes: bool,
    stop: Arc<AtomicBool>,
) -> (tokio::task::JoinHandle<()>, Arc<AtomicU64>) {
    let received = Arc::new(AtomicU64::new(0));
    let count = received.clone();
    let task = tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            let got = broker
                .receive(&queue, 10, Duration::from_secs(1))
                .await
                .unwrap_or_default();
            count.fetch_add(got.len() as u64, Ordering::SeqCst);
            if deletes && !got.is_empty() {
                let handles = got.iter().map(|m| m.receipt_handle.clone()).collect();
                let _ = broker.delete_batch(&queue, handles).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    (task, received)
}

async fn dlq_with(env: &Env, suffix: &str, n: u64) -> (QueueRef, QueueRef) {
    let (source, dlq) = env.with_dlq(suffix, false).await;
    env.send_all(
        &source,
        (0..n)
            .map(|i| text(format!(r#"{{"order":{i}}}"#)))
            .collect(),
    )
    .await;
    env.fail_into_dlq(&source, &dlq, n).await;
    (source, dlq)
}

/// `lazysqs redrive --from DLQ --canary --canary-start 2 --yes --quiet` and
/// `extra`, run to the end: (exit code, JSON summary, stderr).
fn canary_redrive(
    env: &Env,
    dlq: &QueueRef,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let mut args = vec![
        "--from",
        &dlq.name,
        "--canary",
        "--canary-start",
        "2",
        "--yes",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let out = lazysqs_redrive(env, &args).output().expect("run lazysqs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let summary = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON summary ({e}): {stderr}"));
    (out.status.code(), summary, stderr)
}

/// Visible + in flight, once nothing is in flight any more.
async fn settled_total(env: &Env, q: &QueueRef) -> u64 {
    env.wait_no_in_flight(q, Duration::from_secs(30)).await;
    env.counts(q).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_into_a_consumer_that_still_fails_halts_and_loses_nothing() {
    let Some(env) = Env::new("canary-halt").await else {
        return;
    };
    const N: u64 = 30;
    let (orders, dlq) = dlq_with(&env, "c", N).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (consumer, _) = consume(env.dyn_broker(), orders.clone(), false, stop.clone());

    let (code, summary, stderr) =
        canary_redrive(&env, &dlq, &["--client-side", "--canary-window", "20"]);
    stop.store(true, Ordering::SeqCst);
    consumer.await.expect("consumer");
    assert_eq!(code, Some(1), "a halt exits 1: {stderr}");
    assert_eq!(summary["state"], "halted", "{summary}");
    let canary = &summary["canary"];
    assert_eq!(canary["halted"], true, "{summary}");
    assert!(canary["returns"].as_u64() > Some(2), "{summary}");
    let reason = canary["reason"].as_str().expect("a reason");
    assert!(
        reason.contains(&format!("came back to {}", dlq.name)),
        "{reason}"
    );
    assert!(stderr.contains("halted"), "{stderr}");
    let moved = summary["moved"].as_u64().expect("moved");
    assert!(moved < N / 2, "halted after a handful, not {moved} of {N}");
    assert!(canary["stages"].as_array().is_some_and(|s| !s.is_empty()));

    // Nothing lost: what was not moved is in the DLQ; what was moved is in
    // orders or back in the DLQ.
    let total = settled_total(&env, &orders).await + settled_total(&env, &dlq).await;
    assert_eq!(total, N, "{summary}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_into_a_working_consumer_ramps_up_and_drains_the_dlq() {
    let Some(env) = Env::new("canary-drain").await else {
        return;
    };
    const N: u64 = 40;
    let (orders, dlq) = dlq_with(&env, "c", N).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (consumer, received) = consume(env.dyn_broker(), orders.clone(), true, stop.clone());

    let (code, summary, stderr) = canary_redrive(
        &env,
        &dlq,
        &["--client-side", "--canary-window", "3", "--rate", "40"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(summary["state"], "completed", "{summary}");
    assert_eq!(summary["moved"], N, "{summary}");
    let canary = &summary["canary"];
    assert_eq!(canary["halted"], false, "{summary}");
    assert_eq!(canary["returns"], 0, "{summary}");
    let rates: Vec<f64> = canary["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["rate"].as_f64())
        .collect();
    assert!(rates.len() >= 2, "it ramped up: {rates:?}");
    assert_eq!(rates[..2], [2.0, 4.0], "it doubles: {rates:?}");
    assert_eq!(settled_total(&env, &dlq).await, 0, "the DLQ is drained");

    // The consumer took every one of them.
    for _ in 0..50 {
        if received.load(Ordering::SeqCst) >= N {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    consumer.await.expect("consumer");
    assert!(received.load(Ordering::SeqCst) >= N);
    env.cleanup().await;
}

/// The same two cases by SQS move tasks: a task per stage, returns read from
/// the DLQ's depth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_task_canary_steps_a_task_per_stage_or_halts_on_returns() {
    let Some(env) = Env::new("canary-task").await else {
        return;
    };
    const N: u64 = 30;
    // Into a consumer that deletes: it ramps up and drains.
    let (orders, dlq) = dlq_with(&env, "ok", N).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (consumer, _) = consume(env.dyn_broker(), orders.clone(), true, stop.clone());
    let args = |dlq: &QueueRef, window: &str| {
        canary_redrive(
            &env,
            dlq,
            &["--move-task", "--canary-window", window, "--rate", "8"],
        )
    };
    let (code, summary, stderr) = args(&dlq, "3");
    stop.store(true, Ordering::SeqCst);
    consumer.await.expect("consumer");
    assert_eq!(code, Some(0), "{stderr}\n{summary}");
    assert_eq!(summary["mode"], "move-task", "{summary}");
    assert_eq!(summary["state"], "completed", "{summary}");
    let rates: Vec<f64> = summary["canary"]["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["rate"].as_f64())
        .collect();
    assert_eq!(rates.first(), Some(&2.0), "{summary}");
    assert!(rates.len() >= 2, "a new task per stage: {summary}");
    assert_eq!(settled_total(&env, &dlq).await, 0, "drained: {summary}");

    // Into one that never deletes: it halts, and nothing is lost.
    let (orders, dlq) = dlq_with(&env, "bad", N).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (consumer, _) = consume(env.dyn_broker(), orders.clone(), false, stop.clone());
    let (code, summary, stderr) = args(&dlq, "20");
    stop.store(true, Ordering::SeqCst);
    consumer.await.expect("consumer");
    assert_eq!(code, Some(1), "{stderr}\n{summary}");
    assert_eq!(summary["state"], "halted", "{summary}");
    assert_eq!(summary["canary"]["halted"], true, "{summary}");
    assert!(summary["moved"].as_u64() < Some(N / 2), "{summary}");
    let total = settled_total(&env, &orders).await + settled_total(&env, &dlq).await;
    assert_eq!(total, N, "{summary}");
    env.cleanup().await;
}

/// Issue 25.2: a canary on a FIFO DLQ halted by a consumer that still fails
/// leaves every group in its original order: once the consumer is fixed, a
/// redrive delivers each group in order. Progress counts messages, not sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halted_fifo_canary_leaves_every_group_in_order() {
    let Some(env) = Env::new("canary-fifo").await else {
        return;
    };
    const GROUPS: [&str; 3] = ["ga", "gb", "gc"];
    const PER: u64 = 5;
    let (orders, dlq) = env.with_dlq("f", true).await;
    let messages = (0..PER)
        .flat_map(|i| {
            GROUPS
                .iter()
                .map(move |g| lazysqs::broker::OutgoingMessage {
                    body: format!(r#"{{"group":"{g}","seq":{i}}}"#),
                    group_id: Some((*g).to_string()),
                    dedup_id: Some(format!("{g}-{i}")),
                    ..Default::default()
                })
        })
        .collect();
    env.send_in_order(&orders, messages).await;
    let n = PER * GROUPS.len() as u64;
    env.fail_into_dlq(&orders, &dlq, n).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (consumer, _) = consume(env.dyn_broker(), orders.clone(), false, stop.clone());
    let (code, summary, stderr) = canary_redrive(&env, &dlq, &["--canary-window", "30"]);
    assert_eq!(code, Some(1), "a halt exits 1: {stderr}\n{summary}");
    assert_eq!(summary["state"], "halted", "{summary}");
    assert_eq!(summary["mode"], "client-side", "{summary}");
    let moved = summary["moved"].as_u64().expect("moved");
    assert!(moved <= n, "progress counts messages: {moved} of {n}");
    // The consumer goes on failing what it holds, until all of it is back.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while env.counts(&orders).await != (0, 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the failing consumer did not send everything back"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop.store(true, Ordering::SeqCst);
    consumer.await.expect("consumer");
    env.wait_no_in_flight(&dlq, Duration::from_secs(30)).await;
    assert_eq!(env.counts(&dlq).await.0, n, "nothing lost: {summary}");

    // The consumer is fixed: a redrive, then each group arrives in order.
    let out = lazysqs_redrive(&env, &["--from", &dlq.name, "--yes", "--quiet"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut by_group: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for m in env.drain_bodies(&orders).await {
        let v: serde_json::Value = serde_json::from_str(&m.body).expect("json");
        by_group
            .entry(v["group"].as_str().expect("group").to_string())
            .or_default()
            .push(v["seq"].as_u64().expect("seq"));
    }
    for g in GROUPS {
        assert_eq!(
            by_group.get(g),
            Some(&(0..PER).collect::<Vec<_>>()),
            "group {g} in order: {by_group:?}"
        );
    }
    env.cleanup().await;
}
