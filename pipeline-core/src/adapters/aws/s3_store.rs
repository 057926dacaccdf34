//! [`ObjectStore`] over one S3 bucket.
use super::errors::{
    is_transient_sdk_error, retry, retry_sdk, sdk_retry_disabled, to_pipeline_error,
};
use crate::domain::keys::{self, KeyKind};
use crate::ports::object_store::{CompleteUploadError, ObjectMeta, Presigned, UploadedPart};
use crate::ports::ObjectStore;
use crate::{PipelineError, Result};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Files larger than this are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
/// Smallest part size used (S3 allows at most 10 000 parts, so large files get larger parts).
pub const MIN_PART_SIZE: u64 = 16 * 1024 * 1024;
const MAX_PARTS: u64 = 10_000;

const BACKEND: &str = "s3";

pub struct S3Store {
    client: Client,
    bucket: String,
    multipart_threshold: u64,
    min_part_size: u64,
    list_page_size: Option<i32>,
}

/// S3's smallest part size (all parts but the last).
pub const S3_MIN_PART: u64 = 5 * 1024 * 1024;

impl S3Store {
    /// A store over `bucket`. Path-style addressing is forced when an endpoint URL is configured
    /// (local AWS-protocol servers), virtual-hosted style is used against AWS.
    pub fn new(conf: &aws_config::SdkConfig, bucket: &str) -> S3Store {
        let custom_endpoint = conf.endpoint_url().is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty());
        let s3conf = aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(custom_endpoint)
            .retry_config(sdk_retry_disabled())
            .build();
        S3Store {
            client: Client::from_conf(s3conf),
            bucket: bucket.to_string(),
            multipart_threshold: MULTIPART_THRESHOLD,
            min_part_size: MIN_PART_SIZE,
            list_page_size: None,
        }
    }

    /// Upload files above `threshold` bytes in parts of at least `part_size` bytes (clamped to
    /// S3's 5 MiB minimum). Defaults: 64 MiB, 16 MiB.
    pub fn with_multipart(mut self, threshold: u64, part_size: u64) -> S3Store {
        self.multipart_threshold = threshold;
        self.min_part_size = part_size.max(S3_MIN_PART);
        self
    }

    /// Ask for at most `n` keys per ListObjectsV2 page (default: S3's 1000).
    pub fn with_list_page_size(mut self, n: i32) -> S3Store {
        self.list_page_size = Some(n.max(1));
        self
    }

    /// The underlying SDK client (for tools and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn put_single(
        &self,
        key: &str,
        path: &Path,
        meta: &HashMap<String, String>,
    ) -> Result<()> {
        retry_sdk(|| async {
            // A fresh body per attempt: the file is re-read on retry.
            let body = ByteStream::from_path(path)
                .await
                .map_err(aws_sdk_s3::error::SdkError::construction_failure)?;
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .set_metadata(Some(meta.clone()))
                .set_tagging(tagging(key))
                .set_content_type(content_type(key).map(str::to_string))
                .body(body)
                .send()
                .await
        })
        .await
        .map(|_| ())
        .map_err(|e| to_pipeline_error(BACKEND, &format!("put s3://{}/{key}", self.bucket), &e))
    }

    async fn put_multipart(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        meta: &HashMap<String, String>,
    ) -> Result<()> {
        let what = format!("multipart put s3://{}/{key}", self.bucket);
        let created = retry_sdk(|| {
            self.client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .set_metadata(Some(meta.clone()))
                .set_tagging(tagging(key))
                .set_content_type(content_type(key).map(str::to_string))
                .send()
        })
        .await
        .map_err(|e| to_pipeline_error(BACKEND, &what, &e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| PipelineError::backend(BACKEND, format!("{what}: no upload id"), true))?
            .to_string();
        let result = self.upload_parts(key, path, size, &upload_id, &what).await;
        if result.is_err() {
            // Best effort: leave no orphaned parts behind (a lifecycle rule is the backstop).
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        upload_id: &str,
        what: &str,
    ) -> Result<()> {
        let part_size = self.min_part_size.max(size.div_ceil(MAX_PARTS));
        let mut parts = Vec::new();
        let mut offset = 0u64;
        let mut number = 1i32;
        while offset < size {
            let len = part_size.min(size - offset);
            let out = retry_sdk(|| async {
                let body = ByteStream::read_from()
                    .path(path)
                    .offset(offset)
                    .length(Length::Exact(len))
                    .build()
                    .await
                    .map_err(aws_sdk_s3::error::SdkError::construction_failure)?;
                self.client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .body(body)
                    .send()
                    .await
            })
            .await
            .map_err(|e| to_pipeline_error(BACKEND, &format!("{what} part {number}"), &e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .build(),
            );
            offset += len;
            number += 1;
        }
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(parts))
            .build();
        retry_sdk(|| {
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .multipart_upload(completed.clone())
                .send()
        })
        .await
        .map(|_| ())
        .map_err(|e| to_pipeline_error(BACKEND, what, &e))
    }
}

/// Characters escaped in a CopySource key: everything but unreserved characters and `/`.
const COPY_SOURCE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// User metadata for a request (`None` when there is none, so no empty header is signed).
fn user_metadata(m: &[(String, String)]) -> Option<HashMap<String, String>> {
    (!m.is_empty()).then(|| m.iter().cloned().collect())
}

fn presign_config(ttl: Duration) -> Result<PresigningConfig> {
    PresigningConfig::expires_in(ttl)
        .map_err(|e| PipelineError::backend(BACKEND, format!("presign: {e}"), false))
}

fn presigned(p: PresignedRequest) -> Presigned {
    Presigned {
        method: p.method().to_string(),
        url: p.uri().to_string(),
        headers: p
            .headers()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .filter(|(k, _)| k != "host" && k != "content-length")
            .collect(),
    }
}

fn presign_err<E: std::error::Error + Send + Sync + 'static>(
    what: &str,
    e: aws_sdk_s3::error::SdkError<E>,
) -> PipelineError {
    PipelineError::backend(
        BACKEND,
        format!(
            "presign {what}: {}",
            aws_sdk_s3::error::DisplayErrorContext(e)
        ),
        false,
    )
}

/// Object tags for `key`: stereo segments are tagged `stereospot-kind=segment`, which the
/// output bucket's lifecycle rule expires after a day (S3 rules cannot match `jobs/*/segments/`
/// by prefix); `final.mp4` is untagged and kept.
fn tagging(key: &str) -> Option<String> {
    if keys::is_output_depth_key(key) {
        return Some(DEPTH_TAG.to_string());
    }
    matches!(keys::classify(key), KeyKind::OutputSegment { .. }).then(|| SEGMENT_TAG.to_string())
}

/// The tag the infra lifecycle rule matches (infra/lib/schemas.ts SEGMENT_TAG).
pub const SEGMENT_TAG: &str = "stereospot-kind=segment";
/// Kept depth expires on its own, longer schedule (infra/lib/schemas.ts DEPTH_TAG).
pub const DEPTH_TAG: &str = "stereospot-kind=depth";

fn content_type(key: &str) -> Option<&'static str> {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    match ext.as_str() {
        "mp4" => Some("video/mp4"),
        "ts" => Some("video/mp2t"),
        "json" => Some("application/json"),
        _ => None,
    }
}

/// Failure while downloading: either the request or the body stream / local file.
enum GetError {
    Sdk(Box<aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::get_object::GetObjectError>>),
    NotFound,
    Stream(String),
    Local(PipelineError),
}

impl GetError {
    fn transient(&self) -> bool {
        match self {
            GetError::Sdk(e) => is_transient_sdk_error(e),
            GetError::Stream(_) => true,
            GetError::NotFound | GetError::Local(_) => false,
        }
    }
}

#[async_trait::async_trait]
impl ObjectStore for S3Store {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put_file(&self, key: &str, path: &Path, metadata: &[(String, String)]) -> Result<()> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| PipelineError::io(path, e))?
            .len();
        let meta: HashMap<String, String> = metadata.iter().cloned().collect();
        if size > self.multipart_threshold {
            self.put_multipart(key, path, size, &meta).await
        } else {
            self.put_single(key, path, &meta).await
        }
    }

    async fn get_to_file(&self, key: &str, path: &Path) -> Result<()> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| PipelineError::io(&dir, e))?;
        let tmp = retry(
            || async {
                let out = self
                    .client
                    .get_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| {
                        let missing = e.as_service_error().is_some_and(|s| s.is_no_such_key());
                        if missing {
                            GetError::NotFound
                        } else {
                            GetError::Sdk(Box::new(e))
                        }
                    })?;
                let tmp = tempfile::Builder::new()
                    .prefix(".tmp-download")
                    .tempfile_in(&dir)
                    .map_err(|e| GetError::Local(PipelineError::io(&dir, e)))?;
                let (file, tmp_path) = tmp.into_parts();
                let mut file = tokio::fs::File::from_std(file);
                let mut body = out.body;
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(|e| GetError::Stream(e.to_string()))?;
                    file.write_all(&chunk)
                        .await
                        .map_err(|e| GetError::Local(PipelineError::io(&*tmp_path, e)))?;
                }
                file.sync_all()
                    .await
                    .map_err(|e| GetError::Local(PipelineError::io(&*tmp_path, e)))?;
                Ok(tmp_path)
            },
            GetError::transient,
        )
        .await
        .map_err(|e| {
            let what = format!("get s3://{}/{key}", self.bucket);
            match e {
                GetError::Sdk(e) => to_pipeline_error(BACKEND, &what, &e),
                GetError::NotFound => {
                    PipelineError::State(format!("object {key} not found in {}", self.bucket))
                }
                GetError::Stream(m) => {
                    PipelineError::backend(BACKEND, format!("{what}: {m}"), true)
                }
                GetError::Local(e) => e,
            }
        })?;
        tmp.persist(path)
            .map_err(|e| PipelineError::io(path, e.error))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        let res = retry_sdk(|| {
            self.client
                .head_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
        })
        .await;
        let out = match res {
            Ok(out) => out,
            Err(e) if matches!(e.as_service_error(), Some(HeadObjectError::NotFound(_))) => {
                return Ok(None)
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                return Ok(None)
            }
            Err(e) => {
                return Err(to_pipeline_error(
                    BACKEND,
                    &format!("head s3://{}/{key}", self.bucket),
                    &e,
                ))
            }
        };
        let mut metadata: Vec<(String, String)> = out
            .metadata()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        metadata.sort();
        Ok(Some(ObjectMeta {
            size: out.content_length().unwrap_or(0).max(0) as u64,
            etag: out.e_tag().unwrap_or("").trim_matches('"').to_string(),
            metadata,
        }))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = retry_sdk(|| {
                self.client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .set_max_keys(self.list_page_size)
                    .set_continuation_token(token.clone())
                    .send()
            })
            .await
            .map_err(|e| {
                to_pipeline_error(BACKEND, &format!("list s3://{}/{prefix}", self.bucket), &e)
            })?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        content_type: Option<&str>,
        disposition: Option<&str>,
    ) -> Result<Presigned> {
        self.client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_response_content_type(content_type.map(str::to_string))
            .set_response_content_disposition(disposition.map(str::to_string))
            .presigned(presign_config(ttl)?)
            .await
            .map(presigned)
            .map_err(|e| presign_err("get", e))
    }

    async fn presign_put(
        &self,
        key: &str,
        ttl: Duration,
        content_type: &str,
        size: u64,
        metadata: &[(String, String)],
    ) -> Result<Presigned> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size as i64)
            .set_metadata(user_metadata(metadata))
            .presigned(presign_config(ttl)?)
            .await
            .map(presigned)
            .map_err(|e| presign_err("put", e))
    }

    async fn start_upload(
        &self,
        key: &str,
        content_type: &str,
        metadata: &[(String, String)],
    ) -> Result<String> {
        let out = retry_sdk(|| {
            self.client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .set_metadata(user_metadata(metadata))
                .send()
        })
        .await
        .map_err(|e| to_pipeline_error(BACKEND, "create multipart upload", &e))?;
        out.upload_id()
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                PipelineError::backend(BACKEND, "create multipart upload: no upload id", true)
            })
    }

    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        size: u64,
        ttl: Duration,
    ) -> Result<Presigned> {
        self.client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number as i32)
            .content_length(size as i64)
            .presigned(presign_config(ttl)?)
            .await
            .map(presigned)
            .map_err(|e| presign_err("upload part", e))
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<String, CompleteUploadError> {
        let parts: Vec<CompletedPart> = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.part_number as i32)
                    .e_tag(p.etag.trim())
                    .build()
            })
            .collect();
        let done = retry_sdk(|| {
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts.clone()))
                        .build(),
                )
                .send()
        })
        .await
        .map_err(|e| match e.as_service_error().and_then(|s| s.code()) {
            Some("NoSuchUpload") => CompleteUploadError::NoSuchUpload,
            Some(code @ ("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall")) => {
                CompleteUploadError::PartsRefused(code.to_string())
            }
            _ => to_pipeline_error(BACKEND, "complete the upload", &e).into(),
        })?;
        Ok(done.e_tag().unwrap_or("").to_string())
    }

    async fn copy_object(
        &self,
        from: &str,
        to: &str,
        metadata: &[(String, String)],
    ) -> Result<String> {
        // CopySource is `bucket/key` with the key URL-encoded (S3 takes one request up to 5 GB).
        let source = format!(
            "{}/{}",
            self.bucket,
            percent_encoding::utf8_percent_encode(from, COPY_SOURCE)
        );
        let out = retry_sdk(|| {
            self.client
                .copy_object()
                .bucket(&self.bucket)
                .key(to)
                .copy_source(&source)
                .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
                .set_metadata(user_metadata(metadata))
                .set_content_type(content_type(to).map(str::to_string))
                .send()
        })
        .await
        .map_err(|e| {
            to_pipeline_error(BACKEND, &format!("copy s3://{}/{from}", self.bucket), &e)
        })?;
        Ok(out
            .copy_object_result()
            .and_then(|r| r.e_tag())
            .unwrap_or("")
            .trim_matches('"')
            .to_string())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        retry_sdk(|| {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
        })
        .await
        .map(|_| ())
        .map_err(|e| to_pipeline_error(BACKEND, &format!("delete s3://{}/{key}", self.bucket), &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stereo_segments_are_tagged_for_expiry() {
        assert_eq!(
            tagging("jobs/0123456789abcdef/segments/00003.mp4").as_deref(),
            Some(SEGMENT_TAG)
        );
        assert_eq!(tagging("jobs/0123456789abcdef/final.mp4"), None);
        assert_eq!(tagging("input/x.mp4"), None);
        assert_eq!(
            tagging("jobs/0123456789abcdef/depth/00003.mkv").as_deref(),
            Some(DEPTH_TAG)
        );
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("jobs/a/final.MP4"), Some("video/mp4"));
        assert_eq!(content_type("segments/a/00001.ts"), Some("video/mp2t"));
        assert_eq!(content_type("noext"), None);
    }
}
