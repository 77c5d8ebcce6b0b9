//! Asking before a message goes home: where a requeue sends it (its source queue,
//! the DLQ's only source, or one the user picks) and the confirmation that names
//! both queues and whether the body was edited.

use super::popup::{Pending, Popup};
use super::{App, Cmd};
use crate::breaker::BreakerState;
use crate::broker::QueueRef;

impl App {
    /// `r`: confirm the destination, or ask for one.
    pub(super) fn ask_requeue(&mut self) -> Vec<Cmd> {
        let Some(b) = self.browser.as_ref() else {
            return Vec::new();
        };
        let h = match b.selected_held() {
            Some(Ok(h)) => h,
            Some(Err(why)) => return self.refuse(why),
            None => return Vec::new(),
        };
        let id = h.message.message_id.clone();
        let to = h.destination(&b.sources);
        match to {
            Some(to) => {
                self.overlays.show_popup(self.requeue_confirmation(id, to));
            }
            None => {
                // A requeue goes within the DLQ's own region and account.
                let queues: Vec<String> = self
                    .queues
                    .iter()
                    .filter(|r| r.queue.url != b.queue.url && b.queue.place.holds(&r.queue.place))
                    .map(|r| r.queue.name.clone())
                    .collect();
                if queues.is_empty() {
                    self.notify("no other queue to requeue to", true);
                } else {
                    self.overlays.show_popup(Popup::PickQueue {
                        message_id: id,
                        queues,
                        selected: 0,
                    });
                }
            }
        }
        Vec::new()
    }

    pub(super) fn requeue_confirmation(&self, message_id: String, to: String) -> Popup {
        let (from, edited) = self
            .browser
            .as_ref()
            .map(|b| {
                let edited = b
                    .messages
                    .iter()
                    .find(|h| h.message.message_id == message_id)
                    .is_some_and(|h| h.edited.is_some());
                (b.queue.clone(), edited)
            })
            .unzip();
        let edited = edited.unwrap_or_default();
        // The source queue lives where its DLQ does.
        let (from, dest) = match from {
            Some(q) => (
                self.queue_label(&q),
                self.queue_label(&QueueRef {
                    name: to.clone(),
                    ..q
                }),
            ),
            None => (String::new(), to.clone()),
        };
        let open = self.open_breakers_guarding(&to);
        let mut lines = vec![
            format!("Send {message_id} to {dest}, then delete it from {from}."),
            if edited {
                "It goes with your EDITED body and every message attribute.".into()
            } else {
                "It goes unchanged, with every message attribute.".into()
            },
        ];
        let title = if open.is_empty() {
            lines.push("y/Enter: requeue, n/Esc: cancel".into());
            "Requeue this message?".to_string()
        } else {
            lines.push(format!(
                "✖ {}: it would likely fail again and come back to {from}.",
                open.join("; ")
            ));
            lines.push("y: requeue it anyway (not Enter), n/Esc: cancel".into());
            "Breaker OPEN: requeue anyway?".to_string()
        };
        Popup::Confirm {
            title,
            lines,
            on_yes: Pending::Requeue {
                message_id,
                to,
                past_open_breaker: !open.is_empty(),
            },
        }
    }

    /// "the breaker B guarding Q is OPEN (detail)" for each OPEN breaker that
    /// guards the queue named `queue`, as the redrive's gate says it.
    fn open_breakers_guarding(&self, queue: &str) -> Vec<String> {
        self.breakers
            .iter()
            .filter(|b| b.state == BreakerState::Open && b.config.queue.as_deref() == Some(queue))
            .map(|b| {
                let detail = if b.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", b.detail)
                };
                format!(
                    "the breaker {} guarding {queue} is OPEN{detail}",
                    b.config.name
                )
            })
            .collect()
    }
}
