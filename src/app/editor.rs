//! The body editor: the message's body pretty-printed, token for token, checked
//! as you type against JSON and the destination's size limit.

use crate::keymap::{Action, Scope};
use crossterm::event::KeyEvent;
use ratatui_textarea::TextArea;

use super::App;
use super::Cmd;
use super::browser::Held;
use super::popup::{Pending, Popup};
use crate::broker::{attributes_size, human_size};

/// The outcome of checking an edited body.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyCheck {
    Json,
    NotJson {
        line: usize,
        column: usize,
        message: String,
    },
}

impl BodyCheck {
    pub fn of(text: &str) -> BodyCheck {
        if crate::json_text::is_json(text) {
            return BodyCheck::Json;
        }
        match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Err(e) => BodyCheck::NotJson {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            },
            Ok(_) => BodyCheck::NotJson {
                line: 1,
                column: 1,
                message: "nested too deeply to edit as JSON".into(),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct Editor {
    pub message_id: String,
    pub textarea: TextArea<'static>,
    pub check: BodyCheck,
    pub bytes: usize,
    /// Whether the original body was one line (compact JSON is sent compact).
    pub was_compact: bool,
    /// The destination's MaximumMessageSize, and the destination it is for.
    pub limit: usize,
    pub limit_of: Option<String>,
    /// What the message's attributes add to its size.
    pub attribute_bytes: usize,
    /// The text as it opened, to tell whether anything was typed.
    opened: String,
}

impl Editor {
    pub(super) fn new(held: &Held, limit: usize, limit_of: Option<String>) -> Editor {
        let body = held.body();
        let was_compact = !body.contains('\n');
        let text = crate::json_text::pretty(body);
        let mut textarea = TextArea::new(text.lines().map(str::to_string).collect());
        textarea.set_max_histories(200);
        let opened = textarea.lines().join("\n");
        let mut e = Editor {
            message_id: held.message.message_id.clone(),
            textarea,
            check: BodyCheck::Json,
            bytes: 0,
            was_compact,
            limit,
            limit_of,
            attribute_bytes: attributes_size(&held.message.attributes),
            opened,
        };
        e.recheck();
        e
    }

    pub fn text(&self) -> String {
        self.textarea.lines().join("\n")
    }

    /// The body to send: compact again if it came compact and is valid JSON. Only
    /// whitespace between tokens changes; every token is as the user left it.
    pub(super) fn body(&self) -> String {
        let text = self.text();
        if self.was_compact && crate::json_text::is_json(&text) {
            return crate::json_text::compact(&text);
        }
        text
    }

    pub(super) fn recheck(&mut self) {
        let text = self.text();
        self.check = BodyCheck::of(&text);
        self.bytes = self.body().len() + self.attribute_bytes;
    }

    /// Whether the text differs from what the editor opened with.
    pub fn changed(&self) -> bool {
        self.text() != self.opened
    }

    pub(crate) fn over_limit(&self) -> bool {
        self.bytes > self.limit
    }
}

impl App {
    pub(super) fn on_editor_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        let Some(b) = self.browser.as_mut() else {
            return Vec::new();
        };
        let Some(editor) = b.editor.as_mut() else {
            return Vec::new();
        };
        match self.keymap.action_in_text(&key, Scope::Dialog) {
            Some(Action::Cancel) if editor.changed() => {
                let id = editor.message_id.clone();
                let keep = self.keymap.label_in_text(Action::Keep);
                self.overlays.show_popup(Popup::Confirm {
                    title: "Discard your changes?".into(),
                    lines: vec![
                        format!("What you typed in {id} has not been kept ({keep} keeps it)."),
                        "y/Enter: discard it, n/Esc: go on editing".into(),
                    ],
                    on_yes: Pending::DiscardEdit,
                });
            }
            Some(Action::Cancel) => {
                b.editor = None;
                self.notify("edit cancelled: the message is unchanged", false);
            }
            Some(Action::Keep) => {
                if editor.over_limit() {
                    let text = format!(
                        "the message is {} bytes ({}, body and attributes), over {}'s limit of {} bytes ({}): shorten it before keeping it",
                        editor.bytes,
                        human_size(editor.bytes),
                        editor.limit_of.as_deref().unwrap_or("the destination"),
                        editor.limit,
                        human_size(editor.limit)
                    );
                    self.notify(text, true);
                } else if editor.body().trim().is_empty() {
                    self.notify("the body cannot be empty", true);
                } else if let BodyCheck::NotJson {
                    line,
                    column,
                    message,
                } = editor.check.clone()
                {
                    self.overlays.show_popup(Popup::Confirm {
                        title: "Not valid JSON".into(),
                        lines: vec![
                            format!("line {line}, column {column}: {message}"),
                            "Keep it as raw text anyway? (y/Enter: keep, n/Esc: go on editing)"
                                .into(),
                        ],
                        on_yes: Pending::KeepRawEdit,
                    });
                } else {
                    self.keep_edit();
                }
            }
            _ => {
                editor.textarea.input(key);
                editor.recheck();
            }
        }
        Vec::new()
    }

    /// Stores the editor's body as the message's edit.
    pub(super) fn keep_edit(&mut self) {
        let Some(b) = self.browser.as_mut() else {
            return;
        };
        let Some(editor) = b.editor.take() else {
            return;
        };
        let body = editor.body();
        let Some(h) = b.find(&editor.message_id).filter(|h| h.is_held()) else {
            let text = format!(
                "{} is no longer held here: the edit was not kept",
                editor.message_id
            );
            self.notify(text, true);
            return;
        };
        if crate::json_text::same_tokens(&body, &h.message.body) {
            h.edited = None;
            self.notify("no change to keep", false);
        } else {
            h.edited = Some(body);
            let text = format!(
                "edit kept for {} — press r to requeue it",
                editor.message_id
            );
            self.notify(text, false);
        }
    }
}
