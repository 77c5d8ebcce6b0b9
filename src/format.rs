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

#[cfg(test)]
mod tests {
    use super::*;

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
}
