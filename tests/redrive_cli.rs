//! `lazysqs redrive` as a runbook sees it, on the built-in demo: the JSON summary,
//! dry runs, the choice of mode, refusing to run unconfirmed, and exit statuses.

use std::process::{Command, Output, Stdio};

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

mod localstack;

/// Names the LocalStack tests here in the panic when CI runs them without a server.
const SUITE: &str = "the redrive command's LocalStack tests";

fn lazysqs(args: &[&str]) -> Output {
    lazysqs_with("", &["--demo"], args)
}

/// `lazysqs GLOBAL… redrive ARGS…` with this config file.
fn lazysqs_with(config_text: &str, global: &[&str], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, config_text).expect("config");
    Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .args(global)
        .arg("--config")
        .arg(&config)
        .arg("--log-file")
        .arg(dir.path().join("lazysqs.log"))
        .arg("redrive")
        .args(args)
        // The audit log goes to this run's own data directory.
        .env("HOME", dir.path())
        .env_remove("XDG_DATA_HOME")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .env_remove("LAZYSQS_PROFILE")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .env_remove("AWS_CONFIG_FILE")
        .stdin(Stdio::null())
        .output()
        .expect("run lazysqs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn dry_run_prints_the_plan_as_json_and_moves_nothing() {
    // The demo's DLQ is empty at the start: a dry run says it would move nothing.
    let out = lazysqs(&["--from", "orders-dlq", "--rate", "50", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("no visible message") && e.contains("move nothing")),
        "{v}"
    );
    assert!(v["next_step"].is_string(), "{v}");
    assert_eq!(v["state"], "dry_run");
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["mode"], "move-task");
    assert_eq!(v["source"], "orders-dlq");
    assert_eq!(v["destination"], "own source");
    assert_eq!(v["destinations"], serde_json::json!(["orders"]));
    assert_eq!(v["moved"], 0);
    assert_eq!(v["target_rate"], 50);
    assert_eq!(v["gate"]["gate"], "proceed");
    assert!(stderr(&out).contains("SQS move task"), "{}", stderr(&out));
}

#[test]
fn a_filter_or_a_count_means_client_side() {
    for args in [
        &[
            "--from",
            "orders-dlq",
            "--filter",
            "store_id=berlin-01",
            "--dry-run",
        ][..],
        &["--from", "orders-dlq", "--max", "5", "--dry-run"][..],
        &["--from", "orders-dlq", "--client-side", "--dry-run"][..],
    ] {
        let out = lazysqs(args);
        // 1: the demo's DLQ is empty at the start, so it would move nothing.
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let v = json(&out);
        assert_eq!(v["mode"], "client-side", "{args:?}");
    }
    let v = json(&lazysqs(&[
        "--from",
        "orders-dlq",
        "--filter",
        "store_id=berlin-01",
        "--dry-run",
    ]));
    assert_eq!(v["filter"], "store_id = \"berlin-01\"");
    assert!(
        v["mode_reason"]
            .as_str()
            .is_some_and(|r| r.contains("filter")),
        "{v}"
    );
}

/// An exit 2 prints the JSON summary too: this `state`, the reason in `error`
/// (containing `error_has`) and a `next_step` (containing `next_has`).
fn did_not_run(out: &Output, state: &str, error_has: &str, next_has: &str) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    let v = json(out);
    assert_eq!(v["state"], state, "{v}");
    let error = v["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(error_has),
        "error {error:?} should say {error_has:?}"
    );
    let next = v["next_step"].as_str().unwrap_or_default();
    assert!(
        next.contains(next_has),
        "next_step {next:?} should say {next_has:?}"
    );
    assert_eq!(v["moved"], 0, "{v}");
    v
}

#[test]
fn without_yes_and_without_a_terminal_it_refuses() {
    let out = lazysqs(&["--from", "orders-dlq"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("stdin is not a terminal") && err.contains("--yes"),
        "{err}"
    );
    let v = did_not_run(&out, "not_confirmed", "stdin is not a terminal", "--yes");
    assert_eq!(v["source"], "orders-dlq");
    assert_eq!(v["mode"], "move-task", "the plan is known: {v}");
}

#[test]
fn every_exit_2_prints_the_json_with_the_error_and_the_next_step() {
    let v = did_not_run(
        &lazysqs(&["--from", "no-such-queue", "--yes"]),
        "not_planned",
        "no queue named no-such-queue",
        "lazysqs snapshot",
    );
    assert_eq!(v["source"], "no-such-queue");
    did_not_run(
        &lazysqs(&["--from", "orders-dlq", "--to", "nowhere", "--yes"]),
        "not_planned",
        "no queue named nowhere",
        "name",
    );
    did_not_run(
        &lazysqs(&[
            "--from",
            "orders-dlq",
            "--move-task",
            "--rate",
            "800",
            "--yes",
        ]),
        "refused",
        "at most 500",
        "--move-task",
    );
    did_not_run(
        &lazysqs_with(
            "",
            &["--demo", "--read-only"],
            &["--from", "orders-dlq", "--yes"],
        ),
        "refused",
        "read-only",
        "--read-only",
    );
    did_not_run(
        &lazysqs_with(
            "refresh = 3\n",
            &["--demo"],
            &["--from", "orders-dlq", "--yes"],
        ),
        "not_planned",
        "config.toml",
        "config",
    );
    // Nothing points at AWS and no --demo: a script must not redrive the simulation.
    did_not_run(
        &lazysqs_with("", &[], &["--from", "orders-dlq", "--yes"]),
        "refused",
        "no AWS configured",
        "--demo",
    );
}

#[test]
fn a_queue_that_is_no_dlq_is_refused_without_a_destination() {
    // The demo's orders is a source: no queue sends orders its failures.
    let v = did_not_run(
        &lazysqs(&["--from", "orders", "--yes"]),
        "refused",
        "no queue names orders as its dead-letter queue",
        "--to",
    );
    assert!(
        v["next_step"]
            .as_str()
            .is_some_and(|n| n.contains("[[dlq]]")),
        "{v}"
    );
}

#[test]
fn bad_requests_exit_2_with_a_reason() {
    let out = lazysqs(&["--from", "no-such-queue", "--yes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no queue named no-such-queue"),
        "{}",
        stderr(&out)
    );

    let out = lazysqs(&[
        "--from",
        "orders-dlq",
        "--move-task",
        "--rate",
        "800",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("at most 500"), "{}", stderr(&out));

    let out = lazysqs(&["--from", "orders-dlq", "--to", "orders-dlq", "--yes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("both the source and the destination"));

    let out = lazysqs(&["--from", "orders-dlq", "--rate", "0", "--yes"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_run_prints_a_summary_and_exits_0() {
    // The demo's DLQ is empty at the start: nothing to move is a success.
    let out = lazysqs(&["--from", "orders-dlq", "--client-side", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["state"], "completed");
    assert_eq!(v["mode"], "client-side");
    assert_eq!(v["failed"], 0);
    assert!(v["duration_secs"].is_number());
    assert!(v["moved"].is_number());
}

/// `lazysqs --endpoint-url ENDPOINT redrive ARGS…` with LocalStack's test credentials.
fn lazysqs_on(endpoint: &str, config_text: &str, args: &[&str]) -> Output {
    let mut command = vec!["redrive"];
    command.extend_from_slice(args);
    lazysqs_command_on(endpoint, config_text, &command)
}

/// `lazysqs --endpoint-url ENDPOINT COMMAND…` with LocalStack's test credentials.
fn lazysqs_command_on(endpoint: &str, config_text: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, config_text).expect("config");
    Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .args(["--endpoint-url", endpoint, "--region", localstack::REGION])
        .arg("--config")
        .arg(&config)
        .arg("--log-file")
        .arg(dir.path().join("lazysqs.log"))
        .args(args)
        .env("HOME", dir.path())
        .env_remove("XDG_DATA_HOME")
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .output()
        .expect("run lazysqs")
}

/// Sends `n` small messages to the queue at `url`.
async fn fill(sqs: &aws_sdk_sqs::Client, url: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let entries = chunk.iter().map(|i| {
            SendMessageBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .message_body(format!(r#"{{"n":{i}}}"#))
                .build()
                .expect("entry")
        });
        sqs.send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries.collect()))
            .send()
            .await
            .expect("send batch");
    }
}

async fn arn_of(lab: &localstack::Lab, q: &lazysqs::broker::QueueRef) -> String {
    use lazysqs::broker::Broker;
    lab.broker.queue_attributes(q).await.expect("attrs").arn
}

/// The running move task on `dlq_arn`: (handle, status).
async fn tasks_of(sqs: &aws_sdk_sqs::Client, dlq_arn: &str) -> Vec<(String, String)> {
    sqs.list_message_move_tasks()
        .source_arn(dlq_arn)
        .send()
        .await
        .expect("list move tasks")
        .results
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            (
                t.task_handle.unwrap_or_default(),
                t.status.unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_move_task_refuses_another_with_json_and_a_next_step_on_localstack() {
    let Some(lab) = localstack::Lab::new(SUITE, "busy_task").await else {
        return;
    };
    let (source, dlq) = lab.with_dlq("busy", &[]).await;
    fill(&lab.sqs, &dlq.url, 50).await;
    let dlq_arn = arn_of(&lab, &dlq).await;
    lab.sqs
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .destination_arn(arn_of(&lab, &source).await)
        .max_number_of_messages_per_second(1)
        .send()
        .await
        .expect("start a slow move task");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !tasks_of(&lab.sqs, &dlq_arn)
        .await
        .iter()
        .any(|(_, s)| s == "RUNNING")
    {
        assert!(std::time::Instant::now() < deadline, "the task never ran");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let busy = lazysqs_on(
        &lab.endpoint,
        "",
        &["--from", &dlq.name, "--move-task", "--yes"],
    );
    let auto = lazysqs_on(&lab.endpoint, "", &["--from", &dlq.name, "--yes", "-q"]);

    // Cancel only a task still running: cancelling a finished one wedges LocalStack's DLQ.
    for (handle, status) in tasks_of(&lab.sqs, &dlq_arn).await {
        if status == "RUNNING" {
            let _ = lab
                .sqs
                .cancel_message_move_task()
                .task_handle(handle)
                .send()
                .await;
        }
    }
    for out in [busy, auto] {
        let v = did_not_run(&out, "refused", "already running", "--client-side");
        assert_eq!(v["source"], dlq.name.as_str());
        assert!(
            v["next_step"]
                .as_str()
                .is_some_and(|n| n.contains(&dlq.name) && n.contains("cancel")),
            "{v}"
        );
    }
}

#[test]
fn the_canary_flag_says_which_mode_it_uses() {
    let out = Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .args(["redrive", "--help"])
        .output()
        .expect("run lazysqs");
    let help = String::from_utf8_lossy(&out.stdout);
    let canary = help
        .split("--canary ")
        .nth(1)
        .and_then(|rest| rest.split("--canary-start").next())
        .unwrap_or_else(|| panic!("no --canary in\n{help}"));
    assert!(
        canary.contains("SQS move task") && canary.contains("client-side"),
        "--canary's help should say the mode: {canary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_that_would_move_nothing_exits_1_and_says_why_on_localstack() {
    let Some(lab) = localstack::Lab::new(SUITE, "dry_nothing").await else {
        return;
    };
    let (_source, dlq) = lab.with_dlq("dry", &[]).await;
    fill(&lab.sqs, &dlq.url, 20).await;
    lab.wait_counts(&dlq, (20, 0)).await;
    let dry = |extra: &[&str]| {
        let mut args = vec!["--from", dlq.name.as_str(), "--dry-run"];
        args.extend_from_slice(extra);
        lazysqs_on(&lab.endpoint, "", &args)
    };

    let out = dry(&["--filter", "n=999"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["state"], "dry_run");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("matches none of the 20")),
        "{v}"
    );
    assert!(v["next_step"].is_string(), "{v}");
    assert_eq!(v["sample"]["matching"], 0, "{v}");

    let out = dry(&["--transform", "error(\"broken\")"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("fails on all 20")),
        "{v}"
    );
    assert_eq!(v["sample"]["transform_fails"], 20, "{v}");

    // Something to move: exit 0, and the sample says how much of it.
    let out = dry(&["--filter", "n=3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["sample"]["matching"], 1, "{v}");
    assert!(v["error"].is_null(), "{v}");
    let out = dry(&[
        "--transform",
        ".n |= (if . < 5 then . + 100 else error(\"big\") end)",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["sample"]["fixed"], 5, "{v}");
    assert_eq!(v["sample"]["transform_fails"], 15, "{v}");

    // Every dry run gave back what it peeked at.
    lab.wait_counts(&dlq, (20, 0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_dlq_is_redriven_client_side_to_its_declared_source_on_localstack() {
    use lazysqs::broker::Broker;
    let Some(lab) = localstack::Lab::new(SUITE, "declared").await else {
        return;
    };
    // An application's own DLQ: no redrive policy names it.
    let source = lab.create("signups", &[]).await;
    let dlq = lab.create("signups-dlq", &[]).await;
    fill(&lab.sqs, &dlq.url, 5).await;
    lab.wait_counts(&dlq, (5, 0)).await;

    // Undeclared, it is no DLQ: refused, the messages untouched.
    let v = did_not_run(
        &lazysqs_on(&lab.endpoint, "", &["--from", &dlq.name, "--yes", "-q"]),
        "refused",
        "no queue names",
        "[[dlq]]",
    );
    assert_eq!(v["source"], dlq.name.as_str());
    lab.wait_counts(&dlq, (5, 0)).await;

    let config = format!(
        "[[dlq]]\nqueue = \"{}\"\nsource = \"{}\"\n",
        dlq.name, source.name
    );
    let out = lazysqs_command_on(
        &lab.endpoint,
        &config,
        &[
            "--prefix",
            &lab.prefix,
            "snapshot",
            "--json",
            "--no-metrics",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let snap = json(&out);
    let row = snap["queues"]
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["name"] == dlq.name.as_str()))
        .unwrap_or_else(|| panic!("no {} in {snap}", dlq.name));
    assert_eq!(row["is_dlq"], true, "{row}");
    assert_eq!(
        row["dlq_sources"],
        serde_json::json!([source.name]),
        "{row}"
    );

    let out = lazysqs_on(
        &lab.endpoint,
        &config,
        &["--from", &dlq.name, "--yes", "-q"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["state"], "completed", "{v}");
    assert_eq!(v["mode"], "client-side", "{v}");
    assert!(
        v["mode_reason"]
            .as_str()
            .is_some_and(|r| r.contains("declared in the config, not a redrive policy")),
        "{v}"
    );
    assert_eq!(v["moved"], 5, "{v}");
    assert_eq!(v["destinations"], serde_json::json!([source.name]), "{v}");
    lab.wait_counts(&dlq, (0, 0)).await;
    lab.wait_counts(&source, (5, 0)).await;
    let back = lab
        .broker
        .receive(&source, 10, std::time::Duration::ZERO)
        .await;
    assert!(
        back.expect("receive")
            .iter()
            .all(|m| m.body.starts_with("{\"n\":")),
        "the bodies came back unchanged"
    );

    // A move task cannot start from it, and says why.
    let v = did_not_run(
        &lazysqs_on(
            &lab.endpoint,
            &config,
            &["--from", &dlq.name, "--move-task", "--yes"],
        ),
        "refused",
        "declared in the config",
        "--move-task",
    );
    assert_eq!(v["source"], dlq.name.as_str());
}
