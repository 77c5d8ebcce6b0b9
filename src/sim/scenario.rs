//! A demo scenario: queues, producers, consumers, downstream services and the
//! circuit breakers in front of them, described in a TOML file under `assets/`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use super::model::{Model, QueueSpec};
use crate::breaker::{BreakerReading, BreakerState, Transition};
use crate::broker::{MessageAttribute, OutgoingMessage};

/// The coffee-shop story, built into the binary so the demo runs anywhere.
pub(crate) const COFFEE_SHOP: &str = include_str!("../../assets/demo/coffee-shop.toml");

/// Scenarios built into the binary, by name (`--scenario NAME`).
pub(crate) const BUILT_IN: [(&str, &str); 3] = [
    ("coffee-shop", COFFEE_SHOP),
    (
        "coffee-shop-story",
        include_str!("../../assets/demo/coffee-shop-story.toml"),
    ),
    (
        "retry-backoff",
        include_str!("../../assets/demo/retry-backoff.toml"),
    ),
];

/// The text of a built-in scenario.
pub fn built_in(name: &str) -> Option<&'static str> {
    BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default, rename = "queue")]
    pub queues: Vec<QueueDef>,
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceDef>,
    #[serde(default, rename = "breaker")]
    pub breakers: Vec<BreakerDef>,
    #[serde(default, rename = "producer")]
    pub producers: Vec<ProducerDef>,
    #[serde(default, rename = "consumer")]
    pub consumers: Vec<ConsumerDef>,
    /// Scheduled events, so a talk runs hands-free.
    #[serde(default, rename = "event")]
    pub events: Vec<EventDef>,
}

/// Something that happens at a set time in the scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventDef {
    /// Seconds of simulated time since the start.
    pub at_secs: f64,
    pub action: EventAction,
    /// For `break` and `fix`.
    pub service: Option<String>,
    /// For `set_rate` (a producer's queue) and `start_redrive` (the DLQ).
    pub queue: Option<String>,
    /// For `set_rate`.
    pub per_second: Option<f64>,
    /// For `start_redrive`: messages per second (a canary's target).
    pub rate: Option<u32>,
    /// For `start_redrive`: a canary from 1 msg/s, doubling every 30 s while
    /// nothing comes back.
    #[serde(default)]
    pub canary: bool,
    /// For `say`: a line for the event ticker.
    pub text: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EventAction {
    /// Make every call to a service fail.
    Break,
    /// Make a service healthy again.
    Fix,
    /// Change a producer's rate.
    SetRate,
    /// Start a rate-limited move task from a DLQ back to its sources.
    StartRedrive,
    /// Only tell the story.
    Say,
}

fn default_seed() -> u64 {
    7
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueDef {
    pub name: String,
    #[serde(default = "default_visibility")]
    pub visibility_timeout_secs: u64,
    #[serde(default = "default_retention")]
    pub retention_secs: u64,
    #[serde(default)]
    pub delay_secs: u64,
    #[serde(default)]
    pub content_based_dedup: bool,
    pub dead_letter_queue: Option<String>,
    #[serde(default = "default_max_receive")]
    pub max_receive_count: u32,
}

fn default_visibility() -> u64 {
    30
}
fn default_retention() -> u64 {
    4 * 24 * 3600
}
fn default_max_receive() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDef {
    pub name: String,
    #[serde(default = "yes")]
    pub healthy: bool,
    /// Share of calls that fail even while healthy (a flaky dependency).
    #[serde(default)]
    pub failure_rate: f64,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerDef {
    pub name: String,
    pub service: String,
    /// Consecutive failures that open the circuit.
    #[serde(default = "default_threshold")]
    pub failure_threshold: u32,
    /// How long the circuit stays open before a canary call is allowed.
    #[serde(default = "default_cool_down")]
    pub cool_down_secs: u64,
}

fn default_threshold() -> u32 {
    5
}
fn default_cool_down() -> u64 {
    15
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PayloadKind {
    Order,
    Invoice,
    Notification,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProducerDef {
    pub queue: String,
    pub per_second: f64,
    pub payload: PayloadKind,
    /// Share of messages that are malformed (a poison message fails on its own).
    #[serde(default)]
    pub poison_ratio: f64,
    /// FIFO message groups to spread messages over.
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerDef {
    pub queue: String,
    pub per_second: f64,
    /// The downstream service each message is handed to.
    pub service: Option<String>,
    /// The breaker guarding calls to that service.
    pub breaker: Option<String>,
    /// Retry with backoff: a failed message is sent here with a growing delay
    /// (and deleted from where it was) instead of waiting for its visibility timeout.
    pub retry_queue: Option<String>,
    /// The first retry's delay; each next one doubles (at most 900 s, SQS's limit).
    #[serde(default = "default_retry_delay")]
    pub retry_base_delay_secs: u64,
    /// Retries before a message goes to `dead_letter_queue`.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Where a message goes after its last retry.
    pub dead_letter_queue: Option<String>,
}

fn default_retry_delay() -> u64 {
    2
}
fn default_max_retries() -> u32 {
    4
}

/// The message attribute that counts retries.
pub(crate) const ATTEMPT_ATTRIBUTE: &str = "attempt";

impl ScenarioFile {
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

#[derive(Debug, Clone)]
struct Breaker {
    def: BreakerDef,
    state: BreakerState,
    since: Duration,
    failures: u32,
    transitions: Vec<(Duration, BreakerState, BreakerState, String)>,
}

impl Breaker {
    fn set(&mut self, now: Duration, to: BreakerState, reason: String) {
        if self.state != to {
            self.transitions.push((now, self.state, to, reason));
            self.state = to;
            self.since = now;
        }
    }

    /// Whether a call may go through now. After the cool-down OPEN becomes
    /// HALF-OPEN and a canary call is on its way; the first call after
    /// [`CANARY_SECS`] is that canary, and its outcome closes or reopens the circuit.
    fn allow(&mut self, now: Duration) -> bool {
        match self.state {
            BreakerState::Open
                if now >= self.since + Duration::from_secs(self.def.cool_down_secs) =>
            {
                self.set(
                    now,
                    BreakerState::HalfOpen,
                    format!(
                        "cool-down of {}s over: canary call",
                        self.def.cool_down_secs
                    ),
                );
                false
            }
            BreakerState::Open => false,
            BreakerState::HalfOpen => now >= self.since + Duration::from_secs(CANARY_SECS),
            _ => true,
        }
    }

    fn record(&mut self, now: Duration, ok: bool) {
        if ok {
            self.failures = 0;
            if self.state == BreakerState::HalfOpen {
                self.set(
                    now,
                    BreakerState::Closed,
                    format!("canary call to {} succeeded", self.def.service),
                );
            }
        } else {
            self.failures += 1;
            if self.state == BreakerState::HalfOpen {
                self.set(
                    now,
                    BreakerState::Open,
                    format!("canary call to {} failed", self.def.service),
                );
            } else if self.failures >= self.def.failure_threshold {
                self.set(
                    now,
                    BreakerState::Open,
                    format!(
                        "{} failed calls in a row to {}",
                        self.failures, self.def.service
                    ),
                );
            }
        }
    }
}

/// How long a canary call takes: the circuit stays HALF-OPEN meanwhile.
const CANARY_SECS: u64 = 2;

/// The running scenario: everything around the queues.
#[derive(Debug)]
pub struct Scenario {
    pub file: ScenarioFile,
    services: BTreeMap<String, bool>,
    breakers: BTreeMap<String, Breaker>,
    /// Multiplier on every producer's rate (the `+`/`-` keys).
    pub rate_factor: f64,
    producer_budget: Vec<f64>,
    consumer_budget: Vec<f64>,
    produced: u64,
    rng: StdRng,
    services_failure: BTreeMap<String, f64>,
    /// Indices of scheduled events not yet fired.
    pending_events: Vec<usize>,
    /// What happened, for the event ticker: (model time, text).
    story: Vec<(Duration, String)>,
    /// A canary redrive the story started.
    canary: Option<super::canary::StoryCanary>,
}

impl Scenario {
    /// Builds the model's queues and the scenario around them.
    pub fn build(file: ScenarioFile, model: &mut Model) -> Result<Self, String> {
        let names: Vec<&str> = file.queues.iter().map(|q| q.name.as_str()).collect();
        for q in &file.queues {
            if let Some(dlq) = &q.dead_letter_queue
                && !names.contains(&dlq.as_str())
            {
                return Err(format!(
                    "queue {} names dead_letter_queue {dlq}, which is not defined",
                    q.name
                ));
            }
        }
        let check = |what: &str, q: &str| {
            if names.contains(&q) {
                Ok(())
            } else {
                Err(format!("{what} names queue {q}, which is not defined"))
            }
        };
        for p in &file.producers {
            check("a producer", &p.queue)?;
        }
        for c in &file.consumers {
            check("a consumer", &c.queue)?;
            for q in [&c.retry_queue, &c.dead_letter_queue].into_iter().flatten() {
                check("a consumer", q)?;
            }
        }
        let service_names: Vec<&str> = file.services.iter().map(|s| s.name.as_str()).collect();
        for (i, e) in file.events.iter().enumerate() {
            let what = format!("event {} (at_secs = {})", i + 1, e.at_secs);
            let need = |field: bool, name: &str| {
                if field {
                    Ok(())
                } else {
                    Err(format!("{what}: {:?} needs {name}", e.action))
                }
            };
            match e.action {
                EventAction::Break | EventAction::Fix => {
                    need(e.service.is_some(), "service")?;
                    let svc = e.service.as_deref().unwrap_or_default();
                    if !service_names.contains(&svc) {
                        return Err(format!("{what}: no service named {svc}"));
                    }
                }
                EventAction::SetRate => {
                    need(
                        e.queue.is_some() && e.per_second.is_some(),
                        "queue and per_second",
                    )?;
                    let q = e.queue.as_deref().unwrap_or_default();
                    if !file.producers.iter().any(|p| p.queue == q) {
                        return Err(format!("{what}: no producer sends to {q}"));
                    }
                }
                EventAction::StartRedrive => {
                    need(e.queue.is_some(), "queue")?;
                    check(&what, e.queue.as_deref().unwrap_or_default())?;
                }
                EventAction::Say => need(e.text.is_some(), "text")?,
            }
        }
        for q in &file.queues {
            model.create_queue(QueueSpec {
                name: q.name.clone(),
                visibility_timeout: Duration::from_secs(q.visibility_timeout_secs),
                retention: Duration::from_secs(q.retention_secs),
                delay: Duration::from_secs(q.delay_secs),
                content_based_dedup: q.content_based_dedup,
                redrive: q
                    .dead_letter_queue
                    .clone()
                    .map(|d| (d, q.max_receive_count)),
                max_message_size: crate::broker::DEFAULT_MAX_MESSAGE_BYTES,
            });
        }
        let services = file
            .services
            .iter()
            .map(|s| (s.name.clone(), s.healthy))
            .collect();
        let services_failure = file
            .services
            .iter()
            .map(|s| (s.name.clone(), s.failure_rate.clamp(0.0, 1.0)))
            .collect();
        let breakers = file
            .breakers
            .iter()
            .map(|b| {
                (
                    b.name.clone(),
                    Breaker {
                        def: b.clone(),
                        state: BreakerState::Closed,
                        since: Duration::ZERO,
                        failures: 0,
                        transitions: Vec::new(),
                    },
                )
            })
            .collect();
        let file_events_len = file.events.len();
        Ok(Scenario {
            producer_budget: vec![0.0; file.producers.len()],
            consumer_budget: vec![0.0; file.consumers.len()],
            rng: StdRng::seed_from_u64(file.seed),
            file,
            services,
            breakers,
            rate_factor: 1.0,
            produced: 0,
            services_failure,
            pending_events: (0..file_events_len).collect(),
            story: Vec::new(),
            canary: None,
        })
    }

    /// Breaks a healthy service or fixes a broken one; returns whether it is now healthy.
    pub(crate) fn toggle_service(&mut self, name: &str) -> Option<bool> {
        let healthy = !*self.services.get(name)?;
        self.set_service(name, healthy);
        Some(healthy)
    }

    fn set_service(&mut self, name: &str, healthy: bool) {
        if let Some(h) = self.services.get_mut(name) {
            *h = healthy;
        }
    }

    /// What happened so far, for the event ticker.
    pub fn story(&self) -> &[(Duration, String)] {
        &self.story
    }

    /// Fires the scheduled events that are due.
    fn fire_events(&mut self, model: &mut Model) {
        let now = model.now().as_secs_f64();
        let due: Vec<usize> = self
            .pending_events
            .iter()
            .copied()
            .filter(|&i| self.file.events[i].at_secs <= now)
            .collect();
        self.pending_events.retain(|i| !due.contains(i));
        for i in due {
            let e = self.file.events[i].clone();
            let text = match e.action {
                EventAction::Break | EventAction::Fix => {
                    let svc = e.service.unwrap_or_default();
                    let healthy = e.action == EventAction::Fix;
                    self.set_service(&svc, healthy);
                    format!("{svc} {}", if healthy { "back up" } else { "down" })
                }
                EventAction::SetRate => {
                    let q = e.queue.unwrap_or_default();
                    let rate = e.per_second.unwrap_or(0.0);
                    for p in self.file.producers.iter_mut().filter(|p| p.queue == q) {
                        p.per_second = rate;
                    }
                    format!("{q}: producers now at {rate}/s")
                }
                EventAction::StartRedrive if e.canary => {
                    let q = e.queue.unwrap_or_default();
                    let rate = e.rate.unwrap_or(1).clamp(1, 500);
                    match super::canary::StoryCanary::start(model, &q, rate) {
                        Ok(c) => {
                            self.canary = Some(c);
                            format!("canary redrive of {q} started at 1/s, toward {rate}/s")
                        }
                        Err(err) => format!("redrive of {q} not started: {err}"),
                    }
                }
                EventAction::StartRedrive => {
                    let q = e.queue.unwrap_or_default();
                    let rate = e.rate.unwrap_or(1).clamp(1, 500);
                    match model.start_move_task(&super::model::arn(&q), None, Some(rate)) {
                        Ok(_) => format!("redrive of {q} started at {rate}/s"),
                        Err(err) => format!("redrive of {q} not started: {err}"),
                    }
                }
                EventAction::Say => e.text.unwrap_or_default(),
            };
            self.story.push((model.now(), text));
        }
        if let Some(text) = self.canary.as_mut().and_then(|c| c.step(model)) {
            self.story.push((model.now(), text));
        }
    }

    pub(crate) fn service_healthy(&self, name: &str) -> Option<bool> {
        self.services.get(name).copied()
    }

    /// The first service with a breaker in front of it: what `f` breaks.
    pub(crate) fn main_service(&self) -> Option<String> {
        self.file
            .breakers
            .first()
            .map(|b| b.service.clone())
            .or_else(|| self.file.services.first().map(|s| s.name.clone()))
    }

    pub fn breaker_reading(&self, name: &str, model: &Model) -> Option<BreakerReading> {
        let b = self.breakers.get(name)?;
        let wall = |d: Duration| -> DateTime<Utc> { model.wall(d) };
        let healthy = self.service_healthy(&b.def.service).unwrap_or(true);
        Some(BreakerReading {
            state: b.state,
            since: Some(wall(b.since)),
            detail: format!(
                "{} is {}",
                b.def.service,
                if healthy { "up" } else { "down" }
            ),
            transitions: Some(
                b.transitions
                    .iter()
                    .map(|(at, from, to, reason)| Transition {
                        at: wall(*at),
                        from: *from,
                        to: *to,
                        reason: reason.clone(),
                    })
                    .collect(),
            ),
        })
    }

    /// Runs producers and consumers for `dt` of model time (the model's clock is
    /// advanced by the caller).
    pub fn step(&mut self, model: &mut Model, dt: Duration) {
        self.fire_events(model);
        for i in 0..self.file.producers.len() {
            let p = self.file.producers[i].clone();
            self.producer_budget[i] += p.per_second * self.rate_factor * dt.as_secs_f64();
            while self.producer_budget[i] >= 1.0 {
                self.producer_budget[i] -= 1.0;
                let msg = self.payload(&p);
                if let Err(e) = model.send(&p.queue, msg) {
                    tracing::warn!("demo producer for {}: {e}", p.queue);
                }
            }
        }
        for i in 0..self.file.consumers.len() {
            let c = self.file.consumers[i].clone();
            self.consumer_budget[i] += c.per_second * dt.as_secs_f64();
            let mut n = self.consumer_budget[i].floor() as u32;
            self.consumer_budget[i] -= n as f64;
            while n > 0 {
                let visibility = model
                    .attributes(&c.queue)
                    .map(|a| a.visibility_timeout)
                    .unwrap_or(Duration::from_secs(30));
                let Ok(batch) = model.receive(&c.queue, n.min(10), visibility) else {
                    break;
                };
                if batch.is_empty() {
                    // An idle consumer does not save up capacity.
                    self.consumer_budget[i] = 0.0;
                    break;
                }
                n = n.saturating_sub(batch.len() as u32);
                for m in batch {
                    if self.process(&c, &m.body, model.now()) {
                        let _ = model.delete(&c.queue, &m.receipt_handle);
                    } else if c.retry_queue.is_some() {
                        self.retry_later(&c, model, m);
                    }
                }
            }
        }
    }

    /// Retry with backoff: send the failed message on with a growing delay (or to
    /// the dead-letter queue after the last retry), then delete it here.
    fn retry_later(&mut self, c: &ConsumerDef, model: &mut Model, m: crate::broker::Message) {
        let attempt: u32 = m
            .attributes
            .get(ATTEMPT_ATTRIBUTE)
            .and_then(|a| a.value.parse().ok())
            .unwrap_or(0);
        let (target, delay) = if attempt < c.max_retries {
            let delay = (c.retry_base_delay_secs << attempt.min(16)).min(900);
            (c.retry_queue.clone(), Duration::from_secs(delay))
        } else {
            (c.dead_letter_queue.clone(), Duration::ZERO)
        };
        let Some(target) = target else {
            return;
        };
        let mut attributes = m.attributes.clone();
        attributes.insert(
            ATTEMPT_ATTRIBUTE.to_string(),
            MessageAttribute {
                data_type: "Number".into(),
                value: (attempt + 1).to_string(),
            },
        );
        let out = OutgoingMessage {
            body: m.body.clone(),
            attributes,
            group_id: m.group_id.clone(),
            dedup_id: None,
            delay: Some(delay),
            trace_header: m.trace_header.clone(),
        };
        // Send, then delete: a failed send leaves the message where it was.
        if model.send(&target, out).is_ok() {
            let _ = model.delete(&c.queue, &m.receipt_handle);
        }
    }

    /// Handles one message; `true` when it succeeded and may be deleted.
    fn process(&mut self, c: &ConsumerDef, body: &str, now: Duration) -> bool {
        if !well_formed(body) {
            return false;
        }
        let Some(service) = &c.service else {
            return true;
        };
        let failure_rate = self.services_failure.get(service).copied().unwrap_or(0.0);
        let healthy = self.services.get(service).copied().unwrap_or(true)
            && !(failure_rate > 0.0 && self.rng.random_bool(failure_rate));
        match c.breaker.as_ref().and_then(|b| self.breakers.get_mut(b)) {
            Some(breaker) => {
                if !breaker.allow(now) {
                    return false;
                }
                breaker.record(now, healthy);
                healthy
            }
            None => healthy,
        }
    }

    fn payload(&mut self, p: &ProducerDef) -> OutgoingMessage {
        self.produced += 1;
        let n = self.produced;
        let poison = self.rng.random_bool(p.poison_ratio.clamp(0.0, 1.0));
        let pick =
            |rng: &mut StdRng, items: &[&'static str]| items[rng.random_range(0..items.len())];
        let body = match p.payload {
            PayloadKind::Order => {
                let customer = pick(&mut self.rng, CUSTOMERS);
                let coffee = pick(&mut self.rng, COFFEES);
                let size = pick(&mut self.rng, &["small", "medium", "large"]);
                let store = self.rng.random_range(1..40);
                let cents = self.rng.random_range(250..900);
                let mut order = serde_json::json!({
                    "order_id": format!("ord-{n:06}"),
                    "customer": customer,
                    "coffee": coffee,
                    "size": size,
                    "store_id": format!("store-{store:02}"),
                    "amount": cents as f64 / 100.0,
                    "currency": "USD",
                });
                if poison && let Some(o) = order.as_object_mut() {
                    o.remove("store_id");
                }
                order.to_string()
            }
            PayloadKind::Invoice => {
                let customer = pick(&mut self.rng, CUSTOMERS);
                let cents: u32 = self.rng.random_range(1000..50000);
                let total = if poison {
                    serde_json::Value::String("n/a".into())
                } else {
                    serde_json::json!(cents as f64 / 100.0)
                };
                serde_json::json!({
                    "invoice_id": format!("inv-{n:06}"),
                    "customer": customer,
                    "total": total,
                    "lines": self.rng.random_range(1..6),
                })
                .to_string()
            }
            PayloadKind::Notification => serde_json::json!({
                "notification_id": format!("ntf-{n:06}"),
                "channel": pick(&mut self.rng, &["sms", "email", "push"]),
                "text": "Your coffee is ready",
            })
            .to_string(),
        };
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "source".to_string(),
            MessageAttribute {
                data_type: "String".into(),
                value: "demo".into(),
            },
        );
        let group_id = (!p.groups.is_empty())
            .then(|| p.groups[self.rng.random_range(0..p.groups.len())].clone());
        OutgoingMessage {
            body,
            attributes,
            group_id,
            dedup_id: None,
            delay: None,
            trace_header: None,
        }
    }
}

/// What a demo consumer accepts: an order needs a store, an invoice a numeric total.
fn well_formed(body: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return false;
    };
    if v.get("order_id").is_some() && v.get("store_id").is_none() {
        return false;
    }
    if let Some(total) = v.get("total") {
        return total.is_number();
    }
    true
}

const CUSTOMERS: &[&str] = &[
    "Parnab", "Tom", "Ana", "Wei", "Fatima", "Lars", "Priya", "Kofi", "Mei", "Diego",
];
const COFFEES: &[&str] = &[
    "flat white",
    "latte",
    "espresso",
    "cappuccino",
    "americano",
    "mocha",
    "cortado",
];
