//! The dashboard drawn into a test terminal, read back as text.

#![allow(dead_code)]

use lazysqs::app::App;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// Every cell of the screen at `width`×`height`, row after row, as one string.
pub fn drawn(app: &App, width: u16, height: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    term.draw(|f| lazysqs::ui::draw(f, app, &lazysqs::ui::theme::Theme::default()))
        .expect("draw");
    term.backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect()
}
