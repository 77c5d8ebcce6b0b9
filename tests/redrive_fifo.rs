//! FIFO groups under partial batch failures: the client-side mover moves groups in
//! parallel, and a message that fails (for a while, or for good) never lets a later
//! message of its group reach the destination before it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lazysqs::broker::{
    AlarmState, BatchOutcome, Broker, BrokerError, BrokerResult, Message, MoveTask,
    OutgoingMessage, QueueAttrs, QueueMetrics, QueueRef, QueueSelection,
};
use lazysqs::redrive::ClientOptions;
use lazysqs::redrive::mover::{self, MoverConfig, Target};
use lazysqs::sim::model::{arn, queue_ref};
use lazysqs::sim::scenario::ScenarioFile;
use lazysqs::sim::{Sim, SimBroker};

const SCENARIO: &str = r#"
name = "fifo-failures"

[[queue]]
name = "inv.fifo"
dead_letter_queue = "inv-dlq.fifo"
max_receive_count = 1

[[queue]]
name = "inv-dlq.fifo"
"#;

const GROUPS: usize = 4;
const PER_GROUP: usize = 25;

/// The simulation, with sends of chosen bodies failing: `once` fail the first time
/// (throttled), `always` fail every time (invalid). It records every send call's
/// groups.
struct Flaky {
    inner: SimBroker,
    once: Mutex<HashSet<String>>,
    always: HashSet<String>,
    calls: Mutex<Vec<Vec<Option<String>>>>,
}

#[async_trait]
impl Broker for Flaky {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn list_queues(&self, s: &QueueSelection) -> BrokerResult<Vec<QueueRef>> {
        self.inner.list_queues(s).await
    }
    async fn queue_attributes(&self, q: &QueueRef) -> BrokerResult<QueueAttrs> {
        self.inner.queue_attributes(q).await
    }
    async fn dead_letter_sources(&self, q: &QueueRef) -> BrokerResult<Vec<QueueRef>> {
        self.inner.dead_letter_sources(q).await
    }
    async fn metrics(&self, qs: &[QueueRef]) -> BrokerResult<Vec<QueueMetrics>> {
        self.inner.metrics(qs).await
    }
    async fn alarm_state(&self, a: &str) -> BrokerResult<AlarmState> {
        self.inner.alarm_state(a).await
    }
    async fn receive(&self, q: &QueueRef, max: u32, v: Duration) -> BrokerResult<Vec<Message>> {
        self.inner.receive(q, max, v).await
    }
    async fn send(&self, q: &QueueRef, m: OutgoingMessage) -> BrokerResult<String> {
        self.inner.send(q, m).await
    }
    async fn send_batch(
        &self,
        q: &QueueRef,
        m: Vec<OutgoingMessage>,
    ) -> BrokerResult<BatchOutcome<String>> {
        self.calls
            .lock()
            .expect("lock")
            .push(m.iter().map(|e| e.group_id.clone()).collect());
        let mut out = Vec::with_capacity(m.len());
        for (i, e) in m.into_iter().enumerate() {
            let fails_once = self.once.lock().expect("lock").remove(&e.body);
            let r = if fails_once {
                Err(BrokerError::Throttled("injected: try again".into()))
            } else if self.always.contains(&e.body) {
                Err(BrokerError::Invalid("injected: this one never goes".into()))
            } else {
                self.inner.send(q, e).await
            };
            out.push((i, r));
        }
        Ok(out)
    }
    async fn delete(&self, q: &QueueRef, h: &str) -> BrokerResult<()> {
        self.inner.delete(q, h).await
    }
    async fn delete_batch(&self, q: &QueueRef, h: Vec<String>) -> BrokerResult<BatchOutcome<()>> {
        self.inner.delete_batch(q, h).await
    }
    async fn change_visibility(
        &self,
        q: &QueueRef,
        h: Vec<String>,
        v: Duration,
    ) -> BrokerResult<BatchOutcome<()>> {
        self.inner.change_visibility(q, h, v).await
    }
    async fn start_move_task(
        &self,
        s: &str,
        d: Option<&str>,
        r: Option<u32>,
    ) -> BrokerResult<String> {
        self.inner.start_move_task(s, d, r).await
    }
    async fn list_move_tasks(&self, s: &str) -> BrokerResult<Vec<MoveTask>> {
        self.inner.list_move_tasks(s).await
    }
    async fn cancel_move_task(&self, h: &str) -> BrokerResult<u64> {
        self.inner.cancel_move_task(h).await
    }
}

fn body(group: usize, seq: usize) -> String {
    format!("g{group}-{seq:02}")
}

/// Fills the DLQ with `GROUPS` groups of `PER_GROUP` messages, in order per group,
/// group by group: a receive of 10 then brings ten of one group, as SQS tends to.
fn fill(sim: &SimBroker) {
    let mut s = sim.lock();
    for group in 0..GROUPS {
        for seq in 0..PER_GROUP {
            let m = OutgoingMessage {
                body: body(group, seq),
                group_id: Some(format!("g{group}")),
                dedup_id: Some(body(group, seq)),
                ..Default::default()
            };
            s.model.send("inv-dlq.fifo", m).expect("send");
        }
    }
}

/// Every body in `queue`, by group, in the order a consumer gets them.
fn by_group(sim: &SimBroker, queue: &str) -> BTreeMap<String, Vec<String>> {
    let mut s = sim.lock();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    loop {
        let got = s
            .model
            .receive(queue, 10, Duration::from_secs(3600))
            .expect("receive");
        if got.is_empty() {
            return out;
        }
        for m in got {
            out.entry(m.group_id.clone().expect("a group"))
                .or_default()
                .push(m.body.clone());
            s.model.delete(queue, &m.receipt_handle).expect("delete");
        }
    }
}

#[tokio::test]
async fn a_failed_message_never_lets_the_rest_of_its_group_ahead() {
    let sim =
        SimBroker::new(Sim::new(ScenarioFile::parse(SCENARIO).expect("scenario")).expect("sim"));
    fill(&sim);
    // g0's 5th fails once and is retried; g1's 8th never goes.
    let flaky = Arc::new(Flaky {
        inner: sim.clone(),
        once: Mutex::new([body(0, 4), body(2, 0)].into_iter().collect()),
        always: [body(1, 7)].into_iter().collect(),
        calls: Mutex::new(Vec::new()),
    });
    let handle = mover::spawn(
        flaky.clone(),
        MoverConfig {
            source: queue_ref("inv-dlq.fifo"),
            source_arn: arn("inv-dlq.fifo"),
            target: Target::Queue(queue_ref("inv.fifo")),
            rate: None,
            max: None,
            filter: None,
            transform: None,
            options: ClientOptions::default(),
            expected: Some((GROUPS * PER_GROUP) as u64),
            canary: None,
        },
    );
    let report = tokio::time::timeout(Duration::from_secs(60), handle.wait())
        .await
        .expect("the redrive ends");

    // No send call carried two messages of one group.
    for call in flaky.calls.lock().expect("lock").iter() {
        let mut seen = HashSet::new();
        for g in call {
            assert!(
                seen.insert(g.clone()),
                "one call carried {g:?} twice: {call:?}"
            );
        }
    }

    // The destination has every group in order; g1 stops before its 8th.
    let moved = by_group(&sim, "inv.fifo");
    for group in 0..GROUPS {
        let want: Vec<String> = if group == 1 {
            (0..7).map(|seq| body(group, seq)).collect()
        } else {
            (0..PER_GROUP).map(|seq| body(group, seq)).collect()
        };
        assert_eq!(
            moved.get(&format!("g{group}")),
            Some(&want),
            "group g{group}"
        );
    }

    // g1's 8th and everything after it are still in the DLQ, in order.
    let left = by_group(&sim, "inv-dlq.fifo");
    let want: Vec<String> = (7..PER_GROUP).map(|seq| body(1, seq)).collect();
    assert_eq!(left.get("g1"), Some(&want));
    assert_eq!(left.len(), 1, "{left:?}");

    let stayed = (PER_GROUP - 7) as u64;
    assert_eq!(
        report.moved,
        (GROUPS * PER_GROUP) as u64 - stayed,
        "{report:?}"
    );
    // g1-07 and the two after it in its batch (g1-00..09) were not sent; the rest
    // of g1 was never received: its group was locked behind them.
    assert_eq!(report.failed, 3, "{:?}", report.failures);
    let reasons: HashMap<&str, &str> = report
        .failures
        .iter()
        .map(|f| (f.message_id.as_str(), f.reason.as_str()))
        .collect();
    assert!(
        reasons
            .values()
            .any(|r| r.contains("injected: this one never goes")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .values()
            .any(|r| r.contains("before it in group g1")),
        "{reasons:?}"
    );
}
