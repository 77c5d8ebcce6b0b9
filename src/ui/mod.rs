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
use crate::app::overlay::Overlay;
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
    let areas = app.areas(area);
    let (queues_area, rates_area, breaker_area, status_area) =
        (areas.queues, areas.rates, areas.breaker, areas.status);
    if let Some(redrive_area) = areas.redrive {
        redrive::draw_progress(frame, redrive_area, app, theme);
    }
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

fn draw_popups(frame: &mut Frame, area: ratatui::layout::Rect, app: &App, theme: &Theme) {
    if let Some(t) = app.triage.as_ref().filter(|_| app.browser.is_none())
        && let Some(fix) = &t.fix
    {
        triage::draw_fix(frame, area, t, fix, theme);
    }
    for overlay in app.overlays.iter() {
        match overlay {
            Overlay::RedriveForm(form) => redrive::draw_form(frame, area, app, form, theme),
            Overlay::Popup { popup, scroll } => {
                popup::draw(frame, area, popup, *scroll, &app.keymap, theme)
            }
            Overlay::Help { scroll } => help::draw(frame, area, app, *scroll, theme),
            Overlay::QueueFilter => {}
        }
    }
}
