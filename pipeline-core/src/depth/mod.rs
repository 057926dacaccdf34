//! Depth estimation: profiles, pre/post-processing and the ONNX Runtime adapter.
//!
//! The default model is StereoSpot's own monocular-cue heuristic (`models/stereospot-cues.onnx`,
//! embedded in the binary); learned models (Depth Anything V2 Small, MiDaS v2.1 small) are files
//! the user passes with a profile, or fetches by name from the registry ([`catalog`],
//! [`download`]: `stereospot models fetch NAME`). See `docs/models.md`.
use std::path::{Path, PathBuf};

use crate::ports::depth::DepthError;

pub mod catalog;
pub mod depth_file;
pub mod download;
pub mod io_check;
pub mod ort_backend;
pub mod postprocess;
pub mod preprocess;
pub mod profile;
pub mod remote;
pub mod runtime;
pub mod temporal;

pub use io_check::{ModelIo, TensorSig};
pub use ort_backend::{Device, ModelSource, OrtConfig, OrtEstimator, OrtFactory, EMBEDDED_MODEL};
pub use postprocess::to_nearness;
pub use preprocess::Resampler;
pub use profile::{Layout, Normalization, OutputMeaning, Profile, ResizePolicy, PROFILE_NAMES};
pub use runtime::{init_ort_from, ort_environment, ort_library_path, ORT_DYLIB_ENV};
pub use temporal::Stabiliser;

/// Build a validated factory from command-line style arguments.
///
/// - no `model`: the embedded cue model with the `stereospot-cues` profile (a `profile` other
///   than `stereospot-cues` is an error: it needs a model file);
/// - `model` with `profile`: that profile;
/// - `model` without `profile`: the profile is guessed from the file name only when it is
///   unambiguous (`depth_anything`/`depth-anything`/`depthanything` -> `depth-anything-v2`,
///   `midas` -> `midas-small`, `stereospot-cues` -> `stereospot-cues`); otherwise an error asks for
///   `--model-profile`.
///
/// `device` is `cpu|cuda|tensorrt|auto`; `batch` 0 counts as 1.
pub fn factory_from_args(
    model: Option<PathBuf>,
    profile: Option<&str>,
    device: &str,
    batch: usize,
) -> Result<OrtFactory, DepthError> {
    let device: Device = device
        .parse()
        .map_err(|reason| DepthError::DeviceUnavailable {
            device: device.to_string(),
            reason,
        })?;
    let (source, profile) = match (model, profile) {
        (None, None) => (ModelSource::Embedded, Profile::stereospot_cues()),
        (None, Some(name)) => {
            let profile = Profile::by_name(name).map_err(|reason| DepthError::BadModel {
                model: "embedded stereospot-cues".into(),
                reason,
            })?;
            if profile.name != "stereospot-cues" {
                return Err(DepthError::BadModel {
                    model: "embedded stereospot-cues".into(),
                    reason: format!(
                        "--model-profile {} needs --model PATH (the embedded model uses stereospot-cues)",
                        profile.name
                    ),
                });
            }
            (ModelSource::Embedded, profile)
        }
        (Some(path), Some(name)) => {
            let profile = Profile::by_name(name).map_err(|reason| DepthError::BadModel {
                model: path.display().to_string(),
                reason,
            })?;
            (ModelSource::Path(path), profile)
        }
        (Some(path), None) => {
            let profile = guess_profile(&path).ok_or_else(|| DepthError::BadModel {
                model: path.display().to_string(),
                reason: format!(
                    "cannot tell which profile fits this file from its name; pass --model-profile \
                     ({})",
                    PROFILE_NAMES.join(", ")
                ),
            })?;
            tracing::info!(model = %path.display(), profile = %profile.name, "profile chosen from the file name");
            (ModelSource::Path(path), profile)
        }
    };
    let mut cfg = OrtConfig::new(source, profile);
    cfg.device = device;
    cfg.batch_size = batch.max(1);
    OrtFactory::new(cfg)
}

/// The profile a model file's name makes obvious, if any.
pub fn guess_profile(path: &Path) -> Option<Profile> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let compact: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let hits: Vec<&str> = [
        ("depthanything", "depth-anything-v2"),
        ("midas", "midas-small"),
        ("stereospotcues", "stereospot-cues"),
    ]
    .into_iter()
    .filter(|(needle, _)| compact.contains(needle))
    .map(|(_, profile)| profile)
    .collect();
    match hits.as_slice() {
        [one] => Profile::by_name(one).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guessed(name: &str) -> Option<String> {
        guess_profile(Path::new(name)).map(|p| p.name)
    }

    #[test]
    fn profile_is_guessed_only_from_obvious_names() {
        assert_eq!(
            guessed("/m/depth_anything_v2_vits.onnx").as_deref(),
            Some("depth-anything-v2")
        );
        assert_eq!(
            guessed("Depth-Anything-V2-Small.onnx").as_deref(),
            Some("depth-anything-v2")
        );
        assert_eq!(
            guessed("midas_v21_small_256.onnx").as_deref(),
            Some("midas-small")
        );
        assert_eq!(
            guessed("stereospot-cues.onnx").as_deref(),
            Some("stereospot-cues")
        );
        assert_eq!(guessed("model.onnx"), None);
        assert_eq!(guessed("midas-vs-depthanything.onnx"), None, "ambiguous");
        assert_eq!(
            guessed("/models/depth_anything/model.onnx"),
            None,
            "directory names do not count"
        );
    }

    #[test]
    fn argument_errors_come_before_any_runtime_work() {
        let err = factory_from_args(None, None, "gpu", 4).unwrap_err();
        assert!(matches!(err, DepthError::DeviceUnavailable { .. }), "{err}");
        let err = factory_from_args(None, Some("midas-small"), "cpu", 4).unwrap_err();
        assert!(err.to_string().contains("--model PATH"), "{err}");
        let err = factory_from_args(None, Some("nope"), "cpu", 4).unwrap_err();
        assert!(err.to_string().contains("depth-anything-v2"), "{err}");
        let err = factory_from_args(Some("model.onnx".into()), None, "cpu", 4).unwrap_err();
        assert!(err.to_string().contains("--model-profile"), "{err}");
        // A named but missing file is reported as such, before loading ONNX Runtime.
        let err =
            factory_from_args(Some("/nonexistent/midas.onnx".into()), None, "cpu", 4).unwrap_err();
        assert!(matches!(err, DepthError::ModelNotFound { .. }), "{err}");
    }
}
