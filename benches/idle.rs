//! Idle cost of the dashboard: CPU time and redraws of the real binary in a
//! pseudo-terminal, with nobody at the keyboard.
//!
//! `cargo bench --bench idle` runs the release binary on the demo at 160×48 and,
//! for each phase, reads the process's CPU time from `/proc/PID/stat` over a
//! window (30 s by default; `LAZYSQS_IDLE_SECS=60` for longer) and counts the
//! frames it drew (each frame ends by hiding the cursor). Phases:
//!
//! - `demo`: the simulation running, so the figures change every second;
//! - `paused`: the simulation paused with `p`, so nothing changes but the clock;
//! - `endpoint`: only when `LAZYSQS_TEST_ENDPOINT` names an SQS-compatible server
//!   (e.g. `scripts/local-sqs.sh start`): the AWS backend at its default refresh
//!   intervals, watching whatever queues the server has;
//! - `queues-N`: with that server, N new empty queues (`LAZYSQS_IDLE_QUEUES`,
//!   default `50,2000`) watched at 200×60 with default settings, measured after
//!   the first sweep; the peak RSS (VmHWM) is printed too.
//!
//! Targets: the demo well under 1% of one core; 50 idle queues ≤ 0.5%, 2,000 ≤ 2%
//! and ≤ 60 MB.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Launch, Pty, WAIT};

/// A frame, as ratatui ends it when no cursor is shown: hide the cursor.
const FRAME_END: &[u8] = b"\x1b[?25l";

fn main() {
    let secs: u64 = std::env::var("LAZYSQS_IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let window = Duration::from_secs(secs);

    let mut pty = Launch::new(["--demo"]).spawn();
    pty.wait_for("the demo's queues with figures", WAIT, |s| {
        let text = s.contents();
        (text.contains("orders-dlq") && text.contains("CLOSED")).then_some(())
    });
    // Let start-up work (first polls, first metrics) settle.
    std::thread::sleep(Duration::from_secs(3));

    println!("lazysqs idle cost over {secs} s per phase (160x48, release build)");
    report("demo", measure(&pty, window));

    pty.send("p");
    pty.wait_for_text("simulation paused", WAIT);
    std::thread::sleep(Duration::from_secs(2));
    report("paused", measure(&pty, window));

    pty.send("q");
    let status = pty.wait_exit(WAIT);
    assert!(status.success(), "lazysqs exited with {status}");

    if let Ok(endpoint) = std::env::var("LAZYSQS_TEST_ENDPOINT") {
        let mut pty = Launch::new(["--endpoint-url", &endpoint, "--region", "us-east-1"])
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .spawn();
        pty.wait_for("the first poll's answer", WAIT, |s| {
            let text = s.contents();
            (text.contains("refreshed") || text.contains("no queues match")).then_some(())
        });
        std::thread::sleep(Duration::from_secs(3));
        report("endpoint", measure(&pty, window));
        pty.send("q");
        let status = pty.wait_exit(WAIT);
        assert!(status.success(), "lazysqs exited with {status}");
        let counts = std::env::var("LAZYSQS_IDLE_QUEUES").unwrap_or_else(|_| "50,2000".into());
        for n in counts
            .split(',')
            .filter_map(|c| c.trim().parse::<usize>().ok())
        {
            idle_queues(&endpoint, n, window);
        }
    }
}

/// `n` new empty queues on `endpoint`, watched by the binary at 200×60.
fn idle_queues(endpoint: &str, n: usize, window: Duration) {
    let prefix = format!(
        "idle{n}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "bench",
            ))
            .load()
            .await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let names: Vec<String> = (0..n).map(|i| format!("{prefix}-{i:05}")).collect();
        for chunk in names.chunks(50) {
            let made = chunk
                .iter()
                .map(|name| sqs.create_queue().queue_name(name).send());
            for r in futures::future::join_all(made).await {
                r.expect("create queue");
            }
        }
    });
    let mut pty = Launch::new([
        "--endpoint-url",
        endpoint,
        "--region",
        "us-east-1",
        "--prefix",
        &prefix,
    ])
    .size(60, 200)
    .env("AWS_ACCESS_KEY_ID", "test")
    .env("AWS_SECRET_ACCESS_KEY", "test")
    .env("AWS_EC2_METADATA_DISABLED", "true")
    .spawn();
    let title = format!("Queues ({n})");
    pty.wait_for_text(&title, Duration::from_secs(120));
    // The first sweep reads every queue once, outside the budget's turns.
    std::thread::sleep(Duration::from_secs(20));
    let phase = format!("queues-{n}");
    report(&phase, measure(&pty, window));
    let pid = pty.pid().expect("pid");
    println!(
        "idle/{phase:<7} peak RSS {:.1} MB",
        peak_rss_kb(pid) as f64 / 1024.0
    );
    pty.send("q");
    let status = pty.wait_exit(WAIT);
    assert!(status.success(), "lazysqs exited with {status}");
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Sample {
    cpu: Duration,
    wall: Duration,
    frames: usize,
    bytes: usize,
}

fn measure(pty: &Pty, window: Duration) -> Sample {
    let pid = pty.pid().expect("the child's pid");
    let (cpu0, out0, t0) = (cpu_time(pid), pty.output(), Instant::now());
    std::thread::sleep(window);
    let (cpu1, out1, wall) = (cpu_time(pid), pty.output(), t0.elapsed());
    let new = &out1[out0.len()..];
    Sample {
        cpu: cpu1.saturating_sub(cpu0),
        wall,
        frames: new
            .windows(FRAME_END.len())
            .filter(|w| *w == FRAME_END)
            .count(),
        bytes: new.len(),
    }
}

fn report(phase: &str, s: Sample) {
    let wall = s.wall.as_secs_f64();
    println!(
        "idle/{phase:<7} cpu {:>6.3}% of one core ({:.0} ms in {wall:.1} s), {:.2} frames/s, {:.0} bytes/s to the terminal",
        100.0 * s.cpu.as_secs_f64() / wall,
        s.cpu.as_secs_f64() * 1000.0,
        s.frames as f64 / wall,
        s.bytes as f64 / wall,
    );
}

/// User plus system CPU time of a process, all its threads, from `/proc/PID/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // The command name, in parentheses, may hold spaces: count fields after it.
    let after = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the line (utime, stime) are 12 and 13 after the name.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / per_sec)
}
