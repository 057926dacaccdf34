//! Job ids, derived deterministically from the input object.
use sha2::{Digest, Sha256};
use std::fmt;

/// A job id: 16 lowercase hex characters.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    /// Derive the id from the input object: the same (bucket, key, etag) always gives the same
    /// job (a duplicated notification is not a second job); new content (new ETag) gives a new
    /// one. `salt` separates jobs over the same input with different settings (local convert);
    /// the cloud passes "".
    pub fn derive(bucket: &str, key: &str, etag: &str, salt: &str) -> JobId {
        let mut h = Sha256::new();
        for part in [bucket, key, etag.trim_matches('"'), salt] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        JobId(hex::encode(&h.finalize()[..8]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parse an id from a key or message; rejects anything but 16 lowercase hex chars.
    pub fn parse(s: &str) -> Result<JobId, String> {
        if s.len() == 16
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(JobId(s.to_string()))
        } else {
            Err(format!("not a job id: {s:?}"))
        }
    }
}

impl TryFrom<String> for JobId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        JobId::parse(&s)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> String {
        id.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_deterministic_and_content_sensitive() {
        let a = JobId::derive("in", "input/a.mp4", "\"abc\"", "");
        assert_eq!(a, JobId::derive("in", "input/a.mp4", "abc", ""));
        assert_ne!(a, JobId::derive("in", "input/a.mp4", "abd", ""));
        assert_ne!(a, JobId::derive("in", "input/b.mp4", "abc", ""));
        assert_ne!(
            a,
            JobId::derive("in", "input/a.mp4", "abc", "layout=half-sbs")
        );
        // Length-prefixing: moving a character between fields changes the id.
        assert_ne!(
            JobId::derive("ab", "c", "", ""),
            JobId::derive("a", "bc", "", "")
        );
        assert_eq!(a.as_str().len(), 16);
        assert_eq!(JobId::parse(a.as_str()).unwrap(), a);
    }

    #[test]
    fn parse_rejects_garbage() {
        for bad in [
            "",
            "XYZ",
            "0123456789abcdeF",
            "0123456789abcdef0",
            "../../etc/passwd",
        ] {
            assert!(JobId::parse(bad).is_err(), "{bad}");
        }
    }
}
