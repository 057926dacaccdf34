//! Which of the input's tracks reach the MP4 output, and how: planned once at chunk time
//! (`media::tracks::plan`), stored in the job record, carried out by the join.
//!
//! Every field has a serde default: job records written before tracks were planned still
//! deserialize (`planned == false`, and the join then carries the first audio stream only).

/// The tracks plan of one input.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Tracks {
    /// False in records written before tracks were planned.
    pub planned: bool,
    /// Start time of the input container in seconds (ffmpeg shifts an input so that it starts
    /// at 0: the join needs it, with the video's own start, to keep the other tracks in sync).
    pub container_start: f64,
    /// Language and title of the main video stream (given to the stereo video).
    pub video: StreamTags,
    /// Tracks carried over, in input order.
    pub streams: Vec<TrackPlan>,
    /// Chapters of the input (copied as they are).
    pub chapters: u32,
    /// Global metadata keys of the input that MP4 keeps (copied with their values at join time).
    pub metadata: Vec<String>,
    /// One line per thing the output does not carry as it was, naming it and why, e.g.
    /// `subtitle track 3 (hdmv_pgs_subtitle, eng): MP4 cannot hold bitmap (PGS) subtitles`.
    pub dropped: Vec<String>,
}

impl Tracks {
    /// Whether the join needs the original input (anything besides the video to carry).
    pub fn needs_original(&self) -> bool {
        !self.streams.is_empty()
            || self.chapters > 0
            || !self.metadata.is_empty()
            || self.video != StreamTags::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct StreamTags {
    /// ISO 639-2 language tag (`eng`), absent or `und` when unknown.
    pub language: Option<String>,
    pub title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackKind {
    Audio,
    Subtitle,
    /// An attached picture (MP4 `covr`).
    CoverArt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackAction {
    /// Stream copy: MP4 holds the codec as it is.
    Copy,
    /// Re-encode this track alone to AAC with `TrackPlan::channels` channels.
    Aac,
    /// Re-encode a text subtitle track to MP4's own text format.
    MovText,
}

/// One track of the input and what the join does with it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrackPlan {
    /// Stream index in the original input (ffprobe's `index`).
    pub index: u32,
    pub kind: TrackKind,
    pub codec: String,
    pub action: TrackAction,
    /// Audio: channel count of the output track (the input's, at most 8 when re-encoded).
    #[serde(default)]
    pub channels: u32,
    /// Audio: the input's channel layout as ffprobe names it (`5.1(side)`).
    #[serde(default)]
    pub channel_layout: Option<String>,
    #[serde(default)]
    pub tags: StreamTags,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub forced: bool,
}
