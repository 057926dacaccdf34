//! Packing two full-size pictures into one output frame, per [`Layout`], for either sample type:
//! the left and right views, or (RGBD layouts) the source frame and its depth picture.
use super::anaglyph::{anaglyph, AnaglyphMethod};
use super::layout::Layout;
use super::sample::{avg, Sample};
use super::vr180::{EyeMap, DEFAULT_SCREEN_DEG};

/// What some layouts need besides the two pictures.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Packing<'a> {
    pub anaglyph: AnaglyphMethod,
    /// The VR180 mapping for this frame size (built here with the default screen when absent).
    pub vr: Option<&'a EyeMap>,
}

/// Halves a packed RGB row horizontally by averaging pixel pairs (`src` is `2 * dst` long).
fn squeeze_row<S: Sample>(src: &[u8], dst: &mut [u8]) {
    for (d, s) in dst
        .chunks_exact_mut(S::PIXEL)
        .zip(src.chunks_exact(2 * S::PIXEL))
    {
        let (a, b) = (S::read_rgb(s), S::read_rgb(&s[S::PIXEL..]));
        S::write_rgb([avg(a[0], b[0]), avg(a[1], b[1]), avg(a[2], b[2])], d);
    }
}

/// Halves a packed RGB image with rows of `row` bytes vertically by averaging row pairs into
/// `dst`.
fn squeeze_rows<S: Sample>(src: &[u8], row: usize, dst: &mut [u8]) {
    for (d, pair) in dst.chunks_exact_mut(row).zip(src.chunks_exact(2 * row)) {
        let (a, b) = pair.split_at(row);
        S::average_into(a, b, d);
    }
}

/// [`compose_with`] with the default options (Dubois anaglyph, the default VR180 screen).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn compose<S: Sample>(
    layout: Layout,
    left: &[u8],
    right: &[u8],
    w: usize,
    h: usize,
    out: &mut [u8],
) {
    compose_with::<S>(layout, Packing::default(), left, right, w, h, out)
}

/// Writes `left` and `right` (both `w x h` packed RGB of `S` samples, `w` and `h` even) into
/// `out`, which is exactly `layout.output_size_with(w, h, options)` pixels (the options the
/// VR180 map of `packing` was made with). For the RGBD layouts `left` is the source frame and
/// `right` its depth picture, packed like full-sbs / half-sbs.
pub(crate) fn compose_with<S: Sample>(
    layout: Layout,
    packing: Packing<'_>,
    left: &[u8],
    right: &[u8],
    w: usize,
    h: usize,
    out: &mut [u8],
) {
    let row = S::PIXEL * w;
    match layout {
        Layout::FullSbs | Layout::CrossEyed | Layout::Rgbd => {
            let (a, b) = if layout == Layout::CrossEyed {
                (right, left)
            } else {
                (left, right)
            };
            for ((o, a), b) in out
                .chunks_exact_mut(2 * row)
                .zip(a.chunks_exact(row))
                .zip(b.chunks_exact(row))
            {
                let (oa, ob) = o.split_at_mut(row);
                oa.copy_from_slice(a);
                ob.copy_from_slice(b);
            }
        }
        Layout::FullTb => {
            let (top, bottom) = out.split_at_mut(row * h);
            top.copy_from_slice(left);
            bottom.copy_from_slice(right);
        }
        Layout::HalfSbs | Layout::HalfRgbd => {
            for ((o, a), b) in out
                .chunks_exact_mut(row)
                .zip(left.chunks_exact(row))
                .zip(right.chunks_exact(row))
            {
                let (oa, ob) = o.split_at_mut(row / 2);
                squeeze_row::<S>(a, oa);
                squeeze_row::<S>(b, ob);
            }
        }
        Layout::HalfTb => {
            let (top, bottom) = out.split_at_mut(row * (h / 2));
            squeeze_rows::<S>(left, row, top);
            squeeze_rows::<S>(right, row, bottom);
        }
        Layout::Anaglyph => anaglyph::<S>(packing.anaglyph, left, right, out),
        Layout::Vr180 | Layout::Vr180Tb => {
            let tb = layout == Layout::Vr180Tb;
            match packing.vr {
                Some(map) => map.compose::<S>(left, right, tb, out),
                None => EyeMap::new(w as u32, h as u32, DEFAULT_SCREEN_DEG)
                    .compose::<S>(left, right, tb, out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: usize = 4;
    const H: usize = 2;

    /// A view whose pixel (x, y) is (base + x, 10 * y, tag).
    fn view(base: u8, tag: u8) -> Vec<u8> {
        let mut v = Vec::new();
        for y in 0..H {
            for x in 0..W {
                v.extend_from_slice(&[base + x as u8, 10 * y as u8, tag]);
            }
        }
        v
    }

    fn run(layout: Layout) -> Vec<u8> {
        let (ow, oh) = layout.output_size(W as u32, H as u32);
        let mut out = vec![0xEE; ow as usize * oh as usize * 3];
        compose::<u8>(layout, &view(0, 1), &view(100, 2), W, H, &mut out);
        out
    }

    fn px(out: &[u8], ow: usize, x: usize, y: usize) -> [u8; 3] {
        let i = (y * ow + x) * 3;
        [out[i], out[i + 1], out[i + 2]]
    }

    #[test]
    fn full_sbs_and_cross_eyed() {
        let o = run(Layout::FullSbs);
        assert_eq!(px(&o, 8, 0, 0), [0, 0, 1]);
        assert_eq!(px(&o, 8, 3, 1), [3, 10, 1]);
        assert_eq!(px(&o, 8, 4, 0), [100, 0, 2]);
        assert_eq!(px(&o, 8, 7, 1), [103, 10, 2]);
        let c = run(Layout::CrossEyed);
        assert_eq!(px(&c, 8, 0, 0), [100, 0, 2]);
        assert_eq!(px(&c, 8, 7, 1), [3, 10, 1]);
    }

    #[test]
    fn full_tb() {
        let o = run(Layout::FullTb);
        assert_eq!(o.len(), W * 2 * H * 3);
        assert_eq!(px(&o, W, 2, 0), [2, 0, 1]);
        assert_eq!(px(&o, W, 2, 1), [2, 10, 1]);
        assert_eq!(px(&o, W, 2, 2), [102, 0, 2]);
        assert_eq!(px(&o, W, 3, 3), [103, 10, 2]);
    }

    #[test]
    fn half_sbs_averages_pixel_pairs() {
        let o = run(Layout::HalfSbs);
        assert_eq!(o.len(), W * H * 3);
        // Left half: pairs (0,1) -> 0.5 rounds up to 1, (2,3) -> 3.
        assert_eq!(px(&o, W, 0, 0), [1, 0, 1]);
        assert_eq!(px(&o, W, 1, 1), [3, 10, 1]);
        assert_eq!(px(&o, W, 2, 0), [101, 0, 2]);
        assert_eq!(px(&o, W, 3, 1), [103, 10, 2]);
    }

    #[test]
    fn half_tb_averages_row_pairs() {
        let o = run(Layout::HalfTb);
        assert_eq!(o.len(), W * H * 3);
        // Rows 0 and 1 averaged: green (0 + 10) / 2 = 5.
        assert_eq!(px(&o, W, 0, 0), [0, 5, 1]);
        assert_eq!(px(&o, W, 3, 0), [3, 5, 1]);
        assert_eq!(px(&o, W, 0, 1), [100, 5, 2]);
        assert_eq!(px(&o, W, 3, 1), [103, 5, 2]);
    }

    #[test]
    fn rgbd_packs_like_sbs_and_anaglyph_takes_its_method() {
        assert_eq!(run(Layout::Rgbd), run(Layout::FullSbs));
        assert_eq!(run(Layout::HalfRgbd), run(Layout::HalfSbs));
        let (l, r) = (view(0, 1), view(100, 2));
        let mut out = vec![0; W * H * 3];
        let p = Packing {
            anaglyph: AnaglyphMethod::Color,
            vr: None,
        };
        compose_with::<u8>(Layout::Anaglyph, p, &l, &r, W, H, &mut out);
        // Colour anaglyph: red of the left view, green and blue of the right.
        assert_eq!(px(&out, W, 3, 1), [3, 10, 2]);
    }

    #[test]
    fn every_byte_is_written() {
        for layout in Layout::ALL {
            let o = run(layout);
            assert!(!o.contains(&0xEE), "{layout} left bytes unwritten");
        }
    }
}
