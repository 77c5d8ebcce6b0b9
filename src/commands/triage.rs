//! `lazysqs triage --from QUEUE`: a whole DLQ grouped by cause, as a table or
//! JSON. Every message received is given back before it exits, on SIGTERM and
//! Ctrl-C too.
//!
//! Exit status: 0 the queue was scanned (to its end or to `--max`); 1 the scan
//! stopped early (a failed receive, or interrupted) and the groups are partial;
//! 2 it did not run.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{anyhow, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::redrive::find_queue;
use crate::cli::Cli;
use crate::config::Config;
use crate::exit::Exit;
use crate::triage::scan::{self, Scan};
use crate::triage::{Group, GroupBy, group};

/// One group, as printed with `--json`.
#[derive(Debug, Serialize)]
pub struct GroupJson {
    pub key: String,
    pub count: usize,
    /// Of the messages scanned, 0–1.
    pub share: f64,
    pub first_sent: Option<DateTime<Utc>>,
    pub last_sent: Option<DateTime<Utc>>,
    /// The first message's body, redacted, on one line.
    pub sample: String,
}

/// The whole answer, as printed with `--json` (documented in the README).
#[derive(Debug, Serialize)]
pub struct TriageJson {
    pub queue: String,
    pub by: String,
    pub scanned: usize,
    /// ApproximateNumberOfMessages when the scan started.
    pub approximate_total: Option<u64>,
    /// The scan reached the queue's end (not `--max`, a failure or a signal).
    pub complete: bool,
    /// Messages that could not be given back (they reappear when their hold of
    /// five minutes ends).
    pub not_given_back: usize,
    /// Calls made again after they failed (throttling, server errors, lost
    /// connections, timeouts): lazysqs's own and the SDK's, scan and give-back.
    pub retries: u64,
    pub error: Option<String>,
    pub groups: Vec<GroupJson>,
}

pub async fn run(
    cli: &Cli,
    config: &Config,
    from: &str,
    by: &GroupBy,
    max: Option<usize>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    super::require_target(cli, config, "triage")?;
    let conn = cli.connect(config).await?;
    let broker = conn.broker.as_ref();
    let queue = find_queue(broker, from).await?;
    let attrs = broker
        .queue_attributes(&queue)
        .await
        .map_err(|e| anyhow!("cannot read {}'s attributes: {e}", queue.name))?;
    if let Some(policy) = &attrs.redrive {
        let why = format!(
            "{} has a redrive policy: every read counts towards its maxReceiveCount ({}) and can move a message to its DLQ",
            queue.name, policy.max_receive_count
        );
        if cli.read_only || config.read_only {
            bail!(
                "read-only mode: triage of {} is turned off — {why}",
                queue.name
            );
        }
        eprintln!("lazysqs triage: warning: {why}");
    }
    let cap = max.unwrap_or(config.triage.cap).min(scan::MAX_IN_FLIGHT);
    let total = attrs.visible;
    if total > cap as u64 {
        eprintln!(
            "lazysqs triage: {} holds about {total} messages; scanning the first {cap} (--max, [triage] cap, at most {})",
            queue.name,
            scan::MAX_IN_FLIGHT
        );
    }

    let stopped = AtomicBool::new(false);
    let seen = AtomicUsize::new(0);
    let tty = std::io::stderr().is_terminal();
    let progress = |new: &[crate::broker::Message]| {
        let n = seen.fetch_add(new.len(), Ordering::Relaxed) + new.len();
        if tty && (n % 500 < new.len() || n < 10) {
            eprint!("\rlazysqs triage: scanned {n} of ~{total}   ");
            let _ = std::io::stderr().flush();
        }
    };
    let stop = || stopped.load(Ordering::Relaxed);
    let scanning = scan::scan(broker, &queue, cap, &progress, &stop);
    let signal = async {
        crate::runtime::terminated().await;
        stopped.store(true, Ordering::Relaxed);
        eprintln!("\nlazysqs triage: stopping: giving every message back");
        std::future::pending::<()>().await
    };
    let Scan {
        messages,
        complete,
        error,
        retries,
    } = tokio::select! {
        s = scanning => s,
        _ = signal => unreachable!("pending"),
    };
    if tty {
        eprintln!();
    }
    let groups = group(&messages, by);
    let receipts = messages.iter().map(|m| m.receipt_handle.clone()).collect();
    let given_back = scan::give_back_counted(broker, &queue, receipts).await;
    let not_given_back = given_back.failed;
    if not_given_back > 0 {
        eprintln!(
            "lazysqs triage: {not_given_back} message(s) could not be given back; they reappear in {} when their hold ends (at most {} s)",
            queue.name,
            scan::HOLD.as_secs()
        );
    }
    let rules = &config.display.redact;
    let answer = TriageJson {
        queue: queue.name.clone(),
        by: by.arg(),
        scanned: messages.len(),
        approximate_total: Some(total),
        complete,
        not_given_back,
        retries: retries + given_back.retries,
        error: error.as_ref().map(|e| e.to_string()),
        groups: groups
            .iter()
            .map(|g| group_json(g, &messages, rules))
            .collect(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print_table(&answer);
    }
    if let Some(e) = &error {
        eprintln!("lazysqs triage: the scan stopped early: {e}");
    }
    let partial = error.is_some() || stopped.load(Ordering::Relaxed);
    Ok(if partial {
        Exit::Breached.into()
    } else {
        Exit::Ok.into()
    })
}

fn group_json(g: &Group, messages: &[crate::broker::Message], rules: &[String]) -> GroupJson {
    let sample = &messages[g.sample()].body;
    GroupJson {
        key: g.key.clone(),
        count: g.count(),
        share: g.count() as f64 / messages.len().max(1) as f64,
        first_sent: g.first_sent,
        last_sent: g.last_sent,
        sample: crate::json_text::one_line(&crate::redact::body(sample, rules)),
    }
}

fn print_table(t: &TriageJson) {
    let state = if t.complete {
        "the whole queue".to_string()
    } else {
        "partial".to_string()
    };
    println!(
        "{}: {} scanned of ~{} ({state}), grouped by {}",
        t.queue,
        t.scanned,
        t.approximate_total.unwrap_or(0),
        t.by
    );
    if t.groups.is_empty() {
        println!("  (no messages)");
        return;
    }
    println!(
        "{:>7} {:>6}  {:<19}  {:<19}  GROUP",
        "COUNT", "SHARE", "FIRST SENT", "LAST SENT"
    );
    let time = |t: Option<DateTime<Utc>>| {
        t.map_or("—".to_string(), |t| {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        })
    };
    for g in &t.groups {
        println!(
            "{:>7} {:>5.1}%  {:<19}  {:<19}  {}",
            g.count,
            g.share * 100.0,
            time(g.first_sent),
            time(g.last_sent),
            g.key
        );
        println!(
            "{:>7} sample: {}",
            "",
            crate::format::truncate(&g.sample, 100)
        );
    }
}
