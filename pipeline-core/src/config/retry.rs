//! The one retry policy of every remote call (S3, SQS, DynamoDB, SageMaker, the HTTP inference
//! backend): attempts and backoff are set here and nowhere else. The AWS SDK's own retries are
//! disabled on every client, so a failing call is tried exactly [`ATTEMPTS`] times.
use backon::ExponentialBuilder;
use std::time::Duration;

/// Calls per operation on transient errors (the first try included).
pub const ATTEMPTS: usize = 4;
/// First retry delay; doubles per retry, with jitter.
pub const MIN_DELAY: Duration = Duration::from_millis(100);
/// Longest delay between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(5);

/// Exponential backoff with jitter for `attempts` calls in all (`attempts - 1` retries).
pub fn backoff(attempts: usize) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(MIN_DELAY)
        .with_max_delay(MAX_DELAY)
        .with_max_times(attempts.saturating_sub(1))
        .with_jitter()
}
