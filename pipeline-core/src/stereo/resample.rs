//! Bilinear, pixel-centre aligned resampling of the nearness map to the frame size, one row at a
//! time (the renderer never holds a full-size depth map).
//!
//! Output pixel `i` of `n_out` samples the source at `(i + 0.5) * n_src / n_out - 0.5`, clamped
//! to `[0, n_src - 1]` (edge pixels replicate). Results are clamped to `[0, 1]`; NaN (and
//! anything a non-finite input poisons) becomes 0.

/// Precomputed horizontal taps for one (source width, output width) pair, plus a scratch row.
#[derive(Debug, Default)]
pub(crate) struct DepthResampler {
    out_w: usize,
    out_h: usize,
    src_w: usize,
    src_h: usize,
    /// Per output column: left tap, right tap (indices into a source row) and weight of the right.
    x0: Vec<u32>,
    x1: Vec<u32>,
    fx: Vec<f32>,
    /// Vertically blended source row (`src_w` long).
    vrow: Vec<f32>,
}

/// Taps for output sample `i`: `(i0, i1, weight of i1)`. `n_src` and `n_out` are non-zero.
fn taps(i: usize, n_out: usize, n_src: usize) -> (usize, usize, f32) {
    let s = (i as f64 + 0.5) * n_src as f64 / n_out as f64 - 0.5;
    let s = s.clamp(0.0, (n_src - 1) as f64);
    let i0 = s.floor() as usize;
    let i1 = (i0 + 1).min(n_src - 1);
    (i0, i1, (s - i0 as f64) as f32)
}

impl DepthResampler {
    /// A resampler to `out_w x out_h` (both non-zero). Source size comes with [`Self::configure`].
    pub(crate) fn new(out_w: usize, out_h: usize) -> Self {
        DepthResampler {
            out_w,
            out_h,
            x0: Vec::with_capacity(out_w),
            x1: Vec::with_capacity(out_w),
            fx: Vec::with_capacity(out_w),
            ..Default::default()
        }
    }

    /// Prepares taps for a `src_w x src_h` source (both non-zero). Free when unchanged.
    pub(crate) fn configure(&mut self, src_w: usize, src_h: usize) {
        if (src_w, src_h) == (self.src_w, self.src_h) {
            return;
        }
        self.src_w = src_w;
        self.src_h = src_h;
        self.x0.clear();
        self.x1.clear();
        self.fx.clear();
        for i in 0..self.out_w {
            let (a, b, f) = taps(i, self.out_w, src_w);
            self.x0.push(a as u32);
            self.x1.push(b as u32);
            self.fx.push(f);
        }
        self.vrow.clear();
        self.vrow.resize(src_w, 0.0);
    }

    /// Writes output row `y` (< out_h) into `out` (`out_w` long). `depth` is `src_w * src_h`
    /// (the caller checked it, and called [`Self::configure`]).
    pub(crate) fn row(&mut self, depth: &[f32], y: usize, out: &mut [f32]) {
        let sw = self.src_w;
        let (y0, y1, fy) = taps(y, self.out_h, self.src_h);
        let r0 = &depth[y0 * sw..y0 * sw + sw];
        let r1 = &depth[y1 * sw..y1 * sw + sw];
        // Vertical pass over the (small) source row, then horizontal pass to full width.
        let vrow = &mut self.vrow[..sw];
        if fy == 0.0 {
            vrow.copy_from_slice(r0);
        } else {
            for ((v, &a), &b) in vrow.iter_mut().zip(r0).zip(r1) {
                *v = a + (b - a) * fy;
            }
        }
        let vrow = &self.vrow[..sw];
        let n = self.out_w;
        let (x0, x1, fx) = (&self.x0[..n], &self.x1[..n], &self.fx[..n]);
        for (((o, &a), &b), &f) in out[..n].iter_mut().zip(x0).zip(x1).zip(fx) {
            let va = vrow[a as usize];
            let vb = vrow[b as usize];
            // Not `clamp`: `max` maps NaN to 0, `clamp` would keep it.
            #[allow(clippy::manual_clamp)]
            let v = (va + (vb - va) * f).max(0.0).min(1.0);
            *o = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resample(src: &[f32], sw: usize, sh: usize, ow: usize, oh: usize) -> Vec<f32> {
        let mut r = DepthResampler::new(ow, oh);
        r.configure(sw, sh);
        let mut out = vec![f32::NAN; ow * oh];
        for y in 0..oh {
            r.row(src, y, &mut out[y * ow..(y + 1) * ow]);
        }
        out
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
    }

    #[test]
    fn same_size_is_identity() {
        let src: Vec<f32> = (0..12).map(|i| i as f32 / 11.0).collect();
        assert_eq!(resample(&src, 4, 3, 4, 3), src);
    }

    #[test]
    fn pixel_centre_aligned_upsampling() {
        // 2 samples -> 4: centres at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
        let out = resample(&[0.0, 1.0], 2, 1, 4, 1);
        assert!(close(&out, &[0.0, 0.25, 0.75, 1.0]), "{out:?}");
        // Same vertically.
        let out = resample(&[0.0, 1.0], 1, 2, 1, 4);
        assert!(close(&out, &[0.0, 0.25, 0.75, 1.0]), "{out:?}");
    }

    #[test]
    fn bilinear_in_both_directions() {
        // 2x2 -> 4x4; the middle 2x2 block is the bilinear mix at (0.25|0.75, 0.25|0.75).
        let src = [0.0, 0.4, 0.8, 0.2];
        let out = resample(&src, 2, 2, 4, 4);
        let at = |x: usize, y: usize| out[y * 4 + x];
        let expect = |fx: f32, fy: f32| {
            let top = 0.0 + (0.4 - 0.0) * fx;
            let bot = 0.8 + (0.2 - 0.8) * fx;
            top + (bot - top) * fy
        };
        assert!((at(1, 1) - expect(0.25, 0.25)).abs() < 1e-6);
        assert!((at(2, 1) - expect(0.75, 0.25)).abs() < 1e-6);
        assert!((at(2, 2) - expect(0.75, 0.75)).abs() < 1e-6);
        assert!((at(0, 0) - 0.0).abs() < 1e-6);
        assert!((at(3, 3) - 0.2).abs() < 1e-6);
    }

    #[test]
    fn constant_map_stays_constant_when_downsampling() {
        let src = vec![0.3; 10 * 7];
        let out = resample(&src, 10, 7, 4, 2);
        assert!(out.iter().all(|&v| (v - 0.3).abs() < 1e-6), "{out:?}");
    }

    #[test]
    fn out_of_range_and_nan_are_clamped() {
        let out = resample(&[f32::NAN, 2.0, -1.0, 5.0], 4, 1, 4, 1);
        assert_eq!(out, vec![0.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn reconfigure_for_a_new_source_size() {
        let mut r = DepthResampler::new(4, 1);
        let mut out = vec![0.0; 4];
        r.configure(2, 1);
        r.row(&[0.0, 1.0], 0, &mut out);
        assert!(close(&out, &[0.0, 0.25, 0.75, 1.0]));
        r.configure(4, 1);
        r.row(&[0.1, 0.2, 0.3, 0.4], 0, &mut out);
        assert!(close(&out, &[0.1, 0.2, 0.3, 0.4]), "{out:?}");
    }
}
