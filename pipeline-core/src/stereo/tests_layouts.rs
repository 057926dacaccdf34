//! Renderer-level tests of the RGBD and VR180 layouts and the anaglyph methods.
use super::*;

const W: usize = 64;
const H: usize = 36;

fn params() -> StereoParams {
    StereoParams {
        divergence: 4.0,
        convergence: 0.5,
    }
}

/// A frame whose pixel (x, y) is (4x, 7y, x ^ y).
fn frame() -> Vec<u8> {
    (0..H)
        .flat_map(|y| (0..W).map(move |x| [(4 * x) as u8, (7 * y) as u8, (x ^ y) as u8]))
        .flatten()
        .collect()
}

/// A frame-size nearness map: a horizontal ramp 0..1 with a near square.
fn ramp() -> Vec<f32> {
    (0..W * H)
        .map(|i| {
            let (x, y) = (i % W, i / W);
            if (20..30).contains(&x) && (10..20).contains(&y) {
                1.0
            } else {
                x as f32 / (W - 1) as f32
            }
        })
        .collect()
}

fn render(layout: Layout, options: LayoutOptions, f: &[u8], d: &[f32], dw: usize) -> Vec<u8> {
    let dh = d.len() / dw;
    let mut r = Renderer::new(W as u32, H as u32, layout, params()).with_options(options);
    let mut out = Vec::new();
    r.render(f, d, dw as u32, dh as u32, &mut out).unwrap();
    assert_eq!(out.len(), r.output_len());
    out
}

#[test]
fn rgbd_is_the_frame_beside_its_depth_as_grey() {
    let (f, d) = (frame(), ramp());
    let out = render(Layout::Rgbd, LayoutOptions::default(), &f, &d, W);
    assert_eq!(out.len(), 2 * W * H * 3);
    for y in 0..H {
        let row = &out[y * 2 * W * 3..][..2 * W * 3];
        assert_eq!(
            &row[..W * 3],
            &f[y * W * 3..][..W * 3],
            "row {y}: left is the source"
        );
        for x in 0..W {
            let g = (d[y * W + x] * 255.0).round() as u8;
            assert_eq!(&row[(W + x) * 3..][..3], &[g; 3], "depth at {x},{y}");
        }
    }
    // A small map is upsampled as the renderer does it: a 2x1 map (0, 1) gives a ramp with
    // edges replicated: column 0 is black, the last white, the middle grey.
    let out = render(Layout::Rgbd, LayoutOptions::default(), &f, &[0.0, 1.0], 2);
    let at = |x: usize| out[(W + x) * 3];
    assert_eq!((at(0), at(W - 1)), (0, 255));
    assert!((at(W / 2) as i32 - 128).abs() <= 5, "{}", at(W / 2));
}

#[test]
fn half_rgbd_squeezes_both_halves_and_sixteen_bit_depth_is_sixteen_bit() {
    let (f, d) = (frame(), ramp());
    let full = render(Layout::Rgbd, LayoutOptions::default(), &f, &d, W);
    let half = render(Layout::HalfRgbd, LayoutOptions::default(), &f, &d, W);
    assert_eq!(half.len(), W * H * 3);
    // Pixel x of the half picture averages pixels 2x, 2x+1 of the full one.
    for (x, y) in [(0usize, 0usize), (5, 3), (W / 2 + 7, 20), (W - 1, H - 1)] {
        for c in 0..3 {
            let a = full[(y * 2 * W + 2 * x) * 3 + c] as u32;
            let b = full[(y * 2 * W + 2 * x + 1) * 3 + c] as u32;
            assert_eq!(
                half[(y * W + x) * 3 + c] as u32,
                (a + b).div_ceil(2),
                "{x},{y}"
            );
        }
    }
    let f16: Vec<u8> = f
        .iter()
        .flat_map(|&v| (v as u16 * 257).to_le_bytes())
        .collect();
    let mut r = Renderer::with_format(
        W as u32,
        H as u32,
        Layout::Rgbd,
        params(),
        SampleFormat::Rgb48,
    );
    let mut out = Vec::new();
    r.render(&f16, &d, W as u32, H as u32, &mut out).unwrap();
    let s = |x: usize, y: usize| {
        let i = ((y * 2 * W + x) * 3) * 2;
        u16::from_le_bytes([out[i], out[i + 1]])
    };
    assert_eq!(s(3, 2), f[(2 * W + 3) * 3] as u16 * 257);
    for x in [0, 1, 17, 40, W - 1] {
        let want = (d[5 * W + x] * 65535.0).round() as u16;
        assert_eq!(s(W + x, 5), want, "16-bit depth at {x}");
    }
}

#[test]
fn rgbd_renders_no_views_so_strength_does_not_matter() {
    let (f, d) = (frame(), ramp());
    let a = render(Layout::Rgbd, LayoutOptions::default(), &f, &d, W);
    let mut r = Renderer::new(
        W as u32,
        H as u32,
        Layout::Rgbd,
        StereoParams {
            divergence: 10.0,
            convergence: 0.0,
        },
    );
    let mut b = Vec::new();
    r.render(&f, &d, W as u32, H as u32, &mut b).unwrap();
    assert_eq!(a, b);
}

#[test]
fn vr180_shows_the_views_on_the_screen_and_black_around_it() {
    let f = frame();
    // A flat map at convergence: both views are the frame.
    let flat = [0.5f32; 4];
    for (layout, tb) in [(Layout::Vr180, false), (Layout::Vr180Tb, true)] {
        let opts = LayoutOptions::default();
        let mut r = Renderer::new(W as u32, H as u32, layout, params()).with_options(opts);
        let (ow, oh) = r.output_size();
        let n = vr180::eye_size(W as u32, H as u32, 90.0) as usize;
        let want = if tb { (n, 2 * n) } else { (2 * n, n) };
        assert_eq!((ow as usize, oh as usize), want);
        let mut out = Vec::new();
        r.render(&f, &flat, 2, 2, &mut out).unwrap();
        let ow = ow as usize;
        let at = |x: usize, y: usize| [0, 1, 2].map(|c| out[(y * ow + x) * 3 + c]);
        // The screen's centre shows the frame's centre (the four pixels around it blend).
        let c = at(n / 2, n / 2);
        let src = |x: usize, y: usize| [0, 1, 2].map(|k| f[(y * W + x) * 3 + k] as i32);
        let (a, b) = (src(W / 2 - 1, H / 2 - 1), src(W / 2, H / 2));
        for k in 0..2 {
            let (lo, hi) = (a[k].min(b[k]), a[k].max(b[k]));
            assert!(
                (lo..=hi).contains(&(c[k] as i32)),
                "{layout} centre {c:?} vs {a:?}..{b:?}"
            );
        }
        // Corners of both eyes are black.
        let (rx, ry) = if tb { (0, n) } else { (n, 0) };
        for (x, y) in [(0, 0), (n - 1, 0), (0, n - 1), (n - 1, n - 1)] {
            assert_eq!(at(x, y), [0; 3], "{layout} left eye corner {x},{y}");
            assert_eq!(at(rx + x, ry + y), [0; 3], "{layout} right eye corner");
        }
        // Same picture in both eyes (the views are equal).
        assert_eq!(at(n / 2, n / 2), at(rx + n / 2, ry + n / 2));
    }
}

#[test]
fn vr180_screen_size_is_an_option_and_bad_values_are_errors() {
    let f = frame();
    let wide = LayoutOptions {
        vr_screen_deg: 140.0,
        ..LayoutOptions::default()
    };
    let narrow = Renderer::new(W as u32, H as u32, Layout::Vr180, params());
    let mut r = Renderer::new(W as u32, H as u32, Layout::Vr180, params()).with_options(wide);
    assert!(r.output_size().1 < narrow.output_size().1);
    assert_eq!(r.options(), wide);
    let mut out = Vec::new();
    r.render(&f, &[0.5; 4], 2, 2, &mut out).unwrap();
    assert_eq!(out.len(), r.output_len());
    r.set_options(LayoutOptions {
        vr_screen_deg: 10.0,
        ..wide
    });
    let mut keep = vec![9u8; 3];
    let e = r.render(&f, &[0.5; 4], 2, 2, &mut keep).unwrap_err();
    assert!(e.contains("VR screen"), "{e}");
    assert_eq!(keep, vec![9u8; 3]);
}

#[test]
fn anaglyph_method_reaches_the_renderer() {
    let f = frame();
    // Flat map at convergence: both views are the frame, so the colour anaglyph is the frame.
    let color = LayoutOptions {
        anaglyph: AnaglyphMethod::Color,
        ..LayoutOptions::default()
    };
    assert_eq!(render(Layout::Anaglyph, color, &f, &[0.5; 4], 2), f);
    let gray = LayoutOptions {
        anaglyph: AnaglyphMethod::Gray,
        ..LayoutOptions::default()
    };
    let g = render(Layout::Anaglyph, gray, &f, &[0.5; 4], 2);
    assert!(g.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]));
    let dubois = render(Layout::Anaglyph, LayoutOptions::default(), &f, &[0.5; 4], 2);
    assert_ne!(dubois, g);
}

/// Time per frame of each new layout at 640x360 (rgb24 and rgb48, whole render: views and
/// packing), best of 10. Run: `cargo test --workspace --lib -- tests_layouts::timing
/// --ignored --nocapture`.
#[test]
#[ignore = "timing; run with --ignored --nocapture"]
fn timing_new_layouts_640x360() {
    let (w, h) = (640u32, 360u32);
    let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
    let rgb16: Vec<u8> = rgb
        .iter()
        .flat_map(|&v| (v as u16 * 257).to_le_bytes())
        .collect();
    let depth: Vec<f32> = (0..344 * 192).map(|i| (i % 344) as f32 / 343.0).collect();
    for layout in [
        Layout::FullSbs,
        Layout::Rgbd,
        Layout::Vr180,
        Layout::Anaglyph,
    ] {
        for (format, frame) in [(SampleFormat::Rgb24, &rgb), (SampleFormat::Rgb48, &rgb16)] {
            let mut r = Renderer::with_format(w, h, layout, params(), format);
            let mut out = Vec::new();
            let mut best = f64::INFINITY;
            for _ in 0..10 {
                let t = std::time::Instant::now();
                r.render(frame, &depth, 344, 192, &mut out).unwrap();
                best = best.min(t.elapsed().as_secs_f64() * 1e3);
            }
            let (ow, oh) = r.output_size();
            println!("{layout:>9} {format} -> {ow}x{oh}: {best:.2} ms/frame");
        }
    }
}
