//! The router: API, pages, health check, the auth layer and the request body limit.
use super::error::ApiError;
use super::state::AppState;
use super::{auth, control, events, jobs_api, pages, preview, rerender, uploads};
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
        .route("/api/me", get(jobs_api::me))
        .route("/api/jobs/by-key", get(jobs_api::by_key))
        .route(
            "/api/jobs/{id}",
            get(jobs_api::get_job).delete(control::delete),
        )
        .route("/api/jobs/{id}/results", get(jobs_api::results))
        .route("/api/jobs/{id}/thumbnail", get(jobs_api::thumbnail))
        .route("/api/jobs/{id}/cancel", post(control::cancel))
        .route("/api/jobs/{id}/retry", post(control::retry))
        .route("/api/jobs/{id}/events", get(events::job_events))
        .route("/api/jobs/{id}/rerender", post(rerender::rerender))
        .route(
            "/api/uploads/{upload_id}/complete",
            post(uploads::complete_upload),
        )
        .route(
            "/api/preview",
            post(preview::preview).layer(DefaultBodyLimit::max(preview::MAX_PREVIEW_BYTES)),
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

#[cfg(test)]
mod tests {
    /// The API paths the router serves (pages and static files are not part of the API).
    const API_PATHS: &[&str] = &[
        "/healthz",
        "/api/jobs",
        "/api/jobs/by-key",
        "/api/jobs/{id}",
        "/api/jobs/{id}/results",
        "/api/jobs/{id}/events",
        "/api/uploads/{upload_id}/complete",
        "/api/preview",
        "/api/jobs/{id}/rerender",
        "/api/me",
        "/api/jobs/{id}/thumbnail",
        "/api/jobs/{id}/cancel",
        "/api/jobs/{id}/retry",
    ];

    #[test]
    fn openapi_documents_every_api_path() {
        let spec = include_str!("../../../docs/openapi.yaml");
        let router = include_str!("routes.rs");
        for p in API_PATHS {
            assert!(
                spec.contains(&format!("\n  {p}:")),
                "docs/openapi.yaml lacks {p}"
            );
        }
        // And the list above is the router's: every "/api..." route string appears in it.
        let code = router.split("#[cfg(test)]").next().unwrap_or("");
        let routed: Vec<&str> = code
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|s| s.starts_with("/api/"))
            .collect();
        assert_eq!(routed.len(), 12, "{routed:?}");
        for path in routed {
            assert!(API_PATHS.contains(&path), "{path} missing from API_PATHS");
        }
    }
}
