//! Nothing changed that the user did not change, and nothing too large for the
//! old 256 KiB limit left behind, against a real SQS-compatible server
//! (LocalStack): an edit sends back every untouched token byte for byte; a
//! message carries its attributes (binary too), group id and trace header home;
//! sizes follow the destination's MaximumMessageSize (1 MiB by default) and
//! batches are split by size.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lazysqs::app::browser::{BrowserCmd, BrowserMsg};
use lazysqs::app::{App, Cmd, Msg, Settings};
use lazysqs::broker::{Broker, Message, MessageAttribute, OutgoingMessage, QueueRef};
use lazysqs::recovery::audit::Audit;
use lazysqs::recovery::export::{ExportedMessage, import, to_jsonl};
use lazysqs::recovery::{self, BROWSE_VISIBILITY, RequeueOutcome, RequeueRequest};
use lazysqs::redrive::{self, ClientOptions, Destination, Mode, ModePreference, Request};

mod localstack;
#[path = "support/screen.rs"]
mod screen;
use localstack::Lab;

const SUITE: &str = "the fidelity tests against LocalStack";

/// Big integers, `1.10`, `1e3`, a `\u` escape and a duplicate key: all of them
/// change when a body goes through a generic JSON value.
const TRICKY: &str =
    r#"{"id":12345678901234567890123,"price":1.10,"note":"caf\u00e9","e":1e3,"k":1,"k":2}"#;
const TRACE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn attributes() -> BTreeMap<String, MessageAttribute> {
    BTreeMap::from([
        (
            "schema".to_string(),
            MessageAttribute {
                data_type: "String".into(),
                value: "order.v2".into(),
            },
        ),
        (
            "attempt".to_string(),
            MessageAttribute {
                data_type: "Number".into(),
                value: "3".into(),
            },
        ),
        (
            "signature".to_string(),
            MessageAttribute {
                data_type: "Binary".into(),
                // base64 of the bytes 0x00 0xff 0x10 0x80
                value: "AP8QgA==".into(),
            },
        ),
    ])
}

fn outgoing(body: &str) -> OutgoingMessage {
    OutgoingMessage {
        body: body.into(),
        attributes: attributes(),
        group_id: Some("customer-7".into()),
        dedup_id: None,
        delay: None,
        trace_header: Some(TRACE.into()),
    }
}

/// A dashboard watching `source` and `dlq`, browsing `dlq` with `held` loaded.
async fn browsing(lab: &Lab, source: &QueueRef, dlq: &QueueRef, held: Vec<Message>) -> App {
    let t0 = std::time::Instant::now();
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
        Ok(vec![source.clone(), dlq.clone()]).into(),
    ));
    for q in [source, dlq] {
        app.update(Msg::Attributes(
            q.clone(),
            lab.broker.queue_attributes(q).await,
        ));
    }
    app.update(Msg::DlqSources(dlq.clone(), Ok(vec![source.clone()])));
    app.update(key(KeyCode::Home));
    while app.selected_row().map(|r| &r.queue) != Some(dlq) {
        app.update(key(KeyCode::Char('j')));
    }
    app.update(key(KeyCode::Enter));
    app.update(Msg::Browser(BrowserMsg::Loaded(dlq.clone(), Ok(held))));
    app
}

/// A client-side redrive of everything in `from` to `to`, to the end.
async fn client_side(lab: &Lab, from: &QueueRef, to: &QueueRef) -> redrive::Report {
    let plan = redrive::plan(
        lab.broker.as_ref(),
        Request {
            source: from.clone(),
            destination: Destination::Queue(to.clone()),
            rate: None,
            max: None,
            filter: None,
            transform: None,
            mode: ModePreference::ClientSide,
            client: ClientOptions::default(),
            canary: None,
        },
    )
    .await
    .expect("plan");
    assert_eq!(plan.mode, Mode::ClientSide);
    redrive::start(lab.dyn_broker(), &plan, &Audit::default())
        .await
        .expect("start")
        .wait()
        .await
}

fn requeue_of(cmds: Vec<Cmd>) -> RequeueRequest {
    cmds.into_iter()
        .find_map(|c| match c {
            Cmd::Browser(BrowserCmd::Requeue(req)) => Some(*req),
            _ => None,
        })
        .expect("a requeue command")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_sends_back_every_untouched_token_byte_for_byte_on_localstack() {
    let Some(lab) = Lab::new(SUITE, "edit-bytes").await else {
        return;
    };
    let (source, dlq) = lab.with_dlq("orders", &[]).await;
    lab.broker
        .send(&source, outgoing(TRICKY))
        .await
        .expect("send");
    lab.fail_into_dlq(&source, &dlq, 1).await;
    let held = recovery::load(lab.broker.as_ref(), &dlq, 10, BROWSE_VISIBILITY)
        .await
        .expect("load");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].body, TRICKY, "the server kept the bytes");
    let mut app = browsing(&lab, &source, &dlq, held).await;

    // The detail view shows every token as the body has it.
    app.update(key(KeyCode::Enter));
    let screen = screen::drawn(&app, 160, 50);
    for token in [
        "12345678901234567890123",
        "1.10",
        r#""caf\u00e9""#,
        "1e3",
        r#""k": 1"#,
        r#""k": 2"#,
    ] {
        assert!(screen.contains(token), "{token} not shown as sent");
    }
    app.update(key(KeyCode::Esc));

    // No change, even through pretty-printing: nothing to keep.
    app.update(key(KeyCode::Char('e')));
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('s'),
        KeyModifiers::CONTROL,
    )));
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|n| n.text.contains("no change")),
        "{:?}",
        app.notice
    );

    // Edit one string: `"caf\u00e9"` → `"caf\u00e9!"` (line 4 of the pretty body).
    app.update(key(KeyCode::Char('e')));
    for _ in 0..3 {
        app.update(key(KeyCode::Down));
    }
    app.update(key(KeyCode::End));
    app.update(key(KeyCode::Left));
    app.update(key(KeyCode::Left));
    app.update(key(KeyCode::Char('!')));
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('s'),
        KeyModifiers::CONTROL,
    )));
    app.update(key(KeyCode::Char('r')));
    let req = requeue_of(app.update(key(KeyCode::Char('y'))));
    let expected = TRICKY.replace(r#""caf\u00e9""#, r#""caf\u00e9!""#);
    assert_eq!(req.body, expected);
    let outcome = recovery::requeue(lab.broker.as_ref(), &Audit::default(), &req).await;
    assert!(
        matches!(outcome, RequeueOutcome::Done { .. }),
        "{outcome:?}"
    );

    let arrived = lab.receive_n(&source, 1).await;
    assert_eq!(
        arrived[0].body, expected,
        "only the typed character changed"
    );
    assert_eq!(arrived[0].attributes, attributes(), "binary attribute too");
    assert_eq!(arrived[0].trace_header.as_deref(), Some(TRACE));
    assert_eq!(arrived[0].group_id.as_deref(), Some("customer-7"));
    lab.wait_counts(&dlq, (0, 0)).await;
    lab.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_600_kib_message_is_requeued_and_a_redrive_of_25_large_ones_moves_all_on_localstack() {
    let Some(lab) = Lab::new(SUITE, "large").await else {
        return;
    };
    let (source, dlq) = lab.with_dlq("orders", &[]).await;
    assert_eq!(
        lab.broker
            .queue_attributes(&source)
            .await
            .expect("attrs")
            .max_message_size,
        1024 * 1024,
        "a new queue takes 1 MiB"
    );
    let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(600 * 1024));
    lab.broker
        .send(&source, outgoing(&big))
        .await
        .expect("send 600 KiB");
    lab.fail_into_dlq(&source, &dlq, 1).await;
    let held = recovery::load(lab.broker.as_ref(), &dlq, 10, BROWSE_VISIBILITY)
        .await
        .expect("load");
    let req = RequeueRequest {
        from: dlq.clone(),
        message: held[0].clone(),
        body: held[0].body.clone(),
        to: source.name.clone(),
    };
    let outcome = recovery::requeue(lab.broker.as_ref(), &Audit::default(), &req).await;
    assert!(
        matches!(outcome, RequeueOutcome::Done { .. }),
        "{outcome:?}"
    );
    let arrived = lab.receive_n(&source, 1).await;
    assert_eq!(arrived[0].body, big);
    lab.broker
        .delete(&source, &arrived[0].receipt_handle)
        .await
        .expect("delete");

    // 25 messages of 100 KiB: 10 of them are 1,000 KiB plus attributes, over a
    // batch's 1 MiB; the mover splits by size and moves every one.
    let dest = lab.create("dest", &[]).await;
    for i in 0..25 {
        let body = format!(r#"{{"n":{i},"blob":"{}"}}"#, "y".repeat(100 * 1024));
        lab.broker.send(&dlq, outgoing(&body)).await.expect("send");
    }
    lab.wait_counts(&dlq, (25, 0)).await;
    let report = client_side(&lab, &dlq, &dest).await;
    assert_eq!((report.moved, report.failed), (25, 0), "{report:?}");
    lab.wait_counts(&dest, (25, 0)).await;
    lab.wait_counts(&dlq, (0, 0)).await;
    lab.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_its_destinations_limit_fails_clearly_and_stays_on_localstack() {
    let Some(lab) = Lab::new(SUITE, "over-limit").await else {
        return;
    };
    // An older queue: 256 KiB.
    let (source, dlq) = lab
        .with_dlq("old", &[(QueueAttributeName::MaximumMessageSize, "262144")])
        .await;
    let body = format!(r#"{{"blob":"{}"}}"#, "z".repeat(300 * 1024));
    lab.broker
        .send(&dlq, outgoing(&body))
        .await
        .expect("send to the DLQ");
    let held = recovery::load(lab.broker.as_ref(), &dlq, 10, BROWSE_VISIBILITY)
        .await
        .expect("load");
    let req = RequeueRequest {
        from: dlq.clone(),
        message: held[0].clone(),
        body: held[0].body.clone(),
        to: source.name.clone(),
    };
    let outcome = recovery::requeue(lab.broker.as_ref(), &Audit::default(), &req).await;
    let RequeueOutcome::SendFailed(e) = &outcome else {
        panic!("expected a refused send, got {outcome:?}");
    };
    let text = outcome.describe(&req);
    assert!(
        e.to_string()
            .contains(&format!("over {}'s limit of 262144 bytes", source.name)),
        "{e}"
    );
    assert!(
        text.contains(&format!("it is still in {}", dlq.name)),
        "{text}"
    );
    recovery::set_visibility(
        lab.broker.as_ref(),
        &dlq,
        vec![held[0].receipt_handle.clone()],
        Duration::ZERO,
    )
    .await;

    // A client-side redrive reports it per message and leaves it in the DLQ.
    let report = client_side(&lab, &dlq, &source).await;
    assert_eq!((report.moved, report.failed), (0, 1), "{report:?}");
    assert!(
        report.failures[0].reason.contains("262144 bytes"),
        "{:?}",
        report.failures
    );
    lab.wait_counts(&dlq, (1, 0)).await;
    assert_eq!(lab.counts(&source).await, (0, 0));
    lab.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_keep_attributes_group_and_trace_and_refuse_bad_lines_on_localstack() {
    let Some(lab) = Lab::new(SUITE, "import").await else {
        return;
    };
    let from = lab.create("from", &[]).await;
    let to = lab.create("to", &[]).await;
    lab.broker
        .send(&from, outgoing(r#"{"order":"ord-9"}"#))
        .await
        .expect("send");
    let got = lab.receive_n(&from, 1).await;
    let line = ExportedMessage::new(&got[0], &got[0].body);
    let mut masked = ExportedMessage::new(&got[0], r#"{"order":"••••••"}"#);
    masked.masked_fields = vec!["order".into()];
    let good = to_jsonl(&[line]);
    let misspelt = good.replacen(r#""attributes""#, r#""Attributes""#, 1);
    let text = format!("{good}{}{misspelt}", to_jsonl(&[masked]));
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("export.jsonl");
    std::fs::write(&path, text).expect("write");
    let audit_path = dir.path().join("audit.jsonl");
    let report = import(
        lab.broker.as_ref(),
        &Audit::new(Some(audit_path.clone())),
        &path,
        &to,
    )
    .await
    .expect("import");
    assert_eq!(report.sent, 1, "{report:?}");
    let failed: BTreeMap<usize, String> = report.failed.into_iter().collect();
    assert!(
        failed
            .get(&2)
            .is_some_and(|why| why.contains("order was masked")),
        "{failed:?}"
    );
    assert!(
        failed
            .get(&3)
            .is_some_and(|why| why.contains("unknown field `Attributes`")),
        "{failed:?}"
    );
    let arrived = lab.receive_n(&to, 1).await;
    assert_eq!(arrived[0].body, r#"{"order":"ord-9"}"#);
    assert_eq!(arrived[0].attributes, attributes());
    assert_eq!(arrived[0].trace_header.as_deref(), Some(TRACE));
    assert_eq!(arrived[0].group_id.as_deref(), Some("customer-7"));
    let start = Instant::now();
    while lab.counts(&to).await != (0, 1) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "only the good line arrived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let audit = std::fs::read_to_string(&audit_path).expect("audit");
    assert!(
        audit.contains(&to.url),
        "every line names the queue URL: {audit}"
    );
    lab.cleanup().await;
}
