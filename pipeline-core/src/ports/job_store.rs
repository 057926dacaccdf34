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

#[async_trait::async_trait]
pub trait JobStore: Send + Sync {
    /// Create the job in QUEUED state unless it exists. Returns true if created now.
    async fn create_job(&self, job: &JobRecord) -> Result<bool>;
    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>>;
    /// Move to `status` (never out of COMPLETED / FAILED).
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
    /// Mark COMPLETED with the output key.
    async fn complete_job(&self, id: &JobId, output_key: &str) -> Result<()>;
    /// Mark FAILED with a one-line reason (no-op if already COMPLETED).
    async fn fail_job(&self, id: &JobId, reason: &str) -> Result<()>;
}
