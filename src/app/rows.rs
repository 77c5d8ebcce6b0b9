//! The watched queues: each row's data, what is worked out from it, and the
//! indexes that find a row, its DLQ and the rows shown without a scan.
//!
//! Whatever changes a row's data calls [`App::rederive`] for the rows it
//! touches, so drawing only reads; the sorted order is worked out again by
//! [`App::settle`], once before a frame, not per answer.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::{App, BreakerView, INFLOW_WINDOW_SECS, Rate, RateSample, RateSource, SortKey};
use crate::broker::{QueueAttrs, QueueMetrics, QueueRef};
use crate::config::RefreshConfig;
use crate::health::{self, Drain, Flag, Outlook, QueueFacts, Trend};
use crate::poll::Schedule;

/// What the table shows of a row beyond its data, kept up to date by
/// [`App::rederive`].
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// Another watched queue sends its failures here, or SQS says one does.
    pub is_dlq: bool,
    /// See [`App::arrival`].
    pub arrival: Rate,
    pub drain: Option<Drain>,
    /// The arrow next to the sparkline: the same rule as `drain` and the growing flag.
    pub trend: Trend,
    pub flags: Vec<Flag>,
}

impl Default for Derived {
    fn default() -> Self {
        Derived {
            is_dlq: false,
            arrival: Rate {
                per_min: None,
                source: RateSource::CloudWatch,
            },
            drain: None,
            trend: Trend::Flat,
            flags: Vec::new(),
        }
    }
}

/// Where each row is, by URL, name and ARN, and which ARNs are DLQs.
#[derive(Debug, Clone, Default)]
pub struct RowIndex {
    by_url: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
    by_arn: HashMap<String, usize>,
    /// For each DLQ ARN, how many watched queues' redrive policies name it.
    pointed_at: HashMap<String, usize>,
    /// Rows whose data is stale, and rows with a move task running.
    stale: usize,
    moving: usize,
    /// How many rows live in each region and each account.
    regions: HashMap<String, usize>,
    accounts: HashMap<String, usize>,
    /// The rows shown, filtered and sorted, when `fresh`.
    order: Vec<usize>,
    fresh: bool,
}

/// How many regions and accounts the watched queues live in (unknown ones not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    pub regions: usize,
    pub accounts: usize,
}

/// A watched queue and everything known about it.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub queue: QueueRef,
    pub attrs: Option<QueueAttrs>,
    pub metrics: Option<QueueMetrics>,
    /// Queues whose redrive policy points here (ListDeadLetterSourceQueues).
    pub dlq_sources: Vec<String>,
    /// (seconds since start, visible + in flight + delayed)
    pub depth_history: VecDeque<(f64, u64)>,
    pub rate_history: VecDeque<RateSample>,
    /// (seconds since start, arrivals per minute measured from depth increases
    /// over the last minute), one per attribute poll.
    pub inflow_history: VecDeque<(f64, f64)>,
    /// Consecutive samples with consumption below arrival.
    pub below_streak: usize,
    pub schedule: Schedule,
    pub sources_schedule: Schedule,
    /// A move task running on this queue (started here or anywhere else).
    pub move_task: Option<crate::broker::MoveTask>,
    pub tasks_schedule: Schedule,
    /// Why the data is stale, if it is.
    pub stale: Option<String>,
    pub last_ok: Option<Instant>,
    /// What is worked out from the data, when it changes.
    pub derived: Derived,
}

impl QueueRow {
    pub(super) fn new(queue: QueueRef, refresh: &RefreshConfig) -> Self {
        QueueRow {
            queue,
            attrs: None,
            metrics: None,
            dlq_sources: Vec::new(),
            depth_history: VecDeque::new(),
            rate_history: VecDeque::new(),
            inflow_history: VecDeque::new(),
            below_streak: 0,
            schedule: Schedule::new(Duration::from_secs_f64(refresh.attributes_secs)),
            sources_schedule: Schedule::new(Duration::from_secs_f64(refresh.discovery_secs)),
            move_task: None,
            tasks_schedule: Schedule::new(Duration::from_secs_f64(refresh.breakers_secs)),
            stale: None,
            last_ok: None,
            derived: Derived::default(),
        }
    }

    pub fn depth(&self) -> Option<u64> {
        self.attrs.as_ref().map(QueueAttrs::depth)
    }

    /// The DLQ this queue sends failures to, by name.
    pub fn dlq_name(&self) -> Option<&str> {
        self.attrs
            .as_ref()
            .and_then(|a| a.redrive.as_ref())
            .map(|r| crate::broker::name_from_arn(&r.dlq_arn))
    }

    /// Arrivals per minute measured from the depth over the last minute: the sum
    /// of its increases between attribute polls. For a queue nothing consumes (a
    /// DLQ) that is its arrival rate, which CloudWatch's NumberOfMessagesSent
    /// does not see for redrive-policy moves. `None` until two polls a few
    /// seconds apart.
    pub(crate) fn measured_inflow(&self) -> Option<f64> {
        let &(last, _) = self.depth_history.back()?;
        let window: Vec<&(f64, u64)> = self
            .depth_history
            .iter()
            .filter(|(t, _)| *t >= last - INFLOW_WINDOW_SECS)
            .collect();
        let first = window.first()?.0;
        let span = last - first;
        if window.len() < 2 || span < 1.0 {
            return None;
        }
        let added: u64 = window
            .windows(2)
            .map(|w| w[1].1.saturating_sub(w[0].1))
            .sum();
        Some(added as f64 / span * 60.0)
    }

    /// The change in depth per minute over the last minute of attribute polls:
    /// the figure that moves between CloudWatch's minutes.
    pub(crate) fn measured_net(&self) -> Option<f64> {
        let &(last, now) = self.depth_history.back()?;
        let &(first, then) = self
            .depth_history
            .iter()
            .find(|(t, _)| *t >= last - INFLOW_WINDOW_SECS)?;
        let span = last - first;
        (span >= 1.0).then(|| (now as f64 - then as f64) / span * 60.0)
    }

    /// The depth over the last `span` seconds of the charts' clock, in `n`
    /// equal buckets (the largest depth in each; `None` where no poll landed).
    pub(crate) fn depth_buckets(&self, span: f64, n: usize) -> Vec<Option<u64>> {
        let mut buckets = vec![None; n];
        let Some(&(last, _)) = self.depth_history.back() else {
            return buckets;
        };
        let from = last - span;
        for &(t, d) in self.depth_history.iter().rev() {
            if t < from {
                break;
            }
            let i = (((t - from) / span * n as f64) as usize).min(n - 1);
            buckets[i] = Some(buckets[i].map_or(d, |b: u64| b.max(d)));
        }
        buckets
    }
}

impl App {
    /// Adds a discovered queue (once), with what is worked out from no data.
    pub(super) fn add_row(&mut self, queue: QueueRef) {
        if self.index.by_url.contains_key(&queue.url) {
            return;
        }
        let i = self.queues.len();
        self.index.by_url.insert(queue.url.clone(), i);
        self.index.by_name.entry(queue.name.clone()).or_insert(i);
        for (counts, part) in [
            (&mut self.index.regions, &queue.place.region),
            (&mut self.index.accounts, &queue.place.account),
        ] {
            if !part.is_empty() {
                *counts.entry(part.clone()).or_default() += 1;
            }
        }
        self.queues.push(QueueRow::new(queue, &self.refresh));
        self.index.fresh = false;
        self.rederive(i);
    }

    pub(super) fn row_index(&self, queue: &QueueRef) -> Option<usize> {
        self.index.by_url.get(&queue.url).copied()
    }

    pub(super) fn index_of_name(&self, name: &str) -> Option<usize> {
        self.index.by_name.get(name).copied()
    }

    /// Marks row `i` stale (with why) or fresh, keeping count.
    pub(super) fn set_stale(&mut self, i: usize, why: Option<String>) {
        let row = &mut self.queues[i];
        match (row.stale.is_some(), why.is_some()) {
            (false, true) => self.index.stale += 1,
            (true, false) => self.index.stale -= 1,
            _ => {}
        }
        row.stale = why;
    }

    /// How many regions and accounts the watched queues live in.
    pub fn spread(&self) -> Spread {
        Spread {
            regions: self.index.regions.len(),
            accounts: self.index.accounts.len(),
        }
    }

    /// A queue's name, with its region (and account) when the watched queues
    /// live in several: "orders (eu-west-1)".
    pub fn queue_label(&self, q: &QueueRef) -> String {
        let spread = self.spread();
        let mut place = Vec::new();
        if spread.regions > 1 && !q.place.region.is_empty() {
            place.push(q.place.region.as_str());
        }
        if spread.accounts > 1 && !q.place.account.is_empty() {
            place.push(q.place.account.as_str());
        }
        crate::format::placed(&q.name, &place)
    }

    /// How many rows are stale.
    pub fn stale_rows(&self) -> usize {
        self.index.stale
    }

    /// Sets the move task running on row `i`'s queue, keeping count.
    pub(super) fn set_move_task(&mut self, i: usize, task: Option<crate::broker::MoveTask>) {
        let row = &mut self.queues[i];
        match (row.move_task.is_some(), task.is_some()) {
            (false, true) => self.index.moving += 1,
            (true, false) => self.index.moving -= 1,
            _ => {}
        }
        row.move_task = task;
    }

    /// How many rows have a move task running.
    pub fn move_tasks_shown(&self) -> usize {
        self.index.moving
    }

    /// New attributes for row `i`: keeps the ARN and DLQ indexes, and works out
    /// again the rows whose DLQ-ness that changes.
    pub(super) fn set_attrs(&mut self, i: usize, attrs: QueueAttrs) {
        let target = |a: Option<&QueueAttrs>| {
            a.and_then(|a| a.redrive.as_ref())
                .map(|r| r.dlq_arn.clone())
        };
        let before = target(self.queues[i].attrs.as_ref());
        let after = target(Some(&attrs));
        let arn = attrs.arn.clone();
        if self.queues[i].attrs.as_ref().map(|a| &a.arn) != Some(&arn) {
            self.index.by_arn.insert(arn, i);
        }
        self.queues[i].attrs = Some(attrs);
        self.index.fresh = false;
        if before != after {
            if let Some(old) = &before
                && let Some(n) = self.index.pointed_at.get_mut(old)
            {
                *n -= 1;
                if *n == 0 {
                    self.index.pointed_at.remove(old);
                }
            }
            if let Some(new) = &after {
                *self.index.pointed_at.entry(new.clone()).or_default() += 1;
            }
            for dlq in [before, after].into_iter().flatten() {
                if let Some(&j) = self.index.by_arn.get(&dlq) {
                    self.rederive(j);
                }
            }
        }
        self.rederive(i);
    }

    /// Works out row `i`'s [`Derived`] again from its data.
    pub(super) fn rederive(&mut self, i: usize) {
        let row = &self.queues[i];
        let is_dlq = !row.dlq_sources.is_empty()
            || row
                .attrs
                .as_ref()
                .is_some_and(|a| self.index.pointed_at.contains_key(&a.arn));
        let arrival = self.arrival_of(row, is_dlq);
        let outlook = self.outlook_of(row, arrival);
        let facts = QueueFacts {
            attrs: row.attrs.as_ref(),
            metrics: row.metrics.as_ref(),
            is_dlq,
            below_streak: row.below_streak,
            breaker: self.breaker_for(&row.queue.name).map(|b| b.state),
        };
        let flags = health::flags_with(&facts, &outlook, &self.thresholds);
        self.queues[i].derived = Derived {
            is_dlq,
            arrival,
            drain: outlook.drain,
            trend: outlook.trend,
            flags,
        };
    }

    /// Works out again the row a breaker guards, after its state changed.
    pub(super) fn rederive_named(&mut self, name: &str) {
        if let Some(&i) = self.index.by_name.get(name) {
            self.rederive(i);
        }
    }

    /// The shown rows' order changes: with the filter, the sort, or the data.
    pub(super) fn reorder(&mut self) {
        self.index.fresh = false;
    }

    /// Before a frame: sorts the rows shown again if anything changed since.
    pub fn settle(&mut self) {
        if !self.index.fresh {
            self.index.order = self.sorted_rows();
            self.index.fresh = true;
        }
    }

    /// Indices into `queues` of the rows shown, filtered and sorted.
    pub fn visible_rows(&self) -> Vec<usize> {
        if self.index.fresh {
            self.index.order.clone()
        } else {
            self.sorted_rows()
        }
    }

    fn sorted_rows(&self) -> Vec<usize> {
        let shown = self.row_filter();
        let mut rows: Vec<usize> = (0..self.queues.len())
            .filter(|&i| shown(&self.queues[i]))
            .collect();
        rows.sort_by(|&a, &b| self.row_order(a, b));
        rows
    }

    /// Whether a row passes the filter typed after `/`: it matches the name, the
    /// region or the account.
    fn row_filter(&self) -> impl Fn(&QueueRow) -> bool + use<> {
        let filter = self.filter.to_lowercase();
        move |r: &QueueRow| {
            let q = &r.queue;
            filter.is_empty()
                || q.name.to_lowercase().contains(&filter)
                || q.place.region.contains(&filter)
                || q.place.account.contains(&filter)
        }
    }

    /// The order of rows `a` and `b` (indices into `queues`) under the current sort.
    fn row_order(&self, a: usize, b: usize) -> std::cmp::Ordering {
        let q = &self.queues;
        let by_name = || q[a].queue.name.cmp(&q[b].queue.name);
        match self.sort {
            SortKey::Name => by_name(),
            SortKey::Depth => q[b].depth().cmp(&q[a].depth()).then_with(by_name),
            SortKey::Age => {
                let age = |i: usize| q[i].metrics.as_ref().and_then(|m| m.age_of_oldest);
                age(b).cmp(&age(a)).then_with(by_name)
            }
        }
    }

    /// The selected row's index into `queues`: the selected queue if it is shown,
    /// else the first row shown. Every pane asks for it on every frame, so it
    /// neither sorts nor allocates.
    pub fn selected_index(&self) -> Option<usize> {
        let shown = self.row_filter();
        if let Some(url) = self.selected.as_deref()
            && let Some(&i) = self.index.by_url.get(url)
            && shown(&self.queues[i])
        {
            return Some(i);
        }
        if self.index.fresh {
            return self.index.order.first().copied();
        }
        // The first of the sorted rows is the least; `min_by` keeps the first of
        // equals, as the stable sort in `visible_rows` does.
        (0..self.queues.len())
            .filter(|&i| shown(&self.queues[i]))
            .min_by(|&a, &b| self.row_order(a, b))
    }

    pub fn selected_row(&self) -> Option<&QueueRow> {
        self.selected_index().map(|i| &self.queues[i])
    }

    pub fn row_by_name(&self, name: &str) -> Option<&QueueRow> {
        self.index.by_name.get(name).map(|&i| &self.queues[i])
    }

    /// The watched row of the DLQ `row` sends its failures to, found by ARN.
    pub fn dlq_row(&self, row: &QueueRow) -> Option<&QueueRow> {
        let arn = &row.attrs.as_ref()?.redrive.as_ref()?.dlq_arn;
        self.index.by_arn.get(arn).map(|&i| &self.queues[i])
    }

    /// The queues that send their failures to `dlq`, by name: what SQS says
    /// (ListDeadLetterSourceQueues) and the watched queues whose policy names its
    /// ARN. They live where the DLQ does.
    pub(super) fn sources_of(&self, dlq: &QueueRef) -> Vec<String> {
        let mut sources = self
            .row_index(dlq)
            .map(|i| self.queues[i].dlq_sources.clone())
            .unwrap_or_default();
        for r in &self.queues {
            let sends_here = self.dlq_row(r).is_some_and(|d| d.queue.url == dlq.url);
            if sends_here && !sources.contains(&r.queue.name) {
                sources.push(r.queue.name.clone());
            }
        }
        sources
    }

    /// The queue the presentation's big number is about: the selected one; until
    /// someone picks one, the DLQ behind the first breaker's queue, else the
    /// fullest DLQ.
    pub fn story_row(&self) -> Option<&QueueRow> {
        if self.selected.is_some() {
            return self.selected_row();
        }
        self.breakers
            .first()
            .and_then(|b| b.config.queue.as_deref())
            .and_then(|q| self.row_by_name(q))
            .and_then(|r| self.dlq_row(r))
            .or_else(|| {
                self.queues
                    .iter()
                    .filter(|r| r.derived.is_dlq)
                    .max_by_key(|r| r.depth())
            })
            .or_else(|| self.selected_row())
    }

    /// Whether another watched queue sends its failures to `row`.
    pub fn is_dlq(&self, row: &QueueRow) -> bool {
        row.derived.is_dlq
    }

    /// The state of the breaker guarding a queue's consumer.
    pub(crate) fn breaker_for(&self, queue: &str) -> Option<&BreakerView> {
        self.breakers
            .iter()
            .find(|b| b.config.queue.as_deref() == Some(queue))
    }

    /// A queue's arrival rate. For a DLQ, CloudWatch does not count the moves a
    /// redrive policy makes, so the rate measured from its depth is used when it
    /// is the larger (it includes direct sends too).
    pub fn arrival(&self, row: &QueueRow) -> Rate {
        row.derived.arrival
    }

    fn arrival_of(&self, row: &QueueRow, is_dlq: bool) -> Rate {
        let cloudwatch = row.metrics.as_ref().and_then(|m| m.sent_per_min);
        let measured = is_dlq
            .then(|| row.measured_inflow())
            .flatten()
            .map(|r| r / self.time_scale);
        match (cloudwatch, measured) {
            (c, Some(m)) if c.is_none_or(|c| m > c) => Rate {
                per_min: Some(m),
                source: RateSource::Depth,
            },
            (c, _) => Rate {
                per_min: c,
                source: RateSource::CloudWatch,
            },
        }
    }

    /// Where the row is heading (drain, trend arrow, growing flag), from the
    /// freshest figures: the net rate measured from the last minute of attribute
    /// polls when there is one (CloudWatch's minute is minutes old, and does not
    /// count messages moved into a DLQ), else `arrival` (see [`App::arrival`])
    /// and CloudWatch's consumption.
    fn outlook_of(&self, row: &QueueRow, arrival: Rate) -> Outlook {
        let depth = row.depth();
        let consumption = row.metrics.as_ref().and_then(|m| m.deleted_per_min);
        let sustained = row.below_streak >= self.thresholds.growing_samples;
        let (arrival, consumption) = match self.net_rate(row) {
            // A net rate is arrival minus consumption: one of them is zero.
            Some(net) if net != 0.0 => (Some(net.max(0.0)), Some((-net).max(0.0))),
            // The depth held for a minute: balanced if anything moves, else stalled.
            Some(_) if arrival.per_min.is_some() || consumption.is_some() => {
                let busy = arrival
                    .per_min
                    .into_iter()
                    .chain(consumption)
                    .fold(0.0, f64::max);
                (Some(busy), Some(busy))
            }
            _ => (arrival.per_min, consumption),
        };
        health::outlook(depth, arrival, consumption, sustained)
    }

    /// The change in depth per minute of the data's clock (see [`App::arrival`]).
    pub fn net_rate(&self, row: &QueueRow) -> Option<f64> {
        row.measured_net().map(|r| r / self.time_scale)
    }

    pub fn flags(&self, row: &QueueRow) -> Vec<Flag> {
        row.derived.flags.clone()
    }
}
