//! Command-line options: parsing only. What they connect to is `crate::connect`;
//! what the subcommands do is `crate::commands`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::redrive::{ClientOptions, Filter, ModePreference};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "lazysqs",
    version,
    about = "A terminal dashboard for Amazon SQS queue health and dead-letter-queue recovery",
    long_about = "A terminal dashboard for Amazon SQS queue health and dead-letter-queue recovery.\n\n\
        With no AWS credentials, no --endpoint-url and no config, it runs the built-in \
        simulation (the coffee-shop demo)."
)]
pub struct Cli {
    /// Run the built-in simulation, whatever else is configured.
    #[arg(long, global = true)]
    pub demo: bool,
    /// A config file (default: ~/.config/lazysqs/config.toml when it exists).
    #[arg(long, short = 'c', value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Demo speed: simulated seconds per real second (above 0, at most 1000).
    #[arg(long, value_name = "N", value_parser = parse_speed)]
    pub speed: Option<f64>,
    /// A demo scenario: a built-in name (coffee-shop, coffee-shop-story,
    /// retry-backoff) or a scenario file.
    #[arg(long, value_name = "FILE", global = true)]
    pub scenario: Option<PathBuf>,
    /// AWS profile; repeat it to watch several accounts at once.
    #[arg(long, env = "LAZYSQS_PROFILE", global = true)]
    pub profile: Vec<String>,
    /// AWS region; repeat it to watch several regions at once (each profile in each).
    #[arg(long, global = true, value_parser = crate::config::check_region)]
    pub region: Vec<String>,
    /// An SQS-compatible endpoint, e.g. http://127.0.0.1:4566 for LocalStack.
    #[arg(long, value_name = "URL", global = true)]
    pub endpoint_url: Option<String>,
    /// Watch only queues whose names start with this (repeatable).
    #[arg(long, value_name = "PREFIX", global = true)]
    pub prefix: Vec<String>,
    /// Watch this queue (repeatable).
    #[arg(long = "queue", value_name = "NAME", global = true)]
    pub queues: Vec<String>,
    /// Colour theme: default, high-contrast, colorblind, light or monochrome
    /// (NO_COLOR is honoured).
    #[arg(long)]
    pub theme: Option<String>,
    /// Presentation mode: a big, simple layout for a shared screen (toggle with P).
    #[arg(long)]
    pub present: bool,
    /// Refuse every key and command that changes a queue (for shared screens).
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Change queues without writing the audit log (said on every such run).
    #[arg(long, global = true)]
    pub no_audit: bool,
    /// Where to write the log (default: the user's data directory).
    #[arg(long, value_name = "FILE", global = true)]
    pub log_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Poll the selected queues once and print every figure of the queue pane:
    /// a table, or JSON (see "Snapshot JSON" in the README).
    Snapshot {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Skip CloudWatch (GetMetricData is billed per metric): no rates or ages.
        #[arg(long)]
        no_metrics: bool,
        /// Poll twice, SECS apart, to measure rates from the depth (a DLQ's
        /// inflow, which CloudWatch does not count; every queue's net rate).
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
        window: Option<u64>,
    },
    /// Poll once and judge the queues against the configured thresholds, one line
    /// per finding. Exit status: 0 healthy, 1 a threshold breached, 2 the check
    /// could not run (bad config, no credentials, endpoint down, a failed read).
    Check {
        /// Skip CloudWatch (GetMetricData is billed per metric): growth, age and
        /// retention are then not judged.
        #[arg(long)]
        no_metrics: bool,
        /// Poll twice, SECS apart, to measure rates from the depth; needed for
        /// `thresholds.dlq_inflow_per_min`.
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
        window: Option<u64>,
    },
    /// Move the messages of a dead-letter queue back to their source queues (or to
    /// --to QUEUE), rate-limited, with a progress bar on stderr and a JSON summary on
    /// stdout. An SQS move task where it can serve, else client-side.
    Redrive(RedriveArgs),
    /// Receive a whole queue (a DLQ) and group its messages by cause: by JSON
    /// shape, a field's value, an attribute, source queue, receive count or hour.
    /// Prints a table, or JSON (see "Triage" in the README). Every message is
    /// given back before it exits. Exit status: 0 scanned, 1 the scan stopped
    /// early (partial groups), 2 it did not run.
    Triage {
        /// The queue to triage (name, URL or ARN).
        #[arg(long, value_name = "QUEUE")]
        from: String,
        /// Group by `shape` (default), a JSON field's dotted path (or
        /// `field:PATH`), `attr:NAME`, `source`, `receives` or `hour`.
        #[arg(long, value_name = "KEY", default_value = "shape")]
        by: crate::triage::GroupBy,
        /// Most messages to receive (default: [triage] cap, 20,000; at most 120,000).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=120_000))]
        max: Option<u64>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send messages from a JSON Lines file (as exported with `x` in the message
    /// browser) to a queue, keeping attributes and FIFO group ids. Reports each line
    /// that failed; exit status 1 if any did.
    Import {
        /// The JSON Lines file.
        file: PathBuf,
        /// The queue to send to.
        #[arg(long, value_name = "QUEUE")]
        to: String,
        /// Once a line's copy is sent, delete its original (the exported
        /// `message_id`) from this DLQ, so that a later redrive does not send it
        /// again. Without it, the originals still in --to's DLQ are counted.
        #[arg(long, value_name = "DLQ")]
        delete_from: Option<String>,
    },
}

/// Arguments of `lazysqs redrive`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Exit status: 0 everything asked for was moved; 1 the redrive ran but \
    did not move everything (failed messages, cancelled, or it failed), or a dry run found it \
    would move nothing (an empty DLQ, a filter that matches nothing, a transform that fails on \
    every message); 2 it did not run (bad arguments, no connection, a queue not found, refused, \
    or not confirmed). Every exit prints a JSON summary on stdout, with `state`, `error` and \
    `next_step`."
)]
pub struct RedriveArgs {
    /// The dead-letter queue to drain (a name, URL or ARN).
    #[arg(long, value_name = "DLQ")]
    pub from: String,
    /// Send every message to this queue, instead of back to the queue it failed from.
    #[arg(long, value_name = "QUEUE")]
    pub to: Option<String>,
    /// Messages per second (a move task takes 1 to 500). Default: as fast as possible.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: Option<u32>,
    /// Move at most N messages (client-side). Default: all.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max: Option<u64>,
    /// Move only matching messages (client-side): TEXT (the body contains it), or
    /// FIELD=VALUE (a JSON field by dotted path, e.g. store_id=berlin-01); the rest is
    /// left untouched. `contains:TEXT` forces a substring.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<Filter>,
    /// Fix every body moved with this jq expression (client-side): `.coffee =
    /// "mocha"`. Values it does not touch are kept byte for byte; a message it
    /// fails on stays in the DLQ and is reported. With --dry-run, prints the
    /// first 3 matching bodies before and after.
    #[arg(long, value_name = "EXPR", value_parser = parse_transform)]
    pub transform: Option<crate::triage::Transform>,
    /// Move the messages from lazysqs, not with an SQS move task.
    #[arg(long)]
    pub client_side: bool,
    /// Insist on an SQS move task (fail if it cannot serve).
    #[arg(long, conflicts_with = "client_side")]
    pub move_task: bool,
    /// Say what would happen, and move nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Redrive even when the breaker guarding a destination is OPEN.
    #[arg(long)]
    pub force: bool,
    /// The most batches a client-side redrive keeps in flight. It finds how many pay
    /// (more while throughput rises and latency holds, fewer on throttling) up to this.
    #[arg(long, value_name = "N", default_value_t = ClientOptions::default().workers,
          value_parser = parse_workers)]
    pub workers: usize,
    /// Seconds a received message stays hidden while it is being moved (client-side).
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=43_200))]
    pub visibility_timeout: u64,
    /// No progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Start slow and watch for returns: the rate doubles after each window in
    /// which nothing came back, up to --rate; the redrive halts when more than
    /// --canary-max-returns of the messages it sent come back to the DLQ in one
    /// window, and exits 1. Mode: an SQS move task where one can serve, each stage
    /// a task of its own at that stage's rate (returns read from the DLQ's depth);
    /// else (or with --client-side) client-side, returns known by message id.
    #[arg(long)]
    pub canary: bool,
    /// The canary's first rate, messages per second (0.1 to 3000).
    #[arg(long, value_name = "N", default_value_t = 1.0, requires = "canary",
          value_parser = parse_canary_start)]
    pub canary_start: f64,
    /// Seconds each canary stage runs before the rate doubles (1 to 3600).
    #[arg(long, value_name = "SECS", default_value_t = 30, requires = "canary",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub canary_window: u64,
    /// Returns in one window the canary allows; one more halts it.
    #[arg(long, value_name = "N", default_value_t = 2, requires = "canary")]
    pub canary_max_returns: u64,
}

impl RedriveArgs {
    /// The canary asked for, if any.
    pub fn canary(&self) -> Option<crate::redrive::canary::Canary> {
        self.canary.then(|| crate::redrive::canary::Canary {
            start: self.canary_start,
            window: std::time::Duration::from_secs(self.canary_window),
            max_returns: self.canary_max_returns,
            background_per_sec: 0.0,
        })
    }

    pub(crate) fn preference(&self) -> ModePreference {
        if self.client_side {
            ModePreference::ClientSide
        } else if self.move_task {
            ModePreference::MoveTask
        } else {
            ModePreference::Auto
        }
    }
}

fn parse_canary_start(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.1..=3000.0).contains(&v) => Ok(v),
        _ => Err(format!("{s} is not a rate from 0.1 to 3000 messages/s")),
    }
}

fn parse_speed(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s} is not a number"))?;
    crate::config::check_speed(v)
}

/// The most `--workers` takes: each batch in flight holds up to 10 messages and a
/// connection.
const MAX_WORKERS: usize = 1024;

fn parse_workers(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
        _ => Err(format!(
            "{s} is not a number of batches in flight from 1 to {MAX_WORKERS}"
        )),
    }
}

fn parse_transform(s: &str) -> Result<crate::triage::Transform, String> {
    crate::triage::Transform::compile(s)
}
