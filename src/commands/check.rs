//! `lazysqs check`: one poll, judged against the thresholds; the exit status says.

use std::time::Duration;

use crate::check::{judge, report};
use crate::cli::Cli;
use crate::config::Config;
use crate::exit::Exit;

use super::snapshot;

/// `lazysqs check [--no-metrics] [--window SECS]`.
pub async fn run(
    cli: &Cli,
    config: &Config,
    metrics: bool,
    window: Option<Duration>,
) -> anyhow::Result<Exit> {
    let (s, thresholds) = snapshot::poll(cli, config, metrics, window).await?;
    let verdict = judge(&s, &thresholds);
    let (out, err) = report(&verdict, &s.source);
    if let Some(note) = &s.note {
        eprintln!("{note}");
    }
    eprint!("{err}");
    snapshot::print_out(&out)?;
    Ok(verdict.exit())
}
