//! Depth maps as a lossless 16-bit video: FFV1 `gray16le` in Matroska, nearness × 65535 (white
//! = near), at the model's resolution, one video frame per source frame in presentation order.
//!
//! Written next to each stereo segment when depth is exported, joined by stream copy, and read
//! back to re-render without a model (`stereospot convert --depth FILE`).
use super::process::{check, ffmpeg, run, Running};
use crate::ports::DepthMap;
use crate::{PipelineError, Result};
use std::io::Write;
use std::path::Path;
use std::process::{ChildStdin, ChildStdout, Stdio};

const SCALE: f32 = 65535.0;

/// A running FFV1 encoder fed with nearness maps of one size.
pub struct DepthWriter {
    proc: Running,
    stdin: Option<ChildStdin>,
    width: u32,
    height: u32,
    buf: Vec<u8>,
    frames: u64,
}

impl DepthWriter {
    /// Start writing `out` (.mkv) with maps of `width` x `height`.
    pub fn start(out: &Path, width: u32, height: u32) -> Result<DepthWriter> {
        let size = format!("{width}x{height}");
        let mut cmd = ffmpeg();
        cmd.args(["-f", "rawvideo", "-pix_fmt", "gray16le", "-s", &size])
            .args(["-framerate", "25", "-i", "-"])
            .args(["-c:v", "ffv1", "-level", "3", "-f", "matroska", "-y"])
            .arg(out)
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        let mut proc = Running::spawn(&mut cmd)?;
        let stdin = proc.child.stdin.take();
        Ok(DepthWriter {
            proc,
            stdin,
            width,
            height,
            buf: Vec::new(),
            frames: 0,
        })
    }

    /// Append one map (it must have the writer's size).
    pub fn write(&mut self, map: &DepthMap) -> Result<()> {
        if (map.width, map.height) != (self.width, self.height) {
            return Err(PipelineError::State(format!(
                "depth map {}x{} in a {}x{} depth video",
                map.width, map.height, self.width, self.height
            )));
        }
        self.buf.clear();
        for v in &map.data {
            let q = (v.clamp(0.0, 1.0) * SCALE).round() as u16;
            self.buf.extend_from_slice(&q.to_le_bytes());
        }
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| PipelineError::media("ffmpeg", "depth encoder closed"))?;
        if let Err(e) = stdin.write_all(&self.buf) {
            self.stdin = None;
            return Err(self.proc.died("depth encoding failed", &e));
        }
        self.frames += 1;
        Ok(())
    }

    /// Close and wait; the number of maps written.
    pub fn finish(mut self) -> Result<u64> {
        self.stdin = None;
        self.proc.wait("depth encoding")?;
        Ok(self.frames)
    }
}

/// Reads the maps of a depth video in order.
pub struct DepthReader {
    proc: Running,
    stdout: ChildStdout,
    width: u32,
    height: u32,
    buf: Vec<u8>,
}

impl DepthReader {
    pub fn open(path: &Path, width: u32, height: u32) -> Result<DepthReader> {
        let mut cmd = ffmpeg();
        cmd.arg("-i")
            .arg(path)
            .args(["-map", "0:v:0", "-fps_mode", "passthrough"])
            .args(["-f", "rawvideo", "-pix_fmt", "gray16le", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut proc = Running::spawn(&mut cmd)?;
        let stdout = proc
            .child
            .stdout
            .take()
            .ok_or_else(|| PipelineError::media("ffmpeg", "no stdout"))?;
        Ok(DepthReader {
            proc,
            stdout,
            width,
            height,
            buf: Vec::new(),
        })
    }

    /// The next map, or `None` at the end of the video.
    pub fn next_map(&mut self) -> Result<Option<DepthMap>> {
        let n = self.width as usize * self.height as usize;
        self.buf.resize(n * 2, 0);
        let filled = super::process::read_full(&mut self.stdout, &mut self.buf, "depth")?;
        if filled < self.buf.len() {
            self.proc.wait("depth decoding")?;
            if filled != 0 {
                return Err(PipelineError::media(
                    "ffmpeg",
                    "depth video ended in the middle of a frame",
                ));
            }
            return Ok(None);
        }
        let data = self
            .buf
            .chunks_exact(2)
            .map(|b| f32::from(u16::from_le_bytes([b[0], b[1]])) / SCALE)
            .collect();
        Ok(Some(DepthMap {
            width: self.width,
            height: self.height,
            data,
        }))
    }
}

/// Width and height of a depth video.
pub fn map_size(path: &Path) -> Result<(u32, u32)> {
    let out = run(
        "ffprobe",
        super::process::ffprobe()
            .args([
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height",
            ])
            .args(["-of", "csv=p=0"])
            .arg(path),
    )?;
    check("ffprobe", &out)?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.trim().split(',').map(|v| v.trim().parse::<u32>());
    match (it.next(), it.next()) {
        (Some(Ok(w)), Some(Ok(h))) if w > 0 && h > 0 => Ok((w, h)),
        _ => Err(PipelineError::media(
            "ffprobe",
            format!("{}: not a depth video ({})", path.display(), text.trim()),
        )),
    }
}

/// Join depth pieces into `out` by stream copy (FFV1 frames are all keyframes).
pub fn join_depth(pieces: &[std::path::PathBuf], list: &Path, out: &Path) -> Result<()> {
    let mut text = String::from("ffconcat version 1.0\n");
    for p in pieces {
        let s = p.to_string_lossy().replace('\'', "'\\''");
        text.push_str(&format!("file '{s}'\n"));
    }
    std::fs::write(list, text).map_err(|e| PipelineError::io(list, e))?;
    let out_cmd = run(
        "ffmpeg",
        ffmpeg()
            .args(["-f", "concat", "-safe", "0", "-i"])
            .arg(list)
            .args(["-map", "0:v:0", "-c", "copy", "-f", "matroska", "-y"])
            .arg(out),
    )?;
    check("ffmpeg", &out_cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_survive_the_round_trip_to_one_65535th() {
        let dir = tempfile::tempdir().unwrap();
        let (w, h) = (37u32, 21u32);
        let maps: Vec<DepthMap> = (0..5)
            .map(|k| DepthMap {
                width: w,
                height: h,
                data: (0..w * h)
                    .map(|i| ((i * 7 + k * 13) % 1000) as f32 / 999.0)
                    .collect(),
            })
            .collect();
        let pieces = [dir.path().join("a.mkv"), dir.path().join("b.mkv")];
        for (piece, part) in pieces.iter().zip([&maps[..2], &maps[2..]]) {
            let mut wr = DepthWriter::start(piece, w, h).unwrap();
            for m in part {
                wr.write(m).unwrap();
            }
            assert_eq!(wr.finish().unwrap(), part.len() as u64);
        }
        let joined = dir.path().join("all.mkv");
        join_depth(&pieces, &dir.path().join("list.txt"), &joined).unwrap();
        assert_eq!(map_size(&joined).unwrap(), (w, h));
        let mut rd = DepthReader::open(&joined, w, h).unwrap();
        for m in &maps {
            let got = rd.next_map().unwrap().expect("a map per frame");
            let worst = got
                .data
                .iter()
                .zip(&m.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst <= 0.5 / SCALE + 1e-7, "{worst}");
        }
        assert!(rd.next_map().unwrap().is_none(), "no extra frames");
    }

    #[test]
    fn a_map_of_another_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut wr = DepthWriter::start(&dir.path().join("d.mkv"), 4, 4).unwrap();
        let e = wr
            .write(&DepthMap {
                width: 3,
                height: 4,
                data: vec![0.0; 12],
            })
            .unwrap_err();
        assert!(e.to_string().contains("3x4"), "{e}");
    }
}
