//! `POST /api/jobs/{id}/rerender`: the same film again with new 3D settings, without paying
//! for depth again. The original upload is copied to a new input key (S3 CopyObject, metadata
//! replaced by the new options plus `depth_from`), which starts a job like any upload; its
//! video-workers read the kept depth of the original job's segments (`jobs/<id>/depth/`)
//! instead of running the model, wherever the pieces match.
use super::auth::Caller;
use super::control::copy_upload;
use super::error::{ApiError, ApiResult};
use super::jobs_api::{load, parse_id};
use super::state::AppState;
use super::uploads::require_json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use pipeline_core::domain::{JobOptions, JobStatus};
use serde_json::{json, Value};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RerenderRequest {
    #[serde(default)]
    options: JobOptions,
}

pub async fn rerender(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
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
    let job = load(&st, &caller, &id).await?;
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
    let (key, new_id) = copy_upload(&st, &job, &options).await?;
    tracing::info!(from = %id, job_id = %new_id, %key, "re-render requested");
    Ok((
        StatusCode::CREATED,
        Json(json!({"job_id": new_id.to_string(), "key": key, "depth_from": id.to_string()})),
    ))
}
