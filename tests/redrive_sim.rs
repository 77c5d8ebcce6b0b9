//! Bulk redrive on the simulation: the client-side mover's semantics (own source,
//! filter, max, failures, FIFO groups, pause/resume/cancel), the choice of mode, and
//! the circuit-breaker gate on the coffee-shop scenario.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use lazysqs::breaker::BreakerState;
use lazysqs::broker::{Broker, MessageAttribute, OutgoingMessage};
use lazysqs::cli::Cli;
use lazysqs::commands::redrive::read_gate;
use lazysqs::config::Config;
use lazysqs::redrive::gate::{self, GateDecision};
use lazysqs::redrive::mover::{self, MoverConfig, Target};
use lazysqs::redrive::{
    self, ClientOptions, Destination, Directive, Filter, Mode, ModePreference, Report, Request,
    RunState,
};
use lazysqs::sim::model::{arn, queue_ref};
use lazysqs::sim::scenario::ScenarioFile;
use lazysqs::sim::{DemoAction, Sim, SimBroker};

const SCENARIO: &str = r#"
name = "redrive-tests"

[[queue]]
name = "orders"
dead_letter_queue = "dlq"
max_receive_count = 1

[[queue]]
name = "billing"
dead_letter_queue = "dlq"
max_receive_count = 1

[[queue]]
name = "dlq"

[[queue]]
name = "retry"

[[queue]]
name = "inv.fifo"
dead_letter_queue = "inv-dlq.fifo"
max_receive_count = 1

[[queue]]
name = "inv-dlq.fifo"
"#;

fn sim() -> SimBroker {
    let file = ScenarioFile::parse(SCENARIO).expect("scenario");
    SimBroker::new(Sim::new(file).expect("sim"))
}

fn attrs(schema: &str) -> BTreeMap<String, MessageAttribute> {
    let mut a = BTreeMap::new();
    a.insert(
        "schema".to_string(),
        MessageAttribute {
            data_type: "String".into(),
            value: schema.into(),
        },
    );
    a
}

/// Sends the bodies to `queue` and fails them into its DLQ (maxReceiveCount 1).
fn fail_into_dlq(sim: &SimBroker, queue: &str, dlq: &str, bodies: &[String]) {
    let mut s = sim.lock();
    let before = s.model.attributes(dlq).expect("dlq").visible;
    for (i, b) in bodies.iter().enumerate() {
        let m = OutgoingMessage {
            body: b.clone(),
            attributes: attrs("order.v2"),
            group_id: queue.ends_with(".fifo").then(|| format!("g{}", i % 3)),
            dedup_id: queue.ends_with(".fifo").then(|| format!("d{i}")),
            delay: None,
            trace_header: None,
        };
        s.model.send(queue, m).expect("send");
    }
    for _ in 0..10_000 {
        if s.model.attributes(dlq).expect("dlq").visible >= before + bodies.len() as u64 {
            return;
        }
        // Received once and never deleted: the next receive moves it to the DLQ.
        s.model.receive(queue, 10, Duration::ZERO).expect("receive");
    }
    panic!("the messages did not reach {dlq}");
}

fn visible(sim: &SimBroker, queue: &str) -> u64 {
    sim.lock().model.attributes(queue).expect("queue").visible
}

fn in_flight(sim: &SimBroker, queue: &str) -> u64 {
    sim.lock().model.attributes(queue).expect("queue").in_flight
}

fn bodies(sim: &SimBroker, queue: &str) -> Vec<String> {
    let mut s = sim.lock();
    let mut out = Vec::new();
    loop {
        let got = s
            .model
            .receive(queue, 10, Duration::from_secs(3600))
            .expect("receive");
        if got.is_empty() {
            break;
        }
        out.extend(got.into_iter().map(|m| m.body));
    }
    out
}

fn request(source: &str) -> Request {
    Request {
        source: queue_ref(source),
        destination: Destination::OwnSource,
        rate: None,
        max: None,
        filter: None,
        transform: None,
        mode: ModePreference::ClientSide,
        client: ClientOptions {
            workers: 4,
            ..ClientOptions::default()
        },
        canary: None,
    }
}

async fn run(broker: Arc<dyn Broker>, req: Request) -> Report {
    let plan = redrive::plan(broker.as_ref(), req).await.expect("plan");
    let handle = redrive::start(broker, &plan, &lazysqs::recovery::audit::Audit::default())
        .await
        .expect("start");
    tokio::time::timeout(Duration::from_secs(300), handle.wait())
        .await
        .expect("the redrive ends")
}

#[tokio::test]
async fn client_side_moves_each_message_back_to_its_own_source() {
    let sim = sim();
    let orders: Vec<String> = (0..30).map(|i| format!("order-{i}")).collect();
    let billing: Vec<String> = (0..20).map(|i| format!("bill-{i}")).collect();
    fail_into_dlq(&sim, "orders", "dlq", &orders);
    fail_into_dlq(&sim, "billing", "dlq", &billing);
    let broker: Arc<dyn Broker> = Arc::new(sim.clone());

    let report = run(broker, request("dlq")).await;
    assert_eq!(report.state, RunState::Completed, "{report:?}");
    assert!(report.succeeded());
    assert_eq!((report.moved, report.failed), (50, 0));
    assert_eq!(report.by_destination.get("orders"), Some(&30));
    assert_eq!(report.by_destination.get("billing"), Some(&20));
    assert_eq!(visible(&sim, "dlq") + in_flight(&sim, "dlq"), 0);
    let mut got = bodies(&sim, "orders");
    got.sort();
    let mut want = orders.clone();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(visible(&sim, "billing"), 20);
    // Attributes travel with the message.
    let m = sim
        .lock()
        .model
        .receive("billing", 1, Duration::from_secs(60))
        .expect("receive");
    assert_eq!(m[0].attributes, attrs("order.v2"));
}

#[tokio::test]
async fn a_chosen_destination_takes_every_message() {
    let sim = sim();
    let b: Vec<String> = (0..25).map(|i| format!("m-{i}")).collect();
    fail_into_dlq(&sim, "orders", "dlq", &b);
    let broker: Arc<dyn Broker> = Arc::new(sim.clone());
    let req = Request {
        destination: Destination::Queue(queue_ref("retry")),
        ..request("dlq")
    };
    let report = run(broker, req).await;
    assert_eq!(report.moved, 25);
    assert_eq!(report.destination, "retry");
    assert_eq!(visible(&sim, "retry"), 25);
    assert_eq!(visible(&sim, "orders"), 0);
}

#[tokio::test]
async fn a_filtered_pass_moves_the_matches_releases_the_rest_and_ends() {
    let sim = sim();
    let b: Vec<String> = (0..60)
        .map(|i| {
            let store = if i % 3 == 0 { "berlin-01" } else { "oslo-03" };
            format!(r#"{{"order_id":"o-{i}","store":{{"id":"{store}"}}}}"#)
        })
        .collect();
    fail_into_dlq(&sim, "orders", "dlq", &b);
    let broker: Arc<dyn Broker> = Arc::new(sim.clone());
    let req = Request {
        filter: Some("store.id=berlin-01".parse::<Filter>().expect("filter")),
        transform: None,
        ..request("dlq")
    };
    let report = run(broker, req).await;
    assert_eq!(report.state, RunState::Completed);
    assert_eq!((report.moved, report.skipped, report.failed), (20, 40, 0));
    // The unmatched are back, visible and untouched; none is left held.
    assert_eq!(visible(&sim, "dlq"), 40);
    assert_eq!(in_flight(&sim, "dlq"), 0);
    assert!(
        bodies(&sim, "orders")
            .iter()
            .all(|b| b.contains("berlin-01"))
    );
    assert!(bodies(&sim, "dlq").iter().all(|b| b.contains("oslo-03")));
}

#[tokio::test]
async fn a_filter_that_matches_nothing_still_ends() {
    let sim = sim();
    let b: Vec<String> = (0..30).map(|i| format!("m-{i}")).collect();
    fail_into_dlq(&sim, "orders", "dlq", &b);
    let broker: Arc<dyn Broker> = Arc::new(sim.clone());
    let req = Request {
        filter: Some("no-such-text".parse().expect("filter")),
        transform: None,
        ..request("dlq")
    };
    let report = run(broker, req).await;
    assert_eq!((report.moved, report.skipped), (0, 30));
    assert_eq!(visible(&sim, "dlq"), 30);
}

#[tokio::test]
async fn max_moves_at_most_n() {
    let sim = sim();
    let b: Vec<String> = (0..50).map(|i| format!("m-{i}")).collect();
    fail_into_dlq(&sim, "orders", "dlq", &b);
    let broker: Arc<dyn Broker> = Arc::new(sim.clone());
    let req = Request {
        max: Some(15),
        ..request("dlq")
    };
    let report = run(broker, req).await;
    assert_eq!(report.moved, 15);
    assert_eq!(visible(&sim, "orders"), 15);
    assert_eq!(visible(&sim, "dlq"), 35);
}

#[tokio::test]
async fn a_failed_send_leaves_the_message_in_the_dlq_and_is_reported() {
    let sim = sim();
    let b: Vec<String> = (0..12).map(|i| format!("m-{i}")).collect();
    fail_into_dlq(&sim, "orders", "dlq", &b);
    let broker: Arc<dyn Broker> = Arc::new(sim.clone());
    let handle = mover::spawn(
        broker,
        MoverConfig {
            source: queue_ref("dlq"),
            source_arn: arn("dlq"),
            target: Target::Queue(queue_ref("deleted-queue")),
            rate: None,
            max: None,
            filter: None,
            transform: None,
            options: ClientOptions::default(),
            expected: Some(12),
            canary: None,
        },
    );
    let report = tokio::time::timeout(Duration::from_secs(30), handle.wait())
        .await
        .expect("ends");
    assert_eq!((report.moved, report.failed), (0, 12));
    assert!(!report.succeeded());
    assert_eq!(report.failures.len(), 12);
    assert!(
        report.failures[0].reason.contains("not found"),
        "{:?}",
        report.failures[0]
    );
    assert_eq!(visible(&sim, "dlq"), 12);
    assert_eq!(in_flight(&sim, "dlq"), 0);
}

#[tokio::test]
async fn fifo_redrive_keeps_group_ids_and_order_within_a_group() {
    let sim = sim();
    let b: Vec<String> = (0..12).map(|i| format!("inv-{i:02}")).collect();
    fail_into_dlq(&sim, "inv.fifo", "inv-dlq.fifo", &b);
    let broker: Arc<dyn Broker> = Arc::new(sim.clone());
    let report = run(broker, request("inv-dlq.fifo")).await;
    assert_eq!(report.moved, 12, "{report:?}");
    let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut s = sim.lock();
    loop {
        let got = s
            .model
            .receive("inv.fifo", 10, Duration::from_secs(3600))
            .expect("receive");
        if got.is_empty() {
            break;
        }
        for m in got {
            by_group
                .entry(m.group_id.clone().expect("a group id"))
                .or_default()
                .push(m.body.clone());
            s.model
                .delete("inv.fifo", &m.receipt_handle)
                .expect("delete");
        }
    }
    assert_eq!(by_group.len(), 3);
    for (g, bodies) in by_group {
        let i: usize = g.trim_start_matches('g').parse().expect("group");
        let want: Vec<String> = (0..12)
            .filter(|n| n % 3 == i)
            .map(|n| format!("inv-{n:02}"))
            .collect();
        assert_eq!(bodies, want, "group {g}");
    }
}

#[tokio::test]
async fn pause_resume_and_cancel_never_lose_a_message() {
    let sim = sim();
    let b: Vec<String> = (0..400).map(|i| format!("m-{i}")).collect();
    fail_into_dlq(&sim, "orders", "dlq", &b);
    let broker: Arc<dyn Broker> = Arc::new(sim.clone());
    let req = Request {
        rate: Some(100),
        ..request("dlq")
    };
    let plan = redrive::plan(broker.as_ref(), req).await.expect("plan");
    let handle = redrive::start(broker, &plan, &lazysqs::recovery::audit::Audit::default())
        .await
        .expect("start");
    let mut progress = handle.progress.clone();
    progress
        .wait_for(|p| p.moved >= 50)
        .await
        .expect("progress");
    handle.control.pause().expect("pause");
    progress
        .wait_for(|p| p.state == RunState::Paused)
        .await
        .expect("paused");
    // Batches in hand finish; then nothing moves.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = visible(&sim, "orders");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(visible(&sim, "orders"), held, "moved while paused");
    assert_eq!(handle.control.directive(), Directive::Pause);
    handle.control.resume().expect("resume");
    progress
        .wait_for(|p| p.moved >= held + 50)
        .await
        .expect("moving again");
    handle.control.cancel();
    let report = handle.wait().await;
    assert_eq!(report.state, RunState::Cancelled);
    assert!(report.moved < 400, "{report:?}");
    assert_eq!(visible(&sim, "orders"), report.moved);
    assert_eq!(visible(&sim, "dlq") + visible(&sim, "orders"), 400);
    assert_eq!(in_flight(&sim, "dlq"), 0);
}

#[tokio::test]
async fn the_mode_is_a_move_task_where_it_can_serve() {
    let sim = sim();
    fail_into_dlq(&sim, "orders", "dlq", &["a".to_string(), "b".to_string()]);
    let broker: Arc<dyn Broker> = Arc::new(sim.clone());
    let auto = |r: Request| Request {
        mode: ModePreference::Auto,
        ..r
    };
    let p = redrive::plan(broker.as_ref(), auto(request("dlq")))
        .await
        .expect("plan");
    assert_eq!(p.mode, Mode::MoveTask, "{}", p.mode_reason);
    assert_eq!(
        p.destinations,
        vec!["billing".to_string(), "orders".to_string()]
    );
    assert!(p.preview().contains("SQS move task"), "{}", p.preview());
    let p = redrive::plan(
        broker.as_ref(),
        Request {
            max: Some(1),
            ..auto(request("dlq"))
        },
    )
    .await
    .expect("plan");
    assert_eq!(p.mode, Mode::ClientSide);
    assert!(p.preview().contains("client-side"), "{}", p.preview());
    // "retry" is nobody's DLQ: there is no source to send back to, and no move
    // task can start from it, so it goes client-side to a named queue or not at all.
    let err = redrive::plan(broker.as_ref(), auto(request("retry")))
        .await
        .expect_err("no source to go back to");
    assert!(matches!(err, redrive::PlanError::NotADlq { .. }), "{err}");
    let p = redrive::plan(
        broker.as_ref(),
        Request {
            destination: Destination::Queue(queue_ref("orders")),
            ..auto(request("retry"))
        },
    )
    .await
    .expect("plan");
    assert_eq!(p.mode, Mode::ClientSide);
    // A FIFO destination for a standard DLQ: not for a move task.
    let p = redrive::plan(
        broker.as_ref(),
        Request {
            destination: Destination::Queue(queue_ref("inv.fifo")),
            ..auto(request("dlq"))
        },
    )
    .await
    .expect("plan");
    assert_eq!(p.mode, Mode::ClientSide);
    assert!(p.mode_reason.contains("same kind"), "{}", p.mode_reason);
    // The move task runs in the sim, and moves everything back.
    let p = redrive::plan(broker.as_ref(), auto(request("dlq")))
        .await
        .expect("plan");
    let handle = redrive::start(
        broker.clone(),
        &p,
        &lazysqs::recovery::audit::Audit::default(),
    )
    .await
    .expect("start");
    let driver = sim.spawn_driver(1.0);
    let report = tokio::time::timeout(Duration::from_secs(30), handle.wait())
        .await
        .expect("ends");
    driver.abort();
    assert_eq!(report.state, RunState::Completed, "{report:?}");
    assert_eq!(report.moved, 2);
    assert!(report.task_handle.is_some());
    // One task at a time: a second one is refused while one runs.
    fail_into_dlq(&sim, "orders", "dlq", &["c".to_string()]);
    broker
        .start_move_task(&arn("dlq"), None, Some(1))
        .await
        .expect("start elsewhere");
    let err = redrive::plan(broker.as_ref(), auto(request("dlq")))
        .await
        .expect_err("busy");
    assert!(err.to_string().contains("already running"), "{err}");
}

#[tokio::test]
async fn the_gate_refuses_while_the_payments_breaker_is_open() {
    let cli = Cli::parse_from(["lazysqs", "--demo"]);
    let conn = cli.connect(&Config::default()).await.expect("demo");
    let sim = conn.sim.clone().expect("the demo");
    let broker = conn.broker.clone();
    // Payments breaks: the breaker opens and failed orders park in orders-dlq.
    sim.control(DemoAction::ToggleFault);
    for _ in 0..120 {
        sim.advance(Duration::from_secs(1));
        let open = sim.breaker("payments").map(|b| b.state) == Some(BreakerState::Open);
        if open && visible(&sim, "orders-dlq") > 0 {
            break;
        }
    }
    assert_eq!(
        sim.breaker("payments").map(|b| b.state),
        Some(BreakerState::Open)
    );
    let req = Request {
        mode: ModePreference::Auto,
        ..request("orders-dlq")
    };
    let plan = redrive::plan(broker.as_ref(), req.clone())
        .await
        .expect("plan");
    assert!(plan.destinations.contains(&"orders".to_string()));
    let refused = read_gate(&conn, &plan, false).await;
    let GateDecision::Refused { reason } = &refused else {
        panic!("expected a refusal, got {refused:?}");
    };
    assert!(
        reason.contains("payments") && reason.contains("OPEN"),
        "{reason}"
    );
    let forced = read_gate(&conn, &plan, true).await;
    assert!(matches!(forced, GateDecision::Forced { .. }), "{forced:?}");

    // A redrive to a queue no breaker guards is not held back.
    let elsewhere = redrive::plan(
        broker.as_ref(),
        Request {
            destination: Destination::Queue(queue_ref("reports")),
            ..req.clone()
        },
    )
    .await
    .expect("plan");
    assert!(read_gate(&conn, &elsewhere, false).await.allows());

    // Payments comes back: the breaker closes, the gate opens, and auto-redrive
    // (when enabled) would start now.
    sim.control(DemoAction::ToggleFault);
    let mut before = BreakerState::Open;
    let mut closed_at = None;
    for s in 0..300 {
        sim.advance(Duration::from_secs(1));
        let now = sim.breaker("payments").map(|b| b.state).expect("breaker");
        if gate::should_auto_redrive(true, before, now, visible(&sim, "orders-dlq")) {
            closed_at = Some(s);
            break;
        }
        before = now;
    }
    assert!(
        closed_at.is_some(),
        "the breaker never closed over a full DLQ"
    );
    let plan = redrive::plan(broker.as_ref(), req).await.expect("plan");
    let gate = read_gate(&conn, &plan, false).await;
    assert!(matches!(gate, GateDecision::Proceed { .. }), "{gate:?}");
}

/// The limiter holds the rate within ±5% over a minute, with a filter too (paused
/// tokio time: the minute passes at once, exactly).
#[tokio::test(start_paused = true)]
async fn the_rate_holds_over_a_minute_with_and_without_a_filter() {
    for (filter, rate) in [
        (None, 20u32),
        (Some("store=berlin"), 20),
        (None, 100),
        (Some("store=berlin"), 7),
    ] {
        let sim = sim();
        let b: Vec<String> = (0..(rate as usize * 60 * 3))
            .map(|i| {
                let store = if i % 3 == 0 { "berlin" } else { "oslo" };
                format!(r#"{{"n":{i},"store":"{store}"}}"#)
            })
            .collect();
        fail_into_dlq(&sim, "orders", "dlq", &b);
        let broker: Arc<dyn Broker> = Arc::new(sim.clone());
        let start = tokio::time::Instant::now();
        let report = run(
            broker,
            Request {
                rate: Some(rate),
                max: Some(u64::from(rate) * 60),
                filter: filter.map(|f| f.parse().expect("filter")),
                transform: None,
                ..request("dlq")
            },
        )
        .await;
        let elapsed = start.elapsed().as_secs_f64();
        eprintln!(
            "{filter:?} at {rate}/s: moved {} in {elapsed:.2}s, measured {:.3} msg/s",
            report.moved, report.rate
        );
        assert_eq!(report.moved, u64::from(rate) * 60, "{filter:?} {rate}");
        let err = (report.rate - f64::from(rate)).abs() / f64::from(rate);
        assert!(
            err <= 0.05,
            "{filter:?} at {rate}/s: measured {:.2} msg/s",
            report.rate
        );
        assert!(
            (elapsed - 60.0).abs() <= 3.0,
            "{filter:?} at {rate}/s took {elapsed:.2}s"
        );
    }
}

fn canary(start: f64, window_secs: u64) -> Option<lazysqs::redrive::canary::Canary> {
    Some(lazysqs::redrive::canary::Canary {
        start,
        window: Duration::from_secs(window_secs),
        max_returns: 2,
        background_per_sec: 0.0,
    })
}

/// Issue 17 under tokio's paused clock: the stages' rates and their timing.
#[tokio::test(start_paused = true)]
async fn a_canary_doubles_its_rate_after_each_quiet_window_up_to_the_target() {
    let sim = sim();
    let orders: Vec<String> = (0..40).map(|i| format!("order-{i}")).collect();
    fail_into_dlq(&sim, "orders", "dlq", &orders);
    let broker: Arc<dyn Broker> = Arc::new(sim.clone());
    let req = Request {
        rate: Some(8),
        canary: canary(1.0, 2),
        ..request("dlq")
    };
    let started = tokio::time::Instant::now();
    let report = run(broker, req).await;
    assert_eq!(report.state, RunState::Completed, "{report:?}");
    assert_eq!(report.moved, 40);
    let c = report.canary.expect("canary report");
    assert!(!c.halted);
    assert_eq!(c.returns, 0);
    let rates: Vec<Option<f64>> = c.stages.iter().map(|s| s.rate).collect();
    assert_eq!(rates, [Some(1.0), Some(2.0), Some(4.0), Some(8.0)]);
    for (i, s) in c.stages.iter().enumerate() {
        let expected = 2.0 * i as f64;
        assert!(
            (s.started_secs - expected).abs() < 0.5,
            "stage {i} began at {}s, not {expected}s",
            s.started_secs
        );
    }
    // About 2 + 4 + 8 in the first three windows (give or take the batch in
    // hand when a stage ends), the rest at 8/s, then one window watching for
    // returns.
    let sent: Vec<u64> = c.stages.iter().map(|s| s.sent).collect();
    for (i, n) in sent.iter().enumerate().take(3) {
        let rate = 2f64.powi(i as i32);
        assert!(*n as f64 <= rate * 2.0 + rate, "stage {i}: {sent:?}");
    }
    let took = started.elapsed().as_secs_f64();
    assert!((9.0..=15.0).contains(&took), "took {took}s");
    assert_eq!(visible(&sim, "dlq"), 0);
}

/// A consumer that still fails: whatever reaches orders goes straight back to
/// the DLQ (as a new message, so only the DLQ's depth shows it).
#[tokio::test(start_paused = true)]
async fn a_canary_halts_when_what_it_sends_comes_back_and_keeps_the_rest() {
    let sim = sim();
    let orders: Vec<String> = (0..40).map(|i| format!("order-{i}")).collect();
    fail_into_dlq(&sim, "orders", "dlq", &orders);
    let broker: Arc<dyn Broker> = Arc::new(sim.clone());
    let failing = {
        let sim = sim.clone();
        tokio::spawn(async move {
            loop {
                {
                    let mut s = sim.lock();
                    let got = s
                        .model
                        .receive("orders", 10, Duration::from_secs(30))
                        .expect("receive");
                    for m in got {
                        let back = OutgoingMessage {
                            body: m.body.clone(),
                            ..OutgoingMessage::default()
                        };
                        s.model.send("dlq", back).expect("back to the DLQ");
                        s.model.delete("orders", &m.receipt_handle).expect("delete");
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let req = Request {
        canary: canary(1.0, 30),
        ..request("dlq")
    };
    let report = run(broker, req).await;
    failing.abort();
    assert_eq!(report.state, RunState::Halted, "{report:?}");
    assert!(!report.succeeded());
    let c = report.canary.expect("canary report");
    assert!(c.halted && c.returns > 2, "{c:?}");
    assert!(
        c.reason
            .as_deref()
            .is_some_and(|r| r.contains("came back to dlq")),
        "{c:?}"
    );
    assert!(
        report.moved <= 6,
        "halted after a handful: {}",
        report.moved
    );
    assert_eq!(c.stages.len(), 1, "it never sped up");
    // Nothing lost: the 40 are in the DLQ (the unsent and the returned) or orders.
    assert_eq!(visible(&sim, "dlq") + visible(&sim, "orders"), 40);
}
