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
pub const COFFEE_SHOP: &str = include_str!("../../../assets/demo/coffee-shop.toml");

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
}

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

    /// Whether a call may go through now; moves OPEN to HALF-OPEN after the cool-down.
    fn allow(&mut self, now: Duration) -> bool {
        if self.state == BreakerState::Open
            && now >= self.since + Duration::from_secs(self.def.cool_down_secs)
        {
            self.set(
                now,
                BreakerState::HalfOpen,
                format!(
                    "cool-down of {}s over: canary call",
                    self.def.cool_down_secs
                ),
            );
        }
        self.state != BreakerState::Open
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
            });
        }
        let services = file
            .services
            .iter()
            .map(|s| (s.name.clone(), s.healthy))
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
        Ok(Scenario {
            producer_budget: vec![0.0; file.producers.len()],
            consumer_budget: vec![0.0; file.consumers.len()],
            rng: StdRng::seed_from_u64(file.seed),
            file,
            services,
            breakers,
            rate_factor: 1.0,
            produced: 0,
        })
    }

    /// Breaks a healthy service or fixes a broken one; returns whether it is now healthy.
    pub fn toggle_service(&mut self, name: &str) -> Option<bool> {
        let healthy = self.services.get_mut(name)?;
        *healthy = !*healthy;
        Some(*healthy)
    }

    pub fn service_healthy(&self, name: &str) -> Option<bool> {
        self.services.get(name).copied()
    }

    /// The first service with a breaker in front of it: what `f` breaks.
    pub fn main_service(&self) -> Option<String> {
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
                    }
                }
            }
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
        let healthy = self.services.get(service).copied().unwrap_or(true);
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
