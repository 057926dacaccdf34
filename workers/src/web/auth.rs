//! The access-control layer (`WEB_AUTH`).
//!
//! - `none`: every request passes.
//! - `bearer`: `/api/*` needs `Authorization: Bearer <token>` or the `stereospot_token` cookie
//!   (what the pages use: EventSource cannot send headers), with the token of one of the users
//!   (`WEB_AUTH_TOKEN` is the user `admin`, `WEB_AUTH_USERS` names more). The pages and their
//!   static files carry no data and stay public, so a browser can show the sign-in form.
//! - `alb-oidc`: every request but `/healthz` needs the `x-amzn-oidc-identity` header the ALB
//!   adds after authenticating the user (the ALB removes client-sent copies, and only the ALB can
//!   reach the service); that identity is the user.
//!
//! The user owns the jobs they upload: the handlers show a caller only their own jobs, unless
//! the caller is an admin (`WEB_ADMINS`; everyone when `WEB_AUTH=none`). `/healthz` is always
//! open (the ALB's health check carries no credentials).
use super::config::{AuthMode, BearerUser};
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

/// Who is calling: the handlers' view of the signed-in user (a request extension on every
/// request the layer lets through).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user (bearer name or OIDC identity); `None` without sign-in (`WEB_AUTH=none`, or a
    /// public page).
    pub user: Option<String>,
    /// Sees and controls every job.
    pub admin: bool,
}

impl Caller {
    /// No sign-in: everyone may do everything (`WEB_AUTH=none`).
    pub fn open() -> Caller {
        Caller {
            user: None,
            admin: true,
        }
    }

    fn anonymous() -> Caller {
        Caller {
            user: None,
            admin: false,
        }
    }

    fn user(name: &str, admins: &[String]) -> Caller {
        Caller {
            user: Some(name.to_string()),
            admin: admins.iter().any(|a| a == name),
        }
    }

    /// Whether this caller may see (and control) a job owned by `owner`: its owner and admins.
    /// Jobs without an owner (put in the bucket directly) are the admins'.
    pub fn may_see(&self, owner: Option<&str>) -> bool {
        self.admin || (owner.is_some() && owner == self.user.as_deref())
    }
}

/// The user whose token `given` is (every token is compared, so timing tells nothing).
fn bearer_user<'a>(users: &'a [BearerUser], given: &str) -> Option<&'a BearerUser> {
    users
        .iter()
        .fold(None, |found, u| match token_matches(given, &u.token) {
            true => Some(u),
            false => found,
        })
}

/// What the request may do: the caller, or a 401 (`unauthorized` when no credentials came,
/// `invalid_token` when a token came and is nobody's).
pub fn check(
    mode: &AuthMode,
    admins: &[String],
    path: &str,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    if path == HEALTH_PATH {
        return Ok(Caller::anonymous());
    }
    match mode {
        AuthMode::None => Ok(Caller::open()),
        AuthMode::Bearer { users } => {
            if !path.starts_with("/api/") {
                return Ok(Caller::anonymous());
            }
            let given = bearer_token(headers)
                .map(str::to_string)
                .or_else(|| cookie_token(headers));
            match given {
                Some(g) => match bearer_user(users, &g) {
                    Some(u) => Ok(Caller::user(&u.name, admins)),
                    None => Err(ApiError::new(
                        axum::http::StatusCode::UNAUTHORIZED,
                        "invalid_token",
                        "that access token is not accepted",
                    )),
                },
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
            .map(|v| Caller::user(v, admins))
            .ok_or_else(|| ApiError::unauthorized("not authenticated by the load balancer")),
    }
}

/// The middleware: refuses with a JSON 401, else runs the request and logs it.
pub async fn require_auth(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    match check(&st.cfg.auth, &st.cfg.admins, &path, req.headers()) {
        Err(e) => {
            tracing::info!(%method, %path, status = 401, "refused");
            e.into_response()
        }
        Ok(caller) => {
            let user = caller.user.clone();
            req.extensions_mut().insert(caller);
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

    fn users(pairs: &[(&str, &str)]) -> AuthMode {
        AuthMode::Bearer {
            users: pairs
                .iter()
                .map(|(n, t)| BearerUser {
                    name: n.to_string(),
                    token: t.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn bearer_mode() {
        let m = users(&[("admin", TOKEN)]);
        let ok = |p: &str, h: &[(&'static str, &str)]| check(&m, &[], p, &headers(h)).is_ok();
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
        let odd = users(&[("odd", "semi;colon,comma=0123456789")]);
        let cookie = "stereospot_token=semi%3Bcolon%2Ccomma%3D0123456789";
        assert!(check(&odd, &[], "/api/jobs", &headers(&[("cookie", cookie)])).is_ok());
        let e = check(&m, &[], "/api/jobs", &headers(&[])).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (401, "unauthorized"));
        let wrong = [("authorization", "Bearer not-the-token-at-all")];
        let e = check(&m, &[], "/api/jobs", &headers(&wrong)).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (401, "invalid_token"));
    }

    #[test]
    fn each_token_is_its_user_and_owners_see_their_jobs() {
        let m = users(&[
            ("alice", "alice-token-0123456789"),
            ("bob", "bob-token-0123456789"),
        ]);
        let admins = vec!["bob".to_string()];
        let who = |t: &str| {
            check(
                &m,
                &admins,
                "/api/jobs",
                &headers(&[("authorization", &format!("Bearer {t}"))]),
            )
            .unwrap()
        };
        let alice = who("alice-token-0123456789");
        assert_eq!((alice.user.as_deref(), alice.admin), (Some("alice"), false));
        let bob = who("bob-token-0123456789");
        assert_eq!((bob.user.as_deref(), bob.admin), (Some("bob"), true));
        assert!(alice.may_see(Some("alice")) && !alice.may_see(Some("bob")));
        assert!(!alice.may_see(None), "unowned jobs are the admins'");
        assert!(bob.may_see(Some("alice")) && bob.may_see(None));
        assert!(Caller::open().may_see(None) && Caller::open().may_see(Some("x")));
        assert!(!Caller::anonymous().may_see(Some("x")));
    }

    #[test]
    fn alb_oidc_mode() {
        let m = AuthMode::AlbOidc;
        let admins = vec!["boss".to_string()];
        assert!(check(&m, &admins, "/healthz", &headers(&[])).is_ok());
        assert!(check(&m, &admins, "/", &headers(&[])).is_err());
        let blank = headers(&[(OIDC_IDENTITY_HEADER, " ")]);
        assert!(check(&m, &admins, "/api/jobs", &blank).is_err());
        let c = check(
            &m,
            &admins,
            "/api/jobs",
            &headers(&[(OIDC_IDENTITY_HEADER, "user-123")]),
        )
        .unwrap();
        assert_eq!((c.user.as_deref(), c.admin), (Some("user-123"), false));
        let c = check(
            &m,
            &admins,
            "/api/jobs",
            &headers(&[(OIDC_IDENTITY_HEADER, "boss")]),
        )
        .unwrap();
        assert!(c.admin);
        assert_eq!(
            check(&AuthMode::None, &[], "/api/jobs", &headers(&[])).unwrap(),
            Caller::open()
        );
    }

    #[test]
    fn token_comparison() {
        assert!(token_matches(TOKEN, TOKEN));
        assert!(!token_matches("", TOKEN));
        assert!(!token_matches(&format!("{TOKEN}x"), TOKEN));
    }
}
