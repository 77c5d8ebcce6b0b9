//! Rates that tell the truth: a DLQ filled by a redrive policy shows its arrival
//! rate, measured from its depth, although CloudWatch's NumberOfMessagesSent (and
//! the simulation, which copies CloudWatch) counts none of those moves. On the
//! simulation under a controlled clock, and against LocalStack.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use lazysqs::app::{App, Msg, RateSource, Settings};
use lazysqs::broker::{Broker, OutgoingMessage, QueueRef};
use lazysqs::sim::model::{Model, QueueSpec};

mod localstack;
#[path = "support/screen.rs"]
mod screen;

fn body(n: u64) -> OutgoingMessage {
    OutgoingMessage {
        body: format!(r#"{{"n":{n}}}"#),
        ..OutgoingMessage::default()
    }
}

/// A dashboard that has found `queues` at `t0`.
fn watching(t0: Instant, queues: &[&QueueRef]) -> App {
    let mut app = App::new(
        Settings {
            source: "test".into(),
            ..Settings::default()
        },
        t0,
        chrono::Utc::now(),
    );
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(
        Ok(queues.iter().map(|q| (*q).clone()).collect()).into(),
    ));
    app
}

#[test]
fn a_dlq_filling_at_a_known_rate_shows_it_within_10_percent_after_a_minute_on_sim() {
    let mut m = Model::new(
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("date"),
    );
    let dlq = m.create_queue(QueueSpec::new("orders-dlq"));
    let orders = m.create_queue(QueueSpec {
        redrive: Some(("orders-dlq".into(), 1)),
        ..QueueSpec::new("orders")
    });
    let t0 = Instant::now();
    let mut app = watching(t0, &[&orders, &dlq]);
    // 40 failed orders a minute: every 3 s, two arrive and fail twice (the
    // second receive moves them to the DLQ).
    for s in 0..=90u64 {
        if s % 3 == 0 {
            for i in 0..2 {
                m.send("orders", body(s * 10 + i)).expect("send");
            }
            m.receive("orders", 10, Duration::ZERO).expect("receive");
            m.receive("orders", 10, Duration::ZERO).expect("receive");
        }
        m.advance(Duration::from_secs(1));
        let now = t0 + Duration::from_secs(s + 1);
        app.update(Msg::Tick(now));
        if s % 5 == 4 {
            for q in [&orders, &dlq] {
                app.update(Msg::Attributes(q.clone(), m.attributes(&q.name)));
            }
            let metrics = vec![
                m.metrics("orders").expect("metrics"),
                m.metrics("orders-dlq").expect("metrics"),
            ];
            app.update(Msg::Metrics(vec![orders.clone(), dlq.clone()], Ok(metrics)));
        }
    }
    let dlq_metrics = m.metrics("orders-dlq").expect("metrics");
    assert_eq!(
        dlq_metrics.sent_per_min,
        Some(0.0),
        "CloudWatch-style sent stays 0"
    );
    let row = app.row_by_name("orders-dlq").expect("row");
    assert!(row.depth().is_some_and(|d| d > 50), "{:?}", row.depth());
    let arrival = app.arrival(row);
    assert_eq!(arrival.source, RateSource::Depth);
    let rate = arrival.per_min.expect("a measured rate");
    assert!(
        (rate - 40.0).abs() <= 4.0,
        "measured {rate}/min, not 40 ± 10%"
    );
    // The source queue's own arrival still comes from CloudWatch.
    let orders_row = app.row_by_name("orders").expect("row");
    assert_eq!(app.arrival(orders_row).source, RateSource::CloudWatch);
    // The queue pane says it, marked as measured.
    let screen = screen::drawn(&app, 120, 35);
    assert!(
        screen.contains("≈4"),
        "the DLQ's In/min is shown as measured"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dlq_fed_through_max_receive_count_shows_its_arrival_on_localstack() {
    let Some(lab) = localstack::Lab::new("the rates tests against LocalStack", "dlq-inflow").await
    else {
        return;
    };
    let (orders, dlq) = lab.with_dlq("orders", &[]).await;
    let t0 = Instant::now();
    let mut app = watching(t0, &[&orders, &dlq]);
    let mut n = 0;
    for round in 0..8 {
        for _ in 0..3 {
            lab.broker.send(&orders, body(n)).await.expect("send");
            n += 1;
        }
        lab.fail_into_dlq(&orders, &dlq, n).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = t0 + Duration::from_secs(round * 2 + 2);
        app.update(Msg::Tick(now));
        for q in [&orders, &dlq] {
            app.update(Msg::Attributes(
                q.clone(),
                lab.broker.queue_attributes(q).await,
            ));
        }
    }
    let row = app.row_by_name(&dlq.name).expect("row");
    let arrival = app.arrival(row);
    assert_eq!(arrival.source, RateSource::Depth);
    assert!(
        arrival.per_min.is_some_and(|r| r > 0.0),
        "a DLQ that gains messages has a non-zero In/min: {arrival:?}"
    );
    lab.cleanup().await;
}

/// `snapshot --window 20` and `check --window` against LocalStack, while failures
/// keep landing in the DLQ through maxReceiveCount.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_check_with_a_window_measure_dlq_inflow_on_localstack() {
    let Some(lab) = localstack::Lab::new("the rates tests against LocalStack", "window").await
    else {
        return;
    };
    let (orders, dlq) = lab.with_dlq("orders", &[]).await;
    let home = tempfile::tempdir().expect("home");
    let config = home.path().join("config.toml");
    std::fs::write(&config, "[thresholds]\ndlq_inflow_per_min = 1\n").expect("config");
    let run = |args: Vec<String>| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_lazysqs"));
        cmd.args(args)
            .env("HOME", home.path())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        cmd.output()
    };
    let common = |cmd: &str, window: &str| -> Vec<String> {
        [
            "--config",
            config.to_str().expect("utf-8"),
            "--endpoint-url",
            &lab.endpoint,
            "--prefix",
            &lab.prefix,
            cmd,
            "--no-metrics",
            "--window",
            window,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mut args = common("snapshot", "20");
    args.push("--json".into());
    let snapshot = run(args);
    let check = run(common("check", "10"));
    let feed = async {
        let mut n = 0;
        for _ in 0..14 {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            lab.broker.send(&orders, body(n)).await.expect("send");
            n += 1;
            lab.fail_into_dlq(&orders, &dlq, n).await;
        }
    };
    let (snapshot, check, ()) = tokio::join!(snapshot, check, feed);
    let snapshot = snapshot.expect("snapshot");
    let stderr = String::from_utf8_lossy(&snapshot.stderr);
    assert_eq!(snapshot.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&snapshot.stdout).expect("json");
    let q = v["queues"]
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["name"] == dlq.name.as_str()))
        .expect("the DLQ");
    assert_eq!(q["arrival_source"], "depth", "{q}");
    assert!(
        q["arrival_per_min"].as_f64().is_some_and(|r| r > 0.0),
        "{q}"
    );
    assert!(
        q["measured_arrival_per_min"]
            .as_f64()
            .is_some_and(|r| r > 0.0),
        "{q}"
    );
    assert!(q["net_per_min"].as_f64().is_some(), "{q}");
    let source = v["queues"]
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["name"] == orders.name.as_str()))
        .expect("the source");
    assert!(
        source["measured_arrival_per_min"].is_null(),
        "not a DLQ: {source}"
    );

    let check = check.expect("check");
    let out = String::from_utf8_lossy(&check.stdout);
    assert_eq!(
        check.status.code(),
        Some(1),
        "{out}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(out.contains(&format!("{}: dlq_inflow:", dlq.name)), "{out}");
    lab.cleanup().await;
}

#[test]
fn one_poll_leaves_measured_rates_null() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .args(["--demo", "snapshot", "--json", "--no-metrics"])
        .env("HOME", tempfile::tempdir().expect("home").path())
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    for q in v["queues"].as_array().expect("queues") {
        assert!(q["measured_arrival_per_min"].is_null(), "{q}");
        assert!(q["net_per_min"].is_null(), "{q}");
        assert_eq!(q["arrival_source"], "cloudwatch", "{q}");
    }
}
