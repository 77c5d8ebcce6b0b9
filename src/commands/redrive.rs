//! `lazysqs redrive`: a bulk redrive from the command line, for runbooks and cron.
//!
//! Plans the redrive, checks the breaker gate, asks for confirmation (unless `--yes`),
//! then runs it with a progress bar on stderr and prints a JSON summary on stdout.
//! Ctrl-C cancels cleanly (client-side: after the batches in hand; a move task:
//! CancelMessageMoveTask); a second Ctrl-C exits at once, which at worst leaves a
//! message in both queues, never in neither.
//!
//! Exit status: 0 everything asked for was moved; 1 the redrive ran but did not move
//! everything (failed messages, cancelled, or it failed); 2 it did not run (bad
//! arguments, no connection, refused by the breaker gate or not confirmed).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::json;
use tokio::sync::watch;

use crate::breaker::{self, BreakerState};
use crate::broker::{Broker, BrokerError, Place, QueueRef, QueueSelection, name_from_arn};
use crate::cli::{Cli, RedriveArgs};
use crate::config::{BreakerSourceConfig, Config};
use crate::connect::Connection;
use crate::exit::Exit;
use crate::redrive::gate::{self, GateDecision, Guard};
use crate::redrive::{ClientOptions, Destination, Plan, Progress, Report, Request, RunState};

/// `--dry-run --transform`: the first 3 matching bodies before and after, on
/// stderr (redacted), from a peek that gives every message straight back.
async fn preview_transform(
    broker: &dyn Broker,
    plan: &Plan,
    t: &crate::triage::Transform,
    rules: &[String],
) {
    let r = &plan.request;
    let seen = match crate::triage::scan::peek(broker, &r.source, 100).await {
        Ok(seen) => seen,
        Err(e) => {
            eprintln!("  cannot preview the transform: {e}");
            return;
        }
    };
    let matching: Vec<_> = seen
        .iter()
        .filter(|m| r.filter.as_ref().is_none_or(|f| f.selects(m)))
        .take(3)
        .collect();
    if matching.is_empty() {
        eprintln!(
            "  transform preview: no matching message among the first {} seen",
            seen.len()
        );
    }
    for m in matching {
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
            Err(why) => eprintln!("    fails, would stay in {}: {why}", r.source.name),
        }
    }
}

/// Runs `lazysqs redrive`.
pub async fn run(cli: &Cli, config: &Config, args: &RedriveArgs) -> anyhow::Result<ExitCode> {
    let audit = super::may_change(cli, config, "redrive")?;
    let conn = cli.connect(config).await?;
    let speed = cli.speed.or(config.demo.speed).unwrap_or(1.0);
    let _driver = conn.sim.as_ref().map(|s| s.spawn_driver(speed));
    let broker = conn.broker.clone();

    let source = find_queue(broker.as_ref(), &args.from).await?;
    let destination = match &args.to {
        Some(to) => Destination::Queue(find_queue(broker.as_ref(), to).await?),
        None => Destination::OwnSource,
    };
    let request = Request {
        source,
        destination,
        rate: args.rate,
        max: args.max,
        filter: args.filter.clone(),
        transform: args.transform.clone(),
        mode: args.preference(),
        client: ClientOptions {
            workers: args.workers,
            visibility: Duration::from_secs(args.visibility_timeout),
            ..ClientOptions::default()
        },
        canary: args.canary(),
    };
    let mut plan = crate::redrive::plan(broker.as_ref(), request).await?;
    eprintln!("lazysqs redrive: {}", plan.preview());
    for w in &plan.warnings {
        eprintln!("  warning: {w}");
    }

    let gate = read_gate(&conn, &plan, args.force).await;
    match &gate {
        GateDecision::Refused { reason } => {
            eprintln!("lazysqs redrive: refused: {reason} (--force)");
            print_summary(&plan, &gate, None, "refused", args.dry_run)?;
            return Ok(Exit::CouldNotRun.into());
        }
        GateDecision::Forced { reason } => eprintln!("  warning: {reason}"),
        GateDecision::Proceed { warnings } => {
            for w in warnings {
                eprintln!("  warning: {w}");
            }
        }
    }
    if args.dry_run {
        if let Some(t) = &plan.request.transform {
            preview_transform(broker.as_ref(), &plan, t, &config.display.redact).await;
        }
        print_summary(&plan, &gate, None, "dry_run", true)?;
        return Ok(Exit::Ok.into());
    }
    if !args.yes && !confirm(&plan).await? {
        eprintln!("lazysqs redrive: not confirmed; nothing moved");
        print_summary(&plan, &gate, None, "not_confirmed", false)?;
        return Ok(Exit::CouldNotRun.into());
    }

    if let Some(c) = plan.request.canary.as_mut() {
        c.background_per_sec = background_inflow(broker.as_ref(), &plan.request.source).await;
    }
    let handle = crate::redrive::start(broker.clone(), &plan, &audit)
        .await
        .context("cannot start the redrive")?;
    let control = handle.control.clone();
    tokio::spawn(async move {
        crate::runtime::terminated().await;
        eprintln!(
            "\nlazysqs redrive: stopping: finishing the batches in hand, giving back what is held (again to stop at once)"
        );
        control.cancel();
        crate::runtime::terminated().await;
        eprintln!(
            "lazysqs redrive: stopped at once; a message in hand may now be in both queues, or hidden until its visibility timeout"
        );
        std::process::exit(130);
    });
    let drawer = (!args.quiet).then(|| tokio::spawn(draw(handle.progress.clone())));
    let halt = handle.control.clone();
    let wait = handle.wait();
    tokio::pin!(wait);
    // A canary checks the destination's breaker all along, not only at the start.
    let breakers = async {
        let Some(c) = plan.request.canary.filter(|_| !args.force) else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep(c.window.min(Duration::from_secs(10))).await;
            if let GateDecision::Refused { reason } = read_gate(&conn, &plan, false).await {
                halt.halt(format!("halted: {reason}"));
                return;
            }
        }
    };
    tokio::pin!(breakers);
    let mut watching = true;
    let report = loop {
        tokio::select! {
            report = &mut wait => break report,
            () = &mut breakers, if watching => watching = false,
        }
    };
    crate::redrive::record::finished(&audit, &plan, &report);
    if let Some(d) = drawer {
        let _ = d.await;
    }
    let state = report.state.label().to_string();
    print_summary(&plan, &gate, Some(&report), &state, false)?;
    if let Some(e) = &report.error {
        eprintln!("lazysqs redrive: {e}");
    } else if let Some(a) = &report.arrivals {
        eprintln!("lazysqs redrive: {}", a.note);
    }
    if let Some(line) = report.left.as_ref().and_then(crate::redrive::Left::line) {
        eprintln!("lazysqs redrive: {line}");
    }
    if let Some(c) = report.canary.as_ref().filter(|c| c.halted) {
        eprintln!(
            "lazysqs redrive: {}; the rest stay in {}",
            c.reason.as_deref().unwrap_or("halted"),
            plan.request.source.name
        );
    }
    for f in report.failures.iter().take(20) {
        eprintln!(
            "  failed: {} → {}: {}",
            f.message_id,
            f.destination.as_deref().unwrap_or("?"),
            f.reason
        );
    }
    if report.failures.len() > 20 {
        eprintln!("  … and {} more (see the JSON)", report.failures.len() - 20);
    }
    Ok(if report.succeeded() {
        Exit::Ok.into()
    } else {
        ExitCode::from(1)
    })
}

/// How long a canary watches the DLQ before it starts, for the DLQ's own inflow.
const BACKGROUND_WATCH: Duration = Duration::from_secs(5);

/// The DLQ's own inflow, messages per second, over a few seconds before the
/// redrive: failures that are not returns (a poison message now and then).
async fn background_inflow(broker: &dyn Broker, dlq: &QueueRef) -> f64 {
    let depth = |a: crate::broker::QueueAttrs| a.depth();
    let Ok(before) = broker.queue_attributes(dlq).await.map(depth) else {
        return 0.0;
    };
    tokio::time::sleep(BACKGROUND_WATCH).await;
    let Ok(after) = broker.queue_attributes(dlq).await.map(depth) else {
        return 0.0;
    };
    let per_sec = after.saturating_sub(before) as f64 / BACKGROUND_WATCH.as_secs_f64();
    eprintln!(
        "lazysqs redrive: {} took {per_sec:.1} msg/s of its own over {}s; the canary does not count those",
        dlq.name,
        BACKGROUND_WATCH.as_secs()
    );
    per_sec
}

/// A queue by name, URL or ARN. An ARN names its region and account; a URL is
/// matched whole; a bare name found in several places is refused.
pub(crate) async fn find_queue(broker: &dyn Broker, spec: &str) -> anyhow::Result<QueueRef> {
    let spec = spec.trim();
    let (name, place) = if spec.starts_with("arn:") {
        (name_from_arn(spec), Some(Place::of_arn(spec)))
    } else if spec.contains("://") {
        let name = spec
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(spec);
        (name, None)
    } else {
        (spec, None)
    };
    if name.is_empty() {
        bail!("no queue name in {spec:?}");
    }
    let found = if spec.contains("://") {
        broker
            .list_queues(&QueueSelection::named(name, None))
            .await
            .and_then(|qs| {
                qs.into_iter()
                    .find(|q| q.url.trim_end_matches('/') == spec.trim_end_matches('/'))
                    .ok_or_else(|| BrokerError::NotFound(spec.to_string()))
            })
    } else {
        crate::recovery::resolve_queue(broker, name, place.as_ref()).await
    };
    match found {
        Ok(q) => Ok(q),
        Err(BrokerError::NotFound(_)) => {
            Err(anyhow!("no queue named {name} on {}", broker.describe()))
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot look up the queue {name}"))),
    }
}

/// Reads the breakers guarding the plan's destinations and asks the gate.
pub async fn read_gate(conn: &Connection, plan: &Plan, force: bool) -> GateDecision {
    let mut readings: Vec<(String, String, BreakerState, String)> = Vec::new();
    for cfg in &conn.breakers {
        let Some(queue) = &cfg.queue else { continue };
        if !plan.destinations.contains(queue) {
            continue;
        }
        let (state, detail) = match &cfg.source {
            BreakerSourceConfig::DlqRule { dlq, .. } => (
                BreakerState::Unknown,
                format!("a rule on {dlq}, judged by the dashboard only"),
            ),
            _ => match breaker::read(conn.broker.as_ref(), conn.demo_breakers(), cfg).await {
                Ok(r) => (r.state, r.detail),
                Err(e) => (BreakerState::Unknown, format!("cannot read it: {e}")),
            },
        };
        readings.push((cfg.name.clone(), queue.clone(), state, detail));
    }
    gate::check(
        &plan.destinations,
        readings.iter().map(|(b, q, s, d)| Guard {
            breaker: b,
            queue: q,
            state: *s,
            detail: d,
        }),
        force,
    )
}

async fn confirm(plan: &Plan) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to redrive without confirmation: stdin is not a terminal. \
             Pass --yes to run without asking (or --dry-run to see the plan)"
        );
    }
    let question = format!(
        "Redrive from {} ({})? [y/N] ",
        plan.request.source.name,
        plan.mode.label()
    );
    tokio::task::spawn_blocking(move || {
        let mut err = std::io::stderr();
        let _ = write!(err, "{question}");
        let _ = err.flush();
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        let answer = line.trim().to_ascii_lowercase();
        Ok(answer == "y" || answer == "yes")
    })
    .await?
}

fn print_summary(
    plan: &Plan,
    gate: &GateDecision,
    report: Option<&Report>,
    state: &str,
    dry_run: bool,
) -> anyhow::Result<()> {
    let r = &plan.request;
    let mut v = match report {
        Some(report) => serde_json::to_value(report)?,
        None => json!({
            "mode": plan.mode,
            "source": r.source.name,
            "destination": r.destination.to_string(),
            "moved": 0,
            "failed": 0,
            "skipped": 0,
            "not_deleted": 0,
            "duration_secs": 0.0,
            "rate": 0.0,
            "target_rate": r.rate,
            "by_destination": {},
            "failures": [],
            "error": serde_json::Value::Null,
            "task_handle": serde_json::Value::Null,
            "canary": serde_json::Value::Null,
        }),
    };
    if let Some(obj) = v.as_object_mut() {
        obj.insert("state".into(), json!(state));
        obj.insert("dry_run".into(), json!(dry_run));
        obj.insert("mode_reason".into(), json!(plan.mode_reason));
        obj.insert("visible_at_start".into(), json!(plan.visible));
        obj.insert("expected".into(), json!(plan.expected()));
        obj.insert(
            "filter".into(),
            json!(r.filter.as_ref().map(|f| f.to_string())),
        );
        obj.insert(
            "transform".into(),
            json!(r.transform.as_ref().map(|t| t.code())),
        );
        obj.insert("max".into(), json!(r.max));
        obj.insert("destinations".into(), json!(plan.destinations));
        obj.insert("warnings".into(), json!(plan.warnings));
        obj.insert("gate".into(), serde_json::to_value(gate)?);
        obj.insert("preview".into(), json!(plan.preview()));
    }
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &v)?;
    writeln!(out)?;
    Ok(())
}

/// Draws progress on stderr until the run finishes: a bar redrawn in place on a
/// terminal, else a line every few seconds.
async fn draw(mut rx: watch::Receiver<Progress>) {
    let tty = std::io::stderr().is_terminal();
    let every = if tty {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(5)
    };
    let mut last: Option<tokio::time::Instant> = None;
    loop {
        let p = rx.borrow_and_update().clone();
        let finished = p.state.is_finished();
        if finished || last.is_none_or(|t| t.elapsed() >= every) {
            last = Some(tokio::time::Instant::now());
            if tty {
                let cols = crossterm::terminal::size().map_or(80, |(c, _)| usize::from(c));
                let line = fit_progress_line(&p, cols);
                eprint!("\r\x1b[2K{line}");
                if finished {
                    eprintln!();
                }
            } else {
                eprintln!("{}", progress_line(&p, BAR));
            }
        }
        if finished {
            return;
        }
        tokio::select! {
            changed = rx.changed() => if changed.is_err() {
                if tty {
                    eprintln!();
                }
                return;
            },
            _ = tokio::time::sleep(every) => {}
        }
    }
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The progress bar's width when the line has room.
const BAR: usize = 24;

/// [`progress_line`] within `cols` columns, so that a terminal can rewrite it in
/// place: the bar gives way first, then the end of the line.
pub(crate) fn fit_progress_line(p: &Progress, cols: usize) -> String {
    let room = cols.saturating_sub(1);
    let line = progress_line(p, BAR);
    let over = line.chars().count().saturating_sub(room);
    if over == 0 {
        return line;
    }
    let line = progress_line(p, BAR.saturating_sub(over));
    if line.chars().count() <= room {
        return line;
    }
    let mut cut: String = line.chars().take(room.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// One line of progress: `running [██████░░░░░░] 1200/2000  failed 0  48.9/50 msg/s  ETA 0:16`,
/// with a bar `width` wide (none at 0).
pub(crate) fn progress_line(p: &Progress, width: usize) -> String {
    let bar = match p.fraction() {
        Some(f) if width > 0 => {
            let full = ((f * width as f64).round() as usize).min(width);
            format!("[{}{}] ", "█".repeat(full), "░".repeat(width - full))
        }
        _ => String::new(),
    };
    let done = match p.total {
        Some(t) => format!("{}/{t}", p.moved),
        None => p.moved.to_string(),
    };
    let mut line = format!("{:<10} {bar}{done} moved", p.state.label());
    if p.failed > 0 {
        line.push_str(&format!("  failed {}", p.failed));
    }
    if p.skipped > 0 {
        line.push_str(&format!("  skipped {}", p.skipped));
    }
    let target = p
        .target_rate
        .map(|t| format!("/{t:.0}"))
        .unwrap_or_default();
    line.push_str(&format!("  {:.1}{target} msg/s", p.rate));
    if let Some(c) = p.concurrency {
        line.push_str(&format!("  concurrency {c}"));
    }
    line.push_str(&format!("  {}", clock(p.elapsed)));
    if let Some(eta) = p.eta
        && !p.state.is_finished()
    {
        line.push_str(&format!("  ETA {}", clock(eta)));
    }
    if p.state == RunState::Failed
        && let Some(d) = &p.detail
    {
        line.push_str(&format!("  ({d})"));
    }
    if let Some(c) = &p.canary {
        line.push_str(&format!("  {}", c.line()));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redrive::Mode;

    #[test]
    fn progress_line_shows_bar_counts_rate_and_eta() {
        let mut p = Progress::new(Mode::ClientSide, Some(50.0));
        p.state = RunState::Running;
        p.moved = 500;
        p.total = Some(1000);
        p.rate = 48.94;
        p.elapsed = Duration::from_secs(10);
        p.eta = Some(Duration::from_secs(75));
        p.concurrency = Some(96);
        let line = progress_line(&p, BAR);
        assert!(line.contains("48.9/50 msg/s  concurrency 96"), "{line}");
        for cols in [40, 80, 120] {
            let fit = fit_progress_line(&p, cols);
            assert!(fit.chars().count() < cols, "{cols}: {fit}");
        }
        assert_eq!(fit_progress_line(&p, 200), line);
        assert!(fit_progress_line(&p, 80).contains("concurrency 96"));
        assert!(line.starts_with("running"), "{line}");
        assert!(line.contains(&format!("[{}{}]", "█".repeat(12), "░".repeat(12))));
        assert!(line.contains("500/1000 moved"), "{line}");
        assert!(line.contains("48.9/50 msg/s"), "{line}");
        assert!(line.contains("ETA 1:15"), "{line}");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
    }
}
