//! Settings of the inference server: flags, the SageMaker environment, model discovery.
use clap::Args;
use pipeline_core::config::env_names;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// SageMaker's real-time payload limit (6 MB), with a little room: the server refuses more.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Where SageMaker unpacks the model artifact.
pub const SAGEMAKER_MODEL_DIR: &str = "/opt/ml/model";

#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Accepted and ignored: SageMaker starts the container as `<image> serve`.
    #[arg(hide = true, value_parser = ["serve"])]
    pub command: Option<String>,
    /// Port to listen on (SageMaker sets SAGEMAKER_BIND_TO_PORT; 0 = any free port).
    #[arg(long, env = env_names::SAGEMAKER_BIND_TO_PORT, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub host: IpAddr,
    /// ONNX model file, or a directory holding one (default: the first *.onnx in --model-dir,
    /// else the embedded stereospot-cues model).
    #[arg(long, env = env_names::MODEL_PATH)]
    pub model: Option<PathBuf>,
    /// Directory searched for a model when none is named.
    #[arg(long, default_value = SAGEMAKER_MODEL_DIR)]
    pub model_dir: PathBuf,
    /// stereospot-cues | depth-anything-v2 | midas-small (default: from the file name).
    #[arg(long, env = env_names::MODEL_PROFILE)]
    pub model_profile: Option<String>,
    /// cpu | cuda | tensorrt | auto
    #[arg(long, env = env_names::DEPTH_DEVICE, default_value = "auto")]
    pub device: String,
    /// Requests run at once, one model session each (default: half the CPU cores, 1..=8).
    #[arg(long, env = env_names::SAGEMAKER_MODEL_SERVER_WORKERS)]
    pub workers: Option<usize>,
    /// Frames per model run within a request.
    #[arg(long, env = env_names::DEPTH_BATCH_SIZE, default_value_t = 8)]
    pub batch: usize,
    /// How long a request waits for a free worker before a 503.
    #[arg(long, default_value_t = 30.0)]
    pub queue_timeout_seconds: f64,
    /// Largest request body; more is refused with 413.
    #[arg(long, default_value_t = DEFAULT_MAX_PAYLOAD_BYTES)]
    pub max_payload_bytes: usize,
    /// Seconds in-flight requests get to finish after SIGTERM / Ctrl-C.
    #[arg(long, default_value_t = 30.0)]
    pub grace_seconds: f64,
}

/// Checked settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// `None`: the embedded model.
    pub model: Option<PathBuf>,
    pub profile: Option<String>,
    pub device: String,
    pub workers: usize,
    pub batch: usize,
    pub queue_timeout: Duration,
    pub max_payload: usize,
    /// Time allowed to read a request body.
    pub body_timeout: Duration,
    pub grace: Duration,
}

fn seconds(name: &str, v: f64) -> Result<Duration, String> {
    if v.is_finite() && (0.0..=3600.0).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("--{name} must be between 0 and 3600 seconds"))
    }
}

/// The first `*.onnx` file in `dir` by name, if any.
pub fn first_onnx(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("onnx"))
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

impl ServerConfig {
    pub fn from_args(a: &ServerArgs) -> Result<ServerConfig, String> {
        let named = a.model.clone().filter(|p| !p.as_os_str().is_empty());
        let model =
            match named {
                Some(p) if p.is_dir() => Some(first_onnx(&p).ok_or_else(|| {
                    format!("model directory {} holds no *.onnx file", p.display())
                })?),
                Some(p) => Some(p), // a missing file is reported by the model loader
                None => first_onnx(&a.model_dir),
            };
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let workers = a.workers.unwrap_or((cores / 2).clamp(1, 8));
        if !(1..=64).contains(&workers) {
            return Err("--workers must be 1..=64".into());
        }
        if !(1..=256).contains(&a.batch) {
            return Err("--batch must be 1..=256".into());
        }
        if a.max_payload_bytes < 1024 {
            return Err("--max-payload-bytes must be at least 1024".into());
        }
        Ok(ServerConfig {
            bind: SocketAddr::new(a.host, a.port),
            model,
            profile: a.model_profile.clone().filter(|s| !s.trim().is_empty()),
            device: a.device.clone(),
            workers,
            batch: a.batch,
            queue_timeout: seconds("queue-timeout-seconds", a.queue_timeout_seconds)?,
            max_payload: a.max_payload_bytes,
            body_timeout: Duration::from_secs(60),
            grace: seconds("grace-seconds", a.grace_seconds)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServerArgs,
    }

    fn parse(argv: &[&str]) -> Result<ServerArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("inference-server").chain(argv.iter().copied()))
            .map(|c| c.args)
    }

    #[test]
    fn flags_and_the_serve_word() {
        let d = tempfile::tempdir().expect("tmp");
        let dir = d.path().to_str().expect("utf8");
        let a =
            parse(&["serve", "--port", "0", "--model-dir", dir, "--workers", "3"]).expect("args");
        let c = ServerConfig::from_args(&a).expect("config");
        assert_eq!(c.bind.port(), 0);
        assert_eq!(c.model, None, "empty model dir: the embedded model");
        assert_eq!(c.workers, 3);
        assert_eq!(c.max_payload, DEFAULT_MAX_PAYLOAD_BYTES);
        assert!(parse(&["train"]).is_err(), "only `serve` is accepted");
    }

    #[test]
    fn models_are_found_in_directories() {
        let d = tempfile::tempdir().expect("tmp");
        std::fs::write(d.path().join("b.onnx"), b"x").expect("write");
        std::fs::write(d.path().join("a.ONNX"), b"x").expect("write");
        std::fs::write(d.path().join("0-readme.txt"), b"x").expect("write");
        assert_eq!(first_onnx(d.path()), Some(d.path().join("a.ONNX")));
        let dir = d.path().to_str().expect("utf8");
        let c = ServerConfig::from_args(&parse(&["--model-dir", dir]).expect("args")).expect("cfg");
        assert_eq!(c.model, Some(d.path().join("a.ONNX")));
        // --model naming a directory picks from it too; an empty one is an error.
        let empty = tempfile::tempdir().expect("tmp");
        let e = empty.path().to_str().expect("utf8");
        let err =
            ServerConfig::from_args(&parse(&["--model", e]).expect("args")).expect_err("empty");
        assert!(err.contains("no *.onnx"), "{err}");
        let c = ServerConfig::from_args(&parse(&["--model", dir]).expect("args")).expect("cfg");
        assert_eq!(c.model, Some(d.path().join("a.ONNX")));
    }

    #[test]
    fn bad_numbers_are_refused() {
        for argv in [
            &["--workers", "0"][..],
            &["--batch", "0"],
            &["--queue-timeout-seconds=-1"],
            &["--max-payload-bytes", "10"],
        ] {
            let a = parse(argv).expect("parses");
            assert!(ServerConfig::from_args(&a).is_err(), "{argv:?}");
        }
    }
}
