//! S3: the two buckets and their notification rules.
use super::aws_err;
use super::spec::{NotificationRule, CREATED_EVENT};
use anyhow::{bail, Context, Result};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Event, FilterRule, FilterRuleName,
    NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
};
use aws_sdk_s3::Client;

/// Create `name` unless we already own it.
pub async fn ensure_bucket(s3: &Client, name: &str, region: &str) -> Result<()> {
    let mut req = s3.create_bucket().bucket(name);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match req.send().await {
        Ok(_) => Ok(()),
        Err(e) => match e.as_service_error() {
            Some(s) if s.is_bucket_already_owned_by_you() => Ok(()),
            // us-east-1 servers may answer "already exists" for our own bucket: check access.
            Some(s) if s.is_bucket_already_exists() => {
                match s3.head_bucket().bucket(name).send().await {
                    Ok(_) => Ok(()),
                    Err(_) => bail!("bucket {name} exists and belongs to someone else"),
                }
            }
            _ => Err(aws_err(&format!("create bucket {name}"), &e)),
        },
    }
}

/// A notification rule as (event, prefix, suffix, queue ARN), for comparisons.
pub type RuleKey = (String, Option<String>, Option<String>, String);

/// moto answers an empty notification configuration with a self-closing
/// `<GetBucketNotificationResponse/>` root, which the SDK refuses to parse (AWS sends an empty
/// `<NotificationConfiguration/>`).
fn is_moto_empty_configuration<E>(e: &aws_sdk_s3::error::SdkError<E>) -> bool {
    e.raw_response().is_some_and(|r| {
        let body = r
            .body()
            .bytes()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        r.status().as_u16() == 200
            && body.contains("<GetBucketNotificationResponse")
            && body.trim_end().ends_with("/>")
    })
}

/// The queue notification rules currently set on `bucket`.
pub async fn current_rules(s3: &Client, bucket: &str) -> Result<Vec<RuleKey>> {
    let out = match s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if is_moto_empty_configuration(&e) => return Ok(Vec::new()),
        Err(e) => return Err(aws_err(&format!("get notifications of {bucket}"), &e)),
    };
    let mut rules = Vec::new();
    for q in out.queue_configurations() {
        let filter = q
            .filter()
            .and_then(|f| f.key())
            .map(|k| k.filter_rules())
            .unwrap_or(&[]);
        let rule = |n: &str| {
            filter
                .iter()
                .find(|r| r.name().is_some_and(|x| x.as_str().eq_ignore_ascii_case(n)))
                .and_then(|r| r.value())
                .map(str::to_string)
        };
        for ev in q.events() {
            rules.push((
                ev.as_str().to_string(),
                rule("prefix"),
                rule("suffix"),
                q.queue_arn().to_string(),
            ));
        }
    }
    rules.sort();
    Ok(rules)
}

/// Set exactly `rules` (with their queue ARNs) on `bucket`; skipped when already in place, so a
/// second provisioning sends no new `s3:TestEvent`.
pub async fn ensure_notifications(
    s3: &Client,
    bucket: &str,
    rules: &[(NotificationRule, String)],
) -> Result<bool> {
    let mut wanted: Vec<RuleKey> = rules
        .iter()
        .map(|(r, arn)| {
            (
                CREATED_EVENT.to_string(),
                r.prefix.map(str::to_string),
                r.suffix.map(str::to_string),
                arn.clone(),
            )
        })
        .collect();
    wanted.sort();
    if current_rules(s3, bucket).await? == wanted {
        return Ok(false);
    }
    let mut configs = Vec::new();
    for (r, arn) in rules {
        let mut key = S3KeyFilter::builder();
        if let Some(p) = r.prefix {
            key = key.filter_rules(
                FilterRule::builder()
                    .name(FilterRuleName::Prefix)
                    .value(p)
                    .build(),
            );
        }
        if let Some(s) = r.suffix {
            key = key.filter_rules(
                FilterRule::builder()
                    .name(FilterRuleName::Suffix)
                    .value(s)
                    .build(),
            );
        }
        configs.push(
            QueueConfiguration::builder()
                .id(r.id)
                .queue_arn(arn)
                .events(Event::from(CREATED_EVENT))
                .filter(
                    NotificationConfigurationFilter::builder()
                        .key(key.build())
                        .build(),
                )
                .build()
                .context("notification rule")?,
        );
    }
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .set_queue_configurations(Some(configs))
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_err(&format!("set notifications of {bucket}"), &e))?;
    Ok(true)
}
