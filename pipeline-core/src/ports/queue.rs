//! Queue port: at-least-once message delivery with visibility timeouts (SQS semantics).
use crate::Result;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// Stable across redeliveries (SQS MessageId).
    pub id: String,
    pub body: String,
    /// Opaque handle for delete / visibility changes.
    pub receipt: String,
    /// How many times this message has been received (1 on first delivery).
    pub receive_count: u32,
}

#[async_trait::async_trait]
pub trait Queue: Send + Sync {
    fn name(&self) -> &str;
    async fn send(&self, body: &str) -> Result<()>;
    /// Long-poll for up to `max` messages, waiting at most `wait`.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<ReceivedMessage>>;
    async fn delete(&self, receipt: &str) -> Result<()>;
    /// Extend (heartbeat) or reset (`Duration::ZERO` = release now) a message's visibility.
    async fn set_visibility(&self, receipt: &str, timeout: Duration) -> Result<()>;
}
