//! The dashboard's real loop without a terminal: `App::update` plus
//! `runtime::Executor` against real servers, ticked by the test.
//!
//! - A second LocalStack, started by the test on port 4577 or a free one (with
//!   `scripts/local-sqs.sh`, which keeps per-port state), is stopped mid-run and
//!   restarted: rows go stale with a reason naming the endpoint, keep their data,
//!   back off, and recover by themselves.
//! - Breakers follow a CloudWatch alarm (SetAlarmState) on the usual LocalStack, and an
//!   HTTP health check against a tiny server the test runs on 127.0.0.1.
//! - Throttling and credential errors mark a row stale and back off (pure `update`).
//!
//! Tests that need LocalStack read `LAZYSQS_TEST_ENDPOINT` (e.g.
//! `http://127.0.0.1:4566`): without it they skip with a printed reason on a
//! developer's machine, and fail in CI (`CI` set). Everything runs on 127.0.0.1.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use lazysqs::app::{App, Cmd, Msg, QueueRow, Settings};
use lazysqs::breaker::BreakerState;
use lazysqs::broker::{Broker, BrokerError, QueueAttrs, QueueRef, QueueSelection};
use lazysqs::config::{BreakerConfig, BreakerSourceConfig, RefreshConfig};
use lazysqs::recovery::audit::Audit;
use lazysqs::runtime::Executor;
use lazysqs::sim::SimBroker;
use lazysqs::ui;
use lazysqs::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

mod localstack;

/// How often the test ticks the app (the binary ticks every 250 ms).
const TICK: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------- environment

/// Names these tests in the panic when CI runs them without a server.
const SUITE: &str = "the LocalStack tests";

/// Plain SDK clients, for setting up what the dashboard should see.
async fn sdk_clients(endpoint: &str) -> (aws_sdk_sqs::Client, aws_sdk_cloudwatch::Client) {
    let config = localstack::sdk_config(endpoint).await;
    (
        aws_sdk_sqs::Client::new(&config),
        aws_sdk_cloudwatch::Client::new(&config),
    )
}

async fn aws_broker(endpoint: &str) -> Arc<dyn Broker> {
    Arc::new(localstack::connect(endpoint).await)
}

fn settings(selection: QueueSelection, breakers: Vec<BreakerConfig>) -> Settings {
    Settings {
        source: "test".into(),
        selection,
        refresh: RefreshConfig {
            attributes_secs: 0.25,
            metrics_secs: 60.0,
            breakers_secs: 0.25,
            discovery_secs: 60.0,
            max_concurrency: 8,
            max_requests_per_second: 1000.0,
            others_secs: 0.25,
        },
        breakers,
        browse_cap: 100,
        ..Settings::default()
    }
}

fn prefix_selection(prefix: &str) -> QueueSelection {
    QueueSelection {
        names: Vec::new(),
        prefixes: vec![prefix.to_string()],
        place: None,
    }
}

// ---------------------------------------------------------------- the loop

/// One GetQueueAttributes result as it came back: when, for which queue, and
/// the visible count or the error.
#[derive(Debug, Clone)]
struct AttrResult {
    at: Instant,
    queue: String,
    result: Result<u64, BrokerError>,
}

/// The dashboard's loop as `runtime::run` drives it, minus the terminal: the test
/// ticks the app, spawns its commands on the executor and feeds the results back.
struct Loop {
    app: App,
    executor: Executor,
    rx: mpsc::UnboundedReceiver<Msg>,
    next_tick: Instant,
    attr_results: Vec<AttrResult>,
}

impl Loop {
    fn new(broker: Arc<dyn Broker>, settings: Settings) -> Loop {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = App::new(settings, Instant::now(), chrono::Utc::now());
        let executor = Executor::new(broker, tx, app.refresh.max_concurrency, Audit::default());
        Loop {
            app,
            executor,
            rx,
            next_tick: Instant::now(),
            attr_results: Vec::new(),
        }
    }

    fn dispatch(&self, cmds: Vec<Cmd>) {
        for cmd in cmds {
            self.executor.spawn(cmd);
        }
    }

    fn tick_if_due(&mut self) {
        let now = Instant::now();
        if now >= self.next_tick {
            let cmds = self.app.update(Msg::Tick(now));
            self.dispatch(cmds);
            self.next_tick = now + TICK;
        }
    }

    fn on_msg(&mut self, msg: Msg) {
        if let Msg::Attributes(q, r) = &msg {
            self.attr_results.push(AttrResult {
                at: Instant::now(),
                queue: q.name.clone(),
                result: r.as_ref().map(|a| a.visible).map_err(Clone::clone),
            });
        }
        let cmds = self.app.update(msg);
        self.dispatch(cmds);
    }

    fn check_deadline(&self, deadline: Instant, limit: Duration, what: &str) {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}\n{}",
            self.describe()
        );
    }

    /// Runs the loop until `done` holds, for at most `limit`; panics with the app's
    /// state if it does not happen in time.
    async fn run_until(&mut self, what: &str, limit: Duration, mut done: impl FnMut(&App) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(&self.app) {
            self.check_deadline(deadline, limit, what);
            self.tick_if_due();
            let wait = self.next_tick.saturating_duration_since(Instant::now());
            if let Ok(Some(msg)) = tokio::time::timeout(wait, self.rx.recv()).await {
                self.on_msg(msg);
            }
        }
    }

    /// Keeps the loop running while `work` runs (a server stopping or starting).
    async fn run_while<T>(
        &mut self,
        what: &str,
        limit: Duration,
        work: impl Future<Output = T>,
    ) -> T {
        let mut work = std::pin::pin!(work);
        let deadline = Instant::now() + limit;
        loop {
            self.check_deadline(deadline, limit, what);
            self.tick_if_due();
            let wait = self.next_tick.saturating_duration_since(Instant::now());
            tokio::select! {
                out = &mut work => return out,
                msg = tokio::time::timeout(wait, self.rx.recv()) => {
                    if let Ok(Some(msg)) = msg {
                        self.on_msg(msg);
                    }
                }
            }
        }
    }

    fn row(&self, name: &str) -> &QueueRow {
        self.app
            .row_by_name(name)
            .unwrap_or_else(|| panic!("no row {name}\n{}", self.describe()))
    }

    fn describe(&self) -> String {
        let mut out = String::from("app state:\n");
        if let Some(e) = &self.app.discovery_error {
            out.push_str(&format!("  discovery error: {e}\n"));
        }
        for r in &self.app.queues {
            out.push_str(&format!(
                "  queue {}: visible {:?}, stale {:?}, failures {}\n",
                r.queue.name,
                r.attrs.as_ref().map(|a| a.visible),
                r.stale,
                r.schedule.failures()
            ));
        }
        for b in &self.app.breakers {
            out.push_str(&format!(
                "  breaker {}: {:?} ({}), stale {:?}, {} transitions\n",
                b.config.name,
                b.state,
                b.detail,
                b.stale,
                b.transitions.len()
            ));
        }
        out
    }
}

/// The whole dashboard drawn at a fixed size, as lines of text.
fn render(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(160, 40)).expect("terminal");
    terminal
        .draw(|f| ui::draw(f, app, &Theme::default()))
        .expect("draw");
    let buf = terminal.backend().buffer();
    let width = buf.area.width as usize;
    buf.content()
        .chunks(width)
        .map(|row| {
            let line: String = row.iter().map(|c| c.symbol()).collect();
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------- a second LocalStack

/// Where the second LocalStack listens, unless something else already does.
const SECOND_PORT: u16 = 4577;

/// A LocalStack of this test's own, on a free port, started and stopped with
/// `scripts/local-sqs.sh` (per-port pid, log and data folder). Stopped on drop.
struct OwnServer {
    port: u16,
    running: bool,
}

impl OwnServer {
    fn script() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/local-sqs.sh")
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts a server on port 4577, or on a free port when that one is taken;
    /// `None` (after printing why) when it cannot start on a developer's machine.
    /// Panics in CI.
    async fn start(test: &str) -> Option<OwnServer> {
        let port = std::net::TcpListener::bind(("127.0.0.1", SECOND_PORT))
            .or_else(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = OwnServer {
            port,
            running: false,
        };
        match server.run("start").await {
            Ok(()) => {
                server.running = true;
                Some(server)
            }
            Err(e) if !localstack::in_ci() => {
                eprintln!("skipping {test}: cannot start a second LocalStack: {e}");
                None
            }
            Err(e) => panic!("cannot start a second LocalStack: {e}"),
        }
    }

    /// Stops the server; on a port other than the usual second one, also removes its
    /// log and data folder (kept when a test fails, for a look).
    async fn finish(mut self) {
        self.run("stop").await.expect("stop the second LocalStack");
        if self.port != SECOND_PORT {
            let state = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
            let _ = std::fs::remove_dir_all(state.join(format!("localstack-{}", self.port)));
            let _ = std::fs::remove_file(state.join(format!("localstack-{}.log", self.port)));
        }
    }

    async fn run(&mut self, action: &str) -> Result<(), String> {
        let out = tokio::process::Command::new(Self::script())
            .arg(action)
            .env("LOCAL_SQS_PORT", self.port.to_string())
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| format!("running {}: {e}", Self::script().display()))?;
        match action {
            "start" => self.running = out.status.success(),
            // A failed stop may have left it running: try again on drop.
            "stop" if out.status.success() => self.running = false,
            _ => {}
        }
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "local-sqs.sh {action} on port {} failed ({}):\n{}{}",
                self.port,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        if self.running {
            let _ = std::process::Command::new(Self::script())
                .arg("stop")
                .env("LOCAL_SQS_PORT", self.port.to_string())
                .stdin(std::process::Stdio::null())
                .output();
        }
    }
}

/// Creates `orders` with a redrive policy to `orders-dlq`, and sends `messages`
/// to `orders`. Returns the two names.
async fn create_orders(
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
    messages: usize,
) -> (String, String) {
    let dlq = format!("{prefix}-orders-dlq");
    let orders = format!("{prefix}-orders");
    let (url, _) = localstack::create_with_dlq(sqs, &orders, &dlq, 3).await;
    for i in 0..messages {
        sqs.send_message()
            .queue_url(&url)
            .message_body(format!(r#"{{"order_id":"ord-{i}"}}"#))
            .send()
            .await
            .expect("send");
    }
    (orders, dlq)
}

fn fresh(row: &QueueRow, visible: u64) -> bool {
    row.stale.is_none() && row.attrs.as_ref().is_some_and(|a| a.visible == visible)
}

// ---------------------------------------------------------------- 1. server stopped, restarted

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_stopped_mid_run_then_restarted_goes_stale_then_recovers() {
    if localstack::endpoint(SUITE, "server_stopped_mid_run_then_restarted").is_none() {
        return;
    }
    let Some(mut server) = OwnServer::start("server_stopped_mid_run_then_restarted").await else {
        return;
    };
    let endpoint = server.endpoint();
    let (sqs, _) = sdk_clients(&endpoint).await;
    let prefix = localstack::unique_prefix("restart");
    let (orders, dlq) = create_orders(&sqs, &prefix, 2).await;
    // A queue that will not come back after the restart.
    let gone = format!("{prefix}-gone");
    sqs.create_queue()
        .queue_name(&gone)
        .send()
        .await
        .expect("create gone");

    let mut lp = Loop::new(
        aws_broker(&endpoint).await,
        settings(prefix_selection(&prefix), Vec::new()),
    );
    let t0 = Instant::now();
    lp.run_until("every row fresh", Duration::from_secs(30), |app| {
        app.row_by_name(&orders).is_some_and(|r| fresh(r, 2))
            && app.row_by_name(&dlq).is_some_and(|r| fresh(r, 0))
            && app.row_by_name(&gone).is_some_and(|r| fresh(r, 0))
    })
    .await;
    // The reverse link comes from ListDeadLetterSourceQueues.
    lp.run_until("the DLQ's source link", Duration::from_secs(30), |app| {
        app.row_by_name(&dlq)
            .is_some_and(|r| r.dlq_sources == vec![orders.clone()])
    })
    .await;
    assert_eq!(lp.row(&orders).dlq_name(), Some(dlq.as_str()));
    // The first metrics poll done too, so the next is a minute away: during the outage
    // only the rows fail, and the status bar speaks of them.
    lp.run_until("the first metrics poll", Duration::from_secs(30), |app| {
        !app.metrics_schedule.in_flight() && app.last_refresh.is_some()
    })
    .await;
    assert_eq!(lp.app.metrics_error, None);
    eprintln!("fresh after {:.1?}", t0.elapsed());

    // Stop the server while the loop keeps running.
    let stopping = Instant::now();
    lp.run_while(
        "the server to stop",
        Duration::from_secs(60),
        server.run("stop"),
    )
    .await
    .expect("stop the second LocalStack");
    eprintln!("stopped in {:.1?}", stopping.elapsed());
    let unreachable = |r: &QueueRow| {
        r.stale.as_deref().is_some_and(|s| {
            s.contains("unreachable") && s.contains(&endpoint) && s.contains("retry in")
        })
    };
    lp.run_until(
        "every row stale with the endpoint unreachable, after 3 failures",
        Duration::from_secs(30),
        |app| {
            app.queues.len() == 3
                && app
                    .queues
                    .iter()
                    .all(|r| unreachable(r) && r.schedule.failures() >= 3)
        },
    )
    .await;

    // Data is kept, the rows are marked, nothing is blank.
    assert_eq!(lp.row(&orders).attrs.as_ref().map(|a| a.visible), Some(2));
    assert_eq!(lp.row(&dlq).attrs.as_ref().map(|a| a.visible), Some(0));
    assert_eq!(lp.row(&dlq).dlq_sources, vec![orders.clone()]);
    let screen = render(&lp.app);
    for name in [&orders, &dlq, &gone] {
        assert!(screen.contains(&format!("⚠ {name}")), "{screen}");
    }
    assert!(screen.contains("⚠ stale"), "{screen}");
    assert!(
        screen.contains("3 stale: unreachable: cannot reach") && screen.contains(&endpoint),
        "the status bar names the reason and the endpoint:\n{screen}"
    );

    // Backoff: the waits between failed attempts grow (interval × 2^n, jittered to
    // between half and all of it).
    let failures: Vec<Instant> = lp
        .attr_results
        .iter()
        .filter(|r| r.queue == orders && r.at >= stopping)
        .filter(|r| matches!(r.result, Err(BrokerError::Unreachable(_))))
        .map(|r| r.at)
        .collect();
    assert!(failures.len() >= 3, "{failures:?}");
    let interval = lp.app.refresh.attributes_secs;
    for (n, pair) in failures.windows(2).enumerate() {
        let gap = pair[1].duration_since(pair[0]).as_secs_f64();
        let least = interval * 2f64.powi(n as i32 + 1) * 0.5;
        assert!(
            gap >= least * 0.95,
            "attempt {} came {gap:.2}s after the previous failure, under the backoff's {least:.2}s",
            n + 2
        );
    }

    // Restart. Without persistence every queue is gone; re-create two of them at
    // once (with a different depth), and leave the third gone.
    let restarting = Instant::now();
    lp.run_while(
        "the server to restart",
        Duration::from_secs(120),
        server.run("start"),
    )
    .await
    .expect("restart the second LocalStack");
    let (again, again_dlq) = create_orders(&sqs, &prefix, 1).await;
    assert_eq!((&again, &again_dlq), (&orders, &dlq));
    let up = Instant::now();
    eprintln!(
        "restarted in {:.1?}; {} failed attempts on {orders} while down",
        up.duration_since(restarting),
        lp.row(&orders).schedule.failures()
    );

    // The rows recover by themselves, on their backoff schedule; the queue that is
    // gone says so.
    lp.run_until(
        "two rows fresh again, the third stale with 'not found'",
        Duration::from_secs(90),
        |app| {
            app.row_by_name(&orders).is_some_and(|r| fresh(r, 1))
                && app.row_by_name(&dlq).is_some_and(|r| fresh(r, 0))
                && app.row_by_name(&gone).is_some_and(|r| {
                    r.stale
                        .as_deref()
                        .is_some_and(|s| s.starts_with("not found") && s.contains("retry in"))
                })
        },
    )
    .await;
    eprintln!("recovered {:.1?} after the restart", up.elapsed());
    assert_eq!(lp.app.queues.len(), 3);
    assert_eq!(lp.row(&orders).schedule.failures(), 0);
    assert_eq!(lp.row(&dlq).schedule.failures(), 0);
    // The gone queue keeps what was last known.
    assert_eq!(lp.row(&gone).attrs.as_ref().map(|a| a.visible), Some(0));
    let screen = render(&lp.app);
    assert!(screen.contains(&format!("⚠ {gone}")), "{screen}");
    assert!(!screen.contains(&format!("⚠ {orders}")), "{screen}");
    assert!(!screen.contains(&format!("⚠ {dlq}")), "{screen}");
    assert!(
        screen.contains("1 stale: not found"),
        "the status bar says which problem is left:\n{screen}"
    );

    server.finish().await;
}

// ---------------------------------------------------------------- 2. breakers through the app

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_breaker_follows_set_alarm_state_through_the_app() {
    let Some(endpoint) = localstack::endpoint(SUITE, "alarm_breaker_follows_set_alarm_state")
    else {
        return;
    };
    let (_, cloudwatch) = sdk_clients(&endpoint).await;
    let alarm = localstack::unique_prefix("lzd-payments-breaker");
    cloudwatch
        .put_metric_alarm()
        .alarm_name(&alarm)
        .namespace("AWS/SQS")
        .metric_name("NumberOfMessagesSent")
        .dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name("QueueName")
                .value(format!("{alarm}-dlq"))
                .build(),
        )
        .statistic(Statistic::Sum)
        // LocalStack evaluates the alarm as soon as it is put, then every hour: with
        // no data and missing data ignored, the evaluation keeps the state it finds, so
        // it never overrides SetAlarmState mid-test.
        .period(3600)
        .treat_missing_data("ignore")
        .evaluation_periods(1)
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("put alarm");
    let set = |state: StateValue| {
        let cloudwatch = cloudwatch.clone();
        let alarm = alarm.clone();
        async move {
            cloudwatch
                .set_alarm_state()
                .alarm_name(&alarm)
                .state_value(state)
                .state_reason("lazysqs test")
                .send()
                .await
                .expect("set alarm state");
        }
    };
    set(StateValue::Ok).await;

    let breaker = BreakerConfig {
        name: "payments".into(),
        queue: Some("orders".into()),
        source: BreakerSourceConfig::Alarm {
            alarm: alarm.clone(),
        },
    };
    let mut lp = Loop::new(
        aws_broker(&endpoint).await,
        settings(
            prefix_selection(&localstack::unique_prefix("lzd-none")),
            vec![breaker],
        ),
    );
    let state = |app: &App| app.breakers[0].state;
    lp.run_until("CLOSED from alarm OK", Duration::from_secs(20), |app| {
        state(app) == BreakerState::Closed
    })
    .await;
    // The first reading sets the state; it is not a transition.
    assert!(lp.app.breakers[0].transitions.is_empty());

    set(StateValue::Alarm).await;
    lp.run_until("OPEN from alarm ALARM", Duration::from_secs(20), |app| {
        state(app) == BreakerState::Open
    })
    .await;
    let b = &lp.app.breakers[0];
    assert_eq!(b.config.source.describe(), format!("alarm {alarm}"));
    assert!(b.detail.contains(&alarm), "{}", b.detail);
    assert!(b.stale.is_none());
    let screen = render(&lp.app);
    assert!(screen.contains("✖ OPEN"), "{screen}");
    assert!(
        screen.contains(&format!("source: alarm {alarm}")),
        "the pane names the source:\n{screen}"
    );

    set(StateValue::Ok).await;
    lp.run_until(
        "CLOSED again from alarm OK",
        Duration::from_secs(20),
        |app| state(app) == BreakerState::Closed,
    )
    .await;
    let b = &lp.app.breakers[0];
    let moves: Vec<(BreakerState, BreakerState)> =
        b.transitions.iter().map(|t| (t.from, t.to)).collect();
    assert_eq!(
        moves,
        vec![
            (BreakerState::Closed, BreakerState::Open),
            (BreakerState::Open, BreakerState::Closed)
        ]
    );
    assert!(b.transitions.iter().all(|t| t.reason.contains(&alarm)));
    assert!(b.transitions[0].at <= b.transitions[1].at);

    set(StateValue::InsufficientData).await;
    lp.run_until(
        "unknown from INSUFFICIENT_DATA",
        Duration::from_secs(20),
        |app| state(app) == BreakerState::Unknown,
    )
    .await;

    // The alarm deleted: the breaker keeps its last state, marked stale.
    set(StateValue::Alarm).await;
    lp.run_until("OPEN again", Duration::from_secs(20), |app| {
        state(app) == BreakerState::Open
    })
    .await;
    cloudwatch
        .delete_alarms()
        .alarm_names(&alarm)
        .send()
        .await
        .expect("delete alarm");
    lp.run_until(
        "stale 'not found' after the alarm is deleted",
        Duration::from_secs(20),
        |app| {
            app.breakers[0]
                .stale
                .as_deref()
                .is_some_and(|s| s.contains("not found") && s.contains("retry in"))
        },
    )
    .await;
    assert_eq!(state(&lp.app), BreakerState::Open);
    assert_eq!(lp.app.breakers[0].transitions.len(), 4);
}

/// What the tiny health endpoint answers: an HTTP status, or `HANG` for nothing.
const HANG: u16 = 0;

/// A tiny HTTP server on 127.0.0.1: every request gets the status in `status`
/// (or no answer at all while it is `HANG`), and the connection is closed.
async fn health_server(status: Arc<AtomicU16>) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let status = status.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut read = 0;
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") && read < buf.len() {
                    match stream.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                let code = status.load(Ordering::SeqCst);
                if code == HANG {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                let reply = format!(
                    "HTTP/1.1 {code} Status\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (format!("http://{addr}/health"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_breaker_follows_a_health_check_through_the_app() {
    let status = Arc::new(AtomicU16::new(200));
    let (url, server) = health_server(status.clone()).await;
    let breaker = BreakerConfig {
        name: "inventory".into(),
        queue: None,
        source: BreakerSourceConfig::Http {
            http: url.clone(),
            timeout_ms: 500,
            ca_file: None,
        },
    };
    // The broker is not asked about HTTP breakers; the simulation is a stand-in
    // with no queue matching the selection.
    let broker: Arc<dyn Broker> = Arc::new(SimBroker::coffee_shop().expect("coffee shop"));
    let mut lp = Loop::new(
        broker,
        settings(prefix_selection("no-such-queue"), vec![breaker]),
    );
    let reading = |app: &App| (app.breakers[0].state, app.breakers[0].detail.clone());
    let limit = Duration::from_secs(15);

    lp.run_until("CLOSED on HTTP 200", limit, |app| {
        reading(app) == (BreakerState::Closed, "HTTP 200".into())
    })
    .await;

    status.store(503, Ordering::SeqCst);
    lp.run_until("OPEN on HTTP 503", limit, |app| {
        reading(app) == (BreakerState::Open, "HTTP 503".into())
    })
    .await;
    let screen = render(&lp.app);
    assert!(screen.contains("✖ OPEN"), "{screen}");
    assert!(
        screen.contains(&format!("source: GET {url} — HTTP 503")),
        "{screen}"
    );

    status.store(204, Ordering::SeqCst);
    lp.run_until("CLOSED on HTTP 204", limit, |app| {
        reading(app) == (BreakerState::Closed, "HTTP 204".into())
    })
    .await;

    status.store(HANG, Ordering::SeqCst);
    lp.run_until("OPEN when it does not answer in time", limit, |app| {
        reading(app)
            == (
                BreakerState::Open,
                format!("timeout: no answer from {url} within 500 ms"),
            )
    })
    .await;

    status.store(200, Ordering::SeqCst);
    lp.run_until("CLOSED again", limit, |app| {
        reading(app).0 == BreakerState::Closed
    })
    .await;

    // The server gone: nothing listens on the port any more.
    server.abort();
    let _ = server.await;
    lp.run_until("OPEN when the server is gone", limit, |app| {
        reading(app)
            == (
                BreakerState::Open,
                format!("refused: nothing listens at {url}"),
            )
    })
    .await;

    let b = &lp.app.breakers[0];
    let moves: Vec<(BreakerState, BreakerState, String)> = b
        .transitions
        .iter()
        .map(|t| (t.from, t.to, t.reason.clone()))
        .collect();
    use BreakerState::{Closed, Open};
    assert_eq!(
        moves,
        vec![
            (Closed, Open, "HTTP 503".to_string()),
            (Open, Closed, "HTTP 204".to_string()),
            (
                Closed,
                Open,
                format!("timeout: no answer from {url} within 500 ms")
            ),
            (Open, Closed, "HTTP 200".to_string()),
            (Closed, Open, format!("refused: nothing listens at {url}")),
        ]
    );
    // A failed check is a reading (OPEN), not a stale breaker.
    assert!(b.stale.is_none());
}

// ---------------------------------------------------------------- 3. throttling and credentials

fn attrs(visible: u64) -> QueueAttrs {
    QueueAttrs {
        arn: "arn:aws:sqs:us-east-1:000000000000:orders".into(),
        visible,
        in_flight: 0,
        delayed: 0,
        fifo: false,
        content_based_dedup: false,
        visibility_timeout: Duration::from_secs(30),
        retention: Duration::from_secs(4 * 24 * 3600),
        redrive: None,
        max_message_size: 1024 * 1024,
    }
}

/// Whether this tick asks for the queue's attributes.
fn fetches(cmds: &[Cmd], q: &QueueRef) -> bool {
    cmds.iter()
        .any(|c| matches!(c, Cmd::FetchAttributes(x) if x == q))
}

fn check_error_backs_off(error: BrokerError, expect_in_reason: &str) {
    let t0 = Instant::now();
    let at = |secs: f64| t0 + Duration::from_secs_f64(secs);
    let mut s = settings(QueueSelection::default(), Vec::new());
    s.refresh.attributes_secs = 5.0;
    let interval = 5.0;
    let mut app = App::new(s, t0, chrono::Utc::now());
    let q = QueueRef {
        name: "orders".into(),
        url: "http://127.0.0.1:4566/queue/us-east-1/000000000000/orders".into(),
        place: Default::default(),
    };
    app.update(Msg::Tick(t0));
    let cmds = app.update(Msg::Discovered(Ok(vec![q.clone()]).into()));
    assert!(fetches(&cmds, &q));
    app.update(Msg::Attributes(q.clone(), Ok(attrs(7))));
    let row = |app: &App| app.row_by_name("orders").cloned().expect("row");
    assert!(row(&app).stale.is_none());

    // Errors in a row: each marks the row stale with the reason, keeps the data, and
    // waits interval × 2^n (jittered to between half and all of it) before retrying.
    let mut failed_at = 0.0;
    let mut t = 0.0;
    for n in 1..=4 {
        // The fetch comes once the previous wait is over; find it.
        while !fetches(&app.update(Msg::Tick(at(t))), &q) {
            t += 0.05;
            assert!(t < failed_at + 400.0, "no retry after failure {}", n - 1);
        }
        if n > 1 {
            let waited = t - failed_at;
            let full = interval * 2f64.powi(n - 1);
            assert!(
                waited >= full * 0.5 - 0.01 && waited <= full + 0.06,
                "after failure {}: retried after {waited:.2}s, expected {:.1}–{full:.1}s",
                n - 1,
                full * 0.5
            );
        }
        failed_at = t;
        app.update(Msg::Attributes(q.clone(), Err(error.clone())));
        let r = row(&app);
        let stale = r.stale.as_deref().expect("stale");
        assert!(
            stale.contains(expect_in_reason) && stale.contains("retry in"),
            "{stale}"
        );
        assert_eq!(r.schedule.failures(), n as u32);
        assert_eq!(r.attrs.as_ref().map(|a| a.visible), Some(7), "data kept");
        // No retry before half the backoff.
        t = failed_at + interval * 2f64.powi(n) * 0.5 - 0.05;
        assert!(!fetches(&app.update(Msg::Tick(at(t))), &q));
    }

    // The status bar and the row say so.
    let screen = render(&app);
    assert!(screen.contains("⚠ orders"), "{screen}");
    assert!(
        screen.contains(&format!("1 stale: {expect_in_reason}")),
        "{screen}"
    );

    // Recovery clears the mark and the backoff.
    while !fetches(&app.update(Msg::Tick(at(t))), &q) {
        t += 0.05;
        assert!(t < failed_at + 400.0, "no retry");
    }
    app.update(Msg::Attributes(q.clone(), Ok(attrs(9))));
    let r = row(&app);
    assert!(r.stale.is_none());
    assert_eq!(r.schedule.failures(), 0);
    assert_eq!(r.attrs.as_ref().map(|a| a.visible), Some(9));
    // Back to the plain interval.
    assert!(!fetches(&app.update(Msg::Tick(at(t + interval - 0.1))), &q));
    assert!(fetches(&app.update(Msg::Tick(at(t + interval + 0.01))), &q));
}

#[test]
fn throttling_marks_the_row_stale_and_backs_off() {
    check_error_backs_off(
        BrokerError::Throttled("Rate exceeded".into()),
        "throttled: Rate exceeded",
    );
}

#[test]
fn credential_errors_mark_the_row_stale_and_back_off() {
    check_error_backs_off(
        BrokerError::Auth(
            "ExpiredToken: The security token included in the request is expired".into(),
        ),
        "credentials: ExpiredToken",
    );
}

#[test]
fn access_denied_on_one_queue_leaves_the_others_fresh() {
    let t0 = Instant::now();
    let mut app = App::new(
        settings(QueueSelection::default(), Vec::new()),
        t0,
        chrono::Utc::now(),
    );
    let q = |name: &str| QueueRef {
        name: name.into(),
        url: format!("http://127.0.0.1:4566/queue/us-east-1/000000000000/{name}"),
        place: Default::default(),
    };
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(Ok(vec![q("orders"), q("secret")]).into()));
    app.update(Msg::Attributes(q("orders"), Ok(attrs(3))));
    app.update(Msg::Attributes(
        q("secret"),
        Err(BrokerError::Auth("AccessDenied: not allowed".into())),
    ));
    let stale: HashMap<String, Option<String>> = app
        .queues
        .iter()
        .map(|r| (r.queue.name.clone(), r.stale.clone()))
        .collect();
    assert_eq!(stale["orders"], None);
    assert!(
        stale["secret"]
            .as_deref()
            .is_some_and(|s| s.starts_with("credentials: AccessDenied")),
        "{stale:?}"
    );
    let screen = render(&app);
    assert!(screen.contains("⚠ secret"), "{screen}");
    assert!(
        screen.contains("1 stale: credentials: AccessDenied"),
        "{screen}"
    );
}

// ---------------------------------------------------------------- several regions, one down

/// A TCP forwarder to `upstream` on a port of its own, that can be cut: the
/// endpoint of a region that goes down while another stays up.
struct Forwarder {
    port: u16,
    tasks: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Forwarder {
    async fn start(upstream: String) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let tasks: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let conns = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns.lock().expect("lock").push(conn);
            }
        });
        tasks.lock().expect("lock").push(accept);
        Forwarder { port, tasks }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Closes the port and every connection through it.
    fn cut(&self) {
        for t in self.tasks.lock().expect("lock").drain(..) {
            t.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_region_going_down_marks_only_its_own_rows_stale() {
    let Some(endpoint) = localstack::endpoint(SUITE, "one_region_going_down") else {
        return;
    };
    let upstream = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let west_link = Forwarder::start(upstream).await;
    let prefix = localstack::unique_prefix("regions");
    let place = |region: &str, url: String| lazysqs::broker::aws::AwsOptions {
        profile: None,
        region: Some(region.to_string()),
        endpoint_url: Some(url),
    };
    let places = [
        place("us-east-1", endpoint.clone()),
        place("eu-west-1", west_link.endpoint()),
    ];
    for p in &places {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new(
                p.region.clone().unwrap_or_default(),
            ))
            .endpoint_url(&endpoint)
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .load()
            .await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let url = sqs
            .create_queue()
            .queue_name(format!("{prefix}-orders"))
            .send()
            .await
            .expect("create")
            .queue_url
            .expect("url");
        sqs.send_message()
            .queue_url(url)
            .message_body("x")
            .send()
            .await
            .expect("send");
    }
    let broker = lazysqs::connect::connect_all(&places)
        .await
        .expect("connect");
    let mut lp = Loop::new(broker, settings(prefix_selection(&prefix), Vec::new()));
    let in_region = |app: &App, region: &str| -> Option<QueueRow> {
        app.queues
            .iter()
            .find(|r| r.queue.place.region == region)
            .cloned()
    };
    lp.run_until("both regions' rows fresh", Duration::from_secs(30), |app| {
        app.queues.len() == 2
            && ["us-east-1", "eu-west-1"]
                .iter()
                .all(|r| in_region(app, r).is_some_and(|row| fresh(&row, 1)))
    })
    .await;
    // Several regions: the table says which row is where.
    let screen = render(&lp.app);
    assert!(
        screen.contains("Region") && screen.contains("eu-west-1") && screen.contains("us-east-1"),
        "{screen}"
    );

    west_link.cut();
    lp.run_until("the west row stale", Duration::from_secs(40), |app| {
        in_region(app, "eu-west-1").is_some_and(|r| r.stale.is_some())
    })
    .await;
    let west = in_region(&lp.app, "eu-west-1").expect("west row");
    let why = west.stale.clone().unwrap_or_default();
    assert!(why.contains("eu-west-1"), "{why}");
    // The east row keeps being read, and stays fresh.
    let before = in_region(&lp.app, "us-east-1")
        .and_then(|r| r.last_ok)
        .expect("east read");
    lp.run_until("the east row read again", Duration::from_secs(20), |app| {
        in_region(app, "us-east-1").is_some_and(|r| r.last_ok > Some(before) && fresh(&r, 1))
    })
    .await;
    assert!(
        in_region(&lp.app, "eu-west-1").is_some_and(|r| r.stale.is_some()),
        "{}",
        lp.describe()
    );
    assert_eq!(lp.app.stale_rows(), 1, "{}", lp.describe());
}
