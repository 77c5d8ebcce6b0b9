//! Nothing done where it must not be, and every change on the record, driving the
//! real binary as a runbook would: read-only refuses every command that changes a
//! queue before it connects; a script never acts on the demo unasked; bulk
//! redrives are audited line by line, in a private file, and refused when the log
//! cannot be written (unless `--no-audit`, which says so).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use lazysqs::broker::{Broker, OutgoingMessage};

mod localstack;
use localstack::Lab;

const SUITE: &str = "the guard tests against LocalStack";

/// Runs lazysqs with a clean environment: HOME is `home` (so no AWS config, and
/// the audit log under it), plus `env`.
fn lazysqs(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lazysqs"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run lazysqs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const CREDS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];

fn audit_path(home: &Path) -> std::path::PathBuf {
    home.join(".local/share/lazysqs/audit.jsonl")
}

#[test]
fn headless_changes_never_act_on_the_demo_unasked() {
    let home = tempfile::tempdir().expect("home");
    let file = home.path().join("in.jsonl");
    std::fs::write(&file, r#"{"message_id":"m","body":"{}"}"#).expect("write");
    let file = file.to_string_lossy().into_owned();
    for args in [
        vec!["import", file.as_str(), "--to", "orders"],
        vec!["redrive", "--from", "orders-dlq", "--yes"],
    ] {
        let out = lazysqs(home.path(), &[], &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("point lazysqs at AWS"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!audit_path(home.path()).exists(), "nothing was done");
    }
}

#[test]
fn read_only_refuses_before_connecting_wherever_it_is_given() {
    let home = tempfile::tempdir().expect("home");
    let config = home.path().join("config.toml");
    std::fs::write(&config, "read_only = true\n").expect("config");
    let config = config.to_string_lossy().into_owned();
    let file = home.path().join("in.jsonl");
    std::fs::write(&file, "").expect("write");
    let file = file.to_string_lossy().into_owned();
    // An endpoint nothing listens on: had it connected, it would say so.
    let endpoint = ["--endpoint-url", "http://127.0.0.1:9"];
    let cases: Vec<Vec<&str>> = vec![
        vec!["--read-only", "redrive", "--from", "orders-dlq", "--yes"],
        vec!["redrive", "--read-only", "--from", "orders-dlq", "--yes"],
        vec!["redrive", "--from", "orders-dlq", "--yes", "--read-only"],
        vec![
            "--config",
            &config,
            "redrive",
            "--from",
            "orders-dlq",
            "--yes",
        ],
        vec!["--read-only", "import", &file, "--to", "orders"],
        vec!["import", &file, "--to", "orders", "--read-only"],
        vec!["--config", &config, "import", &file, "--to", "orders"],
        // The demo too.
        vec![
            "--demo",
            "--read-only",
            "redrive",
            "--from",
            "orders-dlq",
            "--yes",
        ],
    ];
    for args in cases {
        let mut all = args.clone();
        all.extend(endpoint);
        let out = lazysqs(home.path(), CREDS, &all);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {err}");
        assert!(err.contains("read-only"), "{all:?}: {err}");
        assert!(
            !err.contains("127.0.0.1:9") && !err.contains("unreachable"),
            "refused before connecting: {all:?}: {err}"
        );
    }
    // Reading still works in read-only mode.
    let out = lazysqs(
        home.path(),
        &[],
        &["--demo", "--read-only", "snapshot", "--no-metrics"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_redrive_is_audited_line_by_line_on_localstack() {
    let Some(lab) = Lab::new(SUITE, "audit").await else {
        return;
    };
    let (source, dlq) = lab.with_dlq("orders", &[]).await;
    for i in 0..5 {
        lab.broker
            .send(
                &source,
                OutgoingMessage {
                    body: format!(r#"{{"n":{i}}}"#),
                    ..OutgoingMessage::default()
                },
            )
            .await
            .expect("send");
    }
    lab.fail_into_dlq(&source, &dlq, 5).await;
    lab.wait_counts(&source, (0, 0)).await;

    let home = tempfile::tempdir().expect("home");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "redrive",
            "--from",
            dlq.name.as_str(),
            "--client-side",
            "--yes",
            "--quiet",
            "--endpoint-url",
            lab.endpoint.as_str(),
        ];
        args.extend_from_slice(extra);
        lazysqs(home.path(), CREDS, &args)
    };

    // A directory where the log should be: refused, nothing moved.
    let log = audit_path(home.path());
    std::fs::create_dir_all(&log).expect("a directory in the log's place");
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("audit log"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--no-audit"), "{}", stderr(&out));
    lab.wait_counts(&dlq, (5, 0)).await;
    std::fs::remove_dir(&log).expect("rmdir");

    // Move 2, then the rest: every run has a line before and after.
    let out = run(&["--max", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    lab.wait_counts(&dlq, (0, 0)).await;
    lab.wait_counts(&source, (5, 0)).await;

    let text = std::fs::read_to_string(&log).expect("audit log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(outcomes[0], "started");
    assert!(
        outcomes[1].starts_with("completed: moved 2, failed 0"),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[2], "started");
    assert!(
        outcomes[3].starts_with("completed: moved 3, failed 0"),
        "{outcomes:?}"
    );
    for l in &lines {
        assert_eq!(l["action"], "redrive", "{l}");
        assert_eq!(l["queue"], dlq.name.as_str(), "{l}");
        assert_eq!(l["queue_url"], dlq.url.as_str(), "{l}");
        assert_eq!(l["account"], "000000000000", "{l}");
        assert_eq!(l["region"], "us-east-1", "{l}");
        assert_eq!(l["endpoint"], lab.endpoint.as_str(), "{l}");
        assert!(l["user"].as_str().is_some_and(|u| !u.is_empty()), "{l}");
        assert!(l["time"].as_str().is_some_and(|t| t.contains('T')), "{l}");
    }
    assert!(
        lines[0]["details"]["plan"]
            .as_str()
            .is_some_and(|p| p.contains(&dlq.name)),
        "the plan is on the record: {}",
        lines[0]
    );
    assert_eq!(lines[1]["details"]["moved"], 2);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&log).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the audit log is private");
    }

    // --no-audit: it runs, says so, and writes nothing.
    for i in 0..2 {
        lab.broker
            .send(
                &dlq,
                OutgoingMessage {
                    body: format!(r#"{{"again":{i}}}"#),
                    ..OutgoingMessage::default()
                },
            )
            .await
            .expect("send");
    }
    lab.wait_counts(&dlq, (2, 0)).await;
    let out = run(&["--to", source.name.as_str(), "--no-audit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("NOT recorded"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&log).expect("log"), text);
    lab.cleanup().await;
}

#[tokio::test]
async fn an_endpoint_with_a_password_is_shown_without_it() {
    let broker = lazysqs::broker::aws::AwsBroker::connect(&lazysqs::broker::aws::AwsOptions {
        profile: None,
        region: Some("us-east-1".into()),
        endpoint_url: Some("http://admin:hunter2@127.0.0.1:9/?sig=abc123".into()),
    })
    .await
    .expect("connect");
    let shown = broker.describe();
    assert!(
        !shown.contains("hunter2") && !shown.contains("abc123"),
        "{shown}"
    );
    assert!(shown.contains("127.0.0.1:9"), "{shown}");
    let err = broker
        .list_queues(&lazysqs::broker::QueueSelection::default())
        .await
        .expect_err("nothing listens");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}
