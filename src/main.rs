//! The `lazysqs` binary: parse the command line, set up logging to a file, take
//! the terminal, run the dashboard, and always give the terminal back.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use clap::Parser;
use lazysqs::cli::{Cli, Command};
use lazysqs::exit::Exit;
use lazysqs::recovery::audit::Audit;
use lazysqs::runtime;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_path = init_logging(&cli);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lazysqs: cannot start the async runtime: {e}");
            return Exit::CouldNotRun.into();
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lazysqs: {e:#}");
            if let Some(p) = log_path {
                eprintln!("(log: {})", p.display());
            }
            Exit::CouldNotRun.into()
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.load_config()?;
    match &cli.command {
        Some(Command::Snapshot { json, no_metrics }) => {
            let exit = lazysqs::snapshot::run(&cli, &config, *json, !*no_metrics).await?;
            return Ok(exit.into());
        }
        Some(Command::Check { no_metrics }) => {
            let exit = lazysqs::check::run(&cli, &config, !*no_metrics).await?;
            return Ok(exit.into());
        }
        Some(Command::Redrive(args)) => {
            return lazysqs::redrive::headless::run(&cli, &config, args).await;
        }
        Some(Command::Import { file, to }) => {
            return lazysqs::recovery::export::run_import(&cli, &config, file, to).await;
        }
        None => {}
    }
    let setup = cli.setup(&config, Instant::now()).await?;
    let _driver = setup.sim.as_ref().map(|s| s.spawn_driver(setup.speed));
    tracing::info!("starting on {}", setup.app.source);
    // ratatui::init installs a panic hook that restores the terminal first.
    let mut terminal = ratatui::try_init()?;
    let audit = Audit::new(Audit::default_path());
    let result = runtime::run(&mut terminal, setup.app, setup.broker, setup.theme, audit).await;
    ratatui::restore();
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Logs go to a file, never to the terminal the dashboard draws on.
fn init_logging(cli: &Cli) -> Option<PathBuf> {
    let path = cli
        .log_file
        .clone()
        .or_else(|| dirs::data_local_dir().map(|d| d.join("lazysqs").join("lazysqs.log")))?;
    let file = lazysqs::files::open_append(&path).ok()?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("LAZYSQS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,aws=warn,hyper=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init()
        .ok()?;
    Some(path)
}
