//! The message browser with no terminal and no network: feed `Msg`s to `App::update`,
//! check the state and the commands it returns, and draw it on ratatui's `TestBackend`.

#[path = "support/answers.rs"]
mod answers;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lazysqs::app::browser::{BrowserCmd, BrowserMsg, HeldState};
use lazysqs::app::editor::BodyCheck;
use lazysqs::app::popup::{Pending, Popup};
use lazysqs::app::{App, Cmd, Msg, Settings};
use lazysqs::broker::{BrokerError, Message, MessageAttribute, QueueAttrs, QueueRef};
use lazysqs::recovery::export::ExportedMessage;
use lazysqs::recovery::{EXTEND_EVERY, RequeueOutcome, RequeueRequest};
use lazysqs::sim::model::{arn, queue_ref};
use lazysqs::ui;
use lazysqs::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

// ---------------------------------------------------------------- fixtures

fn settings(read_only: bool) -> Settings {
    Settings {
        source: "test".into(),
        read_only,
        ..Settings::default()
    }
}

fn attrs(visible: u64, dlq: Option<&str>) -> QueueAttrs {
    QueueAttrs {
        // `orders` keeps the old 256 KiB limit; the others have SQS's 1 MiB default.
        max_message_size: if dlq.is_some() {
            ORDERS_LIMIT
        } else {
            1024 * 1024
        },
        ..answers::attrs(visible, dlq)
    }
}

/// `orders`'s MaximumMessageSize in these tests.
const ORDERS_LIMIT: usize = 256 * 1024;
/// What `origin=web` and `attempt=3` add to a message's size (names, types, values).
const ATTRIBUTE_BYTES: usize = "originStringweb".len() + "attemptNumber3".len();

fn dlq() -> QueueRef {
    queue_ref("orders-dlq")
}

/// A dashboard watching `orders` (redrive to `orders-dlq` at 3 receives, 10 deep)
/// and `orders-dlq` (3 messages), plus `extra` queues with no DLQ.
fn dashboard(read_only: bool, extra: &[&str]) -> (App, Instant) {
    dashboard_with(settings(read_only), extra)
}

fn dashboard_with(settings: Settings, extra: &[&str]) -> (App, Instant) {
    let t0 = Instant::now();
    let mut app = App::new(settings, t0, chrono::Utc::now());
    app.update(Msg::Tick(t0));
    let mut refs = vec![queue_ref("orders"), dlq()];
    refs.extend(extra.iter().map(|n| queue_ref(n)));
    app.update(Msg::Discovered(Ok(refs).into()));
    app.update(answers::attributes(
        queue_ref("orders"),
        Ok(attrs(10, Some("orders-dlq"))),
    ));
    app.update(answers::attributes(dlq(), Ok(attrs(3, None))));
    for name in extra {
        app.update(answers::attributes(queue_ref(name), Ok(attrs(0, None))));
    }
    (app, t0)
}

fn attr(data_type: &str, value: &str) -> MessageAttribute {
    MessageAttribute {
        data_type: data_type.into(),
        value: value.into(),
    }
}

fn message(id: &str, body: &str, receives: u32, source: Option<&str>) -> Message {
    let sent = Utc
        .with_ymd_and_hms(2026, 3, 4, 11, 58, 0)
        .single()
        .expect("a valid date");
    Message {
        message_id: id.into(),
        receipt_handle: format!("receipt-{id}"),
        body: body.into(),
        attributes: BTreeMap::from([
            ("origin".to_string(), attr("String", "web")),
            ("attempt".to_string(), attr("Number", "3")),
        ]),
        receive_count: receives,
        sent_at: Some(sent),
        first_received_at: Some(sent + chrono::Duration::seconds(2)),
        dlq_source_arn: source.map(arn),
        group_id: None,
        dedup_id: None,
        trace_header: None,
    }
}

const BODY_1: &str = r#"{"order_id":"ord-1","coffee":"latte","size":"large"}"#;
const BODY_3: &str = r#"{"order_id":"ord-3","store_id":"store-07"}"#;

/// Three failed orders: a JSON one, a raw two-line one (with an attribute the
/// others lack), and a well-formed one; all from `orders`.
fn failed_orders() -> Vec<Message> {
    let mut m2 = message("m-2", "plain text failure\nsecond line", 23, Some("orders"));
    m2.attributes
        .insert("channel".into(), attr("String", "mobile-app"));
    vec![
        message("m-1", BODY_1, 17, Some("orders")),
        m2,
        message("m-3", BODY_3, 31, Some("orders")),
    ]
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn shift(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT))
}

fn typed(app: &mut App, text: &str) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    for c in text.chars() {
        cmds.extend(app.update(ch(c)));
    }
    cmds
}

/// Moves the dashboard selection to `name`.
fn select_queue(app: &mut App, name: &str) {
    app.update(key(KeyCode::Home));
    for _ in 0..app.queues.len() {
        if app.selected_row().map(|r| r.queue.name.as_str()) == Some(name) {
            return;
        }
        app.update(ch('j'));
    }
    panic!("no row {name}");
}

/// The browser open on `orders-dlq`, holding `messages`.
fn browsing(read_only: bool, messages: Vec<Message>) -> (App, Instant) {
    browsing_with(settings(read_only), messages)
}

fn browsing_with(settings: Settings, messages: Vec<Message>) -> (App, Instant) {
    let (mut app, t0) = dashboard_with(settings, &[]);
    app.update(Msg::DlqSources(dlq(), Ok(vec![queue_ref("orders")])));
    select_queue(&mut app, "orders-dlq");
    let cmds = app.update(key(KeyCode::Enter));
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    let cmds = app.update(Msg::Browser(BrowserMsg::Loaded(dlq(), Ok(messages))));
    assert!(cmds.is_empty(), "{cmds:?}");
    (app, t0)
}

fn browser_cmds(cmds: &[Cmd]) -> Vec<&BrowserCmd> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::Browser(b) => Some(b),
            _ => None,
        })
        .collect()
}

fn held_state(app: &App, id: &str) -> HeldState {
    app.browser
        .as_ref()
        .expect("browser open")
        .messages
        .iter()
        .find(|h| h.message.message_id == id)
        .unwrap_or_else(|| panic!("no message {id}"))
        .state
        .clone()
}

fn edited(app: &App, id: &str) -> Option<String> {
    app.browser
        .as_ref()
        .expect("browser open")
        .messages
        .iter()
        .find(|h| h.message.message_id == id)
        .and_then(|h| h.edited.clone())
}

fn notice(app: &App) -> String {
    app.notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default()
}

fn confirm_lines(app: &App) -> (String, Vec<String>, Pending) {
    match app.overlays.popup() {
        Some(Popup::Confirm {
            title,
            lines,
            on_yes,
        }) => (title.clone(), lines.clone(), on_yes.clone()),
        other => panic!("expected a confirmation, got {other:?}"),
    }
}

// ---------------------------------------------------------------- drawing

/// The screen: rows of cells, one symbol each.
struct Screen {
    rows: Vec<Vec<String>>,
}

impl Screen {
    fn line(&self, y: usize) -> String {
        self.rows[y].concat()
    }

    fn text(&self) -> String {
        (0..self.rows.len())
            .map(|y| self.line(y).trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn contains(&self, needle: &str) -> bool {
        self.text().contains(needle)
    }

    fn row_with(&self, needle: &str) -> usize {
        (0..self.rows.len())
            .find(|&y| self.line(y).contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{}", self.text()))
    }

    /// The cell position of `needle` in row `y`.
    fn column_of(&self, y: usize, needle: &str) -> usize {
        let cells = &self.rows[y];
        let n: Vec<char> = needle.chars().collect();
        (0..cells.len())
            .find(|&x| {
                n.iter()
                    .enumerate()
                    .all(|(i, c)| cells.get(x + i).map(|s| s.as_str()) == Some(&c.to_string()))
            })
            .unwrap_or_else(|| panic!("no {needle:?} in {:?}", self.line(y)))
    }

    /// The text in the message table's column `header`, on the row of message `id`.
    fn cell(&self, id: &str, header: &str) -> String {
        const HEADERS: [&str; 8] = [
            "State", "Id", "Sent", "Age", "Receives", "Size", "Source", "Body",
        ];
        let hy = self.row_with("Receives");
        let i = HEADERS
            .iter()
            .position(|h| *h == header)
            .expect("a known header");
        let from = self.column_of(hy, header);
        let to = HEADERS
            .get(i + 1)
            .map(|next| self.column_of(hy, next))
            .unwrap_or(self.rows[hy].len() - 1);
        let y = self.row_with(id);
        self.rows[y][from..to].concat().trim().to_string()
    }
}

fn render(app: &App, width: u16, height: u16) -> Screen {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|f| ui::draw(f, app, &Theme::default()))
        .expect("draw");
    let buf = terminal.backend().buffer();
    let rows = (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect()
        })
        .collect();
    Screen { rows }
}

fn big(app: &App) -> Screen {
    render(app, 240, 50)
}

// ---------------------------------------------------------------- opening

#[test]
fn enter_on_a_dlq_row_asks_to_load_its_messages() {
    let (mut app, _) = dashboard(false, &[]);
    select_queue(&mut app, "orders-dlq");
    let cmds = app.update(key(KeyCode::Enter));
    assert_eq!(
        cmds,
        [Cmd::Browser(BrowserCmd::Load {
            queue: dlq(),
            release: Vec::new(),
            cap: 500,
        })]
    );
    assert!(
        app.overlays.popup().is_none(),
        "a DLQ has no redrive policy: no warning"
    );
    let b = app.browser.as_ref().expect("browser open");
    assert!(b.loading);
    assert_eq!(b.approx_total, Some(3));
    assert!(big(&app).contains("Receiving messages"));
}

#[test]
fn enter_on_a_queue_with_a_redrive_policy_warns_first_and_n_cancels() {
    let (mut app, _) = dashboard(false, &[]);
    select_queue(&mut app, "orders");
    let cmds = app.update(key(KeyCode::Enter));
    assert!(
        cmds.is_empty(),
        "nothing is received before the answer: {cmds:?}"
    );
    assert!(app.browser.is_none());
    let (title, lines, on_yes) = confirm_lines(&app);
    assert!(title.contains("orders"), "{title}");
    let all = lines.join("\n");
    assert!(all.contains("maxReceiveCount (3)"), "{all}");
    assert!(all.contains("orders-dlq"), "{all}");
    assert_eq!(on_yes, Pending::Browse(queue_ref("orders")));
    let screen = big(&app);
    assert!(screen.contains("Browse orders?"), "{}", screen.text());
    assert!(
        screen.contains("will move to orders-dlq on their next receive"),
        "{}",
        screen.text()
    );

    let cmds = app.update(ch('n'));
    assert!(cmds.is_empty(), "{cmds:?}");
    assert!(app.overlays.popup().is_none());
    assert!(app.browser.is_none());

    // Esc cancels too.
    app.update(key(KeyCode::Enter));
    assert!(app.overlays.popup().is_some());
    assert!(app.update(key(KeyCode::Esc)).is_empty());
    assert!(app.overlays.popup().is_none() && app.browser.is_none());
}

#[test]
fn enter_on_a_queue_with_a_redrive_policy_then_y_loads() {
    let (mut app, _) = dashboard(false, &[]);
    select_queue(&mut app, "orders");
    app.update(key(KeyCode::Enter));
    let cmds = app.update(ch('y'));
    assert_eq!(
        cmds,
        [Cmd::Browser(BrowserCmd::Load {
            queue: queue_ref("orders"),
            release: Vec::new(),
            cap: 500,
        })]
    );
    assert!(app.overlays.popup().is_none());
    assert_eq!(
        app.browser.as_ref().map(|b| b.max_receive_count),
        Some(Some(3))
    );

    // A message one receive away from the DLQ is flagged in the list.
    let m = message("m-9", BODY_3, 3, None);
    app.update(Msg::Browser(BrowserMsg::Loaded(
        queue_ref("orders"),
        Ok(vec![m]),
    )));
    let screen = big(&app);
    assert!(
        screen.cell("m-9", "Receives").contains("next → DLQ"),
        "{}",
        screen.text()
    );
}

#[test]
fn loaded_messages_are_listed_with_id_receives_source_and_a_one_line_body() {
    let (app, _) = browsing(false, failed_orders());
    let b = app.browser.as_ref().expect("browser open");
    assert!(!b.loading);
    assert_eq!(b.messages.len(), 3);
    let screen = big(&app);
    let text = screen.text();
    assert!(text.contains("orders-dlq — holding 3 of ~3"), "{text}");
    assert_eq!(screen.cell("m-1", "Id"), "m-1");
    assert_eq!(screen.cell("m-1", "Receives"), "17");
    assert_eq!(screen.cell("m-2", "Receives"), "23");
    assert_eq!(screen.cell("m-3", "Receives"), "31");
    assert_eq!(screen.cell("m-1", "Source"), "orders");
    assert_eq!(screen.cell("m-1", "Body"), BODY_1);
    // The whole body on one line, its line breaks shown as ⏎.
    assert_eq!(screen.cell("m-2", "Body"), "plain text failure⏎second line");
    assert_eq!(screen.cell("m-3", "Size"), format!("{} B", BODY_3.len()));
    assert_eq!(screen.cell("m-1", "State"), "● held");
}

#[test]
fn a_load_error_is_shown() {
    let (mut app, _) = dashboard(false, &[]);
    select_queue(&mut app, "orders-dlq");
    app.update(key(KeyCode::Enter));
    app.update(Msg::Browser(BrowserMsg::Loaded(
        dlq(),
        Err(BrokerError::Auth("access denied to ReceiveMessage".into())),
    )));
    let screen = big(&app);
    assert!(
        screen.contains("Could not load messages: credentials: access denied"),
        "{}",
        screen.text()
    );
}

#[test]
fn messages_loaded_after_the_browser_closed_are_given_back() {
    let (mut app, _) = dashboard(false, &[]);
    select_queue(&mut app, "orders-dlq");
    app.update(key(KeyCode::Enter));
    assert!(app.update(key(KeyCode::Esc)).is_empty(), "nothing held yet");
    assert!(app.browser.is_none());
    let cmds = app.update(Msg::Browser(BrowserMsg::Loaded(dlq(), Ok(failed_orders()))));
    assert_eq!(
        cmds,
        [Cmd::Browser(BrowserCmd::Release {
            queue: dlq(),
            receipts: vec![
                "receipt-m-1".into(),
                "receipt-m-2".into(),
                "receipt-m-3".into()
            ],
        })]
    );
}

// ---------------------------------------------------------------- detail

#[test]
fn enter_opens_the_detail_with_pretty_json_and_system_attributes() {
    let (mut app, _) = browsing(false, failed_orders());
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert_eq!(app.browser.as_ref().and_then(|b| b.detail), Some(0));
    let screen = render(&app, 200, 60);
    let text = screen.text();
    // Pretty-printed: one key per line, indented.
    let y = screen.row_with("\"order_id\": \"ord-1\",");
    assert!(!screen.line(y).contains("coffee"), "{text}");
    assert!(text.contains("  \"coffee\": \"latte\","), "{text}");
    assert!(text.contains("origin (String) = web"), "{text}");
    assert!(text.contains("attempt (Number) = 3"), "{text}");
    assert!(text.contains("ApproximateReceiveCount: 17"), "{text}");
    assert!(
        text.contains("SentTimestamp: 2026-03-04T11:58:00"),
        "{text}"
    );
    assert!(
        text.contains("ApproximateFirstReceiveTimestamp: 2026-03-04T11:58:02"),
        "{text}"
    );
    assert!(
        text.contains(&format!("DeadLetterQueueSourceArn: {}", arn("orders"))),
        "{text}"
    );
    assert!(text.contains("MessageGroupId: —"), "{text}");
    assert!(text.contains("MessageDeduplicationId: —"), "{text}");

    // A raw body is shown as it is, and said to be raw.
    app.update(key(KeyCode::Esc));
    assert_eq!(app.browser.as_ref().and_then(|b| b.detail), None);
    assert!(app.browser.is_some(), "Esc goes back one level only");
    app.update(ch('j'));
    app.update(key(KeyCode::Enter));
    let text = render(&app, 200, 60).text();
    assert!(text.contains("(raw text, not JSON)"), "{text}");
    assert!(text.contains("second line"), "{text}");
}

#[test]
fn the_detail_scrolls() {
    let long: Vec<String> = (0..200).map(|i| format!("\"k{i:03}\":{i}")).collect();
    let body = format!("{{{}}}", long.join(","));
    let (mut app, _) = browsing(false, vec![message("m-long", &body, 1, Some("orders"))]);
    app.update(key(KeyCode::Enter));
    assert!(!render(&app, 200, 60).contains("\"k150\""));
    for _ in 0..150 {
        app.update(ch('j'));
    }
    assert_eq!(app.browser.as_ref().and_then(|b| b.detail), Some(150));
    assert!(render(&app, 200, 60).contains("\"k150\": 150"));
}

// ---------------------------------------------------------------- editing

#[test]
fn the_editor_checks_json_as_you_type_and_asks_before_keeping_raw_text() {
    let (mut app, _) = browsing(false, failed_orders());
    assert!(app.update(ch('e')).is_empty());
    let editor = app
        .browser
        .as_ref()
        .and_then(|b| b.editor.as_ref())
        .expect("editor open");
    assert_eq!(editor.message_id, "m-1");
    assert_eq!(
        editor.text(),
        "{\n  \"order_id\": \"ord-1\",\n  \"coffee\": \"latte\",\n  \"size\": \"large\"\n}"
    );
    let text = big(&app).text();
    assert!(text.contains("Editing m-1 in orders-dlq"), "{text}");
    assert!(text.contains("✔ valid JSON"), "{text}");
    assert!(text.contains("/ 256.0 KiB (orders's limit)"), "{text}");

    // Drop the comma at the end of line 2: the error is where line 3 starts.
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::End));
    app.update(key(KeyCode::Backspace));
    let check = app
        .browser
        .as_ref()
        .and_then(|b| b.editor.as_ref())
        .map(|e| e.check.clone());
    assert!(
        matches!(
            check,
            Some(BodyCheck::NotJson {
                line: 3,
                column: 3,
                ..
            })
        ),
        "{check:?}"
    );
    let text = big(&app).text();
    assert!(text.contains("invalid JSON at line 3, column 3"), "{text}");

    // Ctrl-S asks whether to keep raw text; n goes back to editing.
    assert!(app.update(ctrl('s')).is_empty());
    let (title, lines, on_yes) = confirm_lines(&app);
    assert_eq!(on_yes, Pending::KeepRawEdit);
    assert!(title.contains("Not valid JSON"), "{title}");
    assert!(lines.join(" ").contains("line 3, column 3"), "{lines:?}");
    assert!(lines.join(" ").contains("raw text"), "{lines:?}");
    app.update(ch('n'));
    assert!(app.overlays.popup().is_none());
    assert!(app.browser.as_ref().is_some_and(|b| b.editor.is_some()));
    assert_eq!(edited(&app, "m-1"), None);

    // Put the comma back and add the missing store: valid again, kept compact.
    typed(&mut app, ", \"store_id\": \"store-09\",");
    let text = big(&app).text();
    assert!(text.contains("✔ valid JSON"), "{text}");
    assert!(app.update(ctrl('s')).is_empty());
    assert!(
        app.overlays.popup().is_none(),
        "valid JSON is kept without asking"
    );
    assert!(app.browser.as_ref().is_some_and(|b| b.editor.is_none()));
    assert_eq!(
        edited(&app, "m-1").as_deref(),
        Some(r#"{"order_id":"ord-1","store_id":"store-09","coffee":"latte","size":"large"}"#)
    );
    assert!(notice(&app).contains("edit kept"), "{}", notice(&app));
    let screen = big(&app);
    assert_eq!(screen.cell("m-1", "State"), "✎ edited");
    assert_eq!(screen.cell("m-2", "State"), "● held");
    assert!(
        screen.cell("m-1", "Body").contains("store-09"),
        "the list shows the edited body"
    );
}

#[test]
fn raw_text_is_kept_after_the_confirmation() {
    let (mut app, _) = browsing(false, failed_orders());
    app.update(ch('e'));
    typed(&mut app, "oops ");
    app.update(ctrl('s'));
    assert!(app.update(ch('y')).is_empty());
    assert!(app.overlays.popup().is_none());
    assert!(app.browser.as_ref().is_some_and(|b| b.editor.is_none()));
    let kept = edited(&app, "m-1").expect("kept");
    assert!(kept.starts_with("oops {\n  \"order_id\""), "{kept}");
}

#[test]
fn esc_with_nothing_typed_closes_the_editor() {
    let (mut app, _) = browsing(false, failed_orders());
    app.update(ch('e'));
    // Moving about is not a change.
    app.update(key(KeyCode::Down));
    let cmds = app.update(key(KeyCode::Esc));
    assert!(cmds.is_empty(), "{cmds:?}");
    let b = app.browser.as_ref().expect("still browsing");
    assert!(b.editor.is_none());
    assert!(app.overlays.popup().is_none());
    assert!(notice(&app).contains("cancelled"), "{}", notice(&app));
}

#[test]
fn esc_after_typing_asks_before_dropping_the_edit() {
    let (mut app, _) = browsing(false, failed_orders());
    app.update(ch('e'));
    typed(&mut app, "garbage that would break it");
    let cmds = app.update(key(KeyCode::Esc));
    assert!(cmds.is_empty(), "{cmds:?}");
    let (title, lines, on_yes) = confirm_lines(&app);
    assert_eq!(on_yes, Pending::DiscardEdit);
    assert!(title.contains("Discard"), "{title}");
    assert!(lines.join(" ").contains("Ctrl-s keeps it"), "{lines:?}");
    // Esc again (or n) goes back to the editor, with what was typed.
    app.update(key(KeyCode::Esc));
    assert!(app.overlays.popup().is_none());
    let editor = app.browser.as_ref().and_then(|b| b.editor.as_ref());
    assert!(
        editor.is_some_and(|e| e.text().contains("garbage")),
        "still editing"
    );
    // Asked again, y drops the edit.
    app.update(key(KeyCode::Esc));
    assert!(app.update(ch('y')).is_empty());
    let b = app.browser.as_ref().expect("still browsing");
    assert!(b.editor.is_none());
    assert_eq!(edited(&app, "m-1"), None);
    assert_eq!(b.messages[0].body(), BODY_1);
    assert!(notice(&app).contains("discarded"), "{}", notice(&app));
    assert_eq!(big(&app).cell("m-1", "State"), "● held");
}

#[test]
fn a_requeue_to_a_queue_whose_breaker_is_open_warns_and_takes_only_y() {
    use lazysqs::breaker::{BreakerReading, BreakerState};
    use lazysqs::config::{BreakerConfig, BreakerSourceConfig};
    let breaker = BreakerConfig {
        name: "payments".into(),
        queue: Some("orders".into()),
        source: BreakerSourceConfig::Demo {
            demo: "payments".into(),
        },
    };
    let settings = Settings {
        breakers: vec![breaker],
        ..settings(false)
    };
    let (mut app, _) = browsing_with(settings, failed_orders());
    app.update(Msg::Breaker(
        "payments".into(),
        Ok(BreakerReading {
            state: BreakerState::Open,
            since: None,
            detail: "HTTP 503".into(),
            transitions: None,
        }),
    ));
    assert!(app.update(ch('r')).is_empty());
    let (title, lines, on_yes) = confirm_lines(&app);
    assert!(title.contains("Breaker OPEN"), "{title}");
    let all = lines.join("\n");
    assert!(
        all.contains("the breaker payments guarding orders is OPEN (HTTP 503)"),
        "{all}"
    );
    assert!(all.contains("y: requeue it anyway"), "{all}");
    assert!(matches!(
        on_yes,
        Pending::Requeue {
            past_open_breaker: true,
            ..
        }
    ));
    // Enter does not send it; y does.
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(app.overlays.popup().is_some());
    assert!(notice(&app).contains("press y"), "{}", notice(&app));
    let req = requeue_of(&app.update(ch('y')));
    assert_eq!(req.to, "orders");
}

#[test]
fn a_message_over_its_destinations_limit_cannot_be_kept() {
    // Exactly at orders's limit, body and attributes: `{"data":"xxx…"}`.
    const MAX: usize = ORDERS_LIMIT;
    let filler = MAX - ATTRIBUTE_BYTES - r#"{"data":""}"#.len();
    let body = format!(r#"{{"data":"{}"}}"#, "x".repeat(filler));
    assert_eq!(body.len() + ATTRIBUTE_BYTES, MAX);
    let (mut app, _) = browsing(false, vec![message("m-big", &body, 1, Some("orders"))]);
    app.update(ch('e'));
    let bytes = |app: &App| {
        app.browser
            .as_ref()
            .and_then(|b| b.editor.as_ref())
            .map(|e| e.bytes)
    };
    assert_eq!(bytes(&app), Some(MAX));
    assert!(big(&app).text().contains("256.0 KiB (orders's limit)"));
    // Into the string on line 2 (`  "data": "` is 11 characters), one more byte.
    app.update(key(KeyCode::Down));
    for _ in 0..11 {
        app.update(key(KeyCode::Right));
    }
    app.update(ch('y'));
    assert_eq!(bytes(&app), Some(MAX + 1));
    let text = big(&app).text();
    assert!(text.contains("✖ too large"), "{text}");

    assert!(app.update(ctrl('s')).is_empty());
    assert!(
        app.overlays.popup().is_none(),
        "no way to keep it, not even as raw text"
    );
    assert!(app.browser.as_ref().is_some_and(|b| b.editor.is_some()));
    assert_eq!(edited(&app, "m-big"), None);
    assert!(
        notice(&app).contains("over orders's limit of 262144 bytes"),
        "{}",
        notice(&app)
    );

    // Back at the limit (one x replaced by the y): it can be kept.
    app.update(key(KeyCode::Delete));
    assert_eq!(bytes(&app), Some(MAX));
    app.update(ctrl('s'));
    assert!(app.browser.as_ref().is_some_and(|b| b.editor.is_none()));
    let kept = edited(&app, "m-big").expect("kept");
    assert_eq!(kept.len() + ATTRIBUTE_BYTES, MAX);
    assert!(kept.starts_with(r#"{"data":"yxx"#));
}

// ---------------------------------------------------------------- requeue

fn requeue_of(cmds: &[Cmd]) -> RequeueRequest {
    match browser_cmds(cmds).as_slice() {
        [BrowserCmd::Requeue(req)] => (**req).clone(),
        other => panic!("expected one requeue, got {other:?}"),
    }
}

/// Edits m-1 (adds a store), then asks to requeue it.
fn edited_and_confirmed(app: &mut App) -> RequeueRequest {
    app.update(ch('e'));
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::End));
    typed(app, " \"store_id\": \"store-09\",");
    app.update(ctrl('s'));
    assert!(edited(app, "m-1").is_some());
    assert!(app.update(ch('r')).is_empty(), "nothing is sent before yes");
    let (_, lines, on_yes) = confirm_lines(app);
    let all = lines.join("\n");
    assert!(
        all.contains("Send m-1 to orders, then delete it from orders-dlq"),
        "{all}"
    );
    assert!(all.contains("EDITED"), "{all}");
    assert_eq!(
        on_yes,
        Pending::Requeue {
            message_id: "m-1".into(),
            to: "orders".into(),
            past_open_breaker: false,
        }
    );
    let screen = big(app);
    assert!(
        screen.contains("Send m-1 to orders, then delete it from orders-dlq"),
        "{}",
        screen.text()
    );
    let cmds = app.update(ch('y'));
    let req = requeue_of(&cmds);
    assert!(app.overlays.popup().is_none());
    req
}

#[test]
fn r_confirms_and_requeues_the_edited_body_to_the_source_queue() {
    let (mut app, _) = browsing(false, failed_orders());
    let req = edited_and_confirmed(&mut app);
    assert_eq!(req.from, dlq());
    assert_eq!(req.to, "orders");
    assert_eq!(req.message.message_id, "m-1");
    assert_eq!(req.message.receipt_handle, "receipt-m-1");
    assert_eq!(
        req.body,
        r#"{"order_id":"ord-1","store_id":"store-09","coffee":"latte","size":"large"}"#
    );
    assert_eq!(req.message.attributes, failed_orders()[0].attributes);
    assert_eq!(held_state(&app, "m-1"), HeldState::Working("requeueing"));
    assert_eq!(big(&app).cell("m-1", "State"), "… requeueing");

    let cmds = app.update(Msg::Browser(BrowserMsg::Requeued(
        Box::new(req),
        RequeueOutcome::Done {
            new_id: "new-1".into(),
        },
    )));
    assert!(cmds.is_empty(), "{cmds:?}");
    assert_eq!(
        held_state(&app, "m-1"),
        HeldState::Requeued {
            to: "orders".into(),
            new_id: "new-1".into()
        }
    );
    let n = notice(&app);
    assert!(
        n.contains("requeued m-1 to orders as new-1 and removed it from orders-dlq"),
        "{n}"
    );
    assert!(!app.notice.as_ref().is_some_and(|n| n.error));
    let screen = big(&app);
    assert_eq!(screen.cell("m-1", "State"), "✔ → orders");
    assert!(screen.contains("holding 2 of ~3"), "{}", screen.text());

    // A requeued message is no longer ours: no second requeue, and Esc releases the rest.
    app.update(ch('r'));
    assert!(app.overlays.popup().is_none());
    assert!(notice(&app).contains("no longer held"), "{}", notice(&app));
    let cmds = app.update(key(KeyCode::Esc));
    assert_eq!(
        cmds,
        [Cmd::Browser(BrowserCmd::Release {
            queue: dlq(),
            receipts: vec!["receipt-m-2".into(), "receipt-m-3".into()],
        })]
    );
}

#[test]
fn an_unedited_requeue_says_so_and_n_cancels() {
    let (mut app, _) = browsing(false, failed_orders());
    app.update(ch('j'));
    app.update(ch('j'));
    app.update(ch('r'));
    let (_, lines, _) = confirm_lines(&app);
    assert!(lines.join(" ").contains("unchanged"), "{lines:?}");
    assert!(lines.join(" ").contains("Send m-3 to orders"), "{lines:?}");
    assert!(app.update(ch('n')).is_empty());
    assert!(app.overlays.popup().is_none());
    assert_eq!(held_state(&app, "m-3"), HeldState::Held);
}

#[test]
fn a_failed_send_leaves_the_message_held_and_says_where_it_is() {
    let (mut app, _) = browsing(false, failed_orders());
    let req = edited_and_confirmed(&mut app);
    app.update(Msg::Browser(BrowserMsg::Requeued(
        Box::new(req),
        RequeueOutcome::SendFailed(BrokerError::NotFound("queue orders".into())),
    )));
    assert_eq!(held_state(&app, "m-1"), HeldState::Held);
    assert!(edited(&app, "m-1").is_some(), "the edit is not lost");
    let n = notice(&app);
    assert!(n.contains("not requeued"), "{n}");
    assert!(n.contains("still in orders-dlq"), "{n}");
    assert!(app.notice.as_ref().is_some_and(|n| n.error));
    assert_eq!(big(&app).cell("m-1", "State"), "✎ edited");
}

#[test]
fn a_failed_delete_says_both_queues_and_d_retries_the_delete() {
    let (mut app, _) = browsing(false, failed_orders());
    let req = edited_and_confirmed(&mut app);
    let original = req.message.clone();
    app.update(Msg::Browser(BrowserMsg::Requeued(
        Box::new(req),
        RequeueOutcome::DeleteFailed {
            new_id: "new-1".into(),
            error: BrokerError::Invalid("receipt handle has expired".into()),
        },
    )));
    assert_eq!(
        held_state(&app, "m-1"),
        HeldState::InBoth {
            to: "orders".into(),
            new_id: "new-1".into()
        }
    );
    let n = notice(&app);
    assert!(n.contains("BOTH queues"), "{n}");
    assert!(n.contains("press D"), "{n}");
    assert!(app.notice.as_ref().is_some_and(|n| n.error));
    let screen = render(&app, 400, 50);
    assert!(screen.contains("BOTH queues"), "{}", screen.text());
    assert_eq!(screen.cell("m-1", "State"), "⚠ in both");

    let cmds = app.update(shift('D'));
    assert_eq!(
        cmds,
        [Cmd::Browser(BrowserCmd::Delete {
            queue: dlq(),
            message: Box::new(original),
            retry: true,
        })]
    );
    app.update(Msg::Browser(BrowserMsg::Deleted {
        queue: dlq(),
        message_id: "m-1".into(),
        result: Ok(()),
        retry: true,
    }));
    assert_eq!(
        held_state(&app, "m-1"),
        HeldState::Requeued {
            to: "orders".into(),
            new_id: "new-1".into()
        }
    );
    assert!(
        notice(&app).contains("only in its destination"),
        "{}",
        notice(&app)
    );

    // D on a message that is not in two queues does nothing.
    app.update(ch('j'));
    assert!(app.update(shift('D')).is_empty());
    assert!(
        notice(&app).contains("nothing to retry"),
        "{}",
        notice(&app)
    );
}

#[test]
fn a_failed_retry_keeps_the_message_in_both() {
    let (mut app, _) = browsing(false, failed_orders());
    let req = edited_and_confirmed(&mut app);
    app.update(Msg::Browser(BrowserMsg::Requeued(
        Box::new(req),
        RequeueOutcome::DeleteFailed {
            new_id: "new-1".into(),
            error: BrokerError::Other("boom".into()),
        },
    )));
    app.update(shift('D'));
    app.update(Msg::Browser(BrowserMsg::Deleted {
        queue: dlq(),
        message_id: "m-1".into(),
        result: Err(BrokerError::NotFound("not visible".into())),
        retry: true,
    }));
    assert!(matches!(held_state(&app, "m-1"), HeldState::InBoth { .. }));
    assert!(app.notice.as_ref().is_some_and(|n| n.error));
}

#[test]
fn a_message_in_both_queues_stays_marked_after_a_reload() {
    let (mut app, _) = browsing(false, failed_orders());
    let req = edited_and_confirmed(&mut app);
    app.update(Msg::Browser(BrowserMsg::Requeued(
        Box::new(req),
        RequeueOutcome::DeleteFailed {
            new_id: "new-1".into(),
            error: BrokerError::Other("boom".into()),
        },
    )));
    app.update(ctrl('r'));
    // The reload receives it again, with a new receipt handle.
    let mut again = failed_orders();
    again[0].receipt_handle = "receipt-m-1-again".into();
    app.update(Msg::Browser(BrowserMsg::Loaded(dlq(), Ok(again.clone()))));
    assert!(
        matches!(held_state(&app, "m-1"), HeldState::InBoth { .. }),
        "it was already sent: a second r would send a second copy"
    );
    assert!(app.update(ch('r')).is_empty());
    assert!(app.overlays.popup().is_none(), "{:?}", app.overlays.popup());
    let cmds = app.update(shift('D'));
    assert_eq!(
        cmds,
        [Cmd::Browser(BrowserCmd::Delete {
            queue: dlq(),
            message: Box::new(again[0].clone()),
            retry: true,
        })]
    );
}

#[test]
fn without_a_source_arn_the_single_dlq_source_is_the_destination() {
    let m = message("m-anon", BODY_3, 4, None);
    let (mut app, _) = browsing(false, vec![m]);
    app.update(ch('r'));
    let (_, _, on_yes) = confirm_lines(&app);
    assert_eq!(
        on_yes,
        Pending::Requeue {
            message_id: "m-anon".into(),
            to: "orders".into(),
            past_open_breaker: false,
        }
    );
}

#[test]
fn with_no_known_source_r_asks_for_a_destination() {
    let (mut app, _) = dashboard(false, &["billing", "reports"]);
    select_queue(&mut app, "orders-dlq");
    // Two queues send their failures here: which one a message came from is unknown.
    app.update(Msg::DlqSources(
        dlq(),
        Ok(vec![queue_ref("orders"), queue_ref("billing")]),
    ));
    app.update(key(KeyCode::Enter));
    app.update(Msg::Browser(BrowserMsg::Loaded(
        dlq(),
        Ok(vec![message("m-anon", BODY_3, 4, None)]),
    )));
    assert!(app.update(ch('r')).is_empty());
    let Some(Popup::PickQueue {
        message_id,
        queues,
        selected,
    }) = app.overlays.popup().cloned()
    else {
        panic!("expected a picker, got {:?}", app.overlays.popup());
    };
    assert_eq!(message_id, "m-anon");
    assert_eq!(selected, 0);
    assert!(!queues.contains(&"orders-dlq".to_string()), "{queues:?}");
    assert!(queues.contains(&"billing".to_string()), "{queues:?}");
    assert!(big(&app).contains("Pick a destination"));
    let target = queues[1].clone();
    app.update(ch('j'));
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    let (_, lines, on_yes) = confirm_lines(&app);
    assert!(
        lines
            .join(" ")
            .contains(&format!("Send m-anon to {target}")),
        "{lines:?}"
    );
    let cmds = app.update(key(KeyCode::Enter));
    assert_eq!(requeue_of(&cmds).to, target);
    assert!(matches!(on_yes, Pending::Requeue { .. }));
}

// ---------------------------------------------------------------- delete

#[test]
fn d_deletes_after_a_confirmation_naming_the_message() {
    let (mut app, _) = browsing(false, failed_orders());
    app.update(ch('j'));
    assert!(app.update(ch('d')).is_empty());
    let (_, lines, on_yes) = confirm_lines(&app);
    assert!(
        lines.join(" ").contains("Delete m-2 from orders-dlq"),
        "{lines:?}"
    );
    assert_eq!(
        on_yes,
        Pending::Delete {
            message_id: "m-2".into()
        }
    );
    let cmds = app.update(ch('y'));
    assert_eq!(
        cmds,
        [Cmd::Browser(BrowserCmd::Delete {
            queue: dlq(),
            message: Box::new(failed_orders()[1].clone()),
            retry: false,
        })]
    );
    app.update(Msg::Browser(BrowserMsg::Deleted {
        queue: dlq(),
        message_id: "m-2".into(),
        result: Ok(()),
        retry: false,
    }));
    assert_eq!(held_state(&app, "m-2"), HeldState::Deleted);
    assert_eq!(big(&app).cell("m-2", "State"), "✖ deleted");
}

// ---------------------------------------------------------------- holding

fn extends(cmds: &[Cmd]) -> Vec<(QueueRef, Vec<String>)> {
    browser_cmds(cmds)
        .into_iter()
        .filter_map(|c| match c {
            BrowserCmd::Extend { queue, receipts } => Some((queue.clone(), receipts.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn held_messages_are_extended_every_extend_every() {
    let (mut app, t0) = browsing(false, failed_orders());
    let before = app.update(Msg::Tick(t0 + EXTEND_EVERY - Duration::from_millis(100)));
    assert!(extends(&before).is_empty(), "{before:?}");
    let cmds = app.update(Msg::Tick(t0 + EXTEND_EVERY));
    assert_eq!(
        extends(&cmds),
        [(
            dlq(),
            vec![
                "receipt-m-1".to_string(),
                "receipt-m-2".into(),
                "receipt-m-3".into()
            ]
        )]
    );
    // One extension in flight at a time.
    let again = app.update(Msg::Tick(t0 + EXTEND_EVERY * 3));
    assert!(extends(&again).is_empty(), "{again:?}");
    app.update(Msg::Browser(BrowserMsg::Extended(dlq(), Vec::new())));
    let later = app.update(Msg::Tick(t0 + EXTEND_EVERY * 4));
    assert_eq!(extends(&later).len(), 1, "{later:?}");
}

#[test]
fn an_expired_receipt_is_said_plainly_and_the_view_reloads() {
    let (mut app, t0) = browsing(false, failed_orders());
    app.update(Msg::Tick(t0 + EXTEND_EVERY));
    let cmds = app.update(Msg::Browser(BrowserMsg::Extended(
        dlq(),
        vec![(
            "receipt-m-2".into(),
            BrokerError::Invalid("receipt handle has expired".into()),
        )],
    )));
    assert_eq!(
        cmds,
        [Cmd::Browser(BrowserCmd::Load {
            queue: dlq(),
            release: vec!["receipt-m-1".into(), "receipt-m-3".into()],
            cap: 500,
        })]
    );
    assert_eq!(held_state(&app, "m-2"), HeldState::Expired);
    let n = notice(&app);
    assert!(n.contains("expired"), "{n}");
    assert!(n.contains("reloading"), "{n}");
    assert!(app.notice.as_ref().is_some_and(|n| n.error));
    let screen = render(&app, 400, 50);
    let state = screen.cell("m-2", "State");
    assert!(
        state.starts_with('⌛') && state.ends_with("expired"),
        "{state}"
    );
    assert!(screen.contains("expired under us"), "{}", screen.text());
}

#[test]
fn an_edit_survives_a_reload() {
    let (mut app, _) = browsing(false, failed_orders());
    app.update(ch('e'));
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::End));
    typed(&mut app, " \"store_id\": \"store-09\",");
    app.update(ctrl('s'));
    let kept = edited(&app, "m-1").expect("kept");
    let cmds = app.update(ctrl('r'));
    assert_eq!(
        cmds,
        [Cmd::Browser(BrowserCmd::Load {
            queue: dlq(),
            release: vec![
                "receipt-m-1".into(),
                "receipt-m-2".into(),
                "receipt-m-3".into()
            ],
            cap: 500,
        })]
    );
    app.update(Msg::Browser(BrowserMsg::Loaded(dlq(), Ok(failed_orders()))));
    assert_eq!(edited(&app, "m-1"), Some(kept));
}

#[test]
fn esc_out_of_the_browser_releases_every_held_message() {
    let (mut app, _) = browsing(false, failed_orders());
    // Esc first leaves the detail, then the browser.
    app.update(key(KeyCode::Enter));
    assert!(app.update(key(KeyCode::Esc)).is_empty());
    assert!(app.browser.is_some());
    let cmds = app.update(key(KeyCode::Esc));
    assert_eq!(
        cmds,
        [Cmd::Browser(BrowserCmd::Release {
            queue: dlq(),
            receipts: vec![
                "receipt-m-1".into(),
                "receipt-m-2".into(),
                "receipt-m-3".into()
            ],
        })]
    );
    assert!(app.browser.is_none());
    assert!(!app.quit);
}

#[test]
fn q_while_holding_releases_then_quits() {
    let (mut app, _) = browsing(false, failed_orders());
    let cmds = app.update(ch('q'));
    assert_eq!(
        cmds,
        [
            Cmd::Browser(BrowserCmd::Release {
                queue: dlq(),
                receipts: vec![
                    "receipt-m-1".into(),
                    "receipt-m-2".into(),
                    "receipt-m-3".into()
                ],
            }),
            Cmd::Quit
        ]
    );
    assert!(app.quit);
}

#[test]
fn ctrl_c_quits_and_releases_from_the_editor_a_filter_and_a_dialog() {
    let quits_releasing = |cmds: &[Cmd], what: &str| {
        assert_eq!(cmds.last(), Some(&Cmd::Quit), "{what}: {cmds:?}");
        assert!(
            matches!(cmds.first(), Some(Cmd::Browser(BrowserCmd::Release { receipts, .. })) if receipts.len() == 3),
            "{what}: {cmds:?}"
        );
    };
    let (mut app, _) = browsing(false, failed_orders());
    app.update(ch('e'));
    quits_releasing(&app.update(ctrl('c')), "editor");

    let (mut app, _) = browsing(false, failed_orders());
    app.update(ch('/'));
    typed(&mut app, "ord");
    quits_releasing(&app.update(ctrl('c')), "filter");

    let (mut app, _) = browsing(false, failed_orders());
    app.update(ch('d'));
    assert!(app.overlays.popup().is_some());
    quits_releasing(&app.update(ctrl('c')), "confirmation");
    assert!(app.quit);
}

// ---------------------------------------------------------------- read-only

#[test]
fn read_only_refuses_edit_requeue_delete_and_retry_with_a_notice() {
    let (mut app, _) = browsing(true, failed_orders());
    for (c, what) in [
        (ch('e'), "edit"),
        (ch('r'), "requeue"),
        (ch('d'), "delete"),
        (shift('D'), "retry"),
    ] {
        app.notice = None;
        let cmds = app.update(c);
        assert!(cmds.is_empty(), "{what}: {cmds:?}");
        assert!(
            app.overlays.popup().is_none(),
            "{what}: {:?}",
            app.overlays.popup()
        );
        assert!(app.browser.as_ref().is_some_and(|b| b.editor.is_none()));
        let n = notice(&app);
        assert!(n.contains("read-only"), "{what}: {n}");
    }
    app.notice = None;
    let screen = big(&app);
    let status = screen.line(49);
    assert!(status.contains("READ-ONLY"), "{status}");
    assert!(
        !status.contains("requeue"),
        "no hint for a refused key: {status}"
    );
    // Reading and exporting still work.
    app.update(key(KeyCode::Enter));
    assert!(app.browser.as_ref().is_some_and(|b| b.detail.is_some()));
    let (_, _, count) = export_confirmed(&mut app, ch('x'));
    assert_eq!(count, 1);
}

#[test]
fn read_only_refuses_to_browse_a_queue_whose_reads_count_towards_its_dlq() {
    let (mut app, _) = dashboard(true, &[]);
    select_queue(&mut app, "orders");
    let cmds = app.update(key(KeyCode::Enter));
    assert!(cmds.is_empty(), "{cmds:?}");
    assert!(app.browser.is_none() && app.overlays.popup().is_none());
    let n = notice(&app);
    assert!(
        n.contains("read-only: browsing orders is turned off"),
        "{n}"
    );
    assert!(n.contains("maxReceiveCount (3)"), "{n}");
    // A DLQ can still be browsed.
    select_queue(&mut app, "orders-dlq");
    let cmds = app.update(key(KeyCode::Enter));
    assert_eq!(browser_cmds(&cmds).len(), 1, "{cmds:?}");
}

#[test]
fn the_status_bar_says_read_only_on_the_dashboard_too() {
    let (app, _) = dashboard(true, &[]);
    assert!(big(&app).line(49).contains("READ-ONLY"));
    let (app, _) = dashboard(false, &[]);
    assert!(!big(&app).line(49).contains("READ-ONLY"));
}

// ---------------------------------------------------------------- filter

#[test]
fn slash_filters_the_loaded_messages_by_body_and_attributes() {
    let (mut app, _) = browsing(false, failed_orders());
    assert!(app.update(ch('/')).is_empty());
    typed(&mut app, "STORE-07");
    let ids = |app: &App| -> Vec<String> {
        let b = app.browser.as_ref().expect("browser open");
        b.visible()
            .into_iter()
            .map(|i| b.messages[i].message.message_id.clone())
            .collect()
    };
    assert_eq!(ids(&app), ["m-3"]);
    let screen = big(&app);
    assert!(screen.contains("filter: /STORE-07"), "{}", screen.text());
    assert!(screen.contains("m-3"));
    assert!(!screen.contains("m-1"), "{}", screen.text());
    app.update(key(KeyCode::Enter));
    // With the filter set, Enter opens the matching message.
    app.update(key(KeyCode::Enter));
    assert_eq!(
        app.browser
            .as_ref()
            .and_then(|b| b.selected_message())
            .map(|h| h.message.message_id.clone()),
        Some("m-3".to_string())
    );
    app.update(key(KeyCode::Esc));

    // By an attribute value.
    app.update(ch('/'));
    for _ in 0..8 {
        app.update(key(KeyCode::Backspace));
    }
    typed(&mut app, "mobile-app");
    app.update(key(KeyCode::Enter));
    assert_eq!(ids(&app), ["m-2"]);
    // By nothing.
    app.update(ch('/'));
    typed(&mut app, "-nothing");
    let screen = big(&app);
    assert!(
        screen.contains("No loaded message matches"),
        "{}",
        screen.text()
    );
    // Esc while typing clears it.
    app.update(key(KeyCode::Esc));
    assert_eq!(ids(&app), ["m-1", "m-2", "m-3"]);
    assert!(app.browser.is_some());
}

// ---------------------------------------------------------------- export

fn export_of(cmds: &[Cmd]) -> (String, String, usize) {
    match browser_cmds(cmds).as_slice() {
        [
            BrowserCmd::Export {
                path,
                contents,
                count,
            },
        ] => (path.clone(), contents.clone(), *count),
        other => panic!("expected one export, got {other:?}"),
    }
}

/// Presses `k`, which asks before writing an unmasked export, and says yes.
fn export_confirmed(app: &mut App, k: Msg) -> (String, String, usize) {
    assert!(app.update(k).is_empty(), "asks first");
    let popup = format!("{:?}", app.overlays.popup());
    assert!(popup.contains("Export unmasked?"), "{popup}");
    assert!(popup.contains("customer data"), "{popup}");
    export_of(&app.update(ch('y')))
}

fn parse_jsonl(contents: &str) -> Vec<ExportedMessage> {
    assert!(contents.ends_with('\n'), "{contents:?}");
    contents
        .lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("line {} is not an exported message ({e}): {l}", i + 1))
        })
        .collect()
}

#[test]
fn x_exports_the_selected_message_and_capital_x_all_loaded_as_json_lines() {
    let (mut app, _) = browsing(false, failed_orders());
    app.update(ch('e'));
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::End));
    typed(&mut app, " \"store_id\": \"store-09\",");
    app.update(ctrl('s'));
    let kept = edited(&app, "m-1").expect("kept");

    let (path, contents, count) = export_confirmed(&mut app, ch('x'));
    assert_eq!(count, 1);
    assert!(
        path.contains("orders-dlq") && path.ends_with(".jsonl"),
        "{path}"
    );
    let lines = parse_jsonl(&contents);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].message_id, "m-1");
    assert_eq!(lines[0].body, kept, "the edited body is exported");
    assert_eq!(lines[0].source_queue.as_deref(), Some("orders"));
    assert_eq!(lines[0].receive_count, 17);
    assert_eq!(lines[0].attributes(), failed_orders()[0].attributes);

    let (_, contents, count) = export_confirmed(&mut app, shift('X'));
    assert_eq!(count, 3);
    let lines = parse_jsonl(&contents);
    let ids: Vec<&str> = lines.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["m-1", "m-2", "m-3"]);
    assert_eq!(lines[1].body, "plain text failure\nsecond line");
    assert_eq!(lines[1].attributes(), failed_orders()[1].attributes);

    // X honours the filter.
    app.update(ch('/'));
    typed(&mut app, "ord-");
    app.update(key(KeyCode::Enter));
    let (_, contents, count) = export_confirmed(&mut app, shift('X'));
    assert_eq!(count, 2);
    assert_eq!(parse_jsonl(&contents).len(), 2);

    app.update(Msg::Browser(BrowserMsg::Exported {
        path: path.clone(),
        count: 2,
        result: Ok(()),
    }));
    assert!(
        notice(&app).contains(&format!("exported 2 message(s) to {path}")),
        "{}",
        notice(&app)
    );
}

#[test]
fn nothing_to_export_says_so() {
    let (mut app, _) = browsing(false, Vec::new());
    assert!(app.update(ch('x')).is_empty());
    assert!(notice(&app).contains("nothing to export"));
    assert!(
        big(&app).contains("No messages visible"),
        "{}",
        big(&app).text()
    );
}
