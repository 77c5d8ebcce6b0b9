//! `App::update`: state changes for every message, and the commands they ask for.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::overlay::Overlay;
use super::popup::{Pending, Popup};
use super::redrive::RedriveCmd;
use super::{App, Cmd, Discovery, HISTORY_LEN, Msg, Pane, RateSample};
use crate::breaker::{BreakerReading, BreakerState, Transition};
use crate::broker::{BrokerError, QueueAttrs, QueueRef};
use crate::config::BreakerSourceConfig;
use crate::health;
use crate::keymap::Action;
use crate::sim::DemoAction;

/// Rows a page key moves.
const PAGE: usize = 10;

/// How long quitting waits for running redrives to stop.
pub(crate) const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(8);

impl App {
    /// Applies one message. Does no I/O: whatever must happen outside is returned.
    pub fn update(&mut self, msg: Msg) -> Vec<Cmd> {
        match msg {
            Msg::Tick(now) => {
                self.now = now;
                let clock = self.clock();
                if clock != self.last_clock {
                    self.last_clock = clock;
                    self.dirty = true;
                }
                let mut cmds = self.due_polls();
                cmds.extend(self.browser_tick());
                cmds.extend(self.triage_tick());
                cmds.extend(self.quit_when_stopped());
                cmds
            }
            Msg::Key(key) => self.on_key(key),
            Msg::Resize(width, height) => {
                self.screen = ratatui::layout::Rect::new(0, 0, width, height);
                self.dirty = true;
                Vec::new()
            }
            Msg::Mouse(m) => self.on_mouse(m),
            Msg::Discovered(result) => {
                self.on_discovered(result);
                self.due_polls()
            }
            Msg::Attributes(queue, result) => {
                self.on_attributes(&queue, result);
                Vec::new()
            }
            Msg::DlqSources(queue, result) => {
                self.on_dlq_sources(&queue, result);
                Vec::new()
            }
            Msg::Metrics(queues, result) => {
                self.on_metrics(&queues, result);
                Vec::new()
            }
            Msg::Breaker(name, result) => self.on_breaker(&name, result),
            Msg::Redrive(msg) => {
                let mut cmds = self.on_redrive_msg(msg);
                cmds.extend(self.quit_when_stopped());
                cmds
            }
            Msg::Terminate => self.stop_and_quit(),
            Msg::DemoDone(text) => {
                self.tell(text.clone());
                self.notify(text, false);
                Vec::new()
            }
            Msg::Story(lines) => {
                self.story_schedule.succeed(self.now);
                self.story_seen += lines.len();
                for text in lines {
                    self.tell(text);
                }
                Vec::new()
            }
            Msg::Browser(msg) => self.on_browser_msg(msg),
            Msg::Triage(msg) => self.on_triage_msg(msg),
        }
    }

    /// Every fetch that is due now, marked in flight. Queues that matter now
    /// ([`App::hot_rows`]) go when due; the others take turns within the budget.
    fn due_polls(&mut self) -> Vec<Cmd> {
        let now = self.now;
        let mut cmds = Vec::new();
        self.budget.refill(now);
        if self.discovery.due(now) {
            self.discovery.start();
            self.sqs_requests += 1;
            self.budget.spend(now);
            cmds.push(Cmd::Discover(self.selection.clone()));
        }
        let hot = self.hot_rows();
        for (i, &is_hot) in hot.iter().enumerate() {
            if is_hot {
                self.poll_row(i, false, &mut cmds);
            }
        }
        let n = self.queues.len();
        let start = self.budget.cursor.min(n);
        for k in 0..n {
            let i = (start + k) % n;
            if !hot[i] && !self.poll_row(i, true, &mut cmds) {
                // Out of budget: this queue's turn comes first next time.
                self.budget.cursor = i;
                break;
            }
        }
        if !self.queues.is_empty() && self.metrics_schedule.due(now) {
            self.metrics_schedule.start();
            self.metrics_requested += 4 * self.queues.len() as u64;
            cmds.push(Cmd::FetchMetrics(
                self.queues.iter().map(|r| r.queue.clone()).collect(),
            ));
        }
        if self.demo && self.story_schedule.due(now) {
            self.story_schedule.start();
            cmds.push(Cmd::ReadStory(self.story_seen));
        }
        for b in &mut self.breakers {
            let read_outside = !matches!(b.config.source, BreakerSourceConfig::DlqRule { .. });
            if read_outside && b.schedule.due(now) {
                b.schedule.start();
                cmds.push(Cmd::ReadBreaker(b.config.clone()));
            }
        }
        cmds
    }

    fn on_discovered(&mut self, discovery: Discovery) {
        let now = self.now;
        for q in discovery.found {
            self.add_row(q);
        }
        if discovery.failed.is_empty() {
            self.discovery.succeed(now);
            self.discovery_error = None;
            if self.queues.is_empty() {
                self.notify("no queues match the selection", true);
            }
        } else {
            // The places that answered are shown; the listing is tried again soon.
            let wait = self.discovery.fail(now, self.jitter.sample());
            let why: Vec<String> = discovery
                .failed
                .iter()
                .map(|(place, e)| match place.as_str() {
                    "" => format!("listing queues: {e}"),
                    place => format!("listing queues in {place}: {e}"),
                })
                .collect();
            self.discovery_error =
                Some(format!("{} (retry in {}s)", why.join("; "), wait.as_secs()));
        }
        self.dirty = true;
    }

    /// The fetches row `i` is due for. `budgeted`: each waits for a token and the
    /// row gives up when none is left (`false`); otherwise they go and spend one.
    fn poll_row(&mut self, i: usize, budgeted: bool, cmds: &mut Vec<Cmd>) -> bool {
        let now = self.now;
        let others_every = Duration::from_secs_f64(self.refresh.others_secs);
        let App {
            queues,
            budget,
            sqs_requests,
            ..
        } = self;
        let row = &mut queues[i];
        let mut pay = || {
            if budgeted {
                budget.take(now)
            } else {
                budget.spend(now);
                true
            }
        };
        // A queue out of sight and unflagged rests `others_secs` between reads.
        let resting = budgeted
            && row
                .last_ok
                .is_some_and(|t| now.saturating_duration_since(t) < others_every);
        if row.schedule.due(now) && !resting {
            if !pay() {
                return false;
            }
            row.schedule.start();
            *sqs_requests += 1;
            cmds.push(Cmd::FetchAttributes(row.queue.clone()));
        }
        // Move tasks on this DLQ, started here or anywhere else.
        if !row.dlq_sources.is_empty()
            && row.tasks_schedule.due(now)
            && let Some(arn) = row.attrs.as_ref().map(|a| a.arn.clone())
        {
            if !pay() {
                return false;
            }
            row.tasks_schedule.start();
            *sqs_requests += 1;
            cmds.push(Cmd::Redrive(RedriveCmd::FetchMoveTasks {
                queue: row.queue.clone(),
                arn,
            }));
        }
        // The reverse DLQ link, for queues that have no redrive policy themselves.
        let maybe_dlq = row.attrs.as_ref().is_some_and(|a| a.redrive.is_none());
        if maybe_dlq && row.sources_schedule.due(now) {
            if !pay() {
                return false;
            }
            row.sources_schedule.start();
            *sqs_requests += 1;
            cmds.push(Cmd::FetchDlqSources(row.queue.clone()));
        }
        true
    }

    /// How old a queue off screen may get, within the budget (see
    /// [`super::budget::Budget::bound`]); `None` when the budget is too small for it.
    pub fn staleness_bound(&self) -> Option<Duration> {
        let hot = self.hot_rows().iter().filter(|&&h| h).count();
        let every = Duration::from_secs_f64(self.refresh.attributes_secs);
        let no_policy = self
            .queues
            .iter()
            .filter(|r| r.attrs.as_ref().is_some_and(|a| a.redrive.is_none()))
            .count();
        let dlqs = self
            .queues
            .iter()
            .filter(|r| !r.dlq_sources.is_empty())
            .count();
        let other = no_policy as f64 / self.refresh.discovery_secs
            + dlqs as f64 / self.refresh.breakers_secs;
        let cold = self.queues.len() - hot;
        let rest = Duration::from_secs_f64(self.refresh.others_secs);
        self.budget
            .bound(cold, hot, every, other)
            .map(|b| if cold > 0 { b.max(rest) } else { b })
    }

    /// The queue rows in display order, the first one the queue pane `area` shows
    /// (the selection stays on screen), and how many it shows.
    pub(crate) fn queue_window(&self, area: ratatui::layout::Rect) -> (Vec<usize>, usize, usize) {
        let rows = self.visible_rows();
        let selected = self.selected_index();
        let pos = rows.iter().position(|&i| Some(i) == selected).unwrap_or(0);
        let shown = area.height.saturating_sub(3) as usize;
        let first = crate::layout::scroll_offset(pos, shown);
        (rows, first, shown)
    }

    /// The queues polled every `attributes_secs` whatever the budget: those on
    /// screen, the selected one, flagged ones, and any not read yet.
    pub fn hot_rows(&self) -> Vec<bool> {
        let mut hot: Vec<bool> = self
            .queues
            .iter()
            .map(|r| r.attrs.is_none() || !r.derived.flags.is_empty())
            .collect();
        if let Some(i) = self.selected_index() {
            hot[i] = true;
        }
        let (rows, first, shown) = self.queue_window(self.areas(self.screen).queues);
        for &i in rows.iter().skip(first).take(shown) {
            hot[i] = true;
        }
        hot
    }

    fn on_attributes(&mut self, queue: &QueueRef, result: Result<QueueAttrs, BrokerError>) {
        let now = self.now;
        let at = self.elapsed();
        let jitter = self.jitter.sample();
        let Some(i) = self.row_index(queue) else {
            return;
        };
        let row = &mut self.queues[i];
        let mut inflow = None;
        match result {
            Ok(attrs) => {
                row.schedule.succeed(now);
                let depth = attrs.depth();
                if let Some(&(_, before)) = row.depth_history.back()
                    && depth > before
                {
                    inflow = Some(depth - before);
                }
                row.depth_history.push_back((at, depth));
                if row.depth_history.len() > HISTORY_LEN {
                    row.depth_history.pop_front();
                }
                if let Some(rate) = row.measured_inflow() {
                    row.inflow_history.push_back((at, rate));
                    if row.inflow_history.len() > HISTORY_LEN {
                        row.inflow_history.pop_front();
                    }
                }
                row.last_ok = Some(now);
                // The same figures again change nothing on screen.
                let changed = row.stale.is_some() || row.attrs.as_ref() != Some(&attrs);
                self.dirty |= changed;
                self.set_stale(i, None);
                self.set_attrs(i, attrs);
                self.note_left_after_redrive(i);
                self.last_refresh = Some(now);
                self.judge_dlq_rules();
                if let Some(added) = inflow
                    && self.queues[i].derived.is_dlq
                {
                    self.tell_dlq_inflow(&queue.name, added);
                }
            }
            Err(e) => {
                let wait = row.schedule.fail(now, jitter);
                let why = format!("{} (retry in {}s)", App::reason(&e), wait.as_secs());
                self.set_stale(i, Some(why));
                self.dirty = true;
            }
        }
    }

    fn on_dlq_sources(&mut self, queue: &QueueRef, result: Result<Vec<QueueRef>, BrokerError>) {
        let now = self.now;
        let jitter = self.jitter.sample();
        let Some(i) = self.row_index(queue) else {
            return;
        };
        let row = &mut self.queues[i];
        match result {
            Ok(sources) => {
                row.sources_schedule.succeed(now);
                let names: Vec<String> = sources.into_iter().map(|q| q.name).collect();
                if row.dlq_sources != names {
                    row.dlq_sources = names;
                    self.rederive(i);
                    self.dirty = true;
                }
            }
            Err(_) => {
                row.sources_schedule.fail(now, jitter);
            }
        }
    }

    fn on_metrics(
        &mut self,
        queues: &[QueueRef],
        result: Result<Vec<crate::broker::QueueMetrics>, BrokerError>,
    ) {
        let now = self.now;
        let at = self.elapsed();
        match result {
            Ok(metrics) => {
                self.metrics_schedule.succeed(now);
                self.metrics_error = None;
                for (q, m) in queues.iter().zip(metrics) {
                    let Some(i) = self.row_index(q) else {
                        continue;
                    };
                    let row = &mut self.queues[i];
                    match health::consumption_below_arrival(&m) {
                        Some(true) => row.below_streak += 1,
                        Some(false) => row.below_streak = 0,
                        None => {}
                    }
                    row.rate_history.push_back(RateSample {
                        at,
                        arrival: m.sent_per_min,
                        consumption: m.deleted_per_min,
                    });
                    if row.rate_history.len() > HISTORY_LEN {
                        row.rate_history.pop_front();
                    }
                    row.metrics = Some(m);
                    self.rederive(i);
                }
                self.reorder();
            }
            Err(e) => {
                let wait = self.metrics_schedule.fail(now, self.jitter.sample());
                self.metrics_error = Some(format!("metrics: {e} (retry in {}s)", wait.as_secs()));
            }
        }
        self.dirty = true;
    }

    fn on_breaker(&mut self, name: &str, result: Result<BreakerReading, BrokerError>) -> Vec<Cmd> {
        let now = self.now;
        let wall = self.wall_now();
        let jitter = self.jitter.sample();
        let Some(index) = self.breakers.iter().position(|b| b.config.name == name) else {
            return Vec::new();
        };
        let b = &mut self.breakers[index];
        let seen = b.transitions.len();
        let before = b.state;
        match result {
            Ok(reading) => {
                b.schedule.succeed(now);
                b.stale = None;
                b.detail = reading.detail;
                match reading.transitions {
                    Some(all) => {
                        b.transitions = all;
                        b.state = reading.state;
                        b.since = reading.since;
                    }
                    None => set_state(
                        b,
                        reading.state,
                        reading.since.unwrap_or(wall),
                        String::new(),
                    ),
                }
            }
            Err(e) => {
                let wait = b.schedule.fail(now, jitter);
                b.stale = Some(format!("{e} (retry in {}s)", wait.as_secs()));
            }
        }
        let new: Vec<Transition> = b.transitions.iter().skip(seen).cloned().collect();
        let after = b.state;
        if let Some(queue) = b.config.queue.clone() {
            self.rederive_named(&queue);
        }
        for t in new {
            self.tell(format!("{name}: circuit {} — {}", t.to.label(), t.reason));
        }
        self.dirty = true;
        if before != after {
            let mut cmds = self.maybe_auto_redrive(index, before);
            if after == BreakerState::Open
                && let Some(queue) = self.breakers[index].config.queue.clone()
            {
                cmds.extend(self.halt_canaries_into(&queue, name));
            }
            return cmds;
        }
        Vec::new()
    }

    /// Judges breakers that follow a rule on a DLQ's inflow, from depth history.
    fn judge_dlq_rules(&mut self) {
        let wall = self.wall_now();
        let now_s = self.elapsed();
        for i in 0..self.breakers.len() {
            let BreakerSourceConfig::DlqRule {
                dlq,
                max_messages,
                window_minutes,
            } = self.breakers[i].config.source.clone()
            else {
                continue;
            };
            let Some(row) = self.row_by_name(&dlq) else {
                continue;
            };
            let from = now_s - window_minutes as f64 * 60.0;
            let samples: Vec<u64> = row
                .depth_history
                .iter()
                .filter(|(t, _)| *t >= from)
                .map(|(_, d)| *d)
                .collect();
            let inflow: u64 = samples.windows(2).map(|w| w[1].saturating_sub(w[0])).sum();
            let state = if inflow > max_messages {
                BreakerState::Open
            } else {
                BreakerState::Closed
            };
            let b = &mut self.breakers[i];
            b.detail = format!("{dlq} received {inflow} in the last {window_minutes} min");
            let before = b.state;
            set_state(b, state, wall, b.detail.clone());
            if b.state != before
                && let Some(queue) = b.config.queue.clone()
            {
                self.rederive_named(&queue);
            }
        }
    }

    /// Keys while help is open: it scrolls, and q, Esc or ? close it.
    fn on_help_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        let most = self.keymap.help_lines_bound();
        let Some(scroll) = self.overlays.help_mut() else {
            return Vec::new();
        };
        match self.keymap.action(&key) {
            Some(Action::Down) => *scroll = (*scroll + 1).min(most),
            Some(Action::Up) => *scroll = scroll.saturating_sub(1),
            Some(Action::PageDown) => *scroll = (*scroll + PAGE).min(most),
            Some(Action::PageUp) => *scroll = scroll.saturating_sub(PAGE),
            Some(Action::Top) => *scroll = 0,
            Some(Action::Bottom) => *scroll = most,
            Some(Action::Quit) if key.code != KeyCode::Char('q') => return self.quit(),
            Some(Action::Help | Action::Back | Action::Quit) => self.overlays.close_help(),
            _ => {}
        }
        Vec::new()
    }

    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        self.dirty = true;
        // Ctrl-C quits from anywhere (editor, filters and dialogs included), giving
        // held messages back first.
        if key.code == KeyCode::Char('c')
            && key
                .modifiers
                .contains(crossterm::event::KeyModifiers::CONTROL)
        {
            return self.quit();
        }
        match self.overlays.top() {
            Some(Overlay::Help { .. }) => return self.on_help_key(key),
            Some(Overlay::Popup { .. }) => return self.on_popup_key(key),
            Some(Overlay::RedriveForm(_)) => return self.on_redrive_form_key(key),
            Some(Overlay::QueueFilter) => return self.on_filter_key(key),
            None => {}
        }
        if self.browser.is_some() {
            return self.on_browser_key(key);
        }
        if self.triage.is_some() {
            return self.on_triage_key(key);
        }
        let Some(action) = self.keymap.action(&key) else {
            return Vec::new();
        };
        match action {
            Action::Quit => return self.quit(),
            Action::Help => self.overlays.open_help(),
            Action::PageUp => self.move_selection(-(PAGE as i64)),
            Action::PageDown => self.move_selection(PAGE as i64),
            Action::Open => return self.open_browser(),
            Action::Triage => return self.open_triage(),
            Action::Present | Action::Reveal => self.toggle_view(action),
            Action::Redrive => return self.open_redrive(),
            Action::RedrivePause | Action::RedriveCancel if self.read_only => {
                self.notify("read-only: redrive controls are turned off", true);
            }
            Action::RedrivePause => return self.redrive_pause(),
            Action::RedriveCancel => return self.ask_cancel(),
            Action::Back => {
                self.filter.clear();
                self.reorder();
            }
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::Top => self.move_selection(i64::MIN / 2),
            Action::Bottom => self.move_selection(i64::MAX / 2),
            Action::NextPane => self.focus = self.focus.next(),
            Action::Filter => {
                self.overlays.push(Overlay::QueueFilter);
                self.focus = Pane::Queues;
            }
            Action::Sort => {
                self.sort = self.sort.next();
                self.reorder();
                self.notify(format!("sorted by {}", self.sort.label()), false);
            }
            Action::DemoFault | Action::DemoFaster | Action::DemoSlower | Action::DemoPause => {
                if !self.demo {
                    self.notify("demo keys work only in the demo", true);
                    return Vec::new();
                }
                let demo = match action {
                    Action::DemoFault => DemoAction::ToggleFault,
                    Action::DemoFaster => DemoAction::Faster,
                    Action::DemoSlower => DemoAction::Slower,
                    _ => DemoAction::TogglePause,
                };
                return vec![Cmd::Demo(demo)];
            }
            // Browser actions do nothing on the dashboard.
            _ => {}
        }
        Vec::new()
    }

    fn on_filter_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        match key.code {
            KeyCode::Enter => self.overlays.close_filter(),
            KeyCode::Esc => {
                self.overlays.close_filter();
                self.filter.clear();
                self.reorder();
            }
            KeyCode::Backspace => {
                self.filter.pop();
                self.reorder();
            }
            KeyCode::Char('c')
                if key
                    .modifiers
                    .contains(crossterm::event::KeyModifiers::CONTROL) =>
            {
                return self.quit();
            }
            KeyCode::Char(c) => {
                self.filter.push(c);
                self.reorder();
            }
            _ => {}
        }
        Vec::new()
    }

    /// The presentation and reveal toggles, on every screen.
    pub(super) fn toggle_view(&mut self, action: Action) {
        match action {
            Action::Present => {
                self.present = !self.present;
                let text = if self.present {
                    "presentation mode: P goes back"
                } else {
                    "presentation mode off"
                };
                self.notify(text, false);
            }
            Action::Reveal if self.read_only => {
                self.notify("read-only: redacted fields stay hidden", true);
            }
            Action::Reveal => {
                self.revealed = !self.revealed;
                let text = if self.revealed {
                    "redacted fields REVEALED: u hides them again"
                } else {
                    "redacted fields hidden"
                };
                self.notify(text, self.revealed);
            }
            _ => {}
        }
        let rules = self.redaction();
        if let Some(b) = self.browser.as_mut() {
            b.redaction = rules;
        }
    }

    /// `q`: quits, first giving back every message the browser holds. While a
    /// client-side redrive runs, asks first; asked again while stopping, quits
    /// at once.
    pub(super) fn quit(&mut self) -> Vec<Cmd> {
        if self.stopping.is_some() || !self.redriving() {
            return self.quit_now();
        }
        if matches!(
            self.overlays.popup(),
            Some(Popup::Confirm {
                on_yes: Pending::StopAndQuit,
                ..
            })
        ) {
            self.overlays.close_popup();
            return self.stop_and_quit();
        }
        self.overlays.show_popup(Popup::Confirm {
            title: "Quit?".into(),
            lines: vec![
                "A redrive is running — stop it and quit?".into(),
                "It finishes the batches in hand (send, then delete) and gives back every message it holds.".into(),
                "y/Enter: stop it and quit, n/Esc: keep it running".into(),
            ],
            on_yes: Pending::StopAndQuit,
        });
        Vec::new()
    }

    /// Whether one of our client-side redrives is running.
    fn redriving(&self) -> bool {
        self.redrives
            .iter()
            .any(|r| r.is_active() && r.plan.mode == crate::redrive::Mode::ClientSide)
    }

    /// Stops every client-side redrive, then quits when they have (see
    /// [`App::quit_when_stopped`]), or after [`STOP_GRACE`] at the latest.
    pub(super) fn stop_and_quit(&mut self) -> Vec<Cmd> {
        if !self.redriving() {
            return self.quit_now();
        }
        let cmds = self
            .redrives
            .iter()
            .filter(|r| r.is_active() && r.started_ok)
            .map(|r| {
                Cmd::Redrive(RedriveCmd::Steer {
                    id: r.id,
                    steer: super::redrive::Steer::Cancel,
                })
            })
            .collect();
        self.stopping = Some(self.now + STOP_GRACE);
        self.notify(
            "stopping the redrive: finishing the batches in hand and giving back what it holds, then quitting…",
            false,
        );
        cmds
    }

    /// Quits once stopping is over: no client-side redrive runs, or time is up.
    pub(super) fn quit_when_stopped(&mut self) -> Vec<Cmd> {
        match self.stopping {
            Some(deadline) if !self.redriving() || self.now >= deadline => self.quit_now(),
            _ => Vec::new(),
        }
    }

    fn quit_now(&mut self) -> Vec<Cmd> {
        self.quit = true;
        let mut cmds = self.close_browser();
        cmds.extend(self.close_triage());
        cmds.push(Cmd::Quit);
        cmds
    }

    fn move_selection(&mut self, delta: i64) {
        if self.focus == Pane::Breaker {
            let max = self
                .breakers
                .iter()
                .map(|b| b.transitions.len())
                .max()
                .unwrap_or(0);
            self.breaker_scroll = (self.breaker_scroll as i64 + delta)
                .clamp(0, max.saturating_sub(1) as i64) as usize;
            return;
        }
        let rows = self.visible_rows();
        if rows.is_empty() {
            return;
        }
        let current = self
            .selected_index()
            .and_then(|sel| rows.iter().position(|&i| i == sel))
            .unwrap_or(0) as i64;
        let next = (current.saturating_add(delta)).clamp(0, rows.len() as i64 - 1) as usize;
        self.selected = Some(self.queues[rows[next]].queue.url.clone());
    }
}

/// Records a state change, with a transition when the state differs.
fn set_state(
    b: &mut super::BreakerView,
    state: BreakerState,
    at: chrono::DateTime<chrono::Utc>,
    reason: String,
) {
    if b.state != state {
        if b.state != BreakerState::Unknown || !b.transitions.is_empty() || b.since.is_some() {
            b.transitions.push(Transition {
                at,
                from: b.state,
                to: state,
                reason: if reason.is_empty() {
                    b.detail.clone()
                } else {
                    reason
                },
            });
        }
        b.state = state;
        b.since = Some(at);
    }
}
