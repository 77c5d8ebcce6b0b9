//! `lazysqs check`: one poll judged against the configured thresholds, for cron
//! jobs, CI steps and alerting.
//!
//! The judgement is the dashboard's: the flags of [`crate::health`] on each queue of
//! the snapshot, plus every configured breaker that is OPEN. This module only turns
//! them into lines and an exit status:
//!
//! - [`Exit::Breached`] (1) when anything is flagged;
//! - else [`Exit::CouldNotRun`] (2) when part of the poll failed (a queue, the
//!   metrics or a breaker could not be read, or no queue matched): health could not
//!   be confirmed;
//! - else [`Exit::Ok`] (0).
//!
//! A poll that cannot run at all (bad config, no credentials, the endpoint down so
//! the queues cannot be listed) ends with [`Exit::CouldNotRun`] before judging.

use std::time::Duration;

use serde::Serialize;

use crate::config::Thresholds;
use crate::exit::Exit;
use crate::format;
use crate::health::{self, Flag};
use crate::snapshot::{BreakerSnapshot, QueueSnapshot, Snapshot};

/// Something over a threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The queue, or `breaker NAME` for a breaker tied to no polled queue.
    pub subject: String,
    pub flag: Flag,
    /// What was seen, against which threshold.
    pub detail: String,
}

impl Finding {
    /// One line: `subject: flag: detail`.
    pub fn line(&self) -> String {
        format!("{}: {}: {}", self.subject, self.flag.name(), self.detail)
    }
}

/// The judgement of one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub findings: Vec<Finding>,
    /// What could not be read, so health could not be confirmed.
    pub problems: Vec<String>,
    pub queues: usize,
    pub breakers: usize,
}

impl Verdict {
    pub fn exit(&self) -> Exit {
        if !self.findings.is_empty() {
            Exit::Breached
        } else if !self.problems.is_empty() {
            Exit::CouldNotRun
        } else {
            Exit::Ok
        }
    }
}

/// Judges a snapshot. The flags were set by [`crate::health`] when it was taken;
/// `t` only words the findings.
pub fn judge(s: &Snapshot, t: &Thresholds) -> Verdict {
    let mut findings = Vec::new();
    let mut problems = Vec::new();
    for q in &s.queues {
        for &flag in &q.flags {
            findings.push(Finding {
                subject: q.name.clone(),
                flag,
                detail: detail(q, flag, s, t),
            });
        }
        if let (Some(limit), Some(inflow)) = (t.dlq_inflow_per_min, q.measured_arrival_per_min)
            && q.is_dlq
            && inflow > limit
        {
            findings.push(Finding {
                subject: q.name.clone(),
                flag: Flag::DlqInflow,
                detail: format!(
                    "{}/min arriving (measured from its depth), over thresholds.dlq_inflow_per_min {}",
                    format::rate(Some(inflow)),
                    format::rate(Some(limit))
                ),
            });
        }
        if let Some(e) = &q.error {
            problems.push(format!("{}: {e}", q.name));
        }
    }
    // Breakers not shown on a polled queue are judged on their own.
    for b in &s.breakers {
        let on_a_queue = b
            .queue
            .as_deref()
            .is_some_and(|name| s.queues.iter().any(|q| q.name == name));
        if !on_a_queue && let Some(flag) = health::breaker_flag(b.state) {
            findings.push(Finding {
                subject: format!("breaker {}", b.name),
                flag,
                detail: breaker_detail(b),
            });
        }
        if let Some(e) = &b.error {
            problems.push(format!("breaker {}: {e}", b.name));
        }
    }
    if let Some(e) = &s.metrics_error {
        problems.push(e.clone());
    }
    if s.queues.is_empty() {
        problems.push("no queues match the selection".into());
    }
    Verdict {
        findings,
        problems,
        queues: s.queues.len(),
        breakers: s.breakers.len(),
    }
}

fn secs(s: u64) -> String {
    format::duration(Duration::from_secs(s))
}

fn detail(q: &QueueSnapshot, flag: Flag, s: &Snapshot, t: &Thresholds) -> String {
    let age = q.age_of_oldest_secs.map_or_else(|| "—".into(), secs);
    match flag {
        Flag::Growing => format!(
            "consumption {}/min below arrival {}/min",
            format::rate(q.consumption_per_min),
            format::rate(q.arrival_per_min)
        ),
        Flag::DlqNotEmpty => format!(
            "{} message(s) waiting (failures of {})",
            format::count(q.depth),
            q.dlq_sources.join(", ")
        ),
        Flag::OldMessage => format!(
            "oldest message is {age} old, over the {} threshold",
            secs(t.max_age_secs)
        ),
        Flag::NearRetention => format!(
            "oldest message is {age} old, within {} of the {} retention period",
            secs(t.retention_margin_secs),
            q.retention_secs.map_or_else(|| "—".into(), secs)
        ),
        Flag::DlqInflow => format!(
            "{}/min arriving, over {}/min",
            format::rate(q.measured_arrival_per_min),
            format::rate(t.dlq_inflow_per_min)
        ),
        Flag::BreakerOpen => match q.breaker.as_ref().and_then(|qb| {
            s.breakers
                .iter()
                .find(|b| b.name == qb.name && b.queue.as_deref() == Some(q.name.as_str()))
        }) {
            Some(b) => breaker_detail(b),
            None => "breaker OPEN".into(),
        },
    }
}

fn breaker_detail(b: &BreakerSnapshot) -> String {
    let mut d = format!("breaker {} is {} ({})", b.name, b.state.label(), b.source);
    if !b.detail.is_empty() {
        d.push_str(&format!(": {}", b.detail));
    }
    d
}

/// The lines `check` prints: findings (stdout) and problems (stderr).
pub fn report(v: &Verdict, source: &str) -> (String, String) {
    let mut out = String::new();
    for f in &v.findings {
        out.push_str(&f.line());
        out.push('\n');
    }
    if v.exit() == Exit::Ok {
        out.push_str(&format!(
            "ok: {} queue(s){} healthy on {source}\n",
            v.queues,
            match v.breakers {
                0 => String::new(),
                n => format!(" and {n} breaker(s)"),
            }
        ));
    }
    let mut err = String::new();
    for p in &v.problems {
        err.push_str(&format!("lazysqs: could not check: {p}\n"));
    }
    (out, err)
}
