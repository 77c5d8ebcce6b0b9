//! End to end against a real SQS-compatible server: the real `lazysqs` binary in a
//! pseudo-terminal, read back through a terminal emulator (vt100), keys typed as a
//! person would.
//!
//! The LocalStack test reads `LAZYSQS_TEST_ENDPOINT` (e.g. `http://127.0.0.1:4566`):
//! without it, it skips with a printed reason on a developer's machine and fails in
//! CI (`CI` set). The unreachable-endpoint test needs no server. Everything runs on
//! 127.0.0.1, with HOME in a temporary folder.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;

mod common;
mod localstack;
use common::{Launch, WAIT, number, table_row};

// ---------------------------------------------------------------- environment

/// Names these tests in the panic when CI runs them without a server.
const SUITE: &str = "the LocalStack tests";

// ---------------------------------------------------------------- reading the screen

/// Visible, in flight and delayed, as the queue row for `name` shows them.
fn depths(screen: &vt100::Screen, name: &str) -> Option<(u64, u64, u64)> {
    let cells = table_row(screen, name)?;
    // name, type, visible, in flight, delayed, ...
    Some((
        number(cells.get(2))?,
        number(cells.get(3))?,
        number(cells.get(4))?,
    ))
}

/// Whether a cell shows the queue `full`: the whole name, or its start cut with "…"
/// where the column is narrow.
fn names(cell: &str, full: &str) -> bool {
    cell == full
        || cell
            .strip_suffix('…')
            .is_some_and(|start| start.chars().count() >= 8 && full.starts_with(start))
}

/// The forward DLQ link in `name`'s row: the DLQ's name, then its depth "(N)".
fn dlq_link(screen: &vt100::Screen, name: &str, dlq: &str, depth: u64) -> bool {
    let Some(cells) = table_row(screen, name) else {
        return false;
    };
    let depth = format!("({depth})");
    cells
        .windows(2)
        .skip(1)
        .any(|w| names(&w[0], dlq) && w[1] == depth)
}

/// The reverse link in a DLQ's row: "← SOURCE".
fn source_link(screen: &vt100::Screen, dlq: &str, source: &str) -> bool {
    table_row(screen, dlq).is_some_and(|cells| {
        cells
            .windows(2)
            .any(|w| w[0] == "←" && names(&w[1], source))
    })
}

/// The bottom line: the status bar.
fn status_bar(screen: &vt100::Screen) -> String {
    screen
        .contents()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_string()
}

/// Starts the binary with `args` and the environment every test here wants.
fn launch<I, S>(args: I) -> Launch
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    Launch::new(args)
        .size(45, 200)
        // Never ask the EC2 instance metadata service for credentials or a region.
        .env("AWS_EC2_METADATA_DISABLED", "true")
}

// ---------------------------------------------------------------- seeding

async fn visible(sqs: &aws_sdk_sqs::Client, url: &str) -> (u64, u64) {
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

/// `PREFIX-orders` with 3 visible messages, and `PREFIX-orders-dlq` with 2: one moved
/// there by the redrive policy (received past maxReceiveCount), one sent directly.
/// Returns the two names and URLs.
async fn seed(sqs: &aws_sdk_sqs::Client, prefix: &str) -> [(String, String); 2] {
    let dlq = format!("{prefix}-orders-dlq");
    let orders = format!("{prefix}-orders");
    let (orders_url, dlq_url) = localstack::create_with_dlq(sqs, &orders, &dlq, 1).await;

    // A poison message, alone in the queue: a crashing consumer receives it and never
    // deletes it, until the redrive policy moves it to the DLQ.
    sqs.send_message()
        .queue_url(&orders_url)
        .message_body(r#"{"order_id":"ord-9001","coffee":"flat white"}"#)
        .send()
        .await
        .expect("send poison");
    let mut rounds = 0;
    while visible(sqs, &dlq_url).await.0 < 1 {
        rounds += 1;
        assert!(rounds <= 50, "the poison message never reached the DLQ");
        sqs.receive_message()
            .queue_url(&orders_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("receive");
    }
    sqs.send_message()
        .queue_url(&dlq_url)
        .message_body(r#"{"order_id":"ord-9002","store_id":"lisbon-02"}"#)
        .send()
        .await
        .expect("send to dlq");
    for i in 0..3 {
        sqs.send_message()
            .queue_url(&orders_url)
            .message_body(format!(r#"{{"order_id":"ord-{}"}}"#, 1000 + i))
            .send()
            .await
            .expect("send order");
    }
    assert_eq!(visible(sqs, &orders_url).await, (3, 0), "orders seeded");
    assert_eq!(visible(sqs, &dlq_url).await, (2, 0), "dlq seeded");
    [(orders, orders_url), (dlq, dlq_url)]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ---------------------------------------------------------------- tests

#[test]
fn shows_seeded_localstack_queues_with_their_depths_and_dlq_link() {
    let Some(endpoint) = localstack::endpoint(SUITE, "shows_seeded_localstack_queues") else {
        return;
    };
    let rt = runtime();
    let sqs = rt.block_on(localstack::sqs(&endpoint));
    let prefix = localstack::unique_prefix("e2e");
    let [(orders, orders_url), (dlq, dlq_url)] = rt.block_on(seed(&sqs, &prefix));

    let started = Instant::now();
    let mut pty = launch(["--endpoint-url", &endpoint, "--prefix", &prefix])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .spawn();
    pty.wait_for(
        "both queues with their depths and the DLQ links",
        Duration::from_secs(40),
        |s| {
            (depths(s, &orders) == Some((3, 0, 0))
                && depths(s, &dlq) == Some((2, 0, 0))
                && dlq_link(s, &orders, &dlq, 2)
                && source_link(s, &dlq, &orders))
            .then_some(())
        },
    );
    eprintln!("queues shown after {:?}", started.elapsed());
    let screen = pty.text();
    assert!(screen.contains("Queues (2)"), "{screen}");
    assert!(
        !screen.contains('⚠'),
        "nothing is stale against a running server:\n{screen}"
    );
    let status = pty.with_screen(status_bar);
    assert!(
        status.contains(&endpoint) && status.contains("refreshed"),
        "the status bar names the endpoint: {status}"
    );

    pty.send("q");
    let exit = pty.wait_exit(WAIT);
    assert_eq!(
        exit.exit_code(),
        0,
        "lazysqs exits 0 on q\n{}",
        pty.report()
    );
    pty.assert_terminal_restored();

    rt.block_on(async {
        for url in [orders_url, dlq_url] {
            let _ = sqs.delete_queue().queue_url(url).send().await;
        }
    });
}

#[test]
fn unreachable_endpoint_shows_the_dashboard_with_the_error_and_quits_cleanly() {
    let endpoint = "http://127.0.0.1:1";
    // No credentials: with an endpoint, lazysqs uses a static local pair.
    let mut pty = launch(["--endpoint-url", endpoint]).spawn();
    pty.wait_for(
        "the dashboard with an error naming the endpoint",
        Duration::from_secs(40),
        |s| {
            let status = status_bar(s);
            (status.contains('⚠')
                && status.contains("unreachable")
                && status.contains(&format!("cannot reach {endpoint}")))
            .then_some(())
        },
    );
    let screen = pty.text();
    // The dashboard, not a crash or a blank screen: its panes, and the error again
    // where the queues would be.
    assert!(screen.contains("Queues (0)"), "{screen}");
    assert!(screen.contains("Circuit breakers"), "{screen}");
    assert!(
        screen.contains(&format!(
            "No queues yet: listing queues: unreachable: cannot reach {endpoint}"
        )),
        "{screen}"
    );

    pty.send("q");
    let exit = pty.wait_exit(WAIT);
    assert_eq!(
        exit.exit_code(),
        0,
        "lazysqs exits 0 on q\n{}",
        pty.report()
    );
    pty.assert_terminal_restored();
}
