//! Job store in an embedded SQLite database (WAL): survives a crash or `kill -9`.
use crate::domain::job::now_millis;
use crate::domain::{JobId, JobRecord, JobStatus, MediaInfo};
use crate::ports::job_store::{Completion, JobCursor, JobOrder, JobPage};
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
    error TEXT,
    updated_at INTEGER NOT NULL DEFAULT 0,
    sweeps INTEGER NOT NULL DEFAULT 0
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
        migrate(&conn).map_err(db_err)?;
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
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE jobs SET status = ?1, updated_at = {NOW}{extra} WHERE job_id = ?2 AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')"
        );
        let (st, jid) = (status.as_str(), id.as_str());
        let mut all: Vec<&dyn rusqlite::ToSql> = vec![&st, &jid];
        all.extend_from_slice(args);
        self.with(|c| c.execute(&sql, all.as_slice()).map(|n| n == 1))
    }
}

/// Unix milliseconds in SQL.
const NOW: &str = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

/// Columns added since the first schema (databases of earlier runs resume with them).
fn migrate(c: &Connection) -> rusqlite::Result<()> {
    let mut st = c.prepare("SELECT name FROM pragma_table_info('jobs')")?;
    let cols: Vec<String> = st
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for (col, ddl) in [
        (
            "updated_at",
            "ALTER TABLE jobs ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0",
        ),
        (
            "sweeps",
            "ALTER TABLE jobs ADD COLUMN sweeps INTEGER NOT NULL DEFAULT 0",
        ),
    ] {
        if !cols.iter().any(|c| c == col) {
            c.execute_batch(ddl)?;
        }
    }
    Ok(())
}

const JOB_COLUMNS: &str = "job_id, status, input_bucket, input_key, created_at, completed_at, \
    segments_total, segments_done, frames_done, media, output_key, error, updated_at, sweeps";

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
            updated_at: r.get(12)?,
            sweeps: r.get(13)?,
        },
    ))
}

fn parts_to_job(job_id: String, status: String, p: JobRecordParts) -> Result<JobRecord> {
    let corrupt =
        |what: String| PipelineError::backend("sqlite", format!("job {job_id}: {what}"), false);
    Ok(JobRecord {
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
            Some(m) => {
                Some(serde_json::from_str::<MediaInfo>(&m).map_err(|e| corrupt(e.to_string()))?)
            }
            None => None,
        },
        output_key: p.output_key,
        error: p.error,
        updated_at: if p.updated_at > 0 {
            p.updated_at
        } else {
            p.created_at
        },
        sweeps: p.sweeps,
        // The local store serves one user (`stereospot convert`): jobs have no owner.
        owner: None,
    })
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
    updated_at: i64,
    sweeps: u32,
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
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ?1");
        let row = self.with(|c| c.query_row(&sql, [id.as_str()], row_to_job).optional())?;
        match row {
            Some((job_id, status, p)) => parts_to_job(job_id, status, p).map(Some),
            None => Ok(None),
        }
    }

    async fn set_status(&self, id: &JobId, status: JobStatus) -> Result<()> {
        self.update_status(id, status, "", &[]).map(|_| ())
    }

    async fn set_chunked(&self, id: &JobId, media: &MediaInfo, segments_total: u32) -> Result<()> {
        let m = serde_json::to_string(media).map_err(|e| PipelineError::State(e.to_string()))?;
        self.update_status(
            id,
            JobStatus::Processing,
            ", media = ?3, segments_total = ?4",
            &[&m, &segments_total],
        )
        .map(|_| ())
    }

    async fn add_frame_progress(&self, id: &JobId, frames: u64) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!("UPDATE jobs SET frames_done = frames_done + ?1, sweeps = 0, updated_at = {NOW} WHERE job_id = ?2"),
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
                tx.execute(&format!("UPDATE jobs SET segments_done = segments_done + 1, sweeps = 0, updated_at = {NOW} WHERE job_id = ?1"), [id.as_str()])?;
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

    async fn complete_job(&self, id: &JobId, output_key: &str) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET status = 'COMPLETED', output_key = ?1, completed_at = ?2, updated_at = ?2, \
                 error = NULL WHERE job_id = ?3 AND status NOT IN ('FAILED', 'CANCELLED')",
                params![output_key, now_millis(), id.as_str()],
            )
            .map(|n| n == 1)
        })
    }

    async fn list_jobs(
        &self,
        status: JobStatus,
        order: JobOrder,
        after: Option<&JobCursor>,
        limit: usize,
    ) -> Result<JobPage> {
        self.list_sync(status, order, after, limit)
    }

    async fn mark_swept(&self, id: &JobId, seen_updated_at: i64) -> Result<bool> {
        let sql = format!(
            // Never back to the value just seen (a sweep within the same millisecond).
            "UPDATE jobs SET sweeps = sweeps + 1, updated_at = MAX({NOW}, ?2 + 1) WHERE job_id = ?1 \
             AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED') \
             AND (updated_at = ?2 OR (updated_at = 0 AND created_at = ?2))"
        );
        self.with(|c| {
            c.execute(&sql, params![id.as_str(), seen_updated_at])
                .map(|n| n == 1)
        })
    }

    async fn fail_job(&self, id: &JobId, reason: &str) -> Result<()> {
        self.update_status(
            id,
            JobStatus::Failed,
            ", error = ?3, completed_at = ?4",
            &[&reason, &now_millis()],
        )
        .map(|_| ())
    }

    async fn cancel_job(&self, id: &JobId) -> Result<bool> {
        self.update_status(
            id,
            JobStatus::Cancelled,
            ", completed_at = ?3",
            &[&now_millis()],
        )
    }

    async fn delete_job(&self, id: &JobId) -> Result<()> {
        self.forget_job(id)
    }
}

impl SqliteJobStore {
    fn list_sync(
        &self,
        status: JobStatus,
        order: JobOrder,
        after: Option<&JobCursor>,
        limit: usize,
    ) -> Result<JobPage> {
        let col = match order {
            JobOrder::Created => "created_at",
            JobOrder::Completed => "COALESCE(completed_at, 0)",
        };
        // Newest first, ties by job id (descending), as the DynamoDB index pages them.
        let (sort, after_id) = after
            .map(|c| (c.sort, c.job_id.to_string()))
            .unwrap_or((i64::MAX, String::new()));
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE status = ?1 AND \
             ({col} < ?2 OR ({col} = ?2 AND (?3 = '' OR job_id < ?3))) \
             ORDER BY {col} DESC, job_id DESC LIMIT ?4"
        );
        let want = limit.max(1);
        let rows = self.with(|c| {
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map(
                params![status.as_str(), sort, after_id, (want + 1) as i64],
                row_to_job,
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let more = rows.len() > want;
        let mut jobs = Vec::new();
        for (id, st, p) in rows.into_iter().take(want) {
            match parts_to_job(id, st, p) {
                Ok(j) => jobs.push(j),
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable job record"),
            }
        }
        let next = match jobs.last() {
            Some(last) if more => Some(JobCursor {
                job_id: last.job_id.clone(),
                sort: order.time_of(last),
            }),
            _ => None,
        };
        Ok(JobPage { jobs, next })
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
            ..Default::default()
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

    #[tokio::test]
    async fn lists_by_status_with_a_cursor_and_marks_sweeps_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteJobStore::open(&dir.path().join("jobs.db")).unwrap();
        let mut ids = Vec::new();
        for i in 0..5 {
            let key = format!("input/{i}.mp4");
            let mut j = JobRecord::new(JobId::derive("b", &key, "e", ""), "b", &key);
            j.created_at = 1000 + (i / 2) as i64; // ties on purpose
            s.create_job(&j).await.unwrap();
            ids.push(j.job_id);
        }
        s.set_chunked(&ids[4], &media(), 1).await.unwrap(); // PROCESSING, not QUEUED
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = s
                .list_jobs(JobStatus::Queued, JobOrder::Created, after.as_ref(), 2)
                .await
                .unwrap();
            assert!(page.jobs.len() <= 2);
            seen.extend(page.jobs.iter().map(|j| (j.created_at, j.job_id.clone())));
            match page.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        let mut expected: Vec<(i64, JobId)> = (0..4)
            .map(|i| (1000 + (i / 2) as i64, ids[i].clone()))
            .collect();
        expected.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, expected, "newest first, each once");

        let j = s.get_job(&ids[4]).await.unwrap().unwrap();
        assert!(s.mark_swept(&ids[4], j.updated_at).await.unwrap());
        assert!(
            !s.mark_swept(&ids[4], j.updated_at).await.unwrap(),
            "a second sweeper that read the same record loses"
        );
        let swept = s.get_job(&ids[4]).await.unwrap().unwrap();
        assert_eq!(swept.sweeps, 1);
        s.add_frame_progress(&ids[4], 5).await.unwrap();
        assert_eq!(
            s.get_job(&ids[4]).await.unwrap().unwrap().sweeps,
            0,
            "progress resets"
        );
    }
}
