//! Redaction of sensitive fields on a shared screen and in exports.
//!
//! A rule is a field name (`card_number`: that key at any depth) or a dotted JSON
//! path from the root (`customer.email`), matched without regard to case. Values
//! are replaced by a mask; the structure stays, so a reader still sees which fields
//! are there. Everything else keeps its bytes (see [`crate::json_text`]), and JSON
//! carried inside a JSON string (an SNS or EventBridge envelope) is masked too.

use crate::json_text::{self, Kind, Node};

/// What a redacted value reads as.
pub const MASK: &str = "••••••";

/// Fields masked in presentation mode when the config names none.
pub(crate) const PRESENTATION_DEFAULTS: &[&str] = &[
    "email",
    "phone",
    "card_number",
    "customer",
    "address",
    "password",
    "token",
    "ssn",
];

/// Masks the fields `rules` name in a JSON body. A body that is not JSON, or
/// names none of them, comes back unchanged; otherwise only the masked values
/// change, byte for byte.
pub fn body(text: &str, rules: &[String]) -> String {
    if rules.is_empty() {
        return text.to_string();
    }
    masked(text, &mut Vec::new(), rules).unwrap_or_else(|| text.to_string())
}

/// Whether `rules` mask anything in this body.
pub(crate) fn hides_something(text: &str, rules: &[String]) -> bool {
    !rules.is_empty() && masked(text, &mut Vec::new(), rules).is_some()
}

/// Whether a message attribute of this name is masked.
pub fn attribute(name: &str, rules: &[String]) -> bool {
    rules
        .iter()
        .any(|r| !r.contains('.') && r.eq_ignore_ascii_case(name))
}

/// An attribute's value as it may be shown.
pub(crate) fn attribute_value<'a>(
    name: &str,
    value: &'a str,
    rules: &[String],
) -> std::borrow::Cow<'a, str> {
    if attribute(name, rules) {
        std::borrow::Cow::Borrowed(MASK)
    } else if rules.is_empty() {
        std::borrow::Cow::Borrowed(value)
    } else {
        std::borrow::Cow::Owned(body(value, rules))
    }
}

/// A URL as it may be shown or logged: the user info (`user:password@`) and the
/// value of every query parameter (tokens, signatures) are masked.
pub fn url(text: &str) -> String {
    let (scheme, rest) = match text.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), text),
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("{MASK}@{host}"),
        None => authority.to_string(),
    };
    let mut out = format!("{scheme}{authority}{path}");
    if let Some(q) = query {
        let (q, fragment) = match q.split_once('#') {
            Some((q, f)) => (q, Some(f)),
            None => (q, None),
        };
        let masked: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) => format!("{k}={MASK}"),
                None => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&masked.join("&"));
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
    }
    out
}

/// The text with its masked values replaced, or None when nothing is masked.
fn masked(text: &str, path: &mut Vec<String>, rules: &[String]) -> Option<String> {
    let root = json_text::parse(text)?;
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    collect(text, &root, path, rules, &mut edits);
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|(span, _)| span.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (span, replacement) in edits {
        out.push_str(&text[at..span.start]);
        out.push_str(&replacement);
        at = span.end;
    }
    out.push_str(&text[at..]);
    Some(out)
}

fn hit(rules: &[String], key: &str, path: &[String]) -> bool {
    rules.iter().any(|r| {
        if r.contains('.') {
            r.split('.').count() == path.len()
                && r.split('.')
                    .zip(path)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
        } else {
            r.eq_ignore_ascii_case(key)
        }
    })
}

fn collect(
    text: &str,
    node: &Node,
    path: &mut Vec<String>,
    rules: &[String],
    edits: &mut Vec<(std::ops::Range<usize>, String)>,
) {
    match &node.kind {
        Kind::Object(members) => {
            for (key, value) in members {
                let name = json_text::key_name(text, key).unwrap_or_default();
                path.push(name.clone());
                if hit(rules, &name, path) {
                    edits.push((value.span.clone(), format!("\"{MASK}\"")));
                } else {
                    collect(text, value, path, rules, edits);
                }
                path.pop();
            }
        }
        Kind::Array(items) => {
            for item in items {
                collect(text, item, path, rules, edits);
            }
        }
        Kind::Str => {
            // JSON inside a string: mask it there and write the string anew.
            let raw = &text[node.span.clone()];
            if !raw.contains(['{', '[']) {
                return;
            }
            let Ok(inner) = serde_json::from_str::<String>(raw) else {
                return;
            };
            if !inner.trim_start().starts_with(['{', '[']) {
                return;
            }
            if let Some(inner_masked) = masked(&inner, path, rules)
                && let Ok(encoded) = serde_json::to_string(&inner_masked)
            {
                edits.push((node.span.clone(), encoded));
            }
        }
        Kind::Literal => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_match_at_any_depth_and_paths_from_the_root() {
        let text = r#"{"card_number":"4111","customer":{"email":"a@b.c","name":"Ana"},"items":[{"card_number":"5500"}],"email":"top@x"}"#;
        let out = body(text, &rules(&["card_number", "customer.email"]));
        assert!(!out.contains("4111") && !out.contains("5500") && !out.contains("a@b.c"));
        assert!(out.contains("Ana"), "{out}");
        assert!(
            out.contains("top@x"),
            "a dotted path only matches from the root: {out}"
        );
        assert!(out.contains(MASK));
        let v: serde_json::Value = serde_json::from_str(&out).expect("still JSON");
        assert_eq!(v["customer"]["name"], "Ana");
    }

    #[test]
    fn untouched_bodies_come_back_as_they_were() {
        assert_eq!(
            body("not json email=x", &rules(&["email"])),
            "not json email=x"
        );
        let pretty = "{\n  \"a\": 1\n}";
        assert_eq!(body(pretty, &rules(&["email"])), pretty);
        assert!(!hides_something(pretty, &rules(&["email"])));
        assert!(hides_something(r#"{"email":"x"}"#, &rules(&["email"])));
    }

    #[test]
    fn only_masked_values_change() {
        let out = body(
            r#"{"z": 1.10, "EMAIL":"x", "a":12345678901234567890123}"#,
            &rules(&["email"]),
        );
        assert_eq!(
            out,
            format!(r#"{{"z": 1.10, "EMAIL":"{MASK}", "a":12345678901234567890123}}"#)
        );
    }

    #[test]
    fn json_inside_a_string_is_masked_too() {
        let inner = r#"{"email":"ana@example.com","order":"ord-1"}"#;
        let envelope = serde_json::json!({ "Type": "Notification", "Message": inner }).to_string();
        let out = body(&envelope, &rules(&["email"]));
        assert!(!out.contains("ana@example.com"), "{out}");
        assert!(out.contains("ord-1"), "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        let inner: serde_json::Value =
            serde_json::from_str(v["Message"].as_str().expect("string")).expect("inner json");
        assert_eq!(inner["email"], MASK);
    }

    #[test]
    fn urls_lose_their_secrets() {
        assert_eq!(
            url("https://admin:s3cret@sqs.example.com:4566/path?token=abc&x=1#frag"),
            format!("https://{MASK}@sqs.example.com:4566/path?token={MASK}&x={MASK}#frag")
        );
        assert_eq!(url("http://127.0.0.1:4566"), "http://127.0.0.1:4566");
        assert_eq!(
            url("http://health.internal/ok?key=k@y"),
            format!("http://health.internal/ok?key={MASK}")
        );
    }

    #[test]
    fn attributes_match_without_case() {
        assert!(attribute("Card_Number", &rules(&["card_number"])));
        assert!(!attribute("card", &rules(&["card_number"])));
        assert_eq!(
            attribute_value("meta", r#"{"token":"t0k"}"#, &rules(&["token"])),
            format!(r#"{{"token":"{MASK}"}}"#)
        );
    }
}
