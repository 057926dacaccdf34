//! The canonical JSON of what exists, in the shape `infra/lib/shapes.ts` emits from the CDK
//! templates, so a contract test can compare the local provisioning with the deployed stacks.
use super::buckets::current_rules;
use super::spec::{BucketRole, QueueRole, TableRole};
use super::{queues, tables};
use anyhow::{bail, Context, Result};
use pipeline_core::adapters::aws::AwsResources;
use serde_json::{json, Map, Value};

fn bucket_of(res: &AwsResources, role: BucketRole) -> &str {
    match role {
        BucketRole::Input => &res.input_bucket,
        BucketRole::Output => &res.output_bucket,
    }
}

fn queue_of(res: &AwsResources, role: QueueRole) -> &str {
    match role {
        QueueRole::Chunking => &res.chunking_queue_url,
        QueueRole::VideoWorker => &res.video_worker_queue_url,
        QueueRole::SegmentOutput => &res.segment_output_queue_url,
        QueueRole::Reassembly => &res.reassembly_queue_url,
    }
}

fn table_of(res: &AwsResources, role: TableRole) -> &str {
    match role {
        TableRole::Jobs => &res.jobs_table,
        TableRole::SegmentCompletions => &res.segment_completions_table,
        TableRole::ReassemblyTriggered => &res.reassembly_triggered_table,
    }
}

fn key_attr(name: &str, defs: &[aws_sdk_dynamodb::types::AttributeDefinition]) -> Result<Value> {
    let ty = defs
        .iter()
        .find(|d| d.attribute_name() == name)
        .with_context(|| format!("key attribute {name} has no AttributeDefinition"))?;
    Ok(json!({"name": name, "type": ty.attribute_type().as_str()}))
}

fn keys(
    schema: &[aws_sdk_dynamodb::types::KeySchemaElement],
    defs: &[aws_sdk_dynamodb::types::AttributeDefinition],
) -> Result<(Value, Value)> {
    let find = |t: &str| schema.iter().find(|k| k.key_type().as_str() == t);
    let hash = find("HASH").context("key schema without HASH key")?;
    let pk = key_attr(hash.attribute_name(), defs)?;
    let sk = match find("RANGE") {
        Some(r) => key_attr(r.attribute_name(), defs)?,
        None => Value::Null,
    };
    Ok((pk, sk))
}

async fn table_shape(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Result<Value> {
    let t = tables::describe(ddb, name).await?;
    let defs = t.attribute_definitions();
    let (pk, sk) = keys(t.key_schema(), defs)?;
    let mut gsis = Vec::new();
    for g in t.global_secondary_indexes() {
        let (gpk, gsk) = keys(g.key_schema(), defs)?;
        let projection = g
            .projection()
            .and_then(|p| p.projection_type())
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "ALL".into());
        gsis.push(json!({
            "name": g.index_name().unwrap_or(""),
            "partition_key": gpk,
            "sort_key": gsk,
            "projection": projection,
        }));
    }
    gsis.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let ttl = tables::ttl_attribute(ddb, name).await?;
    Ok(json!({"partition_key": pk, "sort_key": sk, "gsis": gsis, "ttl_attribute": ttl}))
}

/// `maxReceiveCount` of a RedrivePolicy (a number, or a string on some servers).
pub fn max_receive_count(redrive_policy: &str) -> Option<u64> {
    let v: Value = serde_json::from_str(redrive_policy).ok()?;
    match &v["maxReceiveCount"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Describe the provisioned resources: per table key schema + GSIs + TTL attribute, per bucket
/// notification rules (event, prefix, suffix, target queue role), per queue visibility timeout
/// and DLQ maxReceiveCount. Key order is canonical (sorted) at every level.
pub async fn describe_shapes(conf: &aws_config::SdkConfig, res: &AwsResources) -> Result<Value> {
    let sqs = aws_sdk_sqs::Client::new(conf);
    let ddb = aws_sdk_dynamodb::Client::new(conf);
    let s3 = pipeline_core::adapters::aws::S3Store::new(conf, &res.input_bucket);

    let mut queues = Map::new();
    let mut arn_roles = Vec::new();
    for role in QueueRole::ALL {
        let url = queue_of(res, role);
        let attrs = queues::attributes(&sqs, url).await?;
        let visibility: u64 = attrs
            .get("VisibilityTimeout")
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{url}: no VisibilityTimeout"))?;
        let Some(max) = attrs
            .get("RedrivePolicy")
            .and_then(|p| max_receive_count(p))
        else {
            bail!("{url}: no dead-letter queue");
        };
        if let Some(arn) = attrs.get("QueueArn") {
            arn_roles.push((arn.clone(), role));
        }
        queues.insert(
            role.as_str().into(),
            json!({"visibility_timeout_seconds": visibility, "dlq_max_receive_count": max}),
        );
    }

    let mut buckets = Map::new();
    for role in BucketRole::ALL {
        let bucket = bucket_of(res, role);
        let mut rules = Vec::new();
        for (event, prefix, suffix, arn) in current_rules(s3.client(), bucket).await? {
            let queue = arn_roles
                .iter()
                .find(|(a, _)| *a == arn)
                .map(|(_, r)| r.as_str())
                .with_context(|| format!("notification target {arn} is not a pipeline queue"))?;
            let sort_key = format!(
                "{}|{}",
                prefix.as_deref().unwrap_or("null"),
                suffix.as_deref().unwrap_or("null")
            );
            rules.push((
                sort_key,
                json!({"event": event, "prefix": prefix, "suffix": suffix, "queue": queue}),
            ));
        }
        rules.sort_by(|a, b| a.0.cmp(&b.0));
        let list: Vec<Value> = rules.into_iter().map(|(_, v)| v).collect();
        buckets.insert(role.as_str().into(), json!({"notifications": list}));
    }

    let mut tables_out = Map::new();
    for role in TableRole::ALL {
        tables_out.insert(
            role.as_str().into(),
            table_shape(&ddb, table_of(res, role)).await?,
        );
    }
    Ok(canonical(
        &json!({"buckets": buckets, "queues": queues, "tables": tables_out}),
    ))
}

/// `value` with object keys sorted at every level.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&o[k]));
            }
            Value::Object(out)
        }
        v => v.clone(),
    }
}

/// Text as `canonicalJson` in `infra/lib/shapes.ts` writes it: sorted keys, 2-space indent,
/// trailing newline.
pub fn canonical_json(value: &Value) -> String {
    let mut s = serde_json::to_string_pretty(&canonical(value)).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redrive_counts_parse_from_numbers_and_strings() {
        assert_eq!(
            max_receive_count(r#"{"deadLetterTargetArn":"a","maxReceiveCount":4}"#),
            Some(4)
        );
        assert_eq!(max_receive_count(r#"{"maxReceiveCount":"5"}"#), Some(5));
        assert_eq!(max_receive_count("{}"), None);
        assert_eq!(max_receive_count("nope"), None);
    }

    #[test]
    fn canonical_json_sorts_keys_like_the_infra_script() {
        let v = json!({"b": {"z": 1, "a": [{"y": null, "x": "s"}]}, "a": []});
        assert_eq!(
            canonical_json(&v),
            "{\n  \"a\": [],\n  \"b\": {\n    \"a\": [\n      {\n        \"x\": \"s\",\n        \"y\": null\n      }\n    ],\n    \"z\": 1\n  }\n}\n"
        );
    }
}
