//! `lazysqs import FILE --to QUEUE [--delete-from DLQ]`: send back messages
//! exported with `x`, and settle their originals in the DLQ.

use std::path::Path;
use std::process::ExitCode;

use crate::broker::{Broker, QueueRef};
use crate::cli::Cli;
use crate::config::Config;
use crate::recovery::export::import;
use crate::recovery::originals::{self, OriginalsReport, SCAN_CAP};

/// `lazysqs import FILE --to QUEUE`: prints each failed line on stderr and a
/// summary; exit status 1 when any line failed (or an original could not be
/// deleted), 2 when nothing could be sent.
pub async fn run(
    cli: &Cli,
    config: &Config,
    file: &Path,
    to: &str,
    delete_from: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let audit = super::may_change(cli, config, "import")?;
    let conn = cli.connect(config).await?;
    let broker = conn.broker.as_ref();
    let queue = super::redrive::find_queue(broker, to).await?;
    // Before sending anything: a DLQ that cannot be found stops the import.
    let delete_from = match delete_from {
        Some(dlq) => Some(super::redrive::find_queue(broker, dlq).await?),
        None => None,
    };
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
    let mut originals_failed = false;
    if !report.sent_ids.is_empty() {
        let (dlq, delete) = match delete_from {
            Some(dlq) => (Some(dlq), true),
            None => (dlq_of(broker, &queue).await, false),
        };
        match dlq {
            Some(dlq) => {
                let o = originals::settle(broker, &audit, &dlq, &report.sent_ids, delete).await;
                originals_failed = !o.failed.is_empty();
                say_originals(&o, &dlq, delete);
            }
            None => eprintln!(
                "{to} has no DLQ to look for the originals in: if they are still in one, \
                 a redrive would send them again (--delete-from DLQ deletes them)"
            ),
        }
    }
    Ok(ExitCode::from(
        if report.sent == 0 && !report.failed.is_empty() {
            2
        } else if report.failed.is_empty() && !originals_failed {
            0
        } else {
            1
        },
    ))
}

/// The DLQ `queue`'s redrive policy names, if any.
async fn dlq_of(broker: &dyn Broker, queue: &QueueRef) -> Option<QueueRef> {
    let arn = broker.queue_attributes(queue).await.ok()?.redrive?.dlq_arn;
    super::redrive::find_queue(broker, &arn).await.ok()
}

fn say_originals(o: &OriginalsReport, dlq: &QueueRef, deleted: bool) {
    let scan = if o.complete {
        format!("a scan of all {} messages in {}", o.scanned, dlq.name)
    } else {
        format!(
            "a scan of the first {} messages in {} (at most {SCAN_CAP}): there may be more",
            o.scanned, dlq.name
        )
    };
    if deleted {
        eprintln!(
            "originals in {}: {} deleted, {} not found, {} still there ({scan})",
            dlq.name, o.deleted, o.not_found, o.still_there
        );
        for (id, why) in &o.failed {
            eprintln!("  original {id} not deleted: {why}");
        }
    } else {
        eprintln!(
            "originals still in {}: about {} of the messages sent ({scan}, each given back; \
             approximate): a redrive of {} would send them again; --delete-from {} deletes them",
            dlq.name, o.still_there, dlq.name, dlq.name
        );
    }
}
