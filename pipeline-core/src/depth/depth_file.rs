//! Exported depth: a depth video ([`crate::media::depth_video`]) plus a JSON sidecar naming
//! what made it, and a depth "model" that reads it back so a film can be re-rendered with new
//! stereo settings without running the model again (`stereospot convert --depth FILE`).
use crate::media::depth_video::DepthReader;
use crate::ports::depth::{DepthError, DepthEstimator, DepthEstimatorFactory, DepthMap, FrameRef};
use crate::{PipelineError, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub const FORMAT: &str = "stereospot-depth";
pub const VERSION: u32 = 1;
/// Bytes hashed at each end of the input for its fingerprint.
const SAMPLE: u64 = 4 << 20;

/// Which input a depth file belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFingerprint {
    pub name: String,
    pub size: u64,
    /// SHA-256 of the size (8 bytes, little endian), the first 4 MiB and the last 4 MiB: a
    /// film is identified in milliseconds rather than by hashing gigabytes.
    pub sha256_sampled: String,
}

/// The sidecar (`<depth file stem>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepthSidecar {
    pub format: String,
    pub version: u32,
    /// The model that made the maps (its description: file, profile, device).
    pub model: String,
    /// The temporal window applied (1 = per frame); the maps are stored after it.
    pub depth_window: usize,
    pub input: InputFingerprint,
    pub frames: u64,
    /// Size of the maps (the model's output resolution).
    pub map_width: u32,
    pub map_height: u32,
    /// Presentation time of each frame, ns from the first.
    pub timestamps_ns: Vec<u64>,
}

/// Where the sidecar of depth video `depth` lives: same path, extension `.json`.
pub fn sidecar_path(depth: &Path) -> PathBuf {
    depth.with_extension("json")
}

/// The fingerprint of `input` (see [`InputFingerprint::sha256_sampled`]).
pub fn fingerprint(input: &Path) -> Result<InputFingerprint> {
    let mut f = std::fs::File::open(input).map_err(|e| PipelineError::io(input, e))?;
    let size = f.metadata().map_err(|e| PipelineError::io(input, e))?.len();
    let mut h = Sha256::new();
    h.update(size.to_le_bytes());
    let mut buf = Vec::new();
    (&mut f)
        .take(SAMPLE)
        .read_to_end(&mut buf)
        .map_err(|e| PipelineError::io(input, e))?;
    h.update(&buf);
    if size > SAMPLE {
        buf.clear();
        f.seek(SeekFrom::Start(size.saturating_sub(SAMPLE).max(SAMPLE)))
            .map_err(|e| PipelineError::io(input, e))?;
        f.take(SAMPLE)
            .read_to_end(&mut buf)
            .map_err(|e| PipelineError::io(input, e))?;
        h.update(&buf);
    }
    Ok(InputFingerprint {
        name: input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        size,
        sha256_sampled: hex::encode(h.finalize()),
    })
}

impl DepthSidecar {
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| PipelineError::State(format!("depth sidecar: {e}")))?;
        std::fs::write(path, text + "\n").map_err(|e| PipelineError::io(path, e))
    }

    /// Read and check the sidecar of depth video `depth` (a one-line reason when it is not one).
    pub fn read_for(depth: &Path) -> Result<DepthSidecar> {
        let path = sidecar_path(depth);
        let shown = depth.display();
        if !depth.is_file() {
            return Err(PipelineError::bad_input(&shown, "depth file not found"));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| {
            PipelineError::bad_input(
                &shown,
                format!("its sidecar {} cannot be read ({e})", path.display()),
            )
        })?;
        let s: DepthSidecar = serde_json::from_str(&text).map_err(|e| {
            PipelineError::bad_input(
                &shown,
                format!("{} is not a StereoSpot depth sidecar ({e})", path.display()),
            )
        })?;
        if s.format != FORMAT || s.version != VERSION {
            return Err(PipelineError::bad_input(
                &shown,
                format!(
                    "sidecar says {} version {}; this StereoSpot reads {FORMAT} version {VERSION}",
                    s.format, s.version
                ),
            ));
        }
        if s.map_width == 0 || s.map_height == 0 || s.map_width > 16384 || s.map_height > 16384 {
            return Err(PipelineError::bad_input(
                &shown,
                format!(
                    "sidecar map size {}x{} is not usable",
                    s.map_width, s.map_height
                ),
            ));
        }
        Ok(s)
    }

    /// Refuse the depth file for an input it was not made from, or of another frame count.
    pub fn check_matches(&self, depth: &Path, input: &Path, input_frames: u64) -> Result<()> {
        let shown = depth.display();
        let fp = fingerprint(input)?;
        if fp.size != self.input.size || fp.sha256_sampled != self.input.sha256_sampled {
            return Err(PipelineError::bad_input(
                &shown,
                format!(
                    "made from another input ({}, {} bytes), not {} ({} bytes)",
                    self.input.name, self.input.size, fp.name, fp.size
                ),
            ));
        }
        if input_frames != self.frames {
            return Err(PipelineError::bad_input(
                &shown,
                format!(
                    "has {} depth frames, the video has {input_frames}",
                    self.frames
                ),
            ));
        }
        Ok(())
    }
}

/// Depth read back from an exported depth file, in frame order. Its maps are final (already
/// smoothed), so it reports absolute nearness and the pipeline does not smooth them again. One
/// reader serves one pass over the film: the converter renders such a job as one segment.
pub struct DepthFileFactory {
    path: PathBuf,
    sidecar: DepthSidecar,
}

impl DepthFileFactory {
    pub fn new(path: PathBuf, sidecar: DepthSidecar) -> DepthFileFactory {
        DepthFileFactory { path, sidecar }
    }
}

impl DepthEstimatorFactory for DepthFileFactory {
    fn create(&self) -> std::result::Result<Box<dyn DepthEstimator>, DepthError> {
        let reader = DepthReader::open(&self.path, self.sidecar.map_width, self.sidecar.map_height)
            .map_err(|e| DepthError::Config(format!("{}: {e}", self.path.display())))?;
        Ok(Box::new(DepthFileEstimator {
            reader,
            read: 0,
            describe: format!(
                "depth file {} ({} frames by {})",
                self.path.display(),
                self.sidecar.frames,
                self.sidecar.model
            ),
        }))
    }
}

/// An estimator reading the maps of one depth video (a segment's kept depth), in order.
pub fn piece_estimator(path: &Path) -> Result<Box<dyn DepthEstimator>> {
    let (w, h) = crate::media::depth_video::map_size(path)?;
    let reader = DepthReader::open(path, w, h)?;
    Ok(Box::new(DepthFileEstimator {
        reader,
        read: 0,
        describe: format!("kept depth {}", path.display()),
    }))
}

struct DepthFileEstimator {
    reader: DepthReader,
    read: u64,
    describe: String,
}

impl DepthEstimator for DepthFileEstimator {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn max_batch(&self) -> usize {
        8
    }

    fn estimate(
        &mut self,
        frames: &[FrameRef<'_>],
    ) -> std::result::Result<Vec<DepthMap>, DepthError> {
        let mut out = Vec::with_capacity(frames.len());
        for _ in frames {
            match self.reader.next_map() {
                Ok(Some(m)) => out.push(m),
                Ok(None) => {
                    return Err(DepthError::Inference(format!(
                        "the depth file ends after {} frames; the video has more",
                        self.read
                    )))
                }
                Err(e) => return Err(DepthError::Inference(format!("depth file: {e}"))),
            }
            self.read += 1;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_sees_size_start_and_end_but_not_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 251) as u8).collect();
        let a = dir.path().join("a.bin");
        std::fs::write(&a, &big).unwrap();
        let b = dir.path().join("b.bin");
        std::fs::write(&b, &big).unwrap();
        let (fa, fb) = (fingerprint(&a).unwrap(), fingerprint(&b).unwrap());
        assert_eq!(fa.sha256_sampled, fb.sha256_sampled);
        let mut end = big.clone();
        let last = end.len() - 1;
        end[last] ^= 1;
        std::fs::write(&b, &end).unwrap();
        assert_ne!(fingerprint(&b).unwrap().sha256_sampled, fa.sha256_sampled);
        let mut start = big;
        start[0] ^= 1;
        std::fs::write(&b, &start).unwrap();
        assert_ne!(fingerprint(&b).unwrap().sha256_sampled, fa.sha256_sampled);
    }

    #[test]
    fn sidecars_round_trip_and_strangers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let depth = dir.path().join("d.mkv");
        std::fs::write(&depth, b"x").unwrap();
        let input = dir.path().join("in.mp4");
        std::fs::write(&input, b"video").unwrap();
        let s = DepthSidecar {
            format: FORMAT.into(),
            version: VERSION,
            model: "m".into(),
            depth_window: 8,
            input: fingerprint(&input).unwrap(),
            frames: 3,
            map_width: 4,
            map_height: 2,
            timestamps_ns: vec![0, 1, 2],
        };
        s.write(&sidecar_path(&depth)).unwrap();
        assert_eq!(DepthSidecar::read_for(&depth).unwrap(), s);
        s.check_matches(&depth, &input, 3).unwrap();
        let e = s.check_matches(&depth, &input, 4).unwrap_err().to_string();
        assert!(e.contains("has 3 depth frames, the video has 4"), "{e}");
        std::fs::write(&input, b"other").unwrap();
        let e = s.check_matches(&depth, &input, 3).unwrap_err().to_string();
        assert!(e.contains("made from another input"), "{e}");
        std::fs::write(sidecar_path(&depth), "{}").unwrap();
        let e = DepthSidecar::read_for(&depth).unwrap_err().to_string();
        assert!(e.contains("not a StereoSpot depth sidecar"), "{e}");
        std::fs::remove_file(sidecar_path(&depth)).unwrap();
        let e = DepthSidecar::read_for(&depth).unwrap_err().to_string();
        assert!(e.contains("cannot be read"), "{e}");
    }
}
