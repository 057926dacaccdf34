//! Job read endpoints: who is signed in, one job, a job by its upload key, the result URLs,
//! the thumbnail, and the lists. A caller sees only the jobs they may (`Caller::may_see`):
//! another user's job answers exactly as a job that does not exist.
use super::auth::Caller;
use super::cursor::Cursor;
use super::error::{ApiError, ApiResult};
use super::listing;
use super::state::AppState;
use super::upload_rules::is_input_video_key;
use super::view::{download_name, JobView};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use pipeline_core::domain::job::now_millis;
use pipeline_core::domain::{keys, JobId, JobOptions, JobRecord, JobStatus};
use serde_json::{json, Value};
use std::collections::HashMap;

/// A job id from the path: 16 lowercase hex characters, else 400.
pub fn parse_id(raw: Result<Path<String>, PathRejection>) -> ApiResult<JobId> {
    let Path(s) = raw.map_err(|e| ApiError::bad_request(e.body_text()))?;
    JobId::parse(&s).map_err(|_| {
        ApiError::bad_request(format!(
            "{:?} is not a job id (16 lowercase hex characters)",
            s.chars().take(64).collect::<String>()
        ))
    })
}

fn no_job(id: &JobId) -> ApiError {
    ApiError::not_found(format!("no job {id}"))
}

/// The job record when `caller` may see it, else 404 (absent and not theirs look the same).
pub async fn load(st: &AppState, caller: &Caller, id: &JobId) -> ApiResult<JobRecord> {
    st.jobs
        .get_job(id)
        .await
        .map_err(|e| ApiError::backend("read job", &e))?
        .filter(|j| caller.may_see(j.owner.as_deref()))
        .ok_or_else(|| no_job(id))
}

/// A job's view with its place in line while it waits.
pub async fn view_of(st: &AppState, job: &JobRecord) -> JobView {
    let mut v = JobView::from(job);
    v.queue_position = super::queue::position(&*st.jobs, job).await;
    v
}

/// `GET /api/me`: who the caller is signed in as (the pages ask for sign-in when this is 401).
pub async fn me(State(st): State<AppState>, Extension(caller): Extension<Caller>) -> Json<Value> {
    Json(json!({
        "user": caller.user,
        "admin": caller.admin,
        "auth": st.cfg.auth.name(),
    }))
}

pub async fn get_job(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<JobView>> {
    let id = parse_id(id)?;
    let job = load(&st, &caller, &id).await?;
    Ok(Json(view_of(&st, &job).await))
}

/// `GET /api/jobs/{id}/thumbnail`: 302 to a presigned JPEG of the input, 404 while none exists.
pub async fn thumbnail(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let id = parse_id(id)?;
    load(&st, &caller, &id).await?;
    let key = keys::thumbnail_key(&id);
    st.output
        .head(&key)
        .await
        .map_err(|e| ApiError::backend("look up the thumbnail", &e))?
        .ok_or_else(|| ApiError::not_found(format!("job {id} has no thumbnail (yet)")))?;
    let url = st
        .output
        .presign_get(&key, st.cfg.result_url_ttl, Some("image/jpeg"), None)
        .await
        .map_err(|e| ApiError::internal("presign thumbnail", e))?
        .url;
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, url),
            // Shorter than the URL's life: a cached redirect never points at an expired URL.
            (header::CACHE_CONTROL, "private, max-age=300".to_string()),
        ],
    )
        .into_response())
}

fn query_map(
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<HashMap<String, String>> {
    q.map(|Query(m)| m)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// `GET /api/jobs/by-key?key=input/...mp4`: the job id an upload gets (derived from the bucket,
/// the key and the object's ETag, as the media-worker does) and the job, once it exists.
pub async fn by_key(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = query_map(q)?;
    let key = q
        .get("key")
        .ok_or_else(|| ApiError::bad_request("missing query parameter key"))?;
    if !is_input_video_key(key) {
        return Err(ApiError::bad_request(
            "key must be an upload key: input/<name>.<video extension>",
        ));
    }
    let meta = st
        .input
        .head(key)
        .await
        .map_err(|e| ApiError::backend("look up the upload", &e))?
        .filter(|m| caller.may_see(JobOptions::owner_from_metadata(&m.metadata).as_deref()))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no upload {key:?} (not finished, or never started)"
            ))
        })?;
    let id = JobId::derive(st.input.bucket(), key, &meta.etag, "");
    let job = st
        .jobs
        .get_job(&id)
        .await
        .map_err(|e| ApiError::backend("read job", &e))?;
    Ok(Json(json!({
        "key": key,
        "job_id": id,
        "job": job.as_ref().map(JobView::from),
    })))
}

/// `GET /api/jobs/{id}/results`: presigned GET URLs of `final.mp4` (inline for players, and as
/// a download); 409 unless the job is COMPLETED.
pub async fn results(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(id)?;
    let job = load(&st, &caller, &id).await?;
    if job.status != JobStatus::Completed {
        let mut msg = format!(
            "job {id} is {}, results exist once it is COMPLETED",
            job.status
        );
        if let Some(e) = &job.error {
            msg.push_str(&format!(" (error: {e})"));
        }
        return Err(ApiError::conflict(msg));
    }
    let key = keys::final_key(&id);
    let ttl = st.cfg.result_url_ttl;
    let download_name = download_name(&job.input_key);
    let url = presign_get(&st, &key, ttl, "inline").await?;
    let download_url = presign_get(
        &st,
        &key,
        ttl,
        &format!("attachment; filename=\"{download_name}\""),
    )
    .await?;
    Ok(Json(json!({
        "job_id": id,
        "final": {
            "url": url,
            "download_url": download_url,
            "filename": download_name,
            "expires_at": now_millis() + ttl.as_millis() as i64,
        },
    })))
}

/// A presigned GET of `key` in the output bucket, served as `video/mp4` with `disposition`.
async fn presign_get(
    st: &AppState,
    key: &str,
    ttl: std::time::Duration,
    disposition: &str,
) -> ApiResult<String> {
    st.output
        .presign_get(key, ttl, Some("video/mp4"), Some(disposition))
        .await
        .map(|p| p.url)
        .map_err(|e| ApiError::internal("presign result", e))
}

/// `GET /api/jobs?status=in_progress|completed|failed&limit=&cursor=` (`failed` includes the
/// cancelled jobs): the caller's jobs (an admin's: all).
pub async fn list_jobs(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = query_map(q)?;
    let kind = listing::kind(q.get("status").map(String::as_str).unwrap_or("in_progress"))?;
    let limit = listing::parse_limit(q.get("limit").map(String::as_str))?;
    let cursor = match q.get("cursor").filter(|c| !c.is_empty()) {
        Some(c) => Cursor::decode(c, kind.name, kind.statuses)?,
        None => Cursor {
            list: kind.name.to_string(),
            ..Cursor::default()
        },
    };
    let visible = |j: &JobRecord| caller.may_see(j.owner.as_deref());
    let (jobs, next) = listing::list(&*st.jobs, kind, &cursor, limit, &visible).await?;
    Ok(Json(json!({
        "status": kind.name,
        "jobs": jobs,
        "next_cursor": next,
    })))
}
