//! Encode packed RGB24 frames to an H.264 MP4 at a constant frame rate, over a pipe.
use super::process::{ffmpeg, Running};
use crate::{PipelineError, Result};
use std::io::Write;
use std::path::Path;
use std::process::{ChildStdin, Stdio};

/// x264 settings. Defaults favour throughput on small machines (the encoder, not the model, is
/// often the bottleneck: see BENCHMARKS.md).
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeSettings {
    pub preset: String,
    pub crf: u8,
}

impl Default for EncodeSettings {
    fn default() -> Self {
        EncodeSettings {
            preset: "veryfast".into(),
            crf: 18,
        }
    }
}

pub struct Encoder {
    proc: Running,
    stdin: Option<ChildStdin>,
    frame_len: usize,
    frames: u64,
}

impl Encoder {
    /// Start an encoder writing `out` (an .mp4): `width`x`height` RGB24 frames at `frame_rate`,
    /// stored with the given time base denominator (the input's, so the output keeps it).
    pub fn start(
        out: &Path,
        width: u32,
        height: u32,
        frame_rate: (u32, u32),
        timescale: u32,
        settings: &EncodeSettings,
    ) -> Result<Encoder> {
        let mut proc = Running::spawn(
            ffmpeg()
                .args([
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    "rgb24",
                    "-s",
                    &format!("{width}x{height}"),
                ])
                .args([
                    "-framerate",
                    &format!("{}/{}", frame_rate.0, frame_rate.1),
                    "-i",
                    "-",
                ])
                .args([
                    "-c:v",
                    "libx264",
                    "-preset",
                    &settings.preset,
                    "-crf",
                    &settings.crf.to_string(),
                ])
                .args([
                    "-pix_fmt",
                    "yuv420p",
                    "-video_track_timescale",
                    &timescale.to_string(),
                ])
                .args(["-f", "mp4", "-y"])
                .arg(out)
                .stdin(Stdio::piped())
                .stdout(Stdio::null()),
        )?;
        let stdin = proc.child.stdin.take();
        Ok(Encoder {
            proc,
            stdin,
            frame_len: width as usize * height as usize * 3,
            frames: 0,
        })
    }

    pub fn write_frame(&mut self, rgb: &[u8]) -> Result<()> {
        if rgb.len() != self.frame_len {
            return Err(PipelineError::media(
                "ffmpeg",
                format!("frame of {} bytes, expected {}", rgb.len(), self.frame_len),
            ));
        }
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| PipelineError::media("ffmpeg", "encoder closed"))?;
        if let Err(e) = stdin.write_all(rgb) {
            // The encoder died: report its own reason rather than the broken pipe.
            self.stdin = None;
            let status = self.proc.child.wait();
            let line = format!("encoding failed: {} ({e})", self.proc.stderr_tail());
            // Killed (the OOM killer) or out of space: the machine's fault, not the input's.
            return Err(match status {
                Ok(st) if !st.success() => super::process::failure("ffmpeg", st, line),
                _ => PipelineError::media("ffmpeg", line),
            });
        }
        self.frames += 1;
        Ok(())
    }

    /// Close the input and wait; returns the number of frames written.
    pub fn finish(mut self) -> Result<u64> {
        self.stdin = None;
        self.proc.wait("encoding")?;
        Ok(self.frames)
    }
}
