//! Drawing. Every function here reads `&App` and draws; nothing waits or locks.

pub mod breaker;
pub mod browser;
pub mod help;
pub mod popup;
pub mod present;
pub mod queues;
pub mod rates;
pub mod redrive;
pub mod status;
pub mod theme;
pub mod triage;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};

use crate::app::App;
use theme::Theme;

/// Draws the whole dashboard.
pub fn draw(frame: &mut Frame, app: &App, theme: &Theme) {
    let area = frame.area();
    if app.present && app.browser.is_none() && app.triage.is_none() {
        let [main, status_area] =
            Layout::vertical([Constraint::Min(5), Constraint::Length(1)]).areas(area);
        present::draw(frame, main, app, theme);
        status::draw(frame, status_area, app, theme);
        draw_popups(frame, area, app, theme);
        return;
    }
    let [queues_area, lower, status_area] = Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(lower_height(app, area.height)),
        Constraint::Length(1),
    ])
    .areas(area);
    let (rates_area, breaker_area) = if redrive::has_progress(app) {
        let [rates_area, redrive_area, breaker_area] = Layout::horizontal([
            Constraint::Percentage(35),
            Constraint::Percentage(35),
            Constraint::Percentage(30),
        ])
        .areas(lower);
        redrive::draw_progress(frame, redrive_area, app, theme);
        (rates_area, breaker_area)
    } else {
        let [rates_area, breaker_area] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                .areas(lower);
        (rates_area, breaker_area)
    };
    match (&app.browser, &app.triage) {
        (Some(b), _) => browser::draw(frame, queues_area, app, b, theme),
        (None, Some(t)) => triage::draw(frame, queues_area, app, t, theme),
        (None, None) => queues::draw(frame, queues_area, app, theme),
    }
    rates::draw(frame, rates_area, app, theme);
    breaker::draw(frame, breaker_area, app, theme);
    status::draw(frame, status_area, app, theme);
    draw_popups(frame, area, app, theme);
}

/// The height of the rates and breaker panes. The queue pane takes what its
/// rows need, up to 60% of the screen, and the charts get the rest; the browser
/// and triage keep the old split (two thirds), since they read long lists.
fn lower_height(app: &App, height: u16) -> u16 {
    let room = height.saturating_sub(1);
    if app.browser.is_some() || app.triage.is_some() {
        return (height / 3).clamp(8, 16).min(room.saturating_sub(5));
    }
    // Borders, header, the rows, and a spare line.
    let rows = app.queues.len().max(1) as u16;
    let wanted = rows + 4;
    let most = room * 3 / 5;
    let queues = wanted.clamp(5, most.max(5));
    room.saturating_sub(queues)
        .max(8)
        .min(room.saturating_sub(5))
}

fn draw_popups(frame: &mut Frame, area: ratatui::layout::Rect, app: &App, theme: &Theme) {
    if let Some(form) = &app.redrive_form {
        redrive::draw_form(frame, area, form, theme);
    }
    if let Some(t) = app.triage.as_ref().filter(|_| app.browser.is_none())
        && let Some(fix) = &t.fix
    {
        triage::draw_fix(frame, area, t, fix, theme);
    }
    if let Some(popup) = &app.popup {
        popup::draw(frame, area, popup, theme);
    }
    if app.show_help {
        help::draw(frame, area, app, theme);
    }
}
