//! The health rules, in one place for the dashboard, `snapshot` and `check`.

use std::time::Duration;

use serde::Serialize;

use crate::breaker::BreakerState;
use crate::broker::{QueueAttrs, QueueMetrics};
use crate::config::Thresholds;

/// Something worth a person's attention about a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Consumption below arrival for several samples in a row.
    Growing,
    /// A dead-letter queue holds messages.
    DlqNotEmpty,
    /// The oldest message is older than the threshold.
    OldMessage,
    /// The oldest message is close to being dropped by the retention period.
    NearRetention,
    /// The breaker guarding this queue's consumer is open.
    BreakerOpen,
    /// A DLQ receives more per minute than `thresholds.dlq_inflow_per_min`
    /// (measured from its depth over `--window`; headless only).
    DlqInflow,
}

impl Flag {
    /// The name scripts see (`dlq_not_empty`), as in the snapshot JSON.
    pub fn name(self) -> &'static str {
        match self {
            Flag::Growing => "growing",
            Flag::DlqNotEmpty => "dlq_not_empty",
            Flag::OldMessage => "old_message",
            Flag::NearRetention => "near_retention",
            Flag::BreakerOpen => "breaker_open",
            Flag::DlqInflow => "dlq_inflow",
        }
    }

    /// A symbol and a word, so a state is never told by colour alone.
    pub fn label(self) -> &'static str {
        match self {
            Flag::Growing => "▲ growing",
            Flag::DlqNotEmpty => "✖ dlq",
            Flag::OldMessage => "◷ old",
            Flag::NearRetention => "⌛ expiring",
            Flag::BreakerOpen => "⚡ open",
            Flag::DlqInflow => "⇣ inflow",
        }
    }
}

/// What the rules look at for one queue.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueFacts<'a> {
    pub attrs: Option<&'a QueueAttrs>,
    pub metrics: Option<&'a QueueMetrics>,
    /// Whether another queue sends its failures here.
    pub is_dlq: bool,
    /// Consecutive samples with consumption below arrival.
    pub below_streak: usize,
    /// The state of the breaker guarding this queue's consumer, if any.
    pub breaker: Option<BreakerState>,
}

/// Which way a queue's depth is heading, as the trend arrow shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Falling,
    Flat,
    Rising,
}

impl Trend {
    pub fn arrow(self) -> &'static str {
        match self {
            Trend::Falling => "↓",
            Trend::Flat => "→",
            Trend::Rising => "↑",
        }
    }
}

/// Where a queue's backlog is heading: the one rule behind the trend arrow, the
/// Drain column and the growing flag, so the three never contradict each other.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outlook {
    /// `None` when the rates are not known.
    pub drain: Option<Drain>,
    pub trend: Trend,
    /// Growing, and for long enough to flag: never for an empty queue.
    pub growing: bool,
}

/// The outlook of a queue `depth` deep, with `arrival` and `consumption` per
/// minute (what moves its depth, however measured) and `sustained` when
/// consumption has been below arrival for enough samples in a row. Messages
/// moved out into a DLQ are neither: an empty queue is empty, not growing.
pub fn outlook(
    depth: Option<u64>,
    arrival: Option<f64>,
    consumption: Option<f64>,
    sustained: bool,
) -> Outlook {
    let drain = Drain::of(depth, arrival, consumption);
    let trend = match drain {
        Some(Drain::Growing) => Trend::Rising,
        Some(Drain::In(_)) => Trend::Falling,
        _ => Trend::Flat,
    };
    Outlook {
        drain,
        trend,
        growing: sustained && drain == Some(Drain::Growing),
    }
}

/// The flags a queue raises under `t`, its outlook from its metrics.
pub fn flags(f: &QueueFacts<'_>, t: &Thresholds) -> Vec<Flag> {
    let o = outlook(
        f.attrs.map(QueueAttrs::depth),
        f.metrics.and_then(|m| m.sent_per_min),
        f.metrics.and_then(|m| m.deleted_per_min),
        f.below_streak >= t.growing_samples,
    );
    flags_with(f, &o, t)
}

/// The flags a queue raises under `t`, given its outlook (see [`outlook`]).
pub fn flags_with(f: &QueueFacts<'_>, o: &Outlook, t: &Thresholds) -> Vec<Flag> {
    let mut out = Vec::new();
    if o.growing {
        out.push(Flag::Growing);
    }
    let depth = f.attrs.map_or(0, QueueAttrs::depth);
    if f.is_dlq && depth > 0 {
        out.push(Flag::DlqNotEmpty);
    }
    if let Some(age) = f.metrics.and_then(|m| m.age_of_oldest) {
        if age > Duration::from_secs(t.max_age_secs) {
            out.push(Flag::OldMessage);
        }
        if let Some(a) = f.attrs
            && depth > 0
            && age + Duration::from_secs(t.retention_margin_secs) >= a.retention
        {
            out.push(Flag::NearRetention);
        }
    }
    if let Some(flag) = f.breaker.and_then(breaker_flag) {
        out.push(flag);
    }
    out
}

/// The flag a breaker in `state` raises, wherever it is shown: on the queue whose
/// consumer it guards, or on its own (`check`, for a breaker tied to no polled queue).
pub(crate) fn breaker_flag(state: BreakerState) -> Option<Flag> {
    (state == BreakerState::Open).then_some(Flag::BreakerOpen)
}

/// The thresholds a one-shot poll (`snapshot`, `check`) judges by. It sees a single
/// metric sample (the latest minute CloudWatch has), so a backlog counts as growing
/// when that one sample shows consumption below arrival (with the same noise margin
/// as [`consumption_below_arrival`]); the dashboard waits for `growing_samples`
/// such samples in a row. Every other threshold is the same.
pub(crate) fn one_poll_thresholds(t: &Thresholds) -> Thresholds {
    Thresholds {
        growing_samples: 1,
        ..t.clone()
    }
}

/// The below-arrival streak one metric sample makes: 1 when it shows consumption
/// below arrival, else 0 (no data counts as not below).
pub(crate) fn one_poll_streak(m: Option<&QueueMetrics>) -> usize {
    usize::from(m.and_then(consumption_below_arrival) == Some(true))
}

/// Whether this sample counts towards a growing backlog.
pub fn consumption_below_arrival(m: &QueueMetrics) -> Option<bool> {
    match (m.sent_per_min, m.deleted_per_min) {
        // A tenth of the arrival rate (at least one a minute) is noise, not a backlog.
        (Some(arrival), Some(consumption)) => {
            Some(consumption < arrival - (arrival * 0.1).max(1.0))
        }
        _ => None,
    }
}

/// Time until the backlog drains at the current net rate.
pub fn time_to_drain(depth: u64, arrival_per_min: f64, consumption_per_min: f64) -> Drain {
    if depth == 0 {
        return Drain::Empty;
    }
    if !(arrival_per_min.is_finite() && consumption_per_min.is_finite()) {
        // A rate the server gave as NaN or infinite says nothing.
        return Drain::Steady;
    }
    if arrival_per_min == 0.0 && consumption_per_min == 0.0 {
        return Drain::Stalled;
    }
    let net = consumption_per_min - arrival_per_min;
    if net < 0.0 {
        return Drain::Growing;
    }
    if net == 0.0 {
        return Drain::Steady;
    }
    // A net rate too small to matter never drains in any time worth showing.
    Duration::try_from_secs_f64(depth as f64 / net * 60.0).map_or(Drain::Steady, Drain::In)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Drain {
    Empty,
    /// Nothing arrives and nothing is consumed.
    Stalled,
    /// Consumption equals arrival.
    Steady,
    Growing,
    In(Duration),
}

impl Drain {
    /// The word for it, in the queue pane and the snapshot JSON.
    pub fn label(self) -> &'static str {
        match self {
            Drain::Empty => "empty",
            Drain::Stalled => "stalled",
            Drain::Steady => "steady",
            Drain::Growing => "growing",
            Drain::In(_) => "draining",
        }
    }

    /// Seconds until empty, when draining.
    pub fn secs(self) -> Option<u64> {
        match self {
            Drain::In(t) => Some(t.as_secs()),
            _ => None,
        }
    }

    /// The drain from what is known: `None` when the rates are not.
    pub fn of(depth: Option<u64>, arrival: Option<f64>, consumption: Option<f64>) -> Option<Drain> {
        match (depth, arrival, consumption) {
            (Some(d), Some(a), Some(c)) => Some(time_to_drain(d, a, c)),
            (Some(0), _, _) => Some(Drain::Empty),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_a_server_should_not_send_never_panic() {
        for (arrival, consumption) in [
            (f64::NAN, 1.0),
            (1.0, f64::INFINITY),
            (0.0, f64::MIN_POSITIVE / 4.0),
            (0.0, 1e-300),
            (f64::NEG_INFINITY, f64::NAN),
        ] {
            let d = time_to_drain(1_000_000, arrival, consumption);
            assert!(
                matches!(d, Drain::Steady | Drain::In(_)),
                "{arrival}, {consumption}: {d:?}"
            );
        }
        assert!(matches!(
            time_to_drain(60, 0.0, 60.0),
            Drain::In(d) if d == Duration::from_secs(60)
        ));
    }
}
