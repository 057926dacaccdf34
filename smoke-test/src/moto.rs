//! The test harness's local AWS-protocol server: a moto server on a free loopback port.
//!
//! The child exits with its parent: it watches its stdin (a pipe we hold) and quits on EOF, so a
//! test process that panics or is killed leaves no server behind.
use anyhow::{anyhow, bail, Context, Result};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the Python that has `moto[server]` (set by the Makefile).
pub const PYTHON_ENV: &str = "STEREOSPOT_PYTHON";
/// Longest wait for the server to answer.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
pub const REGION: &str = "us-east-1";

/// Runs moto's server and quits when stdin closes (our end of the pipe drops with us).
const LAUNCHER: &str = "\
import os, sys, threading
def _watch():
    try:
        sys.stdin.buffer.read()
    finally:
        os._exit(0)
threading.Thread(target=_watch, daemon=True).start()
try:
    from moto.server import main
except ImportError as e:
    sys.stderr.write('MOTO_MISSING: %s\\n' % e)
    sys.stderr.flush()
    os._exit(3)
main(sys.argv[1:])
";

pub struct MotoServer {
    child: Child,
    port: u16,
    log: tempfile::NamedTempFile,
}

fn python() -> String {
    std::env::var(PYTHON_ENV)
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "python3".to_string())
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    Ok(l.local_addr()?.port())
}

fn read_log(log: &tempfile::NamedTempFile) -> String {
    let mut s = String::new();
    let _ = std::fs::File::open(log.path()).and_then(|mut f| f.read_to_string(&mut s));
    let tail: Vec<&str> = s.lines().rev().take(15).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

enum Attempt {
    Up(MotoServer),
    PortTaken,
}

impl MotoServer {
    /// Start moto with `$STEREOSPOT_PYTHON` (else `python3`) on a free loopback port and wait
    /// until it accepts connections (at most 15 s).
    pub fn start() -> Result<MotoServer> {
        for _ in 0..3 {
            if let Attempt::Up(server) = Self::try_start()? {
                return Ok(server);
            }
        }
        bail!("moto server: could not bind a free loopback port after 3 tries")
    }

    fn try_start() -> Result<Attempt> {
        let py = python();
        let port = free_port()?;
        let log = tempfile::Builder::new()
            .prefix("moto-server-")
            .suffix(".log")
            .tempfile()
            .context("creating the moto log file")?;
        let stderr = log.reopen().context("opening the moto log file")?;
        let stdout = log.reopen().context("opening the moto log file")?;
        let child = Command::new(&py)
            .args(["-c", LAUNCHER, "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .with_context(|| {
                format!("starting {py} (set {PYTHON_ENV} to a Python with moto; run `make deps-python`)")
            })?;
        let mut server = MotoServer { child, port, log };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = server.child.try_wait()? {
                let log = read_log(&server.log);
                if log.contains("MOTO_MISSING") {
                    bail!(
                        "moto is not installed for {py} ({log}); run `make deps-python` and set \
                         {PYTHON_ENV}=$HOME/.cache/stereospot/venvs/test/bin/python"
                    );
                }
                if log.contains("Address already in use") {
                    return Ok(Attempt::PortTaken);
                }
                bail!("moto server exited with {status} before answering:\n{log}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(Attempt::Up(server));
            }
            if Instant::now() >= deadline {
                let log = read_log(&server.log);
                return Err(anyhow!(
                    "moto server did not answer on {addr} within {START_TIMEOUT:?}:\n{log}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What a worker process needs to talk to this server.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// SDK configuration pointing at this server with dummy credentials. Build one per tokio
    /// runtime (its HTTP connections belong to the runtime that opened them).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        let creds = aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "moto");
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(creds)
            .load()
            .await
    }

    /// The last lines of the server's log (for test failure messages).
    pub fn log_tail(&self) -> String {
        read_log(&self.log)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
