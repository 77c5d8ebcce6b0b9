//! The `lazysqs` binary: parse the command line, set up logging to a file, take
//! the terminal, run the dashboard, and always give the terminal back.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use clap::Parser;
use lazysqs::cli::Cli;
use lazysqs::exit::Exit;
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
    let config = match cli.load_config() {
        Ok(config) => config,
        Err(e) => {
            if let Some(lazysqs::cli::Command::Redrive(args)) = &cli.command {
                lazysqs::commands::redrive::config_failed(args, &e);
            }
            return Err(e);
        }
    };
    if let Some(command) = &cli.command {
        return lazysqs::commands::run(&cli, &config, command).await;
    }
    let setup = cli.setup(&config, Instant::now()).await?;
    let _driver = setup.sim.as_ref().map(|s| s.spawn_driver(setup.speed));
    tracing::info!("starting on {}", setup.app.source);
    // ratatui::init installs a panic hook that restores the terminal first.
    let mut terminal = ratatui::try_init()?;
    mouse_capture(true);
    let audit = lazysqs::commands::audit_for(&cli, &config);
    let result = runtime::run(
        &mut terminal,
        setup.app,
        setup.broker,
        setup.sim.clone(),
        setup.theme,
        audit,
    )
    .await;
    mouse_capture(false);
    ratatui::restore();
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Mouse reporting on or off. On, a panic turns it off first (ratatui's own hook
/// then restores the rest of the terminal).
fn mouse_capture(on: bool) {
    use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
    let mut out = std::io::stdout();
    if on {
        let _ = crossterm::execute!(out, EnableMouseCapture);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
            previous(info);
        }));
    } else {
        let _ = crossterm::execute!(out, DisableMouseCapture);
    }
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
