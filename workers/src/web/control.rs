//! Job control: cancel a running job, delete a job, retry a failed or cancelled one. Same
//! ownership rule as the reads (another user's job is a 404).
//!
//! - Cancel moves the job to CANCELLED (a conditional write: a job that finished first stays
//!   finished, 409) and deletes its partial outputs: the source pieces, stereo segments and
//!   depth. The workers notice between frames and segments, stop, and remove anything they
//!   upload afterwards; the reassembler never completes a cancelled job. The upload and the
//!   thumbnail stay, so the job can be retried.
//! - Delete cancels a running job first, then removes the upload, every object of the job in
//!   both buckets, and the record with its completions and claim.
//! - Retry copies the upload to a new key (S3 CopyObject, as a re-render does) with the same or
//!   new settings and the same owner, which starts a new job.
use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::jobs_api::{load, parse_id, view_of};
use super::state::AppState;
use super::upload_rules::{input_key_for, random_hex};
use super::uploads::{require_json, upload_metadata};
use super::view::{display_name, JobView};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use futures_util::{StreamExt, TryStreamExt};
use pipeline_core::domain::{keys, JobId, JobOptions, JobRecord, JobStatus};
use pipeline_core::ports::ObjectStore;
use serde_json::{json, Value};

/// Deletes in flight at once when clearing a job's objects.
const DELETE_CONCURRENCY: usize = 16;

/// Delete every object under `prefix` in `store`; returns how many there were.
async fn delete_prefix(store: &dyn ObjectStore, prefix: &str) -> ApiResult<usize> {
    let keys = store
        .list(prefix)
        .await
        .map_err(|e| ApiError::backend("list the job's objects", &e))?;
    let n = keys.len();
    futures_util::stream::iter(keys)
        .map(|k| async move { store.delete(&k).await })
        .buffer_unordered(DELETE_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .map_err(|e| ApiError::backend("delete the job's objects", &e))?;
    Ok(n)
}

/// The work in progress of a job: source pieces, stereo segments, kept depth, a final.mp4.
async fn delete_partial_outputs(st: &AppState, id: &JobId) -> ApiResult<usize> {
    let mut n = delete_prefix(&*st.input, &keys::source_segments_prefix(id)).await?;
    n += delete_prefix(&*st.output, &keys::output_segments_prefix(id)).await?;
    n += delete_prefix(&*st.output, &keys::output_depth_prefix(id)).await?;
    let final_key = keys::final_key(id);
    st.output
        .delete(&final_key)
        .await
        .map_err(|e| ApiError::backend("delete the result", &e))?;
    Ok(n)
}

fn not_running(job: &JobRecord) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "not_running",
        format!(
            "this job has already ended ({}); there is nothing to cancel",
            job.status
        ),
    )
}

/// Cancel `job` when it still runs; true when this call cancelled it.
async fn cancel_running(st: &AppState, job: &JobRecord) -> ApiResult<bool> {
    if job.status.is_terminal() {
        return Ok(false);
    }
    st.jobs
        .cancel_job(&job.job_id)
        .await
        .map_err(|e| ApiError::backend("cancel the job", &e))
}

/// `POST /api/jobs/{id}/cancel`: 200 with the CANCELLED job; 409 `not_running` once it ended.
pub async fn cancel(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<JobView>> {
    let id = parse_id(id)?;
    let job = load(&st, &caller, &id).await?;
    if !cancel_running(&st, &job).await? {
        // Ended before or while asking: report the state it ended in.
        let now = load(&st, &caller, &id).await?;
        return Err(not_running(&now));
    }
    let removed = delete_partial_outputs(&st, &id).await?;
    tracing::info!(job_id = %id, removed, user = caller.user.as_deref().unwrap_or("-"), "job cancelled");
    let job = load(&st, &caller, &id).await?;
    Ok(Json(view_of(&st, &job).await))
}

/// `DELETE /api/jobs/{id}`: 204; the record and every object of the job are gone.
pub async fn delete(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<StatusCode> {
    let id = parse_id(id)?;
    let job = load(&st, &caller, &id).await?;
    cancel_running(&st, &job).await?;
    let mut removed = delete_prefix(&*st.input, &keys::source_segments_prefix(&id)).await?;
    removed += delete_prefix(&*st.output, &keys::output_job_prefix(&id)).await?;
    st.input
        .delete(&job.input_key)
        .await
        .map_err(|e| ApiError::backend("delete the upload", &e))?;
    st.jobs
        .delete_job(&id)
        .await
        .map_err(|e| ApiError::backend("delete the job", &e))?;
    tracing::info!(job_id = %id, removed, user = caller.user.as_deref().unwrap_or("-"), "job deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// A new job from `job`'s upload: copied to a fresh key with `options` and the job's owner as
/// its metadata (the copy's notification starts the job). Returns the new key and job id.
pub async fn copy_upload(
    st: &AppState,
    job: &JobRecord,
    options: &JobOptions,
) -> ApiResult<(String, JobId)> {
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
    let owner = Caller {
        user: job.owner.clone(),
        admin: false,
    };
    let key = input_key_for(&display_name(&job.input_key), &random_hex()?);
    let etag = st
        .input
        .copy_object(&job.input_key, &key, &upload_metadata(options, &owner))
        .await
        .map_err(|e| ApiError::backend("copy the upload", &e))?;
    Ok((
        key.clone(),
        JobId::derive(&st.res.input_bucket, &key, &etag, ""),
    ))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryRequest {
    /// New settings; absent: the ones the job had.
    #[serde(default)]
    options: Option<JobOptions>,
}

/// The settings a job was started with (from the upload, when the job never got as far as
/// recording them); settings that cannot be read are dropped for the defaults.
async fn previous_options(st: &AppState, job: &JobRecord) -> JobOptions {
    if let Some(m) = &job.media {
        return m.options.clone();
    }
    match st.input.head(&job.input_key).await {
        Ok(Some(h)) => JobOptions::from_metadata(&h.metadata).unwrap_or_default(),
        _ => JobOptions::default(),
    }
}

/// `POST /api/jobs/{id}/retry` with `{}` or `{"options": {...}}`: 201 with the new job's id and
/// key; 409 `not_retryable` unless FAILED or CANCELLED, 409 `input_gone` without the upload.
pub async fn retry(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = parse_id(id)?;
    let body = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let req: RetryRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RetryRequest::default()
    } else {
        require_json(&headers)?;
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?
    };
    let job = load(&st, &caller, &id).await?;
    if !matches!(job.status, JobStatus::Failed | JobStatus::Cancelled) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_retryable",
            format!(
                "only a failed or cancelled job can be retried; this one is {}",
                job.status
            ),
        ));
    }
    let old = previous_options(&st, &job).await;
    let options = match req.options {
        Some(mut o) => {
            if o.depth_from.is_some() {
                return Err(ApiError::bad_request(
                    "options: depth_from is not a setting; leave it out",
                ));
            }
            // A retried re-render still reads the depth it was given.
            o.depth_from = old.depth_from;
            o
        }
        None => old,
    };
    options
        .validate()
        .map_err(|e| ApiError::bad_request(format!("options: {e}")))?;
    let (key, new_id) = copy_upload(&st, &job, &options).await?;
    tracing::info!(from = %id, job_id = %new_id, %key, "retry requested");
    Ok((
        StatusCode::CREATED,
        Json(json!({"job_id": new_id.to_string(), "key": key, "retry_of": id.to_string()})),
    ))
}
