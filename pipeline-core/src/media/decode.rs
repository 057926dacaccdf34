//! Decode a video file to packed RGB24 frames at the job's display size, over a pipe.
use super::process::{ffmpeg, last_line};
use crate::domain::MediaInfo;
use crate::{PipelineError, Result};
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Stdio};
use std::thread::JoinHandle;

/// A running ffmpeg decoder. Frames come out in decode order at constant size.
pub struct Decoder {
    child: Child,
    stdout: ChildStdout,
    stderr: Option<JoinHandle<Vec<u8>>>,
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
        let mut child = ffmpeg()
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
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| PipelineError::media("ffmpeg", format!("cannot run ffmpeg: {e}")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| PipelineError::media("ffmpeg", "no stdout"))?;
        let stderr = child.stderr.take().map(|mut s| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = s.read_to_end(&mut buf);
                buf
            })
        });
        Ok(Decoder {
            child,
            stdout,
            stderr,
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
        let status = self
            .child
            .wait()
            .map_err(|e| PipelineError::media("ffmpeg", e.to_string()))?;
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if !status.success() {
            return Err(PipelineError::media(
                "ffmpeg",
                format!("decoding failed: {}", last_line(&stderr)),
            ));
        }
        Ok(())
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
