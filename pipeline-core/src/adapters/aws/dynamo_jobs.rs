//! [`JobStore`] over three DynamoDB tables (Jobs, SegmentCompletions, ReassemblyTriggered),
//! with the same semantics as the SQLite store: conditional writes keep terminal states final,
//! a transaction makes segment completions idempotent, a conditional put elects one reassembler.
use super::dynamo_items::{attr, get_n, get_s, index, item_to_job, job_to_item, n, s, Item};
use super::errors::{
    error_code, is_transient_code, is_transient_sdk_error, retry, retry_sdk, sdk_retry_disabled,
    to_pipeline_error,
};
use crate::domain::job::now_millis;
use crate::domain::{JobId, JobRecord, JobStatus, MediaInfo};
use crate::ports::job_store::{Completion, JobCursor, JobOrder, JobPage};
use crate::ports::JobStore;
use crate::{PipelineError, Result};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::time::Duration;

const BACKEND: &str = "dynamodb";
const CONDITION_FAILED: &str = "ConditionalCheckFailedException";
/// Cancellation-reason code of a failed condition inside a transaction.
const REASON_CONDITION_FAILED: &str = "ConditionalCheckFailed";
/// Lifetime of a reassembly claim item (DynamoDB TTL deletes it afterwards).
pub const CLAIM_ITEM_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Condition shared by the status updates: the job exists and is not terminal.
const NOT_TERMINAL: &str =
    "attribute_exists(#id) AND NOT (#st IN (:completed, :failed, :cancelled))";

pub struct DynamoJobStore {
    client: Client,
    jobs: String,
    completions: String,
    triggered: String,
    page_size: Option<i32>,
}

/// One conditional UpdateItem on the Jobs table.
struct JobUpdate<'a> {
    what: &'a str,
    update: &'a str,
    condition: &'a str,
    names: &'a [(&'a str, &'a str)],
    values: Vec<(&'a str, AttributeValue)>,
}

fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn values(pairs: Vec<(&str, AttributeValue)>) -> HashMap<String, AttributeValue> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn terminal_values() -> Vec<(&'static str, AttributeValue)> {
    vec![
        (":completed", s(JobStatus::Completed.as_str())),
        (":failed", s(JobStatus::Failed.as_str())),
        (":cancelled", s(JobStatus::Cancelled.as_str())),
    ]
}

fn build_err(what: &str, e: impl std::fmt::Display) -> PipelineError {
    PipelineError::backend(BACKEND, format!("{what}: {e}"), false)
}

/// A client request token: makes SDK-level retries of one transaction idempotent, while a
/// later call (a redelivered message) gets a fresh token and meets the condition instead.
fn request_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut out = String::new();
    for salt in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(SEQ.fetch_add(1, Ordering::Relaxed));
        h.write_u128(now_nanos());
        h.write_u64(salt);
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Cancellation reason codes of a cancelled transaction (empty for other errors).
fn cancellation_codes(e: &SdkError<TransactWriteItemsError>) -> Vec<String> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().unwrap_or("None").to_string())
            .collect(),
        _ => Vec::new(),
    }
}

fn transaction_transient(e: &SdkError<TransactWriteItemsError>) -> bool {
    is_transient_sdk_error(e) || cancellation_codes(e).iter().any(|c| is_transient_code(c))
}

impl DynamoJobStore {
    pub fn new(
        conf: &aws_config::SdkConfig,
        jobs_table: &str,
        completions_table: &str,
        triggered_table: &str,
    ) -> DynamoJobStore {
        let dynamo = aws_sdk_dynamodb::config::Builder::from(conf)
            .retry_config(sdk_retry_disabled())
            .build();
        DynamoJobStore {
            client: Client::from_conf(dynamo),
            jobs: jobs_table.to_string(),
            completions: completions_table.to_string(),
            triggered: triggered_table.to_string(),
            page_size: None,
        }
    }

    /// Ask for at most `n` items per Query page (default: DynamoDB's 1 MB pages).
    pub fn with_page_size(mut self, n: i32) -> DynamoJobStore {
        self.page_size = Some(n.max(1));
        self
    }

    /// The underlying SDK client (for tools and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn key(id: &JobId) -> HashMap<String, AttributeValue> {
        HashMap::from([(attr::JOB_ID.to_string(), s(id.as_str()))])
    }

    /// Apply `u` to the job (and set its `updated_at`); a failed condition (missing or terminal
    /// job) is a no-op, like the SQLite store's `UPDATE ... WHERE`.
    async fn update_job(&self, id: &JobId, u: JobUpdate<'_>) -> Result<()> {
        self.conditional_update(id, u).await.map(|_| ())
    }

    /// [`Self::update_job`], telling whether the condition held.
    async fn conditional_update(&self, id: &JobId, u: JobUpdate<'_>) -> Result<bool> {
        let mut names = names(u.names);
        names.insert("#up".into(), attr::UPDATED_AT.into());
        let mut values = values(u.values);
        values
            .entry(":upd_now".into())
            .or_insert_with(|| n(now_millis()));
        let update = match u.update.strip_prefix("SET ") {
            Some(rest) => format!("SET #up = :upd_now, {rest}"),
            None => format!("SET #up = :upd_now {}", u.update),
        };
        let res = retry_sdk(|| {
            self.client
                .update_item()
                .table_name(&self.jobs)
                .set_key(Some(Self::key(id)))
                .update_expression(&update)
                .condition_expression(u.condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .send()
        })
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if error_code(&e) == Some(CONDITION_FAILED) => Ok(false),
            Err(e) => Err(to_pipeline_error(BACKEND, &format!("{} {id}", u.what), &e)),
        }
    }

    async fn read_job_item(&self, id: &JobId, projection: Option<&str>) -> Result<Option<Item>> {
        let out = retry_sdk(|| {
            self.client
                .get_item()
                .table_name(&self.jobs)
                .set_key(Some(Self::key(id)))
                .consistent_read(true)
                .set_projection_expression(projection.map(str::to_string))
                .send()
        })
        .await
        .map_err(|e| to_pipeline_error(BACKEND, &format!("get job {id}"), &e))?;
        Ok(out.item)
    }

    fn completion_transaction(
        &self,
        id: &JobId,
        index: u32,
        frames: u64,
    ) -> Result<Vec<TransactWriteItem>> {
        let what = "record segment";
        let mut item = Self::key(id);
        item.insert(attr::SEGMENT_INDEX.into(), n(index));
        item.insert(attr::FRAMES.into(), n(frames));
        item.insert(attr::COMPLETED_AT.into(), n(now_millis()));
        let put = Put::builder()
            .table_name(&self.completions)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#si)")
            .expression_attribute_names("#si", attr::SEGMENT_INDEX)
            .build()
            .map_err(|e| build_err(what, e))?;
        let update = Update::builder()
            .table_name(&self.jobs)
            .set_key(Some(Self::key(id)))
            .update_expression("SET #up = :now, #sw = :zero ADD #done :one")
            .condition_expression("attribute_exists(#id)")
            .expression_attribute_names("#done", attr::SEGMENTS_DONE)
            .expression_attribute_names("#id", attr::JOB_ID)
            .expression_attribute_names("#up", attr::UPDATED_AT)
            .expression_attribute_names("#sw", attr::SWEEPS)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now_millis()))
            .build()
            .map_err(|e| build_err(what, e))?;
        Ok(vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(update).build(),
        ])
    }
}

#[async_trait::async_trait]
impl JobStore for DynamoJobStore {
    async fn create_job(&self, job: &JobRecord) -> Result<bool> {
        let item = job_to_item(job)?;
        let res = retry_sdk(|| {
            self.client
                .put_item()
                .table_name(&self.jobs)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(#id)")
                .expression_attribute_names("#id", attr::JOB_ID)
                .send()
        })
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if error_code(&e) == Some(CONDITION_FAILED) => Ok(false),
            Err(e) => Err(to_pipeline_error(
                BACKEND,
                &format!("create job {}", job.job_id),
                &e,
            )),
        }
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>> {
        match self.read_job_item(id, None).await? {
            Some(item) => item_to_job(&item).map(Some),
            None => Ok(None),
        }
    }

    async fn set_status(&self, id: &JobId, status: JobStatus) -> Result<()> {
        let mut values = terminal_values();
        values.push((":st_new", s(status.as_str())));
        self.update_job(
            id,
            JobUpdate {
                what: "set status of",
                update: "SET #st = :st_new",
                condition: NOT_TERMINAL,
                names: &[("#id", attr::JOB_ID), ("#st", attr::STATUS)],
                values,
            },
        )
        .await
    }

    async fn set_chunked(&self, id: &JobId, media: &MediaInfo, segments_total: u32) -> Result<()> {
        let m = serde_json::to_string(media).map_err(|e| PipelineError::State(e.to_string()))?;
        let mut values = terminal_values();
        values.push((":processing", s(JobStatus::Processing.as_str())));
        values.push((":media", s(m)));
        values.push((":total", n(segments_total)));
        self.update_job(
            id,
            JobUpdate {
                what: "set chunked",
                update: "SET #st = :processing, #media = :media, #total = :total",
                condition: NOT_TERMINAL,
                names: &[
                    ("#id", attr::JOB_ID),
                    ("#st", attr::STATUS),
                    ("#media", attr::MEDIA),
                    ("#total", attr::SEGMENTS_TOTAL),
                ],
                values,
            },
        )
        .await
    }

    async fn add_frame_progress(&self, id: &JobId, frames: u64) -> Result<()> {
        self.update_job(
            id,
            JobUpdate {
                what: "add frame progress to",
                // Progress: the sweeper's count of fruitless re-drives starts again.
                update: "SET #sw = :zero ADD #fr :n",
                condition: "attribute_exists(#id)",
                names: &[
                    ("#id", attr::JOB_ID),
                    ("#fr", attr::FRAMES_DONE),
                    ("#sw", attr::SWEEPS),
                ],
                values: vec![(":n", n(frames)), (":zero", n(0))],
            },
        )
        .await
    }

    async fn record_segment(&self, id: &JobId, index: u32, frames: u64) -> Result<Completion> {
        let items = self.completion_transaction(id, index, frames)?;
        let token = request_token();
        let res = retry(
            || {
                self.client
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .client_request_token(&token)
                    .send()
            },
            transaction_transient,
        )
        .await;
        let newly_recorded = match res {
            Ok(_) => true,
            Err(e) => {
                let codes = cancellation_codes(&e);
                if codes.first().map(String::as_str) == Some(REASON_CONDITION_FAILED) {
                    false
                } else if codes.get(1).map(String::as_str) == Some(REASON_CONDITION_FAILED) {
                    return Err(PipelineError::State(format!(
                        "segment {index} of unknown job {id}"
                    )));
                } else {
                    let mut err = to_pipeline_error(
                        BACKEND,
                        &format!("record segment {index} of {id} (reasons {codes:?})"),
                        &e,
                    );
                    if transaction_transient(&e) {
                        if let PipelineError::Backend { class, .. } = &mut err {
                            *class = crate::ErrorClass::Transient;
                        }
                    }
                    return Err(err);
                }
            }
        };
        let item = self
            .read_job_item(id, Some("segments_done, segments_total"))
            .await?
            .ok_or_else(|| PipelineError::State(format!("job {id} not found")))?;
        let ids = id.as_str();
        Ok(Completion {
            newly_recorded,
            segments_done: get_n(&item, attr::SEGMENTS_DONE, ids)?.unwrap_or(0),
            segments_total: get_n(&item, attr::SEGMENTS_TOTAL, ids)?.unwrap_or(0),
        })
    }

    async fn completed_segments(&self, id: &JobId) -> Result<Vec<(u32, u64)>> {
        let mut out = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = retry_sdk(|| {
                self.client
                    .query()
                    .table_name(&self.completions)
                    .key_condition_expression("#id = :id")
                    .expression_attribute_names("#id", attr::JOB_ID)
                    .expression_attribute_values(":id", s(id.as_str()))
                    .consistent_read(true)
                    .set_limit(self.page_size)
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await
            .map_err(|e| to_pipeline_error(BACKEND, &format!("completed segments of {id}"), &e))?;
            for item in page.items() {
                let index = get_n::<u32>(item, attr::SEGMENT_INDEX, id.as_str())?;
                let frames = get_n::<u64>(item, attr::FRAMES, id.as_str())?.unwrap_or(0);
                if let Some(index) = index {
                    out.push((index, frames));
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out.sort_unstable();
        out.dedup_by_key(|(i, _)| *i);
        Ok(out)
    }

    async fn claim_reassembly(&self, id: &JobId, token: &str, ttl: Duration) -> Result<bool> {
        let now = now_millis();
        let stale_before = now - ttl.as_millis().min(i64::MAX as u128) as i64;
        let expires = now / 1000 + CLAIM_ITEM_LIFETIME.max(ttl).as_secs() as i64;
        let mut item = Self::key(id);
        item.insert(attr::TOKEN.into(), s(token));
        item.insert(attr::CLAIMED_AT.into(), n(now));
        item.insert(attr::TTL.into(), n(expires));
        let res = retry_sdk(|| {
            self.client
                .put_item()
                .table_name(&self.triggered)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(#id) OR #tok = :tok OR #at < :stale")
                .expression_attribute_names("#id", attr::JOB_ID)
                .expression_attribute_names("#tok", attr::TOKEN)
                .expression_attribute_names("#at", attr::CLAIMED_AT)
                .expression_attribute_values(":tok", s(token))
                .expression_attribute_values(":stale", n(stale_before))
                .send()
        })
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if error_code(&e) == Some(CONDITION_FAILED) => Ok(false),
            Err(e) => Err(to_pipeline_error(
                BACKEND,
                &format!("claim reassembly of {id}"),
                &e,
            )),
        }
    }

    async fn complete_job(&self, id: &JobId, output_key: &str) -> Result<bool> {
        self.conditional_update(
            id,
            JobUpdate {
                what: "complete",
                update: "SET #st = :completed, #out = :out, #cat = :now REMOVE #err",
                condition: "attribute_exists(#id) AND NOT (#st IN (:failed, :cancelled))",
                names: &[
                    ("#id", attr::JOB_ID),
                    ("#st", attr::STATUS),
                    ("#out", attr::OUTPUT_KEY),
                    ("#cat", attr::COMPLETED_AT),
                    ("#err", attr::ERROR),
                ],
                values: vec![
                    (":completed", s(JobStatus::Completed.as_str())),
                    (":failed", s(JobStatus::Failed.as_str())),
                    (":cancelled", s(JobStatus::Cancelled.as_str())),
                    (":out", s(output_key)),
                    (":now", n(now_millis())),
                ],
            },
        )
        .await
    }

    async fn list_jobs(
        &self,
        status: JobStatus,
        order: JobOrder,
        after: Option<&JobCursor>,
        limit: usize,
    ) -> Result<JobPage> {
        let (index, sort_attr) = match order {
            JobOrder::Created => (index::BY_CREATED, attr::CREATED_AT),
            JobOrder::Completed => (index::BY_COMPLETED, attr::COMPLETED_AT),
        };
        let start = after.map(|c| {
            Item::from([
                (attr::JOB_ID.to_string(), s(c.job_id.as_str())),
                (attr::STATUS.to_string(), s(status.as_str())),
                (sort_attr.to_string(), n(c.sort)),
            ])
        });
        let out = retry_sdk(|| {
            self.client
                .query()
                .table_name(&self.jobs)
                .index_name(index)
                .key_condition_expression("#st = :st")
                .expression_attribute_names("#st", attr::STATUS)
                .expression_attribute_values(":st", s(status.as_str()))
                .scan_index_forward(false)
                .limit(limit.clamp(1, i32::MAX as usize) as i32)
                .set_exclusive_start_key(start.clone())
                .send()
        })
        .await
        .map_err(|e| to_pipeline_error(BACKEND, &format!("list {status} jobs ({index})"), &e))?;
        let mut jobs = Vec::new();
        for item in out.items() {
            match item_to_job(item) {
                Ok(job) => jobs.push(job),
                // One damaged record must not hide the others.
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable job record"),
            }
        }
        let next = match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => {
                let id = get_s(k, attr::JOB_ID).unwrap_or("");
                let job_id = JobId::parse(id).map_err(|e| {
                    PipelineError::backend(BACKEND, format!("list {status} jobs: {e}"), false)
                })?;
                let sort = get_n::<i64>(k, sort_attr, id)?.ok_or_else(|| {
                    PipelineError::backend(
                        BACKEND,
                        format!("list {status} jobs: LastEvaluatedKey without {sort_attr}"),
                        false,
                    )
                })?;
                Some(JobCursor { job_id, sort })
            }
            _ => None,
        };
        Ok(JobPage { jobs, next })
    }

    async fn mark_swept(&self, id: &JobId, seen_updated_at: i64) -> Result<bool> {
        let mut values = terminal_values();
        values.push((":seen", n(seen_updated_at)));
        values.push((":one", n(1)));
        // Never back to the value just seen (a sweep within the same millisecond).
        values.push((":upd_now", n(now_millis().max(seen_updated_at + 1))));
        self.conditional_update(
            id,
            JobUpdate {
                what: "mark swept",
                update: "ADD #sw :one",
                condition:
                    "attribute_exists(#id) AND NOT (#st IN (:completed, :failed, :cancelled)) \
                            AND (#up = :seen OR (attribute_not_exists(#up) AND #cr = :seen))",
                names: &[
                    ("#id", attr::JOB_ID),
                    ("#st", attr::STATUS),
                    ("#sw", attr::SWEEPS),
                    ("#cr", attr::CREATED_AT),
                ],
                values,
            },
        )
        .await
    }

    async fn fail_job(&self, id: &JobId, reason: &str) -> Result<()> {
        let mut values = terminal_values();
        values.push((":reason", s(reason)));
        values.push((":now", n(now_millis())));
        self.update_job(
            id,
            JobUpdate {
                what: "fail",
                update: "SET #st = :failed, #err = :reason, #cat = :now",
                condition: NOT_TERMINAL,
                names: &[
                    ("#id", attr::JOB_ID),
                    ("#st", attr::STATUS),
                    ("#err", attr::ERROR),
                    ("#cat", attr::COMPLETED_AT),
                ],
                values,
            },
        )
        .await
    }

    async fn cancel_job(&self, id: &JobId) -> Result<bool> {
        let mut values = terminal_values();
        values.push((":now", n(now_millis())));
        self.conditional_update(
            id,
            JobUpdate {
                what: "cancel",
                update: "SET #st = :cancelled, #cat = :now",
                condition: NOT_TERMINAL,
                names: &[
                    ("#id", attr::JOB_ID),
                    ("#st", attr::STATUS),
                    ("#cat", attr::COMPLETED_AT),
                ],
                values,
            },
        )
        .await
    }

    async fn delete_job(&self, id: &JobId) -> Result<()> {
        // Completions first: a record without its job is never left behind by a crash between
        // the steps (a job record without completions just looks unstarted).
        for (index, _) in self.completed_segments(id).await? {
            let mut key = Self::key(id);
            key.insert(attr::SEGMENT_INDEX.into(), n(index));
            self.delete_item(&self.completions, key, id).await?;
        }
        self.delete_item(&self.triggered, Self::key(id), id).await?;
        self.delete_item(&self.jobs, Self::key(id), id).await
    }
}

impl DynamoJobStore {
    /// DeleteItem (absent is fine).
    async fn delete_item(
        &self,
        table: &str,
        key: HashMap<String, AttributeValue>,
        id: &JobId,
    ) -> Result<()> {
        retry_sdk(|| {
            self.client
                .delete_item()
                .table_name(table)
                .set_key(Some(key.clone()))
                .send()
        })
        .await
        .map(|_| ())
        .map_err(|e| to_pipeline_error(BACKEND, &format!("delete job {id} from {table}"), &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_s3::primitives::SdkBody;

    fn cancelled(codes: &[&str]) -> SdkError<TransactWriteItemsError> {
        let mut b = TransactionCanceledException::builder().message("cancelled");
        for c in codes {
            b = b.cancellation_reasons(CancellationReason::builder().code(*c).build());
        }
        let err = TransactWriteItemsError::TransactionCanceledException(b.build());
        SdkError::service_error(
            err,
            HttpResponse::new(400.try_into().unwrap(), SdkBody::empty()),
        )
    }

    #[test]
    fn cancellation_reasons_classify_the_transaction() {
        let dup = cancelled(&["ConditionalCheckFailed", "None"]);
        assert_eq!(cancellation_codes(&dup)[0], REASON_CONDITION_FAILED);
        assert!(!transaction_transient(&dup));
        assert!(transaction_transient(&cancelled(&[
            "TransactionConflict",
            "None"
        ])));
        // ThrottlingError is the reason code DynamoDB uses inside transactions.
        assert!(transaction_transient(&cancelled(&[
            "None",
            "ThrottlingError"
        ])));
        assert!(transaction_transient(&cancelled(&[
            "ProvisionedThroughputExceeded",
            "None"
        ])));
        assert!(!transaction_transient(&cancelled(&[
            "ValidationError",
            "None"
        ])));
    }

    #[test]
    fn request_tokens_are_unique_and_short() {
        let a = request_token();
        let b = request_token();
        assert_ne!(a, b);
        assert!(a.len() <= 36 && a.len() >= 16, "{a}");
    }
}
