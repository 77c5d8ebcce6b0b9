//! The rates pane: arrival against consumption, and depth history, for the selected queue.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};

use super::theme::Theme;
use crate::app::{App, Pane, RateSource};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let row = app.selected_row();
    // The legend is in the title, so it never covers the data.
    let title = match row {
        Some(r) => {
            let arrival = match app.arrival(r).source {
                RateSource::Depth => "from depth",
                RateSource::CloudWatch => "CloudWatch",
            };
            let cloudwatch_age = r
                .metrics
                .as_ref()
                .and_then(|m| m.minute)
                .map(|minute| {
                    let mins = (app.wall_now() - minute).num_minutes().max(0);
                    format!("CloudWatch {mins} min ago · ")
                })
                .unwrap_or_default();
            let net = app
                .net_rate(r)
                .map(|n| {
                    format!(
                        "net {}{}/min from depth ",
                        if n > 0.0 { "+" } else { "" },
                        crate::format::rate(Some(n))
                    )
                })
                .unwrap_or_default();
            Line::from(vec![
                Span::styled(format!(" Rates: {} ", r.queue.name), theme.title),
                Span::styled(format!("━ in/min ({arrival}) "), theme.arrival),
                Span::styled("━ out/min ", theme.consumption),
                Span::styled(format!("│ ━ depth {net}"), theme.depth),
                Span::styled(cloudwatch_age, theme.dim),
            ])
        }
        None => Line::from(Span::styled(" Rates ", theme.title)),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if app.focus == Pane::Rates {
            theme.focus_border
        } else {
            theme.border
        })
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(row) = row else {
        frame.render_widget(Paragraph::new("No queue selected").style(theme.dim), inner);
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(inner);

    let measured = app.arrival(row).source == RateSource::Depth;
    let arrival: Vec<(f64, f64)> = if measured {
        row.inflow_history
            .iter()
            .map(|(t, r)| (*t, r / app.time_scale))
            .collect()
    } else {
        row.rate_history
            .iter()
            .filter_map(|s| s.arrival.map(|v| (s.at, v)))
            .collect()
    };
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
            (
                if measured {
                    "arrival/min (from depth)"
                } else {
                    "arrival/min (CloudWatch)"
                },
                theme.arrival,
                arrival.as_slice(),
            ),
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
        .legend_position(None)
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
