//! `snapshot` over 200 queues against a local SQS-compatible server, against a plain
//! sequential loop of GetQueueAttributes over the same queues, measured in the same
//! run. Not a test: it prints both figures and the speed-up (target: at least 10×).
//!
//!     scripts/local-sqs.sh start
//!     LAZYSQS_TEST_ENDPOINT=http://127.0.0.1:4566 cargo bench --bench snapshot
//!
//! Without an endpoint (LAZYSQS_BENCH_ENDPOINT, else LAZYSQS_TEST_ENDPOINT) it says
//! so and exits.
//!
//! - LAZYSQS_BENCH_RTT_MS (default 0) puts a small TCP relay in front of the server
//!   that delays every chunk by half of that each way, for the distance to a real
//!   AWS region; the per-call time it gives is printed with the figures.
//! - LAZYSQS_BENCH_CONCURRENCY (default: `refresh.max_concurrency`'s default, 16).
//!
//! The snapshot is the whole poll: ListQueues, GetQueueAttributes for every queue,
//! ListDeadLetterSourceQueues for each queue without a redrive policy, the batched
//! GetMetricData. The 200 queues are 100 sources, each with its own DLQ, so the poll
//! makes 300 SQS calls where the baseline makes 200: with 16 in flight the speed-up
//! cannot pass 16 × 200 / 300 ≈ 10.7×. On a bare loopback server both loops are
//! bound by CPU rather than waiting, and on LocalStack the poll waits on its slow
//! GetMetricData; the figures with a round trip are the ones that say how the poll
//! behaves against AWS.

use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_sqs::config::{Credentials, Region};
use aws_sdk_sqs::types::QueueAttributeName;
use futures::StreamExt;
use lazysqs::broker::aws::{AwsBroker, AwsOptions};
use lazysqs::broker::{QueueRef, QueueSelection};
use lazysqs::config::{RefreshConfig, Thresholds};
use lazysqs::snapshot::{self, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PAIRS: usize = 100;
const ROUNDS: usize = 5;

fn endpoint() -> Option<String> {
    ["LAZYSQS_BENCH_ENDPOINT", "LAZYSQS_TEST_ENDPOINT"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
}

fn main() {
    let Some(endpoint) = endpoint() else {
        println!(
            "snapshot bench skipped: no server (run scripts/local-sqs.sh start and set \
             LAZYSQS_TEST_ENDPOINT=http://127.0.0.1:4566)"
        );
        return;
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("snapshot bench: no runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(endpoint)) {
        eprintln!("snapshot bench failed: {e:#}");
        std::process::exit(1);
    }
}

async fn sqs_client(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .load()
        .await;
    aws_sdk_sqs::Client::new(&config)
}

async fn run(endpoint: String) -> anyhow::Result<()> {
    let rtt_ms: u64 = std::env::var("LAZYSQS_BENCH_RTT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let setup = sqs_client(&endpoint).await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("bench-{}-", &id[..8]);

    println!(
        "creating {} queues ({PAIRS} sources, each with a DLQ) on {endpoint}",
        2 * PAIRS
    );
    let created = create_queues(&setup, &prefix).await;
    let result = measure(&endpoint, &prefix, rtt_ms).await;
    println!("deleting the bench queues");
    futures::stream::iter(created)
        .map(|url| {
            let c = setup.clone();
            async move {
                let _ = c.delete_queue().queue_url(url).send().await;
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    result
}

async fn create_queues(c: &aws_sdk_sqs::Client, prefix: &str) -> Vec<String> {
    futures::stream::iter(0..PAIRS)
        .map(|i| {
            let c = c.clone();
            let prefix = prefix.to_string();
            async move {
                let mut urls = Vec::new();
                let Ok(dlq) = c
                    .create_queue()
                    .queue_name(format!("{prefix}{i:03}-dlq"))
                    .send()
                    .await
                else {
                    return urls;
                };
                let dlq_url = dlq.queue_url().unwrap_or_default().to_string();
                urls.push(dlq_url.clone());
                let arn = c
                    .get_queue_attributes()
                    .queue_url(&dlq_url)
                    .attribute_names(QueueAttributeName::QueueArn)
                    .send()
                    .await
                    .ok()
                    .and_then(|o| {
                        o.attributes()
                            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
                    })
                    .unwrap_or_default();
                let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":3}}"#);
                if let Ok(src) = c
                    .create_queue()
                    .queue_name(format!("{prefix}{i:03}"))
                    .attributes(QueueAttributeName::RedrivePolicy, policy)
                    .send()
                    .await
                {
                    urls.push(src.queue_url().unwrap_or_default().to_string());
                }
                urls
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<Vec<String>>>()
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn measure(endpoint: &str, prefix: &str, rtt_ms: u64) -> anyhow::Result<()> {
    let target = match rtt_ms {
        0 => endpoint.to_string(),
        ms => {
            let relay = spawn_relay(endpoint, Duration::from_millis(ms)).await?;
            println!("adding {ms} ms of round-trip time per call through {relay}");
            relay
        }
    };
    let broker = AwsBroker::connect(&AwsOptions {
        profile: None,
        region: Some("us-east-1".into()),
        endpoint_url: Some(target.clone()),
    })
    .await?;
    let plain = sqs_client(&target).await;
    let max_concurrency = std::env::var("LAZYSQS_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RefreshConfig::default().max_concurrency);
    let opts = Options {
        source: target.clone(),
        demo: false,
        note: None,
        selection: QueueSelection {
            names: vec![],
            prefixes: vec![prefix.to_string()],
            place: None,
        },
        max_concurrency,
        thresholds: Thresholds::default(),
        breakers: vec![],
        metrics: true,
    };
    let queues: Vec<QueueRef> = {
        use lazysqs::broker::Broker;
        broker.list_queues(&opts.selection).await?
    };
    anyhow::ensure!(
        queues.len() == 2 * PAIRS,
        "expected {} queues, found {}",
        2 * PAIRS,
        queues.len()
    );

    // Warm both: connections, credentials, the server's caches.
    let warm = snapshot::take(&broker, None, &opts).await?;
    if let Some(e) = &warm.metrics_error {
        println!("note: the metrics call failed: {e}");
    }
    sequential(&plain, &queues).await?;
    {
        use lazysqs::broker::Broker;
        let t = Instant::now();
        let m = broker.metrics(&queues).await;
        println!(
            "breakdown: GetMetricData for {} queues alone: {:.1} ms ({})",
            queues.len(),
            ms(t.elapsed()),
            if m.is_ok() { "ok" } else { "failed" }
        );
        let t = Instant::now();
        futures::stream::iter(&queues)
            .map(|q| broker.queue_attributes(q))
            .buffer_unordered(max_concurrency)
            .collect::<Vec<_>>()
            .await;
        println!(
            "breakdown: GetQueueAttributes, {max_concurrency} in flight: {:.1} ms",
            ms(t.elapsed())
        );
        let t = Instant::now();
        futures::stream::iter(queues.iter().filter(|q| q.name.ends_with("-dlq")))
            .map(|q| broker.dead_letter_sources(q))
            .buffer_unordered(max_concurrency)
            .collect::<Vec<_>>()
            .await;
        println!(
            "breakdown: ListDeadLetterSourceQueues for the {PAIRS} DLQs, {max_concurrency} in flight: {:.1} ms",
            ms(t.elapsed())
        );
        let t = Instant::now();
        broker.list_queues(&opts.selection).await?;
        println!("breakdown: ListQueues: {:.1} ms", ms(t.elapsed()));
    }

    let mut snap = Vec::new();
    let mut seq = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let s = snapshot::take(&broker, None, &opts).await?;
        snap.push(t.elapsed());
        anyhow::ensure!(s.queues.len() == 2 * PAIRS, "snapshot missed queues");
        anyhow::ensure!(
            s.queues.iter().all(|q| q.error.is_none()),
            "a queue failed: {:?}",
            s.queues.iter().find_map(|q| q.error.clone())
        );
        let t = Instant::now();
        sequential(&plain, &queues).await?;
        seq.push(t.elapsed());
    }
    let (snap, seq) = (median(&mut snap), median(&mut seq));
    let without_policy = warm.queues.iter().filter(|q| q.dlq.is_none()).count();
    println!();
    println!(
        "{} queues on {endpoint}{}, median of {ROUNDS} rounds:",
        queues.len(),
        if rtt_ms > 0 {
            format!(" + {rtt_ms} ms round trip (relay)")
        } else {
            String::new()
        }
    );
    println!(
        "  sequential loop: {} GetQueueAttributes                        {:>8.1} ms ({:.2} ms a call)",
        queues.len(),
        ms(seq),
        ms(seq) / queues.len() as f64
    );
    println!(
        "  snapshot, {max_concurrency} in flight: ListQueues + {} GetQueueAttributes\n    + {without_policy} ListDeadLetterSourceQueues + GetMetricData ({} metrics) {:>8.1} ms",
        queues.len(),
        4 * queues.len(),
        ms(snap)
    );
    let speedup = seq.as_secs_f64() / snap.as_secs_f64();
    println!(
        "  speed-up: {speedup:.1}× (target ≥ 10×: {})",
        if speedup >= 10.0 { "met" } else { "NOT met" }
    );
    Ok(())
}

async fn sequential(c: &aws_sdk_sqs::Client, queues: &[QueueRef]) -> anyhow::Result<()> {
    for q in queues {
        c.get_queue_attributes()
            .queue_url(&q.url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await?;
    }
    Ok(())
}

fn median(xs: &mut [Duration]) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A TCP relay on 127.0.0.1 that delays each chunk by half of `rtt` in each
/// direction. Returns its endpoint URL.
async fn spawn_relay(endpoint: &str, rtt: Duration) -> anyhow::Result<String> {
    let upstream = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let half = rtt / 2;
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::join!(pipe(cr, sw, half), pipe(sr, cw, half));
            });
        }
    });
    Ok(format!("http://{addr}"))
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tokio::time::sleep(delay).await;
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}
