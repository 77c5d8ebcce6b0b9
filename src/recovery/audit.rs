//! The append-only audit log: one JSON line before and one after every mutation,
//! so a crash between the two still leaves a trace.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry<'a> {
    pub time: String,
    /// "requeue", "delete", "import", "redrive".
    pub action: &'a str,
    pub queue: &'a str,
    pub message_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_message_id: Option<&'a str>,
    /// "started", "ok", or "failed: why".
    pub outcome: String,
}

/// Where audit lines go. `None` disables it (tests that don't care).
#[derive(Debug, Clone, Default)]
pub struct Audit {
    path: Option<PathBuf>,
}

impl Audit {
    pub fn new(path: Option<PathBuf>) -> Self {
        Audit { path }
    }

    /// The default log in the user's data directory.
    pub fn default_path() -> Option<PathBuf> {
        dirs::data_local_dir().map(|d| d.join("lazysqs").join("audit.jsonl"))
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends one line. A failure to write is logged, never fatal: the mutation's
    /// own outcome is still reported to the user.
    pub fn record(
        &self,
        action: &str,
        queue: &str,
        message_id: &str,
        destination: Option<&str>,
        new_message_id: Option<&str>,
        outcome: impl Into<String>,
    ) {
        let Some(path) = &self.path else {
            return;
        };
        let entry = AuditEntry {
            time: Utc::now().to_rfc3339(),
            action,
            queue,
            message_id,
            destination,
            new_message_id,
            outcome: outcome.into(),
        };
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            let line = serde_json::to_string(&entry).map_err(std::io::Error::other)?;
            writeln!(f, "{line}")?;
            f.sync_data()
        };
        if let Err(e) = write() {
            tracing::error!("cannot write the audit log {}: {e}", path.display());
        }
    }
}
