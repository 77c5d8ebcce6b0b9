//! The mouse through `App::update`: a click selects a row and focuses a pane,
//! a double-click opens, the wheel scrolls; in the queue table, the browser and
//! triage alike. Rows are found where the renderer draws them.

#[path = "support/answers.rs"]
mod answers;
use answers::attrs;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use lazysqs::app::popup::Popup;
use lazysqs::app::triage::TriageMsg;
use lazysqs::app::{App, Msg, Pane, Settings};
use lazysqs::broker::Message;
use lazysqs::sim::model::{arn, queue_ref};

fn mouse(kind: MouseEventKind, column: u16, row: u16) -> Msg {
    Msg::Mouse(MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

fn click(app: &mut App, column: u16, row: u16) {
    app.update(mouse(MouseEventKind::Down(MouseButton::Left), column, row));
}

/// orders-dlq (19), orders (3), notifications (0): sorted by depth, drawn on
/// lines 2, 3 and 4 of a 120×35 screen.
fn dashboard() -> (App, Instant) {
    let t0 = Instant::now();
    let mut app = App::new(Settings::default(), t0, chrono::Utc::now());
    app.update(Msg::Resize(120, 35));
    app.update(Msg::Discovered(
        Ok(vec![
            queue_ref("orders"),
            queue_ref("orders-dlq"),
            queue_ref("notifications"),
        ])
        .into(),
    ));
    app.update(answers::attributes(
        queue_ref("orders"),
        Ok(attrs(3, Some("orders-dlq"))),
    ));
    app.update(answers::attributes(
        queue_ref("orders-dlq"),
        Ok(attrs(19, None)),
    ));
    app.update(answers::attributes(
        queue_ref("notifications"),
        Ok(attrs(0, None)),
    ));
    (app, t0)
}

fn selected(app: &App) -> String {
    app.selected_row()
        .map(|r| r.queue.name.clone())
        .unwrap_or_default()
}

#[test]
fn a_click_selects_a_queue_and_focuses_a_pane_and_the_wheel_scrolls() {
    let (mut app, _) = dashboard();
    click(&mut app, 10, 3);
    assert_eq!(selected(&app), "orders");
    click(&mut app, 10, 4);
    assert_eq!(selected(&app), "notifications");
    // Below the last row, or on the header: nothing changes.
    click(&mut app, 10, 9);
    click(&mut app, 10, 1);
    assert_eq!(selected(&app), "notifications");
    app.update(mouse(MouseEventKind::ScrollUp, 10, 3));
    assert_eq!(selected(&app), "orders");
    app.update(mouse(MouseEventKind::ScrollDown, 10, 3));
    assert_eq!(selected(&app), "notifications");
    // The rates pane (lower left) and the breaker pane (lower right).
    let areas = app.areas(app.screen);
    click(&mut app, areas.rates.x + 2, areas.rates.y + 2);
    assert_eq!(app.focus, Pane::Rates);
    click(&mut app, areas.breaker.x + 2, areas.breaker.y + 2);
    assert_eq!(app.focus, Pane::Breaker);
    click(&mut app, 10, 2);
    assert_eq!(app.focus, Pane::Queues);
    assert_eq!(selected(&app), "orders-dlq");
}

#[test]
fn a_double_click_opens_what_enter_opens() {
    let (mut app, t0) = dashboard();
    app.update(Msg::Tick(t0));
    click(&mut app, 10, 3);
    app.update(Msg::Tick(t0 + Duration::from_millis(200)));
    click(&mut app, 10, 3);
    // orders has a redrive policy: Enter asks before browsing it.
    assert!(
        matches!(app.overlays.popup(), Some(Popup::Confirm { .. })),
        "{:?}",
        app.overlays.popup()
    );
    app.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    // Two clicks a second apart are two clicks.
    app.update(Msg::Tick(t0 + Duration::from_secs(5)));
    click(&mut app, 10, 2);
    app.update(Msg::Tick(t0 + Duration::from_secs(6)));
    click(&mut app, 10, 2);
    assert!(app.overlays.popup().is_none() && app.browser.is_none());
    // A click while a dialog is open does nothing.
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('?'),
        KeyModifiers::NONE,
    )));
    click(&mut app, 10, 3);
    assert_eq!(selected(&app), "orders-dlq");
}

fn message(i: usize, body: &str) -> Message {
    Message {
        message_id: format!("m-{i}"),
        receipt_handle: format!("r-{i}"),
        body: body.to_string(),
        attributes: Default::default(),
        receive_count: 1,
        sent_at: None,
        first_received_at: None,
        dlq_source_arn: Some(arn("orders")),
        group_id: None,
        dedup_id: None,
        trace_header: None,
    }
}

#[test]
fn in_triage_a_click_picks_a_group_and_a_double_click_browses_it() {
    let (mut app, t0) = dashboard();
    app.update(Msg::Tick(t0));
    click(&mut app, 10, 2);
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('t'),
        KeyModifiers::NONE,
    )));
    let batch = vec![
        message(0, r#"{"a":1,"b":2}"#),
        message(1, r#"{"a":1,"b":2}"#),
        message(2, r#"{"a":1}"#),
    ];
    app.update(Msg::Triage(TriageMsg::Scanned {
        id: 1,
        queue: queue_ref("orders-dlq"),
        batch,
    }));
    app.update(Msg::Triage(TriageMsg::ScanDone {
        id: 1,
        complete: true,
        error: None,
    }));
    // Border, status line, header: the groups start on line 3.
    click(&mut app, 10, 4);
    let t = app.triage.as_ref().expect("triage");
    assert_eq!(t.selected, 1);
    assert_eq!(t.groups[1].key, "missing b");
    app.update(Msg::Tick(t0 + Duration::from_millis(100)));
    click(&mut app, 10, 4);
    let b = app.browser.as_ref().expect("the group's browser");
    assert_eq!(b.messages.len(), 1);
    // Back, then the two-message group; in its browser a click picks a message.
    app.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    app.update(Msg::Tick(t0 + Duration::from_secs(2)));
    click(&mut app, 10, 3);
    app.update(Msg::Tick(t0 + Duration::from_millis(2100)));
    click(&mut app, 10, 3);
    assert_eq!(app.browser.as_ref().map(|b| b.messages.len()), Some(2));
    app.update(Msg::Tick(t0 + Duration::from_secs(4)));
    click(&mut app, 10, 3);
    assert_eq!(app.browser.as_ref().map(|b| b.selected), Some(1));
    app.update(mouse(MouseEventKind::ScrollUp, 10, 3));
    assert_eq!(app.browser.as_ref().map(|b| b.selected), Some(0));
}
