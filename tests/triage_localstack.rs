//! Triage against a real SQS-compatible server (LocalStack): exact groups by shape
//! and by field, every message visible again after the command exits, `--max`,
//! and transforms that fix one group and leave the others in place.
//!
//! Set `LAZYSQS_TEST_ENDPOINT=http://127.0.0.1:4566` to run these.

use std::process::{Command, Output, Stdio};

use lazysqs::broker::{Broker, OutgoingMessage, QueueRef};
use serde_json::Value;

mod localstack;

use localstack::Lab;

const SUITE: &str = "the triage tests";

/// 20 orders of the usual shape, 7 without `store_id`, 3 that are not JSON.
async fn seed(lab: &Lab, q: &QueueRef) {
    let mut bodies = Vec::new();
    for i in 0..20 {
        let coffee = if i < 15 { "latte" } else { "mocha" };
        bodies.push(format!(
            r#"{{"order_id":"o-{i}","store_id":"s-{}","coffee":"{coffee}","qty":1}}"#,
            i % 3
        ));
    }
    for i in 20..27 {
        bodies.push(format!(
            r#"{{"order_id":"o-{i}","coffee":"latte","qty":1}}"#
        ));
    }
    for i in 27..30 {
        bodies.push(format!("order {i}: latte x1"));
    }
    for chunk in bodies.chunks(10) {
        let batch = chunk
            .iter()
            .map(|b| OutgoingMessage {
                body: b.clone(),
                ..OutgoingMessage::default()
            })
            .collect();
        lab.broker.send_batch(q, batch).await.expect("seed");
    }
    lab.wait_counts(q, (30, 0)).await;
}

fn lazysqs(lab: &Lab, args: &[&str]) -> Output {
    let log = std::env::temp_dir().join(format!("{}.log", lab.prefix));
    Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .arg("--endpoint-url")
        .arg(&lab.endpoint)
        .arg("--log-file")
        .arg(log)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", localstack::REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .expect("run lazysqs")
}

fn groups(out: &Output) -> (Value, Vec<(String, u64)>) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let groups = v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["key"].as_str().expect("key").to_string(),
                g["count"].as_u64().expect("count"),
            )
        })
        .collect();
    (v, groups)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_groups_exactly_by_shape_and_by_field_and_gives_everything_back() {
    let Some(lab) = Lab::new(SUITE, "triage-groups").await else {
        return;
    };
    let dlq = lab.create("dlq", &[]).await;
    seed(&lab, &dlq).await;

    let out = lazysqs(&lab, &["triage", "--from", &dlq.name, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let (v, by_shape) = groups(&out);
    assert_eq!(
        by_shape,
        vec![
            ("most common shape".to_string(), 20),
            ("missing store_id".to_string(), 7),
            ("not JSON".to_string(), 3),
        ]
    );
    assert_eq!(v["scanned"], 30);
    assert_eq!(v["complete"], true);
    assert_eq!(v["queue"], dlq.name.as_str());
    let first = &v["groups"][0];
    assert!(
        first["share"]
            .as_f64()
            .is_some_and(|s| (s - 20.0 / 30.0).abs() < 1e-9)
    );
    assert!(
        first["sample"]
            .as_str()
            .is_some_and(|s| s.contains("store_id"))
    );
    assert!(first["first_sent"].is_string() && first["last_sent"].is_string());
    // Given back before it exited: nothing in flight.
    assert_eq!(lab.counts(&dlq).await, (30, 0));
    // The README documents exactly these fields.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let example = readme
        .split("## Triage")
        .nth(1)
        .and_then(|s| s.split("```json\n").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("a JSON example in the README's triage section");
    let example: Value = serde_json::from_str(example).expect("the README example parses");
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&example), keys(&v), "top-level fields");
    assert_eq!(
        keys(&example["groups"][0]),
        keys(&v["groups"][0]),
        "group fields"
    );

    let out = lazysqs(
        &lab,
        &["triage", "--from", &dlq.name, "--by", "coffee", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let (_, by_coffee) = groups(&out);
    assert_eq!(
        by_coffee,
        vec![
            ("latte".to_string(), 22),
            ("mocha".to_string(), 5),
            ("(not JSON)".to_string(), 3),
        ]
    );
    assert_eq!(lab.counts(&dlq).await, (30, 0));

    // A table by default; --max stops early and says the scan is partial.
    let out = lazysqs(&lab, &["triage", "--from", &dlq.name, "--max", "12"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("12 scanned of ~30 (partial)"), "{table}");
    assert!(
        table.contains("COUNT") && table.contains("sample:"),
        "{table}"
    );
    assert_eq!(lab.counts(&dlq).await, (30, 0));
    lab.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_refuses_what_it_cannot_do_with_a_clear_error() {
    let Some(lab) = Lab::new(SUITE, "triage-errors").await else {
        return;
    };
    let out = lazysqs(&lab, &["triage", "--from", &format!("{}-nope", lab.prefix)]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope"), "{err}");

    let out = lazysqs(&lab, &["triage", "--from", "x", "--by", "attr:"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("a name must follow"));

    // Reading a source queue counts towards its maxReceiveCount: read-only refuses.
    let (source, _dlq) = lab.with_dlq("src", &[]).await;
    let out = lazysqs(&lab, &["--read-only", "triage", "--from", &source.name]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("maxReceiveCount"));
    lab.cleanup().await;
}

/// Takes `n` messages out of a queue (received, then deleted): their bodies.
async fn take(lab: &Lab, q: &QueueRef, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for m in lab.receive_n(q, n).await {
        lab.broker
            .delete(q, &m.receipt_handle)
            .await
            .expect("delete");
        out.push(m.body);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transform_fixes_one_group_and_a_failing_one_leaves_its_messages() {
    let Some(lab) = Lab::new(SUITE, "triage-transform").await else {
        return;
    };
    let dlq = lab.create("dlq", &[]).await;
    let dest = lab.create("orders", &[]).await;
    seed(&lab, &dlq).await;

    // The dry run shows before and after, and moves nothing.
    let fix = r#".coffee = "flat white""#;
    let out = lazysqs(
        &lab,
        &[
            "redrive",
            "--from",
            &dlq.name,
            "--to",
            &dest.name,
            "--filter",
            "coffee=mocha",
            "--transform",
            fix,
            "--dry-run",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(r#"-   "coffee": "mocha","#), "{err}");
    assert!(err.contains(r#"+   "coffee": "flat white","#), "{err}");
    let summary: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summary["transform"], fix);
    lab.wait_counts(&dlq, (30, 0)).await;
    assert_eq!(lab.counts(&dest).await, (0, 0));

    // Fix the mocha group and send it; the others stay where they are.
    let out = lazysqs(
        &lab,
        &[
            "redrive",
            "--from",
            &dlq.name,
            "--to",
            &dest.name,
            "--filter",
            "coffee=mocha",
            "--transform",
            fix,
            "--yes",
            "--quiet",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    lab.wait_counts(&dest, (5, 0)).await;
    lab.wait_counts(&dlq, (25, 0)).await;
    let mut moved = take(&lab, &dest, 5).await;
    moved.sort();
    assert_eq!(
        moved[0], r#"{"order_id":"o-15","store_id":"s-0","coffee":"flat white","qty":1}"#,
        "only the field the expression set changed"
    );
    assert!(moved.iter().all(|b| b.contains(r#""coffee":"flat white""#)));

    // A transform that fails on some: those stay in the DLQ, reported; exit 1.
    let out = lazysqs(
        &lab,
        &[
            "redrive",
            "--from",
            &dlq.name,
            "--to",
            &dest.name,
            "--filter",
            "latte",
            "--transform",
            ".store_id |= ascii_upcase",
            "--yes",
            "--quiet",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let summary: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summary["moved"], 15, "{summary}");
    assert_eq!(summary["failed"], 10, "{summary}");
    let reasons: Vec<&str> = summary["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .filter_map(|f| f["reason"].as_str())
        .collect();
    assert_eq!(
        reasons.iter().filter(|r| r.contains("not JSON")).count(),
        3,
        "{reasons:?}"
    );
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.contains("transform: the expression failed"))
            .count(),
        7,
        "{reasons:?}"
    );
    lab.wait_counts(&dlq, (10, 0)).await;
    lab.wait_counts(&dest, (15, 0)).await;
    let upper = take(&lab, &dest, 15).await;
    assert_eq!(
        upper
            .iter()
            .filter(|b| b.contains(r#""store_id":"S-"#))
            .count(),
        15
    );
    lab.cleanup().await;
}

/// The dashboard's loop without a terminal: the test ticks the app, spawns its
/// commands and feeds their results back.
struct Dash {
    app: lazysqs::app::App,
    executor: lazysqs::runtime::Executor,
    rx: tokio::sync::mpsc::UnboundedReceiver<lazysqs::app::Msg>,
}

impl Dash {
    fn new(lab: &Lab) -> Dash {
        use lazysqs::app::{App, Settings};
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let settings = Settings {
            selection: lazysqs::broker::QueueSelection {
                names: Vec::new(),
                prefixes: vec![lab.prefix.clone()],
                place: None,
            },
            refresh: lazysqs::config::RefreshConfig {
                attributes_secs: 0.5,
                metrics_secs: 600.0,
                breakers_secs: 1.0,
                discovery_secs: 600.0,
                max_concurrency: 8,
                others_secs: 0.5,
                ..lazysqs::config::RefreshConfig::default()
            },
            ..Settings::default()
        };
        let app = App::new(settings, std::time::Instant::now(), chrono::Utc::now());
        let executor = lazysqs::runtime::Executor::new(
            lab.dyn_broker(),
            tx,
            8,
            lazysqs::recovery::audit::Audit::default(),
        );
        Dash { app, executor, rx }
    }

    fn send(&mut self, msg: lazysqs::app::Msg) {
        for cmd in self.app.update(msg) {
            self.executor.spawn(cmd);
        }
    }

    fn key(&mut self, c: crossterm::event::KeyCode) {
        use crossterm::event::{KeyEvent, KeyModifiers};
        self.send(lazysqs::app::Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)));
    }

    fn chars(&mut self, text: &str) {
        for c in text.chars() {
            self.key(crossterm::event::KeyCode::Char(c));
        }
    }

    async fn run_until(&mut self, what: &str, mut done: impl FnMut(&lazysqs::app::App) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !done(&self.app) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            self.send(lazysqs::app::Msg::Tick(std::time::Instant::now()));
            let wait = std::time::Duration::from_millis(100);
            while let Ok(Some(msg)) = tokio::time::timeout(wait, self.rx.recv()).await {
                self.send(msg);
                if done(&self.app) {
                    return;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_triages_fixes_one_group_sends_it_home_and_gives_the_rest_back() {
    use crossterm::event::KeyCode;
    let Some(lab) = Lab::new(SUITE, "triage-dash").await else {
        return;
    };
    let (source, dlq) = lab.with_dlq("orders", &[]).await;
    seed(&lab, &dlq).await;
    let mut dash = Dash::new(&lab);
    dash.run_until("both rows", |app| {
        app.queues.iter().filter(|r| r.attrs.is_some()).count() == 2
    })
    .await;
    dash.app.selected = Some(dlq.url.clone());
    dash.chars("t");
    dash.run_until("the scan", |app| {
        app.triage.as_ref().is_some_and(|t| !t.scanning)
    })
    .await;
    let groups: Vec<(String, usize)> = dash
        .app
        .triage
        .as_ref()
        .expect("open")
        .groups
        .iter()
        .map(|g| (g.key.clone(), g.count()))
        .collect();
    assert_eq!(
        groups,
        vec![
            ("most common shape".to_string(), 20),
            ("missing store_id".to_string(), 7),
            ("not JSON".to_string(), 3),
        ]
    );
    // All 30 held while the view is open.
    assert_eq!(lab.counts(&dlq).await, (0, 30));

    // Fix the 7 and send them home (their only source, by the redrive policy).
    dash.chars("j");
    dash.chars("e");
    dash.chars(r#".store_id = "s-new""#);
    dash.key(KeyCode::Enter);
    dash.key(KeyCode::Enter);
    dash.chars("r");
    dash.chars("y");
    dash.run_until("7 requeued", |app| {
        app.triage.as_ref().is_some_and(|t| {
            t.messages
                .iter()
                .filter(|h| matches!(h.state, lazysqs::app::browser::HeldState::Requeued { .. }))
                .count()
                == 7
        })
    })
    .await;
    dash.key(KeyCode::Esc);
    assert!(dash.app.triage.is_none());
    lab.wait_counts(&dlq, (23, 0)).await;
    lab.wait_counts(&source, (7, 0)).await;
    let home = take(&lab, &source, 7).await;
    assert!(
        home.iter()
            .all(|b| b.ends_with(r#""qty":1,"store_id":"s-new"}"#)),
        "{home:?}"
    );
    lab.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_scan_gives_every_message_back() {
    let Some(lab) = Lab::new(SUITE, "triage-sigterm").await else {
        return;
    };
    let dlq = lab.create("dlq", &[]).await;
    const N: usize = 600;
    for chunk in (0..N).collect::<Vec<_>>().chunks(10) {
        let batch = chunk
            .iter()
            .map(|i| OutgoingMessage {
                body: format!(r#"{{"order_id":"o-{i}"}}"#),
                ..OutgoingMessage::default()
            })
            .collect();
        lab.broker.send_batch(&dlq, batch).await.expect("seed");
    }
    lab.wait_counts(&dlq, (N as u64, 0)).await;
    let log = std::env::temp_dir().join(format!("{}.log", lab.prefix));
    let child = Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .arg("--endpoint-url")
        .arg(&lab.endpoint)
        .arg("--log-file")
        .arg(log)
        .args(["triage", "--from", &dlq.name, "--json"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", localstack::REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until it holds some, then stop it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while lab.counts(&dlq).await.1 == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the scan never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let pid = child.id() as i32;
    // SAFETY: a plain kill(2) on our own child.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let out = child.wait_with_output().expect("wait");
    let code = out.status.code();
    assert!(matches!(code, Some(0) | Some(1)), "{out:?}");
    // Nothing left hidden once it has exited.
    assert_eq!(
        lab.counts(&dlq).await,
        (N as u64, 0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["not_given_back"], 0);
    if code == Some(1) {
        assert_eq!(v["complete"], false);
        assert!(String::from_utf8_lossy(&out.stderr).contains("giving every message back"));
    }
    lab.cleanup().await;
}

/// `R` on a triage group moves exactly its messages (by id), whatever they hold:
/// here the 3 bodies that are not JSON, which no field filter could pick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redrive_of_one_group_moves_exactly_its_messages() {
    use lazysqs::redrive::{self, ClientOptions, Destination, Filter, ModePreference, Request};
    let Some(lab) = Lab::new(SUITE, "triage-group-redrive").await else {
        return;
    };
    let dlq = lab.create("dlq", &[]).await;
    let dest = lab.create("home", &[]).await;
    seed(&lab, &dlq).await;
    let broker = lab.dyn_broker();
    let scan = lazysqs::triage::scan::scan(broker.as_ref(), &dlq, 100, &|_| {}, &|| false).await;
    let groups = lazysqs::triage::group(&scan.messages, &lazysqs::triage::GroupBy::Shape);
    let not_json = groups
        .iter()
        .find(|g| g.key == "not JSON")
        .expect("the group");
    let ids: std::collections::BTreeSet<String> = not_json
        .members
        .iter()
        .map(|&i| scan.messages[i].message_id.clone())
        .collect();
    let receipts = scan
        .messages
        .iter()
        .map(|m| m.receipt_handle.clone())
        .collect();
    assert_eq!(
        lazysqs::triage::scan::give_back(broker.as_ref(), &dlq, receipts).await,
        0
    );
    lab.wait_counts(&dlq, (30, 0)).await;

    let request = Request {
        source: dlq.clone(),
        destination: Destination::Queue(dest.clone()),
        rate: None,
        max: None,
        filter: Some(Filter::Ids {
            label: "\"not JSON\"".into(),
            ids: std::sync::Arc::new(ids.clone()),
        }),
        transform: None,
        mode: ModePreference::Auto,
        client: ClientOptions::default(),
        canary: None,
    };
    let plan = redrive::plan(broker.as_ref(), request).await.expect("plan");
    assert_eq!(plan.mode, redrive::Mode::ClientSide, "{}", plan.mode_reason);
    let handle = redrive::start(
        broker.clone(),
        &plan,
        &lazysqs::recovery::audit::Audit::default(),
    )
    .await
    .expect("start");
    let report = tokio::time::timeout(std::time::Duration::from_secs(120), handle.wait())
        .await
        .expect("the redrive ends");
    assert_eq!(report.moved, 3, "{report:?}");
    lab.wait_counts(&dest, (3, 0)).await;
    lab.wait_counts(&dlq, (27, 0)).await;
    let home = take(&lab, &dest, 3).await;
    assert!(home.iter().all(|b| b.starts_with("order ")), "{home:?}");
    lab.cleanup().await;
}
