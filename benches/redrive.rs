//! Redrive benchmark (not a test): prints figures.
//!
//! 1. Throughput at unlimited rate: the client-side mover (N workers) against a plain
//!    sequential loop (receive 10 → send batch → delete batch, one worker), against
//!    the same server in the same run. Target: at least 3× the loop.
//! 2. Rate accuracy: the mover held at 10, 100 and 500 msg/s over a window (a
//!    minute by default); target ±5%.
//!
//! Servers, each skipped (with a note) when nothing answers on its port:
//!
//! - LocalStack: `LAZYSQS_BENCH_LOCALSTACK`, else `LAZYSQS_TEST_ENDPOINT`, else
//!   http://127.0.0.1:4566 (`scripts/local-sqs.sh start`).
//! - rustack-cli: `LAZYSQS_BENCH_RUSTACK`, else http://127.0.0.1:4599. Install it
//!   outside the repository's tracked files and start it:
//!
//!   ```text
//!   cargo install --root target/rustack rustack-cli --version 0.12.0 \
//!       --no-default-features --features sqs,cloudwatch
//!   GATEWAY_LISTEN=127.0.0.1:4599 SERVICES=sqs,cloudwatch target/rustack/bin/rustack
//!   ```
//!
//! The last column is the bench process's own CPU per message moved (µs): the mover
//! costs the client about what the loop does, so where client and server share a
//! couple of busy cores the server's and the machine's CPU, not the mover, set the
//! ceiling.
//!
//! Knobs: `LAZYSQS_BENCH_RATE_SECS` (rate window, default 60), `LAZYSQS_BENCH_WORKERS`
//! (default "4,8,16"), `LAZYSQS_BENCH_LOCALSTACK_N` (default 2000) and
//! `LAZYSQS_BENCH_RUSTACK_N` (default 20000) messages per throughput run,
//! `LAZYSQS_BENCH_LATENCY_MS` (default 5: a third throughput run on the first server
//! found, with this delay added to every call, as far away as a real SQS endpoint;
//! 0 skips it), `LAZYSQS_BENCH_RATES` (default "10,100,500"; on LocalStack, which moves ~250 msg/s
//! at best, `LAZYSQS_BENCH_LOCALSTACK_RATES`, default "10,100").
//!
//! Run: `cargo bench --bench redrive`.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_sqs::config::{Credentials, Region};
use futures::StreamExt;
use lazysqs::broker::aws::{AwsBroker, AwsOptions};
use lazysqs::broker::{
    AlarmState, BatchOutcome, Broker, BrokerResult, Message, MoveTask, OutgoingMessage, QueueAttrs,
    QueueMetrics, QueueRef, QueueSelection,
};
use lazysqs::redrive::mover::{self, MoverConfig, Target};
use lazysqs::redrive::{ClientOptions, Report};

/// A broker with a fixed delay before every call: a local server made to answer as
/// slowly as a real SQS endpoint does (a round trip of several milliseconds), where
/// the client's own concurrency is what pays.
struct Latency {
    inner: Arc<AwsBroker>,
    delay: Duration,
}

#[async_trait]
impl Broker for Latency {
    fn describe(&self) -> String {
        format!("{} + {:?}", self.inner.describe(), self.delay)
    }
    async fn list_queues(&self, s: &QueueSelection) -> BrokerResult<Vec<QueueRef>> {
        tokio::time::sleep(self.delay).await;
        self.inner.list_queues(s).await
    }
    async fn queue_attributes(&self, q: &QueueRef) -> BrokerResult<QueueAttrs> {
        tokio::time::sleep(self.delay).await;
        self.inner.queue_attributes(q).await
    }
    async fn dead_letter_sources(&self, q: &QueueRef) -> BrokerResult<Vec<QueueRef>> {
        tokio::time::sleep(self.delay).await;
        self.inner.dead_letter_sources(q).await
    }
    async fn metrics(&self, q: &[QueueRef]) -> BrokerResult<Vec<QueueMetrics>> {
        self.inner.metrics(q).await
    }
    async fn alarm_state(&self, a: &str) -> BrokerResult<AlarmState> {
        self.inner.alarm_state(a).await
    }
    async fn receive(&self, q: &QueueRef, max: u32, v: Duration) -> BrokerResult<Vec<Message>> {
        tokio::time::sleep(self.delay).await;
        self.inner.receive(q, max, v).await
    }
    async fn send(&self, q: &QueueRef, m: OutgoingMessage) -> BrokerResult<String> {
        tokio::time::sleep(self.delay).await;
        self.inner.send(q, m).await
    }
    async fn send_batch(
        &self,
        q: &QueueRef,
        m: Vec<OutgoingMessage>,
    ) -> BrokerResult<BatchOutcome<String>> {
        tokio::time::sleep(self.delay).await;
        self.inner.send_batch(q, m).await
    }
    async fn delete(&self, q: &QueueRef, h: &str) -> BrokerResult<()> {
        tokio::time::sleep(self.delay).await;
        self.inner.delete(q, h).await
    }
    async fn delete_batch(&self, q: &QueueRef, h: Vec<String>) -> BrokerResult<BatchOutcome<()>> {
        tokio::time::sleep(self.delay).await;
        self.inner.delete_batch(q, h).await
    }
    async fn change_visibility(
        &self,
        q: &QueueRef,
        h: Vec<String>,
        v: Duration,
    ) -> BrokerResult<BatchOutcome<()>> {
        tokio::time::sleep(self.delay).await;
        self.inner.change_visibility(q, h, v).await
    }
    async fn start_move_task(
        &self,
        s: &str,
        d: Option<&str>,
        r: Option<u32>,
    ) -> BrokerResult<String> {
        self.inner.start_move_task(s, d, r).await
    }
    async fn list_move_tasks(&self, s: &str) -> BrokerResult<Vec<MoveTask>> {
        self.inner.list_move_tasks(s).await
    }
    async fn cancel_move_task(&self, h: &str) -> BrokerResult<u64> {
        self.inner.cancel_move_task(h).await
    }
}

struct Server {
    label: &'static str,
    endpoint: String,
    broker: Arc<AwsBroker>,
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

impl Server {
    async fn connect(label: &'static str, endpoint: String, n: usize) -> Option<Server> {
        if !answers(&endpoint) {
            println!("{label}: skipped, nothing answers at {endpoint}");
            return None;
        }
        let broker = AwsBroker::connect(&AwsOptions {
            profile: None,
            region: Some("us-east-1".into()),
            endpoint_url: Some(endpoint.clone()),
        })
        .await
        .ok()?;
        let config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
            .load()
            .await;
        let id = uuid::Uuid::new_v4().simple().to_string();
        Some(Server {
            label,
            endpoint,
            broker: Arc::new(broker),
            sqs: aws_sdk_sqs::Client::new(&config),
            prefix: format!("lzb-{}", &id[..8]),
            n,
        })
    }

    async fn queue(&self, name: &str) -> anyhow::Result<QueueRef> {
        let name = format!("{}-{name}", self.prefix);
        let out = self.sqs.create_queue().queue_name(&name).send().await?;
        Ok(QueueRef {
            name,
            url: out.queue_url().unwrap_or_default().to_string(),
        })
    }

    async fn seed(&self, q: &QueueRef, n: usize) -> anyhow::Result<()> {
        let body = format!(r#"{{"order_id":"ord-1","pad":"{}"}}"#, "x".repeat(200));
        let batches: Vec<Vec<OutgoingMessage>> = (0..n)
            .map(|_| OutgoingMessage {
                body: body.clone(),
                ..Default::default()
            })
            .collect::<Vec<_>>()
            .chunks(10)
            .map(<[_]>::to_vec)
            .collect();
        let results: Vec<_> = futures::stream::iter(batches)
            .map(|b| async move { self.broker.send_batch(q, b).await })
            .buffer_unordered(16)
            .collect()
            .await;
        for r in results {
            for (_, e) in r? {
                e?;
            }
        }
        Ok(())
    }

    async fn cleanup(&self, queues: &[&QueueRef]) {
        for q in queues {
            let _ = self.sqs.delete_queue().queue_url(&q.url).send().await;
        }
    }

    fn broker(&self) -> Arc<dyn Broker> {
        self.broker.clone()
    }
}

/// The baseline: one worker, receive 10 → send batch → delete batch, until empty.
async fn sequential(broker: &dyn Broker, from: &QueueRef, to: &QueueRef) -> (u64, f64) {
    let start = Instant::now();
    let mut moved = 0u64;
    let mut last = start;
    let mut empty = 0;
    while empty < 3 {
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
) -> Report {
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
    handle.wait().await
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

/// Moved per second from the start to the last message moved.
fn moving_rate(r: &Report) -> f64 {
    r.rate
}

async fn throughput(
    s: &Server,
    label: &str,
    broker: Arc<dyn Broker>,
    n: usize,
    workers: &[u64],
) -> anyhow::Result<()> {
    let tag = if label == s.label { "raw" } else { "lat" };
    let a = s.queue(&format!("{tag}-a")).await?;
    let b = s.queue(&format!("{tag}-b")).await?;
    s.seed(&a, n).await?;
    let cpu = cpu_secs();
    let (moved, secs) = sequential(broker.as_ref(), &a, &b).await;
    let cpu = cpu_per_msg(cpu_secs() - cpu, moved);
    let base = moved as f64 / secs;
    println!(
        "{:<22} {:<30} {:>7} {:>8.2} {:>9.0} {:>8} {:>9.0}",
        label, "sequential loop (1 worker)", moved, secs, base, "1.00x", cpu
    );
    // Ping-pong: the messages are now in b; move them back with the mover.
    let (mut from, mut to) = (b, a);
    for &w in workers {
        let cpu = cpu_secs();
        let r = mover_run(broker.clone(), &from, &to, None, None, w as usize, n as u64).await;
        let cpu = cpu_per_msg(cpu_secs() - cpu, r.moved);
        let rate = moving_rate(&r);
        println!(
            "{:<22} {:<30} {:>7} {:>8.2} {:>9.0} {:>7.2}x {:>9.0}{}",
            label,
            format!("client-side mover ({w} workers)"),
            r.moved,
            r.moved as f64 / rate.max(f64::MIN_POSITIVE),
            rate,
            rate / base,
            cpu,
            if r.failed > 0 {
                format!("  ({} failed)", r.failed)
            } else {
                String::new()
            }
        );
        std::mem::swap(&mut from, &mut to);
    }
    s.cleanup(&[&from, &to]).await;
    Ok(())
}

async fn rate_accuracy(s: &Server, rates: &[u64], window: u64) -> anyhow::Result<()> {
    for &rate in rates {
        let a = s.queue(&format!("r{rate}-a")).await?;
        let b = s.queue(&format!("r{rate}-b")).await?;
        let want = rate * window;
        // More than the window needs, so the queue never runs dry.
        s.seed(&a, (want + want / 10 + 20) as usize).await?;
        let started = Instant::now();
        let r = mover_run(
            s.broker(),
            &a,
            &b,
            Some(rate as f64),
            Some(want),
            ClientOptions::default().workers,
            want,
        )
        .await;
        let wall = started.elapsed().as_secs_f64();
        let measured = moving_rate(&r);
        let err = (measured - rate as f64) / rate as f64 * 100.0;
        println!(
            "{:<22} target {:>4} msg/s over {:>3}s: moved {:>6} in {:>6.2}s, measured {:>7.2} msg/s ({:+.2}%) {}",
            s.label,
            rate,
            window,
            r.moved,
            wall,
            measured,
            err,
            if err.abs() <= 5.0 {
                "within ±5%"
            } else {
                "OUTSIDE ±5%"
            }
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
        let workers = list("LAZYSQS_BENCH_WORKERS", "4,8,16");
        let rates = list("LAZYSQS_BENCH_RATES", "10,100,500");
        let window = list("LAZYSQS_BENCH_RATE_SECS", "60")
            .first()
            .copied()
            .unwrap_or(60);
        let ln = list("LAZYSQS_BENCH_LOCALSTACK_N", "2000")
            .first()
            .copied()
            .unwrap_or(2000) as usize;
        let rn = list("LAZYSQS_BENCH_RUSTACK_N", "20000")
            .first()
            .copied()
            .unwrap_or(20000) as usize;
        let servers = [
            Server::connect("rustack", rustack, rn).await,
            Server::connect("localstack", localstack, ln).await,
        ];
        println!("\n== throughput at unlimited rate (same server, same run) ==");
        println!(
            "{:<22} {:<30} {:>7} {:>8} {:>9} {:>8} {:>10}",
            "server", "how", "moved", "secs", "msg/s", "vs loop", "client CPU"
        );
        for s in servers.iter().flatten() {
            if let Err(e) = throughput(s, s.label, s.broker(), s.n, &workers).await {
                println!("{}: throughput failed: {e:#} ({})", s.label, s.endpoint);
            }
        }
        // As far as a real region: every call a few milliseconds away.
        let latency_ms = list("LAZYSQS_BENCH_LATENCY_MS", "5")
            .first()
            .copied()
            .unwrap_or(5);
        if latency_ms > 0
            && let Some(s) = servers.iter().flatten().next()
        {
            let broker: Arc<dyn Broker> = Arc::new(Latency {
                inner: s.broker.clone(),
                delay: Duration::from_millis(latency_ms),
            });
            let label = format!("{} +{latency_ms}ms/call", s.label);
            let n = (s.n / 4).max(1000);
            if let Err(e) = throughput(s, &label, broker, n, &workers).await {
                println!("{label}: throughput failed: {e:#}");
            }
        }
        println!(
            "\n== rate accuracy ({} workers; target ±5%) ==",
            ClientOptions::default().workers
        );
        for s in servers.iter().flatten() {
            // LocalStack moves ~250 msg/s at best: 500 msg/s is measured on rustack.
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
