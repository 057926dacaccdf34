//! HTTP routes: `GET /ping`, `POST /invocations` (the SageMaker container contract) and
//! `POST /endpoints/{name}/invocations` (what the SageMaker Runtime API looks like to the SDK).
use super::pool::{Pool, RunError};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCEPT, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use pipeline_core::depth::remote::wire::{
    self, CUSTOM_ATTRIBUTES_HEADER, DEPTH_CONTENT_TYPE, FRAMES_CONTENT_TYPE,
};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Server-side inference time of a successful invocation, in milliseconds.
pub const INFERENCE_MS_HEADER: &str = "x-stereospot-inference-ms";
/// The SageMaker Runtime error-type header the SDK reads.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-ErrorType";

/// What every request handler shares.
pub struct State {
    pub pool: Arc<Pool>,
    /// Profile of the loaded model; requests naming another one are refused.
    pub profile: String,
    pub description: String,
    pub max_payload: usize,
    pub body_timeout: Duration,
}

/// A refused or failed invocation, as the container would answer it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: StatusCode,
    pub message: String,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }
}

/// Which API shape a request came in through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Ping,
    /// The container contract.
    Invocations,
    /// SageMaker Runtime emulation for the SDK.
    Endpoint(String),
    NotFound,
}

pub fn route(path: &str) -> Route {
    match path {
        "/ping" => Route::Ping,
        "/invocations" => Route::Invocations,
        _ => match path
            .strip_prefix("/endpoints/")
            .and_then(|rest| rest.strip_suffix("/invocations"))
        {
            Some(name) if !name.is_empty() && !name.contains('/') => {
                Route::Endpoint(name.to_string())
            }
            _ => Route::NotFound,
        },
    }
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// The container's error answer: the status and `{"error": message}`.
fn container_error(f: &Failure) -> Response<Full<Bytes>> {
    let mut r = json(f.status, serde_json::json!({ "error": f.message }));
    if f.status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// The SageMaker Runtime answer for a container failure: a payload over the limit is a
/// `ValidationError` (413); any other non-200 container answer is relayed as a `ModelError`
/// (424) carrying the container's status and body, as the real service does.
fn runtime_error(f: &Failure) -> Response<Full<Bytes>> {
    let (status, kind, body) = if f.status == StatusCode::PAYLOAD_TOO_LARGE {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "ValidationError",
            serde_json::json!({ "message": f.message }),
        )
    } else {
        let side = if f.status.is_server_error() {
            "server"
        } else {
            "client"
        };
        let original = serde_json::json!({ "error": f.message }).to_string();
        (
            StatusCode::FAILED_DEPENDENCY,
            "ModelError",
            serde_json::json!({
                "Message": format!(
                    "Received {side} error ({}) from primary with message \"{original}\".",
                    f.status.as_u16()
                ),
                "OriginalStatusCode": f.status.as_u16(),
                "OriginalMessage": original,
            }),
        )
    };
    let mut r = json(status, body);
    r.headers_mut()
        .insert(ERROR_TYPE_HEADER, HeaderValue::from_static(kind));
    r
}

fn header_str(req: &Request<Incoming>, name: impl hyper::header::AsHeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The media type without parameters, lower-cased.
fn media_type(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Check the request's headers; the body is read only when they pass.
fn check_headers(state: &State, req: &Request<Incoming>) -> Result<(), Failure> {
    match header_str(req, CONTENT_TYPE).map(media_type) {
        Some(t) if t == FRAMES_CONTENT_TYPE => {}
        other => {
            return Err(Failure::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "content type {} is not supported; send {FRAMES_CONTENT_TYPE} (see docs/inference.md)",
                    other.map_or("(none)".to_string(), |t| format!("`{t}`"))
                ),
            ))
        }
    }
    if let Some(accept) = header_str(req, ACCEPT) {
        let ok = accept
            .split(',')
            .map(media_type)
            .any(|t| t == DEPTH_CONTENT_TYPE || t == "*/*" || t == "application/*" || t.is_empty());
        if !ok {
            return Err(Failure::new(
                StatusCode::NOT_ACCEPTABLE,
                format!("this server answers {DEPTH_CONTENT_TYPE}, not `{accept}`"),
            ));
        }
    }
    if let Some(profile) =
        header_str(req, CUSTOM_ATTRIBUTES_HEADER).and_then(wire::profile_attribute)
    {
        if !profile.eq_ignore_ascii_case(&state.profile) {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "profile mismatch: this server runs profile `{}`, the client prepared frames \
                     for `{profile}` (set MODEL_PROFILE / --model-profile {} on the client)",
                    state.profile, state.profile
                ),
            ));
        }
    }
    let declared = header_str(req, CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared {
        if len > state.max_payload as u64 {
            return Err(too_large(state, Some(len)));
        }
    }
    Ok(())
}

fn too_large(state: &State, len: Option<u64>) -> Failure {
    Failure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "request body{} is over the {}-byte limit; send fewer frames per request",
            len.map(|l| format!(" of {l} bytes")).unwrap_or_default(),
            state.max_payload
        ),
    )
}

async fn read_body(state: &State, body: Incoming) -> Result<Bytes, Failure> {
    let limited = Limited::new(body, state.max_payload);
    match tokio::time::timeout(state.body_timeout, limited.collect()).await {
        Err(_) => Err(Failure::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("request body not received within {:?}", state.body_timeout),
        )),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(state, None)),
        Ok(Err(e)) => Err(Failure::new(
            StatusCode::BAD_REQUEST,
            format!("reading the request body: {e}"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// Run one invocation: headers, body, payload checks, inference. Returns the depth response.
async fn invoke(state: &State, req: Request<Incoming>) -> Result<(Vec<u8>, Duration), Failure> {
    check_headers(state, &req)?;
    let body = read_body(state, req.into_body()).await?;
    if let Err(e) = wire::decode_frames(&body) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            format!("bad frames payload: {e}"),
        ));
    }
    let started = Instant::now();
    let maps = state.pool.run(body).await.map_err(|e| match e {
        RunError::Busy { .. } => Failure::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        // The model failed on this input: retrying the same frames cannot help.
        RunError::Model(m) => {
            Failure::new(StatusCode::FAILED_DEPENDENCY, format!("model failed: {m}"))
        }
        RunError::Internal(m) => Failure::new(StatusCode::INTERNAL_SERVER_ERROR, m),
    })?;
    let took = started.elapsed();
    let mut out = Vec::new();
    wire::encode_depth(&mut out, &maps).map_err(|e| {
        Failure::new(
            StatusCode::FAILED_DEPENDENCY,
            format!("model output cannot be encoded: {e}"),
        )
    })?;
    Ok((out, took))
}

fn depth_response(state: &State, body: Vec<u8>, took: Duration) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(DEPTH_CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(&wire::profile_custom_attributes(&state.profile)) {
        h.insert(CUSTOM_ATTRIBUTES_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{:.3}", took.as_secs_f64() * 1000.0)) {
        h.insert(INFERENCE_MS_HEADER, v);
    }
    r
}

/// The service function.
pub async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let route = route(req.uri().path());
    let method = req.method().clone();
    let response = match (&route, &method) {
        (Route::Ping, &Method::GET) | (Route::Ping, &Method::HEAD) => json(
            StatusCode::OK,
            serde_json::json!({ "status": "healthy", "model": state.description }),
        ),
        (Route::Invocations, &Method::POST) | (Route::Endpoint(_), &Method::POST) => {
            match invoke(&state, req).await {
                Ok((body, took)) => {
                    tracing::debug!(bytes = body.len(), ms = took.as_millis() as u64, "invocation");
                    depth_response(&state, body, took)
                }
                Err(f) => {
                    tracing::warn!(status = f.status.as_u16(), error = %f.message, "invocation refused");
                    match route {
                        Route::Endpoint(_) => runtime_error(&f),
                        _ => container_error(&f),
                    }
                }
            }
        }
        (Route::NotFound, _) => container_error(&Failure::new(
            StatusCode::NOT_FOUND,
            "not found: this server answers GET /ping, POST /invocations and POST /endpoints/{name}/invocations",
        )),
        (r, _) => {
            let allow = if *r == Route::Ping { "GET, HEAD" } else { "POST" };
            let mut resp = container_error(&Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("method {method} not allowed here; use {allow}"),
            ));
            resp.headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
            resp
        }
    };
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/ping"), Route::Ping);
        assert_eq!(route("/invocations"), Route::Invocations);
        assert_eq!(
            route("/endpoints/stereospot-depth/invocations"),
            Route::Endpoint("stereospot-depth".into())
        );
        for p in [
            "/",
            "/endpoints//invocations",
            "/endpoints/a/b/invocations",
            "/invocations/x",
            "/pingx",
        ] {
            assert_eq!(route(p), Route::NotFound, "{p}");
        }
    }

    #[test]
    fn runtime_errors_look_like_sagemaker() {
        let r = runtime_error(&Failure::new(StatusCode::BAD_REQUEST, "bad magic"));
        assert_eq!(r.status(), StatusCode::FAILED_DEPENDENCY);
        assert_eq!(r.headers()[ERROR_TYPE_HEADER], "ModelError");
        let r = runtime_error(&Failure::new(StatusCode::PAYLOAD_TOO_LARGE, "big"));
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(r.headers()[ERROR_TYPE_HEADER], "ValidationError");
        let r = container_error(&Failure::new(StatusCode::SERVICE_UNAVAILABLE, "busy"));
        assert_eq!(r.headers()[RETRY_AFTER], "1");
    }

    #[test]
    fn media_types_ignore_parameters_and_case() {
        assert_eq!(
            media_type("Application/X-StereoSpot-Frames; charset=binary"),
            FRAMES_CONTENT_TYPE
        );
        assert_eq!(media_type(""), "");
    }
}
