//! Messages as JSON Lines: what `x` exports and `lazysqs import` sends back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::broker::{
    Broker, Message, MessageAttribute, OutgoingMessage, QueueRef, validate_outgoing,
};

/// One exported message, one per line. A field this does not know is an error on
/// import (a misspelt `"Attributes"` must not drop the attributes silently).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExportedMessage {
    pub message_id: String,
    pub body: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, ExportedAttribute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_queue: Option<String>,
    #[serde(default)]
    pub receive_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// The `AWSTraceHeader` system attribute (X-Ray).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_header: Option<String>,
    /// The redaction rules in force when this was exported: its body and
    /// attributes hold masks, not data, and import refuses it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masked_fields: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExportedAttribute {
    pub data_type: String,
    pub value: String,
}

impl ExportedMessage {
    /// The message as exported; `body` is the edited body when there is one.
    pub fn new(m: &Message, body: &str) -> Self {
        ExportedMessage {
            message_id: m.message_id.clone(),
            body: body.to_string(),
            attributes: m
                .attributes
                .iter()
                .map(|(k, a)| {
                    (
                        k.clone(),
                        ExportedAttribute {
                            data_type: a.data_type.clone(),
                            value: a.value.clone(),
                        },
                    )
                })
                .collect(),
            group_id: m.group_id.clone(),
            dedup_id: m.dedup_id.clone(),
            source_queue: m
                .dlq_source_arn
                .as_deref()
                .map(|a| crate::broker::name_from_arn(a).to_string()),
            receive_count: m.receive_count,
            sent_at: m.sent_at.map(|t| t.to_rfc3339()),
            trace_header: m.trace_header.clone(),
            masked_fields: Vec::new(),
        }
    }

    pub fn attributes(&self) -> BTreeMap<String, MessageAttribute> {
        self.attributes
            .iter()
            .map(|(k, a)| {
                (
                    k.clone(),
                    MessageAttribute {
                        data_type: a.data_type.clone(),
                        value: a.value.clone(),
                    },
                )
            })
            .collect()
    }
}

/// Renders messages as JSON Lines.
pub fn to_jsonl(messages: &[ExportedMessage]) -> String {
    let mut out = String::new();
    for m in messages {
        if let Ok(line) = serde_json::to_string(m) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// What an import did, line by line.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    pub sent: usize,
    /// (line number, why)
    pub failed: Vec<(usize, String)>,
    /// The exported `message_id`s every line of which was sent: the originals
    /// that may now be deleted from their DLQ.
    pub sent_ids: BTreeSet<String>,
}

/// Sends every line of a JSON Lines file to `to`, keeping attributes and group ids,
/// with fresh deduplication ids. A bad line is reported and the rest still go.
pub async fn import(
    broker: &dyn Broker,
    audit: &super::audit::Audit,
    path: &Path,
    to: &QueueRef,
) -> std::io::Result<ImportReport> {
    let text = std::fs::read_to_string(path)?;
    let mut report = ImportReport::default();
    let mut unsent: BTreeSet<String> = BTreeSet::new();
    let limit = super::destination_limit(broker, to).await;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let m: ExportedMessage = match serde_json::from_str(line) {
            Ok(m) => m,
            Err(e) => {
                report
                    .failed
                    .push((n, format!("not an exported message: {e}")));
                continue;
            }
        };
        let out = OutgoingMessage::carrying(
            to,
            m.body.clone(),
            m.attributes(),
            m.group_id.clone(),
            m.trace_header.clone(),
        );
        if !m.masked_fields.is_empty() {
            report.failed.push((
                n,
                format!(
                    "exported while {} {} masked: it holds masks, not data; export it again unmasked (u reveals, then x or X)",
                    m.masked_fields.join(", "),
                    if m.masked_fields.len() == 1 { "was" } else { "were" }
                ),
            ));
            unsent.insert(m.message_id.clone());
            continue;
        }
        if let Err(e) = validate_outgoing(&to.name, &out, limit) {
            report.failed.push((n, e.to_string()));
            unsent.insert(m.message_id.clone());
            continue;
        }
        if let Err(e) = audit.record("import", to, &m.message_id, None, None, "started") {
            report.failed.push((n, e.to_string()));
            unsent.insert(m.message_id.clone());
            continue;
        }
        match broker.send(to, out).await {
            Ok(id) => {
                let _ = audit.record("import", to, &m.message_id, None, Some(&id), "ok");
                report.sent += 1;
                report.sent_ids.insert(m.message_id.clone());
                continue;
            }
            Err(e) => {
                let _ = audit.record(
                    "import",
                    to,
                    &m.message_id,
                    None,
                    None,
                    format!("failed: {e}"),
                );
                report.failed.push((n, e.to_string()));
            }
        }
        unsent.insert(m.message_id);
    }
    report.sent_ids.retain(|id| !unsent.contains(id));
    Ok(report)
}
