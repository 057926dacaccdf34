//! The opaque pagination cursor of `GET /api/jobs`: base64url of a small JSON document holding,
//! per status partition of the list, where the next page starts (the index key of the last
//! item handed out from that partition) or that the partition is exhausted.
use super::error::{ApiError, ApiResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use pipeline_core::domain::{JobId, JobStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest cursor accepted (a valid one is far shorter).
pub const MAX_CURSOR_LEN: usize = 2048;

/// Where one status partition stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Continue after this item (exclusive start key: job id and index sort key).
    After { job_id: JobId, sort: i64 },
    /// Nothing more in this partition.
    Done,
}

/// Positions by status (`QUEUED`, ...); a status absent from the map starts from its newest
/// item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The list it belongs to (`in_progress`, `completed`, `failed`).
    pub list: String,
    pub at: BTreeMap<String, Position>,
}

fn bad_cursor() -> ApiError {
    ApiError::bad_request("invalid cursor (pass next_cursor back unchanged)")
}

impl Cursor {
    /// Where `status` stands (absent: at its start).
    pub fn position(&self, status: JobStatus) -> Option<&Position> {
        self.at.get(status.as_str())
    }

    pub fn set(&mut self, status: JobStatus, p: Position) {
        self.at.insert(status.as_str().to_string(), p);
    }

    pub fn encode(&self) -> String {
        // Serialising plain strings, numbers and maps cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decode a cursor for `list` whose statuses must be among `statuses`; anything else
    /// (tampered, truncated, from another list) is a 400.
    pub fn decode(s: &str, list: &str, statuses: &[JobStatus]) -> ApiResult<Cursor> {
        if s.len() > MAX_CURSOR_LEN {
            return Err(bad_cursor());
        }
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad_cursor())?;
        let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad_cursor())?;
        let known = |st: &String| statuses.iter().any(|s| s.as_str() == st);
        if c.list != list || !c.at.keys().all(known) {
            return Err(bad_cursor());
        }
        if c.at.values().all(|p| *p == Position::Done) && c.at.len() == statuses.len() {
            // A finished list has no cursor; this one was not made by us.
            return Err(bad_cursor());
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IN_PROGRESS: &[JobStatus] = &[
        JobStatus::Queued,
        JobStatus::Chunking,
        JobStatus::Processing,
        JobStatus::Reassembling,
    ];

    #[test]
    fn round_trip_and_opaque() {
        let mut c = Cursor {
            list: "in_progress".into(),
            ..Cursor::default()
        };
        c.set(
            JobStatus::Processing,
            Position::After {
                job_id: JobId::derive("b", "k", "e", ""),
                sort: 1_700_000_000_123,
            },
        );
        c.set(JobStatus::Queued, Position::Done);
        assert_eq!(c.position(JobStatus::Queued), Some(&Position::Done));
        assert_eq!(c.position(JobStatus::Chunking), None);
        let s = c.encode();
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(Cursor::decode(&s, "in_progress", IN_PROGRESS).unwrap(), c);
        // The same cursor is not valid for another list.
        assert!(Cursor::decode(&s, "completed", &[JobStatus::Completed]).is_err());
    }

    #[test]
    fn garbage_is_a_400() {
        let bad_id = URL_SAFE_NO_PAD.encode(
            r#"{"list":"completed","at":{"COMPLETED":{"after":{"job_id":"../x","sort":1}}}}"#,
        );
        let other_status = URL_SAFE_NO_PAD.encode(r#"{"list":"completed","at":{"FAILED":"done"}}"#);
        let all_done = URL_SAFE_NO_PAD.encode(r#"{"list":"completed","at":{"COMPLETED":"done"}}"#);
        for s in [
            "",
            "!!!",
            "eyJ9",
            bad_id.as_str(),
            other_status.as_str(),
            all_done.as_str(),
            &"A".repeat(MAX_CURSOR_LEN + 1),
        ] {
            let e = Cursor::decode(s, "completed", &[JobStatus::Completed]).unwrap_err();
            assert_eq!(e.status.as_u16(), 400, "{s}");
        }
    }
}
