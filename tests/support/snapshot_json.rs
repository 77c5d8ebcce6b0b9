//! The documented shape of `lazysqs snapshot --json` (README, "Snapshot JSON"),
//! checked field by field: every key present, no key unknown, every value of its type.
//! Shared by tests/snapshot_demo.rs and tests/snapshot_aws.rs.

#![allow(dead_code)]

use serde_json::{Map, Value};

pub const FLAGS: [&str; 5] = [
    "growing",
    "dlq_not_empty",
    "old_message",
    "near_retention",
    "breaker_open",
];
pub const STATES: [&str; 4] = ["CLOSED", "OPEN", "HALF_OPEN", "UNKNOWN"];
pub const DRAINS: [&str; 5] = ["empty", "stalled", "steady", "growing", "draining"];

#[derive(Clone, Copy)]
enum T {
    Str,
    Bool,
    Uint,
    Num,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    StrList,
    FlagList,
    Rfc3339,
    QueueBreaker,
    Queues,
    Breakers,
}

/// (key, type, nullable)
const TOP: &[(&str, T, bool)] = &[
    ("polled_at", T::Rfc3339, false),
    ("source", T::Str, false),
    ("demo", T::Bool, false),
    ("note", T::Str, true),
    ("queues", T::Queues, false),
    ("breakers", T::Breakers, false),
    ("metrics_polled", T::Bool, false),
    ("metrics_error", T::Str, true),
    ("listing_errors", T::StrList, false),
];

const QUEUE: &[(&str, T, bool)] = &[
    ("name", T::Str, false),
    ("url", T::Str, false),
    ("region", T::Str, true),
    ("account", T::Str, true),
    ("fifo", T::Bool, false),
    ("visible", T::Uint, true),
    ("in_flight", T::Uint, true),
    ("delayed", T::Uint, true),
    ("depth", T::Uint, true),
    ("age_of_oldest_secs", T::Uint, true),
    ("arrival_per_min", T::Num, true),
    ("arrival_source", T::OneOf(&["cloudwatch", "depth"]), false),
    ("measured_arrival_per_min", T::Num, true),
    ("net_per_min", T::Num, true),
    ("consumption_per_min", T::Num, true),
    ("drain", T::OneOf(&DRAINS), true),
    ("drain_secs", T::Uint, true),
    ("retention_secs", T::Uint, true),
    ("dlq", T::Str, true),
    ("dlq_depth", T::Uint, true),
    ("max_receive_count", T::Uint, true),
    ("dlq_sources", T::StrList, false),
    ("is_dlq", T::Bool, false),
    ("breaker", T::QueueBreaker, true),
    ("flags", T::FlagList, false),
    ("error", T::Str, true),
];

const QUEUE_BREAKER: &[(&str, T, bool)] = &[
    ("name", T::Str, false),
    ("state", T::OneOf(&STATES), false),
    ("source", T::Str, false),
];

const BREAKER: &[(&str, T, bool)] = &[
    ("name", T::Str, false),
    ("queue", T::Str, true),
    ("state", T::OneOf(&STATES), false),
    ("source", T::Str, false),
    ("detail", T::Str, false),
    ("error", T::Str, true),
];

/// Checks `v` against the documented shape; the error names the path of the problem.
pub fn check(v: &Value) -> Result<(), String> {
    object(v, TOP, "$")
}

fn object(v: &Value, fields: &[(&str, T, bool)], path: &str) -> Result<(), String> {
    let map: &Map<String, Value> = v
        .as_object()
        .ok_or_else(|| format!("{path}: expected an object, got {v}"))?;
    for key in map.keys() {
        if !fields.iter().any(|(k, _, _)| k == key) {
            return Err(format!("{path}.{key}: not in the documented shape"));
        }
    }
    for (key, t, nullable) in fields {
        let p = format!("{path}.{key}");
        let value = map.get(*key).ok_or_else(|| format!("{p}: missing"))?;
        if value.is_null() {
            if *nullable {
                continue;
            }
            return Err(format!("{p}: null, but it is never null"));
        }
        typed(value, *t, &p)?;
    }
    Ok(())
}

fn typed(v: &Value, t: T, p: &str) -> Result<(), String> {
    let bad = || Err(format!("{p}: unexpected value {v}"));
    match t {
        T::Str if v.is_string() => Ok(()),
        T::Bool if v.is_boolean() => Ok(()),
        T::Uint if v.is_u64() => Ok(()),
        T::Num if v.is_number() => Ok(()),
        T::OneOf(allowed) if v.as_str().is_some_and(|s| allowed.contains(&s)) => Ok(()),
        T::StrList => match v.as_array() {
            Some(a) if a.iter().all(Value::is_string) => Ok(()),
            _ => bad(),
        },
        T::FlagList => match v.as_array() {
            Some(a)
                if a.iter()
                    .all(|f| f.as_str().is_some_and(|s| FLAGS.contains(&s))) =>
            {
                Ok(())
            }
            _ => bad(),
        },
        T::Rfc3339 => match v.as_str().map(chrono::DateTime::parse_from_rfc3339) {
            Some(Ok(_)) => Ok(()),
            _ => bad(),
        },
        T::QueueBreaker => object(v, QUEUE_BREAKER, p),
        T::Queues | T::Breakers => {
            let fields = if matches!(t, T::Queues) {
                QUEUE
            } else {
                BREAKER
            };
            let a = v
                .as_array()
                .ok_or_else(|| format!("{p}: expected an array"))?;
            for (i, item) in a.iter().enumerate() {
                object(item, fields, &format!("{p}[{i}]"))?;
            }
            Ok(())
        }
        _ => bad(),
    }
}

/// The JSON example under "## Snapshot JSON" in README.md: the first ```json block.
pub fn readme_example() -> Result<Value, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let section = text
        .split("\n## Snapshot JSON")
        .nth(1)
        .ok_or("README.md has no \"## Snapshot JSON\" section")?;
    let block = section
        .split("```json\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .ok_or("the Snapshot JSON section has no ```json block")?;
    serde_json::from_str(block).map_err(|e| format!("the README example is not JSON: {e}"))
}

/// Every key path in `v` (arrays collapsed to `[]`), to compare two documents' shapes.
pub fn key_paths(v: &Value) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    walk(v, "$", &mut out);
    out
}

fn walk(v: &Value, path: &str, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{path}.{k}");
                out.insert(p.clone());
                walk(child, &p, out);
            }
        }
        Value::Array(a) => {
            for child in a {
                walk(child, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}
