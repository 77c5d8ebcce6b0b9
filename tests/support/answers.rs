//! Answers as the runtime delivers them, for tests that drive `App::update`.

#![allow(dead_code)]

use std::time::Duration;

use lazysqs::app::Msg;
use lazysqs::broker::{BrokerResult, QueueAttrs, QueueRef, RedrivePolicy};
use lazysqs::sim::model::arn;

/// A standard queue's attributes: `visible` messages, nothing in flight or
/// delayed, SQS's defaults, and a redrive policy to `dlq` (maxReceiveCount 3)
/// when given. Its own ARN comes with [`attributes`].
pub fn attrs(visible: u64, dlq: Option<&str>) -> QueueAttrs {
    QueueAttrs {
        arn: String::new(),
        visible,
        in_flight: 0,
        delayed: 0,
        fifo: false,
        content_based_dedup: false,
        visibility_timeout: Duration::from_secs(30),
        retention: Duration::from_secs(4 * 24 * 3600),
        redrive: dlq.map(|d| RedrivePolicy {
            dlq_arn: arn(d),
            max_receive_count: 3,
        }),
        max_message_size: 1024 * 1024,
    }
}

/// An attributes answer for `queue`, carrying the queue's own ARN as SQS does
/// (the fixtures leave it out).
pub fn attributes(queue: QueueRef, answer: BrokerResult<QueueAttrs>) -> Msg {
    let arn = arn(&queue.name);
    Msg::Attributes(queue, answer.map(|a| QueueAttrs { arn, ..a }))
}
