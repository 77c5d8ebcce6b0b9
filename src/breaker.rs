//! Circuit breakers: their states, and the sources a breaker's state is read from.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::broker::{AlarmState, Broker, BrokerError, BrokerResult};
use crate::config::{BreakerConfig, BreakerSourceConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
    Unknown,
}

impl BreakerState {
    pub fn label(self) -> &'static str {
        match self {
            BreakerState::Closed => "CLOSED",
            BreakerState::Open => "OPEN",
            BreakerState::HalfOpen => "HALF-OPEN",
            BreakerState::Unknown => "unknown",
        }
    }
}

impl From<AlarmState> for BreakerState {
    fn from(a: AlarmState) -> Self {
        match a {
            AlarmState::Ok => BreakerState::Closed,
            AlarmState::Alarm => BreakerState::Open,
            AlarmState::InsufficientData => BreakerState::Unknown,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub from: BreakerState,
    pub to: BreakerState,
    pub reason: String,
}

/// One reading of a breaker's state.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerReading {
    pub state: BreakerState,
    /// When the state began, if the source knows.
    pub since: Option<DateTime<Utc>>,
    /// What the reading says beyond the state ("HTTP 503", "alarm ALARM").
    pub detail: String,
    /// The full transition history, when the source keeps one (the simulation).
    pub transitions: Option<Vec<Transition>>,
}

/// The breakers of the built-in simulation, as the demo's connection gives them.
pub trait DemoBreakers: Send + Sync {
    fn reading(&self, name: &str) -> Option<BreakerReading>;
}

/// Reads a breaker whose state comes from outside lazysqs's own data: a demo
/// breaker, a CloudWatch alarm, or an HTTP health check. A DLQ-rule breaker is
/// judged from queue history by the app and is never read here.
/// `demo` is the simulation's breakers, when the demo runs.
pub async fn read(
    broker: &dyn Broker,
    demo: Option<&dyn DemoBreakers>,
    cfg: &BreakerConfig,
) -> BrokerResult<BreakerReading> {
    match &cfg.source {
        BreakerSourceConfig::Demo { demo: name } => demo
            .and_then(|d| d.reading(name))
            .ok_or_else(|| BrokerError::NotFound(format!("demo breaker {name}"))),
        BreakerSourceConfig::Alarm { alarm } => {
            let state = broker.alarm_state(alarm).await?;
            Ok(BreakerReading {
                state: state.into(),
                since: None,
                detail: format!("alarm {alarm} is {state:?}"),
                transitions: None,
            })
        }
        BreakerSourceConfig::Http {
            http,
            timeout_ms,
            ca_file,
        } => Ok(http_check(http, Duration::from_millis(*timeout_ms), ca_file.as_deref()).await),
        BreakerSourceConfig::DlqRule { dlq, .. } => Err(BrokerError::Unsupported(format!(
            "the rule on {dlq} is judged from queue history"
        ))),
    }
}

/// A client for health checks; an error says what is wrong with the CA files.
fn http_client(timeout: Duration, ca_file: Option<&Path>) -> Result<reqwest::Client, String> {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        // Another part of the process may have installed one first: fine.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
    let mut builder = reqwest::Client::builder().timeout(timeout);
    let env_file = std::env::var_os("SSL_CERT_FILE")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from);
    for (what, file) in [("SSL_CERT_FILE", env_file.as_deref()), ("ca_file", ca_file)] {
        let Some(file) = file else { continue };
        let pem = std::fs::read(file)
            .map_err(|e| format!("TLS: cannot read {what} {}: {e}", file.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            format!(
                "TLS: {what} {} is not PEM certificates: {e}",
                file.display()
            )
        })?;
        if certs.is_empty() {
            return Err(format!(
                "TLS: {what} {} holds no certificate",
                file.display()
            ));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| format!("TLS: cannot set up the HTTP client: {e}"))
}

/// What failed, in the words a user can act on: DNS, refused, timeout, TLS.
fn http_error(e: &reqwest::Error, url: &str, timeout: Duration) -> String {
    let mut chain = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        chain.push(err.to_string());
        source = err.source();
    }
    let text = chain.join(": ").to_lowercase();
    let cause = chain.last().cloned().unwrap_or_default();
    if e.is_timeout() || text.contains("timed out") {
        format!(
            "timeout: no answer from {url} within {} ms",
            timeout.as_millis()
        )
    } else if text.contains("dns error") || text.contains("failed to lookup") {
        format!("DNS: cannot resolve the host of {url} ({cause})")
    } else if text.contains("certificate")
        || text.contains("tls")
        || text.contains("handshake")
        || text.contains("peer")
    {
        format!("TLS: {cause} ({url})")
    } else if text.contains("connection refused") {
        format!("refused: nothing listens at {url}")
    } else if e.is_connect() {
        format!("cannot connect to {url}: {cause}")
    } else {
        format!("{url}: {cause}")
    }
}

/// Judges a DLQ-rule breaker ("OPEN when the DLQ received more than `max_messages`
/// in the last `window_minutes`") from what a single poll can see, for `snapshot`
/// and `check`; the dashboard judges the same rule from the depth history it keeps.
/// One poll sees the DLQ's depth now and, where the metrics have it, the age of its
/// oldest message:
///
/// - depth ≤ `max_messages` → CLOSED. (Messages that arrived and were removed within
///   the window cannot be seen by one poll.)
/// - depth > `max_messages` and the oldest message younger than the window → OPEN:
///   every message it holds arrived within the window, so more than `max_messages` did.
/// - otherwise → UNKNOWN: one poll cannot tell when the messages arrived.
pub fn judge_dlq_rule_once(
    dlq: &str,
    depth: u64,
    oldest: Option<Duration>,
    max_messages: u64,
    window_minutes: u64,
) -> BreakerReading {
    let window = Duration::from_secs(window_minutes.saturating_mul(60));
    let (state, detail) = if depth <= max_messages {
        (
            BreakerState::Closed,
            format!("{dlq} holds {depth} (at most {max_messages})"),
        )
    } else if oldest.is_some_and(|age| age < window) {
        (
            BreakerState::Open,
            format!("{dlq} holds {depth}, all from the last {window_minutes} min"),
        )
    } else {
        (
            BreakerState::Unknown,
            format!(
                "{dlq} holds {depth} (over {max_messages}); one poll cannot tell how many \
                 arrived in the last {window_minutes} min"
            ),
        )
    };
    BreakerReading {
        state,
        since: None,
        detail,
        transitions: None,
    }
}

/// GET `url`: a 2xx answer within the timeout means the dependency is healthy.
/// Over https it trusts the platform's roots, the file `SSL_CERT_FILE` names (as
/// curl and the AWS CLI do) and the breaker's own `ca_file`.
async fn http_check(url: &str, timeout: Duration, ca_file: Option<&Path>) -> BreakerReading {
    let shown = crate::redact::url(url);
    let result = async {
        let client = http_client(timeout, ca_file)?;
        client
            .get(url)
            .send()
            .await
            .map_err(|e| http_error(&e, &shown, timeout))
    }
    .await;
    match result {
        Ok(resp) if resp.status().is_success() => BreakerReading {
            state: BreakerState::Closed,
            since: None,
            detail: format!("HTTP {}", resp.status().as_u16()),
            transitions: None,
        },
        Ok(resp) => BreakerReading {
            state: BreakerState::Open,
            since: None,
            detail: format!("HTTP {}", resp.status().as_u16()),
            transitions: None,
        },
        Err(e) => BreakerReading {
            state: BreakerState::Open,
            since: None,
            detail: e,
            transitions: None,
        },
    }
}
