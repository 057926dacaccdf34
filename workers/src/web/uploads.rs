//! `POST /api/jobs` (a presigned upload into `input/`) and
//! `POST /api/uploads/{upload_id}/complete` (finish a multipart upload). The bytes go from the
//! client straight to S3; the S3 notification then starts the job as for any upload.
//!
//! The client reports each part's ETag when completing (the usual S3 contract; browsers read the
//! `ETag` header, which the input bucket's CORS rule must expose) rather than the service
//! listing the parts: fewer permissions, one call less, and moto 5.2.5 answers ListParts with a
//! root element the SDK refuses (`ListPartsResponse`).
use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::state::AppState;
use super::upload_rules::{input_key_for, is_api_upload_key, plan_parts, random_hex, NewUpload};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::{Extension, Json};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use pipeline_core::domain::job::now_millis;
use pipeline_core::domain::JobId;
use pipeline_core::ports::{CompleteUploadError, Presigned};
use serde_json::{json, Map, Value};

/// Longest upload id accepted in a path (S3's are far shorter).
const MAX_UPLOAD_ID: usize = 1024;

/// POST bodies must be JSON: a cross-site form cannot send that without a CORS preflight, which
/// this service never grants.
pub fn require_json(headers: &HeaderMap) -> ApiResult<()> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ))
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Result<Bytes, BytesRejection>,
) -> ApiResult<T> {
    require_json(headers)?;
    let body = body.as_ref().map_err(|e| {
        let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "bad_request"
        };
        ApiError::new(e.status(), code, e.body_text())
    })?;
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// The path that resolves an upload key to its job id.
pub fn by_key_path(key: &str) -> String {
    format!("/api/jobs/by-key?key={}", encode(key))
}

/// The headers a client must send with a presigned request (the store leaves out those a
/// browser sets itself and refuses to be told: host and content-length).
fn client_headers(p: &Presigned) -> Value {
    let mut m = Map::new();
    for (k, v) in &p.headers {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(m)
}

fn presign_err(e: pipeline_core::PipelineError) -> ApiError {
    ApiError::internal("presign upload", e)
}

/// The upload's user metadata: the job options and the uploader (who will own the job).
pub fn upload_metadata(
    options: &pipeline_core::domain::JobOptions,
    caller: &Caller,
) -> Vec<(String, String)> {
    let mut meta = options.to_metadata();
    if let Some(user) = &caller.user {
        meta.push((
            pipeline_core::domain::job_options::META_OWNER.to_string(),
            user.clone(),
        ));
    }
    meta
}

pub async fn create_job_upload(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req: NewUpload = parse_body(&headers, &body)?;
    req.validate(st.cfg.max_upload_bytes)?;
    let key = input_key_for(&req.filename, &random_hex()?);
    let store = &st.input;
    let ttl = st.cfg.upload_url_ttl;
    let expires_at = now_millis() + ttl.as_millis() as i64;

    let meta = upload_metadata(&req.options, &caller);
    let content_type = req.stored_type();
    let upload = if req.size <= st.cfg.single_put_max_bytes {
        let p = store
            .presign_put(&key, ttl, content_type, req.size, &meta)
            .await
            .map_err(presign_err)?;
        json!({
            "kind": "single",
            "method": p.method,
            "url": p.url,
            "headers": client_headers(&p),
            "size": req.size,
            "expires_at": expires_at,
        })
    } else {
        let upload_id = store
            .start_upload(&key, content_type, &meta)
            .await
            .map_err(|e| ApiError::backend("start the upload", &e))?;
        let plan = plan_parts(req.size, st.cfg.part_bytes);
        let mut parts = Vec::with_capacity(plan.len());
        let mut headers = Value::Object(Map::new());
        for part in &plan {
            let p = store
                .presign_part(&key, &upload_id, part.part_number, part.size, ttl)
                .await
                .map_err(presign_err)?;
            headers = client_headers(&p);
            parts.push(json!({
                "part_number": part.part_number,
                "offset": part.offset,
                "size": part.size,
                "url": p.url,
            }));
        }
        json!({
            "kind": "multipart",
            "method": "PUT",
            "upload_id": upload_id,
            "part_size": plan.first().map(|p| p.size).unwrap_or(0),
            "parts": parts,
            "headers": headers,
            "size": req.size,
            "complete_url": format!("/api/uploads/{}/complete", encode(&upload_id)),
            "expires_at": expires_at,
        })
    };
    tracing::info!(key = %key, size = req.size, kind = %upload["kind"], "upload presigned");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "key": key,
            "upload": upload,
            "job_id_hint": by_key_path(&key),
        })),
    ))
}

/// Largest part count S3 allows.
const MAX_PARTS: usize = 10_000;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteRequest {
    key: String,
    parts: Vec<UploadedPart>,
}

/// A part as the client uploaded it: its number and the `ETag` header S3 answered the PUT with.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadedPart {
    part_number: i32,
    etag: String,
}

/// Map a multipart completion's failure: an unknown upload is 404, refused parts 400.
fn multipart_err(what: &str, e: CompleteUploadError) -> ApiError {
    match e {
        CompleteUploadError::NoSuchUpload => {
            ApiError::not_found("no such upload (finished, aborted or expired)")
        }
        CompleteUploadError::PartsRefused(code) => {
            ApiError::bad_request(format!("S3 refused the parts: {code}"))
        }
        CompleteUploadError::Other(e) => ApiError::backend(what, &e),
    }
}

/// `POST /api/uploads/{upload_id}/complete` with `{"key": "input/...", "parts": [{"part_number":
/// 1, "etag": "..."}, ...]}`: joins the uploaded parts (S3 checks every ETag) and returns the
/// job id the upload gets.
pub async fn complete_upload(
    State(st): State<AppState>,
    upload_id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let Path(upload_id) = upload_id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if upload_id.is_empty()
        || upload_id.len() > MAX_UPLOAD_ID
        || upload_id.chars().any(|c| c.is_control() || c == '/')
    {
        return Err(ApiError::bad_request("invalid upload id"));
    }
    let req: CompleteRequest = parse_body(&headers, &body)?;
    if !is_api_upload_key(&req.key) {
        return Err(ApiError::bad_request(
            "key must be the key POST /api/jobs returned",
        ));
    }
    let bucket = st.input.bucket();

    if req.parts.is_empty() || req.parts.len() > MAX_PARTS {
        return Err(ApiError::bad_request(format!(
            "parts must list 1..{MAX_PARTS} uploaded parts"
        )));
    }
    let mut parts: Vec<pipeline_core::ports::UploadedPart> = req
        .parts
        .iter()
        .map(|p| pipeline_core::ports::UploadedPart {
            part_number: p.part_number.max(0) as u32,
            etag: p.etag.trim().to_string(),
        })
        .collect();
    parts.sort_by_key(|p| p.part_number);
    let contiguous = parts
        .iter()
        .enumerate()
        .all(|(i, p)| p.part_number == i as u32 + 1);
    if parts.is_empty() || !contiguous {
        return Err(ApiError::bad_request(format!(
            "upload parts are missing: {} uploaded, numbered {:?}",
            parts.len(),
            parts.iter().map(|p| p.part_number).collect::<Vec<_>>()
        )));
    }
    let n_parts = parts.len();
    let done = st
        .input
        .complete_upload(&req.key, &upload_id, &parts)
        .await
        .map_err(|e| multipart_err("complete the upload", e))?;
    // The job id uses the object's ETag, exactly as the media-worker sees it in the event.
    let etag = match done {
        e if !e.is_empty() => e,
        _ => {
            st.input
                .head(&req.key)
                .await
                .map_err(|e| ApiError::backend("look up the upload", &e))?
                .ok_or_else(|| ApiError::internal("complete the upload", "object missing"))?
                .etag
        }
    };
    let job_id = JobId::derive(bucket, &req.key, &etag, "");
    tracing::info!(key = %req.key, parts = n_parts, job_id = %job_id, "multipart upload completed");
    Ok(Json(json!({
        "key": req.key,
        "job_id": job_id,
        "parts": n_parts,
        "job_id_hint": by_key_path(&req.key),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn json_bodies_only() {
        let mut h = HeaderMap::new();
        assert_eq!(
            require_json(&h).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(require_json(&h).is_err());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(require_json(&h).is_ok());
        let e =
            parse_body::<CompleteRequest>(&h, &Ok(Bytes::from_static(b"{\"key\":"))).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "bad_request"));
    }

    #[test]
    fn multipart_errors_map_to_4xx() {
        use pipeline_core::{ErrorClass, PipelineError};
        let status = |e: CompleteUploadError| multipart_err("complete", e).status;
        assert_eq!(
            status(CompleteUploadError::NoSuchUpload),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(CompleteUploadError::PartsRefused("InvalidPart".into())),
            StatusCode::BAD_REQUEST
        );
        let slow = PipelineError::backend("s3", "SlowDown", true);
        assert_eq!(status(slow.into()), StatusCode::SERVICE_UNAVAILABLE);
        let denied = PipelineError::backend_class("s3", "AccessDenied", ErrorClass::WorkerFatal);
        assert_eq!(status(denied.into()), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn presigned_puts_sign_the_size_and_tell_the_client_the_rest() {
        use pipeline_core::ports::ObjectStore;
        let creds = aws_sdk_s3::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "t");
        let conf = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(creds))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let store = pipeline_core::adapters::aws::S3Store::new(&conf, "in");
        let p = store
            .presign_put(
                "input/x.mp4",
                std::time::Duration::from_secs(3600),
                "video/mp4",
                1234,
                &[("stereospot-layout".to_string(), "half-tb".to_string())],
            )
            .await
            .unwrap();
        let signed = p
            .url
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("X-Amz-SignedHeaders="))
            .unwrap_or("");
        // S3 refuses a body of another length than the one signed.
        assert!(signed.contains("content-length"), "{}", p.url);
        assert!(p.url.contains("X-Amz-Expires=3600"), "{}", p.url);
        assert_eq!(p.method, "PUT");
        let h = client_headers(&p);
        assert_eq!(h["content-type"], "video/mp4");
        // The job options are signed metadata: the client must send them as they are.
        assert!(signed.contains("x-amz-meta-stereospot-layout"), "{}", p.url);
        assert_eq!(h["x-amz-meta-stereospot-layout"], "half-tb", "{h}");
        assert!(
            h.get("content-length").is_none() && h.get("host").is_none(),
            "{h}"
        );
    }

    #[test]
    fn by_key_paths_are_encoded() {
        assert_eq!(
            by_key_path("input/ab-c_d.mp4"),
            "/api/jobs/by-key?key=input%2Fab%2Dc%5Fd%2Emp4"
        );
    }
}
