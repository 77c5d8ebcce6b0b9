//! Redrive benchmark (not a test): prints figures.
//!
//! 1. Throughput at unlimited rate, against the same server in the same run: a plain
//!    sequential loop (receive 10 → send batch → delete batch, one worker, for
//!    `LAZYSQS_BENCH_LOOP_SECS`), the client-side mover with its defaults (it finds
//!    its own concurrency, up to 256 batches in flight), and the mover capped by hand
//!    (`--workers N`). Targets: the default at least 5× the loop on the bare server,
//!    and within 10% of the best hand-set cap; through a 20 ms round trip, at least
//!    6,000 msg/s; client CPU at most 30 µs a message.
//! 2. FIFO through the same round trip: 20,000 messages in 100 groups, order per
//!    group verified at the destination. Target: at least 3,000 msg/s.
//! 3. Rate accuracy: the mover held at 10, 100, 500 and 2,000 msg/s over a window (a
//!    minute by default); target ±2%.
//!
//! Servers, each skipped (with a note) when nothing answers on its port:
//!
//! - rustack-cli: `LAZYSQS_BENCH_RUSTACK`, else http://127.0.0.1:4599. Install it
//!   outside the repository's tracked files and start it:
//!
//!   ```text
//!   cargo install --root target/rustack rustack-cli --version 0.12.0 \
//!       --no-default-features --features sqs,cloudwatch
//!   GATEWAY_LISTEN=127.0.0.1:4599 SERVICES=sqs,cloudwatch target/rustack/bin/rustack
//!   ```
//!
//! - The same rustack 20 ms away: `LAZYSQS_BENCH_PROXY`, else http://127.0.0.1:4600,
//!   the delay proxy from the shared tools (10 ms each way):
//!
//!   ```text
//!   python3 ../shared/tools/latency_proxy.py 4600 4599 10
//!   ```
//!
//!   Queues are filled and checked straight on rustack; only the moves go through
//!   the proxy.
//! - LocalStack: `LAZYSQS_BENCH_LOCALSTACK`, else `LAZYSQS_TEST_ENDPOINT`, else
//!   http://127.0.0.1:4566 (`scripts/local-sqs.sh start`).
//!
//! The CPU column is the bench process's own CPU per message moved (µs).
//!
//! Knobs: `LAZYSQS_BENCH_RATE_SECS` (rate window, default 60), `LAZYSQS_BENCH_WORKERS`
//! (hand-set caps, default "16,64,128"), `LAZYSQS_BENCH_N` (messages per throughput
//! run, default 20000; LocalStack `LAZYSQS_BENCH_LOCALSTACK_N`, default 2000),
//! `LAZYSQS_BENCH_LOOP_SECS` (default 10), `LAZYSQS_BENCH_RATES` (default
//! "10,100,500,2000", on rustack; LocalStack, which moves ~250 msg/s at best,
//! `LAZYSQS_BENCH_LOCALSTACK_RATES`, default "10,100").
//!
//! Run: `cargo bench --bench redrive`.

use std::collections::HashMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_sqs::config::{Credentials, Region};
use futures::StreamExt;
use lazysqs::broker::aws::{AwsBroker, AwsOptions};
use lazysqs::broker::{Broker, OutgoingMessage, QueueRef};
use lazysqs::redrive::mover::{self, MoverConfig, Target};
use lazysqs::redrive::{ClientOptions, Report};

struct Server {
    label: String,
    endpoint: String,
    /// Straight to the server: filling and checking queues.
    direct: Arc<AwsBroker>,
    /// What the mover goes through (the proxy, or the server itself).
    via: Arc<AwsBroker>,
    sqs: aws_sdk_sqs::Client,
    prefix: String,
    n: usize,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn list(name: &str, default: &str) -> Vec<u64> {
    env_or(name, default)
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn one(name: &str, default: u64) -> u64 {
    list(name, &default.to_string())
        .first()
        .copied()
        .unwrap_or(default)
}

fn answers(endpoint: &str) -> bool {
    let hostport = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .trim_end_matches('/');
    let Ok(mut addrs) = hostport.to_socket_addrs() else {
        return false;
    };
    addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok())
}

async fn aws(endpoint: &str) -> anyhow::Result<AwsBroker> {
    AwsBroker::connect(&AwsOptions {
        profile: None,
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.to_string()),
    })
    .await
}

impl Server {
    /// `via`: where the mover connects, when not straight to `endpoint`.
    async fn connect(
        label: &str,
        endpoint: String,
        via: Option<String>,
        n: usize,
    ) -> Option<Server> {
        for e in std::iter::once(&endpoint).chain(via.as_ref()) {
            if !answers(e) {
                println!("{label}: skipped, nothing answers at {e}");
                return None;
            }
        }
        let direct = Arc::new(aws(&endpoint).await.ok()?);
        let via = match via {
            Some(v) => Arc::new(aws(&v).await.ok()?),
            None => direct.clone(),
        };
        let config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
            .load()
            .await;
        let id = uuid::Uuid::new_v4().simple().to_string();
        Some(Server {
            label: label.to_string(),
            endpoint,
            direct,
            via,
            sqs: aws_sdk_sqs::Client::new(&config),
            prefix: format!("lzb-{}", &id[..8]),
            n,
        })
    }

    async fn queue(&self, name: &str) -> anyhow::Result<QueueRef> {
        let name = format!("{}-{name}", self.prefix);
        let mut create = self.sqs.create_queue().queue_name(&name);
        if name.ends_with(".fifo") {
            create = create.attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true");
        }
        let out = create.send().await?;
        Ok(QueueRef {
            name,
            url: out.queue_url().unwrap_or_default().to_string(),
            place: Default::default(),
        })
    }

    /// Fills `q` with `n` messages; with `groups`, in that many FIFO groups, each
    /// body naming its group and its place in it.
    async fn seed(&self, q: &QueueRef, n: usize, groups: Option<usize>) -> anyhow::Result<()> {
        let pad = "x".repeat(200);
        let batches: Vec<Vec<OutgoingMessage>> = match groups {
            None => (0..n)
                .map(|i| OutgoingMessage {
                    body: format!(r#"{{"order_id":"ord-{i}","pad":"{pad}"}}"#),
                    ..Default::default()
                })
                .collect::<Vec<_>>()
                .chunks(10)
                .map(<[_]>::to_vec)
                .collect(),
            Some(g) => {
                // Round-robin over the groups, ten of a group per batch, so that
                // each group's batches go out in order one after another.
                let per = n / g;
                let mut out = Vec::new();
                for start in (0..per).step_by(10) {
                    for group in 0..g {
                        out.push(
                            (start..(start + 10).min(per))
                                .map(|seq| OutgoingMessage {
                                    body: format!(
                                        r#"{{"group":{group},"seq":{seq},"pad":"{pad}"}}"#
                                    ),
                                    group_id: Some(format!("g{group}")),
                                    dedup_id: Some(format!("g{group}-{seq}")),
                                    ..Default::default()
                                })
                                .collect(),
                        );
                    }
                }
                out
            }
        };
        // Each group's batches one at a time: `groups` at once, in order per group.
        let streams = groups.unwrap_or(16);
        let mut lanes: Vec<Vec<Vec<OutgoingMessage>>> = vec![Vec::new(); streams];
        for (i, b) in batches.into_iter().enumerate() {
            lanes[i % streams].push(b);
        }
        let results: Vec<anyhow::Result<()>> = futures::stream::iter(lanes)
            .map(|lane| async move {
                for b in lane {
                    for (_, e) in self.direct.send_batch(q, b).await? {
                        e?;
                    }
                }
                Ok(())
            })
            .buffer_unordered(streams)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn cleanup(&self, queues: &[&QueueRef]) {
        for q in queues {
            let _ = self.sqs.delete_queue().queue_url(&q.url).send().await;
        }
    }

    fn via(&self) -> Arc<dyn Broker> {
        self.via.clone()
    }
}

/// The baseline: one worker, receive 10 → send batch → delete batch, until empty or
/// `secs` have passed.
async fn sequential(broker: &dyn Broker, from: &QueueRef, to: &QueueRef, secs: u64) -> (u64, f64) {
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut moved = 0u64;
    let mut last = start;
    let mut empty = 0;
    while empty < 3 && Instant::now() < end {
        let Ok(msgs) = broker.receive(from, 10, Duration::from_secs(30)).await else {
            continue;
        };
        if msgs.is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        let out: Vec<OutgoingMessage> = msgs
            .iter()
            .map(|m| OutgoingMessage {
                body: m.body.clone(),
                attributes: m.attributes.clone(),
                ..Default::default()
            })
            .collect();
        let Ok(sent) = broker.send_batch(to, out).await else {
            continue;
        };
        let handles: Vec<String> = sent
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(i, _)| msgs[*i].receipt_handle.clone())
            .collect();
        moved += handles.len() as u64;
        let _ = broker.delete_batch(from, handles).await;
        last = Instant::now();
    }
    (moved, last.duration_since(start).as_secs_f64())
}

async fn mover_run(
    broker: Arc<dyn Broker>,
    from: &QueueRef,
    to: &QueueRef,
    rate: Option<f64>,
    max: Option<u64>,
    workers: usize,
    expected: u64,
) -> (Report, usize) {
    let handle = mover::spawn(
        broker,
        MoverConfig {
            source: from.clone(),
            source_arn: String::new(),
            target: Target::Queue(to.clone()),
            rate,
            max,
            filter: None,
            transform: None,
            options: ClientOptions {
                workers,
                ..ClientOptions::default()
            },
            expected: Some(expected),
            canary: None,
        },
    );
    let mut progress = handle.progress.clone();
    let peak = tokio::spawn(async move {
        let mut peak = 0;
        while progress.changed().await.is_ok() {
            peak = peak.max(progress.borrow().concurrency.unwrap_or(0));
        }
        peak
    });
    let report = handle.wait().await;
    (report, peak.await.unwrap_or(0))
}

/// CPU seconds (user + system) this process has used, from /proc (Linux); 0 elsewhere.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses): utime is the 12th,
    // stime the 13th, in clock ticks (100 per second on Linux).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Client CPU per message, in microseconds.
fn cpu_per_msg(cpu: f64, moved: u64) -> f64 {
    if moved == 0 {
        0.0
    } else {
        cpu / moved as f64 * 1e6
    }
}

fn row(server: &str, how: &str, moved: u64, secs: f64, rate: f64, base: f64, cpu: f64) {
    println!(
        "{server:<24} {how:<28} {moved:>7} {secs:>7.2} {rate:>8.0} {:>7.1}x {cpu:>8.0}",
        rate / base.max(f64::MIN_POSITIVE)
    );
}

async fn throughput(s: &Server, workers: &[u64], loop_secs: u64) -> anyhow::Result<()> {
    let a = s.queue("tp-a").await?;
    let b = s.queue("tp-b").await?;
    s.seed(&a, s.n, None).await?;
    let cpu = cpu_secs();
    let (moved, secs) = sequential(s.via.as_ref(), &a, &b, loop_secs).await;
    let cpu = cpu_per_msg(cpu_secs() - cpu, moved);
    let base = moved as f64 / secs;
    row(&s.label, "sequential loop", moved, secs, base, base, cpu);
    // What the loop moved goes back first (not measured); then each run moves
    // everything to the other queue.
    mover_run(s.via(), &b, &a, None, None, 256, moved).await;
    let (mut from, mut to) = (a, b);
    let default = ClientOptions::default().workers as u64;
    let mut best_hand = (0, 0.0);
    let mut default_rate = 0.0;
    for &w in std::iter::once(&default).chain(workers) {
        let cpu = cpu_secs();
        let (r, peak) = mover_run(s.via(), &from, &to, None, None, w as usize, s.n as u64).await;
        let cpu = cpu_per_msg(cpu_secs() - cpu, r.moved);
        let how = if w == default {
            default_rate = r.rate;
            format!("mover, default (peak {peak})")
        } else {
            if r.rate > best_hand.1 {
                best_hand = (w, r.rate);
            }
            format!("mover, --workers {w} (peak {peak})")
        };
        let secs = r.moved as f64 / r.rate.max(f64::MIN_POSITIVE);
        row(&s.label, &how, r.moved, secs, r.rate, base, cpu);
        if r.failed > 0 || r.moved == 0 {
            println!(
                "    ({} failed, {} moved: {:?})",
                r.failed, r.moved, r.error
            );
        }
        std::mem::swap(&mut from, &mut to);
    }
    if best_hand.1 > 0.0 {
        println!(
            "{:<24} default {default_rate:.0} msg/s is {:.0}% of the best hand-set (--workers {}, {:.0} msg/s)",
            s.label,
            default_rate / best_hand.1 * 100.0,
            best_hand.0,
            best_hand.1
        );
    }
    s.cleanup(&[&from, &to]).await;
    Ok(())
}

/// Moves `n` FIFO messages in `groups` groups with the default mover, then reads the
/// destination (straight from the server) and checks every group's order.
async fn fifo(s: &Server, n: usize, groups: usize) -> anyhow::Result<()> {
    let a = s.queue("ff-a.fifo").await?;
    let b = s.queue("ff-b.fifo").await?;
    s.seed(&a, n, Some(groups)).await?;
    let cpu = cpu_secs();
    let (r, peak) = mover_run(
        s.via(),
        &a,
        &b,
        None,
        None,
        ClientOptions::default().workers,
        n as u64,
    )
    .await;
    let cpu = cpu_per_msg(cpu_secs() - cpu, r.moved);
    let mut last: HashMap<u64, u64> = HashMap::new();
    let (mut read, mut out_of_order) = (0u64, 0u64);
    loop {
        let got = s.direct.receive(&b, 10, Duration::from_secs(60)).await?;
        if got.is_empty() {
            break;
        }
        for m in &got {
            let v: serde_json::Value = serde_json::from_str(&m.body)?;
            let (g, seq) = (v["group"].as_u64(), v["seq"].as_u64());
            if let (Some(g), Some(seq)) = (g, seq) {
                if last.get(&g).is_some_and(|&prev| seq <= prev) {
                    out_of_order += 1;
                }
                last.insert(g, seq);
                read += 1;
            }
        }
        let handles = got.into_iter().map(|m| m.receipt_handle).collect();
        s.direct.delete_batch(&b, handles).await?;
    }
    let left = s.direct.queue_attributes(&a).await?.depth();
    if r.failed > 0 || left > 0 {
        println!(
            "    ({} failed, {left} still in the source: {:?} {:?})",
            r.failed,
            r.error,
            r.failures.first()
        );
    }
    let secs = r.moved as f64 / r.rate.max(f64::MIN_POSITIVE);
    println!(
        "{:<24} FIFO, {groups} groups, default (peak {peak}): moved {} in {secs:.2}s, {:.0} msg/s, {cpu:.0} µs CPU/msg; \
         read back {read}, {} out of order",
        s.label, r.moved, r.rate, out_of_order
    );
    s.cleanup(&[&a, &b]).await;
    Ok(())
}

/// The SDK's own cost: client CPU per call for GetQueueAttributes, and for a
/// receive, send and delete of 10, one after another. A move of 10 messages takes
/// at least these three calls.
async fn sdk_floor(s: &Server) -> anyhow::Result<()> {
    let a = s.queue("floor").await?;
    s.seed(&a, 10, None).await?;
    const CALLS: usize = 300;
    let cpu = cpu_secs();
    for _ in 0..CALLS {
        s.direct.queue_attributes(&a).await?;
    }
    let attrs = (cpu_secs() - cpu) / CALLS as f64 * 1e6;
    let cpu = cpu_secs();
    for _ in 0..CALLS / 3 {
        let got = s.direct.receive(&a, 10, Duration::from_secs(30)).await?;
        let out = got
            .iter()
            .map(|m| OutgoingMessage {
                body: m.body.clone(),
                ..Default::default()
            })
            .collect();
        s.direct.send_batch(&a, out).await?;
        let handles = got.into_iter().map(|m| m.receipt_handle).collect();
        s.direct.delete_batch(&a, handles).await?;
    }
    let cycle = (cpu_secs() - cpu) / (CALLS / 3) as f64 * 1e6;
    println!(
        "{:<24} client CPU per GetQueueAttributes {attrs:.0} µs; per receive+send+delete of 10 \
         {cycle:.0} µs ({:.0} µs a message)",
        s.label,
        cycle / 10.0
    );
    s.cleanup(&[&a]).await;
    Ok(())
}

async fn rate_accuracy(s: &Server, rates: &[u64], window: u64) -> anyhow::Result<()> {
    for &rate in rates {
        let a = s.queue(&format!("r{rate}-a")).await?;
        let b = s.queue(&format!("r{rate}-b")).await?;
        let want = rate * window;
        // More than the window needs, so the queue never runs dry.
        s.seed(&a, (want + want / 10 + 20) as usize, None).await?;
        let started = Instant::now();
        let (r, peak) = mover_run(
            s.via(),
            &a,
            &b,
            Some(rate as f64),
            Some(want),
            ClientOptions::default().workers,
            want,
        )
        .await;
        let wall = started.elapsed().as_secs_f64();
        let measured = r.rate;
        let err = (measured - rate as f64) / rate as f64 * 100.0;
        println!(
            "{:<24} target {:>4} msg/s over {:>3}s: moved {:>6} in {:>6.2}s, measured {:>7.2} msg/s ({:+.2}%) {} (peak concurrency {})",
            s.label,
            rate,
            window,
            r.moved,
            wall,
            measured,
            err,
            if err.abs() <= 2.0 {
                "within ±2%"
            } else {
                "OUTSIDE ±2%"
            },
            peak
        );
        s.cleanup(&[&a, &b]).await;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run only
    // under cargo bench.
    if !std::env::args().any(|a| a == "--bench") {
        println!("redrive bench: run it with `cargo bench --bench redrive`");
        return Ok(());
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let localstack = env_or(
            "LAZYSQS_BENCH_LOCALSTACK",
            &env_or("LAZYSQS_TEST_ENDPOINT", "http://127.0.0.1:4566"),
        );
        let rustack = env_or("LAZYSQS_BENCH_RUSTACK", "http://127.0.0.1:4599");
        let proxy = env_or("LAZYSQS_BENCH_PROXY", "http://127.0.0.1:4600");
        let workers = list("LAZYSQS_BENCH_WORKERS", "16,64,128");
        let rates = list("LAZYSQS_BENCH_RATES", "10,100,500,2000");
        let window = one("LAZYSQS_BENCH_RATE_SECS", 60);
        let loop_secs = one("LAZYSQS_BENCH_LOOP_SECS", 10);
        let n = one("LAZYSQS_BENCH_N", 20_000) as usize;
        let ln = one("LAZYSQS_BENCH_LOCALSTACK_N", 2000) as usize;
        let bare = Server::connect("rustack", rustack.clone(), None, n).await;
        let far = Server::connect("rustack via 20 ms proxy", rustack, Some(proxy), n).await;
        let local = Server::connect("localstack", localstack, None, ln).await;
        println!("\n== throughput at unlimited rate (same server, same run) ==");
        println!(
            "{:<24} {:<28} {:>7} {:>7} {:>8} {:>8} {:>8}",
            "server", "how", "moved", "secs", "msg/s", "vs loop", "µs CPU"
        );
        for s in [&bare, &far, &local].into_iter().flatten() {
            if let Err(e) = throughput(s, &workers, loop_secs).await {
                println!("{}: throughput failed: {e:#} ({})", s.label, s.endpoint);
            }
        }
        println!("\n== the SDK's cost per call (one at a time) ==");
        if let Some(s) = bare.as_ref()
            && let Err(e) = sdk_floor(s).await
        {
            println!("{}: SDK floor failed: {e:#}", s.label);
        }
        println!("\n== FIFO: groups in parallel, order per group ==");
        if let Some(s) = far.as_ref().or(bare.as_ref())
            && let Err(e) = fifo(s, n, 100).await
        {
            println!("{}: FIFO failed: {e:#}", s.label);
        }
        println!("\n== rate accuracy (default settings; target ±2%) ==");
        for s in [&bare, &local].into_iter().flatten() {
            // LocalStack moves ~250 msg/s at best.
            let rates = if s.label == "localstack" {
                list("LAZYSQS_BENCH_LOCALSTACK_RATES", "10,100")
            } else {
                rates.clone()
            };
            if let Err(e) = rate_accuracy(s, &rates, window).await {
                println!("{}: rate accuracy failed: {e:#}", s.label);
            }
        }
        Ok::<(), anyhow::Error>(())
    })
}
