//! Job store port: job records, idempotent segment completions, the reassembly claim.
use crate::domain::{JobId, JobRecord, JobStatus, MediaInfo};
use crate::Result;
use std::time::Duration;

/// Outcome of recording a segment completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// False when this segment had already been recorded (a redelivery): counters unchanged.
    pub newly_recorded: bool,
    pub segments_done: u32,
    pub segments_total: u32,
}

impl Completion {
    pub fn all_done(&self) -> bool {
        self.segments_total > 0 && self.segments_done >= self.segments_total
    }
}

/// The time a job list is ordered by, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOrder {
    /// `created_at` (jobs in progress).
    Created,
    /// `completed_at` (finished and failed jobs).
    Completed,
}

impl JobOrder {
    /// The job's time in this order.
    pub fn time_of(self, job: &JobRecord) -> i64 {
        match self {
            JobOrder::Created => job.created_at,
            JobOrder::Completed => job.completed_at.unwrap_or(0),
        }
    }
}

/// Where a job list continues: after this job (its id and its time in the list's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCursor {
    pub job_id: JobId,
    pub sort: i64,
}

/// One page of a job list.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    pub jobs: Vec<JobRecord>,
    /// Set when more jobs may follow (continue after it); `None` at the end of the list.
    pub next: Option<JobCursor>,
}

#[async_trait::async_trait]
pub trait JobStore: Send + Sync {
    /// Create the job in QUEUED state unless it exists. Returns true if created now.
    async fn create_job(&self, job: &JobRecord) -> Result<bool>;
    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>>;
    /// Move to `status` (never out of COMPLETED / FAILED / CANCELLED).
    async fn set_status(&self, id: &JobId, status: JobStatus) -> Result<()>;
    /// Record the media info and segment count (before the first segment is uploaded) and
    /// move the job to PROCESSING.
    async fn set_chunked(&self, id: &JobId, media: &MediaInfo, segments_total: u32) -> Result<()>;
    /// Add decoded/rendered frames to the job's progress counter (best effort, may double count
    /// on redelivery; completions below are exact).
    async fn add_frame_progress(&self, id: &JobId, frames: u64) -> Result<()>;
    /// Idempotently record that segment `index` is done with `frames` frames.
    async fn record_segment(&self, id: &JobId, index: u32, frames: u64) -> Result<Completion>;
    /// Indices of recorded segments, sorted.
    async fn completed_segments(&self, id: &JobId) -> Result<Vec<(u32, u64)>>;
    /// Conditionally claim the right to trigger reassembly. True for exactly one claimant: the
    /// first, the same `token` again (a redelivery of the claimant's own message), or anyone once
    /// the claim is older than `ttl` (its holder is presumed dead).
    async fn claim_reassembly(&self, id: &JobId, token: &str, ttl: Duration) -> Result<bool>;
    /// Mark COMPLETED with the output key. False (nothing written) when the job is gone, FAILED
    /// or CANCELLED: the caller then removes what it wrote.
    async fn complete_job(&self, id: &JobId, output_key: &str) -> Result<bool>;
    /// Mark FAILED with a one-line reason (no-op if already finished).
    async fn fail_job(&self, id: &JobId, reason: &str) -> Result<()>;
    /// Move to CANCELLED (with `completed_at`) unless the job is finished. True when this call
    /// cancelled it; false when it was already COMPLETED, FAILED, CANCELLED or is absent.
    async fn cancel_job(&self, id: &JobId) -> Result<bool>;
    /// Remove every trace of the job: its record, segment completions and reassembly claim
    /// (absent is fine). Its objects are the caller's to delete.
    async fn delete_job(&self, id: &JobId) -> Result<()>;
    /// Jobs in `status`, newest first in `order`, after `after`, at most `limit` of them (a page
    /// may hold fewer and still have a `next`). Unreadable records are skipped with a warning.
    async fn list_jobs(
        &self,
        status: JobStatus,
        order: JobOrder,
        after: Option<&JobCursor>,
        limit: usize,
    ) -> Result<JobPage>;
    /// The stuck-job sweeper's conditional write: true for exactly one of several sweepers that
    /// read the job with `updated_at == seen_updated_at` (and only while it is not finished);
    /// it sets `updated_at` to now and counts one more sweep.
    async fn mark_swept(&self, id: &JobId, seen_updated_at: i64) -> Result<bool>;
}
