//! The access-control layer (`WEB_AUTH`).
//!
//! - `none`: every request passes.
//! - `bearer`: `/api/*` needs `Authorization: Bearer <WEB_AUTH_TOKEN>` or the `stereospot_token`
//!   cookie (what the pages use: EventSource cannot send headers). The pages and their static
//!   files carry no data and stay public, so a browser can show the token prompt.
//! - `alb-oidc`: every request but `/healthz` needs the `x-amzn-oidc-identity` header the ALB
//!   adds after authenticating the user (the ALB removes client-sent copies, and only the ALB can
//!   reach the service). Jobs record no owner: every authenticated user sees every job.
//!
//! `/healthz` is always open (the ALB's health check carries no credentials).
use super::config::AuthMode;
use super::error::ApiError;
use super::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub const TOKEN_COOKIE: &str = "stereospot_token";
pub const OIDC_IDENTITY_HEADER: &str = "x-amzn-oidc-identity";
pub const HEALTH_PATH: &str = "/healthz";

/// Equal tokens, compared in time independent of where they differ (and of their length: the
/// digests are compared, not the tokens).
fn token_matches(given: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The token cookie's value, percent-decoded (the pages store it `encodeURIComponent`-ed).
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == TOKEN_COOKIE)
        .map(|(_, v)| {
            percent_encoding::percent_decode_str(v.trim())
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// What the request may do: `Ok(identity)` (the OIDC subject, when there is one) or a 401.
pub fn check(mode: &AuthMode, path: &str, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    if path == HEALTH_PATH {
        return Ok(None);
    }
    match mode {
        AuthMode::None => Ok(None),
        AuthMode::Bearer { token } => {
            if !path.starts_with("/api/") {
                return Ok(None);
            }
            let given = bearer_token(headers)
                .map(str::to_string)
                .or_else(|| cookie_token(headers));
            match given {
                Some(g) if token_matches(&g, token) => Ok(None),
                Some(_) => Err(ApiError::unauthorized("invalid token")),
                None => Err(ApiError::unauthorized(
                    "a bearer token is required (Authorization header or stereospot_token cookie)",
                )),
            }
        }
        AuthMode::AlbOidc => headers
            .get(OIDC_IDENTITY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| Some(v.to_string()))
            .ok_or_else(|| ApiError::unauthorized("not authenticated by the load balancer")),
    }
}

/// The middleware: refuses with a JSON 401, else runs the request and logs it.
pub async fn require_auth(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    match check(&st.cfg.auth, &path, req.headers()) {
        Err(e) => {
            tracing::info!(%method, %path, status = 401, "refused");
            e.into_response()
        }
        Ok(user) => {
            let started = std::time::Instant::now();
            let resp = next.run(req).await;
            if path != HEALTH_PATH {
                tracing::info!(
                    %method,
                    %path,
                    status = resp.status().as_u16(),
                    ms = started.elapsed().as_millis() as u64,
                    user = user.as_deref().unwrap_or("-"),
                    "request"
                );
            }
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const TOKEN: &str = "s3cret-token-0123456789";

    #[test]
    fn bearer_mode() {
        let m = AuthMode::Bearer {
            token: TOKEN.into(),
        };
        let ok = |p: &str, h: &[(&'static str, &str)]| check(&m, p, &headers(h)).is_ok();
        assert!(ok("/healthz", &[]));
        assert!(ok("/", &[]) && ok("/jobs/0123456789abcdef", &[]) && ok("/static/app.js", &[]));
        assert!(!ok("/api/jobs", &[]));
        assert!(ok(
            "/api/jobs",
            &[("authorization", &format!("Bearer {TOKEN}"))]
        ));
        assert!(ok(
            "/api/jobs",
            &[("authorization", &format!("bearer  {TOKEN}"))]
        ));
        assert!(!ok(
            "/api/jobs",
            &[("authorization", "Bearer s3cret-token-012345678")]
        ));
        assert!(!ok(
            "/api/jobs",
            &[("authorization", &format!("Basic {TOKEN}"))]
        ));
        assert!(ok(
            "/api/jobs/0123456789abcdef/events",
            &[("cookie", &format!("theme=dark; stereospot_token={TOKEN}"))]
        ));
        assert!(!ok("/api/jobs", &[("cookie", "stereospot_token=nope")]));
        let odd = AuthMode::Bearer {
            token: "semi;colon,comma=0123456789".into(),
        };
        let cookie = "stereospot_token=semi%3Bcolon%2Ccomma%3D0123456789";
        assert!(check(&odd, "/api/jobs", &headers(&[("cookie", cookie)])).is_ok());
        let e = check(&m, "/api/jobs", &headers(&[])).unwrap_err();
        assert_eq!(e.status.as_u16(), 401);
    }

    #[test]
    fn alb_oidc_mode() {
        let m = AuthMode::AlbOidc;
        assert!(check(&m, "/healthz", &headers(&[])).is_ok());
        assert!(check(&m, "/", &headers(&[])).is_err());
        assert!(check(&m, "/api/jobs", &headers(&[(OIDC_IDENTITY_HEADER, " ")])).is_err());
        assert_eq!(
            check(
                &m,
                "/api/jobs",
                &headers(&[(OIDC_IDENTITY_HEADER, "user-123")])
            )
            .unwrap(),
            Some("user-123".to_string())
        );
        assert!(check(&AuthMode::None, "/api/jobs", &headers(&[])).is_ok());
    }

    #[test]
    fn token_comparison() {
        assert!(token_matches(TOKEN, TOKEN));
        assert!(!token_matches("", TOKEN));
        assert!(!token_matches(&format!("{TOKEN}x"), TOKEN));
    }
}
