//! Configuration of the `web-ui` service, read from the environment (names in
//! `pipeline_core::config::env_names`, documented in `docs/web-api.md`).
use pipeline_core::config::env_names as env;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
/// S3's smallest part (all parts but the last) and largest single PUT / part.
pub const S3_MIN_PART: u64 = 5 * MIB;
pub const S3_MAX_PART: u64 = 5 * GIB;
/// S3 allows at most this many parts per upload.
pub const S3_MAX_PARTS: u64 = 10_000;
/// Shortest bearer token accepted (a guessable token is no access control).
pub const MIN_TOKEN_LEN: usize = 16;

/// The user `WEB_AUTH_TOKEN` signs in as: the service's one user from before there were
/// several, who sees every job (uploads put in the bucket directly included).
pub const TOKEN_USER: &str = "admin";
/// Longest user name in `WEB_AUTH_USERS`.
pub const MAX_USER_CHARS: usize = 64;

/// One bearer user: a name (recorded as the owner of their jobs) and their token.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerUser {
    pub name: String,
    pub token: String,
}

/// Who may call the API.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// Everyone (local use, or a network that is itself the access control).
    None,
    /// `Authorization: Bearer <token>` or the `stereospot_token` cookie must carry one of the
    /// users' tokens.
    Bearer { users: Vec<BearerUser> },
    /// The ALB authenticated the user (OIDC) and sets `x-amzn-oidc-identity`; the ALB strips
    /// client-sent copies of that header, and only the ALB can reach the service.
    AlbOidc,
}

impl fmt::Debug for AuthMode {
    // Never print the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl AuthMode {
    pub fn name(&self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::Bearer { .. } => "bearer",
            AuthMode::AlbOidc => "alb-oidc",
        }
    }
}

#[derive(Debug, Clone)]
pub struct WebConfig {
    pub listen: SocketAddr,
    pub auth: AuthMode,
    /// Largest upload accepted by `POST /api/jobs`.
    pub max_upload_bytes: u64,
    /// Uploads up to this size get one presigned PUT; larger ones a multipart upload.
    pub single_put_max_bytes: u64,
    /// Part size of multipart uploads (grown when a file would need more than 10 000 parts).
    pub part_bytes: u64,
    /// Lifetime of presigned upload URLs.
    pub upload_url_ttl: Duration,
    /// Lifetime of presigned result URLs.
    pub result_url_ttl: Duration,
    /// How often `/events` reads the job record.
    pub events_poll: Duration,
    /// Users who see every job (bearer names, OIDC identities); `WEB_AUTH_TOKEN`'s user always.
    pub admins: Vec<String>,
}

pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 4 * GIB;
pub const DEFAULT_SINGLE_PUT_MAX_BYTES: u64 = 100 * MIB;
pub const DEFAULT_PART_BYTES: u64 = 64 * MIB;
pub const DEFAULT_UPLOAD_URL_SECONDS: u64 = 3600;
pub const DEFAULT_RESULT_URL_SECONDS: u64 = 3600;
pub const DEFAULT_EVENTS_POLL_MS: u64 = 1000;

fn parse_num<T: FromStr + PartialOrd + fmt::Display + Copy>(
    get: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: T,
    lo: T,
    hi: T,
) -> Result<T, String> {
    let v = match get(name) {
        None => return Ok(default),
        Some(v) => v.parse::<T>().map_err(|_| {
            format!("invalid environment variable {name}={v:?}: expected a whole number")
        })?,
    };
    if v < lo || v > hi {
        return Err(format!(
            "invalid environment variable {name}={v}: must be between {lo} and {hi}"
        ));
    }
    Ok(v)
}

fn check_token(token: &str, var: &str) -> Result<(), String> {
    if token.len() < MIN_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "invalid environment variable {var}: tokens need at least {MIN_TOKEN_LEN} printable ASCII characters, no spaces"
        ));
    }
    Ok(())
}

/// `WEB_AUTH_TOKEN` (user [`TOKEN_USER`]) and `WEB_AUTH_USERS` (`name=token,...`): at least one,
/// names and tokens unique.
fn bearer_users(get: &dyn Fn(&str) -> Option<String>) -> Result<Vec<BearerUser>, String> {
    let mut users = Vec::new();
    if let Some(token) = get(env::WEB_AUTH_TOKEN) {
        check_token(&token, env::WEB_AUTH_TOKEN)?;
        users.push(BearerUser {
            name: TOKEN_USER.into(),
            token,
        });
    }
    let var = env::WEB_AUTH_USERS;
    for entry in get(var).unwrap_or_default().split(',').map(str::trim) {
        if entry.is_empty() {
            continue;
        }
        let (name, token) = entry.split_once('=').ok_or_else(|| {
            format!("invalid environment variable {var}: expected name=token,name=token")
        })?;
        let name = name.trim();
        let name_ok = !name.is_empty()
            && name.chars().count() <= MAX_USER_CHARS
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
        if !name_ok {
            return Err(format!(
                "invalid environment variable {var}: user name {name:?} must be 1-{MAX_USER_CHARS} letters, digits or . _ @ -"
            ));
        }
        check_token(token.trim(), var)?;
        if users.iter().any(|u: &BearerUser| u.name == name) {
            return Err(format!(
                "invalid environment variable {var}: user {name:?} twice"
            ));
        }
        if users.iter().any(|u| u.token == token.trim()) {
            return Err(format!(
                "invalid environment variable {var}: two users share a token"
            ));
        }
        users.push(BearerUser {
            name: name.into(),
            token: token.trim().into(),
        });
    }
    if users.is_empty() {
        return Err(format!(
            "missing environment variable {} or {} (required by {}=bearer)",
            env::WEB_AUTH_TOKEN,
            var,
            env::WEB_AUTH
        ));
    }
    Ok(users)
}

impl WebConfig {
    /// Read and validate the settings (unset or empty: the default; `WEB_AUTH` has none, the
    /// access mode is always an explicit choice). Errors are one line naming the variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<WebConfig, String> {
        let get = move |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let get: &dyn Fn(&str) -> Option<String> = &get;

        let listen_raw = get(env::WEB_LISTEN_ADDR).unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen = listen_raw.parse::<SocketAddr>().map_err(|_| {
            format!(
                "invalid environment variable {}={listen_raw:?}: expected host:port, e.g. {DEFAULT_LISTEN}",
                env::WEB_LISTEN_ADDR
            )
        })?;

        let auth = match get(env::WEB_AUTH).as_deref() {
            None => {
                return Err(format!(
                    "missing environment variable {}: set none, bearer or alb-oidc",
                    env::WEB_AUTH
                ))
            }
            Some("none") => AuthMode::None,
            Some("alb-oidc") => AuthMode::AlbOidc,
            Some("bearer") => AuthMode::Bearer {
                users: bearer_users(get)?,
            },
            Some(other) => {
                return Err(format!(
                    "invalid environment variable {}={other:?}: expected none, bearer or alb-oidc",
                    env::WEB_AUTH
                ))
            }
        };

        let max_upload_bytes = parse_num(
            get,
            env::WEB_MAX_UPLOAD_BYTES,
            DEFAULT_MAX_UPLOAD_BYTES,
            1,
            S3_MAX_PART * S3_MAX_PARTS,
        )?;
        let single_put_max_bytes = parse_num(
            get,
            env::WEB_SINGLE_PUT_MAX_BYTES,
            DEFAULT_SINGLE_PUT_MAX_BYTES,
            S3_MIN_PART,
            S3_MAX_PART,
        )?;
        let part_bytes = parse_num(
            get,
            env::WEB_PART_BYTES,
            DEFAULT_PART_BYTES,
            S3_MIN_PART,
            S3_MAX_PART,
        )?;
        let secs = |name: &str, default: u64| -> Result<Duration, String> {
            // SigV4 presigned URLs live at most 7 days.
            parse_num(get, name, default, 60, 7 * 24 * 3600).map(Duration::from_secs)
        };
        let upload_url_ttl = secs(env::WEB_UPLOAD_URL_SECONDS, DEFAULT_UPLOAD_URL_SECONDS)?;
        let result_url_ttl = secs(env::WEB_RESULT_URL_SECONDS, DEFAULT_RESULT_URL_SECONDS)?;
        let events_poll = parse_num(
            get,
            env::WEB_EVENTS_POLL_MS,
            DEFAULT_EVENTS_POLL_MS,
            100,
            60_000,
        )
        .map(Duration::from_millis)?;

        let mut admins: Vec<String> = get(env::WEB_ADMINS)
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if matches!(&auth, AuthMode::Bearer { users } if users.iter().any(|u| u.name == TOKEN_USER))
        {
            admins.push(TOKEN_USER.to_string());
        }
        Ok(WebConfig {
            admins,
            listen,
            auth,
            max_upload_bytes,
            single_put_max_bytes,
            part_bytes,
            upload_url_ttl,
            result_url_ttl,
            events_poll,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<WebConfig, String> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        WebConfig::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_need_only_the_auth_mode() {
        let c = cfg(&[("WEB_AUTH", "none")]).unwrap();
        assert_eq!(c.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(c.auth, AuthMode::None);
        assert_eq!(c.max_upload_bytes, 4 * GIB);
        assert_eq!(c.single_put_max_bytes, 100 * MIB);
        assert_eq!(c.part_bytes, 64 * MIB);
        assert_eq!(c.upload_url_ttl, Duration::from_secs(3600));
        assert_eq!(c.result_url_ttl, Duration::from_secs(3600));
        assert_eq!(c.events_poll, Duration::from_millis(1000));
        let e = cfg(&[]).unwrap_err();
        assert!(
            e.starts_with("missing environment variable WEB_AUTH"),
            "{e}"
        );
    }

    #[test]
    fn values_are_read() {
        let c = cfg(&[
            ("WEB_AUTH", "bearer"),
            ("WEB_AUTH_TOKEN", "0123456789abcdef-token"),
            ("WEB_LISTEN_ADDR", "127.0.0.1:9000"),
            ("WEB_MAX_UPLOAD_BYTES", "1000"),
            ("WEB_SINGLE_PUT_MAX_BYTES", "5242880"),
            ("WEB_PART_BYTES", "6000000"),
            ("WEB_UPLOAD_URL_SECONDS", "120"),
            ("WEB_RESULT_URL_SECONDS", "600"),
            ("WEB_EVENTS_POLL_MS", "250"),
        ])
        .unwrap();
        assert_eq!(
            c.auth,
            AuthMode::Bearer {
                users: vec![BearerUser {
                    name: TOKEN_USER.into(),
                    token: "0123456789abcdef-token".into()
                }]
            }
        );
        assert_eq!(c.admins, vec![TOKEN_USER.to_string()]);
        assert_eq!(
            format!("{:?}", c.auth),
            "bearer",
            "the token is never printed"
        );
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(
            (c.max_upload_bytes, c.single_put_max_bytes, c.part_bytes),
            (1000, 5 * MIB, 6_000_000)
        );
        assert_eq!(c.upload_url_ttl, Duration::from_secs(120));
        assert_eq!(c.result_url_ttl, Duration::from_secs(600));
        assert_eq!(c.events_poll, Duration::from_millis(250));
        assert_eq!(
            cfg(&[("WEB_AUTH", "alb-oidc")]).unwrap().auth,
            AuthMode::AlbOidc
        );
    }

    #[test]
    fn bearer_users_and_admins() {
        let c = cfg(&[
            ("WEB_AUTH", "bearer"),
            (
                "WEB_AUTH_USERS",
                " alice=alice-token-0123456789 , bob@x.org=bob-token-0123456789,",
            ),
            ("WEB_ADMINS", "alice, carol"),
        ])
        .unwrap();
        let AuthMode::Bearer { users } = &c.auth else {
            panic!("{:?}", c.auth)
        };
        let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["alice", "bob@x.org"]);
        assert_eq!(users[1].token, "bob-token-0123456789");
        assert_eq!(
            c.admins,
            ["alice", "carol"],
            "no token user, no implicit admin"
        );
        let both = cfg(&[
            ("WEB_AUTH", "bearer"),
            ("WEB_AUTH_TOKEN", "admin-token-0123456789"),
            ("WEB_AUTH_USERS", "alice=alice-token-0123456789"),
        ])
        .unwrap();
        assert_eq!(both.admins, [TOKEN_USER]);
        for (users, why) in [
            ("alice", "expected name=token"),
            ("al ice=alice-token-0123456789", "user name"),
            ("alice=short", "at least 16"),
            (
                "alice=alice-token-0123456789,alice=other-token-0123456789",
                "twice",
            ),
            (
                "alice=alice-token-0123456789,bob=alice-token-0123456789",
                "share a token",
            ),
        ] {
            let e = cfg(&[("WEB_AUTH", "bearer"), ("WEB_AUTH_USERS", users)]).unwrap_err();
            assert!(
                e.contains("WEB_AUTH_USERS") && e.contains(why),
                "{users}: {e}"
            );
        }
    }

    #[test]
    fn invalid_values_name_the_variable() {
        for (vars, var) in [
            (vec![("WEB_AUTH", "basic")], "WEB_AUTH"),
            (vec![("WEB_AUTH", "bearer")], "WEB_AUTH_TOKEN"),
            (
                vec![("WEB_AUTH", "bearer"), ("WEB_AUTH_TOKEN", "short")],
                "WEB_AUTH_TOKEN",
            ),
            (
                vec![
                    ("WEB_AUTH", "bearer"),
                    ("WEB_AUTH_TOKEN", "has a space in it ok"),
                ],
                "WEB_AUTH_TOKEN",
            ),
            (
                vec![("WEB_AUTH", "none"), ("WEB_LISTEN_ADDR", "8080")],
                "WEB_LISTEN_ADDR",
            ),
            (
                vec![("WEB_AUTH", "none"), ("WEB_MAX_UPLOAD_BYTES", "0")],
                "WEB_MAX_UPLOAD_BYTES",
            ),
            (
                vec![("WEB_AUTH", "none"), ("WEB_PART_BYTES", "1024")],
                "WEB_PART_BYTES",
            ),
            (
                vec![("WEB_AUTH", "none"), ("WEB_SINGLE_PUT_MAX_BYTES", "6GB")],
                "WEB_SINGLE_PUT_MAX_BYTES",
            ),
            (
                vec![("WEB_AUTH", "none"), ("WEB_UPLOAD_URL_SECONDS", "604801")],
                "WEB_UPLOAD_URL_SECONDS",
            ),
            (
                vec![("WEB_AUTH", "none"), ("WEB_EVENTS_POLL_MS", "10")],
                "WEB_EVENTS_POLL_MS",
            ),
        ] {
            let e = cfg(&vars).unwrap_err();
            assert!(e.contains(var), "{vars:?}: {e}");
        }
    }
}
