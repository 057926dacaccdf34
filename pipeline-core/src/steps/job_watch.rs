//! Watching a job while a step works on it: the frames rendered so far go to the job's progress
//! every [`super::Settings::watch_interval`], and a job that was cancelled (or deleted, or failed
//! by another segment) raises the stop flag the render checks between frames.
use super::Context;
use crate::domain::JobId;
use crate::ports::JobStore;
use crate::Result;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
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
    pub async fn tick(&mut self, jobs: &dyn JobStore, id: &JobId) {
        let total = self.handle.rendered.load(Ordering::Relaxed);
        if total > self.reported {
            match jobs.add_frame_progress(id, total - self.reported).await {
                Ok(()) => self.reported = total,
                Err(e) => warn!(error = %e, "frame progress not recorded"),
            }
        }
        match still_wanted(jobs, id).await {
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
    watched_with(&*ctx.jobs, ctx.settings.watch_interval, id, watch, work).await
}

/// [`watched`] over a job store and an interval.
pub async fn watched_with<T, F>(
    jobs: &dyn JobStore,
    every: Duration,
    id: &JobId,
    watch: &mut JobWatch,
    work: F,
) -> Result<T>
where
    F: std::future::Future<Output = Result<T>>,
{
    tokio::pin!(work);
    let mut every = tokio::time::interval(every);
    every.tick().await; // the first tick is immediate
    let out = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = every.tick() => watch.tick(jobs, id).await,
        }
    };
    watch.tick(jobs, id).await;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::local::SqliteJobStore;
    use crate::domain::{JobRecord, JobStatus};

    /// A stand-in render: `frames` frames, one every 10 ms, stopping when told to.
    async fn render(handle: WatchHandle, frames: u64) -> Result<u64> {
        tokio::task::spawn_blocking(move || {
            for _ in 0..frames {
                std::thread::sleep(Duration::from_millis(10));
                if !handle.frames(1) {
                    return Err(crate::PipelineError::JobCancelled);
                }
            }
            Ok(frames)
        })
        .await
        .map_err(|e| crate::PipelineError::from_join("render", e))?
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn progress_moves_during_the_work_and_a_cancel_stops_it() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = SqliteJobStore::open(&dir.path().join("jobs.db")).unwrap();
        let id = JobId::derive("b", "input/a.mp4", "e", "");
        jobs.create_job(&JobRecord::new(id.clone(), "b", "input/a.mp4"))
            .await
            .unwrap();
        jobs.set_status(&id, JobStatus::Processing).await.unwrap();

        // Progress is reported while the work runs, and exactly the frames done in the end.
        let mut w = JobWatch::new();
        let work = render(w.handle.clone(), 40);
        let every = Duration::from_millis(50);
        let seen = std::sync::Mutex::new(Vec::new());
        let sample = async {
            for _ in 0..6 {
                tokio::time::sleep(Duration::from_millis(60)).await;
                let f = jobs.get_job(&id).await.unwrap().unwrap().frames_done;
                seen.lock().unwrap().push(f);
            }
        };
        let (done, ()) = tokio::join!(watched_with(&jobs, every, &id, &mut w, work), sample);
        assert_eq!(done.unwrap(), 40);
        let seen = seen.into_inner().unwrap();
        assert!(
            seen.iter().any(|f| *f > 0 && *f < 40),
            "progress moved mid-way: {seen:?}"
        );
        assert_eq!(jobs.get_job(&id).await.unwrap().unwrap().frames_done, 40);

        // Cancelled meanwhile: the work stops well before its end.
        let mut w = JobWatch::new();
        let work = render(w.handle.clone(), 1000);
        let cancel = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(jobs.cancel_job(&id).await.unwrap());
        };
        let (r, ()) = tokio::join!(watched_with(&jobs, every, &id, &mut w, work), cancel);
        assert!(
            matches!(r, Err(crate::PipelineError::JobCancelled)),
            "{r:?}"
        );
        assert!(w.handle.stopped());
        let frames = jobs.get_job(&id).await.unwrap().unwrap().frames_done;
        assert!(frames < 40 + 100, "stopped within a few ticks: {frames}");

        // Deleted: the same.
        let mut w = JobWatch::new();
        jobs.delete_job(&id).await.unwrap();
        let work = render(w.handle.clone(), 1000);
        let r = watched_with(&jobs, every, &id, &mut w, work).await;
        assert!(
            matches!(r, Err(crate::PipelineError::JobCancelled)),
            "{r:?}"
        );
    }
}
