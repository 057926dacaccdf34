//! The pages: static HTML/CSS/JS compiled into the binary (no build step, no framework).
//! `/` upload, `/jobs` the lists, `/jobs/{id}` one job (its script reads the id from the URL).
use super::error::ApiError;
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &str = include_str!("static/index.html");
const JOBS_HTML: &str = include_str!("static/jobs.html");
const JOB_HTML: &str = include_str!("static/job.html");

/// `/static/<name>` files: (name, content type, body).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("static/app.js"),
    ),
    (
        "upload.js",
        "text/javascript; charset=utf-8",
        include_str!("static/upload.js"),
    ),
    (
        "jobs.js",
        "text/javascript; charset=utf-8",
        include_str!("static/jobs.js"),
    ),
    (
        "job.js",
        "text/javascript; charset=utf-8",
        include_str!("static/job.js"),
    ),
];

/// Scripts and styles only from this origin; uploads (XHR) and playback go to S3's presigned
/// URLs, on another origin.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob: https: http:; connect-src 'self' https: http:; media-src 'self' https: http: blob:; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn respond(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Small files, changed with each release: revalidate rather than cache stale copies.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Presigned URLs carry signatures: never leak page URLs to the storage origin.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

const HTML: &str = "text/html; charset=utf-8";

pub async fn index() -> Response {
    respond(HTML, INDEX_HTML)
}

pub async fn jobs() -> Response {
    respond(HTML, JOBS_HTML)
}

/// Any id: the page's script validates it and shows "not a job id" or "not found".
pub async fn job(_id: Path<String>) -> Response {
    respond(HTML, JOB_HTML)
}

pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ct, body)) => respond(ct, body),
        None => ApiError::not_found(format!("no static file {name:?}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_reference_only_embedded_assets() {
        for page in [INDEX_HTML, JOBS_HTML, JOB_HTML] {
            for part in page.split("/static/").skip(1) {
                let name = part.split('"').next().unwrap_or("");
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == name),
                    "page references /static/{name}, which is not embedded"
                );
            }
            assert!(page.contains("name=\"viewport\""), "mobile viewport");
            // CSP allows no inline script or style.
            assert!(!page.contains("<script>") && !page.contains("style="));
        }
    }

    #[tokio::test]
    async fn assets_have_types_and_security_headers() {
        let r = asset(Path("app.js".to_string())).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(r.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let r = asset(Path("../Cargo.toml".to_string())).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
}
