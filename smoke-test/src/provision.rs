//! Idempotent creation of every pipeline resource on an AWS-protocol endpoint (moto in tests,
//! a real account for the smoke test): 2 buckets with notifications, 4 queues each with a
//! dead-letter queue, 3 tables with GSIs and TTL. Running it again re-applies the configuration
//! and changes nothing else.
mod buckets;
mod queues;
mod shapes;
mod spec;
mod tables;

pub use shapes::{canonical, canonical_json, describe_shapes};
pub use spec::{
    BucketRole, NotificationRule, ProvisionOptions, QueueRole, ResourceNames, TableRole, TableSpec,
    CREATED_EVENT, DEFAULT_MAX_RECEIVE_COUNT, NOTIFICATIONS, TABLES,
};

use anyhow::{anyhow, Result};
use pipeline_core::adapters::aws::{AwsResources, S3Store};
use std::io::Write;
use std::path::Path;

/// An SDK error with its whole chain of causes (the SDK's `Display` says only "service error").
pub(crate) fn aws_err<E: std::error::Error + 'static>(what: &str, e: &E) -> anyhow::Error {
    anyhow!("{what}: {}", aws_sdk_s3::error::DisplayErrorContext(e))
}

/// Provision with the deployed settings (visibility timeouts, maxReceiveCount 4).
pub async fn provision(
    conf: &aws_config::SdkConfig,
    names: &ResourceNames,
) -> Result<AwsResources> {
    provision_with(conf, names, &ProvisionOptions::default()).await
}

/// Provision with `opts` (tests shorten visibility timeouts).
pub async fn provision_with(
    conf: &aws_config::SdkConfig,
    names: &ResourceNames,
    opts: &ProvisionOptions,
) -> Result<AwsResources> {
    names.validate().map_err(|e| anyhow!(e))?;
    let sqs = aws_sdk_sqs::Client::new(conf);
    let ddb = aws_sdk_dynamodb::Client::new(conf);
    let s3 = S3Store::new(conf, &names.bucket(BucketRole::Input));
    let region = conf
        .region()
        .map(|r| r.as_ref().to_string())
        .unwrap_or_else(|| "us-east-1".into());

    let mut queue_infos = Vec::new();
    for role in QueueRole::ALL {
        queue_infos.push((
            role,
            queues::ensure_role_queue(&sqs, names, role, opts).await?,
        ));
    }
    let info = |role: QueueRole| {
        queue_infos
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, q)| q.clone())
            .ok_or_else(|| anyhow!("queue {} not provisioned", role.as_str()))
    };

    for role in BucketRole::ALL {
        buckets::ensure_bucket(s3.client(), &names.bucket(role), &region).await?;
    }
    // Queue policies first: AWS validates that S3 may send before accepting notifications.
    for role in QueueRole::ALL {
        let sources: Vec<String> = NOTIFICATIONS
            .iter()
            .filter(|n| n.queue == role)
            .map(|n| format!("arn:aws:s3:::{}", names.bucket(n.bucket)))
            .collect();
        if !sources.is_empty() {
            queues::allow_s3(&sqs, &info(role)?, &sources).await?;
        }
    }
    for role in BucketRole::ALL {
        let rules = NOTIFICATIONS
            .iter()
            .filter(|n| n.bucket == role)
            .map(|n| Ok((*n, info(n.queue)?.arn)))
            .collect::<Result<Vec<_>>>()?;
        buckets::ensure_notifications(s3.client(), &names.bucket(role), &rules).await?;
    }

    for spec in TABLES {
        tables::ensure_table(&ddb, &names.table(spec.role), spec).await?;
    }

    Ok(AwsResources {
        input_bucket: names.bucket(BucketRole::Input),
        output_bucket: names.bucket(BucketRole::Output),
        chunking_queue_url: info(QueueRole::Chunking)?.url,
        video_worker_queue_url: info(QueueRole::VideoWorker)?.url,
        segment_output_queue_url: info(QueueRole::SegmentOutput)?.url,
        reassembly_queue_url: info(QueueRole::Reassembly)?.url,
        jobs_table: names.table(TableRole::Jobs),
        segment_completions_table: names.table(TableRole::SegmentCompletions),
        reassembly_triggered_table: names.table(TableRole::ReassemblyTriggered),
    })
}

/// The dead-letter queue URL of `role` (for tests that watch redrives).
pub async fn dead_letter_queue_url(
    conf: &aws_config::SdkConfig,
    names: &ResourceNames,
    role: QueueRole,
) -> Result<String> {
    let sqs = aws_sdk_sqs::Client::new(conf);
    let out = sqs
        .get_queue_url()
        .queue_name(names.dead_letter_queue(role))
        .send()
        .await
        .map_err(|e| aws_err("get dead-letter queue url", &e))?;
    out.queue_url
        .ok_or_else(|| anyhow!("no dead-letter queue URL"))
}

/// Write `KEY=VALUE` lines: the resource variables (RESOURCE_VARS order), then `extra`.
pub fn write_env_file(
    path: &Path,
    res: &AwsResources,
    extra: &[(String, String)],
) -> std::io::Result<()> {
    let mut out = String::new();
    for (k, v) in res.to_env_pairs() {
        out.push_str(&format!("{k}={v}\n"));
    }
    for (k, v) in extra {
        out.push_str(&format!("{k}={v}\n"));
    }
    let mut f = std::fs::File::create(path)?;
    f.write_all(out.as_bytes())?;
    f.sync_all()
}
