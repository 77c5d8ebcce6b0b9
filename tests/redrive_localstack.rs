//! Bulk redrive against a real SQS-compatible server (LocalStack): never losing a
//! message when the process is SIGKILLed mid-way, move tasks (start, progress,
//! cancel), client-side rate accuracy, filter, FIFO groups and fresh dedup ids, and
//! per-message reports of failed sends.
//!
//! Set `LAZYSQS_TEST_ENDPOINT=http://127.0.0.1:4566` to run these (scripts/local-sqs.sh
//! start). Without it they skip with a printed reason, and fail in CI (`CI` set).
//! Every test uses its own queues, named with a random prefix.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use lazysqs::broker::{Broker, MessageAttribute, OutgoingMessage};
use lazysqs::redrive::{self, ClientOptions, Destination, Mode, ModePreference, Request, RunState};

mod localstack;

#[path = "support/redrive_env.rs"]
mod redrive_env;
use redrive_env::{Env, client, lazysqs_redrive, run, text};

/// The acceptance test of the issue: a client-side redrive of 2,000 messages killed
/// (SIGKILL) mid-way several times, then run to the end, loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_redrive_never_loses_a_message() {
    let Some(env) = Env::new("kill").await else {
        return;
    };
    const N: usize = 2000;
    let dlq = env.create("dlq", &[]).await;
    let dest = env.create("dest", &[]).await;
    let ids: BTreeSet<String> = (0..N).map(|i| format!("msg-{i:05}")).collect();
    env.send_all(
        &dlq,
        ids.iter()
            .map(|id| text(format!(r#"{{"id":"{id}","pad":"{}"}}"#, "x".repeat(64))))
            .collect(),
    )
    .await;
    assert_eq!(env.counts(&dlq).await.0, N as u64);

    let args = [
        "--from",
        &dlq.name,
        "--to",
        &dest.name,
        "--client-side",
        "--yes",
        "--quiet",
        "--visibility-timeout",
        "5",
    ];
    // Kill it four times, each time after it has moved some more.
    for round in 1..=4u64 {
        let mut child = lazysqs_redrive(&env, &args).spawn().expect("spawn lazysqs");
        let goal = round * 250;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if env.counts(&dest).await.0 >= goal {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let out = child.wait_with_output().expect("output");
                panic!(
                    "lazysqs exited early ({status}): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            assert!(Instant::now() < deadline, "no progress in round {round}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
        let status = child.wait().expect("wait");
        assert!(!status.success(), "it was killed: {status}");
        eprintln!(
            "round {round}: killed with {} in the destination",
            env.counts(&dest).await.0
        );
    }
    // What the killed runs held comes back after the visibility timeout; then finish.
    env.wait_no_in_flight(&dlq, Duration::from_secs(30)).await;
    let out = lazysqs_redrive(&env, &args).output().expect("run lazysqs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "final run failed: {stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(summary["state"], "completed", "{summary}");
    assert_eq!(summary["mode"], "client-side");
    assert_eq!(summary["failed"], 0);

    env.wait_no_in_flight(&dlq, Duration::from_secs(30)).await;
    env.wait_no_in_flight(&dest, Duration::from_secs(30)).await;
    let in_dest = env.drain_bodies(&dest).await;
    let in_dlq = env.drain_bodies(&dlq).await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for m in in_dest.iter().chain(in_dlq.iter()) {
        let v: serde_json::Value = serde_json::from_str(&m.body).expect("json body");
        let id = v["id"].as_str().expect("id").to_string();
        *seen.entry(id).or_default() += 1;
    }
    let missing: Vec<&String> = ids.iter().filter(|id| !seen.contains_key(*id)).collect();
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "after 4 kills: {} in the destination, {} left in the DLQ, {duplicates} duplicates, \
         {} missing",
        in_dest.len(),
        in_dlq.len(),
        missing.len()
    );
    assert!(missing.is_empty(), "lost messages: {missing:?}");
    assert!(in_dlq.is_empty(), "the final run left messages in the DLQ");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_task_start_progress_and_cancel() {
    let Some(env) = Env::new("task").await else {
        return;
    };
    // Messages that failed for real carry their source: the task sends them back.
    let (source, dlq) = env.with_dlq("orders", false).await;
    env.send_all(
        &source,
        (0..20).map(|i| text(format!("order-{i}"))).collect(),
    )
    .await;
    env.fail_into_dlq(&source, &dlq, 20).await;
    let req = Request {
        source: dlq.clone(),
        destination: Destination::OwnSource,
        rate: Some(10),
        max: None,
        filter: None,
        transform: None,
        mode: ModePreference::Auto,
        client: ClientOptions::default(),
        canary: None,
    };
    let broker = env.dyn_broker();
    let plan = redrive::plan(broker.as_ref(), req.clone())
        .await
        .expect("plan");
    assert_eq!(plan.mode, Mode::MoveTask, "{}", plan.mode_reason);
    assert_eq!(plan.destinations, vec![source.name.clone()]);
    let handle = redrive::start(
        broker.clone(),
        &plan,
        &lazysqs::recovery::audit::Audit::default(),
    )
    .await
    .expect("start");
    let report = tokio::time::timeout(Duration::from_secs(60), handle.wait())
        .await
        .expect("ends");
    assert_eq!(report.state, RunState::Completed, "{report:?}");
    assert_eq!(report.moved, 20);
    assert!(report.task_handle.is_some());
    env.wait_no_in_flight(&source, Duration::from_secs(10))
        .await;
    assert_eq!(env.counts(&source).await.0, 20);
    assert_eq!(env.counts(&dlq).await.0, 0);

    // A slow task to a chosen queue: progress, then cancel.
    let other = env.create("retry", &[]).await;
    env.send_all(&dlq, (0..100).map(|i| text(format!("m-{i}"))).collect())
        .await;
    let plan = redrive::plan(
        broker.as_ref(),
        Request {
            destination: Destination::Queue(other.clone()),
            rate: Some(5),
            ..req
        },
    )
    .await
    .expect("plan");
    assert_eq!(plan.mode, Mode::MoveTask, "{}", plan.mode_reason);
    let handle = redrive::start(
        broker.clone(),
        &plan,
        &lazysqs::recovery::audit::Audit::default(),
    )
    .await
    .expect("start");
    let mut progress = handle.progress.clone();
    let p = tokio::time::timeout(
        Duration::from_secs(30),
        progress.wait_for(|p| p.state == RunState::Running && p.moved >= 5),
    )
    .await
    .expect("progress in time")
    .expect("progress")
    .clone();
    assert_eq!(p.mode, Mode::MoveTask);
    assert_eq!(p.total, Some(100));
    assert_eq!(p.target_rate, Some(5.0));
    // The task shows up for anyone listing the queue's tasks.
    let running = redrive::task::running_task(broker.as_ref(), &plan.source_arn)
        .await
        .expect("list")
        .expect("a running task");
    assert_eq!(running.rate, Some(5));
    assert!(handle.control.pause().is_err(), "a move task cannot pause");
    handle.control.cancel();
    let report = tokio::time::timeout(Duration::from_secs(60), handle.wait())
        .await
        .expect("ends");
    assert_eq!(report.state, RunState::Cancelled, "{report:?}");
    assert!(report.moved < 100, "{report:?}");
    env.wait_no_in_flight(&dlq, Duration::from_secs(10)).await;
    let (in_other, in_dlq) = (env.counts(&other).await.0, env.counts(&dlq).await.0);
    assert_eq!(in_other + in_dlq, 100, "moved {in_other}, left {in_dlq}");
    assert!(in_other >= 5);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_rate_holds_the_target() {
    let Some(env) = Env::new("rate").await else {
        return;
    };
    let dlq = env.create("dlq", &[]).await;
    let dest = env.create("dest", &[]).await;
    env.send_all(&dlq, (0..200).map(|i| text(format!("m-{i}"))).collect())
        .await;
    let start = Instant::now();
    let report = run(
        &env,
        Request {
            source: dlq.clone(),
            destination: Destination::Queue(dest.clone()),
            rate: Some(20),
            max: None,
            filter: None,
            transform: None,
            mode: ModePreference::ClientSide,
            client: client(4),
            canary: None,
        },
    )
    .await;
    let wall = start.elapsed().as_secs_f64();
    eprintln!(
        "rate 20/s: moved {} in {:.2}s (wall {wall:.2}s), measured {:.2} msg/s",
        report.moved, report.duration_secs, report.rate
    );
    assert_eq!(report.moved, 200);
    assert!(
        (report.rate - 20.0).abs() <= 2.0,
        "measured {:.2} msg/s, target 20 ±10%",
        report.rate
    );
    // 200 at 20/s is 10 s; never faster.
    assert!(wall >= 9.5, "took {wall:.2}s");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_moves_only_matching_messages() {
    let Some(env) = Env::new("filter").await else {
        return;
    };
    let (source, dlq) = env.with_dlq("orders", false).await;
    env.send_all(
        &source,
        (0..40)
            .map(|i| {
                let store = if i % 4 == 0 { "berlin-01" } else { "oslo-03" };
                text(format!(r#"{{"order_id":"o-{i}","store_id":"{store}"}}"#))
            })
            .collect(),
    )
    .await;
    env.fail_into_dlq(&source, &dlq, 40).await;
    env.wait_no_in_flight(&source, Duration::from_secs(10))
        .await;
    let report = run(
        &env,
        Request {
            source: dlq.clone(),
            destination: Destination::OwnSource,
            rate: None,
            max: None,
            filter: Some("store_id=berlin-01".parse().expect("filter")),
            transform: None,
            mode: ModePreference::Auto,
            client: client(4),
            canary: None,
        },
    )
    .await;
    assert_eq!(report.mode, Mode::ClientSide);
    assert_eq!(
        (report.moved, report.skipped, report.failed),
        (10, 30, 0),
        "{report:?}"
    );
    assert_eq!(report.by_destination.get(&source.name), Some(&10));
    // The rest is released at once, untouched.
    assert_eq!(env.counts(&dlq).await, (30, 0));
    let back = env.drain_bodies(&source).await;
    assert_eq!(back.len(), 10);
    assert!(back.iter().all(|m| m.body.contains("berlin-01")));
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_redrive_keeps_groups_and_uses_fresh_dedup_ids() {
    let Some(env) = Env::new("fifo").await else {
        return;
    };
    let (source, dlq) = env.with_dlq("invoices", true).await;
    let groups = ["acme", "globex", "initech", "umbrella", "hooli", "stark"];
    // Enough per group for several receives each, moved by the default (adaptive)
    // mover: groups in parallel through the shared FIFO lane.
    const N: usize = 90;
    let mut attrs = BTreeMap::new();
    attrs.insert(
        "currency".to_string(),
        MessageAttribute {
            data_type: "String".into(),
            value: "EUR".into(),
        },
    );
    let messages: Vec<OutgoingMessage> = (0..N)
        .map(|i| OutgoingMessage {
            body: format!("inv-{i:02}"),
            attributes: attrs.clone(),
            group_id: Some(groups[i % groups.len()].to_string()),
            dedup_id: Some(format!("d-{i}")),
            delay: None,
            trace_header: None,
        })
        .collect();
    env.send_in_order(&dlq, messages).await;
    let dest = env
        .create(
            "dest.fifo",
            &[
                (QueueAttributeName::FifoQueue, "true"),
                (QueueAttributeName::ContentBasedDeduplication, "true"),
            ],
        )
        .await;
    let req = Request {
        source: dlq.clone(),
        destination: Destination::Queue(dest.clone()),
        rate: None,
        max: None,
        filter: None,
        transform: None,
        mode: ModePreference::ClientSide,
        client: ClientOptions::default(),
        canary: None,
    };
    let report = run(&env, req.clone()).await;
    assert_eq!((report.moved, report.failed), (N as u64, 0), "{report:?}");
    let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
    loop {
        let got = env
            .broker
            .receive(&dest, 10, Duration::from_secs(60))
            .await
            .expect("receive");
        if got.is_empty() {
            break;
        }
        let handles = got.iter().map(|m| m.receipt_handle.clone()).collect();
        for m in got {
            assert_eq!(m.attributes, attrs);
            by_group
                .entry(m.group_id.clone().expect("group id"))
                .or_default()
                .push(m.body);
        }
        env.broker
            .delete_batch(&dest, handles)
            .await
            .expect("delete");
    }
    for (i, g) in groups.iter().enumerate() {
        let want: Vec<String> = (0..N)
            .filter(|n| n % groups.len() == i)
            .map(|n| format!("inv-{n:02}"))
            .collect();
        assert_eq!(by_group.get(*g), Some(&want), "group {g}");
    }
    // The same bodies fail again within 5 minutes: a redrive with the old (or
    // content-based) dedup ids would be silently dropped; fresh ids get through.
    let again: Vec<OutgoingMessage> = (0..N)
        .map(|i| OutgoingMessage {
            body: format!("inv-{i:02}"),
            attributes: attrs.clone(),
            group_id: Some(groups[i % groups.len()].to_string()),
            dedup_id: Some(format!("again-{i}")),
            delay: None,
            trace_header: None,
        })
        .collect();
    env.send_in_order(&dlq, again).await;
    let report = run(&env, req).await;
    assert_eq!(report.moved, N as u64);
    assert_eq!(
        env.counts(&dest).await.0,
        N as u64,
        "resent messages were dropped"
    );
    let _ = source;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_send_leaves_the_message_in_the_dlq() {
    let Some(env) = Env::new("sendfail").await else {
        return;
    };
    let dlq = env.create("dlq", &[]).await;
    // The destination takes bodies of at most 1 KiB: the big ones fail, per entry,
    // inside batches whose other entries succeed.
    let dest = env
        .create("small", &[(QueueAttributeName::MaximumMessageSize, "1024")])
        .await;
    let mut messages: Vec<OutgoingMessage> = (0..27).map(|i| text(format!("small-{i}"))).collect();
    for i in 0..3 {
        messages.push(text(format!("big-{i}-{}", "x".repeat(2000))));
    }
    env.send_all(&dlq, messages).await;
    let report = run(
        &env,
        Request {
            source: dlq.clone(),
            destination: Destination::Queue(dest.clone()),
            rate: None,
            max: None,
            filter: None,
            transform: None,
            mode: ModePreference::ClientSide,
            client: client(2),
            canary: None,
        },
    )
    .await;
    assert_eq!((report.moved, report.failed), (27, 3), "{report:?}");
    assert!(!report.succeeded());
    assert_eq!(report.failures.len(), 3);
    for f in &report.failures {
        assert_eq!(f.destination.as_deref(), Some(dest.name.as_str()));
        assert!(f.reason.contains("1024"), "{}", f.reason);
    }
    // The three are still in the DLQ, visible again; nothing else is.
    assert_eq!(env.counts(&dlq).await, (3, 0));
    assert_eq!(env.counts(&dest).await.0, 27);

    // The headless command says so too: exit status 1, the failures in the JSON.
    let out = lazysqs_redrive(
        &env,
        &[
            "--from",
            &dlq.name,
            "--to",
            &dest.name,
            "--client-side",
            "--yes",
            "--quiet",
        ],
    )
    .output()
    .expect("run lazysqs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(summary["moved"], 0, "{summary}");
    assert_eq!(summary["failed"], 3, "{summary}");
    assert_eq!(summary["failures"].as_array().map(Vec::len), Some(3));
    let left = env.drain_bodies(&dlq).await;
    assert_eq!(left.len(), 3);
    assert!(left.iter().all(|m| m.body.starts_with("big-")));
    env.cleanup().await;
}

/// FIFO messages in `groups`, `per` each, numbered in order within their group.
fn fifo_messages(groups: &[&str], per: usize, tag: &str) -> Vec<OutgoingMessage> {
    (0..per)
        .flat_map(|i| {
            groups.iter().map(move |g| OutgoingMessage {
                body: format!(r#"{{"group":"{g}","seq":{i}}}"#),
                group_id: Some((*g).to_string()),
                dedup_id: Some(format!("{tag}-{g}-{i}")),
                ..Default::default()
            })
        })
        .collect()
}

/// Issue 25.1: auto mode moves a FIFO DLQ client-side (fresh ids: every message
/// arrives); a move task asked for on a FIFO DLQ states the risk, and when the
/// source drops what it re-sent (LocalStack keeps the old deduplication ids), the
/// summary says so and the exit status is 1, never "completed" with exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_dlq_redrive_never_loses_messages_silently() {
    let Some(env) = Env::new("fifo-task").await else {
        return;
    };
    let (source, dlq) = env.with_dlq("inv", true).await;
    env.send_in_order(&source, fifo_messages(&["ga", "gb"], 3, "first"))
        .await;
    env.fail_into_dlq(&source, &dlq, 6).await;

    let out = lazysqs_redrive(&env, &["--from", &dlq.name, "--yes", "--quiet"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{summary}");
    assert_eq!(summary["mode"], "client-side", "{summary}");
    let reason = summary["mode_reason"].as_str().expect("reason");
    assert!(reason.contains("fresh deduplication ids"), "{reason}");
    assert_eq!(summary["moved"], 6, "{summary}");
    assert_eq!(env.counts(&source).await.0, 6, "all six arrived");

    // Fail them again and ask for a move task: within 5 minutes the source sees
    // the deduplication ids it already took.
    env.fail_into_dlq(&source, &dlq, 6).await;
    let out = lazysqs_redrive(
        &env,
        &["--from", &dlq.name, "--move-task", "--yes", "--quiet"],
    )
    .output()
    .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(summary["mode"], "move-task", "{summary}");
    assert!(
        stderr.contains("deduplication id"),
        "the plan states the risk: {stderr}"
    );
    let arrived = env.counts(&source).await.0;
    let arrivals = &summary["arrivals"];
    assert_eq!(arrivals["queues"][0], source.name.as_str(), "{summary}");
    if arrived < 6 {
        assert_eq!(out.status.code(), Some(1), "a shortfall exits 1: {summary}");
        let error = summary["error"].as_str().expect("an error");
        assert!(error.contains("not accounted for"), "{error}");
        assert!(error.contains("by the server's count"), "{error}");
        assert!(stderr.contains("not accounted for"), "{stderr}");
    } else {
        assert_eq!(out.status.code(), Some(0), "{summary}");
        assert!(summary["error"].is_null(), "{summary}");
    }
    assert_eq!(
        arrivals["depth_growth"].as_u64(),
        Some(arrived),
        "the growth lazysqs saw is what arrived: {summary}"
    );
    env.cleanup().await;
}

/// Issue 25.3: a move task is cancelled only while it runs. Cancelling one that
/// has finished left LocalStack's task CANCELLING for good, and no move task could
/// start on that DLQ again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_finished_move_task_sends_nothing_and_the_next_task_starts() {
    let Some(env) = Env::new("task-cancel").await else {
        return;
    };
    let (source, dlq) = env.with_dlq("o", false).await;
    env.send_all(&source, (0..5).map(|i| text(format!("m{i}"))).collect())
        .await;
    env.fail_into_dlq(&source, &dlq, 5).await;
    let dlq_arn = env.arn(&dlq).await;
    let handle = env
        .broker
        .start_move_task(&dlq_arn, None, Some(100))
        .await
        .expect("start");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let tasks = env.broker.list_move_tasks(&dlq_arn).await.expect("list");
        if tasks.iter().all(|t| !t.status.is_running()) {
            break;
        }
        assert!(Instant::now() < deadline, "the task did not finish");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let audit = lazysqs::recovery::audit::Audit::default();
    let outcome = redrive::record::cancel_move_task(env.broker.as_ref(), &audit, &dlq, &handle)
        .await
        .expect("cancel");
    assert!(
        matches!(outcome, redrive::task::Cancel::NotRunning(_)),
        "{outcome:?}"
    );
    // The DLQ can take a new task.
    env.fail_into_dlq(&source, &dlq, 5).await;
    let out = lazysqs_redrive(
        &env,
        &["--from", &dlq.name, "--move-task", "--yes", "--quiet"],
    )
    .output()
    .expect("run");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(out.status.code(), Some(0), "{summary}");
    assert_eq!(summary["state"], "completed", "{summary}");
    assert_eq!(summary["moved"], 5, "{summary}");
    env.cleanup().await;
}
