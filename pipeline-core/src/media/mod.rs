//! ffmpeg / ffprobe (the Debian binaries, over plain pipes): probing, chunking, decoding,
//! encoding and joining, and the plan of which tracks reach the output.
pub mod chunk;
pub mod decode;
pub mod depth_video;
pub mod encode;
pub mod image;
pub mod join;
pub mod mkv_raw;
pub mod output_format;
pub mod probe;
pub mod process;
pub mod thumbnail;
pub mod timestamps;
pub mod tracks;
pub mod trim;

pub use chunk::split_at_keyframes;
pub use decode::Decoder;
pub use encode::{EncodeSettings, Encoder};
pub use join::{count_video_frames, join_segments};
pub use output_format::{OutputFormat, PixFmt, VideoCodec};
pub use probe::probe;
pub use timestamps::{frame_times, FrameTimes};
