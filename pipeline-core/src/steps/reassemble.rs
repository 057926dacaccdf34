//! Reassemble: join all stereo segments with the original's tracks (audio, subtitles, chapters,
//! metadata) into `jobs/<id>/final.mp4`.
//! Idempotent: a redelivered or duplicated request redoes or skips the same work.
use super::{scratch_dir, Context};
use crate::domain::{keys, JobId, JobStatus};
use crate::media::{count_video_frames, join_segments};
use crate::{PipelineError, Result};
use std::path::PathBuf;
use tracing::{info, info_span, Instrument};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReassembleOutcome {
    Skipped {
        job_id: JobId,
        status: JobStatus,
    },
    AlreadyDone {
        job_id: JobId,
        key: String,
    },
    Joined {
        job_id: JobId,
        key: String,
        frames: u64,
    },
}

pub async fn reassemble(ctx: &Context, job_id: &JobId) -> Result<ReassembleOutcome> {
    let span = info_span!("reassemble", job_id = %job_id);
    join(ctx, job_id).instrument(span).await
}

async fn join(ctx: &Context, job_id: &JobId) -> Result<ReassembleOutcome> {
    let job = ctx
        .jobs
        .get_job(job_id)
        .await?
        .ok_or_else(|| PipelineError::State(format!("unknown job {job_id}")))?;
    let final_key = keys::final_key(job_id);
    match job.status {
        JobStatus::Completed if ctx.output.head(&final_key).await?.is_some() => {
            return Ok(ReassembleOutcome::AlreadyDone {
                job_id: job_id.clone(),
                key: final_key,
            });
        }
        JobStatus::Failed | JobStatus::Cancelled => {
            return Ok(ReassembleOutcome::Skipped {
                job_id: job_id.clone(),
                status: job.status,
            })
        }
        _ => {}
    }
    let media = job
        .media
        .clone()
        .ok_or_else(|| PipelineError::State(format!("job {job_id} has no media info")))?;
    let total = job.segments_total.unwrap_or(0);
    let done = ctx.jobs.completed_segments(job_id).await?;
    let indices: Vec<u32> = done.iter().map(|(i, _)| *i).collect();
    if total == 0 || indices != (0..total).collect::<Vec<_>>() {
        return Err(PipelineError::State(format!(
            "reassembly asked with {} of {total} segments done",
            indices.len()
        )));
    }
    let expected: u64 = done.iter().map(|(_, f)| f).sum();
    ctx.jobs.set_status(job_id, JobStatus::Reassembling).await?;
    let scratch = scratch_dir(ctx, "join-")?;
    let mut parts: Vec<PathBuf> = Vec::with_capacity(total as usize);
    for i in 0..total {
        let key = keys::output_segment_key(job_id, i);
        let p = match ctx.output.local_path(&key) {
            Some(p) => p,
            None => {
                let p = scratch.path().join(format!("{i:05}.mp4"));
                ctx.output.get_to_file(&key, &p).await?;
                p
            }
        };
        parts.push(p);
    }
    if !media.tracks.dropped.is_empty() {
        ctx.progress.dropped(job_id, &media.tracks.dropped);
    }
    let carries = if media.tracks.planned {
        media.tracks.needs_original()
    } else {
        media.audio.is_some()
    };
    let original = if carries {
        match ctx.input.local_path(&job.input_key) {
            Some(p) => p,
            None => {
                let p = scratch.path().join("original");
                ctx.input.get_to_file(&job.input_key, &p).await?;
                p
            }
        }
    } else {
        PathBuf::new()
    };
    let out = scratch.path().join("final.mp4");
    let frames = tokio::task::spawn_blocking({
        let out = out.clone();
        move || {
            join_segments(&parts, &original, &media, &out)?;
            count_video_frames(&out)
        }
    })
    .await
    .map_err(|e| PipelineError::from_join("join task", e))??;
    if frames != expected {
        return Err(PipelineError::State(format!(
            "joined video has {frames} frames, segments had {expected}"
        )));
    }
    ctx.output
        .put_file(
            &final_key,
            &out,
            &[("frames".to_string(), frames.to_string())],
        )
        .await?;
    if !ctx.jobs.complete_job(job_id, &final_key).await? {
        // Cancelled (or deleted, or failed) while joining: no film may outlive its job.
        ctx.output.delete(&final_key).await?;
        let status = match ctx.jobs.get_job(job_id).await? {
            Some(j) => j.status,
            None => JobStatus::Cancelled,
        };
        info!(%status, "job ended while joining; final.mp4 removed");
        return Ok(ReassembleOutcome::Skipped {
            job_id: job_id.clone(),
            status,
        });
    }
    info!(frames, key = %final_key, "job completed");
    Ok(ReassembleOutcome::Joined {
        job_id: job_id.clone(),
        key: final_key,
        frames,
    })
}
