//! The JSON shape of a job, as the API and the pages see it.
use pipeline_core::domain::{JobRecord, JobStatus};
use serde::Serialize;

/// A job's public view. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobView {
    pub job_id: String,
    pub status: JobStatus,
    /// True while the job is still moving (QUEUED, CHUNKING, PROCESSING, REASSEMBLING).
    pub in_progress: bool,
    /// Who uploaded it (`None`: put in the bucket directly).
    pub owner: Option<String>,
    /// While the job waits for a worker: how many unfinished jobs are ahead of it (at most
    /// [`super::queue::MAX_COUNTED`]). Only single-job reads compute it; lists leave it null.
    pub queue_position: Option<u32>,
    /// The input's thumbnail (`GET` it: a redirect to a JPEG), once the input has been probed.
    pub thumbnail_url: Option<String>,
    pub input_key: String,
    /// The uploaded file's name as the user gave it (the key without its random prefix).
    pub name: String,
    pub created_at: i64,
    /// When the job ended (COMPLETED, FAILED or CANCELLED).
    pub completed_at: Option<i64>,
    pub segments_done: u32,
    pub segments_total: Option<u32>,
    pub frames_done: u64,
    /// Frame count of the input (known once the media-worker has probed it).
    pub frames_total: Option<u64>,
    pub duration_seconds: Option<f64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub error: Option<String>,
    /// The stereo options the uploader chose (empty: the service's defaults); known once the
    /// job is chunked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<pipeline_core::domain::JobOptions>,
}

/// `input/<32 hex>-<name>.<ext>` -> `<name>.<ext>`; other keys: the part after `input/`.
pub fn display_name(input_key: &str) -> String {
    let file = input_key.rsplit('/').next().unwrap_or(input_key);
    match file.split_once('-') {
        Some((prefix, rest))
            if prefix.len() == 32 && prefix.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            rest.to_string()
        }
        _ => file.to_string(),
    }
}

/// The result's file name: the upload's name without its extension, `-3d.mp4` (the output is
/// always MP4).
pub fn download_name(input_key: &str) -> String {
    let name = display_name(input_key);
    let stem = match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name.as_str(),
    };
    format!("{stem}-3d.mp4")
}

impl From<&JobRecord> for JobView {
    fn from(j: &JobRecord) -> JobView {
        let (width, height) = match &j.media {
            Some(m) => {
                let (w, h) = m.display_size();
                (Some(w), Some(h))
            }
            None => (None, None),
        };
        JobView {
            job_id: j.job_id.to_string(),
            status: j.status,
            in_progress: !j.status.is_terminal(),
            owner: j.owner.clone(),
            queue_position: None,
            thumbnail_url: j
                .media
                .is_some()
                .then(|| format!("/api/jobs/{}/thumbnail", j.job_id)),
            input_key: j.input_key.clone(),
            name: display_name(&j.input_key),
            created_at: j.created_at,
            completed_at: j.completed_at,
            segments_done: j.segments_done,
            segments_total: j.segments_total,
            // Frames are counted per rendered segment; a redelivered segment may count twice
            // before it is deduplicated, so never report more than the input has.
            frames_done: match j.media.as_ref().map(|m| m.frames) {
                Some(total) if total > 0 => j.frames_done.min(total),
                _ => j.frames_done,
            },
            frames_total: j.media.as_ref().map(|m| m.frames),
            duration_seconds: j.media.as_ref().map(|m| m.duration),
            width,
            height,
            error: j.error.clone(),
            options: j.media.as_ref().map(|m| m.options.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_core::domain::{JobId, MediaInfo};

    fn media(frames: u64) -> MediaInfo {
        MediaInfo {
            coded_width: 320,
            coded_height: 240,
            sar: (1, 1),
            rotation: 0,
            frame_rate: (24, 1),
            time_base: (1, 12288),
            duration: 6.0,
            frames,
            video_codec: "h264".into(),
            video_start: 0.0,
            audio: None,
            ..Default::default()
        }
    }

    #[test]
    fn view_carries_progress_and_media_facts() {
        let key = "input/0123456789abcdef0123456789abcdef-holiday.mp4";
        let mut j = JobRecord::new(JobId::derive("b", key, "e", ""), "b", key);
        let v = JobView::from(&j);
        assert_eq!(v.status, JobStatus::Queued);
        assert!(v.in_progress);
        assert_eq!(v.name, "holiday.mp4");
        assert_eq!(
            (v.frames_total, v.width, v.segments_total),
            (None, None, None)
        );

        j.status = JobStatus::Completed;
        j.media = Some(media(144));
        j.segments_total = Some(3);
        j.segments_done = 3;
        j.frames_done = 150; // a double-counted redelivery
        j.completed_at = Some(j.created_at + 5000);
        let v = JobView::from(&j);
        assert!(!v.in_progress);
        assert_eq!((v.frames_done, v.frames_total), (144, Some(144)));
        assert_eq!((v.width, v.height), (Some(320), Some(240)));
        assert_eq!(v.duration_seconds, Some(6.0));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["status"], "COMPLETED");
        assert_eq!(json["segments_total"], 3);
        assert!(json["error"].is_null());
        assert_eq!(
            json["thumbnail_url"],
            format!("/api/jobs/{}/thumbnail", j.job_id),
            "known once the input is probed"
        );
        assert!(JobView::from(&JobRecord::new(j.job_id.clone(), "b", key))
            .thumbnail_url
            .is_none());
    }

    #[test]
    fn display_names() {
        assert_eq!(display_name("input/clip.mp4"), "clip.mp4");
        assert_eq!(display_name("input/my-clip.mp4"), "my-clip.mp4");
        assert_eq!(
            display_name("input/0123456789abcdef0123456789abcdef-a-b.mp4"),
            "a-b.mp4"
        );
        assert_eq!(
            display_name("input/0123456789abcdef0123456789abcdef-Trip.mov"),
            "Trip.mov"
        );
        assert_eq!(
            download_name("input/0123456789abcdef0123456789abcdef-Trip.mov"),
            "Trip-3d.mp4"
        );
        assert_eq!(download_name("input/clip.mp4"), "clip-3d.mp4");
        assert_eq!(download_name("input/noext"), "noext-3d.mp4");
    }
}
