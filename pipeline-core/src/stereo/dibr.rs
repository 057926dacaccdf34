//! Depth-image-based rendering of one row: forward warp with a z-buffer, background-side hole
//! filling, then a gather of the colours.
//!
//! The warp works on source *indices*, not colours: for each target pixel it records which
//! source column landed there (`idx`) and that source's nearness (`z`). Holes are filled on the
//! indices, and one final pass copies colours. This keeps the scattered writes small (4 + 4 bytes)
//! and makes the colour gather the only step that depends on the sample format.
use super::sample::Sample;

/// `z` value of a target no source pixel landed on. Written targets hold nearness in `[0, 1]`.
pub(crate) const EMPTY: f32 = -1.0;

/// Integer offset that keeps `shift + 0.5 + offset` positive for every nearness in `[0, 1]`,
/// so that truncation (`as i32`) is `floor` without a libm call.
pub(crate) fn round_offset(k: f32) -> i32 {
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
pub(crate) fn warp_row(
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
pub(crate) fn fill_holes_row(z: &[f32], idx: &mut [u32], prefer_left: bool) {
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
pub(crate) fn gather_row<S: Sample>(src: &[u8], idx: &[u32], dst: &mut [u8]) {
    for (d, &i) in dst.chunks_exact_mut(S::PIXEL).zip(idx) {
        S::copy_pixel(&src[i as usize * S::PIXEL..], d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Warps `near` and returns (z, idx) for the left and right views, without hole filling.
    fn warp(near: &[f32], k: f32, conv: f32) -> (Vec<f32>, Vec<u32>, Vec<f32>, Vec<u32>) {
        let w = near.len();
        let (mut zl, mut il, mut zr, mut ir) =
            (vec![0.0; w], vec![99; w], vec![0.0; w], vec![99; w]);
        let off = round_offset(k);
        warp_row(near, k, conv, off, &mut zl, &mut il, &mut zr, &mut ir);
        (zl, il, zr, ir)
    }

    #[test]
    fn flat_at_convergence_is_identity() {
        let (zl, il, zr, ir) = warp(&[0.5; 8], 4.0, 0.5);
        let id: Vec<u32> = (0..8).collect();
        assert_eq!(il, id);
        assert_eq!(ir, id);
        assert!(zl.iter().chain(&zr).all(|&z| z == 0.5));
    }

    #[test]
    fn uniform_shift_and_edges() {
        // s = 4 * (1.0 - 0.5) = 2: left view moves right by 2, right view left by 2.
        let (zl, il, zr, ir) = warp(&[1.0; 6], 4.0, 0.5);
        assert_eq!(&zl[..2], &[EMPTY, EMPTY]);
        assert_eq!(&il[2..], &[0, 1, 2, 3]);
        assert_eq!(&ir[..4], &[2, 3, 4, 5]);
        assert_eq!(&zr[4..], &[EMPTY, EMPTY]);
    }

    #[test]
    fn rounding_is_floor_of_target_plus_half() {
        // s = 0.5 exactly: left target x + 1, right target floor(x - 0.5 + 0.5) = x.
        let (_, il, zr, ir) = warp(&[1.0; 4], 1.0, 0.5);
        assert_eq!(&il[1..], &[0, 1, 2]);
        assert!(zr.iter().all(|&z| z == 1.0));
        assert_eq!(ir, vec![0, 1, 2, 3]);
        // s = 0.75: left x + 1, right floor(x - 0.25) = x - 1.
        let (_, il, _, ir) = warp(&[1.0; 4], 1.5, 0.5);
        assert_eq!(&il[1..], &[0, 1, 2]);
        assert_eq!(&ir[..3], &[1, 2, 3]);
        // s = -0.25 (behind the screen): rounds to no move in both views.
        let (_, il, _, ir) = warp(&[0.0; 4], 0.5, 0.5);
        assert_eq!(il, vec![0, 1, 2, 3]);
        assert_eq!(ir, vec![0, 1, 2, 3]);
    }

    #[test]
    fn nearer_source_wins_in_both_views() {
        // k = 4, conv = 0.5. Source 2 (near, s = 2) and source 4 (at convergence) both land on
        // left target 4: source 2 comes first in scan order and must survive source 4.
        let mut near = [0.5; 10];
        near[2] = 1.0;
        let (zl, il, _, _) = warp(&near, 4.0, 0.5);
        assert_eq!((il[4], zl[4]), (2, 1.0));
        // Right view: source 6 (near, lands on 4) comes after source 4 and must replace it.
        let mut near = [0.5; 10];
        near[6] = 1.0;
        let (_, _, zr, ir) = warp(&near, 4.0, 0.5);
        assert_eq!((ir[4], zr[4]), (6, 1.0));
        // Behind the screen (conv = 1, far s = -4): far source 7 lands on left target 3 after
        // source 3 (s = 0) did and must lose; far source 3 lands on right target 7 before
        // source 7 does and must be replaced.
        let mut near = [1.0; 10];
        near[7] = 0.0;
        let (zl, il, _, _) = warp(&near, 4.0, 1.0);
        assert_eq!((il[3], zl[3]), (3, 1.0));
        let mut near = [1.0; 10];
        near[3] = 0.0;
        let (_, _, zr, ir) = warp(&near, 4.0, 1.0);
        assert_eq!((ir[7], zr[7]), (7, 1.0));
    }

    #[test]
    fn holes_take_the_farther_neighbour() {
        // Hole run at 2..4 between a far (0.2) pixel and a near (0.9) one, and the reverse.
        let z = [0.2, 0.2, EMPTY, EMPTY, 0.9, 0.9, EMPTY, 0.1];
        let mut idx = [10, 11, 0, 0, 14, 15, 0, 17];
        fill_holes_row(&z, &mut idx, false);
        assert_eq!(idx, [10, 11, 11, 11, 14, 15, 17, 17]);
    }

    #[test]
    fn hole_ties_and_borders() {
        let z = [EMPTY, 0.5, EMPTY, 0.5, EMPTY, EMPTY];
        let mut a = [0, 21, 0, 23, 0, 0];
        fill_holes_row(&z, &mut a, true);
        assert_eq!(a, [21, 21, 21, 23, 23, 23]);
        let mut b = [0, 21, 0, 23, 0, 0];
        fill_holes_row(&z, &mut b, false);
        assert_eq!(b, [21, 21, 23, 23, 23, 23]);
        let mut c = [7, 7, 7];
        fill_holes_row(&[EMPTY; 3], &mut c, true);
        assert_eq!(c, [0, 1, 2]);
    }

    #[test]
    fn gather_copies_pixels() {
        let src = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        let mut dst = [0u8; 9];
        gather_row::<u8>(&src, &[2, 2, 0], &mut dst);
        assert_eq!(dst, [7, 8, 9, 7, 8, 9, 1, 2, 3]);
        // 16-bit: whole 6-byte pixels move.
        let src: Vec<u8> = (1..=18).collect();
        let mut dst = [0u8; 18];
        gather_row::<u16>(&src, &[2, 2, 0], &mut dst);
        let (a, b) = (&src[12..18], &src[..6]);
        assert_eq!(dst, [a, a, b].concat()[..]);
    }
}
