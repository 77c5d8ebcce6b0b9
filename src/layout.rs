//! Where the dashboard's panes are, from the terminal's size and a few counts:
//! one answer for the renderer, which draws there, and for `update`, which maps
//! a mouse click to a pane and a row.

use ratatui::layout::{Constraint, Layout, Rect};

/// The dashboard's panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    /// The queue table, or the browser or triage in its place.
    pub queues: Rect,
    pub rates: Rect,
    /// The redrive progress pane, when a redrive or move task is shown.
    pub redrive: Option<Rect>,
    pub breaker: Rect,
    pub status: Rect,
}

/// The panes for `area`. The queue pane takes what its `queue_rows` need, up
/// to 60% of the screen, and the charts get the rest; a long list (the browser,
/// triage) keeps two thirds.
pub fn dashboard(area: Rect, queue_rows: usize, long_list: bool, progress: bool) -> Areas {
    let [queues, lower, status] = Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(lower_height(area.height, queue_rows, long_list)),
        Constraint::Length(1),
    ])
    .areas(area);
    let (rates, redrive, breaker) = if progress {
        let [r, p, b] = Layout::horizontal([
            Constraint::Percentage(35),
            Constraint::Percentage(35),
            Constraint::Percentage(30),
        ])
        .areas(lower);
        (r, Some(p), b)
    } else {
        let [r, b] = Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
            .areas(lower);
        (r, None, b)
    };
    Areas {
        queues,
        rates,
        redrive,
        breaker,
        status,
    }
}

fn lower_height(height: u16, queue_rows: usize, long_list: bool) -> u16 {
    let room = height.saturating_sub(1);
    if long_list {
        return (height / 3).clamp(8, 16).min(room.saturating_sub(5));
    }
    // Borders, header, the rows, and a spare line.
    let wanted = queue_rows.max(1) as u16 + 4;
    let most = room * 3 / 5;
    let queues = wanted.clamp(5, most.max(5));
    room.saturating_sub(queues)
        .max(8)
        .min(room.saturating_sub(5))
}

/// The triage view inside its pane: the status line, the groups table, the sample.
pub fn triage(area: Rect) -> [Rect; 3] {
    let inner = Rect {
        x: area.x + 1,
        y: area.y + 1,
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(2),
    };
    let sample = (inner.height / 3).clamp(3, 12);
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(sample),
    ])
    .areas(inner)
}

/// The first row shown of a list of which `selected` is selected, when `shown`
/// rows fit: the selection stays on screen, at the bottom when it must scroll.
pub(crate) fn scroll_offset(selected: usize, shown: usize) -> usize {
    selected.saturating_sub(shown.saturating_sub(1))
}

/// Whether `(x, y)` is inside `r`.
pub fn contains(r: Rect, x: u16, y: u16) -> bool {
    x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
}
