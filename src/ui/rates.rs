//! The rates pane: arrival against consumption, and depth history, for the selected queue.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};

use super::theme::Theme;
use crate::app::{App, Pane};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let row = app.selected_row();
    let title = match row {
        Some(r) => format!(" Rates: {} ", r.queue.name),
        None => " Rates ".to_string(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if app.focus == Pane::Rates {
            theme.focus_border
        } else {
            theme.border
        })
        .title(Span::styled(title, theme.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(row) = row else {
        frame.render_widget(Paragraph::new("No queue selected").style(theme.dim), inner);
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(inner);

    let arrival: Vec<(f64, f64)> = row
        .rate_history
        .iter()
        .filter_map(|s| s.arrival.map(|v| (s.at, v)))
        .collect();
    let consumption: Vec<(f64, f64)> = row
        .rate_history
        .iter()
        .filter_map(|s| s.consumption.map(|v| (s.at, v)))
        .collect();
    let depth: Vec<(f64, f64)> = row
        .depth_history
        .iter()
        .map(|(t, d)| (*t, *d as f64))
        .collect();

    if arrival.is_empty() && consumption.is_empty() {
        frame.render_widget(
            Paragraph::new("arrival/consumption: — (no metrics yet)").style(theme.dim),
            left,
        );
    } else {
        let series = [
            ("arrival/min", theme.arrival, arrival.as_slice()),
            ("consumption/min", theme.consumption, consumption.as_slice()),
        ];
        frame.render_widget(line_chart(&series, theme), left);
    }

    if depth.is_empty() {
        frame.render_widget(Paragraph::new("depth: —").style(theme.dim), right);
    } else {
        let series = [("depth", theme.depth, depth.as_slice())];
        frame.render_widget(line_chart(&series, theme), right);
    }
}

/// One named series of (seconds, value) points.
type Series<'a> = (&'a str, Style, &'a [(f64, f64)]);

/// A line chart of named series over time, its axes fitted to the points.
fn line_chart<'a>(series: &[Series<'a>], theme: &Theme) -> Chart<'a> {
    let points = || series.iter().flat_map(|(_, _, data)| data.iter());
    let x = x_bounds(points());
    let top = y_max(points());
    let datasets = series
        .iter()
        .map(|(name, style, data)| {
            Dataset::default()
                .name(*name)
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(*style)
                .data(data)
        })
        .collect();
    Chart::new(datasets)
        .hidden_legend_constraints((Constraint::Ratio(1, 1), Constraint::Ratio(1, 1)))
        .x_axis(Axis::default().bounds(x).style(theme.dim))
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(["0".to_string(), format!("{top:.0}")])
                .style(theme.dim),
        )
}

fn x_bounds<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> [f64; 2] {
    let (lo, hi) = points.fold((f64::MAX, f64::MIN), |(lo, hi), (x, _)| {
        (lo.min(*x), hi.max(*x))
    });
    if lo > hi {
        [0.0, 1.0]
    } else {
        [lo, hi.max(lo + 1.0)]
    }
}

fn y_max<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> f64 {
    let m = points.fold(0.0f64, |m, (_, y)| m.max(*y));
    (m * 1.1).max(1.0).ceil()
}
