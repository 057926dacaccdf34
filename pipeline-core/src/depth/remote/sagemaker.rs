//! `sagemaker` backend: the wire protocol through aws-sdk-sagemakerruntime `InvokeEndpoint`.
//!
//! The estimator trait is synchronous and runs on blocking pipeline threads, the SDK is async.
//! Calls go to a small runtime owned by the factory ([`Bridge`]): the request is spawned there and
//! the caller waits on a plain channel with a deadline, so it works from any thread (a
//! `spawn_blocking` thread, a scoped thread, even a runtime worker, which it only blocks) and
//! cannot deadlock on the caller's runtime. The SDK's own retries are off: the estimator retries
//! transient failures itself, the same way for every backend.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_sagemakerruntime::config::http::HttpResponse;
use aws_sdk_sagemakerruntime::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sagemakerruntime::operation::invoke_endpoint::InvokeEndpointError;
use aws_sdk_sagemakerruntime::primitives::Blob;
use aws_sdk_sagemakerruntime::Client;

use super::client::{error_message_from_body, RemoteFactory, RemoteSettings, Transport};
use super::wire::{self, DEPTH_CONTENT_TYPE, FRAMES_CONTENT_TYPE};
use crate::ports::depth::DepthError;

pub type SageMakerFactory = RemoteFactory<SageMakerTransport>;

/// Extra time the caller waits beyond the SDK's own timeout before giving up on the runtime.
const BRIDGE_MARGIN: Duration = Duration::from_secs(5);

/// A dedicated multi-thread runtime (2 workers) for the SDK's async calls.
pub struct Bridge {
    rt: Option<tokio::runtime::Runtime>,
}

impl Bridge {
    pub fn new() -> Result<Bridge, DepthError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sagemaker-io")
            .enable_all()
            .build()
            .map_err(|e| {
                DepthError::Config(format!("cannot start the SageMaker I/O runtime: {e}"))
            })?;
        Ok(Bridge { rt: Some(rt) })
    }

    /// Run `fut` on the bridge runtime and wait at most `limit` for it.
    pub fn run<F, T>(&self, fut: F, limit: Duration) -> Result<T, DepthError>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let rt = self.rt.as_ref().ok_or_else(|| {
            DepthError::Transient("the SageMaker I/O runtime is shut down".into())
        })?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let task = rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        match rx.recv_timeout(limit) {
            Ok(v) => Ok(v),
            Err(e) => {
                task.abort();
                Err(DepthError::Transient(format!(
                    "SageMaker call: no result within {limit:?} ({e})"
                )))
            }
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Dropping a runtime inside another runtime's async context panics; this does not.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// One SageMaker endpoint; clones share the SDK client and the bridge runtime.
#[derive(Clone)]
pub struct SageMakerTransport {
    bridge: Arc<Bridge>,
    client: Client,
    endpoint: String,
    attributes: String,
    timeout: Duration,
}

impl SageMakerTransport {
    /// Load the AWS configuration from the environment (region, credentials, and
    /// `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME` / `AWS_ENDPOINT_URL` overrides) with `timeout` per call
    /// and no SDK retries.
    pub fn from_env(
        endpoint: &str,
        profile: &str,
        timeout: Duration,
    ) -> Result<SageMakerTransport, DepthError> {
        let endpoint = endpoint.trim();
        if endpoint.is_empty() {
            return Err(DepthError::Config(
                "the sagemaker backend needs an endpoint name (SAGEMAKER_ENDPOINT_NAME or \
                 --sagemaker-endpoint)"
                    .into(),
            ));
        }
        let bridge = Arc::new(Bridge::new()?);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .operation_attempt_timeout(timeout)
            .operation_timeout(timeout)
            .build();
        let config = bridge.run(
            aws_config::defaults(BehaviorVersion::latest())
                .timeout_config(timeouts)
                .retry_config(RetryConfig::disabled())
                .load(),
            Duration::from_secs(60),
        )?;
        if config.region().is_none() {
            return Err(DepthError::Config(
                "the sagemaker backend needs an AWS region (set AWS_REGION)".into(),
            ));
        }
        Ok(SageMakerTransport {
            bridge,
            client: Client::new(&config),
            endpoint: endpoint.to_string(),
            attributes: wire::profile_custom_attributes(profile),
            timeout,
        })
    }
}

impl Transport for SageMakerTransport {
    fn describe(&self) -> String {
        format!("sagemaker endpoint {}", self.endpoint)
    }

    fn invoke(&self, body: &[u8]) -> Result<Vec<u8>, DepthError> {
        let request = self
            .client
            .invoke_endpoint()
            .endpoint_name(&self.endpoint)
            .content_type(FRAMES_CONTENT_TYPE)
            .accept(DEPTH_CONTENT_TYPE)
            .custom_attributes(&self.attributes)
            .body(Blob::new(body.to_vec()));
        let result = self
            .bridge
            .run(request.send(), self.timeout + BRIDGE_MARGIN)?;
        match result {
            Ok(out) => out.body.map(Blob::into_inner).ok_or_else(|| {
                DepthError::Inference(format!(
                    "SageMaker endpoint {}: empty response body",
                    self.endpoint
                ))
            }),
            Err(e) => Err(classify(&e, &self.endpoint, self.timeout)),
        }
    }
}

/// AWS error codes of InvokeEndpoint worth retrying.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalDependencyException",
    "ModelNotReadyException",
];

/// A container status (relayed in a ModelError) worth retrying: busy, overloaded or crashed.
fn transient_model_status(status: Option<i32>) -> bool {
    matches!(status, Some(408 | 429 | 500 | 502 | 503 | 504))
}

/// Map an SDK error to a classified [`DepthError`] carrying the endpoint's message.
pub fn classify(
    err: &SdkError<InvokeEndpointError, HttpResponse>,
    endpoint: &str,
    timeout: Duration,
) -> DepthError {
    let what = format!("SageMaker endpoint {endpoint}");
    match err {
        SdkError::TimeoutError(_) => {
            DepthError::Transient(format!("{what}: no answer within {timeout:?}"))
        }
        SdkError::DispatchFailure(d) if !d.is_user() => {
            DepthError::Transient(format!("{what}: {}", DisplayErrorContext(err)))
        }
        SdkError::ResponseError(_) => {
            DepthError::Transient(format!("{what}: {}", DisplayErrorContext(err)))
        }
        SdkError::ServiceError(ctx) => match ctx.err() {
            InvokeEndpointError::ModelError(m) => {
                let status = m.original_status_code();
                let detail = m
                    .original_message()
                    .map(|s| error_message_from_body(s.as_bytes()))
                    .filter(|s| !s.is_empty())
                    .or_else(|| m.message().map(str::to_string))
                    .unwrap_or_else(|| "no message".into());
                let msg = match status {
                    Some(s) => format!("{what}: model error (container status {s}): {detail}"),
                    None => format!("{what}: model error: {detail}"),
                };
                if transient_model_status(status) {
                    DepthError::Transient(msg)
                } else {
                    DepthError::Inference(msg)
                }
            }
            other => {
                let status = ctx.raw().status().as_u16();
                let code = other.code().unwrap_or("unknown error");
                let detail = other.message().unwrap_or("no message");
                let msg = format!("{what}: {code} (HTTP {status}): {detail}");
                if status >= 500 || status == 429 || TRANSIENT_CODES.contains(&code) {
                    DepthError::Transient(msg)
                } else {
                    DepthError::Inference(msg)
                }
            }
        },
        _ => DepthError::Inference(format!("{what}: {}", DisplayErrorContext(err))),
    }
}

/// A [`SageMakerFactory`] for `endpoint`, configured from the environment.
pub fn sagemaker_factory(
    endpoint: &str,
    settings: RemoteSettings,
) -> Result<SageMakerFactory, DepthError> {
    let transport =
        SageMakerTransport::from_env(endpoint, &settings.profile.name, settings.timeout)?;
    Ok(RemoteFactory::new(transport, settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_runs_from_plain_and_async_threads_and_times_out() {
        let bridge = Arc::new(Bridge::new().expect("bridge"));
        assert_eq!(
            bridge.run(async { 41 + 1 }, Duration::from_secs(5)).ok(),
            Some(42)
        );
        let err = bridge
            .run(
                async { tokio::time::sleep(Duration::from_secs(30)).await },
                Duration::from_millis(100),
            )
            .expect_err("timeout");
        assert!(
            err.is_transient() && err.to_string().contains("no result within"),
            "{err}"
        );
        // From inside another runtime's spawn_blocking and from its async context (blocking it
        // briefly), and dropped inside an async context: no panic, no deadlock.
        let outer = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("outer runtime");
        let b = bridge.clone();
        let from_blocking = outer.block_on(async move {
            tokio::task::spawn_blocking(move || b.run(async { 7 }, Duration::from_secs(5)).ok())
                .await
                .ok()
                .flatten()
        });
        assert_eq!(from_blocking, Some(7));
        let from_async = outer.block_on(async move {
            let v = bridge.run(async { 8 }, Duration::from_secs(5)).ok();
            drop(bridge);
            v
        });
        assert_eq!(from_async, Some(8));
    }

    #[test]
    fn model_status_classification() {
        assert!(transient_model_status(Some(503)));
        assert!(transient_model_status(Some(500)));
        assert!(!transient_model_status(Some(424)));
        assert!(!transient_model_status(Some(400)));
        assert!(!transient_model_status(None));
    }
}
