//! What the Route53 and S3 providers and the S3 state backend share: the SDK
//! configuration (credential chain, region, endpoint) and the translation of a failed
//! SDK call into a drplan [`Error`] with a help line (never an SDK debug dump).
//!
//! Retries are the SDK's: its standard mode (3 attempts, exponential backoff with
//! jitter; `AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE` and profile settings are honoured)
//! classifies `Throttling`, `SlowDown` and Route53's `PriorRequestNotComplete` as
//! throttling and retries them, so drplan adds no retry loop of its own. A call still
//! throttled after the last attempt is reported with its own help line.

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::error::Error;
use crate::model::Providers;

/// The region used when neither `[providers] region` nor the AWS configuration names
/// one: Route53 is global, but its requests are still signed for a region.
const FALLBACK_REGION: &str = "us-east-1";

/// Error codes AWS answers when it throttles (after the SDK's own retries).
const THROTTLING_CODES: [&str; 6] = [
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
];

/// Error codes AWS answers when it does not accept the credentials.
const REJECTED_CREDENTIAL_CODES: [&str; 7] = [
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
];

/// The SDK configuration for `providers`: credentials from the default chain
/// (environment, profile, SSO, container, IMDS); the region from `[providers] region`,
/// else the chain's, else us-east-1; the endpoint from `[providers] endpoint`, else
/// the SDK's own `AWS_ENDPOINT_URL` / profile `endpoint_url`.
pub async fn sdk_config(providers: &Providers) -> SdkConfig {
    let region = RegionProviderChain::first_try(providers.region.clone().map(Region::new))
        .or_default_provider()
        .or_else(Region::from_static(FALLBACK_REGION));
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
    if let Some(endpoint) = &providers.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// An S3 client for `sdk`. With a custom endpoint (moto, `LocalStack`, `MinIO`) it uses
/// path-style addressing, since `bucket.127.0.0.1` does not resolve.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The drplan error for a failed call of `provider` that was trying to `action`
/// (e.g. "list <s3://bucket/prefix>").
pub fn describe<E>(provider: &'static str, action: &str, err: &SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    Failure::of(err).into_error(provider, action)
}

/// A failed SDK call, reduced to what drplan reacts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The AWS error code (`NoSuchKey`, `PreconditionFailed`…) when AWS answered.
    code: Option<String>,
    /// The HTTP status when AWS answered.
    pub status: Option<u16>,
    cause: Cause,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cause {
    /// The credential chain found nothing usable.
    NoCredentials(String),
    /// The request never reached AWS (DNS, connection refused, TLS).
    Unreachable(String),
    TimedOut,
    /// AWS answered with an error: its message.
    Answered(String),
    Other(String),
}

impl Failure {
    /// What `err` says, without the SDK's debug representation.
    pub fn of<E>(err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err
            .raw_response()
            .map(|response| response.status().as_u16());
        let code = err.code().map(str::to_string);
        let cause = match err {
            SdkError::ServiceError(_) => {
                Cause::Answered(err.message().unwrap_or_default().to_string())
            }
            SdkError::TimeoutError(_) => Cause::TimedOut,
            SdkError::DispatchFailure(failure) => match credentials_error(err) {
                Some(credentials) => Cause::NoCredentials(chain(credentials)),
                None if failure.is_timeout() => Cause::TimedOut,
                None => Cause::Unreachable(chain(err)),
            },
            _ => Cause::Other(chain(err)),
        };
        Self {
            code,
            status,
            cause,
        }
    }

    /// Whether the endpoint could not serve the call at all (unreachable, timed out,
    /// a server error, or a temporarily unavailable endpoint), so another endpoint of
    /// the same service may.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.cause, Cause::Unreachable(_) | Cause::TimedOut)
            || self.status.is_some_and(|status| status >= 500)
            || self.is("EndpointTemporarilyUnavailableException")
    }

    /// The AWS error code, when AWS answered with one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Whether AWS answered with the error code `code`.
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// The error to show: what kind of failure it is (credentials, unreachable,
    /// throttled, not found…), with a help line for the usual causes.
    pub fn into_error(self, provider: &'static str, action: &str) -> Error {
        let code = self.code.as_deref().unwrap_or_default();
        let message = |reason: &str| format!("cannot {action}: {reason}");
        let action = action.to_string();
        match &self.cause {
            Cause::NoCredentials(detail) => Error::Credentials {
                provider,
                message: message(&format!("no usable AWS credentials ({detail})")),
                help: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pick a profile with AWS_PROFILE, or run `aws sso login`",
            },
            Cause::Unreachable(detail) => Error::Unreachable {
                provider,
                message: message(&format!("AWS could not be reached ({detail})")),
                help: "check the network, and `endpoint` under [providers] or AWS_ENDPOINT_URL when one is set",
            },
            Cause::TimedOut => Error::Unreachable {
                provider,
                message: message("the request timed out"),
                help: "check the network and the endpoint, then try again",
            },
            Cause::Other(detail) => Error::Api {
                provider,
                message: message(detail),
                help: "check the AWS configuration: region, endpoint and credentials",
            },
            Cause::Answered(_) if THROTTLING_CODES.contains(&code) || self.status == Some(429) => {
                Error::Throttled {
                    provider,
                    action,
                    code: code.to_string(),
                }
            }
            Cause::Answered(_) if REJECTED_CREDENTIAL_CODES.contains(&code) => Error::Credentials {
                provider,
                message: message(&format!("AWS rejected the credentials ({code})")),
                help: "refresh them (`aws sso login`, new access keys) and check AWS_PROFILE",
            },
            Cause::Answered(_) if code.starts_with("AccessDenied") || self.status == Some(403) => {
                Error::AccessDenied { provider, action }
            }
            Cause::Answered(_) if code == "NoSuchBucket" => Error::NotFound {
                provider,
                message: message("the bucket does not exist"),
                help: "create the bucket, or fix the s3:// URL in the environment file",
            },
            Cause::Answered(_) if code == "DBClusterNotFoundFault" => Error::NotFound {
                provider,
                message: message("the DB cluster does not exist"),
                help: "fix `aurora.clusters` of the service (aws rds describe-db-clusters)",
            },
            Cause::Answered(_) if code == "NoSuchHostedZone" => Error::NotFound {
                provider,
                message: message("the hosted zone does not exist"),
                help: "fix `zone_id` on the record in the environment file, or remove it to find the zone by name",
            },
            Cause::Answered(_)
                if code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" =>
            {
                Error::WrongRegion { provider, action }
            }
            Cause::Answered(answer) => Error::Api {
                provider,
                message: message(&format!(
                    "AWS answered {}: {answer}",
                    self.code.as_deref().unwrap_or("an error")
                )),
                help: "see the AWS documentation of this error code",
            },
        }
    }
}

/// The messages of `err` and of every error behind it, joined by ": ", each said once.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(error) = next {
        let message = error.to_string();
        if !messages.iter().any(|seen| seen.contains(&message)) {
            messages.push(message);
        }
        next = error.source();
    }
    messages.join(": ")
}

/// The credentials error behind a failed call, if that is what it failed on.
fn credentials_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a CredentialsError> {
    let mut next = err.source();
    while let Some(source) = next {
        if let Some(credentials) = source.downcast_ref::<CredentialsError>() {
            return Some(credentials);
        }
        next = source.source();
    }
    None
}

/// SDK configurations that answer from a script of HTTP responses, for unit tests.
#[cfg(test)]
pub(crate) mod replay {
    use std::time::Duration;

    use aws_config::retry::RetryConfig;
    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_sdk_s3::config::http::{HttpRequest, HttpResponse};
    use aws_sdk_s3::primitives::SdkBody;
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};

    /// A response with `status` and an XML `body`.
    pub fn xml(status: u16, body: &str) -> HttpResponse {
        let mut response = HttpResponse::new(
            status.try_into().expect("a valid status"),
            SdkBody::from(body),
        );
        response
            .headers_mut()
            .insert("content-type", "application/xml");
        response
    }

    /// A client answering `responses` in order, whatever the requests.
    pub fn client(responses: Vec<HttpResponse>) -> StaticReplayClient {
        let events = responses
            .into_iter()
            .map(|response| ReplayEvent::new(HttpRequest::new(SdkBody::empty()), response));
        StaticReplayClient::new(events.collect())
    }

    /// us-east-1, fixed credentials, standard retries without the wait.
    pub fn sdk_config(client: &StaticReplayClient) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "test",
            )))
            .retry_config(RetryConfig::standard().with_initial_backoff(Duration::from_millis(1)))
            .http_client(client.clone())
            .build()
    }

    /// The bodies of the requests `client` received, as text.
    pub fn bodies(client: &StaticReplayClient) -> Vec<String> {
        let body = |request: &HttpRequest| {
            String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned()
        };
        client.actual_requests().map(body).collect()
    }

    /// The URIs of the requests `client` received.
    pub fn uris(client: &StaticReplayClient) -> Vec<String> {
        client
            .actual_requests()
            .map(|request| request.uri().to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::primitives::ByteStream;

    use super::replay::{client, sdk_config, xml};
    use super::*;

    fn s3_error(code: &str, message: &str) -> String {
        format!(
            "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>1</RequestId></Error>"
        )
    }

    async fn put_failure(responses: Vec<HttpResponse>) -> (Error, usize) {
        let replay = client(responses);
        let s3 = s3_client(&sdk_config(&replay));
        let err = s3
            .put_object()
            .bucket("b")
            .key("k")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        (
            describe("s3", "upload s3://b/k", &err),
            replay.actual_requests().count(),
        )
    }

    #[tokio::test]
    async fn access_denied_says_so_with_help() {
        let (error, requests) =
            put_failure(vec![xml(403, &s3_error("AccessDenied", "Access Denied"))]).await;
        assert_eq!(requests, 1);
        assert_eq!(
            error.to_string(),
            "s3: cannot upload s3://b/k: access denied"
        );
        let help = miette::Diagnostic::help(&error).unwrap().to_string();
        assert!(help.contains("IAM permission"), "{help}");
    }

    #[tokio::test]
    async fn throttling_is_retried_then_reported_plainly() {
        let slow_down = || {
            xml(
                503,
                &s3_error("SlowDown", "Please reduce your request rate."),
            )
        };
        let (error, requests) = put_failure(vec![slow_down(), slow_down(), slow_down()]).await;
        assert_eq!(requests, 3, "the SDK's standard retry makes 3 attempts");
        assert_eq!(
            error.to_string(),
            "s3: cannot upload s3://b/k: AWS kept throttling the request (SlowDown) after the SDK's retries"
        );
    }

    #[tokio::test]
    async fn other_answers_keep_the_code_and_message() {
        let (error, _) = put_failure(vec![xml(
            400,
            &s3_error("InvalidStorageClass", "no such class"),
        )])
        .await;
        assert_eq!(
            error.to_string(),
            "s3: cannot upload s3://b/k: AWS answered InvalidStorageClass: no such class"
        );
    }
}
