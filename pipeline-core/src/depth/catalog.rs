//! The model registry: learned depth models StereoSpot knows by name, each pinned to one file
//! (URL, SHA-256, size), with the profile that reads it and its licence. `stereospot models fetch
//! NAME` downloads one into the models directory ([`models_dir`]); `--model NAME` / `MODEL_NAME`
//! then resolve to that file ([`resolve`]).
use std::path::{Path, PathBuf};

/// Overrides the models directory (else `<workdir>/models`).
pub const MODELS_DIR_ENV: &str = "STEREOSPOT_MODELS";
/// Overrides the download URL of `stereospot models fetch` (a mirror of the same file).
pub const MODEL_URL_ENV: &str = "STEREOSPOT_MODEL_URL";
/// Replaces the pinned SHA-256 of `stereospot models fetch`, for a mirror that serves another
/// build of the model (at your own risk; the tests use it with a generated file).
pub const MODEL_SHA256_ENV: &str = "STEREOSPOT_MODEL_SHA256";

/// Whether `s` is a SHA-256 in lowercase hex.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// One downloadable model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogEntry {
    /// Registry name (`--model NAME`, `MODEL_NAME`).
    pub name: &'static str,
    /// File name inside the models directory.
    pub file_name: &'static str,
    /// Pinned source (a fixed revision or release asset).
    pub url: &'static str,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: &'static str,
    /// Size in bytes.
    pub size: u64,
    /// Profile that reads this export ([`crate::depth::Profile::by_name`]).
    pub profile: &'static str,
    /// Licence and origin, one line.
    pub license: &'static str,
}

impl CatalogEntry {
    /// Where this model lives in `dir`.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        dir.join(self.file_name)
    }
}

/// The registry. Hashes and sizes are those the hosts publish for these exact files (Hugging
/// Face's Git LFS object id; the MiDaS release asset as several independent projects pinned it).
pub const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        name: "depth-anything-v2-small",
        file_name: "depth-anything-v2-small.onnx",
        url: "https://huggingface.co/onnx-community/depth-anything-v2-small/resolve/\
              34f40a4c93991327074907b51792dbc27e7d6f1c/onnx/model.onnx",
        sha256: "afb6a5c28f3b6bf1618c6e43f02073ef9dfdc70e937502d51603e57b0a1df10c",
        size: 99_060_839,
        profile: "depth-anything-v2",
        license: "Apache-2.0 (Depth Anything V2 Small, ONNX export by onnx-community)",
    },
    CatalogEntry {
        name: "midas-small",
        file_name: "midas-v21-small-256.onnx",
        url: "https://github.com/isl-org/MiDaS/releases/download/v2_1/model-small.onnx",
        sha256: "2d8c6cb8f415229daf1eb041024208e2608c9f98e17c81cc7c6ecb449c56fd58",
        size: 66_764_249,
        profile: "midas-small",
        license: "MIT (MiDaS v2.1 small 256, Intel ISL release v2_1)",
    },
];

/// Registry names, in registry order.
pub fn names() -> Vec<&'static str> {
    CATALOG.iter().map(|e| e.name).collect()
}

/// Errors of name resolution.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    #[error("unknown model `{name}`; known models: {known} (a model file needs a path, e.g. ./{name}.onnx)")]
    Unknown { name: String, known: String },
    #[error("model {name} is not downloaded yet (expected at {path}): run `stereospot models fetch {name}`")]
    NotFetched { name: String, path: PathBuf },
}

/// Look an entry up by name (case-insensitive).
pub fn lookup(name: &str) -> Result<&'static CatalogEntry, CatalogError> {
    let wanted = name.trim().to_ascii_lowercase();
    CATALOG
        .iter()
        .find(|e| e.name == wanted)
        .ok_or_else(|| CatalogError::Unknown {
            name: name.trim().to_string(),
            known: names().join(", "),
        })
}

/// Whether a `--model` value is meant as a registry name rather than a file: no directory
/// separator and no extension (`depth-anything-v2-small`, not `./x.onnx` or `x.onnx`).
pub fn looks_like_name(value: &str) -> bool {
    !value.is_empty()
        && !value.contains(['/', '\\'])
        && Path::new(value).extension().is_none()
        && !value.starts_with('.')
}

/// The models directory: `$STEREOSPOT_MODELS`, else `<workdir>/models` where `workdir` is the
/// given one, else `$STEREOSPOT_WORKDIR`, else `$XDG_CACHE_HOME/stereospot`, else
/// `~/.cache/stereospot`. `get` reads the environment (a map in tests).
pub fn models_dir(get: &dyn Fn(&str) -> Option<String>, workdir: Option<&Path>) -> PathBuf {
    let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    if let Some(dir) = var(MODELS_DIR_ENV) {
        return PathBuf::from(dir);
    }
    let workdir = match workdir {
        Some(w) => w.to_path_buf(),
        None => var("STEREOSPOT_WORKDIR")
            .map(PathBuf::from)
            .or_else(|| var("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("stereospot")))
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache/stereospot")))
            .unwrap_or_else(|| std::env::temp_dir().join("stereospot")),
    };
    workdir.join("models")
}

/// [`models_dir`] from the process environment.
pub fn models_dir_from_env(workdir: Option<&Path>) -> PathBuf {
    models_dir(&|name| std::env::var(name).ok(), workdir)
}

/// A registry name resolved to its downloaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    pub entry: &'static CatalogEntry,
    pub path: PathBuf,
}

/// Resolve a registry name to its file in `dir`; the file must be there (a download only lands
/// under this name once its SHA-256 matched).
pub fn resolve(name: &str, dir: &Path) -> Result<ResolvedModel, CatalogError> {
    let entry = lookup(name)?;
    let path = entry.path_in(dir);
    if !path.is_file() {
        return Err(CatalogError::NotFetched {
            name: entry.name.to_string(),
            path,
        });
    }
    Ok(ResolvedModel { entry, path })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn entries_are_well_formed() {
        for e in CATALOG {
            assert!(is_sha256_hex(e.sha256), "{}", e.name);
            assert!(
                e.url.starts_with("https://") && !e.url.contains(' '),
                "{}",
                e.url
            );
            assert!(
                crate::depth::Profile::by_name(e.profile).is_ok(),
                "{}",
                e.profile
            );
            assert!(looks_like_name(e.name), "{}", e.name);
            assert!(e.file_name.ends_with(".onnx") && e.size > 1_000_000);
            // The file name makes the profile obvious too (for `--model PATH` without a profile).
            let guessed = crate::depth::guess_profile(Path::new(e.file_name)).map(|p| p.name);
            assert_eq!(guessed.as_deref(), Some(e.profile), "{}", e.file_name);
        }
        let mut names = names();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
    }

    #[test]
    fn the_curl_script_pins_the_same_file() {
        let script = include_str!("../../../scripts/fetch-depth-anything.sh");
        let e = lookup("depth-anything-v2-small").expect("entry");
        assert!(
            script.contains(&format!("PINNED_SHA256=\"{}\"", e.sha256)),
            "hash"
        );
        let revision = e
            .url
            .split("/resolve/")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .expect("revision in the URL");
        assert!(
            script.contains(&format!("REVISION=\"{revision}\"")),
            "revision"
        );
    }

    #[test]
    fn lookup_is_case_insensitive_and_lists_names_when_unknown() {
        assert_eq!(
            lookup(" Depth-Anything-V2-Small ").map(|e| e.profile),
            Ok("depth-anything-v2")
        );
        let err = lookup("dpt-large").unwrap_err().to_string();
        assert!(err.contains("dpt-large"), "{err}");
        for name in names() {
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn names_and_paths_are_told_apart() {
        assert!(looks_like_name("depth-anything-v2-small"));
        assert!(looks_like_name("midas-small"));
        assert!(!is_sha256_hex(&"A".repeat(64)) && !is_sha256_hex("ab"));
        for path in [
            "model.onnx",
            "./midas-small",
            "/m/midas",
            "m\\x",
            ".hidden",
            "",
        ] {
            assert!(!looks_like_name(path), "{path}");
        }
    }

    #[test]
    fn models_dir_precedence() {
        let w = Path::new("/w");
        assert_eq!(
            models_dir(
                &env(&[("STEREOSPOT_MODELS", "/m"), ("HOME", "/h")]),
                Some(w)
            ),
            PathBuf::from("/m")
        );
        assert_eq!(
            models_dir(&env(&[("STEREOSPOT_MODELS", " "), ("HOME", "/h")]), Some(w)),
            PathBuf::from("/w/models")
        );
        assert_eq!(
            models_dir(&env(&[("STEREOSPOT_WORKDIR", "/s"), ("HOME", "/h")]), None),
            PathBuf::from("/s/models")
        );
        assert_eq!(
            models_dir(&env(&[("XDG_CACHE_HOME", "/c"), ("HOME", "/h")]), None),
            PathBuf::from("/c/stereospot/models")
        );
        assert_eq!(
            models_dir(&env(&[("HOME", "/h")]), None),
            PathBuf::from("/h/.cache/stereospot/models")
        );
    }

    #[test]
    fn resolve_needs_the_downloaded_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = resolve("midas-small", dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("stereospot models fetch midas-small") && msg.contains("midas-v21"),
            "{msg}"
        );
        std::fs::write(dir.path().join("midas-v21-small-256.onnx"), b"x").expect("write");
        let ok = resolve("MIDAS-small", dir.path()).expect("resolved");
        assert_eq!(ok.entry.profile, "midas-small");
        assert_eq!(ok.path, dir.path().join("midas-v21-small-256.onnx"));
        assert!(matches!(
            resolve("nope", dir.path()),
            Err(CatalogError::Unknown { .. })
        ));
    }
}
