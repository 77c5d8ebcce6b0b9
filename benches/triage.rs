//! Triage benchmark (not a test): prints figures.
//!
//! Scans and groups N messages (default 20,000, `LAZYSQS_BENCH_TRIAGE_N`) of a
//! queue on a fast local server, directly and through
//! `../shared/tools/latency_proxy.py` with 10 ms each way (a 20 ms round trip, a
//! nearby region; `LAZYSQS_BENCH_DELAY_MS`). Target: ≥ 3,000 msg/s through the
//! delay, and memory held at most twice the bodies' size. Bodies are padded by
//! `LAZYSQS_BENCH_BODY_PAD` bytes (default "120,900": ~200 B and ~1 KB bodies).
//!
//! The server: `LAZYSQS_BENCH_RUSTACK`, else http://127.0.0.1:4599 (rustack-cli;
//! see benches/redrive.rs for how to install and start it). Skipped, with a note,
//! when nothing answers.
//!
//! Run: `cargo bench --bench triage`.

use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use lazysqs::broker::aws::{AwsBroker, AwsOptions};
use lazysqs::broker::{Broker, Message, OutgoingMessage, QueueRef};
use lazysqs::triage::{GroupBy, group, scan};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn answers(hostport: &str) -> bool {
    hostport
        .to_socket_addrs()
        .map(|mut a| a.any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok()))
        .unwrap_or(false)
}

async fn broker(endpoint: &str) -> AwsBroker {
    // SAFETY: set before any thread reads the environment.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    AwsBroker::connect(&AwsOptions {
        profile: None,
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.to_string()),
    })
    .await
    .expect("connect")
}

/// The body of message `i`: three shapes, about `pad` + 80 bytes.
fn body(i: usize, pad: usize) -> String {
    match i % 100 {
        0 => format!(
            r#"{{"order_id":"o-{i}","coffee":"latte","qty":1,"note":"{}"}}"#,
            "x".repeat(pad)
        ),
        1 => format!("order {i}: not json {}", "y".repeat(pad)),
        _ => format!(
            r#"{{"order_id":"o-{i}","store_id":"s-{}","coffee":"latte","qty":1,"note":"{}"}}"#,
            i % 7,
            "z".repeat(pad)
        ),
    }
}

async fn fill(b: &AwsBroker, q: &QueueRef, n: usize, pad: usize) {
    let batches: Vec<Vec<OutgoingMessage>> = (0..n)
        .collect::<Vec<_>>()
        .chunks(10)
        .map(|c| {
            c.iter()
                .map(|&i| OutgoingMessage {
                    body: body(i, pad),
                    ..OutgoingMessage::default()
                })
                .collect()
        })
        .collect();
    use futures::StreamExt;
    futures::stream::iter(batches)
        .map(|batch| async move { b.send_batch(q, batch).await.expect("fill") })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

/// Peak resident memory of this process so far, in bytes (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn current_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

async fn run(label: &str, endpoint: &str, direct: &AwsBroker, n: usize, pad: usize) {
    let b = broker(endpoint).await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("lzb-triage-{}", &id[..8]);
    let q = create_queue(&name).await;
    fill(direct, &q, n, pad).await;
    let before = current_rss().unwrap_or(0);
    let started = Instant::now();
    let cpu0 = cpu_time();
    let s = scan::scan(&b, &q, n, &|_: &[Message]| {}, &|| false).await;
    let scanned = started.elapsed();
    let grouped_at = Instant::now();
    let groups = group(&s.messages, &GroupBy::Shape);
    let grouping = grouped_at.elapsed();
    let held_rss = current_rss().unwrap_or(0).saturating_sub(before);
    // What the scan holds, counted: the structs and every string they own.
    let held: usize = s
        .messages
        .iter()
        .map(|m| {
            std::mem::size_of::<Message>()
                + m.message_id.capacity()
                + m.receipt_handle.capacity()
                + m.body.capacity()
                + m.dlq_source_arn.as_ref().map_or(0, String::capacity)
                + m.attributes
                    .iter()
                    .map(|(k, v)| k.capacity() + v.value.capacity() + v.data_type.capacity() + 64)
                    .sum::<usize>()
        })
        .sum();
    let bodies: usize = s.messages.iter().map(|m| m.body.len()).sum();
    let cpu = cpu_time().saturating_sub(cpu0);
    let receipts = s
        .messages
        .iter()
        .map(|m| m.receipt_handle.clone())
        .collect();
    let back_at = Instant::now();
    let not_back = scan::give_back(&b, &q, receipts).await;
    let back = back_at.elapsed();
    println!(
        "{label}: scanned {} of {n} in {:.2} s = {:.0} msg/s (complete: {}, error: {:?}); grouped by shape in {:.0} ms into {} groups; gave back in {:.2} s ({not_back} failed); client CPU {:.0} µs/msg",
        s.messages.len(),
        scanned.as_secs_f64(),
        s.messages.len() as f64 / scanned.as_secs_f64(),
        s.complete,
        s.error.as_ref().map(|e| e.to_string()),
        grouping.as_secs_f64() * 1000.0,
        groups.len(),
        back.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / s.messages.len().max(1) as f64,
    );
    println!(
        "{label}: bodies {:.1} MB; held messages {:.1} MB counted ({:.2}× the bodies: structs, ids, receipt handles); RSS grew {:.1} MB (the first run of a process is the honest one: later runs reuse freed memory); peak RSS {:.1} MB",
        bodies as f64 / 1e6,
        held as f64 / 1e6,
        held as f64 / bodies.max(1) as f64,
        held_rss as f64 / 1e6,
        peak_rss().unwrap_or(0) as f64 / 1e6
    );
}

/// A new queue on the server itself (not through the proxy).
async fn create_queue(name: &str) -> QueueRef {
    let endpoint = env_or("LAZYSQS_BENCH_RUSTACK", "http://127.0.0.1:4599");
    let url = direct_sqs(&endpoint)
        .await
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .expect("url")
        .to_string();
    QueueRef {
        name: name.to_string(),
        url,
        place: Default::default(),
    }
}

async fn direct_sqs(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "bench",
        ))
        .load()
        .await;
    aws_sdk_sqs::Client::new(&config)
}

fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    // SAFETY: filled by the successful call above.
    let u = unsafe { usage.assume_init() };
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(u.ru_utime) + t(u.ru_stime)
}

struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

#[tokio::main]
async fn main() {
    let endpoint = env_or("LAZYSQS_BENCH_RUSTACK", "http://127.0.0.1:4599");
    let hostport = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(&endpoint)
        .trim_end_matches('/')
        .to_string();
    if !answers(&hostport) {
        println!("triage bench: skipped, nothing answers at {endpoint}");
        return;
    }
    let n: usize = env_or("LAZYSQS_BENCH_TRIAGE_N", "20000")
        .parse()
        .unwrap_or(20_000);
    let delay: u64 = env_or("LAZYSQS_BENCH_DELAY_MS", "10").parse().unwrap_or(10);
    let pads: Vec<usize> = env_or("LAZYSQS_BENCH_BODY_PAD", "120,900")
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    let direct = broker(&endpoint).await;
    for &pad in &pads {
        run(
            &format!("direct, ~{} B bodies", pad + 80),
            &endpoint,
            &direct,
            n,
            pad,
        )
        .await;
    }
    let target_port = hostport.rsplit(':').next().unwrap_or("4599").to_string();
    let listen = 4611;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/tools/latency_proxy.py"
    );
    let child = Command::new("python3")
        .args([
            script,
            &listen.to_string(),
            &target_port,
            &delay.to_string(),
        ])
        .spawn();
    let Ok(child) = child else {
        println!("triage bench: no latency proxy ({script})");
        return;
    };
    let _proxy = Proxy(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !answers(&format!("127.0.0.1:{listen}")) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let proxied = format!("http://127.0.0.1:{listen}");
    for &pad in &pads {
        let label = format!("{} ms round trip, ~{} B bodies", 2 * delay, pad + 80);
        run(&label, &proxied, &direct, n, pad).await;
    }
}
