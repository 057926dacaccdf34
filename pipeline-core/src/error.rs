//! Pipeline errors, classified as transient (retry with backoff) or permanent (fail the job).
use std::path::PathBuf;

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

/// Whether an error is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, 5xx, timeouts, lost connections: retry with backoff.
    Transient,
    /// Bad input, corrupt media, wrong model: retrying cannot help; fail the job.
    Permanent,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The input is not something we can convert (not a video, truncated, audio-only, ...).
    #[error("{path}: {reason}")]
    BadInput { path: String, reason: String },
    /// A depth model could not be loaded or run.
    #[error("depth model: {0}")]
    Depth(#[from] crate::ports::depth::DepthError),
    /// ffmpeg / ffprobe failed on input we had accepted.
    #[error("{tool} failed: {reason}")]
    Media { tool: &'static str, reason: String },
    /// A local file system problem (output not writable, disk full...).
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A storage / queue / database backend failed. `transient` says whether a retry may help.
    #[error("{backend}: {message}")]
    Backend {
        backend: &'static str,
        message: String,
        transient: bool,
    },
    /// A job or segment the message refers to does not exist or is in the wrong state.
    #[error("{0}")]
    State(String),
    /// A queue message that cannot be understood.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The job ended FAILED; the reason recorded by the step that failed it.
    #[error("{0}")]
    JobFailed(String),
    /// Work was cancelled (shutdown).
    #[error("cancelled")]
    Cancelled,
}

impl PipelineError {
    pub fn class(&self) -> ErrorClass {
        match self {
            PipelineError::Backend {
                transient: true, ..
            } => ErrorClass::Transient,
            PipelineError::Depth(e) if e.is_transient() => ErrorClass::Transient,
            PipelineError::Cancelled => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }
    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PipelineError::Io {
            path: path.into(),
            source,
        }
    }
    pub fn bad_input(path: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        PipelineError::BadInput {
            path: path.to_string(),
            reason: reason.into(),
        }
    }
    pub fn backend(backend: &'static str, message: impl Into<String>, transient: bool) -> Self {
        PipelineError::Backend {
            backend,
            message: message.into(),
            transient,
        }
    }
    pub fn media(tool: &'static str, reason: impl Into<String>) -> Self {
        PipelineError::Media {
            tool,
            reason: reason.into(),
        }
    }
}
