//! Locating and loading the ONNX Runtime shared library (the `ort` crate's `load-dynamic` mode).
//!
//! ONNX Runtime allows one environment per process, so it is created once here and shared by
//! every session (and by any other crate in the process that needs ORT: use [`ort_environment`]).
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;

use crate::ports::depth::DepthError;

/// Environment variable naming the ONNX Runtime library file.
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

const HINT: &str =
    "run `make deps` (it downloads it into .deps/onnxruntime/) or set ORT_DYLIB_PATH to a \
                    libonnxruntime.so (ONNX Runtime >= 1.24)";

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

/// Where the ONNX Runtime library is: `$ORT_DYLIB_PATH`, else a `libonnxruntime.so*` next to the
/// running executable, else one in `<exe dir>/../lib`.
pub fn ort_library_path() -> Result<PathBuf, DepthError> {
    if let Some(value) = std::env::var_os(ORT_DYLIB_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(value);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(DepthError::Runtime(format!(
                "{ORT_DYLIB_ENV}={} is not a file; {HINT}",
                path.display()
            )))
        };
    }
    let mut searched = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        for dir in [exe_dir.clone(), exe_dir.join("..").join("lib")] {
            if let Some(found) = find_library_in(&dir) {
                return Ok(found);
            }
            searched.push(dir.display().to_string());
        }
    }
    Err(DepthError::Runtime(format!(
        "libonnxruntime.so not found ({ORT_DYLIB_ENV} unset; searched {}); {HINT}",
        if searched.is_empty() {
            "nothing".to_string()
        } else {
            searched.join(", ")
        }
    )))
}

/// A file named `libonnxruntime.so` or `libonnxruntime.so.<version>` in `dir`; with several, the
/// highest version wins (an unversioned name counts as lowest).
fn find_library_in(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = if name == "libonnxruntime.so" {
                Vec::new()
            } else {
                let rest = name.strip_prefix("libonnxruntime.so.")?;
                rest.split('.')
                    .map(|part| part.parse::<u64>().unwrap_or(0))
                    .collect()
            };
            let path = entry.path();
            path.is_file().then_some((version, path))
        })
        .max()
        .map(|(_, path)| path)
}

/// The process-wide ONNX Runtime environment, loading the library found by
/// [`ort_library_path`] on first use.
pub fn ort_environment() -> Result<Environment, DepthError> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env.clone());
    }
    let path = ort_library_path()?;
    init_ort_from(&path)
}

/// Load ONNX Runtime from `path` and create the process-wide environment. If it already exists
/// (from an earlier call), that one is returned and `path` is ignored.
pub fn init_ort_from(path: &Path) -> Result<Environment, DepthError> {
    let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env.clone());
    }
    let builder = ort::init_from(path)
        .map_err(|e| DepthError::Runtime(format!("cannot load {}: {e}; {HINT}", path.display())))?;
    let env = builder
        .with_name("stereospot")
        .with_telemetry(false)
        .build()
        .map_err(|e| DepthError::Runtime(format!("creating the ONNX Runtime environment: {e}")))?;
    tracing::debug!(library = %path.display(), "ONNX Runtime loaded");
    Ok(ENVIRONMENT.get_or_init(|| env).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_versioned_library_and_ignores_providers() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(find_library_in(dir.path()), None);
        std::fs::write(dir.path().join("libonnxruntime_providers_shared.so"), b"x").expect("write");
        std::fs::write(dir.path().join("libonnxruntime.so.1.31.1"), b"x").expect("write");
        assert_eq!(
            find_library_in(dir.path()),
            Some(dir.path().join("libonnxruntime.so.1.31.1"))
        );
        std::fs::write(dir.path().join("libonnxruntime.so.1.9.0"), b"x").expect("write");
        std::fs::write(dir.path().join("libonnxruntime.so"), b"x").expect("write");
        // Highest version wins, compared numerically (1.31 > 1.9).
        assert_eq!(
            find_library_in(dir.path()),
            Some(dir.path().join("libonnxruntime.so.1.31.1"))
        );
        assert_eq!(find_library_in(&dir.path().join("missing")), None);
    }
}
