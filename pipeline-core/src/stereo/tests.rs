//! Renderer-level tests: geometry of the views, layouts, errors, buffer reuse, timing.
use super::sample::Sample;
use super::*;

const RED: [u8; 3] = [255, 0, 0];

/// Background colour, distinct per column and row.
fn bg(x: usize, y: usize) -> [u8; 3] {
    [(x * 3) as u8, 40 + y as u8, 200]
}

/// A `w x h` frame: `bg` everywhere, `RED` inside the square `xs x ys`.
fn frame(w: usize, h: usize, xs: std::ops::Range<usize>, ys: std::ops::Range<usize>) -> Vec<u8> {
    let mut f = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let c = if xs.contains(&x) && ys.contains(&y) {
                RED
            } else {
                bg(x, y)
            };
            f.extend_from_slice(&c);
        }
    }
    f
}

/// Nearness `near` inside the square, `far` elsewhere, at frame resolution.
fn step_depth(
    w: usize,
    h: usize,
    xs: std::ops::Range<usize>,
    ys: std::ops::Range<usize>,
    near: f32,
    far: f32,
) -> Vec<f32> {
    let mut d = vec![far; w * h];
    for y in ys {
        for x in xs.clone() {
            d[y * w + x] = near;
        }
    }
    d
}

fn px(img: &[u8], w: usize, x: usize, y: usize) -> [u8; 3] {
    let i = (y * w + x) * 3;
    [img[i], img[i + 1], img[i + 2]]
}

fn params(divergence: f32, convergence: f32) -> StereoParams {
    StereoParams {
        divergence,
        convergence,
    }
}

/// 80 px wide with divergence 10 %: shift scale k = 4 px, so nearness 1 at convergence 0.5
/// moves exactly 2 px.
const W: usize = 80;
const H: usize = 8;

#[test]
fn depth_step_shifts_the_square_and_fills_holes_with_background() {
    let (xs, ys) = (20..30, 2..6);
    let rgb = frame(W, H, xs.clone(), ys.clone());
    let depth = step_depth(W, H, xs, ys.clone(), 1.0, 0.5);
    let mut r = Renderer::new(W as u32, H as u32, Layout::FullSbs, params(10.0, 0.5));
    // The warp and the fill alone (edge dilation would move the background pixel beside the
    // square with it: see `edge_dilation_moves_the_pixels_beside_a_near_edge`).
    r.set_tuning(no_dilation());
    let (left, right) = r.render_views(&rgb, &depth, W as u32, H as u32).unwrap();
    for y in 0..H {
        for x in 0..W {
            let (l, rr) = (px(&left, W, x, y), px(&right, W, x, y));
            if !ys.contains(&y) {
                assert_eq!((l, rr), (bg(x, y), bg(x, y)), "row {y} x {x} must not move");
                continue;
            }
            // Left view: square moves right by 2 to 22..32 (a whole-pixel shift: exact copies);
            // hole 20..22 on its left, filled from the background on the left (the farther
            // neighbour), mirrored: background colours, never red, not one repeated pixel.
            // Right view: square moves left by 2 to 18..28; hole 28..30 on its right, filled
            // from the background on the right.
            let hole_l = (20..22).contains(&x);
            let hole_r = (28..30).contains(&x);
            let want_l = if (22..32).contains(&x) { RED } else { bg(x, y) };
            let want_r = if (18..28).contains(&x) { RED } else { bg(x, y) };
            for (hole, got, want, view) in
                [(hole_l, l, want_l, "left"), (hole_r, rr, want_r, "right")]
            {
                if hole {
                    // Background blue, and green (40 + row) blended over rows 0..8: within 2.
                    assert_eq!(got[2], 200, "{view} view hole at ({x}, {y}): {got:?}");
                    assert!(
                        got[1].abs_diff(40 + y as u8) <= 2,
                        "{view} ({x}, {y}) {got:?}"
                    );
                } else {
                    assert_eq!(got, want, "{view} view at ({x}, {y})");
                }
            }
        }
        // No streak: the two pixels of each hole differ.
        if ys.contains(&y) {
            assert_ne!(px(&left, W, 20, y), px(&left, W, 21, y), "row {y}");
            assert_ne!(px(&right, W, 28, y), px(&right, W, 29, y), "row {y}");
        }
    }
}

fn no_dilation() -> Tuning {
    Tuning {
        dilate: 0,
        ..Tuning::default()
    }
}

#[test]
fn edge_dilation_moves_the_pixels_beside_a_near_edge() {
    // With the default dilation (1 px), the background column on each side of the near square
    // (19 and 30) moves with it: in the right view (shift -2) source 19 lands on 17 and the
    // square's red on 18..28; without dilation 17 keeps its own background.
    let (xs, ys) = (20..30, 2..6);
    let rgb = frame(W, H, xs.clone(), ys.clone());
    let depth = step_depth(W, H, xs, ys, 1.0, 0.5);
    let mut r = Renderer::new(W as u32, H as u32, Layout::FullSbs, params(10.0, 0.5));
    let (_, right) = r.render_views(&rgb, &depth, W as u32, H as u32).unwrap();
    r.set_tuning(no_dilation());
    let (_, plain) = r.render_views(&rgb, &depth, W as u32, H as u32).unwrap();
    for y in 2..6 {
        assert_eq!(px(&right, W, 17, y), bg(19, y));
        assert_eq!(px(&plain, W, 17, y), bg(17, y));
        assert!((18..28).all(|x| px(&right, W, x, y) == RED));
        // Source 30 moved to 28: the background that was beside the square stays beside it.
        assert_eq!(px(&right, W, 28, y), bg(30, y));
    }
}

#[test]
fn flat_depth_at_convergence_gives_the_input_in_both_views() {
    let rgb = frame(W, H, 20..30, 2..6);
    for conv in [0.0, 0.37, 0.5, 1.0] {
        let mut r = Renderer::new(W as u32, H as u32, Layout::FullSbs, params(10.0, conv));
        // Low-resolution map: still flat after resampling.
        let depth = vec![conv; 5 * 3];
        let (left, right) = r.render_views(&rgb, &depth, 5, 3).unwrap();
        assert!(left == rgb && right == rgb, "conv {conv}");
    }
}

#[test]
fn flat_depth_off_convergence_shifts_uniformly() {
    let rgb = frame(W, H, 20..30, 2..6);
    // Nearness 1, convergence 0.5: s = +2 (left view moves right). 3x2 map, resampled.
    let mut r = Renderer::new(W as u32, H as u32, Layout::FullSbs, params(10.0, 0.5));
    let (left, right) = r.render_views(&rgb, &[1.0; 6], 3, 2).unwrap();
    for y in 0..H {
        for x in 2..W - 2 {
            assert_eq!(px(&left, W, x, y), px(&rgb, W, x - 2, y), "left ({x},{y})");
            assert_eq!(
                px(&right, W, x, y),
                px(&rgb, W, x + 2, y),
                "right ({x},{y})"
            );
        }
        // The 2-px strips at the borders mirror the edge's texture: not one repeated pixel.
        assert_ne!(px(&left, W, 0, y), px(&left, W, 1, y));
        assert_ne!(px(&right, W, W - 1, y), px(&right, W, W - 2, y));
    }
    // Nearness 0, convergence 1: s = -4, everything recedes: left view moves left by 4.
    let mut r = Renderer::new(W as u32, H as u32, Layout::FullSbs, params(10.0, 1.0));
    let (left, right) = r.render_views(&rgb, &[0.0; 6], 3, 2).unwrap();
    for y in 0..H {
        for x in 4..W - 4 {
            assert_eq!(px(&left, W, x, y), px(&rgb, W, x + 4, y));
            assert_eq!(px(&right, W, x, y), px(&rgb, W, x - 4, y));
        }
    }
}

/// Mean column of the red pixels in row `y`.
fn red_centre(img: &[u8], w: usize, y: usize) -> f32 {
    let xs: Vec<usize> = (0..w).filter(|&x| px(img, w, x, y) == RED).collect();
    assert!(!xs.is_empty());
    xs.iter().sum::<usize>() as f32 / xs.len() as f32
}

#[test]
fn parallax_sign_near_pops_out_far_recedes() {
    let (w, h) = (640usize, 8usize);
    let rgb = frame(w, h, 300..340, 2..6);
    let mut r = Renderer::new(w as u32, h as u32, Layout::FullSbs, StereoParams::default());
    let input = red_centre(&rgb, w, 3);
    // Near square: right of the input in the left view, left of it in the right view.
    let depth = step_depth(w, h, 300..340, 2..6, 1.0, 0.5);
    let (left, right) = r.render_views(&rgb, &depth, w as u32, h as u32).unwrap();
    // Default divergence 2 % of 640 = 12.8 px total, 3.2 px per eye at nearness 1.
    // Subpixel: the square's pure-red pixels sit within half a pixel of the exact shift.
    let (cl, cr) = (red_centre(&left, w, 3), red_centre(&right, w, 3));
    assert!(
        (cl - input - 3.2).abs() <= 0.5 && (input - cr - 3.2).abs() <= 0.5,
        "{cl} {cr}"
    );
    // Everything far (nearness 0 < convergence): the other way round. (A far square in a
    // surround at convergence would be partly hidden by the surround instead.)
    let depth = vec![0.0; w * h];
    let (left, right) = r.render_views(&rgb, &depth, w as u32, h as u32).unwrap();
    let (cl, cr) = (red_centre(&left, w, 3), red_centre(&right, w, 3));
    assert!(
        (input - cl - 3.2).abs() <= 0.5 && (cr - input - 3.2).abs() <= 0.5,
        "{cl} {cr}"
    );
}

#[test]
fn z_test_nearer_source_wins() {
    // Column 10 is near (s = +2), the rest at convergence. Left target 12 receives both
    // source 10 and source 12: source 10 must win. Right target 8: source 10 and 8.
    let rgb = frame(W, H, 10..11, 0..H);
    let depth = step_depth(W, H, 10..11, 0..H, 1.0, 0.5);
    let mut r = Renderer::new(W as u32, H as u32, Layout::FullSbs, params(10.0, 0.5));
    r.set_tuning(no_dilation());
    let (left, right) = r.render_views(&rgb, &depth, W as u32, H as u32).unwrap();
    for y in 0..H {
        assert_eq!(px(&left, W, 12, y), RED);
        assert_eq!(px(&right, W, 8, y), RED);
        // The 1-px hole left behind is background (its neighbour's column, rows blended), not
        // red.
        let (hl, hr) = (px(&left, W, 10, y), px(&right, W, 10, y));
        assert_eq!((hl[0], hl[2]), (bg(9, y)[0], 200), "{hl:?}");
        assert_eq!((hr[0], hr[2]), (bg(11, y)[0], 200), "{hr:?}");
        assert!(hl[1].abs_diff(bg(9, y)[1]) <= 2 && hr[1].abs_diff(bg(11, y)[1]) <= 2);
        assert_eq!(px(&left, W, 11, y), bg(11, y));
    }
}

#[test]
fn low_resolution_depth_never_smears_the_foreground() {
    // Square edges blur after upsampling a 4x smaller map. The blurred edge still has nearness
    // >= 0.5 on every red pixel (shift >= 2.4 -> 2 px with k = 8, conv = 0.2), so the
    // disocclusion strip next to the square's old edge (2 px wide at least) must be background:
    // a fill that stretched the foreground would paint it red.
    let (w, h) = (160usize, 40usize);
    let rgb = frame(w, h, 60..100, 8..32);
    let small = step_depth(w / 4, h / 4, 15..25, 2..8, 1.0, 0.2);
    let mut r = Renderer::new(w as u32, h as u32, Layout::FullSbs, params(10.0, 0.2));
    let (left, right) = r
        .render_views(&rgb, &small, (w / 4) as u32, (h / 4) as u32)
        .unwrap();
    for y in 0..h {
        for x in 0..w {
            if x < 62 {
                assert_ne!(px(&left, w, x, y), RED, "left view smeared at ({x}, {y})");
            }
            if x > 97 {
                assert_ne!(px(&right, w, x, y), RED, "right view smeared at ({x}, {y})");
            }
        }
    }
    // And the square still moves the right way (interior by 6 px, blurred edges by less).
    let c = red_centre(&rgb, w, 20);
    assert!(red_centre(&left, w, 20) > c + 3.0);
    assert!(red_centre(&right, w, 20) < c - 3.0);
}

/// Renders a near square through `layout`, and returns (output, left view, right view).
fn render_layout(layout: Layout) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (xs, ys) = (20..30, 2..6);
    let rgb = frame(W, H, xs.clone(), ys.clone());
    let depth = step_depth(W, H, xs, ys, 1.0, 0.5);
    let mut r = Renderer::new(W as u32, H as u32, layout, params(10.0, 0.5));
    let mut out = Vec::new();
    r.render(&rgb, &depth, W as u32, H as u32, &mut out)
        .unwrap();
    let (left, right) = r.render_views(&rgb, &depth, W as u32, H as u32).unwrap();
    assert_ne!(left, right, "views must be distinguishable");
    let (ow, oh) = r.output_size();
    assert_eq!((ow, oh), layout.output_size(W as u32, H as u32));
    assert_eq!(out.len(), r.output_len());
    assert_eq!(out.len(), ow as usize * oh as usize * 3);
    (out, left, right)
}

fn avg(a: [u8; 3], b: [u8; 3]) -> [u8; 3] {
    [0, 1, 2].map(|c| (a[c] as u16 + b[c] as u16).div_ceil(2) as u8)
}

#[test]
fn full_sbs_and_cross_eyed_place_views() {
    let (out, l, r) = render_layout(Layout::FullSbs);
    let (c, _, _) = render_layout(Layout::CrossEyed);
    assert_eq!(out.len(), 2 * W * H * 3);
    for y in 0..H {
        for x in 0..W {
            assert_eq!(px(&out, 2 * W, x, y), px(&l, W, x, y));
            assert_eq!(px(&out, 2 * W, W + x, y), px(&r, W, x, y));
            assert_eq!(px(&c, 2 * W, x, y), px(&r, W, x, y));
            assert_eq!(px(&c, 2 * W, W + x, y), px(&l, W, x, y));
        }
    }
    // Concretely: red at 22..32 in the left half, at 18..28 in the right half.
    assert_eq!(px(&out, 2 * W, 31, 3), RED);
    assert_eq!(px(&out, 2 * W, W + 18, 3), RED);
    assert_ne!(px(&out, 2 * W, W + 31, 3), RED);
}

#[test]
fn full_tb_places_views() {
    let (out, l, r) = render_layout(Layout::FullTb);
    assert_eq!(out.len(), W * 2 * H * 3);
    assert_eq!(&out[..W * H * 3], &l[..]);
    assert_eq!(&out[W * H * 3..], &r[..]);
}

#[test]
fn half_sbs_squeezes_each_view() {
    let (out, l, r) = render_layout(Layout::HalfSbs);
    assert_eq!(out.len(), W * H * 3);
    for y in 0..H {
        for x in 0..W / 2 {
            let want_l = avg(px(&l, W, 2 * x, y), px(&l, W, 2 * x + 1, y));
            let want_r = avg(px(&r, W, 2 * x, y), px(&r, W, 2 * x + 1, y));
            assert_eq!(px(&out, W, x, y), want_l);
            assert_eq!(px(&out, W, W / 2 + x, y), want_r);
        }
    }
}

#[test]
fn half_tb_squeezes_each_view() {
    let (out, l, r) = render_layout(Layout::HalfTb);
    assert_eq!(out.len(), W * H * 3);
    for y in 0..H / 2 {
        for x in 0..W {
            let want_l = avg(px(&l, W, x, 2 * y), px(&l, W, x, 2 * y + 1));
            let want_r = avg(px(&r, W, x, 2 * y), px(&r, W, x, 2 * y + 1));
            assert_eq!(px(&out, W, x, y), want_l);
            assert_eq!(px(&out, W, x, H / 2 + y), want_r);
        }
    }
}

#[test]
fn anaglyph_of_grey_stays_grey() {
    let rgb = vec![128u8; W * H * 3];
    let mut r = Renderer::new(W as u32, H as u32, Layout::Anaglyph, params(10.0, 0.5));
    let mut out = Vec::new();
    r.render(&rgb, &[0.5; 4], 2, 2, &mut out).unwrap();
    assert_eq!(out.len(), W * H * 3);
    assert!(out.iter().all(|&v| v.abs_diff(128) <= 1), "not grey");
}

#[test]
fn anaglyph_red_follows_the_left_view() {
    // White near square on grey: at x 30..32 only the left view is white, at 18..20 only the
    // right view is.
    let mut rgb = vec![128u8; W * H * 3];
    for y in 2..6 {
        for x in 20..30 {
            rgb[(y * W + x) * 3..][..3].copy_from_slice(&[255; 3]);
        }
    }
    let depth = step_depth(W, H, 20..30, 2..6, 1.0, 0.5);
    let mut r = Renderer::new(W as u32, H as u32, Layout::Anaglyph, params(10.0, 0.5));
    let mut out = Vec::new();
    r.render(&rgb, &depth, W as u32, H as u32, &mut out)
        .unwrap();
    let only_left = px(&out, W, 30, 3);
    let only_right = px(&out, W, 18, 3);
    let both = px(&out, W, 25, 3);
    assert_eq!(only_left[0], 255, "{only_left:?}");
    assert!(only_right[0] < 128 && only_right[1] > 200, "{only_right:?}");
    assert!(only_left[1] < 128 && only_left[2] < 128, "{only_left:?}");
    assert!(both.iter().all(|&v| v >= 254), "{both:?}");
}

#[test]
fn bad_sizes_are_errors_not_panics() {
    let ok_rgb = vec![0u8; W * H * 3];
    let ok_depth = vec![0.5f32; 4];
    let mut out = vec![7u8; 3];
    for (w, h) in [(81, 8), (80, 7), (0, 8), (80, 0), (MAX_DIMENSION + 2, 2)] {
        let mut r = Renderer::new(w, h, Layout::FullSbs, StereoParams::default());
        let rgb = vec![0u8; (w as usize * h as usize * 3).min(1 << 20)];
        let e = r.render(&rgb, &ok_depth, 2, 2, &mut out).unwrap_err();
        assert!(e.contains(&format!("{w}x{h}")), "{e}");
        assert!(r.render_views(&rgb, &ok_depth, 2, 2).is_err());
    }
    let mut r = Renderer::new(W as u32, H as u32, Layout::HalfSbs, StereoParams::default());
    assert!(r.render(&ok_rgb[1..], &ok_depth, 2, 2, &mut out).is_err());
    assert!(r.render(&[], &ok_depth, 2, 2, &mut out).is_err());
    assert!(r.render(&ok_rgb, &ok_depth, 2, 3, &mut out).is_err());
    assert!(r.render(&ok_rgb, &ok_depth, 0, 2, &mut out).is_err());
    assert!(r.render(&ok_rgb, &[], 0, 0, &mut out).is_err());
    assert!(r
        .render(&ok_rgb, &ok_depth, u32::MAX, u32::MAX, &mut out)
        .is_err());
    let frame_ref = FrameRef {
        width: W as u32 - 2,
        height: H as u32,
        rgb: &ok_rgb,
    };
    let map = DepthMap {
        width: 2,
        height: 2,
        data: ok_depth.clone(),
    };
    assert!(r.render_frame(frame_ref, &map, &mut out).is_err());
    // Errors leave `out` untouched.
    assert_eq!(out, vec![7u8; 3]);
    // And the same renderer still works afterwards.
    r.render(&ok_rgb, &ok_depth, 2, 2, &mut out).unwrap();
    assert_eq!(out.len(), W * H * 3);
}

#[test]
fn invalid_params_are_errors() {
    let rgb = vec![0u8; W * H * 3];
    let mut out = Vec::new();
    for p in [params(-1.0, 0.5), params(2.0, 1.5), params(f32::NAN, 0.5)] {
        let mut r = Renderer::new(W as u32, H as u32, Layout::FullSbs, p);
        assert!(r.render(&rgb, &[0.5], 1, 1, &mut out).is_err(), "{p:?}");
        r.set_params(StereoParams::default());
        assert!(r.render(&rgb, &[0.5], 1, 1, &mut out).is_ok());
    }
}

#[test]
fn render_frame_matches_render() {
    let rgb = frame(W, H, 20..30, 2..6);
    let depth = step_depth(W, H, 20..30, 2..6, 1.0, 0.5);
    let mut r = Renderer::new(W as u32, H as u32, Layout::HalfSbs, params(10.0, 0.5));
    let (mut a, mut b) = (Vec::new(), Vec::new());
    r.render(&rgb, &depth, W as u32, H as u32, &mut a).unwrap();
    let f = FrameRef {
        width: W as u32,
        height: H as u32,
        rgb: &rgb,
    };
    let map = DepthMap {
        width: W as u32,
        height: H as u32,
        data: depth,
    };
    r.render_frame(f, &map, &mut b).unwrap();
    assert_eq!(a, b);
}

#[test]
fn buffers_are_reused_between_frames() {
    let rgb = frame(W, H, 20..30, 2..6);
    let depth = vec![0.7f32; 10 * 4];
    let mut r = Renderer::new(W as u32, H as u32, Layout::FullSbs, StereoParams::default());
    let mut out = Vec::new();
    r.render(&rgb, &depth, 10, 4, &mut out).unwrap();
    let ptrs = |r: &Renderer, out: &Vec<u8>| {
        (
            out.as_ptr() as usize,
            r.left.as_ptr() as usize,
            r.right.as_ptr() as usize,
            r.near_row.as_ptr() as usize,
            r.pos_left.as_ptr() as usize,
            r.runs_right.as_ptr() as usize,
        )
    };
    let before = ptrs(&r, &out);
    let first = out.clone();
    for _ in 0..3 {
        r.render(&rgb, &depth, 10, 4, &mut out).unwrap();
    }
    assert_eq!(ptrs(&r, &out), before);
    assert_eq!(out, first, "same input, same output");
}

/// The 16-bit frame whose samples are `hi * 256 + lo` (packed rgb48le).
fn rgb48(hi: &[u8], lo: &[u8]) -> Vec<u8> {
    hi.iter().zip(lo).flat_map(|(&h, &l)| [l, h]).collect()
}

/// `v8 * 257` for every sample (8-bit values at full 16-bit range, as ffmpeg scales them).
fn widen(rgb: &[u8]) -> Vec<u8> {
    rgb48(rgb, rgb)
}

fn samples16(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// A frame size, an 8-bit frame and a map.
struct Scene {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
    depth: Vec<f32>,
    dw: u32,
    dh: u32,
}

impl Scene {
    /// Renders `frame` (this scene's size, in `format`) with this scene's map.
    fn render(&self, format: SampleFormat, layout: Layout, frame: &[u8]) -> Vec<u8> {
        let (w, h) = (self.w as u32, self.h as u32);
        let mut r = Renderer::with_format(w, h, layout, params(10.0, 0.5), format);
        let mut out = Vec::new();
        r.render(frame, &self.depth, self.dw, self.dh, &mut out)
            .unwrap();
        assert_eq!(out.len(), r.output_len());
        out
    }
}

/// The near square with a frame-size map, and noise colours under a small rippled map (blurred
/// edges, so occlusions and holes of every width).
fn scenes() -> Vec<Scene> {
    let (xs, ys) = (20..30, 2..6);
    let square = Scene {
        w: W,
        h: H,
        rgb: frame(W, H, xs.clone(), ys.clone()),
        depth: step_depth(W, H, xs, ys, 1.0, 0.5),
        dw: W as u32,
        dh: H as u32,
    };
    let (w, h, dw, dh) = (64usize, 16usize, 13usize, 5usize);
    let noise = Scene {
        w,
        h,
        rgb: (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect(),
        depth: (0..dw * dh)
            .map(|i| (0.5 + 0.5 * ((i % dw) as f32 * 1.7 + (i / dw) as f32).sin()).clamp(0.0, 1.0))
            .collect(),
        dw: dw as u32,
        dh: dh as u32,
    };
    vec![square, noise]
}

#[test]
fn rgb48_of_widened_8_bit_frame_is_257_times_the_8_bit_output() {
    for sc in scenes() {
        let rgb16 = widen(&sc.rgb);
        for layout in Layout::ALL {
            let o8 = sc.render(SampleFormat::Rgb24, layout, &sc.rgb);
            let o16 = sc.render(SampleFormat::Rgb48, layout, &rgb16);
            assert_eq!(o16.len(), 2 * o8.len(), "{layout}");
            let o16 = samples16(&o16);
            let w = sc.w;
            for (i, (&a, &b)) in o16.iter().zip(&o8).enumerate() {
                // Blends round at 16 bits, not at 8: within one 8-bit step, and the high byte
                // within 1 of the 8-bit value.
                // (The anaglyph's matrices can double that: two steps.)
                let steps = if layout == Layout::Anaglyph { 2 } else { 1 };
                let want = b as u16 * 257;
                assert!(
                    a.abs_diff(want) <= 257 * steps,
                    "{layout} width {w} sample {i}: {a} vs {b}"
                );
                assert!((a >> 8).abs_diff(b as u16) <= steps, "{layout} sample {i}");
            }
        }
    }
}

#[test]
fn rgb48_keeps_the_low_bytes_in_full_and_half_layouts() {
    // The geometry depends only on the map and every colour is a blend with integer weights, so
    // adding 0x8000 to every sample adds exactly 0x8000 to every output sample: a 16-bit frame
    // `0x8000 + lo` renders to `0x8000 +` the 8-bit rendering of `lo`. A path that dropped to 8
    // bits would lose `lo` (the high byte is constant).
    for sc in scenes() {
        let lo: Vec<u8> = (0..sc.rgb.len()).map(|i| (i * 37 % 251) as u8).collect();
        let rgb16 = rgb48(&vec![0x80; lo.len()], &lo);
        for layout in [
            Layout::FullSbs,
            Layout::FullTb,
            Layout::CrossEyed,
            Layout::HalfSbs,
            Layout::HalfTb,
        ] {
            let o8 = sc.render(SampleFormat::Rgb24, layout, &lo);
            let o16 = samples16(&sc.render(SampleFormat::Rgb48, layout, &rgb16));
            let want: Vec<u16> = o8.iter().map(|&v| 0x8000 + v as u16).collect();
            assert_eq!(o16, want, "{layout} width {}", sc.w);
        }
    }
}

#[test]
fn rgb48_copies_exactly_where_nothing_moves() {
    // A flat map at convergence: every full layout of a 16-bit frame holds its samples as they
    // are (odd low bytes survive).
    let (w, h) = (W, H);
    let hi = frame(w, h, 20..30, 2..6);
    let lo: Vec<u8> = (0..hi.len()).map(|i| (i * 2 + 1) as u8).collect();
    let rgb16 = rgb48(&hi, &lo);
    let sc = Scene {
        w,
        h,
        rgb: Vec::new(),
        depth: vec![0.5; 4],
        dw: 2,
        dh: 2,
    };
    let out = sc.render(SampleFormat::Rgb48, Layout::FullTb, &rgb16);
    assert_eq!(out, [rgb16.clone(), rgb16].concat());
}

#[test]
fn rgb48_half_layouts_average_16_bit_samples() {
    // Averaging per u16, not per byte: 0x00FF and 0x0100 average (rounding up) to 0x0100, which
    // a per-byte average would make 0x0080. A checkerboard, so both pixel and row pairs differ.
    let (w, h) = (4usize, 2usize);
    let px = [[0x00FFu16, 1000, 65535], [0x0100, 1001, 65535]];
    let frame: Vec<u8> = (0..w * h)
        .flat_map(|i| px[(i % w + i / w) % 2])
        .flat_map(u16::to_le_bytes)
        .collect();
    // Flat map at convergence: both views are the input.
    let sc = Scene {
        w,
        h,
        rgb: Vec::new(),
        depth: vec![0.5; 4],
        dw: 2,
        dh: 2,
    };
    for layout in [Layout::HalfSbs, Layout::HalfTb] {
        let s = samples16(&sc.render(SampleFormat::Rgb48, layout, &frame));
        assert_eq!(s.len(), w * h * 3);
        assert!(
            s.chunks_exact(3).all(|p| p == [0x0100, 1001, 65535]),
            "{layout} {s:?}"
        );
    }
}

#[test]
fn wrong_frame_length_names_the_format() {
    let depth = [0.5f32; 4];
    let mut out = vec![7u8; 3];
    let mut r16 = Renderer::with_format(
        W as u32,
        H as u32,
        Layout::FullSbs,
        params(10.0, 0.5),
        SampleFormat::Rgb48,
    );
    let e = r16
        .render(&vec![0u8; W * H * 3], &depth, 2, 2, &mut out)
        .unwrap_err();
    assert!(
        e.contains("rgb48le") && e.contains(&(W * H * 6).to_string()),
        "{e}"
    );
    assert!(r16
        .render_views(&vec![0u8; W * H * 6 + 2], &depth, 2, 2)
        .is_err());
    let mut r8 = Renderer::new(W as u32, H as u32, Layout::FullSbs, params(10.0, 0.5));
    let e = r8
        .render(&vec![0u8; W * H * 6], &depth, 2, 2, &mut out)
        .unwrap_err();
    assert!(
        e.contains("rgb24") && e.contains(&(W * H * 3).to_string()),
        "{e}"
    );
    assert_eq!(out, vec![7u8; 3]);
    // The right lengths work, and the sizes follow the format.
    r16.render(&vec![0u8; W * H * 6], &depth, 2, 2, &mut out)
        .unwrap();
    assert_eq!(
        (r16.format(), r8.format()),
        (SampleFormat::Rgb48, SampleFormat::Rgb24)
    );
    assert_eq!(out.len(), 2 * W * H * 6);
    assert_eq!(r16.output_len(), 2 * r8.output_len());
    assert!(format!("{r16:?}").contains("Rgb48"));
}

#[test]
fn every_output_byte_is_written_in_both_formats() {
    // Rendering into buffers prefilled with 0x00 and with 0xFF must give the same bytes: a byte
    // the renderer skipped would keep its prefill.
    for sc in scenes() {
        for format in [SampleFormat::Rgb24, SampleFormat::Rgb48] {
            let f = if format == SampleFormat::Rgb48 {
                widen(&sc.rgb)
            } else {
                sc.rgb.clone()
            };
            for layout in Layout::ALL {
                let (w, h) = (sc.w as u32, sc.h as u32);
                let mut r = Renderer::with_format(w, h, layout, params(10.0, 0.5), format);
                let mut a = vec![0x00u8; r.output_len()];
                let mut b = vec![0xFFu8; r.output_len()];
                r.render(&f, &sc.depth, sc.dw, sc.dh, &mut a).unwrap();
                r.render(&f, &sc.depth, sc.dw, sc.dh, &mut b).unwrap();
                assert_eq!(a, b, "{format} {layout}");
            }
        }
    }
}

#[test]
fn rgb48_buffers_are_reused_and_render_frame_works() {
    let rgb16 = widen(&frame(W, H, 20..30, 2..6));
    let depth = vec![0.7f32; 10 * 4];
    let mut r = Renderer::with_format(
        W as u32,
        H as u32,
        Layout::HalfTb,
        params(10.0, 0.5),
        SampleFormat::Rgb48,
    );
    let mut out = Vec::new();
    r.render(&rgb16, &depth, 10, 4, &mut out).unwrap();
    let ptrs = (out.as_ptr(), r.left.as_ptr(), r.right.as_ptr());
    let first = out.clone();
    let f = FrameRef {
        width: W as u32,
        height: H as u32,
        rgb: &rgb16,
    };
    let map = DepthMap {
        width: 10,
        height: 4,
        data: depth,
    };
    r.render_frame(f, &map, &mut out).unwrap();
    assert_eq!((out.as_ptr(), r.left.as_ptr(), r.right.as_ptr()), ptrs);
    assert_eq!(out, first);
}

/// A `w x h` test frame (noise-like colours) and a `dw x dh` map (a depth ramp with ripples and
/// a near disc, so there are occlusions and holes every row).
fn timing_inputs(w: usize, h: usize, dw: usize, dh: usize) -> (Vec<u8>, Vec<f32>) {
    let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
    let depth: Vec<f32> = (0..dw * dh)
        .map(|i| {
            let (x, y) = ((i % dw) as f32 / dw as f32, (i / dw) as f32 / dh as f32);
            let disc = ((x - 0.5).powi(2) + (y - 0.5).powi(2) < 0.04) as u8 as f32;
            (0.3 * y + 0.6 * disc + 0.05 * (x * 40.0).sin()).clamp(0.0, 1.0)
        })
        .collect();
    (rgb, depth)
}

/// Milliseconds per call of `f`, best of 5 rounds of `iters` calls (after one warm-up call).
fn best_ms(iters: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..5)
        .map(|_| {
            let t = std::time::Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_secs_f64() * 1e3 / iters as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// [`best_ms`] for two functions, their rounds interleaved (9 rounds each).
fn best_ms_pair(iters: usize, mut f: impl FnMut(), mut g: impl FnMut()) -> [f64; 2] {
    let time = |h: &mut dyn FnMut()| {
        let t = std::time::Instant::now();
        for _ in 0..iters {
            h();
        }
        t.elapsed().as_secs_f64() * 1e3 / iters as f64
    };
    f();
    g();
    let mut best = [f64::INFINITY; 2];
    for _ in 0..9 {
        best[0] = best[0].min(time(&mut f));
        best[1] = best[1].min(time(&mut g));
    }
    best
}

/// The smooth fill's runs of a whole frame, with their rows.
type RowRuns = Vec<(usize, dibr::Run)>;

/// Gather with the smooth fill, and compose (the format-dependent stages), over a whole `w x h`
/// frame of `S` samples, printed per layout.
fn time_colour_stages<S: Sample>(
    name: &str,
    rgb: &[u8],
    idx: (&[u32], &[u32]),
    runs: &(RowRuns, RowRuns),
    w: usize,
    h: usize,
    iters: usize,
) {
    let p = S::PIXEL;
    let (mut vl, mut vr) = (vec![0u8; w * h * p], vec![0u8; w * h * p]);
    let t_gather = best_ms(iters, || {
        for y in 0..h {
            let (s, d) = (y * w..(y + 1) * w, y * w * p..(y + 1) * w * p);
            dibr::gather_row::<S>(rgb, w, h, y, &idx.0[s.clone()], &mut vl[d.clone()]);
            dibr::gather_row::<S>(rgb, w, h, y, &idx.1[s], &mut vr[d]);
        }
        for (y, r) in &runs.0 {
            dibr::smooth_run::<S>(rgb, w, h, *y, r, &mut vl[y * w * p..(y + 1) * w * p]);
        }
        for (y, r) in &runs.1 {
            dibr::smooth_run::<S>(rgb, w, h, *y, r, &mut vr[y * w * p..(y + 1) * w * p]);
        }
    });
    let mut line = format!("{name}: gather + smooth fill {t_gather:.3} ms; compose");
    for layout in Layout::ALL {
        let (ow, oh) = layout.output_size(w as u32, h as u32);
        let mut out = vec![0u8; ow as usize * oh as usize * p];
        let t = best_ms(iters, || {
            compose::compose::<S>(layout, &vl, &vr, w, h, &mut out)
        });
        line += &format!(" {layout} {t:.3}");
    }
    println!("{line} ms");
}

/// Timing per layout and sample format at 640x360 and 1280x720 (map 344x192, the pipeline's),
/// and per stage at 640x360.
///
/// Run: `cargo test --release -p pipeline-core --no-default-features --lib --
/// stereo::tests::timing --ignored --nocapture` (drop `--release` for the dev profile). Single
/// thread, best of 5 rounds (of 9, alternating between the formats, for the per-layout frame
/// times). Measured numbers: BENCHMARKS.md section 6.
#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn timing_640x360() {
    let (dw, dh) = (344usize, 192usize);
    for (w, h, iters) in [(640usize, 360usize, 100usize), (1280, 720, 25)] {
        let (rgb, depth) = timing_inputs(w, h, dw, dh);
        let lo: Vec<u8> = (0..rgb.len()).map(|i| (i * 13 % 256) as u8).collect();
        let rgb16 = rgb48(&rgb, &lo);
        for layout in Layout::ALL {
            let (w32, h32, p) = (w as u32, h as u32, StereoParams::default());
            let mut r8 = Renderer::with_format(w32, h32, layout, p, SampleFormat::Rgb24);
            let mut r16 = Renderer::with_format(w32, h32, layout, p, SampleFormat::Rgb48);
            let (mut o8, mut o16) = (Vec::new(), Vec::new());
            // Rounds alternate between the formats, so both see the same load from other jobs.
            let ms = best_ms_pair(
                iters,
                || {
                    r8.render(&rgb, &depth, dw as u32, dh as u32, &mut o8)
                        .unwrap()
                },
                || {
                    r16.render(&rgb16, &depth, dw as u32, dh as u32, &mut o16)
                        .unwrap()
                },
            );
            assert_eq!((o8.len(), o16.len()), (r8.output_len(), r16.output_len()));
            println!(
                "stereo {w}x{h} {layout:>10}: rgb24 {:.3} ms/frame, rgb48 {:.3} ms/frame, \
                 16/8 {:.2} (map {dw}x{dh})",
                ms[0],
                ms[1],
                ms[1] / ms[0]
            );
        }
    }
    old_vs_new_views();
    // Stages at 640x360, each over the whole frame.
    let (w, h) = (640u32, 360u32);
    let (rgb, depth) = timing_inputs(w as usize, h as usize, dw, dh);
    let iters = 100;
    let mut r = Renderer::new(w, h, Layout::FullSbs, StereoParams::default());
    r.resampler.configure(dw, dh);
    let (wu, hu) = (w as usize, h as usize);
    let mut near = vec![0.0f32; wu * hu];
    let t_resample = best_ms(iters, || {
        for (y, row) in near.chunks_exact_mut(wu).enumerate() {
            r.resampler.row(&depth, y, row);
        }
    });
    let k = r.params.shift_scale(w);
    let off = dibr::round_offset(k);
    let t = Tuning::default();
    let gate = t.edge_px / k;
    let edge = (t.edge_px * (1 << dibr::WARP_BITS) as f32) as i32;
    let mut dil = vec![0.0f32; wu * hu];
    let t_dilate = best_ms(iters, || {
        for (n, d) in near.chunks_exact(wu).zip(dil.chunks_exact_mut(wu)) {
            dibr::dilate_row(n, t.dilate, gate, d);
        }
    });
    let mut shift = vec![0i32; (wu + 1) * hu];
    let t_shift = best_ms(iters, || {
        for (n, s) in dil.chunks_exact(wu).zip(shift.chunks_exact_mut(wu + 1)) {
            dibr::shift_row(n, k, 0.5, s);
        }
    });
    // The warp's margins and spare element per row.
    let m = off as usize;
    let pw = wu + 2 * m + 1;
    let (mut il, mut ir) = (vec![0u32; pw * hu], vec![0u32; pw * hu]);
    let t_warp = best_ms(iters, || {
        for y in 0..hu {
            let (s, p) = (y * (wu + 1)..(y + 1) * (wu + 1), y * pw..(y + 1) * pw);
            dibr::warp_view(&shift[s.clone()], 1, edge, m, &mut il[p.clone()]);
            dibr::warp_view(&shift[s], -1, edge, m, &mut ir[p]);
        }
    });
    // Only the rows' own targets, not the margins.
    let strip = |v: &[u32]| -> Vec<u32> {
        v.chunks_exact(pw)
            .flat_map(|r| &r[m..m + wu])
            .copied()
            .collect()
    };
    let (mut il, mut ir) = (strip(&il), strip(&ir));
    let holes = il.iter().filter(|&&p| p == dibr::EMPTY).count();
    let (il0, ir0) = (il.clone(), ir.clone());
    let mut runs = (Vec::new(), Vec::new());
    let mut all_runs = (Vec::new(), Vec::new());
    let t_fill = best_ms(iters, || {
        il.copy_from_slice(&il0);
        ir.copy_from_slice(&ir0);
        all_runs.0.clear();
        all_runs.1.clear();
        for y in 0..hu {
            let p = y * wu..(y + 1) * wu;
            let n = &dil[y * wu..(y + 1) * wu];
            dibr::fill_holes_row(&mut il[p.clone()], n, gate, true, t.fill, &mut runs.0);
            dibr::fill_holes_row(&mut ir[p], n, gate, false, t.fill, &mut runs.1);
            all_runs.0.extend(runs.0.iter().map(|r| (y, *r)));
            all_runs.1.extend(runs.1.iter().map(|r| (y, *r)));
        }
    });
    println!(
        "stages 640x360: resample {t_resample:.3} ms, dilate {t_dilate:.3} ms, shift \
         {t_shift:.3} ms, warp (both views) {t_warp:.3} ms, fill {t_fill:.3} ms ({holes} holes \
         in the left view)"
    );
    let rgb16 = widen(&rgb);
    time_colour_stages::<u8>("rgb24", &rgb, (&il, &ir), &all_runs, wu, hu, iters);
    time_colour_stages::<u16>("rgb48", &rgb16, (&il, &ir), &all_runs, wu, hu, iters);
}

/// The old renderer (integer warp, `baseline`) against the new one on the same 640x360 frame,
/// full views only (no packing), rounds interleaved; returns new / old.
fn old_vs_new_views() -> f64 {
    let (dw, dh) = (344usize, 192usize);
    let (w, h) = (640usize, 360usize);
    let (rgb, depth) = timing_inputs(w, h, dw, dh);
    let p = StereoParams::default();
    let mut r = Renderer::new(w as u32, h as u32, Layout::FullSbs, p);
    let mut rs = resample::DepthResampler::new(w, h);
    let (mut near, mut zl, mut zr) = (vec![0.0f32; w], vec![0.0f32; w], vec![0.0f32; w]);
    let (mut il, mut ir) = (vec![0u32; w], vec![0u32; w]);
    let (mut vl, mut vr) = (vec![0u8; w * h * 3], vec![0u8; w * h * 3]);
    let k = p.shift_scale(w as u32);
    let off = baseline::round_offset(k);
    let ms = best_ms_pair(
        100,
        || {
            rs.configure(dw, dh);
            for y in 0..h {
                rs.row(&depth, y, &mut near);
                baseline::warp_row(&near, k, 0.5, off, &mut zl, &mut il, &mut zr, &mut ir);
                baseline::fill_holes_row(&zl, &mut il, true);
                baseline::fill_holes_row(&zr, &mut ir, false);
                let (s, d) = (&rgb[y * w * 3..][..w * 3], y * w * 3..(y + 1) * w * 3);
                baseline::gather_row::<u8>(s, &il, &mut vl[d.clone()]);
                baseline::gather_row::<u8>(s, &ir, &mut vr[d]);
            }
        },
        || {
            r.views_as::<u8>(&rgb, &depth, dw as u32, dh as u32)
                .unwrap();
        },
    );
    println!(
        "views 640x360 rgb24: old integer warp {:.3} ms, new {:.3} ms, new/old {:.2}",
        ms[0],
        ms[1],
        ms[1] / ms[0]
    );
    ms[1] / ms[0]
}

/// Only [`old_vs_new_views`], three times: `cargo test --release -p pipeline-core
/// --no-default-features --lib -- stereo::tests::timing_views --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn timing_views_old_vs_new() {
    for _ in 0..3 {
        old_vs_new_views();
    }
}
