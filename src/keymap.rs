//! Actions and the keys bound to them. Every action is declared once, in the
//! `actions!` table below: its config name, where it applies, whether it changes
//! a queue, its default keys, its hint and its help line. The help popup, the
//! hint bar and the config's `[keys]` section are all built from that table.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::{Deserialize, Deserializer, de};

/// Where an action applies, for key lookup, the help popup and the hint bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    Dashboard,
    Browser,
    /// The triage view (browser keys work there too).
    Triage,
    /// Confirmations, the editor and the redrive dialog.
    Dialog,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Everywhere,
        Scope::Dashboard,
        Scope::Browser,
        Scope::Triage,
        Scope::Dialog,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Scope::Everywhere => "Everywhere",
            Scope::Dashboard => "Dashboard",
            Scope::Browser => "Message browser",
            Scope::Triage => "Triage (and the browser's keys, on a whole group)",
            Scope::Dialog => "Dialogs and the editor",
        }
    }
}

/// What an action is: everything but the keys a user may rebind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionInfo {
    /// Its name in the config's `[keys]` section.
    pub name: &'static str,
    pub scope: Scope,
    /// Changes a queue (refused in read-only mode).
    pub mutates: bool,
    pub default_keys: &'static [&'static str],
    /// A one-word label for the hint bar.
    pub hint: &'static str,
    /// What it does, for the help popup.
    pub describe: &'static str,
}

macro_rules! actions {
    ($($variant:ident: $name:literal, $scope:ident, $mutates:literal, [$($key:literal),*], $hint:literal, $describe:literal;)*) => {
        /// Everything a key can ask for.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Action {
            $($variant,)*
        }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            pub fn info(self) -> &'static ActionInfo {
                match self {
                    $(Action::$variant => &ActionInfo {
                        name: $name,
                        scope: Scope::$scope,
                        mutates: $mutates,
                        default_keys: &[$($key),*],
                        hint: $hint,
                        describe: $describe,
                    },)*
                }
            }
        }
    };
}

actions! {
    Up: "up", Everywhere, false, ["k", "up"], "up", "move up";
    Down: "down", Everywhere, false, ["j", "down"], "down", "move down";
    Top: "top", Everywhere, false, ["g", "home"], "top", "go to the first row";
    Bottom: "bottom", Everywhere, false, ["G", "end"], "bottom", "go to the last row";
    PageUp: "page_up", Everywhere, false, ["pageup"], "page up", "move up a page";
    PageDown: "page_down", Everywhere, false, ["pagedown"], "page down", "move down a page";
    Filter: "filter", Everywhere, false, ["/"], "filter", "filter the rows by text";
    Help: "help", Everywhere, false, ["?"], "help", "show or hide this help";
    Quit: "quit", Everywhere, false, ["q", "ctrl-c"], "quit", "quit";
    Open: "open", Everywhere, false, ["enter"], "open", "open the queue's messages / a message's details";
    Back: "back", Everywhere, false, ["esc"], "back", "go back one level";
    Present: "present", Everywhere, false, ["P"], "present", "presentation mode on or off";
    Reveal: "reveal", Everywhere, false, ["u"], "reveal", "reveal or hide redacted fields";
    NextPane: "next_pane", Dashboard, false, ["tab"], "pane", "focus the next pane";
    Sort: "sort", Dashboard, false, ["s"], "sort", "cycle sort: depth, age, name";
    DemoFault: "demo_fault", Dashboard, false, ["f"], "break/fix", "demo: break or fix payments";
    DemoFaster: "demo_faster", Dashboard, false, ["+"], "faster", "demo: more orders per second";
    DemoSlower: "demo_slower", Dashboard, false, ["-"], "slower", "demo: fewer orders per second";
    DemoPause: "demo_pause", Dashboard, false, ["p"], "pause", "demo: pause or resume the simulation";
    Redrive: "redrive", Dashboard, true, ["R"], "redrive", "redrive the selected DLQ (dialog, then confirmation)";
    RedrivePause: "redrive_pause", Dashboard, true, ["space"], "pause redrive", "pause or resume the running redrive";
    RedriveCancel: "redrive_cancel", Dashboard, true, ["c"], "cancel redrive", "cancel the selected queue's redrive or move task";
    Triage: "triage", Dashboard, false, ["t"], "triage", "triage the selected queue: group its messages by cause";
    GroupBy: "group_by", Triage, false, ["b"], "group by", "group by shape, a field, an attribute, source, receives, hour";
    Edit: "edit", Browser, true, ["e"], "edit", "edit the message body";
    Requeue: "requeue", Browser, true, ["r"], "requeue", "requeue the message to its source queue";
    Delete: "delete", Browser, true, ["d"], "delete", "delete the message";
    RetryDelete: "retry_delete", Browser, true, ["D"], "retry delete", "retry a failed delete (message in both queues)";
    Export: "export", Browser, false, ["x"], "export", "export the selected message to a JSON Lines file";
    ExportAll: "export_all", Browser, false, ["X"], "export all", "export every loaded message to a JSON Lines file";
    Reload: "reload", Browser, false, ["ctrl-r"], "reload", "release and reload the messages";
    Confirm: "confirm", Dialog, false, ["y", "Y", "enter"], "yes", "answer yes to a question";
    Decline: "decline", Dialog, false, ["n", "N"], "no", "answer no to a question";
    Cancel: "cancel", Dialog, false, ["esc"], "cancel", "close the dialog or the editor, changing nothing";
    Keep: "keep", Dialog, false, ["ctrl-s"], "keep", "editor: keep the edited body";
    NextField: "next_field", Dialog, false, ["tab", "down"], "next", "redrive dialog: next field";
    PrevField: "prev_field", Dialog, false, ["backtab", "up"], "previous", "redrive dialog: previous field";
}

impl Action {
    pub fn scope(self) -> Scope {
        self.info().scope
    }

    pub(crate) fn mutates(self) -> bool {
        self.info().mutates
    }

    pub fn describe(self) -> &'static str {
        self.info().describe
    }

    pub fn hint(self) -> &'static str {
        self.info().hint
    }

    pub(crate) fn is_demo(self) -> bool {
        matches!(
            self,
            Action::DemoFault | Action::DemoFaster | Action::DemoSlower | Action::DemoPause
        )
    }

    /// The action a config name stands for.
    pub(crate) fn from_name(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.info().name == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.info().name)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Action::from_name(&name).ok_or_else(|| {
            let names: Vec<&str> = Action::ALL.iter().map(|a| a.info().name).collect();
            de::Error::custom(format!(
                "unknown action {name:?}, expected one of: {}",
                names.join(", ")
            ))
        })
    }
}
/// One key, as written in the config (`"j"`, `"ctrl-c"`, `"tab"`, `"up"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl KeySpec {
    pub fn parse(text: &str) -> Result<KeySpec, String> {
        let (ctrl, rest) = match text.strip_prefix("ctrl-") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let code = match rest {
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "space" => KeyCode::Char(' '),
            s if s.chars().count() == 1 => KeyCode::Char(s.chars().next().unwrap_or(' ')),
            s => {
                if let Some(n) = s.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    KeyCode::F(n)
                } else {
                    return Err(format!(
                        "unknown key {text:?} (use a character, ctrl-X, up, down, left, right, home, end, pageup, pagedown, tab, backtab, enter, esc, space or f1–f12)"
                    ));
                }
            }
        };
        Ok(KeySpec { code, ctrl })
    }

    pub fn matches(&self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let code = match key.code {
            KeyCode::Char(c) if ctrl => KeyCode::Char(c.to_ascii_lowercase()),
            other => other,
        };
        code == self.code && ctrl == self.ctrl
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("S-Tab"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The bindings of every action.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    bindings: Vec<(Action, Vec<KeySpec>)>,
}

impl Default for Keymap {
    fn default() -> Self {
        let bindings = Action::ALL
            .iter()
            .map(|&a| {
                let keys = a.info().default_keys.iter();
                (a, keys.filter_map(|s| KeySpec::parse(s).ok()).collect())
            })
            .collect();
        Keymap { bindings }
    }
}

impl Keymap {
    pub fn set(&mut self, action: Action, keys: Vec<KeySpec>) {
        if let Some(entry) = self.bindings.iter_mut().find(|(a, _)| *a == action) {
            entry.1 = keys;
        }
    }

    /// The action a key press asks for where `scope` applies: the scope's own
    /// actions first, then those that apply everywhere. Ctrl-C always quits.
    pub(crate) fn action_in(&self, key: &KeyEvent, scope: Scope) -> Option<Action> {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return Some(Action::Quit);
        }
        let bound = |s: Scope| {
            self.bindings
                .iter()
                .filter(move |(a, _)| a.scope() == s)
                .find(|(_, keys)| keys.iter().any(|k| k.matches(key)))
                .map(|(a, _)| *a)
        };
        bound(scope).or_else(|| bound(Scope::Everywhere))
    }

    /// Like [`Keymap::action_in`] where text is typed (the editor, a form's
    /// fields): a plain character is text, never an action.
    pub(crate) fn action_in_text(&self, key: &KeyEvent, scope: Scope) -> Option<Action> {
        let plain =
            matches!(key.code, KeyCode::Char(_)) && !key.modifiers.contains(KeyModifiers::CONTROL);
        if plain {
            return None;
        }
        self.action_in(key, scope)
    }

    /// The action a key press asks for on the dashboard.
    pub fn action(&self, key: &KeyEvent) -> Option<Action> {
        self.action_in(key, Scope::Dashboard)
    }

    pub fn keys(&self, action: Action) -> &[KeySpec] {
        self.bindings
            .iter()
            .find(|(a, _)| *a == action)
            .map_or(&[], |(_, k)| k.as_slice())
    }

    /// "j/↓" for an action.
    pub fn label(&self, action: Action) -> String {
        self.keys(action)
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// At least as many lines as help takes: three per action at most, a
    /// heading per scope, and the rest of the page. Help scrolls no further.
    pub(crate) fn help_lines_bound(&self) -> usize {
        self.bindings.len() * 3 + Scope::ALL.len() + 8
    }

    /// Like [`Keymap::label`], for where text is typed: without the plain
    /// characters, which are text there (see `action_in_text`).
    pub fn label_in_text(&self, action: Action) -> String {
        self.keys(action)
            .iter()
            .filter(|k| k.ctrl || !matches!(k.code, KeyCode::Char(_)))
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join("/")
    }

    pub fn bindings(&self) -> impl Iterator<Item = (Action, &[KeySpec])> {
        self.bindings.iter().map(|(a, k)| (*a, k.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::{Action, Keymap};

    #[test]
    fn where_text_is_typed_the_hint_leaves_out_plain_characters() {
        let keys = Keymap::default();
        assert_eq!(keys.label(Action::Confirm), "y/Y/Enter");
        assert_eq!(keys.label_in_text(Action::Confirm), "Enter");
        assert_eq!(keys.label_in_text(Action::Keep), "Ctrl-s");
    }
}
