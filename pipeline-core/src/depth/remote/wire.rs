//! The wire format of the remote depth backends (`docs/inference.md` documents it for other
//! implementations).
//!
//! Request, content type [`FRAMES_CONTENT_TYPE`]: a 20-byte header, then `N * W * H * 3` bytes of
//! packed RGB24 (row-major, frames back to back) at the model's input size.
//! Response, content type [`DEPTH_CONTENT_TYPE`]: a 20-byte header, then `N * w * h` little-endian
//! u16 nearness values (`0..=65535` for `0.0..=1.0`) at the model's output size.
//!
//! Header (all little-endian): magic (4 bytes: `SSFR` request, `SSDP` response), version u16
//! ([`WIRE_VERSION`]), reserved u16 (0), count N u32, width u32, height u32.
use crate::ports::depth::{DepthMap, FrameRef};

pub const FRAMES_CONTENT_TYPE: &str = "application/x-stereospot-frames";
pub const DEPTH_CONTENT_TYPE: &str = "application/x-stereospot-depth";
/// The SageMaker custom-attributes header; carries `profile=<name>`.
pub const CUSTOM_ATTRIBUTES_HEADER: &str = "X-Amzn-SageMaker-Custom-Attributes";
pub const FRAMES_MAGIC: [u8; 4] = *b"SSFR";
pub const DEPTH_MAGIC: [u8; 4] = *b"SSDP";
pub const WIRE_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 20;
/// Largest width or height either side accepts.
pub const MAX_DIM: u32 = 8192;
/// Largest frame count in one message.
pub const MAX_COUNT: u32 = 4096;
/// What a client puts in one request at most: SageMaker real-time payloads are limited to 6 MB.
pub const MAX_REQUEST_BYTES: usize = 6_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("payload is {len} bytes, shorter than the {HEADER_LEN}-byte header")]
    TooShort { len: usize },
    #[error("bad magic {found:?}: expected {expected:?} ({what})")]
    BadMagic {
        found: [u8; 4],
        expected: [u8; 4],
        what: &'static str,
    },
    #[error("wire version {found} is not supported (this side speaks {WIRE_VERSION})")]
    UnsupportedVersion { found: u16 },
    #[error("reserved header field is {found}, must be 0")]
    Reserved { found: u16 },
    #[error("frame count {count} out of range 1..={MAX_COUNT}")]
    BadCount { count: u32 },
    #[error("size {width}x{height} out of range 1..={MAX_DIM}")]
    BadSize { width: u32, height: u32 },
    #[error(
        "header says {count} x {width}x{height} ({expected} bytes in all), payload is {actual}"
    )]
    LengthMismatch {
        count: u32,
        width: u32,
        height: u32,
        expected: usize,
        actual: usize,
    },
    #[error("{0}")]
    Invalid(String),
}

/// A decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub count: u32,
    pub width: u32,
    pub height: u32,
}

impl Header {
    fn write(&self, magic: [u8; 4], buf: &mut Vec<u8>) {
        buf.extend_from_slice(&magic);
        buf.extend_from_slice(&WIRE_VERSION.to_le_bytes());
        buf.extend_from_slice(&0u16.to_le_bytes());
        buf.extend_from_slice(&self.count.to_le_bytes());
        buf.extend_from_slice(&self.width.to_le_bytes());
        buf.extend_from_slice(&self.height.to_le_bytes());
    }

    fn check_ranges(&self) -> Result<(), WireError> {
        if self.count == 0 || self.count > MAX_COUNT {
            return Err(WireError::BadCount { count: self.count });
        }
        if !(1..=MAX_DIM).contains(&self.width) || !(1..=MAX_DIM).contains(&self.height) {
            return Err(WireError::BadSize {
                width: self.width,
                height: self.height,
            });
        }
        Ok(())
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parse and check a header; `bytes_per_pixel` gives the exact payload length it implies.
fn read_header(
    body: &[u8],
    magic: [u8; 4],
    what: &'static str,
    bytes_per_pixel: usize,
) -> Result<Header, WireError> {
    if body.len() < HEADER_LEN {
        return Err(WireError::TooShort { len: body.len() });
    }
    let found = [body[0], body[1], body[2], body[3]];
    if found != magic {
        return Err(WireError::BadMagic {
            found,
            expected: magic,
            what,
        });
    }
    let version = u16_at(body, 4);
    if version != WIRE_VERSION {
        return Err(WireError::UnsupportedVersion { found: version });
    }
    let reserved = u16_at(body, 6);
    if reserved != 0 {
        return Err(WireError::Reserved { found: reserved });
    }
    let h = Header {
        count: u32_at(body, 8),
        width: u32_at(body, 12),
        height: u32_at(body, 16),
    };
    h.check_ranges()?;
    // In range, so this cannot overflow u64; it can exceed usize only on 32-bit targets.
    let expected = (h.count as u64) * (h.width as u64) * (h.height as u64) * bytes_per_pixel as u64
        + HEADER_LEN as u64;
    if expected != body.len() as u64 {
        return Err(WireError::LengthMismatch {
            count: h.count,
            width: h.width,
            height: h.height,
            expected: usize::try_from(expected).unwrap_or(usize::MAX),
            actual: body.len(),
        });
    }
    Ok(h)
}

/// Bytes of a frames request with `count` frames of `width` x `height`.
pub fn frames_request_len(count: usize, width: u32, height: u32) -> usize {
    HEADER_LEN.saturating_add(
        count
            .saturating_mul(width as usize)
            .saturating_mul(height as usize)
            .saturating_mul(3),
    )
}

/// Most frames of `width` x `height` that fit in `max_bytes` (0 if not even one does).
pub fn frames_per_request(width: u32, height: u32, max_bytes: usize) -> usize {
    let per_frame = (width as usize)
        .saturating_mul(height as usize)
        .saturating_mul(3);
    if per_frame == 0 {
        return 0;
    }
    (max_bytes.saturating_sub(HEADER_LEN) / per_frame).min(MAX_COUNT as usize)
}

/// Start a frames request in `buf` (cleared): the header for `count` frames. Append exactly
/// `count * width * height * 3` RGB bytes after it.
pub fn begin_frames(buf: &mut Vec<u8>, count: u32, width: u32, height: u32) {
    buf.clear();
    buf.reserve(frames_request_len(count as usize, width, height));
    Header {
        count,
        width,
        height,
    }
    .write(FRAMES_MAGIC, buf);
}

/// Encode whole frames (all `width` x `height`) into `buf` (cleared).
pub fn encode_frames(buf: &mut Vec<u8>, frames: &[FrameRef<'_>]) -> Result<(), WireError> {
    let Some(first) = frames.first() else {
        return Err(WireError::BadCount { count: 0 });
    };
    let count = u32::try_from(frames.len()).unwrap_or(u32::MAX);
    let header = Header {
        count,
        width: first.width,
        height: first.height,
    };
    header.check_ranges()?;
    let frame_len = first.width as usize * first.height as usize * 3;
    for (i, f) in frames.iter().enumerate() {
        if (f.width, f.height) != (first.width, first.height) || f.rgb.len() != frame_len {
            return Err(WireError::Invalid(format!(
                "frame {i} is {}x{} with {} bytes; frame 0 is {}x{} ({frame_len} bytes)",
                f.width,
                f.height,
                f.rgb.len(),
                first.width,
                first.height
            )));
        }
    }
    begin_frames(buf, count, first.width, first.height);
    for f in frames {
        buf.extend_from_slice(f.rgb);
    }
    Ok(())
}

/// A checked frames request, borrowing the payload.
#[derive(Debug, Clone, Copy)]
pub struct FramesView<'a> {
    pub header: Header,
    pixels: &'a [u8],
}

impl<'a> FramesView<'a> {
    pub fn len(&self) -> usize {
        self.header.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.header.count == 0
    }

    /// Frame `i` (`i < len()`), `None` past the end.
    pub fn frame(&self, i: usize) -> Option<FrameRef<'a>> {
        let n = self.header.width as usize * self.header.height as usize * 3;
        let rgb = self
            .pixels
            .get(i.checked_mul(n)?..(i + 1).checked_mul(n)?)?;
        Some(FrameRef {
            width: self.header.width,
            height: self.header.height,
            rgb,
        })
    }

    pub fn frames(&self) -> Vec<FrameRef<'a>> {
        (0..self.len()).filter_map(|i| self.frame(i)).collect()
    }
}

/// Parse a frames request; every length and range is checked.
pub fn decode_frames(body: &[u8]) -> Result<FramesView<'_>, WireError> {
    let header = read_header(body, FRAMES_MAGIC, "a frames request", 3)?;
    Ok(FramesView {
        header,
        pixels: &body[HEADER_LEN..],
    })
}

/// Nearness in [0, 1] to its u16 code (non-finite values are 0, like far).
pub fn quantize(v: f32) -> u16 {
    if v.is_finite() {
        (v.clamp(0.0, 1.0) * 65535.0).round() as u16
    } else {
        0
    }
}

pub fn dequantize(q: u16) -> f32 {
    f32::from(q) / 65535.0
}

/// Encode depth maps (all one size) as a depth response into `buf` (cleared).
pub fn encode_depth(buf: &mut Vec<u8>, maps: &[DepthMap]) -> Result<(), WireError> {
    let Some(first) = maps.first() else {
        return Err(WireError::BadCount { count: 0 });
    };
    let header = Header {
        count: u32::try_from(maps.len()).unwrap_or(u32::MAX),
        width: first.width,
        height: first.height,
    };
    header.check_ranges()?;
    let plane = first.width as usize * first.height as usize;
    for (i, m) in maps.iter().enumerate() {
        if (m.width, m.height) != (first.width, first.height) || m.data.len() != plane {
            return Err(WireError::Invalid(format!(
                "depth map {i} is {}x{} with {} values; map 0 is {}x{}",
                m.width,
                m.height,
                m.data.len(),
                first.width,
                first.height
            )));
        }
    }
    buf.clear();
    buf.reserve(HEADER_LEN + maps.len() * plane * 2);
    header.write(DEPTH_MAGIC, buf);
    for m in maps {
        let start = buf.len();
        buf.resize(start + 2 * plane, 0);
        for (out, &v) in buf[start..].chunks_exact_mut(2).zip(&m.data) {
            out.copy_from_slice(&quantize(v).to_le_bytes());
        }
    }
    Ok(())
}

/// Parse a depth response; `expected_count` (the frames sent) must match when given.
pub fn decode_depth(
    body: &[u8],
    expected_count: Option<usize>,
) -> Result<Vec<DepthMap>, WireError> {
    let h = read_header(body, DEPTH_MAGIC, "a depth response", 2)?;
    if let Some(n) = expected_count {
        if n != h.count as usize {
            return Err(WireError::Invalid(format!(
                "{} depth maps for {n} frames",
                h.count
            )));
        }
    }
    let plane = h.width as usize * h.height as usize;
    let values = &body[HEADER_LEN..];
    Ok(values
        .chunks_exact(plane * 2)
        .map(|map| DepthMap {
            width: h.width,
            height: h.height,
            data: map
                .chunks_exact(2)
                .map(|b| dequantize(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
        })
        .collect())
}

/// The `profile=<name>` entry of a custom-attributes value (entries separated by `,` or `;`).
pub fn profile_attribute(custom_attributes: &str) -> Option<&str> {
    custom_attributes
        .split([',', ';'])
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("profile"))
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The custom-attributes value a client sends for `profile`.
pub fn profile_custom_attributes(profile: &str) -> String {
    format!("profile={profile}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb(w: u32, h: u32, seed: u32) -> Vec<u8> {
        (0..w * h * 3)
            .map(|i| (i.wrapping_mul(31).wrapping_add(seed * 7) % 256) as u8)
            .collect()
    }

    #[test]
    fn frames_round_trip() {
        let (w, h) = (5, 3);
        let a = rgb(w, h, 1);
        let b = rgb(w, h, 2);
        let frames = [
            FrameRef {
                width: w,
                height: h,
                rgb: &a,
            },
            FrameRef {
                width: w,
                height: h,
                rgb: &b,
            },
        ];
        let mut buf = vec![9u8; 3]; // cleared by the encoder
        encode_frames(&mut buf, &frames).expect("encode");
        assert_eq!(buf.len(), frames_request_len(2, w, h));
        assert_eq!(buf.len(), HEADER_LEN + 2 * 45);
        assert_eq!(&buf[..4], b"SSFR");
        assert_eq!(&buf[4..8], &[1, 0, 0, 0]);
        assert_eq!(&buf[8..20], &[2, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0]);
        let view = decode_frames(&buf).expect("decode");
        assert_eq!(
            view.header,
            Header {
                count: 2,
                width: 5,
                height: 3
            }
        );
        assert_eq!(view.len(), 2);
        assert_eq!(view.frame(0).map(|f| f.rgb), Some(&a[..]));
        assert_eq!(view.frame(1).map(|f| f.rgb), Some(&b[..]));
        assert!(view.frame(2).is_none());
        assert_eq!(view.frames().len(), 2);
    }

    #[test]
    fn depth_round_trip_within_quantisation() {
        let data: Vec<f32> = (0..12).map(|i| i as f32 / 11.0).collect();
        let maps = vec![
            DepthMap {
                width: 4,
                height: 3,
                data: data.clone(),
            },
            DepthMap {
                width: 4,
                height: 3,
                data: data.iter().map(|v| 1.0 - v).collect(),
            },
        ];
        let mut buf = Vec::new();
        encode_depth(&mut buf, &maps).expect("encode");
        assert_eq!(buf.len(), HEADER_LEN + 2 * 12 * 2);
        assert_eq!(&buf[..4], b"SSDP");
        let back = decode_depth(&buf, Some(2)).expect("decode");
        assert_eq!(back.len(), 2);
        for (m, b) in maps.iter().zip(&back) {
            assert_eq!((b.width, b.height), (4, 3));
            for (x, y) in m.data.iter().zip(&b.data) {
                assert!((x - y).abs() <= 0.5 / 65535.0 + 1e-7, "{x} vs {y}");
            }
        }
        // The ends are exact.
        assert_eq!(back[0].data[0], 0.0);
        assert_eq!(back[0].data[11], 1.0);
        assert!(matches!(
            decode_depth(&buf, Some(3)),
            Err(WireError::Invalid(m)) if m.contains("2 depth maps for 3 frames")
        ));
    }

    #[test]
    fn quantize_clamps_and_handles_nan() {
        assert_eq!(quantize(-1.0), 0);
        assert_eq!(quantize(2.0), 65535);
        assert_eq!(quantize(f32::NAN), 0);
        assert_eq!(quantize(f32::INFINITY), 0);
        assert_eq!(quantize(0.5), 32768);
        assert_eq!(dequantize(65535), 1.0);
    }

    fn header(magic: &[u8; 4], version: u16, reserved: u16, n: u32, w: u32, h: u32) -> Vec<u8> {
        let mut b = magic.to_vec();
        b.extend_from_slice(&version.to_le_bytes());
        b.extend_from_slice(&reserved.to_le_bytes());
        for v in [n, w, h] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    #[test]
    fn malformed_requests_are_rejected_with_reasons() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (Vec::new(), "shorter than the 20-byte header"),
            (b"SSFR\x01\x00".to_vec(), "6 bytes"),
            (header(b"GIF8", 1, 0, 1, 1, 1), "bad magic"),
            (header(b"SSDP", 1, 0, 1, 1, 1), "frames request"),
            (header(b"SSFR", 2, 0, 1, 1, 1), "version 2"),
            (header(b"SSFR", 1, 7, 1, 1, 1), "reserved"),
            (header(b"SSFR", 1, 0, 0, 1, 1), "frame count 0"),
            (
                header(b"SSFR", 1, 0, MAX_COUNT + 1, 1, 1),
                "frame count 4097",
            ),
            (header(b"SSFR", 1, 0, 1, 0, 4), "size 0x4"),
            (header(b"SSFR", 1, 0, 1, 4, MAX_DIM + 1), "size 4x8193"),
            // Header fine, pixels missing / short / trailing.
            (header(b"SSFR", 1, 0, 1, 2, 2), "32 bytes in all"),
            (
                [header(b"SSFR", 1, 0, 2, 2, 2), vec![0; 23]].concat(),
                "payload is 43",
            ),
            (
                [header(b"SSFR", 1, 0, 1, 2, 2), vec![0; 13]].concat(),
                "payload is 33",
            ),
            // Huge dimensions that would overflow 32-bit arithmetic.
            (
                header(b"SSFR", 1, 0, MAX_COUNT, MAX_DIM, MAX_DIM),
                "payload is 20",
            ),
        ];
        for (body, want) in cases {
            let err = decode_frames(&body).expect_err(want).to_string();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
        let ok = [header(b"SSFR", 1, 0, 2, 2, 2), vec![0; 24]].concat();
        assert_eq!(decode_frames(&ok).map(|v| v.len()), Ok(2));
    }

    #[test]
    fn malformed_responses_are_rejected() {
        let short = [header(b"SSDP", 1, 0, 1, 2, 2), vec![0; 7]].concat();
        assert!(matches!(
            decode_depth(&short, None),
            Err(WireError::LengthMismatch {
                expected: 28,
                actual: 27,
                ..
            })
        ));
        let frames = [header(b"SSFR", 1, 0, 1, 2, 2), vec![0; 8]].concat();
        assert!(matches!(
            decode_depth(&frames, None),
            Err(WireError::BadMagic { .. })
        ));
        assert!(decode_depth(b"{\"error\":\"x\"}", None).is_err());
    }

    #[test]
    fn encoders_refuse_mixed_sizes_and_empty_batches() {
        let a = rgb(2, 2, 0);
        let b = rgb(3, 2, 0);
        let mixed = [
            FrameRef {
                width: 2,
                height: 2,
                rgb: &a,
            },
            FrameRef {
                width: 3,
                height: 2,
                rgb: &b,
            },
        ];
        let mut buf = Vec::new();
        assert!(matches!(
            encode_frames(&mut buf, &mixed),
            Err(WireError::Invalid(m)) if m.contains("frame 1 is 3x2")
        ));
        let lying = [FrameRef {
            width: 2,
            height: 2,
            rgb: &a[..5],
        }];
        assert!(encode_frames(&mut buf, &lying).is_err());
        assert!(matches!(
            encode_frames(&mut buf, &[]),
            Err(WireError::BadCount { count: 0 })
        ));
        let maps = [
            DepthMap {
                width: 2,
                height: 1,
                data: vec![0.0; 2],
            },
            DepthMap {
                width: 2,
                height: 1,
                data: vec![0.0; 3],
            },
        ];
        assert!(encode_depth(&mut buf, &maps).is_err());
        assert!(encode_depth(&mut buf, &[]).is_err());
    }

    #[test]
    fn batches_are_sized_to_the_payload_limit() {
        // 344x192 RGB = 198,144 bytes a frame: 30 fit in 6,000,000 bytes.
        assert_eq!(frames_per_request(344, 192, MAX_REQUEST_BYTES), 30);
        assert!(frames_request_len(30, 344, 192) <= MAX_REQUEST_BYTES);
        assert!(frames_request_len(31, 344, 192) > MAX_REQUEST_BYTES);
        // 518x518: 7 frames.
        assert_eq!(frames_per_request(518, 518, MAX_REQUEST_BYTES), 7);
        // A frame too big for any request.
        assert_eq!(frames_per_request(2000, 1500, MAX_REQUEST_BYTES), 0);
        assert_eq!(frames_per_request(0, 10, MAX_REQUEST_BYTES), 0);
        assert_eq!(frames_per_request(1, 1, usize::MAX), MAX_COUNT as usize);
    }

    #[test]
    fn profile_attribute_parsing() {
        assert_eq!(
            profile_attribute("profile=midas-small"),
            Some("midas-small")
        );
        assert_eq!(
            profile_attribute("trace=1; Profile = depth-anything-v2 ,x=y"),
            Some("depth-anything-v2")
        );
        assert_eq!(profile_attribute("profile="), None);
        assert_eq!(profile_attribute("other=1"), None);
        assert_eq!(
            profile_attribute(&profile_custom_attributes("stereospot-cues")),
            Some("stereospot-cues")
        );
    }
}
