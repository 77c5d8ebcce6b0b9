//! Errors as a user can act on them: every SDK error, and every failure to find
//! credentials, sorted into a [`BrokerError`].

use std::error::Error as StdError;
use std::path::Path;

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::OPERATION_TIMEOUT;
use crate::broker::BrokerError;

pub(super) fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Whether AWS credentials or configuration are likely present, without any network
/// call: credential environment variables, a profile, web identity, container
/// credentials, or ~/.aws/credentials or ~/.aws/config. The CLI uses it to choose
/// between the demo and AWS.
pub(crate) fn has_credentials_hint() -> bool {
    credentials_hint_from(env_nonempty, dirs::home_dir().as_deref())
}

fn credentials_hint_from(env: impl Fn(&str) -> Option<String>, home: Option<&Path>) -> bool {
    const VARS: [&str; 6] = [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ];
    if VARS.iter().any(|v| env(v).is_some()) {
        return true;
    }
    let file_from_env = |v: &str| env(v).is_some_and(|p| Path::new(&p).is_file());
    if file_from_env("AWS_SHARED_CREDENTIALS_FILE") || file_from_env("AWS_CONFIG_FILE") {
        return true;
    }
    home.is_some_and(|h| {
        h.join(".aws").join("credentials").is_file() || h.join(".aws").join("config").is_file()
    })
}

/// Sorts any SDK error into a [`BrokerError`]. `target` names what we talked to, for
/// messages such as "cannot reach http://127.0.0.1:4566: connection refused".
pub(crate) fn map_sdk_error<E>(target: &str, err: SdkError<E, HttpResponse>) -> BrokerError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            let message = service
                .err()
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
            classify_code(code, &message, Some(status))
        }
        SdkError::TimeoutError(_) => BrokerError::Unreachable(format!(
            "{target} did not answer within {}s",
            OPERATION_TIMEOUT.as_secs()
        )),
        SdkError::DispatchFailure(failure) => {
            let chain = error_chain(&err);
            if let Some(reason) = credentials_reason(&chain) {
                BrokerError::Auth(reason)
            } else if failure.is_user() {
                BrokerError::Invalid(format!("request to {target} failed: {}", chain.join(": ")))
            } else {
                BrokerError::Unreachable(format!("cannot reach {target}: {}", root_cause(&err)))
            }
        }
        SdkError::ResponseError(response) => {
            let status = response.raw().status().as_u16();
            let detail = format!(
                "unexpected response from {target} (HTTP {status}): {}",
                DisplayErrorContext(&err)
            );
            match status {
                401 | 403 => BrokerError::Auth(detail),
                429 => BrokerError::Throttled(detail),
                _ => BrokerError::Other(detail),
            }
        }
        SdkError::ConstructionFailure(_) => {
            let chain = error_chain(&err);
            if let Some(reason) = credentials_reason(&chain) {
                BrokerError::Auth(reason)
            } else {
                BrokerError::Invalid(format!("could not build the request: {}", chain.join(": ")))
            }
        }
        _ => BrokerError::Other(DisplayErrorContext(&err).to_string()),
    }
}

/// Sorts an AWS error code (from a service error or a batch entry) into a
/// [`BrokerError`]. Codes arrive in both the JSON form (`QueueDoesNotExist`) and the
/// query-compatible form (`AWS.SimpleQueueService.NonExistentQueue`).
pub(super) fn classify_code(code: &str, message: &str, status: Option<u16>) -> BrokerError {
    let short = code.rsplit('.').next().unwrap_or(code);
    let short = short.strip_suffix("Exception").unwrap_or(short);
    let text = if message.is_empty() {
        code.to_string()
    } else if code.is_empty() {
        message.to_string()
    } else {
        format!("{code}: {message}")
    };
    const THROTTLED: &[&str] = &[
        "Throttling",
        "Throttled",
        "RequestThrottled",
        "OverLimit",
        "TooManyRequests",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceeded",
        "TransactionInProgress",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "KmsThrottled",
    ];
    const AUTH: &[&str] = &[
        "AccessDenied",
        "NotAuthorized",
        "AuthFailure",
        "AuthorizationError",
        "ExpiredToken",
        "InvalidClientTokenId",
        "UnrecognizedClient",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidSignature",
        "MissingAuthenticationToken",
        "MissingClientTokenId",
        "InvalidSecurity",
        "RequestExpired",
        "OptInRequired",
        "KmsAccessDenied",
        "InvalidToken",
    ];
    const NOT_FOUND: &[&str] = &[
        "QueueDoesNotExist",
        "NonExistentQueue",
        "ResourceNotFound",
        "NotFound",
        "QueueDeletedRecently",
    ];
    const UNSUPPORTED: &[&str] = &[
        "UnsupportedOperation",
        "InvalidAction",
        "UnknownOperation",
        "NotImplemented",
    ];
    if THROTTLED.contains(&short) || short.contains("Throttl") || status == Some(429) {
        BrokerError::Throttled(text)
    } else if AUTH.contains(&short) || short.starts_with("AccessDenied") {
        BrokerError::Auth(text)
    } else if NOT_FOUND.contains(&short) {
        BrokerError::NotFound(text)
    } else if UNSUPPORTED.contains(&short) || message.contains("not yet implemented") {
        BrokerError::Unsupported(text)
    } else if short.starts_with("Invalid")
        || short.starts_with("Missing")
        || short.starts_with("Validation")
        || short.contains("Batch")
        || short.ends_with("TooLong")
        || matches!(
            short,
            "ReceiptHandleIsInvalid" | "MessageNotInflight" | "PurgeQueueInProgress"
        )
    {
        BrokerError::Invalid(text)
    } else {
        match status {
            Some(401 | 403) => BrokerError::Auth(text),
            Some(404) => BrokerError::NotFound(text),
            _ => BrokerError::Other(text),
        }
    }
}

/// The Display of `err` and each of its sources, without repeats.
fn error_chain(err: &(dyn StdError + 'static)) -> Vec<String> {
    let mut chain: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && chain.last() != Some(&text) {
            chain.push(text);
        }
        current = e.source();
    }
    chain
}

/// When the chain says the credentials could not be loaded: a readable reason, from
/// the first error that mentions them down to the root cause.
fn credentials_reason(chain: &[String]) -> Option<String> {
    let first = chain.iter().position(|s| {
        let s = s.to_ascii_lowercase();
        s.contains("credential") || s.contains("sso session") || s.contains("sso token")
    })?;
    Some(format!(
        "could not load AWS credentials: {}",
        chain[first..].join(": ")
    ))
}

/// A short reason for a connection failure: "connection refused", "timed out", or the
/// innermost error's text.
fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut current = Some(err);
    let mut last = err.to_string();
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind;
            return match io.kind() {
                ErrorKind::ConnectionRefused => "connection refused".to_string(),
                ErrorKind::ConnectionReset => "connection reset".to_string(),
                ErrorKind::ConnectionAborted => "connection aborted".to_string(),
                ErrorKind::TimedOut => "connection timed out".to_string(),
                ErrorKind::AddrNotAvailable => "address not available".to_string(),
                _ => io.to_string(),
            };
        }
        let text = e.to_string();
        if !text.is_empty() {
            last = text;
        }
        current = e.source();
    }
    let lower = last.to_ascii_lowercase();
    if lower.contains("timed out") || lower.contains("timeout") {
        "connection timed out".to_string()
    } else {
        last
    }
}

/// A request the SDK would not build (a required field missing).
impl From<aws_sdk_sqs::error::BuildError> for BrokerError {
    fn from(e: aws_sdk_sqs::error::BuildError) -> Self {
        BrokerError::Invalid(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::aws::AwsBroker;
    use crate::broker::{Broker, QueueSelection};
    use aws_config::BehaviorVersion;
    use aws_sdk_sqs::config::Region;
    use aws_sdk_sqs::config::retry::RetryConfig;

    #[test]
    fn codes_are_classified() {
        use BrokerError::*;
        let kind = |code: &str| classify_code(code, "msg", Some(400)).kind();
        assert_eq!(kind("ThrottlingException"), Throttled(String::new()).kind());
        assert_eq!(kind("RequestThrottled"), "throttled");
        assert_eq!(kind("AWS.SimpleQueueService.RequestThrottled"), "throttled");
        assert_eq!(kind("OverLimit"), "throttled");
        assert_eq!(kind("ExpiredToken"), "credentials");
        assert_eq!(kind("InvalidClientTokenId"), "credentials");
        assert_eq!(kind("SignatureDoesNotMatch"), "credentials");
        assert_eq!(kind("AccessDeniedException"), "credentials");
        assert_eq!(kind("AccessDenied"), "credentials");
        assert_eq!(kind("AWS.SimpleQueueService.NonExistentQueue"), "not found");
        assert_eq!(kind("QueueDoesNotExist"), "not found");
        assert_eq!(kind("ResourceNotFoundException"), "not found");
        assert_eq!(
            kind("AWS.SimpleQueueService.UnsupportedOperation"),
            "unsupported"
        );
        assert_eq!(kind("InvalidParameterValue"), "invalid");
        assert_eq!(kind("MissingParameter"), "invalid");
        assert_eq!(kind("ReceiptHandleIsInvalid"), "invalid");
        assert_eq!(
            kind("AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
            "invalid"
        );
        assert_eq!(kind("InternalError"), "error");
        assert_eq!(classify_code("", "", Some(429)).kind(), "throttled");
        assert_eq!(classify_code("", "", Some(403)).kind(), "credentials");
        assert_eq!(
            classify_code(
                "InternalFailure",
                "API action 'X' not yet implemented",
                None
            )
            .kind(),
            "unsupported"
        );
    }

    #[test]
    fn credentials_hint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = |_: &str| None::<String>;
        assert!(!credentials_hint_from(none, Some(dir.path())));
        assert!(!credentials_hint_from(none, None));
        assert!(credentials_hint_from(
            |v: &str| (v == "AWS_PROFILE").then(|| "prod".to_string()),
            None
        ));
        assert!(credentials_hint_from(
            |v: &str| (v == "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").then(|| "/x".to_string()),
            None
        ));
        std::fs::create_dir(dir.path().join(".aws")).expect("mkdir");
        std::fs::write(dir.path().join(".aws/config"), "[default]\n").expect("write");
        assert!(credentials_hint_from(none, Some(dir.path())));
    }

    #[tokio::test]
    async fn failing_credentials_are_an_auth_error() {
        // Only a profile provider for a profile that does not exist (no fallback to
        // instance metadata), and an endpoint nothing listens on: the credential
        // lookup fails before any connection is tried.
        let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_name("lazysqs-test-no-such-profile")
            .build();
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:1")
            .credentials_provider(provider)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .load()
            .await;
        let broker = AwsBroker::from_parts(
            &config,
            "us-east-1".into(),
            "test".into(),
            "sqs".into(),
            "cw".into(),
        );
        let err = broker
            .list_queues(&QueueSelection::default())
            .await
            .expect_err("no credentials");
        match &err {
            BrokerError::Auth(msg) => {
                assert!(msg.starts_with("could not load AWS credentials: "), "{msg}");
            }
            other => panic!("expected Auth, got {other:?}"),
        }
    }
}
