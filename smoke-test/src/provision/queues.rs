//! SQS: each queue with its dead-letter queue, redrive policy, visibility, and the policy that
//! lets S3 send it notifications.
use super::aws_err;
use super::spec::{ProvisionOptions, QueueRole, ResourceNames, DLQ_RETENTION_SECONDS};
use anyhow::{Context, Result};
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::Client;
use serde_json::json;
use std::collections::HashMap;

/// A provisioned queue (its dead-letter queue is `ResourceNames::dead_letter_queue`).
#[derive(Debug, Clone)]
pub struct QueueInfo {
    pub url: String,
    pub arn: String,
}

/// The URL of queue `name`, created (with default attributes) if missing.
pub async fn ensure_queue(sqs: &Client, name: &str) -> Result<String> {
    match sqs.get_queue_url().queue_name(name).send().await {
        Ok(out) => return out.queue_url.context("GetQueueUrl returned no URL"),
        Err(e) => {
            let missing = e.as_service_error().is_some_and(|s| {
                s.is_queue_does_not_exist()
                    || s.code().is_some_and(|c| c.contains("NonExistentQueue"))
            });
            if !missing {
                return Err(aws_err(&format!("get queue url {name}"), &e));
            }
        }
    }
    match sqs.create_queue().queue_name(name).send().await {
        Ok(out) => out.queue_url.context("CreateQueue returned no URL"),
        // Created concurrently by someone else: fine.
        Err(_) => sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| aws_err(&format!("create queue {name}"), &e))?
            .queue_url
            .context("GetQueueUrl returned no URL"),
    }
}

/// Queue attributes by name (all of them).
pub async fn attributes(sqs: &Client, url: &str) -> Result<HashMap<String, String>> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| aws_err(&format!("get attributes of {url}"), &e))?;
    Ok(out
        .attributes()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                .collect()
        })
        .unwrap_or_default())
}

pub async fn queue_arn(sqs: &Client, url: &str) -> Result<String> {
    attributes(sqs, url)
        .await?
        .remove("QueueArn")
        .with_context(|| format!("{url}: no QueueArn attribute"))
}

async fn set_attributes(
    sqs: &Client,
    url: &str,
    attrs: Vec<(QueueAttributeName, String)>,
) -> Result<()> {
    sqs.set_queue_attributes()
        .queue_url(url)
        .set_attributes(Some(attrs.into_iter().collect()))
        .send()
        .await
        .map_err(|e| aws_err(&format!("set attributes of {url}"), &e))?;
    Ok(())
}

/// Create (or find) the queue of `role` and its DLQ, and (re)apply visibility and redrive.
pub async fn ensure_role_queue(
    sqs: &Client,
    names: &ResourceNames,
    role: QueueRole,
    opts: &ProvisionOptions,
) -> Result<QueueInfo> {
    let dlq_url = ensure_queue(sqs, &names.dead_letter_queue(role)).await?;
    set_attributes(
        sqs,
        &dlq_url,
        vec![(
            QueueAttributeName::MessageRetentionPeriod,
            DLQ_RETENTION_SECONDS.to_string(),
        )],
    )
    .await?;
    let dlq_arn = queue_arn(sqs, &dlq_url).await?;
    let url = ensure_queue(sqs, &names.queue(role)).await?;
    let redrive =
        json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": opts.max_receive_count});
    set_attributes(
        sqs,
        &url,
        vec![
            (
                QueueAttributeName::VisibilityTimeout,
                opts.visibility_of(role).as_secs().to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ],
    )
    .await?;
    let arn = queue_arn(sqs, &url).await?;
    Ok(QueueInfo { url, arn })
}

/// Allow S3 to send notifications from `bucket_arns` to the queue.
pub async fn allow_s3(sqs: &Client, queue: &QueueInfo, bucket_arns: &[String]) -> Result<()> {
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowS3BucketNotifications",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue.arn,
            "Condition": {"ArnLike": {"aws:SourceArn": bucket_arns}}
        }]
    });
    set_attributes(
        sqs,
        &queue.url,
        vec![(QueueAttributeName::Policy, policy.to_string())],
    )
    .await
}
