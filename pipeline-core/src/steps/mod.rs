//! The pipeline steps, as plain async functions over the ports. The local `convert` and the AWS
//! workers run exactly these.
pub mod chunk;
pub mod complete;
pub mod context;
pub mod reassemble;
pub mod segment_pipeline;
pub mod stereo;

pub use chunk::{chunk, ChunkOutcome};
pub use complete::{record_completion, CompletionOutcome};
pub use context::{Context, NoProgress, Progress, Settings, StereoSettings};
pub use reassemble::{reassemble, ReassembleOutcome};
pub use segment_pipeline::{render_segment, render_segment_after, SegmentStats};
pub use stereo::{stereo, StereoOutcome};

use crate::domain::JobId;
use crate::PipelineError;

/// Mark the job FAILED when `err` is permanent (retrying cannot help); pass the error on.
pub(crate) async fn fail_if_permanent(
    ctx: &Context,
    job: &JobId,
    err: PipelineError,
) -> PipelineError {
    if !err.is_transient() {
        let reason = err.to_string();
        tracing::error!(job_id = %job, reason = %reason, "job failed");
        if let Err(e) = ctx.jobs.fail_job(job, &reason).await {
            tracing::warn!(job_id = %job, error = %e, "could not record the failure");
        }
    }
    err
}

/// A scratch directory for one piece of work, removed on drop.
pub(crate) fn scratch_dir(ctx: &Context, what: &str) -> crate::Result<tempfile::TempDir> {
    std::fs::create_dir_all(&ctx.scratch).map_err(|e| PipelineError::io(&ctx.scratch, e))?;
    tempfile::Builder::new()
        .prefix(what)
        .tempdir_in(&ctx.scratch)
        .map_err(|e| PipelineError::io(&ctx.scratch, e))
}
