//! Remote depth backends and the choice between them.
//!
//! - `local`: ONNX Runtime in this process ([`crate::depth::OrtFactory`]).
//! - `http`: a self-hosted `inference-server` at `INFERENCE_URL` ([`http`]).
//! - `sagemaker`: a SageMaker real-time endpoint `SAGEMAKER_ENDPOINT_NAME` ([`sagemaker`], needs
//!   the `aws` feature).
//!
//! Remote backends resize frames to the model input on the client with the same resampler as the
//! local path and send them as u8 RGB ([`wire`]); the server normalises, runs the model and
//! returns nearness at the model's output size as u16. Local and remote maps therefore differ
//! only by the u8 rounding of the resized input (at most 0.5/255 per channel) and the u16 step
//! of the output (1/65535).
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::env_names;
use crate::depth::profile::Profile;
use crate::ports::depth::{DepthError, DepthEstimatorFactory};

pub mod client;
pub mod http;
#[cfg(feature = "aws")]
pub mod sagemaker;
pub mod wire;

pub use client::{FramePacker, RemoteEstimator, RemoteFactory, RemoteSettings, Transport};
pub use http::{http_factory, HttpFactory, HttpTransport};
#[cfg(feature = "aws")]
pub use sagemaker::{sagemaker_factory, SageMakerFactory, SageMakerTransport};

/// Where depth inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    Http,
    SageMaker,
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(Backend::Local),
            "http" => Ok(Backend::Http),
            "sagemaker" => Ok(Backend::SageMaker),
            _ => Err(format!(
                "unknown inference backend `{s}`; expected local|http|sagemaker"
            )),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Local => "local",
            Backend::Http => "http",
            Backend::SageMaker => "sagemaker",
        })
    }
}

/// Defaults of the optional settings.
pub const DEFAULT_BATCH: usize = 4;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_MAX_ATTEMPTS: u32 = crate::config::retry::ATTEMPTS as u32;

/// Everything that selects and configures a depth backend.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendArgs {
    pub backend: Backend,
    /// Local ONNX file (`local` only: remote backends run the server's model).
    pub model: Option<PathBuf>,
    /// Profile name; remote backends default to `stereospot-cues` and must match the server's.
    pub profile: Option<String>,
    /// `cpu|cuda|tensorrt|auto` (`local` only).
    pub device: String,
    /// Frames per inference call.
    pub batch: usize,
    pub inference_url: Option<String>,
    pub sagemaker_endpoint: Option<String>,
    /// Per remote call.
    pub timeout: Duration,
    /// Attempts per remote call on transient errors.
    pub max_attempts: u32,
}

impl Default for BackendArgs {
    fn default() -> Self {
        BackendArgs {
            backend: Backend::Local,
            model: None,
            profile: None,
            device: "auto".into(),
            batch: DEFAULT_BATCH,
            inference_url: None,
            sagemaker_endpoint: None,
            timeout: DEFAULT_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

fn parse_var<T: FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    ok: impl Fn(&T) -> bool,
    expected: &str,
) -> Result<Option<T>, DepthError> {
    match get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    {
        None => Ok(None),
        Some(raw) => match raw.parse::<T>() {
            Ok(v) if ok(&v) => Ok(Some(v)),
            _ => Err(DepthError::Config(format!(
                "{name}=`{raw}`: expected {expected}"
            ))),
        },
    }
}

fn non_empty(get: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl BackendArgs {
    /// The variables [`BackendArgs::from_env`] reads, for docs and checks.
    pub const ENV_VARS: &'static [&'static str] = &[
        env_names::INFERENCE_BACKEND,
        env_names::MODEL_PATH,
        env_names::MODEL_NAME,
        env_names::MODEL_PROFILE,
        env_names::DEPTH_DEVICE,
        env_names::DEPTH_BATCH_SIZE,
        env_names::INFERENCE_URL,
        env_names::SAGEMAKER_ENDPOINT_NAME,
        env_names::INFERENCE_TIMEOUT_SECONDS,
        env_names::INFERENCE_MAX_ATTEMPTS,
    ];

    /// From the process environment (what the video-worker uses).
    pub fn from_env() -> Result<BackendArgs, DepthError> {
        BackendArgs::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any variable lookup; unset and empty variables take the defaults.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<BackendArgs, DepthError> {
        let backend = match non_empty(&get, env_names::INFERENCE_BACKEND) {
            None => Backend::Local,
            Some(raw) => raw.parse().map_err(|e| {
                DepthError::Config(format!("{}: {e}", env_names::INFERENCE_BACKEND))
            })?,
        };
        let mut args = BackendArgs {
            backend,
            model: non_empty(&get, env_names::MODEL_PATH).map(PathBuf::from),
            profile: non_empty(&get, env_names::MODEL_PROFILE),
            device: non_empty(&get, env_names::DEPTH_DEVICE).unwrap_or_else(|| "auto".into()),
            inference_url: non_empty(&get, env_names::INFERENCE_URL),
            sagemaker_endpoint: non_empty(&get, env_names::SAGEMAKER_ENDPOINT_NAME),
            ..BackendArgs::default()
        };
        if let Some(name) = non_empty(&get, env_names::MODEL_NAME) {
            args.apply_model_name(&name, &get)?;
        }
        if let Some(b) = parse_var::<usize>(
            &get,
            env_names::DEPTH_BATCH_SIZE,
            |b| (1..=256).contains(b),
            "a frame count 1..=256",
        )? {
            args.batch = b;
        }
        args.apply_tuning_from(&get)?;
        Ok(args)
    }

    /// `MODEL_NAME`: a registry model, resolved to its downloaded file and (unless
    /// `MODEL_PROFILE` says otherwise) its profile. Excludes `MODEL_PATH`.
    fn apply_model_name(
        &mut self,
        name: &str,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), DepthError> {
        if self.model.is_some() {
            return Err(DepthError::Config(format!(
                "set {} or {}, not both",
                env_names::MODEL_NAME,
                env_names::MODEL_PATH
            )));
        }
        let dir = crate::depth::catalog::models_dir(get, None);
        let resolved = crate::depth::catalog::resolve(name, &dir)
            .map_err(|e| DepthError::Config(format!("{}: {e}", env_names::MODEL_NAME)))?;
        self.model = Some(resolved.path);
        if self.profile.is_none() {
            self.profile = Some(resolved.entry.profile.to_string());
        }
        Ok(())
    }

    /// Read only the remote call tuning (`INFERENCE_TIMEOUT_SECONDS`, `INFERENCE_MAX_ATTEMPTS`)
    /// from the process environment, e.g. on top of command-line flags.
    pub fn with_tuning_from_env(mut self) -> Result<BackendArgs, DepthError> {
        self.apply_tuning_from(&|name: &str| std::env::var(name).ok())?;
        Ok(self)
    }

    fn apply_tuning_from(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), DepthError> {
        if let Some(secs) = parse_var::<f64>(
            get,
            env_names::INFERENCE_TIMEOUT_SECONDS,
            |s| s.is_finite() && *s >= 0.1 && *s <= 3600.0,
            "seconds between 0.1 and 3600",
        )? {
            self.timeout = Duration::from_secs_f64(secs);
        }
        if let Some(n) = parse_var::<u32>(
            get,
            env_names::INFERENCE_MAX_ATTEMPTS,
            |n| (1..=10).contains(n),
            "an attempt count 1..=10",
        )? {
            self.max_attempts = n;
        }
        Ok(())
    }

    /// Settings of a remote backend (checks that no local model file was given).
    pub fn remote_settings(&self) -> Result<RemoteSettings, DepthError> {
        if let Some(model) = &self.model {
            return Err(DepthError::Config(format!(
                "a local model file ({}) does not apply to the {} backend: the model is loaded \
                 by the inference server; give only its profile (--model-profile / MODEL_PROFILE)",
                model.display(),
                self.backend
            )));
        }
        let profile = match &self.profile {
            None => Profile::stereospot_cues(),
            Some(name) => Profile::by_name(name).map_err(DepthError::Config)?,
        };
        Ok(RemoteSettings {
            profile,
            batch: self.batch.max(1),
            timeout: self.timeout,
            max_attempts: self.max_attempts.max(1),
            max_request_bytes: wire::MAX_REQUEST_BYTES,
        })
    }
}

/// Build the selected, validated factory. `local` loads and checks the model now; remote
/// backends check their settings (the first call reaches the server).
pub fn build_factory(args: &BackendArgs) -> Result<Arc<dyn DepthEstimatorFactory>, DepthError> {
    match args.backend {
        Backend::Local => Ok(Arc::new(crate::depth::factory_from_args(
            args.model.clone(),
            args.profile.as_deref(),
            &args.device,
            args.batch,
        )?)),
        Backend::Http => {
            let url = args.inference_url.as_deref().ok_or_else(|| {
                DepthError::Config(
                    "the http backend needs the server's URL (INFERENCE_URL or --inference-url)"
                        .into(),
                )
            })?;
            Ok(Arc::new(http_factory(url, args.remote_settings()?)?))
        }
        Backend::SageMaker => build_sagemaker(args),
    }
}

#[cfg(feature = "aws")]
fn build_sagemaker(args: &BackendArgs) -> Result<Arc<dyn DepthEstimatorFactory>, DepthError> {
    let endpoint = args.sagemaker_endpoint.as_deref().unwrap_or("");
    Ok(Arc::new(sagemaker_factory(
        endpoint,
        args.remote_settings()?,
    )?))
}

#[cfg(not(feature = "aws"))]
fn build_sagemaker(_args: &BackendArgs) -> Result<Arc<dyn DepthEstimatorFactory>, DepthError> {
    Err(DepthError::Config(
        "this build has no SageMaker support (pipeline-core built without the `aws` feature)"
            .into(),
    ))
}

/// [`build_factory`] from the process environment: what the video-worker calls.
pub fn factory_from_env() -> Result<Arc<dyn DepthEstimatorFactory>, DepthError> {
    build_factory(&BackendArgs::from_env()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn backend_names_round_trip() {
        for b in [Backend::Local, Backend::Http, Backend::SageMaker] {
            assert_eq!(b.to_string().parse::<Backend>(), Ok(b));
        }
        assert_eq!(" SageMaker ".parse::<Backend>(), Ok(Backend::SageMaker));
        let err = "grpc".parse::<Backend>().expect_err("grpc");
        assert!(err.contains("local|http|sagemaker"), "{err}");
    }

    #[test]
    fn env_defaults_to_local() {
        let args = BackendArgs::from_lookup(lookup(&[])).expect("defaults");
        assert_eq!(args, BackendArgs::default());
        assert_eq!(args.backend, Backend::Local);
        assert_eq!((args.batch, args.max_attempts), (4, 4));
        assert_eq!(args.timeout, Duration::from_secs(60));
        // Empty values count as unset.
        let args = BackendArgs::from_lookup(lookup(&[
            ("INFERENCE_BACKEND", " "),
            ("DEPTH_BATCH_SIZE", ""),
        ]))
        .expect("empty");
        assert_eq!(args, BackendArgs::default());
    }

    #[test]
    fn env_is_read() {
        let args = BackendArgs::from_lookup(lookup(&[
            ("INFERENCE_BACKEND", "sagemaker"),
            ("SAGEMAKER_ENDPOINT_NAME", "stereospot-depth"),
            ("MODEL_PROFILE", "midas-small"),
            ("DEPTH_BATCH_SIZE", "12"),
            ("INFERENCE_TIMEOUT_SECONDS", "2.5"),
            ("INFERENCE_MAX_ATTEMPTS", "1"),
            ("INFERENCE_URL", "http://x:1"),
        ]))
        .expect("args");
        assert_eq!(args.backend, Backend::SageMaker);
        assert_eq!(args.sagemaker_endpoint.as_deref(), Some("stereospot-depth"));
        assert_eq!(args.profile.as_deref(), Some("midas-small"));
        assert_eq!(args.batch, 12);
        assert_eq!(args.timeout, Duration::from_millis(2500));
        assert_eq!(args.max_attempts, 1);
        let s = args.remote_settings().expect("settings");
        assert_eq!(s.profile.name, "midas-small");
        assert_eq!((s.batch, s.max_attempts), (12, 1));
    }

    #[test]
    fn model_name_resolves_to_the_fetched_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let models = dir.path().to_str().expect("utf-8").to_string();
        let vars = [
            ("MODEL_NAME", "midas-small"),
            ("STEREOSPOT_MODELS", &models),
        ];
        let err = BackendArgs::from_lookup(lookup(&vars)).expect_err("not fetched");
        assert!(
            err.to_string().contains("MODEL_NAME")
                && err
                    .to_string()
                    .contains("stereospot models fetch midas-small"),
            "{err}"
        );
        let file = dir.path().join("midas-v21-small-256.onnx");
        std::fs::write(&file, b"onnx").expect("write");
        let args = BackendArgs::from_lookup(lookup(&vars)).expect("resolved");
        assert_eq!(args.model.as_deref(), Some(file.as_path()));
        assert_eq!(args.profile.as_deref(), Some("midas-small"));
        let with_profile = [
            ("MODEL_NAME", "midas-small"),
            ("STEREOSPOT_MODELS", &models),
            ("MODEL_PROFILE", "stereospot-cues"),
        ];
        let args = BackendArgs::from_lookup(lookup(&with_profile)).expect("resolved");
        assert_eq!(args.profile.as_deref(), Some("stereospot-cues"));
        let both = [("MODEL_NAME", "midas-small"), ("MODEL_PATH", "/m/x.onnx")];
        let err = BackendArgs::from_lookup(lookup(&both)).expect_err("both");
        assert!(err.to_string().contains("not both"), "{err}");
        let err = BackendArgs::from_lookup(lookup(&[("MODEL_NAME", "dpt")])).expect_err("unknown");
        assert!(err.to_string().contains("depth-anything-v2-small"), "{err}");
    }

    #[test]
    fn bad_env_values_name_the_variable() {
        for (name, value) in [
            ("INFERENCE_BACKEND", "triton"),
            ("DEPTH_BATCH_SIZE", "0"),
            ("DEPTH_BATCH_SIZE", "lots"),
            ("INFERENCE_TIMEOUT_SECONDS", "-1"),
            ("INFERENCE_TIMEOUT_SECONDS", "NaN"),
            ("INFERENCE_MAX_ATTEMPTS", "0"),
            ("INFERENCE_MAX_ATTEMPTS", "99"),
        ] {
            let err = BackendArgs::from_lookup(lookup(&[(name, value)])).expect_err(name);
            assert!(matches!(err, DepthError::Config(_)), "{err}");
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn remote_backends_check_their_settings() {
        let http = BackendArgs {
            backend: Backend::Http,
            ..BackendArgs::default()
        };
        let err = build_factory(&http).err().expect("no url");
        assert!(err.to_string().contains("INFERENCE_URL"), "{err}");
        let err = build_factory(&BackendArgs {
            inference_url: Some("https://x".into()),
            ..http.clone()
        })
        .err()
        .expect("https");
        assert!(err.to_string().contains("plain HTTP"), "{err}");
        let err = build_factory(&BackendArgs {
            inference_url: Some("http://x:1".into()),
            model: Some("/m/midas.onnx".into()),
            ..http.clone()
        })
        .err()
        .expect("model file");
        assert!(
            err.to_string().contains("loaded by the inference server"),
            "{err}"
        );
        let err = build_factory(&BackendArgs {
            inference_url: Some("http://x:1".into()),
            profile: Some("dpt".into()),
            ..http.clone()
        })
        .err()
        .expect("profile");
        assert!(err.to_string().contains("unknown model profile"), "{err}");
        let ok = build_factory(&BackendArgs {
            inference_url: Some("http://127.0.0.1:1".into()),
            batch: 8,
            ..http
        })
        .expect("http factory");
        let est = ok.create().expect("estimator");
        assert_eq!(est.max_batch(), 8);
        assert!(
            est.describe().contains("http://127.0.0.1:1/invocations"),
            "{}",
            est.describe()
        );

        let sm = BackendArgs {
            backend: Backend::SageMaker,
            ..BackendArgs::default()
        };
        let err = build_factory(&sm).err().expect("no endpoint");
        assert!(matches!(err, DepthError::Config(_)), "{err}");
        assert!(
            err.to_string().contains("SAGEMAKER_ENDPOINT_NAME") || err.to_string().contains("aws"),
            "{err}"
        );
    }
}
