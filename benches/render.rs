//! Render time of the full dashboard, and update throughput.
//!
//! `cargo bench --bench render`. The app state is built the way the runtime
//! builds it, through `App::update` with the messages pollers send: discovered
//! queues, attributes and metrics with 60 samples of history per queue, and a
//! breaker reading with transitions. Target: at most 1 ms per frame at 200 queues.
//!
//! On a shared machine wall time counts the time other processes hold the CPU;
//! `LAZYSQS_BENCH_CLOCK=cpu cargo bench --bench render` measures the benchmark
//! thread's own CPU time instead (groups are then prefixed `cpu/`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use lazysqs::app::{App, Msg, Settings};
use lazysqs::breaker::{BreakerReading, BreakerState, Transition};
use lazysqs::broker::{QueueAttrs, QueueMetrics, QueueRef, RedrivePolicy};
use lazysqs::config::{BreakerConfig, BreakerSourceConfig, RefreshConfig};
use lazysqs::sim::model::{arn, queue_ref};
use lazysqs::ui;
use lazysqs::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
/// Samples of history per queue.
const SAMPLES: usize = 60;

/// `n` queues in families of five: a standard queue and its DLQ, a FIFO queue and
/// its DLQ, and a queue without one.
fn queues(n: usize) -> Vec<QueueRef> {
    (0..n)
        .map(|i| {
            let family = i / 5;
            let name = match i % 5 {
                0 => format!("svc{family:04}-orders"),
                1 => format!("svc{family:04}-orders-dlq"),
                2 => format!("svc{family:04}-invoices.fifo"),
                3 => format!("svc{family:04}-invoices-dlq.fifo"),
                _ => format!("svc{family:04}-notifications"),
            };
            queue_ref(&name)
        })
        .collect()
}

/// Attributes of queue `i` at sample `t`: depths that move, DLQs that fill.
fn attrs(i: usize, q: &QueueRef, t: usize) -> QueueAttrs {
    let wave = ((t as f64 / 7.0 + i as f64).sin() * 40.0 + 40.0) as u64;
    let (visible, dlq) = match i % 5 {
        0 => (wave + t as u64, Some(format!("{}-dlq", q.name))),
        1 | 3 => ((t as u64 / 4) * (i as u64 % 3), None),
        2 => (
            wave / 2,
            Some(q.name.replace(".fifo", "-dlq.fifo").to_string()),
        ),
        _ => (wave % 5, None),
    };
    QueueAttrs {
        arn: arn(&q.name),
        visible,
        in_flight: wave % 7,
        delayed: (i % 2) as u64,
        fifo: q.is_fifo(),
        content_based_dedup: q.is_fifo(),
        visibility_timeout: Duration::from_secs(30),
        retention: Duration::from_secs(4 * 24 * 3600),
        redrive: dlq.map(|d| RedrivePolicy {
            dlq_arn: arn(&d),
            max_receive_count: 3,
        }),
        max_message_size: 1024 * 1024,
    }
}

fn metrics(i: usize, t: usize) -> QueueMetrics {
    let sent = 60.0 + ((t + i) % 13) as f64 * 5.0;
    QueueMetrics {
        age_of_oldest: Some(Duration::from_secs(((t * 11 + i * 7) % 900) as u64)),
        sent_per_min: Some(sent),
        received_per_min: Some(sent - 3.0),
        deleted_per_min: if i.is_multiple_of(11) {
            None
        } else {
            Some(sent - ((t + i) % 9) as f64)
        },
        minute: None,
    }
}

fn settings(first_queue: &str) -> Settings {
    Settings {
        source: "bench".into(),
        demo: true,
        // No budget: `poll_round` measures every queue's poll at once.
        refresh: RefreshConfig {
            max_requests_per_second: 1.0e6,
            others_secs: 1.0,
            ..RefreshConfig::demo()
        },
        breakers: vec![BreakerConfig {
            name: "payments".into(),
            queue: Some(first_queue.to_string()),
            source: BreakerSourceConfig::Demo {
                demo: "payments".into(),
            },
        }],
        ..Settings::default()
    }
}

fn breaker_reading() -> BreakerReading {
    use BreakerState::{Closed, HalfOpen, Open};
    let now = Utc::now();
    let ago = |s: i64| now - chrono::Duration::seconds(s);
    let t = |s, from, to, why: &str| Transition {
        at: ago(s),
        from,
        to,
        reason: why.into(),
    };
    BreakerReading {
        state: Open,
        since: Some(ago(40)),
        detail: "payments is down".into(),
        transitions: Some(vec![
            t(300, Closed, Open, "5 failed calls in a row to payments"),
            t(285, Open, HalfOpen, "cool-down of 15s over: canary call"),
            t(285, HalfOpen, Open, "canary call to payments failed"),
            t(60, Open, HalfOpen, "cool-down of 15s over: canary call"),
            t(40, HalfOpen, Open, "canary call to payments failed"),
        ]),
    }
}

/// An app watching `n` queues with `SAMPLES` polls of history, built through
/// `App::update`. Returns the app and the time of its last sample.
fn app_with(n: usize) -> (App, Instant) {
    let qs = queues(n);
    let t0 = Instant::now();
    let mut app = App::new(settings(&qs[0].name), t0, chrono::Utc::now());
    app.update(Msg::Tick(t0));
    app.update(Msg::Discovered(Ok(qs.clone()).into()));
    let mut now = t0;
    for t in 0..SAMPLES {
        now = t0 + Duration::from_secs(t as u64);
        app.update(Msg::Tick(now));
        for (i, q) in qs.iter().enumerate() {
            app.update(Msg::Attributes(q.clone(), Ok(attrs(i, q, t))));
        }
        app.update(Msg::Metrics(
            qs.clone(),
            Ok((0..n).map(|i| metrics(i, t)).collect()),
        ));
    }
    app.update(Msg::Breaker("payments".into(), Ok(breaker_reading())));
    app.settle();
    (app, now)
}

fn render<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let theme = Theme::default();
    let mut group = c.benchmark_group(format!("{prefix}render"));
    for n in [10, 200, 1000, 10_000] {
        let (app, _) = app_with(n);
        let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test terminal");
        group.bench_with_input(BenchmarkId::new("dashboard_200x60", n), &app, |b, app| {
            b.iter(|| {
                terminal
                    .draw(|f| ui::draw(f, black_box(app), &theme))
                    .expect("draw");
            })
        });
    }
    group.finish();

    // One key press at 10,000 queues: moving the selection, then the frame the
    // runtime draws for it.
    let mut group = c.benchmark_group(format!("{prefix}key_10000_queues"));
    let (mut app, _) = app_with(10_000);
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test terminal");
    let down = Msg::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Down,
        crossterm::event::KeyModifiers::NONE,
    ));
    group.bench_function("down", |b| b.iter(|| black_box(app.update(down.clone()))));
    group.bench_function("down_and_draw", |b| {
        b.iter(|| {
            app.update(down.clone());
            app.settle();
            terminal.draw(|f| ui::draw(f, &app, &theme)).expect("draw");
        })
    });
    group.finish();
}

fn update<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    const N: usize = 1000;
    let qs = queues(N);
    let mut group = c.benchmark_group(format!("{prefix}update_1000_queues"));

    // One round of attribute results: 1,000 messages.
    let round: Vec<Msg> = qs
        .iter()
        .enumerate()
        .map(|(i, q)| Msg::Attributes(q.clone(), Ok(attrs(i, q, SAMPLES))))
        .collect();
    group.throughput(Throughput::Elements(N as u64));
    let (mut app, _) = app_with(N);
    group.bench_function("attributes", |b| {
        b.iter_batched(
            || round.clone(),
            |msgs| {
                for m in msgs {
                    black_box(app.update(m));
                }
            },
            BatchSize::LargeInput,
        )
    });

    // One batched metrics result for all queues.
    let metrics_msg = Msg::Metrics(qs.clone(), Ok((0..N).map(|i| metrics(i, 7)).collect()));
    group.throughput(Throughput::Elements(1));
    let (mut app, _) = app_with(N);
    group.bench_function("metrics", |b| {
        b.iter_batched(
            || metrics_msg.clone(),
            |m| black_box(app.update(m)),
            BatchSize::LargeInput,
        )
    });

    // The runtime's 250 ms tick when no poll is due: most ticks.
    let (mut app, last) = app_with(N);
    group.bench_function("tick_idle", |b| {
        b.iter(|| black_box(app.update(Msg::Tick(black_box(last)))))
    });

    // A whole poll round: a tick that finds every poll due (1,000 attribute
    // fetches and one metrics fetch issued), then all their results.
    group.throughput(Throughput::Elements(N as u64 + 2));
    let (mut app, mut now) = app_with(N);
    let mut t = SAMPLES;
    group.bench_function("poll_round", |b| {
        b.iter_batched(
            || {
                now += Duration::from_secs(2);
                t += 1;
                let results: Vec<Msg> = qs
                    .iter()
                    .enumerate()
                    .map(|(i, q)| Msg::Attributes(q.clone(), Ok(attrs(i, q, t))))
                    .chain([Msg::Metrics(
                        qs.clone(),
                        Ok((0..N).map(|i| metrics(i, t)).collect()),
                    )])
                    .collect();
                (now, results)
            },
            |(now, results)| {
                let cmds = app.update(Msg::Tick(now));
                assert!(cmds.len() > N, "every poll is due");
                for m in results {
                    black_box(app.update(m));
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// The calling thread's CPU time, so other processes on a busy machine do not count.
struct ThreadCpu(WallTime);

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, d: &Duration) -> f64 {
        d.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.0.formatter()
    }
}

fn main() {
    if std::env::var("LAZYSQS_BENCH_CLOCK").is_ok_and(|v| v == "cpu") {
        let mut c = Criterion::default()
            .with_measurement(ThreadCpu(WallTime))
            .configure_from_args();
        render(&mut c, "cpu/");
        update(&mut c, "cpu/");
        c.final_summary();
    } else {
        let mut c = Criterion::default().configure_from_args();
        render(&mut c, "");
        update(&mut c, "");
        c.final_summary();
    }
}
