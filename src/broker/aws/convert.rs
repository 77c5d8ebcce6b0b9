//! Between the SDK's types and the broker's: queue URLs, attributes, redrive
//! policies, messages and their attributes.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, MessageSystemAttributeNameForSends,
    MessageSystemAttributeValue, QueueAttributeName,
};
use chrono::{DateTime, Utc};

use crate::broker::{
    BrokerError, BrokerResult, DEFAULT_MAX_MESSAGE_BYTES, Message, MessageAttribute, Place,
    QueueAttrs, QueueRef, RedrivePolicy,
};

/// The queue at a queue URL in `region`: its name is the last path segment, and
/// the account the one before it when that is a 12-digit number.
pub(super) fn queue_ref_from_url(url: &str, region: &str) -> QueueRef {
    let mut segments = url.trim_end_matches('/').rsplit('/');
    let name = segments.next().unwrap_or(url);
    let account = segments
        .next()
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_default();
    QueueRef {
        name: name.to_string(),
        url: url.to_string(),
        place: Place::new(region, account),
    }
}

pub(super) fn parse_queue_attrs(
    queue: &QueueRef,
    attrs: &HashMap<QueueAttributeName, String>,
) -> BrokerResult<QueueAttrs> {
    let get = |name: QueueAttributeName| attrs.get(&name).map(String::as_str);
    let count = |name: QueueAttributeName| -> BrokerResult<u64> {
        match get(name.clone()) {
            None => Ok(0),
            Some(v) => v.trim().parse().map_err(|_| {
                BrokerError::Other(format!(
                    "{}: attribute {} is not a number: {v:?}",
                    queue.name,
                    name.as_str()
                ))
            }),
        }
    };
    let arn = get(QueueAttributeName::QueueArn)
        .ok_or_else(|| BrokerError::Other(format!("{}: no QueueArn attribute", queue.name)))?
        .to_string();
    let redrive = match get(QueueAttributeName::RedrivePolicy) {
        None => None,
        Some(json) if json.trim().is_empty() => None,
        Some(json) => match parse_redrive_policy(json) {
            Ok(policy) => Some(policy),
            Err(e) => {
                tracing::warn!(queue = %queue.name, "ignoring RedrivePolicy: {e}");
                None
            }
        },
    };
    let flag = |name: QueueAttributeName| get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Ok(QueueAttrs {
        arn,
        visible: count(QueueAttributeName::ApproximateNumberOfMessages)?,
        in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?,
        delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed)?,
        fifo: flag(QueueAttributeName::FifoQueue) || queue.is_fifo(),
        content_based_dedup: flag(QueueAttributeName::ContentBasedDeduplication),
        visibility_timeout: Duration::from_secs(count(QueueAttributeName::VisibilityTimeout)?),
        retention: Duration::from_secs(count(QueueAttributeName::MessageRetentionPeriod)?),
        redrive,
        max_message_size: match get(QueueAttributeName::MaximumMessageSize) {
            Some(_) => usize::try_from(count(QueueAttributeName::MaximumMessageSize)?)
                .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES),
            None => DEFAULT_MAX_MESSAGE_BYTES,
        },
    })
}

/// Parses a RedrivePolicy attribute. `maxReceiveCount` may be a string or a number.
pub(super) fn parse_redrive_policy(json: &str) -> Result<RedrivePolicy, String> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("not JSON ({e}): {json}"))?;
    let dlq_arn = value
        .get("deadLetterTargetArn")
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("no deadLetterTargetArn: {json}"))?
        .to_string();
    let max_receive_count = match value.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
    .and_then(|n| u32::try_from(n).ok())
    .ok_or_else(|| format!("no valid maxReceiveCount: {json}"))?;
    Ok(RedrivePolicy {
        dlq_arn,
        max_receive_count,
    })
}

pub(super) fn convert_message(m: &aws_sdk_sqs::types::Message) -> Message {
    let empty_sys = HashMap::new();
    let sys = m.attributes().unwrap_or(&empty_sys);
    let sys_get = |name: MessageSystemAttributeName| sys.get(&name).cloned();
    let millis = |name: MessageSystemAttributeName| {
        sys_get(name)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .and_then(DateTime::<Utc>::from_timestamp_millis)
    };
    let attributes = m
        .message_attributes()
        .map(|attrs| {
            attrs
                .iter()
                .map(|(name, v)| {
                    let value = match (v.string_value(), v.binary_value()) {
                        (Some(s), _) => s.to_string(),
                        (None, Some(b)) => base64_encode(b.as_ref()),
                        (None, None) => String::new(),
                    };
                    (
                        name.clone(),
                        MessageAttribute {
                            data_type: v.data_type().to_string(),
                            value,
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Message {
        message_id: m.message_id().unwrap_or_default().to_string(),
        receipt_handle: m.receipt_handle().unwrap_or_default().to_string(),
        body: m.body().unwrap_or_default().to_string(),
        attributes,
        receive_count: sys_get(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
        sent_at: millis(MessageSystemAttributeName::SentTimestamp),
        first_received_at: millis(MessageSystemAttributeName::ApproximateFirstReceiveTimestamp),
        dlq_source_arn: sys_get(MessageSystemAttributeName::DeadLetterQueueSourceArn),
        group_id: sys_get(MessageSystemAttributeName::MessageGroupId),
        dedup_id: sys_get(MessageSystemAttributeName::MessageDeduplicationId),
        trace_header: sys_get(MessageSystemAttributeName::AwsTraceHeader),
    }
}

/// The `AWSTraceHeader` system attribute to send, when the message has one.
pub(super) fn trace_attribute(
    trace: Option<String>,
) -> BrokerResult<Option<HashMap<MessageSystemAttributeNameForSends, MessageSystemAttributeValue>>>
{
    let Some(trace) = trace else {
        return Ok(None);
    };
    let value = MessageSystemAttributeValue::builder()
        .data_type("String")
        .string_value(trace)
        .build()
        .map_err(|e| BrokerError::Invalid(format!("AWSTraceHeader: {e}")))?;
    Ok(Some(HashMap::from([(
        MessageSystemAttributeNameForSends::AwsTraceHeader,
        value,
    )])))
}

/// Message attributes for the SDK. Binary attributes travel base64-encoded in
/// [`MessageAttribute::value`], as the console shows them.
pub(super) fn to_sdk_attributes(
    attrs: &BTreeMap<String, MessageAttribute>,
) -> BrokerResult<Option<HashMap<String, MessageAttributeValue>>> {
    if attrs.is_empty() {
        return Ok(None);
    }
    let mut out = HashMap::with_capacity(attrs.len());
    for (name, attr) in attrs {
        let builder = MessageAttributeValue::builder().data_type(&attr.data_type);
        let builder = if attr.data_type.starts_with("Binary") {
            let bytes = base64_decode(&attr.value).ok_or_else(|| {
                BrokerError::Invalid(format!("attribute {name}: binary value is not base64"))
            })?;
            builder.binary_value(Blob::new(bytes))
        } else {
            builder.string_value(&attr.value)
        };
        let value = builder
            .build()
            .map_err(|e| BrokerError::Invalid(format!("attribute {name}: {e}")))?;
        out.insert(name.clone(), value);
    }
    Ok(Some(out))
}

pub(super) fn secs_i32(d: Duration, max: u64) -> i32 {
    i32::try_from(d.as_secs().min(max)).unwrap_or(i32::MAX)
}

pub(super) fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(super) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let text: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redrive_policy_count_as_string_or_number() {
        let arn = "arn:aws:sqs:us-east-1:000000000000:orders-dlq";
        let s = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"3"}}"#);
        let n = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":5}}"#);
        assert_eq!(
            parse_redrive_policy(&s),
            Ok(RedrivePolicy {
                dlq_arn: arn.into(),
                max_receive_count: 3
            })
        );
        assert_eq!(parse_redrive_policy(&n).map(|p| p.max_receive_count), Ok(5));
        assert!(parse_redrive_policy("{}").is_err());
        assert!(parse_redrive_policy("not json").is_err());
        assert!(
            parse_redrive_policy(&format!(
                r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"x"}}"#
            ))
            .is_err()
        );
    }

    #[test]
    fn queue_attrs_parse() {
        let q = queue_ref_from_url(
            "http://127.0.0.1:4566/queue/us-east-1/000000000000/orders",
            "us-east-1",
        );
        assert_eq!(q.name, "orders");
        assert_eq!(q.place, Place::new("us-east-1", "000000000000"));
        let other = queue_ref_from_url("http://sqs.local/orders", "eu-west-1");
        assert_eq!(other.place, Place::new("eu-west-1", ""));
        let attrs: HashMap<QueueAttributeName, String> = [
            (
                QueueAttributeName::QueueArn,
                "arn:aws:sqs:us-east-1:0:orders",
            ),
            (QueueAttributeName::ApproximateNumberOfMessages, "7"),
            (
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                "2",
            ),
            (QueueAttributeName::ApproximateNumberOfMessagesDelayed, "1"),
            (QueueAttributeName::VisibilityTimeout, "30"),
            (QueueAttributeName::MessageRetentionPeriod, "345600"),
            (
                QueueAttributeName::RedrivePolicy,
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:0:dlq","maxReceiveCount":3}"#,
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
        let parsed = parse_queue_attrs(&q, &attrs).expect("attrs");
        assert_eq!(parsed.visible, 7);
        assert_eq!(parsed.in_flight, 2);
        assert_eq!(parsed.delayed, 1);
        assert!(!parsed.fifo);
        assert_eq!(parsed.visibility_timeout, Duration::from_secs(30));
        assert_eq!(parsed.retention, Duration::from_secs(345_600));
        assert_eq!(
            parsed.redrive.map(|r| (r.dlq_arn, r.max_receive_count)),
            Some(("arn:aws:sqs:us-east-1:0:dlq".to_string(), 3))
        );
    }

    #[test]
    fn base64_round_trip() {
        for input in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"fooba",
            b"foobar",
            &[0, 255, 128],
        ] {
            let encoded = base64_encode(input);
            assert_eq!(base64_decode(&encoded).as_deref(), Some(input), "{encoded}");
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_decode("Zm8"), None);
        assert_eq!(base64_decode("Z=8="), None);
    }
}
