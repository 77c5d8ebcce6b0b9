//! The event loop: one task owns the [`App`]; keys, ticks and command results
//! arrive on one channel; commands run as spawned tasks; frames are drawn only
//! when something changed, at most 30 per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::{Semaphore, mpsc};

use crate::app::browser::{BrowserCmd, BrowserMsg};
use crate::app::redrive::{RedriveCmd, RedriveMsg, Steer};
use crate::app::triage::{TriageCmd, TriageMsg};
use crate::app::{App, Cmd, Discovery, Msg};
use crate::breaker;
use crate::broker::Broker;
use crate::recovery::{self, audit::Audit};
use crate::redrive::{self, Control, ControlError, Plan};
use crate::sim::SimBroker;
use crate::sync::lock;
use crate::triage;
use crate::ui;
use crate::ui::theme::Theme;

const TICK: Duration = Duration::from_millis(250);
const MIN_FRAME: Duration = Duration::from_millis(33);
/// How long data that changed the screen waits for more before it is drawn.
const SETTLE: Duration = Duration::from_millis(20);
/// How long quitting waits for held messages to be released.
const QUIT_GRACE: Duration = Duration::from_secs(3);

/// Runs commands against the broker, sending each result back as a message.
#[derive(Clone)]
pub struct Executor {
    broker: Arc<dyn Broker>,
    tx: mpsc::UnboundedSender<Msg>,
    /// Bounds the broker calls in flight at once.
    limit: Arc<Semaphore>,
    audit: Audit,
    /// The simulation, for the demo's keys, story and breakers.
    sim: Option<SimBroker>,
    /// Triage scans told to stop, by id.
    stopped_scans: Arc<std::sync::Mutex<std::collections::HashSet<u64>>>,
    /// The steering of each running redrive, by id.
    controls: Arc<std::sync::Mutex<std::collections::HashMap<u64, Control>>>,
}

impl Executor {
    pub fn new(
        broker: Arc<dyn Broker>,
        tx: mpsc::UnboundedSender<Msg>,
        concurrency: usize,
        audit: Audit,
    ) -> Self {
        Executor {
            broker,
            tx,
            limit: Arc::new(Semaphore::new(concurrency.max(1))),
            audit,
            sim: None,
            stopped_scans: Arc::default(),
            controls: Arc::default(),
        }
    }

    /// The same executor, driving the demo's simulation too.
    pub fn with_simulation(mut self, sim: Option<SimBroker>) -> Self {
        self.sim = sim;
        self
    }

    /// Spawns `cmd`; its result comes back on the channel. `Quit` is handled by the loop.
    pub fn spawn(&self, cmd: Cmd) {
        if cmd == Cmd::Quit {
            return;
        }
        if let Cmd::Redrive(RedriveCmd::Start { id, plan }) = cmd {
            self.spawn_redrive(id, *plan);
            return;
        }
        if let Cmd::Triage(cmd) = cmd {
            self.spawn_triage(cmd);
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let Ok(_permit) = this.limit.clone().acquire_owned().await else {
                return;
            };
            let msg = this.run(cmd).await;
            if let Some(msg) = msg {
                let _ = this.tx.send(msg);
            }
        });
    }

    async fn run(&self, cmd: Cmd) -> Option<Msg> {
        let b = self.broker.as_ref();
        Some(match cmd {
            Cmd::Discover(selection) => {
                Msg::Discovered(Discovery::of_each(b.list_queues_each(&selection).await))
            }
            Cmd::FetchAttributes(q) => {
                let r = b.queue_attributes(&q).await;
                Msg::Attributes(q, r)
            }
            Cmd::FetchDlqSources(q) => {
                let r = b.dead_letter_sources(&q).await;
                Msg::DlqSources(q, r)
            }
            Cmd::FetchMetrics(qs) => {
                let r = b.metrics(&qs).await;
                Msg::Metrics(qs, r)
            }
            Cmd::ReadBreaker(cfg) => {
                let demo = self.sim.as_ref().map(|s| s as &dyn breaker::DemoBreakers);
                let r = breaker::read(b, demo, &cfg).await;
                Msg::Breaker(cfg.name, r)
            }
            Cmd::Demo(action) => match &self.sim {
                Some(sim) => Msg::DemoDone(sim.control(action)),
                None => Msg::DemoDone("not running the demo".into()),
            },
            Cmd::Browser(cmd) => Msg::Browser(self.run_browser(cmd).await),
            Cmd::Redrive(cmd) => Msg::Redrive(self.run_redrive(cmd).await?),
            Cmd::ReadStory(from) => Msg::Story(
                self.sim
                    .as_ref()
                    .map(|sim| sim.story_since(from))
                    .unwrap_or_default(),
            ),
            Cmd::Triage(cmd) => {
                self.run_triage(cmd).await;
                return None;
            }
            Cmd::Quit => return None,
        })
    }

    /// Runs a triage command. A scan and a group's requeue or delete last long
    /// and report as they go, so they run outside the concurrency limit (they
    /// bound their own calls).
    fn spawn_triage(&self, cmd: TriageCmd) {
        let this = self.clone();
        tokio::spawn(async move { this.run_triage(cmd).await });
    }

    /// Runs a triage command to its end, reporting on the channel as it goes.
    async fn run_triage(&self, cmd: TriageCmd) {
        let b = self.broker.as_ref();
        let send = |m: TriageMsg| self.tx.send(Msg::Triage(m)).is_ok();
        match cmd {
            TriageCmd::Scan { id, queue, cap } => {
                let progress = |batch: &[crate::broker::Message]| {
                    send(TriageMsg::Scanned {
                        id,
                        queue: queue.clone(),
                        batch: batch.to_vec(),
                    });
                };
                let stop = || self.tx.is_closed() || lock(&self.stopped_scans).contains(&id);
                let scan = triage::scan::scan(b, &queue, cap, &progress, &stop).await;
                send(TriageMsg::ScanDone {
                    id,
                    complete: scan.complete,
                    error: scan.error.map(|e| e.to_string()),
                });
            }
            TriageCmd::StopScan { id } => {
                lock(&self.stopped_scans).insert(id);
            }
            TriageCmd::Extend {
                id,
                queue,
                receipts,
            } => {
                let failed =
                    triage::scan::set_visibility(b, &queue, receipts, triage::scan::HOLD).await;
                send(TriageMsg::Extended {
                    id,
                    failed: failed.len(),
                    reason: failed.first().map(|(_, e)| e.to_string()),
                });
            }
            TriageCmd::Release { queue, receipts } => {
                triage::scan::give_back(b, &queue, receipts).await;
            }
            TriageCmd::Requeue { id, requests } => {
                let audit = &self.audit;
                futures::stream::iter(requests)
                    .map(|req| async move {
                        let outcome = recovery::requeue(b, audit, &req).await;
                        (req, outcome)
                    })
                    .buffer_unordered(triage::scan::CONCURRENCY / 2)
                    .for_each(|(req, outcome)| async {
                        send(TriageMsg::Requeued(id, Box::new(req), outcome));
                    })
                    .await;
            }
            TriageCmd::Delete {
                id,
                queue,
                messages,
            } => {
                let (audit, queue) = (&self.audit, &queue);
                futures::stream::iter(messages)
                    .map(|m| async move {
                        let result = recovery::delete(b, audit, queue, &m).await;
                        (m.message_id, result)
                    })
                    .buffer_unordered(triage::scan::CONCURRENCY / 2)
                    .for_each(|(message_id, result)| async {
                        send(TriageMsg::Deleted {
                            id,
                            message_id,
                            result,
                        });
                    })
                    .await;
            }
        }
    }

    /// Starts a redrive and forwards its progress, then its report, as messages.
    /// Runs outside the concurrency limit: it lasts as long as the redrive.
    fn spawn_redrive(&self, id: u64, plan: Plan) {
        let broker = self.broker.clone();
        let tx = self.tx.clone();
        let audit = self.audit.clone();
        let controls = self.controls.clone();
        tokio::spawn(async move {
            let send = |m: RedriveMsg| tx.send(Msg::Redrive(m)).is_ok();
            let handle = match redrive::start(broker, &plan, &audit).await {
                Ok(h) => h,
                Err(e) => {
                    send(RedriveMsg::Started {
                        id,
                        result: Err(e.to_string()),
                    });
                    return;
                }
            };
            lock(&controls).insert(id, handle.control.clone());
            send(RedriveMsg::Started { id, result: Ok(()) });
            let mut progress = handle.progress.clone();
            while progress.changed().await.is_ok() {
                let p = progress.borrow_and_update().clone();
                let done = p.state.is_finished();
                if !send(RedriveMsg::Progress {
                    id,
                    progress: Box::new(p),
                }) || done
                {
                    break;
                }
            }
            let report = handle.wait().await;
            lock(&controls).remove(&id);
            redrive::record::finished(&audit, &plan, &report);
            send(RedriveMsg::Done {
                id,
                report: Box::new(report),
            });
        });
    }

    async fn run_redrive(&self, cmd: RedriveCmd) -> Option<RedriveMsg> {
        let b = self.broker.as_ref();
        Some(match cmd {
            RedriveCmd::Plan { request, auto } => RedriveMsg::Planned {
                auto,
                result: redrive::plan(b, *request)
                    .await
                    .map(Box::new)
                    .map_err(|e| e.to_string()),
            },
            RedriveCmd::FetchMoveTasks { queue, arn } => RedriveMsg::MoveTasks {
                result: b.list_move_tasks(&arn).await,
                queue,
            },
            RedriveCmd::CancelMoveTask { queue, handle } => RedriveMsg::Cancelled {
                result: redrive::record::cancel_move_task(b, &self.audit, &queue, &handle).await,
                queue,
            },
            RedriveCmd::Steer { id, steer } => {
                let control = lock(&self.controls).get(&id).cloned();
                let result = match control {
                    None => Err(ControlError::Finished),
                    Some(c) => match &steer {
                        Steer::Pause => c.pause(),
                        Steer::Resume => c.resume(),
                        Steer::Cancel => {
                            c.cancel();
                            Ok(())
                        }
                        Steer::Halt(why) => {
                            c.halt(why.clone());
                            Ok(())
                        }
                    },
                };
                RedriveMsg::Steered { id, steer, result }
            }
            // Started by `spawn`, never here.
            RedriveCmd::Start { .. } => return None,
        })
    }

    async fn run_browser(&self, cmd: BrowserCmd) -> BrowserMsg {
        let b = self.broker.as_ref();
        match cmd {
            BrowserCmd::Load {
                queue,
                release,
                cap,
            } => {
                if !release.is_empty() {
                    recovery::set_visibility(b, &queue, release, Duration::ZERO).await;
                }
                let r = recovery::load(b, &queue, cap, recovery::BROWSE_VISIBILITY).await;
                BrowserMsg::Loaded(queue, r)
            }
            BrowserCmd::Extend { queue, receipts } => {
                let failed =
                    recovery::set_visibility(b, &queue, receipts, recovery::BROWSE_VISIBILITY)
                        .await;
                BrowserMsg::Extended(queue, failed)
            }
            BrowserCmd::Release { queue, receipts } => {
                let failed = recovery::set_visibility(b, &queue, receipts, Duration::ZERO).await;
                for (_, e) in &failed {
                    tracing::warn!("releasing a message in {}: {e}", queue.name);
                }
                BrowserMsg::Extended(queue, Vec::new())
            }
            BrowserCmd::Requeue(req) => {
                let outcome = recovery::requeue(b, &self.audit, &req).await;
                BrowserMsg::Requeued(req, outcome)
            }
            BrowserCmd::Delete {
                queue,
                message,
                retry,
            } => {
                let result = if retry {
                    recovery::retry_delete(b, &self.audit, &queue, &message).await
                } else {
                    recovery::delete(b, &self.audit, &queue, &message).await
                };
                BrowserMsg::Deleted {
                    queue,
                    message_id: message.message_id,
                    result,
                    retry,
                }
            }
            BrowserCmd::Export {
                path,
                contents,
                count,
            } => {
                let wanted = std::path::PathBuf::from(&path);
                let written = tokio::task::spawn_blocking(move || {
                    crate::files::write_new(&wanted, contents.as_bytes())
                })
                .await;
                let (path, result) = match written {
                    Ok(Ok(p)) => (p.display().to_string(), Ok(())),
                    Ok(Err(e)) => (path, Err(e.to_string())),
                    Err(e) => (path, Err(e.to_string())),
                };
                BrowserMsg::Exported {
                    path,
                    count,
                    result,
                }
            }
        }
    }
}

/// Runs the dashboard until the user quits.
pub async fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    mut app: App,
    broker: Arc<dyn Broker>,
    sim: Option<SimBroker>,
    theme: Theme,
    audit: Audit,
) -> anyhow::Result<()>
where
    B::Error: Send + Sync + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    let executor =
        Executor::new(broker, tx.clone(), app.refresh.max_concurrency, audit).with_simulation(sim);

    let input_tx = tx.clone();
    let input = tokio::spawn(async move {
        let mut events = EventStream::new();
        while let Some(event) = events.next().await {
            let msg = match event {
                Ok(Event::Key(key)) => Msg::Key(key),
                Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
                Ok(Event::Mouse(m)) => Msg::Mouse(m),
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!("reading the terminal: {e}");
                    break;
                }
            };
            if input_tx.send(msg).is_err() {
                break;
            }
        }
    });
    let signal_tx = tx.clone();
    let signals = tokio::spawn(async move {
        terminated().await;
        let _ = signal_tx.send(Msg::Terminate);
    });
    let ticker = tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            if tx.send(Msg::Tick(Instant::now())).is_err() {
                break;
            }
        }
    });

    let size = terminal.size()?;
    app.update(Msg::Resize(size.width, size.height));
    let mut frames = FramePacer::new(Instant::now());
    dispatch(&executor, app.update(Msg::Tick(Instant::now()))).await;
    while !app.quit {
        if app.dirty {
            let now = Instant::now();
            let due = frames.due(now);
            if due <= now {
                app.settle();
                terminal.draw(|f| ui::draw(f, &app, &theme))?;
                app.dirty = false;
                frames.drawn(Instant::now());
            } else {
                // Coalesce: draw when due, taking in whatever arrives until then.
                if let Ok(Some(msg)) = tokio::time::timeout(due - now, rx.recv()).await {
                    frames.received(&msg);
                    dispatch(&executor, app.update(msg)).await;
                }
                continue;
            }
        }
        let Some(msg) = rx.recv().await else {
            break;
        };
        frames.received(&msg);
        dispatch(&executor, app.update(msg)).await;
    }
    input.abort();
    ticker.abort();
    signals.abort();
    Ok(())
}

/// Resolves on SIGTERM, SIGINT (Ctrl-C outside raw mode, `kill -INT`) or SIGHUP
/// (the terminal closed: what is held must still be given back).
pub(crate) async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(mut term), Ok(mut int), Ok(mut hup)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                    _ = hup.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// When to draw the next frame, once the app is dirty.
///
/// Input (keys, resize) is drawn at once, frame budget permitting. Data is drawn
/// [`SETTLE`] after it first made the screen dirty, so the results of one poll
/// round, which arrive within moments of each other, and the clock's once-a-second
/// change, share one frame instead of costing one each. Never more often than
/// every [`MIN_FRAME`].
struct FramePacer {
    last_draw: Instant,
    /// When the screen first needed drawing since the last frame.
    dirty_since: Option<Instant>,
    /// Whether a key or resize is waiting to be shown.
    input: bool,
}

impl FramePacer {
    fn new(now: Instant) -> Self {
        FramePacer {
            last_draw: now.checked_sub(MIN_FRAME).unwrap_or(now),
            dirty_since: None,
            input: false,
        }
    }

    fn received(&mut self, msg: &Msg) {
        self.input |= matches!(msg, Msg::Key(_) | Msg::Mouse(_) | Msg::Resize(..));
    }

    /// When the frame for a dirty app is due; called only while it is dirty.
    fn due(&mut self, now: Instant) -> Instant {
        let since = *self.dirty_since.get_or_insert(now);
        let budget = self.last_draw + MIN_FRAME;
        if self.input {
            budget
        } else {
            budget.max(since + SETTLE)
        }
    }

    fn drawn(&mut self, now: Instant) {
        self.last_draw = now;
        self.dirty_since = None;
        self.input = false;
    }
}

/// Spawns commands; when one of them is `Quit`, runs the others to the end first,
/// all at once and within [`QUIT_GRACE`] in all, so that a server that never
/// answers cannot hold the exit.
async fn dispatch(executor: &Executor, cmds: Vec<Cmd>) {
    if cmds.contains(&Cmd::Quit) {
        let last = cmds
            .into_iter()
            .filter(|c| *c != Cmd::Quit)
            .map(|cmd| executor.run(cmd));
        if tokio::time::timeout(QUIT_GRACE, futures::future::join_all(last))
            .await
            .is_err()
        {
            tracing::warn!("gave up waiting for the last commands while quitting");
        }
    } else {
        for cmd in cmds {
            executor.spawn(cmd);
        }
    }
}
