//! Depth-image-based rendering of one row: edge dilation of the nearness, a subpixel warp with a
//! z-buffer, a background-side hole fill that mirrors the background's texture, then a gather of
//! the colours.
//!
//! The warp works on source *positions*, not colours: for each target pixel it records where in
//! the source row its colour is read (`pos`, a column in fixed point with [`FRAC_BITS`]
//! fractional bits) and that point's nearness (`z`). Holes are filled on the positions, and one
//! final pass reads the colours (a two-tap linear blend, or for filled holes a blend of five
//! source rows). This keeps the scattered writes small (4 + 4 bytes) and makes the colour gather
//! the only step that depends on the sample format. See the module docs of
//! [`super`](crate::stereo) for the rules.
use super::sample::Sample;

/// `z` value of a target no source landed on. Written targets hold nearness in `[0, 1]`.
pub(crate) const EMPTY: f32 = -1.0;

/// Fractional bits of a source position in `pos` (1/256 px).
pub(crate) const FRAC_BITS: u32 = 8;
const ONE: u32 = 1 << FRAC_BITS;
const FRAC_MASK: u32 = ONE - 1;
/// Flag on a `pos` value: a filled hole, whose colour the gather blends over five source rows.
pub(crate) const HOLE: u32 = 1 << 31;

/// How holes are filled (the default is [`Fill::MirrorRows`]; the others exist for the quality
/// benchmark's comparisons).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Every hole of a run copies the background neighbour (the old rule: horizontal streaks).
    Copy,
    /// The background beside the run is mirrored into it, one source row.
    Mirror,
    /// [`Fill::Mirror`], each colour a blend of the five source rows around the hole's row
    /// (weights 1-2-2-2-1) and of two neighbouring columns (half a pixel away from the hole).
    MirrorRows,
}

/// Renderer settings that are not part of the API (the quality benchmark compares them).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Radius (px) by which the near side of a depth edge is dilated; 0 turns dilation off.
    pub dilate: usize,
    /// Shift difference (px) between neighbouring pixels from which they are two surfaces (a
    /// depth edge) rather than one; in `(0, 1)`.
    pub edge_px: f32,
    pub fill: Fill,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            dilate: 1,
            edge_px: 0.75,
            fill: Fill::MirrorRows,
        }
    }
}

/// Integer offset that keeps `p + offset` positive for every position `p = x ± s` of a row
/// (`|s| <= k`, `x >= -1`), so that truncation (`as i32`) is `floor` without a libm call.
pub(crate) fn round_offset(k: f32) -> i32 {
    k.abs().ceil() as i32 + 2
}

/// `ceil(p)` for `p > -off` (see [`round_offset`]).
#[inline(always)]
fn ceil_i(p: f32, off: i32) -> i32 {
    let f = (p + off as f32) as i32 - off;
    f + ((f as f32) < p) as i32
}

/// Dilates the near side of depth edges: `out[x]` is the largest nearness within `r` pixels of
/// `x` when that exceeds `near[x]` by more than `gate`, else `near[x]`. Smooth depth (slopes
/// below `gate` per `r` pixels) is left exactly as it is.
pub(crate) fn dilate_row(near: &[f32], r: usize, gate: f32, out: &mut [f32]) {
    let w = near.len();
    let out = &mut out[..w];
    for (x, o) in out.iter_mut().enumerate() {
        let n = near[x];
        let lo = x.saturating_sub(r);
        let hi = (x + r + 1).min(w);
        let m = near[lo..hi].iter().fold(n, |a, &b| a.max(b));
        *o = if m - n > gate { m } else { n };
    }
}

/// Writes `x` (nearness `n`, no interpolation) into every target `t` with `a <= t < b`.
#[inline(always)]
fn raster_const(a: f32, b: f32, x: usize, n: f32, off: i32, z: &mut [f32], pos: &mut [u32]) {
    let w = z.len() as i32;
    let (t0, t1) = (ceil_i(a, off).max(0), ceil_i(b, off).min(w));
    for t in t0..t1 {
        let t = t as usize;
        if n > z[t] {
            z[t] = n;
            pos[t] = x as u32 * ONE;
        }
    }
}

/// Warps one row into one view.
///
/// Source column `x` lands at `p(x) = x + sign * shift[x]` (`sign` +1 for the left view, -1 for
/// the right). Between two neighbours whose shifts differ by at most `edge` px (one surface),
/// the segment `[p(x), p(x+1))` is filled by linear interpolation: target `t` reads source
/// position `x + (t - p(x)) / (p(x+1) - p(x))` at the nearness interpolated likewise. Across a
/// larger difference (a depth edge) each side keeps only its own half pixel, unblended:
/// `[p(x), p(x) + 0.5)` reads `x`, `[p(x+1) - 0.5, p(x+1))` reads `x + 1`; the gap between is a
/// hole. The first pixel also covers `[p(0) - 0.5, p(0))`, the last `[p(w-1), p(w-1) + 1)`.
/// When several sources land on one target the nearest wins (strictly greater nearness).
/// All slices are `shift.len()` long; `off` comes from [`round_offset`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn warp_view(
    shift: &[f32],
    near: &[f32],
    sign: f32,
    edge: f32,
    off: i32,
    z: &mut [f32],
    pos: &mut [u32],
) {
    let w = shift.len();
    let (near, z, pos) = (&near[..w], &mut z[..w], &mut pos[..w]);
    z.fill(EMPTY);
    if w == 0 {
        return;
    }
    let wi = w as i32;
    let p = sign * shift[0];
    raster_const(p - 0.5, p, 0, near[0], off, z, pos);
    for x in 0..w {
        let (s0, n0) = (sign * shift[x], near[x]);
        let (s1, n1) = if x + 1 < w {
            (sign * shift[x + 1], near[x + 1])
        } else {
            (s0, n0)
        };
        let p0 = x as f32 + s0;
        let d = s1 - s0;
        if d.abs() <= edge && d > -0.5 {
            let len = 1.0 + d;
            let inv = 1.0 / len;
            let t0 = ceil_i(p0, off).max(0);
            let t1 = ceil_i(p0 + len, off).min(wi);
            let base = x as u32 * ONE;
            // Positions past the last pixel (its extension, or rounding up) read the last pixel.
            let last = (w as u32 - 1) * ONE;
            for t in t0..t1 {
                let fr = (t as f32 - p0) * inv;
                let zz = n0 + (n1 - n0) * fr;
                let t = t as usize;
                if zz > z[t] {
                    z[t] = zz;
                    pos[t] = (base + (fr * ONE as f32 + 0.5) as u32).min(last);
                }
            }
        } else {
            let p1 = p0 + 1.0 + d;
            raster_const(p0, p0 + 0.5, x, n0, off, z, pos);
            raster_const(p1 - 0.5, p1, x + 1, n1, off, z, pos);
        }
    }
}

/// Fills the holes (targets with `z == EMPTY`) of one warped row from the background side.
///
/// For each run of holes, the nearest written neighbours on the left and on the right are
/// compared and the farther one (lower nearness) is the background, so a foreground edge is
/// never stretched into a disocclusion. Equal nearness picks the left neighbour when
/// `prefer_left` (use it for the left view, whose disocclusions open on the left of near
/// objects), else the right one. A run touching the image edge takes its only neighbour; a row
/// with no written pixel at all (impossible within the parameter limits) becomes the identity.
///
/// With [`Fill::Mirror`] and [`Fill::MirrorRows`], the background beside the run is mirrored
/// into it: the hole pixel `j` pixels from the background neighbour reads the source `j` pixels
/// beyond that neighbour's source position, away from the hole (so the texture continues across
/// the run's edge instead of repeating one pixel). Mirrored sources must be background too
/// (nearness at most `tol` above the neighbour's, in the source row `near`); the mirror turns
/// back (ping-pong) at the first one that is not, or at the row's end. [`Fill::MirrorRows`]
/// also flags the filled positions with [`HOLE`] so the gather blends five rows, and reads half a
/// pixel further from the hole (two columns blend) where that source is usable too.
pub(crate) fn fill_holes_row(
    z: &[f32],
    pos: &mut [u32],
    near: &[f32],
    tol: f32,
    prefer_left: bool,
    fill: Fill,
) {
    let w = z.len();
    let pos = &mut pos[..w];
    let near = &near[..w];
    let last = (w as u32).saturating_sub(1) * ONE;
    let flag = if fill == Fill::MirrorRows { HOLE } else { 0 };
    let mut x = 0;
    while x < w {
        if z[x] != EMPTY {
            x += 1;
            continue;
        }
        let start = x;
        while x < w && z[x] == EMPTY {
            x += 1;
        }
        let left = start.checked_sub(1);
        let right = (x < w).then_some(x);
        // The background neighbour, and whether the run lies to its left (mirror to the right).
        let (from, run_is_left) = match (left, right) {
            (Some(l), Some(r)) => {
                if z[l] < z[r] || (z[l] == z[r] && prefer_left) {
                    (l, false)
                } else {
                    (r, true)
                }
            }
            (Some(l), None) => (l, false),
            (None, Some(r)) => (r, true),
            (None, None) => {
                for (i, v) in pos.iter_mut().enumerate() {
                    *v = i as u32 * ONE;
                }
                return;
            }
        };
        let base = pos[from];
        let len = x - start;
        if fill == Fill::Copy {
            pos[start..x].fill(base);
            continue;
        }
        // How many mirrored sources are usable: m >= 1 (the neighbour itself).
        let limit = z[from] + tol;
        let usable = |c: u32| {
            let i = (c >> FRAC_BITS) as usize;
            let j = if c & FRAC_MASK == 0 { i } else { i + 1 };
            j < w && near[i] <= limit && near[j] <= limit
        };
        let mut m = 1u32;
        while (m as usize) < len {
            let step = m * ONE;
            let c = if run_is_left {
                base.checked_add(step).filter(|&c| c <= last)
            } else {
                base.checked_sub(step)
            };
            match c {
                Some(c) if usable(c) => m += 1,
                _ => break,
            }
        }
        for j in 0..len as u32 {
            // Ping-pong over 0..m: 0, 1, .., m-1, m-1, .., 0, 0, 1, ..
            let r = j % (2 * m);
            let jj = if r < m { r } else { 2 * m - 1 - r };
            // Rows blend (MirrorRows) half a pixel further, when that source is usable too.
            let half = if flag != 0 && jj + 1 < m { ONE / 2 } else { 0 };
            let (t, c) = if run_is_left {
                (x - 1 - j as usize, base + jj * ONE + half)
            } else {
                (start + j as usize, base - jj * ONE - half)
            };
            pos[t] = c | flag;
        }
    }
}

/// Linear blend of the pixels at source position `p` (fixed point, [`FRAC_BITS`]) of one packed
/// row of `w` pixels: `(a * (256 - f) + b * f + 128) >> 8` per channel, `b` the next pixel
/// (clamped to the row). A whole position copies its pixel exactly.
#[inline(always)]
fn lerp<S: Sample>(row: &[u8], p: u32, w: usize) -> [u32; 3] {
    let i = (p >> FRAC_BITS) as usize;
    let f = p & FRAC_MASK;
    let a = S::read_rgb(&row[i * S::PIXEL..]);
    if f == 0 {
        return a;
    }
    let b = S::read_rgb(&row[(i + 1).min(w - 1) * S::PIXEL..]);
    let g = ONE - f;
    let half = ONE / 2;
    [0, 1, 2].map(|c| (a[c] * g + b[c] * f + half) >> FRAC_BITS)
}

/// Reads the colours of row `y` of one view: `dst[t]` is the blend at source position `pos[t]`
/// in row `y` of `frame` (packed RGB, `w x h` pixels of `S` samples), or for a [`HOLE`] the
/// blend `(a + 2b + 2c + 2d + e + 4) >> 3` of rows `y - 2 ..= y + 2` (clamped to the frame) at
/// that position.
pub(crate) fn gather_row<S: Sample>(
    frame: &[u8],
    w: usize,
    h: usize,
    y: usize,
    pos: &[u32],
    dst: &mut [u8],
) {
    let stride = w * S::PIXEL;
    let row = |r: usize| &frame[r * stride..(r + 1) * stride];
    let (above, src, below) = (row(y.saturating_sub(1)), row(y), row((y + 1).min(h - 1)));
    for (d, &p) in dst.chunks_exact_mut(S::PIXEL).zip(&pos[..w]) {
        if p & HOLE == 0 {
            S::write_rgb(lerp::<S>(src, p, w), d);
        } else {
            let p = p & !HOLE;
            let a2 = row(y.saturating_sub(2));
            let c2 = row((y + 2).min(h - 1));
            let (a, b, c) = (
                lerp::<S>(above, p, w),
                lerp::<S>(src, p, w),
                lerp::<S>(below, p, w),
            );
            let (e, g) = (lerp::<S>(a2, p, w), lerp::<S>(c2, p, w));
            S::write_rgb(
                [0, 1, 2].map(|i| (e[i] + 2 * a[i] + 2 * b[i] + 2 * c[i] + g[i] + 4) >> 3),
                d,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Warps a row of nearness (shift scale `k`, convergence `conv`) into the left view (`sign`
    /// 1) or the right view (-1): `(z, pos)`, holes unfilled.
    fn warp(near: &[f32], k: f32, conv: f32, sign: f32) -> (Vec<f32>, Vec<u32>) {
        let w = near.len();
        let shift: Vec<f32> = near.iter().map(|&n| k * (n - conv)).collect();
        let (mut z, mut pos) = (vec![0.0; w], vec![u32::MAX; w]);
        let edge = Tuning::default().edge_px;
        warp_view(&shift, near, sign, edge, round_offset(k), &mut z, &mut pos);
        (z, pos)
    }

    /// Source positions in pixels.
    fn px(pos: &[u32]) -> Vec<f32> {
        pos.iter()
            .map(|&p| (p & !HOLE) as f32 / ONE as f32)
            .collect()
    }

    #[test]
    fn flat_at_convergence_is_identity() {
        for sign in [1.0, -1.0] {
            let (z, pos) = warp(&[0.5; 8], 4.0, 0.5, sign);
            assert_eq!(pos, (0..8).map(|x| x * ONE).collect::<Vec<_>>());
            assert!(z.iter().all(|&z| z == 0.5));
        }
    }

    #[test]
    fn subpixel_shift_reads_between_source_pixels() {
        // s = 4 * (0.625 - 0.5) = 0.5: left target t reads source t - 0.5, right t + 0.5.
        let (z, pos) = warp(&[0.625; 6], 4.0, 0.5, 1.0);
        assert_eq!(px(&pos[1..]), [0.5, 1.5, 2.5, 3.5, 4.5]);
        // Target 0 is covered by source 0's left half pixel, [p(0) - 0.5, p(0)) = [0, 0.5).
        assert_eq!((pos[0], z[0]), (0, 0.625));
        let (z, pos) = warp(&[0.625; 6], 4.0, 0.5, -1.0);
        assert_eq!(px(&pos[..5]), [0.5, 1.5, 2.5, 3.5, 4.5]);
        // The last target: past the last pixel, which it reads as it is.
        assert_eq!((px(&pos[5..]), z[5]), (vec![5.0], 0.625));
        // s = 0.25 (a quarter pixel): left target t reads t - 0.25.
        let (_, pos) = warp(&[0.5625; 4], 4.0, 0.5, 1.0);
        assert_eq!(px(&pos[1..]), [0.75, 1.75, 2.75]);
    }

    #[test]
    fn a_half_pixel_shift_blends_two_neighbours() {
        // Gather at half positions: the average of the two neighbours, rounding half up, in both
        // sample formats (16-bit values keep their low bits).
        let src = [10u8, 20, 30, 11, 21, 31, 200, 100, 0];
        let pos = [ONE / 2, ONE + ONE / 2, 2 * ONE];
        let mut dst = [0u8; 9];
        gather_row::<u8>(&src, 3, 1, 0, &pos, &mut dst);
        assert_eq!(dst, [11, 21, 31, 106, 61, 16, 200, 100, 0]);
        let src16: Vec<u8> = [1000u16, 2001, 3000, 1003, 2000, 3000]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut dst = [0u8; 12];
        gather_row::<u16>(&src16, 2, 1, 0, &[ONE / 2, ONE], &mut dst[..]);
        let got: Vec<u16> = dst
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(got, [1002, 2001, 3000, 1003, 2000, 3000]);
    }

    #[test]
    fn slanted_depth_interpolates_positions() {
        // Shift grows by 0.1 px per pixel: right-view target t reads the source u with
        // u - s(u) = t, s(u) = 0.1 u (linear interpolation is exact on a linear shift).
        let near: Vec<f32> = (0..12).map(|x| 0.5 + 0.025 * x as f32).collect();
        let (_, pos) = warp(&near, 4.0, 0.5, -1.0);
        for (t, u) in px(&pos).into_iter().enumerate().take(10) {
            let want = t as f32 / 0.9;
            assert!((u - want).abs() <= 1.0 / 256.0, "target {t}: {u} vs {want}");
        }
    }

    #[test]
    fn nearer_source_wins_in_both_views() {
        // k = 4, conv = 0.5. Source 2 (near, s = 2) and source 4 (at convergence) both land on
        // left target 4: source 2 comes first in scan order and must survive source 4.
        let mut near = [0.5; 10];
        near[2] = 1.0;
        let (z, pos) = warp(&near, 4.0, 0.5, 1.0);
        assert_eq!((pos[4], z[4]), (2 * ONE, 1.0));
        // Right view: source 6 (near, lands on 4) comes after source 4 and must replace it.
        let mut near = [0.5; 10];
        near[6] = 1.0;
        let (z, pos) = warp(&near, 4.0, 0.5, -1.0);
        assert_eq!((pos[4], z[4]), (6 * ONE, 1.0));
        // Behind the screen (conv = 1, far s = -4): far source 7 lands on left target 3, where
        // source 3 (s = 0) is nearer and must stay.
        let mut near = [1.0; 10];
        near[7] = 0.0;
        let (z, pos) = warp(&near, 4.0, 1.0, 1.0);
        assert_eq!((pos[3], z[3]), (3 * ONE, 1.0));
        // A one-pixel near column survives on its own (a depth edge on both sides): it keeps its
        // whole pixel, unblended with its neighbours.
        let mut near = [0.5; 10];
        near[5] = 1.0;
        let (_, pos) = warp(&near, 4.0, 0.5, -1.0);
        assert_eq!(pos[3], 5 * ONE);
    }

    #[test]
    fn depth_edges_leave_holes_unblended() {
        // Background at convergence, foreground from source 4 on, shifted 2 px left (right
        // view): targets 0..2 read sources 0..2 exactly (no blend across the edge), the
        // foreground starts at target 2 with source 4, and the sources it covers are gone.
        let near = [0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0];
        let (z, pos) = warp(&near, 4.0, 0.5, -1.0);
        assert_eq!(&pos[..2], &[0, ONE]);
        assert_eq!(&px(&pos[2..6]), &[4.0, 5.0, 6.0, 7.0]);
        assert_eq!(&z[6..], &[EMPTY, EMPTY], "the right border opens");
        // Left view: the foreground moves right; the gap between source 3's half pixel and the
        // foreground's is a hole.
        let (z, pos) = warp(&near, 4.0, 0.5, 1.0);
        assert_eq!(&px(&pos[..4]), &[0.0, 1.0, 2.0, 3.0]);
        assert_eq!(&z[4..6], &[EMPTY, EMPTY]);
        assert_eq!(px(&pos[6..]), [4.0, 5.0]);
    }

    #[test]
    fn edge_dilation_grows_the_near_side_only_at_depth_edges() {
        let row = [0.2, 0.2, 0.2, 0.2, 0.9, 0.9, 0.9, 0.2, 0.2];
        let mut out = [0.0; 9];
        dilate_row(&row, 1, 0.1, &mut out);
        assert_eq!(out, [0.2, 0.2, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.2]);
        dilate_row(&row, 2, 0.1, &mut out);
        assert_eq!(out, [0.2, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]);
        // A smooth slope (steps below the gate) is untouched.
        let ramp: Vec<f32> = (0..9).map(|x| 0.1 + 0.05 * x as f32).collect();
        dilate_row(&ramp, 2, 0.11, &mut out);
        assert_eq!(out.to_vec(), ramp);
    }

    #[test]
    fn holes_take_the_farther_side() {
        // A run between a far (0.2) and a near (0.9) written pixel reads the far side; a run at
        // the border reads its only neighbour. Copy fill: the old rule.
        let z = [0.2, 0.2, EMPTY, EMPTY, 0.9, 0.9, EMPTY, 0.1];
        let near = [0.2; 8];
        let base = [10, 11, 0, 0, 14, 15, 0, 7].map(|v| v * ONE);
        let mut pos = base;
        fill_holes_row(&z, &mut pos, &near, 0.1, false, Fill::Copy);
        assert_eq!(pos, [10, 11, 11, 11, 14, 15, 7, 7].map(|v| v * ONE));
        // Ties: the left neighbour in the left view, the right one in the right view.
        let z = [0.5, EMPTY, 0.5];
        let mut a = [ONE, 0, 3 * ONE];
        fill_holes_row(&z, &mut a, &[0.5; 3], 0.1, true, Fill::Copy);
        assert_eq!(a[1], ONE);
        let mut b = [ONE, 0, 3 * ONE];
        fill_holes_row(&z, &mut b, &[0.5; 3], 0.1, false, Fill::Copy);
        assert_eq!(b[1], 3 * ONE);
        // No written pixel at all: the identity.
        let mut c = [7; 3];
        fill_holes_row(&[EMPTY; 3], &mut c, &[0.5; 3], 0.1, true, Fill::Mirror);
        assert_eq!(c, [0, ONE, 2 * ONE]);
    }

    #[test]
    fn hole_fill_mirrors_background_texture_instead_of_a_streak() {
        // A 4-px hole whose background neighbour is on the right (target 6, source 6): the hole
        // reads sources 6, 7, 8, 9 going away from it, mirrored: target 5 reads 6, target 2
        // reads 9. Not one repeated pixel.
        let mut z = [0.2f32; 12];
        z[..2].fill(0.9);
        z[2..6].fill(EMPTY);
        let near = [0.2f32; 12];
        let mut pos: Vec<u32> = (0..12).map(|x| x * ONE).collect();
        fill_holes_row(&z, &mut pos, &near, 0.1, false, Fill::MirrorRows);
        // (MirrorRows reads half a pixel further from the hole: two columns blend.)
        assert_eq!(px(&pos[2..6]), [9.0, 8.5, 7.5, 6.5]);
        assert!(pos[2..6].iter().all(|&p| p & HOLE != 0));
        assert!(pos[..2].iter().chain(&pos[6..]).all(|&p| p & HOLE == 0));
        // Background on the left (left view): mirrored the other way, from its source 4.
        let z = [0.2, 0.2, EMPTY, EMPTY, EMPTY, 0.9];
        let mut pos = [3, 4, 0, 0, 0, 1].map(|v| v * ONE);
        fill_holes_row(&z, &mut pos, &[0.2; 6], 0.1, true, Fill::Mirror);
        assert_eq!(px(&pos[2..5]), [4.0, 3.0, 2.0]);
        // The mirror turns back at a near source (source 6 is foreground): 4, 5, 5, 4.
        let z = [0.9, EMPTY, EMPTY, EMPTY, EMPTY, 0.2, 0.2, 0.2];
        let mut near = [0.2f32; 8];
        near[6] = 0.9;
        let mut pos = [0, 0, 0, 0, 0, 4, 5, 6].map(|v| v * ONE);
        fill_holes_row(&z, &mut pos, &near, 0.1, false, Fill::Mirror);
        assert_eq!(px(&pos[1..5]), [4.0, 5.0, 5.0, 4.0]);
    }

    #[test]
    fn filled_holes_blend_background_rows_without_streaks() {
        // A textured background, 3 rows of 8 pixels (colour = 10 * column + row). A hole at
        // targets 0..3 of the middle row, filled from source 3 on: five colours, all different
        // along the row, each a blend of the rows around it (rows clamp at the frame).
        let (w, h) = (8, 3);
        let frame: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| [(10 * x + y) as u8; 3]))
            .collect();
        let z = [EMPTY, EMPTY, EMPTY, 0.2, 0.2, 0.2, 0.2, 0.2];
        let mut pos: Vec<u32> = (0..w as u32).map(|x| x * ONE).collect();
        fill_holes_row(&z, &mut pos, &[0.2; 8], 0.1, false, Fill::MirrorRows);
        let mut dst = vec![0u8; w * 3];
        gather_row::<u8>(&frame, w, h, 1, &pos, &mut dst);
        let got: Vec<u8> = dst.chunks_exact(3).map(|p| p[0]).collect();
        // Hole targets 2, 1, 0 read sources 3.5, 4.5, 5 (the last has no usable source beyond):
        // 10 * 3.5 + 1 = 36, 46, 51 (rows 0, 0, 1, 2, 2 average to 1).
        assert_eq!(&got[..3], &[51, 46, 36]);
        assert_eq!(&got[3..], &[31, 41, 51, 61, 71]);
    }

    #[test]
    fn positions_stay_inside_the_row_for_any_map() {
        // Pseudo-random rows at the largest shift scale: every target is written with a
        // position inside the row, and the gather never reads outside it.
        let mut seed = 12345u32;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed % 1000) as f32 / 999.0
        };
        for w in [2usize, 3, 17, 64] {
            for _ in 0..200 {
                let near: Vec<f32> = (0..w).map(|_| rnd()).collect();
                let (k, conv) = (0.05 * w as f32 * 20.0, rnd());
                for (sign, left) in [(1.0, true), (-1.0, false)] {
                    let (z, mut pos) = warp(&near, k, conv, sign);
                    fill_holes_row(&z, &mut pos, &near, 0.1, left, Fill::MirrorRows);
                    assert!(pos.iter().all(|&p| p & !HOLE <= (w as u32 - 1) * ONE));
                    let frame = vec![1u8; w * 3];
                    let mut dst = vec![0u8; w * 3];
                    gather_row::<u8>(&frame, w, 1, 0, &pos, &mut dst);
                    assert!(dst.iter().all(|&v| v == 1));
                }
            }
        }
    }
}
