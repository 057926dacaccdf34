//! Depth estimator port: frames in, per-pixel nearness out.
//!
//! Convention for every adapter: a [`DepthMap`] holds **nearness** in `[0, 1]` (1 = nearest,
//! 0 = farthest), computed from one frame alone (no state carried between frames), so that the
//! same frame gives the same map whichever segment or machine processes it. Temporal smoothing
//! of relative models ([`crate::depth::temporal`]) happens after the adapter, in the segment
//! pipeline, over a window the pre-roll makes seam-exact.

/// One decoded frame, packed RGB24, row-major, no padding.
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    pub width: u32,
    pub height: u32,
    pub rgb: &'a [u8],
}

/// Nearness map at the model's output resolution (the renderer resamples it).
#[derive(Debug, Clone, PartialEq)]
pub struct DepthMap {
    pub width: u32,
    pub height: u32,
    pub data: Vec<f32>,
}

#[derive(Debug, thiserror::Error)]
pub enum DepthError {
    #[error("model file {path}: not found")]
    ModelNotFound { path: String },
    /// The model loads but its inputs/outputs do not match the profile, or it is not ONNX.
    #[error("model {model}: {reason}")]
    BadModel { model: String, reason: String },
    /// An explicitly requested execution provider cannot be used.
    #[error("device {device} unavailable: {reason}")]
    DeviceUnavailable { device: String, reason: String },
    /// The ONNX Runtime shared library cannot be found or loaded.
    #[error("ONNX Runtime library: {0}")]
    Runtime(String),
    /// Inference failed on a frame batch.
    #[error("inference failed: {0}")]
    Inference(String),
    /// A remote backend failed in a way that may succeed on retry (throttling, 5xx, timeout).
    #[error("inference backend (transient): {0}")]
    Transient(String),
    /// The inference backend is misconfigured (missing URL or endpoint, bad setting).
    #[error("inference backend configuration: {0}")]
    Config(String),
}

impl DepthError {
    pub fn is_transient(&self) -> bool {
        matches!(self, DepthError::Transient(_))
    }
}

/// A depth model, local or remote. Used from a blocking pipeline thread.
pub trait DepthEstimator: Send {
    /// Human-readable description (model, profile, device).
    fn describe(&self) -> String;
    /// Largest batch `estimate` accepts.
    fn max_batch(&self) -> usize;
    /// Whether the maps are relative depth normalised per frame (learned models), which the
    /// segment pipeline smooths over time, rather than absolute nearness, which it leaves alone.
    fn relative(&self) -> bool {
        false
    }
    /// Estimate nearness for each frame (all frames share one size).
    fn estimate(&mut self, frames: &[FrameRef<'_>]) -> Result<Vec<DepthMap>, DepthError>;
}

/// Builds estimators (one per concurrent segment pipeline).
pub trait DepthEstimatorFactory: Send + Sync {
    fn create(&self) -> Result<Box<dyn DepthEstimator>, DepthError>;
    /// Why depth runs somewhere else than asked, if it does (`--device auto` without a usable
    /// GPU): said once, at debug level and in `convert --json`, not as a warning on every run.
    fn device_note(&self) -> Option<String> {
        None
    }
}
