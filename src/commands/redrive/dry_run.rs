//! `lazysqs redrive --dry-run`: whether the redrive would move anything. An empty
//! DLQ would not; with a filter or a transform, a peek at the DLQ (every message
//! given straight back) tells whether any message matches and any can be fixed.

use serde_json::json;

use super::summary::{NotRun, State};
use crate::broker::{Broker, Message};
use crate::redrive::Plan;

/// The most messages a dry run peeks at to judge a filter or a transform.
const SAMPLE: usize = 1000;

/// What a dry run found.
pub(super) struct Verdict {
    /// Why the redrive would move nothing (exit 1), if it would not.
    pub nothing: Option<NotRun>,
    /// The peek's counts, for the JSON's `sample` (`None`: no peek).
    pub sample: Option<serde_json::Value>,
}

/// Judges the plan; an error (exit 2) when the peek it needs fails.
pub(super) async fn check(
    broker: &dyn Broker,
    plan: &Plan,
    rules: &[String],
) -> Result<Verdict, NotRun> {
    let r = &plan.request;
    let dlq = &r.source.name;
    if plan.visible == 0 {
        return Ok(Verdict {
            nothing: Some(NotRun::new(
                State::DryRun,
                format!("{dlq} holds no visible message: the redrive would move nothing"),
                format!(
                    "nothing to redrive now; `lazysqs snapshot` shows whether {dlq} holds messages in flight or delayed"
                ),
            )),
            sample: None,
        });
    }
    if r.filter.is_none() && r.transform.is_none() {
        return Ok(Verdict {
            nothing: None,
            sample: None,
        });
    }
    let seen = crate::triage::scan::peek(broker, &r.source, SAMPLE)
        .await
        .map_err(|e| {
            NotRun::broker(
                State::NotPlanned,
                format!("cannot peek at {dlq} to check the filter and transform: {e}"),
                Some(&e),
            )
        })?;
    let matching: Vec<&Message> = seen
        .iter()
        .filter(|m| r.filter.as_ref().is_none_or(|f| f.selects(m)))
        .collect();
    let of = if seen.len() as u64 >= plan.visible {
        String::new()
    } else {
        format!(" (of about {} in {dlq})", plan.visible)
    };
    let mut sample = json!({
        "seen": seen.len(),
        "visible": plan.visible,
        "matching": matching.len(),
    });
    let mut nothing = None;
    if seen.is_empty() {
        eprintln!(
            "  warning: the peek saw none of the {} messages of {dlq} (held by someone else?): cannot say whether any matches",
            plan.visible
        );
    } else if matching.is_empty() {
        let filter = r.filter.as_ref().map(|f| f.to_string()).unwrap_or_default();
        nothing = Some(NotRun::new(
            State::DryRun,
            format!(
                "the filter {filter} matches none of the {} messages seen{of}: the redrive would move nothing",
                seen.len()
            ),
            format!(
                "check the filter against the messages: `lazysqs triage --from {dlq} --by FIELD` shows a field's values"
            ),
        ));
    } else if let Some(t) = &r.transform {
        preview(&matching, t, rules, dlq);
        let failures: Vec<String> = matching
            .iter()
            .filter_map(|m| t.apply(&m.body).err())
            .collect();
        sample["fixed"] = json!(matching.len() - failures.len());
        sample["transform_fails"] = json!(failures.len());
        if failures.len() == matching.len() {
            nothing = Some(NotRun::new(
                State::DryRun,
                format!(
                    "the transform fails on all {} matching messages seen{of} (the first: {}): they would stay in {dlq}",
                    matching.len(),
                    failures[0]
                ),
                "fix the jq expression (the preview on stderr shows why it fails), then dry-run it again",
            ));
        }
    }
    Ok(Verdict {
        nothing,
        sample: Some(sample),
    })
}

/// The first 3 matching bodies before and after the transform, on stderr (redacted).
fn preview(matching: &[&Message], t: &crate::triage::Transform, rules: &[String], dlq: &str) {
    for m in matching.iter().take(3) {
        eprintln!("  transform preview: {}", m.message_id);
        match t.apply(&m.body) {
            Ok(after) => {
                let before = crate::redact::body(&m.body, rules);
                let after = crate::redact::body(&after, rules);
                let lines = crate::triage::transform::diff(&before, &after);
                if lines.is_empty() {
                    eprintln!("    (unchanged)");
                }
                for (kind, line) in lines {
                    eprintln!("    {} {line}", kind.sign());
                }
            }
            Err(why) => eprintln!("    fails, would stay in {dlq}: {why}"),
        }
    }
}
