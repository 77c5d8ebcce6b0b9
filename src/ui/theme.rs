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

    /// Strong contrast for projectors and the back of a room: bold text, and
    /// states told by the bright ANSI colours plus reverse video for the worst.
    pub(crate) fn high_contrast() -> Self {
        let bold = Style::default().add_modifier(Modifier::BOLD);
        Theme {
            name: "high-contrast",
            base: bold,
            title: bold,
            focus_border: bold.fg(Color::LightCyan),
            border: Style::default(),
            header: bold.add_modifier(Modifier::UNDERLINED),
            selected: bold.add_modifier(Modifier::REVERSED),
            dim: Style::default(),
            good: bold.fg(Color::LightGreen),
            warn: bold.fg(Color::LightYellow),
            bad: bold.fg(Color::LightRed).add_modifier(Modifier::REVERSED),
            arrival: bold.fg(Color::LightMagenta),
            consumption: bold.fg(Color::LightCyan),
            depth: bold.fg(Color::LightYellow),
        }
    }

    /// Safe for red-green colour blindness: blue for good, yellow for warning,
    /// magenta for bad (and every state keeps its symbol and word).
    pub(crate) fn colorblind() -> Self {
        Theme {
            name: "colorblind",
            good: Style::default()
                .fg(Color::Blue)
                .add_modifier(Modifier::BOLD),
            warn: Style::default().fg(Color::Yellow),
            bad: Style::default()
                .fg(Color::Magenta)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            arrival: Style::default().fg(Color::Yellow),
            consumption: Style::default().fg(Color::Blue),
            depth: Style::default().fg(Color::Magenta),
            ..Theme::default()
        }
    }

    /// For light terminal backgrounds: no yellow or white text, darker hues.
    pub(crate) fn light() -> Self {
        Theme {
            name: "light",
            focus_border: Style::default().fg(Color::Blue),
            border: Style::default().fg(Color::Gray),
            header: Style::default()
                .fg(Color::Blue)
                .add_modifier(Modifier::BOLD),
            warn: Style::default()
                .fg(Color::Magenta)
                .add_modifier(Modifier::BOLD),
            depth: Style::default().fg(Color::Blue),
            ..Theme::default()
        }
    }

    /// Every theme's name, for `--theme` and errors.
    pub const NAMES: [&'static str; 5] = [
        "default",
        "high-contrast",
        "colorblind",
        "light",
        "monochrome",
    ];

    /// The theme called `name`; `None` if there is none.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "default" => Some(Theme::default()),
            "high-contrast" => Some(Theme::high_contrast()),
            "colorblind" | "colourblind" => Some(Theme::colorblind()),
            "light" => Some(Theme::light()),
            "monochrome" | "none" => Some(Theme::monochrome()),
            _ => None,
        }
    }
}
