//! The real backend: Amazon SQS and CloudWatch through the AWS SDK for Rust.
//!
//! Credentials and region come from aws-config's standard chain (environment,
//! profiles, SSO, web identity, container and instance roles), optionally narrowed by
//! `--profile` / `--region`, and `--endpoint-url` points both clients at an
//! SQS-compatible server such as LocalStack.
//!
//! - this file: connecting (options, timeouts, credentials for local servers);
//! - [`sqs`]: every SQS call and the Broker implementation;
//! - [`convert`]: between the SDK's types and the broker's;
//! - [`cloudwatch`]: metrics (batched GetMetricData) and alarm states;
//! - [`errors`]: every SDK error sorted into a [`BrokerError`] the UI can explain and
//!   the pollers can back off on. The SDK's own retries are kept short (two
//!   attempts) so that the pollers' backoff is in charge;
//! - [`retries`]: counting those retries, for the redrive and triage summaries.

mod cloudwatch;
mod convert;
mod errors;
mod retries;
mod sqs;

use errors::env_nonempty;
pub(crate) use errors::has_credentials_hint;
pub(crate) use errors::map_sdk_error;

use std::error::Error as StdError;
use std::time::Duration;

use anyhow::bail;
use aws_config::BehaviorVersion;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::config::retry::RetryConfig;
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use aws_sdk_sqs::config::{Credentials, Region};
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};

use super::BrokerError;

/// Connect timeout for every call.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Upper bound for one attempt of a call.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(6);
/// Upper bound for a whole call, retries included.
pub(super) const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound for a CloudWatch call.
const METRICS_TIMEOUT: Duration = Duration::from_secs(30);
/// The SDK's own attempts per call; the pollers' backoff does the rest.
const MAX_ATTEMPTS: u32 = 2;

/// Where to connect: all optional, the standard chain fills the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    /// A named profile from ~/.aws/config (`--profile`).
    pub profile: Option<String>,
    /// The region (`--region`); else from the environment or the profile.
    pub region: Option<String>,
    /// An SQS-compatible endpoint such as `http://127.0.0.1:4566` (`--endpoint-url`).
    pub endpoint_url: Option<String>,
}

/// Amazon SQS and CloudWatch (or a compatible server) behind the [`Broker`] trait.
#[derive(Debug, Clone)]
pub struct AwsBroker {
    sqs: aws_sdk_sqs::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    /// The region every call is signed for.
    region: String,
    /// For the status bar.
    description: String,
    /// How errors name the SQS side ("http://127.0.0.1:4566", "SQS in eu-west-1").
    sqs_target: String,
    /// How errors name the CloudWatch side.
    cloudwatch_target: String,
    /// SQS attempts after a call's first, made by the SDK on its own.
    retries: retries::RetryCounter,
}

impl AwsBroker {
    /// Resolves configuration through aws-config's standard chain, narrowed by `opts`.
    ///
    /// Does no network I/O itself: credentials are resolved on the first call. With an
    /// endpoint URL and no AWS credentials or config on this machine, it uses the
    /// static pair `test`/`test` and region `us-east-1`, which local servers accept.
    pub async fn connect(opts: &AwsOptions) -> anyhow::Result<AwsBroker> {
        let local_without_credentials =
            opts.endpoint_url.is_some() && opts.profile.is_none() && !has_credentials_hint();

        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(MAX_ATTEMPTS)
                    .with_initial_backoff(Duration::from_millis(200)),
            );
        if let Some(profile) = &opts.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &opts.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = &opts.region {
            loader = loader.region(Region::new(region.clone()));
        } else if local_without_credentials {
            let region = env_nonempty("AWS_REGION")
                .or_else(|| env_nonempty("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_string());
            loader = loader.region(Region::new(region));
        }
        if local_without_credentials {
            loader = loader.credentials_provider(Credentials::new(
                "test",
                "test",
                None,
                None,
                "lazysqs-local-endpoint",
            ));
        }
        let mut config = loader.load().await;

        if config.region().is_none() {
            if opts.endpoint_url.is_some() {
                config = config.to_builder().region(Region::new("us-east-1")).build();
            } else {
                bail!(
                    "no AWS region configured: pass --region, set AWS_REGION, \
                     or set a region in your AWS profile"
                );
            }
        }
        let region = config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_string());

        let (description, sqs_target, cloudwatch_target) = match &opts.endpoint_url {
            Some(url) => {
                // Shown and logged without user info or query secrets.
                let shown = crate::redact::url(url);
                // Errors name the region too: several may share one endpoint.
                let target = format!("{shown} ({region})");
                (target.clone(), target.clone(), target)
            }
            None => {
                let mut description = format!("AWS {region}");
                if let Some(profile) = &opts.profile {
                    description.push_str(&format!(" (profile {profile})"));
                }
                (
                    description,
                    format!("SQS in {region}"),
                    format!("CloudWatch in {region}"),
                )
            }
        };

        Ok(AwsBroker::from_parts(
            &config,
            region,
            description,
            sqs_target,
            cloudwatch_target,
        ))
    }

    fn from_parts(
        config: &aws_config::SdkConfig,
        region: String,
        description: String,
        sqs_target: String,
        cloudwatch_target: String,
    ) -> AwsBroker {
        let retries = retries::RetryCounter::default();
        AwsBroker {
            sqs: aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(config)
                    .interceptor(retries.clone())
                    .build(),
            ),
            // GetMetricData is polled once a minute and can be slow on a large
            // metric store: it gets more time than the SQS calls.
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(config)
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(CONNECT_TIMEOUT)
                            .operation_attempt_timeout(METRICS_TIMEOUT)
                            .operation_timeout(METRICS_TIMEOUT)
                            .build(),
                    )
                    .build(),
            ),
            region,
            description,
            sqs_target,
            cloudwatch_target,
            retries,
        }
    }

    /// The region every call is signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    pub(super) fn sqs_err<E>(&self, err: SdkError<E, HttpResponse>) -> BrokerError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        map_sdk_error(&self.sqs_target, err)
    }

    pub(super) fn cw_err<E>(&self, err: SdkError<E, HttpResponse>) -> BrokerError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        map_sdk_error(&self.cloudwatch_target, err)
    }
}
