//! Redaction of sensitive fields on a shared screen and in exports.
//!
//! A rule is a field name (`card_number`: that key at any depth) or a dotted JSON
//! path from the root (`customer.email`). Values are replaced by a mask; the
//! structure stays, so a reader still sees which fields are there.

use serde_json::Value;

/// What a redacted value reads as.
pub const MASK: &str = "••••••";

/// Fields masked in presentation mode when the config names none.
pub const PRESENTATION_DEFAULTS: &[&str] = &[
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
/// names none of them, comes back unchanged.
pub fn body(text: &str, rules: &[String]) -> String {
    if rules.is_empty() {
        return text.to_string();
    }
    let Ok(mut v) = serde_json::from_str::<Value>(text) else {
        return text.to_string();
    };
    if !mask(&mut v, &mut Vec::new(), rules) {
        return text.to_string();
    }
    if text.trim_start().starts_with(['{', '[']) && text.contains('\n') {
        serde_json::to_string_pretty(&v).unwrap_or_else(|_| text.to_string())
    } else {
        v.to_string()
    }
}

/// Whether `rules` mask anything in this body.
pub fn hides_something(text: &str, rules: &[String]) -> bool {
    !rules.is_empty() && body(text, rules) != text
}

/// Whether a message attribute of this name is masked.
pub fn attribute(name: &str, rules: &[String]) -> bool {
    rules.iter().any(|r| r == name)
}

fn mask(v: &mut Value, path: &mut Vec<String>, rules: &[String]) -> bool {
    let mut changed = false;
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                path.push(k.clone());
                let dotted = path.join(".");
                let hit = rules.iter().any(|r| {
                    if r.contains('.') {
                        *r == dotted
                    } else {
                        r == k
                    }
                });
                if hit {
                    *child = Value::String(MASK.to_string());
                    changed = true;
                } else {
                    changed |= mask(child, path, rules);
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            for child in items {
                changed |= mask(child, path, rules);
            }
        }
        _ => {}
    }
    changed
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
        let v: Value = serde_json::from_str(&out).expect("still JSON");
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
    fn key_order_is_kept() {
        let out = body(r#"{"z":1,"email":"x","a":2}"#, &rules(&["email"]));
        assert_eq!(out, format!(r#"{{"z":1,"email":"{MASK}","a":2}}"#));
    }
}
