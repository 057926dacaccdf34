//! A waiting job's place in line: how many unfinished jobs (everyone's, counted, never shown)
//! were created before it. Workers take segments in queue order, so those jobs are ahead of it.
use super::listing::IN_PROGRESS;
use pipeline_core::domain::{JobRecord, JobStatus};
use pipeline_core::ports::{JobCursor, JobStore};

/// Most jobs counted ahead (one page per status); "100 or more" is what the page shows then.
pub const MAX_COUNTED: usize = 100;

/// Whether the job waits for a worker: not picked up yet (QUEUED), or cut into segments that no
/// video-worker has started (PROCESSING, no frame done).
pub fn waiting(job: &JobRecord) -> bool {
    match job.status {
        JobStatus::Queued => true,
        JobStatus::Processing => job.frames_done == 0,
        _ => false,
    }
}

/// The number of unfinished jobs created before `job`, when it waits (`None` otherwise, or when
/// the count cannot be read: the position is a courtesy, never an error).
pub async fn position(jobs: &dyn JobStore, job: &JobRecord) -> Option<u32> {
    if !waiting(job) {
        return None;
    }
    // Newest first, continuing after this job: exactly the older ones.
    let after = JobCursor {
        job_id: job.job_id.clone(),
        sort: job.created_at,
    };
    let mut ahead = 0usize;
    for status in IN_PROGRESS.statuses {
        match jobs
            .list_jobs(*status, IN_PROGRESS.order, Some(&after), MAX_COUNTED)
            .await
        {
            Ok(page) => ahead += page.jobs.iter().filter(|j| j.job_id != job.job_id).count(),
            Err(e) => {
                tracing::warn!(job_id = %job.job_id, error = %e, "queue position not read");
                return None;
            }
        }
    }
    Some(ahead.min(MAX_COUNTED) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_core::adapters::local::SqliteJobStore;
    use pipeline_core::domain::JobId;

    fn job(n: u32, status: JobStatus, created: i64) -> JobRecord {
        let key = format!("input/{n}.mp4");
        let mut j = JobRecord::new(JobId::derive("b", &key, "e", ""), "b", &key);
        j.status = status;
        j.created_at = created;
        j
    }

    #[tokio::test]
    async fn older_unfinished_jobs_are_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteJobStore::open(&dir.path().join("jobs.db")).unwrap();
        let mine = job(0, JobStatus::Queued, 1000);
        for j in [
            &mine,
            &job(1, JobStatus::Queued, 900),
            &job(2, JobStatus::Queued, 1100),
        ] {
            store.create_job(j).await.unwrap();
        }
        // 900 is ahead; 1100 (newer) is not.
        assert_eq!(position(&store, &mine).await, Some(1));
        let running = job(3, JobStatus::Queued, 500);
        store.create_job(&running).await.unwrap();
        store
            .set_status(&running.job_id, JobStatus::Chunking)
            .await
            .unwrap();
        let done = job(4, JobStatus::Queued, 400);
        store.create_job(&done).await.unwrap();
        store.fail_job(&done.job_id, "x").await.unwrap();
        assert_eq!(
            position(&store, &mine).await,
            Some(2),
            "a chunking job is ahead, a failed one is not"
        );
        let mut started = mine.clone();
        started.status = JobStatus::Processing;
        started.frames_done = 5;
        assert_eq!(
            position(&store, &started).await,
            None,
            "a started job waits for nobody"
        );
        started.frames_done = 0;
        assert_eq!(position(&store, &started).await, Some(2));
    }
}
