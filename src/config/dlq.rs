//! `[[dlq]]`: a queue an application uses as its dead-letter queue without a
//! redrive policy, declared so that lazysqs treats it as one.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// `[[dlq]] queue = "signups-dlq"`, `source = "signups"`: `queue` receives the
/// failures of `source`, by the application's doing (SQS does not know it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredDlq {
    /// The dead-letter queue, by name.
    pub queue: String,
    /// The queue whose failures it holds, by name: where a redrive sends them back.
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDlq {
    queue: String,
    source: String,
}

impl TryFrom<RawDlq> for DeclaredDlq {
    type Error = String;

    fn try_from(raw: RawDlq) -> Result<Self, String> {
        let name = |key: &str, v: String| {
            let v = v.trim().to_string();
            if v.is_empty() || v.chars().any(char::is_whitespace) {
                Err(format!("dlq.{key} must be a queue name, not {v:?}"))
            } else {
                Ok(v)
            }
        };
        let queue = name("queue", raw.queue)?;
        let source = name("source", raw.source)?;
        if queue == source {
            return Err(format!(
                "[[dlq]] {queue} cannot be the dead-letter queue of itself"
            ));
        }
        Ok(DeclaredDlq { queue, source })
    }
}

impl<'de> Deserialize<'de> for DeclaredDlq {
    /// Checked inside the table's own deserializer, so an error names the line of
    /// the `[[dlq]]` it is about.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Table;
        impl<'de> Visitor<'de> for Table {
            type Value = DeclaredDlq;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a [[dlq]] table with queue and source")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DeclaredDlq, A::Error> {
                let raw = RawDlq::deserialize(de::value::MapAccessDeserializer::new(map))?;
                DeclaredDlq::try_from(raw).map_err(de::Error::custom)
            }
        }
        d.deserialize_map(Table)
    }
}
