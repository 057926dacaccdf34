//! The pipeline steps, as plain async functions over the ports. The local `convert` and the AWS
//! workers run exactly these.
pub mod chunk;
pub mod complete;
pub mod context;
pub mod job_watch;
pub mod reassemble;
pub mod segment_pipeline;
pub mod stereo;

pub use chunk::{chunk, ChunkOutcome};
pub use complete::{record_completion, CompletionOutcome};
pub use context::{Context, NoProgress, Progress, Settings, StereoSettings};
pub use reassemble::{reassemble, ReassembleOutcome};
pub use segment_pipeline::{render_segment, render_segment_after, SegmentStats};
pub use stereo::{stereo, StereoOutcome};

use crate::PipelineError;

// Steps return classified errors and never decide a job's outcome themselves: the message loop
// (`worker::run_loop`) fails the job on a job-permanent error, retries a transient one and stops
// the worker on a worker-fatal one.

/// A scratch directory for one piece of work, removed on drop.
pub(crate) fn scratch_dir(ctx: &Context, what: &str) -> crate::Result<tempfile::TempDir> {
    std::fs::create_dir_all(&ctx.scratch).map_err(|e| PipelineError::io(&ctx.scratch, e))?;
    tempfile::Builder::new()
        .prefix(what)
        .tempdir_in(&ctx.scratch)
        .map_err(|e| PipelineError::io(&ctx.scratch, e))
}
