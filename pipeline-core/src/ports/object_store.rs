//! Object store port: one bucket (S3 bucket or a local directory).
use crate::{PipelineError, Result};
use std::path::Path;
use std::time::Duration;

/// What a `head` returns about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
    /// Content fingerprint (S3 ETag, or a content hash for local files).
    pub etag: String,
    /// User metadata (S3 `x-amz-meta-*`).
    pub metadata: Vec<(String, String)>,
}

impl ObjectMeta {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request a client can make without credentials (a presigned URL and the headers it must
/// send with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    pub method: String,
    pub url: String,
    /// Headers the client must send, except `host` and `content-length` (set by any client).
    pub headers: Vec<(String, String)>,
}

/// A part of a client's multipart upload, as the store answered its PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    pub part_number: u32,
    pub etag: String,
}

/// Why a client's multipart upload could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum CompleteUploadError {
    /// The upload id is unknown (finished, aborted or expired).
    #[error("no such upload (finished, aborted or expired)")]
    NoSuchUpload,
    /// The store refused the parts (a wrong ETag, a missing or too small part): the code.
    #[error("the store refused the parts: {0}")]
    PartsRefused(String),
    #[error(transparent)]
    Other(#[from] PipelineError),
}

fn cannot_presign(bucket: &str) -> PipelineError {
    PipelineError::State(format!(
        "the store of {bucket} cannot hand out presigned URLs"
    ))
}

#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync {
    /// Bucket name (for events and job-id derivation).
    fn bucket(&self) -> &str;
    /// Upload a local file to `key`, atomically (readers never see a partial object).
    async fn put_file(&self, key: &str, path: &Path, metadata: &[(String, String)]) -> Result<()>;
    /// Download `key` into `path` (written to a temporary name, then renamed).
    async fn get_to_file(&self, key: &str, path: &Path) -> Result<()>;
    /// Metadata of `key`, or `None` if absent.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>>;
    /// Keys under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Remove `key` (absent is fine).
    async fn delete(&self, key: &str) -> Result<()>;
    /// A local file holding `key`, when the store is a directory (saves a copy).
    fn local_path(&self, _key: &str) -> Option<std::path::PathBuf> {
        None
    }

    /// Copy `from` to `to` within this store, with `metadata` replacing the user metadata;
    /// returns the copy's ETag. Stores without server-side copy refuse.
    async fn copy_object(
        &self,
        _from: &str,
        _to: &str,
        _metadata: &[(String, String)],
    ) -> Result<String> {
        Err(PipelineError::State(format!(
            "the store of {} cannot copy objects",
            self.bucket()
        )))
    }

    // --- presigned access for clients (the web UI); stores without it refuse -----------------

    /// A GET of `key` valid for `ttl`, answered with `content_type` and `disposition` when set.
    async fn presign_get(
        &self,
        _key: &str,
        _ttl: Duration,
        _content_type: Option<&str>,
        _disposition: Option<&str>,
    ) -> Result<Presigned> {
        Err(cannot_presign(self.bucket()))
    }
    /// A single PUT of exactly `size` bytes of `content_type` to `key`, valid for `ttl`, storing
    /// `metadata` as the object's user metadata (signed: the client must send it as headers).
    async fn presign_put(
        &self,
        _key: &str,
        _ttl: Duration,
        _content_type: &str,
        _size: u64,
        _metadata: &[(String, String)],
    ) -> Result<Presigned> {
        Err(cannot_presign(self.bucket()))
    }
    /// Start a multipart upload of `key` for a client, with `metadata` as the object's user
    /// metadata; returns its upload id.
    async fn start_upload(
        &self,
        _key: &str,
        _content_type: &str,
        _metadata: &[(String, String)],
    ) -> Result<String> {
        Err(cannot_presign(self.bucket()))
    }
    /// A PUT of part `part_number` (`size` bytes) of an upload, valid for `ttl`.
    async fn presign_part(
        &self,
        _key: &str,
        _upload_id: &str,
        _part_number: u32,
        _size: u64,
        _ttl: Duration,
    ) -> Result<Presigned> {
        Err(cannot_presign(self.bucket()))
    }
    /// Join the uploaded parts (numbered 1..n, in order) into `key`; returns the object's ETag
    /// (empty when the store did not say).
    async fn complete_upload(
        &self,
        _key: &str,
        _upload_id: &str,
        _parts: &[UploadedPart],
    ) -> Result<String, CompleteUploadError> {
        Err(cannot_presign(self.bucket()).into())
    }
}
