//! What the app is told at start.

use super::browser;
use crate::broker::QueueSelection;
use crate::config::{BreakerConfig, RedriveConfig, RefreshConfig, Thresholds};
use crate::keymap::Keymap;

/// What the app is told at start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the data comes from, for the status bar.
    pub source: String,
    pub demo: bool,
    pub selection: QueueSelection,
    pub refresh: RefreshConfig,
    pub thresholds: Thresholds,
    pub keymap: Keymap,
    pub breakers: Vec<BreakerConfig>,
    /// Refuse every key and command that changes a queue.
    pub read_only: bool,
    /// Most messages the browser holds.
    pub browse_cap: usize,
    /// Most messages a triage holds.
    pub triage_cap: usize,
    /// Where the audit log is written, for the help popup.
    pub audit_path: Option<String>,
    /// Fields to mask (names or dotted JSON paths).
    pub redact: Vec<String>,
    /// Start in presentation mode.
    pub present: bool,
    pub redrive: RedriveConfig,
    /// How many of the data's seconds pass per second here: the demo's speed
    /// (rates measured from polls are per minute of the data's own clock).
    pub time_scale: f64,
}

impl Default for Settings {
    /// Watching everything of an unnamed source with the default config: what a
    /// test starts from and changes.
    fn default() -> Self {
        Settings {
            source: String::new(),
            demo: false,
            selection: QueueSelection::default(),
            refresh: RefreshConfig::default(),
            thresholds: Thresholds::default(),
            keymap: Keymap::default(),
            breakers: Vec::new(),
            read_only: false,
            browse_cap: browser::DEFAULT_CAP,
            triage_cap: crate::config::DEFAULT_TRIAGE_CAP,
            audit_path: None,
            redact: Vec::new(),
            present: false,
            redrive: RedriveConfig::default(),
            time_scale: 1.0,
        }
    }
}
