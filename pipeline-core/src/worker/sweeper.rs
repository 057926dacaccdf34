//! The stuck-job sweeper: a job with no progress for longer than its outstanding segments
//! could take is re-driven (the work that went missing is done again) or, after a few fruitless
//! re-drives, failed with a clear reason. It is idempotent and safe on several workers at once:
//! only the sweeper whose conditional write ([`JobStore::mark_swept`]) wins acts on a job, and
//! everything it re-drives is itself idempotent (completions are recorded once, reassembly is
//! claimed once, a re-rendered segment replaces itself).
//!
//! Per stuck job (PROCESSING or REASSEMBLING):
//! - every segment recorded: claim the reassembly (token per sweep) and queue the request;
//! - a segment whose stereo output exists but is not recorded (its completion message was
//!   lost): record it through the completion step (which triggers the join on the last one);
//! - a segment with only its source: queue a new notification of the source for the
//!   video-workers;
//! - a segment with neither: fail the job ("segment N lost").
use crate::domain::job::now_millis;
use crate::domain::keys;
use crate::domain::{JobId, JobRecord, JobStatus};
use crate::events::{ObjectCreated, ReassemblyRequest};
use crate::media::chunk::segment_container;
use crate::ports::job_store::JobOrder;
use crate::ports::Queue;
use crate::steps::{record_completion, Context};
use crate::Result;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};

#[derive(Debug, Clone)]
pub struct SweepSettings {
    /// How often to sweep.
    pub interval: Duration,
    /// No progress for this long per outstanding segment (at least one) makes a job stuck.
    pub stall_per_segment: Duration,
    /// Re-drives without progress after which the job is failed.
    pub max_sweeps: u32,
}

impl SweepSettings {
    /// Re-drives before a stuck job is failed.
    pub const DEFAULT_MAX_SWEEPS: u32 = 3;
    /// Stalls are measured in visibility timeouts of the video-worker queue: a segment whose
    /// message went around three times without any progress is stuck.
    pub const STALL_FACTOR: u32 = 3;
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub examined: usize,
    pub redriven: Vec<JobId>,
    pub failed: Vec<JobId>,
}

pub struct Sweeper {
    pub ctx: Context,
    /// Where source segments are re-announced (the video-worker queue).
    pub video_queue: Arc<dyn Queue>,
    pub settings: SweepSettings,
}

/// An S3 ObjectCreated notification body for `key`, as the bucket would send it.
pub fn object_created_body(bucket: &str, key: &str, etag: &str, size: u64) -> String {
    serde_json::json!({
        "Records": [{
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {
                "bucket": {"name": bucket},
                "object": {"key": key, "eTag": etag, "size": size},
            },
        }],
    })
    .to_string()
}

impl Sweeper {
    /// Sweep every `interval` until `shutdown`. A failed sweep is logged and retried next time:
    /// the sweeper never stops the worker it runs in.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        info!(
            interval_s = self.settings.interval.as_secs(),
            stall_per_segment_s = self.settings.stall_per_segment.as_secs(),
            "sweeper started"
        );
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.settings.interval) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = self.sweep_once().await {
                warn!(error = %e, "sweep failed; trying again next interval");
            }
        }
    }

    /// One pass over the jobs in progress.
    pub async fn sweep_once(&self) -> Result<SweepReport> {
        let mut report = SweepReport::default();
        for status in [JobStatus::Processing, JobStatus::Reassembling] {
            let mut after = None;
            loop {
                let page = self
                    .ctx
                    .jobs
                    .list_jobs(status, JobOrder::Created, after.as_ref(), 100)
                    .await?;
                for job in &page.jobs {
                    report.examined += 1;
                    if let Err(e) = self.sweep_job(job, &mut report).await {
                        warn!(job_id = %job.job_id, error = %e, "could not sweep job");
                    }
                }
                match page.next {
                    Some(c) => after = Some(c),
                    None => break,
                }
            }
        }
        Ok(report)
    }

    /// How long `job` may go without progress.
    pub fn stall_limit(&self, job: &JobRecord) -> Duration {
        let outstanding = match job.status {
            JobStatus::Processing => job
                .segments_total
                .unwrap_or(0)
                .saturating_sub(job.segments_done),
            _ => 1,
        };
        self.settings
            .stall_per_segment
            .saturating_mul(outstanding.max(1))
    }

    async fn sweep_job(&self, job: &JobRecord, report: &mut SweepReport) -> Result<()> {
        let idle = now_millis().saturating_sub(job.updated_at).max(0) as u64;
        let limit = self.stall_limit(job);
        if Duration::from_millis(idle) < limit {
            return Ok(());
        }
        // Only the sweeper whose conditional write wins acts on this job now.
        if !self
            .ctx
            .jobs
            .mark_swept(&job.job_id, job.updated_at)
            .await?
        {
            return Ok(());
        }
        let id = &job.job_id;
        if job.sweeps >= self.settings.max_sweeps {
            let reason = format!(
                "no progress after {} re-drives ({} of {} segments done, idle {} s)",
                job.sweeps,
                job.segments_done,
                job.segments_total.unwrap_or(0),
                idle / 1000
            );
            self.fail(id, &reason, report).await;
            return Ok(());
        }
        let total = job.segments_total.unwrap_or(0);
        let done: Vec<u32> = self
            .ctx
            .jobs
            .completed_segments(id)
            .await?
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        let token = format!("sweep-{id}-{}", job.sweeps + 1);
        let missing: Vec<u32> = (0..total).filter(|i| !done.contains(i)).collect();
        if total > 0 && missing.is_empty() {
            if self
                .ctx
                .jobs
                .claim_reassembly(id, &token, self.ctx.settings.claim_ttl)
                .await?
            {
                let body = ReassemblyRequest { job_id: id.clone() }.to_body();
                self.ctx.reassembly_queue.send(&body).await?;
                info!(job_id = %id, idle_s = idle / 1000, "sweep: reassembly re-requested");
            } else {
                info!(job_id = %id, "sweep: a fresh reassembly claim is held; its message will return");
            }
            report.redriven.push(id.clone());
            return Ok(());
        }
        let ext = job
            .media
            .as_ref()
            .map(|m| segment_container(&m.video_codec))
            .unwrap_or("ts");
        for index in missing {
            let out_key = keys::output_segment_key(id, index);
            if let Some(meta) = self.ctx.output.head(&out_key).await? {
                // Rendered, but its completion was never recorded: record it now.
                let ev = ObjectCreated {
                    bucket: self.ctx.output.bucket().to_string(),
                    key: out_key,
                    etag: meta.etag,
                    size: meta.size,
                };
                record_completion(&self.ctx, &ev, &token).await?;
                info!(job_id = %id, segment = index, "sweep: lost completion recorded");
                continue;
            }
            let src_key = keys::source_segment_key_ext(id, index, ext);
            if let Some(meta) = self.ctx.input.head(&src_key).await? {
                let body =
                    object_created_body(self.ctx.input.bucket(), &src_key, &meta.etag, meta.size);
                self.video_queue.send(&body).await?;
                info!(job_id = %id, segment = index, "sweep: segment re-queued for rendering");
                continue;
            }
            let reason = format!("segment {index} lost: neither its source nor its output exists");
            self.fail(id, &reason, report).await;
            return Ok(());
        }
        report.redriven.push(id.clone());
        Ok(())
    }

    async fn fail(&self, id: &JobId, reason: &str, report: &mut SweepReport) {
        // Same message as the message loop's: it feeds the job-failure alarm.
        tracing::error!(job_id = %id, reason, by = "sweeper", "job failed");
        match self.ctx.jobs.fail_job(id, reason).await {
            Ok(()) => report.failed.push(id.clone()),
            Err(e) => warn!(job_id = %id, error = %e, "could not record the failure"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{parse_s3_message, S3Message};

    #[test]
    fn synthetic_notifications_parse_like_real_ones() {
        let body = object_created_body("in", "segments/0123456789abcdef/00001.ts", "e1", 42);
        let S3Message::Created(evs) = parse_s3_message(&body).unwrap() else {
            panic!("not a created event")
        };
        assert_eq!(
            (evs[0].bucket.as_str(), evs[0].key.as_str(), evs[0].size),
            ("in", "segments/0123456789abcdef/00001.ts", 42)
        );
    }
}
