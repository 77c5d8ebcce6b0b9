//! Colours and styles. A state is never told by colour alone: every styled state
//! also has a symbol or a word.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: &'static str,
    pub base: Style,
    pub title: Style,
    pub focus_border: Style,
    pub border: Style,
    pub header: Style,
    pub selected: Style,
    pub dim: Style,
    pub good: Style,
    pub warn: Style,
    pub bad: Style,
    pub arrival: Style,
    pub consumption: Style,
    pub depth: Style,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            name: "default",
            base: Style::default(),
            title: Style::default().add_modifier(Modifier::BOLD),
            focus_border: Style::default().fg(Color::Cyan),
            border: Style::default().fg(Color::DarkGray),
            header: Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            selected: Style::default().add_modifier(Modifier::REVERSED),
            dim: Style::default().fg(Color::DarkGray),
            good: Style::default().fg(Color::Green),
            warn: Style::default().fg(Color::Yellow),
            bad: Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            arrival: Style::default().fg(Color::Magenta),
            consumption: Style::default().fg(Color::Cyan),
            depth: Style::default().fg(Color::Yellow),
        }
    }
}

impl Theme {
    /// No colours at all, only modifiers (for `NO_COLOR`).
    pub fn monochrome() -> Self {
        let plain = Style::default();
        Theme {
            name: "monochrome",
            base: plain,
            title: plain.add_modifier(Modifier::BOLD),
            focus_border: plain.add_modifier(Modifier::BOLD),
            border: plain,
            header: plain.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            selected: plain.add_modifier(Modifier::REVERSED),
            dim: plain,
            good: plain,
            warn: plain.add_modifier(Modifier::BOLD),
            bad: plain.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            arrival: plain,
            consumption: plain,
            depth: plain,
        }
    }

    /// The theme called `name`; `None` if there is none.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "default" => Some(Theme::default()),
            "monochrome" | "none" => Some(Theme::monochrome()),
            _ => None,
        }
    }
}
