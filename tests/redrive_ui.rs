//! Issue 5 from the dashboard: the `R` dialog, the breaker gate, progress, control
//! and auto-redrive, driven through `App::update` and the real executor on the
//! simulation.

#[path = "support/screen.rs"]
mod screen;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lazysqs::app::popup::Popup;
use lazysqs::app::redrive::{RedriveCmd, RedriveMsg};
use lazysqs::app::{App, Cmd, Msg, RedriveConfig, Settings};
use lazysqs::breaker::BreakerState;
use lazysqs::broker::Broker;
use lazysqs::config::{BreakerConfig, BreakerSourceConfig, RefreshConfig};
use lazysqs::recovery::audit::Audit;
use lazysqs::redrive::{Mode, RunState};
use lazysqs::runtime::Executor;
use lazysqs::sim::{DemoAction, SimBroker};
use tokio::sync::mpsc;

fn settings(redrive: RedriveConfig) -> Settings {
    Settings {
        source: "demo: test".into(),
        demo: true,
        refresh: RefreshConfig {
            attributes_secs: 0.2,
            metrics_secs: 0.5,
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
        browse_cap: 50,
        redrive,
        ..Settings::default()
    }
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// The app, the simulation and the executor, stepped together: each round moves
/// the simulation `step` forward and lets the app poll it.
struct Rig {
    app: App,
    sim: SimBroker,
    exec: Executor,
    rx: mpsc::UnboundedReceiver<Msg>,
    /// Holds the audit log.
    dir: tempfile::TempDir,
}

impl Rig {
    fn new(redrive: RedriveConfig) -> Rig {
        let sim = SimBroker::coffee_shop().expect("scenario");
        let (tx, rx) = mpsc::unbounded_channel();
        let broker: Arc<dyn Broker> = Arc::new(sim.clone());
        let dir = tempfile::tempdir().expect("dir");
        let audit = Audit::new(Some(dir.path().join("audit.jsonl")));
        Rig {
            app: App::new(settings(redrive), Instant::now(), chrono::Utc::now()),
            exec: Executor::new(broker, tx, 8, audit).with_simulation(Some(sim.clone())),
            sim,
            rx,
            dir,
        }
    }

    /// From the dashboard: `R` on orders-dlq, rate 2/s, client-side, confirmed;
    /// slow enough to steer while it runs.
    async fn start_slow_redrive(&mut self) {
        self.select("orders-dlq");
        self.send(Msg::Key(KeyEvent::new(
            KeyCode::Char('R'),
            KeyModifiers::SHIFT,
        )));
        self.send(key(KeyCode::Tab));
        self.send(key(KeyCode::Backspace));
        self.send(key(KeyCode::Backspace));
        self.send(key(KeyCode::Char('2')));
        self.send(key(KeyCode::Tab));
        self.send(key(KeyCode::Tab));
        self.send(key(KeyCode::Left));
        self.send(key(KeyCode::Enter));
        assert!(
            self.until(50, Duration::ZERO, |a| a.overlays.popup().is_some())
                .await
        );
        self.send(key(KeyCode::Char('y')));
        assert!(
            self.until(100, Duration::ZERO, |a| a.redrives[0].started_ok)
                .await
        );
    }

    /// The audit log's lines: (action, outcome).
    fn audit(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(self.dir.path().join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json line");
                (
                    v["action"].as_str().unwrap_or_default().to_string(),
                    v["outcome"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    fn send(&mut self, msg: Msg) {
        for cmd in self.app.update(msg) {
            self.exec.spawn(cmd);
        }
    }

    async fn rounds(&mut self, n: usize, step: Duration) {
        for _ in 0..n {
            self.sim.advance(step);
            self.send(Msg::Tick(Instant::now()));
            tokio::time::sleep(Duration::from_millis(30)).await;
            while let Ok(msg) = self.rx.try_recv() {
                self.send(msg);
            }
        }
    }

    /// Rounds until `done` holds, at most `max` of them.
    async fn until(&mut self, max: usize, step: Duration, done: impl Fn(&App) -> bool) -> bool {
        for _ in 0..max {
            if done(&self.app) {
                return true;
            }
            self.rounds(1, step).await;
        }
        done(&self.app)
    }

    fn select(&mut self, name: &str) {
        for _ in 0..self.app.queues.len() {
            self.send(key(KeyCode::Char('k')));
        }
        for _ in 0..self.app.queues.len() {
            if self.app.selected_row().map(|r| r.queue.name.as_str()) == Some(name) {
                return;
            }
            self.send(key(KeyCode::Char('j')));
        }
        panic!("no row {name}");
    }

    fn visible(&self, queue: &str) -> u64 {
        self.sim
            .lock()
            .model
            .attributes(queue)
            .expect("queue")
            .visible
    }

    /// Payments broken until the circuit opens and orders-dlq holds messages.
    async fn break_payments(&mut self) {
        self.rounds(5, Duration::from_secs(1)).await;
        self.sim.control(DemoAction::ToggleFault);
        let ok = self
            .until(200, Duration::from_secs(1), |a| {
                a.breakers[0].state == BreakerState::Open
                    && a.row_by_name("orders-dlq").and_then(|r| r.depth()) > Some(10)
            })
            .await;
        assert!(ok, "the circuit opens and the DLQ fills");
    }

    async fn fix_payments(&mut self) {
        self.sim.control(DemoAction::ToggleFault);
        let ok = self
            .until(200, Duration::from_secs(1), |a| {
                a.breakers[0].state == BreakerState::Closed
            })
            .await;
        assert!(ok, "the canary closes the circuit");
    }

    /// Payments broke and came back; the story is then frozen, so the DLQ only
    /// changes through the redrive.
    async fn after_an_outage() -> Rig {
        let mut rig = Rig::new(RedriveConfig::default());
        rig.break_payments().await;
        rig.fix_payments().await;
        rig.sim.control(DemoAction::TogglePause);
        rig
    }

    fn popup_title(&self) -> Option<String> {
        match self.app.overlays.popup() {
            Some(Popup::Confirm { title, .. }) => Some(title.clone()),
            _ => None,
        }
    }

    fn popup_text(&self) -> String {
        match self.app.overlays.popup() {
            Some(Popup::Confirm { lines, .. }) => lines.join("\n"),
            _ => String::new(),
        }
    }
}

#[tokio::test]
async fn r_on_a_queue_that_is_no_dlq_says_so() {
    let mut rig = Rig::new(RedriveConfig::default());
    rig.rounds(5, Duration::from_millis(200)).await;
    rig.select("orders");
    rig.send(Msg::Key(KeyEvent::new(
        KeyCode::Char('R'),
        KeyModifiers::SHIFT,
    )));
    assert!(rig.app.overlays.form().is_none());
    let notice = rig.app.notice.clone().expect("a notice");
    assert!(
        notice.text.contains("not a dead-letter queue"),
        "{notice:?}"
    );
}

#[tokio::test]
async fn the_dialog_checks_its_fields_before_planning() {
    let mut rig = Rig::new(RedriveConfig::default());
    rig.rounds(5, Duration::from_millis(200)).await;
    rig.select("orders-dlq");
    rig.send(Msg::Key(KeyEvent::new(
        KeyCode::Char('R'),
        KeyModifiers::SHIFT,
    )));
    let form = rig.app.overlays.form().cloned().expect("the dialog");
    assert_eq!(form.rate, "10", "the configured default rate");
    assert_eq!(form.destinations[0], "own source");
    // rate field: type a bad value
    rig.send(key(KeyCode::Tab));
    rig.send(key(KeyCode::Backspace));
    rig.send(key(KeyCode::Backspace));
    rig.send(key(KeyCode::Char('x')));
    let cmds = rig.app.update(key(KeyCode::Enter));
    assert!(cmds.is_empty(), "{cmds:?}");
    let err = rig.app.overlays.form().and_then(|f| f.error.clone());
    assert!(err.is_some_and(|e| e.contains("rate")));
    rig.send(key(KeyCode::Backspace));
    rig.send(key(KeyCode::Char('5')));
    // filter field: a bad JSON field expression is refused too
    rig.send(key(KeyCode::Tab));
    rig.send(key(KeyCode::Tab));
    rig.send(key(KeyCode::Tab));
    let cmds = rig.app.update(key(KeyCode::Enter));
    assert!(
        matches!(cmds.as_slice(), [Cmd::Redrive(RedriveCmd::Plan { request, auto: false })] if request.rate == Some(5)),
        "{cmds:?}"
    );
    // Esc closes the dialog without doing anything.
    let mut rig2 = Rig::new(RedriveConfig::default());
    rig2.rounds(5, Duration::from_millis(200)).await;
    rig2.select("orders-dlq");
    rig2.send(Msg::Key(KeyEvent::new(
        KeyCode::Char('R'),
        KeyModifiers::SHIFT,
    )));
    let cmds = rig2.app.update(key(KeyCode::Esc));
    assert!(cmds.is_empty() && rig2.app.overlays.form().is_none());
}

#[tokio::test]
async fn an_open_breaker_refuses_the_redrive_until_forced_or_closed() {
    let mut rig = Rig::new(RedriveConfig::default());
    rig.break_payments().await;
    rig.select("orders-dlq");
    rig.send(Msg::Key(KeyEvent::new(
        KeyCode::Char('R'),
        KeyModifiers::SHIFT,
    )));
    rig.send(key(KeyCode::Enter));
    assert!(
        rig.until(50, Duration::ZERO, |a| a.overlays.popup().is_some())
            .await
    );
    assert_eq!(
        rig.popup_title().as_deref(),
        Some("Breaker OPEN: redrive refused")
    );
    assert!(
        rig.popup_text().contains("payments"),
        "{}",
        rig.popup_text()
    );
    // Enter, the key that asked for the plan, does not force it.
    rig.send(key(KeyCode::Enter));
    assert!(rig.app.redrives.is_empty(), "Enter forces nothing");
    assert_eq!(
        rig.popup_title().as_deref(),
        Some("Breaker OPEN: redrive refused")
    );
    let notice = rig.app.notice.as_ref().map(|n| n.text.clone());
    assert!(
        notice.as_deref().is_some_and(|n| n.contains("press y")),
        "{notice:?}"
    );
    // Its key line is on screen at every size; what does not fit scrolls.
    for (w, h) in [(80, 24), (120, 35), (200, 60), (50, 9)] {
        let s = screen::drawn(&rig.app, w, h);
        assert!(s.contains("y: FORCE it anyway"), "{w}x{h}: {s}");
    }
    let s = screen::drawn(&rig.app, 50, 9);
    assert!(s.contains("move all") && s.contains("▼ PgUp/PgDn"), "{s}");
    rig.send(key(KeyCode::PageDown));
    let s = screen::drawn(&rig.app, 50, 9);
    assert!(!s.contains("move all") && s.contains("▲"), "{s}");
    assert!(s.contains("y: FORCE it anyway"), "{s}");
    rig.send(key(KeyCode::Char('n')));
    assert!(rig.app.redrives.is_empty(), "n cancels");

    rig.fix_payments().await;
    let before = rig.visible("orders-dlq");
    assert!(before > 0);
    rig.select("orders-dlq");
    rig.send(Msg::Key(KeyEvent::new(
        KeyCode::Char('R'),
        KeyModifiers::SHIFT,
    )));
    rig.send(key(KeyCode::Enter));
    assert!(
        rig.until(50, Duration::ZERO, |a| a.overlays.popup().is_some())
            .await
    );
    assert_eq!(rig.popup_title().as_deref(), Some("Start this redrive?"));
    let preview = rig.popup_text();
    assert!(
        preview.contains("orders-dlq")
            && preview.contains("10 msg/s")
            && preview.contains("SQS move task"),
        "{preview}"
    );
    rig.send(key(KeyCode::Char('y')));
    assert_eq!(rig.app.redrives.len(), 1);
    let drained = rig
        .until(400, Duration::from_millis(500), |a| {
            a.redrives[0].report.is_some()
        })
        .await;
    assert!(drained, "the move task finished");
    let report = rig.app.redrives[0].report.clone().expect("report");
    assert_eq!(report.mode, Mode::MoveTask);
    assert_eq!(report.state, RunState::Completed, "{report:?}");
    assert!(report.moved >= before, "{report:?}");
    assert!(
        rig.app
            .events
            .iter()
            .any(|e| e.text.contains("redrive of orders-dlq started at 10/s"))
    );
}

#[tokio::test]
async fn a_client_side_redrive_moves_only_what_the_filter_selects() {
    let mut rig = Rig::after_an_outage().await;
    let lattes_before = {
        let mut sim = rig.sim.lock();
        let mut all = Vec::new();
        loop {
            let batch = sim
                .model
                .receive("orders-dlq", 10, Duration::from_secs(3600))
                .expect("receive");
            if batch.is_empty() {
                break;
            }
            all.extend(batch);
        }
        for m in &all {
            sim.model
                .change_visibility("orders-dlq", &m.receipt_handle, Duration::ZERO)
                .expect("release");
        }
        all.iter()
            .filter(|m| m.body.contains("\"coffee\":\"latte\""))
            .count()
    };
    assert!(lattes_before > 0, "some lattes failed");
    let total = rig.visible("orders-dlq");
    rig.select("orders-dlq");
    rig.send(Msg::Key(KeyEvent::new(
        KeyCode::Char('R'),
        KeyModifiers::SHIFT,
    )));
    // mode: client-side (Auto → MoveTask → ClientSide)
    for _ in 0..3 {
        rig.send(key(KeyCode::Tab));
    }
    rig.send(key(KeyCode::Right));
    rig.send(key(KeyCode::Right));
    // past the canary, off
    rig.send(key(KeyCode::Tab));
    rig.send(key(KeyCode::Tab));
    for c in "coffee=latte".chars() {
        rig.send(key(KeyCode::Char(c)));
    }
    rig.send(key(KeyCode::Enter));
    assert!(
        rig.until(50, Duration::ZERO, |a| a.overlays.popup().is_some())
            .await
    );
    assert!(rig.popup_text().contains("where"), "{}", rig.popup_text());
    assert!(
        rig.popup_text().contains("client-side"),
        "{}",
        rig.popup_text()
    );
    rig.send(key(KeyCode::Enter));
    let done = rig
        .until(400, Duration::ZERO, |a| a.redrives[0].report.is_some())
        .await;
    assert!(done);
    let report = rig.app.redrives[0].report.clone().expect("report");
    assert_eq!(report.mode, Mode::ClientSide);
    assert_eq!(report.moved as usize, lattes_before, "{report:?}");
    assert_eq!(
        rig.visible("orders-dlq"),
        total - lattes_before as u64,
        "everything else was released untouched"
    );
    // No redrive running now: c says so.
    rig.send(key(KeyCode::Char('c')));
    assert!(rig.app.notice.as_ref().is_some_and(|n| {
        n.text
            .contains("no redrive or move task is running on orders-dlq")
    }));
}

#[tokio::test]
async fn pause_resume_and_cancel_steer_a_client_side_redrive() {
    let mut rig = Rig::after_an_outage().await;
    rig.start_slow_redrive().await;
    rig.send(key(KeyCode::Char(' ')));
    let paused = rig
        .until(200, Duration::ZERO, |a| {
            a.redrives[0]
                .progress
                .as_ref()
                .is_some_and(|p| p.state == RunState::Paused)
        })
        .await;
    assert!(paused, "space pauses");
    rig.send(key(KeyCode::Char(' ')));
    let running = rig
        .until(200, Duration::ZERO, |a| {
            a.redrives[0]
                .progress
                .as_ref()
                .is_some_and(|p| p.state == RunState::Running)
        })
        .await;
    assert!(running, "space resumes");
    rig.send(key(KeyCode::Char('c')));
    assert!(
        rig.popup_text().contains("Stop the redrive of orders-dlq"),
        "{}",
        rig.popup_text()
    );
    rig.send(key(KeyCode::Char('y')));
    let ended = rig
        .until(300, Duration::ZERO, |a| a.redrives[0].report.is_some())
        .await;
    assert!(ended);
    let report = rig.app.redrives[0].report.clone().expect("report");
    assert_eq!(report.state, RunState::Cancelled, "{report:?}");
    assert!(rig.visible("orders-dlq") > 0, "cancelled before the end");
    let audit = rig.audit();
    assert_eq!(
        audit.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        ["redrive", "redrive"],
        "{audit:?}"
    );
    assert!(audit[1].1.starts_with("cancelled: moved"), "{audit:?}");
}

#[tokio::test]
async fn auto_redrive_starts_when_the_breaker_closes_and_drains_the_dlq() {
    let mut rig = Rig::new(RedriveConfig {
        rate: 10,
        auto: true,
        auto_rate: 20,
        canary: false,
    });
    rig.break_payments().await;
    assert!(
        rig.app.redrives.is_empty(),
        "nothing while the circuit is open"
    );
    rig.fix_payments().await;
    let started = rig
        .until(50, Duration::from_millis(200), |a| !a.redrives.is_empty())
        .await;
    assert!(started, "auto-redrive started");
    assert!(
        rig.app
            .events
            .iter()
            .any(|e| e.text.contains("auto-redrive at 20/s")),
        "{:?}",
        rig.app.events
    );
    assert_eq!(rig.app.redrives[0].plan.request.rate, Some(20));
    let done = rig
        .until(400, Duration::from_millis(500), |a| {
            a.redrives[0].report.is_some()
        })
        .await;
    assert!(done);
    assert!(
        rig.app.redrives[0]
            .report
            .as_ref()
            .is_some_and(|r| r.succeeded())
    );
    // An automatic redrive is on the record like any other: before and after.
    let audit = rig.audit();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0].1, "started");
    assert!(audit[1].1.starts_with("completed: moved"), "{audit:?}");
}

#[tokio::test]
async fn auto_redrive_is_off_by_default() {
    let mut rig = Rig::new(RedriveConfig::default());
    rig.break_payments().await;
    rig.fix_payments().await;
    rig.rounds(20, Duration::from_millis(200)).await;
    assert!(rig.app.redrives.is_empty());
    assert!(rig.visible("orders-dlq") > 0);
}

#[test]
fn read_only_refuses_the_redrive_dialog() {
    let mut s = settings(RedriveConfig::default());
    s.read_only = true;
    let mut app = App::new(s, Instant::now(), chrono::Utc::now());
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('R'),
        KeyModifiers::SHIFT,
    )));
    assert!(app.overlays.form().is_none());
    assert!(app.notice.is_some_and(|n| n.text.contains("read-only")));
}

#[test]
fn move_tasks_started_elsewhere_show_and_can_be_cancelled() {
    let mut app = App::new(
        settings(RedriveConfig::default()),
        Instant::now(),
        chrono::Utc::now(),
    );
    let dlq = lazysqs::sim::model::queue_ref("orders-dlq");
    let other = lazysqs::sim::model::queue_ref("a-queue-before-it");
    app.update(Msg::Discovered(Ok(vec![other.clone(), dlq.clone()]).into()));
    app.update(Msg::Redrive(RedriveMsg::MoveTasks {
        queue: dlq.clone(),
        result: Ok(vec![lazysqs::broker::MoveTask {
            handle: Some("task-1".into()),
            source_arn: "arn".into(),
            destination_arn: None,
            status: lazysqs::broker::MoveTaskStatus::Running,
            moved: 4,
            to_move: Some(10),
            rate: Some(1),
            failure_reason: None,
            started_at: None,
        }]),
    }));
    let row = app
        .queues
        .iter()
        .position(|r| r.queue == dlq)
        .expect("the DLQ's row");
    assert!(app.queues[row].move_task.is_some());
    // `c` acts on the selected queue: on another one, there is nothing to cancel.
    let first = app.visible_rows()[0];
    assert_eq!(app.queues[first].queue, other, "sorted by name");
    assert!(app.update(key(KeyCode::Char('c'))).is_empty());
    assert!(app.overlays.popup().is_none());
    assert!(
        app.notice.as_ref().is_some_and(|n| n
            .text
            .contains("no redrive or move task is running on a-queue-before-it")),
        "{:?}",
        app.notice
    );
    // On the DLQ: a confirmation naming it, then the cancel.
    app.update(key(KeyCode::Down));
    assert!(app.update(key(KeyCode::Char('c'))).is_empty());
    let text = format!("{:?}", app.overlays.popup());
    assert!(
        text.contains("Cancel the move task on orders-dlq"),
        "{text}"
    );
    let cmds = app.update(key(KeyCode::Char('y')));
    assert_eq!(
        cmds,
        vec![Cmd::Redrive(RedriveCmd::CancelMoveTask {
            queue: dlq.clone(),
            handle: "task-1".into()
        })]
    );
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 50)).expect("t");
    term.draw(|f| lazysqs::ui::draw(f, &app, &lazysqs::ui::theme::Theme::default()))
        .expect("draw");
    let text: String = term
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        text.contains("started elsewhere"),
        "the progress pane shows it"
    );
}

#[tokio::test]
async fn quitting_during_a_client_side_redrive_asks_then_stops_it_before_quitting() {
    let mut rig = Rig::after_an_outage().await;
    rig.start_slow_redrive().await;
    rig.rounds(3, Duration::ZERO).await;

    // q asks first; n keeps it running.
    rig.send(key(KeyCode::Char('q')));
    assert!(!rig.app.quit);
    assert!(
        rig.popup_text()
            .contains("A redrive is running — stop it and quit?"),
        "{}",
        rig.popup_text()
    );
    rig.send(key(KeyCode::Char('n')));
    rig.rounds(2, Duration::ZERO).await;
    assert!(rig.app.redrives[0].is_active() && !rig.app.quit);

    // y stops it (the batches in hand finish, what it holds goes back), then quits.
    rig.send(key(KeyCode::Char('q')));
    rig.send(key(KeyCode::Char('y')));
    assert!(!rig.app.quit, "not before the redrive has stopped");
    assert!(rig.app.stopping.is_some());
    let quit = rig.until(300, Duration::ZERO, |a| a.quit).await;
    assert!(quit, "quits once the redrive has stopped");
    let report = rig.app.redrives[0].report.clone().expect("it ended first");
    assert_eq!(report.state, RunState::Cancelled, "{report:?}");
    let held = rig
        .sim
        .lock()
        .model
        .attributes("orders-dlq")
        .expect("dlq")
        .in_flight;
    assert_eq!(held, 0, "nothing left hidden");
}

#[tokio::test]
async fn sigterm_to_the_dashboard_stops_a_redrive_without_asking() {
    let mut rig = Rig::after_an_outage().await;
    rig.start_slow_redrive().await;
    rig.send(Msg::Terminate);
    assert!(rig.app.overlays.popup().is_none(), "no question on SIGTERM");
    assert!(rig.until(300, Duration::ZERO, |a| a.quit).await);
    assert!(rig.app.redrives[0].report.is_some());
}

#[tokio::test]
async fn an_auto_redrive_is_a_canary_and_halts_when_payments_breaks_again() {
    let mut rig = Rig::new(RedriveConfig {
        auto: true,
        ..RedriveConfig::default()
    });
    rig.break_payments().await;
    rig.fix_payments().await;
    let started = rig
        .until(50, Duration::from_millis(200), |a| {
            a.redrives.first().is_some_and(|r| r.started_ok)
        })
        .await;
    assert!(started, "auto-redrive started");
    let canary = rig.app.redrives[0].plan.request.canary.expect("a canary");
    assert_eq!(canary.start, 1.0, "it starts at 1 msg/s, as in the talk");
    assert!(
        rig.app.redrives[0]
            .plan
            .preview()
            .contains("as a canary: from 1 msg/s"),
        "{}",
        rig.app.redrives[0].plan.preview()
    );
    // Payments breaks again while the canary runs.
    rig.sim.control(DemoAction::ToggleFault);
    let halted = rig
        .until(300, Duration::from_secs(1), |a| {
            a.redrives[0].report.is_some()
        })
        .await;
    assert!(halted, "the redrive stopped");
    let report = rig.app.redrives[0].report.clone().expect("report");
    assert_eq!(report.state, RunState::Halted, "{report:?}");
    let c = report.canary.expect("canary report");
    assert!(c.halted);
    let reason = c.reason.unwrap_or_default();
    assert!(
        reason.contains("the breaker payments guarding orders opened"),
        "{reason}"
    );
    let parked = rig.app.redrives[0].plan.visible;
    assert!(
        report.moved < parked,
        "halted before the DLQ was drained: {} of {parked}",
        report.moved
    );
    let audit = rig.audit();
    assert!(
        audit
            .last()
            .is_some_and(|(_, outcome)| outcome.starts_with("halted")),
        "{audit:?}"
    );
    // On screen: the progress pane says so.
    let screen = screen::drawn(&rig.app, 120, 35);
    assert!(screen.contains("canary halted"), "{screen}");
    assert!(screen.contains("R on it"), "{screen}");
    assert!(
        !screen.contains("started elsewhere"),
        "our own stopped task is not shown as another's: {screen}"
    );
}

#[tokio::test]
async fn a_view_on_a_dlq_being_redriven_is_refused_and_says_why() {
    let mut rig = Rig::after_an_outage().await;
    rig.start_slow_redrive().await;
    for k in [KeyCode::Enter, KeyCode::Char('t')] {
        rig.send(key(k));
        assert!(
            rig.app.browser.is_none() && rig.app.triage.is_none(),
            "{k:?}"
        );
        assert!(rig.app.overlays.popup().is_none(), "{k:?}");
        let notice = rig.app.notice.as_ref().map(|n| n.text.clone());
        assert!(
            notice
                .as_deref()
                .is_some_and(|n| n.contains("a redrive of orders-dlq is running")
                    && n.contains("cancel it (c)")),
            "{k:?}: {notice:?}"
        );
    }
}

#[tokio::test]
async fn a_redrive_that_leaves_messages_says_how_many_and_where() {
    let mut rig = Rig::after_an_outage().await;
    let before = rig.visible("orders-dlq");
    assert!(before > 3, "{before}");
    rig.select("orders-dlq");
    rig.send(Msg::Key(KeyEvent::new(
        KeyCode::Char('R'),
        KeyModifiers::SHIFT,
    )));
    rig.send(key(KeyCode::Tab));
    rig.send(key(KeyCode::Tab));
    rig.send(key(KeyCode::Char('3')));
    rig.send(key(KeyCode::Enter));
    assert!(
        rig.until(50, Duration::ZERO, |a| a.overlays.popup().is_some())
            .await
    );
    rig.send(key(KeyCode::Char('y')));
    let left = rig
        .until(400, Duration::from_millis(200), |a| {
            a.redrives.first().is_some_and(|r| r.left.is_some())
        })
        .await;
    assert!(left, "the DLQ's depth read after the run");
    let run = &rig.app.redrives[0];
    let report = run.report.clone().expect("report");
    assert_eq!(report.state, RunState::Completed, "{report:?}");
    let n = run.left.expect("left");
    assert_eq!(n, before - report.moved, "{report:?}");
    let screen = screen::drawn(&rig.app, 120, 35);
    assert!(
        screen.contains(&format!("completed, {n} left in orders-dlq")),
        "{screen}"
    );
    let notice = rig.app.notice.as_ref().map(|n| n.text.clone());
    assert!(
        notice
            .as_deref()
            .is_some_and(|t| t.contains(&format!("{n} are left in orders-dlq"))),
        "{notice:?}"
    );
}

#[tokio::test]
async fn auto_redrive_is_held_back_while_triage_holds_the_dlq() {
    let mut rig = Rig::new(RedriveConfig {
        rate: 10,
        auto: true,
        auto_rate: 20,
        canary: false,
    });
    rig.break_payments().await;
    rig.select("orders-dlq");
    rig.send(key(KeyCode::Char('t')));
    let holding = rig
        .until(100, Duration::ZERO, |a| {
            a.triage.as_ref().is_some_and(|t| !t.scanning)
        })
        .await;
    assert!(holding, "triage scanned orders-dlq");
    rig.fix_payments().await;
    rig.rounds(20, Duration::from_millis(200)).await;
    assert!(rig.app.redrives.is_empty(), "no redrive under triage");
    assert!(
        rig.app.events.iter().any(|e| e
            .text
            .contains("auto-redrive of orders-dlq held back: triage holds")),
        "{:?}",
        rig.app.events
    );
}

#[tokio::test]
async fn r_on_a_dlq_with_a_move_task_running_shows_it_and_offers_client_side() {
    let mut rig = Rig::new(RedriveConfig::default());
    rig.break_payments().await;
    rig.select("orders-dlq");
    let dlq = rig.app.selected_row().expect("row").queue.clone();
    rig.send(Msg::Redrive(RedriveMsg::MoveTasks {
        queue: dlq,
        result: Ok(vec![lazysqs::broker::MoveTask {
            handle: Some("task-1".into()),
            source_arn: "arn".into(),
            destination_arn: None,
            status: lazysqs::broker::MoveTaskStatus::Running,
            moved: 4,
            to_move: Some(10),
            rate: Some(1),
            failure_reason: None,
            started_at: None,
        }]),
    }));
    rig.send(Msg::Key(KeyEvent::new(
        KeyCode::Char('R'),
        KeyModifiers::SHIFT,
    )));
    let form = rig.app.overlays.form().expect("the dialog opens").clone();
    assert_eq!(form.mode, lazysqs::redrive::ModePreference::ClientSide);
    let note = form.note.clone().unwrap_or_default();
    assert!(
        note.contains("a move task is running on orders-dlq (4 of 10 moved")
            && note.contains("client-side"),
        "{note}"
    );
    let screen = screen::drawn(&rig.app, 200, 60);
    assert!(
        screen.contains("⚠ a move task is running on orders-dlq"),
        "{screen}"
    );
}
