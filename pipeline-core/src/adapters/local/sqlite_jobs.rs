//! Job store in an embedded SQLite database (WAL): survives a crash or `kill -9`.
use crate::domain::job::now_millis;
use crate::domain::{JobId, JobRecord, JobStatus, MediaInfo};
use crate::ports::job_store::Completion;
use crate::ports::JobStore;
use crate::{PipelineError, Result};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

pub struct SqliteJobStore {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    input_bucket TEXT NOT NULL,
    input_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    completed_at INTEGER,
    segments_total INTEGER,
    segments_done INTEGER NOT NULL DEFAULT 0,
    frames_done INTEGER NOT NULL DEFAULT 0,
    media TEXT,
    output_key TEXT,
    error TEXT
);
CREATE TABLE IF NOT EXISTS segment_completions (
    job_id TEXT NOT NULL,
    segment_index INTEGER NOT NULL,
    frames INTEGER NOT NULL,
    completed_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, segment_index)
);
CREATE TABLE IF NOT EXISTS reassembly_triggered (
    job_id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    claimed_at INTEGER NOT NULL
);
";

fn db_err(e: rusqlite::Error) -> PipelineError {
    let busy = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked)
    );
    PipelineError::backend("sqlite", e.to_string(), busy)
}

impl SqliteJobStore {
    pub fn open(path: &Path) -> Result<SqliteJobStore> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| PipelineError::io(dir, e))?;
        }
        let conn = Connection::open(path).map_err(db_err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        Ok(SqliteJobStore {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut c = self
            .conn
            .lock()
            .map_err(|_| PipelineError::backend("sqlite", "lock poisoned", false))?;
        f(&mut c).map_err(db_err)
    }

    /// Remove every trace of a job (local re-runs of finished or failed jobs start over).
    pub fn forget_job(&self, id: &JobId) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            for table in ["jobs", "segment_completions", "reassembly_triggered"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE job_id = ?1"),
                    [id.as_str()],
                )?;
            }
            tx.commit()
        })
    }

    fn update_status(
        &self,
        id: &JobId,
        status: JobStatus,
        extra: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<()> {
        let sql = format!(
            "UPDATE jobs SET status = ?1{extra} WHERE job_id = ?2 AND status NOT IN ('COMPLETED', 'FAILED')"
        );
        let (st, jid) = (status.as_str(), id.as_str());
        let mut all: Vec<&dyn rusqlite::ToSql> = vec![&st, &jid];
        all.extend_from_slice(args);
        self.with(|c| c.execute(&sql, all.as_slice()).map(|_| ()))
    }
}

fn row_to_job(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, JobRecordParts)> {
    Ok((
        r.get::<_, String>(0)?,
        r.get::<_, String>(1)?,
        JobRecordParts {
            input_bucket: r.get(2)?,
            input_key: r.get(3)?,
            created_at: r.get(4)?,
            completed_at: r.get(5)?,
            segments_total: r.get(6)?,
            segments_done: r.get(7)?,
            frames_done: r.get(8)?,
            media: r.get(9)?,
            output_key: r.get(10)?,
            error: r.get(11)?,
        },
    ))
}

struct JobRecordParts {
    input_bucket: String,
    input_key: String,
    created_at: i64,
    completed_at: Option<i64>,
    segments_total: Option<u32>,
    segments_done: u32,
    frames_done: i64,
    media: Option<String>,
    output_key: Option<String>,
    error: Option<String>,
}

#[async_trait::async_trait]
impl JobStore for SqliteJobStore {
    async fn create_job(&self, job: &JobRecord) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO jobs (job_id, status, input_bucket, input_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![job.job_id.as_str(), job.status.as_str(), job.input_bucket, job.input_key, job.created_at],
            )
            .map(|n| n == 1)
        })
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>> {
        let row = self.with(|c| {
            c.query_row(
                "SELECT job_id, status, input_bucket, input_key, created_at, completed_at, segments_total, \
                 segments_done, frames_done, media, output_key, error FROM jobs WHERE job_id = ?1",
                [id.as_str()],
                row_to_job,
            )
            .optional()
        })?;
        let Some((job_id, status, p)) = row else {
            return Ok(None);
        };
        let corrupt =
            |what: String| PipelineError::backend("sqlite", format!("job {job_id}: {what}"), false);
        Ok(Some(JobRecord {
            job_id: JobId::parse(&job_id).map_err(corrupt)?,
            status: status.parse().map_err(corrupt)?,
            input_bucket: p.input_bucket,
            input_key: p.input_key,
            created_at: p.created_at,
            completed_at: p.completed_at,
            segments_total: p.segments_total,
            segments_done: p.segments_done,
            frames_done: p.frames_done.max(0) as u64,
            media: match p.media {
                Some(m) => Some(
                    serde_json::from_str::<MediaInfo>(&m).map_err(|e| corrupt(e.to_string()))?,
                ),
                None => None,
            },
            output_key: p.output_key,
            error: p.error,
        }))
    }

    async fn set_status(&self, id: &JobId, status: JobStatus) -> Result<()> {
        self.update_status(id, status, "", &[])
    }

    async fn set_chunked(&self, id: &JobId, media: &MediaInfo, segments_total: u32) -> Result<()> {
        let m = serde_json::to_string(media).map_err(|e| PipelineError::State(e.to_string()))?;
        self.update_status(
            id,
            JobStatus::Processing,
            ", media = ?3, segments_total = ?4",
            &[&m, &segments_total],
        )
    }

    async fn add_frame_progress(&self, id: &JobId, frames: u64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET frames_done = frames_done + ?1 WHERE job_id = ?2",
                params![frames as i64, id.as_str()],
            )
            .map(|_| ())
        })
    }

    async fn record_segment(&self, id: &JobId, index: u32, frames: u64) -> Result<Completion> {
        self.with(|c| {
            let tx = c.transaction()?;
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO segment_completions (job_id, segment_index, frames, completed_at) VALUES (?1, ?2, ?3, ?4)",
                params![id.as_str(), index, frames as i64, now_millis()],
            )? == 1;
            if inserted {
                tx.execute("UPDATE jobs SET segments_done = segments_done + 1 WHERE job_id = ?1", [id.as_str()])?;
            }
            let (done, total): (u32, Option<u32>) = tx.query_row(
                "SELECT segments_done, segments_total FROM jobs WHERE job_id = ?1",
                [id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            tx.commit()?;
            Ok(Completion { newly_recorded: inserted, segments_done: done, segments_total: total.unwrap_or(0) })
        })
    }

    async fn completed_segments(&self, id: &JobId) -> Result<Vec<(u32, u64)>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT segment_index, frames FROM segment_completions WHERE job_id = ?1 ORDER BY segment_index",
            )?;
            let rows = st.query_map([id.as_str()], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?;
            rows.collect()
        })
    }

    async fn claim_reassembly(&self, id: &JobId, token: &str, ttl: Duration) -> Result<bool> {
        let now = now_millis();
        let stale_before = now - ttl.as_millis() as i64;
        self.with(|c| {
            c.execute(
                "INSERT INTO reassembly_triggered (job_id, token, claimed_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(job_id) DO UPDATE SET token = excluded.token, claimed_at = excluded.claimed_at \
                 WHERE reassembly_triggered.token = excluded.token OR reassembly_triggered.claimed_at < ?4",
                params![id.as_str(), token, now, stale_before],
            )
            .map(|n| n == 1)
        })
    }

    async fn complete_job(&self, id: &JobId, output_key: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET status = 'COMPLETED', output_key = ?1, completed_at = ?2, error = NULL \
                 WHERE job_id = ?3 AND status != 'FAILED'",
                params![output_key, now_millis(), id.as_str()],
            )
            .map(|_| ())
        })
    }

    async fn fail_job(&self, id: &JobId, reason: &str) -> Result<()> {
        self.update_status(
            id,
            JobStatus::Failed,
            ", error = ?3, completed_at = ?4",
            &[&reason, &now_millis()],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media() -> MediaInfo {
        MediaInfo {
            coded_width: 64,
            coded_height: 48,
            sar: (1, 1),
            rotation: 0,
            frame_rate: (24, 1),
            time_base: (1, 12288),
            duration: 2.0,
            frames: 48,
            video_codec: "h264".into(),
            video_start: 0.0,
            audio: None,
            tracks: Default::default(),
        }
    }

    #[tokio::test]
    async fn job_lifecycle_and_idempotent_completions() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("jobs.db");
        let s = SqliteJobStore::open(&db).unwrap();
        let id = JobId::derive("b", "input/x.mp4", "e", "");
        assert!(s
            .create_job(&JobRecord::new(id.clone(), "b", "input/x.mp4"))
            .await
            .unwrap());
        assert!(!s
            .create_job(&JobRecord::new(id.clone(), "b", "input/x.mp4"))
            .await
            .unwrap());
        s.set_chunked(&id, &media(), 2).await.unwrap();
        let c1 = s.record_segment(&id, 0, 24).await.unwrap();
        let dup = s.record_segment(&id, 0, 24).await.unwrap();
        assert!(c1.newly_recorded && !dup.newly_recorded);
        assert_eq!(
            (dup.segments_done, dup.segments_total, dup.all_done()),
            (1, 2, false)
        );
        assert!(s.record_segment(&id, 1, 24).await.unwrap().all_done());
        assert_eq!(
            s.completed_segments(&id).await.unwrap(),
            vec![(0, 24), (1, 24)]
        );
        // Exactly one claimant; the same token may claim again; a stale claim is taken over.
        assert!(s
            .claim_reassembly(&id, "m1", Duration::from_secs(60))
            .await
            .unwrap());
        assert!(!s
            .claim_reassembly(&id, "m2", Duration::from_secs(60))
            .await
            .unwrap());
        assert!(s
            .claim_reassembly(&id, "m1", Duration::from_secs(60))
            .await
            .unwrap());
        assert!(
            s.claim_reassembly(&id, "m3", Duration::ZERO).await.unwrap() || {
                std::thread::sleep(Duration::from_millis(5));
                s.claim_reassembly(&id, "m3", Duration::ZERO).await.unwrap()
            }
        );
        s.complete_job(&id, "jobs/x/final.mp4").await.unwrap();
        s.fail_job(&id, "late failure").await.unwrap();
        drop(s);
        // Reopen: everything persisted, terminal status kept.
        let s = SqliteJobStore::open(&db).unwrap();
        let j = s.get_job(&id).await.unwrap().unwrap();
        assert_eq!(
            (j.status, j.segments_done, j.media),
            (JobStatus::Completed, 2, Some(media()))
        );
        assert_eq!(j.error, None);
    }
}
