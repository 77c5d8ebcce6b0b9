//! Several regions and accounts from one run, against LocalStack (which keeps
//! regions apart, and takes a 12-digit access key id as the account id).
//!
//! - `--region us-east-1 --region eu-west-1`: both regions' queues, each with its
//!   region, and each DLQ link within its own region (the names are the same in both);
//! - two profiles with different accounts: each queue with its own account;
//! - a requeue, and a headless redrive, in the second region arrive there;
//! - a profile whose endpoint is down: the others are listed, it is named.
//!
//! They read `LAZYSQS_TEST_ENDPOINT` (e.g. `http://127.0.0.1:4566`): without it they
//! skip with a printed reason on a developer's machine, and fail in CI (`CI` set).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use aws_config::BehaviorVersion;
use aws_sdk_sqs::config::{Credentials, Region};
use aws_sdk_sqs::types::QueueAttributeName;
use lazysqs::broker::aws::AwsOptions;
use lazysqs::broker::{Place, QueueSelection};
use lazysqs::connect::connect_all;
use lazysqs::recovery::audit::Audit;
use lazysqs::recovery::{RequeueOutcome, RequeueRequest, requeue};

mod localstack;

const SUITE: &str = "the LocalStack region tests";
const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";
const ALPHA: &str = "111111111111";
const BETA: &str = "222222222222";

/// A plain client in `region`, as the account `key` names (LocalStack's rule).
async fn sqs_in(endpoint: &str, region: &str, key: &str) -> aws_sdk_sqs::Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(key, "test", None, None, "tests"))
        .load()
        .await;
    aws_sdk_sqs::Client::new(&config)
}

async fn create(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url")
}

/// `source` sending its failures to `dlq`, and `n` messages in the DLQ.
async fn orders_with_dlq(sqs: &aws_sdk_sqs::Client, prefix: &str, n: usize) -> (String, String) {
    let (source, dlq) = localstack::create_with_dlq(
        sqs,
        &format!("{prefix}-orders"),
        &format!("{prefix}-orders-dlq"),
        3,
    )
    .await;
    for i in 0..n {
        sqs.send_message()
            .queue_url(&dlq)
            .message_body(format!(r#"{{"n":{i}}}"#))
            .send()
            .await
            .expect("send");
    }
    (source, dlq)
}

async fn visible(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .expect("attributes");
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|v| v.parse().ok())
        .expect("a count")
}

/// Runs the binary with `args`, its AWS files in `aws_dir` (none: no AWS files at
/// all, so an endpoint gets the local test credentials).
fn lazysqs(aws_dir: Option<&Path>, args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("tempdir");
    let file = |name: &str| match aws_dir {
        Some(d) => d.join(name),
        None => home.path().join("none"),
    };
    Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .args(["--config", "/dev/null", "--log-file"])
        .arg(home.path().join("lazysqs.log"))
        .args(args)
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME")
        .env("AWS_CONFIG_FILE", file("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", file("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("LAZYSQS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .expect("run lazysqs")
}

fn snapshot_json(out: &Output) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// The snapshot's queue called `name` in `region`.
fn queue<'a>(v: &'a serde_json::Value, name: &str, region: &str) -> &'a serde_json::Value {
    v["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .find(|q| q["name"] == name && q["region"] == region)
        .unwrap_or_else(|| panic!("no {name} in {region}: {v:#}"))
}

/// An AWS config and credentials file with a profile for each (name, account key,
/// region, endpoint).
fn aws_files(profiles: &[(&str, &str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = String::new();
    let mut credentials = String::new();
    for (name, key, region, endpoint) in profiles {
        config.push_str(&format!(
            "[profile {name}]\nregion = {region}\nendpoint_url = {endpoint}\n\n"
        ));
        credentials.push_str(&format!(
            "[{name}]\naws_access_key_id = {key}\naws_secret_access_key = test\n\n"
        ));
    }
    std::fs::write(dir.path().join("config"), config).expect("config");
    std::fs::write(dir.path().join("credentials"), credentials).expect("credentials");
    dir
}

#[tokio::test]
async fn two_regions_from_one_run_each_with_its_own_dlq_links() {
    let Some(endpoint) = localstack::endpoint(SUITE, "two_regions") else {
        return;
    };
    let prefix = localstack::unique_prefix("lzt-regions");
    let east = sqs_in(&endpoint, EAST, "test").await;
    let west = sqs_in(&endpoint, WEST, "test").await;
    orders_with_dlq(&east, &prefix, 2).await;
    orders_with_dlq(&west, &prefix, 4).await;

    let both = |args: &[&str]| {
        let mut all = vec![
            "--endpoint-url",
            &endpoint,
            "--region",
            EAST,
            "--region",
            WEST,
            "--prefix",
            &prefix,
            "snapshot",
            "--no-metrics",
        ];
        all.extend(args);
        lazysqs(None, &all)
    };
    let v = snapshot_json(&both(&["--json"]));
    assert_eq!(v["queues"].as_array().expect("queues").len(), 4, "{v:#}");
    assert_eq!(v["listing_errors"], serde_json::json!([]));
    let orders = format!("{prefix}-orders");
    let dlq = format!("{prefix}-orders-dlq");
    for (region, depth) in [(EAST, 2), (WEST, 4)] {
        let q = queue(&v, &orders, region);
        assert_eq!(q["dlq"], dlq.as_str());
        assert_eq!(q["dlq_depth"], depth, "{region}: {q:#}");
        assert_eq!(q["account"], "000000000000");
        let d = queue(&v, &dlq, region);
        assert_eq!(d["depth"], depth);
        assert_eq!(d["dlq_sources"], serde_json::json!([orders.as_str()]));
    }

    // The table names each queue's region, since the names repeat.
    let out = both(&[]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains(&format!("{dlq} ({WEST})")), "{table}");
    assert!(table.contains(&format!("{dlq} ({EAST})")), "{table}");
}

#[tokio::test]
async fn two_profiles_each_list_their_own_account() {
    let Some(endpoint) = localstack::endpoint(SUITE, "two_profiles") else {
        return;
    };
    let prefix = localstack::unique_prefix("lzt-accounts");
    let alpha = sqs_in(&endpoint, EAST, ALPHA).await;
    let beta = sqs_in(&endpoint, EAST, BETA).await;
    create(&alpha, &format!("{prefix}-shared")).await;
    create(&alpha, &format!("{prefix}-only-alpha")).await;
    let shared_beta = create(&beta, &format!("{prefix}-shared")).await;
    beta.send_message()
        .queue_url(&shared_beta)
        .message_body("in beta")
        .send()
        .await
        .expect("send");

    let files = aws_files(&[
        ("alpha", ALPHA, EAST, &endpoint),
        ("beta", BETA, EAST, &endpoint),
    ]);
    let out = lazysqs(
        Some(files.path()),
        &[
            "--profile",
            "alpha",
            "--profile",
            "beta",
            "--prefix",
            &prefix,
            "snapshot",
            "--json",
            "--no-metrics",
        ],
    );
    let v = snapshot_json(&out);
    let queues = v["queues"].as_array().expect("queues");
    let found: Vec<(String, String, u64)> = queues
        .iter()
        .map(|q| {
            (
                q["name"].as_str().unwrap_or_default().to_string(),
                q["account"].as_str().unwrap_or_default().to_string(),
                q["depth"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    let mut want = vec![
        (format!("{prefix}-only-alpha"), ALPHA.to_string(), 0),
        (format!("{prefix}-shared"), ALPHA.to_string(), 0),
        (format!("{prefix}-shared"), BETA.to_string(), 1),
    ];
    let mut found_sorted = found.clone();
    found_sorted.sort();
    want.sort();
    assert_eq!(found_sorted, want, "{v:#}");
}

#[tokio::test]
async fn a_requeue_and_a_redrive_in_the_second_region_arrive_there() {
    let Some(endpoint) = localstack::endpoint(SUITE, "second_region") else {
        return;
    };
    let prefix = localstack::unique_prefix("lzt-second");
    let east = sqs_in(&endpoint, EAST, "test").await;
    let west = sqs_in(&endpoint, WEST, "test").await;
    let (east_orders, east_dlq) = orders_with_dlq(&east, &prefix, 3).await;
    let (west_orders, west_dlq) = orders_with_dlq(&west, &prefix, 3).await;

    let places: Vec<AwsOptions> = [EAST, WEST]
        .iter()
        .map(|r| AwsOptions {
            profile: None,
            region: Some(r.to_string()),
            endpoint_url: Some(endpoint.clone()),
        })
        .collect();
    let broker = connect_all(&places).await.expect("connect");
    let listed = broker
        .list_queues(&QueueSelection {
            names: Vec::new(),
            prefixes: vec![prefix.clone()],
            place: None,
        })
        .await
        .expect("list");
    assert_eq!(listed.len(), 4, "{listed:?}");
    let dlq = listed
        .iter()
        .find(|q| q.url == west_dlq)
        .expect("the west DLQ")
        .clone();
    assert_eq!(dlq.place, Place::new(WEST, "000000000000"));

    // One message, requeued as the browser does.
    let got = broker
        .receive(&dlq, 1, std::time::Duration::from_secs(30))
        .await
        .expect("receive");
    let message = got.into_iter().next().expect("a message");
    let audit_dir = tempfile::tempdir().expect("tempdir");
    let audit = Audit::new(Some(audit_dir.path().join("audit.jsonl")));
    let outcome = requeue(
        broker.as_ref(),
        &audit,
        &RequeueRequest {
            from: dlq.clone(),
            body: message.body.clone(),
            message,
            to: format!("{prefix}-orders"),
        },
    )
    .await;
    assert!(
        matches!(outcome, RequeueOutcome::Done { .. }),
        "{outcome:?}"
    );
    assert_eq!(visible(&west, &west_orders).await, 1);
    assert_eq!(visible(&east, &east_orders).await, 0);
    let log = std::fs::read_to_string(audit_dir.path().join("audit.jsonl")).expect("audit");
    assert!(log.contains(r#""region":"eu-west-1""#), "{log}");

    // The rest, by the DLQ's ARN, client-side through the binary.
    let arn = format!("arn:aws:sqs:{WEST}:000000000000:{prefix}-orders-dlq");
    let out = lazysqs(
        None,
        &[
            "--endpoint-url",
            &endpoint,
            "--region",
            EAST,
            "--region",
            WEST,
            "redrive",
            "--from",
            &arn,
            "--client-side",
            "--yes",
            "--quiet",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The redrive waits out the requeue's hold on nothing: all 3 are home.
    assert_eq!(visible(&west, &west_orders).await, 3);
    assert_eq!(visible(&west, &west_dlq).await, 0);
    assert_eq!(visible(&east, &east_orders).await, 0);
    assert_eq!(visible(&east, &east_dlq).await, 3);
}

#[tokio::test]
async fn a_profile_whose_endpoint_is_down_is_named_and_the_others_are_listed() {
    let Some(endpoint) = localstack::endpoint(SUITE, "one_down") else {
        return;
    };
    let prefix = localstack::unique_prefix("lzt-down");
    let live = sqs_in(&endpoint, EAST, "test").await;
    create(&live, &format!("{prefix}-alive")).await;
    let files = aws_files(&[
        ("live", "test", EAST, &endpoint),
        ("down", "test", WEST, "http://127.0.0.1:1"),
    ]);
    let out = lazysqs(
        Some(files.path()),
        &[
            "--profile",
            "live",
            "--profile",
            "down",
            "--prefix",
            &prefix,
            "snapshot",
            "--json",
            "--no-metrics",
        ],
    );
    let v = snapshot_json(&out);
    let names: Vec<&str> = v["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .filter_map(|q| q["name"].as_str())
        .collect();
    assert_eq!(names, vec![format!("{prefix}-alive").as_str()]);
    let errors = v["listing_errors"].as_array().expect("listing errors");
    assert_eq!(errors.len(), 1, "{v:#}");
    let e = errors[0].as_str().unwrap_or_default();
    assert!(
        e.contains("eu-west-1 (profile down)") && e.contains("unreachable"),
        "{e}"
    );

    // With every place down, the snapshot fails and says why.
    let out = lazysqs(
        Some(files.path()),
        &["--profile", "down", "snapshot", "--json", "--no-metrics"],
    );
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unreachable"), "{err}");
}
