//! The router: API, pages, health check, the auth layer and the request body limit.
use super::error::ApiError;
use super::state::AppState;
use super::{auth, events, jobs_api, pages, uploads};
use axum::extract::DefaultBodyLimit;
use axum::http::Uri;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};

/// Largest request body (the API's JSON bodies are tiny; uploads never pass through here).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route {}", uri.path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this path",
    )
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(auth::HEALTH_PATH, get(healthz))
        .route(
            "/api/jobs",
            get(jobs_api::list_jobs).post(uploads::create_job_upload),
        )
        .route("/api/jobs/by-key", get(jobs_api::by_key))
        .route("/api/jobs/{id}", get(jobs_api::get_job))
        .route("/api/jobs/{id}/results", get(jobs_api::results))
        .route("/api/jobs/{id}/events", get(events::job_events))
        .route(
            "/api/uploads/{upload_id}/complete",
            post(uploads::complete_upload),
        )
        .route("/", get(pages::index))
        .route("/jobs", get(pages::jobs))
        .route("/jobs/{id}", get(pages::job))
        .route("/static/{name}", get(pages::asset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_auth,
        ))
        .with_state(state)
}
