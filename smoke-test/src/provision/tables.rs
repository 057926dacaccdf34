//! DynamoDB: the three tables (on-demand), their GSIs and TTL.
use super::aws_err;
use super::spec::{GsiSpec, KeyAttr, TableSpec};
use anyhow::{bail, Context, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableDescription, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_dynamodb::Client;
use std::time::{Duration, Instant};

/// Longest wait for a table (or a new GSI) to become ACTIVE.
pub const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

fn key_schema(partition: KeyAttr, sort: Option<KeyAttr>) -> Result<Vec<KeySchemaElement>> {
    let mut out = vec![KeySchemaElement::builder()
        .attribute_name(partition.0)
        .key_type(KeyType::Hash)
        .build()?];
    if let Some(s) = sort {
        out.push(
            KeySchemaElement::builder()
                .attribute_name(s.0)
                .key_type(KeyType::Range)
                .build()?,
        );
    }
    Ok(out)
}

/// Every attribute used in a key of the table or of a GSI, once.
fn attribute_definitions(spec: &TableSpec) -> Result<Vec<AttributeDefinition>> {
    let mut attrs: Vec<KeyAttr> = vec![spec.partition];
    attrs.extend(spec.sort);
    for g in spec.gsis {
        attrs.push(g.partition);
        attrs.extend(g.sort);
    }
    let mut out: Vec<AttributeDefinition> = Vec::new();
    for (name, ty) in attrs {
        if out.iter().any(|a| a.attribute_name() == name) {
            continue;
        }
        out.push(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::from(ty))
                .build()?,
        );
    }
    Ok(out)
}

fn projection() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::All)
        .build()
}

fn gsi(g: &GsiSpec) -> Result<GlobalSecondaryIndex> {
    Ok(GlobalSecondaryIndex::builder()
        .index_name(g.name)
        .set_key_schema(Some(key_schema(g.partition, g.sort)?))
        .projection(projection())
        .build()?)
}

pub async fn describe(ddb: &Client, name: &str) -> Result<TableDescription> {
    ddb.describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| aws_err(&format!("describe table {name}"), &e))?
        .table
        .with_context(|| format!("describe table {name}: no description"))
}

async fn wait_active(ddb: &Client, name: &str) -> Result<TableDescription> {
    let deadline = Instant::now() + ACTIVE_TIMEOUT;
    loop {
        let t = describe(ddb, name).await?;
        let gsis_active = t
            .global_secondary_indexes()
            .iter()
            .all(|g| g.index_status().is_none_or(|s| s.as_str() == "ACTIVE"));
        if t.table_status() == Some(&TableStatus::Active) && gsis_active {
            return Ok(t);
        }
        if Instant::now() >= deadline {
            bail!("table {name} not ACTIVE after {ACTIVE_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Create the table of `spec` as `name`, or check the existing one's keys and add missing GSIs;
/// then enable TTL if the spec has one.
pub async fn ensure_table(ddb: &Client, name: &str, spec: &TableSpec) -> Result<()> {
    let gsis = spec.gsis.iter().map(gsi).collect::<Result<Vec<_>>>()?;
    let created = ddb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(spec.partition, spec.sort)?))
        .set_attribute_definitions(Some(attribute_definitions(spec)?))
        .set_global_secondary_indexes(Some(gsis).filter(|g| !g.is_empty()))
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            let t = wait_active(ddb, name).await?;
            let want = key_schema(spec.partition, spec.sort)?;
            let have = t.key_schema();
            let same = want.len() == have.len()
                && want.iter().all(|w| {
                    have.iter().any(|h| {
                        h.attribute_name() == w.attribute_name() && h.key_type() == w.key_type()
                    })
                });
            if !same {
                bail!("table {name} exists with a different key schema: {have:?}");
            }
            for g in spec.gsis {
                if t.global_secondary_indexes()
                    .iter()
                    .any(|x| x.index_name() == Some(g.name))
                {
                    continue;
                }
                let action = CreateGlobalSecondaryIndexAction::builder()
                    .index_name(g.name)
                    .set_key_schema(Some(key_schema(g.partition, g.sort)?))
                    .projection(projection())
                    .build()?;
                ddb.update_table()
                    .table_name(name)
                    .set_attribute_definitions(Some(attribute_definitions(spec)?))
                    .global_secondary_index_updates(
                        GlobalSecondaryIndexUpdate::builder().create(action).build(),
                    )
                    .send()
                    .await
                    .map_err(|e| aws_err(&format!("add index {} to {name}", g.name), &e))?;
                wait_active(ddb, name).await?;
            }
        }
        Err(e) => return Err(aws_err(&format!("create table {name}"), &e)),
    }
    wait_active(ddb, name).await?;
    if let Some(attr) = spec.ttl_attribute {
        ensure_ttl(ddb, name, attr).await?;
    }
    Ok(())
}

/// The enabled TTL attribute of `name`, if any.
pub async fn ttl_attribute(ddb: &Client, name: &str) -> Result<Option<String>> {
    let out = ddb
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| aws_err(&format!("describe TTL of {name}"), &e))?;
    Ok(out.time_to_live_description().and_then(|d| {
        matches!(
            d.time_to_live_status(),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        )
        .then(|| d.attribute_name().map(str::to_string))
        .flatten()
    }))
}

async fn ensure_ttl(ddb: &Client, name: &str, attr: &str) -> Result<()> {
    // Enabling TTL twice is an error on AWS: look first.
    if ttl_attribute(ddb, name).await?.as_deref() == Some(attr) {
        return Ok(());
    }
    ddb.update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(attr)
                .enabled(true)
                .build()?,
        )
        .send()
        .await
        .map_err(|e| aws_err(&format!("enable TTL on {name}"), &e))?;
    Ok(())
}
