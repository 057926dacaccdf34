//! Pipeline errors and their three classes. The message loop (`worker::run_loop`) is the one
//! place that turns a class into an outcome:
//!
//! - [`ErrorClass::Transient`]: throttling, 5xx, timeouts, lost connections: retry with backoff.
//! - [`ErrorClass::JobPermanent`]: the input is bad (not a video, corrupt segment, inconsistent
//!   job): the job is marked FAILED once with the reason and the message deleted.
//! - [`ErrorClass::WorkerFatal`]: this worker cannot work (ffmpeg missing, disk full, credentials
//!   or permissions, out of memory, a panic): the message is released at once for another
//!   worker, the job is untouched, and the worker stops with a non-zero exit code.
use std::path::PathBuf;

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

/// What an error means for the message being handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, 5xx, timeouts, lost connections: retry with backoff.
    Transient,
    /// Bad input, corrupt media, an inconsistent job: retrying cannot help; fail the job.
    JobPermanent,
    /// This worker cannot do any work: another (healthy) worker must take the message.
    WorkerFatal,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::JobPermanent => "job-permanent",
            ErrorClass::WorkerFatal => "worker-fatal",
        }
    }
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
    /// A storage / queue / database backend failed; `class` says what a retry can do.
    #[error("{backend}: {message}")]
    Backend {
        backend: &'static str,
        message: String,
        class: ErrorClass,
    },
    /// This worker cannot work (a tool missing or killed, no memory): worker-fatal.
    #[error("{0}")]
    Worker(String),
    /// A task panicked (worker-fatal: the code, not the input, is at fault).
    #[error("{what} panicked: {message}")]
    Panic { what: String, message: String },
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
    /// The job was cancelled (or deleted) by its owner while this step worked on it: the step
    /// stopped and removed what it wrote. The steps answer it themselves; should it reach the
    /// message loop, its class (job-permanent) deletes the message and the FAILED mark is a
    /// no-op on a cancelled job.
    #[error("the job was cancelled")]
    JobCancelled,
}

/// I/O errors that say "this machine", not "this input": a full or read-only disk, a quota,
/// missing permissions on our own scratch space, no memory, no file descriptors.
fn io_is_worker_fatal(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    if matches!(
        e.kind(),
        K::StorageFull
            | K::QuotaExceeded
            | K::ReadOnlyFilesystem
            | K::PermissionDenied
            | K::OutOfMemory
            | K::FileTooLarge
    ) {
        return true;
    }
    // ENOMEM 12, ENFILE 23, EMFILE 24, EFBIG 27, ENOSPC 28, EROFS 30, EDQUOT 122.
    matches!(e.raw_os_error(), Some(12 | 23 | 24 | 27 | 28 | 30 | 122))
}

impl PipelineError {
    pub fn class(&self) -> ErrorClass {
        use crate::ports::depth::DepthError as D;
        match self {
            PipelineError::Backend { class, .. } => *class,
            PipelineError::Cancelled => ErrorClass::Transient,
            PipelineError::Worker(_) | PipelineError::Panic { .. } => ErrorClass::WorkerFatal,
            PipelineError::Io { source, .. } if io_is_worker_fatal(source) => {
                ErrorClass::WorkerFatal
            }
            PipelineError::Depth(e) => match e {
                D::Transient(_) => ErrorClass::Transient,
                // A frame the model cannot take is about the input.
                D::Inference(_) => ErrorClass::JobPermanent,
                // Model, runtime, device, configuration: the worker's setup.
                D::ModelNotFound { .. }
                | D::BadModel { .. }
                | D::DeviceUnavailable { .. }
                | D::Runtime(_)
                | D::Config(_) => ErrorClass::WorkerFatal,
            },
            _ => ErrorClass::JobPermanent,
        }
    }
    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }
    pub fn is_worker_fatal(&self) -> bool {
        self.class() == ErrorClass::WorkerFatal
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
    /// A backend error that is transient (`true`) or job-permanent (`false`).
    pub fn backend(backend: &'static str, message: impl Into<String>, transient: bool) -> Self {
        let class = if transient {
            ErrorClass::Transient
        } else {
            ErrorClass::JobPermanent
        };
        Self::backend_class(backend, message, class)
    }
    pub fn backend_class(
        backend: &'static str,
        message: impl Into<String>,
        class: ErrorClass,
    ) -> Self {
        PipelineError::Backend {
            backend,
            message: message.into(),
            class,
        }
    }
    pub fn media(tool: &'static str, reason: impl Into<String>) -> Self {
        PipelineError::Media {
            tool,
            reason: reason.into(),
        }
    }
    pub fn worker(reason: impl Into<String>) -> Self {
        PipelineError::Worker(reason.into())
    }
    /// The error of a `spawn_blocking` / spawned task that did not return: a panic (with its
    /// message) or a cancellation.
    pub fn from_join(what: &str, e: tokio::task::JoinError) -> Self {
        if e.is_panic() {
            PipelineError::Panic {
                what: what.to_string(),
                message: panic_message(e.into_panic().as_ref()),
            }
        } else {
            PipelineError::Cancelled
        }
    }
}

/// The text of a panic payload (`panic!("...")` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::depth::DepthError;
    use std::io;

    #[test]
    fn three_classes() {
        let full = io::Error::from_raw_os_error(28);
        assert_eq!(
            PipelineError::io("/scratch/x", full).class(),
            ErrorClass::WorkerFatal
        );
        let denied = io::Error::new(io::ErrorKind::PermissionDenied, "no");
        assert!(PipelineError::io("/scratch", denied).is_worker_fatal());
        let missing = io::Error::new(io::ErrorKind::NotFound, "gone");
        assert_eq!(
            PipelineError::io("/in.mp4", missing).class(),
            ErrorClass::JobPermanent
        );
        assert_eq!(
            PipelineError::bad_input("a.mp4", "not a video").class(),
            ErrorClass::JobPermanent
        );
        assert_eq!(
            PipelineError::media("ffmpeg", "Invalid data").class(),
            ErrorClass::JobPermanent
        );
        assert!(PipelineError::worker("ffmpeg killed by signal 9").is_worker_fatal());
        assert!(PipelineError::backend("s3", "slow down", true).is_transient());
        assert_eq!(
            PipelineError::backend("s3", "bad request", false).class(),
            ErrorClass::JobPermanent
        );
        assert!(PipelineError::Depth(DepthError::Transient("503".into())).is_transient());
        assert!(PipelineError::Depth(DepthError::Runtime("no lib".into())).is_worker_fatal());
        assert_eq!(
            PipelineError::Depth(DepthError::Inference("shape".into())).class(),
            ErrorClass::JobPermanent
        );
        assert!(PipelineError::Cancelled.is_transient());
    }

    #[tokio::test]
    async fn a_panicking_task_becomes_a_worker_fatal_error_with_its_message() {
        let e = tokio::task::spawn_blocking(|| -> u32 { panic!("boom {}", 7) })
            .await
            .map_err(|e| PipelineError::from_join("render", e))
            .unwrap_err();
        assert!(e.is_worker_fatal());
        assert_eq!(e.to_string(), "render panicked: boom 7");
    }
}
