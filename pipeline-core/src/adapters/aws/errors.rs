//! SDK error classification (transient, job-permanent or worker-fatal) and the one retry layer
//! of the adapters. The SDK's own retries are disabled on every client ([`sdk_retry_disabled`]):
//! each call is tried at most [`ATTEMPTS`] times, by [`retry`], whatever the service.
use crate::{ErrorClass, PipelineError};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use backon::{ExponentialBuilder, Retryable};
use std::future::Future;

/// Error codes that mean "slow down or try again" across S3, SQS and DynamoDB.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "ThrottlingError",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceeded",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflict",
    "TransactionInProgressException",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "AWS.SimpleQueueService.RequestThrottled",
    "KMSThrottlingException",
];

/// Error codes that mean "this worker's credentials, permissions or resources are wrong": no
/// retry and no other message can succeed here either.
const WORKER_FATAL_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "AuthFailure",
    "NoSuchBucket",
    "ResourceNotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "KMS.AccessDeniedException",
    "KMS.DisabledException",
    "KMSAccessDeniedException",
    "KMSDisabledException",
];

/// Whether an AWS error code (or DynamoDB cancellation-reason code) is worth retrying.
pub fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code)
}

/// Whether an AWS error code says the worker itself is misconfigured (credentials, IAM policy,
/// a bucket, table or queue that does not exist).
pub fn is_worker_fatal_code(code: &str) -> bool {
    WORKER_FATAL_CODES.contains(&code)
}

/// Transient: throttling, 5xx, 429, timeouts, dispatch (connection) failures and unreadable
/// responses. Worker-fatal: access denied, bad or expired credentials, a missing bucket, table
/// or queue, any 403, a request that cannot be built or dispatched (configuration). Everything
/// else (validation, not found, conditional-check failures) is job-permanent.
pub fn classify_sdk_error<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> ErrorClass {
    match err {
        SdkError::TimeoutError(_) => ErrorClass::Transient,
        SdkError::DispatchFailure(d) if d.is_user() => ErrorClass::WorkerFatal,
        SdkError::DispatchFailure(_) => ErrorClass::Transient,
        SdkError::ResponseError(r) => match r.raw().status().as_u16() {
            404 => ErrorClass::JobPermanent,
            403 => ErrorClass::WorkerFatal,
            _ => ErrorClass::Transient,
        },
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            let code = s.err().code();
            if status >= 500 || status == 429 || code.is_some_and(is_transient_code) {
                ErrorClass::Transient
            } else if status == 403 || code.is_some_and(is_worker_fatal_code) {
                ErrorClass::WorkerFatal
            } else {
                ErrorClass::JobPermanent
            }
        }
        SdkError::ConstructionFailure(_) => ErrorClass::WorkerFatal,
        _ => ErrorClass::JobPermanent,
    }
}

/// True when [`classify_sdk_error`] says a retry may help.
pub fn is_transient_sdk_error<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    classify_sdk_error(err) == ErrorClass::Transient
}

/// The AWS error code of a service error, if any.
pub fn error_code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    match err {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    }
}

/// A [`PipelineError::Backend`] for `err`, classified, with the full error chain in the message.
pub fn to_pipeline_error<E>(
    backend: &'static str,
    what: &str,
    err: &SdkError<E, HttpResponse>,
) -> PipelineError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    PipelineError::backend_class(
        backend,
        format!("{what}: {}", DisplayErrorContext(err)),
        classify_sdk_error(err),
    )
}

pub use crate::config::retry::ATTEMPTS;

/// The SDK retry setting every adapter client is built with: none, so that [`retry`] is the
/// only retry layer (the SDK's standard mode would otherwise retry 3 times under each of ours).
pub fn sdk_retry_disabled() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::disabled()
}

fn backoff() -> ExponentialBuilder {
    crate::config::retry::backoff(ATTEMPTS)
}

/// Run `op` and retry it with exponential backoff and jitter while `transient(&err)` holds.
/// Returns the last error once the retries are spent or the error is permanent.
pub async fn retry<T, E, Fut, F>(op: F, transient: impl Fn(&E) -> bool) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    op.retry(backoff())
        .when(|e: &E| transient(e))
        .notify(|_, dur| tracing::debug!(delay_ms = dur.as_millis() as u64, "retrying AWS call"))
        .await
}

/// [`retry`] for plain SDK calls classified by [`classify_sdk_error`].
pub async fn retry_sdk<T, E, Fut, F>(op: F) -> Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    retry(op, is_transient_sdk_error).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_s3::primitives::SdkBody;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn service(code: &str, status: u16) -> SdkError<PutItemError, HttpResponse> {
        let err = PutItemError::generic(ErrorMetadata::builder().code(code).message("m").build());
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        SdkError::service_error(err, raw)
    }

    #[test]
    fn throttling_5xx_timeouts_and_dispatch_are_transient() {
        for (code, status) in [
            ("ThrottlingException", 400),
            ("ProvisionedThroughputExceededException", 400),
            ("RequestLimitExceeded", 400),
            ("SlowDown", 503),
            ("AWS.SimpleQueueService.RequestThrottled", 403),
            ("WhateverNew", 500),
            ("WhateverNew", 503),
            ("WhateverNew", 429),
        ] {
            assert_eq!(
                classify_sdk_error(&service(code, status)),
                ErrorClass::Transient,
                "{code} {status}"
            );
        }
        let timeout: SdkError<PutItemError, HttpResponse> = SdkError::timeout_error("slow");
        assert!(is_transient_sdk_error(&timeout));
        let io: SdkError<PutItemError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io("connection reset".into()));
        assert!(is_transient_sdk_error(&io));
        let user: SdkError<PutItemError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::user("bad uri".into()));
        assert_eq!(classify_sdk_error(&user), ErrorClass::WorkerFatal);
    }

    #[test]
    fn validation_and_conditions_are_job_permanent() {
        for (code, status) in [
            ("ValidationException", 400),
            ("ConditionalCheckFailedException", 400),
            ("NoSuchKey", 404),
        ] {
            assert_eq!(
                classify_sdk_error(&service(code, status)),
                ErrorClass::JobPermanent,
                "{code} {status}"
            );
        }
        let e = to_pipeline_error("dynamodb", "put job", &service("ThrottlingException", 400));
        assert!(e.is_transient());
        assert!(e.to_string().contains("put job"), "{e}");
        assert!(
            !to_pipeline_error("dynamodb", "x", &service("ValidationException", 400))
                .is_transient()
        );
        assert_eq!(error_code(&service("X", 400)), Some("X"));
    }

    #[test]
    fn permissions_credentials_and_missing_resources_are_worker_fatal() {
        for (code, status) in [
            ("AccessDeniedException", 400),
            ("AccessDenied", 403),
            ("WhateverNew", 403),
            ("ResourceNotFoundException", 400),
            ("NoSuchBucket", 404),
            ("AWS.SimpleQueueService.NonExistentQueue", 400),
            ("QueueDoesNotExist", 400),
            ("ExpiredTokenException", 400),
            ("UnrecognizedClientException", 400),
        ] {
            assert_eq!(
                classify_sdk_error(&service(code, status)),
                ErrorClass::WorkerFatal,
                "{code} {status}"
            );
        }
        let build: SdkError<PutItemError, HttpResponse> =
            SdkError::construction_failure("no credentials");
        assert_eq!(classify_sdk_error(&build), ErrorClass::WorkerFatal);
        let e = to_pipeline_error("s3", "get", &service("AccessDenied", 403));
        assert!(e.is_worker_fatal(), "{e}");
    }

    #[tokio::test]
    async fn one_layer_tries_transient_errors_attempts_times_and_others_once() {
        let calls = AtomicUsize::new(0);
        let r: Result<(), _> = retry_sdk(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(service("ThrottlingException", 400))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), ATTEMPTS);

        let calls = AtomicUsize::new(0);
        let r: Result<(), _> = retry_sdk(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(service("ValidationException", 400))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicUsize::new(0);
        let r = retry_sdk(|| async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(service("InternalServerError", 500))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.ok(), Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
