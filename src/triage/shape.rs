//! A JSON body's shape: every key path and the type found there. Two messages a
//! producer built the same way have the same shape; a missing or extra field, or
//! a field of another type, makes another.

use std::collections::BTreeMap;

use serde_json::Value;

/// Key path → type (`"string"`, `"number"`, `"bool"`, `"null"`, `"object"`,
/// `"array"`). Array items share one path, `items[]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Shape(BTreeMap<String, &'static str>);

/// The body's shape, or `None` when it is not JSON.
pub fn of(body: &str) -> Option<Shape> {
    let value: Value = serde_json::from_str(body).ok()?;
    let mut paths = BTreeMap::new();
    walk(&value, String::new(), &mut paths);
    Some(Shape(paths))
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => "null",
        Value::Object(_) => "object",
        Value::Array(_) => "array",
    }
}

fn walk(v: &Value, path: String, out: &mut BTreeMap<String, &'static str>) {
    if !path.is_empty() {
        // An array holding several types keeps the first one seen.
        out.entry(path.clone()).or_insert(type_of(v));
    }
    let child = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                walk(item, child(k), out);
            }
        }
        Value::Array(items) => {
            let path = if path.is_empty() {
                "[]".to_string()
            } else {
                format!("{path}[]")
            };
            for item in items {
                walk(item, path.clone(), out);
            }
        }
        _ => {}
    }
}

impl Shape {
    /// Paths that hold a plain value (not an object or array): the fields a
    /// grouping by value can use.
    pub(crate) fn leaf_paths(&self) -> impl Iterator<Item = String> + '_ {
        self.0
            .iter()
            .filter(|(p, t)| !matches!(**t, "object" | "array") && !p.contains("[]"))
            .map(|(p, _)| p.clone())
    }
}

/// How `other` differs from `base`, for a group's name: "most common shape",
/// "missing store_id", "extra field retry_of", "qty is string, not number".
/// Only the outermost missing or extra path of a subtree is named.
pub(crate) fn difference(base: &Shape, other: &Shape) -> String {
    if base == other {
        return "most common shape".to_string();
    }
    let outermost = |paths: Vec<&String>| -> Vec<String> {
        let mut kept: Vec<String> = Vec::new();
        for p in paths {
            let inside = kept
                .iter()
                .any(|k| p.starts_with(&format!("{k}.")) || p.starts_with(&format!("{k}[]")));
            if !inside {
                kept.push(p.clone());
            }
        }
        kept
    };
    let missing = outermost(
        base.0
            .keys()
            .filter(|p| !other.0.contains_key(*p))
            .collect(),
    );
    let extra = outermost(
        other
            .0
            .keys()
            .filter(|p| !base.0.contains_key(*p))
            .collect(),
    );
    let mut parts = Vec::new();
    // An array's items missing while the array is there: it is empty.
    let (empty, missing): (Vec<String>, Vec<String>) = missing.into_iter().partition(|p| {
        p.strip_suffix("[]")
            .is_some_and(|a| other.0.contains_key(a))
    });
    for p in &empty {
        parts.push(format!("empty {}", p.trim_end_matches("[]")));
    }
    if !missing.is_empty() {
        parts.push(format!("missing {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        let word = if extra.len() == 1 { "field" } else { "fields" };
        parts.push(format!("extra {word} {}", extra.join(", ")));
    }
    for (path, t) in &other.0 {
        if let Some(b) = base.0.get(path)
            && b != t
        {
            parts.push(format!("{path} is {t}, not {b}"));
        }
    }
    if parts.is_empty() {
        // Same paths and types but not equal cannot happen; be safe anyway.
        parts.push("another shape".to_string());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(base: &str, other: &str) -> String {
        difference(&of(base).expect("json"), &of(other).expect("json"))
    }

    #[test]
    fn names_say_what_differs() {
        let base = r#"{"order_id":"o1","store_id":"s1","items":[{"sku":"a","qty":1}]}"#;
        assert_eq!(diff(base, base), "most common shape");
        assert_eq!(
            diff(base, r#"{"order_id":"o2","store_id":"s9","items":[]}"#),
            "empty items"
        );
        assert_eq!(
            diff(base, r#"{"order_id":"o1","items":[{"sku":"a","qty":1}]}"#),
            "missing store_id"
        );
        assert_eq!(
            diff(
                base,
                r#"{"order_id":"o1","store_id":"s1","items":[{"sku":"a","qty":1}],"retry_of":{"id":"x"}}"#
            ),
            "extra field retry_of"
        );
        assert_eq!(
            diff(
                base,
                r#"{"order_id":"o1","store_id":7,"items":[{"sku":"a","qty":1}]}"#
            ),
            "store_id is number, not string"
        );
        assert!(of("not json").is_none());
        // Values do not make a shape.
        assert_eq!(of(r#"{"a":1}"#), of(r#"{"a":2}"#));
    }
}
