//! An endpoint that accepts the connection and never answers: every call ends
//! within its timeout, the dashboard keeps taking keys and quits at once, and the
//! headless commands exit 2 in time.

mod common;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Launch;

/// A TCP listener on loopback that takes every connection and never replies.
/// It lives as long as the test process.
fn silent_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    format!("http://{addr}")
}

fn headless(args: &[&str]) -> (std::process::Output, Duration) {
    let home = tempfile::tempdir().expect("home");
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run lazysqs");
    (out, start.elapsed())
}

#[test]
fn headless_commands_exit_2_within_30_seconds() {
    let endpoint = silent_endpoint();
    for args in [
        vec!["snapshot", "--endpoint-url", &endpoint],
        vec!["check", "--endpoint-url", &endpoint],
        vec![
            "redrive",
            "--from",
            "orders-dlq",
            "--yes",
            "--endpoint-url",
            &endpoint,
        ],
    ] {
        let (out, took) = headless(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(took < Duration::from_secs(30), "{args:?} took {took:?}");
        assert!(
            stderr.contains("timed out") || stderr.contains("unreachable"),
            "{args:?} says why: {stderr}"
        );
    }
}

#[test]
fn the_dashboard_keeps_taking_keys_and_quits_within_5_seconds() {
    let endpoint = silent_endpoint();
    let mut pty = Launch::new(["--endpoint-url", endpoint.as_str()])
        .size(24, 80)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .spawn();
    pty.wait_for_text("Queues", common::WAIT);
    // Keys work while the first calls hang: help opens and closes.
    pty.send("?");
    pty.wait_for_text("Esc closes)", Duration::from_secs(5));
    pty.send("\x1b");
    // The failed discovery is said on screen, not shown as an empty, healthy list.
    pty.wait_for(
        "the endpoint marked as failing",
        Duration::from_secs(40),
        |s| {
            let text = s.contents();
            (text.contains("timed out") || text.contains("unreachable") || text.contains("stale"))
                .then_some(())
        },
    );
    let asked = Instant::now();
    pty.send("q");
    let status = pty.wait_exit(Duration::from_secs(10));
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "quit took {:?}",
        asked.elapsed()
    );
    assert_eq!(status.exit_code(), 0, "{}", pty.report());
    pty.assert_terminal_restored();
}
