//! What every step gets: the ports, the settings, a scratch directory and a progress sink.
use crate::domain::JobId;
use crate::media::EncodeSettings;
use crate::ports::{DepthEstimatorFactory, JobStore, ObjectStore, Queue};
use crate::stereo::{Layout, LayoutOptions, StereoParams};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct StereoSettings {
    pub layout: Layout,
    pub params: StereoParams,
    /// Anaglyph method and VR180 screen size (ignored by the other layouts).
    pub layout_options: LayoutOptions,
    pub encode: EncodeSettings,
    /// Temporal window of relative depth models, in frames (1 = per frame; see
    /// [`crate::depth::temporal`]). Each segment after the first warms it up on the last
    /// `depth_window - 1` frames of the previous piece.
    pub depth_window: usize,
    /// Also write each segment's depth maps (FFV1 16-bit, `media::depth_video`) next to its
    /// stereo segment, for export and re-rendering.
    pub keep_depth: bool,
}

impl Default for StereoSettings {
    fn default() -> Self {
        StereoSettings {
            layout: Layout::FullSbs,
            params: StereoParams::default(),
            layout_options: LayoutOptions::default(),
            encode: EncodeSettings::default(),
            depth_window: crate::depth::temporal::DEFAULT_WINDOW,
            keep_depth: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Target length of source chunks (cut at the next keyframe).
    pub segment_seconds: f64,
    pub stereo: StereoSettings,
    /// A reassembly claim older than this is presumed dead and may be taken over.
    pub claim_ttl: Duration,
    /// Mixed into job ids (local convert: the settings fingerprint; cloud: "").
    pub job_salt: String,
    /// How often a rendering segment adds its frames to the job's progress and reads whether
    /// the job was cancelled (the render stops between frames when it was).
    pub watch_interval: Duration,
    /// Write a JPEG of the input next to the job's outputs (`keys::thumbnail_key`) when it is
    /// chunked: the web UI shows it. Off for `stereospot convert` (nobody looks at it there).
    pub thumbnails: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            segment_seconds: 10.0,
            stereo: StereoSettings::default(),
            claim_ttl: Duration::from_secs(900),
            job_salt: String::new(),
            watch_interval: Duration::from_secs(2),
            thumbnails: false,
        }
    }
}

/// Progress reports (frames rendered from inside the steps; the rest from the local driver).
/// Implementations must be cheap.
pub trait Progress: Send + Sync {
    fn frames_rendered(&self, _job: &JobId, _segment: u32, _frames: u64) {}
    /// A segment finished rendering, with its per-stage busy times.
    fn segment_rendered(&self, _job: &JobId, _segment: u32, _stats: &super::SegmentStats) {}
    /// The job is chunked: `frames` to render in `segments`, `frames_done` of them reused.
    fn planned(&self, _job: &JobId, _segments: u32, _frames: u64, _frames_done: u64) {}
    /// A phase of the local run started ("chunking", "rendering", "joining", ...).
    fn phase(&self, _name: &str) {}
    /// The job's output will not carry these parts of the input (one line each, naming the part
    /// and why). The workers log them at warn; the local CLI prints them once in its summary.
    fn dropped(&self, job: &JobId, lines: &[String]) {
        tracing::warn!(job_id = %job, dropped = %lines.join("; "), "not carried to the 3D output");
    }
}

pub struct NoProgress;
impl Progress for NoProgress {}

#[derive(Clone)]
pub struct Context {
    pub input: Arc<dyn ObjectStore>,
    pub output: Arc<dyn ObjectStore>,
    pub jobs: Arc<dyn JobStore>,
    pub reassembly_queue: Arc<dyn Queue>,
    pub depth: Arc<dyn DepthEstimatorFactory>,
    pub settings: Settings,
    /// Where steps put temporary files (one subdirectory per piece of work).
    pub scratch: PathBuf,
    pub progress: Arc<dyn Progress>,
}
