//! The circuit-breaker gate: a redrive into a queue whose consumer's dependency is
//! broken only sends the messages back to the dead-letter queue. So if the breaker
//! guarding a destination is OPEN, refuse to start and say why, unless forced.
//!
//! Pure functions over breaker states, shared by the dashboard and the headless
//! `lazysqs redrive`; reading the breakers is the caller's business.

use serde::Serialize;

use crate::breaker::BreakerState;

/// What the gate knows of one breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard<'a> {
    /// The breaker's name.
    pub breaker: &'a str,
    /// The queue whose consumer it guards.
    pub queue: &'a str,
    pub state: BreakerState,
    /// What the last reading said ("HTTP 503", "alarm payments-5xx is Alarm"); may be empty.
    pub detail: &'a str,
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "gate", rename_all = "snake_case")]
pub enum GateDecision {
    /// Go ahead; the warnings (a breaker half-open or unknown) are worth showing.
    Proceed { warnings: Vec<String> },
    /// A destination's breaker is OPEN, but the user forced the redrive.
    Forced { reason: String },
    /// A destination's breaker is OPEN: do not start.
    Refused { reason: String },
}

impl GateDecision {
    /// Whether the redrive may start.
    pub fn allows(&self) -> bool {
        !matches!(self, GateDecision::Refused { .. })
    }
}

/// Checks the breakers guarding any of `destinations` (queue names).
pub fn check<'a>(
    destinations: &[String],
    guards: impl IntoIterator<Item = Guard<'a>>,
    force: bool,
) -> GateDecision {
    let mut open = Vec::new();
    let mut warnings = Vec::new();
    for g in guards {
        if !destinations.iter().any(|d| d == g.queue) {
            continue;
        }
        let detail = if g.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", g.detail)
        };
        match g.state {
            BreakerState::Open => open.push(format!(
                "the breaker {} guarding {} is OPEN{detail}",
                g.breaker, g.queue
            )),
            BreakerState::HalfOpen => warnings.push(format!(
                "the breaker {} guarding {} is HALF-OPEN{detail}: the dependency is being tried again",
                g.breaker, g.queue
            )),
            BreakerState::Unknown => warnings.push(format!(
                "the state of the breaker {} guarding {} is unknown{detail}",
                g.breaker, g.queue
            )),
            BreakerState::Closed => {}
        }
    }
    if open.is_empty() {
        return GateDecision::Proceed { warnings };
    }
    let what = open.join("; ");
    if force {
        GateDecision::Forced {
            reason: format!(
                "{what}: forced, so the messages may fail again and return to the dead-letter queue"
            ),
        }
    } else {
        GateDecision::Refused {
            reason: format!(
                "{what}: redriving now would only send the messages back to the dead-letter \
                 queue. Wait until it closes, or force the redrive"
            ),
        }
    }
}

/// Whether auto-redrive should start now: it is enabled, the breaker guarding the
/// DLQ's source has just closed (it was OPEN or HALF-OPEN), and the DLQ holds messages.
pub fn should_auto_redrive(
    enabled: bool,
    before: BreakerState,
    now: BreakerState,
    dlq_visible: u64,
) -> bool {
    enabled
        && now == BreakerState::Closed
        && matches!(before, BreakerState::Open | BreakerState::HalfOpen)
        && dlq_visible > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard<'a>(breaker: &'a str, queue: &'a str, state: BreakerState) -> Guard<'a> {
        Guard {
            breaker,
            queue,
            state,
            detail: "HTTP 503",
        }
    }

    #[test]
    fn open_breaker_on_a_destination_refuses_unless_forced() {
        let dest = vec!["orders".to_string()];
        let guards = [guard("payments", "orders", BreakerState::Open)];
        let refused = check(&dest, guards, false);
        let GateDecision::Refused { reason } = &refused else {
            panic!("expected refused, got {refused:?}");
        };
        assert!(reason.contains("payments"), "{reason}");
        assert!(reason.contains("orders"), "{reason}");
        assert!(reason.contains("OPEN (HTTP 503)"), "{reason}");
        assert!(reason.contains("back to the dead-letter queue"), "{reason}");
        assert!(!refused.allows());
        let forced = check(&dest, guards, true);
        assert!(matches!(forced, GateDecision::Forced { .. }), "{forced:?}");
        assert!(forced.allows());
    }

    #[test]
    fn other_queues_and_closed_breakers_do_not_matter() {
        let dest = vec!["orders".to_string()];
        let guards = [
            guard("payments", "invoices", BreakerState::Open),
            guard("stock", "orders", BreakerState::Closed),
        ];
        assert_eq!(
            check(&dest, guards, false),
            GateDecision::Proceed { warnings: vec![] }
        );
    }

    #[test]
    fn any_open_destination_refuses_and_half_open_warns() {
        let dest = vec!["orders".to_string(), "invoices".to_string()];
        let guards = [
            guard("stock", "orders", BreakerState::HalfOpen),
            guard("billing", "invoices", BreakerState::Open),
        ];
        assert!(matches!(
            check(&dest, guards, false),
            GateDecision::Refused { .. }
        ));
        let d = check(&dest, [guards[0]], false);
        let GateDecision::Proceed { warnings } = d else {
            panic!("expected proceed");
        };
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("HALF-OPEN"));
    }

    #[test]
    fn auto_redrive_starts_when_a_breaker_closes_over_a_full_dlq() {
        use BreakerState::*;
        assert!(should_auto_redrive(true, Open, Closed, 5));
        assert!(should_auto_redrive(true, HalfOpen, Closed, 5));
        assert!(!should_auto_redrive(false, Open, Closed, 5));
        assert!(!should_auto_redrive(true, Open, Closed, 0));
        assert!(!should_auto_redrive(true, Closed, Closed, 5));
        assert!(!should_auto_redrive(true, Unknown, Closed, 5));
        assert!(!should_auto_redrive(true, Open, HalfOpen, 5));
    }
}
