//! Job records and their status machine.
use super::{JobId, MediaInfo};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Queued,
    Chunking,
    Processing,
    Reassembling,
    Completed,
    Failed,
    /// Stopped by its owner: the workers stop between frames and segments, partial outputs are
    /// deleted, and no `final.mp4` is ever written.
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Queued,
        JobStatus::Chunking,
        JobStatus::Processing,
        JobStatus::Reassembling,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "QUEUED",
            JobStatus::Chunking => "CHUNKING",
            JobStatus::Processing => "PROCESSING",
            JobStatus::Reassembling => "REASSEMBLING",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Failed => "FAILED",
            JobStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown job status {s:?}"))
    }
}

/// Everything the pipeline records about a job.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JobRecord {
    pub job_id: JobId,
    pub status: JobStatus,
    pub input_bucket: String,
    pub input_key: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub completed_at: Option<i64>,
    pub segments_total: Option<u32>,
    pub segments_done: u32,
    pub frames_done: u64,
    pub media: Option<MediaInfo>,
    pub output_key: Option<String>,
    pub error: Option<String>,
    /// Unix milliseconds of the last write to the job (status, progress, completions): what the
    /// stuck-job sweeper measures "no progress" against.
    #[serde(default)]
    pub updated_at: i64,
    /// How many times the sweeper has re-driven this job without progress since.
    #[serde(default)]
    pub sweeps: u32,
    /// Who uploaded it (the web UI's signed-in user, from the upload's `stereospot-owner`
    /// metadata); `None` for files put in the bucket directly.
    #[serde(default)]
    pub owner: Option<String>,
}

impl JobRecord {
    pub fn new(job_id: JobId, input_bucket: &str, input_key: &str) -> JobRecord {
        let now = now_millis();
        JobRecord {
            job_id,
            status: JobStatus::Queued,
            input_bucket: input_bucket.to_string(),
            input_key: input_key.to_string(),
            created_at: now,
            completed_at: None,
            segments_total: None,
            segments_done: 0,
            frames_done: 0,
            media: None,
            output_key: None,
            error: None,
            updated_at: now,
            sweeps: 0,
            owner: None,
        }
    }
}

pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_strings_round_trip() {
        for st in JobStatus::ALL {
            assert_eq!(st.as_str().parse::<JobStatus>().unwrap(), st);
            assert_eq!(
                serde_json::to_string(&st).unwrap(),
                format!("\"{}\"", st.as_str())
            );
        }
        assert!("DONE".parse::<JobStatus>().is_err());
        assert!(JobStatus::Failed.is_terminal() && !JobStatus::Processing.is_terminal());
        assert!(JobStatus::Cancelled.is_terminal());
    }
}
