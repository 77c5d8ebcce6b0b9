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

use crate::app::{App, Cmd, Msg};
use crate::breaker;
use crate::broker::Broker;
use crate::ui;
use crate::ui::theme::Theme;

const TICK: Duration = Duration::from_millis(250);
const MIN_FRAME: Duration = Duration::from_millis(33);

/// Runs commands against the broker, sending each result back as a message.
#[derive(Clone)]
pub struct Executor {
    broker: Arc<dyn Broker>,
    tx: mpsc::UnboundedSender<Msg>,
    /// Bounds the broker calls in flight at once.
    limit: Arc<Semaphore>,
}

impl Executor {
    pub fn new(
        broker: Arc<dyn Broker>,
        tx: mpsc::UnboundedSender<Msg>,
        concurrency: usize,
    ) -> Self {
        Executor {
            broker,
            tx,
            limit: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// Spawns `cmd`; its result comes back on the channel. `Quit` is handled by the loop.
    pub fn spawn(&self, cmd: Cmd) {
        if cmd == Cmd::Quit {
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
            Cmd::Discover(selection) => Msg::Discovered(b.list_queues(&selection).await),
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
                let r = breaker::read(b, &cfg).await;
                Msg::Breaker(cfg.name, r)
            }
            Cmd::Demo(action) => match b.simulation() {
                Some(sim) => Msg::DemoDone(sim.control(action)),
                None => Msg::DemoDone("not running the demo".into()),
            },
            Cmd::Quit => return None,
        })
    }
}

/// Runs the dashboard until the user quits.
pub async fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    mut app: App,
    broker: Arc<dyn Broker>,
    theme: Theme,
) -> anyhow::Result<()>
where
    B::Error: Send + Sync + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    let executor = Executor::new(broker, tx.clone(), app.refresh.max_concurrency);

    let input_tx = tx.clone();
    let input = tokio::spawn(async move {
        let mut events = EventStream::new();
        while let Some(event) = events.next().await {
            let msg = match event {
                Ok(Event::Key(key)) => Msg::Key(key),
                Ok(Event::Resize(..)) => Msg::Resize,
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

    let mut last_draw = Instant::now() - MIN_FRAME;
    for cmd in app.update(Msg::Tick(Instant::now())) {
        executor.spawn(cmd);
    }
    while !app.quit {
        if app.dirty {
            let wait = MIN_FRAME.saturating_sub(last_draw.elapsed());
            if wait.is_zero() {
                terminal.draw(|f| ui::draw(f, &app, &theme))?;
                app.dirty = false;
                last_draw = Instant::now();
            } else {
                // Coalesce: draw once the frame budget has passed, unless a message comes first.
                if let Ok(Some(msg)) = tokio::time::timeout(wait, rx.recv()).await {
                    for cmd in app.update(msg) {
                        executor.spawn(cmd);
                    }
                }
                continue;
            }
        }
        let Some(msg) = rx.recv().await else {
            break;
        };
        for cmd in app.update(msg) {
            executor.spawn(cmd);
        }
    }
    input.abort();
    ticker.abort();
    Ok(())
}
