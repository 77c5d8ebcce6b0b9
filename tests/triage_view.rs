//! The triage view through `App::update` and the renderer, with no server: `t`
//! opens a scan, streamed messages become groups, `b` regroups, every action on
//! a group asks for the right commands, and closing gives everything back.

#[path = "support/answers.rs"]
mod answers;
use answers::attrs;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lazysqs::app::browser::HeldState;
use lazysqs::app::popup::Popup;
use lazysqs::app::triage::{TriageCmd, TriageMsg};
use lazysqs::app::{App, Cmd, Msg, Settings};
use lazysqs::broker::Message;
use lazysqs::sim::model::{arn, queue_ref};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(ch(c));
    }
}

fn message(i: usize, body: &str) -> Message {
    Message {
        message_id: format!("m-{i:03}"),
        receipt_handle: format!("r-{i:03}"),
        body: body.to_string(),
        attributes: Default::default(),
        receive_count: 1 + (i % 2) as u32,
        sent_at: chrono::DateTime::from_timestamp(1_770_000_000 + i as i64 * 60, 0),
        first_received_at: None,
        dlq_source_arn: Some(arn("orders")),
        group_id: None,
        dedup_id: None,
        trace_header: None,
    }
}

/// 12 usual orders (8 latte, 4 mocha), 5 without store_id, 2 not JSON.
fn dlq_messages() -> Vec<Message> {
    let mut out = Vec::new();
    for i in 0..12 {
        let coffee = if i < 8 { "latte" } else { "mocha" };
        out.push(message(
            i,
            &format!(r#"{{"order_id":"o-{i}","store_id":"s-1","coffee":"{coffee}","price":1.10}}"#),
        ));
    }
    for i in 12..17 {
        out.push(message(
            i,
            &format!(r#"{{"order_id":"o-{i}","coffee":"latte","price":1.10}}"#),
        ));
    }
    for i in 17..19 {
        out.push(message(i, "order: latte"));
    }
    out
}

/// A dashboard watching orders and its DLQ, with orders-dlq selected.
fn watching(read_only: bool) -> (App, Instant) {
    let t0 = Instant::now();
    let mut app = App::new(
        Settings {
            source: "test".into(),
            read_only,
            ..Settings::default()
        },
        t0,
        chrono::Utc::now(),
    );
    // A fixed wall clock, an hour after the first message was sent: ages are stable.
    app.started_wall = chrono::DateTime::from_timestamp(1_770_003_600, 0).expect("a time");
    app.update(Msg::Discovered(
        Ok(vec![queue_ref("orders"), queue_ref("orders-dlq")]).into(),
    ));
    app.update(answers::attributes(
        queue_ref("orders"),
        Ok(attrs(3, Some("orders-dlq"))),
    ));
    app.update(answers::attributes(
        queue_ref("orders-dlq"),
        Ok(attrs(19, None)),
    ));
    app.selected = Some(queue_ref("orders-dlq").url);
    (app, t0)
}

/// `t`, then the scan streams in all its messages and ends.
fn scanned(read_only: bool) -> (App, Instant, u64) {
    let (mut app, t0) = watching(read_only);
    let cmds = app.update(ch('t'));
    let id = match cmds.as_slice() {
        [Cmd::Triage(TriageCmd::Scan { id, queue, cap })] => {
            assert_eq!(queue.name, "orders-dlq");
            assert_eq!(*cap, 20_000, "the default [triage] cap");
            *id
        }
        other => panic!("t asks for a scan, not {other:?}"),
    };
    let all = dlq_messages();
    for chunk in all.chunks(10) {
        app.update(Msg::Triage(TriageMsg::Scanned {
            id,
            queue: queue_ref("orders-dlq"),
            batch: chunk.to_vec(),
        }));
    }
    app.update(Msg::Triage(TriageMsg::ScanDone {
        id,
        complete: true,
        error: None,
    }));
    (app, t0, id)
}

fn groups(app: &App) -> Vec<(String, usize)> {
    let t = app.triage.as_ref().expect("triage open");
    t.groups
        .iter()
        .map(|g| (g.key.clone(), g.count()))
        .collect()
}

fn released(cmds: &[Cmd]) -> Vec<String> {
    cmds.iter()
        .flat_map(|c| match c {
            Cmd::Triage(TriageCmd::Release { receipts, .. }) => receipts.clone(),
            _ => Vec::new(),
        })
        .collect()
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| lazysqs::ui::draw(f, app, &lazysqs::ui::theme::Theme::default()))
        .expect("draw");
    let buf = term.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn t_scans_and_groups_by_shape_then_b_regroups() {
    let (mut app, _, _) = scanned(false);
    assert_eq!(
        groups(&app),
        vec![
            ("most common shape".into(), 12),
            ("missing store_id".into(), 5),
            ("not JSON".into(), 2),
        ]
    );
    // b: the next grouping is the first field seen most; cycling reaches coffee,
    // source, receive count and hour.
    let mut seen = Vec::new();
    for _ in 0..10 {
        app.update(ch('b'));
        let t = app.triage.as_ref().expect("open");
        seen.push(t.by.to_string());
        if t.by.to_string() == "field coffee" {
            assert_eq!(
                groups(&app),
                vec![
                    ("latte".into(), 13),
                    ("mocha".into(), 4),
                    ("(not JSON)".into(), 2)
                ]
            );
        }
        if t.by.to_string() == "receive count" {
            assert_eq!(groups(&app), vec![("1".into(), 10), ("2".into(), 9)]);
        }
    }
    for want in [
        "field coffee",
        "source queue",
        "receive count",
        "hour sent",
        "shape",
    ] {
        assert!(seen.iter().any(|s| s == want), "b reaches {want}: {seen:?}");
    }
}

#[test]
fn closing_and_quitting_give_every_message_back() {
    let (mut app, _, _) = scanned(false);
    let cmds = app.update(key(KeyCode::Esc));
    let mut back = released(&cmds);
    back.sort();
    assert_eq!(back.len(), 19, "{cmds:?}");
    assert!(app.triage.is_none());

    let (mut app, _, _) = scanned(false);
    let cmds = app.update(ch('q'));
    assert_eq!(released(&cmds).len(), 19, "quit gives back too: {cmds:?}");
    assert!(cmds.contains(&Cmd::Quit));

    // Closed while scanning: the scan is stopped, and what arrives later goes back.
    let (mut app, _) = app_open_scanning();
    let cmds = app.update(key(KeyCode::Esc));
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Cmd::Triage(TriageCmd::StopScan { .. })))
    );
    let late = app.update(Msg::Triage(TriageMsg::Scanned {
        id: 1,
        queue: queue_ref("orders-dlq"),
        batch: dlq_messages()[..3].to_vec(),
    }));
    assert_eq!(released(&late), vec!["r-000", "r-001", "r-002"]);
}

fn app_open_scanning() -> (App, Instant) {
    let (mut app, t0) = watching(false);
    app.update(ch('t'));
    (app, t0)
}

#[test]
fn held_messages_are_extended_while_the_view_is_open() {
    let (mut app, t0, id) = scanned(false);
    let cmds = app.update(Msg::Tick(t0 + Duration::from_secs(121)));
    let extended: Vec<&Cmd> = cmds
        .iter()
        .filter(|c| matches!(c, Cmd::Triage(TriageCmd::Extend { receipts, .. }) if receipts.len() == 19))
        .collect();
    assert_eq!(extended.len(), 1, "{cmds:?}");
    app.update(Msg::Triage(TriageMsg::Extended {
        id,
        failed: 0,
        reason: None,
    }));
}

#[test]
fn delete_asks_for_the_count_typed_then_deletes_the_group() {
    let (mut app, _, _) = scanned(false);
    app.update(ch('j'));
    app.update(ch('d'));
    assert!(matches!(
        app.overlays.popup(),
        Some(Popup::TypeCount { .. })
    ));
    typed(&mut app, "4");
    let cmds = app.update(key(KeyCode::Enter));
    assert!(cmds.is_empty(), "a wrong count deletes nothing");
    assert!(app.overlays.popup().is_some());
    app.update(key(KeyCode::Backspace));
    typed(&mut app, "5");
    let cmds = app.update(key(KeyCode::Enter));
    match cmds.as_slice() {
        [
            Cmd::Triage(TriageCmd::Delete {
                messages, queue, ..
            }),
        ] => {
            assert_eq!(queue.name, "orders-dlq");
            assert_eq!(messages.len(), 5);
            assert!(messages.iter().all(|m| !m.body.contains("store_id")));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn fix_previews_then_keeps_then_requeue_sends_the_fixed_bodies() {
    let (mut app, _, id) = scanned(false);
    app.update(ch('j')); // missing store_id
    app.update(ch('e'));
    typed(&mut app, r#".store_id = "s-9""#);
    app.update(key(KeyCode::Enter));
    let shown = screen(&app, 120, 35);
    assert!(shown.contains("works on 5 of 5"), "{shown}");
    assert!(shown.contains(r#"+   "store_id": "s-9""#), "{shown}");
    app.update(key(KeyCode::Enter));
    assert!(app.triage.as_ref().is_some_and(|t| t.fix.is_none()));
    app.update(ch('r'));
    let cmds = app.update(ch('y'));
    let requests = match cmds.as_slice() {
        [Cmd::Triage(TriageCmd::Requeue { requests, .. })] => requests.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(requests.len(), 5);
    for r in &requests {
        assert_eq!(r.to, "orders");
        assert!(
            r.body.ends_with(r#""price":1.10,"store_id":"s-9"}"#),
            "untouched tokens kept: {}",
            r.body
        );
    }
    // Done: the group is gone from the view.
    for (n, r) in requests.into_iter().enumerate() {
        app.update(Msg::Triage(TriageMsg::Requeued(
            id,
            Box::new(r),
            lazysqs::recovery::RequeueOutcome::Done { new_id: "n".into() },
        )));
        if n < 4 {
            // Under way: each one done leaves its group at once.
            let left = groups(&app)
                .into_iter()
                .find(|(k, _)| k == "missing store_id");
            assert_eq!(
                left,
                Some(("missing store_id".into(), 4 - n)),
                "after {}",
                n + 1
            );
        }
    }
    assert_eq!(groups(&app).len(), 2, "{:?}", groups(&app));
    let t = app.triage.as_ref().expect("open");
    assert_eq!(
        t.messages
            .iter()
            .filter(|h| matches!(h.state, HeldState::Requeued { .. }))
            .count(),
        5
    );
    // What was sent is not given back again.
    assert_eq!(released(&app.update(key(KeyCode::Esc))).len(), 14);
}

#[test]
fn a_bad_expression_says_why_and_changes_nothing() {
    let (mut app, _, _) = scanned(false);
    app.update(ch('e'));
    typed(&mut app, ".a +");
    app.update(key(KeyCode::Enter));
    let shown = screen(&app, 120, 35);
    assert!(shown.contains("not a valid jq expression"), "{shown}");
    app.update(key(KeyCode::Esc));
    let t = app.triage.as_ref().expect("open");
    assert!(t.messages.iter().all(|h| h.edited.is_none()));
}

#[test]
fn enter_browses_one_group_and_esc_comes_back_without_releasing() {
    let (mut app, _, _) = scanned(false);
    app.update(ch('j'));
    app.update(key(KeyCode::Enter));
    let b = app.browser.as_ref().expect("browser over the group");
    assert_eq!(b.messages.len(), 5);
    let shown = screen(&app, 120, 35);
    assert!(
        shown.contains(r#"triage group "missing store_id""#),
        "{shown}"
    );
    let cmds = app.update(key(KeyCode::Esc));
    assert!(released(&cmds).is_empty() && cmds.is_empty(), "{cmds:?}");
    assert!(app.browser.is_none());
    assert_eq!(groups(&app)[1], ("missing store_id".into(), 5));
}

#[test]
fn read_only_refuses_changes_but_triages_a_dlq() {
    let (mut app, _, _) = scanned(true);
    for c in ['d', 'r', 'e'] {
        assert!(app.update(ch(c)).is_empty());
        assert!(app.overlays.popup().is_none(), "{c}");
        let n = app
            .notice
            .as_ref()
            .map(|n| n.text.clone())
            .unwrap_or_default();
        assert!(n.contains("read-only"), "{c}: {n}");
    }
    // A source queue: reading moves messages towards the DLQ, so read-only refuses.
    let (mut app, _) = watching(true);
    app.selected = Some(queue_ref("orders").url);
    assert!(app.update(ch('t')).is_empty());
    assert!(app.triage.is_none());
}

#[test]
fn the_view_reads_at_every_size() {
    let (mut app, _, _) = scanned(false);
    for (w, h) in [(80, 24), (120, 35), (200, 60)] {
        let shown = screen(&app, w, h);
        for want in [
            "Triage orders-dlq",
            "most common shape",
            "missing store_id",
            "not JSON",
            "12",
            "5",
            "sample",
        ] {
            assert!(shown.contains(want), "{w}x{h}: {want}\n{shown}");
        }
        assert!(shown.contains("scanned 19 of ~19"), "{w}x{h}\n{shown}");
        if w >= 120 {
            assert!(shown.contains("First sent"), "{w}x{h}\n{shown}");
        }
        insta::assert_snapshot!(format!("triage_{w}x{h}"), shown);
    }
    // Scanning: a progress bar with the count.
    let (mut app2, _) = app_open_scanning();
    app2.update(Msg::Triage(TriageMsg::Scanned {
        id: 1,
        queue: queue_ref("orders-dlq"),
        batch: dlq_messages()[..10].to_vec(),
    }));
    let shown = screen(&app2, 80, 24);
    assert!(shown.contains("scanning: 10 of ~19"), "{shown}");
    app.update(ch('?'));
    assert!(screen(&app, 80, 24).contains("Help"));
}

#[test]
fn r_opens_the_redrive_dialog_for_just_the_group_after_giving_everything_back() {
    let (mut app, _, _) = scanned(false);
    app.update(ch('j')); // missing store_id
    let cmds = app.update(ch('R'));
    assert_eq!(released(&cmds).len(), 19, "{cmds:?}");
    assert!(app.triage.is_none());
    let form = app.overlays.form().expect("the redrive dialog");
    assert_eq!(form.dlq.name, "orders-dlq");
    let group = form.group.clone().expect("the group as the filter");
    let all = dlq_messages();
    let picked: Vec<&Message> = all.iter().filter(|m| group.selects(m)).collect();
    assert_eq!(picked.len(), 5);
    assert!(picked.iter().all(|m| !m.body.contains("store_id")));
    let shown = screen(&app, 120, 35);
    assert!(
        shown.contains(r#"the 5 message(s) of "missing store_id""#),
        "{shown}"
    );
    // The plan it asks for is client-side, with that filter.
    let request = form.request().expect("a request");
    assert_eq!(request.filter, Some(group));
}
