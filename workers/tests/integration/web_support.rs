//! Harness of the web-ui tests: the `web-ui` binary as a process on a free loopback port (killed
//! on drop), with the same environment as the workers (`aws_support::worker_env`), and a plain
//! blocking HTTP client (ureq) for the API, the presigned URLs and the event stream.
#![allow(dead_code)]
use crate::aws_support::{worker_env, Cloud};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "web-api-test-token-0123456789";

pub struct WebUi {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl WebUi {
    /// Start `web-ui` with the workers' test environment, `WEB_AUTH=bearer` with [`TOKEN`],
    /// plus `extra` (which overrides); waits until `/healthz` answers.
    pub fn start(cloud: &Cloud, name: &str, extra: &[(&str, &str)]) -> WebUi {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut env = worker_env(cloud);
        let listen = format!("127.0.0.1:{port}");
        // Previews run the depth model in the web-ui (as the worker image's ORT_DYLIB_PATH does).
        let ort = crate::util::ort_lib().to_string_lossy().into_owned();
        let defaults = [
            ("ORT_DYLIB_PATH", ort.as_str()),
            ("WEB_LISTEN_ADDR", listen.as_str()),
            ("WEB_AUTH", "bearer"),
            ("WEB_AUTH_TOKEN", TOKEN),
        ];
        for (k, v) in defaults.iter().chain(extra) {
            env.retain(|(ek, _)| ek != k);
            env.push((k.to_string(), v.to_string()));
        }
        let log = cloud.dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_web-ui"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("start web-ui");
        let mut ui = WebUi {
            child,
            base: format!("http://{listen}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = ui.child.try_wait() {
                panic!("web-ui exited with {status}:\n{}", ui.log_text());
            }
            let health = agent(Duration::from_secs(2))
                .get(&format!("{}/healthz", ui.base))
                .call();
            if health.is_ok_and(|r| r.status() == 200) {
                return ui;
            }
            assert!(
                Instant::now() < deadline,
                "web-ui did not answer within 15 s:\n{}",
                ui.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -TERM web-ui");
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for WebUi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .new_agent()
}

/// An answer: status, headers (lowercase names) and body.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}), status {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn collect(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>, what: &str) -> Resp {
    let mut r = r.unwrap_or_else(|e| panic!("{what}: {e}"));
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let body = r
        .body_mut()
        .with_config()
        .limit(200 * 1024 * 1024)
        .read_to_vec()
        .unwrap_or_else(|e| panic!("{what}: reading the body: {e}"));
    Resp {
        status: r.status().as_u16(),
        headers,
        body,
    }
}

/// `GET url`, with `Authorization: Bearer` when `token` is given.
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = agent(Duration::from_secs(60)).get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    collect(req.call(), &format!("GET {url}"))
}

/// `method url` with the token, without following redirects.
pub fn request(method: &str, url: &str, token: Option<&str>) -> Resp {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let m = ureq::http::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = ureq::http::Request::builder().method(m).uri(url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req.body(()).expect("request");
    collect(agent.run(req), &format!("{method} {url}"))
}

pub fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    let r = get_with(url, &headers);
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

/// `POST url` with a body of `content_type`.
pub fn post_raw(url: &str, token: Option<&str>, content_type: &str, body: &str) -> Resp {
    let mut req = agent(Duration::from_secs(60))
        .post(url)
        .header("content-type", content_type);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    collect(req.send(body), &format!("POST {url}"))
}

pub fn post_json(url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let r = post_raw(url, token, "application/json", &body.to_string());
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

/// `PUT` bytes to a presigned URL with the headers the API said to send.
pub fn put_presigned(url: &str, headers: &Value, body: &[u8]) -> Resp {
    let mut req = agent(Duration::from_secs(120)).put(url);
    if let Some(h) = headers.as_object() {
        for (k, v) in h {
            req = req.header(k.as_str(), v.as_str().unwrap_or(""));
        }
    }
    collect(req.send(body), "PUT presigned URL")
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub data: Value,
}

/// Read `url`'s event stream until it ends (or `timeout`); returns the events and whether the
/// server closed the stream itself.
pub fn read_events(url: &str, token: &str, timeout: Duration) -> (u16, Vec<SseEvent>, bool) {
    let resp = agent(timeout)
        .get(url)
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "text/event-stream")
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    if status != 200 {
        return (status, Vec::new(), true);
    }
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("text/event-stream"), "content-type {ct}");
    let reader = BufReader::new(resp.into_body().into_reader());
    let mut events = Vec::new();
    let (mut name, mut data) = (String::new(), String::new());
    for line in reader.lines() {
        let Ok(line) = line else {
            // Timed out (or cut): the server did not close the stream.
            return (status, events, false);
        };
        if line.is_empty() {
            if !data.is_empty() {
                let v = serde_json::from_str(&data)
                    .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {data}"));
                let event = if name.is_empty() {
                    "message".into()
                } else {
                    name.clone()
                };
                events.push(SseEvent { event, data: v });
            }
            name.clear();
            data.clear();
        } else if let Some(v) = line.strip_prefix("event:") {
            name = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
        // ":" comments (keep-alive) and "retry:" lines are skipped.
    }
    (status, events, true)
}

/// The error code of an API error body.
pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// Append an MP4 `free` box of `pad` bytes (players skip it): a valid file of any size.
pub fn pad_mp4(bytes: &mut Vec<u8>, pad: u32) {
    assert!(pad >= 8);
    bytes.extend_from_slice(&pad.to_be_bytes());
    bytes.extend_from_slice(b"free");
    bytes.resize(bytes.len() + pad as usize - 8, 0);
}

/// The Jobs table through the real adapter.
pub fn job_store(cloud: &Cloud) -> pipeline_core::adapters::aws::DynamoJobStore {
    let r = &cloud.res;
    pipeline_core::adapters::aws::DynamoJobStore::new(
        &cloud.conf,
        &r.jobs_table,
        &r.segment_completions_table,
        &r.reassembly_triggered_table,
    )
}
