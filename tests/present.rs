//! Issue 6: presentation mode, themes, redaction and scripted scenarios.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lazysqs::app::browser::{BrowserCmd, BrowserMsg};
use lazysqs::app::{App, Cmd, Msg, Settings};
use lazysqs::breaker::BreakerState;
use lazysqs::broker::{Broker, Message, MessageAttribute, QueueRef};
use lazysqs::config::{BreakerConfig, BreakerSourceConfig, RefreshConfig};
use lazysqs::recovery::audit::Audit;
use lazysqs::redact::MASK;
use lazysqs::runtime::Executor;
use lazysqs::sim::scenario::{ScenarioFile, built_in};
use lazysqs::sim::{DemoAction, Sim, SimBroker};
use lazysqs::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use tokio::sync::mpsc;

fn settings(redact: Vec<String>, present: bool, read_only: bool) -> Settings {
    Settings {
        source: "demo: test".into(),
        demo: true,
        refresh: RefreshConfig {
            attributes_secs: 0.2,
            metrics_secs: 0.2,
            breakers_secs: 0.2,
            discovery_secs: 60.0,
            max_concurrency: 8,
            others_secs: 0.2,
            ..RefreshConfig::default()
        },
        breakers: vec![BreakerConfig {
            name: "payments".into(),
            queue: Some("orders".into()),
            source: BreakerSourceConfig::Demo {
                demo: "payments".into(),
            },
        }],
        read_only,
        browse_cap: 50,
        redact,
        present,
        ..Settings::default()
    }
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Runs the app against the broker the way the runtime does, for `rounds` rounds.
async fn drive(app: &mut App, sim: SimBroker, rounds: usize) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let broker: Arc<dyn Broker> = Arc::new(sim.clone());
    let exec = Executor::new(broker, tx, 8, Audit::default()).with_simulation(Some(sim));
    for _ in 0..rounds {
        for cmd in app.update(Msg::Tick(Instant::now())) {
            exec.spawn(cmd);
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
        while let Ok(msg) = rx.try_recv() {
            for cmd in app.update(msg) {
                exec.spawn(cmd);
            }
        }
    }
}

fn render(app: &App, theme: &Theme, w: u16, h: u16) -> (String, ratatui::buffer::Buffer) {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| lazysqs::ui::draw(f, app, theme))
        .expect("draw");
    let buf = term.backend().buffer().clone();
    let text = (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n");
    (text, buf)
}

/// The coffee shop with payments broken long enough for the circuit to open.
async fn broken_coffee_shop(present: bool) -> (App, SimBroker) {
    let sim = SimBroker::coffee_shop().expect("scenario");
    sim.advance(Duration::from_secs(20));
    sim.control(DemoAction::ToggleFault);
    sim.advance(Duration::from_secs(25));
    let mut app = App::new(
        settings(Vec::new(), present, false),
        Instant::now(),
        chrono::Utc::now(),
    );
    drive(&mut app, sim.clone(), 12).await;
    (app, sim)
}

#[tokio::test]
async fn presentation_mode_fits_100x30_with_big_figures_badge_and_ticker() {
    let (mut app, _sim) = broken_coffee_shop(true).await;
    app.tell("payments broken: every call fails");
    let (text, _) = render(&app, &Theme::default(), 100, 30);
    assert!(text.contains("circuit payments: OPEN"), "{text}");
    assert!(text.contains("What happened"), "{text}");
    assert!(text.contains("payments broken"), "{text}");
    assert!(
        text.contains("payments: circuit OPEN"),
        "the ticker tells the transition: {text}"
    );
    assert!(text.contains("orders-dlq — messages waiting"), "{text}");
    // Big text is drawn with block characters.
    assert!(text.matches('█').count() > 40, "{text}");
    // Fewer columns than the full dashboard.
    assert!(!text.contains("Out/min"), "{text}");
    assert!(text.contains("Health"), "{text}");

    // P toggles back to the full dashboard.
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('P'),
        KeyModifiers::SHIFT,
    )));
    assert!(!app.present);
    let (text, _) = render(&app, &Theme::default(), 200, 60);
    assert!(text.contains("Out/min"), "{text}");
}

#[tokio::test]
async fn every_theme_draws_every_state_with_words_not_only_colour() {
    let (app, _sim) = broken_coffee_shop(false).await;
    let mut bad_styles = Vec::new();
    for name in Theme::NAMES {
        let theme = Theme::named(name).expect("theme");
        let (text, buf) = render(&app, &theme, 200, 60);
        for word in ["✖ OPEN", "✖ dlq", "✔ ok", "▲ growing"] {
            assert!(text.contains(word), "theme {name} lacks {word}: {text}");
        }
        let colours: Vec<Color> = buf.content().iter().map(|c| c.fg).collect();
        if name == "monochrome" {
            assert!(
                colours.iter().all(|c| *c == Color::Reset),
                "monochrome uses no colour"
            );
        } else {
            assert!(
                colours.iter().any(|c| *c != Color::Reset),
                "{name} has colour"
            );
            // Only the 16 ANSI colours, so 16-colour terminals show every theme.
            assert!(
                colours
                    .iter()
                    .all(|c| !matches!(c, Color::Rgb(..) | Color::Indexed(_))),
                "{name} stays within 16 colours"
            );
        }
        bad_styles.push(theme.bad);
    }
    bad_styles.dedup();
    assert!(bad_styles.len() >= 4, "themes differ: {bad_styles:?}");
    assert!(Theme::named("neon").is_none());
}

fn card_message() -> Message {
    let mut attributes = BTreeMap::new();
    attributes.insert(
        "card_number".to_string(),
        MessageAttribute {
            data_type: "String".into(),
            value: "4111111111111111".into(),
        },
    );
    Message {
        message_id: "m-1".into(),
        receipt_handle: "r-1".into(),
        body: r#"{"order_id":"ord-1","card_number":"5500000000000004","customer":{"email":"ana@example.com","name":"Ana"}}"#.into(),
        attributes,
        receive_count: 1,
        sent_at: None,
        first_received_at: None,
        dlq_source_arn: Some("arn:aws:sqs:sim-1:000000000000:orders".into()),
        group_id: None,
        dedup_id: None,
        trace_header: None,
    }
}

/// An app with a browser open on orders-dlq holding the card message.
fn browsing(redact: &[&str], read_only: bool) -> App {
    let rules = redact.iter().map(|s| s.to_string()).collect();
    let mut app = App::new(
        settings(rules, false, read_only),
        Instant::now(),
        chrono::Utc::now(),
    );
    let dlq = QueueRef {
        name: "orders-dlq".into(),
        url: "sim://orders-dlq".into(),
        place: Default::default(),
    };
    app.update(Msg::Discovered(Ok(vec![dlq.clone()]).into()));
    let cmds = app.update(key(KeyCode::Enter));
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Cmd::Browser(BrowserCmd::Load { .. }))),
        "{cmds:?}"
    );
    app.update(Msg::Browser(BrowserMsg::Loaded(
        dlq,
        Ok(vec![card_message()]),
    )));
    app
}

/// `X`; an unmasked export asks first, and is confirmed.
fn export_contents(app: &mut App) -> String {
    let mut cmds = app.update(key(KeyCode::Char('X')));
    if app.overlays.popup().is_some() {
        assert!(app.redaction().is_empty(), "a masked export does not ask");
        assert!(format!("{:?}", app.overlays.popup()).contains("customer data"));
        cmds = app.update(key(KeyCode::Char('y')));
    }
    cmds.into_iter()
        .find_map(|c| match c {
            Cmd::Browser(BrowserCmd::Export { contents, .. }) => Some(contents),
            _ => None,
        })
        .expect("an export command")
}

#[test]
fn redacted_fields_are_masked_in_the_list_detail_and_export() {
    let mut app = browsing(&["card_number", "customer.email"], false);
    let (text, _) = render(&app, &Theme::default(), 200, 50);
    assert!(!text.contains("5500000000000004"), "{text}");
    app.update(key(KeyCode::Enter));
    let (text, _) = render(&app, &Theme::default(), 200, 60);
    for secret in ["5500000000000004", "4111111111111111", "ana@example.com"] {
        assert!(!text.contains(secret), "{secret} shown: {text}");
    }
    assert!(text.contains(MASK), "{text}");
    assert!(text.contains("Ana"), "other fields stay: {text}");
    assert!(text.contains("u reveals"), "{text}");

    let export = export_contents(&mut app);
    for secret in ["5500000000000004", "4111111111111111", "ana@example.com"] {
        assert!(!export.contains(secret), "{secret} exported: {export}");
    }
    assert!(export.contains("ord-1"));
    assert!(
        export.contains(r#""masked_fields":["card_number","customer.email"]"#),
        "every line says what it masks: {export}"
    );

    // Editing a masked body would send the mask: refused until revealed.
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Char('e')));
    assert!(app.browser.as_ref().is_some_and(|b| b.editor.is_none()));

    // u reveals everything, everywhere.
    app.update(key(KeyCode::Char('u')));
    assert!(app.revealed);
    let export = export_contents(&mut app);
    assert!(export.contains("5500000000000004") && export.contains("4111111111111111"));
    assert!(!export.contains("masked_fields"), "{export}");
}

#[test]
fn reveal_is_refused_in_read_only_mode() {
    let mut app = browsing(&["card_number"], true);
    app.update(key(KeyCode::Char('u')));
    assert!(!app.revealed);
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|n| n.text.contains("read-only"))
    );
    assert!(!export_contents(&mut app).contains("5500000000000004"));
}

#[test]
fn presentation_mode_redacts_common_fields_when_none_are_configured() {
    let mut app = browsing(&[], false);
    assert!(export_contents(&mut app).contains("ana@example.com"));
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('P'),
        KeyModifiers::SHIFT,
    )));
    assert!(app.present);
    let export = export_contents(&mut app);
    assert!(!export.contains("ana@example.com"), "{export}");
    assert!(!export.contains("5500000000000004"), "{export}");
}

fn scripted(name: &str) -> Sim {
    let text = built_in(name).expect("built-in scenario");
    Sim::new(ScenarioFile::parse(text).expect("parses")).expect("builds")
}

fn breaker_state(sim: &Sim) -> BreakerState {
    sim.scenario
        .breaker_reading("payments", &sim.model)
        .expect("breaker")
        .state
}

fn visible(sim: &Sim, queue: &str) -> u64 {
    sim.model.attributes(queue).expect("queue").visible
}

#[test]
fn the_scripted_coffee_shop_story_opens_and_closes_the_circuit_and_drains_the_dlq() {
    let run = || {
        let mut sim = scripted("coffee-shop-story");
        sim.advance(Duration::from_secs(29));
        assert_eq!(breaker_state(&sim), BreakerState::Closed);
        assert_eq!(visible(&sim, "orders-dlq"), 0);
        sim.advance(Duration::from_secs(30));
        assert_eq!(
            breaker_state(&sim),
            BreakerState::Open,
            "payments down at 30 s"
        );
        sim.advance(Duration::from_secs(30));
        let parked = visible(&sim, "orders-dlq");
        assert!(
            parked > 20,
            "the DLQ fills while payments is down: {parked}"
        );
        sim.advance(Duration::from_secs(20));
        assert_eq!(
            breaker_state(&sim),
            BreakerState::Closed,
            "canary closes it"
        );
        // A canary: 30 s at 1/s, 30 s at 2/s, then 4/s and 8/s.
        sim.advance(Duration::from_secs(150));
        assert_eq!(
            visible(&sim, "orders-dlq"),
            0,
            "the redrive drained the DLQ"
        );
        let story: Vec<String> = sim
            .scenario
            .story()
            .iter()
            .map(|(_, t)| t.clone())
            .collect();
        assert!(story.iter().any(|t| t == "payments down"), "{story:?}");
        assert!(story.iter().any(|t| t == "payments back up"), "{story:?}");
        assert!(
            story
                .iter()
                .any(|t| t.contains("canary redrive of orders-dlq started at 1/s")),
            "{story:?}"
        );
        assert!(
            story
                .iter()
                .any(|t| t.contains("nothing came back, now at 2/s")),
            "{story:?}"
        );
        let reading = sim
            .scenario
            .breaker_reading("payments", &sim.model)
            .expect("breaker");
        let states: Vec<BreakerState> = reading
            .transitions
            .expect("the simulation keeps its transitions")
            .iter()
            .map(|t| t.to)
            .collect();
        (parked, states)
    };
    let first = run();
    assert_eq!(first, run(), "the same story every time");
    assert_eq!(first.1.first(), Some(&BreakerState::Open));
    assert_eq!(first.1.last(), Some(&BreakerState::Closed));
}

#[test]
fn the_retry_story_backs_off_through_the_retry_queue_into_the_dlq() {
    let mut sim = scripted("retry-backoff");
    sim.advance(Duration::from_secs(35));
    assert_eq!(
        visible(&sim, "signups-dlq"),
        0,
        "a flaky service heals by retries alone"
    );
    let retry = sim.model.attributes("signups-retry").expect("retry queue");
    assert!(retry.delayed > 0, "retries wait out a delay: {retry:?}");
    // Email down from 40 s: messages run out of retries (2+4+8+16+32 s of backoff).
    sim.advance(Duration::from_secs(40));
    let dead = visible(&sim, "signups-dlq");
    assert!(dead > 0, "exhausted messages land in the DLQ");
    let got = sim
        .model
        .receive("signups-dlq", 10, Duration::from_secs(30))
        .expect("receive");
    assert!(
        got.iter()
            .all(|m| m.attributes.get("attempt").is_some_and(|a| a.value == "5"))
    );
}

#[test]
fn a_broken_scenario_file_names_the_problem() {
    let bad = r#"
name = "x"
[[queue]]
name = "a"
[[event]]
at_secs = 3
action = "break"
service = "nope"
"#;
    let file = ScenarioFile::parse(bad).expect("parses");
    let err = Sim::new(file).expect_err("no such service");
    assert!(err.contains("no service named nope"), "{err}");
    let err = ScenarioFile::parse("name = \"x\"\n[[event]]\nat_secs = 1\naction = \"explode\"\n")
        .expect_err("unknown action");
    assert!(err.to_string().contains("explode"), "{err}");
}
