//! The headless front ends, one file each: parse nothing (that is `crate::cli`),
//! connect through `crate::connect`, do one job, print, and exit with a status
//! from `crate::exit`.

pub mod check;
pub mod import;
pub mod redrive;
pub mod snapshot;
pub mod triage;

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::recovery::audit::{Audit, AuditContext};

/// Runs a subcommand. An error is printed by `main` and exits 2.
pub async fn run(cli: &Cli, config: &Config, command: &Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Snapshot {
            json,
            no_metrics,
            window,
        } => Ok(
            snapshot::run(cli, config, *json, !*no_metrics, window_of(*window))
                .await?
                .into(),
        ),
        Command::Check { no_metrics, window } => {
            Ok(check::run(cli, config, !*no_metrics, window_of(*window))
                .await?
                .into())
        }
        Command::Redrive(args) => redrive::run(cli, config, args).await,
        Command::Triage {
            from,
            by,
            max,
            json,
        } => triage::run(cli, config, from, by, max.map(|m| m as usize), *json).await,
        Command::Import {
            file,
            to,
            delete_from,
        } => import::run(cli, config, file, to, delete_from.as_deref()).await,
    }
}

fn window_of(secs: Option<u64>) -> Option<std::time::Duration> {
    secs.map(std::time::Duration::from_secs)
}

/// The dashboard falls back to the demo when nothing points at AWS; a script must
/// not: a cron job that lost its credentials would judge (or change) the
/// simulation and report success.
pub(crate) fn require_target(cli: &Cli, config: &Config, what: &str) -> anyhow::Result<()> {
    if cli.wants_demo(config) && !cli.demo && cli.scenario.is_none() {
        bail!(
            "no AWS configured (no credentials, profile, --endpoint-url or queues in the \
             config), so there is nothing to {what}: point lazysqs at AWS with --profile, \
             AWS_PROFILE or AWS credentials, or at a local server with --endpoint-url, or \
             pass --demo to use the simulation"
        );
    }
    Ok(())
}

/// Checks, before connecting, that a command that changes queues may run: not in
/// read-only mode, something to act on, and the audit log writable (unless
/// `--no-audit`). Returns the audit log to record in.
pub(crate) fn may_change(cli: &Cli, config: &Config, what: &str) -> anyhow::Result<Audit> {
    if cli.read_only || config.read_only {
        bail!(
            "read-only mode ({}): {what} changes queues and is turned off",
            if cli.read_only {
                "--read-only"
            } else {
                "read_only = true in the config"
            }
        );
    }
    require_target(cli, config, what)?;
    let audit = audit_for(cli, config);
    if !audit.is_on() {
        eprintln!("lazysqs: --no-audit: this {what} is NOT recorded in the audit log");
    }
    audit.check()?;
    Ok(audit)
}

/// The audit log for this run, its lines naming the region and endpoint.
pub fn audit_for(cli: &Cli, config: &Config) -> Audit {
    let places = cli.aws_places(config);
    let context = if cli.wants_demo(config) {
        AuditContext::new(Some("demo".into()), None)
    } else {
        // Watching several regions, each line names its queue's own.
        let region = match places.as_slice() {
            [one] => one.region.clone(),
            _ => None,
        };
        AuditContext::new(region, places[0].endpoint_url.clone())
    };
    Audit::for_run(cli.no_audit).with_context(context)
}
