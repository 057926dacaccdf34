//! Chunk: probe the uploaded video, record the job, split it at keyframes, upload the pieces.
use super::job_watch::still_wanted;
use super::{scratch_dir, Context};
use crate::domain::keys::{self, KeyKind};
use crate::domain::{JobId, JobOptions, JobRecord, JobStatus, MediaInfo};
use crate::events::ObjectCreated;
use crate::media::{self, chunk::segment_container};
use crate::{PipelineError, Result};
use tracing::{info, info_span, warn, Instrument};

#[derive(Debug, Clone, PartialEq)]
pub enum ChunkOutcome {
    /// The key is not an input upload.
    Ignored,
    /// A redelivery for a job already past chunking: nothing to do.
    AlreadyChunked { job_id: JobId },
    /// The job was cancelled or deleted while it was being cut: the pieces uploaded so far
    /// are removed again.
    Cancelled { job_id: JobId },
    Chunked {
        job_id: JobId,
        segments: u32,
        /// Boxed: the media facts (tracks, colour, segment starts) dwarf the other variants.
        media: Box<MediaInfo>,
    },
}

/// The job id the chunk step gives to an upload (deterministic: duplicate events, same job).
pub fn job_id_for(ctx: &Context, ev: &ObjectCreated) -> JobId {
    JobId::derive(&ev.bucket, &ev.key, &ev.etag, &ctx.settings.job_salt)
}

pub async fn chunk(ctx: &Context, ev: &ObjectCreated) -> Result<ChunkOutcome> {
    if keys::classify(&ev.key) != KeyKind::Input {
        return Ok(ChunkOutcome::Ignored);
    }
    let job_id = job_id_for(ctx, ev);
    let span = info_span!("chunk", job_id = %job_id);
    async {
        // The upload's metadata: the uploader (web UI) and the stereo options.
        let metadata = ctx
            .input
            .head(&ev.key)
            .await?
            .map(|h| h.metadata)
            .unwrap_or_default();
        let mut record = JobRecord::new(job_id.clone(), &ev.bucket, &ev.key);
        record.owner = JobOptions::owner_from_metadata(&metadata);
        let created = ctx.jobs.create_job(&record).await?;
        if !created {
            let job = ctx.jobs.get_job(&job_id).await?;
            if job.is_some_and(|j| !matches!(j.status, JobStatus::Queued | JobStatus::Chunking)) {
                info!("already chunked; duplicate event ignored");
                return Ok(ChunkOutcome::AlreadyChunked { job_id });
            }
        }
        match split_and_upload(ctx, ev, &job_id, &metadata).await {
            Ok((segments, media)) => Ok(ChunkOutcome::Chunked {
                job_id,
                segments,
                media: Box::new(media),
            }),
            Err(PipelineError::JobCancelled) => {
                info!("the job was cancelled while being cut; its pieces are removed");
                Ok(ChunkOutcome::Cancelled { job_id })
            }
            Err(e) => Err(e),
        }
    }
    .instrument(span)
    .await
}

async fn split_and_upload(
    ctx: &Context,
    ev: &ObjectCreated,
    job_id: &JobId,
    metadata: &[(String, String)],
) -> Result<(u32, MediaInfo)> {
    ctx.jobs.set_status(job_id, JobStatus::Chunking).await?;
    let scratch = scratch_dir(ctx, "chunk-")?;
    let name = ev.key.rsplit('/').next().unwrap_or("input");
    // The user's stereo options ride on the upload (web UI); unreadable ones fail the job with
    // the reason rather than silently rendering something else.
    let options = JobOptions::from_metadata(metadata)
        .map_err(|e| PipelineError::bad_input(name, format!("job options: {e}")))?;
    let input = match ctx.input.local_path(&ev.key) {
        Some(p) => p,
        None => {
            let p = scratch.path().join("input");
            ctx.input.get_to_file(&ev.key, &p).await?;
            p
        }
    };
    // Name the user's file (not our scratch copy) in errors.
    let media = tokio::task::spawn_blocking({
        let input = input.clone();
        move || media::probe(&input)
    })
    .await
    .map_err(|e| PipelineError::from_join("probe task", e))?
    .map_err(|e| match e {
        PipelineError::BadInput { reason, .. } => PipelineError::bad_input(name, reason),
        other => other,
    })?;
    if ctx.settings.thumbnails {
        thumbnail(ctx, job_id, &input, &media, scratch.path()).await;
    }
    let ext = segment_container(&media.video_codec);
    let dir = scratch.path().join("pieces");
    let seconds = ctx.settings.segment_seconds;
    let (tb, rate) = (media.time_base, media.frame_rate);
    let pieces = tokio::task::spawn_blocking(move || {
        let pieces = media::split_at_keyframes(&input, &dir, seconds, ext)?;
        let starts = media::chunk::piece_start_ticks(&input, &pieces, tb, rate)?;
        Ok::<_, PipelineError>((pieces, starts))
    })
    .await
    .map_err(|e| PipelineError::from_join("split task", e))?;
    let (pieces, starts) = pieces?;
    let mut media = media;
    media.segment_starts = starts.starts;
    media.open_gop = starts.open_gop;
    media.options = options;
    let total = pieces.len() as u32;
    // The segment count is recorded before the first piece is uploaded: a fast video-worker can
    // never see a job without its total.
    ctx.jobs.set_chunked(job_id, &media, total).await?;
    if !still_wanted(&*ctx.jobs, job_id).await? {
        return Err(PipelineError::JobCancelled);
    }
    info!(
        segments = total,
        width = media.coded_width,
        height = media.coded_height,
        "chunked"
    );
    for (i, piece) in pieces.iter().enumerate() {
        let key = keys::source_segment_key_ext(job_id, i as u32, ext);
        let meta = vec![
            ("job-id".to_string(), job_id.to_string()),
            ("segment-index".to_string(), i.to_string()),
            ("segment-total".to_string(), total.to_string()),
        ];
        ctx.input.put_file(&key, piece, &meta).await?;
        // Between pieces: a job cancelled meanwhile gets no more, and loses those it got.
        if !still_wanted(&*ctx.jobs, job_id).await? {
            for j in 0..=i as u32 {
                ctx.input
                    .delete(&keys::source_segment_key_ext(job_id, j, ext))
                    .await?;
            }
            return Err(PipelineError::JobCancelled);
        }
    }
    Ok((total, media))
}

/// The input's thumbnail into the output bucket; a failure is logged, never the job's.
async fn thumbnail(
    ctx: &Context,
    job_id: &JobId,
    input: &std::path::Path,
    media: &MediaInfo,
    scratch: &std::path::Path,
) {
    let out = scratch.join("thumbnail.jpg");
    let made = tokio::task::spawn_blocking({
        let (input, media, out) = (input.to_path_buf(), media.clone(), out.clone());
        move || media::thumbnail::write_thumbnail(&input, &media, &out)
    })
    .await
    .map_err(|e| PipelineError::from_join("thumbnail task", e))
    .and_then(|r| r);
    let stored = match made {
        Ok(()) => {
            ctx.output
                .put_file(&keys::thumbnail_key(job_id), &out, &[])
                .await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = stored {
        warn!(error = %e, "no thumbnail for this job");
    }
}
