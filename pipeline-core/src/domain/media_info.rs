//! Facts about an input video that every later step needs (probed once, at chunk time).
//!
//! Chunks are MPEG-TS, which carries no rotation matrix, so rotation and the display geometry
//! travel in the job record rather than in the segments.
use super::tracks::Tracks;
use super::ColourInfo;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AudioInfo {
    pub codec: String,
    pub channels: u32,
    pub sample_rate: u32,
}

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct MediaInfo {
    /// Coded size of the video stream.
    pub coded_width: u32,
    pub coded_height: u32,
    /// Sample aspect ratio (num, den); (1, 1) for square pixels.
    pub sar: (u32, u32),
    /// Clockwise display rotation in degrees: 0, 90, 180 or 270.
    pub rotation: u32,
    /// Frame rate as a rational (num, den), e.g. (24, 1) or (30000, 1001).
    pub frame_rate: (u32, u32),
    /// Time base of the input video stream (num, den), carried to the output.
    pub time_base: (u32, u32),
    /// Duration of the video stream in seconds.
    pub duration: f64,
    /// Frame count if the container states it (estimate otherwise).
    pub frames: u64,
    pub video_codec: String,
    /// Start time of the video stream in seconds (audio is shifted by it to stay in sync).
    #[serde(default)]
    pub video_start: f64,
    pub audio: Option<AudioInfo>,
    /// Matrix, range, primaries, transfer, bit depth and HDR metadata (conventions applied where
    /// the source is untagged).
    #[serde(default)]
    pub colour: ColourInfo,
    /// Presentation time of each source segment's first frame, in ticks of `time_base` from the
    /// video's first frame (set by the chunk step; the join places each segment there, so
    /// variable-frame-rate timing survives segmentation).
    #[serde(default)]
    pub segment_starts: Vec<i64>,
    /// The source has open GOPs: a segment after the first starts with leading pictures that
    /// reference the previous segment, so it is decoded after a pre-roll of that segment.
    #[serde(default)]
    pub open_gop: bool,
    /// Every track, chapter and tag the output carries, and what it cannot (planned at chunk
    /// time; absent in older records). Boxed: it is large next to the rest, and MediaInfo
    /// travels by value in step outcomes.
    #[serde(default)]
    pub tracks: Box<Tracks>,
    /// The user's stereo options for this job (from the upload's metadata), over the workers'
    /// defaults. Recorded with the media facts so every video-worker applies the same.
    #[serde(
        default,
        skip_serializing_if = "super::job_options::JobOptions::is_empty"
    )]
    pub options: super::job_options::JobOptions,
}

impl MediaInfo {
    /// The size frames are processed and delivered at: rotation applied, non-square pixels
    /// stretched to square, rounded down to even numbers (encoders need even sizes).
    pub fn display_size(&self) -> (u32, u32) {
        let (sn, sd) = if self.sar.0 == 0 || self.sar.1 == 0 {
            (1, 1)
        } else {
            self.sar
        };
        let w = (self.coded_width as u64 * sn as u64 / sd as u64) as u32;
        let h = self.coded_height;
        let (w, h) = if self.rotation % 180 == 90 {
            (h, w)
        } else {
            (w, h)
        };
        (even(w), even(h))
    }

    /// Seconds of `ticks` of the video time base.
    pub fn ticks_to_secs(&self, ticks: i64) -> f64 {
        ticks as f64 * self.time_base.0 as f64 / self.time_base.1.max(1) as f64
    }

    /// Duration of the video stream in ticks of its time base.
    pub fn duration_ticks(&self) -> i64 {
        (self.duration * self.time_base.1 as f64 / self.time_base.0.max(1) as f64).round() as i64
    }

    pub fn fps(&self) -> f64 {
        self.frame_rate.0 as f64 / self.frame_rate.1.max(1) as f64
    }
}

fn even(v: u32) -> u32 {
    (v & !1).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(w: u32, h: u32, sar: (u32, u32), rotation: u32) -> MediaInfo {
        MediaInfo {
            coded_width: w,
            coded_height: h,
            sar,
            rotation,
            frame_rate: (24, 1),
            time_base: (1, 12288),
            duration: 1.0,
            frames: 24,
            video_codec: "h264".into(),
            video_start: 0.0,
            audio: None,
            ..Default::default()
        }
    }

    #[test]
    fn display_size_applies_sar_rotation_and_evenness() {
        assert_eq!(info(640, 360, (1, 1), 0).display_size(), (640, 360));
        assert_eq!(info(321, 241, (1, 1), 0).display_size(), (320, 240));
        assert_eq!(info(640, 360, (1, 1), 90).display_size(), (360, 640));
        assert_eq!(info(720, 480, (32, 27), 0).display_size(), (852, 480));
        assert_eq!(info(720, 480, (0, 1), 0).display_size(), (720, 480));
    }

    #[test]
    fn records_without_tracks_still_deserialize() {
        let old = r#"{"coded_width":640,"coded_height":360,"sar":[1,1],"rotation":0,
            "frame_rate":[24,1],"time_base":[1,12288],"duration":1.0,"frames":24,
            "video_codec":"h264","video_start":0.0,
            "audio":{"codec":"aac","channels":2,"sample_rate":48000}}"#;
        let m: MediaInfo = serde_json::from_str(old).unwrap();
        assert!(!m.tracks.planned);
        assert!(m.tracks.dropped.is_empty() && m.tracks.streams.is_empty());
        assert_eq!(m.audio.map(|a| a.channels), Some(2));
    }

    #[test]
    fn tracks_round_trip_through_json() {
        use crate::domain::tracks::{StreamTags, TrackAction, TrackKind, TrackPlan};
        let mut m = info(640, 360, (1, 1), 0);
        *m.tracks = Tracks {
            planned: true,
            container_start: 1.4,
            chapters: 2,
            streams: vec![TrackPlan {
                index: 1,
                kind: TrackKind::Audio,
                codec: "flac".into(),
                action: TrackAction::Aac,
                channels: 6,
                channel_layout: Some("5.1(side)".into()),
                tags: StreamTags {
                    language: Some("fra".into()),
                    title: None,
                },
                default: true,
                forced: false,
            }],
            dropped: vec!["attachment 4 (font.ttf): MP4 cannot hold attachments".into()],
            ..Tracks::default()
        };
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains(r#""action":"aac""#), "{text}");
        let back: MediaInfo = serde_json::from_str(&text).unwrap();
        assert_eq!(back, m);
    }
}
