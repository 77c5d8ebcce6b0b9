//! A fault-injecting HTTP proxy between lazysqs and LocalStack, for the tests of
//! faults in the network.
//!
//! It reads each HTTP/1.1 request (headers and a Content-Length body), and by a
//! seeded RNG either forwards it to the server and relays the answer, or injects one
//! of four faults: a throttling error (HTTP 400, `x-amzn-query-error:
//! Throttling;Sender`), an HTTP 500, a reset connection, or a stalled answer (no
//! answer for longer than lazysqs's timeouts). Half the faults happen *before*
//! forwarding (the server never saw the call), half *after* (the server did it,
//! the client saw an error): the second kind is what makes duplicates possible.
//! One request per connection: LocalStack answers with `Connection: close` anyway.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What went wrong on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Throttle,
    ServerError,
    Reset,
    Stall,
}

/// When: before the server saw the call, or after it did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum When {
    Before,
    After,
}

/// How the proxy misbehaves.
#[derive(Debug, Clone)]
pub struct Faults {
    /// The share of calls faulted, 0–1.
    pub rate: f64,
    pub seed: u64,
    /// How long a stalled answer is withheld before the connection is dropped.
    pub stall: Duration,
    /// Operations (the `X-Amz-Target` suffix) never faulted *after* the server did
    /// them.
    pub never_after: Vec<&'static str>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate: 0.10,
            seed: 25,
            stall: Duration::from_secs(12),
            never_after: Vec::new(),
        }
    }
}

/// What the proxy saw and did.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Calls by operation.
    pub calls: BTreeMap<String, u64>,
    /// Faults injected by (kind, when, operation).
    pub faults: BTreeMap<(Kind, When, String), u64>,
    /// Calls that were an SDK retry (`amz-sdk-request: attempt=2` or more).
    pub sdk_retry_attempts: u64,
    /// Entries of SendMessageBatch calls faulted after the server took them.
    pub sent_entries_faulted_after: u64,
}

impl Tally {
    pub fn total_faults(&self) -> u64 {
        self.faults.values().sum()
    }

    pub fn by_kind(&self) -> BTreeMap<Kind, u64> {
        let mut out = BTreeMap::new();
        for ((k, _, _), n) in &self.faults {
            *out.entry(*k).or_default() += n;
        }
        out
    }

    pub fn by_when(&self) -> BTreeMap<When, u64> {
        let mut out = BTreeMap::new();
        for ((_, w, _), n) in &self.faults {
            *out.entry(*w).or_default() += n;
        }
        out
    }
}

struct Shared {
    upstream: SocketAddr,
    faults: Faults,
    rng: Mutex<StdRng>,
    tally: Mutex<Tally>,
}

/// A running proxy; it stops when dropped.
pub struct FaultProxy {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Listens on 127.0.0.1 (a free port) in front of `upstream`
    /// (`http://127.0.0.1:4566`).
    pub async fn start(upstream: &str, faults: Faults) -> FaultProxy {
        let host = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let upstream: SocketAddr = tokio::net::lookup_host(&host)
            .await
            .expect("resolve upstream")
            .next()
            .expect("an upstream address");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared {
            upstream,
            rng: Mutex::new(StdRng::seed_from_u64(faults.seed)),
            faults,
            tally: Mutex::new(Tally::default()),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(s.clone(), conn));
            }
        });
        FaultProxy { url, shared, task }
    }

    pub fn tally(&self) -> Tally {
        self.shared.tally.lock().expect("tally").clone()
    }
}

/// One request: its bytes, operation, SDK attempt number and entry count.
struct Request {
    bytes: Vec<u8>,
    op: String,
    attempt: u32,
    entries: u64,
}

async fn read_request(conn: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let op = header("x-amz-target")
        .and_then(|t| t.rsplit('.').next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    let attempt = header("amz-sdk-request")
        .and_then(|v| {
            v.split(';')
                .find_map(|p| p.trim().strip_prefix("attempt=")?.parse().ok())
        })
        .unwrap_or(1);
    let body = String::from_utf8_lossy(&buf[head_end..]);
    let entries = body.matches("\"Id\"").count() as u64;
    Some(Request {
        bytes: buf,
        op,
        attempt,
        entries,
    })
}

/// Sends `req` to the server and reads its whole answer (it closes the connection).
async fn forward(upstream: SocketAddr, req: &[u8]) -> Option<Vec<u8>> {
    let mut up = TcpStream::connect(upstream).await.ok()?;
    up.write_all(req).await.ok()?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer).await.ok()?;
    Some(answer)
}

fn error_answer(status: &str, code: &str, fault: &str) -> Vec<u8> {
    let body = format!(
        r#"{{"__type":"com.amazonaws.sqs#{code}","message":"injected by the test proxy"}}"#
    );
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         x-amzn-query-error: {code};{fault}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn serve(s: Arc<Shared>, mut conn: TcpStream) {
    let Some(req) = read_request(&mut conn).await else {
        return;
    };
    let fault = {
        let mut rng = s.rng.lock().expect("rng");
        if rng.random_bool(s.faults.rate) {
            let kind = match rng.random_range(0..4) {
                0 => Kind::Throttle,
                1 => Kind::ServerError,
                2 => Kind::Reset,
                _ => Kind::Stall,
            };
            let after = rng.random_bool(0.5) && !s.faults.never_after.contains(&req.op.as_str());
            Some((kind, if after { When::After } else { When::Before }))
        } else {
            None
        }
    };
    {
        let mut t = s.tally.lock().expect("tally");
        *t.calls.entry(req.op.clone()).or_default() += 1;
        if req.attempt > 1 {
            t.sdk_retry_attempts += 1;
        }
        if let Some((kind, when)) = fault {
            *t.faults.entry((kind, when, req.op.clone())).or_default() += 1;
            if when == When::After && req.op == "SendMessageBatch" {
                t.sent_entries_faulted_after += req.entries;
            }
        }
    }
    if let Some((_, When::After)) = fault {
        // The server does it; the client hears of a fault instead.
        let _ = forward(s.upstream, &req.bytes).await;
    }
    match fault {
        None => {
            if let Some(answer) = forward(s.upstream, &req.bytes).await {
                let _ = conn.write_all(&answer).await;
                let _ = conn.shutdown().await;
            }
        }
        Some((Kind::Throttle, _)) => {
            let _ = conn
                .write_all(&error_answer("400 Bad Request", "Throttling", "Sender"))
                .await;
            let _ = conn.shutdown().await;
        }
        Some((Kind::ServerError, _)) => {
            let _ = conn
                .write_all(&error_answer(
                    "500 Internal Server Error",
                    "InternalError",
                    "Receiver",
                ))
                .await;
            let _ = conn.shutdown().await;
        }
        Some((Kind::Reset, _)) => {
            #[allow(deprecated)]
            let _ = conn.set_linger(Some(Duration::ZERO));
            drop(conn);
        }
        Some((Kind::Stall, _)) => {
            tokio::time::sleep(s.faults.stall).await;
            drop(conn);
        }
    }
}
