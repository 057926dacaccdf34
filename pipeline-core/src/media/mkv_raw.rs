//! A minimal Matroska writer for uncompressed RGB frames with per-frame timestamps: how rendered
//! frames reach the encoder over a pipe with their own presentation times (a raw pipe carries
//! none, and `-framerate` would make every frame equally long; see NOTES on VFR drift).
//!
//! Layout: EBML header, a Segment of unknown size, Info (TimestampScale 1 ns), one video track
//! (`V_UNCOMPRESSED`, ColourSpace FourCC `RGB\x18` for rgb24 or `RGB0` (`RGB` + 48) for rgb48le,
//! as ffmpeg's raw pixel-format tags name them, optional StereoMode and equirectangular
//! Projection), then one Cluster per frame
//! holding its absolute timestamp and one SimpleBlock. With 1 ns timestamps every time base
//! ffmpeg uses round-trips exactly, and a cluster per frame keeps block offsets at 0.
use std::io::{self, Write};

/// Matroska element IDs used here (with their marker bits, as written).
mod id {
    pub const EBML: &[u8] = &[0x1A, 0x45, 0xDF, 0xA3];
    pub const DOC_TYPE: &[u8] = &[0x42, 0x82];
    pub const DOC_TYPE_VERSION: &[u8] = &[0x42, 0x87];
    pub const DOC_TYPE_READ_VERSION: &[u8] = &[0x42, 0x85];
    pub const SEGMENT: &[u8] = &[0x18, 0x53, 0x80, 0x67];
    pub const INFO: &[u8] = &[0x15, 0x49, 0xA9, 0x66];
    pub const TIMESTAMP_SCALE: &[u8] = &[0x2A, 0xD7, 0xB1];
    pub const TRACKS: &[u8] = &[0x16, 0x54, 0xAE, 0x6B];
    pub const TRACK_ENTRY: &[u8] = &[0xAE];
    pub const TRACK_NUMBER: &[u8] = &[0xD7];
    pub const TRACK_UID: &[u8] = &[0x73, 0xC5];
    pub const TRACK_TYPE: &[u8] = &[0x83];
    pub const CODEC_ID: &[u8] = &[0x86];
    pub const DEFAULT_DURATION: &[u8] = &[0x23, 0xE3, 0x83];
    pub const VIDEO: &[u8] = &[0xE0];
    pub const PIXEL_WIDTH: &[u8] = &[0xB0];
    pub const PIXEL_HEIGHT: &[u8] = &[0xBA];
    pub const COLOUR_SPACE: &[u8] = &[0x2E, 0xB5, 0x24];
    pub const STEREO_MODE: &[u8] = &[0x53, 0xB8];
    pub const PROJECTION: &[u8] = &[0x76, 0x70];
    pub const PROJECTION_TYPE: &[u8] = &[0x76, 0x71];
    pub const PROJECTION_PRIVATE: &[u8] = &[0x76, 0x72];
    pub const CLUSTER: &[u8] = &[0x1F, 0x43, 0xB6, 0x75];
    pub const TIMESTAMP: &[u8] = &[0xE7];
    pub const SIMPLE_BLOCK: &[u8] = &[0xA3];
}

/// Matroska StereoMode values (the spec's numbering; ffmpeg turns 1 and 3 into stereo side
/// data, which its MP4 muxer writes as an `st3d` box).
pub mod stereo_mode {
    pub const SIDE_BY_SIDE_LEFT_FIRST: u8 = 1;
    pub const TOP_BOTTOM_LEFT_FIRST: u8 = 3;
}

/// The crop of an equirectangular picture from the full sphere, as the Spherical Video V2
/// `equi` box and Matroska's ProjectionPrivate hold it: each bound is the fraction of the full
/// 360° x 180° picture cut off on that side, in 0.32 fixed point (`u32::MAX` = 1). ffmpeg's
/// Matroska demuxer reads a Projection (type 1, equirectangular) with these bounds as spherical
/// side data, which its MP4 muxer writes as an `sv3d` box (`-strict unofficial`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EquirectBounds {
    pub top: u32,
    pub bottom: u32,
    pub left: u32,
    pub right: u32,
}

impl EquirectBounds {
    /// VR180: the front half of the sphere, 180° x 180° (a quarter cut off left and right).
    pub const HALF_SPHERE: EquirectBounds = EquirectBounds {
        top: 0,
        bottom: 0,
        left: 0x4000_0000,
        right: 0x4000_0000,
    };

    /// The 20-byte ProjectionPrivate: version and flags (0), then top, bottom, left, right.
    pub fn private(&self) -> [u8; 20] {
        let mut b = [0u8; 20];
        for (i, v) in [self.top, self.bottom, self.left, self.right]
            .iter()
            .enumerate()
        {
            b[4 + 4 * i..8 + 4 * i].copy_from_slice(&v.to_be_bytes());
        }
        b
    }
}

/// Matroska ProjectionType of an equirectangular picture.
const PROJECTION_EQUIRECTANGULAR: u64 = 1;

/// Pixel layouts the writer can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawFormat {
    Rgb24,
    Rgb48le,
}

impl RawFormat {
    fn fourcc(self) -> [u8; 4] {
        match self {
            RawFormat::Rgb24 => *b"RGB\x18",
            RawFormat::Rgb48le => *b"RGB0",
        }
    }

    pub fn bytes_per_pixel(self) -> usize {
        match self {
            RawFormat::Rgb24 => 3,
            RawFormat::Rgb48le => 6,
        }
    }
}

/// What the stream header declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawTrack {
    pub width: u32,
    pub height: u32,
    pub format: RawFormat,
    /// Nominal frame duration (the last frame's duration; the others follow from timestamps).
    pub default_duration_ns: Option<u64>,
    pub stereo_mode: Option<u8>,
    /// An equirectangular projection (spherical video) and its crop.
    pub equirect: Option<EquirectBounds>,
}

/// EBML variable-length size: the shortest encoding (8 bytes at most; all-ones is reserved).
fn vint(n: u64) -> Vec<u8> {
    for len in 1..=8u32 {
        if n < (1u64 << (7 * len)) - 1 {
            let marked = n | (1u64 << (7 * len));
            return marked.to_be_bytes()[8 - len as usize..].to_vec();
        }
    }
    // Unreachable for sizes we write (frames are far below 2^56 bytes).
    let mut v = vec![0x01];
    v.extend_from_slice(&n.to_be_bytes()[1..]);
    v
}

fn uint(v: u64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take(7).take_while(|x| **x == 0).count();
    b[skip..].to_vec()
}

fn element(id: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut e = id.to_vec();
    e.extend(vint(payload.len() as u64));
    e.extend_from_slice(payload);
    e
}

/// The stream header: EBML header, Segment start, Info and Tracks.
pub fn header(t: &RawTrack) -> Vec<u8> {
    let ebml = [
        element(id::DOC_TYPE, b"matroska"),
        element(id::DOC_TYPE_VERSION, &uint(4)),
        element(id::DOC_TYPE_READ_VERSION, &uint(2)),
    ]
    .concat();
    let mut video = [
        element(id::PIXEL_WIDTH, &uint(t.width as u64)),
        element(id::PIXEL_HEIGHT, &uint(t.height as u64)),
        element(id::COLOUR_SPACE, &t.format.fourcc()),
    ]
    .concat();
    if let Some(m) = t.stereo_mode {
        video.extend(element(id::STEREO_MODE, &uint(m as u64)));
    }
    if let Some(b) = t.equirect {
        let projection = [
            element(id::PROJECTION_TYPE, &uint(PROJECTION_EQUIRECTANGULAR)),
            element(id::PROJECTION_PRIVATE, &b.private()),
        ]
        .concat();
        video.extend(element(id::PROJECTION, &projection));
    }
    let mut entry = [
        element(id::TRACK_NUMBER, &uint(1)),
        element(id::TRACK_UID, &uint(1)),
        element(id::TRACK_TYPE, &uint(1)),
        element(id::CODEC_ID, b"V_UNCOMPRESSED"),
    ]
    .concat();
    if let Some(d) = t.default_duration_ns.filter(|d| *d > 0) {
        entry.extend(element(id::DEFAULT_DURATION, &uint(d)));
    }
    entry.extend(element(id::VIDEO, &video));
    let mut out = element(id::EBML, &ebml);
    out.extend_from_slice(id::SEGMENT);
    out.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]); // unknown size
    out.extend(element(id::INFO, &element(id::TIMESTAMP_SCALE, &uint(1))));
    out.extend(element(id::TRACKS, &element(id::TRACK_ENTRY, &entry)));
    out
}

/// The bytes before a frame's pixels: a Cluster at `pts_ns` holding one keyframe SimpleBlock of
/// `frame_len` bytes (track 1, relative time 0).
pub fn frame_prefix(pts_ns: u64, frame_len: usize) -> Vec<u8> {
    let ts = element(id::TIMESTAMP, &uint(pts_ns));
    let block_len = 4 + frame_len as u64;
    let mut block_head = id::SIMPLE_BLOCK.to_vec();
    block_head.extend(vint(block_len));
    block_head.extend_from_slice(&[0x81, 0x00, 0x00, 0x80]);
    let cluster_len = (ts.len() + block_head.len()) as u64 + frame_len as u64;
    let mut out = id::CLUSTER.to_vec();
    out.extend(vint(cluster_len));
    out.extend(ts);
    out.extend(block_head);
    out
}

/// Writes the header once, then frames, to any `Write` (the encoder's stdin).
pub struct RawMkvWriter<W: Write> {
    out: W,
    frame_len: usize,
}

impl<W: Write> RawMkvWriter<W> {
    pub fn new(mut out: W, track: &RawTrack) -> io::Result<Self> {
        out.write_all(&header(track))?;
        let frame_len =
            track.width as usize * track.height as usize * track.format.bytes_per_pixel();
        Ok(RawMkvWriter { out, frame_len })
    }

    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// One frame at `pts_ns` (frames must come in presentation order).
    pub fn write_frame(&mut self, pts_ns: u64, pixels: &[u8]) -> io::Result<()> {
        if pixels.len() != self.frame_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "frame of {} bytes, expected {}",
                    pixels.len(),
                    self.frame_len
                ),
            ));
        }
        self.out.write_all(&frame_prefix(pts_ns, pixels.len()))?;
        self.out.write_all(pixels)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn vints_are_shortest_and_marked() {
        assert_eq!(vint(0), [0x80]);
        assert_eq!(vint(126), [0xFE]);
        assert_eq!(vint(127), [0x40, 0x7F]); // 0xFF alone would read as "unknown size"
        assert_eq!(vint(300), [0x41, 0x2C]);
        assert_eq!(vint(1 << 40).len(), 6);
        assert_eq!(uint(0), [0]);
        assert_eq!(uint(0x1234), [0x12, 0x34]);
    }

    #[test]
    fn cluster_sizes_add_up() {
        let p = frame_prefix(1_000_000_000, 6000);
        // ID (4) + size vint (2 for ~6 KB) + timestamp element + block header.
        let size_len = 2;
        let declared = u64::from_be_bytes({
            let mut b = [0u8; 8];
            b[8 - size_len..].copy_from_slice(&p[4..4 + size_len]);
            b
        }) & 0x3FFF;
        assert_eq!(declared as usize, p.len() - 4 - size_len + 6000);
    }

    /// ffmpeg itself reads the stream back: size, pixel format, stereo side data and the exact
    /// timestamps of irregularly spaced frames.
    #[test]
    fn ffprobe_reads_frames_timestamps_and_stereo_mode() {
        let track = RawTrack {
            width: 16,
            height: 8,
            format: RawFormat::Rgb48le,
            default_duration_ns: Some(33_366_667),
            stereo_mode: Some(stereo_mode::SIDE_BY_SIDE_LEFT_FIRST),
            equirect: None,
        };
        let mut buf = Vec::new();
        {
            let mut w = RawMkvWriter::new(&mut buf, &track).unwrap();
            for (i, t) in [0u64, 33_366_667, 66_733_333, 300_000_000, 1_250_000_000]
                .iter()
                .enumerate()
            {
                w.write_frame(*t, &vec![i as u8; w.frame_len()]).unwrap();
            }
        }
        let ffprobe = std::env::var("FFPROBE").unwrap_or_else(|_| "ffprobe".into());
        let mut child = Command::new(ffprobe)
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=width,height,pix_fmt:stream_side_data=type:frame=pts",
            ])
            .args(["-of", "compact", "-i", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("ffprobe is required (make test installs ffmpeg)");
        child.stdin.take().unwrap().write_all(&buf).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        let pts: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("frame|pts="))
            .collect();
        assert_eq!(
            pts,
            ["0", "33366667", "66733333", "300000000", "1250000000"],
            "{text}"
        );
        assert!(text.contains("width=16|height=8|pix_fmt=rgb48le"), "{text}");
        assert!(text.contains("side by side"), "stereo mode lost: {text}");
        assert!(!text.contains("Spherical"), "{text}");
    }

    #[test]
    fn projection_private_is_version_then_four_bounds() {
        let p = EquirectBounds::HALF_SPHERE.private();
        assert_eq!(&p[..12], &[0u8; 12]);
        assert_eq!(&p[12..], &[0x40, 0, 0, 0, 0x40, 0, 0, 0]);
    }

    /// ffprobe reads the Projection back as spherical side data (equirectangular, cropped
    /// left and right) next to the stereo mode.
    #[test]
    fn ffprobe_reads_the_equirectangular_projection() {
        let track = RawTrack {
            width: 64,
            height: 32,
            format: RawFormat::Rgb24,
            default_duration_ns: Some(40_000_000),
            stereo_mode: Some(stereo_mode::SIDE_BY_SIDE_LEFT_FIRST),
            equirect: Some(EquirectBounds::HALF_SPHERE),
        };
        let mut buf = Vec::new();
        {
            let mut w = RawMkvWriter::new(&mut buf, &track).unwrap();
            for i in 0..3u64 {
                w.write_frame(i * 40_000_000, &vec![9; w.frame_len()])
                    .unwrap();
            }
        }
        let ffprobe = std::env::var("FFPROBE").unwrap_or_else(|_| "ffprobe".into());
        let mut child = Command::new(ffprobe)
            .args(["-v", "error", "-show_streams", "-i", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("ffprobe is required (make test installs ffmpeg)");
        child.stdin.take().unwrap().write_all(&buf).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("side_data_type=Spherical Mapping"), "{text}");
        // ffprobe 5.1 names a cropped equirectangular picture "tiled" and prints the crop in
        // pixels of the whole frame: a quarter of the full width on each side (rounded).
        assert!(text.contains("projection=tiled equirectangular"), "{text}");
        assert!(
            text.contains("bound_top=0") && text.contains("bound_bottom=0"),
            "{text}"
        );
        let bound = |k: &str| -> i64 {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1)
        };
        let (l, r) = (bound("bound_left="), bound("bound_right="));
        assert!((l - 32).abs() <= 1 && (r - 32).abs() <= 1, "{text}");
        assert!(text.contains("type=side by side"), "{text}");
    }
}
