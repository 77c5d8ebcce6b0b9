//! The append-only audit log: one JSON line before and one after every mutation,
//! so a crash between the two still leaves a trace.
//!
//! Every line says when, who (the OS user), and where: the account, region,
//! endpoint and queue URL. A line is one write with O_APPEND (two lazysqs processes
//! never interleave within a line) to a file only its owner can read. When the log
//! cannot be written, the mutation is refused: nothing happens off the record,
//! unless the user said `--no-audit`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;

use crate::broker::QueueRef;

/// One line of the log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry<'a> {
    pub time: String,
    pub user: &'a str,
    /// "requeue", "delete", "import", "redrive", "move-task-cancel".
    pub action: &'a str,
    pub queue: &'a str,
    pub queue_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub message_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_message_id: Option<&'a str>,
    /// "started", "ok", or "failed: why"; for a redrive, its outcome.
    pub outcome: String,
    /// What a bulk action set out to do, or what it did (counts, failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// What the lines are about beyond the queue: who, and which endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditContext {
    pub user: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
}

impl AuditContext {
    /// The OS user running lazysqs, and where it is connected.
    pub fn new(region: Option<String>, endpoint: Option<String>) -> Self {
        let region = region.or_else(|| {
            ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        });
        AuditContext {
            user: os_user(),
            region,
            endpoint: endpoint.map(|e| crate::redact::url(&e)),
        }
    }
}

/// The OS user: `$USER` (or `$LOGNAME`), else the name of this process's uid.
fn os_user() -> String {
    if let Some(u) = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    {
        return u;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) {
            let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
                p.lines().find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
                })
            });
            return name.unwrap_or_else(|| format!("uid {uid}"));
        }
    }
    "unknown".into()
}

#[derive(Debug, Clone, Default, PartialEq)]
enum Sink {
    /// Not recorded: `--no-audit`, or tests that don't care.
    #[default]
    Off,
    File(PathBuf),
    /// Cannot be recorded, and so every mutation is refused: why.
    Unavailable(String),
}

/// Where audit lines go.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    sink: Sink,
    context: Arc<AuditContext>,
}

/// Why a mutation was refused: the audit log cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the audit log {path} cannot be written ({reason}); nothing was changed (--no-audit overrides)"
)]
pub struct AuditError {
    pub path: String,
    pub reason: String,
}

impl Audit {
    /// A log at `path`; `None` records nothing (tests that don't care).
    pub fn new(path: Option<PathBuf>) -> Self {
        Audit {
            sink: path.map_or(Sink::Off, Sink::File),
            context: Arc::default(),
        }
    }

    /// The log for a run of lazysqs: `--no-audit` records nothing; otherwise the
    /// default log in the user's data directory, or, when there is none, a log
    /// that refuses every mutation.
    pub(crate) fn for_run(no_audit: bool) -> Self {
        let sink = if no_audit {
            Sink::Off
        } else {
            match Self::default_path() {
                Some(p) => Sink::File(p),
                None => Sink::Unavailable(
                    "there is no data directory to keep it in (set HOME or XDG_DATA_HOME)".into(),
                ),
            }
        };
        Audit {
            sink,
            context: Arc::default(),
        }
    }

    /// The same log, with lines that name this user, region and endpoint.
    pub(crate) fn with_context(mut self, context: AuditContext) -> Self {
        self.context = Arc::new(context);
        self
    }

    /// The default log in the user's data directory.
    pub(crate) fn default_path() -> Option<PathBuf> {
        dirs::data_local_dir().map(|d| d.join("lazysqs").join("audit.jsonl"))
    }

    pub fn path(&self) -> Option<&Path> {
        match &self.sink {
            Sink::File(p) => Some(p),
            _ => None,
        }
    }

    /// Whether lines are recorded at all (not with `--no-audit`).
    pub(crate) fn is_on(&self) -> bool {
        !matches!(self.sink, Sink::Off)
    }

    /// Checks that a line could be written now (the file opens for appending).
    pub fn check(&self) -> Result<(), AuditError> {
        match &self.sink {
            Sink::Off => Ok(()),
            Sink::Unavailable(reason) => Err(AuditError {
                path: "(none)".into(),
                reason: reason.clone(),
            }),
            Sink::File(path) => crate::files::open_append(path)
                .map(drop)
                .map_err(|e| AuditError {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                }),
        }
    }

    /// Appends one line about a single message. An error means the line is not
    /// on the record: before a mutation, do not go on.
    pub fn record(
        &self,
        action: &str,
        queue: &QueueRef,
        message_id: &str,
        destination: Option<&str>,
        new_message_id: Option<&str>,
        outcome: impl Into<String>,
    ) -> Result<(), AuditError> {
        self.write(
            action,
            queue,
            message_id,
            destination,
            new_message_id,
            outcome.into(),
            None,
        )
    }

    /// Appends one line about a bulk action (a redrive, a move task), with what it
    /// plans or did in `details`.
    pub(crate) fn record_bulk(
        &self,
        action: &str,
        queue: &QueueRef,
        destination: Option<&str>,
        outcome: impl Into<String>,
        details: serde_json::Value,
    ) -> Result<(), AuditError> {
        self.write(
            action,
            queue,
            "",
            destination,
            None,
            outcome.into(),
            Some(details),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        action: &str,
        queue: &QueueRef,
        message_id: &str,
        destination: Option<&str>,
        new_message_id: Option<&str>,
        outcome: String,
        details: Option<serde_json::Value>,
    ) -> Result<(), AuditError> {
        let path = match &self.sink {
            Sink::Off => return Ok(()),
            Sink::Unavailable(_) => return self.check(),
            Sink::File(p) => p,
        };
        let (url_region, url_account) = where_from_url(&queue.url);
        let account = known(&queue.place.account).or(url_account);
        let entry = AuditEntry {
            time: Utc::now().to_rfc3339(),
            user: &self.context.user,
            action,
            queue: &queue.name,
            queue_url: &queue.url,
            account,
            region: known(&queue.place.region)
                .or(self.context.region.as_deref())
                .or(url_region),
            endpoint: self.context.endpoint.as_deref(),
            message_id,
            destination,
            new_message_id,
            outcome,
            details,
        };
        let result = serde_json::to_string(&entry)
            .map_err(std::io::Error::other)
            .and_then(|line| crate::files::append_line(path, &line));
        result.map_err(|e| {
            tracing::error!("cannot write the audit log {}: {e}", path.display());
            AuditError {
                path: path.display().to_string(),
                reason: e.to_string(),
            }
        })
    }
}

/// The region and account a queue URL names: `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`,
/// LocalStack's `http://HOST:4566/queue/REGION/ACCOUNT/NAME` or `http://HOST/ACCOUNT/NAME`,
/// and the simulation's `sim://REGION/ACCOUNT/NAME`.
fn where_from_url(url: &str) -> (Option<&str>, Option<&str>) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let mut parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let host = if parts.is_empty() {
        ""
    } else {
        parts.remove(0)
    };
    // parts: [..., REGION?, ACCOUNT, NAME]
    let account = parts.len().checked_sub(2).map(|i| parts[i]);
    let looks_like_region =
        |r: &str| r.contains('-') && r.chars().any(|c| c.is_ascii_digit()) && !r.contains('.');
    let region = parts
        .len()
        .checked_sub(3)
        .map(|i| parts[i])
        .filter(|r| looks_like_region(r))
        .or_else(|| {
            host.strip_prefix("sqs.")
                .and_then(|h| h.split('.').next())
                .filter(|r| looks_like_region(r))
        })
        .or_else(|| url.starts_with("sim://").then_some(host));
    (region, account)
}

/// A place's part, when it is known.
fn known(part: &str) -> Option<&str> {
    Some(part).filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_region_and_account() {
        assert_eq!(
            where_from_url("https://sqs.eu-west-1.amazonaws.com/123456789012/orders"),
            (Some("eu-west-1"), Some("123456789012"))
        );
        assert_eq!(
            where_from_url("http://127.0.0.1:4566/000000000000/orders"),
            (None, Some("000000000000"))
        );
        assert_eq!(
            where_from_url("http://127.0.0.1:4566/queue/us-east-1/000000000000/orders"),
            (Some("us-east-1"), Some("000000000000"))
        );
        assert_eq!(
            where_from_url("sim://sim-1/000000000000/orders"),
            (Some("sim-1"), Some("000000000000"))
        );
    }

    #[test]
    fn a_log_that_cannot_be_written_refuses() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A directory where the file should be.
        let path = dir.path().join("audit.jsonl");
        std::fs::create_dir(&path).expect("mkdir");
        let audit = Audit::new(Some(path));
        assert!(audit.check().is_err());
        let q = QueueRef::new("q", "sim://sim-1/000000000000/q");
        let err = audit
            .record("delete", &q, "m-1", None, None, "started")
            .expect_err("refused");
        assert!(err.to_string().contains("cannot be written"), "{err}");
        assert!(
            Audit::new(None)
                .record("delete", &q, "m-1", None, None, "started")
                .is_ok()
        );
    }
}
