//! Decode a video file to packed RGB frames (rgb24, or rgb48le for sources deeper than 8 bits)
//! at the job's display size, read with the source's own matrix and range, over a pipe.
use super::process::{ffmpeg, Running};
use crate::domain::MediaInfo;
use crate::{PipelineError, Result};

use std::path::Path;
use std::process::{ChildStdout, Stdio};

/// A running ffmpeg decoder. Frames come out in decode order at constant size.
pub struct Decoder {
    proc: Running,
    stdout: ChildStdout,
    pub width: u32,
    pub height: u32,
    /// Bytes per pixel: 3 (rgb24) or 6 (rgb48le).
    pub bytes_per_pixel: usize,
}

/// The filter chain taking coded frames to display frames: YUV read with the source's matrix and
/// range into RGB (`rgb_fmt`), square pixels, even size, rotation.
pub fn display_filter(info: &MediaInfo, rgb_fmt: &str) -> String {
    let (dw, dh) = info.display_size();
    // Size before rotation (the rotation swaps it for 90/270).
    let (pw, ph) = if info.rotation % 180 == 90 {
        (dh, dw)
    } else {
        (dw, dh)
    };
    let c = &info.colour;
    // The conversion to RGB happens in this scale (the format right after it forces that), so
    // it uses the source's matrix and range rather than a default.
    let mut f = format!(
        "scale={pw}:{ph}:flags={}:in_color_matrix={}:in_range={},format={rgb_fmt},setsar=1",
        super::output_format::sws_flags(rgb_fmt != "rgb24"),
        c.scale_matrix(),
        c.scale_range()
    );
    match info.rotation {
        90 => f.push_str(",transpose=clock"),
        180 => f.push_str(",hflip,vflip"),
        270 => f.push_str(",transpose=cclock"),
        _ => {}
    }
    f
}

impl Decoder {
    /// Start decoding `path`; frames are delivered at `info.display_size()`, as rgb48le when
    /// `sixteen_bit`, else rgb24.
    pub fn open(path: &Path, info: &MediaInfo, sixteen_bit: bool) -> Result<Decoder> {
        Decoder::open_from(path, info, sixteen_bit, None)
    }

    /// [`Self::open`], delivering only frames with a presentation timestamp of at least
    /// `start_pts` (the file's own timestamps and time base): `path` is a pre-roll followed by
    /// the piece to render, and the pre-roll frames only serve as references.
    pub fn open_from(
        path: &Path,
        info: &MediaInfo,
        sixteen_bit: bool,
        start_pts: Option<i64>,
    ) -> Result<Decoder> {
        let (width, height) = info.display_size();
        let (rgb_fmt, bytes_per_pixel) = if sixteen_bit {
            ("rgb48le", 6)
        } else {
            ("rgb24", 3)
        };
        let mut filter = display_filter(info, rgb_fmt);
        let mut cmd = ffmpeg();
        cmd.arg("-noautorotate");
        if let Some(s) = start_pts {
            // Raw timestamps (no shift to 0), so the trim compares them with the piece's own.
            cmd.arg("-copyts");
            filter = format!("trim=start_pts={s},{filter}");
        }
        let mut proc = Running::spawn(
            cmd.arg("-i")
                .arg(path)
                .args(["-map", "0:v:0", "-fps_mode", "passthrough", "-vf", &filter])
                .args(["-f", "rawvideo", "-pix_fmt", rgb_fmt, "-"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped()),
        )?;
        let stdout = proc
            .child
            .stdout
            .take()
            .ok_or_else(|| PipelineError::media("ffmpeg", "no stdout"))?;
        Ok(Decoder {
            proc,
            stdout,
            width,
            height,
            bytes_per_pixel,
        })
    }

    pub fn frame_len(&self) -> usize {
        self.width as usize * self.height as usize * self.bytes_per_pixel
    }

    /// Read the next frame into `buf` (resized to the frame length). Ok(false) at a clean end.
    pub fn read_frame(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        buf.resize(self.frame_len(), 0);
        let filled = super::process::read_full(&mut self.stdout, buf, "decoded frames")?;
        if filled == buf.len() {
            return Ok(true);
        }
        self.finish()?;
        if filled != 0 {
            return Err(PipelineError::media(
                "ffmpeg",
                "decoder ended in the middle of a frame",
            ));
        }
        Ok(false)
    }

    /// Wait for ffmpeg and report its failure, if any.
    fn finish(&mut self) -> Result<()> {
        self.proc.wait("decoding")
    }
}
