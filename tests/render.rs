//! Render tests: the whole dashboard, every pane and popup, drawn with ratatui's
//! `TestBackend` at fixed sizes from a deterministic `App`.

#[path = "support/answers.rs"]
mod answers;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lazysqs::app::{App, Msg, Settings};
use lazysqs::breaker::{BreakerReading, BreakerState, Transition};
use lazysqs::broker::{BrokerError, QueueAttrs, QueueMetrics, QueueRef};
use lazysqs::config::{BreakerConfig, BreakerSourceConfig, Config, RefreshConfig};
use lazysqs::keymap::{Action, Keymap, Scope};
use lazysqs::sim::model::{arn, queue_ref};
use lazysqs::ui;
use lazysqs::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Modifier;

// ---------------------------------------------------------------- fixtures

fn wall0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0)
        .single()
        .expect("a valid date")
}

fn settings(demo: bool, breakers: Vec<BreakerConfig>, keymap: Keymap) -> Settings {
    Settings {
        source: if demo {
            "demo: coffee-shop".into()
        } else {
            "us-east-1 (prod)".into()
        },
        demo,
        refresh: if demo {
            RefreshConfig::demo()
        } else {
            RefreshConfig::default()
        },
        keymap,
        breakers,
        ..Settings::default()
    }
}

/// An app whose wall clock starts at a fixed time, so "since" figures are stable.
fn new_app(demo: bool, breakers: Vec<BreakerConfig>, keymap: Keymap) -> (App, Instant) {
    let t0 = Instant::now();
    let mut app = App::new(settings(demo, breakers, keymap), t0, chrono::Utc::now());
    app.started_wall = wall0();
    (app, t0)
}

fn at(t0: Instant, secs: u64) -> Instant {
    t0 + Duration::from_secs(secs)
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn attrs(visible: u64, in_flight: u64, delayed: u64, dlq: Option<&str>) -> QueueAttrs {
    QueueAttrs {
        in_flight,
        delayed,
        ..answers::attrs(visible, dlq)
    }
}

fn fifo(mut a: QueueAttrs) -> QueueAttrs {
    a.fifo = true;
    a.content_based_dedup = true;
    a
}

fn metrics(sent: f64, deleted: f64, age_secs: u64) -> QueueMetrics {
    QueueMetrics {
        age_of_oldest: Some(Duration::from_secs(age_secs)),
        sent_per_min: Some(sent),
        received_per_min: Some(deleted),
        deleted_per_min: Some(deleted),
        minute: None,
    }
}

const NAMES: [&str; 6] = [
    "orders",
    "orders-dlq",
    "invoices.fifo",
    "invoices-dlq.fifo",
    "notifications",
    "reports",
];

fn refs() -> Vec<QueueRef> {
    NAMES.iter().map(|n| queue_ref(n)).collect()
}

fn demo_breakers() -> Vec<BreakerConfig> {
    vec![
        BreakerConfig {
            name: "payments".into(),
            queue: Some("orders".into()),
            source: BreakerSourceConfig::Demo {
                demo: "payments".into(),
            },
        },
        BreakerConfig {
            name: "ledger".into(),
            queue: Some("invoices.fifo".into()),
            source: BreakerSourceConfig::Alarm {
                alarm: "ledger-errors".into(),
            },
        },
    ]
}

fn transition(secs_before: i64, from: BreakerState, to: BreakerState, why: &str) -> Transition {
    Transition {
        at: wall0() - chrono::Duration::seconds(secs_before),
        from,
        to,
        reason: why.into(),
    }
}

fn payments_open() -> BreakerReading {
    use BreakerState::{Closed, HalfOpen, Open};
    BreakerReading {
        state: Open,
        since: Some(wall0() - chrono::Duration::seconds(40)),
        detail: "payments is down".into(),
        transitions: Some(vec![
            transition(300, Closed, Open, "5 failed calls in a row to payments"),
            transition(285, Open, HalfOpen, "cool-down of 15s over: canary call"),
            transition(285, HalfOpen, Open, "canary call to payments failed"),
            transition(60, Open, HalfOpen, "cool-down of 15s over: canary call"),
            transition(40, HalfOpen, Open, "canary call to payments failed"),
        ]),
    }
}

/// The coffee shop mid-incident: a growing backlog on `orders`, a filling DLQ, an
/// open breaker, a queue with no metrics and a queue whose last poll failed.
fn incident() -> (App, Instant) {
    let (mut app, t0) = new_app(true, demo_breakers(), Keymap::default());
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(Ok(refs()).into()));
    for (i, (orders, dlq)) in [(20, 2), (28, 6), (35, 11), (45, 17)].iter().enumerate() {
        let t = 2 * i as u64;
        app.update(Msg::Tick(at(t0, t)));
        app.update(answers::attributes(
            queue_ref("orders"),
            Ok(attrs(*orders - 3, 3, 0, Some("orders-dlq"))),
        ));
        app.update(answers::attributes(
            queue_ref("orders-dlq"),
            Ok(attrs(*dlq, 0, 0, None)),
        ));
        app.update(answers::attributes(
            queue_ref("invoices.fifo"),
            Ok(fifo(attrs(5, 1, 0, Some("invoices-dlq.fifo")))),
        ));
        app.update(answers::attributes(
            queue_ref("invoices-dlq.fifo"),
            Ok(fifo(attrs(0, 0, 0, None))),
        ));
        app.update(answers::attributes(
            queue_ref("notifications"),
            Ok(attrs(0, 0, 2, None)),
        ));
        app.update(Msg::Metrics(
            refs(),
            Ok(vec![
                metrics(120.0, 60.0 - 10.0 * i as f64, 400),
                metrics(6.0 * i as f64, 0.0, 900),
                metrics(30.0, 30.0, 12),
                metrics(0.0, 0.0, 0),
                QueueMetrics::default(),
                QueueMetrics::default(),
            ]),
        ));
    }
    app.update(Msg::DlqSources(
        queue_ref("orders-dlq"),
        Ok(vec![queue_ref("orders")]),
    ));
    app.update(answers::attributes(
        queue_ref("reports"),
        Err(BrokerError::Throttled("Rate exceeded".into())),
    ));
    app.update(Msg::Breaker("payments".into(), Ok(payments_open())));
    app.update(Msg::Tick(at(t0, 8)));
    (app, t0)
}

// ---------------------------------------------------------------- drawing

fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|f| ui::draw(f, app, &Theme::default()))
        .expect("draw");
    terminal
}

/// The screen as lines of text, trailing spaces trimmed. Transition times are
/// shown in local time; they are replaced by `HH:MM:SS` so snapshots do not depend
/// on the machine's time zone.
fn screen(terminal: &Terminal<TestBackend>, app: &App) -> String {
    let view = terminal.backend().to_string();
    let mut out = String::new();
    for line in view.lines() {
        let line = match line.rfind("\" Hidden by multi-width symbols: ") {
            Some(i) => &line[..i],
            None => line.strip_suffix('"').unwrap_or(line),
        };
        let line = line.strip_prefix('"').unwrap_or(line);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for b in &app.breakers {
        for t in &b.transitions {
            let local =
                t.at.with_timezone(&chrono::Local)
                    .format("%H:%M:%S")
                    .to_string();
            out = out.replace(&local, "HH:MM:SS");
        }
    }
    out
}

fn render(app: &App, width: u16, height: u16) -> String {
    screen(&draw(app, width, height), app)
}

/// The screen line that contains `needle`.
fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{screen}"))
}

fn assert_has(screen: &str, needles: &[&str]) {
    for n in needles {
        assert!(screen.contains(n), "{n:?} not on screen:\n{screen}");
    }
}

// ---------------------------------------------------------------- the dashboard

#[test]
fn dashboard_200x60() {
    let (app, _) = incident();
    let s = render(&app, 200, 60);
    insta::assert_snapshot!("dashboard_200x60", s);

    // Queue table: header, names, types, numbers, DLQ column, health text.
    assert_has(
        &s,
        &[
            "Queue",
            "Type",
            "Visible",
            "In flight",
            "Delayed",
            "Oldest",
            "In/min",
            "Out/min",
            "Trend",
            "Drain",
            "DLQ",
            "Health",
        ],
    );
    let orders = line_with(&s, "│orders ");
    assert_has(
        orders,
        &[
            "std",
            "42",
            "6m40s",
            "120",
            "30",
            "↑",
            "growing",
            "orders-dlq (17)",
            "▲ growing",
            "◷ old",
            "⚡ open",
        ],
    );
    let dlq = line_with(&s, "│orders-dlq ");
    assert_has(dlq, &["17", "15m00s", "← orders", "✖ dlq", "◷ old"]);
    let inv = line_with(&s, "invoices.fifo");
    assert_has(inv, &["FIFO", "invoices-dlq.fifo (0)", "✔ ok"]);
    let notes = line_with(&s, "notifications");
    assert!(
        notes.matches('—').count() >= 3,
        "missing metrics are dashes: {notes}"
    );
    let reports = line_with(&s, "⚠ reports");
    assert_has(reports, &["⚠ stale"]);
    assert!(reports.matches('—').count() >= 5, "{reports}");
}

#[test]
fn dashboard_100x30() {
    let (app, _) = incident();
    let s = render(&app, 100, 30);
    insta::assert_snapshot!("dashboard_100x30", s);
    for name in NAMES {
        assert!(s.contains(name), "{name} on a small screen:\n{s}");
    }
    assert_has(
        &s,
        &["Rates: orders", "payments", "OPEN", "demo: coffee-shop"],
    );
}

/// At every common size the columns that tell whether something is wrong stay:
/// the name, the visible count, the DLQ with its depth, and Health; headers are
/// never cut; a long name is cut in the middle so its ends stay.
#[test]
fn the_queue_table_keeps_what_matters_at_80x24_120x35_and_200x60() {
    for (w, h) in [(80u16, 24u16), (120, 35), (200, 60)] {
        let (app, _) = incident();
        let s = render(&app, w, h);
        let header = line_with(&s, "│Queue");
        for col in ["Visible", "DLQ", "Health"] {
            assert!(header.contains(col), "{w}x{h}: {col} missing: {header}");
        }
        for cut in ["In flig ", "Out/mi ", "Healt ", "Drai "] {
            assert!(!header.contains(cut), "{w}x{h}: a header is cut: {header}");
        }
        let orders = line_with(&s, "│orders ");
        assert_has(orders, &["42", "orders-dlq (17)", "▲ growing"]);
        let dlq = line_with(&s, "│orders-dlq ");
        assert_has(dlq, &["17", "✖ dlq"]);
        assert!(
            line_with(&s, "│invoices.fifo").contains("(0)"),
            "{w}x{h}: the DLQ's depth stays when its name is cut:\n{s}"
        );
    }
    // The narrowest: the least needed columns went first, never Health.
    let (app, _) = incident();
    let s = render(&app, 80, 24);
    let header = line_with(&s, "│Queue");
    assert!(
        !header.contains("Type") && !header.contains("Delayed"),
        "{header}"
    );
}

#[test]
fn tiny_and_odd_sizes_do_not_panic() {
    let (app, _) = incident();
    for (w, h) in [(1, 1), (10, 3), (40, 10), (80, 24), (300, 100)] {
        let s = render(&app, w, h);
        assert_eq!(s.lines().count(), h as usize);
    }
    let (mut app, _) = incident();
    app.overlays.open_help();
    for (w, h) in [(1, 1), (20, 5), (80, 24)] {
        render(&app, w, h);
    }
}

#[test]
fn the_selected_row_is_highlighted_and_the_rates_pane_follows_it() {
    let (mut app, _) = incident();
    let term = draw(&app, 200, 60);
    let s = screen(&term, &app);
    assert!(s.contains(" Rates: orders "), "{s}");
    let y = s
        .lines()
        .position(|l| l.contains("│orders "))
        .expect("orders row") as u16;
    let buf = term.backend().buffer();
    assert!(
        buf[(3, y)].modifier.contains(Modifier::REVERSED),
        "the selected row is reversed"
    );

    app.update(key(KeyCode::Char('j')));
    let s = render(&app, 200, 60);
    assert!(s.contains(" Rates: orders-dlq "), "{s}");
    assert!(!s.contains(" Rates: orders "), "{s}");
}

#[test]
fn rates_pane_has_both_series_and_depth() {
    let (app, _) = incident();
    let s = render(&app, 200, 60);
    // The y axis labels: the top of arrival/consumption (120 × 1.1) and of depth (45 × 1.1).
    let rates_top = line_with(&s, "Rates: orders");
    assert!(rates_top.contains("Rates: orders"));
    assert_has(&s, &["132", "50"]);
    // Braille dots are drawn for the charts.
    assert!(
        s.chars().any(|c| ('\u{2801}'..='\u{28FF}').contains(&c)),
        "charts drawn:\n{s}"
    );
}

#[test]
fn rates_pane_without_data_says_so() {
    let (mut app, t0) = new_app(false, Vec::new(), Keymap::default());
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(Ok(vec![queue_ref("fresh")]).into()));
    let s = render(&app, 160, 30);
    assert_has(
        &s,
        &[
            "Rates: fresh",
            "arrival/consumption: — (no metrics yet)",
            "depth: —",
        ],
    );
    let fresh = line_with(&s, "│fresh ");
    assert!(fresh.matches('—').count() >= 7, "{fresh}");
    assert!(fresh.contains('…'), "no data yet: {fresh}");
}

#[test]
fn breaker_pane_shows_state_source_and_transitions() {
    let (app, _) = incident();
    let s = render(&app, 200, 60);
    let head = line_with(&s, "payments ✖ OPEN");
    assert!(head.contains("for 48s"), "open for 40 s + 8 s: {head}");
    assert_has(
        &s,
        &[
            "source: simulation — payments is down",
            "CLOSED → ✖ OPEN",
            "5 failed calls in a row to payments",
            "OPEN → ◐ HALF-OPEN",
            "cool-down of 15s over: canary call",
            "HALF-OPEN → ✖ OPEN",
            "canary call to payments failed",
            "HH:MM:SS",
            "ledger ? unknown",
            "source: alarm ledger-errors — waiting for the first reading",
        ],
    );
    // Newest first.
    let failed = s.find("canary call to payments failed").expect("failed");
    let first_open = s
        .find("5 failed calls in a row to payments")
        .expect("opened");
    assert!(failed < first_open, "{s}");
}

#[test]
fn breaker_states_each_have_a_symbol_and_a_word() {
    for (state, text) in [
        (BreakerState::Closed, "● CLOSED"),
        (BreakerState::Open, "✖ OPEN"),
        (BreakerState::HalfOpen, "◐ HALF-OPEN"),
        (BreakerState::Unknown, "? unknown"),
    ] {
        let (mut app, t0) = new_app(false, demo_breakers()[1..].to_vec(), Keymap::default());
        app.update(Msg::Tick(t0));
        app.update(Msg::Breaker(
            "ledger".into(),
            Ok(BreakerReading {
                state,
                since: Some(wall0()),
                detail: "alarm ledger-errors".into(),
                transitions: None,
            }),
        ));
        let s = render(&app, 120, 30);
        assert!(
            line_with(&s, "ledger").contains(text),
            "{state:?} as {text}:\n{s}"
        );
    }
}

#[test]
fn stale_breaker_says_why() {
    let (mut app, t0) = new_app(false, demo_breakers()[1..].to_vec(), Keymap::default());
    app.update(Msg::Tick(t0));
    app.update(Msg::Breaker(
        "ledger".into(),
        Err(BrokerError::Auth("ExpiredToken".into())),
    ));
    let s = render(&app, 160, 40);
    assert_has(&s, &["⚠ stale: credentials: ExpiredToken"]);
}

#[test]
fn status_bar_has_source_refresh_age_stale_marker_and_hints() {
    let (app, _) = incident();
    let s = render(&app, 200, 60);
    let bar = s.lines().last().expect("a status line");
    assert_has(
        bar,
        &[
            "demo: coffee-shop",
            "refreshed just now",
            "⚠ 1 stale: throttled: Rate exceeded",
        ],
    );
    for action in [
        Action::Help,
        Action::Filter,
        Action::Sort,
        Action::NextPane,
        Action::DemoFault,
        Action::Quit,
    ] {
        let hint = format!("{} {}", app.keymap.label(action), action.hint());
        assert!(bar.contains(&hint), "{hint:?} in {bar:?}");
    }
}

#[test]
fn status_bar_shows_notices_and_errors() {
    let (mut app, t0) = incident();
    app.update(Msg::DemoDone("payments broken: every call fails".into()));
    let s = render(&app, 200, 60);
    assert!(
        s.lines()
            .last()
            .is_some_and(|l| l.contains("payments broken: every call fails")),
        "{s}"
    );
    // Notices fade after a while.
    app.update(Msg::Tick(at(t0, 60)));
    let s = render(&app, 200, 60);
    assert!(!s.contains("payments broken"), "{s}");

    let (mut app, t0) = new_app(false, Vec::new(), Keymap::default());
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(
        Err(BrokerError::Auth("no credentials".into())).into(),
    ));
    let s = render(&app, 160, 30);
    let bar = s.lines().last().expect("status");
    assert_has(
        bar,
        &[
            "us-east-1 (prod)",
            "waiting for data",
            "listing queues: credentials: no credentials",
        ],
    );
    assert!(!bar.contains("break/fix"), "no demo hints outside the demo");
}

#[test]
fn help_popup_lists_every_binding_and_the_cost() {
    let (mut app, _) = incident();
    app.update(key(KeyCode::Char('?')));
    let s = render(&app, 200, 60);
    insta::assert_snapshot!("help_200x60", s);
    for (action, _) in app.keymap.bindings() {
        if action.scope() == Scope::Browser {
            continue;
        }
        let label = app.keymap.label(action);
        let line = line_with(&s, action.describe());
        assert!(
            line.contains(&label),
            "{action}: {label:?} next to {:?}: {line}",
            action.describe()
        );
    }
    assert_has(&s, &["Help", "estimated API cost: $", "6 queues"]);
}

#[test]
fn help_popup_fits_a_small_screen() {
    let (mut app, _) = incident();
    app.update(key(KeyCode::Char('?')));
    let s = render(&app, 100, 30);
    insta::assert_snapshot!("help_100x30", s);
    assert_has(&s, &["Help", "move up", "quit"]);
}

#[test]
fn help_scrolls_at_80x24_and_cuts_nothing() {
    let (mut app, _) = incident();
    app.update(key(KeyCode::Char('?')));
    let first = render(&app, 80, 24);
    assert_has(&first, &["Help: lines 1–", "scroll", "move up"]);
    // Page through it: every description appears whole on some page.
    let mut seen = first.clone();
    for _ in 0..10 {
        app.update(key(KeyCode::PageDown));
        seen.push_str(&render(&app, 80, 24));
    }
    for (action, _) in app.keymap.bindings() {
        assert!(
            seen.contains(action.describe()),
            "{action}: {:?} never shown whole",
            action.describe()
        );
    }
    assert_has(&seen, &["estimated API cost", "Esc or ? closes this help"]);
    let last = render(&app, 80, 24);
    assert!(
        !last.contains("move up  "),
        "scrolled away from the top:\n{last}"
    );
    app.update(key(KeyCode::Char('g')));
    assert!(
        render(&app, 80, 24).contains("move up"),
        "g goes back to the top"
    );
}

#[test]
fn help_hides_demo_keys_outside_the_demo() {
    let (mut app, _) = new_app(false, Vec::new(), Keymap::default());
    app.update(key(KeyCode::Char('?')));
    let s = render(&app, 200, 60);
    assert!(!s.contains(Action::DemoFault.describe()), "{s}");
    assert_has(&s, &["estimated API cost: $", "move up"]);
}

#[test]
fn keymap_overrides_show_up_in_help_and_hints() {
    let config = Config::parse(
        "[keys]\nquit = [\"x\", \"ctrl-q\"]\nhelp = [\"h\", \"f1\"]\n",
        std::path::Path::new("keys.toml"),
    )
    .expect("config");
    let keymap = config.keymap().expect("keymap");
    let (mut app, t0) = new_app(false, Vec::new(), keymap);
    app.update(Msg::Tick(t0));
    app.update(Msg::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)));
    assert!(app.overlays.help().is_some(), "F1 opens help");
    let s = render(&app, 200, 60);
    assert_has(line_with(&s, Action::Quit.describe()), &["x/Ctrl-q"]);
    assert_has(line_with(&s, Action::Help.describe()), &["h/F1"]);
    let bar = s.lines().last().expect("status");
    assert_has(bar, &["h/F1 help", "x/Ctrl-q quit"]);
    assert!(!bar.contains("? help"), "{bar}");
}

#[test]
fn filter_is_shown_while_typing_and_after() {
    let (mut app, _) = incident();
    app.update(key(KeyCode::Char('/')));
    for c in "dlq".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    let s = render(&app, 200, 60);
    insta::assert_snapshot!("filter_editing_200x60", s);
    let title = line_with(&s, "Queues (");
    assert_has(title, &["Queues (2 of 6)", "filter: /dlq▏"]);
    assert!(!s.contains("notifications"), "{s}");

    app.update(key(KeyCode::Enter));
    let s = render(&app, 200, 60);
    let title = line_with(&s, "Queues (");
    assert_has(title, &["filter: /dlq"]);
    assert!(!title.contains('▏'), "{title}");
}

#[test]
fn sort_is_shown_in_the_title() {
    let (mut app, _) = incident();
    assert_has(&render(&app, 200, 60), &["sort: depth"]);
    app.update(key(KeyCode::Char('s')));
    let s = render(&app, 200, 60);
    assert_has(&s, &["sort: age", "sorted by age"]);
    // Oldest first: orders-dlq (15 min) above orders (6m40s).
    let dlq = s.find("│orders-dlq ").expect("dlq row");
    let orders = s.find("│orders ").expect("orders row");
    assert!(dlq < orders, "{s}");
}

#[test]
fn focus_moves_the_highlighted_border() {
    let (mut app, _) = incident();
    let focus_of = |app: &App| {
        let term = draw(app, 200, 60);
        let s = screen(&term, app);
        let buf = term.backend().buffer();
        // The top-left corners of the panes: queues, rates, breakers.
        let rates_y = s
            .lines()
            .position(|l| l.contains("Rates:"))
            .expect("rates pane");
        let line: Vec<char> = s.lines().nth(rates_y).expect("line").chars().collect();
        let breaker_x = (1..line.len())
            .find(|&x| line[x] == '┌')
            .expect("breaker pane");
        let (x, y) = (breaker_x as u16, rates_y as u16);
        [buf[(0, 0)].fg, buf[(0, y)].fg, buf[(x, y)].fg]
    };
    let theme = Theme::default();
    let focus = theme.focus_border.fg.expect("a focus colour");
    let plain = theme.border.fg.expect("a border colour");
    assert_eq!(focus_of(&app), [focus, plain, plain]);
    app.update(key(KeyCode::Tab));
    assert_eq!(focus_of(&app), [plain, focus, plain]);
    app.update(key(KeyCode::Tab));
    assert_eq!(focus_of(&app), [plain, plain, focus]);
}

// ---------------------------------------------------------------- empty states

#[test]
fn empty_state_before_any_queue_is_found() {
    let (mut app, t0) = new_app(false, Vec::new(), Keymap::default());
    app.update(Msg::Tick(t0));
    let s = render(&app, 100, 30);
    insta::assert_snapshot!("empty_100x30", s);
    assert_has(
        &s,
        &[
            "Queues (0) sort: depth",
            "Looking for queues…",
            "No queue selected",
            "No breaker configured",
            "waiting for data",
        ],
    );
}

#[test]
fn empty_state_when_discovery_fails_or_the_filter_matches_nothing() {
    let (mut app, t0) = new_app(false, Vec::new(), Keymap::default());
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(
        Err(BrokerError::Unreachable("connection refused".into())).into(),
    ));
    let s = render(&app, 120, 30);
    assert_has(
        &s,
        &["No queues yet: listing queues: unreachable: connection refused"],
    );

    let (mut app, _) = incident();
    app.update(key(KeyCode::Char('/')));
    for c in "zzz".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    let s = render(&app, 120, 30);
    assert_has(
        &s,
        &[
            "No queue matches /zzz",
            "Queues (0 of 6)",
            "No queue selected",
        ],
    );
}

#[test]
fn every_queue_row_has_a_depth_sparkline_of_the_last_minutes() {
    let (mut app, t0) = new_app(false, Vec::new(), Keymap::default());
    app.update(Msg::Discovered(Ok(vec![queue_ref("orders")]).into()));
    for (i, secs) in (0..=210).step_by(30).enumerate() {
        app.update(Msg::Tick(at(t0, secs)));
        app.update(answers::attributes(
            queue_ref("orders"),
            Ok(attrs(10 * i as u64, 0, 0, None)),
        ));
    }
    let s = render(&app, 120, 35);
    let row = line_with(&s, "orders");
    assert!(row.contains("▁▂▃▄▅▆█ ↑"), "{row}");
}

#[test]
fn the_queue_pane_takes_what_its_rows_need_and_the_charts_get_the_rest() {
    let (app, _) = incident();
    for (w, h) in [(80, 24), (120, 35), (200, 60)] {
        let s = render(&app, w, h);
        let rates_at = s
            .lines()
            .position(|l| l.starts_with("┌ Rates"))
            .unwrap_or_else(|| panic!("{w}x{h}: no rates pane\n{s}"));
        // 6 queues: borders, header, 6 rows and a spare line.
        assert!(
            rates_at <= 11,
            "{w}x{h}: the rates pane starts at row {rates_at}\n{s}"
        );
        assert!(rates_at >= 5, "{w}x{h}: the queue pane keeps its rows\n{s}");
    }
}

/// The redrive dialog and the progress of a move task, at the three sizes: the
/// dialog's fields and the task's figures are all there.
#[test]
fn the_redrive_views_read_at_every_size() {
    use lazysqs::app::redrive::RedriveMsg;
    use lazysqs::broker::{MoveTask, MoveTaskStatus};
    let (mut app, _) = incident();
    app.selected = Some(queue_ref("orders-dlq").url);
    app.update(Msg::Redrive(RedriveMsg::MoveTasks {
        queue: queue_ref("orders-dlq"),
        result: Ok(vec![MoveTask {
            handle: Some("task-1".into()),
            source_arn: arn("orders-dlq"),
            destination_arn: None,
            status: MoveTaskStatus::Running,
            moved: 40,
            to_move: Some(100),
            rate: Some(10),
            failure_reason: None,
            started_at: Some(wall0()),
        }]),
    }));
    for (w, h) in [(80, 24), (120, 35), (200, 60)] {
        let s = render(&app, w, h);
        assert_has(&s, &["orders-dlq", "40"]);
        insta::assert_snapshot!(format!("redrive_progress_{w}x{h}"), s);
    }
    app.update(key(KeyCode::Char('R')));
    assert!(app.overlays.form().is_some(), "R opens the dialog");
    for (w, h) in [(80, 24), (120, 35), (200, 60)] {
        let s = render(&app, w, h);
        assert_has(
            &s,
            &[
                "orders-dlq",
                "destination",
                "rate (msg/s)",
                "how many",
                "mode",
                "filter",
            ],
        );
        insta::assert_snapshot!(format!("redrive_form_{w}x{h}"), s);
    }
}
