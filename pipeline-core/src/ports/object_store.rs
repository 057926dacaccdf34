//! Object store port: one bucket (S3 bucket or a local directory).
use crate::Result;
use std::path::Path;

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
}
