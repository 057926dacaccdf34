//! Wiring of the AWS workers (`media-worker`, `video-worker`, `reassembler`): configuration from
//! the environment, the step context over the AWS adapters, signal handling, and the message
//! loops of `pipeline_core::worker`. The pipeline logic itself stays in `pipeline-core`.
//!
//! Exit codes: 0 after a clean shutdown (SIGTERM / Ctrl-C), 2 when start-up fails (a missing or
//! invalid environment variable, a depth model that does not load, ffmpeg or ffprobe missing,
//! too little scratch space, a queue that cannot be read), 3 when a worker-fatal error stops a
//! running worker (its message was released for another worker), 1 when the runtime cannot
//! start.
use crate::logging;
use pipeline_core::adapters::aws::sqs_queue::QueueSettings;
use pipeline_core::adapters::aws::{
    load_sdk_config, AwsResources, DynamoJobStore, S3Store, SqsQueue,
};
use pipeline_core::config::env_names as env;
use pipeline_core::depth::remote::{build_factory, BackendArgs};
use pipeline_core::depth::temporal::{DEFAULT_WINDOW, MAX_WINDOW};
use pipeline_core::media::EncodeSettings;
use pipeline_core::ports::{DepthError, DepthEstimator, DepthEstimatorFactory, Queue};
use pipeline_core::steps::{Context, NoProgress, Settings, StereoSettings};
use pipeline_core::stereo::{AnaglyphMethod, Layout, LayoutOptions, StereoParams};
use pipeline_core::worker::{
    preflight, run_loop, LoopExit, LoopOptions, Role, SweepSettings, Sweeper,
};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{error, info, warn};

/// Exit code of a start-up failure (configuration, model, tools, scratch space, queue access).
pub const EXIT_STARTUP: u8 = 2;
/// Exit code of a worker stopped by a worker-fatal error (ECS replaces the task).
pub const EXIT_FATAL: u8 = 3;
/// Receives after which a failing message is given up when its queue has no redrive policy
/// (otherwise the policy's `maxReceiveCount`, read at start-up).
pub const DEFAULT_MAX_RECEIVES: u32 = 4;
/// Default of `SCRATCH_MIN_FREE_MB`.
pub const DEFAULT_SCRATCH_MIN_FREE_MB: u64 = 512;
/// Default of `SWEEP_INTERVAL_SECONDS` (the reassembler's stuck-job sweeper).
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(300);
/// Longest default heartbeat period; shorter for short visibility timeouts (a third of it).
pub const MAX_DEFAULT_HEARTBEAT: Duration = Duration::from_secs(60);

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
    /// The loop options before the queue's own settings are applied ([`WorkerConfig::loop_options_for`]).
    pub loop_options: LoopOptions,
    /// `VISIBILITY_TIMEOUT_SECONDS`: overrides the queue's VisibilityTimeout (unset: the queue's).
    pub visibility_override: Option<Duration>,
    /// `HEARTBEAT_SECONDS` (unset: a third of the visibility, at most a minute).
    pub heartbeat_override: Option<Duration>,
    /// `SCRATCH_MIN_FREE_MB`, in bytes: free space the scratch directory needs at start-up.
    pub scratch_min_free: u64,
    /// Reassembler: `SWEEP_INTERVAL_SECONDS` (zero: no sweeper).
    pub sweep_interval: Duration,
    /// Reassembler: `SWEEP_STALL_SECONDS`, the no-progress allowance per outstanding segment
    /// (unset: three times the video-worker queue's visibility timeout).
    pub sweep_stall: Option<Duration>,
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
        let layout_options = LayoutOptions {
            anaglyph: match get(env::ANAGLYPH_METHOD) {
                None => AnaglyphMethod::default(),
                Some(v) => v.parse::<AnaglyphMethod>().map_err(|e| {
                    format!("invalid environment variable {}: {e}", env::ANAGLYPH_METHOD)
                })?,
            },
            vr_screen_deg: parsed(get, env::VR_SCREEN_DEG, "a number of degrees")?
                .unwrap_or(LayoutOptions::default().vr_screen_deg),
        };
        layout_options
            .validate()
            .map_err(|e| format!("invalid environment variable {}: {e}", env::VR_SCREEN_DEG))?;

        let grace = parsed::<u64>(get, env::SHUTDOWN_GRACE_SECONDS, "whole seconds")?
            .map(|v| in_range(env::SHUTDOWN_GRACE_SECONDS, v, 0, 3600))
            .transpose()?
            .unwrap_or(90);
        let wait = parsed::<u64>(get, env::POLL_WAIT_SECONDS, "whole seconds")?
            .map(|v| in_range(env::POLL_WAIT_SECONDS, v, 0, 20))
            .transpose()?
            .unwrap_or(20);
        let visibility = parsed::<u64>(get, env::VISIBILITY_TIMEOUT_SECONDS, "whole seconds")?
            .map(|v| in_range(env::VISIBILITY_TIMEOUT_SECONDS, v, 2, 43_200))
            .transpose()?;
        let heartbeat = parsed::<u64>(get, env::HEARTBEAT_SECONDS, "whole seconds")?
            .map(|v| in_range(env::HEARTBEAT_SECONDS, v, 1, 43_199))
            .transpose()?;
        if let (Some(h), Some(v)) = (heartbeat, visibility) {
            if h >= v {
                return Err(format!(
                    "invalid environment variable {}={h}: must be below {}={v}",
                    env::HEARTBEAT_SECONDS,
                    env::VISIBILITY_TIMEOUT_SECONDS
                ));
            }
        }
        let scratch_min_free_mb = parsed::<u64>(get, env::SCRATCH_MIN_FREE_MB, "whole MiB")?
            .map(|v| in_range(env::SCRATCH_MIN_FREE_MB, v, 0, 1 << 30))
            .transpose()?
            .unwrap_or(DEFAULT_SCRATCH_MIN_FREE_MB);
        let sweep_interval = parsed::<u64>(get, env::SWEEP_INTERVAL_SECONDS, "whole seconds")?
            .map(|v| in_range(env::SWEEP_INTERVAL_SECONDS, v, 0, 86_400))
            .transpose()?
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_SWEEP_INTERVAL);
        let sweep_stall = parsed::<u64>(get, env::SWEEP_STALL_SECONDS, "whole seconds")?
            .map(|v| in_range(env::SWEEP_STALL_SECONDS, v, 1, 7 * 86_400))
            .transpose()?
            .map(Duration::from_secs);

        let keep_depth = match get(env::KEEP_DEPTH).as_deref().map(str::trim) {
            None | Some("") | Some("true") | Some("1") => true,
            Some("false") | Some("0") => false,
            Some(v) => {
                return Err(format!(
                    "invalid environment variable {}={v}: must be true or false",
                    env::KEEP_DEPTH
                ))
            }
        };
        let depth_window = parsed::<usize>(get, env::DEPTH_SMOOTHING, "whole frames")?
            .map(|v| in_range(env::DEPTH_SMOOTHING, v, 1, MAX_WINDOW))
            .transpose()?
            .unwrap_or(DEFAULT_WINDOW);

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
                    layout_options,
                    encode: EncodeSettings::default(),
                    depth_window,
                    keep_depth,
                },
                // The cloud derives job ids from the object alone: duplicate events, same job.
                job_salt: String::new(),
                thumbnails: true,
                ..Settings::default()
            },
            loop_options: LoopOptions {
                concurrency: 1,
                wait: Duration::from_secs(wait),
                grace: Duration::from_secs(grace),
                ..LoopOptions::default()
            },
            visibility_override: visibility.map(Duration::from_secs),
            heartbeat_override: heartbeat.map(Duration::from_secs),
            scratch_min_free: scratch_min_free_mb << 20,
            sweep_interval,
            sweep_stall,
            depth,
        })
    }

    /// The loop options for a queue with `queue`'s settings: its visibility (unless overridden),
    /// a heartbeat below it, and its redrive `maxReceiveCount` as the last receive.
    pub fn loop_options_for(&self, queue: &QueueSettings) -> Result<LoopOptions, String> {
        let visibility = self.visibility_override.unwrap_or(queue.visibility);
        let heartbeat = self.heartbeat_override.unwrap_or_else(|| {
            (visibility / 3).clamp(Duration::from_secs(1), MAX_DEFAULT_HEARTBEAT)
        });
        if heartbeat >= visibility {
            return Err(format!(
                "heartbeat {} s is not below the visibility timeout {} s (set {} below it)",
                heartbeat.as_secs(),
                visibility.as_secs(),
                env::HEARTBEAT_SECONDS
            ));
        }
        Ok(LoopOptions {
            visibility,
            heartbeat,
            max_receives: queue.max_receive_count.unwrap_or(DEFAULT_MAX_RECEIVES),
            ..self.loop_options.clone()
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
    // Panics are logged like every other line (JSON included), with their location.
    std::panic::set_hook(Box::new(|info| {
        error!(panic = %info, "panic");
    }));
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

/// A start-up check failed: one line, exit 2.
fn startup_failure(what: &str) -> ExitCode {
    error!(health = "unhealthy", "start-up check failed: {what}");
    ExitCode::from(EXIT_STARTUP)
}

async fn serve(
    worker: Worker,
    res: AwsResources,
    config: WorkerConfig,
    depth: Arc<dyn DepthEstimatorFactory>,
    scratch: PathBuf,
) -> ExitCode {
    // Before any message: the tools, the scratch space, the queues (and their settings).
    if let Err(e) = preflight::check_tools() {
        return startup_failure(&e);
    }
    let free = match preflight::check_scratch(&scratch, config.scratch_min_free) {
        Ok(f) => f,
        Err(e) => return startup_failure(&e),
    };
    let sdk = load_sdk_config().await;
    let mut consumers = Vec::new();
    for &role in worker.roles() {
        let url = queue_url(&res, role);
        let mut queue = SqsQueue::new(&sdk, url);
        let settings = match queue.settings().await {
            Ok(s) => s,
            Err(e) => return startup_failure(&format!("queue {url}: {e}")),
        };
        if settings.max_receive_count.is_none() {
            warn!(
                queue = queue.name(),
                "queue has no redrive policy; giving up after {DEFAULT_MAX_RECEIVES} receives"
            );
        }
        let opts = match config.loop_options_for(&settings) {
            Ok(o) => o,
            Err(e) => return startup_failure(&format!("queue {url}: {e}")),
        };
        if let Some(v) = config.visibility_override {
            queue = queue.with_receive_visibility(v);
        }
        info!(
            queue = queue.name(),
            %role,
            visibility_s = opts.visibility.as_secs(),
            heartbeat_s = opts.heartbeat.as_secs(),
            max_receives = opts.max_receives,
            "queue settings"
        );
        consumers.push((role, Arc::new(queue) as Arc<dyn Queue>, opts));
    }
    let ctx = context(&sdk, &res, config.settings.clone(), depth, &scratch);
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
    }
    let opts = &config.loop_options;
    info!(
        worker = worker.name(),
        poll_wait_s = opts.wait.as_secs(),
        grace_s = opts.grace.as_secs(),
        scratch = %scratch.display(),
        scratch_free_mib = free >> 20,
        "worker started"
    );
    let sweeper = match worker {
        Worker::Reassembler => sweeper(&sdk, &res, &config, &ctx).await,
        _ => None,
    };
    let sweeping = sweeper.map(|s| {
        let stop = stop_rx.clone();
        tokio::spawn(async move { s.run(stop).await })
    });
    let mut loops = tokio::task::JoinSet::new();
    for (role, queue, opts) in consumers {
        loops.spawn(run_loop(ctx.clone(), queue, role, opts, stop_rx.clone()));
    }
    let mut code = ExitCode::SUCCESS;
    while let Some(r) = loops.join_next().await {
        let reason = match r {
            Ok(LoopExit::Stopped) => continue,
            Ok(LoopExit::Fatal(reason)) => reason,
            Err(e) => format!("message loop panicked: {e}"),
        };
        // This worker cannot work: the other loops stop too (their in-flight work gets the
        // grace period), and the exit code tells the orchestrator to replace the task.
        error!(health = "unhealthy", reason = %reason, "worker unhealthy; stopping");
        let _ = stop_tx.send(true);
        code = ExitCode::from(EXIT_FATAL);
    }
    let _ = stop_tx.send(true);
    if let Some(t) = sweeping {
        let _ = t.await;
    }
    info!(worker = worker.name(), "stopped");
    code
}

/// The reassembler's stuck-job sweeper, unless `SWEEP_INTERVAL_SECONDS=0`. Its stall allowance
/// defaults to three visibility timeouts of the video-worker queue (read from the queue); when
/// that cannot be read the sweeper is off (logged), the worker still runs.
async fn sweeper(
    sdk: &aws_config::SdkConfig,
    res: &AwsResources,
    config: &WorkerConfig,
    ctx: &Context,
) -> Option<Sweeper> {
    if config.sweep_interval.is_zero() {
        info!("sweeper off (SWEEP_INTERVAL_SECONDS=0)");
        return None;
    }
    let video = SqsQueue::new(sdk, &res.video_worker_queue_url);
    let stall = match config.sweep_stall {
        Some(s) => s,
        None => match video.settings().await {
            Ok(q) => q.visibility.saturating_mul(SweepSettings::STALL_FACTOR),
            Err(e) => {
                warn!(error = %e, "sweeper off: cannot read the video-worker queue's settings");
                return None;
            }
        },
    };
    Some(Sweeper {
        ctx: ctx.clone(),
        video_queue: Arc::new(video),
        settings: SweepSettings {
            interval: config.sweep_interval,
            stall_per_segment: stall,
            max_sweeps: SweepSettings::DEFAULT_MAX_SWEEPS,
        },
    })
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

    fn queue(visibility: u64, max: Option<u32>) -> QueueSettings {
        QueueSettings {
            visibility: Duration::from_secs(visibility),
            max_receive_count: max,
        }
    }

    #[test]
    fn defaults_come_from_the_queues() {
        let v = cfg(Worker::Video, &[]).unwrap();
        assert_eq!((v.visibility_override, v.heartbeat_override), (None, None));
        assert_eq!(v.scratch_min_free, 512 << 20);
        let o = v.loop_options_for(&queue(1800, Some(5))).unwrap();
        assert_eq!(
            (o.wait, o.visibility, o.heartbeat, o.max_receives, o.grace),
            (
                Duration::from_secs(20),
                Duration::from_secs(1800),
                Duration::from_secs(60),
                5,
                Duration::from_secs(90)
            )
        );
        let o = v.loop_options_for(&queue(9, None)).unwrap();
        assert_eq!(
            (o.visibility, o.heartbeat, o.max_receives),
            (
                Duration::from_secs(9),
                Duration::from_secs(3),
                DEFAULT_MAX_RECEIVES
            )
        );
        assert!(v.loop_options_for(&queue(1, Some(4))).is_err());
        assert_eq!(v.settings.job_salt, "");
        assert_eq!(v.settings.segment_seconds, 10.0);
        assert_eq!(v.settings.stereo.layout, Layout::FullSbs);
        assert_eq!(v.settings.stereo.layout_options, LayoutOptions::default());
        let d = v.depth.expect("the video-worker renders");
        assert_eq!((d.device.as_str(), d.model.is_none()), ("auto", true));
        assert!(cfg(Worker::Media, &[]).unwrap().depth.is_none());
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
                ("ANAGLYPH_METHOD", "Half-Color"),
                ("VR_SCREEN_DEG", "100"),
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
        let lo = c.settings.stereo.layout_options;
        assert_eq!(
            (lo.anaglyph, lo.vr_screen_deg),
            (AnaglyphMethod::HalfColor, 100.0)
        );
        let o = c.loop_options_for(&queue(1800, Some(4))).unwrap();
        assert_eq!(o.grace, Duration::from_secs(5));
        assert_eq!(o.wait, Duration::from_secs(1));
        assert_eq!(o.visibility, Duration::from_secs(4), "the override wins");
        assert_eq!(o.heartbeat, Duration::from_secs(1));
        let d = c.depth.expect("depth");
        assert_eq!(d.model, Some(PathBuf::from("/m/midas.onnx")));
        assert_eq!(d.profile, None);
        // A short visibility without a heartbeat setting gets a heartbeat below it.
        let c = cfg(Worker::Video, &[("VISIBILITY_TIMEOUT_SECONDS", "6")]).unwrap();
        let o = c.loop_options_for(&queue(1800, Some(4))).unwrap();
        assert_eq!(o.heartbeat, Duration::from_secs(2));
        let c = cfg(Worker::Video, &[("SCRATCH_MIN_FREE_MB", "0")]).unwrap();
        assert_eq!(c.scratch_min_free, 0);
        let c = cfg(Worker::Video, &[]).unwrap();
        assert_eq!(c.settings.stereo.depth_window, DEFAULT_WINDOW);
        let c = cfg(Worker::Video, &[("DEPTH_SMOOTHING", "1")]).unwrap();
        assert_eq!(c.settings.stereo.depth_window, 1);
        assert!(
            c.settings.stereo.keep_depth,
            "kept by default: re-renders skip inference"
        );
        let c = cfg(Worker::Video, &[("KEEP_DEPTH", "false")]).unwrap();
        assert!(!c.settings.stereo.keep_depth);
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
            ("ANAGLYPH_METHOD", "magenta"),
            ("VR_SCREEN_DEG", "200"),
            ("VR_SCREEN_DEG", "wide"),
            ("SHUTDOWN_GRACE_SECONDS", "-1"),
            ("POLL_WAIT_SECONDS", "21"),
            ("VISIBILITY_TIMEOUT_SECONDS", "1"),
            ("HEARTBEAT_SECONDS", "0"),
            ("SCRATCH_MIN_FREE_MB", "lots"),
            ("DEPTH_SMOOTHING", "0"),
            ("KEEP_DEPTH", "maybe"),
            ("DEPTH_SMOOTHING", "121"),
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
