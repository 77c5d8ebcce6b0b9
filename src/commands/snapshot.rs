//! `lazysqs snapshot`: one poll of the selected queues, as a table or JSON.

use std::io::Write;
use std::time::Duration;

use chrono::SecondsFormat;

use crate::cli::Cli;
use crate::config::{Config, Thresholds};
use crate::exit::Exit;
use crate::format;
use crate::health::Drain;
use crate::snapshot::{DEMO_WARMUP, Options, Snapshot, take};

/// Connects as the dashboard would, runs the demo forward, and polls once.
/// Returns the snapshot and the thresholds it was judged by. Fails (→ exit 2) on a
/// bad config, a failed connection or when the queues cannot be listed.
///
/// With a `window`, polls the queues twice that far apart (the demo's simulation
/// is run forward by it instead of waiting) and measures rates from the depth.
pub async fn poll(
    cli: &Cli,
    config: &Config,
    metrics: bool,
    window: Option<Duration>,
) -> anyhow::Result<(Snapshot, Thresholds)> {
    super::require_target(cli, config, "poll")?;
    let conn = cli.connect(config).await?;
    let note = conn.sim.as_ref().map(|sim| {
        sim.advance(DEMO_WARMUP);
        format!(
            "demo: the simulation was run {} simulated minutes ahead before this poll",
            DEMO_WARMUP.as_secs() / 60
        )
    });
    let opts = Options {
        source: conn.source.clone(),
        demo: conn.is_demo(),
        note,
        selection: cli.selection(config),
        max_concurrency: config.refresh.max_concurrency,
        thresholds: config.thresholds.clone(),
        breakers: conn.breakers.clone(),
        metrics,
    };
    let listing = |e| anyhow::anyhow!("listing queues on {}: {e}", opts.source);
    let Some(window) = window else {
        let snapshot = take(conn.broker.as_ref(), conn.demo_breakers(), &opts)
            .await
            .map_err(listing)?;
        return Ok((snapshot, opts.thresholds));
    };
    // The first poll only needs the depths: CloudWatch is asked once, at the end.
    let first_opts = Options {
        metrics: false,
        ..opts.clone()
    };
    let first = take(conn.broker.as_ref(), conn.demo_breakers(), &first_opts)
        .await
        .map_err(listing)?;
    eprintln!(
        "lazysqs: polled once; polling again in {}s to measure rates",
        window.as_secs()
    );
    match &conn.sim {
        Some(sim) => sim.advance(window),
        None => tokio::time::sleep(window).await,
    }
    let second = take(conn.broker.as_ref(), conn.demo_breakers(), &opts)
        .await
        .map_err(listing)?;
    Ok((second.measured_since(&first, window), opts.thresholds))
}

/// `lazysqs snapshot [--json] [--no-metrics] [--window SECS]`.
pub async fn run(
    cli: &Cli,
    config: &Config,
    json: bool,
    metrics: bool,
    window: Option<Duration>,
) -> anyhow::Result<Exit> {
    let (snapshot, _) = poll(cli, config, metrics, window).await?;
    let text = if json {
        let mut s = serde_json::to_string_pretty(&snapshot)?;
        s.push('\n');
        s
    } else {
        table(&snapshot)
    };
    print_out(&text)?;
    if snapshot.all_failed() {
        eprintln!("lazysqs: no queue could be read");
        return Ok(Exit::CouldNotRun);
    }
    if snapshot.queues.is_empty() {
        eprintln!("lazysqs: no queues match the selection");
    }
    Ok(Exit::Ok)
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn print_out(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// The readable table: the queue pane's columns, then breakers and problems.
pub fn table(s: &Snapshot) -> String {
    const HEADER: [&str; 12] = [
        "QUEUE",
        "TYPE",
        "VISIBLE",
        "IN FLIGHT",
        "DELAYED",
        "OLDEST",
        "IN/MIN",
        "OUT/MIN",
        "DRAIN",
        "DLQ",
        "BREAKER",
        "HEALTH",
    ];
    // Numbers are right-aligned; the rest left.
    const RIGHT: [bool; 12] = [
        false, false, true, true, true, true, true, true, false, false, false, false,
    ];
    let mut out = format!(
        "snapshot of {} at {}\n",
        s.source,
        s.polled_at.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    if let Some(note) = &s.note {
        out.push_str(&format!("{note}\n"));
    }
    if !s.metrics_polled {
        out.push_str("CloudWatch not asked (--no-metrics): no rates or ages\n");
    }
    for e in &s.listing_errors {
        out.push_str(&format!("not listed: {e}\n"));
    }
    out.push('\n');
    // Several regions or accounts: each name says where its queue lives.
    let spread = |part: fn(&crate::snapshot::QueueSnapshot) -> &Option<String>| {
        let mut seen: Vec<&String> = s.queues.iter().filter_map(|q| part(q).as_ref()).collect();
        seen.sort();
        seen.dedup();
        seen.len() > 1
    };
    let (regions, accounts) = (spread(|q| &q.region), spread(|q| &q.account));
    let mut rows: Vec<[String; 12]> = vec![HEADER.map(String::from)];
    for q in &s.queues {
        let place: Vec<&str> = [(regions, &q.region), (accounts, &q.account)]
            .into_iter()
            .filter_map(|(shown, part)| part.as_deref().filter(|_| shown))
            .collect();
        let name = format::placed(&q.name, &place);
        let dlq = match (&q.dlq, q.dlq_sources.is_empty()) {
            (Some(d), _) => format!("{d} ({})", format::count(q.dlq_depth)),
            (None, false) => format!("← {}", q.dlq_sources.join(",")),
            (None, true) => String::new(),
        };
        let health = if q.error.is_some() {
            "! error".to_string()
        } else if q.flags.is_empty() {
            "ok".to_string()
        } else {
            q.flags
                .iter()
                .map(|f| f.label())
                .collect::<Vec<_>>()
                .join(" ")
        };
        rows.push([
            name,
            if q.fifo { "FIFO" } else { "std" }.to_string(),
            format::count(q.visible),
            format::count(q.in_flight),
            format::count(q.delayed),
            q.age_of_oldest_secs
                .map_or_else(|| "—".into(), |a| format::duration(Duration::from_secs(a))),
            match q.arrival_source {
                "depth" => format!("≈{}", format::rate(q.arrival_per_min)),
                _ => format::rate(q.arrival_per_min),
            },
            format::rate(q.consumption_per_min),
            match q.drain {
                Some(Drain::In(t)) => format::duration(t),
                Some(d) => d.label().to_string(),
                None => "—".to_string(),
            },
            dlq,
            q.breaker
                .as_ref()
                .map_or_else(String::new, |b| format!("{} {}", b.name, b.state.label())),
            health,
        ]);
    }
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            if c > 0 {
                line.push_str("  ");
            }
            if RIGHT[c] {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if c + 1 < r.len() {
                    line.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if s.queues.is_empty() {
        out.push_str("(no queues match the selection)\n");
    }
    if !s.breakers.is_empty() {
        out.push_str("\nBREAKERS\n");
        for b in &s.breakers {
            let guards = b
                .queue
                .as_deref()
                .map_or_else(String::new, |q| format!(" (guards {q})"));
            let why = b.error.as_deref().unwrap_or(&b.detail);
            out.push_str(&format!(
                "{} {}{guards}: {}; {why}\n",
                b.name,
                b.state.label(),
                b.source
            ));
        }
    }
    let mut problems: Vec<String> = s
        .queues
        .iter()
        .filter_map(|q| q.error.as_ref().map(|e| format!("{}: {e}", q.name)))
        .collect();
    problems.extend(s.metrics_error.clone());
    if !problems.is_empty() {
        out.push_str("\nPROBLEMS\n");
        for p in problems {
            out.push_str(&format!("! {p}\n"));
        }
    }
    out
}
