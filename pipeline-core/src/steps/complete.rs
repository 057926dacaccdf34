//! Record a finished stereo segment (idempotently) and trigger reassembly exactly once.
use super::stereo::FRAMES_META;
use super::Context;
use crate::domain::keys::{self, KeyKind};
use crate::domain::JobId;
use crate::events::{ObjectCreated, ReassemblyRequest};
use crate::media::count_video_frames;
use crate::{PipelineError, Result};
use tracing::{info, info_span, Instrument};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompletionOutcome {
    /// Not an output segment (e.g. the final.mp4 event), or one of a job that has ended.
    Ignored,
    Recorded {
        job_id: JobId,
        index: u32,
        done: u32,
        total: u32,
        newly: bool,
    },
    /// The last segment: this caller won the claim and queued the reassembly.
    Triggered { job_id: JobId },
}

/// A vanished output segment or an unknown job is a job-permanent error: the message loop marks
/// the job FAILED with the reason (it never stays PROCESSING).
///
/// `token` identifies the message being handled (stable across redeliveries), so a claimant that
/// died between claiming and queueing the reassembly can finish the job when its message returns.
pub async fn record_completion(
    ctx: &Context,
    ev: &ObjectCreated,
    token: &str,
) -> Result<CompletionOutcome> {
    let KeyKind::OutputSegment { job, index } = keys::classify(&ev.key) else {
        return Ok(CompletionOutcome::Ignored);
    };
    let span = info_span!("complete", job_id = %job, segment = index);
    async {
        // A cancelled or deleted job's segments (removed with it) are nobody's to count.
        if !super::job_watch::still_wanted(&*ctx.jobs, &job).await? {
            info!("the job has ended; completion not recorded");
            return Ok(CompletionOutcome::Ignored);
        }
        let frames = frames_of(ctx, &ev.key).await?;
        let c = ctx.jobs.record_segment(&job, index, frames).await?;
        info!(
            done = c.segments_done,
            total = c.segments_total,
            newly = c.newly_recorded,
            "segment recorded"
        );
        if c.all_done()
            && ctx
                .jobs
                .claim_reassembly(&job, token, ctx.settings.claim_ttl)
                .await?
        {
            ctx.reassembly_queue
                .send(
                    &ReassemblyRequest {
                        job_id: job.clone(),
                    }
                    .to_body(),
                )
                .await?;
            info!("reassembly triggered");
            return Ok(CompletionOutcome::Triggered { job_id: job });
        }
        Ok(CompletionOutcome::Recorded {
            job_id: job,
            index,
            done: c.segments_done,
            total: c.segments_total,
            newly: c.newly_recorded,
        })
    }
    .instrument(span)
    .await
}

/// Frame count of an output segment: from its metadata, else by probing it.
async fn frames_of(ctx: &Context, key: &str) -> Result<u64> {
    let meta = ctx
        .output
        .head(key)
        .await?
        .ok_or_else(|| PipelineError::State(format!("output segment {key} vanished")))?;
    if let Some(n) = meta.get(FRAMES_META).and_then(|v| v.parse().ok()) {
        return Ok(n);
    }
    let dir = super::scratch_dir(ctx, "count-")?;
    let p = dir.path().join("seg.mp4");
    ctx.output.get_to_file(key, &p).await?;
    tokio::task::spawn_blocking(move || count_video_frames(&p))
        .await
        .map_err(|e| PipelineError::from_join("frame count", e))?
}
