//! AWS adapters: S3 object store, SQS queue, DynamoDB job store, and the resource names the
//! workers read from their environment. Each call is retried by one layer ([`retry`], policy in
//! `config::retry`; the SDK's own retries are off) on transient errors (throttling, 5xx,
//! timeouts, connection failures) before surfacing as a classified `PipelineError::Backend`.
pub mod dynamo_items;
pub mod dynamo_jobs;
pub mod errors;
pub mod resources;
pub mod s3_store;
pub mod sqs_queue;

pub use dynamo_jobs::DynamoJobStore;
pub use errors::{
    classify_sdk_error, is_transient_code, is_transient_sdk_error, retry, retry_sdk,
    to_pipeline_error,
};
pub use resources::AwsResources;
pub use s3_store::S3Store;
pub use sqs_queue::SqsQueue;

/// The SDK configuration from the default provider chain: region, credentials, and
/// `AWS_ENDPOINT_URL` (a local AWS-protocol server in tests).
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
