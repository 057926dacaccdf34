//! What an upload may be and where it goes: request validation, the input key naming, the
//! multipart part plan. Pure functions; the S3 calls are in `uploads.rs`.
use super::config::{S3_MAX_PARTS, S3_MIN_PART};
use super::error::{ApiError, ApiResult};
use axum::http::StatusCode;
use pipeline_core::domain::keys::{self, KeyKind, INPUT_PREFIX};

/// The video files a job takes, by extension, and the content type each is stored with (what the
/// converter reads; every one of them reaches the chunking queue: its S3 notification filters
/// on the `input/` prefix alone).
pub const VIDEO_TYPES: &[(&str, &str)] = &[
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("mov", "video/quicktime"),
    ("mkv", "video/x-matroska"),
    ("webm", "video/webm"),
    ("avi", "video/x-msvideo"),
    ("ts", "video/mp2t"),
    ("m2ts", "video/mp2t"),
    ("mts", "video/mp2t"),
    ("mpg", "video/mpeg"),
    ("mpeg", "video/mpeg"),
    ("wmv", "video/x-ms-wmv"),
    ("flv", "video/x-flv"),
    ("3gp", "video/3gpp"),
];
/// Photos: converted on the page through `POST /api/preview`, never as a job.
pub const PHOTO_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp"];
/// Longest file name accepted in a request, and longest name part kept in the key.
pub const MAX_FILENAME_BYTES: usize = 255;
pub const MAX_STEM_CHARS: usize = 80;
/// Longest key `by-key` accepts (S3's limit).
pub const MAX_KEY_BYTES: usize = 1024;

/// Body of `POST /api/jobs`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUpload {
    pub filename: String,
    pub size: u64,
    #[serde(default)]
    pub content_type: Option<String>,
    /// The job's stereo options (layout, divergence, convergence) over the workers' defaults;
    /// they ride on the upload as S3 metadata.
    #[serde(default)]
    pub options: pipeline_core::domain::JobOptions,
}

fn unsupported(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "unsupported_file", message)
}

/// The lowercase extension of `name` and its content type, when it is a video file a job takes.
pub fn video_type(name: &str) -> Option<(String, &'static str)> {
    let (_, ext) = name.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    let ty = VIDEO_TYPES.iter().find(|(e, _)| *e == ext)?.1;
    Some((ext, ty))
}

/// A content type the browser may have given a video (it is replaced by the extension's).
fn plausible_video_type(ct: &str) -> bool {
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.is_empty() || essence.starts_with("video/") || essence == "application/octet-stream"
}

impl NewUpload {
    /// The content type the upload is stored with (from its extension; call after `validate`).
    pub fn stored_type(&self) -> &'static str {
        video_type(self.filename.trim()).map_or("video/mp4", |(_, t)| t)
    }

    /// 400 for a name that is not a video file a job takes, a content type that is not a
    /// video's, or an empty file; 413 above `max_bytes`.
    pub fn validate(&self, max_bytes: u64) -> ApiResult<()> {
        let name = self.filename.trim();
        if name.is_empty() || name.len() > MAX_FILENAME_BYTES || name.chars().any(char::is_control)
        {
            return Err(ApiError::bad_request(format!(
                "filename must be 1..{MAX_FILENAME_BYTES} bytes without control characters"
            )));
        }
        if video_type(name).is_none() {
            let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
            let videos: Vec<&str> = VIDEO_TYPES.iter().map(|(e, _)| *e).collect();
            return Err(unsupported(match ext {
                Some(e) if PHOTO_EXTENSIONS.contains(&e.as_str()) => format!(
                    "{name:?} is a photo: photos are converted on the page (a 3D still), not as a job"
                ),
                _ => format!(
                    "{name:?} is not a video file we take; these are: {}",
                    videos.join(", ")
                ),
            }));
        }
        if let Some(ct) = &self.content_type {
            if !plausible_video_type(ct) {
                return Err(unsupported(format!(
                    "content_type must be a video's (video/...), not {ct:?}"
                )));
            }
        }
        if self.size == 0 {
            return Err(ApiError::bad_request("size must be at least 1 byte"));
        }
        self.options
            .validate()
            .map_err(|e| ApiError::bad_request(format!("options: {e}")))?;
        if self.options.depth_from.is_some() {
            // Only a re-render (`POST /api/jobs/{id}/rerender`) reuses a job's depth.
            return Err(ApiError::bad_request(
                "options: depth_from is set by a re-render, not by an upload",
            ));
        }
        if self.size > max_bytes {
            return Err(ApiError::too_large(format!(
                "{} bytes is above the {max_bytes}-byte upload limit",
                self.size
            )));
        }
        Ok(())
    }
}

/// The name part of an upload's key: the file's base name without its video extension, reduced to
/// `[A-Za-z0-9._-]`, at most [`MAX_STEM_CHARS`]; `video` when nothing is left.
pub fn safe_stem(filename: &str) -> String {
    let base = filename
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(filename)
        .trim();
    let stem = match (video_type(base), base.rsplit_once('.')) {
        (Some(_), Some((stem, _))) => stem,
        _ => base,
    };
    let mut out = String::new();
    for c in stem.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            c
        } else {
            '_'
        };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
        if out.len() >= MAX_STEM_CHARS {
            break;
        }
    }
    let trimmed = out.trim_matches(|c| matches!(c, '_' | '.' | '-'));
    if trimmed.is_empty() {
        "video".to_string()
    } else {
        trimmed.to_string()
    }
}

/// 32 random lowercase hex characters (128 bits from the OS).
pub fn random_hex() -> ApiResult<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ApiError::internal("random key", e))?;
    Ok(hex::encode(b))
}

/// `input/<random>-<safe stem>.<ext>`: unguessable, never overwriting another upload, within the
/// notification's `input/` filter, and keeping the file's video extension (`mp4` otherwise).
pub fn input_key_for(filename: &str, random: &str) -> String {
    let ext = video_type(filename.trim()).map_or_else(|| "mp4".to_string(), |(e, _)| e);
    keys::input_key(&format!("{random}-{}.{ext}", safe_stem(filename)))
}

/// Whether `key` has the shape [`input_key_for`] gives (the only keys the API completes).
pub fn is_api_upload_key(key: &str) -> bool {
    let Some(file) = key.strip_prefix(INPUT_PREFIX) else {
        return false;
    };
    let Some((random, rest)) = file.split_once('-') else {
        return false;
    };
    let Some((stem, ext)) = rest.rsplit_once('.') else {
        return false;
    };
    VIDEO_TYPES.iter().any(|(e, _)| *e == ext)
        && random.len() == 32
        && random
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && !stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `key` is an upload of a video the pipeline takes: `input/<name>.<video extension>`.
pub fn is_input_video_key(key: &str) -> bool {
    key.len() <= MAX_KEY_BYTES
        && !key.chars().any(char::is_control)
        && video_type(key).is_some()
        && keys::classify(key) == KeyKind::Input
}

/// One part of a multipart upload (numbers from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Part {
    pub part_number: u32,
    pub offset: u64,
    pub size: u64,
}

/// Split `size` bytes into parts of `part_bytes` (grown, in whole MiB, when more than 10 000
/// parts would be needed); the last part takes the rest.
pub fn plan_parts(size: u64, part_bytes: u64) -> Vec<Part> {
    const MIB: u64 = 1024 * 1024;
    let min_for_count = size.div_ceil(S3_MAX_PARTS).div_ceil(MIB) * MIB;
    let part = part_bytes.max(min_for_count).max(S3_MIN_PART);
    let mut parts = Vec::new();
    let mut offset = 0;
    while offset < size {
        let len = part.min(size - offset);
        parts.push(Part {
            part_number: parts.len() as u32 + 1,
            offset,
            size: len,
        });
        offset += len;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str, size: u64, ct: Option<&str>) -> NewUpload {
        NewUpload {
            filename: name.into(),
            size,
            content_type: ct.map(str::to_string),
            options: Default::default(),
        }
    }

    #[test]
    fn options_are_checked_with_the_upload() {
        let mut r = req("a.mp4", 10, None);
        r.options.layout = Some("half-tb".into());
        assert!(r.validate(10).is_ok());
        r.options.divergence = Some(50.0);
        let e = r.validate(10).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("options: divergence"), "{}", e.message);
        let body =
            r#"{"filename":"a.mp4","size":3,"options":{"layout":"anaglyph","convergence":0.2}}"#;
        let parsed: NewUpload = serde_json::from_str(body).unwrap();
        assert_eq!(parsed.options.layout.as_deref(), Some("anaglyph"));
        assert_eq!(parsed.options.convergence, Some(0.2));
    }

    #[test]
    fn every_video_container_is_taken_with_its_type() {
        for (name, ty) in [
            ("Holiday.MOV", "video/quicktime"),
            ("a.mkv", "video/x-matroska"),
            ("a.webm", "video/webm"),
            ("a.m2ts", "video/mp2t"),
        ] {
            let r = req(name, 10, Some(""));
            assert!(r.validate(10).is_ok(), "{name}");
            assert_eq!(r.stored_type(), ty);
        }
        assert!(req("a.mkv", 10, Some("application/octet-stream"))
            .validate(10)
            .is_ok());
        let r = "0123456789abcdef0123456789abcdef";
        let k = input_key_for("Holiday.MOV", r);
        assert_eq!(k, format!("input/{r}-Holiday.mov"));
        assert!(is_api_upload_key(&k) && is_input_video_key(&k));
        assert!(!is_api_upload_key(&format!("input/{r}-a.txt")));
        assert!(!is_input_video_key("input/notes.txt"));
        let e = req("me.jpg", 10, None).validate(10).unwrap_err();
        assert!(e.message.contains("photo"), "{}", e.message);
        let e = req("notes.txt", 10, None).validate(10).unwrap_err();
        assert!(e.message.contains("mkv, webm"), "{}", e.message);
    }

    #[test]
    fn validation_statuses() {
        assert!(req("a.mp4", 10, Some("video/mp4")).validate(10).is_ok());
        assert!(req("A.MP4", 10, None).validate(10).is_ok());
        assert!(req("a.mp4", 10, Some("Video/MP4; codecs=avc1"))
            .validate(10)
            .is_ok());
        for (r, status, code) in [
            (req("a.txt", 10, None), 400, "unsupported_file"),
            (req("a.jpg", 10, None), 400, "unsupported_file"),
            (
                req("a.mp4", 10, Some("text/plain")),
                400,
                "unsupported_file",
            ),
            (req("a.mp4.exe", 10, None), 400, "unsupported_file"),
            (req("noext", 10, None), 400, "unsupported_file"),
            (req("", 10, None), 400, "bad_request"),
            (req("a\nb.mp4", 10, None), 400, "bad_request"),
            (req(&"x".repeat(300), 10, None), 400, "bad_request"),
            (req("a.mp4", 0, None), 400, "bad_request"),
            (req("a.mp4", 11, None), 413, "too_large"),
        ] {
            let e = r.validate(10).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (status, code), "{r:?}: {e}");
        }
        // Unknown fields and negative sizes are refused by the JSON parser.
        assert!(serde_json::from_str::<NewUpload>(r#"{"filename":"a.mp4","size":-1}"#).is_err());
        assert!(
            serde_json::from_str::<NewUpload>(r#"{"filename":"a.mp4","size":1,"bucket":"x"}"#)
                .is_err()
        );
    }

    #[test]
    fn stems_are_safe() {
        assert_eq!(safe_stem("holiday.mp4"), "holiday");
        assert_eq!(safe_stem("C:\\Users\\me\\My Film (2).MP4"), "My_Film_2");
        assert_eq!(safe_stem("../../etc/passwd.mp4"), "passwd");
        assert_eq!(safe_stem("..mp4"), "video");
        assert_eq!(safe_stem("日本語.mp4"), "video");
        assert_eq!(
            safe_stem(&format!("{}.mp4", "a".repeat(500))).len(),
            MAX_STEM_CHARS
        );
    }

    #[test]
    fn keys_have_the_notification_shape() {
        let r = random_hex().unwrap();
        assert_eq!(r.len(), 32);
        assert_ne!(r, random_hex().unwrap());
        let k = input_key_for("My Film.mp4", &r);
        assert_eq!(k, format!("input/{r}-My_Film.mp4"));
        assert!(is_api_upload_key(&k) && is_input_video_key(&k));
        assert!(!is_api_upload_key("input/clip.mp4"));
        assert!(!is_api_upload_key(&format!("input/{r}-a/b.mp4")));
        assert!(!is_api_upload_key(&format!("jobs/{r}-a.mp4")));
        assert!(is_input_video_key("input/clip.mp4"));
        for bad in [
            "jobs/0123456789abcdef/final.mp4",
            "input/",
            "input/clip.txt",
            "input/a\n.mp4",
            "segments/0123456789abcdef/00000.ts",
        ] {
            assert!(!is_input_video_key(bad), "{bad}");
        }
        assert!(!is_input_video_key(&format!(
            "input/{}.mp4",
            "a".repeat(1100)
        )));
    }

    #[test]
    fn part_plans_cover_the_file() {
        const MIB: u64 = 1024 * 1024;
        let p = plan_parts(12 * MIB + 1, 5 * MIB);
        assert_eq!(
            p.iter().map(|p| p.size).collect::<Vec<_>>(),
            [5 * MIB, 5 * MIB, 2 * MIB + 1]
        );
        assert_eq!(
            p.iter()
                .map(|p| (p.part_number, p.offset))
                .collect::<Vec<_>>(),
            [(1, 0), (2, 5 * MIB), (3, 10 * MIB)]
        );
        // 1 TiB in 64 MiB parts would be 16 384 parts: the part size grows.
        let big = plan_parts(1024 * 1024 * MIB, 64 * MIB);
        assert!(big.len() as u64 <= S3_MAX_PARTS, "{}", big.len());
        assert_eq!(big.iter().map(|p| p.size).sum::<u64>(), 1024 * 1024 * MIB);
        assert_eq!(big[0].size % MIB, 0);
        assert_eq!(plan_parts(1, 5 * MIB).len(), 1);
    }
}
