//! SDK error classification (transient or permanent) and the retry policy of the adapters.
use crate::PipelineError;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use backon::{ExponentialBuilder, Retryable};
use std::future::Future;
use std::time::Duration;

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

/// Whether an AWS error code (or DynamoDB cancellation-reason code) is worth retrying.
pub fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code)
}

/// True when `err` may succeed on retry: throttling, 5xx, 429, timeouts, dispatch (connection)
/// failures and unreadable responses. Validation, access denied, not found, conditional-check
/// failures and request construction errors are permanent.
pub fn classify_sdk_error<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => !d.is_user(),
        SdkError::ResponseError(r) => r.raw().status().as_u16() != 404,
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            status >= 500 || status == 429 || s.err().code().is_some_and(is_transient_code)
        }
        SdkError::ConstructionFailure(_) => false,
        _ => false,
    }
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
    PipelineError::backend(
        backend,
        format!("{what}: {}", DisplayErrorContext(err)),
        classify_sdk_error(err),
    )
}

/// Retries after the first attempt (so at most `1 + RETRIES` calls).
pub const RETRIES: usize = 3;

fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(RETRIES)
        .with_jitter()
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
    retry(op, classify_sdk_error).await
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
            assert!(
                classify_sdk_error(&service(code, status)),
                "{code} {status}"
            );
        }
        let timeout: SdkError<PutItemError, HttpResponse> = SdkError::timeout_error("slow");
        assert!(classify_sdk_error(&timeout));
        let io: SdkError<PutItemError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io("connection reset".into()));
        assert!(classify_sdk_error(&io));
        let user: SdkError<PutItemError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::user("bad uri".into()));
        assert!(!classify_sdk_error(&user));
    }

    #[test]
    fn validation_access_and_conditions_are_permanent() {
        for (code, status) in [
            ("ValidationException", 400),
            ("AccessDeniedException", 400),
            ("AccessDenied", 403),
            ("ConditionalCheckFailedException", 400),
            ("ResourceNotFoundException", 400),
            ("NoSuchKey", 404),
        ] {
            assert!(
                !classify_sdk_error(&service(code, status)),
                "{code} {status}"
            );
        }
        let build: SdkError<PutItemError, HttpResponse> =
            SdkError::construction_failure("no table");
        assert!(!classify_sdk_error(&build));
        let e = to_pipeline_error("dynamodb", "put job", &service("ThrottlingException", 400));
        assert!(e.is_transient());
        assert!(e.to_string().contains("put job"), "{e}");
        assert!(
            !to_pipeline_error("dynamodb", "x", &service("ValidationException", 400))
                .is_transient()
        );
        assert_eq!(error_code(&service("X", 400)), Some("X"));
    }

    #[tokio::test]
    async fn retries_transient_errors_three_times_and_permanent_never() {
        let calls = AtomicUsize::new(0);
        let r: Result<(), _> = retry_sdk(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(service("ThrottlingException", 400))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1 + RETRIES);

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
