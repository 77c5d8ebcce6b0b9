//! JSON as the text it is: pretty-print, compact and mask a body without changing
//! a single token.
//!
//! A generic JSON value (serde_json's `Value`) re-serialises numbers and strings:
//! `12345678901234567890123` becomes `1.2345678901234568e+22`, `1.10` becomes
//! `1.1`, `"caf\u00e9"` becomes `"café"`, and duplicate keys collapse. A message
//! edited that way is silently changed. Here a body is parsed into a tree of byte
//! spans over the original text, so every token (number, string, key, literal)
//! is copied byte for byte and only the whitespace between tokens is ours.

use std::ops::Range;

/// Deeper than this is treated as not JSON (as serde_json's own limit does).
const MAX_DEPTH: usize = 128;

/// One JSON value: where it is in the text, and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Range<usize>,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A number, `true`, `false` or `null`.
    Literal,
    /// A string, quotes included in the span.
    Str,
    Array(Vec<Node>),
    /// Members in their order, duplicates kept: the key's span (quotes included)
    /// and the value.
    Object(Vec<(Range<usize>, Node)>),
}

/// Parses a whole text as one JSON value (whitespace around it allowed).
pub fn parse(text: &str) -> Option<Node> {
    let mut p = Parser {
        b: text.as_bytes(),
        i: 0,
    };
    p.ws();
    let node = p.value(0)?;
    p.ws();
    (p.i == p.b.len()).then_some(node)
}

/// Whether the text is one JSON value.
pub(crate) fn is_json(text: &str) -> bool {
    parse(text).is_some()
}

/// The body indented by two spaces (the layout `serde_json::to_string_pretty`
/// uses), every token as it was. Text that is not JSON comes back as it is.
pub fn pretty(text: &str) -> String {
    match parse(text) {
        Some(node) => {
            let mut out = String::with_capacity(text.len() + text.len() / 4);
            write(text, &node, Some(0), &mut out);
            out
        }
        None => text.to_string(),
    }
}

/// The body on one line with no whitespace between tokens, every token as it
/// was. Text that is not JSON comes back as it is.
pub fn compact(text: &str) -> String {
    match parse(text) {
        Some(node) => {
            let mut out = String::with_capacity(text.len());
            write(text, &node, None, &mut out);
            out
        }
        None => text.to_string(),
    }
}

/// The body on one line, for a table cell: compact JSON, or the text with its
/// line breaks shown as `⏎`.
pub(crate) fn one_line(text: &str) -> String {
    if is_json(text) {
        compact(text)
    } else {
        text.trim_end()
            .replace("\r\n", "⏎")
            .replace(['\n', '\r'], "⏎")
    }
}

/// Whether two texts hold the same tokens in the same order (they differ at
/// most in whitespace between tokens). Texts that are not JSON must be equal.
pub(crate) fn same_tokens(a: &str, b: &str) -> bool {
    match (parse(a), parse(b)) {
        (Some(na), Some(nb)) => {
            let (mut ca, mut cb) = (String::new(), String::new());
            write(a, &na, None, &mut ca);
            write(b, &nb, None, &mut cb);
            ca == cb
        }
        (None, None) => a == b,
        _ => false,
    }
}

/// The value `output` holds, written with `original`'s tokens wherever a part of
/// it is unchanged: a JSON engine's output (jq's) re-escapes strings and may
/// rewrite numbers, so every value the expression did not touch is copied from
/// the original, byte for byte. The layout follows the original's: one line, or
/// indented when the original spanned lines. `None` when either is not JSON.
pub(crate) fn keep_untouched(original: &str, output: &str) -> Option<String> {
    let (o, n) = (parse(original)?, parse(output)?);
    let mut out = String::with_capacity(output.len());
    merge(original, Some(&o), output, &n, &mut out);
    Some(if original.contains('\n') {
        pretty(&out)
    } else {
        out
    })
}

/// Whether an object somewhere in the text has the same key twice (a JSON
/// engine keeps only one of them).
pub(crate) fn has_duplicate_keys(text: &str) -> bool {
    fn dup(text: &str, node: &Node) -> bool {
        match &node.kind {
            Kind::Literal | Kind::Str => false,
            Kind::Array(items) => items.iter().any(|i| dup(text, i)),
            Kind::Object(members) => {
                let mut seen = std::collections::HashSet::new();
                members.iter().any(|(k, v)| {
                    !seen.insert(key_name(text, k).unwrap_or_default()) || dup(text, v)
                })
            }
        }
    }
    parse(text).is_some_and(|n| dup(text, &n))
}

/// Whether node `a` of text `ta` and node `b` of text `tb` hold the same value:
/// equal literals, equal decoded strings, equal members in the same order.
fn same_value(ta: &str, a: &Node, tb: &str, b: &Node) -> bool {
    match (&a.kind, &b.kind) {
        (Kind::Literal, Kind::Literal) => ta[a.span.clone()] == tb[b.span.clone()],
        (Kind::Str, Kind::Str) => {
            ta[a.span.clone()] == tb[b.span.clone()]
                || key_name(ta, &a.span).is_some_and(|s| key_name(tb, &b.span) == Some(s))
        }
        (Kind::Array(x), Kind::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(i, j)| same_value(ta, i, tb, j))
        }
        (Kind::Object(x), Kind::Object(y)) => {
            x.len() == y.len()
                && x.iter().zip(y).all(|((ka, va), (kb, vb))| {
                    key_name(ta, ka) == key_name(tb, kb) && same_value(ta, va, tb, vb)
                })
        }
        _ => false,
    }
}

/// Writes `new` (of text `tn`) compactly, taking unchanged parts from `old`
/// (of text `to`), the value at the same place in the original.
fn merge(to: &str, old: Option<&Node>, tn: &str, new: &Node, out: &mut String) {
    if let Some(o) = old
        && same_value(to, o, tn, new)
    {
        write(to, o, None, out);
        return;
    }
    match (old.map(|o| &o.kind), &new.kind) {
        (Some(Kind::Object(om)), Kind::Object(nm)) => {
            let mut used = vec![false; om.len()];
            out.push('{');
            for (n, (nk, nv)) in nm.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                let name = key_name(tn, nk);
                let found = om
                    .iter()
                    .enumerate()
                    .find(|(i, (ok, _))| !used[*i] && key_name(to, ok) == name);
                match found {
                    Some((i, (ok, ov))) => {
                        used[i] = true;
                        out.push_str(&to[ok.clone()]);
                        out.push(':');
                        merge(to, Some(ov), tn, nv, out);
                    }
                    None => {
                        out.push_str(&tn[nk.clone()]);
                        out.push(':');
                        merge(to, None, tn, nv, out);
                    }
                }
            }
            out.push('}');
        }
        (Some(Kind::Array(oi)), Kind::Array(ni)) => {
            out.push('[');
            for (n, item) in ni.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                merge(to, oi.get(n), tn, item, out);
            }
            out.push(']');
        }
        _ => write(tn, new, None, out),
    }
}

/// The decoded name of an object key (its span includes the quotes).
pub(crate) fn key_name(text: &str, span: &Range<usize>) -> Option<String> {
    serde_json::from_str::<String>(&text[span.clone()]).ok()
}

/// Writes a node: pretty at an indent level, or compact when `indent` is None.
fn write(text: &str, node: &Node, indent: Option<usize>, out: &mut String) {
    let newline = |out: &mut String, level: usize| {
        out.push('\n');
        for _ in 0..level {
            out.push_str("  ");
        }
    };
    match &node.kind {
        Kind::Literal | Kind::Str => out.push_str(&text[node.span.clone()]),
        Kind::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                if let Some(level) = indent {
                    newline(out, level + 1);
                }
                write(text, item, indent.map(|l| l + 1), out);
            }
            if let (Some(level), false) = (indent, items.is_empty()) {
                newline(out, level);
            }
            out.push(']');
        }
        Kind::Object(members) => {
            out.push('{');
            for (n, (key, value)) in members.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                if let Some(level) = indent {
                    newline(out, level + 1);
                }
                out.push_str(&text[key.clone()]);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write(text, value, indent.map(|l| l + 1), out);
            }
            if let (Some(level), false) = (indent, members.is_empty()) {
                newline(out, level);
            }
            out.push('}');
        }
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        let start = self.i;
        let kind = match self.peek()? {
            b'{' => self.object(depth)?,
            b'[' => self.array(depth)?,
            b'"' => {
                self.string()?;
                Kind::Str
            }
            b't' => self.word(b"true")?,
            b'f' => self.word(b"false")?,
            b'n' => self.word(b"null")?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return None,
        };
        Some(Node {
            span: start..self.i,
            kind,
        })
    }

    fn word(&mut self, w: &[u8]) -> Option<Kind> {
        if self.b[self.i..].starts_with(w) {
            self.i += w.len();
            Some(Kind::Literal)
        } else {
            None
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Option<Kind> {
        self.eat(b'-');
        if !self.eat(b'0') && self.digits() == 0 {
            return None;
        }
        if self.eat(b'.') && self.digits() == 0 {
            return None;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(Kind::Literal)
    }

    /// A string, from its opening quote to past its closing one.
    fn string(&mut self) -> Option<()> {
        if !self.eat(b'"') {
            return None;
        }
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => {
                    self.i += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            let hex = self.b.get(self.i + 1..self.i + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i += 5;
                        }
                        _ => return None,
                    }
                }
                c if c < 0x20 => return None,
                _ => self.i += 1,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Kind> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat(b']') {
            return Some(Kind::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat(b']') {
                return Some(Kind::Array(items));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<Kind> {
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.eat(b'}') {
            return Some(Kind::Object(members));
        }
        loop {
            self.ws();
            let key_start = self.i;
            self.string()?;
            let key = key_start..self.i;
            self.ws();
            if !self.eat(b':') {
                return None;
            }
            self.ws();
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.ws();
            if self.eat(b'}') {
                return Some(Kind::Object(members));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRICKY: &str = r#"{"id": 12345678901234567890123, "price": 1.10, "note": "caf\u00e9", "e": 1e3, "k": 1, "k": 2, "z": [], "o": {}, "s": "a\"b\\/"}"#;

    #[test]
    fn pretty_and_compact_keep_every_token() {
        let p = pretty(TRICKY);
        for token in [
            "12345678901234567890123",
            "1.10",
            r#""caf\u00e9""#,
            "1e3",
            r#""k": 1"#,
            r#""k": 2"#,
            r#""s": "a\"b\\/""#,
        ] {
            assert!(p.contains(token), "{token} missing from {p}");
        }
        assert!(
            p.starts_with("{\n  \"id\": 12345678901234567890123,\n"),
            "{p}"
        );
        assert!(p.contains("\"z\": [],\n  \"o\": {},"), "{p}");
        assert_eq!(compact(&p), compact(TRICKY));
        assert_eq!(
            compact(TRICKY),
            r#"{"id":12345678901234567890123,"price":1.10,"note":"caf\u00e9","e":1e3,"k":1,"k":2,"z":[],"o":{},"s":"a\"b\\/"}"#
        );
        assert!(same_tokens(TRICKY, &p));
        assert!(!same_tokens(TRICKY, &p.replace("1.10", "1.1")));
    }

    #[test]
    fn pretty_matches_serde_for_plain_bodies() {
        let body = r#"{"a":[1,{"b":null,"c":[true,false]}],"d":"x","e":-0.5,"f":[],"g":{}}"#;
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(
            pretty(body),
            serde_json::to_string_pretty(&v).expect("pretty")
        );
    }

    #[test]
    fn not_json_is_left_alone_and_agrees_with_serde() {
        for text in [
            "",
            "hello",
            "{",
            r#"{"a":1,}"#,
            "[1 2]",
            "01",
            "1.",
            "-",
            "1e",
            r#""\x""#,
            "\"a\nb\"",
            r#"{"a" 1}"#,
            "nul",
            "{} {}",
        ] {
            assert!(!is_json(text), "{text:?}");
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(text).is_err(),
                "{text:?}"
            );
            assert_eq!(pretty(text), text);
        }
        for text in ["0", "-0.0e+1", " [ ] ", "\"\\u00e9\"", "1E400", "\"é\""] {
            assert!(is_json(text), "{text:?}");
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_not_json_rather_than_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(!is_json(&deep));
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(is_json(&ok));
    }

    #[test]
    fn one_line_summaries() {
        assert_eq!(one_line("{\n  \"a\": 1.10\n}"), r#"{"a":1.10}"#);
        assert_eq!(one_line("line one\nline two\n"), "line one⏎line two");
    }

    #[test]
    fn keep_untouched_copies_every_value_the_output_did_not_change() {
        let original = r#"{"id": 12345678901234567890123, "price": 1.10, "name": "caf\u00e9", "qty": 1e3, "store_id": "s1"}"#;
        // What jq gives for `.store_id = "s2"`: strings re-escaped, layout lost.
        let output = r#"{"id":12345678901234567890123,"price":1.1,"name":"café","qty":1000,"store_id":"s2"}"#;
        let kept = keep_untouched(original, output).expect("json");
        // Numbers that changed text are changes: only `1.1` vs `1.10` shows the
        // engine's own rewriting, so the original must be copied there only if
        // equal. Strings equal in value keep their original escapes.
        assert!(kept.contains(r#""name":"caf\u00e9""#), "{kept}");
        assert!(kept.contains(r#""store_id":"s2""#), "{kept}");
        assert!(kept.contains("12345678901234567890123"), "{kept}");
        let same = keep_untouched(original, r#"{"id":12345678901234567890123,"price":1.10,"name":"café","qty":1e3,"store_id":"s1"}"#).expect("json");
        assert!(
            same_tokens(&same, original),
            "unchanged output is the original: {same}"
        );
        // A pretty original stays pretty.
        let pretty_in = "{\n  \"a\": \"x\",\n  \"b\": 1\n}";
        assert_eq!(
            keep_untouched(pretty_in, r#"{"a":"y","b":1}"#).as_deref(),
            Some("{\n  \"a\": \"y\",\n  \"b\": 1\n}")
        );
        // Added and removed keys.
        assert_eq!(
            keep_untouched(r#"{"a":1,"b":2}"#, r#"{"b":2,"c":3}"#).as_deref(),
            Some(r#"{"b":2,"c":3}"#)
        );
        assert!(has_duplicate_keys(r#"{"a":1,"b":{"c":1,"c":2}}"#));
        assert!(!has_duplicate_keys(r#"{"a":1,"b":{"c":1,"d":2}}"#));
    }
}
