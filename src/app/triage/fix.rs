//! The `e` dialog of triage: a jq expression for the selected group, a
//! before → after preview, and keeping the fixed bodies (nothing is sent until `r`).

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::super::browser::Held;
use super::super::{App, Cmd};
use crate::keymap::{Action, Scope};
use crate::triage::Transform;
use crate::triage::transform::DiffLine;

/// Bodies the fix preview shows before → after.
const PREVIEWED: usize = 3;

/// The `e` dialog: a jq expression for the selected group, and its preview.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    pub expression: String,
    pub error: Option<String>,
    pub preview: Option<FixPreview>,
}

/// A body before → after, line by line.
pub type Diff = Vec<(DiffLine, String)>;

/// What an expression does to the group, before anything is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct FixPreview {
    pub expression: String,
    /// The first bodies' diffs (redacted), by message id; or why it fails.
    pub samples: Vec<(String, Result<Diff, String>)>,
    /// Message index → fixed body, for those it works on.
    pub fixed: Vec<(usize, String)>,
    pub failed: usize,
    pub first_failure: Option<String>,
}

impl App {
    /// Keys in the fix dialog: type the expression; Enter previews it, Enter
    /// again (or the keep key) keeps the fixed bodies; Esc closes it.
    pub(super) fn on_fix_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        let rules = self.redaction();
        let action = self.keymap.action_in_text(&key, Scope::Dialog);
        let messages = self.group_messages();
        let Some(t) = self.triage.as_mut() else {
            return Vec::new();
        };
        let Some(fix) = t.fix.as_mut() else {
            return Vec::new();
        };
        match (action, key.code) {
            (Some(Action::Cancel), _) => t.fix = None,
            (Some(Action::Confirm | Action::Keep), _) => {
                let ready = fix
                    .preview
                    .as_ref()
                    .is_some_and(|p| p.expression == fix.expression);
                if !ready {
                    match Transform::compile(&fix.expression) {
                        Ok(transform) => {
                            fix.error = None;
                            fix.preview = Some(preview(&transform, &t.by_id, &messages, &rules));
                        }
                        Err(e) => fix.error = Some(e),
                    }
                    return Vec::new();
                }
                let preview = fix.preview.take().unwrap_or_else(|| unreachable!("ready"));
                t.fix = None;
                let kept = preview.fixed.len();
                for (i, body) in preview.fixed {
                    if let Some(h) = t.messages.get_mut(i) {
                        h.edited = (!crate::json_text::same_tokens(&body, &h.message.body))
                            .then_some(body);
                    }
                }
                let text = format!(
                    "fixed {kept} message(s){} — r requeues the group with the fixed bodies",
                    if preview.failed > 0 {
                        format!(
                            "; {} could not be fixed and stay as they were",
                            preview.failed
                        )
                    } else {
                        String::new()
                    }
                );
                self.notify(text, false);
            }
            (_, KeyCode::Backspace) => {
                fix.expression.pop();
            }
            (_, KeyCode::Char(c)) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                fix.expression.push(c);
            }
            _ => {}
        }
        Vec::new()
    }
}

/// Applies `transform` to every message of the group: the first bodies'
/// redacted diffs, and the fixed bodies it would keep.
fn preview(
    transform: &Transform,
    by_id: &HashMap<String, usize>,
    group: &[Held],
    rules: &[String],
) -> FixPreview {
    let mut p = FixPreview {
        expression: transform.code().to_string(),
        samples: Vec::new(),
        fixed: Vec::new(),
        failed: 0,
        first_failure: None,
    };
    for h in group {
        let id = &h.message.message_id;
        let result = transform.apply(h.body());
        if p.samples.len() < PREVIEWED {
            let shown = match &result {
                Ok(after) => Ok(crate::triage::transform::diff(
                    &crate::redact::body(h.body(), rules),
                    &crate::redact::body(after, rules),
                )),
                Err(why) => Err(why.clone()),
            };
            p.samples.push((id.clone(), shown));
        }
        match result {
            Ok(after) => {
                if let Some(&i) = by_id.get(id) {
                    p.fixed.push((i, after));
                }
            }
            Err(why) => {
                p.failed += 1;
                p.first_failure.get_or_insert(why);
            }
        }
    }
    p
}
