//! End to end: the message browser of the real binary in a pseudo-terminal. On the
//! demo: fill `orders-dlq`, open it, edit a failed order, requeue it, and see the
//! DLQ one message shorter; the audit log in HOME has the requeue. Against LocalStack
//! (`LAZYSQS_TEST_ENDPOINT`; skipped with a reason when unset, failing in CI): held
//! messages are given back when the browser closes and when lazysqs quits.

mod common;
mod localstack;

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use common::{Launch, WAIT, number, table_row};
use lazysqs::format::truncate;
use serde_json::Value;

/// Names these tests in the panic when CI runs them without a server.
const SUITE: &str = "the LocalStack tests";

/// (visible, in flight, delayed) of a queue's row in the queues pane.
fn counts(screen: &vt100::Screen, queue: &str) -> Option<(u64, u64, u64)> {
    let cells = table_row(screen, queue)?;
    // Queue, Type, Visible, In flight, Delayed, ...
    Some((
        number(cells.get(2))?,
        number(cells.get(3))?,
        number(cells.get(4))?,
    ))
}

/// N of the browser's "holding N of ~M" title, once loading is over.
fn holding(screen: &vt100::Screen) -> Option<u64> {
    let text = screen.contents();
    let line = text.lines().find(|l| l.contains(" — holding "))?;
    if line.contains("loading…") {
        return None;
    }
    let rest = &line[line.find(" — holding ")? + " — holding ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// The message id in the requeue confirmation ("Send ID to orders, then delete it
/// from orders-dlq.").
fn confirmed_id(screen: &vt100::Screen) -> Option<String> {
    let text = screen.contents();
    text.lines().find_map(|l| {
        let at = l.find("Send ")?;
        let rest = &l[at + "Send ".len()..];
        let (id, tail) = rest.split_once(' ')?;
        tail.starts_with("to orders, then delete it from orders-dlq")
            .then(|| id.to_string())
    })
}

#[test]
fn open_orders_dlq_edit_a_message_requeue_it_and_the_dlq_is_one_shorter() {
    let mut pty = Launch::new(["--demo", "--speed", "4"])
        .size(50, 220)
        .spawn();
    pty.wait_for("orders-dlq with its figures", WAIT, |s| {
        counts(s, "orders-dlq")
    });

    // Break payments until failed orders land in the DLQ, then fix it.
    pty.send("f");
    pty.wait_for_text("payments broken", WAIT);
    pty.wait_for("failed orders in orders-dlq", WAIT * 3, |s| {
        counts(s, "orders-dlq").filter(|c| c.0 >= 2)
    });
    pty.send("f");
    pty.wait_for_text("payments fixed", WAIT);
    // Fixed, orders that already failed twice still fail their way in while the
    // breaker is open, and a poison order (no store) lands there any time. Pause
    // the simulation so the DLQ changes only by what we do.
    pty.send("p");
    pty.wait_for_text("simulation paused", WAIT);

    // To the orders-dlq row, and open it (a DLQ has no redrive policy: no warning).
    pty.send("/orders-dlq");
    pty.send("\r");
    pty.wait_for("the queue list filtered to orders-dlq", WAIT, |s| {
        (table_row(s, "orders").is_none() && table_row(s, "orders-dlq").is_some()).then_some(())
    });
    pty.send("\r");
    // The simulation is paused: what the browser holds is all the DLQ has.
    let held = pty.wait_for("the browser holding orders-dlq's messages", WAIT, |s| {
        holding(s).filter(|&n| n > 0)
    });

    // Edit the first message: a new key after the first one, still valid JSON.
    pty.send("e");
    pty.wait_for_text("Editing ", WAIT);
    pty.send("\x1b[B"); // down
    pty.send("\x1b[F"); // end of line
    pty.send(r#" "note": "fixed by e2e","#);
    pty.wait_for("the edit typed, still valid JSON", WAIT, |s| {
        let t = s.contents();
        (t.contains(r#""note": "fixed by e2e","#) && t.contains("✔ valid JSON")).then_some(())
    });
    pty.send("\x13"); // Ctrl-S
    pty.wait_for_text("edit kept", WAIT);
    pty.wait_for_text("✎ edited", WAIT);

    // Requeue it, after a confirmation naming it and its source.
    pty.send("r");
    let id = pty.wait_for("the requeue confirmation", WAIT, confirmed_id);
    assert!(
        pty.text().contains("EDITED body"),
        "the confirmation says the edit goes\n{}",
        pty.report()
    );
    pty.send("y");
    pty.wait_for_text(&format!("requeued {id} to orders"), WAIT);

    // Back to the dashboard: everything held is released, one message fewer.
    pty.send("\x1b");
    let after = pty.wait_for(
        &format!("orders-dlq at {} visible, none in flight", held - 1),
        WAIT,
        |s| counts(s, "orders-dlq").filter(|c| c.1 == 0 && c.0 == held - 1),
    );
    assert_eq!(after, (held - 1, 0, 0));

    pty.send("q");
    let status = pty.wait_exit(WAIT);
    assert_eq!(status.exit_code(), 0, "exit status\n{}", pty.report());
    pty.assert_terminal_restored();

    // The audit log in HOME: before and after each call.
    let path = pty.home().join(".local/share/lazysqs/audit.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no audit log at {}: {e}", path.display()));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let requeue: Vec<&Value> = lines
        .iter()
        .filter(|l| l["action"] == "requeue" && l["message_id"] == id.as_str())
        .collect();
    let outcomes: Vec<&str> = requeue
        .iter()
        .map(|l| l["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(outcomes, ["started", "sent", "ok"], "{text}");
    for l in &requeue {
        assert_eq!(l["queue"], "orders-dlq", "{l}");
        assert_eq!(l["destination"], "orders", "{l}");
    }
    assert!(requeue[2]["new_message_id"].is_string(), "{text}");
}

// ---------------------------------------------------------------- LocalStack

/// (visible, in flight), straight from the server.
async fn server_counts(sqs: &aws_sdk_sqs::Client, url: &str) -> (u64, u64) {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("get attributes")
        .attributes
        .unwrap_or_default();
    let n = |k: &QueueAttributeName| {
        attrs
            .get(k)
            .and_then(|v| v.parse().ok())
            .expect("a count attribute")
    };
    (
        n(&QueueAttributeName::ApproximateNumberOfMessages),
        n(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

#[test]
fn held_messages_are_given_back_on_close_and_on_quit_on_localstack() {
    let Some(endpoint) = localstack::endpoint(SUITE, "held_messages_are_given_back") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let sqs = rt.block_on(localstack::sqs(&endpoint));
    let name = format!("lzb-{}-held", localstack::unique_id());
    let url = rt.block_on(async {
        let url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url");
        for i in 0..5 {
            sqs.send_message()
                .queue_url(&url)
                .message_body(format!(r#"{{"n":{i}}}"#))
                .send()
                .await
                .expect("send");
        }
        url
    });
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut pty = Launch::new(["--endpoint-url", &endpoint, "--queue", &name])
            .size(45, 200)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .spawn();
        let row = truncate(&name, 18);
        pty.wait_for("the queue with 5 visible", Duration::from_secs(40), |s| {
            counts(s, &row).filter(|c| c.0 == 5)
        });

        // Open: all five held (invisible to consumers); close: all five back.
        pty.send("\r");
        pty.wait_for("the browser holding 5", WAIT, |s| {
            holding(s).filter(|&n| n == 5)
        });
        assert_eq!(rt.block_on(server_counts(&sqs, &url)), (0, 5));
        pty.send("\x1b");
        let deadline = std::time::Instant::now() + WAIT;
        while rt.block_on(server_counts(&sqs, &url)) != (5, 0) {
            assert!(
                std::time::Instant::now() < deadline,
                "not released after Esc\n{}",
                pty.report()
            );
            std::thread::sleep(Duration::from_millis(100));
        }

        // Open again and quit while holding: released before the process ends.
        pty.send("\r");
        pty.wait_for("the browser holding 5 again", WAIT, |s| {
            holding(s).filter(|&n| n == 5)
        });
        assert_eq!(rt.block_on(server_counts(&sqs, &url)), (0, 5));
        pty.send("q");
        let status = pty.wait_exit(WAIT);
        assert_eq!(status.exit_code(), 0, "exit status\n{}", pty.report());
        assert_eq!(
            rt.block_on(server_counts(&sqs, &url)),
            (5, 0),
            "every held message is visible again as soon as lazysqs has exited"
        );
        pty.assert_terminal_restored();
    }));
    let _ = rt.block_on(sqs.delete_queue().queue_url(&url).send());
    if let Err(e) = run {
        std::panic::resume_unwind(e);
    }
}
