//! Decode a video file to packed RGB24 frames at the job's display size, over a pipe.
use super::process::{ffmpeg, Running};
use crate::domain::MediaInfo;
use crate::{PipelineError, Result};
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::process::{ChildStdout, Stdio};

/// A running ffmpeg decoder. Frames come out in decode order at constant size.
pub struct Decoder {
    proc: Running,
    stdout: ChildStdout,
    pub width: u32,
    pub height: u32,
}

/// The filter chain taking coded frames to display frames: square pixels, even size, rotation.
pub fn display_filter(info: &MediaInfo) -> String {
    let (dw, dh) = info.display_size();
    // Size before rotation (the rotation swaps it for 90/270).
    let (pw, ph) = if info.rotation % 180 == 90 {
        (dh, dw)
    } else {
        (dw, dh)
    };
    let mut f = format!("scale={pw}:{ph}:flags=bicubic,setsar=1");
    match info.rotation {
        90 => f.push_str(",transpose=clock"),
        180 => f.push_str(",hflip,vflip"),
        270 => f.push_str(",transpose=cclock"),
        _ => {}
    }
    f
}

impl Decoder {
    /// Start decoding `path`; frames are delivered at `info.display_size()`.
    pub fn open(path: &Path, info: &MediaInfo) -> Result<Decoder> {
        let (width, height) = info.display_size();
        let mut proc = Running::spawn(
            ffmpeg()
                .arg("-noautorotate")
                .arg("-i")
                .arg(path)
                .args([
                    "-map",
                    "0:v:0",
                    "-fps_mode",
                    "passthrough",
                    "-vf",
                    &display_filter(info),
                ])
                .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
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
        })
    }

    pub fn frame_len(&self) -> usize {
        self.width as usize * self.height as usize * 3
    }

    /// Read the next frame into `buf` (resized to the frame length). Ok(false) at a clean end.
    pub fn read_frame(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        buf.resize(self.frame_len(), 0);
        let mut filled = 0;
        while filled < buf.len() {
            match self.stdout.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(PipelineError::media(
                        "ffmpeg",
                        format!("reading decoded frames: {e}"),
                    ))
                }
            }
        }
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
