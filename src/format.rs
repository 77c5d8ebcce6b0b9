//! Number and time formatting shared by the panes.

use std::time::Duration;

/// "42s", "3m12s", "2h05m", "3d04h".
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// An age in steps coarse enough not to change every second: "just now" under
/// 10 s, then tens of seconds, minutes, hours and days.
pub fn coarse_age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..10 => "just now".to_string(),
        10..60 => format!("{}s ago", s / 10 * 10),
        60..3600 => format!("{}m ago", s / 60),
        3600..86400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86400),
    }
}

/// A queue's name with where it lives, when that is worth saying:
/// "orders (eu-west-1 123456789012)"; just the name with no parts.
pub fn placed(name: &str, parts: &[&str]) -> String {
    match parts {
        [] => name.to_string(),
        parts => format!("{name} ({})", parts.join(" ")),
    }
}

/// A per-minute rate, or "—" when there is no data.
pub fn rate(r: Option<f64>) -> String {
    match r {
        None => "—".to_string(),
        Some(r) if r >= 100.0 || r.fract() == 0.0 => format!("{r:.0}"),
        Some(r) => format!("{r:.1}"),
    }
}

/// A count, or "—" when there is no data.
pub fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "—".to_string(), |n| n.to_string())
}

/// Cuts `s` to at most `max` characters, with an ellipsis.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Cuts `s` to at most `max` characters in the middle, keeping both ends
/// (`invoi…s-dlq.fifo`): queues that share a prefix stay apart.
pub fn middle(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    if max <= 1 {
        return "…".chars().take(max).collect();
    }
    let keep = max - 1;
    let head = keep / 2;
    let tail = keep - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

/// Splits `text` into lines of at most `width` characters, at spaces where it
/// can (a word longer than the width is cut).
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        loop {
            let used = line.chars().count();
            let need = word.chars().count() + usize::from(used > 0);
            if used + need <= width {
                if used > 0 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A row of block characters, one per value, scaled from 0 to the largest
/// (`▁` for the least, `█` for the largest); a missing value is a blank.
pub(crate) fn sparkline(values: &[Option<u64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().flatten().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if max == 0 => BARS[0],
            Some(v) => BARS[((v * 7).div_ceil(max) as usize).min(7)],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_ages_step_by_tens_then_minutes() {
        let age = |s| coarse_age(Duration::from_secs(s));
        assert_eq!(age(0), "just now");
        assert_eq!(age(9), "just now");
        assert_eq!(age(10), "10s ago");
        assert_eq!(age(59), "50s ago");
        assert_eq!(age(61), "1m ago");
        assert_eq!(age(7200), "2h ago");
        assert_eq!(age(200_000), "2d ago");
    }

    #[test]
    fn a_place_is_said_after_the_name() {
        assert_eq!(placed("orders", &[]), "orders");
        assert_eq!(
            placed("orders", &["eu-west-1", "123456789012"]),
            "orders (eu-west-1 123456789012)"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_secs(42)), "42s");
        assert_eq!(duration(Duration::from_secs(192)), "3m12s");
        assert_eq!(duration(Duration::from_secs(7500)), "2h05m");
        assert_eq!(duration(Duration::from_secs(3 * 86400 + 4 * 3600)), "3d04h");
    }

    #[test]
    fn missing_data_is_a_dash_never_zero() {
        assert_eq!(rate(None), "—");
        assert_eq!(rate(Some(0.0)), "0");
        assert_eq!(rate(Some(2.5)), "2.5");
        assert_eq!(count(None), "—");
        assert_eq!(truncate("orders-dead-letter", 8), "orders-…");
        assert_eq!(middle("invoices-dlq.fifo", 16), "invoice…dlq.fifo");
        assert_eq!(middle("orders", 16), "orders");
        assert_eq!(middle("orders", 1), "…");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("move up a page", 7), vec!["move up", "a page"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 5), vec![""]);
        for line in wrap("close the dialog or the editor, changing nothing", 12) {
            assert!(line.chars().count() <= 12, "{line}");
        }
    }

    #[test]
    fn sparklines_scale_to_the_largest() {
        assert_eq!(
            sparkline(&[Some(0), Some(7), Some(14), None, Some(3)]),
            "▁▅█ ▃"
        );
        assert_eq!(sparkline(&[Some(0), Some(0)]), "▁▁");
        assert_eq!(sparkline(&[None, None]), "  ");
    }
}
