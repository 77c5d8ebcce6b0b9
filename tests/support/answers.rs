//! Answers as the runtime delivers them, for tests that drive `App::update`.

use lazysqs::app::Msg;
use lazysqs::broker::{BrokerResult, QueueAttrs, QueueRef};
use lazysqs::sim::model::arn;

/// An attributes answer for `queue`, carrying the queue's own ARN as SQS does
/// (the fixtures leave it out).
pub fn attributes(queue: QueueRef, answer: BrokerResult<QueueAttrs>) -> Msg {
    let arn = arn(&queue.name);
    Msg::Attributes(queue, answer.map(|a| QueueAttrs { arn, ..a }))
}
