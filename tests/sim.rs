//! The simulation: SQS semantics of the model under an explicit clock, and the
//! coffee-shop scenario (producers, consumers, the payments breaker).

use std::time::Duration;

use chrono::{TimeZone, Utc};
use lazysqs::breaker::BreakerState;
use lazysqs::broker::{BrokerError, MoveTaskStatus, OutgoingMessage};
use lazysqs::sim::model::{Model, QueueSpec, arn};
use lazysqs::sim::{DemoAction, SimBroker};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn model() -> Model {
    Model::new(
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("a valid date"),
    )
}

fn body(text: &str) -> OutgoingMessage {
    OutgoingMessage {
        body: text.to_string(),
        ..Default::default()
    }
}

fn fifo_msg(text: &str, group: &str, dedup: &str) -> OutgoingMessage {
    OutgoingMessage {
        body: text.to_string(),
        group_id: Some(group.to_string()),
        dedup_id: Some(dedup.to_string()),
        ..Default::default()
    }
}

/// A source queue with a redrive policy to `dlq`.
fn with_dlq(m: &mut Model, name: &str, dlq: &str, max_receive: u32) {
    if m.attributes(dlq).is_err() {
        m.create_queue(QueueSpec::new(dlq));
    }
    let mut spec = QueueSpec::new(name);
    spec.redrive = Some((dlq.to_string(), max_receive));
    m.create_queue(spec);
}

fn visible(m: &Model, name: &str) -> u64 {
    m.attributes(name).expect("queue exists").visible
}

fn depth(m: &Model, name: &str) -> u64 {
    let a = m.attributes(name).expect("queue exists");
    a.visible + a.in_flight + a.delayed
}

fn bodies(msgs: &[lazysqs::broker::Message]) -> Vec<&str> {
    msgs.iter().map(|m| m.body.as_str()).collect()
}

// ---------------------------------------------------------------- redrive to the DLQ

#[test]
fn message_received_max_receive_count_times_moves_to_dlq_on_next_receive() {
    let mut m = model();
    with_dlq(&mut m, "orders", "orders-dlq", 3);
    m.send("orders", body("latte")).expect("send");
    let vis = secs(30);
    for expected_count in 1..=3 {
        let got = m.receive("orders", 1, vis).expect("receive");
        assert_eq!(got.len(), 1, "receive #{expected_count} gets the message");
        assert_eq!(got[0].receive_count, expected_count);
        assert_eq!(got[0].dlq_source_arn, None);
        m.advance(vis);
    }
    // Received maxReceiveCount times and visible again: still in the source until
    // someone tries to receive it.
    assert_eq!(visible(&m, "orders"), 1);
    assert_eq!(depth(&m, "orders-dlq"), 0);

    let got = m.receive("orders", 10, vis).expect("receive");
    assert!(got.is_empty(), "the 4th receive does not return it");
    assert_eq!(depth(&m, "orders"), 0);
    assert_eq!(visible(&m, "orders-dlq"), 1);

    let parked = m.receive("orders-dlq", 1, vis).expect("receive from DLQ");
    assert_eq!(bodies(&parked), ["latte"]);
    assert_eq!(
        parked[0].dlq_source_arn.as_deref(),
        Some(arn("orders").as_str())
    );
    assert_eq!(
        parked[0].receive_count, 1,
        "the count starts again in the DLQ"
    );
}

#[test]
fn message_below_max_receive_count_stays_in_source() {
    let mut m = model();
    with_dlq(&mut m, "orders", "orders-dlq", 3);
    m.send("orders", body("latte")).expect("send");
    for _ in 0..2 {
        assert_eq!(m.receive("orders", 1, secs(5)).expect("receive").len(), 1);
        m.advance(secs(5));
    }
    let third = m.receive("orders", 1, secs(5)).expect("receive");
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].receive_count, 3);
    assert_eq!(depth(&m, "orders-dlq"), 0);
}

// ---------------------------------------------------------------- visibility

#[test]
fn unacknowledged_message_returns_after_visibility_timeout_and_not_before() {
    let mut m = model();
    m.create_queue(QueueSpec::new("work"));
    m.send("work", body("job")).expect("send");
    let first = m.receive("work", 1, secs(30)).expect("receive");
    assert_eq!(first.len(), 1);
    let a = m.attributes("work").expect("attrs");
    assert_eq!((a.visible, a.in_flight), (0, 1));

    m.advance(Duration::from_millis(29_900));
    assert!(m.receive("work", 10, secs(30)).expect("receive").is_empty());
    assert_eq!(m.attributes("work").expect("attrs").in_flight, 1);

    m.advance(Duration::from_millis(100));
    let a = m.attributes("work").expect("attrs");
    assert_eq!((a.visible, a.in_flight), (1, 0));
    let again = m.receive("work", 1, secs(30)).expect("receive");
    assert_eq!(bodies(&again), ["job"]);
    assert_eq!(again[0].message_id, first[0].message_id);
    assert_eq!(again[0].receive_count, 2);
    assert_ne!(again[0].receipt_handle, first[0].receipt_handle);
}

#[test]
fn change_visibility_to_zero_releases_the_message() {
    let mut m = model();
    m.create_queue(QueueSpec::new("work"));
    m.send("work", body("job")).expect("send");
    let got = m.receive("work", 1, secs(300)).expect("receive");
    assert!(m.receive("work", 1, secs(300)).expect("receive").is_empty());
    m.change_visibility("work", &got[0].receipt_handle, Duration::ZERO)
        .expect("release");
    assert_eq!(visible(&m, "work"), 1);
    let again = m.receive("work", 1, secs(300)).expect("receive");
    assert_eq!(bodies(&again), ["job"]);
}

#[test]
fn delete_with_expired_receipt_fails_and_the_message_stays() {
    let mut m = model();
    m.create_queue(QueueSpec::new("work"));
    m.send("work", body("job")).expect("send");
    let got = m.receive("work", 1, secs(10)).expect("receive");
    m.advance(secs(11));
    let err = m
        .delete("work", &got[0].receipt_handle)
        .expect_err("an expired handle cannot delete");
    assert!(matches!(err, BrokerError::Invalid(_)), "{err:?}");
    assert_eq!(visible(&m, "work"), 1, "the message is still there");
}

#[test]
fn delete_with_stale_receipt_fails_after_another_receive() {
    let mut m = model();
    m.create_queue(QueueSpec::new("work"));
    m.send("work", body("job")).expect("send");
    let first = m.receive("work", 1, secs(10)).expect("receive");
    m.advance(secs(10));
    let second = m.receive("work", 1, secs(10)).expect("receive");
    assert!(
        m.delete("work", &first[0].receipt_handle).is_err(),
        "the first receipt is stale once the message was received again"
    );
    assert_eq!(depth(&m, "work"), 1);
    m.delete("work", &second[0].receipt_handle)
        .expect("the current handle deletes");
    assert_eq!(depth(&m, "work"), 0);
    assert!(
        m.delete("work", &second[0].receipt_handle).is_err(),
        "a handle cannot delete twice"
    );
}

// ---------------------------------------------------------------- retention and delay

#[test]
fn retention_drops_old_messages() {
    let mut m = model();
    let mut spec = QueueSpec::new("short");
    spec.retention = secs(60);
    m.create_queue(spec);
    m.send("short", body("old")).expect("send");
    m.advance(secs(30));
    m.send("short", body("young")).expect("send");
    m.advance(secs(29));
    assert_eq!(visible(&m, "short"), 2);
    m.advance(secs(1));
    assert_eq!(visible(&m, "short"), 1, "the first message is 60 s old");
    let left = m.receive("short", 10, secs(1)).expect("receive");
    assert_eq!(bodies(&left), ["young"]);
    m.advance(secs(60));
    assert_eq!(depth(&m, "short"), 0);
}

#[test]
fn retention_drops_in_flight_messages_too() {
    let mut m = model();
    let mut spec = QueueSpec::new("short");
    spec.retention = secs(60);
    m.create_queue(spec);
    m.send("short", body("held")).expect("send");
    m.receive("short", 1, secs(600)).expect("receive");
    m.advance(secs(61));
    assert_eq!(depth(&m, "short"), 0);
}

#[test]
fn delay_seconds_keeps_a_message_delayed_then_visible() {
    let mut m = model();
    m.create_queue(QueueSpec::new("later"));
    let mut msg = body("soon");
    msg.delay = Some(secs(10));
    m.send("later", msg).expect("send");
    let a = m.attributes("later").expect("attrs");
    assert_eq!((a.visible, a.in_flight, a.delayed), (0, 0, 1));
    m.advance(secs(9));
    assert!(m.receive("later", 1, secs(30)).expect("receive").is_empty());
    m.advance(secs(1));
    let a = m.attributes("later").expect("attrs");
    assert_eq!((a.visible, a.delayed), (1, 0));
    assert_eq!(
        bodies(&m.receive("later", 1, secs(30)).expect("receive")),
        ["soon"]
    );
}

#[test]
fn queue_delay_applies_when_the_message_has_none() {
    let mut m = model();
    let mut spec = QueueSpec::new("slow");
    spec.delay = secs(5);
    m.create_queue(spec);
    m.send("slow", body("x")).expect("send");
    assert_eq!(m.attributes("slow").expect("attrs").delayed, 1);
    m.advance(secs(5));
    assert_eq!(visible(&m, "slow"), 1);
}

// ---------------------------------------------------------------- FIFO

fn fifo_queue(m: &mut Model, name: &str, content_based: bool) {
    let mut spec = QueueSpec::new(name);
    spec.content_based_dedup = content_based;
    m.create_queue(spec);
}

#[test]
fn fifo_keeps_group_order_and_blocks_a_group_while_in_flight() {
    let mut m = model();
    fifo_queue(&mut m, "inv.fifo", false);
    for (text, group) in [
        ("a1", "A"),
        ("a2", "A"),
        ("b1", "B"),
        ("a3", "A"),
        ("b2", "B"),
    ] {
        m.send("inv.fifo", fifo_msg(text, group, text))
            .expect("send");
    }
    let first = m.receive("inv.fifo", 1, secs(30)).expect("receive");
    assert_eq!(bodies(&first), ["a1"]);
    assert_eq!(first[0].group_id.as_deref(), Some("A"));

    // Group A is blocked while a1 is in flight; group B flows, in order.
    let next = m.receive("inv.fifo", 10, secs(30)).expect("receive");
    assert_eq!(bodies(&next), ["b1", "b2"]);
    assert!(
        m.receive("inv.fifo", 10, secs(30))
            .expect("receive")
            .is_empty()
    );

    // Deleting a1 lets the rest of group A through, in order.
    m.delete("inv.fifo", &first[0].receipt_handle)
        .expect("delete");
    let rest = m.receive("inv.fifo", 10, secs(30)).expect("receive");
    assert_eq!(bodies(&rest), ["a2", "a3"]);
}

#[test]
fn fifo_message_that_times_out_comes_back_before_the_rest_of_its_group() {
    let mut m = model();
    fifo_queue(&mut m, "inv.fifo", false);
    for text in ["a1", "a2", "a3"] {
        m.send("inv.fifo", fifo_msg(text, "A", text)).expect("send");
    }
    let first = m.receive("inv.fifo", 1, secs(10)).expect("receive");
    assert_eq!(bodies(&first), ["a1"]);
    m.advance(secs(10));
    let again = m.receive("inv.fifo", 1, secs(10)).expect("receive");
    assert_eq!(bodies(&again), ["a1"], "a2 never overtakes a1");
    assert_eq!(again[0].receive_count, 2);
}

#[test]
fn fifo_deduplicates_within_five_minutes() {
    let mut m = model();
    fifo_queue(&mut m, "inv.fifo", false);
    let id = m
        .send("inv.fifo", fifo_msg("one", "A", "d-1"))
        .expect("send");
    m.advance(secs(299));
    let dup = m
        .send("inv.fifo", fifo_msg("one again", "A", "d-1"))
        .expect("a duplicate is accepted silently");
    assert_eq!(dup, id, "the duplicate reports the original id");
    assert_eq!(visible(&m, "inv.fifo"), 1, "the duplicate was dropped");

    m.advance(secs(1));
    let fresh = m
        .send("inv.fifo", fifo_msg("one later", "A", "d-1"))
        .expect("send");
    assert_ne!(fresh, id);
    assert_eq!(visible(&m, "inv.fifo"), 2, "accepted after 5 minutes");
}

#[test]
fn fifo_deduplicates_even_after_the_original_was_deleted() {
    let mut m = model();
    fifo_queue(&mut m, "inv.fifo", false);
    m.send("inv.fifo", fifo_msg("one", "A", "d-1"))
        .expect("send");
    let got = m.receive("inv.fifo", 1, secs(30)).expect("receive");
    m.delete("inv.fifo", &got[0].receipt_handle)
        .expect("delete");
    m.send("inv.fifo", fifo_msg("one", "A", "d-1"))
        .expect("send");
    assert_eq!(
        depth(&m, "inv.fifo"),
        0,
        "a requeue with the same id is lost"
    );
}

#[test]
fn fifo_content_based_deduplication() {
    let mut m = model();
    fifo_queue(&mut m, "cb.fifo", true);
    let msg = |text: &str| OutgoingMessage {
        body: text.to_string(),
        group_id: Some("g".into()),
        ..Default::default()
    };
    let a = m.send("cb.fifo", msg("same")).expect("send");
    let b = m.send("cb.fifo", msg("same")).expect("send");
    assert_eq!(a, b);
    assert_eq!(visible(&m, "cb.fifo"), 1);
    m.send("cb.fifo", msg("different")).expect("send");
    assert_eq!(visible(&m, "cb.fifo"), 2);
    m.advance(secs(300));
    m.send("cb.fifo", msg("same")).expect("send");
    assert_eq!(visible(&m, "cb.fifo"), 3);
}

#[test]
fn fifo_send_needs_a_group_id_and_a_dedup_id() {
    let mut m = model();
    fifo_queue(&mut m, "inv.fifo", false);
    let no_group = OutgoingMessage {
        body: "x".into(),
        dedup_id: Some("d".into()),
        ..Default::default()
    };
    let err = m.send("inv.fifo", no_group).expect_err("needs a group");
    assert!(err.to_string().contains("MessageGroupId"), "{err}");
    let no_dedup = OutgoingMessage {
        body: "x".into(),
        group_id: Some("g".into()),
        ..Default::default()
    };
    let err = m.send("inv.fifo", no_dedup).expect_err("needs a dedup id");
    assert!(err.to_string().contains("MessageDeduplicationId"), "{err}");
    assert_eq!(depth(&m, "inv.fifo"), 0);
}

// ---------------------------------------------------------------- limits

#[test]
fn a_message_over_the_queues_maximum_message_size_is_refused() {
    let mut m = model();
    // SQS's default since 2025: 1 MiB.
    m.create_queue(QueueSpec::new("big"));
    let err = m
        .send("big", body(&"x".repeat(1024 * 1024 + 1)))
        .expect_err("too big");
    assert!(matches!(err, BrokerError::Invalid(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("over big's limit of 1048576 bytes"),
        "{err}"
    );
    m.send("big", body(&"x".repeat(600 * 1024)))
        .expect("600 KiB is fine under 1 MiB");
    m.send("big", body(&"x".repeat(1024 * 1024)))
        .expect("exactly 1 MiB is fine");
    assert_eq!(visible(&m, "big"), 2);
    // An older queue keeps its own, smaller limit.
    m.create_queue(QueueSpec {
        max_message_size: 256 * 1024,
        ..QueueSpec::new("old")
    });
    let err = m
        .send("old", body(&"x".repeat(256 * 1024 + 1)))
        .expect_err("too big for old");
    assert!(err.to_string().contains("262144 bytes"), "{err}");
    assert_eq!(
        m.attributes("old").expect("attrs").max_message_size,
        256 * 1024
    );
}

#[test]
fn a_batch_over_1_mib_in_total_is_refused_whole() {
    let mut m = model();
    m.create_queue(QueueSpec::new("q"));
    let batch: Vec<_> = (0..11).map(|_| body(&"x".repeat(100 * 1024))).collect();
    assert!(
        m.send_batch("q", batch[..10].to_vec()).is_ok(),
        "1,000 KiB fits"
    );
    let err = m
        .send_batch(
            "q",
            vec![body(&"x".repeat(600 * 1024)), body(&"x".repeat(600 * 1024))],
        )
        .expect_err("1.2 MiB in one batch");
    assert!(err.to_string().contains("BatchRequestTooLong"), "{err}");
    assert_eq!(visible(&m, "q"), 10);
}

#[test]
fn receive_takes_one_to_ten_and_unknown_queues_are_not_found() {
    let mut m = model();
    m.create_queue(QueueSpec::new("q"));
    assert!(m.receive("q", 0, secs(1)).is_err());
    assert!(m.receive("q", 11, secs(1)).is_err());
    assert!(matches!(
        m.send("nope", body("x")),
        Err(BrokerError::NotFound(_))
    ));
}

// ---------------------------------------------------------------- move tasks

/// Two sources sharing one DLQ, with `per_source` messages each parked there.
fn parked(per_source: usize) -> Model {
    let mut m = model();
    with_dlq(&mut m, "a", "shared-dlq", 1);
    with_dlq(&mut m, "b", "shared-dlq", 1);
    for i in 0..per_source {
        m.send("a", body(&format!("a{i}"))).expect("send");
        m.send("b", body(&format!("b{i}"))).expect("send");
    }
    for q in ["a", "b"] {
        // Receive once (visibility 0 hands it straight back), then the next
        // receive attempt moves it to the DLQ.
        while visible(&m, q) > 0 {
            m.receive(q, 10, Duration::ZERO).expect("receive");
            m.receive(q, 10, Duration::ZERO).expect("receive");
        }
    }
    m
}

#[test]
fn move_task_moves_at_its_rate_to_each_source_and_completes() {
    let mut m = parked(3);
    assert_eq!(visible(&m, "shared-dlq"), 6);
    assert_eq!((depth(&m, "a"), depth(&m, "b")), (0, 0));

    let handle = m
        .start_move_task(&arn("shared-dlq"), None, Some(2))
        .expect("start");
    m.advance(secs(1));
    assert_eq!(visible(&m, "shared-dlq"), 4, "2 per second");
    let tasks = m.list_move_tasks(&arn("shared-dlq"));
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].status, MoveTaskStatus::Running);
    assert_eq!(tasks[0].moved, 2);
    assert_eq!(tasks[0].to_move, Some(6));
    assert_eq!(tasks[0].handle.as_deref(), Some(handle.as_str()));

    m.advance(Duration::from_millis(500));
    assert_eq!(visible(&m, "shared-dlq"), 3);
    m.advance(secs(2));
    assert_eq!(visible(&m, "shared-dlq"), 0);
    let tasks = m.list_move_tasks(&arn("shared-dlq"));
    assert_eq!(tasks[0].status, MoveTaskStatus::Completed);
    assert_eq!(tasks[0].moved, 6);
    assert_eq!(tasks[0].handle, None, "a finished task has no handle");

    // Each message went back to the queue it came from.
    let mut a = bodies(&m.receive("a", 10, secs(30)).expect("receive"))
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    let mut b = bodies(&m.receive("b", 10, secs(30)).expect("receive"))
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    a.sort();
    b.sort();
    assert_eq!(a, ["a0", "a1", "a2"]);
    assert_eq!(b, ["b0", "b1", "b2"]);
}

#[test]
fn move_task_to_an_explicit_destination() {
    let mut m = parked(2);
    m.create_queue(QueueSpec::new("elsewhere"));
    m.start_move_task(&arn("shared-dlq"), Some(&arn("elsewhere")), Some(100))
        .expect("start");
    m.advance(secs(1));
    assert_eq!(visible(&m, "elsewhere"), 4);
    assert_eq!((depth(&m, "a"), depth(&m, "b")), (0, 0));
}

#[test]
fn cancelling_a_move_task_stops_it() {
    let mut m = parked(3);
    let handle = m
        .start_move_task(&arn("shared-dlq"), None, Some(1))
        .expect("start");
    m.advance(secs(2));
    assert_eq!(m.cancel_move_task(&handle).expect("cancel"), 2);
    m.advance(secs(10));
    assert_eq!(visible(&m, "shared-dlq"), 4, "nothing moves after cancel");
    let tasks = m.list_move_tasks(&arn("shared-dlq"));
    assert_eq!(tasks[0].status, MoveTaskStatus::Cancelled);
    assert_eq!(tasks[0].moved, 2);
    assert!(
        m.cancel_move_task(&handle).is_err(),
        "a cancelled task cannot be cancelled again"
    );
    // A new task may start once the old one is over.
    m.start_move_task(&arn("shared-dlq"), None, None)
        .expect("restart");
}

#[test]
fn move_task_refuses_a_non_dlq_source_a_bad_rate_and_a_second_task() {
    let mut m = parked(1);
    let err = m
        .start_move_task(&arn("a"), None, None)
        .expect_err("a is not a DLQ");
    assert!(err.to_string().contains("not a dead-letter queue"), "{err}");
    assert!(
        m.start_move_task(&arn("shared-dlq"), None, Some(0))
            .is_err()
    );
    assert!(
        m.start_move_task(&arn("shared-dlq"), None, Some(501))
            .is_err()
    );
    m.start_move_task(&arn("shared-dlq"), None, Some(1))
        .expect("start");
    assert!(
        m.start_move_task(&arn("shared-dlq"), None, Some(1))
            .is_err(),
        "one active task per queue"
    );
    assert_eq!(m.list_move_tasks(&arn("a")).len(), 0);
}

// ---------------------------------------------------------------- metrics

#[test]
fn metrics_count_the_last_minute_and_the_age_of_the_oldest() {
    let mut m = model();
    m.create_queue(QueueSpec::new("q"));
    let empty = m.metrics("q").expect("metrics");
    assert_eq!(empty.sent_per_min, Some(0.0));
    assert_eq!(empty.age_of_oldest, Some(Duration::ZERO));

    for i in 0..5 {
        m.send("q", body(&format!("m{i}"))).expect("send");
    }
    m.advance(secs(20));
    let got = m.receive("q", 3, secs(30)).expect("receive");
    for msg in &got[..2] {
        m.delete("q", &msg.receipt_handle).expect("delete");
    }
    m.advance(secs(10));
    let now = m.metrics("q").expect("metrics");
    assert_eq!(now.sent_per_min, Some(5.0));
    assert_eq!(now.received_per_min, Some(3.0));
    assert_eq!(now.deleted_per_min, Some(2.0));
    assert_eq!(now.age_of_oldest, Some(secs(30)));

    // 41 s later the sends (at 0 s) have left the one-minute window; the
    // receives and deletes (at 20 s) have not.
    m.advance(secs(41));
    let later = m.metrics("q").expect("metrics");
    assert_eq!(later.sent_per_min, Some(0.0));
    assert_eq!(later.received_per_min, Some(3.0));
    assert_eq!(later.deleted_per_min, Some(2.0));
    assert_eq!(later.age_of_oldest, Some(secs(71)));

    m.advance(secs(60));
    let quiet = m.metrics("q").expect("metrics");
    assert_eq!(
        (
            quiet.sent_per_min,
            quiet.received_per_min,
            quiet.deleted_per_min
        ),
        (Some(0.0), Some(0.0), Some(0.0))
    );
}

#[test]
fn duplicates_are_not_counted_as_sent() {
    let mut m = model();
    fifo_queue(&mut m, "inv.fifo", false);
    m.send("inv.fifo", fifo_msg("x", "g", "d")).expect("send");
    m.send("inv.fifo", fifo_msg("x", "g", "d")).expect("send");
    assert_eq!(
        m.metrics("inv.fifo").expect("metrics").sent_per_min,
        Some(1.0)
    );
}

// ---------------------------------------------------------------- the coffee-shop scenario

fn breaker_state(sim: &SimBroker) -> BreakerState {
    sim.breaker("payments").expect("payments breaker").state
}

fn queue_depth(sim: &SimBroker, name: &str) -> u64 {
    depth(&sim.lock().model, name)
}

/// Advances in 100 ms steps for `dt`, recording each breaker state change.
fn run(sim: &SimBroker, dt: Duration, seen: &mut Vec<BreakerState>) {
    let step = Duration::from_millis(100);
    let mut left = dt;
    while !left.is_zero() {
        let s = left.min(step);
        sim.advance(s);
        left -= s;
        let state = breaker_state(sim);
        if seen.last() != Some(&state) {
            seen.push(state);
        }
    }
}

#[test]
fn coffee_shop_healthy_keeps_the_dlq_near_empty_and_the_breaker_closed() {
    let sim = SimBroker::coffee_shop().expect("scenario");
    let mut seen = vec![breaker_state(&sim)];
    run(&sim, secs(180), &mut seen);
    assert_eq!(seen, [BreakerState::Closed]);
    let reading = sim.breaker("payments").expect("reading");
    assert!(
        reading.transitions.as_ref().is_some_and(|t| t.is_empty()),
        "{reading:?}"
    );
    assert!(
        reading.detail.contains("payments is up"),
        "{}",
        reading.detail
    );
    // Only the rare poison order (2 %) lands in the DLQ: ~360 orders in 3 minutes.
    let dlq = queue_depth(&sim, "orders-dlq");
    assert!(dlq <= 20, "orders-dlq holds {dlq}");
    // The consumer keeps up: the backlog stays small.
    let backlog = queue_depth(&sim, "orders");
    assert!(backlog <= 30, "orders holds {backlog}");
    let m = sim.lock().model.metrics("orders").expect("metrics");
    let sent = m.sent_per_min.expect("sent");
    assert!(
        (100.0..=140.0).contains(&sent),
        "2/s is ~120 a minute: {sent}"
    );
}

/// The breaker's transitions so far, as (from, to) pairs.
fn transitions(sim: &SimBroker) -> Vec<lazysqs::breaker::Transition> {
    sim.breaker("payments")
        .expect("reading")
        .transitions
        .expect("the sim keeps history")
}

fn pairs(ts: &[lazysqs::breaker::Transition]) -> Vec<(BreakerState, BreakerState)> {
    ts.iter().map(|t| (t.from, t.to)).collect()
}

#[test]
fn coffee_shop_fault_opens_the_breaker_fills_the_dlq_and_recovers() {
    use BreakerState::{Closed, HalfOpen, Open};
    let sim = SimBroker::coffee_shop().expect("scenario");
    let mut seen = vec![breaker_state(&sim)];
    run(&sim, secs(60), &mut seen);
    let dlq_before = queue_depth(&sim, "orders-dlq");

    let said = sim.control(DemoAction::ToggleFault);
    assert!(said.contains("payments broken"), "{said}");
    run(&sim, secs(5), &mut seen);
    assert_eq!(breaker_state(&sim), Open, "{seen:?}");
    let ts = transitions(&sim);
    assert_eq!(pairs(&ts), [(Closed, Open)]);
    assert!(
        ts[0].reason.contains("5 failed calls in a row to payments"),
        "{}",
        ts[0].reason
    );

    // Still open during the 15 s cool-down.
    run(&sim, secs(9), &mut seen);
    assert_eq!(pairs(&transitions(&sim)), [(Closed, Open)]);

    run(&sim, secs(46), &mut seen);
    // Half-open after the cool-down; the canary fails, so open again; and again.
    let ts = transitions(&sim);
    assert!(ts.len() >= 5, "{:?}", pairs(&ts));
    assert_eq!(
        pairs(&ts)[..5],
        [
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Open),
            (Open, HalfOpen),
            (HalfOpen, Open)
        ]
    );
    let cool_down = (ts[1].at - ts[0].at).num_milliseconds();
    assert!(
        (15_000..16_000).contains(&cool_down),
        "half-open after the 15 s cool-down, not {cool_down} ms"
    );
    assert!(ts[1].reason.contains("cool-down"), "{}", ts[1].reason);
    assert!(
        ts[2].reason.contains("canary call to payments failed"),
        "{}",
        ts[2].reason
    );
    assert_eq!(breaker_state(&sim), Open);
    let reading = sim.breaker("payments").expect("reading");
    assert!(
        reading.detail.contains("payments is down"),
        "{}",
        reading.detail
    );

    let dlq_broken = queue_depth(&sim, "orders-dlq");
    assert!(
        dlq_broken >= dlq_before + 50,
        "orders-dlq rises while payments is down: {dlq_before} → {dlq_broken}"
    );

    let said = sim.control(DemoAction::ToggleFault);
    assert!(said.contains("payments fixed"), "{said}");
    run(&sim, secs(20), &mut seen);
    assert_eq!(breaker_state(&sim), Closed, "{seen:?}");
    let ts = transitions(&sim);
    let last = ts.last().expect("a transition");
    assert_eq!((last.from, last.to), (HalfOpen, Closed));
    assert!(
        last.reason.contains("canary call to payments succeeded"),
        "{}",
        last.reason
    );

    // Healthy again: the DLQ stops rising (only a rare poison order arrives).
    let dlq_fixed = queue_depth(&sim, "orders-dlq");
    run(&sim, secs(60), &mut seen);
    let dlq_later = queue_depth(&sim, "orders-dlq");
    assert!(
        dlq_later <= dlq_fixed + 10,
        "orders-dlq keeps rising after the fix: {dlq_fixed} → {dlq_later}"
    );
    assert_eq!(breaker_state(&sim), Closed);
    assert_eq!(transitions(&sim).len(), ts.len(), "no new transition");
}

#[test]
fn coffee_shop_is_deterministic() {
    let trace = || {
        let sim = SimBroker::coffee_shop().expect("scenario");
        let mut out = Vec::new();
        for second in 0..90 {
            if second == 30 {
                sim.control(DemoAction::ToggleFault);
            }
            sim.advance(secs(1));
            out.push((
                queue_depth(&sim, "orders"),
                queue_depth(&sim, "orders-dlq"),
                queue_depth(&sim, "invoices-dlq.fifo"),
                breaker_state(&sim),
            ));
        }
        out
    };
    assert_eq!(trace(), trace());
}

#[test]
fn demo_controls_pause_and_change_the_rate() {
    let sim = SimBroker::coffee_shop().expect("scenario");
    sim.advance(secs(10));
    let said = sim.control(DemoAction::TogglePause);
    assert!(said.contains("paused"), "{said}");
    let before = sim.lock().model.now();
    sim.advance(secs(10));
    assert_eq!(sim.lock().model.now(), before, "paused: time stands still");
    assert!(sim.control(DemoAction::TogglePause).contains("resumed"));
    sim.advance(secs(1));
    assert!(sim.lock().model.now() > before);

    let faster = sim.control(DemoAction::Faster);
    assert!(faster.contains("×1.50"), "{faster}");
    assert!(sim.control(DemoAction::Slower).contains("×1.00"));
}

#[test]
fn coffee_shop_has_every_queue_of_the_story() {
    let sim = SimBroker::coffee_shop().expect("scenario");
    let names: Vec<String> = sim
        .lock()
        .model
        .list_queues()
        .into_iter()
        .map(|q| q.name)
        .collect();
    for name in [
        "orders",
        "orders-dlq",
        "invoices.fifo",
        "invoices-dlq.fifo",
        "reports",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let m = &sim.lock().model;
    let orders = m.attributes("orders").expect("orders");
    let policy = orders.redrive.expect("orders has a DLQ");
    assert_eq!(policy.max_receive_count, 3);
    assert_eq!(policy.dlq_arn, arn("orders-dlq"));
    assert!(m.attributes("invoices.fifo").expect("fifo").fifo);
}
