//! The configuration file: serde types, defaults and validation.
//!
//! Every option is documented in `config.example.toml`. A broken file gives an
//! error naming the file, the line and the problem.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::keymap::{Action, KeySpec, Keymap};

mod dlq;
pub use dlq::DeclaredDlq;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Refuse every key and command that changes a queue.
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub aws: AwsConfig,
    #[serde(default)]
    pub queues: QueuesConfig,
    #[serde(default)]
    pub refresh: RefreshConfig,
    #[serde(default)]
    pub thresholds: Thresholds,
    #[serde(default, rename = "breaker")]
    pub breakers: Vec<BreakerConfig>,
    #[serde(default, deserialize_with = "key_lists")]
    pub keys: BTreeMap<Action, Vec<String>>,
    #[serde(default)]
    pub display: DisplayConfig,
    #[serde(default)]
    pub demo: DemoConfig,
    #[serde(default)]
    pub browser: BrowserConfig,
    #[serde(default)]
    pub redrive: RedriveConfig,
    #[serde(default)]
    pub triage: TriageConfig,
    /// Queues used as dead-letter queues without a redrive policy (`[[dlq]]`).
    #[serde(default, rename = "dlq")]
    pub dlqs: Vec<DeclaredDlq>,
}

/// Triage: a whole DLQ grouped by cause.
/// Most messages a triage holds unless configured (`[triage] cap`).
pub const DEFAULT_TRIAGE_CAP: usize = 20_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriageConfig {
    /// Most messages a triage scan holds (never more than SQS's in-flight limit).
    #[serde(deserialize_with = "triage_cap")]
    pub cap: usize,
}

impl Default for TriageConfig {
    fn default() -> Self {
        TriageConfig {
            cap: DEFAULT_TRIAGE_CAP,
        }
    }
}

/// Bulk redrive from the dashboard.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedriveConfig {
    /// The rate the `R` dialog proposes, in messages per second.
    #[serde(deserialize_with = "redrive_rate")]
    pub rate: u32,
    /// Start a redrive by itself when a breaker closes and its DLQ holds messages.
    pub auto: bool,
    /// The rate of an automatic redrive.
    #[serde(deserialize_with = "auto_rate")]
    pub auto_rate: u32,
    /// An automatic redrive is a canary: it starts at 1 msg/s, doubles after
    /// each 30 s in which nothing came back, and halts when messages come back.
    pub canary: bool,
}

impl Default for RedriveConfig {
    fn default() -> Self {
        RedriveConfig {
            rate: 10,
            auto: false,
            auto_rate: 5,
            canary: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrowserConfig {
    /// Most messages the message browser holds at once.
    #[serde(deserialize_with = "browse_cap")]
    pub cap: usize,
}

impl Default for BrowserConfig {
    fn default() -> Self {
        BrowserConfig { cap: 500 }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    pub profile: Option<String>,
    #[serde(default, deserialize_with = "one_region")]
    pub region: Option<String>,
    /// Several profiles (accounts) to watch at once, as `--profile` repeated.
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Several regions to watch at once, as `--region` repeated.
    #[serde(default, deserialize_with = "regions")]
    pub regions: Vec<String>,
    pub endpoint_url: Option<String>,
}

impl AwsConfig {
    /// `profile` and `profiles` together, each once.
    pub(crate) fn all_profiles(&self) -> Vec<String> {
        once_each(self.profile.iter().chain(&self.profiles))
    }

    /// `region` and `regions` together, each once.
    pub(crate) fn all_regions(&self) -> Vec<String> {
        once_each(self.region.iter().chain(&self.regions))
    }
}

/// Each string once, in the order first seen.
pub(crate) fn once_each<'a>(items: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in items {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// A region name as AWS spells them: lowercase letters, digits and dashes
/// (`eu-west-1`, `us-gov-west-1`).
pub(crate) fn check_region(name: &str) -> Result<String, String> {
    let ok = !name.is_empty()
        && name.contains('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "{name:?} is not a region name (like us-east-1 or eu-west-1)"
        ))
    }
}

fn one_region<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = String::deserialize(d)?;
    check_region(&v)
        .map(Some)
        .map_err(|e| de::Error::custom(format!("aws.region: {e}")))
}

fn regions<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    v.iter()
        .map(|r| check_region(r).map_err(|e| de::Error::custom(format!("aws.regions: {e}"))))
        .collect()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueuesConfig {
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub prefixes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RefreshConfig {
    /// GetQueueAttributes per queue.
    #[serde(deserialize_with = "attributes_secs")]
    pub attributes_secs: f64,
    /// CloudWatch GetMetricData (the metrics change once a minute).
    #[serde(deserialize_with = "metrics_secs")]
    pub metrics_secs: f64,
    #[serde(deserialize_with = "breakers_secs")]
    pub breakers_secs: f64,
    /// ListQueues, to find new queues.
    #[serde(deserialize_with = "discovery_secs")]
    pub discovery_secs: f64,
    /// Most GetQueueAttributes calls in flight at once.
    #[serde(deserialize_with = "concurrency")]
    pub max_concurrency: usize,
    /// The dashboard's SQS request budget. Queues on screen, the selected one and
    /// flagged ones are polled every `attributes_secs` regardless; the others take
    /// turns with what is left.
    #[serde(deserialize_with = "requests_per_second")]
    pub max_requests_per_second: f64,
    /// How often, at most, a queue that is not on screen, selected or flagged is
    /// polled (the budget may make it longer).
    #[serde(deserialize_with = "others_secs")]
    pub others_secs: f64,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            attributes_secs: 5.0,
            metrics_secs: 60.0,
            breakers_secs: 10.0,
            discovery_secs: 300.0,
            max_concurrency: 32,
            max_requests_per_second: DEFAULT_REQUESTS_PER_SECOND,
            others_secs: 30.0,
        }
    }
}

impl RefreshConfig {
    /// Faster refresh for the demo, whose data is free and changes quickly.
    pub fn demo() -> Self {
        RefreshConfig {
            attributes_secs: 1.0,
            metrics_secs: 2.0,
            breakers_secs: 1.0,
            discovery_secs: 60.0,
            max_concurrency: 32,
            max_requests_per_second: DEFAULT_REQUESTS_PER_SECOND,
            others_secs: 1.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Flag a queue whose oldest message is older than this.
    #[serde(deserialize_with = "max_age_secs")]
    pub max_age_secs: u64,
    /// Flag a backlog when consumption stays below arrival this many samples in a row.
    #[serde(deserialize_with = "growing_samples")]
    pub growing_samples: usize,
    /// Flag a DLQ whose oldest message is this close to the retention period.
    #[serde(deserialize_with = "retention_margin_secs")]
    pub retention_margin_secs: u64,
    /// `check --window`: flag a DLQ receiving more than this many per minute.
    #[serde(deserialize_with = "dlq_inflow")]
    pub dlq_inflow_per_min: Option<f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_age_secs: 300,
            growing_samples: 3,
            retention_margin_secs: 24 * 3600,
            dlq_inflow_per_min: None,
        }
    }
}

/// A circuit breaker shown in the breaker pane.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    pub name: String,
    /// The queue whose consumer the breaker guards.
    pub queue: Option<String>,
    pub source: BreakerSourceConfig,
}

/// Where a breaker's state comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum BreakerSourceConfig {
    /// A CloudWatch alarm: OK → closed, ALARM → open, INSUFFICIENT_DATA → unknown.
    Alarm { alarm: String },
    /// An HTTP health check: a 2xx answer within the timeout → closed. Over
    /// https, the system's roots (and `SSL_CERT_FILE`) are trusted, plus `ca_file`.
    Http {
        http: String,
        timeout_ms: u64,
        ca_file: Option<PathBuf>,
    },
    /// Open when the DLQ received more than `max_messages` in the last `window_minutes`.
    DlqRule {
        dlq: String,
        max_messages: u64,
        window_minutes: u64,
    },
    /// A breaker of the built-in simulation.
    Demo { demo: String },
}

/// A `[[breaker]]` table as written: exactly one source must be given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreaker {
    name: String,
    queue: Option<String>,
    alarm: Option<String>,
    http: Option<String>,
    timeout_ms: Option<u64>,
    ca_file: Option<PathBuf>,
    dlq: Option<String>,
    max_messages: Option<u64>,
    window_minutes: Option<u64>,
    demo: Option<String>,
}

impl TryFrom<RawBreaker> for BreakerConfig {
    type Error = String;

    fn try_from(r: RawBreaker) -> Result<Self, String> {
        if r.name.trim().is_empty() {
            return Err("a [[breaker]] needs a name".into());
        }
        let given = [
            r.alarm.is_some(),
            r.http.is_some(),
            r.dlq.is_some(),
            r.demo.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(format!(
                "breaker {} needs exactly one source: alarm = \"NAME\", http = \"URL\", dlq = \"QUEUE\" (with max_messages and window_minutes), or demo = \"NAME\"",
                r.name
            ));
        }
        let within = |what: &str, v: Option<u64>, min: u64, max: u64| match v {
            Some(v) if !(min..=max).contains(&v) => Err(format!(
                "breaker {}: {what} must be {min} to {max}, not {v}",
                r.name
            )),
            _ => Ok(()),
        };
        within("timeout_ms", r.timeout_ms, 100, 60_000)?;
        within("max_messages", r.max_messages, 0, 1_000_000_000)?;
        within("window_minutes", r.window_minutes, 1, 1440)?;
        if let Some(http) = &r.http
            && !(http.starts_with("http://") || http.starts_with("https://"))
        {
            return Err(format!(
                "breaker {}: http must be an http:// or https:// URL, not {http:?}",
                r.name
            ));
        }
        let source = if let Some(alarm) = r.alarm {
            BreakerSourceConfig::Alarm { alarm }
        } else if let Some(http) = r.http {
            BreakerSourceConfig::Http {
                http,
                timeout_ms: r.timeout_ms.unwrap_or(2000),
                ca_file: r.ca_file,
            }
        } else if let Some(dlq) = r.dlq {
            BreakerSourceConfig::DlqRule {
                dlq,
                max_messages: r.max_messages.unwrap_or(0),
                window_minutes: r.window_minutes.unwrap_or(5).max(1),
            }
        } else {
            BreakerSourceConfig::Demo {
                demo: r.demo.unwrap_or_default(),
            }
        };
        Ok(BreakerConfig {
            name: r.name,
            queue: r.queue,
            source,
        })
    }
}

impl<'de> Deserialize<'de> for BreakerConfig {
    /// Checked inside the table's own deserializer, so an error names the line of
    /// the `[[breaker]]` it is about rather than the first one of the file.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Table;
        impl<'de> Visitor<'de> for Table {
            type Value = BreakerConfig;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a [[breaker]] table")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<BreakerConfig, A::Error> {
                let raw = RawBreaker::deserialize(de::value::MapAccessDeserializer::new(map))?;
                BreakerConfig::try_from(raw).map_err(de::Error::custom)
            }
        }
        d.deserialize_map(Table)
    }
}

// Range checks run as each value is read, so an error names its line and column.
// Every range is documented in config.example.toml.

/// A deserializer that takes a number only within `min..=max` (NaN never).
macro_rules! ranged {
    ($fn:ident, $ty:ty, $name:literal, $min:expr, $max:expr, $unit:literal) => {
        fn $fn<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
            let v = <$ty>::deserialize(d)?;
            if ($min..=$max).contains(&v) {
                Ok(v)
            } else {
                Err(de::Error::custom(format!(
                    "{} must be {} to {}{}, not {v}",
                    $name, $min, $max, $unit
                )))
            }
        }
    };
}

ranged!(
    attributes_secs,
    f64,
    "refresh.attributes_secs",
    0.2,
    3600.0,
    " seconds"
);
ranged!(
    metrics_secs,
    f64,
    "refresh.metrics_secs",
    1.0,
    3600.0,
    " seconds"
);
ranged!(
    breakers_secs,
    f64,
    "refresh.breakers_secs",
    0.2,
    3600.0,
    " seconds"
);
ranged!(
    discovery_secs,
    f64,
    "refresh.discovery_secs",
    1.0,
    86400.0,
    " seconds"
);
ranged!(concurrency, usize, "refresh.max_concurrency", 1, 256, "");
ranged!(
    requests_per_second,
    f64,
    "refresh.max_requests_per_second",
    0.5,
    10000.0,
    " requests a second"
);

ranged!(
    others_secs,
    f64,
    "refresh.others_secs",
    1.0,
    86400.0,
    " seconds"
);

/// `[refresh] max_requests_per_second` by default: 20 a second is about $0.70 a day.
pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 20.0;
ranged!(
    max_age_secs,
    u64,
    "thresholds.max_age_secs",
    1,
    1_209_600,
    " seconds"
);
ranged!(
    growing_samples,
    usize,
    "thresholds.growing_samples",
    1,
    1000,
    ""
);
ranged!(
    retention_margin_secs,
    u64,
    "thresholds.retention_margin_secs",
    0,
    1_209_600,
    " seconds"
);
fn dlq_inflow<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    if (0.0..=1_000_000.0).contains(&v) {
        Ok(Some(v))
    } else {
        Err(de::Error::custom(format!(
            "thresholds.dlq_inflow_per_min must be 0 to 1000000 messages/min, not {v}"
        )))
    }
}

ranged!(browse_cap, usize, "browser.cap", 1, 10_000, " messages");
ranged!(triage_cap, usize, "triage.cap", 1, 120_000, " messages");
ranged!(redrive_rate, u32, "redrive.rate", 1, 10_000, " messages/s");
ranged!(
    auto_rate,
    u32,
    "redrive.auto_rate",
    1,
    10_000,
    " messages/s"
);

/// The demo's speed: model seconds per real second, above 0 and at most this.
pub(crate) const MAX_SPEED: f64 = 1000.0;

/// Checks a demo speed (the config's `demo.speed` and `--speed`).
pub(crate) fn check_speed(v: f64) -> Result<f64, String> {
    if v > 0.0 && v <= MAX_SPEED {
        Ok(v)
    } else {
        Err(format!(
            "the speed must be above 0 and at most {MAX_SPEED}, not {v}"
        ))
    }
}

fn speed<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    check_speed(v)
        .map(Some)
        .map_err(|e| de::Error::custom(format!("demo.speed: {e}")))
}

/// Key bindings, each key checked where it is written.
fn key_lists<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<Action, Vec<String>>, D::Error> {
    struct KeyList(Vec<String>);
    impl<'de> Deserialize<'de> for KeyList {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let keys = Vec::<String>::deserialize(d)?;
            for k in &keys {
                KeySpec::parse(k).map_err(de::Error::custom)?;
            }
            Ok(KeyList(keys))
        }
    }
    let lists = BTreeMap::<Action, KeyList>::deserialize(d)?;
    Ok(lists.into_iter().map(|(a, KeyList(k))| (a, k)).collect())
}

impl BreakerSourceConfig {
    pub fn describe(&self) -> String {
        match self {
            BreakerSourceConfig::Alarm { alarm } => format!("alarm {alarm}"),
            BreakerSourceConfig::Http { http, .. } => format!("GET {}", crate::redact::url(http)),
            BreakerSourceConfig::DlqRule {
                dlq,
                max_messages,
                window_minutes,
            } => format!("{dlq} > {max_messages} in {window_minutes} min"),
            BreakerSourceConfig::Demo { .. } => "simulation".to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplayConfig {
    pub theme: Option<String>,
    /// Fields masked in every view and export: names (at any depth) or dotted
    /// JSON paths from the root.
    #[serde(default)]
    pub redact: Vec<String>,
    /// Start in presentation mode.
    #[serde(default)]
    pub present: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// A scenario file to run instead of the built-in coffee shop.
    pub scenario: Option<PathBuf>,
    /// Model seconds per real second.
    #[serde(default, deserialize_with = "speed")]
    pub speed: Option<f64>,
}

/// A configuration problem, told the way a user can act on it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates `text`; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| parse_error(path, text, &e))?;
        config.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(config)
    }

    /// What cannot be checked value by value (ranges are, as they are read).
    fn validate(&self) -> Result<(), String> {
        for b in &self.breakers {
            if b.name.trim().is_empty() {
                return Err("a [[breaker]] needs a name".into());
            }
        }
        self.keymap().map(|_| ())
    }

    /// The default keymap with this file's overrides applied.
    pub fn keymap(&self) -> Result<Keymap, String> {
        let mut keymap = Keymap::default();
        for (action, keys) in &self.keys {
            let specs = keys
                .iter()
                .map(|k| KeySpec::parse(k).map_err(|e| format!("keys.{action}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            keymap.set(*action, specs);
        }
        Ok(keymap)
    }

    /// The default place for the config file.
    pub(crate) fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("lazysqs").join("config.toml"))
    }
}

/// A TOML error as "file:line:column: problem".
pub(crate) fn parse_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
    ConfigError::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message: e.message().trim().to_string(),
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
