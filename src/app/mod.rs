//! The application state, the messages that change it and the commands it asks for.
//!
//! One loop owns an [`App`]. Everything that happens arrives as a [`Msg`];
//! [`App::update`] changes the state and returns [`Cmd`]s, doing no I/O itself.

pub mod browser;
mod budget;
pub mod editor;
mod export;
pub mod mouse;
pub mod overlay;
pub mod popup;
pub mod redrive;
mod requeue;
mod rows;
mod settings;
pub mod triage;
mod update;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use crate::breaker::{BreakerReading, BreakerState, Transition};
use crate::broker::{
    BrokerError, BrokerResult, QueueAttrs, QueueMetrics, QueueRef, QueueSelection,
};
use crate::config::{BreakerConfig, RefreshConfig, Thresholds};
use crate::keymap::Keymap;
use crate::poll::{Jitter, Schedule};
use crate::sim::DemoAction;
use browser::{Browser, BrowserCmd, BrowserMsg};
use overlay::Overlays;
use redrive::{RedriveCmd, RedriveMsg, RedriveRun};

pub use crate::broker::Discovery;
pub use crate::config::RedriveConfig;
pub use rows::{Derived, QueueRow, Spread};
pub use settings::Settings;

/// How many samples of history a queue keeps for its charts.
pub(crate) const HISTORY_LEN: usize = 240;

/// Something that happened.
#[derive(Debug, Clone)]
pub enum Msg {
    Tick(Instant),
    Key(KeyEvent),
    Mouse(crossterm::event::MouseEvent),
    /// The terminal's new size (columns, rows).
    Resize(u16, u16),
    Discovered(Discovery),
    Attributes(QueueRef, BrokerResult<QueueAttrs>),
    DlqSources(QueueRef, BrokerResult<Vec<QueueRef>>),
    Metrics(Vec<QueueRef>, BrokerResult<Vec<QueueMetrics>>),
    Breaker(String, BrokerResult<BreakerReading>),
    DemoDone(String),
    Browser(BrowserMsg),
    /// New lines of the simulation's story (scripted events), from `ReadStory`.
    Story(Vec<String>),
    Redrive(RedriveMsg),
    Triage(triage::TriageMsg),
    /// SIGTERM, SIGINT or SIGHUP: stop what runs, give back what is held, quit.
    Terminate,
}

/// Work for the runtime to do; its result comes back as a [`Msg`].
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Discover(QueueSelection),
    FetchAttributes(QueueRef),
    FetchDlqSources(QueueRef),
    FetchMetrics(Vec<QueueRef>),
    ReadBreaker(BreakerConfig),
    Demo(DemoAction),
    Browser(BrowserCmd),
    /// The simulation's story lines from this index on.
    ReadStory(usize),
    Redrive(RedriveCmd),
    Triage(triage::TriageCmd),
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Queues,
    Rates,
    Breaker,
}

impl Pane {
    fn next(self) -> Pane {
        match self {
            Pane::Queues => Pane::Rates,
            Pane::Rates => Pane::Breaker,
            Pane::Breaker => Pane::Queues,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Depth,
    Age,
    Name,
}

impl SortKey {
    fn next(self) -> SortKey {
        match self {
            SortKey::Depth => SortKey::Age,
            SortKey::Age => SortKey::Name,
            SortKey::Name => SortKey::Depth,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Depth => "depth",
            SortKey::Age => "age",
            SortKey::Name => "name",
        }
    }
}

/// The window over which arrivals are measured from depth.
pub(crate) const INFLOW_WINDOW_SECS: f64 = 60.0;

/// Where a rate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateSource {
    /// CloudWatch's latest datapoint (NumberOfMessagesSent / Deleted).
    CloudWatch,
    /// Measured from the depth between attribute polls.
    Depth,
}

/// A rate per minute and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_min: Option<f64>,
    pub source: RateSource,
}

/// One sample of a queue's rates, per minute; `None` when there was no data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSample {
    pub at: f64,
    pub arrival: Option<f64>,
    pub consumption: Option<f64>,
}

/// A circuit breaker and its history.
#[derive(Debug, Clone)]
pub struct BreakerView {
    pub config: BreakerConfig,
    pub state: BreakerState,
    pub since: Option<DateTime<Utc>>,
    pub detail: String,
    pub transitions: Vec<Transition>,
    pub stale: Option<String>,
    pub schedule: Schedule,
}

/// One line of the event ticker.
#[derive(Debug, Clone, PartialEq)]
pub struct TickerEvent {
    pub at: DateTime<Utc>,
    pub text: String,
    /// For DLQ inflow lines, which are merged while they keep coming.
    pub dlq: Option<(String, u64)>,
}

/// Most lines the ticker keeps.
pub(crate) const TICKER_LEN: usize = 50;

/// A short message in the status bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
    pub at: Instant,
}

/// Everything the dashboard knows and shows.
#[derive(Debug)]
pub struct App {
    /// Where the data comes from ("demo: coffee-shop", "us-east-1 (prod)").
    pub source: String,
    pub demo: bool,
    pub selection: QueueSelection,
    pub refresh: RefreshConfig,
    pub thresholds: Thresholds,
    pub keymap: Keymap,
    pub queues: Vec<QueueRow>,
    /// Finds rows by URL, name and ARN, and keeps the shown order.
    index: rows::RowIndex,
    pub breakers: Vec<BreakerView>,
    pub focus: Pane,
    pub sort: SortKey,
    pub filter: String,
    /// Help, dialogs, the redrive form and the filter being typed, over the view.
    pub overlays: Overlays,
    /// The selected queue, by URL, so sorting does not move the selection.
    pub selected: Option<String>,
    pub breaker_scroll: usize,
    pub notice: Option<Notice>,
    /// The message browser, when open.
    pub browser: Option<Browser>,
    /// The triage view, when open (under the browser when a group is opened).
    pub triage: Option<triage::Triage>,
    pub next_triage_id: u64,
    /// Most messages a triage holds.
    pub triage_cap: usize,
    pub read_only: bool,
    pub browse_cap: usize,
    pub audit_path: Option<String>,
    /// Configured redaction rules; see [`App::redaction`].
    pub redact: Vec<String>,
    /// Redacted fields shown anyway (the reveal key).
    pub revealed: bool,
    /// The big, simple layout for a shared screen.
    pub present: bool,
    /// The story so far, newest last, for the event ticker.
    pub events: VecDeque<TickerEvent>,
    /// How many lines of the simulation's own story were already taken.
    pub story_seen: usize,
    pub story_schedule: Schedule,
    /// Redrives started here, oldest first.
    pub redrives: Vec<RedriveRun>,
    pub next_redrive_id: u64,
    pub redrive_settings: RedriveConfig,
    /// The data's seconds per second here (the demo's speed).
    pub time_scale: f64,
    pub discovery: Schedule,
    pub discovery_error: Option<String>,
    pub metrics_schedule: Schedule,
    pub metrics_error: Option<String>,
    pub last_refresh: Option<Instant>,
    pub started: Instant,
    pub started_wall: DateTime<Utc>,
    pub now: Instant,
    /// SQS requests and CloudWatch metrics requested so far, for the cost estimate.
    pub sqs_requests: u64,
    pub metrics_requested: u64,
    /// How many SQS requests the dashboard may make, and how many it did.
    pub budget: budget::Budget,
    /// The terminal's size, for mapping mouse clicks to panes and rows.
    pub screen: ratatui::layout::Rect,
    /// The last click, to tell a double-click.
    pub last_click: Option<mouse::Click>,
    /// Set when the screen needs drawing.
    pub dirty: bool,
    pub quit: bool,
    /// Quitting once the running client-side redrives have stopped (they finish
    /// the batches in hand and give back what they hold), or at this deadline.
    pub stopping: Option<Instant>,
    jitter: Jitter,
    /// What the clock showed at the last frame (see [`App::clock`]).
    last_clock: Clock,
}

/// How long a notice stays in the status bar.
const NOTICE_FOR: std::time::Duration = std::time::Duration::from_secs(8);

/// What the passing of time changes on screen: the frame is drawn again when it
/// changes, and not for the clock otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Clock {
    /// The second, while something on screen counts seconds.
    second: Option<u64>,
    /// The coarse refresh age, as the status bar says it.
    age: Option<String>,
    notice: bool,
    /// CloudWatch minutes are said in minutes ago.
    minute: u64,
}

impl App {
    /// The app as it starts at `now`, which is `wall` on the clock.
    pub fn new(settings: Settings, now: Instant, wall: DateTime<Utc>) -> Self {
        let Settings {
            source,
            demo,
            selection,
            refresh,
            thresholds,
            keymap,
            breakers,
            read_only,
            browse_cap,
            triage_cap,
            audit_path,
            redact,
            present,
            redrive: redrive_settings,
            time_scale,
        } = settings;
        let story_schedule = Schedule::new(Duration::from_secs_f64(refresh.breakers_secs));
        let refresh_budget = refresh.max_requests_per_second;
        let breakers = breakers
            .into_iter()
            .map(|config| BreakerView {
                config,
                state: BreakerState::Unknown,
                since: None,
                detail: "waiting for the first reading".into(),
                transitions: Vec::new(),
                stale: None,
                schedule: Schedule::new(Duration::from_secs_f64(refresh.breakers_secs)),
            })
            .collect();
        App {
            source,
            demo,
            selection,
            discovery: Schedule::new(Duration::from_secs_f64(refresh.discovery_secs)),
            metrics_schedule: Schedule::new(Duration::from_secs_f64(refresh.metrics_secs)),
            refresh,
            thresholds,
            keymap,
            queues: Vec::new(),
            index: rows::RowIndex::default(),
            breakers,
            focus: Pane::Queues,
            sort: SortKey::Depth,
            filter: String::new(),
            overlays: Overlays::default(),
            selected: None,
            breaker_scroll: 0,
            notice: None,
            browser: None,
            triage: None,
            next_triage_id: 0,
            triage_cap,
            read_only,
            browse_cap,
            audit_path,
            redact,
            revealed: false,
            present,
            events: VecDeque::new(),
            story_seen: 0,
            story_schedule,
            redrives: Vec::new(),
            next_redrive_id: 0,
            redrive_settings,
            time_scale: if time_scale.is_finite() && time_scale > 0.0 {
                time_scale
            } else {
                1.0
            },
            discovery_error: None,
            metrics_error: None,
            last_refresh: None,
            started: now,
            started_wall: wall,
            now,
            sqs_requests: 0,
            metrics_requested: 0,
            budget: budget::Budget::new(refresh_budget),
            screen: ratatui::layout::Rect::default(),
            last_click: None,
            dirty: true,
            quit: false,
            stopping: None,
            jitter: Jitter::new(0x5eed),
            last_clock: Clock::default(),
        }
    }

    /// Where the dashboard's panes are on a screen of `area`.
    pub fn areas(&self, area: ratatui::layout::Rect) -> crate::layout::Areas {
        crate::layout::dashboard(
            area,
            self.queues.len(),
            self.browser.is_some() || self.triage.is_some(),
            self.shows_progress(),
        )
    }

    /// Whether the redrive progress pane has something to show.
    pub(crate) fn shows_progress(&self) -> bool {
        self.current_redrive().is_some() || self.move_tasks_shown() > 0
    }

    /// Seconds since the app started, the x axis of the charts.
    pub fn elapsed(&self) -> f64 {
        self.now.duration_since(self.started).as_secs_f64()
    }

    pub(crate) fn wall_now(&self) -> DateTime<Utc> {
        self.started_wall
            + chrono::Duration::from_std(self.now.duration_since(self.started)).unwrap_or_default()
    }

    /// Estimated cost per hour of the dashboard's own polling, in US dollars:
    /// SQS requests at $0.40 per million, GetMetricData at $0.01 per 1,000 metrics.
    pub(crate) fn cost_per_hour(&self) -> f64 {
        let n = self.queues.len() as f64;
        let wanted = n / self.refresh.attributes_secs
            + n / self.refresh.discovery_secs
            + 1.0 / self.refresh.discovery_secs;
        let sqs_per_hour = wanted.min(self.budget.per_sec()) * 3600.0;
        let metrics_per_hour = n * 4.0 * 3600.0 / self.refresh.metrics_secs;
        sqs_per_hour * 0.40 / 1e6 + metrics_per_hour * 0.01 / 1000.0
    }

    /// The redaction rules in force: none when revealed; the configured ones; or,
    /// in presentation mode with none configured, a default set.
    pub fn redaction(&self) -> Vec<String> {
        if self.revealed {
            Vec::new()
        } else if !self.redact.is_empty() {
            self.redact.clone()
        } else if self.present {
            crate::redact::PRESENTATION_DEFAULTS
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            Vec::new()
        }
    }

    /// Adds a line to the event ticker.
    pub fn tell(&mut self, text: impl Into<String>) {
        let at = self.wall_now();
        self.push_event(TickerEvent {
            at,
            text: text.into(),
            dlq: None,
        });
    }

    pub(crate) fn push_event(&mut self, e: TickerEvent) {
        self.events.push_back(e);
        while self.events.len() > TICKER_LEN {
            self.events.pop_front();
        }
        self.dirty = true;
    }

    /// A DLQ received `added` messages: merged into the last line for the same DLQ
    /// when that line is recent, so a filling DLQ reads as one growing line.
    pub(crate) fn tell_dlq_inflow(&mut self, dlq: &str, added: u64) {
        let at = self.wall_now();
        if let Some(last) = self.events.back_mut()
            && let Some((name, total)) = &mut last.dlq
            && name == dlq
            && (at - last.at).num_seconds() < 30
        {
            *total += added;
            last.text = format!("{dlq} +{total}");
            self.dirty = true;
            return;
        }
        self.push_event(TickerEvent {
            at,
            text: format!("{dlq} +{added}"),
            dlq: Some((dlq.to_string(), added)),
        });
    }

    /// How long ago data last came in, coarsely ("just now", "20s ago").
    pub fn refresh_age(&self) -> Option<String> {
        self.last_refresh
            .map(|t| crate::format::coarse_age(self.now.saturating_duration_since(t)))
    }

    /// The notice the status bar shows now, if any.
    pub fn notice_shown(&self) -> Option<&Notice> {
        self.notice
            .as_ref()
            .filter(|n| self.now.saturating_duration_since(n.at) < NOTICE_FOR)
    }

    /// What the clock shows now. Seconds count while a view shows them: the
    /// demo, breakers ("open for 12s"), the browser and triage (ages and holds),
    /// a redrive or move task (its ETA), and any dialog.
    pub(crate) fn clock(&self) -> Clock {
        let elapsed = self.now.saturating_duration_since(self.started).as_secs();
        let counting = self.demo
            || !self.breakers.is_empty()
            || self.browser.is_some()
            || self.triage.is_some()
            || self.redrives.iter().any(|r| r.is_active())
            || self.move_tasks_shown() > 0
            || !self.overlays.is_empty();
        Clock {
            second: counting.then_some(elapsed),
            age: self.refresh_age(),
            notice: self.notice_shown().is_some(),
            minute: elapsed / 60,
        }
    }

    fn notify(&mut self, text: impl Into<String>, error: bool) {
        self.notice = Some(Notice {
            text: text.into(),
            error,
            at: self.now,
        });
        self.dirty = true;
    }

    /// A short description of an error, for stale markers.
    fn reason(e: &BrokerError) -> String {
        e.to_string()
    }
}
