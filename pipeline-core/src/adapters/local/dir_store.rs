//! A bucket as a directory. Writes are atomic (temporary name + rename); user metadata and the
//! ETag live in a sidecar tree `.meta/`; created objects notify queues like S3 notifications.
use crate::events::{s3_notification, ObjectCreated};
use crate::ports::object_store::ObjectMeta;
use crate::ports::{ObjectStore, Queue};
use crate::{PipelineError, Result};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Send an S3-shaped notification to `queue` for keys with this prefix and suffix.
pub struct Notification {
    pub prefix: String,
    pub suffix: String,
    pub queue: Arc<dyn Queue>,
}

pub struct DirObjectStore {
    root: PathBuf,
    bucket: String,
    notifications: Vec<Notification>,
}

const META_DIR: &str = ".meta";

impl DirObjectStore {
    pub fn new(root: impl Into<PathBuf>, bucket: &str) -> Result<DirObjectStore> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| PipelineError::io(&root, e))?;
        Ok(DirObjectStore {
            root,
            bucket: bucket.to_string(),
            notifications: Vec::new(),
        })
    }

    pub fn with_notification(mut self, prefix: &str, suffix: &str, queue: Arc<dyn Queue>) -> Self {
        self.notifications.push(Notification {
            prefix: prefix.into(),
            suffix: suffix.into(),
            queue,
        });
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf> {
        let ok = !key.is_empty()
            && !key.starts_with('/')
            && key
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".." && c != META_DIR);
        if !ok {
            return Err(PipelineError::State(format!("invalid object key {key:?}")));
        }
        Ok(self.root.join(key))
    }

    fn meta_path(&self, key: &str) -> PathBuf {
        self.root.join(META_DIR).join(format!("{key}.json"))
    }

    /// Copy `src` to a temporary file beside `dst`, hashing it, then rename into place.
    fn copy_hashed(src: &Path, dst: &Path) -> Result<(u64, String)> {
        let dir = dst
            .parent()
            .ok_or_else(|| PipelineError::State("key without parent".into()))?;
        std::fs::create_dir_all(dir).map_err(|e| PipelineError::io(dir, e))?;
        let mut input = std::fs::File::open(src).map_err(|e| PipelineError::io(src, e))?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| PipelineError::io(dir, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = input
                .read(&mut buf)
                .map_err(|e| PipelineError::io(src, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .map_err(|e| PipelineError::io(tmp.path(), e))?;
            size += n as u64;
        }
        tmp.as_file()
            .sync_all()
            .map_err(|e| PipelineError::io(tmp.path(), e))?;
        tmp.persist(dst)
            .map_err(|e| PipelineError::io(dst, e.error))?;
        Ok((size, hex::encode(&hasher.finalize()[..16])))
    }

    fn put_blocking(
        &self,
        key: &str,
        src: &Path,
        metadata: &[(String, String)],
    ) -> Result<ObjectCreated> {
        let dst = self.path_of(key)?;
        let (size, etag) = Self::copy_hashed(src, &dst)?;
        let meta = serde_json::json!({"etag": etag, "metadata": metadata});
        let mp = self.meta_path(key);
        if let Some(d) = mp.parent() {
            std::fs::create_dir_all(d).map_err(|e| PipelineError::io(d, e))?;
        }
        let tmp = mp.with_extension("json.tmp");
        std::fs::write(&tmp, meta.to_string()).map_err(|e| PipelineError::io(&tmp, e))?;
        std::fs::rename(&tmp, &mp).map_err(|e| PipelineError::io(&mp, e))?;
        Ok(ObjectCreated {
            bucket: self.bucket.clone(),
            key: key.to_string(),
            etag,
            size,
        })
    }

    fn head_blocking(&self, key: &str) -> Result<Option<ObjectMeta>> {
        let p = self.path_of(key)?;
        let Ok(md) = std::fs::metadata(&p) else {
            return Ok(None);
        };
        let (etag, metadata) = match std::fs::read(self.meta_path(key)) {
            Ok(bytes) => {
                let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                let etag = v
                    .get("etag")
                    .and_then(|e| e.as_str())
                    .unwrap_or("")
                    .to_string();
                let metadata =
                    serde_json::from_value(v.get("metadata").cloned().unwrap_or_default())
                        .unwrap_or_default();
                (etag, metadata)
            }
            Err(_) => (String::new(), Vec::new()),
        };
        Ok(Some(ObjectMeta {
            size: md.len(),
            etag,
            metadata,
        }))
    }
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().and_then(|n| n.to_str()) != Some(META_DIR) {
                walk(&p, root, out);
            }
        } else if let Ok(rel) = p.strip_prefix(root) {
            let key = rel.to_string_lossy().replace('\\', "/");
            // Temporary files of in-progress writes are not objects.
            if !key.rsplit('/').next().unwrap_or("").starts_with(".tmp") {
                out.push(key);
            }
        }
    }
}

#[async_trait::async_trait]
impl ObjectStore for DirObjectStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put_file(&self, key: &str, path: &Path, metadata: &[(String, String)]) -> Result<()> {
        let ev = tokio::task::block_in_place(|| self.put_blocking(key, path, metadata))?;
        for n in &self.notifications {
            if key.starts_with(&n.prefix) && key.ends_with(&n.suffix) {
                n.queue.send(&s3_notification(&ev)).await?;
            }
        }
        Ok(())
    }

    async fn get_to_file(&self, key: &str, path: &Path) -> Result<()> {
        let src = self.path_of(key)?;
        if !src.exists() {
            return Err(PipelineError::State(format!(
                "object {key} not found in {}",
                self.bucket
            )));
        }
        tokio::task::block_in_place(|| Self::copy_hashed(&src, path)).map(|_| ())
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        tokio::task::block_in_place(|| self.head_blocking(key))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        tokio::task::block_in_place(|| walk(&self.root, &self.root, &mut keys));
        keys.retain(|k| k.starts_with(prefix));
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let p = self.path_of(key)?;
        for f in [p, self.meta_path(key)] {
            match std::fs::remove_file(&f) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(PipelineError::io(f, e)),
            }
        }
        Ok(())
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.path_of(key).ok().filter(|p| p.is_file())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::local::MemQueue;
    use crate::events::{parse_s3_message, S3Message};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn put_head_list_get_delete_and_notify() {
        let dir = tempfile::tempdir().unwrap();
        let q = Arc::new(MemQueue::new("q"));
        let store = DirObjectStore::new(dir.path().join("b"), "bucket")
            .unwrap()
            .with_notification("input/", ".mp4", q.clone());
        let src = dir.path().join("src.bin");
        std::fs::write(&src, b"hello").unwrap();
        store
            .put_file("input/a b.mp4", &src, &[("frames".into(), "5".into())])
            .await
            .unwrap();
        store.put_file("input/skip.txt", &src, &[]).await.unwrap();
        let m = store.head("input/a b.mp4").await.unwrap().unwrap();
        assert_eq!((m.size, m.get("frames")), (5, Some("5")));
        assert_eq!(m.etag.len(), 32);
        assert_eq!(
            store.list("input/").await.unwrap(),
            vec!["input/a b.mp4", "input/skip.txt"]
        );
        let msgs = q.receive(10, Duration::from_millis(10)).await.unwrap();
        assert_eq!(msgs.len(), 1, "only the .mp4 notifies");
        let S3Message::Created(evs) = parse_s3_message(&msgs[0].body).unwrap() else {
            panic!()
        };
        assert_eq!(
            (evs[0].key.as_str(), evs[0].etag.as_str()),
            ("input/a b.mp4", m.etag.as_str())
        );
        let dst = dir.path().join("out.bin");
        store.get_to_file("input/a b.mp4", &dst).await.unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"hello");
        store.delete("input/a b.mp4").await.unwrap();
        assert!(store.head("input/a b.mp4").await.unwrap().is_none());
        assert!(store.put_file("../escape", &src, &[]).await.is_err());
        assert!(store.get_to_file("input/none.mp4", &dst).await.is_err());
    }
}
