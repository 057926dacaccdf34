//! Harness of the AWS tests: a moto server per test with freshly provisioned resources, worker
//! processes that never outlive their test (killed on drop, panics included), clips made with
//! ffmpeg, and queue / table inspection through the real SDK.
#![allow(dead_code)]
use crate::util;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use pipeline_core::adapters::aws::AwsResources;
use serde_json::Value;
use smoke_test::moto::MotoServer;
use smoke_test::provision::{provision, ResourceNames};
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// One test's private AWS: a moto server and the resources provisioned on it.
pub struct Cloud {
    pub conf: SdkConfig,
    pub res: AwsResources,
    pub dir: tempfile::TempDir,
    // Dropped last: the server outlives the clients above.
    pub moto: MotoServer,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Start moto and provision everything under a prefix unique to this test.
pub async fn cloud(name: &str) -> Cloud {
    let moto = MotoServer::start()
        .unwrap_or_else(|e| panic!("moto server: {e:#} (run `make deps-python`)"));
    let conf = moto.sdk_config().await;
    let prefix = format!(
        "t{}-{name}-{}",
        std::process::id() % 100_000,
        SEQ.fetch_add(1, Ordering::SeqCst)
    );
    let res = provision(&conf, &ResourceNames { prefix })
        .await
        .unwrap_or_else(|e| panic!("provision: {e:#}"));
    Cloud {
        conf,
        res,
        dir: tempfile::tempdir().expect("tempdir"),
        moto,
    }
}

/// moto with every request served under one lock: single-item conditional writes and
/// transactions become atomic, as DynamoDB guarantees. Plain moto checks a condition and then
/// writes without a lock, so under load two conditional puts racing on one item can both pass
/// (measured: 7 of 1500 rounds of two threads, boto3, 2 busy cores); tests of racing claims need
/// this server. No long polls against it: a waiting receive would hold the lock.
const SERIAL_MOTO: &str = "\
import os, sys, threading
def _watch():
    try:
        sys.stdin.buffer.read()
    finally:
        os._exit(0)
threading.Thread(target=_watch, daemon=True).start()
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def serial(environ, start_response):
    with lock:
        return list(app(environ, start_response))
os.environ.setdefault('MOTO_PORT', sys.argv[2])
run_simple('127.0.0.1', int(sys.argv[2]), serial, threaded=True, request_handler=MotoRequestHandler)
";

/// A [`SERIAL_MOTO`] server; killed on drop (and it exits when our end of its stdin closes).
pub struct SerialMoto {
    child: Child,
    pub endpoint: String,
}

impl SerialMoto {
    pub fn start() -> SerialMoto {
        let python = crate::tools::python_path();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let mut child = Command::new(&python)
                .args(["-c", SERIAL_MOTO, "127.0.0.1", &port.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start {python}: {e} (run `make deps-python`)"));
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    break; // port taken, or moto missing: try again, then fail below
                }
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return SerialMoto {
                        child,
                        endpoint: format!("http://127.0.0.1:{port}"),
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("serialised moto server did not start (is moto installed for {python}?)");
    }

    pub async fn sdk_config(&self) -> SdkConfig {
        let creds = aws_sdk_sqs::config::Credentials::new("testing", "testing", None, None, "moto");
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(creds)
            .load()
            .await
    }
}

impl Drop for SerialMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    Media,
    Video,
    Reassembler,
}

impl Bin {
    pub const ALL: [Bin; 3] = [Bin::Media, Bin::Video, Bin::Reassembler];

    pub fn path(self) -> &'static str {
        match self {
            Bin::Media => env!("CARGO_BIN_EXE_media-worker"),
            Bin::Video => env!("CARGO_BIN_EXE_video-worker"),
            Bin::Reassembler => env!("CARGO_BIN_EXE_reassembler"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Bin::Media => "media-worker",
            Bin::Video => "video-worker",
            Bin::Reassembler => "reassembler",
        }
    }
}

/// A worker command with a clean environment: only what is passed here (plus PATH), so nothing
/// from the developer's shell (AWS_PROFILE, RUST_LOG, ...) leaks in.
pub fn worker_command(bin: Bin, env: &[(String, String)]) -> Command {
    let mut c = Command::new(bin.path());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ORT_DYLIB_PATH", util::ort_lib())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    c
}

/// The environment workers get in these tests: resources, moto, JSON logs, short polls.
pub fn worker_env(cloud: &Cloud) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = cloud
        .res
        .to_env_pairs()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    env.extend(cloud.moto.env());
    for (k, v) in [
        ("LOG_FORMAT", "json"),
        ("POLL_WAIT_SECONDS", "1"),
        ("SHUTDOWN_GRACE_SECONDS", "5"),
        ("SEGMENT_SECONDS", "2"),
        ("TMPDIR", cloud.dir.path().to_str().expect("utf-8 temp dir")),
    ] {
        env.push((k.to_string(), v.to_string()));
    }
    env
}

pub struct Proc {
    pub name: String,
    pub bin: Bin,
    pub child: Child,
    pub log: PathBuf,
    pub status: Option<ExitStatus>,
}

/// Worker processes of one test; every one still running is killed (SIGKILL) on drop.
pub struct Procs {
    env: Vec<(String, String)>,
    dir: PathBuf,
    pub list: Vec<Proc>,
}

impl Procs {
    pub fn new(cloud: &Cloud) -> Procs {
        Procs {
            env: worker_env(cloud),
            dir: cloud.dir.path().to_path_buf(),
            list: Vec::new(),
        }
    }

    /// Start `bin` with the test environment plus `extra` (which overrides it); its stderr
    /// (the log) goes to `<name>.log`. Returns its index.
    pub fn spawn(&mut self, bin: Bin, name: &str, extra: &[(&str, &str)]) -> usize {
        self.spawn_wrapped(bin, name, extra, &[])
    }

    /// [`Procs::spawn`] through a wrapper command (`wrapper` then the worker's path), e.g. a
    /// shell that mounts a tiny file system first and then `exec`s the worker.
    pub fn spawn_wrapped(
        &mut self,
        bin: Bin,
        name: &str,
        extra: &[(&str, &str)],
        wrapper: &[&str],
    ) -> usize {
        let mut env = self.env.clone();
        for (k, v) in extra {
            env.retain(|(ek, _)| ek != k);
            env.push((k.to_string(), v.to_string()));
        }
        let log = self.dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = worker_command(bin, &env);
        if let Some((program, args)) = wrapper.split_first() {
            let worker = std::mem::replace(&mut cmd, Command::new(program));
            cmd.args(args).arg(worker.get_program());
            cmd.env_clear().envs(
                worker
                    .get_envs()
                    .filter_map(|(k, v)| v.map(|v| (k.to_os_string(), v.to_os_string()))),
            );
            cmd.stdin(Stdio::null()).stdout(Stdio::null());
        }
        let child = cmd
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.name()));
        self.list.push(Proc {
            name: name.to_string(),
            bin,
            child,
            log,
            status: None,
        });
        self.list.len() - 1
    }

    pub fn pid(&self, i: usize) -> u32 {
        self.list[i].child.id()
    }

    /// SIGKILL, as a crashed machine would.
    pub fn kill9(&mut self, i: usize) {
        let p = &mut self.list[i];
        let _ = p.child.kill();
        p.status = p.child.wait().ok();
    }

    pub fn sigterm(&self, i: usize) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.pid(i).to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -TERM {}", self.pid(i));
    }

    /// Wait up to `timeout` for process `i` to exit.
    pub fn wait_exit(&mut self, i: usize, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let p = &mut self.list[i];
        loop {
            if let Some(s) = p.status {
                return Some(s);
            }
            if let Ok(Some(s)) = p.child.try_wait() {
                p.status = Some(s);
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Exit code of process `i` once it exits within `timeout` (panics otherwise).
    pub fn exit_code(&mut self, i: usize, timeout: Duration) -> Option<i32> {
        let status = self.wait_exit(i, timeout);
        assert!(
            status.is_some(),
            "{} still running after {timeout:?}:\n{}",
            self.list[i].name,
            self.dump()
        );
        status.and_then(|s| s.code())
    }

    pub fn alive(&mut self, i: usize) -> bool {
        self.wait_exit(i, Duration::ZERO).is_none()
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.list[i].log).unwrap_or_default()
    }

    /// The JSON log lines of process `i` (panics on a line that is not JSON).
    pub fn json_log(&self, i: usize) -> Vec<Value> {
        self.log(i)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("{}: log line is not JSON ({e}): {l}", self.list[i].name)
                })
            })
            .collect()
    }

    /// Every log, for failure messages.
    pub fn dump(&self) -> String {
        let mut s = String::new();
        for (i, p) in self.list.iter().enumerate() {
            let log = self.log(i);
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            s.push_str(&format!("\n----- {} ({}) -----\n", p.name, p.bin.name()));
            s.push_str(&tail.join("\n"));
        }
        s
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for p in &mut self.list {
            if p.status.is_none() {
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
        }
    }
}

/// A field of a JSON log line: top level (event fields) or in its current span.
pub fn field<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line.get(name)
        .or_else(|| line.get("span").and_then(|s| s.get(name)))
}

pub fn message(line: &Value) -> &str {
    line.get("message").and_then(Value::as_str).unwrap_or("")
}

/// Poll `cond` every 200 ms until it holds; false when `timeout` passes first.
pub async fn eventually<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A test clip: testsrc2 at `size`, `secs` long at 24 fps, a keyframe every `gop` frames, with a
/// sine tone when `audio`.
pub fn clip(dir: &Path, name: &str, size: &str, secs: u32, gop: u32, audio: bool) -> PathBuf {
    let p = dir.join(name);
    let src = format!("testsrc2=size={size}:rate=24:duration={secs}");
    let tone = format!("sine=frequency=440:duration={secs}");
    let gop = gop.to_string();
    let mut args = vec!["-f", "lavfi", "-i", &src];
    if audio {
        args.extend(["-f", "lavfi", "-i", &tone, "-c:a", "aac"]);
    }
    args.extend([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        &gop,
        "-keyint_min",
        &gop,
        "-sc_threshold",
        "0",
    ]);
    let out = p.to_str().expect("utf-8 path");
    args.push(out);
    util::ffmpeg(&args);
    p
}

// --- SQS ---------------------------------------------------------------------------------------

pub fn sqs(cloud: &Cloud) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&cloud.conf)
}

/// (visible, in flight) messages of a queue.
pub async fn queue_counts(cloud: &Cloud, url: &str) -> (u64, u64) {
    let out = sqs(cloud)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap_or_else(|e| panic!("queue attributes of {url}: {e:?}"));
    let attrs = out.attributes().cloned().unwrap_or_default();
    let get = |a: QueueAttributeName| {
        attrs
            .get(&a)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

/// The dead-letter queue of `url`, from its redrive policy.
pub async fn dlq_url(cloud: &Cloud, url: &str) -> String {
    let out = sqs(cloud)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .expect("redrive policy");
    let policy = out
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
        .unwrap_or_else(|| panic!("{url} has no redrive policy"));
    let v: Value = serde_json::from_str(policy).expect("policy JSON");
    let arn = v["deadLetterTargetArn"].as_str().expect("dlq arn");
    let name = arn.rsplit(':').next().expect("dlq name");
    sqs(cloud)
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .expect("dlq url")
        .queue_url()
        .expect("dlq url")
        .to_string()
}

pub fn main_queues(cloud: &Cloud) -> [String; 4] {
    let r = &cloud.res;
    [
        r.chunking_queue_url.clone(),
        r.video_worker_queue_url.clone(),
        r.segment_output_queue_url.clone(),
        r.reassembly_queue_url.clone(),
    ]
}

/// True when all four queues and their DLQs hold no message, visible or in flight.
pub async fn all_queues_empty(cloud: &Cloud) -> bool {
    for url in main_queues(cloud) {
        let dlq = dlq_url(cloud, &url).await;
        for u in [&url, &dlq] {
            if queue_counts(cloud, u).await != (0, 0) {
                return false;
            }
        }
    }
    true
}

/// A description of every queue's counts, for failure messages.
pub async fn queue_report(cloud: &Cloud) -> String {
    let mut s = String::new();
    for url in main_queues(cloud) {
        let dlq = dlq_url(cloud, &url).await;
        s.push_str(&format!(
            "{}: {:?}, dlq {:?}\n",
            url.rsplit('/').next().unwrap_or(""),
            queue_counts(cloud, &url).await,
            queue_counts(cloud, &dlq).await
        ));
    }
    s
}

/// Receive every visible message of `url` and put each body back `copies` times (the original
/// is deleted): every delivery that was pending becomes `copies` deliveries. Returns the bodies.
pub async fn multiply_messages(cloud: &Cloud, url: &str, copies: usize) -> Vec<String> {
    let c = sqs(cloud);
    // First take every pending message (each stays invisible while we work), then put copies
    // back: copies sent earlier must not be taken again.
    let mut taken = Vec::new();
    loop {
        let out = c
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .visibility_timeout(120)
            .send()
            .await
            .expect("receive");
        if out.messages().is_empty() {
            break;
        }
        taken.extend(out.messages().iter().cloned());
    }
    let mut bodies = Vec::new();
    for m in taken {
        let body = m.body().unwrap_or("").to_string();
        for _ in 0..copies {
            c.send_message()
                .queue_url(url)
                .message_body(&body)
                .send()
                .await
                .expect("send copy");
        }
        c.delete_message()
            .queue_url(url)
            .receipt_handle(m.receipt_handle().unwrap_or(""))
            .send()
            .await
            .expect("delete original");
        bodies.push(body);
    }
    bodies
}

pub async fn send_raw(cloud: &Cloud, url: &str, body: &str) {
    sqs(cloud)
        .send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .expect("send");
}

// --- DynamoDB ----------------------------------------------------------------------------------

fn dynamo(cloud: &Cloud) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&cloud.conf)
}

/// Every item of a table, attributes rendered as strings (S and N values).
pub async fn scan(cloud: &Cloud, table: &str) -> Vec<HashMap<String, String>> {
    let out = dynamo(cloud)
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap_or_else(|e| panic!("scan {table}: {e:?}"));
    out.items()
        .iter()
        .map(|item| {
            item.iter()
                .filter_map(|(k, v)| {
                    let s = match v {
                        AttributeValue::S(s) | AttributeValue::N(s) => s.clone(),
                        _ => return None,
                    };
                    Some((k.clone(), s))
                })
                .collect()
        })
        .collect()
}

/// The jobs table: (job_id, status) of every job.
pub async fn jobs(cloud: &Cloud) -> Vec<(String, String)> {
    scan(cloud, &cloud.res.jobs_table)
        .await
        .into_iter()
        .map(|j| {
            (
                j.get("job_id").cloned().unwrap_or_default(),
                j.get("status").cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// Assert the table holds exactly one job, in `status`; returns its item.
pub async fn the_only_job(cloud: &Cloud, status: &str) -> HashMap<String, String> {
    let all = scan(cloud, &cloud.res.jobs_table).await;
    assert_eq!(all.len(), 1, "exactly one job expected: {all:?}");
    assert_eq!(
        all[0].get("status").map(String::as_str),
        Some(status),
        "job: {:?}",
        all[0]
    );
    all[0].clone()
}

// --- media checks ------------------------------------------------------------------------------

/// Check `out` against `input` with ffprobe, independently of the smoke-test's own verification:
/// same decoded frame count, duration within a frame, `size`, audio iff the input has it.
pub fn check_final(input: &Path, out: &Path, size: (u64, u64)) {
    let (pi, po) = (util::probe(input), util::probe(out));
    assert_eq!(
        util::decoded_frames(&po),
        util::decoded_frames(&pi),
        "frame count"
    );
    let vo = util::stream(&po, "video").expect("video stream");
    assert_eq!(
        (vo["width"].as_u64(), vo["height"].as_u64()),
        (Some(size.0), Some(size.1)),
        "output size"
    );
    let vi = util::stream(&pi, "video").expect("input video");
    let (di, dout) = (util::num(&vi["duration"]), util::num(&vo["duration"]));
    assert!(
        (di - dout).abs() <= 1.0 / 24.0 + 1e-3,
        "duration {dout} vs input {di}"
    );
    assert_eq!(
        util::stream(&po, "audio").is_some(),
        util::stream(&pi, "audio").is_some(),
        "audio presence"
    );
}
