//! `lazysqs import FILE --to QUEUE`: send back messages exported with `x`.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::Cli;
use crate::config::Config;
use crate::recovery::export::import;

/// `lazysqs import FILE --to QUEUE`: prints each failed line on stderr and a
/// summary; exit status 1 when any line failed, 2 when nothing could be sent.
pub async fn run(cli: &Cli, config: &Config, file: &Path, to: &str) -> anyhow::Result<ExitCode> {
    let audit = super::may_change(cli, config, "import")?;
    let conn = cli.connect(config).await?;
    let broker = conn.broker.as_ref();
    let queue = super::redrive::find_queue(broker, to).await?;
    let report = import(broker, &audit, file, &queue)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    for (line, why) in &report.failed {
        eprintln!("{}:{line}: not sent: {why}", file.display());
    }
    eprintln!(
        "sent {} message(s) to {to}; {} line(s) failed",
        report.sent,
        report.failed.len()
    );
    Ok(ExitCode::from(if report.failed.is_empty() {
        0
    } else if report.sent == 0 {
        2
    } else {
        1
    }))
}
