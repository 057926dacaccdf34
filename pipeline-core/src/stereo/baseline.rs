//! The renderer as it was before subpixel warping (integer-pixel forward warp with a z-buffer,
//! one copied background pixel per hole run), kept only so that the quality benchmark
//! (`make quality`, `pipeline-core/examples/stereo_quality.rs`) can measure the old and the new
//! renderer in the same run. Not part of the API: hidden from the docs, used by nothing else.
use super::sample::Sample;

/// `z` value of a target no source pixel landed on. Written targets hold nearness in `[0, 1]`.
const EMPTY: f32 = -1.0;

/// Integer offset that keeps `shift + 0.5 + offset` positive for every nearness in `[0, 1]`,
/// so that truncation (`as i32`) is `floor` without a libm call.
pub(super) fn round_offset(k: f32) -> i32 {
    k.abs().ceil() as i32 + 2
}

/// Warps one row into both views (one pass: measured faster than one pass per view).
///
/// `near` holds the row's nearness (`[0, 1]`); per-eye shift is `s = k * (near - conv)`. The left
/// view receives source `x` at `floor(x + s + 0.5)`, the right view at `floor(x - s + 0.5)`.
/// When several sources land on one target the nearest wins (strictly greater nearness; equal
/// nearness means equal shift, so two distinct sources never tie on one target).
/// All slices are `near.len()` long; `off` comes from [`round_offset`]`(k)`.
#[allow(clippy::too_many_arguments)]
pub(super) fn warp_row(
    near: &[f32],
    k: f32,
    conv: f32,
    off: i32,
    z_left: &mut [f32],
    idx_left: &mut [u32],
    z_right: &mut [f32],
    idx_right: &mut [u32],
) {
    let w = near.len();
    let (zl, il) = (&mut z_left[..w], &mut idx_left[..w]);
    let (zr, ir) = (&mut z_right[..w], &mut idx_right[..w]);
    zl.fill(EMPTY);
    zr.fill(EMPTY);
    let bias = off as f32 + 0.5;
    for (x, &n) in near.iter().enumerate() {
        let s = k * (n - conv);
        // Negative targets wrap to huge values and fail the bound tests too.
        let tl = (x as i32 + ((bias + s) as i32 - off)) as u32 as usize;
        let tr = (x as i32 + ((bias - s) as i32 - off)) as u32 as usize;
        if tl < w && n > zl[tl] {
            zl[tl] = n;
            il[tl] = x as u32;
        }
        if tr < w && n > zr[tr] {
            zr[tr] = n;
            ir[tr] = x as u32;
        }
    }
}

/// Fills the holes (targets with `z == EMPTY`) of one warped row from the background side.
///
/// For each run of holes, the nearest written neighbours on the left and on the right are
/// compared and the farther one (lower nearness) is copied across the whole run, so a foreground
/// edge is never stretched into a disocclusion. Equal nearness picks the left neighbour when
/// `prefer_left` (use it for the left view, whose disocclusions open on the left of near
/// objects), else the right one. A run touching the image edge takes its only neighbour; a row
/// with no written pixel at all (impossible within the parameter limits) becomes the identity.
pub(super) fn fill_holes_row(z: &[f32], idx: &mut [u32], prefer_left: bool) {
    let w = z.len();
    let idx = &mut idx[..w];
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
        let from = match (left, right) {
            (Some(l), Some(r)) => {
                if z[l] < z[r] || (z[l] == z[r] && prefer_left) {
                    l
                } else {
                    r
                }
            }
            (Some(l), None) => l,
            (None, Some(r)) => r,
            (None, None) => {
                for (i, v) in idx.iter_mut().enumerate() {
                    *v = i as u32;
                }
                return;
            }
        };
        let v = idx[from];
        idx[start..x].fill(v);
    }
}

/// Copies colours: `dst[t] = src[idx[t]]` for packed RGB rows of `S` samples (`idx` values <
/// src pixels).
pub(super) fn gather_row<S: Sample>(src: &[u8], idx: &[u32], dst: &mut [u8]) {
    for (d, &i) in dst.chunks_exact_mut(S::PIXEL).zip(idx) {
        S::copy_pixel(&src[i as usize * S::PIXEL..], d);
    }
}

/// The old renderer's two full-size views of one packed `rgb24` frame, `(left, right)`: the
/// depth map is resampled exactly as [`super::Renderer`] does, then warped to integer pixels.
pub fn render_views_rgb24(
    frame: &[u8],
    width: u32,
    height: u32,
    depth: &[f32],
    depth_w: u32,
    depth_h: u32,
    params: super::StereoParams,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    params.validate()?;
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 || frame.len() != w * h * 3 {
        return Err(format!(
            "frame buffer is {} bytes, not {w}x{h} rgb24",
            frame.len()
        ));
    }
    if depth_w == 0 || depth_h == 0 || depth.len() != depth_w as usize * depth_h as usize {
        return Err(format!(
            "depth map of {} values is not {depth_w}x{depth_h}",
            depth.len()
        ));
    }
    let k = params.shift_scale(width);
    let conv = params.convergence;
    let off = round_offset(k);
    let mut resampler = super::resample::DepthResampler::new(w, h);
    resampler.configure(depth_w as usize, depth_h as usize);
    let mut near = vec![0.0f32; w];
    let (mut zl, mut zr) = (vec![0.0f32; w], vec![0.0f32; w]);
    let (mut il, mut ir) = (vec![0u32; w], vec![0u32; w]);
    let (mut left, mut right) = (vec![0u8; w * h * 3], vec![0u8; w * h * 3]);
    let rows = frame
        .chunks_exact(3 * w)
        .zip(left.chunks_exact_mut(3 * w))
        .zip(right.chunks_exact_mut(3 * w));
    for (y, ((src, dl), dr)) in rows.enumerate() {
        resampler.row(depth, y, &mut near);
        warp_row(&near, k, conv, off, &mut zl, &mut il, &mut zr, &mut ir);
        fill_holes_row(&zl, &mut il, true);
        fill_holes_row(&zr, &mut ir, false);
        gather_row::<u8>(src, &il, dl);
        gather_row::<u8>(src, &ir, dr);
    }
    Ok((left, right))
}
