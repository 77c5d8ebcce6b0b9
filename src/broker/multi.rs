//! Several regions and accounts behind one [`Broker`]: every call about a queue
//! goes to the connection its [`Place`] names, and a listing asks each one apart,
//! so that one region or account failing hides none of the others.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;

use super::{
    AlarmState, BatchOutcome, Broker, BrokerError, BrokerResult, Discovery, Message, MoveTask,
    OutgoingMessage, Place, QueueAttrs, QueueMetrics, QueueRef, QueueSelection,
};

/// One connection: a profile (its credentials and account) in one region.
pub struct Member {
    /// For people: "eu-west-1 (profile beta)".
    pub label: String,
    pub region: String,
    pub broker: Box<dyn Broker>,
}

/// Several connections, each in its own region and account.
pub struct MultiBroker {
    /// What they all are, for the status bar: "AWS", or the endpoint.
    title: String,
    members: Vec<Member>,
    /// Which member listed queues at each place (the account is learned from them).
    routes: std::sync::Mutex<HashMap<Place, usize>>,
    /// Which member started or listed each move task.
    tasks: std::sync::Mutex<HashMap<String, usize>>,
}

impl MultiBroker {
    pub fn new(title: String, members: Vec<Member>) -> MultiBroker {
        MultiBroker {
            title,
            members,
            routes: Default::default(),
            tasks: Default::default(),
        }
    }

    /// The member for a place: the one that listed queues there, else the first in
    /// its region.
    fn member_index(&self, place: &Place) -> BrokerResult<usize> {
        let learned = crate::sync::lock(&self.routes).get(place).copied();
        learned
            .or_else(|| {
                self.members
                    .iter()
                    .position(|m| place.region.is_empty() || m.region == place.region)
            })
            .ok_or_else(|| {
                BrokerError::NotFound(format!(
                    "nothing here reaches {place} (watching {})",
                    self.describe()
                ))
            })
    }

    fn route(&self, place: &Place) -> BrokerResult<&dyn Broker> {
        self.member_index(place)
            .map(|i| self.members[i].broker.as_ref())
    }

    fn learn(&self, member: usize, queues: &[QueueRef]) {
        let mut routes = crate::sync::lock(&self.routes);
        for q in queues {
            routes.entry(q.place.clone()).or_insert(member);
        }
    }

    fn members_for(&self, selection: &QueueSelection) -> impl Iterator<Item = (usize, &Member)> {
        self.members.iter().enumerate().filter(move |(_, m)| {
            selection
                .place
                .as_ref()
                .is_none_or(|p| p.holds(&Place::new(m.region.clone(), "")))
        })
    }
}

#[async_trait]
impl Broker for MultiBroker {
    fn describe(&self) -> String {
        let labels: Vec<&str> = self.members.iter().map(|m| m.label.as_str()).collect();
        let title = &self.title;
        if labels.len() <= 3 {
            format!("{title} {}", labels.join(", "))
        } else {
            format!(
                "{title} in {} places: {}, …",
                labels.len(),
                labels[..2].join(", ")
            )
        }
    }

    fn sdk_retries(&self) -> u64 {
        self.members.iter().map(|m| m.broker.sdk_retries()).sum()
    }

    /// Every place's queues. Fails only when every place asked failed; a queue
    /// reached through two profiles is listed once.
    async fn list_queues(&self, selection: &QueueSelection) -> BrokerResult<Vec<QueueRef>> {
        let listings = self.list_queues_each(selection).await;
        let places = listings.len();
        let mut found: BTreeMap<String, QueueRef> = BTreeMap::new();
        for q in Discovery::of_each(listings).or_all_failed(places)?.found {
            found.entry(q.url.clone()).or_insert(q);
        }
        Ok(found.into_values().collect())
    }

    async fn list_queues_each(
        &self,
        selection: &QueueSelection,
    ) -> Vec<(String, BrokerResult<Vec<QueueRef>>)> {
        let asked = self.members_for(selection).map(|(i, m)| async move {
            let result = m.broker.list_queues(selection).await;
            if let Ok(queues) = &result {
                self.learn(i, queues);
            }
            (m.label.clone(), result)
        });
        join_all(asked).await
    }

    async fn queue_attributes(&self, queue: &QueueRef) -> BrokerResult<QueueAttrs> {
        self.route(&queue.place)?.queue_attributes(queue).await
    }

    async fn dead_letter_sources(&self, dlq: &QueueRef) -> BrokerResult<Vec<QueueRef>> {
        self.route(&dlq.place)?.dead_letter_sources(dlq).await
    }

    /// Each member's queues in one call to it; a member that fails leaves its
    /// queues without data (their rows go stale on their own attribute polls).
    async fn metrics(&self, queues: &[QueueRef]) -> BrokerResult<Vec<QueueMetrics>> {
        let mut by_member: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, q) in queues.iter().enumerate() {
            if let Ok(m) = self.member_index(&q.place) {
                by_member.entry(m).or_default().push(i);
            }
        }
        let asked = by_member.into_iter().map(|(m, idx)| async move {
            let these: Vec<QueueRef> = idx.iter().map(|&i| queues[i].clone()).collect();
            (idx, self.members[m].broker.metrics(&these).await)
        });
        let mut out = vec![QueueMetrics::default(); queues.len()];
        let mut first_error = None;
        let mut answered = queues.is_empty();
        for (idx, result) in join_all(asked).await {
            match result {
                Ok(metrics) => {
                    answered = true;
                    for (i, m) in idx.into_iter().zip(metrics) {
                        out[i] = m;
                    }
                }
                Err(e) => {
                    tracing::warn!("metrics: {e}");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if !answered => Err(e),
            _ => Ok(out),
        }
    }

    /// Alarms are read through the first region and profile.
    async fn alarm_state(&self, alarm: &str) -> BrokerResult<AlarmState> {
        self.members[0].broker.alarm_state(alarm).await
    }

    async fn receive(
        &self,
        queue: &QueueRef,
        max: u32,
        visibility: Duration,
    ) -> BrokerResult<Vec<Message>> {
        self.route(&queue.place)?
            .receive(queue, max, visibility)
            .await
    }

    async fn receive_waiting(
        &self,
        queue: &QueueRef,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> BrokerResult<Vec<Message>> {
        self.route(&queue.place)?
            .receive_waiting(queue, max, visibility, wait)
            .await
    }

    async fn send(&self, queue: &QueueRef, message: OutgoingMessage) -> BrokerResult<String> {
        self.route(&queue.place)?.send(queue, message).await
    }

    async fn send_batch(
        &self,
        queue: &QueueRef,
        messages: Vec<OutgoingMessage>,
    ) -> BrokerResult<BatchOutcome<String>> {
        self.route(&queue.place)?.send_batch(queue, messages).await
    }

    async fn delete(&self, queue: &QueueRef, receipt_handle: &str) -> BrokerResult<()> {
        self.route(&queue.place)?
            .delete(queue, receipt_handle)
            .await
    }

    async fn delete_batch(
        &self,
        queue: &QueueRef,
        receipt_handles: Vec<String>,
    ) -> BrokerResult<BatchOutcome<()>> {
        self.route(&queue.place)?
            .delete_batch(queue, receipt_handles)
            .await
    }

    async fn change_visibility(
        &self,
        queue: &QueueRef,
        receipt_handles: Vec<String>,
        visibility: Duration,
    ) -> BrokerResult<BatchOutcome<()>> {
        self.route(&queue.place)?
            .change_visibility(queue, receipt_handles, visibility)
            .await
    }

    async fn start_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        rate: Option<u32>,
    ) -> BrokerResult<String> {
        let place = Place::of_arn(source_arn);
        let member = self.member_index(&place)?;
        let handle = self.members[member]
            .broker
            .start_move_task(source_arn, destination_arn, rate)
            .await?;
        crate::sync::lock(&self.tasks).insert(handle.clone(), member);
        Ok(handle)
    }

    async fn list_move_tasks(&self, source_arn: &str) -> BrokerResult<Vec<MoveTask>> {
        let member = self.member_index(&Place::of_arn(source_arn))?;
        let tasks = self.members[member]
            .broker
            .list_move_tasks(source_arn)
            .await?;
        let mut known = crate::sync::lock(&self.tasks);
        for h in tasks.iter().filter_map(|t| t.handle.clone()) {
            known.insert(h, member);
        }
        Ok(tasks)
    }

    async fn cancel_move_task(&self, handle: &str) -> BrokerResult<u64> {
        let member = crate::sync::lock(&self.tasks).get(handle).copied();
        let Some(member) = member else {
            return Err(BrokerError::NotFound(format!(
                "move task {handle}: not started or listed here"
            )));
        };
        self.members[member].broker.cancel_move_task(handle).await
    }
}
