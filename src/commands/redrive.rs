//! `lazysqs redrive`: a bulk redrive from the command line, for runbooks and cron.
//!
//! Plans the redrive, checks the breaker gate, asks for confirmation (unless `--yes`),
//! then runs it with a progress bar on stderr and prints a JSON summary on stdout.
//! Ctrl-C cancels cleanly (client-side: after the batches in hand; a move task:
//! CancelMessageMoveTask); a second Ctrl-C exits at once, which at worst leaves a
//! message in both queues, never in neither.
//!
//! Exit status: 0 everything asked for was moved; 1 the redrive ran but did not move
//! everything (failed messages, cancelled, or it failed), or a dry run found it would
//! move nothing (an empty DLQ, a filter that matches nothing, a transform that fails
//! on every message); 2 it did not run (bad
//! arguments, no connection, refused by the breaker gate or not confirmed). Every
//! exit after the command line is parsed prints one JSON summary on stdout, with
//! `state`, `error` and `next_step`.

mod dry_run;
mod progress;
mod summary;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail};

use crate::breaker::{self, BreakerState};
use crate::broker::{Broker, BrokerError, Place, QueueRef, QueueSelection, name_from_arn};
use crate::cli::{Cli, RedriveArgs};
use crate::config::{BreakerSourceConfig, Config};
use crate::connect::Connection;
use crate::exit::Exit;
use crate::redrive::gate::{self, GateDecision, Guard};
use crate::redrive::{ClientOptions, Destination, Plan, Request};
use progress::draw;
use summary::{NotRun, State, Summary};

/// Runs `lazysqs redrive`. Every exit prints one JSON summary on stdout: exit 2
/// (it did not run) says why in `error` and what to do in `next_step`.
pub async fn run(cli: &Cli, config: &Config, args: &RedriveArgs) -> anyhow::Result<ExitCode> {
    match execute(cli, config, args).await {
        Ok(code) => Ok(code),
        Err(why) => {
            eprintln!("lazysqs redrive: {}", why.error);
            eprintln!("  next: {}", why.next_step);
            Summary::not_run(args, &why).print()?;
            Ok(Exit::CouldNotRun.into())
        }
    }
}

/// `lazysqs redrive` whose config file could not be read: the JSON summary, for a
/// script that reads stdout. The error itself is printed by `main`.
pub fn config_failed(args: &RedriveArgs, error: &anyhow::Error) {
    let why = NotRun::new(
        State::NotPlanned,
        format!("{error:#}"),
        "fix the config file (see config.example.toml), or pass --config with another",
    );
    let _ = Summary::not_run(args, &why).print();
}

/// The next step when a queue named on the command line cannot be found or read.
fn lookup_failed(e: anyhow::Error) -> NotRun {
    match e.downcast_ref::<BrokerError>() {
        Some(cause) => NotRun::broker(State::NotConnected, format!("{e:#}"), Some(cause)),
        None => NotRun::new(
            State::NotPlanned,
            format!("{e:#}"),
            "check the queue's name: `lazysqs snapshot` lists the queues lazysqs can see \
             (a name, URL or ARN)",
        ),
    }
}

async fn execute(cli: &Cli, config: &Config, args: &RedriveArgs) -> Result<ExitCode, NotRun> {
    let audit = super::may_change(cli, config, "redrive").map_err(|e| {
        let next = if cli.read_only || config.read_only {
            "run it without --read-only (and without read_only = true in the config)"
        } else if super::require_target(cli, config, "redrive").is_err() {
            "point lazysqs at AWS (--profile, AWS credentials) or at a server (--endpoint-url), or pass --demo"
        } else {
            "make the audit log writable (see the error), or pass --no-audit"
        };
        NotRun::new(State::Refused, format!("{e:#}"), next)
    })?;
    let conn = cli
        .connect(config)
        .await
        .map_err(|e| NotRun::broker(State::NotConnected, format!("{e:#}"), e.downcast_ref()))?;
    let speed = cli.speed.or(config.demo.speed).unwrap_or(1.0);
    let _driver = conn.sim.as_ref().map(|s| s.spawn_driver(speed));
    let broker = conn.broker.clone();

    let source = find_queue(broker.as_ref(), &args.from)
        .await
        .map_err(lookup_failed)?;
    let destination = match &args.to {
        Some(to) => Destination::Queue(
            find_queue(broker.as_ref(), to)
                .await
                .map_err(lookup_failed)?,
        ),
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
    let mut plan = crate::redrive::plan(broker.as_ref(), request)
        .await
        .map_err(|e| NotRun::plan(&e))?;
    eprintln!("lazysqs redrive: {}", plan.preview());
    for w in &plan.warnings {
        eprintln!("  warning: {w}");
    }
    let print = |s: Summary| {
        s.print().map_err(|e| {
            NotRun::new(
                State::NotStarted,
                format!("cannot print the summary: {e}"),
                "check that stdout can be written",
            )
        })
    };

    let gate = read_gate(&conn, &plan, args.force).await;
    match &gate {
        GateDecision::Refused { reason } => {
            eprintln!("lazysqs redrive: refused: {reason} (--force)");
            print(Summary {
                plan: Some(&plan),
                gate: Some(&gate),
                error: Some(reason.clone()),
                next_step: Some(
                    "wait for the breaker to close, or pass --force to redrive anyway".into(),
                ),
                ..Summary::new(args, State::Refused)
            })?;
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
        let verdict = dry_run::check(broker.as_ref(), &plan, &config.display.redact).await?;
        let code = match &verdict.nothing {
            Some(why) => {
                eprintln!("lazysqs redrive: {}", why.error);
                ExitCode::from(1)
            }
            None => Exit::Ok.into(),
        };
        let mut summary = Summary::planned(args, &plan, &gate, State::DryRun, verdict.nothing);
        summary.extra.insert(
            "sample".into(),
            verdict.sample.unwrap_or(serde_json::Value::Null),
        );
        print(summary)?;
        return Ok(code);
    }
    if !args.yes {
        let why = match confirm(&plan).await {
            Ok(true) => None,
            Ok(false) => Some(NotRun::new(
                State::NotConfirmed,
                "not confirmed; nothing moved",
                "run it again and answer y, or pass --yes to run without asking",
            )),
            Err(e) => Some(NotRun::new(
                State::NotConfirmed,
                format!("{e:#}"),
                "pass --yes to run without asking (or --dry-run to see the plan)",
            )),
        };
        if let Some(why) = why {
            eprintln!("lazysqs redrive: {}", why.error);
            print(Summary::planned(
                args,
                &plan,
                &gate,
                State::NotConfirmed,
                Some(why),
            ))?;
            return Ok(Exit::CouldNotRun.into());
        }
    }

    if let Some(c) = plan.request.canary.as_mut() {
        c.background_per_sec = background_inflow(broker.as_ref(), &plan.request.source).await;
    }
    let handle = match crate::redrive::start(broker.clone(), &plan, &audit).await {
        Ok(h) => h,
        Err(e) => {
            let next = match plan.mode {
                crate::redrive::Mode::MoveTask => {
                    "nothing moved: pass --client-side to move the messages from lazysqs, or run it again"
                }
                crate::redrive::Mode::ClientSide => {
                    "nothing moved: check the connection and the audit log, then run it again"
                }
            };
            let why = NotRun::new(
                State::NotStarted,
                format!("cannot start the redrive: {e}"),
                next,
            );
            eprintln!("lazysqs redrive: {}", why.error);
            print(Summary::planned(
                args,
                &plan,
                &gate,
                State::NotStarted,
                Some(why),
            ))?;
            return Ok(Exit::CouldNotRun.into());
        }
    };
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
    print(Summary {
        report: Some(&report),
        next_step: summary::after_run(&plan, &report),
        ..Summary::planned(args, &plan, &gate, State::Ran(report.state), None)
    })?;
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
