//! `App::update` with no terminal: feed messages, check the state and the commands.

#[path = "support/answers.rs"]
mod answers;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lazysqs::app::{App, Cmd, Msg, Pane, Settings, SortKey};
use lazysqs::breaker::{BreakerReading, BreakerState};
use lazysqs::broker::{
    BrokerError, QueueAttrs, QueueMetrics, QueueRef, QueueSelection, RedrivePolicy,
};
use lazysqs::config::{BreakerConfig, BreakerSourceConfig, Config};
use lazysqs::health::{Drain, Flag, Trend};
use lazysqs::sim::DemoAction;
use lazysqs::sim::model::{arn, queue_ref};

// ---------------------------------------------------------------- helpers

fn settings(demo: bool, breakers: Vec<BreakerConfig>) -> Settings {
    Settings {
        source: "test".into(),
        demo,
        breakers,
        ..Settings::default()
    }
}

fn new_app(demo: bool) -> (App, Instant) {
    let t0 = Instant::now();
    (
        App::new(settings(demo, Vec::new()), t0, chrono::Utc::now()),
        t0,
    )
}

fn at(t0: Instant, secs: f64) -> Instant {
    t0 + Duration::from_secs_f64(secs)
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

fn attrs(visible: u64, in_flight: u64, delayed: u64) -> QueueAttrs {
    QueueAttrs {
        in_flight,
        delayed,
        ..answers::attrs(visible, None)
    }
}

fn with_dlq(mut a: QueueAttrs, dlq: &str) -> QueueAttrs {
    a.redrive = Some(RedrivePolicy {
        dlq_arn: arn(dlq),
        max_receive_count: 3,
    });
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

fn refs(names: &[&str]) -> Vec<QueueRef> {
    names.iter().map(|n| queue_ref(n)).collect()
}

/// An app that found `names` and has attributes for each (depth given).
fn app_with(names_depths: &[(&str, u64)]) -> (App, Instant) {
    let (mut app, t0) = new_app(false);
    app.update(Msg::Tick(t0));
    let names: Vec<&str> = names_depths.iter().map(|(n, _)| *n).collect();
    app.update(Msg::Discovered(Ok(refs(&names)).into()));
    for (name, depth) in names_depths {
        app.update(answers::attributes(
            queue_ref(name),
            Ok(attrs(*depth, 0, 0)),
        ));
    }
    (app, t0)
}

fn fetches_of(cmds: &[Cmd], name: &str) -> usize {
    cmds.iter()
        .filter(|c| matches!(c, Cmd::FetchAttributes(q) if q.name == name))
        .count()
}

fn metric_fetches(cmds: &[Cmd]) -> Vec<Vec<String>> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::FetchMetrics(qs) => Some(qs.iter().map(|q| q.name.clone()).collect()),
            _ => None,
        })
        .collect()
}

fn visible_names(app: &App) -> Vec<String> {
    app.visible_rows()
        .into_iter()
        .map(|i| app.queues[i].queue.name.clone())
        .collect()
}

fn selected_name(app: &App) -> Option<String> {
    app.selected_row().map(|r| r.queue.name.clone())
}

fn flags_of(app: &App, name: &str) -> Vec<Flag> {
    app.flags(app.row_by_name(name).expect("row"))
}

// ---------------------------------------------------------------- polling

#[test]
fn first_tick_asks_to_discover_queues_once() {
    let (mut app, t0) = new_app(false);
    let cmds = app.update(Msg::Tick(t0));
    assert_eq!(cmds, [Cmd::Discover(QueueSelection::default())]);
    assert!(
        app.update(Msg::Tick(at(t0, 1.0))).is_empty(),
        "no second discovery while the first is in flight"
    );
    assert_eq!(app.sqs_requests, 1);
}

#[test]
fn discovered_queues_become_rows_and_are_fetched_once_each() {
    let (mut app, t0) = new_app(false);
    app.update(Msg::Tick(t0));
    let mut cmds = app.update(Msg::Discovered(Ok(refs(&["a", "b", "c"])).into()));
    let names: Vec<&str> = app.queues.iter().map(|r| r.queue.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert!(app.discovery_error.is_none());
    cmds.extend(app.update(Msg::Tick(at(t0, 0.25))));
    for name in ["a", "b", "c"] {
        assert_eq!(fetches_of(&cmds, name), 1, "{name}: {cmds:?}");
    }
    assert_eq!(
        metric_fetches(&cmds),
        [vec!["a".to_string(), "b".into(), "c".into()]],
        "metrics are fetched once, batched"
    );
    assert!(
        !cmds.iter().any(|c| matches!(c, Cmd::Discover(_))),
        "{cmds:?}"
    );

    // Rediscovery does not duplicate rows.
    app.update(Msg::Tick(at(t0, 400.0)));
    app.update(Msg::Discovered(Ok(refs(&["a", "b", "c", "d"])).into()));
    assert_eq!(app.queues.len(), 4);
}

#[test]
fn one_attribute_fetch_in_flight_per_queue() {
    let (mut app, t0) = new_app(false);
    app.update(Msg::Tick(t0));
    let cmds = app.update(Msg::Discovered(Ok(refs(&["a", "b"])).into()));
    assert_eq!(fetches_of(&cmds, "a"), 1);
    for s in 1..30 {
        let cmds = app.update(Msg::Tick(at(t0, s as f64)));
        assert_eq!(fetches_of(&cmds, "a"), 0, "second {s}: {cmds:?}");
        assert_eq!(fetches_of(&cmds, "b"), 0, "second {s}: {cmds:?}");
    }
    // The result for `a` arrives at 30 s; the next fetch is due an interval later.
    app.update(Msg::Tick(at(t0, 30.0)));
    app.update(answers::attributes(queue_ref("a"), Ok(attrs(4, 1, 0))));
    assert_eq!(app.row_by_name("a").and_then(|r| r.depth()), Some(5));
    assert!(app.last_refresh.is_some());
    let cmds = app.update(Msg::Tick(at(t0, 34.0)));
    assert_eq!(fetches_of(&cmds, "a"), 0, "interval not over: {cmds:?}");
    let cmds = app.update(Msg::Tick(at(t0, 35.0)));
    assert_eq!(fetches_of(&cmds, "a"), 1, "{cmds:?}");
    assert_eq!(fetches_of(&cmds, "b"), 0, "b is still in flight");
}

#[test]
fn an_error_marks_the_row_stale_with_the_reason_and_backs_off() {
    let (mut app, t0) = new_app(false);
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(Ok(refs(&["a"])).into()));
    app.update(answers::attributes(queue_ref("a"), Ok(attrs(7, 0, 0))));

    let mut now = 5.0;
    let cmds = app.update(Msg::Tick(at(t0, now)));
    assert_eq!(fetches_of(&cmds, "a"), 1);
    app.update(answers::attributes(
        queue_ref("a"),
        Err(BrokerError::Throttled("Rate exceeded".into())),
    ));
    let row = app.row_by_name("a").expect("row");
    let stale = row.stale.clone().expect("stale after an error");
    assert!(stale.contains("throttled"), "{stale}");
    assert!(stale.contains("Rate exceeded"), "{stale}");
    assert!(stale.contains("retry in"), "{stale}");
    assert_eq!(row.depth(), Some(7), "old figures are kept, not blanked");
    assert_eq!(row.schedule.failures(), 1);

    // A second error in a row: the wait is 10–20 s, past the 5 s interval.
    let cmds = app.update(Msg::Tick(at(t0, now + 10.0)));
    assert_eq!(fetches_of(&cmds, "a"), 1);
    now += 10.0;
    app.update(answers::attributes(
        queue_ref("a"),
        Err(BrokerError::Unreachable("connection reset".into())),
    ));
    assert!(
        app.row_by_name("a")
            .and_then(|r| r.stale.clone())
            .is_some_and(|s| s.contains("connection reset")),
        "the reason follows the latest error"
    );
    for dt in [5.0, 9.9] {
        let cmds = app.update(Msg::Tick(at(t0, now + dt)));
        assert_eq!(fetches_of(&cmds, "a"), 0, "backing off at +{dt}s");
    }
    let cmds = app.update(Msg::Tick(at(t0, now + 20.0)));
    assert_eq!(fetches_of(&cmds, "a"), 1, "retried after the backoff");

    app.update(answers::attributes(queue_ref("a"), Ok(attrs(2, 0, 0))));
    let row = app.row_by_name("a").expect("row");
    assert_eq!(row.stale, None, "success clears the stale marker");
    assert_eq!(row.schedule.failures(), 0);
    assert_eq!(row.depth(), Some(2));
}

#[test]
fn discovery_and_metrics_errors_are_kept_for_the_status_bar() {
    let (mut app, t0) = new_app(false);
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(
        Err(BrokerError::Auth("expired token".into())).into(),
    ));
    let e = app.discovery_error.clone().expect("discovery error");
    assert!(e.contains("expired token"), "{e}");
    assert!(app.update(Msg::Tick(at(t0, 1.0))).is_empty(), "backing off");
    let cmds = app.update(Msg::Tick(at(t0, 700.0)));
    assert!(matches!(cmds.as_slice(), [Cmd::Discover(_)]), "{cmds:?}");
    app.update(Msg::Discovered(Ok(refs(&["a"])).into()));
    assert_eq!(app.discovery_error, None);

    app.update(Msg::Metrics(
        refs(&["a"]),
        Err(BrokerError::Throttled("GetMetricData".into())),
    ));
    let e = app.metrics_error.clone().expect("metrics error");
    assert!(e.contains("GetMetricData"), "{e}");
    app.update(Msg::Metrics(refs(&["a"]), Ok(vec![metrics(1.0, 1.0, 0)])));
    assert_eq!(app.metrics_error, None);
}

#[test]
fn queues_without_a_redrive_policy_ask_who_sends_to_them() {
    let (mut app, t0) = new_app(false);
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(Ok(refs(&["orders", "orders-dlq"])).into()));
    app.update(answers::attributes(
        queue_ref("orders"),
        Ok(with_dlq(attrs(1, 0, 0), "orders-dlq")),
    ));
    app.update(answers::attributes(
        queue_ref("orders-dlq"),
        Ok(attrs(0, 0, 0)),
    ));
    let cmds = app.update(Msg::Tick(at(t0, 1.0)));
    let asked: Vec<&str> = cmds
        .iter()
        .filter_map(|c| match c {
            Cmd::FetchDlqSources(q) => Some(q.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(asked, ["orders-dlq"]);
    app.update(Msg::DlqSources(
        queue_ref("orders-dlq"),
        Ok(refs(&["orders"])),
    ));
    let dlq = app.row_by_name("orders-dlq").expect("row");
    assert_eq!(dlq.dlq_sources, ["orders"]);
    assert!(app.is_dlq(dlq));
    assert!(!app.is_dlq(app.row_by_name("orders").expect("row")));
}

// ---------------------------------------------------------------- keys

#[test]
fn j_k_and_arrows_move_the_selection() {
    let (mut app, _) = app_with(&[("a", 30), ("b", 20), ("c", 10)]);
    assert_eq!(selected_name(&app).as_deref(), Some("a"));
    app.update(ch('j'));
    assert_eq!(selected_name(&app).as_deref(), Some("b"));
    app.update(key(KeyCode::Down));
    assert_eq!(selected_name(&app).as_deref(), Some("c"));
    app.update(ch('j'));
    assert_eq!(
        selected_name(&app).as_deref(),
        Some("c"),
        "stops at the end"
    );
    app.update(ch('k'));
    assert_eq!(selected_name(&app).as_deref(), Some("b"));
    app.update(key(KeyCode::Up));
    app.update(key(KeyCode::Up));
    assert_eq!(
        selected_name(&app).as_deref(),
        Some("a"),
        "stops at the top"
    );
    app.update(ch('G'));
    assert_eq!(selected_name(&app).as_deref(), Some("c"));
    app.update(ch('g'));
    assert_eq!(selected_name(&app).as_deref(), Some("a"));
}

#[test]
fn selection_follows_the_queue_when_depths_reorder_rows() {
    let (mut app, _) = app_with(&[("a", 30), ("b", 20), ("c", 10)]);
    app.update(ch('j'));
    assert_eq!(selected_name(&app).as_deref(), Some("b"));
    app.update(answers::attributes(queue_ref("b"), Ok(attrs(99, 0, 0))));
    assert_eq!(visible_names(&app), ["b", "a", "c"]);
    assert_eq!(selected_name(&app).as_deref(), Some("b"));
}

#[test]
fn tab_cycles_the_panes() {
    let (mut app, _) = new_app(false);
    assert_eq!(app.focus, Pane::Queues);
    app.update(key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Rates);
    app.update(key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Breaker);
    app.update(key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Queues);
}

#[test]
fn slash_then_typing_filters_rows_and_esc_clears() {
    let (mut app, _) = app_with(&[("orders", 3), ("orders-dlq", 2), ("invoices.fifo", 1)]);
    app.update(ch('/'));
    assert!(app.overlays.filtering());
    for c in "DLQ".chars() {
        app.update(ch(c));
    }
    assert_eq!(app.filter, "DLQ");
    assert_eq!(visible_names(&app), ["orders-dlq"], "case-insensitive");
    app.update(key(KeyCode::Backspace));
    app.update(key(KeyCode::Backspace));
    app.update(key(KeyCode::Backspace));
    app.update(ch('o'));
    assert_eq!(
        visible_names(&app),
        ["orders", "orders-dlq", "invoices.fifo"]
    );
    app.update(ch('r'));
    assert_eq!(visible_names(&app), ["orders", "orders-dlq"]);

    // Enter keeps the filter and leaves editing; then Esc clears it.
    app.update(key(KeyCode::Enter));
    assert!(!app.overlays.filtering());
    assert_eq!(visible_names(&app), ["orders", "orders-dlq"]);
    assert!(
        app.browser.is_none(),
        "Enter closed the filter, nothing else"
    );
    app.update(key(KeyCode::Esc));
    assert_eq!(app.filter, "");
    assert_eq!(visible_names(&app).len(), 3);

    // Esc while editing clears too.
    app.update(ch('/'));
    app.update(ch('x'));
    assert!(visible_names(&app).is_empty());
    app.update(key(KeyCode::Esc));
    assert!(!app.overlays.filtering());
    assert_eq!(app.filter, "");
    assert_eq!(visible_names(&app).len(), 3);
}

#[test]
fn keys_bound_to_actions_type_into_the_filter() {
    let (mut app, _) = app_with(&[("quotes", 1), ("jobs", 1)]);
    app.update(ch('/'));
    let cmds: Vec<Cmd> = "qjs?".chars().flat_map(|c| app.update(ch(c))).collect();
    assert!(cmds.is_empty(), "{cmds:?}");
    assert!(!app.quit);
    assert!(app.overlays.help().is_none());
    assert_eq!(app.sort, SortKey::Depth);
    assert_eq!(app.filter, "qjs?");
}

#[test]
fn s_cycles_sort_depth_age_name_and_rows_follow() {
    let (mut app, _) = app_with(&[("b-mid", 20), ("c-deep", 30), ("a-shallow", 10)]);
    app.update(Msg::Metrics(
        refs(&["b-mid", "c-deep", "a-shallow"]),
        Ok(vec![
            metrics(0.0, 0.0, 5),
            metrics(0.0, 0.0, 10),
            metrics(0.0, 0.0, 600),
        ]),
    ));
    assert_eq!(app.sort, SortKey::Depth);
    assert_eq!(visible_names(&app), ["c-deep", "b-mid", "a-shallow"]);
    app.update(ch('s'));
    assert_eq!(app.sort, SortKey::Age);
    assert_eq!(visible_names(&app), ["a-shallow", "c-deep", "b-mid"]);
    assert!(
        app.notice.as_ref().is_some_and(|n| n.text.contains("age")),
        "{:?}",
        app.notice
    );
    app.update(ch('s'));
    assert_eq!(app.sort, SortKey::Name);
    assert_eq!(visible_names(&app), ["a-shallow", "b-mid", "c-deep"]);
    app.update(ch('s'));
    assert_eq!(app.sort, SortKey::Depth);
    assert_eq!(visible_names(&app), ["c-deep", "b-mid", "a-shallow"]);
}

#[test]
fn rows_without_data_sort_last_by_depth() {
    let (mut app, t0) = new_app(false);
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(Ok(refs(&["unknown", "known"])).into()));
    app.update(answers::attributes(queue_ref("known"), Ok(attrs(0, 0, 0))));
    assert_eq!(visible_names(&app), ["known", "unknown"]);
}

#[test]
fn question_mark_opens_help_and_esc_closes_it() {
    let (mut app, _) = new_app(false);
    app.update(ch('?'));
    assert!(app.overlays.help().is_some());
    // Keys do not reach the dashboard behind the popup.
    app.update(key(KeyCode::Tab));
    app.update(ch('s'));
    assert_eq!(app.focus, Pane::Queues);
    assert_eq!(app.sort, SortKey::Depth);
    app.update(key(KeyCode::Esc));
    assert!(app.overlays.help().is_none());
    app.update(ch('?'));
    app.update(ch('?'));
    assert!(app.overlays.help().is_none(), "? toggles");
}

#[test]
fn q_and_ctrl_c_quit() {
    let (mut app, _) = new_app(false);
    assert_eq!(app.update(ch('q')), [Cmd::Quit]);
    assert!(app.quit);

    let (mut app, _) = new_app(false);
    assert_eq!(app.update(ctrl('c')), [Cmd::Quit]);
    assert!(app.quit);

    // Ctrl-C quits from the filter and from help too.
    let (mut app, _) = new_app(false);
    app.update(ch('/'));
    assert_eq!(app.update(ctrl('c')), [Cmd::Quit]);
    let (mut app, _) = new_app(false);
    app.update(ch('?'));
    assert_eq!(app.update(ctrl('c')), [Cmd::Quit]);
}

#[test]
fn demo_keys_ask_the_simulation_only_in_the_demo() {
    let (mut app, _) = new_app(true);
    assert_eq!(app.update(ch('f')), [Cmd::Demo(DemoAction::ToggleFault)]);
    assert_eq!(app.update(ch('+')), [Cmd::Demo(DemoAction::Faster)]);
    assert_eq!(app.update(ch('-')), [Cmd::Demo(DemoAction::Slower)]);
    assert_eq!(app.update(ch('p')), [Cmd::Demo(DemoAction::TogglePause)]);
    app.update(Msg::DemoDone("payments broken: every call fails".into()));
    let notice = app
        .notice
        .clone()
        .expect("the status bar says what happened");
    assert_eq!(notice.text, "payments broken: every call fails");
    assert!(!notice.error);

    let (mut app, _) = new_app(false);
    for c in ['f', '+', '-', 'p'] {
        assert!(app.update(ch(c)).is_empty(), "{c} outside the demo");
        let notice = app.notice.clone().expect("a notice");
        assert!(notice.error);
        assert!(notice.text.contains("demo"), "{}", notice.text);
    }
}

#[test]
fn key_releases_are_ignored() {
    let (mut app, _) = new_app(false);
    let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    release.kind = crossterm::event::KeyEventKind::Release;
    assert!(app.update(Msg::Key(release)).is_empty());
    assert!(!app.quit);
}

// ---------------------------------------------------------------- health flags

#[test]
fn consumption_below_arrival_three_samples_in_a_row_raises_growing() {
    let (mut app, _) = app_with(&[("a", 100)]);
    let below = || Msg::Metrics(refs(&["a"]), Ok(vec![metrics(60.0, 10.0, 5)]));
    let level = || Msg::Metrics(refs(&["a"]), Ok(vec![metrics(60.0, 60.0, 5)]));
    app.update(below());
    app.update(below());
    assert!(!flags_of(&app, "a").contains(&Flag::Growing));
    app.update(level());
    app.update(below());
    app.update(below());
    assert!(
        !flags_of(&app, "a").contains(&Flag::Growing),
        "the streak restarts after a good sample"
    );
    app.update(below());
    assert!(flags_of(&app, "a").contains(&Flag::Growing));
    assert_eq!(app.row_by_name("a").expect("row").rate_history.len(), 6);
    app.update(level());
    assert!(!flags_of(&app, "a").contains(&Flag::Growing));
}

/// Consumption "below" arrival (sent 60/min, deleted 10/min: the rest went to a
/// DLQ) for three samples in a row.
fn three_samples_below(app: &mut App, name: &str) {
    for _ in 0..3 {
        app.update(Msg::Metrics(
            refs(&[name]),
            Ok(vec![metrics(60.0, 10.0, 5)]),
        ));
    }
}

#[test]
fn an_empty_source_queue_is_never_growing() {
    let (mut app, _) = app_with(&[("orders", 0)]);
    three_samples_below(&mut app, "orders");
    let row = app.row_by_name("orders").expect("row");
    assert!(!flags_of(&app, "orders").contains(&Flag::Growing));
    assert_eq!(row.derived.drain, Some(Drain::Empty));
    assert_eq!(row.derived.trend, Trend::Flat);
}

#[test]
fn trend_drain_and_the_growing_flag_follow_one_rule() {
    // CloudWatch's minutes say consumption is below arrival; the depth, polled
    // since, is falling. All three say falling.
    let (mut app, t0) = app_with(&[("invoices.fifo", 100)]);
    three_samples_below(&mut app, "invoices.fifo");
    for (secs, depth) in [(30.0, 90), (60.0, 80)] {
        app.update(Msg::Tick(at(t0, secs)));
        app.update(answers::attributes(
            queue_ref("invoices.fifo"),
            Ok(attrs(depth, 0, 0)),
        ));
    }
    let row = app.row_by_name("invoices.fifo").expect("row");
    assert!(
        matches!(row.derived.drain, Some(Drain::In(_))),
        "{:?}",
        row.derived.drain
    );
    assert_eq!(row.derived.trend, Trend::Falling);
    assert!(!flags_of(&app, "invoices.fifo").contains(&Flag::Growing));

    // The depth rises again: growing, the arrow up, and the flag.
    for (secs, depth) in [(90.0, 120), (120.0, 160)] {
        app.update(Msg::Tick(at(t0, secs)));
        app.update(answers::attributes(
            queue_ref("invoices.fifo"),
            Ok(attrs(depth, 0, 0)),
        ));
    }
    let row = app.row_by_name("invoices.fifo").expect("row");
    assert_eq!(row.derived.drain, Some(Drain::Growing));
    assert_eq!(row.derived.trend, Trend::Rising);
    assert!(flags_of(&app, "invoices.fifo").contains(&Flag::Growing));

    // Held level for a minute while messages move: steady, flat, no flag.
    for secs in [150.0, 180.0, 210.0] {
        app.update(Msg::Tick(at(t0, secs)));
        app.update(answers::attributes(
            queue_ref("invoices.fifo"),
            Ok(attrs(160, 0, 0)),
        ));
    }
    let row = app.row_by_name("invoices.fifo").expect("row");
    assert_eq!(row.derived.drain, Some(Drain::Steady));
    assert_eq!(row.derived.trend, Trend::Flat);
    assert!(!flags_of(&app, "invoices.fifo").contains(&Flag::Growing));
}

#[test]
fn a_non_empty_dlq_raises_dlq_not_empty() {
    let (mut app, _) = app_with(&[("orders", 0), ("orders-dlq", 0)]);
    app.update(answers::attributes(
        queue_ref("orders"),
        Ok(with_dlq(attrs(0, 0, 0), "orders-dlq")),
    ));
    assert!(!flags_of(&app, "orders-dlq").contains(&Flag::DlqNotEmpty));
    app.update(answers::attributes(
        queue_ref("orders-dlq"),
        Ok(attrs(0, 2, 0)),
    ));
    assert!(flags_of(&app, "orders-dlq").contains(&Flag::DlqNotEmpty));
    assert!(
        !flags_of(&app, "orders").contains(&Flag::DlqNotEmpty),
        "the source itself is not a DLQ"
    );
    // A queue with messages that nobody uses as a DLQ raises nothing.
    let (app2, _) = app_with(&[("plain", 5)]);
    assert!(flags_of(&app2, "plain").is_empty());
}

#[test]
fn age_over_the_threshold_raises_old_message() {
    let (mut app, _) = app_with(&[("a", 1)]);
    let max = app.thresholds.max_age_secs;
    app.update(Msg::Metrics(refs(&["a"]), Ok(vec![metrics(1.0, 1.0, max)])));
    assert!(!flags_of(&app, "a").contains(&Flag::OldMessage));
    app.update(Msg::Metrics(
        refs(&["a"]),
        Ok(vec![metrics(1.0, 1.0, max + 1)]),
    ));
    assert!(flags_of(&app, "a").contains(&Flag::OldMessage));
}

#[test]
fn age_threshold_comes_from_the_settings() {
    let t0 = Instant::now();
    let mut s = settings(false, Vec::new());
    s.thresholds.max_age_secs = 10;
    let mut app = App::new(s, t0, chrono::Utc::now());
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(Ok(refs(&["a"])).into()));
    app.update(Msg::Metrics(refs(&["a"]), Ok(vec![metrics(1.0, 1.0, 11)])));
    assert!(flags_of(&app, "a").contains(&Flag::OldMessage));
}

// ---------------------------------------------------------------- breakers

fn alarm_breaker() -> BreakerConfig {
    BreakerConfig {
        name: "payments".into(),
        queue: Some("orders".into()),
        source: BreakerSourceConfig::Alarm {
            alarm: "payments-errors".into(),
        },
    }
}

fn reading(state: BreakerState, detail: &str) -> BreakerReading {
    BreakerReading {
        state,
        since: None,
        detail: detail.into(),
        transitions: None,
    }
}

#[test]
fn breaker_readings_change_state_and_record_transitions() {
    let t0 = Instant::now();
    let mut app = App::new(
        settings(false, vec![alarm_breaker()]),
        t0,
        chrono::Utc::now(),
    );
    let cmds = app.update(Msg::Tick(t0));
    assert!(
        cmds.contains(&Cmd::ReadBreaker(alarm_breaker())),
        "{cmds:?}"
    );
    assert_eq!(app.breakers[0].state, BreakerState::Unknown);
    assert!(
        !app.update(Msg::Tick(at(t0, 30.0)))
            .contains(&Cmd::ReadBreaker(alarm_breaker())),
        "one read in flight"
    );

    app.update(Msg::Breaker(
        "payments".into(),
        Ok(reading(BreakerState::Closed, "alarm OK")),
    ));
    let b = &app.breakers[0];
    assert_eq!(b.state, BreakerState::Closed);
    assert!(b.since.is_some());
    assert!(
        b.transitions.is_empty(),
        "the first reading is no transition"
    );

    app.update(Msg::Tick(at(t0, 40.0)));
    app.update(Msg::Breaker(
        "payments".into(),
        Ok(reading(BreakerState::Open, "alarm ALARM")),
    ));
    let b = &app.breakers[0];
    assert_eq!(b.state, BreakerState::Open);
    assert_eq!(b.detail, "alarm ALARM");
    assert_eq!(b.transitions.len(), 1);
    assert_eq!(
        (b.transitions[0].from, b.transitions[0].to),
        (BreakerState::Closed, BreakerState::Open)
    );

    // The same state again records nothing.
    app.update(Msg::Breaker(
        "payments".into(),
        Ok(reading(BreakerState::Open, "alarm ALARM")),
    ));
    assert_eq!(app.breakers[0].transitions.len(), 1);

    app.update(Msg::Breaker(
        "payments".into(),
        Ok(reading(BreakerState::HalfOpen, "probing")),
    ));
    app.update(Msg::Breaker(
        "payments".into(),
        Ok(reading(BreakerState::Closed, "alarm OK")),
    ));
    let states: Vec<_> = app.breakers[0]
        .transitions
        .iter()
        .map(|t| (t.from, t.to))
        .collect();
    assert_eq!(
        states,
        [
            (BreakerState::Closed, BreakerState::Open),
            (BreakerState::Open, BreakerState::HalfOpen),
            (BreakerState::HalfOpen, BreakerState::Closed),
        ]
    );
}

#[test]
fn an_open_breaker_flags_the_queue_it_guards() {
    let t0 = Instant::now();
    let mut app = App::new(
        settings(false, vec![alarm_breaker()]),
        t0,
        chrono::Utc::now(),
    );
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(Ok(refs(&["orders", "other"])).into()));
    app.update(Msg::Breaker(
        "payments".into(),
        Ok(reading(BreakerState::Open, "alarm ALARM")),
    ));
    assert!(flags_of(&app, "orders").contains(&Flag::BreakerOpen));
    assert!(!flags_of(&app, "other").contains(&Flag::BreakerOpen));
}

#[test]
fn a_breaker_read_error_marks_it_stale_and_keeps_the_state() {
    let t0 = Instant::now();
    let mut app = App::new(
        settings(false, vec![alarm_breaker()]),
        t0,
        chrono::Utc::now(),
    );
    app.update(Msg::Tick(t0));
    app.update(Msg::Breaker(
        "payments".into(),
        Ok(reading(BreakerState::Closed, "alarm OK")),
    ));
    app.update(Msg::Tick(at(t0, 10.0)));
    app.update(Msg::Breaker(
        "payments".into(),
        Err(BrokerError::NotFound("alarm payments-errors".into())),
    ));
    let b = &app.breakers[0];
    assert_eq!(b.state, BreakerState::Closed);
    let stale = b.stale.clone().expect("stale");
    assert!(stale.contains("payments-errors"), "{stale}");
}

#[test]
fn a_demo_breaker_reading_brings_its_own_history() {
    let cfg = BreakerConfig {
        name: "payments".into(),
        queue: Some("orders".into()),
        source: BreakerSourceConfig::Demo {
            demo: "payments".into(),
        },
    };
    let t0 = Instant::now();
    let mut app = App::new(settings(true, vec![cfg]), t0, chrono::Utc::now());
    let sim = lazysqs::sim::SimBroker::coffee_shop().expect("scenario");
    sim.control(DemoAction::ToggleFault);
    sim.advance(Duration::from_secs(30));
    let r = sim.breaker("payments").expect("reading");
    let n = r.transitions.as_ref().map_or(0, Vec::len);
    assert!(n >= 2, "{r:?}");
    app.update(Msg::Breaker("payments".into(), Ok(r.clone())));
    let b = &app.breakers[0];
    assert_eq!(b.state, r.state);
    assert_eq!(b.since, r.since);
    assert_eq!(b.transitions.len(), n);
}

#[test]
fn a_dlq_rule_breaker_opens_when_the_dlq_inflow_exceeds_the_threshold() {
    let cfg = BreakerConfig {
        name: "orders-consumer".into(),
        queue: Some("orders".into()),
        source: BreakerSourceConfig::DlqRule {
            dlq: "orders-dlq".into(),
            max_messages: 5,
            window_minutes: 5,
        },
    };
    let t0 = Instant::now();
    let mut app = App::new(settings(false, vec![cfg]), t0, chrono::Utc::now());
    let cmds = app.update(Msg::Tick(t0));
    assert!(
        !cmds.iter().any(|c| matches!(c, Cmd::ReadBreaker(_))),
        "a DLQ rule is judged here, not read outside: {cmds:?}"
    );
    app.update(Msg::Discovered(Ok(refs(&["orders", "orders-dlq"])).into()));
    let mut t = 0.0;
    let mut dlq_depth = |app: &mut App, depth: u64| {
        t += 5.0;
        app.update(Msg::Tick(at(t0, t)));
        app.update(answers::attributes(
            queue_ref("orders-dlq"),
            Ok(attrs(depth, 0, 0)),
        ));
    };
    dlq_depth(&mut app, 0);
    dlq_depth(&mut app, 3);
    dlq_depth(&mut app, 5);
    assert_eq!(
        app.breakers[0].state,
        BreakerState::Closed,
        "5 is not over 5"
    );
    assert!(
        app.breakers[0].detail.contains("received 5"),
        "{}",
        app.breakers[0].detail
    );
    dlq_depth(&mut app, 4); // a redrive took one out: not inflow
    dlq_depth(&mut app, 6);
    let b = &app.breakers[0];
    assert_eq!(b.state, BreakerState::Open, "{}", b.detail);
    assert!(b.detail.contains("received 7"), "{}", b.detail);
    assert_eq!(
        b.transitions.last().map(|t| (t.from, t.to)),
        Some((BreakerState::Closed, BreakerState::Open))
    );
    assert!(flags_of(&app, "orders").contains(&Flag::BreakerOpen));
}

#[test]
fn a_dlq_rule_breaker_closes_once_the_inflow_leaves_the_window() {
    let cfg = BreakerConfig {
        name: "rule".into(),
        queue: None,
        source: BreakerSourceConfig::DlqRule {
            dlq: "dlq".into(),
            max_messages: 2,
            window_minutes: 1,
        },
    };
    let t0 = Instant::now();
    let mut app = App::new(settings(false, vec![cfg]), t0, chrono::Utc::now());
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(Ok(refs(&["dlq"])).into()));
    app.update(answers::attributes(queue_ref("dlq"), Ok(attrs(0, 0, 0))));
    app.update(Msg::Tick(at(t0, 5.0)));
    app.update(answers::attributes(queue_ref("dlq"), Ok(attrs(10, 0, 0))));
    assert_eq!(app.breakers[0].state, BreakerState::Open);
    // Two minutes of a steady DLQ: the jump is out of the one-minute window.
    for s in 1..=24 {
        app.update(Msg::Tick(at(t0, 5.0 + 5.0 * s as f64)));
        app.update(answers::attributes(queue_ref("dlq"), Ok(attrs(10, 0, 0))));
    }
    assert_eq!(app.breakers[0].state, BreakerState::Closed);
}

// ---------------------------------------------------------------- keymap from config

#[test]
fn keymap_overrides_from_config_apply() {
    let config = Config::parse(
        "[keys]\nquit = [\"x\"]\ndown = [\"n\", \"down\"]\nsort = [\"ctrl-s\"]\n",
        std::path::Path::new("keys.toml"),
    )
    .expect("valid config");
    let keymap = config.keymap().expect("keymap");
    let t0 = Instant::now();
    let mut s = settings(false, Vec::new());
    s.keymap = keymap;
    let mut app = App::new(s, t0, chrono::Utc::now());
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(Ok(refs(&["a", "b"])).into()));

    assert!(app.update(ch('q')).is_empty(), "q is no longer quit");
    assert!(!app.quit);
    app.update(ch('n'));
    assert_eq!(selected_name(&app).as_deref(), Some("b"));
    app.update(ch('s'));
    assert_eq!(app.sort, SortKey::Depth, "plain s is unbound");
    app.update(ctrl('s'));
    assert_eq!(app.sort, SortKey::Age);
    app.update(ch('k'));
    assert_eq!(
        selected_name(&app).as_deref(),
        Some("a"),
        "k still moves up"
    );
    assert_eq!(app.update(ch('x')), [Cmd::Quit]);
    assert_eq!(app.keymap.label(lazysqs::keymap::Action::Quit), "x");
}

// ---------------------------------------------------------------- health rules

#[test]
fn time_to_drain_reads_the_net_rate() {
    use lazysqs::health::time_to_drain;
    assert_eq!(time_to_drain(0, 10.0, 0.0), Drain::Empty);
    assert_eq!(time_to_drain(5, 0.0, 0.0), Drain::Stalled);
    assert_eq!(time_to_drain(5, 10.0, 10.0), Drain::Steady);
    assert_eq!(time_to_drain(5, 10.0, 5.0), Drain::Growing);
    // 120 messages, 30 a minute net: 4 minutes.
    assert_eq!(
        time_to_drain(120, 30.0, 60.0),
        Drain::In(Duration::from_secs(240))
    );
}

#[test]
fn a_little_noise_is_not_a_growing_backlog() {
    use lazysqs::health::consumption_below_arrival;
    let m = |sent, deleted| QueueMetrics {
        sent_per_min: Some(sent),
        deleted_per_min: Some(deleted),
        ..Default::default()
    };
    assert_eq!(consumption_below_arrival(&m(100.0, 95.0)), Some(false));
    assert_eq!(consumption_below_arrival(&m(100.0, 80.0)), Some(true));
    assert_eq!(consumption_below_arrival(&m(2.0, 1.5)), Some(false));
    assert_eq!(
        consumption_below_arrival(&QueueMetrics::default()),
        None,
        "no data is not a sample"
    );
}

#[test]
fn missing_metrics_do_not_break_the_growing_streak() {
    let (mut app, _) = app_with(&[("a", 100)]);
    let below = || Msg::Metrics(refs(&["a"]), Ok(vec![metrics(60.0, 10.0, 5)]));
    app.update(below());
    app.update(below());
    app.update(Msg::Metrics(
        refs(&["a"]),
        Ok(vec![QueueMetrics::default()]),
    ));
    app.update(below());
    assert!(flags_of(&app, "a").contains(&Flag::Growing));
}

#[test]
fn the_oldest_message_near_retention_is_flagged() {
    let (mut app, _) = app_with(&[("a", 0)]);
    let mut a = attrs(3, 0, 0);
    a.retention = Duration::from_secs(2 * 86400);
    app.update(answers::attributes(queue_ref("a"), Ok(a)));
    // The default margin is a day: 1 day + 1 s old of 2 days is within it.
    app.update(Msg::Metrics(
        refs(&["a"]),
        Ok(vec![metrics(0.0, 0.0, 86400 + 1)]),
    ));
    assert!(flags_of(&app, "a").contains(&Flag::NearRetention));
    app.update(Msg::Metrics(
        refs(&["a"]),
        Ok(vec![metrics(0.0, 0.0, 86400 - 1)]),
    ));
    assert!(!flags_of(&app, "a").contains(&Flag::NearRetention));
}

// ---------------------------------------------------------------- polling budget

/// Runs the dashboard over `secs` of simulated time with every fetch answered at
/// once; returns when each queue was polled, and how many SQS requests went out.
fn poll_for(app: &mut App, t0: Instant, secs: f64) -> (BTreeMap<String, Vec<f64>>, usize) {
    let mut polled: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut requests = 0;
    let mut t = 0.0;
    while t <= secs {
        let cmds = app.update(Msg::Tick(at(t0, t)));
        for c in cmds {
            match c {
                Cmd::FetchAttributes(q) => {
                    requests += 1;
                    polled.entry(q.name.clone()).or_default().push(t);
                    app.update(answers::attributes(q, Ok(attrs(0, 0, 0))));
                }
                Cmd::FetchDlqSources(q) => {
                    requests += 1;
                    app.update(Msg::DlqSources(q, Ok(Vec::new())));
                }
                Cmd::Discover(_) => requests += 1,
                _ => {}
            }
        }
        t += 0.25;
    }
    (polled, requests)
}

/// The longest wait between `from`, the polls in `times`, and `end`.
fn largest_gap(times: &[f64], from: f64, end: f64) -> f64 {
    let mut last = from;
    let mut gap: f64 = 0.0;
    for &t in times.iter().chain(std::iter::once(&end)) {
        gap = gap.max(t - last);
        last = t;
    }
    gap
}

#[test]
fn the_budget_polls_queues_on_screen_every_interval_and_starves_none() {
    let names: Vec<String> = (0..300).map(|i| format!("q{i:03}")).collect();
    let pairs: Vec<(&str, u64)> = names.iter().map(|n| (n.as_str(), 0)).collect();
    let (mut app, t0) = app_with(&pairs);
    app.update(Msg::Resize(120, 35));
    let hot: Vec<String> = app
        .hot_rows()
        .iter()
        .enumerate()
        .filter(|(_, h)| **h)
        .map(|(i, _)| app.queues[i].queue.name.clone())
        .collect();
    assert!(
        (10..40).contains(&hot.len()),
        "{} hot queues at 120×35",
        hot.len()
    );
    let secs = 180.0;
    let (polled, requests) = poll_for(&mut app, t0, secs);

    // Within the budget (20 a second by default), with a little slack for the
    // one-second burst.
    let rate = requests as f64 / secs;
    assert!(rate <= 21.0, "{rate:.1} requests a second");

    // On screen: every attributes_secs (5 s).
    for name in &hot {
        let times = polled.get(name).map(Vec::as_slice).unwrap_or_default();
        assert!(
            largest_gap(times, 0.0, secs) <= 5.5,
            "{name} on screen waited {:.1}s",
            largest_gap(times, 0.0, secs)
        );
    }

    // The others take turns: none waits past the bound help states.
    // After the first sweep, which also looks up every queue's DLQ link.
    let bound = app.staleness_bound().expect("a bound").as_secs_f64();
    let settled = 60.0;
    for name in &names {
        let times: Vec<f64> = polled
            .get(name)
            .map(|t| t.iter().copied().filter(|&t| t >= settled).collect())
            .unwrap_or_default();
        assert!(
            !times.is_empty(),
            "{name} was never polled after {settled}s"
        );
        let gap = largest_gap(&times, settled, secs);
        assert!(
            gap <= bound * 1.25 + 1.0,
            "{name} waited {gap:.1}s, past the bound {bound:.1}s"
        );
    }
}

#[test]
fn a_few_queues_out_of_sight_rest_between_reads_and_those_on_screen_do_not() {
    // 50 idle queues at 120×35: the budget has room for all, but those out of
    // sight are read every `others_secs` (30 s), not every 5 s.
    let names: Vec<String> = (0..50).map(|i| format!("q{i:03}")).collect();
    let pairs: Vec<(&str, u64)> = names.iter().map(|n| (n.as_str(), 0)).collect();
    let (mut app, t0) = app_with(&pairs);
    app.update(Msg::Resize(120, 35));
    let hot: Vec<bool> = app.hot_rows();
    let on_screen = hot.iter().filter(|&&h| h).count();
    assert!((10..40).contains(&on_screen), "{on_screen} on screen");
    let secs = 120.0;
    let (polled, requests) = poll_for(&mut app, t0, secs);
    for (i, name) in names.iter().enumerate() {
        let times: Vec<f64> = polled.get(name).cloned().unwrap_or_default();
        let after: Vec<f64> = times.iter().copied().filter(|&t| t >= 10.0).collect();
        let gap = largest_gap(&after, 10.0, secs);
        if hot[i] {
            assert!(gap <= 5.5, "{name} on screen waited {gap:.1}s");
        } else {
            assert!(
                (25.0..=36.0).contains(&gap),
                "{name} out of sight: a gap of {gap:.1}s, not about 30 s"
            );
        }
    }
    let rate = requests as f64 / secs;
    let expected = on_screen as f64 / 5.0 + (50 - on_screen) as f64 / 30.0;
    assert!(
        rate <= expected + 1.5,
        "{rate:.1} requests a second, expected about {expected:.1}"
    );
    let bound = app.staleness_bound().expect("a bound");
    assert_eq!(bound, Duration::from_secs(30), "help states the rest");
}

#[test]
fn the_selected_queue_and_flagged_queues_count_as_on_screen() {
    let names: Vec<String> = (0..100).map(|i| format!("q{i:03}")).collect();
    let pairs: Vec<(&str, u64)> = names.iter().map(|n| (n.as_str(), 0)).collect();
    let (mut app, _) = app_with(&pairs);
    app.update(Msg::Resize(120, 35));
    let hot = app.hot_rows();
    let first = app.visible_rows()[0];
    let last = *app.visible_rows().last().expect("rows");
    assert!(hot[first] && !hot[last]);
    // Select the last queue: the view scrolls to it.
    app.update(key(KeyCode::End));
    let hot = app.hot_rows();
    assert!(hot[last] && !hot[first], "the selection moved the view");
    // A flagged queue is hot wherever it is.
    let i = app
        .queues
        .iter()
        .position(|r| r.queue.name == "q000")
        .expect("q000");
    app.queues[i].derived.flags.push(Flag::Growing);
    assert!(app.hot_rows()[i]);
}

// ---------------------------------------------------------------- drawing only on change

/// Ticks every 250 ms from `from` to `to` seconds, answering every attribute
/// fetch with `answer`, and counts the frames the app asks for (the runtime
/// draws when `dirty`, then clears it).
fn frames_between(
    app: &mut App,
    t0: Instant,
    (from, to): (f64, f64),
    answer: impl Fn(&str) -> Result<QueueAttrs, BrokerError>,
) -> usize {
    let mut frames = 0;
    let mut t = from;
    while t < to {
        let cmds = app.update(Msg::Tick(at(t0, t)));
        for cmd in cmds {
            if let Cmd::FetchAttributes(q) = cmd {
                let name = q.name.clone();
                app.update(answers::attributes(q, answer(&name)));
            }
        }
        if app.dirty {
            frames += 1;
            app.dirty = false;
        }
        t += 0.25;
    }
    frames
}

#[test]
fn an_idle_dashboard_draws_only_when_something_shown_changes() {
    let (mut app, t0) = app_with(&[("a", 3), ("b", 0), ("c", 7)]);
    app.dirty = false;
    let same = |name: &str| Ok(attrs(if name == "a" { 3 } else { 0 }, 0, 0));
    // The first answers change "c" (7 → 0); then the same figures every 5 s.
    let first = frames_between(&mut app, t0, (0.25, 6.0), same);
    assert!((1..=3).contains(&first), "{first} frames");
    let idle = frames_between(&mut app, t0, (6.0, 59.0), same);
    assert_eq!(idle, 0, "no frame while the same figures come back");
    // The minute turns: one frame (CloudWatch's minutes are said in minutes).
    let minute = frames_between(&mut app, t0, (59.0, 62.0), same);
    assert_eq!(minute, 1);
    // A change is drawn at once.
    let changed = frames_between(&mut app, t0, (62.0, 68.0), |name| {
        Ok(attrs(if name == "a" { 4 } else { 0 }, 0, 0))
    });
    assert!(changed >= 1);
    let bar = app.refresh_age().expect("an age");
    assert_eq!(bar, "just now");
}

#[test]
fn when_polls_fail_the_refresh_age_grows_in_coarse_steps() {
    let (mut app, t0) = app_with(&[("a", 3)]);
    app.dirty = false;
    let down = |_: &str| Err(BrokerError::Unreachable("connection refused".into()));
    // The first failure marks the row stale (a frame); then the age passes 10 s,
    // 20 s… each a frame, not one a second.
    let frames = frames_between(&mut app, t0, (0.25, 45.0), down);
    assert!(
        (4..=12).contains(&frames),
        "{frames} frames in 45 s of failing polls"
    );
    assert_eq!(app.refresh_age().as_deref(), Some("40s ago"));
    let frames = frames_between(&mut app, t0, (45.0, 50.0), down);
    assert!(frames <= 2, "{frames}");
}

#[test]
fn a_demo_or_an_open_browser_still_counts_seconds() {
    let (mut app, t0) = new_app(true);
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(Ok(refs(&["a"])).into()));
    app.dirty = false;
    let frames = frames_between(&mut app, t0, (0.25, 10.25), |_| Ok(attrs(1, 0, 0)));
    assert!(frames >= 10, "the demo's timers count seconds: {frames}");
}
