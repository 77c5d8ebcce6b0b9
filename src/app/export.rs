//! Exporting messages to a JSON Lines file, from the browser and from triage.

use super::browser::{BrowserCmd, Held};
use super::popup::{Pending, Popup};
use super::{App, Cmd};
use crate::recovery::export::{ExportedMessage, to_jsonl};

impl App {
    /// Writes `picked` to a new JSON Lines file, masked as shown; an unmasked
    /// export asks first.
    pub(super) fn export_messages(&mut self, queue: &str, picked: &[&Held]) -> Vec<Cmd> {
        if picked.is_empty() {
            self.notify("nothing to export", true);
            return Vec::new();
        }
        let rules = self.redaction();
        let stamp = self.wall_now().format("%Y%m%d-%H%M%S").to_string();
        let exported: Vec<ExportedMessage> = picked
            .iter()
            .map(|h| {
                let mut e =
                    ExportedMessage::new(&h.message, &crate::redact::body(h.body(), &rules));
                for (name, a) in e.attributes.iter_mut() {
                    a.value = crate::redact::attribute_value(name, &a.value, &rules).into_owned();
                }
                // Marked, so import refuses masks as data.
                e.masked_fields = rules.clone();
                e
            })
            .collect();
        let path = format!(
            "lazysqs-export-{}-{stamp}.jsonl",
            queue.replace(['/', '.'], "_")
        );
        let (contents, count) = (to_jsonl(&exported), exported.len());
        if !rules.is_empty() {
            return vec![Cmd::Browser(BrowserCmd::Export {
                path,
                contents,
                count,
            })];
        }
        let lines = vec![
            format!(
                "This writes {count} message(s) with every field as it is (customer data) to {path}, readable by you alone."
            ),
            "y/Enter: export, n/Esc: cancel".into(),
        ];
        let export = Pending::Export {
            path,
            contents,
            count,
        };
        self.overlays.show_popup(Popup::Confirm {
            title: "Export unmasked?".into(),
            lines,
            on_yes: export,
        });
        Vec::new()
    }
}
