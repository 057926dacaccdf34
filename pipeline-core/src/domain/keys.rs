//! The object key layout shared by every adapter.
//!
//! Input bucket:  `input/<name>.mp4` (uploads), `segments/<job>/<i>.ts` (chunks).
//! Output bucket: `jobs/<job>/segments/<i>.mp4` (stereo segments), `jobs/<job>/final.mp4`,
//! `jobs/<job>/depth/<i>.mkv` (a segment's depth maps, when kept).
use super::JobId;

pub const INPUT_PREFIX: &str = "input/";
pub const SEGMENTS_PREFIX: &str = "segments/";
pub const JOBS_PREFIX: &str = "jobs/";
/// Container of the keyframe-aligned source chunks: MPEG-TS decodes and joins without the B-frame
/// gap that `-c copy` MP4 pieces have (see NOTES); codecs TS cannot carry use Matroska (`mkv`).
pub const SEGMENT_EXT: &str = "ts";
pub const SEGMENT_EXTS: &[&str] = &["ts", "mkv"];

pub fn input_key(file_name: &str) -> String {
    format!("{INPUT_PREFIX}{file_name}")
}

pub fn source_segment_key(job: &JobId, index: u32) -> String {
    source_segment_key_ext(job, index, SEGMENT_EXT)
}

pub fn source_segment_key_ext(job: &JobId, index: u32, ext: &str) -> String {
    format!("{SEGMENTS_PREFIX}{job}/{index:05}.{ext}")
}

pub fn source_segments_prefix(job: &JobId) -> String {
    format!("{SEGMENTS_PREFIX}{job}/")
}

pub fn output_segment_key(job: &JobId, index: u32) -> String {
    format!("{JOBS_PREFIX}{job}/segments/{index:05}.mp4")
}

pub fn output_segments_prefix(job: &JobId) -> String {
    format!("{JOBS_PREFIX}{job}/segments/")
}

/// A stereo segment's depth maps (FFV1 16-bit Matroska), kept when depth is exported.
pub fn output_depth_key(job: &JobId, index: u32) -> String {
    format!("{JOBS_PREFIX}{job}/depth/{index:05}.mkv")
}

/// Whether `key` is a kept-depth piece (`jobs/<job>/depth/<i>.mkv`).
pub fn is_output_depth_key(key: &str) -> bool {
    key.strip_prefix(JOBS_PREFIX)
        .and_then(|r| r.split_once('/'))
        .is_some_and(|(job, tail)| {
            JobId::parse(job).is_ok()
                && tail
                    .strip_prefix("depth/")
                    .and_then(|f| parse_index(f, "mkv"))
                    .is_some()
        })
}

/// A JPEG of the input (made when the job is chunked; the web UI shows it).
pub fn thumbnail_key(job: &JobId) -> String {
    format!("{JOBS_PREFIX}{job}/thumbnail.jpg")
}

/// Everything of a job in the output bucket.
pub fn output_job_prefix(job: &JobId) -> String {
    format!("{JOBS_PREFIX}{job}/")
}

/// A job's kept depth maps.
pub fn output_depth_prefix(job: &JobId) -> String {
    format!("{JOBS_PREFIX}{job}/depth/")
}

pub fn final_key(job: &JobId) -> String {
    format!("{JOBS_PREFIX}{job}/final.mp4")
}

/// What a key in either bucket refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    Input,
    SourceSegment { job: JobId, index: u32 },
    OutputSegment { job: JobId, index: u32 },
    Final { job: JobId },
    Other,
}

fn parse_index(s: &str, ext: &str) -> Option<u32> {
    let stem = s.strip_suffix(ext)?.strip_suffix('.')?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Classify a (URL-decoded) key.
pub fn classify(key: &str) -> KeyKind {
    if let Some(rest) = key.strip_prefix(INPUT_PREFIX) {
        if !rest.is_empty() && !rest.ends_with('/') {
            return KeyKind::Input;
        }
    } else if let Some(rest) = key.strip_prefix(SEGMENTS_PREFIX) {
        if let Some((job, file)) = rest.split_once('/') {
            let index = SEGMENT_EXTS.iter().find_map(|ext| parse_index(file, ext));
            if let (Ok(job), Some(index)) = (JobId::parse(job), index) {
                return KeyKind::SourceSegment { job, index };
            }
        }
    } else if let Some(rest) = key.strip_prefix(JOBS_PREFIX) {
        if let Some((job, tail)) = rest.split_once('/') {
            if let Ok(job) = JobId::parse(job) {
                if tail == "final.mp4" {
                    return KeyKind::Final { job };
                }
                if let Some(index) = tail
                    .strip_prefix("segments/")
                    .and_then(|f| parse_index(f, "mp4"))
                {
                    return KeyKind::OutputSegment { job, index };
                }
            }
        }
    }
    KeyKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_classify() {
        let job = JobId::derive("b", "input/x.mp4", "e", "");
        assert_eq!(classify(&input_key("x.mp4")), KeyKind::Input);
        assert_eq!(
            classify(&source_segment_key_ext(&job, 2, "mkv")),
            KeyKind::SourceSegment {
                job: job.clone(),
                index: 2
            }
        );
        assert_eq!(
            classify(&source_segment_key(&job, 7)),
            KeyKind::SourceSegment {
                job: job.clone(),
                index: 7
            }
        );
        assert_eq!(
            classify(&output_segment_key(&job, 12)),
            KeyKind::OutputSegment {
                job: job.clone(),
                index: 12
            }
        );
        assert_eq!(
            classify(&final_key(&job)),
            KeyKind::Final { job: job.clone() }
        );
        assert!(source_segment_key(&job, 3).starts_with(&source_segments_prefix(&job)));
        assert!(output_segment_key(&job, 3).starts_with(&output_segments_prefix(&job)));
        for k in [
            thumbnail_key(&job),
            final_key(&job),
            output_depth_key(&job, 1),
        ] {
            assert!(k.starts_with(&output_job_prefix(&job)), "{k}");
        }
        assert!(output_depth_key(&job, 1).starts_with(&output_depth_prefix(&job)));
        assert_eq!(
            output_segment_key(&job, 3),
            format!("jobs/{job}/segments/00003.mp4")
        );
    }

    #[test]
    fn foreign_and_malformed_keys_are_other() {
        for k in [
            "input/",
            "other/x.mp4",
            "segments/nothex/00001.ts",
            "segments/0123456789abcdef/x.ts",
            "segments/0123456789abcdef/00001.mp4",
            "jobs/0123456789abcdef/segments/-1.mp4",
            "jobs/0123456789abcdef/other.mp4",
            "jobs/0123456789abcdef/depth/00001.mkv",
            "jobs/0123456789abcdef/thumbnail.jpg",
            "",
        ] {
            assert_eq!(classify(k), KeyKind::Other, "{k}");
        }
    }
}
