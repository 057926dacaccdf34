//! [`Queue`] over one SQS queue.
use super::errors::{retry_sdk, sdk_retry_disabled, to_pipeline_error};
use crate::ports::{Queue, ReceivedMessage};
use crate::{PipelineError, Result};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use std::time::Duration;

const BACKEND: &str = "sqs";
/// SQS limits: long polls wait at most 20 s and return at most 10 messages.
pub const MAX_WAIT: Duration = Duration::from_secs(20);
pub const MAX_MESSAGES: usize = 10;
/// Largest visibility timeout SQS accepts (12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

pub struct SqsQueue {
    client: Client,
    url: String,
    name: String,
    /// Visibility requested on receive (None: the queue's default).
    receive_visibility: Option<Duration>,
}

impl SqsQueue {
    pub fn new(conf: &aws_config::SdkConfig, queue_url: &str) -> SqsQueue {
        let sqs = aws_sdk_sqs::config::Builder::from(conf)
            .retry_config(sdk_retry_disabled())
            .build();
        SqsQueue {
            client: Client::from_conf(sqs),
            url: queue_url.to_string(),
            name: queue_name(queue_url).to_string(),
            receive_visibility: None,
        }
    }

    /// Ask for this visibility timeout on every receive, so a consumer's own setting holds from
    /// the moment it takes a message (not only from its first heartbeat): a worker killed before
    /// its first heartbeat releases the message after this long, not after the queue default.
    pub fn with_receive_visibility(mut self, visibility: Duration) -> SqsQueue {
        self.receive_visibility = Some(visibility.min(MAX_VISIBILITY));
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The underlying SDK client (for tools and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn err<E>(&self, what: &str, e: &aws_sdk_sqs::error::SdkError<E>) -> PipelineError
    where
        E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        to_pipeline_error(BACKEND, &format!("{what} {}", self.name), e)
    }
}

/// A queue's own settings, the one source the workers take them from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// The queue's `VisibilityTimeout`.
    pub visibility: Duration,
    /// `maxReceiveCount` of its redrive policy (`None`: no dead-letter queue).
    pub max_receive_count: Option<u32>,
}

/// `maxReceiveCount` of a RedrivePolicy JSON document (a number or, as SQS returns it, a string).
pub fn max_receive_count(policy: &str) -> Option<u32> {
    let v: serde_json::Value = serde_json::from_str(policy).ok()?;
    match &v["maxReceiveCount"] {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl SqsQueue {
    /// Read the queue's visibility timeout and redrive policy. Doubles as the start-up check of
    /// queue access: a queue that does not exist or may not be read is a worker-fatal error.
    pub async fn settings(&self) -> Result<QueueSettings> {
        let out = retry_sdk(|| {
            self.client
                .get_queue_attributes()
                .queue_url(&self.url)
                .attribute_names(QueueAttributeName::VisibilityTimeout)
                .attribute_names(QueueAttributeName::RedrivePolicy)
                .send()
        })
        .await
        .map_err(|e| self.err("read the attributes of", &e))?;
        let attrs = out.attributes();
        let get = |a: QueueAttributeName| attrs.and_then(|m| m.get(&a)).map(String::as_str);
        let visibility = get(QueueAttributeName::VisibilityTimeout)
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs)
            .ok_or_else(|| {
                PipelineError::backend(
                    BACKEND,
                    format!("queue {} reports no VisibilityTimeout", self.name),
                    false,
                )
            })?;
        Ok(QueueSettings {
            visibility,
            max_receive_count: get(QueueAttributeName::RedrivePolicy).and_then(max_receive_count),
        })
    }
}

/// Last path segment of a queue URL (`https://sqs.../123456789012/name` -> `name`).
pub fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

fn to_message(m: &aws_sdk_sqs::types::Message) -> Option<ReceivedMessage> {
    let count = m
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|c| c.parse::<u32>().ok())
        .unwrap_or(1);
    Some(ReceivedMessage {
        id: m.message_id()?.to_string(),
        body: m.body().unwrap_or("").to_string(),
        receipt: m.receipt_handle()?.to_string(),
        receive_count: count.max(1),
    })
}

#[async_trait::async_trait]
impl Queue for SqsQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, body: &str) -> Result<()> {
        retry_sdk(|| {
            self.client
                .send_message()
                .queue_url(&self.url)
                .message_body(body)
                .send()
        })
        .await
        .map(|_| ())
        .map_err(|e| self.err("send to", &e))
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<ReceivedMessage>> {
        let max = max.clamp(1, MAX_MESSAGES) as i32;
        // Whole seconds, rounded down: never wait longer than asked.
        let wait = wait.min(MAX_WAIT).as_secs() as i32;
        #[allow(deprecated)] // AttributeNames too, for servers that predate the new parameter.
        let out = retry_sdk(|| {
            self.client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(max)
                .wait_time_seconds(wait)
                .set_visibility_timeout(self.receive_visibility.map(|v| v.as_secs().max(1) as i32))
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .attribute_names(QueueAttributeName::from("ApproximateReceiveCount"))
                .send()
        })
        .await
        .map_err(|e| self.err("receive from", &e))?;
        Ok(out.messages().iter().filter_map(to_message).collect())
    }

    async fn delete(&self, receipt: &str) -> Result<()> {
        retry_sdk(|| {
            self.client
                .delete_message()
                .queue_url(&self.url)
                .receipt_handle(receipt)
                .send()
        })
        .await
        .map(|_| ())
        .map_err(|e| self.err("delete from", &e))
    }

    async fn set_visibility(&self, receipt: &str, timeout: Duration) -> Result<()> {
        let secs = timeout.min(MAX_VISIBILITY).as_secs() as i32;
        retry_sdk(|| {
            self.client
                .change_message_visibility()
                .queue_url(&self.url)
                .receipt_handle(receipt)
                .visibility_timeout(secs)
                .send()
        })
        .await
        .map(|_| ())
        .map_err(|e| self.err("change visibility in", &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_from_urls() {
        assert_eq!(
            queue_name("https://sqs.us-east-1.amazonaws.com/123456789012/stereo-chunking"),
            "stereo-chunking"
        );
        assert_eq!(queue_name("http://127.0.0.1:5000/123456789012/q/"), "q");
    }

    #[test]
    fn max_receive_count_from_redrive_policies() {
        let arn = "arn:aws:sqs:us-east-1:1:q-dlq";
        assert_eq!(
            max_receive_count(&format!(
                r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"4"}}"#
            )),
            Some(4)
        );
        assert_eq!(
            max_receive_count(r#"{"deadLetterTargetArn":"x","maxReceiveCount":7}"#),
            Some(7)
        );
        assert_eq!(max_receive_count("not json"), None);
    }

    #[test]
    fn receive_count_attribute_is_read() {
        let m = aws_sdk_sqs::types::Message::builder()
            .message_id("id")
            .receipt_handle("r")
            .body("b")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "3")
            .build();
        let r = to_message(&m).unwrap();
        assert_eq!(
            (r.id.as_str(), r.receipt.as_str(), r.receive_count),
            ("id", "r", 3)
        );
        let no_receipt = aws_sdk_sqs::types::Message::builder()
            .message_id("id")
            .build();
        assert!(to_message(&no_receipt).is_none());
    }
}
