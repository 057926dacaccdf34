//! The domain: job ids, segment indices, the object key layout, job records and media facts.
pub mod colour;
pub mod job;
pub mod job_id;
pub mod job_options;
pub mod keys;
pub mod media_info;
pub mod tracks;

pub use colour::{ColourInfo, HdrMetadata};
pub use job::{JobRecord, JobStatus};
pub use job_id::JobId;
pub use job_options::JobOptions;
pub use media_info::{AudioInfo, MediaInfo};
pub use tracks::{StreamTags, TrackAction, TrackKind, TrackPlan, Tracks};
