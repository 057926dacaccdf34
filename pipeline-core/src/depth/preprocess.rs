//! Frame -> model input: resize packed RGB24 and normalise into a planar (NCHW) f32 slice.
//!
//! Resizing is separable linear interpolation with pixel-centre alignment; when shrinking, the
//! triangle filter is widened by the scale factor (antialiased, like PIL's bilinear), so a
//! 640x360 frame shrunk to 344x192 averages its pixels instead of skipping them.
use super::profile::Normalization;
use crate::ports::depth::FrameRef;

/// Filter taps for one axis: output `o` reads `taps` inputs from `starts[o]` with
/// `weights[o * taps ..][..taps]` (normalised to sum 1).
#[derive(Debug, Clone, Default, PartialEq)]
struct AxisWeights {
    in_len: usize,
    out_len: usize,
    taps: usize,
    starts: Vec<usize>,
    weights: Vec<f32>,
}

impl AxisWeights {
    fn new(in_len: usize, out_len: usize) -> AxisWeights {
        let scale = in_len as f64 / out_len as f64;
        let support = scale.max(1.0);
        let taps = ((2.0 * support).ceil() as usize + 1).min(in_len);
        let mut starts = Vec::with_capacity(out_len);
        let mut weights = Vec::with_capacity(out_len * taps);
        for o in 0..out_len {
            let centre = (o as f64 + 0.5) * scale;
            let first = (centre - support - 0.5).floor() + 1.0;
            let start = (first.max(0.0) as usize).min(in_len - taps);
            let row_start = weights.len();
            let mut sum = 0.0f64;
            for t in 0..taps {
                let d = ((start + t) as f64 + 0.5 - centre).abs() / support;
                let w = (1.0 - d).max(0.0);
                sum += w;
                weights.push(w);
            }
            let row = &mut weights[row_start..];
            if sum > 0.0 {
                row.iter_mut().for_each(|w| *w /= sum);
            } else {
                // Cannot happen for in_len >= 1, but never divide by zero: nearest pixel.
                row.iter_mut().for_each(|w| *w = 0.0);
                let nearest = (centre.floor() as usize).clamp(start, start + taps - 1);
                row[nearest - start] = 1.0;
            }
            starts.push(start);
        }
        let weights = weights.into_iter().map(|w| w as f32).collect();
        AxisWeights {
            in_len,
            out_len,
            taps,
            starts,
            weights,
        }
    }

    fn taps_for(&self, o: usize) -> (usize, &[f32]) {
        (
            self.starts[o],
            &self.weights[o * self.taps..(o + 1) * self.taps],
        )
    }
}

/// Reusable resizer: keeps its filter tables and intermediate buffer between frames of one size.
#[derive(Debug, Default)]
pub struct Resampler {
    x: AxisWeights,
    y: AxisWeights,
    /// One vertically resized row at the input width (in_w x 3).
    row: Vec<f32>,
}

impl Resampler {
    pub fn new() -> Resampler {
        Resampler::default()
    }

    /// Resize `frame` to `out_w` x `out_h`, normalise it, and write it planar (C, H, W) into
    /// `dst`, which must hold exactly `3 * out_w * out_h` values.
    pub fn resize_normalize(
        &mut self,
        frame: &FrameRef<'_>,
        out_w: u32,
        out_h: u32,
        norm: &Normalization,
        dst: &mut [f32],
    ) -> Result<(), String> {
        let (in_w, in_h) = (frame.width as usize, frame.height as usize);
        let (out_w, out_h) = (out_w as usize, out_h as usize);
        if in_w == 0 || in_h == 0 || out_w == 0 || out_h == 0 {
            return Err(format!(
                "empty size: frame {in_w}x{in_h}, model input {out_w}x{out_h}"
            ));
        }
        let expected = in_w * in_h * 3;
        if frame.rgb.len() != expected {
            return Err(format!(
                "frame {in_w}x{in_h} needs {expected} RGB24 bytes, got {}",
                frame.rgb.len()
            ));
        }
        let plane = out_w * out_h;
        if dst.len() != 3 * plane {
            return Err(format!(
                "destination holds {} values, need {}",
                dst.len(),
                3 * plane
            ));
        }
        if self.x.in_len != in_w || self.x.out_len != out_w {
            self.x = AxisWeights::new(in_w, out_w);
        }
        if self.y.in_len != in_h || self.y.out_len != out_h {
            self.y = AxisWeights::new(in_h, out_h);
        }

        // Vertical pass first (contiguous rows, vectorises well), one output row at a time,
        // then the horizontal pass straight into the three normalised planes.
        let aff = norm.affine();
        let in_row = in_w * 3;
        self.row.resize(in_row, 0.0);
        let taps = self.x.taps;
        let (r_plane, rest) = dst.split_at_mut(plane);
        let (g_plane, b_plane) = rest.split_at_mut(plane);
        if (in_w, in_h) == (out_w, out_h) {
            // Same size (frames sent at model size to an inference server): the filter weights
            // are exactly 0 and 1, so skipping it gives bit-identical values.
            let planes = r_plane
                .iter_mut()
                .zip(g_plane.iter_mut())
                .zip(b_plane.iter_mut());
            for (((r, g), b), px) in planes.zip(frame.rgb.chunks_exact(3)) {
                *r = f32::from(px[0]) * aff[0].0 + aff[0].1;
                *g = f32::from(px[1]) * aff[1].0 + aff[1].1;
                *b = f32::from(px[2]) * aff[2].0 + aff[2].1;
            }
            return Ok(());
        }
        for y in 0..out_h {
            let (start, w) = self.y.taps_for(y);
            self.row.iter_mut().for_each(|a| *a = 0.0);
            for (t, wt) in w.iter().enumerate() {
                let src = &frame.rgb[(start + t) * in_row..(start + t + 1) * in_row];
                for (a, v) in self.row.iter_mut().zip(src) {
                    *a += wt * f32::from(*v);
                }
            }
            let o = y * out_w;
            let planes = r_plane[o..o + out_w]
                .iter_mut()
                .zip(&mut g_plane[o..o + out_w])
                .zip(&mut b_plane[o..o + out_w]);
            for (x, ((r, g), b)) in planes.enumerate() {
                let (start, w) = self.x.taps_for(x);
                let px = &self.row[start * 3..(start + taps) * 3];
                let mut acc = [0.0f32; 3];
                for (wt, p) in w.iter().zip(px.chunks_exact(3)) {
                    acc[0] += wt * p[0];
                    acc[1] += wt * p[1];
                    acc[2] += wt * p[2];
                }
                *r = acc[0] * aff[0].0 + aff[0].1;
                *g = acc[1] * aff[1].0 + aff[1].1;
                *b = acc[2] * aff[2].0 + aff[2].1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte-valued normalisation (no scaling) to read resized pixel values directly.
    const RAW: Normalization = Normalization {
        scale: 1.0,
        mean: [0.0; 3],
        std: [1.0; 3],
    };

    fn frame(w: u32, h: u32, rgb: &[u8]) -> FrameRef<'_> {
        FrameRef {
            width: w,
            height: h,
            rgb,
        }
    }

    fn run(f: &FrameRef<'_>, ow: u32, oh: u32, norm: &Normalization) -> Vec<f32> {
        let mut dst = vec![f32::NAN; 3 * (ow * oh) as usize];
        Resampler::new()
            .resize_normalize(f, ow, oh, norm, &mut dst)
            .expect("resize");
        dst
    }

    #[test]
    fn same_size_is_identity_and_planar() {
        let rgb: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 7 % 256) as u8).collect();
        let out = run(&frame(4, 3, &rgb), 4, 3, &RAW);
        for y in 0..3 {
            for x in 0..4 {
                for c in 0..3 {
                    let want = rgb[(y * 4 + x) * 3 + c] as f32;
                    let got = out[c * 12 + y * 4 + x];
                    assert!((got - want).abs() < 1e-4, "({x},{y},{c}): {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn same_size_fast_path_matches_the_filter_bit_for_bit() {
        // 1 px wider than the frame takes the filter; the same size takes the fast path. Both
        // must give the frame's own values, normalised, exactly.
        let rgb: Vec<u8> = (0..9 * 5 * 3).map(|i| (i * 53 % 256) as u8).collect();
        let fast = run(&frame(9, 5, &rgb), 9, 5, &Normalization::IMAGENET);
        let mut want = vec![0.0f32; fast.len()];
        let aff = Normalization::IMAGENET.affine();
        for (p, px) in rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                want[c * 45 + p] = f32::from(px[c]) * aff[c].0 + aff[c].1;
            }
        }
        assert_eq!(fast, want);
        for n in [1, 2, 5, 9, 344] {
            let same = AxisWeights::new(n, n);
            assert!(same.weights.iter().all(|w| *w == 0.0 || *w == 1.0), "{n}");
        }
    }

    #[test]
    fn halving_averages_pixel_pairs() {
        // One row: red channel 0,100,200,50 -> 2 px: (0+100)/2 and (200+50)/2 under a
        // widened triangle filter that also leaks a little of the neighbours.
        let rgb = [0, 0, 0, 100, 0, 0, 200, 0, 0, 50, 0, 0];
        let out = run(&frame(4, 1, &rgb), 2, 1, &RAW);
        // Output 0 centre = 1.0 in input coords, support 2: weights on px 0,1,2 = .75,.75,.25
        // (normalised by 1.75) -> (0*.75 + 100*.75 + 200*.25)/1.75 = 71.43
        assert!((out[0] - 71.428_57).abs() < 1e-3, "{}", out[0]);
        // Output 1 centre = 3.0: px 1,2,3 weights .25,.75,.75 -> (25 + 150 + 37.5)/1.75
        assert!((out[1] - 121.428_57).abs() < 1e-3, "{}", out[1]);
        assert!(out[2..].iter().all(|v| *v == 0.0), "green and blue stay 0");
    }

    #[test]
    fn constant_frame_stays_constant_at_any_size() {
        let rgb: Vec<u8> = [10u8, 128, 250].repeat(37 * 23);
        let f = frame(37, 23, &rgb);
        for (ow, oh) in [(8, 8), (64, 40), (37, 23), (5, 100)] {
            let out = run(&f, ow, oh, &RAW);
            let plane = (ow * oh) as usize;
            for (c, want) in [10.0f32, 128.0, 250.0].iter().enumerate() {
                assert!(out[c * plane..(c + 1) * plane]
                    .iter()
                    .all(|v| (v - want).abs() < 1e-3));
            }
        }
    }

    #[test]
    fn upscaling_interpolates_monotonically() {
        let rgb = [0, 0, 0, 255, 0, 0];
        let out = run(&frame(2, 1, &rgb), 8, 1, &RAW);
        let red = &out[..8];
        assert!(red.windows(2).all(|w| w[0] <= w[1]), "{red:?}");
        assert!(red[0] < 1e-3 && (red[7] - 255.0).abs() < 1e-3, "{red:?}");
        // Output 3 centre = 3.5 / 4 = 0.875 in input coords: 0.375 of the way from px 0 to px 1.
        assert!((red[3] - 95.625).abs() < 1e-3, "{red:?}");
    }

    #[test]
    fn normalisation_applies_scale_mean_std() {
        let rgb = [255u8, 0, 128];
        let out = run(&frame(1, 1, &rgb), 1, 1, &Normalization::IMAGENET);
        let want = [
            (1.0 - 0.485) / 0.229,
            (0.0 - 0.456) / 0.224,
            (128.0 / 255.0 - 0.406) / 0.225,
        ];
        for c in 0..3 {
            assert!(
                (out[c] - want[c]).abs() < 1e-5,
                "c{c}: {} vs {}",
                out[c],
                want[c]
            );
        }
        let unit = run(&frame(1, 1, &rgb), 1, 1, &Normalization::UNIT);
        assert_eq!(unit, vec![1.0, 0.0, 128.0 / 255.0]);
    }

    #[test]
    fn bad_sizes_are_errors_not_panics() {
        let rgb = [0u8; 11];
        let mut dst = vec![0.0; 12];
        let mut r = Resampler::new();
        assert!(r
            .resize_normalize(&frame(2, 2, &rgb), 2, 2, &RAW, &mut dst)
            .is_err());
        let rgb = [0u8; 12];
        assert!(r
            .resize_normalize(&frame(2, 2, &rgb), 2, 2, &RAW, &mut dst[..5])
            .is_err());
        assert!(r
            .resize_normalize(&frame(0, 2, &[]), 2, 2, &RAW, &mut dst)
            .is_err());
        assert!(r
            .resize_normalize(&frame(2, 2, &rgb), 0, 2, &RAW, &mut dst)
            .is_err());
    }

    #[test]
    fn reused_resampler_gives_same_result_after_size_changes() {
        let a: Vec<u8> = (0..16 * 9 * 3).map(|i| (i * 31 % 251) as u8).collect();
        let b: Vec<u8> = (0..7 * 5 * 3).map(|i| (i * 17 % 253) as u8).collect();
        let mut r = Resampler::new();
        let mut first = vec![0.0; 3 * 8 * 4];
        let mut other = vec![0.0; 3 * 3 * 3];
        let mut again = vec![0.0; 3 * 8 * 4];
        r.resize_normalize(&frame(16, 9, &a), 8, 4, &RAW, &mut first)
            .expect("a");
        r.resize_normalize(&frame(7, 5, &b), 3, 3, &RAW, &mut other)
            .expect("b");
        r.resize_normalize(&frame(16, 9, &a), 8, 4, &RAW, &mut again)
            .expect("a again");
        assert_eq!(first, again);
    }
}
