//! Wiring of the AWS workers (`media-worker`, `video-worker`, `reassembler`): configuration from
//! the environment, the step context over the AWS adapters, signal handling, and the message
//! loops of `pipeline_core::worker`. The pipeline logic itself stays in `pipeline-core`.
//!
//! Exit codes: 0 after a clean shutdown (SIGTERM / Ctrl-C), 2 when start-up fails (a missing or
//! invalid environment variable, a depth model that does not load), 1 when the runtime cannot
//! start.
use crate::logging;
use pipeline_core::adapters::aws::{
    load_sdk_config, AwsResources, DynamoJobStore, S3Store, SqsQueue,
};
use pipeline_core::config::env_names as env;
use pipeline_core::depth::remote::{build_factory, BackendArgs};
use pipeline_core::media::EncodeSettings;
use pipeline_core::ports::{DepthError, DepthEstimator, DepthEstimatorFactory, Queue};
use pipeline_core::steps::{Context, NoProgress, Settings, StereoSettings};
use pipeline_core::stereo::{Layout, StereoParams};
use pipeline_core::worker::{run_loop, LoopOptions, Role};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{error, info, warn};

/// Exit code of a start-up failure (configuration or model).
pub const EXIT_STARTUP: u8 = 2;
/// Receives after which a failing message is given up: the queues' DLQ `maxReceiveCount`.
pub const MAX_RECEIVES: u32 = 4;

/// The three worker binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    /// Chunking queue: probe and split uploads.
    Media,
    /// Video-worker queue: render stereo segments.
    Video,
    /// Segment-output queue (record completions, claim, request the join) and reassembly queue
    /// (join), consumed concurrently.
    Reassembler,
}

impl Worker {
    pub fn name(self) -> &'static str {
        match self {
            Worker::Media => "media-worker",
            Worker::Video => "video-worker",
            Worker::Reassembler => "reassembler",
        }
    }

    /// The roles this worker runs, one message loop each.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Worker::Media => &[Role::Chunk],
            Worker::Video => &[Role::Stereo],
            Worker::Reassembler => &[Role::Complete, Role::Reassemble],
        }
    }

    /// Default (visibility, heartbeat) in seconds. Chunking and rendering hold a message for
    /// minutes; the reassembler's work is short (records) or a stream copy (join).
    pub fn default_visibility(self) -> (u64, u64) {
        match self {
            Worker::Media | Worker::Video => (300, 60),
            Worker::Reassembler => (120, 30),
        }
    }
}

/// The queue a role consumes.
pub fn queue_url(res: &AwsResources, role: Role) -> &str {
    match role {
        Role::Chunk => &res.chunking_queue_url,
        Role::Stereo => &res.video_worker_queue_url,
        Role::Complete => &res.segment_output_queue_url,
        Role::Reassemble => &res.reassembly_queue_url,
    }
}

/// Everything a worker reads from the environment besides the nine resource variables.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub settings: Settings,
    pub loop_options: LoopOptions,
    /// Video-worker: where depth runs (`INFERENCE_BACKEND`, `MODEL_PATH`, `MODEL_PROFILE`,
    /// `DEPTH_DEVICE`, ...); `None` for the workers that never render.
    pub depth: Option<BackendArgs>,
}

fn parsed<T: FromStr>(
    get: &dyn Fn(&str) -> Option<String>,
    name: &str,
    expected: &str,
) -> Result<Option<T>, String> {
    match get(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<T>()
            .map(Some)
            .map_err(|_| format!("invalid environment variable {name}={v:?}: expected {expected}")),
    }
}

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    name: &str,
    v: T,
    lo: T,
    hi: T,
) -> Result<T, String> {
    if v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(format!(
            "invalid environment variable {name}={v}: must be between {lo} and {hi}"
        ))
    }
}

impl WorkerConfig {
    /// Read and validate the tuning variables (unset or empty: the default). The error is one
    /// line naming the variable.
    pub fn from_lookup(
        worker: Worker,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<WorkerConfig, String> {
        let get = move |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let get: &dyn Fn(&str) -> Option<String> = &get;

        let segment_seconds = match parsed::<f64>(get, env::SEGMENT_SECONDS, "seconds")? {
            Some(s) if !s.is_finite() => {
                return Err(format!(
                    "invalid environment variable {}={s}: must be between 0.5 and 3600",
                    env::SEGMENT_SECONDS
                ))
            }
            Some(s) => in_range(env::SEGMENT_SECONDS, s, 0.5, 3600.0)?,
            None => 10.0,
        };
        let layout = match get(env::STEREO_LAYOUT) {
            None => Layout::default(),
            Some(v) => v
                .parse::<Layout>()
                .map_err(|e| format!("invalid environment variable {}: {e}", env::STEREO_LAYOUT))?,
        };
        let defaults = StereoParams::default();
        let params = StereoParams {
            divergence: parsed(get, env::DIVERGENCE, "a number (percent of width)")?
                .unwrap_or(defaults.divergence),
            convergence: parsed(get, env::CONVERGENCE, "a number in [0, 1]")?
                .unwrap_or(defaults.convergence),
        };
        params.validate().map_err(|e| {
            let var = if e.starts_with("divergence") {
                env::DIVERGENCE
            } else {
                env::CONVERGENCE
            };
            format!("invalid environment variable {var}: {e}")
        })?;

        let grace = parsed::<u64>(get, env::SHUTDOWN_GRACE_SECONDS, "whole seconds")?
            .map(|v| in_range(env::SHUTDOWN_GRACE_SECONDS, v, 0, 3600))
            .transpose()?
            .unwrap_or(90);
        let wait = parsed::<u64>(get, env::POLL_WAIT_SECONDS, "whole seconds")?
            .map(|v| in_range(env::POLL_WAIT_SECONDS, v, 0, 20))
            .transpose()?
            .unwrap_or(20);
        let (vis_default, beat_default) = worker.default_visibility();
        let visibility = parsed::<u64>(get, env::VISIBILITY_TIMEOUT_SECONDS, "whole seconds")?
            .map(|v| in_range(env::VISIBILITY_TIMEOUT_SECONDS, v, 2, 43_200))
            .transpose()?
            .unwrap_or(vis_default);
        let heartbeat = parsed::<u64>(get, env::HEARTBEAT_SECONDS, "whole seconds")?
            .map(|v| in_range(env::HEARTBEAT_SECONDS, v, 1, 43_199))
            .transpose()?
            .unwrap_or(beat_default.min(visibility / 2).max(1));
        if heartbeat >= visibility {
            return Err(format!(
                "invalid environment variable {}={heartbeat}: must be below {}={visibility}",
                env::HEARTBEAT_SECONDS,
                env::VISIBILITY_TIMEOUT_SECONDS
            ));
        }

        let depth = match worker {
            Worker::Video => Some(
                BackendArgs::from_lookup(get)
                    .map_err(|e| format!("invalid depth configuration: {e}"))?,
            ),
            _ => None,
        };

        Ok(WorkerConfig {
            settings: Settings {
                segment_seconds,
                stereo: StereoSettings {
                    layout,
                    params,
                    encode: EncodeSettings::default(),
                },
                // The cloud derives job ids from the object alone: duplicate events, same job.
                job_salt: String::new(),
                ..Settings::default()
            },
            loop_options: LoopOptions {
                concurrency: 1,
                wait: Duration::from_secs(wait),
                visibility: Duration::from_secs(visibility),
                heartbeat: Duration::from_secs(heartbeat),
                max_receives: MAX_RECEIVES,
                grace: Duration::from_secs(grace),
                ..LoopOptions::default()
            },
            depth,
        })
    }
}

/// The depth factory of workers that never render: using it is a wiring bug, reported as such.
pub struct NoDepth(pub &'static str);

impl DepthEstimatorFactory for NoDepth {
    fn create(&self) -> Result<Box<dyn DepthEstimator>, DepthError> {
        Err(DepthError::BadModel {
            model: "none".into(),
            reason: format!("the {} does not run depth models", self.0),
        })
    }
}

/// The step context over the AWS adapters.
pub fn context(
    sdk: &aws_config::SdkConfig,
    res: &AwsResources,
    settings: Settings,
    depth: Arc<dyn DepthEstimatorFactory>,
    scratch: &Path,
) -> Context {
    Context {
        input: Arc::new(S3Store::new(sdk, &res.input_bucket)),
        output: Arc::new(S3Store::new(sdk, &res.output_bucket)),
        jobs: Arc::new(DynamoJobStore::new(
            sdk,
            &res.jobs_table,
            &res.segment_completions_table,
            &res.reassembly_triggered_table,
        )),
        reassembly_queue: Arc::new(SqsQueue::new(sdk, &res.reassembly_queue_url)),
        depth,
        settings,
        scratch: scratch.to_path_buf(),
        progress: Arc::new(NoProgress),
    }
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        _ = term => info!("SIGTERM received"),
        r = tokio::signal::ctrl_c() => match r {
            Ok(()) => info!("interrupt received"),
            Err(e) => {
                warn!(error = %e, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await
            }
        },
    }
}

/// The whole life of a worker binary.
pub fn main(worker: Worker) -> ExitCode {
    let resources = match AwsResources::from_env() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_STARTUP);
        }
    };
    let config = match WorkerConfig::from_lookup(worker, |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_STARTUP);
        }
    };
    logging::init("info");
    // Load and check the model before taking any message: a bad model fails in a second.
    let depth: Arc<dyn DepthEstimatorFactory> = match &config.depth {
        Some(args) => match build_factory(args) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: depth model: {e}");
                return ExitCode::from(EXIT_STARTUP);
            }
        },
        None => Arc::new(NoDepth(worker.name())),
    };
    let scratch = std::env::temp_dir().join(format!(
        "stereospot-{}-{}",
        worker.name(),
        std::process::id()
    ));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = rt.block_on(serve(worker, resources, config, depth, scratch.clone()));
    let _ = std::fs::remove_dir_all(&scratch);
    code
}

async fn serve(
    worker: Worker,
    res: AwsResources,
    config: WorkerConfig,
    depth: Arc<dyn DepthEstimatorFactory>,
    scratch: PathBuf,
) -> ExitCode {
    let sdk = load_sdk_config().await;
    let ctx = context(&sdk, &res, config.settings.clone(), depth, &scratch);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
        // Keep the sender alive: a dropped sender would also wake the loops.
        std::future::pending::<()>().await
    });
    let opts = &config.loop_options;
    info!(
        worker = worker.name(),
        poll_wait_s = opts.wait.as_secs(),
        visibility_s = opts.visibility.as_secs(),
        heartbeat_s = opts.heartbeat.as_secs(),
        grace_s = opts.grace.as_secs(),
        "worker started"
    );
    let mut loops = tokio::task::JoinSet::new();
    for &role in worker.roles() {
        let queue: Arc<dyn Queue> = Arc::new(
            SqsQueue::new(&sdk, queue_url(&res, role)).with_receive_visibility(opts.visibility),
        );
        loops.spawn(run_loop(
            ctx.clone(),
            queue,
            role,
            opts.clone(),
            stop_rx.clone(),
        ));
    }
    let mut code = ExitCode::SUCCESS;
    while let Some(r) = loops.join_next().await {
        if let Err(e) = r {
            error!(error = %e, "message loop panicked");
            code = ExitCode::FAILURE;
        }
    }
    info!(worker = worker.name(), "stopped");
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(worker: Worker, vars: &[(&str, &str)]) -> Result<WorkerConfig, String> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        WorkerConfig::from_lookup(worker, |k| m.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_queues() {
        let v = cfg(Worker::Video, &[]).unwrap();
        let o = &v.loop_options;
        assert_eq!(
            (o.wait, o.visibility, o.heartbeat, o.max_receives, o.grace),
            (
                Duration::from_secs(20),
                Duration::from_secs(300),
                Duration::from_secs(60),
                4,
                Duration::from_secs(90)
            )
        );
        assert_eq!(v.settings.job_salt, "");
        assert_eq!(v.settings.segment_seconds, 10.0);
        assert_eq!(v.settings.stereo.layout, Layout::FullSbs);
        let d = v.depth.expect("the video-worker renders");
        assert_eq!((d.device.as_str(), d.model.is_none()), ("auto", true));
        assert!(cfg(Worker::Media, &[]).unwrap().depth.is_none());
        let r = cfg(Worker::Reassembler, &[]).unwrap();
        assert_eq!(r.loop_options.visibility, Duration::from_secs(120));
        assert_eq!(r.loop_options.heartbeat, Duration::from_secs(30));
    }

    #[test]
    fn values_are_read_and_empty_means_unset() {
        let c = cfg(
            Worker::Video,
            &[
                ("SEGMENT_SECONDS", "2.5"),
                ("STEREO_LAYOUT", "half-tb"),
                ("DIVERGENCE", "3"),
                ("CONVERGENCE", "0.25"),
                ("SHUTDOWN_GRACE_SECONDS", "5"),
                ("POLL_WAIT_SECONDS", "1"),
                ("VISIBILITY_TIMEOUT_SECONDS", "4"),
                ("HEARTBEAT_SECONDS", "1"),
                ("MODEL_PATH", "/m/midas.onnx"),
                ("MODEL_PROFILE", ""),
                ("INFERENCE_BACKEND", "local"),
            ],
        )
        .unwrap();
        assert_eq!(c.settings.segment_seconds, 2.5);
        assert_eq!(c.settings.stereo.layout, Layout::HalfTb);
        assert_eq!(c.settings.stereo.params.divergence, 3.0);
        assert_eq!(c.settings.stereo.params.convergence, 0.25);
        let o = &c.loop_options;
        assert_eq!(o.grace, Duration::from_secs(5));
        assert_eq!(o.wait, Duration::from_secs(1));
        assert_eq!(o.visibility, Duration::from_secs(4));
        assert_eq!(o.heartbeat, Duration::from_secs(1));
        let d = c.depth.expect("depth");
        assert_eq!(d.model, Some(PathBuf::from("/m/midas.onnx")));
        assert_eq!(d.profile, None);
        // A short visibility without a heartbeat setting gets a heartbeat below it.
        let c = cfg(Worker::Video, &[("VISIBILITY_TIMEOUT_SECONDS", "6")]).unwrap();
        assert_eq!(c.loop_options.heartbeat, Duration::from_secs(3));
    }

    #[test]
    fn invalid_values_name_the_variable() {
        for (var, value) in [
            ("SEGMENT_SECONDS", "ten"),
            ("SEGMENT_SECONDS", "0.1"),
            ("SEGMENT_SECONDS", "NaN"),
            ("STEREO_LAYOUT", "sbs"),
            ("DIVERGENCE", "11"),
            ("DIVERGENCE", "x"),
            ("CONVERGENCE", "1.5"),
            ("SHUTDOWN_GRACE_SECONDS", "-1"),
            ("POLL_WAIT_SECONDS", "21"),
            ("VISIBILITY_TIMEOUT_SECONDS", "1"),
            ("HEARTBEAT_SECONDS", "0"),
        ] {
            let e = cfg(Worker::Video, &[(var, value)]).unwrap_err();
            assert!(
                e.starts_with(&format!("invalid environment variable {var}")),
                "{var}={value}: {e}"
            );
        }
        let e = cfg(
            Worker::Media,
            &[
                ("VISIBILITY_TIMEOUT_SECONDS", "10"),
                ("HEARTBEAT_SECONDS", "10"),
            ],
        )
        .unwrap_err();
        assert!(
            e.contains("HEARTBEAT_SECONDS=10") && e.contains("below"),
            "{e}"
        );
        let e = cfg(Worker::Video, &[("INFERENCE_BACKEND", "grpc")]).unwrap_err();
        assert!(e.contains("INFERENCE_BACKEND"), "{e}");
        // Only the video-worker reads the depth settings.
        assert!(cfg(Worker::Reassembler, &[("INFERENCE_BACKEND", "grpc")]).is_ok());
    }

    #[test]
    fn roles_and_queues() {
        let res = AwsResources::from_lookup(|k| Some(format!("v-{k}"))).unwrap();
        let urls: Vec<&str> = Worker::Reassembler
            .roles()
            .iter()
            .map(|r| queue_url(&res, *r))
            .collect();
        assert_eq!(
            urls,
            ["v-SEGMENT_OUTPUT_QUEUE_URL", "v-REASSEMBLY_QUEUE_URL"]
        );
        assert_eq!(queue_url(&res, Role::Chunk), "v-CHUNKING_QUEUE_URL");
        assert_eq!(queue_url(&res, Role::Stereo), "v-VIDEO_WORKER_QUEUE_URL");
        assert!(NoDepth("media-worker").create().is_err());
    }
}
