//! Sample formats of the frames the renderer reads and writes, and the sample types its colour
//! kernels are generic over.
//!
//! A frame is always packed RGB bytes, row after row, no padding: [`SampleFormat::Rgb24`] holds
//! one byte per channel (ffmpeg `rgb24`), [`SampleFormat::Rgb48`] two little-endian bytes per
//! channel (ffmpeg `rgb48le`, for 10-bit and HDR sources). The renderer works on the bytes
//! directly (no conversion, no alignment requirement): the colour kernels (gather, half-size
//! averaging, anaglyph) are generic over [`Sample`] and monomorphised once per format, so the
//! format is matched once per frame, never per pixel.
use std::fmt;

/// How the colour samples of a frame are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SampleFormat {
    /// Packed 8-bit RGB: 3 bytes per pixel (ffmpeg `rgb24`).
    #[default]
    Rgb24,
    /// Packed 16-bit RGB, each channel a little-endian `u16`: 6 bytes per pixel (ffmpeg
    /// `rgb48le`). 10-bit sources use the full 16-bit range (ffmpeg scales them up).
    Rgb48,
}

impl SampleFormat {
    /// Bytes of one pixel: 3 for [`Self::Rgb24`], 6 for [`Self::Rgb48`].
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            SampleFormat::Rgb24 => 3,
            SampleFormat::Rgb48 => 6,
        }
    }

    /// The ffmpeg pixel-format name (`"rgb24"`, `"rgb48le"`).
    pub const fn name(self) -> &'static str {
        match self {
            SampleFormat::Rgb24 => "rgb24",
            SampleFormat::Rgb48 => "rgb48le",
        }
    }
}

impl fmt::Display for SampleFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One colour channel as stored in a frame buffer: `u8` for Rgb24, little-endian `u16` for
/// Rgb48. Callers pass slices of at least [`Sample::BYTES`] bytes (of [`Sample::PIXEL`] for
/// [`Sample::copy_pixel`]).
pub(crate) trait Sample {
    /// Bytes of one channel.
    const BYTES: usize;
    /// Bytes of one RGB pixel.
    const PIXEL: usize = 3 * Self::BYTES;
    /// Largest channel value.
    const MAX: i32;
    /// Fractional bits of the anaglyph's fixed-point coefficients: as many as keep the six-term
    /// sum inside `i32` for every input (rows of `|coefficients|` sum to less than 1.5).
    const ANAGLYPH_FRAC_BITS: u32;
    /// Reads the channel at the start of `b`.
    fn read(b: &[u8]) -> u32;
    /// Writes `v` (at most [`Self::MAX`]) at the start of `b`.
    fn write(v: u32, b: &mut [u8]);
    /// Copies one pixel from `src` to `dst`.
    fn copy_pixel(src: &[u8], dst: &mut [u8]);
    /// `out[i] = avg(a[i], b[i])` per sample (see [`avg`]) over equal-length runs of samples.
    fn average_into(a: &[u8], b: &[u8], out: &mut [u8]);

    /// The three channels of the pixel at the start of `p`.
    #[inline(always)]
    fn read_rgb(p: &[u8]) -> [u32; 3] {
        let p = &p[..Self::PIXEL];
        [
            Self::read(p),
            Self::read(&p[Self::BYTES..]),
            Self::read(&p[2 * Self::BYTES..]),
        ]
    }

    /// Writes three channels as the pixel at the start of `p`.
    #[inline(always)]
    fn write_rgb(v: [u32; 3], p: &mut [u8]) {
        let p = &mut p[..Self::PIXEL];
        Self::write(v[0], p);
        Self::write(v[1], &mut p[Self::BYTES..]);
        Self::write(v[2], &mut p[2 * Self::BYTES..]);
    }
}

/// Average of two samples, rounding half up (the half-size layouts' rule for every format).
#[inline(always)]
pub(crate) fn avg(a: u32, b: u32) -> u32 {
    (a + b + 1) >> 1
}

impl Sample for u8 {
    const BYTES: usize = 1;
    const MAX: i32 = u8::MAX as i32;
    const ANAGLYPH_FRAC_BITS: u32 = 16;

    #[inline(always)]
    fn read(b: &[u8]) -> u32 {
        b[0] as u32
    }

    #[inline(always)]
    fn write(v: u32, b: &mut [u8]) {
        b[0] = v as u8;
    }

    #[inline(always)]
    fn copy_pixel(s: &[u8], d: &mut [u8]) {
        // Byte by byte: a 3-byte `copy_from_slice` becomes a memcpy call at opt-level 1.
        let (s, d) = (&s[..3], &mut d[..3]);
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
    }

    #[inline(always)]
    fn average_into(a: &[u8], b: &[u8], out: &mut [u8]) {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = avg(x as u32, y as u32) as u8;
        }
    }
}

impl Sample for u16 {
    const BYTES: usize = 2;
    const MAX: i32 = u16::MAX as i32;
    // 1.5 * 65535 * 2^14 < 2^31.
    const ANAGLYPH_FRAC_BITS: u32 = 14;

    #[inline(always)]
    fn read(b: &[u8]) -> u32 {
        u16::from_le_bytes([b[0], b[1]]) as u32
    }

    #[inline(always)]
    fn write(v: u32, b: &mut [u8]) {
        b[..2].copy_from_slice(&(v as u16).to_le_bytes());
    }

    #[inline(always)]
    fn copy_pixel(s: &[u8], d: &mut [u8]) {
        let (s, d) = (&s[..6], &mut d[..6]);
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
        d[3] = s[3];
        d[4] = s[4];
        d[5] = s[5];
    }

    #[inline(always)]
    fn average_into(a: &[u8], b: &[u8], out: &mut [u8]) {
        let pairs = a.chunks_exact(2).zip(b.chunks_exact(2));
        for (o, (x, y)) in out.chunks_exact_mut(2).zip(pairs) {
            u16::write(avg(u16::read(x), u16::read(y)), o);
        }
    }
}

/// Converts packed rgb48le to packed rgb24 (for the depth stage, which wants 8 bits), rounding
/// each channel to nearest: `(v + 128) / 257`, which maps `v8 * 257` back to `v8` exactly.
///
/// `dst` is cleared and refilled (its allocation is reused: no allocation once it has held a
/// frame of this size). Trailing bytes of `src` that do not make a whole 6-byte pixel are
/// ignored.
pub fn rgb48_to_rgb24(src: &[u8], dst: &mut Vec<u8>) {
    let whole = src.len() / 6 * 6;
    dst.clear();
    dst.extend(
        src[..whole]
            .chunks_exact(2)
            .map(|c| ((u16::from_le_bytes([c[0], c[1]]) as u32 + 128) / 257).min(255) as u8),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(v: &[u16]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn formats() {
        assert_eq!(SampleFormat::Rgb24.bytes_per_pixel(), 3);
        assert_eq!(SampleFormat::Rgb48.bytes_per_pixel(), 6);
        assert_eq!(SampleFormat::default(), SampleFormat::Rgb24);
        assert_eq!(SampleFormat::Rgb48.to_string(), "rgb48le");
        assert_eq!(SampleFormat::Rgb24.name(), "rgb24");
        assert_eq!(<u16 as Sample>::PIXEL, 6);
        assert_eq!(<u8 as Sample>::PIXEL, 3);
    }

    #[test]
    fn samples_read_and_write_little_endian() {
        let mut b = [0u8; 2];
        u16::write(0x1234, &mut b);
        assert_eq!(b, [0x34, 0x12]);
        assert_eq!(u16::read(&b), 0x1234);
        let mut d = [0u8; 6];
        u16::copy_pixel(&[1, 2, 3, 4, 5, 6, 7], &mut d);
        assert_eq!(d, [1, 2, 3, 4, 5, 6]);
        assert_eq!(u16::read_rgb(&le(&[1, 300, 65535])), [1, 300, 65535]);
        let mut p = [0u8; 6];
        u16::write_rgb([7, 256, 65535], &mut p);
        assert_eq!(p.to_vec(), le(&[7, 256, 65535]));
    }

    #[test]
    fn averages_round_half_up_per_sample() {
        let mut o = [0u8; 3];
        u8::average_into(&[0, 1, 255], &[1, 2, 255], &mut o);
        assert_eq!(o, [1, 2, 255]);
        let mut o = [0u8; 6];
        // 0x00FF and 0x0100 average to 0x0100 (carries into the high byte), 65535 stays.
        u16::average_into(&le(&[0xFF, 1, 65535]), &le(&[0x100, 2, 65535]), &mut o);
        assert_eq!(o.to_vec(), le(&[0x100, 2, 65535]));
    }

    #[test]
    fn rgb48_to_rgb24_rounds_to_nearest() {
        let mut dst = Vec::new();
        // 0.5 * 257 = 128.5: 128 rounds down, 129 up; 1.5 * 257 = 385.5 likewise.
        rgb48_to_rgb24(&le(&[0, 128, 129, 385, 386, 65535]), &mut dst);
        assert_eq!(dst, [0, 0, 1, 1, 2, 255]);
        // v8 * 257 round-trips for every 8-bit value; the nearest 8-bit value is chosen.
        let all: Vec<u16> = (0..=255u16).flat_map(|v| [v * 257; 3]).collect();
        rgb48_to_rgb24(&le(&all), &mut dst);
        assert!(
            dst.iter().copied().eq((0..=255u8).flat_map(|v| [v; 3])),
            "{dst:?}"
        );
        for v in (0..=65535u16).step_by(97) {
            rgb48_to_rgb24(&le(&[v, v, v]), &mut dst);
            let want = (v as f64 / 257.0).round() as u8;
            assert_eq!(dst, [want; 3], "{v}");
        }
    }

    #[test]
    fn rgb48_to_rgb24_reuses_dst_and_ignores_partial_pixels() {
        let mut dst = Vec::with_capacity(64);
        dst.extend_from_slice(&[9; 40]);
        let ptr = dst.as_ptr();
        let mut src = le(&[257, 514, 771, 1028, 1285, 1542]);
        src.extend_from_slice(&[0xFF; 5]);
        rgb48_to_rgb24(&src, &mut dst);
        assert_eq!(dst, [1, 2, 3, 4, 5, 6]);
        assert_eq!(dst.as_ptr(), ptr);
        rgb48_to_rgb24(&[], &mut dst);
        assert!(dst.is_empty());
    }
}
