//! The built-in simulation: an SQS model plus a scenario, behind the `Broker` trait.

mod canary;
pub mod model;
pub mod scenario;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use crate::breaker::BreakerReading;
use crate::broker::{
    AlarmState, BatchOutcome, Broker, BrokerResult, Message, MoveTask, OutgoingMessage, QueueAttrs,
    QueueMetrics, QueueRef, QueueSelection,
};
use model::Model;
use scenario::{Scenario, ScenarioFile};

/// The longest step of model time taken at once, so the scenario stays smooth.
const MAX_STEP: Duration = Duration::from_millis(100);

/// The model and its scenario, advanced together.
#[derive(Debug)]
pub struct Sim {
    pub model: Model,
    pub scenario: Scenario,
    pub paused: bool,
}

impl Sim {
    pub fn new(file: ScenarioFile) -> Result<Self, String> {
        let mut model = Model::new(chrono::Utc::now());
        let scenario = Scenario::build(file, &mut model)?;
        Ok(Sim {
            model,
            scenario,
            paused: false,
        })
    }

    /// Runs the scenario for `dt` of model time, in small steps.
    pub fn advance(&mut self, mut dt: Duration) {
        while !dt.is_zero() {
            let step = dt.min(MAX_STEP);
            self.model.advance(step);
            self.scenario.step(&mut self.model, step);
            dt -= step;
        }
    }
}

/// A demo control, from the presenter's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoAction {
    /// Break the main service, or fix it.
    ToggleFault,
    Faster,
    Slower,
    TogglePause,
}

/// The simulation as a broker. Cloning shares the same simulation.
#[derive(Debug, Clone)]
pub struct SimBroker {
    sim: Arc<Mutex<Sim>>,
}

impl SimBroker {
    pub fn new(sim: Sim) -> Self {
        SimBroker {
            sim: Arc::new(Mutex::new(sim)),
        }
    }

    /// The built-in coffee-shop scenario.
    pub fn coffee_shop() -> Result<Self, String> {
        let file = ScenarioFile::parse(scenario::COFFEE_SHOP).map_err(|e| e.to_string())?;
        Ok(Self::new(Sim::new(file)?))
    }

    pub fn lock(&self) -> MutexGuard<'_, Sim> {
        crate::sync::lock(&self.sim)
    }

    /// Advances the simulation unless paused (used by the driver and by tests).
    pub fn advance(&self, dt: Duration) {
        let mut sim = self.lock();
        if !sim.paused {
            sim.advance(dt);
        }
    }

    /// Runs the simulation in the background: `speed` model seconds per real second.
    pub fn spawn_driver(&self, speed: f64) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let tick = Duration::from_millis(100);
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                this.advance(tick.mul_f64(speed));
            }
        })
    }

    /// The scenario's story lines from index `from` on (the ticker stamps them
    /// when they arrive, like every other line).
    pub(crate) fn story_since(&self, from: usize) -> Vec<String> {
        let sim = self.lock();
        sim.scenario
            .story()
            .iter()
            .skip(from)
            .map(|(_, text)| text.clone())
            .collect()
    }

    pub fn breaker(&self, name: &str) -> Option<BreakerReading> {
        let sim = self.lock();
        sim.scenario.breaker_reading(name, &sim.model)
    }

    /// Applies a presenter's key; returns what happened, for the status bar.
    pub fn control(&self, action: DemoAction) -> String {
        let mut sim = self.lock();
        match action {
            DemoAction::ToggleFault => {
                let Some(service) = sim.scenario.main_service() else {
                    return "this scenario has no service to break".into();
                };
                match sim.scenario.toggle_service(&service) {
                    Some(true) => format!("{service} fixed: calls succeed again"),
                    Some(false) => format!("{service} broken: every call fails"),
                    None => format!("no service {service}"),
                }
            }
            DemoAction::Faster | DemoAction::Slower => {
                let f = if action == DemoAction::Faster {
                    1.5
                } else {
                    1.0 / 1.5
                };
                sim.scenario.rate_factor = (sim.scenario.rate_factor * f).clamp(0.05, 50.0);
                format!("producer rate ×{:.2}", sim.scenario.rate_factor)
            }
            DemoAction::TogglePause => {
                sim.paused = !sim.paused;
                if sim.paused {
                    "simulation paused".into()
                } else {
                    "simulation resumed".into()
                }
            }
        }
    }
}

fn name_of(queue: &QueueRef) -> &str {
    queue.name.as_str()
}

#[async_trait]
impl Broker for SimBroker {
    fn describe(&self) -> String {
        format!("demo: {}", self.lock().scenario.file.name)
    }

    async fn list_queues(&self, selection: &QueueSelection) -> BrokerResult<Vec<QueueRef>> {
        Ok(self
            .lock()
            .model
            .list_queues()
            .into_iter()
            .filter(|q| selection.matches(&q.name))
            .collect())
    }

    async fn queue_attributes(&self, queue: &QueueRef) -> BrokerResult<QueueAttrs> {
        self.lock().model.attributes(name_of(queue))
    }

    async fn dead_letter_sources(&self, dlq: &QueueRef) -> BrokerResult<Vec<QueueRef>> {
        self.lock().model.dead_letter_sources(name_of(dlq))
    }

    async fn metrics(&self, queues: &[QueueRef]) -> BrokerResult<Vec<QueueMetrics>> {
        let sim = self.lock();
        queues
            .iter()
            .map(|q| sim.model.metrics(name_of(q)))
            .collect()
    }

    async fn alarm_state(&self, alarm: &str) -> BrokerResult<AlarmState> {
        self.lock().model.alarm(alarm)
    }

    async fn receive(
        &self,
        queue: &QueueRef,
        max: u32,
        visibility: Duration,
    ) -> BrokerResult<Vec<Message>> {
        self.lock().model.receive(name_of(queue), max, visibility)
    }

    async fn send(&self, queue: &QueueRef, message: OutgoingMessage) -> BrokerResult<String> {
        self.lock().model.send(name_of(queue), message)
    }

    async fn send_batch(
        &self,
        queue: &QueueRef,
        messages: Vec<OutgoingMessage>,
    ) -> BrokerResult<BatchOutcome<String>> {
        self.lock().model.send_batch(name_of(queue), messages)
    }

    async fn delete(&self, queue: &QueueRef, receipt_handle: &str) -> BrokerResult<()> {
        self.lock().model.delete(name_of(queue), receipt_handle)
    }

    async fn delete_batch(
        &self,
        queue: &QueueRef,
        receipt_handles: Vec<String>,
    ) -> BrokerResult<BatchOutcome<()>> {
        let mut sim = self.lock();
        Ok(receipt_handles
            .iter()
            .enumerate()
            .map(|(i, h)| (i, sim.model.delete(name_of(queue), h)))
            .collect())
    }

    async fn change_visibility(
        &self,
        queue: &QueueRef,
        receipt_handles: Vec<String>,
        visibility: Duration,
    ) -> BrokerResult<BatchOutcome<()>> {
        let mut sim = self.lock();
        Ok(receipt_handles
            .iter()
            .enumerate()
            .map(|(i, h)| {
                (
                    i,
                    sim.model.change_visibility(name_of(queue), h, visibility),
                )
            })
            .collect())
    }

    async fn start_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        rate: Option<u32>,
    ) -> BrokerResult<String> {
        self.lock()
            .model
            .start_move_task(source_arn, destination_arn, rate)
    }

    async fn list_move_tasks(&self, source_arn: &str) -> BrokerResult<Vec<MoveTask>> {
        Ok(self.lock().model.list_move_tasks(source_arn))
    }

    async fn cancel_move_task(&self, handle: &str) -> BrokerResult<u64> {
        self.lock().model.cancel_move_task(handle)
    }
}

impl crate::breaker::DemoBreakers for SimBroker {
    fn reading(&self, name: &str) -> Option<BreakerReading> {
        self.breaker(name)
    }
}
