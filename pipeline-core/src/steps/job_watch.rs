//! Watching a job while a step works on it: the frames rendered so far go to the job's progress
//! every [`super::Settings::watch_interval`], and a job that was cancelled (or deleted, or failed
//! by another segment) raises the stop flag the render checks between frames.
use super::Context;
use crate::domain::JobId;
use crate::ports::JobStore;
use crate::Result;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tracing::{info, warn};

/// Whether the job is still wanted: it exists and has not ended. A read that fails says yes
/// (the next look decides; a store hiccup must not stop good work).
pub async fn still_wanted(jobs: &dyn JobStore, id: &JobId) -> Result<bool> {
    Ok(jobs
        .get_job(id)
        .await?
        .is_some_and(|j| !j.status.is_terminal()))
}

/// Shared between the render thread (counts frames, reads the flag) and the watcher.
#[derive(Default, Clone)]
pub struct WatchHandle {
    rendered: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl WatchHandle {
    /// Count `n` more frames; answers whether to go on (the render's `on_frames`).
    pub fn frames(&self, n: u64) -> bool {
        self.rendered.fetch_add(n, Ordering::Relaxed);
        !self.stop.load(Ordering::Relaxed)
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

pub struct JobWatch {
    pub handle: WatchHandle,
    reported: u64,
}

impl JobWatch {
    pub fn new() -> JobWatch {
        JobWatch {
            handle: WatchHandle::default(),
            reported: 0,
        }
    }

    /// Report the frames since the last look, then look at the job.
    pub async fn tick(&mut self, ctx: &Context, id: &JobId) {
        let total = self.handle.rendered.load(Ordering::Relaxed);
        if total > self.reported {
            match ctx.jobs.add_frame_progress(id, total - self.reported).await {
                Ok(()) => self.reported = total,
                Err(e) => warn!(error = %e, "frame progress not recorded"),
            }
        }
        match still_wanted(&*ctx.jobs, id).await {
            Ok(true) => {}
            Ok(false) => {
                if !self.handle.stop.swap(true, Ordering::Relaxed) {
                    info!("the job was cancelled or deleted; stopping between frames");
                }
            }
            Err(e) => warn!(error = %e, "job status not read; going on"),
        }
    }
}

impl Default for JobWatch {
    fn default() -> Self {
        JobWatch::new()
    }
}

/// Run `work` (a blocking render that takes the handle's `frames` as its `on_frames`) while
/// ticking the watch every `ctx.settings.watch_interval`; one last tick reports the rest.
pub async fn watched<T, F>(ctx: &Context, id: &JobId, watch: &mut JobWatch, work: F) -> Result<T>
where
    F: std::future::Future<Output = Result<T>>,
{
    tokio::pin!(work);
    let mut every = tokio::time::interval(ctx.settings.watch_interval);
    every.tick().await; // the first tick is immediate
    let out = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = every.tick() => watch.tick(ctx, id).await,
        }
    };
    watch.tick(ctx, id).await;
    out
}
