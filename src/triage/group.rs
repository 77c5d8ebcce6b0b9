//! Grouping a DLQ's messages by what they have in common: their JSON shape, a
//! field's value, an attribute, the queue they came from, their receive count or
//! the hour they were sent.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Timelike, Utc};

use super::shape::{self, Shape};
use crate::broker::{Message, name_from_arn};

/// What messages are grouped by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// The set of JSON key paths and their types.
    Shape,
    /// A JSON field's value, by dotted path.
    Field(String),
    /// A message attribute's value.
    Attribute(String),
    /// The queue a message came from (`DeadLetterQueueSourceArn`).
    Source,
    /// How many times it was received.
    Receives,
    /// The hour it was first sent.
    Hour,
}

impl GroupBy {
    /// The groupings `b` cycles through: shape, each field seen, each attribute
    /// seen, source, receives, hour.
    pub(crate) fn cycle(fields: &[String], attributes: &[String]) -> Vec<GroupBy> {
        let mut all = vec![GroupBy::Shape];
        all.extend(fields.iter().cloned().map(GroupBy::Field));
        all.extend(attributes.iter().cloned().map(GroupBy::Attribute));
        all.extend([GroupBy::Source, GroupBy::Receives, GroupBy::Hour]);
        all
    }
}

impl GroupBy {
    /// How `--by` writes it (`shape`, `attr:NAME`, `store_id`): what
    /// [`GroupBy::from_str`] reads back.
    pub fn arg(&self) -> String {
        match self {
            GroupBy::Shape => "shape".into(),
            GroupBy::Field(p) => p.clone(),
            GroupBy::Attribute(n) => format!("attr:{n}"),
            GroupBy::Source => "source".into(),
            GroupBy::Receives => "receives".into(),
            GroupBy::Hour => "hour".into(),
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupBy::Shape => f.write_str("shape"),
            GroupBy::Field(path) => write!(f, "field {path}"),
            GroupBy::Attribute(name) => write!(f, "attribute {name}"),
            GroupBy::Source => f.write_str("source queue"),
            GroupBy::Receives => f.write_str("receive count"),
            GroupBy::Hour => f.write_str("hour sent"),
        }
    }
}

impl FromStr for GroupBy {
    type Err = String;

    /// `shape`, `source`, `receives`, `hour`, `attr:NAME`, `field:PATH`, or a
    /// field's dotted path.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        Ok(match s {
            "" => {
                return Err(
                    "--by needs a value: shape, FIELD, attr:NAME, source, receives or hour".into(),
                );
            }
            "shape" => GroupBy::Shape,
            "source" => GroupBy::Source,
            "receives" => GroupBy::Receives,
            "hour" => GroupBy::Hour,
            _ => match (s.strip_prefix("attr:"), s.strip_prefix("field:")) {
                (Some(""), _) | (_, Some("")) => {
                    return Err(format!("--by {s}: a name must follow the colon"));
                }
                (Some(name), _) => GroupBy::Attribute(name.to_string()),
                (_, Some(path)) => GroupBy::Field(path.to_string()),
                _ => GroupBy::Field(s.to_string()),
            },
        })
    }
}

/// Messages with the same key.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// What the messages share ("missing store_id", "orders", "3").
    pub key: String,
    /// Indices into the messages grouped, in their order.
    pub members: Vec<usize>,
    pub first_sent: Option<DateTime<Utc>>,
    pub last_sent: Option<DateTime<Utc>>,
}

impl Group {
    pub fn count(&self) -> usize {
        self.members.len()
    }

    /// The message shown as the group's example: its first.
    pub fn sample(&self) -> usize {
        self.members[0]
    }
}

/// Groups `messages`, largest first (ties by key).
pub fn group<'a>(messages: impl IntoIterator<Item = &'a Message>, by: &GroupBy) -> Vec<Group> {
    let messages: Vec<&Message> = messages.into_iter().collect();
    let keys: Vec<String> = match by {
        GroupBy::Shape => shape_keys(&messages),
        _ => messages.iter().map(|m| key_of(m, by)).collect(),
    };
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        let g = *index.entry(key.as_str()).or_insert_with(|| {
            groups.push(Group {
                key: key.clone(),
                members: Vec::new(),
                first_sent: None,
                last_sent: None,
            });
            groups.len() - 1
        });
        let group = &mut groups[g];
        group.members.push(i);
        if let Some(at) = messages[i].sent_at {
            group.first_sent = Some(group.first_sent.map_or(at, |f| f.min(at)));
            group.last_sent = Some(group.last_sent.map_or(at, |l| l.max(at)));
        }
    }
    groups.sort_by(|a, b| b.count().cmp(&a.count()).then_with(|| a.key.cmp(&b.key)));
    groups
}

/// Each message's shape, named by how it differs from the most common one.
fn shape_keys(messages: &[&Message]) -> Vec<String> {
    let shapes: Vec<Option<Shape>> = messages.iter().map(|m| shape::of(&m.body)).collect();
    let mut counts: HashMap<&Shape, usize> = HashMap::new();
    for s in shapes.iter().flatten() {
        *counts.entry(s).or_default() += 1;
    }
    // The most common shape; among equals, the one seen first.
    let mut common: Option<(&Shape, usize)> = None;
    for s in shapes.iter().flatten() {
        let n = counts[s];
        if common.is_none_or(|(_, best)| n > best) {
            common = Some((s, n));
        }
    }
    let common = common.map(|(s, _)| s.clone());
    let mut names: HashMap<&Shape, String> = HashMap::new();
    shapes
        .iter()
        .map(|s| match (s, &common) {
            (None, _) => "not JSON".to_string(),
            (Some(s), Some(base)) => names
                .entry(s)
                .or_insert_with(|| shape::difference(base, s))
                .clone(),
            (Some(_), None) => unreachable!("a shape was counted"),
        })
        .collect()
}

fn key_of(m: &Message, by: &GroupBy) -> String {
    match by {
        GroupBy::Shape => unreachable!("shapes are named together"),
        GroupBy::Field(path) => field_value(&m.body, path),
        GroupBy::Attribute(name) => m
            .attributes
            .get(name)
            .map_or_else(|| format!("(no {name})"), |a| a.value.clone()),
        GroupBy::Source => m.dlq_source_arn.as_deref().map_or_else(
            || "(unknown source)".to_string(),
            |a| name_from_arn(a).to_string(),
        ),
        GroupBy::Receives => m.receive_count.to_string(),
        GroupBy::Hour => m.sent_at.map_or_else(
            || "(unknown)".to_string(),
            |t| {
                let hour = t.with_minute(0).and_then(|t| t.with_second(0)).unwrap_or(t);
                hour.format("%Y-%m-%d %H:00Z").to_string()
            },
        ),
    }
}

/// A field's value as JSON text (strings unquoted), or why there is none.
fn field_value(body: &str, path: &str) -> String {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return "(not JSON)".to_string();
    };
    let mut node = &json;
    for key in path.split('.') {
        let next = match node {
            serde_json::Value::Object(map) => map.get(key),
            serde_json::Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return format!("(no {path})"),
        }
    }
    match node {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The JSON fields seen (dotted paths to values that are not objects or arrays),
/// most common first, and the attribute names seen, for the grouping cycle.
pub(crate) fn fields_and_attributes<'a>(
    messages: impl IntoIterator<Item = &'a Message>,
) -> (Vec<String>, Vec<String>) {
    let mut fields: BTreeMap<String, usize> = BTreeMap::new();
    let mut attributes: BTreeMap<String, usize> = BTreeMap::new();
    for m in messages.into_iter().take(2_000) {
        if let Some(s) = shape::of(&m.body) {
            for path in s.leaf_paths() {
                *fields.entry(path).or_default() += 1;
            }
        }
        for name in m.attributes.keys() {
            *attributes.entry(name.clone()).or_default() += 1;
        }
    }
    let by_count = |m: BTreeMap<String, usize>| {
        let mut v: Vec<(String, usize)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.into_iter().map(|(k, _)| k).take(12).collect::<Vec<_>>()
    };
    (by_count(fields), by_count(attributes))
}
