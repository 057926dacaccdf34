//! Jobs-table items <-> [`JobRecord`], and attribute helpers.
use crate::domain::{JobId, JobRecord, MediaInfo};
use crate::{PipelineError, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

/// Attribute names (Jobs, SegmentCompletions, ReassemblyTriggered).
pub mod attr {
    pub const JOB_ID: &str = "job_id";
    pub const STATUS: &str = "status";
    pub const INPUT_BUCKET: &str = "input_bucket";
    pub const INPUT_KEY: &str = "input_key";
    pub const CREATED_AT: &str = "created_at";
    pub const COMPLETED_AT: &str = "completed_at";
    pub const SEGMENTS_TOTAL: &str = "segments_total";
    pub const SEGMENTS_DONE: &str = "segments_done";
    pub const FRAMES_DONE: &str = "frames_done";
    pub const MEDIA: &str = "media";
    pub const OUTPUT_KEY: &str = "output_key";
    pub const ERROR: &str = "error";
    pub const SEGMENT_INDEX: &str = "segment_index";
    pub const FRAMES: &str = "frames";
    pub const TOKEN: &str = "token";
    pub const CLAIMED_AT: &str = "claimed_at";
    pub const TTL: &str = "ttl";
    pub const UPDATED_AT: &str = "updated_at";
    pub const SWEEPS: &str = "sweeps";
    pub const OWNER: &str = "owner";
}

/// The Jobs table's global secondary indexes (partition `status`): the one place their names
/// and keys are written down (`smoke-test provision` creates them from these, `infra` declares
/// the same in `infra/lib/schemas.ts`, checked by the shapes contract).
pub mod index {
    /// Partition `status`, sort `created_at` (N).
    pub const BY_CREATED: &str = "status-created_at";
    /// Partition `status`, sort `completed_at` (N).
    pub const BY_COMPLETED: &str = "status-completed_at";
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn corrupt(id: &str, what: impl std::fmt::Display) -> PipelineError {
    PipelineError::backend("dynamodb", format!("job {id}: {what}"), false)
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// A numeric attribute parsed as `T`; `Ok(None)` when absent, an error when not a number.
pub fn get_n<T: std::str::FromStr>(item: &Item, name: &str, id: &str) -> Result<Option<T>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(v)) => v
            .parse::<T>()
            .map(Some)
            .map_err(|_| corrupt(id, format!("{name} is not a valid number: {v:?}"))),
        Some(other) => Err(corrupt(id, format!("{name} has the wrong type: {other:?}"))),
    }
}

/// The item `create_job` writes.
pub fn job_to_item(job: &JobRecord) -> Result<Item> {
    let mut item = Item::new();
    item.insert(attr::JOB_ID.into(), s(job.job_id.as_str()));
    item.insert(attr::STATUS.into(), s(job.status.as_str()));
    item.insert(attr::INPUT_BUCKET.into(), s(&job.input_bucket));
    item.insert(attr::INPUT_KEY.into(), s(&job.input_key));
    item.insert(attr::CREATED_AT.into(), n(job.created_at));
    item.insert(attr::SEGMENTS_DONE.into(), n(job.segments_done));
    item.insert(attr::FRAMES_DONE.into(), n(job.frames_done));
    item.insert(attr::UPDATED_AT.into(), n(job.updated_at));
    item.insert(attr::SWEEPS.into(), n(job.sweeps));
    if let Some(t) = job.completed_at {
        item.insert(attr::COMPLETED_AT.into(), n(t));
    }
    if let Some(t) = job.segments_total {
        item.insert(attr::SEGMENTS_TOTAL.into(), n(t));
    }
    if let Some(m) = &job.media {
        let json = serde_json::to_string(m).map_err(|e| PipelineError::State(e.to_string()))?;
        item.insert(attr::MEDIA.into(), s(json));
    }
    if let Some(k) = &job.output_key {
        item.insert(attr::OUTPUT_KEY.into(), s(k));
    }
    if let Some(e) = &job.error {
        item.insert(attr::ERROR.into(), s(e));
    }
    if let Some(o) = &job.owner {
        item.insert(attr::OWNER.into(), s(o));
    }
    Ok(item)
}

pub fn item_to_job(item: &Item) -> Result<JobRecord> {
    let id = get_s(item, attr::JOB_ID).unwrap_or("");
    let req = |name: &str| {
        get_s(item, name)
            .map(str::to_string)
            .ok_or_else(|| corrupt(id, format!("missing {name}")))
    };
    let media = match get_s(item, attr::MEDIA) {
        Some(m) => Some(serde_json::from_str::<MediaInfo>(m).map_err(|e| corrupt(id, e))?),
        None => None,
    };
    let created_at = get_n(item, attr::CREATED_AT, id)?.unwrap_or(0);
    Ok(JobRecord {
        job_id: JobId::parse(id).map_err(|e| corrupt(id, e))?,
        status: req(attr::STATUS)?.parse().map_err(|e| corrupt(id, e))?,
        input_bucket: req(attr::INPUT_BUCKET)?,
        input_key: req(attr::INPUT_KEY)?,
        created_at,
        completed_at: get_n(item, attr::COMPLETED_AT, id)?,
        segments_total: get_n(item, attr::SEGMENTS_TOTAL, id)?,
        segments_done: get_n(item, attr::SEGMENTS_DONE, id)?.unwrap_or(0),
        frames_done: get_n(item, attr::FRAMES_DONE, id)?.unwrap_or(0),
        media,
        output_key: get_s(item, attr::OUTPUT_KEY).map(str::to_string),
        error: get_s(item, attr::ERROR).map(str::to_string),
        // Records written before `updated_at` existed: their creation is their last write.
        updated_at: get_n(item, attr::UPDATED_AT, id)?.unwrap_or(created_at),
        sweeps: get_n(item, attr::SWEEPS, id)?.unwrap_or(0),
        owner: get_s(item, attr::OWNER).map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::JobStatus;

    #[test]
    fn job_items_round_trip() {
        let mut j = JobRecord::new(
            JobId::derive("b", "input/a.mp4", "e", ""),
            "b",
            "input/a.mp4",
        );
        assert_eq!(item_to_job(&job_to_item(&j).unwrap()).unwrap(), j);
        j.status = JobStatus::Completed;
        j.completed_at = Some(5);
        j.segments_total = Some(3);
        j.segments_done = 3;
        j.frames_done = 72;
        j.output_key = Some("jobs/x/final.mp4".into());
        j.error = Some("e".into());
        j.owner = Some("alice".into());
        assert_eq!(item_to_job(&job_to_item(&j).unwrap()).unwrap(), j);
    }

    #[test]
    fn corrupt_items_are_permanent_errors() {
        let j = JobRecord::new(JobId::derive("b", "k", "e", ""), "b", "k");
        let mut item = job_to_item(&j).unwrap();
        item.insert(attr::SEGMENTS_DONE.into(), s("three"));
        let e = item_to_job(&item).unwrap_err();
        assert!(
            !e.is_transient() && e.to_string().contains("segments_done"),
            "{e}"
        );
        item.insert(attr::SEGMENTS_DONE.into(), n(1));
        item.insert(attr::STATUS.into(), s("DONE"));
        assert!(item_to_job(&item).is_err());
        item.remove(attr::JOB_ID);
        assert!(item_to_job(&item).is_err());
    }
}
