//! Fixing message bodies with a jq expression (the jaq engine).
//!
//! A transform must change only what the expression asks for: the result is
//! written with the original's tokens wherever a value is unchanged
//! ([`json_text::keep_untouched`]). A body the engine cannot read faithfully (not
//! JSON, or an object with a duplicate key) is refused, never rewritten.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;

use crate::json_text;

type Filter = jaq_core::Filter<data::JustLut<Val>>;

/// A compiled jq expression.
pub struct Transform {
    code: String,
    filter: Filter,
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Transform({:?})", self.code)
    }
}

impl Clone for Transform {
    fn clone(&self) -> Self {
        Transform::compile(&self.code).expect("it compiled before")
    }
}

impl PartialEq for Transform {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
    }
}

impl Transform {
    /// Compiles `code`, or says what is wrong with it and where.
    pub(crate) fn compile(code: &str) -> Result<Transform, String> {
        if code.trim().is_empty() {
            return Err("the jq expression is empty".into());
        }
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let arena = Arena::default();
        let at = |rest: &str| code.len().saturating_sub(rest.len()) + 1;
        let modules = Loader::new(defs)
            .load(&arena, File { code, path: () })
            .map_err(|errors| {
                let mut why = Vec::new();
                for (_, e) in errors {
                    match e {
                        jaq_core::load::Error::Io(items) => {
                            why.extend(items.into_iter().map(|(_, m)| m))
                        }
                        jaq_core::load::Error::Lex(items) => {
                            why.extend(items.into_iter().map(|(expect, rest)| {
                                let what = match expect {
                                    jaq_core::load::lex::Expect::Delim(d) => match d {
                                        "(" | "[" | "{" | "\"" => expect.as_str().to_string(),
                                        other => format!("closing {other}"),
                                    },
                                    other => other.as_str().to_string(),
                                };
                                format!("expected {what} at character {}", at(rest))
                            }))
                        }
                        jaq_core::load::Error::Parse(items) => {
                            why.extend(items.into_iter().map(|(expect, rest)| {
                                format!("expected {} at character {}", expect.as_str(), at(rest))
                            }))
                        }
                    }
                }
                format!("not a valid jq expression: {}", why.join("; "))
            })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errors| {
                let why: Vec<String> = errors
                    .into_iter()
                    .flat_map(|(_, items)| items)
                    .map(|(name, kind)| match kind {
                        jaq_core::compile::Undefined::Filter(arity) => {
                            format!("no filter {name}/{arity}")
                        }
                        jaq_core::compile::Undefined::Var => format!("undefined variable {name}"),
                        _ => format!("undefined {name}"),
                    })
                    .collect();
                format!("not a valid jq expression: {}", why.join("; "))
            })?;
        Ok(Transform {
            code: code.to_string(),
            filter,
        })
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    /// The fixed body, or why this message cannot be fixed by the expression.
    pub(crate) fn apply(&self, body: &str) -> Result<String, String> {
        if !json_text::is_json(body) {
            return Err("the body is not JSON".into());
        }
        if json_text::has_duplicate_keys(body) {
            return Err("the body has a duplicate key, which jq would drop".into());
        }
        let input = jaq_json::read::parse_single(body.as_bytes())
            .map_err(|e| format!("the JSON engine cannot read the body: {e}"))?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let mut outputs = self.filter.id.run((ctx, input)).map(unwrap_valr);
        let first = match outputs.next() {
            None => return Err("the expression gave no result".into()),
            Some(Err(e)) => return Err(format!("the expression failed: {e}")),
            Some(Ok(v)) => v,
        };
        if outputs.next().is_some() {
            return Err("the expression gave more than one result".into());
        }
        let text = first.to_string();
        json_text::keep_untouched(body, &text)
            .ok_or_else(|| format!("the expression's result is not JSON: {text}"))
    }
}

/// Before → after of one body, line by line (both pretty-printed): `-` lines
/// removed, `+` lines added, others kept, with a line of context around changes.
pub(crate) fn diff(before: &str, after: &str) -> Vec<(DiffLine, String)> {
    let (a, b) = (json_text::pretty(before), json_text::pretty(after));
    let text = similar::TextDiff::from_lines(&a, &b);
    let mut lines = Vec::new();
    for group in text.grouped_ops(1) {
        for op in group {
            for change in text.iter_changes(&op) {
                let kind = match change.tag() {
                    similar::ChangeTag::Delete => DiffLine::Removed,
                    similar::ChangeTag::Insert => DiffLine::Added,
                    similar::ChangeTag::Equal => DiffLine::Same,
                };
                lines.push((kind, change.value().trim_end_matches('\n').to_string()));
            }
        }
    }
    lines
}

/// One line of a [`diff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffLine {
    Same,
    Removed,
    Added,
}

impl DiffLine {
    pub(crate) fn sign(self) -> char {
        match self {
            DiffLine::Same => ' ',
            DiffLine::Removed => '-',
            DiffLine::Added => '+',
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fix_changes_only_what_the_expression_asks_for() {
        let t = Transform::compile(r#".coffee = "mocha""#).expect("compiles");
        let body = r#"{"order_id":"o-1","coffee":"latte","total":12345678901234567890,"price":1.10,"note":"caf\u00e9"}"#;
        assert_eq!(
            t.apply(body).expect("applies"),
            r#"{"order_id":"o-1","coffee":"mocha","total":12345678901234567890,"price":1.10,"note":"caf\u00e9"}"#
        );
    }

    #[test]
    fn failures_say_why_and_change_nothing() {
        let t = Transform::compile(".store_id |= ascii_upcase").expect("compiles");
        assert!(t.apply("not json").expect_err("fails").contains("not JSON"));
        assert!(t.apply(r#"{"a":1}"#).expect_err("fails").contains("failed"));
        assert!(
            t.apply(r#"{"store_id":"x","store_id":"y"}"#)
                .expect_err("fails")
                .contains("duplicate")
        );
        let many = Transform::compile(".[]").expect("compiles");
        assert!(
            many.apply(r#"{"a":1,"b":2}"#)
                .expect_err("fails")
                .contains("more than one")
        );
        let none = Transform::compile("empty").expect("compiles");
        assert!(
            none.apply(r#"{"a":1}"#)
                .expect_err("fails")
                .contains("no result")
        );
    }

    #[test]
    fn a_bad_expression_is_a_clear_error() {
        let e = Transform::compile(".a +").expect_err("fails");
        assert!(
            e.contains("not a valid jq expression") && e.contains("character"),
            "{e}"
        );
        let e = Transform::compile("nosuch(1)").expect_err("fails");
        assert!(e.contains("nosuch/1"), "{e}");
        let e = Transform::compile("(((").expect_err("fails");
        assert!(e.contains("closing parenthesis"), "{e}");
        assert!(
            Transform::compile("  ")
                .expect_err("fails")
                .contains("empty")
        );
    }

    #[test]
    fn a_diff_shows_only_the_changed_lines_and_their_neighbours() {
        let before = r#"{"a":1,"b":2,"c":3,"d":4,"e":5}"#;
        let after = r#"{"a":1,"b":2,"c":30,"d":4,"e":5}"#;
        let d = diff(before, after);
        let signs: String = d.iter().map(|(k, _)| k.sign()).collect();
        assert_eq!(signs, " -+ ");
        assert!(
            d[1].1.contains("\"c\": 3,") && d[2].1.contains("\"c\": 30,"),
            "{d:?}"
        );
        assert!(diff(before, before).is_empty());
    }
}
