//! `http` backend: the wire protocol over plain HTTP/1.1 to a self-hosted inference server
//! (`POST {INFERENCE_URL}/invocations`), with `ureq` (blocking, like the estimator trait).
//!
//! Plain HTTP only: the server is meant to sit next to the workers (same VPC, or a TLS-terminating
//! proxy in front). Use the `sagemaker` backend for a managed, TLS-protected endpoint.
use std::io::Read;
use std::time::Duration;

use super::client::{error_message_from_body, RemoteFactory, RemoteSettings, Transport};
use super::wire::{self, CUSTOM_ATTRIBUTES_HEADER, DEPTH_CONTENT_TYPE, FRAMES_CONTENT_TYPE};
use crate::ports::depth::DepthError;

/// Largest depth response read (a 6 MB request never needs more).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;
/// Largest error body read.
const MAX_ERROR_BYTES: u64 = 64 * 1024;

pub type HttpFactory = RemoteFactory<HttpTransport>;

/// One HTTP endpoint; clones share the connection pool.
#[derive(Clone)]
pub struct HttpTransport {
    agent: ureq::Agent,
    url: String,
    attributes: String,
    timeout: Duration,
}

/// `base` (http://host:port[/prefix]) with `/invocations` appended unless it is there already.
pub fn invocations_url(base: &str) -> Result<String, DepthError> {
    let base = base.trim();
    let rest = if let Some(rest) = base.strip_prefix("http://") {
        rest
    } else if base.starts_with("https://") {
        return Err(DepthError::Config(format!(
            "INFERENCE_URL {base}: the http backend speaks plain HTTP only (put the server next \
             to the workers, or use the sagemaker backend for a TLS endpoint)"
        )));
    } else {
        return Err(DepthError::Config(format!(
            "INFERENCE_URL `{base}` is not an http:// URL"
        )));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(DepthError::Config(format!(
            "INFERENCE_URL `{base}` has no host"
        )));
    }
    let trimmed = base.trim_end_matches('/');
    Ok(if trimmed.ends_with("/invocations") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/invocations")
    })
}

impl HttpTransport {
    pub fn new(
        base_url: &str,
        profile: &str,
        timeout: Duration,
    ) -> Result<HttpTransport, DepthError> {
        let url = invocations_url(base_url)?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
            .max_idle_connections_per_host(16)
            .user_agent(concat!("stereospot/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(HttpTransport {
            agent: ureq::Agent::new_with_config(config),
            url,
            attributes: wire::profile_custom_attributes(profile),
            timeout,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Status codes worth retrying: timeouts, throttling, server-side failures.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429) || (500..=599).contains(&status)
}

impl Transport for HttpTransport {
    fn describe(&self) -> String {
        format!("http {}", self.url)
    }

    fn invoke(&self, body: &[u8]) -> Result<Vec<u8>, DepthError> {
        let sent = self
            .agent
            .post(&self.url)
            .header("content-type", FRAMES_CONTENT_TYPE)
            .header("accept", DEPTH_CONTENT_TYPE)
            .header(CUSTOM_ATTRIBUTES_HEADER, &self.attributes)
            .send(body);
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => return Err(transport_error(&self.url, self.timeout, e)),
        };
        let status = response.status().as_u16();
        if status == 200 {
            let expected = response.body().content_length().unwrap_or(0);
            let mut out = Vec::with_capacity(expected.min(MAX_RESPONSE_BYTES) as usize);
            return match response
                .body_mut()
                .as_reader()
                .take(MAX_RESPONSE_BYTES)
                .read_to_end(&mut out)
            {
                Ok(_) => Ok(out),
                Err(e) => Err(DepthError::Transient(format!(
                    "{}: reading the response: {e}",
                    self.url
                ))),
            };
        }
        let mut text = Vec::new();
        // The error body is best effort: its status alone classifies the failure.
        let _ = response
            .body_mut()
            .as_reader()
            .take(MAX_ERROR_BYTES)
            .read_to_end(&mut text);
        let message = format!(
            "{} answered {status}: {}",
            self.url,
            error_message_from_body(&text)
        );
        Err(if is_transient_status(status) {
            DepthError::Transient(message)
        } else {
            DepthError::Inference(message)
        })
    }
}

fn transport_error(url: &str, timeout: Duration, e: ureq::Error) -> DepthError {
    match e {
        ureq::Error::Timeout(which) => {
            DepthError::Transient(format!("{url}: no answer within {timeout:?} ({which})"))
        }
        ureq::Error::Io(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::Protocol(_) => DepthError::Transient(format!("{url}: {e}")),
        other => DepthError::Inference(format!("{url}: {other}")),
    }
}

/// An [`HttpFactory`] for the server at `base_url`.
pub fn http_factory(base_url: &str, settings: RemoteSettings) -> Result<HttpFactory, DepthError> {
    let transport = HttpTransport::new(base_url, &settings.profile.name, settings.timeout)?;
    Ok(RemoteFactory::new(transport, settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_the_invocations_path() {
        assert_eq!(
            invocations_url("http://127.0.0.1:8080").ok().as_deref(),
            Some("http://127.0.0.1:8080/invocations")
        );
        assert_eq!(
            invocations_url(" http://inference.internal:8080/ ")
                .ok()
                .as_deref(),
            Some("http://inference.internal:8080/invocations")
        );
        assert_eq!(
            invocations_url("http://h/invocations").ok().as_deref(),
            Some("http://h/invocations")
        );
        assert_eq!(
            invocations_url("http://h/prefix").ok().as_deref(),
            Some("http://h/prefix/invocations")
        );
        for bad in ["https://h", "h:8080", "", "http://", "http:///x"] {
            let err = invocations_url(bad).expect_err(bad).to_string();
            assert!(err.contains("INFERENCE_URL"), "{err}");
        }
        assert!(invocations_url("https://h")
            .expect_err("https")
            .to_string()
            .contains("plain HTTP only"));
    }

    #[test]
    fn status_classification() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_transient_status(s), "{s}");
        }
        for s in [400, 404, 413, 415, 424] {
            assert!(!is_transient_status(s), "{s}");
        }
    }

    #[test]
    fn connection_refused_is_transient_and_names_the_url() {
        // Bind then drop: nothing listens on that port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let t = HttpTransport::new(
            &format!("http://127.0.0.1:{port}"),
            "stereospot-cues",
            Duration::from_secs(2),
        )
        .expect("transport");
        let err = t.invoke(b"x").expect_err("refused");
        assert!(err.is_transient(), "{err}");
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Accept and hold connections without ever answering.
        let holder = std::thread::spawn(move || {
            let mut held = Vec::new();
            if let Ok((s, _)) = listener.accept() {
                held.push(s);
                std::thread::sleep(Duration::from_millis(1500));
            }
        });
        let t = HttpTransport::new(
            &format!("http://{addr}"),
            "stereospot-cues",
            Duration::from_millis(500),
        )
        .expect("transport");
        let started = std::time::Instant::now();
        let err = t.invoke(&[0u8; 1000]).expect_err("timeout");
        let took = started.elapsed();
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains("no answer within"), "{err}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        let _ = holder.join();
    }
}
