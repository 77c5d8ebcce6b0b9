//! `lazysqs redrive` as a runbook sees it, on the built-in demo: the JSON summary,
//! dry runs, the choice of mode, refusing to run unconfirmed, and exit statuses.

use std::process::{Command, Output, Stdio};

fn lazysqs(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").expect("config");
    Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .arg("--demo")
        .arg("--config")
        .arg(&config)
        .arg("--log-file")
        .arg(dir.path().join("lazysqs.log"))
        .arg("redrive")
        .args(args)
        // The audit log goes to this run's own data directory.
        .env("HOME", dir.path())
        .env_remove("XDG_DATA_HOME")
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
    let out = lazysqs(&["--from", "orders-dlq", "--rate", "50", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
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
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
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

#[test]
fn without_yes_and_without_a_terminal_it_refuses() {
    let out = lazysqs(&["--from", "orders-dlq"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("stdin is not a terminal") && err.contains("--yes"),
        "{err}"
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
