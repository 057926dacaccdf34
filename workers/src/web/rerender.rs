//! `POST /api/jobs/{id}/rerender`: the same film again with new 3D settings, without paying
//! for depth again. The original upload is copied to a new input key (S3 CopyObject, metadata
//! replaced by the new options plus `depth_from`), which starts a job like any upload; its
//! video-workers read the kept depth of the original job's segments (`jobs/<id>/depth/`)
//! instead of running the model, wherever the pieces match.
use super::error::{ApiError, ApiResult};
use super::jobs_api::{load, parse_id};
use super::state::AppState;
use super::upload_rules::{input_key_for, random_hex};
use super::uploads::require_json;
use super::view::display_name;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use pipeline_core::domain::{JobId, JobOptions, JobStatus};
use serde_json::{json, Value};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RerenderRequest {
    #[serde(default)]
    options: JobOptions,
}

pub async fn rerender(
    State(st): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require_json(&headers)?;
    let id = parse_id(id)?;
    let body = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let req: RerenderRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    let mut options = req.options;
    if options.depth_from.is_some() {
        return Err(ApiError::bad_request(
            "options: depth_from is the job being re-rendered; leave it out",
        ));
    }
    options
        .validate()
        .map_err(|e| ApiError::bad_request(format!("options: {e}")))?;
    let job = load(&st, &id).await?;
    if job.status != JobStatus::Completed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_completed",
            format!(
                "only a finished job can be re-rendered; this one is {}",
                job.status
            ),
        ));
    }
    options.depth_from = Some(id.to_string());
    let name = display_name(&job.input_key);
    let key = input_key_for(&name, &random_hex()?);
    let kept = st
        .input
        .head(&job.input_key)
        .await
        .map_err(|e| ApiError::backend("read the upload", &e))?;
    if kept.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "input_gone",
            "the original upload is no longer stored; upload the file again",
        ));
    }
    let etag = st
        .input
        .copy_object(&job.input_key, &key, &options.to_metadata())
        .await
        .map_err(|e| ApiError::backend("copy the upload", &e))?;
    let new_id = JobId::derive(&st.res.input_bucket, &key, &etag, "");
    tracing::info!(from = %id, job_id = %new_id, %key, "re-render requested");
    Ok((
        StatusCode::CREATED,
        Json(json!({"job_id": new_id.to_string(), "key": key, "depth_from": id.to_string()})),
    ))
}
