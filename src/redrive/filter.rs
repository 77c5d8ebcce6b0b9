//! Which messages a filtered redrive moves: a substring of the body, or a JSON field
//! (by dotted path) equal to a value.
//!
//! Written as one expression, as on the command line:
//!
//! - `store_id=berlin-01` — the body is JSON and its field `store_id` is `berlin-01`;
//!   a dotted path reaches into objects and arrays: `customer.address.city=Oslo`,
//!   `items.0.sku=A-1`. The value matches a JSON string exactly, or the JSON text of a
//!   number, boolean or null (`qty=2`, `paid=false`, `coupon=null`).
//! - anything else — the body contains this text: `frappuccino`, `"coffee": "latte"`.
//! - `contains:TEXT` — always a substring, even when TEXT looks like `field=value`.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// A message filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// The body contains this text.
    Contains(String),
    /// The body is JSON and the field at `path` equals `value`.
    Field { path: Vec<String>, value: String },
    /// These messages, by id: a triage group (`label` names it).
    Ids {
        label: String,
        ids: std::sync::Arc<std::collections::BTreeSet<String>>,
    },
}

impl Filter {
    /// Whether the message is selected.
    pub fn selects(&self, m: &crate::broker::Message) -> bool {
        match self {
            Filter::Ids { ids, .. } => ids.contains(&m.message_id),
            _ => self.matches(&m.body),
        }
    }

    /// Whether a message with this body is selected (an id filter selects none
    /// by its body alone).
    pub fn matches(&self, body: &str) -> bool {
        match self {
            Filter::Ids { .. } => false,
            Filter::Contains(text) => body.contains(text.as_str()),
            Filter::Field { path, value } => {
                let Ok(json) = serde_json::from_str::<Value>(body) else {
                    return false;
                };
                let mut node = &json;
                for key in path {
                    let next = match node {
                        Value::Object(map) => map.get(key),
                        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                        _ => None,
                    };
                    match next {
                        Some(n) => node = n,
                        None => return false,
                    }
                }
                match node {
                    Value::String(s) => s == value,
                    Value::Number(n) => {
                        let text = n.to_string();
                        text == *value
                    }
                    Value::Bool(b) => value == if *b { "true" } else { "false" },
                    Value::Null => value == "null",
                    Value::Array(_) | Value::Object(_) => false,
                }
            }
        }
    }
}

/// Why a filter expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad filter {expr:?}: {reason}")]
pub struct FilterError {
    pub expr: String,
    pub reason: &'static str,
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$' | '@')
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(expr: &str) -> Result<Self, Self::Err> {
        let err = |reason| FilterError {
            expr: expr.to_string(),
            reason,
        };
        if let Some(text) = expr.strip_prefix("contains:") {
            if text.is_empty() {
                return Err(err("the text after contains: is empty"));
            }
            return Ok(Filter::Contains(text.to_string()));
        }
        if expr.is_empty() {
            return Err(err("it is empty"));
        }
        if let Some((lhs, value)) = expr.split_once('=') {
            let path: Vec<&str> = lhs.split('.').collect();
            let is_path = !lhs.is_empty()
                && path
                    .iter()
                    .all(|seg| !seg.is_empty() && seg.chars().all(is_path_char));
            if is_path {
                return Ok(Filter::Field {
                    path: path.into_iter().map(str::to_string).collect(),
                    value: value.to_string(),
                });
            }
        }
        Ok(Filter::Contains(expr.to_string()))
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Contains(text) => write!(f, "body contains {text:?}"),
            Filter::Field { path, value } => write!(f, "{} = {value:?}", path.join(".")),
            Filter::Ids { label, ids } => write!(f, "the {} message(s) of {label}", ids.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Filter {
        s.parse().expect("filter")
    }

    #[test]
    fn parses_field_and_substring_forms() {
        assert_eq!(
            parse("store_id=berlin-01"),
            Filter::Field {
                path: vec!["store_id".into()],
                value: "berlin-01".into()
            }
        );
        assert_eq!(
            parse("customer.address.city=Oslo"),
            Filter::Field {
                path: vec!["customer".into(), "address".into(), "city".into()],
                value: "Oslo".into()
            }
        );
        assert_eq!(parse("frappuccino"), Filter::Contains("frappuccino".into()));
        assert_eq!(
            parse("\"coffee\": \"latte\""),
            Filter::Contains("\"coffee\": \"latte\"".into())
        );
        // Not a path on the left: a substring with an equals sign.
        assert_eq!(parse("a b=c"), Filter::Contains("a b=c".into()));
        assert_eq!(parse("=x"), Filter::Contains("=x".into()));
        assert_eq!(parse("a..b=x"), Filter::Contains("a..b=x".into()));
        assert_eq!(
            parse("contains:store_id=berlin-01"),
            Filter::Contains("store_id=berlin-01".into())
        );
        // An empty value is allowed: the field is the empty string.
        assert_eq!(
            parse("note="),
            Filter::Field {
                path: vec!["note".into()],
                value: String::new()
            }
        );
        assert!("".parse::<Filter>().is_err());
        assert!("contains:".parse::<Filter>().is_err());
    }

    #[test]
    fn field_filters_follow_dotted_paths() {
        let body = r#"{"order_id":"ord-1","store_id":"berlin-01","qty":2,"paid":false,
            "coupon":null,"customer":{"address":{"city":"Oslo"}},"items":[{"sku":"A-1"}]}"#;
        assert!(parse("store_id=berlin-01").matches(body));
        assert!(!parse("store_id=berlin-02").matches(body));
        assert!(!parse("store_id=berlin").matches(body));
        assert!(parse("customer.address.city=Oslo").matches(body));
        assert!(parse("items.0.sku=A-1").matches(body));
        assert!(!parse("items.1.sku=A-1").matches(body));
        assert!(parse("qty=2").matches(body));
        assert!(parse("paid=false").matches(body));
        assert!(parse("coupon=null").matches(body));
        assert!(!parse("customer=Oslo").matches(body));
        assert!(!parse("missing=x").matches(body));
        assert!(!parse("store_id=berlin-01").matches("not json store_id=berlin-01"));
    }

    #[test]
    fn substring_filters_look_at_the_raw_body() {
        assert!(parse("frapp").matches(r#"{"coffee":"frappuccino-xl"}"#));
        assert!(!parse("latte").matches(r#"{"coffee":"mocha"}"#));
        assert!(parse("contains:a=b").matches("x a=b y"));
    }

    #[test]
    fn displays_for_previews() {
        assert_eq!(parse("a.b=c").to_string(), "a.b = \"c\"");
        assert_eq!(parse("xyz").to_string(), "body contains \"xyz\"");
    }
}
