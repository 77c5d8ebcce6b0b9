//! A masked value reaches no screen and no prompt: every view and popup of the
//! dashboard and the browser is drawn over messages with secrets at random
//! places (deep in objects and arrays, keys in any case, attribute values, JSON
//! inside a JSON string as SNS and EventBridge send it), and no frame may hold one.

#[path = "support/answers.rs"]
mod answers;
use answers::attrs;
use std::collections::BTreeMap;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lazysqs::app::browser::BrowserMsg;
use lazysqs::app::{App, Msg, Settings};
use lazysqs::broker::{Message, MessageAttribute};
use lazysqs::sim::model::{arn, queue_ref};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};

const RULES: &[&str] = &["card_number", "email", "customer.ssn", "token"];

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}

/// A secret no other text on screen contains.
fn secret(rng: &mut StdRng) -> String {
    format!("S3CR{:08X}", rng.random::<u32>())
}

/// The key a rule names, in a random case.
fn cased(rng: &mut StdRng, key: &str) -> String {
    key.chars()
        .map(|c| {
            if rng.random_bool(0.5) {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// A random JSON value with secrets under masked keys; returns it and them.
fn body(rng: &mut StdRng, depth: u32, secrets: &mut Vec<String>) -> Value {
    let mut obj = serde_json::Map::new();
    obj.insert(
        "order_id".into(),
        json!(format!("ord-{}", rng.random::<u16>())),
    );
    for _ in 0..rng.random_range(1..4) {
        let choice = rng.random_range(0..5);
        match choice {
            0 | 1 => {
                let name = ["card_number", "email", "token"][rng.random_range(0..3)];
                let s = secret(rng);
                secrets.push(s.clone());
                obj.insert(cased(rng, name), json!(s));
            }
            2 if depth < 3 => {
                let inner = body(rng, depth + 1, secrets);
                obj.insert(format!("nested{depth}"), json!([1, inner]));
            }
            3 if depth < 3 => {
                // An envelope: JSON inside a string.
                let inner = body(rng, depth + 1, secrets);
                obj.insert("Message".into(), json!(inner.to_string()));
            }
            _ if depth == 0 => {
                let s = secret(rng);
                secrets.push(s.clone());
                obj.insert("customer".into(), json!({ "ssn": s, "name": "Ana" }));
            }
            _ => {}
        }
    }
    Value::Object(obj)
}

fn messages(rng: &mut StdRng) -> (Vec<Message>, Vec<String>) {
    let mut secrets = Vec::new();
    let mut out = Vec::new();
    for i in 0..8 {
        let value = body(rng, 0, &mut secrets);
        let text = if i % 2 == 0 {
            value.to_string()
        } else {
            serde_json::to_string_pretty(&value).expect("pretty")
        };
        let attr_secret = secret(rng);
        secrets.push(attr_secret.clone());
        let attributes = BTreeMap::from([
            (
                cased(rng, "token"),
                MessageAttribute {
                    data_type: "String".into(),
                    value: attr_secret,
                },
            ),
            (
                "origin".to_string(),
                MessageAttribute {
                    data_type: "String".into(),
                    value: "web".into(),
                },
            ),
        ]);
        out.push(Message {
            message_id: format!("m-{i}"),
            receipt_handle: format!("r-{i}"),
            body: text,
            attributes,
            receive_count: 2,
            sent_at: None,
            first_received_at: None,
            dlq_source_arn: Some(arn("orders")),
            group_id: None,
            dedup_id: None,
            trace_header: None,
        });
    }
    (out, secrets)
}

/// Every row of the screen, and all of it with borders and spaces taken out (a
/// wrapped value continues on the next row).
fn frames(app: &App) -> Vec<String> {
    let mut out = Vec::new();
    for (w, h) in [(80, 24), (120, 35), (200, 60)] {
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        term.draw(|f| lazysqs::ui::draw(f, app, &lazysqs::ui::theme::Theme::default()))
            .expect("draw");
        let buf = term.backend().buffer().clone();
        let mut joined = String::new();
        for y in 0..h {
            let row: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
            joined.extend(row.chars().filter(|c| !c.is_whitespace() && *c != '│'));
            out.push(row);
        }
        out.push(joined);
    }
    out
}

fn assert_hidden(app: &App, secrets: &[String], view: &str) {
    let mut shown = frames(app);
    if let Some(popup) = app.overlays.popup() {
        shown.push(format!("{popup:?}"));
    }
    if let Some(n) = &app.notice {
        shown.push(n.text.clone());
    }
    for s in secrets {
        for text in &shown {
            assert!(
                !text.contains(s.as_str()),
                "{view}: {s} is on screen:\n{text}"
            );
        }
    }
}

fn open(read_only: bool, present: bool, seed: u64) -> (App, Vec<String>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (ms, secrets) = messages(&mut rng);
    let settings = Settings {
        source: "test".into(),
        read_only,
        present,
        redact: RULES.iter().map(|s| s.to_string()).collect(),
        ..Settings::default()
    };
    let t0 = Instant::now();
    let mut app = App::new(settings, t0, chrono::Utc::now());
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(
        Ok(vec![queue_ref("orders"), queue_ref("orders-dlq")]).into(),
    ));
    app.update(answers::attributes(
        queue_ref("orders"),
        Ok(attrs(0, Some("orders-dlq"))),
    ));
    app.update(answers::attributes(
        queue_ref("orders-dlq"),
        Ok(attrs(8, None)),
    ));
    app.update(key(KeyCode::Home));
    while app.selected_row().map(|r| r.queue.name.as_str()) != Some("orders-dlq") {
        app.update(ch('j'));
    }
    app.update(key(KeyCode::Enter));
    app.update(Msg::Browser(BrowserMsg::Loaded(
        queue_ref("orders-dlq"),
        Ok(ms),
    )));
    assert_eq!(app.browser.as_ref().map(|b| b.messages.len()), Some(8));
    (app, secrets)
}

#[test]
fn no_view_or_popup_shows_a_masked_value() {
    for seed in 0..3 {
        for (read_only, present) in [(false, false), (true, false), (false, true)] {
            let (mut app, secrets) = open(read_only, present, seed);
            assert_hidden(&app, &secrets, "the list");
            for i in 0..8 {
                app.update(key(KeyCode::Enter));
                assert_hidden(&app, &secrets, &format!("the detail of m-{i}"));
                app.update(key(KeyCode::Esc));
                // Prompts: delete and requeue confirmations, the editor (refused).
                app.update(ch('d'));
                assert_hidden(&app, &secrets, &format!("delete m-{i}"));
                app.update(key(KeyCode::Esc));
                app.update(ch('r'));
                assert_hidden(&app, &secrets, &format!("requeue m-{i}"));
                app.update(key(KeyCode::Esc));
                app.update(ch('e'));
                assert_hidden(&app, &secrets, &format!("edit m-{i}"));
                app.update(key(KeyCode::Esc));
                app.update(ch('j'));
            }
            app.update(ch('?'));
            assert_hidden(&app, &secrets, "help");
            app.update(key(KeyCode::Esc));
        }
    }
}

#[test]
fn the_filter_matches_what_is_shown_so_a_secret_cannot_be_probed() {
    let (mut app, secrets) = open(true, false, 7);
    for s in secrets.iter().take(6) {
        app.update(ch('/'));
        for c in s.chars() {
            app.update(ch(c));
        }
        let b = app.browser.as_ref().expect("browsing");
        assert!(
            b.visible().is_empty(),
            "typing the secret {s} must not find its message"
        );
        app.update(key(KeyCode::Esc));
    }
    // What is shown is still found: the mask itself, and unmasked fields.
    app.update(ch('/'));
    for c in "ord-".chars() {
        app.update(ch(c));
    }
    assert_eq!(app.browser.as_ref().map(|b| b.visible().len()), Some(8));
}
