//! Encode rendered RGB frames (rgb24 or rgb48le) to an MP4, each frame at its own presentation
//! time, with the source's colour tags and the layout's stereo signalling, over a pipe.
//!
//! Frames travel in a minimal Matroska stream ([`super::mkv_raw`]) so their timestamps travel
//! with them; ffmpeg encodes with `-fps_mode passthrough` and an encoder time base equal to the
//! output timescale, so every frame keeps its tick.
use super::mkv_raw::{RawFormat, RawMkvWriter, RawTrack};
use super::output_format::{OutputFormat, PixFmt, VideoCodec};
use super::process::{ffmpeg, Running};
use crate::{PipelineError, Result};
use std::path::Path;
use std::process::{ChildStdin, Stdio};

/// Encoder settings. Defaults favour throughput on small machines (the encoder, not the model, is
/// often the bottleneck: see BENCHMARKS.md). `codec`/`pix_fmt` override the automatic choice
/// (see [`super::output_format`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeSettings {
    pub preset: String,
    pub crf: u8,
    pub codec: Option<VideoCodec>,
    pub pix_fmt: Option<PixFmt>,
}

impl Default for EncodeSettings {
    fn default() -> Self {
        EncodeSettings {
            preset: "veryfast".into(),
            crf: 18,
            codec: None,
            pix_fmt: None,
        }
    }
}

pub struct Encoder {
    proc: Running,
    writer: Option<RawMkvWriter<ChildStdin>>,
    frames: u64,
}

impl Encoder {
    /// Start an encoder writing `out` (an .mp4) from `width`x`height` frames in the sample format
    /// `format.sixteen_bit` selects. `frame_ns` is the nominal frame duration (the last frame's).
    pub fn start(
        out: &Path,
        width: u32,
        height: u32,
        format: &OutputFormat,
        settings: &EncodeSettings,
        frame_ns: u64,
    ) -> Result<Encoder> {
        let raw = if format.sixteen_bit {
            RawFormat::Rgb48le
        } else {
            RawFormat::Rgb24
        };
        let ts = format.timescale.to_string();
        let mut cmd = ffmpeg();
        cmd.args(["-f", "matroska", "-i", "-"])
            .args(format.encoder_args(&settings.preset, settings.crf))
            .args([
                "-fps_mode",
                "passthrough",
                "-enc_time_base",
                &format!("1:{ts}"),
            ])
            .args(["-video_track_timescale", &ts])
            .args([
                "-metadata:s:v:0",
                &format!("handler_name=StereoSpot 3D ({})", format.stereo.label),
            ])
            // The st3d stereo box is an "unofficial" MP4 extension (Google's spherical video V2).
            .args(["-strict", "unofficial", "-f", "mp4", "-y"])
            .arg(out)
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        let mut proc = Running::spawn(&mut cmd)?;
        let stdin = proc
            .child
            .stdin
            .take()
            .ok_or_else(|| PipelineError::media("ffmpeg", "encoder has no stdin"))?;
        let track = RawTrack {
            width,
            height,
            format: raw,
            default_duration_ns: Some(frame_ns),
            stereo_mode: format.stereo.mkv_stereo_mode,
            equirect: format.stereo.equirect,
        };
        let writer = match RawMkvWriter::new(stdin, &track) {
            Ok(w) => w,
            Err(e) => return Err(proc.died("encoder failed to start", &e)),
        };
        Ok(Encoder {
            proc,
            writer: Some(writer),
            frames: 0,
        })
    }

    /// Bytes one frame must have.
    pub fn frame_len(&self) -> usize {
        self.writer.as_ref().map_or(0, |w| w.frame_len())
    }

    /// One frame at `pts_ns` from the segment's first frame (presentation order).
    pub fn write_frame(&mut self, pixels: &[u8], pts_ns: u64) -> Result<()> {
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| PipelineError::media("ffmpeg", "encoder closed"))?;
        if pixels.len() != w.frame_len() {
            return Err(PipelineError::media(
                "ffmpeg",
                format!(
                    "frame of {} bytes, expected {}",
                    pixels.len(),
                    w.frame_len()
                ),
            ));
        }
        if let Err(e) = w.write_frame(pts_ns, pixels) {
            self.writer = None;
            return Err(self.proc.died("encoding failed", &e));
        }
        self.frames += 1;
        Ok(())
    }

    /// Close the input and wait; returns the number of frames written.
    pub fn finish(mut self) -> Result<u64> {
        self.writer = None;
        self.proc.wait("encoding")?;
        Ok(self.frames)
    }
}
