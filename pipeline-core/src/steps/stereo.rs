//! Stereo: one source segment -> one stereo segment in the output bucket.
use super::{scratch_dir, Context, SegmentStats};
use crate::domain::keys::{self, KeyKind};
use crate::domain::JobId;
use crate::events::ObjectCreated;
use crate::steps::job_watch::{still_wanted, watched, JobWatch};
use crate::steps::segment_pipeline::{render_segment_after, Previous};
use crate::{PipelineError, Result};
use tracing::{info, info_span, warn, Instrument};

/// Metadata key of the frame count on output segments.
pub const FRAMES_META: &str = "frames";

#[derive(Debug, Clone, PartialEq)]
pub enum StereoOutcome {
    Ignored,
    /// The job is finished, failed, cancelled or deleted: nothing to do.
    Skipped {
        job_id: JobId,
        index: u32,
    },
    /// The job was cancelled (or deleted) while the segment rendered: the render stopped
    /// between frames and nothing of it stays in the output bucket.
    Cancelled {
        job_id: JobId,
        index: u32,
    },
    /// The output segment exists already (a redelivery).
    AlreadyDone {
        job_id: JobId,
        index: u32,
    },
    Rendered {
        job_id: JobId,
        index: u32,
        stats: SegmentStats,
    },
}

/// A re-render's depth: the kept maps of segment `index` of the job named by
/// `options.depth_from`, when that job cut the same input into the same pieces; `None` (run the
/// model) when it did not or kept nothing, with the reason logged.
async fn reusable_depth(
    ctx: &Context,
    media: &crate::domain::MediaInfo,
    index: u32,
    scratch: &std::path::Path,
) -> Result<Option<Box<dyn crate::ports::DepthEstimator>>> {
    let Some(from) = media.options.depth_from.as_deref() else {
        return Ok(None);
    };
    let Ok(from_id) = JobId::parse(from) else {
        return Ok(None);
    };
    let why_not = match ctx.jobs.get_job(&from_id).await? {
        None => Some("that job is gone".to_string()),
        Some(old) => match &old.media {
            Some(m)
                if m.frames == media.frames
                    && m.segment_starts == media.segment_starts
                    && m.time_base == media.time_base =>
            {
                None
            }
            _ => Some("its pieces are not this job's".to_string()),
        },
    };
    if let Some(why) = why_not {
        warn!(depth_from = from, reason = %why, "kept depth not reusable; running the model");
        return Ok(None);
    }
    let key = keys::output_depth_key(&from_id, index);
    if ctx.output.head(&key).await?.is_none() {
        warn!(depth_from = from, %key, "no kept depth for this segment; running the model");
        return Ok(None);
    }
    let path = match ctx.output.local_path(&key) {
        Some(p) => p,
        None => {
            let p = scratch.join("kept-depth.mkv");
            ctx.output.get_to_file(&key, &p).await?;
            p
        }
    };
    let est = tokio::task::spawn_blocking(move || crate::depth::depth_file::piece_estimator(&path))
        .await
        .map_err(|e| PipelineError::from_join("kept depth", e))??;
    info!(depth_from = from, %key, "depth reused; no inference");
    Ok(Some(est))
}

pub async fn stereo(ctx: &Context, ev: &ObjectCreated) -> Result<StereoOutcome> {
    let KeyKind::SourceSegment { job, index } = keys::classify(&ev.key) else {
        return Ok(StereoOutcome::Ignored);
    };
    let span = info_span!("stereo", job_id = %job, segment = index);
    render_one(ctx, ev, &job, index).instrument(span).await
}

async fn render_one(
    ctx: &Context,
    ev: &ObjectCreated,
    job_id: &JobId,
    index: u32,
) -> Result<StereoOutcome> {
    // Pieces are made only for recorded jobs: a piece of no job is one whose job was deleted.
    let Some(job) = ctx.jobs.get_job(job_id).await? else {
        info!("the job was deleted; segment skipped");
        return Ok(StereoOutcome::Skipped {
            job_id: job_id.clone(),
            index,
        });
    };
    if job.status.is_terminal() {
        info!(status = %job.status, "job already ended; segment skipped");
        return Ok(StereoOutcome::Skipped {
            job_id: job_id.clone(),
            index,
        });
    }
    let out_key = keys::output_segment_key(job_id, index);
    if ctx.output.head(&out_key).await?.is_some() {
        info!("stereo segment exists; duplicate event ignored");
        return Ok(StereoOutcome::AlreadyDone {
            job_id: job_id.clone(),
            index,
        });
    }
    let media = job
        .media
        .clone()
        .ok_or_else(|| PipelineError::State(format!("job {job_id} has no media info")))?;
    let scratch = scratch_dir(ctx, "stereo-")?;
    let src = match ctx.input.local_path(&ev.key) {
        Some(p) => p,
        None => {
            let p = scratch
                .path()
                .join(ev.key.rsplit('/').next().unwrap_or("segment"));
            ctx.input.get_to_file(&ev.key, &p).await?;
            p
        }
    };
    let settings = media.options.apply(&ctx.settings.stereo);
    let mut estimator = match reusable_depth(ctx, &media, index, scratch.path()).await? {
        Some(e) => e,
        None => ctx.depth.create()?,
    };
    // The previous piece, when the piece needs it: an open-GOP source's piece starts with
    // pictures that reference it (MPEG-TS pieces only; they append byte-wise), and a relative
    // depth model's temporal window is warmed up on its last frames.
    let ext = ev.key.rsplit_once('.').map_or("", |(_, e)| e).to_string();
    let open_gop = media.open_gop && ext == "ts";
    let warm_up = estimator.relative() && settings.depth_window > 1;
    let previous = match index {
        0 => None,
        _ if !(open_gop || warm_up) => None,
        _ => {
            let key = keys::source_segment_key_ext(job_id, index - 1, &ext);
            info!(%key, open_gop, depth_warm_up = warm_up, "previous piece used");
            Some(match ctx.input.local_path(&key) {
                Some(p) => p,
                None => {
                    let p = scratch.path().join(format!("previous.{ext}"));
                    ctx.input.get_to_file(&key, &p).await?;
                    p
                }
            })
        }
    };
    let out = scratch.path().join("stereo.mp4");
    let progress = ctx.progress.clone();
    let (job2, out2) = (job_id.clone(), out.clone());
    // Frames reach the job's progress while the segment renders, and a cancel stops it.
    let mut watch = JobWatch::new();
    let handle = watch.handle.clone();
    let render = tokio::task::spawn_blocking(move || {
        let report = |n: u64| {
            progress.frames_rendered(&job2, index, n);
            handle.frames(n)
        };
        render_segment_after(
            &src,
            previous.as_deref().map(|path| Previous { path, open_gop }),
            &media,
            &out2,
            &settings,
            estimator.as_mut(),
            &report,
        )
    });
    let rendered = watched(ctx, job_id, &mut watch, async {
        render
            .await
            .map_err(|e| PipelineError::from_join("render task", e))?
    })
    .await;
    let stats = match rendered {
        // Stopped on purpose (whatever the stages said as they were cut off).
        Err(_) if watch.handle.stopped() => {
            info!("render stopped: the job was cancelled");
            return Ok(StereoOutcome::Cancelled {
                job_id: job_id.clone(),
                index,
            });
        }
        Err(PipelineError::Media { tool, reason }) => {
            // A segment that does not decode is corrupt input. A tool that is missing or was
            // killed (out of memory) is a `Worker` error and stays one.
            return Err(PipelineError::bad_input(
                &ev.key,
                format!("{tool}: {reason}"),
            ));
        }
        other => other?,
    };
    let meta = vec![(FRAMES_META.to_string(), stats.frames.to_string())];
    if ctx.settings.stereo.keep_depth {
        // Before the stereo segment: a segment that exists always has its depth.
        let depth = crate::steps::segment_pipeline::depth_video_path(&out);
        let key = keys::output_depth_key(job_id, index);
        ctx.output.put_file(&key, &depth, &meta).await?;
    }
    ctx.output.put_file(&out_key, &out, &meta).await?;
    // Cancelled while uploading: what this segment wrote must not outlive the job.
    if !still_wanted(&*ctx.jobs, job_id).await? {
        ctx.output.delete(&out_key).await?;
        ctx.output
            .delete(&keys::output_depth_key(job_id, index))
            .await?;
        info!("the job was cancelled; the uploaded segment removed");
        return Ok(StereoOutcome::Cancelled {
            job_id: job_id.clone(),
            index,
        });
    }
    ctx.progress.segment_rendered(job_id, index, &stats);
    info!(
        frames = stats.frames,
        wall_s = stats.wall_s,
        "segment rendered"
    );
    Ok(StereoOutcome::Rendered {
        job_id: job_id.clone(),
        index,
        stats,
    })
}
