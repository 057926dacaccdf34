//! The single source of the environment variable names the workers read.
//!
//! `infra/` sets exactly these on the ECS services (its contract test parses this file), and
//! `smoke-test provision` writes them into its env file. One `pub const NAME: &str = "NAME";`
//! per line; keep that shape, the contract test reads it.

// --- resources (required by every worker; a missing one fails start-up naming it) ---
pub const INPUT_BUCKET: &str = "INPUT_BUCKET";
pub const OUTPUT_BUCKET: &str = "OUTPUT_BUCKET";
pub const CHUNKING_QUEUE_URL: &str = "CHUNKING_QUEUE_URL";
pub const VIDEO_WORKER_QUEUE_URL: &str = "VIDEO_WORKER_QUEUE_URL";
pub const SEGMENT_OUTPUT_QUEUE_URL: &str = "SEGMENT_OUTPUT_QUEUE_URL";
pub const REASSEMBLY_QUEUE_URL: &str = "REASSEMBLY_QUEUE_URL";
pub const JOBS_TABLE: &str = "JOBS_TABLE";
pub const SEGMENT_COMPLETIONS_TABLE: &str = "SEGMENT_COMPLETIONS_TABLE";
pub const REASSEMBLY_TRIGGERED_TABLE: &str = "REASSEMBLY_TRIGGERED_TABLE";

/// Every resource variable, in the order above.
pub const RESOURCE_VARS: &[&str] = &[
    INPUT_BUCKET,
    OUTPUT_BUCKET,
    CHUNKING_QUEUE_URL,
    VIDEO_WORKER_QUEUE_URL,
    SEGMENT_OUTPUT_QUEUE_URL,
    REASSEMBLY_QUEUE_URL,
    JOBS_TABLE,
    SEGMENT_COMPLETIONS_TABLE,
    REASSEMBLY_TRIGGERED_TABLE,
];

// --- optional tuning (defaults in parentheses) ---
/// `json` for JSON log lines (text).
pub const LOG_FORMAT: &str = "LOG_FORMAT";
/// Seconds a worker may spend finishing its in-flight message after SIGTERM (90).
pub const SHUTDOWN_GRACE_SECONDS: &str = "SHUTDOWN_GRACE_SECONDS";
/// Target segment length in seconds for the media-worker (10).
pub const SEGMENT_SECONDS: &str = "SEGMENT_SECONDS";
/// Stereo layout for the video-worker (full-sbs).
pub const STEREO_LAYOUT: &str = "STEREO_LAYOUT";
/// Divergence in percent of width (2.0).
pub const DIVERGENCE: &str = "DIVERGENCE";
/// Convergence, the nearness on the screen plane, 0..1 (0.5).
pub const CONVERGENCE: &str = "CONVERGENCE";
/// Temporal window of relative depth models, in frames, 1..120 (8; 1 = per frame).
pub const DEPTH_SMOOTHING: &str = "DEPTH_SMOOTHING";
/// Keep each segment's depth maps next to its output (`jobs/<job>/depth/`), so a re-render with
/// new 3D settings skips inference: true | false (true).
pub const KEEP_DEPTH: &str = "KEEP_DEPTH";
/// Anaglyph matrices for STEREO_LAYOUT=anaglyph: dubois | dubois2 | color | half-color | gray |
/// wimmer (dubois).
pub const ANAGLYPH_METHOD: &str = "ANAGLYPH_METHOD";
/// Width of the VR180 virtual screen in degrees, 20..160, for STEREO_LAYOUT=vr180 / vr180-tb
/// (90).
pub const VR_SCREEN_DEG: &str = "VR_SCREEN_DEG";
/// Path to an ONNX depth model (embedded stereospot-cues model).
pub const MODEL_PATH: &str = "MODEL_PATH";
/// Registry name of a model fetched with `stereospot models fetch` (instead of MODEL_PATH): its
/// file in $STEREOSPOT_MODELS (else ~/.cache/stereospot/models) and its profile.
pub const MODEL_NAME: &str = "MODEL_NAME";
/// Profile of MODEL_PATH: stereospot-cues | depth-anything-v2 | midas-small.
pub const MODEL_PROFILE: &str = "MODEL_PROFILE";
/// cpu | cuda | tensorrt | auto (auto).
pub const DEPTH_DEVICE: &str = "DEPTH_DEVICE";
/// local | sagemaker | http (local).
pub const INFERENCE_BACKEND: &str = "INFERENCE_BACKEND";
/// SageMaker endpoint name, for INFERENCE_BACKEND=sagemaker.
pub const SAGEMAKER_ENDPOINT_NAME: &str = "SAGEMAKER_ENDPOINT_NAME";
/// Base URL of a self-hosted inference server, for INFERENCE_BACKEND=http.
pub const INFERENCE_URL: &str = "INFERENCE_URL";
/// Seconds one remote inference call (http, sagemaker) may take before it is abandoned (60).
pub const INFERENCE_TIMEOUT_SECONDS: &str = "INFERENCE_TIMEOUT_SECONDS";
/// Attempts per remote inference call on transient errors: throttling, 5xx, timeouts (4, the
/// retry policy of every remote call, `config::retry`).
pub const INFERENCE_MAX_ATTEMPTS: &str = "INFERENCE_MAX_ATTEMPTS";
/// Frames per inference call (4).
pub const DEPTH_BATCH_SIZE: &str = "DEPTH_BATCH_SIZE";
/// Port of the inference-server; SageMaker sets it (8080).
pub const SAGEMAKER_BIND_TO_PORT: &str = "SAGEMAKER_BIND_TO_PORT";
/// Requests the inference-server runs at once, one model session each (half the CPU cores).
pub const SAGEMAKER_MODEL_SERVER_WORKERS: &str = "SAGEMAKER_MODEL_SERVER_WORKERS";
/// Path of the ONNX Runtime shared library (searched next to the executable otherwise).
pub const ORT_DYLIB_PATH: &str = "ORT_DYLIB_PATH";
/// Model-download token (Hugging Face), for fetching MODEL_PATH from a model hub. `infra/`
/// injects it from Secrets Manager (never as a plain env value) where a model is loaded.
pub const HF_TOKEN: &str = "HF_TOKEN";
/// Long-poll wait of a worker's receive calls, 0..20 seconds (20).
pub const POLL_WAIT_SECONDS: &str = "POLL_WAIT_SECONDS";
/// Overrides the visibility a worker's heartbeat keeps granting its in-flight message, in
/// seconds (unset: the queue's own VisibilityTimeout, read at start-up; tests shorten it).
pub const VISIBILITY_TIMEOUT_SECONDS: &str = "VISIBILITY_TIMEOUT_SECONDS";
/// Heartbeat period of in-flight messages, in seconds, below the visibility (a third of it, at
/// most 60).
pub const HEARTBEAT_SECONDS: &str = "HEARTBEAT_SECONDS";
/// Free space the scratch directory ($TMPDIR) needs at start-up, in MiB (512).
pub const SCRATCH_MIN_FREE_MB: &str = "SCRATCH_MIN_FREE_MB";
/// Reassembler: seconds between two sweeps for stuck jobs, 0 = no sweeper (300).
pub const SWEEP_INTERVAL_SECONDS: &str = "SWEEP_INTERVAL_SECONDS";
/// Reassembler: seconds without progress, per outstanding segment, after which a job is stuck
/// (three times the video-worker queue's visibility timeout).
pub const SWEEP_STALL_SECONDS: &str = "SWEEP_STALL_SECONDS";

// --- web-ui (docs/web-api.md) ---
/// Address the web-ui listens on (0.0.0.0:8080).
pub const WEB_LISTEN_ADDR: &str = "WEB_LISTEN_ADDR";
/// Access control of the web-ui: none | bearer | alb-oidc (required, no default).
pub const WEB_AUTH: &str = "WEB_AUTH";
/// The bearer token, for WEB_AUTH=bearer (at least 16 characters).
pub const WEB_AUTH_TOKEN: &str = "WEB_AUTH_TOKEN";
/// More bearer users, for WEB_AUTH=bearer: `name=token,name=token` (each token one user).
pub const WEB_AUTH_USERS: &str = "WEB_AUTH_USERS";
/// Users (bearer names or ALB OIDC identities) who see every job: `name,name`.
pub const WEB_ADMINS: &str = "WEB_ADMINS";
/// Largest upload `POST /api/jobs` accepts, in bytes (4 GiB).
pub const WEB_MAX_UPLOAD_BYTES: &str = "WEB_MAX_UPLOAD_BYTES";
/// Uploads up to this size get one presigned PUT, larger ones a multipart upload (100 MiB).
pub const WEB_SINGLE_PUT_MAX_BYTES: &str = "WEB_SINGLE_PUT_MAX_BYTES";
/// Part size of multipart uploads, 5 MiB..5 GiB (64 MiB).
pub const WEB_PART_BYTES: &str = "WEB_PART_BYTES";
/// Lifetime of presigned upload URLs, in seconds (3600).
pub const WEB_UPLOAD_URL_SECONDS: &str = "WEB_UPLOAD_URL_SECONDS";
/// Lifetime of presigned result URLs, in seconds (3600).
pub const WEB_RESULT_URL_SECONDS: &str = "WEB_RESULT_URL_SECONDS";
/// How often a `/events` stream reads the job record, in milliseconds (1000).
pub const WEB_EVENTS_POLL_MS: &str = "WEB_EVENTS_POLL_MS";
