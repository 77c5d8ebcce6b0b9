//! The config's `[[dlq]]` links made visible through the one door: a broker
//! that adds each declared source to its DLQ's [`Broker::dead_letter_sources`]
//! and names it in [`Broker::declared_sources`], so that the dashboard's DLQ
//! flag, browse, `R`, triage and the redrive plan treat the queue as a DLQ
//! without special cases, and the plan knows SQS does not.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::broker::{
    AlarmState, BatchOutcome, Broker, BrokerResult, Message, MoveTask, OutgoingMessage, QueueAttrs,
    QueueMetrics, QueueRef, QueueSelection,
};
use crate::config::DeclaredDlq;

/// `inner`, with the declared links; `inner` itself when there are none.
pub(crate) fn wrap(inner: Arc<dyn Broker>, links: &[DeclaredDlq]) -> Arc<dyn Broker> {
    if links.is_empty() {
        return inner;
    }
    Arc::new(Declared {
        inner,
        links: links.to_vec(),
    })
}

struct Declared {
    inner: Arc<dyn Broker>,
    links: Vec<DeclaredDlq>,
}

impl Declared {
    fn sources_of<'a>(&'a self, dlq: &'a QueueRef) -> impl Iterator<Item = &'a str> + 'a {
        self.links
            .iter()
            .filter(move |l| l.queue == dlq.name)
            .map(|l| l.source.as_str())
    }

    /// The declared source `name`, in the DLQ's own place when it is in several.
    async fn find(&self, name: &str, dlq: &QueueRef) -> Option<QueueRef> {
        let found = match self
            .inner
            .list_queues(&QueueSelection::named(name, None))
            .await
        {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(
                    "cannot look up {name}, declared the source of {}: {e}",
                    dlq.name
                );
                return None;
            }
        };
        let mut named: Vec<QueueRef> = found.into_iter().filter(|q| q.name == name).collect();
        match named.iter().position(|q| q.place == dlq.place) {
            Some(i) => Some(named.swap_remove(i)),
            None if named.len() == 1 => named.pop(),
            None => None,
        }
    }
}

#[async_trait]
impl Broker for Declared {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn list_queues(&self, selection: &QueueSelection) -> BrokerResult<Vec<QueueRef>> {
        self.inner.list_queues(selection).await
    }

    async fn list_queues_each(
        &self,
        selection: &QueueSelection,
    ) -> Vec<(String, BrokerResult<Vec<QueueRef>>)> {
        self.inner.list_queues_each(selection).await
    }

    async fn queue_attributes(&self, queue: &QueueRef) -> BrokerResult<QueueAttrs> {
        self.inner.queue_attributes(queue).await
    }

    /// The redrive policies' sources, then each declared one not among them.
    async fn dead_letter_sources(&self, dlq: &QueueRef) -> BrokerResult<Vec<QueueRef>> {
        let mut sources = self.inner.dead_letter_sources(dlq).await?;
        for name in self.sources_of(dlq) {
            if sources.iter().any(|q| q.name == name) {
                continue;
            }
            if let Some(q) = self.find(name, dlq).await {
                sources.push(q);
            }
        }
        Ok(sources)
    }

    fn declared_sources(&self, dlq: &QueueRef) -> Vec<String> {
        self.sources_of(dlq).map(String::from).collect()
    }

    async fn metrics(&self, queues: &[QueueRef]) -> BrokerResult<Vec<QueueMetrics>> {
        self.inner.metrics(queues).await
    }

    async fn alarm_state(&self, alarm: &str) -> BrokerResult<AlarmState> {
        self.inner.alarm_state(alarm).await
    }

    async fn receive(
        &self,
        queue: &QueueRef,
        max: u32,
        visibility: Duration,
    ) -> BrokerResult<Vec<Message>> {
        self.inner.receive(queue, max, visibility).await
    }

    async fn receive_waiting(
        &self,
        queue: &QueueRef,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> BrokerResult<Vec<Message>> {
        self.inner
            .receive_waiting(queue, max, visibility, wait)
            .await
    }

    async fn send(&self, queue: &QueueRef, message: OutgoingMessage) -> BrokerResult<String> {
        self.inner.send(queue, message).await
    }

    async fn send_batch(
        &self,
        queue: &QueueRef,
        messages: Vec<OutgoingMessage>,
    ) -> BrokerResult<BatchOutcome<String>> {
        self.inner.send_batch(queue, messages).await
    }

    async fn delete(&self, queue: &QueueRef, receipt_handle: &str) -> BrokerResult<()> {
        self.inner.delete(queue, receipt_handle).await
    }

    async fn delete_batch(
        &self,
        queue: &QueueRef,
        receipt_handles: Vec<String>,
    ) -> BrokerResult<BatchOutcome<()>> {
        self.inner.delete_batch(queue, receipt_handles).await
    }

    async fn change_visibility(
        &self,
        queue: &QueueRef,
        receipt_handles: Vec<String>,
        visibility: Duration,
    ) -> BrokerResult<BatchOutcome<()>> {
        self.inner
            .change_visibility(queue, receipt_handles, visibility)
            .await
    }

    async fn start_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        rate: Option<u32>,
    ) -> BrokerResult<String> {
        self.inner
            .start_move_task(source_arn, destination_arn, rate)
            .await
    }

    async fn list_move_tasks(&self, source_arn: &str) -> BrokerResult<Vec<MoveTask>> {
        self.inner.list_move_tasks(source_arn).await
    }

    async fn cancel_move_task(&self, handle: &str) -> BrokerResult<u64> {
        self.inner.cancel_move_task(handle).await
    }
}
