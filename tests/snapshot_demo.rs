//! `lazysqs snapshot` and `lazysqs check` on the built-in simulation: no server
//! needed. The binary is driven as a script would drive it; the poll itself is also
//! driven through the library, to see that it is concurrent, bounded and batched.

#[path = "support/snapshot_json.rs"]
mod snapshot_json;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use lazysqs::breaker::{self, BreakerState};
use lazysqs::broker::{
    AlarmState, BatchOutcome, Broker, BrokerResult, Message, MoveTask, OutgoingMessage, QueueAttrs,
    QueueMetrics, QueueRef, QueueSelection,
};
use lazysqs::config::Thresholds;
use lazysqs::sim::scenario::ScenarioFile;
use lazysqs::sim::{Sim, SimBroker};
use lazysqs::snapshot::{self, Options};
use serde_json::Value;

/// Runs the binary with a clean HOME (no config, no AWS credentials).
fn lazysqs(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .env_remove("AWS_CONFIG_FILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("LAZYSQS_PROFILE")
        .env_remove("NO_COLOR")
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

/// The coffee shop with the payments service down from the start.
fn payments_down(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/demo/coffee-shop.toml"
    ))
    .expect("read scenario");
    // Down from the start, and a cool-down longer than the warm-up: once open, the
    // circuit stays open (no canary call) until the poll.
    let down = text
        .replace(
            "[[service]]\nname = \"payments\"\n",
            "[[service]]\nname = \"payments\"\nhealthy = false\n",
        )
        .replace("cool_down_secs = 15\n", "cool_down_secs = 3600\n");
    assert_eq!(
        down.matches("healthy = false").count() + down.matches("cool_down_secs = 3600").count(),
        2,
        "the scenario's payments service or breaker moved"
    );
    let path = dir.join("payments-down.toml");
    std::fs::write(&path, down).expect("write scenario");
    path
}

/// One queue, consumed faster than it is fed, no DLQ: healthy.
const CALM: &str = r#"
name = "calm"
[[queue]]
name = "calm-orders"
[[producer]]
queue = "calm-orders"
per_second = 0.5
payload = "order"
[[consumer]]
queue = "calm-orders"
per_second = 5.0
"#;

#[test]
fn snapshot_json_of_the_demo_has_every_figure_and_both_dlq_links() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = lazysqs(home.path(), &["snapshot", "--demo", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json_of(&out);
    snapshot_json::check(&v).unwrap_or_else(|e| panic!("{e}\n{v:#}"));

    assert_eq!(v["demo"], true);
    assert_eq!(v["source"], "demo: coffee-shop");
    let note = v["note"].as_str().expect("the demo says it ran ahead");
    assert!(note.contains("2 simulated minutes"), "{note}");
    let names: Vec<&str> = v["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .map(|q| q["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "invoices-dlq.fifo",
            "invoices.fifo",
            "notifications",
            "orders",
            "orders-dlq",
            "reports"
        ]
    );

    // Links both ways: the policy forwards, the DLQ knows its sources.
    let orders = queue(&v, "orders");
    let dlq = queue(&v, "orders-dlq");
    assert_eq!(orders["dlq"], "orders-dlq");
    assert_eq!(orders["max_receive_count"], 3);
    assert_eq!(orders["dlq_depth"], dlq["depth"]);
    assert_eq!(orders["is_dlq"], false);
    assert_eq!(dlq["dlq_sources"], serde_json::json!(["orders"]));
    assert_eq!(dlq["is_dlq"], true);
    assert_eq!(dlq["dlq"], Value::Null);
    assert_eq!(
        queue(&v, "invoices-dlq.fifo")["dlq_sources"],
        serde_json::json!(["invoices.fifo"])
    );
    assert_eq!(queue(&v, "invoices.fifo")["fifo"], true);

    // After two simulated minutes there is traffic and the poison orders are dead letters.
    assert!(orders["arrival_per_min"].as_f64().expect("rate") > 60.0);
    assert!(orders["consumption_per_min"].as_f64().expect("rate") > 60.0);
    let dead = dlq["depth"].as_u64().expect("depth");
    assert!(dead > 0, "{dlq:#}");
    assert_eq!(
        dlq["visible"].as_u64().expect("n")
            + dlq["in_flight"].as_u64().expect("n")
            + dlq["delayed"].as_u64().expect("n"),
        dead
    );
    assert_eq!(dlq["flags"], serde_json::json!(["dlq_not_empty"]));

    // The scenario's breaker guards the orders consumer; payments is up.
    assert_eq!(
        orders["breaker"],
        serde_json::json!({"name": "payments", "state": "CLOSED", "source": "simulation"})
    );
    let breakers = v["breakers"].as_array().expect("breakers");
    assert_eq!(breakers.len(), 1);
    assert_eq!(breakers[0]["queue"], "orders");
    assert_eq!(breakers[0]["error"], Value::Null);
    assert_eq!(v["metrics_error"], Value::Null);
}

#[test]
fn snapshot_table_is_readable_and_says_the_demo_ran_ahead() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = lazysqs(home.path(), &["--demo", "snapshot"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("snapshot of demo: coffee-shop at 20"),
        "{text}"
    );
    assert!(lines[1].contains("2 simulated minutes ahead"), "{text}");
    let header = lines
        .iter()
        .find(|l| l.starts_with("QUEUE"))
        .expect("a header row");
    for col in [
        "TYPE",
        "VISIBLE",
        "IN FLIGHT",
        "DELAYED",
        "OLDEST",
        "IN/MIN",
        "OUT/MIN",
        "DRAIN",
        "DLQ",
        "BREAKER",
        "HEALTH",
    ] {
        assert!(header.contains(col), "{col} missing from {header}");
    }
    let row = |name: &str| {
        *lines
            .iter()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{text}"))
    };
    assert!(row("orders").contains("orders-dlq ("), "{text}");
    assert!(row("orders").contains("payments CLOSED"), "{text}");
    assert!(row("orders-dlq").contains("← orders"), "{text}");
    assert!(row("orders-dlq").contains("✖ dlq"), "{text}");
    assert!(row("reports").ends_with("ok"), "{text}");
    assert!(
        text.contains("\nBREAKERS\npayments CLOSED (guards orders)"),
        "{text}"
    );
}

#[test]
fn check_on_the_demo_finds_the_dead_letters_and_exits_1() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = lazysqs(home.path(), &["check", "--demo"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("orders-dlq: dlq_not_empty: ")
                && l.contains("(failures of orders)")),
        "{text}"
    );
    assert!(!text.contains("ok:"), "{text}");
    assert!(
        stderr(&out).contains("simulated minutes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_reports_an_open_breaker_and_the_backlog_it_causes() {
    let home = tempfile::tempdir().expect("tempdir");
    let scenario = payments_down(home.path());
    let scenario = scenario.to_str().expect("utf-8 path");
    let out = lazysqs(home.path(), &["check", "--demo", "--scenario", scenario]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("orders: breaker_open: breaker payments is OPEN")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("orders: growing: consumption 0/min below arrival")),
        "{text}"
    );

    let out = lazysqs(
        home.path(),
        &["snapshot", "--json", "--demo", "--scenario", scenario],
    );
    let v = json_of(&out);
    snapshot_json::check(&v).unwrap_or_else(|e| panic!("{e}"));
    let orders = queue(&v, "orders");
    assert_eq!(orders["breaker"]["state"], "OPEN");
    assert_eq!(orders["drain"], "growing");
    assert_eq!(
        orders["flags"],
        serde_json::json!(["growing", "breaker_open"])
    );
}

#[test]
fn check_exits_0_when_healthy() {
    let home = tempfile::tempdir().expect("tempdir");
    let path = home.path().join("calm.toml");
    std::fs::write(&path, CALM).expect("write");
    let out = lazysqs(
        home.path(),
        &[
            "check",
            "--demo",
            "--scenario",
            path.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stdout(&out), "ok: 1 queue(s) healthy on demo: calm\n");
}

#[test]
fn thresholds_from_the_config_are_the_ones_judged_by() {
    let home = tempfile::tempdir().expect("tempdir");
    // A minute is "old" (the dead letters are older); a DLQ-rule breaker whose DLQ
    // is not polled cannot be judged.
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        "[thresholds]\nmax_age_secs = 60\n\n[[breaker]]\nname = \"rule\"\ndlq = \"elsewhere-dlq\"\n",
    )
    .expect("write");
    let config = config.to_str().expect("utf-8");
    let out = lazysqs(home.path(), &["check", "--demo", "--config", config]);
    let text = stdout(&out);
    // Findings win over what could not be read: exit 1, and the problem on stderr.
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.lines().any(
            |l| l.starts_with("orders-dlq: old_message: oldest message is ")
                && l.ends_with(" old, over the 1m00s threshold")
        ),
        "{text}"
    );
    assert!(
        stderr(&out).contains("could not check: breaker rule: not found: the DLQ elsewhere-dlq"),
        "{}",
        stderr(&out)
    );
    let v = json_of(&lazysqs(
        home.path(),
        &["snapshot", "--json", "--demo", "--config", config],
    ));
    snapshot_json::check(&v).unwrap_or_else(|e| panic!("{e}"));
    let rule = &v["breakers"][0];
    assert_eq!(rule["name"], "rule");
    assert_eq!(rule["state"], "UNKNOWN");
    assert_eq!(rule["queue"], Value::Null);
    assert!(
        rule["error"]
            .as_str()
            .expect("error")
            .contains("elsewhere-dlq")
    );
    let dlq = queue(&v, "orders-dlq");
    assert!(dlq["age_of_oldest_secs"].as_u64().expect("age") > 60);
    assert_eq!(
        dlq["flags"],
        serde_json::json!(["dlq_not_empty", "old_message"])
    );
}

#[test]
fn a_dlq_rule_breaker_is_judged_from_the_poll() {
    let home = tempfile::tempdir().expect("tempdir");
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        "[[breaker]]\nname = \"invoice-failures\"\nqueue = \"invoices.fifo\"\n\
         dlq = \"invoices-dlq.fifo\"\nmax_messages = 0\nwindow_minutes = 5\n",
    )
    .expect("write");
    let out = lazysqs(
        home.path(),
        &[
            "snapshot",
            "--json",
            "--demo",
            "--config",
            config.to_str().expect("utf-8"),
        ],
    );
    let v = json_of(&out);
    snapshot_json::check(&v).unwrap_or_else(|e| panic!("{e}"));
    // Its dead letters all arrived within the two simulated minutes: more than 0 in 5 min.
    let inv = queue(&v, "invoices.fifo");
    assert_eq!(inv["breaker"]["name"], "invoice-failures");
    assert_eq!(inv["breaker"]["state"], "OPEN", "{v:#}");
    assert_eq!(inv["breaker"]["source"], "invoices-dlq.fifo > 0 in 5 min");
    assert!(
        inv["flags"]
            .as_array()
            .expect("flags")
            .contains(&"breaker_open".into())
    );
}

#[test]
fn the_dlq_rule_from_one_poll() {
    let m = |secs| Some(Duration::from_secs(secs));
    let judge = |depth, oldest| breaker::judge_dlq_rule_once("d", depth, oldest, 10, 5).state;
    assert_eq!(judge(0, None), BreakerState::Closed);
    assert_eq!(judge(10, m(10)), BreakerState::Closed);
    assert_eq!(judge(11, m(299)), BreakerState::Open);
    assert_eq!(judge(11, m(300)), BreakerState::Unknown);
    assert_eq!(judge(11, None), BreakerState::Unknown);
}

#[test]
fn could_not_run_is_exit_2() {
    let home = tempfile::tempdir().expect("tempdir");
    // Nothing matches: nothing was looked at.
    let out = lazysqs(
        home.path(),
        &["check", "--demo", "--prefix", "no-such-queue-"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("could not check: no queues match the selection"),
        "{}",
        stderr(&out)
    );
    // A broken config.
    let config = home.path().join("bad.toml");
    std::fs::write(&config, "[refresh]\nmax_concurrency = 0\n").expect("write");
    for cmd in ["check", "snapshot"] {
        let out = lazysqs(
            home.path(),
            &[cmd, "--demo", "--config", config.to_str().expect("utf-8")],
        );
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("bad.toml:2:19: refresh.max_concurrency must be 1 to 256, not 0"),
            "{}",
            stderr(&out)
        );
    }
    // Nothing points at AWS and --demo was not asked for: no silent demo for scripts.
    for cmd in ["check", "snapshot"] {
        let out = lazysqs(home.path(), &[cmd]);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stdout(&out));
        assert_eq!(stdout(&out), "");
        assert!(
            stderr(&out).contains("no AWS configured") && stderr(&out).contains("--demo"),
            "{}",
            stderr(&out)
        );
    }
    // A snapshot of nothing is an empty answer, not a failure.
    let out = lazysqs(
        home.path(),
        &["snapshot", "--json", "--demo", "--prefix", "no-such-queue-"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_of(&out)["queues"], serde_json::json!([]));
}

#[test]
fn the_readme_documents_the_shape_the_binary_prints() {
    let example = snapshot_json::readme_example().unwrap_or_else(|e| panic!("{e}"));
    snapshot_json::check(&example).unwrap_or_else(|e| panic!("README example: {e}"));
    // The example shows every key: the same key paths as a real snapshot of the demo
    // (whose breaker guards a queue, so both breaker objects appear).
    let home = tempfile::tempdir().expect("tempdir");
    let out = lazysqs(home.path(), &["snapshot", "--json", "--demo"]);
    let real = json_of(&out);
    assert_eq!(
        snapshot_json::key_paths(&example),
        snapshot_json::key_paths(&real),
        "the README example and the output differ in keys"
    );
}

// ---- the poll through the library ---------------------------------------------------

/// The simulation, slowed down, counting the calls in flight.
struct Counting {
    inner: SimBroker,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    attribute_calls: AtomicUsize,
    source_calls: AtomicUsize,
    metrics_calls: AtomicUsize,
}

impl Counting {
    async fn call<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let out = f.await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

#[async_trait]
impl Broker for Counting {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn list_queues(&self, s: &QueueSelection) -> BrokerResult<Vec<QueueRef>> {
        self.inner.list_queues(s).await
    }
    async fn queue_attributes(&self, q: &QueueRef) -> BrokerResult<QueueAttrs> {
        self.attribute_calls.fetch_add(1, Ordering::SeqCst);
        self.call(self.inner.queue_attributes(q)).await
    }
    async fn dead_letter_sources(&self, q: &QueueRef) -> BrokerResult<Vec<QueueRef>> {
        self.source_calls.fetch_add(1, Ordering::SeqCst);
        self.call(self.inner.dead_letter_sources(q)).await
    }
    async fn metrics(&self, qs: &[QueueRef]) -> BrokerResult<Vec<QueueMetrics>> {
        self.metrics_calls.fetch_add(1, Ordering::SeqCst);
        self.call(self.inner.metrics(qs)).await
    }
    async fn alarm_state(&self, a: &str) -> BrokerResult<AlarmState> {
        self.inner.alarm_state(a).await
    }
    async fn receive(&self, q: &QueueRef, max: u32, v: Duration) -> BrokerResult<Vec<Message>> {
        self.inner.receive(q, max, v).await
    }
    async fn send(&self, q: &QueueRef, m: OutgoingMessage) -> BrokerResult<String> {
        self.inner.send(q, m).await
    }
    async fn send_batch(
        &self,
        q: &QueueRef,
        m: Vec<OutgoingMessage>,
    ) -> BrokerResult<BatchOutcome<String>> {
        self.inner.send_batch(q, m).await
    }
    async fn delete(&self, q: &QueueRef, h: &str) -> BrokerResult<()> {
        self.inner.delete(q, h).await
    }
    async fn delete_batch(&self, q: &QueueRef, h: Vec<String>) -> BrokerResult<BatchOutcome<()>> {
        self.inner.delete_batch(q, h).await
    }
    async fn change_visibility(
        &self,
        q: &QueueRef,
        h: Vec<String>,
        v: Duration,
    ) -> BrokerResult<BatchOutcome<()>> {
        self.inner.change_visibility(q, h, v).await
    }
    async fn start_move_task(
        &self,
        s: &str,
        d: Option<&str>,
        r: Option<u32>,
    ) -> BrokerResult<String> {
        self.inner.start_move_task(s, d, r).await
    }
    async fn list_move_tasks(&self, s: &str) -> BrokerResult<Vec<MoveTask>> {
        self.inner.list_move_tasks(s).await
    }
    async fn cancel_move_task(&self, h: &str) -> BrokerResult<u64> {
        self.inner.cancel_move_task(h).await
    }
}

/// 30 source queues, each with its own DLQ.
fn many_queues() -> SimBroker {
    let mut toml = String::from("name = \"many\"\n");
    for i in 0..30 {
        toml.push_str(&format!(
            "[[queue]]\nname = \"q{i:02}\"\ndead_letter_queue = \"q{i:02}-dlq\"\n\
             [[queue]]\nname = \"q{i:02}-dlq\"\n"
        ));
    }
    let file = ScenarioFile::parse(&toml).expect("scenario");
    SimBroker::new(Sim::new(file).expect("sim"))
}

#[tokio::test]
async fn the_poll_is_concurrent_bounded_and_batches_metrics() {
    let broker = Arc::new(Counting {
        inner: many_queues(),
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
        attribute_calls: AtomicUsize::new(0),
        source_calls: AtomicUsize::new(0),
        metrics_calls: AtomicUsize::new(0),
    });
    let opts = Options {
        source: "many".into(),
        demo: true,
        note: None,
        selection: QueueSelection::default(),
        max_concurrency: 5,
        thresholds: Thresholds::default(),
        breakers: Vec::new(),
        metrics: true,
    };
    let s = snapshot::take(broker.as_ref(), None, &opts)
        .await
        .expect("poll");
    assert_eq!(s.queues.len(), 60);
    assert_eq!(broker.attribute_calls.load(Ordering::SeqCst), 60);
    // Only the DLQs (no policy of their own) are asked for their sources.
    assert_eq!(broker.source_calls.load(Ordering::SeqCst), 30);
    assert_eq!(broker.metrics_calls.load(Ordering::SeqCst), 1);
    assert_eq!(broker.max_in_flight.load(Ordering::SeqCst), 5);
    for q in s.queues.iter().filter(|q| !q.name.ends_with("-dlq")) {
        let dlq = format!("{}-dlq", q.name);
        assert_eq!(q.dlq.as_deref(), Some(dlq.as_str()));
        let d = s.queues.iter().find(|d| d.name == dlq).expect("dlq polled");
        assert_eq!(d.dlq_sources, std::slice::from_ref(&q.name));
        assert!(d.is_dlq && !q.is_dlq);
    }
}
