//! Actions and the keys bound to them. The help popup and the hint bar are built
//! from the same map, so they never disagree with what the keys do.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

/// Everything a key can ask for on the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Up,
    Down,
    Top,
    Bottom,
    NextPane,
    Filter,
    Sort,
    Help,
    Quit,
    DemoFault,
    DemoFaster,
    DemoSlower,
    DemoPause,
    Open,
    Back,
    Edit,
    Requeue,
    Delete,
    RetryDelete,
    Export,
    ExportAll,
    Reload,
    Present,
    Reveal,
    Redrive,
    RedrivePause,
    RedriveCancel,
}

/// Where an action applies, for the help popup and the hint bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    Dashboard,
    Browser,
}

impl Scope {
    pub fn title(self) -> &'static str {
        match self {
            Scope::Everywhere => "Everywhere",
            Scope::Dashboard => "Dashboard",
            Scope::Browser => "Message browser",
        }
    }
}

impl Action {
    pub const ALL: [Action; 27] = [
        Action::Up,
        Action::Down,
        Action::Top,
        Action::Bottom,
        Action::NextPane,
        Action::Filter,
        Action::Sort,
        Action::Help,
        Action::Quit,
        Action::DemoFault,
        Action::DemoFaster,
        Action::DemoSlower,
        Action::DemoPause,
        Action::Open,
        Action::Back,
        Action::Edit,
        Action::Requeue,
        Action::Delete,
        Action::RetryDelete,
        Action::Export,
        Action::ExportAll,
        Action::Reload,
        Action::Present,
        Action::Reveal,
        Action::Redrive,
        Action::RedrivePause,
        Action::RedriveCancel,
    ];

    pub fn scope(self) -> Scope {
        match self {
            Action::Up
            | Action::Down
            | Action::Top
            | Action::Bottom
            | Action::Filter
            | Action::Help
            | Action::Quit
            | Action::Open
            | Action::Back
            | Action::Present
            | Action::Reveal => Scope::Everywhere,
            Action::NextPane
            | Action::Sort
            | Action::DemoFault
            | Action::DemoFaster
            | Action::DemoSlower
            | Action::DemoPause
            | Action::Redrive
            | Action::RedrivePause
            | Action::RedriveCancel => Scope::Dashboard,
            Action::Edit
            | Action::Requeue
            | Action::Delete
            | Action::RetryDelete
            | Action::Export
            | Action::ExportAll
            | Action::Reload => Scope::Browser,
        }
    }

    /// Whether the action changes a queue (refused in read-only mode).
    pub fn mutates(self) -> bool {
        matches!(
            self,
            Action::Edit
                | Action::Requeue
                | Action::Delete
                | Action::RetryDelete
                | Action::Redrive
                | Action::RedrivePause
                | Action::RedriveCancel
        )
    }

    /// What the action does, for the help popup.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Up => "move up",
            Action::Down => "move down",
            Action::Top => "go to the first row",
            Action::Bottom => "go to the last row",
            Action::NextPane => "focus the next pane",
            Action::Filter => "filter queues by name",
            Action::Sort => "cycle sort: depth, age, name",
            Action::Help => "show or hide this help",
            Action::Quit => "quit",
            Action::DemoFault => "demo: break or fix payments",
            Action::DemoFaster => "demo: more orders per second",
            Action::DemoSlower => "demo: fewer orders per second",
            Action::DemoPause => "demo: pause or resume the simulation",
            Action::Open => "open the queue's messages / a message's details",
            Action::Back => "go back one level",
            Action::Edit => "edit the message body",
            Action::Requeue => "requeue the message to its source queue",
            Action::Delete => "delete the message",
            Action::RetryDelete => "retry a failed delete (message in both queues)",
            Action::Export => "export the selected message to a JSON Lines file",
            Action::ExportAll => "export every loaded message to a JSON Lines file",
            Action::Reload => "release and reload the messages",
            Action::Present => "presentation mode on or off",
            Action::Reveal => "reveal or hide redacted fields",
            Action::Redrive => "redrive the selected DLQ (dialog, then confirmation)",
            Action::RedrivePause => "pause or resume the running redrive",
            Action::RedriveCancel => "cancel the selected queue's redrive or move task",
        }
    }

    /// A one-word label for the hint bar.
    pub fn hint(self) -> &'static str {
        match self {
            Action::Up => "up",
            Action::Down => "down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::NextPane => "pane",
            Action::Filter => "filter",
            Action::Sort => "sort",
            Action::Help => "help",
            Action::Quit => "quit",
            Action::DemoFault => "break/fix",
            Action::DemoFaster => "faster",
            Action::DemoSlower => "slower",
            Action::DemoPause => "pause",
            Action::Open => "open",
            Action::Back => "back",
            Action::Edit => "edit",
            Action::Requeue => "requeue",
            Action::Delete => "delete",
            Action::RetryDelete => "retry delete",
            Action::Export => "export",
            Action::ExportAll => "export all",
            Action::Reload => "reload",
            Action::Present => "present",
            Action::Reveal => "reveal",
            Action::Redrive => "redrive",
            Action::RedrivePause => "pause redrive",
            Action::RedriveCancel => "cancel redrive",
        }
    }

    pub fn is_demo(self) -> bool {
        matches!(
            self,
            Action::DemoFault | Action::DemoFaster | Action::DemoSlower | Action::DemoPause
        )
    }

    fn config_name(self) -> &'static str {
        match self {
            Action::Up => "up",
            Action::Down => "down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::NextPane => "next_pane",
            Action::Filter => "filter",
            Action::Sort => "sort",
            Action::Help => "help",
            Action::Quit => "quit",
            Action::DemoFault => "demo_fault",
            Action::DemoFaster => "demo_faster",
            Action::DemoSlower => "demo_slower",
            Action::DemoPause => "demo_pause",
            Action::Open => "open",
            Action::Back => "back",
            Action::Edit => "edit",
            Action::Requeue => "requeue",
            Action::Delete => "delete",
            Action::RetryDelete => "retry_delete",
            Action::Export => "export",
            Action::ExportAll => "export_all",
            Action::Reload => "reload",
            Action::Present => "present",
            Action::Reveal => "reveal",
            Action::Redrive => "redrive",
            Action::RedrivePause => "redrive_pause",
            Action::RedriveCancel => "redrive_cancel",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.config_name())
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
        let k = |s: &str| {
            KeySpec::parse(s).unwrap_or(KeySpec {
                code: KeyCode::Null,
                ctrl: false,
            })
        };
        let bindings = Action::ALL
            .iter()
            .map(|&a| {
                let keys: &[&str] = match a {
                    Action::Up => &["k", "up"],
                    Action::Down => &["j", "down"],
                    Action::Top => &["g", "home"],
                    Action::Bottom => &["G", "end"],
                    Action::NextPane => &["tab"],
                    Action::Filter => &["/"],
                    Action::Sort => &["s"],
                    Action::Help => &["?"],
                    Action::Quit => &["q", "ctrl-c"],
                    Action::DemoFault => &["f"],
                    Action::DemoFaster => &["+"],
                    Action::DemoSlower => &["-"],
                    Action::DemoPause => &["p"],
                    Action::Open => &["enter"],
                    Action::Back => &["esc"],
                    Action::Edit => &["e"],
                    Action::Requeue => &["r"],
                    Action::Delete => &["d"],
                    Action::RetryDelete => &["D"],
                    Action::Export => &["x"],
                    Action::ExportAll => &["X"],
                    Action::Reload => &["ctrl-r"],
                    Action::Present => &["P"],
                    Action::Reveal => &["u"],
                    Action::Redrive => &["R"],
                    Action::RedrivePause => &["space"],
                    Action::RedriveCancel => &["c"],
                };
                (a, keys.iter().map(|s| k(s)).collect())
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

    /// The action a key press asks for where `scope` applies (actions that apply
    /// everywhere always match). Ctrl-C always quits.
    pub fn action_in(&self, key: &KeyEvent, scope: Scope) -> Option<Action> {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return Some(Action::Quit);
        }
        self.bindings
            .iter()
            .filter(|(a, _)| a.scope() == Scope::Everywhere || a.scope() == scope)
            .find(|(_, keys)| keys.iter().any(|k| k.matches(key)))
            .map(|(a, _)| *a)
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

    pub fn bindings(&self) -> impl Iterator<Item = (Action, &[KeySpec])> {
        self.bindings.iter().map(|(a, k)| (*a, k.as_slice()))
    }
}
