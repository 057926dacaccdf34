//! `make quality`: picture quality of the stereo renderer against ground truth.
//!
//! Renders the right eye from the left image and a true disparity with the real
//! [`Renderer`] (and with the pre-subpixel renderer kept in `stereo::baseline`, in the same run)
//! and prints PSNR and SSIM against the true right view, on the pixels the left view also sees
//! ("non-occluded") and on all pixels. Scenes: the Middlebury "Motorcycle" pair that
//! scikit-image ships (written as raw files by `scripts/quality_data.py`; skipped when its
//! folder is not given), and synthetic scenes rendered here with exact depth (textured
//! fronto-parallel planes and boxes, a slanted wall, a ground plane).
//!
//! Disparity as nearness: with convergence 0 and divergence 10 the right view receives left
//! pixel `x` at `x - s`, `s = k * nearness`, `k = 10 / 100 * width / 2`. Feeding `nearness = d /
//! k` gives `s = d`: the right eye of a pair, `x_right = x_left - d`, is one eye's shift of the
//! full disparity. The frame is padded on the left (edge colour, nearness 0, which stays in
//! place and is covered by the image moving left) to a width where `k` covers the largest
//! disparity, and cropped back; the right border stays the frame's border.
//!
//! Usage: `cargo run --release -p pipeline-core --example stereo_quality [MOTORCYCLE_DIR]`
use pipeline_core::stereo::{baseline, Fill, Layout, Renderer, StereoParams, Tuning};
use std::path::Path;

/// One scene: left image, true right image, disparity per left pixel, and which right pixels
/// the left view sees.
#[derive(Clone)]
struct Scene {
    name: String,
    w: usize,
    h: usize,
    left: Vec<u8>,
    right: Vec<u8>,
    disp: Vec<f32>,
    visible: Vec<bool>,
}

fn main() -> Result<(), String> {
    let mut scenes = Vec::new();
    match std::env::args().nth(1) {
        Some(dir) => scenes.push(load_motorcycle(Path::new(&dir))?),
        None => println!("(no data folder given: the Motorcycle pair is skipped)"),
    }
    scenes.extend(synthetic_scenes());
    println!(
        "PSNR (dB) / SSIM of the rendered right eye against the true right view; \
         'visible' = pixels the left view also sees, 'all' = every pixel."
    );
    println!("'oracle' = true disparity at frame resolution; 'oracle/2' = the same, box-averaged");
    println!("to half resolution and upsampled by the renderer, as a depth model's map is.\n");
    for sc in &scenes {
        let vis = sc.visible.iter().filter(|&&v| v).count() as f64 / sc.visible.len() as f64;
        println!(
            "== {} ({}x{}, disparity {:.1}..{:.1} px, {:.1} % visible)",
            sc.name,
            sc.w,
            sc.h,
            sc.disp.iter().cloned().fold(f32::INFINITY, f32::min),
            sc.disp.iter().cloned().fold(0.0, f32::max),
            vis * 100.0
        );
        let all = vec![true; sc.w * sc.h];
        let score = |img: &[u8]| {
            let (pv, sv) = metrics(img, &sc.right, sc.w, sc.h, &sc.visible);
            let (pa, sa) = metrics(img, &sc.right, sc.w, sc.h, &all);
            [pv, sv, pa, sa]
        };
        let line = |label: &str, m: [f64; 4]| {
            println!(
                "  {label:<34} visible {:6.2} dB {:.4}   all {:6.2} dB {:.4}",
                m[0], m[1], m[2], m[3]
            )
        };
        let identity = score(&sc.left);
        line("identity (no shift)", identity);
        for half in [false, true] {
            let depth = if half { "oracle/2" } else { "oracle" };
            let old = score(&render(sc, half, None)?);
            line(&format!("{depth}: old integer warp"), old);
            let variants = [
                ("subpixel, copy fill, no dilation", 0, Fill::Copy),
                ("subpixel + mirror fill, 5 rows", 0, Fill::MirrorRows),
                ("subpixel + smooth fill", 0, Fill::Smooth),
                ("  copy fill + dilation 1", 1, Fill::Copy),
                ("  mirror 5 rows + dilation 1", 1, Fill::MirrorRows),
                ("new default (smooth + dilation 1)", 1, Fill::Smooth),
                ("  with dilation 2", 2, Fill::Smooth),
            ];
            let mut new = old;
            for (label, dilate, fill) in variants {
                let t = Tuning {
                    dilate,
                    fill,
                    ..Tuning::default()
                };
                let m = score(&render(sc, half, Some(t))?);
                if t == Tuning::default() {
                    new = m;
                }
                line(&format!("{depth}: {label}"), m);
            }
            println!(
                "  {depth}: new - old: visible {:+.2} dB {:+.4}, all {:+.2} dB {:+.4}; \
                 new - identity: visible {:+.2} dB, all {:+.2} dB",
                new[0] - old[0],
                new[1] - old[1],
                new[2] - old[2],
                new[3] - old[3],
                new[0] - identity[0],
                new[2] - identity[2]
            );
        }
        default_model(sc, identity, &score)?;
        println!();
    }
    Ok(())
}

/// The embedded `stereospot-cues` model's depth of the left image, given its best case: the
/// affine map of its nearness onto the true disparity (least squares over visible pixels), so
/// the score is about the depth's shape, not about the divergence a user would pick. Against a
/// single uniform shift (the mean true disparity) and the oracle, in the same run. Skipped when
/// ONNX Runtime cannot be loaded (`ORT_DYLIB_PATH`; `make quality` sets it).
fn default_model(
    sc: &Scene,
    identity: [f64; 4],
    score: &dyn Fn(&[u8]) -> [f64; 4],
) -> Result<(), String> {
    use pipeline_core::depth::{init_ort_from, ort_library_path, OrtConfig, OrtFactory};
    use pipeline_core::ports::{DepthEstimatorFactory, FrameRef};
    if let Err(e) = ort_library_path().and_then(|lib| init_ort_from(&lib)) {
        println!("  (default model skipped: {e})");
        return Ok(());
    }
    let factory = OrtFactory::new(OrtConfig::embedded()).map_err(|e| e.to_string())?;
    let mut est = factory.create().map_err(|e| e.to_string())?;
    let map = est
        .estimate(&[FrameRef {
            width: sc.w as u32,
            height: sc.h as u32,
            rgb: &sc.left,
        }])
        .map_err(|e| e.to_string())?
        .remove(0);
    let (mw, mh) = (map.width as usize, map.height as usize);
    let n_at = |x: usize, y: usize| map.data[(y * mh / sc.h) * mw + x * mw / sc.w];
    // Least squares d = a n + b over the visible pixels.
    let (mut sn, mut sd, mut snn, mut snd, mut c) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
    for y in 0..sc.h {
        for x in 0..sc.w {
            if sc.visible[y * sc.w + x] {
                let (n, d) = (f64::from(n_at(x, y)), f64::from(sc.disp[y * sc.w + x]));
                sn += n;
                sd += d;
                snn += n * n;
                snd += n * d;
                c += 1.0;
            }
        }
    }
    let a = (c * snd - sn * sd) / (c * snn - sn * sn).max(1e-9);
    let b = (sd - a * sn) / c.max(1.0);
    let mut model = sc.clone();
    for y in 0..sc.h {
        for x in 0..sc.w {
            model.disp[y * sc.w + x] = (a * f64::from(n_at(x, y)) + b).max(0.0) as f32;
        }
    }
    let mut flat = sc.clone();
    let mean = (sd / c.max(1.0)) as f32;
    flat.disp.iter_mut().for_each(|d| *d = mean);
    let oracle = score(&render(sc, false, Some(Tuning::default()))?);
    let m = score(&render(&model, false, Some(Tuning::default()))?);
    let u = score(&render(&flat, false, Some(Tuning::default()))?);
    let share = |v: [f64; 4], i: usize| 100.0 * (v[i] - identity[i]) / (oracle[i] - identity[i]);
    println!(
        "  default model (stereospot-cues, best affine fit a={a:.2} b={b:.2}): visible {:6.2} dB {:.4}   all {:6.2} dB {:.4}",
        m[0], m[1], m[2], m[3]
    );
    println!(
        "  uniform shift ({mean:.1} px):                   visible {:6.2} dB {:.4}   all {:6.2} dB {:.4}",
        u[0], u[1], u[2], u[3]
    );
    println!(
        "  share of the oracle's gain over identity: default model visible {:.0} %, all {:.0} %; uniform shift visible {:.0} %, all {:.0} %",
        share(m, 0),
        share(m, 2),
        share(u, 0),
        share(u, 2)
    );
    Ok(())
}

/// The right eye of `sc`, rendered from its left image and true disparity by the new renderer
/// with `tuning`, or by the old one (`None`); `half`: from a half-resolution map.
fn render(sc: &Scene, half: bool, tuning: Option<Tuning>) -> Result<Vec<u8>, String> {
    let max_d = sc.disp.iter().cloned().fold(0.0f32, f32::max);
    // k = 0.05 * wp must reach the largest disparity; the width must be even (and the half map
    // needs an even width too).
    let need = (max_d / 0.05).ceil() as usize + 4;
    let wp = need.max(sc.w + 4).div_ceil(4) * 4;
    let params = StereoParams {
        divergence: 10.0,
        convergence: 0.0,
    };
    let k = params.shift_scale(wp as u32);
    let (w, h) = (sc.w, sc.h);
    // The image sits at the right of the padded frame, so the right border (where the right
    // view's out-of-view strip opens) is the frame's own border, handled as in a real frame.
    let pad = wp - w;
    let mut frame = vec![0u8; wp * h * 3];
    let mut near = vec![0.0f32; wp * h];
    for y in 0..h {
        for x in 0..wp {
            let sx = x.saturating_sub(pad);
            frame[(y * wp + x) * 3..][..3].copy_from_slice(&sc.left[(y * w + sx) * 3..][..3]);
            if x >= pad {
                near[y * wp + x] = (sc.disp[y * w + sx] / k).clamp(0.0, 1.0);
            }
        }
    }
    let (map, mw, mh) = if half {
        let (mw, mh) = (wp / 2, h.div_ceil(2));
        let mut m = vec![0.0f32; mw * mh];
        for y in 0..mh {
            for x in 0..mw {
                let (y0, y1) = (2 * y, (2 * y + 1).min(h - 1));
                let s = near[y0 * wp + 2 * x]
                    + near[y0 * wp + 2 * x + 1]
                    + near[y1 * wp + 2 * x]
                    + near[y1 * wp + 2 * x + 1];
                m[y * mw + x] = s / 4.0;
            }
        }
        (m, mw, mh)
    } else {
        (near, wp, h)
    };
    let right = match tuning {
        None => {
            baseline::render_views_rgb24(
                &frame, wp as u32, h as u32, &map, mw as u32, mh as u32, params,
            )?
            .1
        }
        Some(t) => {
            let mut r = Renderer::new(wp as u32, h as u32, Layout::FullSbs, params);
            r.set_tuning(t);
            r.render_views(&frame, &map, mw as u32, mh as u32)?.1
        }
    };
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        out.extend_from_slice(&right[(y * wp + pad) * 3..][..w * 3]);
    }
    Ok(out)
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, String> {
    let p = dir.join(name);
    std::fs::read(&p).map_err(|e| format!("{}: {e} (run scripts/quality_data.py)", p.display()))
}

fn load_motorcycle(dir: &Path) -> Result<Scene, String> {
    let meta = String::from_utf8_lossy(&read(dir, "meta.txt")?).to_string();
    let dims: Vec<usize> = meta
        .split_whitespace()
        .map(|v| v.parse().map_err(|e| format!("meta.txt: {e}")))
        .collect::<Result<_, _>>()?;
    let [w, h] = dims[..] else {
        return Err(format!("meta.txt: want 'WIDTH HEIGHT', got {meta:?}"));
    };
    let (left, right, valid) = (
        read(dir, "left.rgb")?,
        read(dir, "right.rgb")?,
        read(dir, "valid.u8")?,
    );
    let disp: Vec<f32> = read(dir, "disp.f32")?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let n = w * h;
    if left.len() != 3 * n || right.len() != 3 * n || disp.len() != n || valid.len() != n {
        return Err(format!(
            "{}: file sizes do not match {w}x{h}",
            dir.display()
        ));
    }
    // A right pixel is visible when a segment between two horizontally adjacent left pixels with
    // ground truth on one surface (disparities within 1 px) covers it.
    let mut visible = vec![false; n];
    for y in 0..h {
        for x in 0..w.saturating_sub(1) {
            let (i, j) = (y * w + x, y * w + x + 1);
            if valid[i] == 0 || valid[j] == 0 || (disp[i] - disp[j]).abs() > 1.0 {
                continue;
            }
            let (a, b) = (x as f32 - disp[i], (x + 1) as f32 - disp[j]);
            let (t0, t1) = (
                a.min(b).ceil().max(0.0),
                a.max(b).floor().min((w - 1) as f32),
            );
            let mut t = t0;
            while t <= t1 {
                visible[y * w + t as usize] = true;
                t += 1.0;
            }
        }
    }
    Ok(Scene {
        name: "Motorcycle (Middlebury 2014, scikit-image), true disparity".into(),
        w,
        h,
        left,
        right,
        disp,
        visible,
    })
}

/// A planar patch in left-view coordinates: it covers columns `[a, b)` of rows `[y0, y1)`, its
/// disparity is `d0 + gx * (u - a) + gy * (v - y0)`, its colour a texture of seed `seed`.
#[derive(Clone, Copy)]
struct Patch {
    a: f32,
    b: f32,
    y0: usize,
    y1: usize,
    d0: f32,
    gx: f32,
    gy: f32,
    seed: u32,
}

impl Patch {
    fn disp(&self, u: f32, v: usize) -> f32 {
        self.d0 + self.gx * (u - self.a) + self.gy * (v as f32 - self.y0 as f32)
    }
    fn covers(&self, u: f32, v: usize) -> bool {
        (self.y0..self.y1).contains(&v) && u >= self.a && u < self.b
    }
    /// The left column `u` that the right view sees at `xr` in row `v`: `u - disp(u) = xr`.
    fn seen_from_right(&self, xr: f32, v: usize) -> f32 {
        let c = self.d0 - self.gx * self.a + self.gy * (v as f32 - self.y0 as f32);
        (xr + c) / (1.0 - self.gx)
    }
}

/// A smooth texture: a few sinusoids per channel, some squashed to sharper stripes (periods of
/// 5 px and more).
fn texture(seed: u32, u: f32, v: f32) -> [u8; 3] {
    let mut rng = seed.wrapping_mul(2654435761).wrapping_add(12345);
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        (rng % 10000) as f32 / 10000.0
    };
    let mut c = [0.0f32; 3];
    for (i, ch) in c.iter_mut().enumerate() {
        let mut acc = 0.0;
        for j in 0..4 {
            let (f, a) = (0.012 + 0.17 * next(), 2.0 * std::f32::consts::PI * next());
            let (fx, fy) = (f * a.cos(), f * a.sin());
            // (628 / 100 rather than TAU: the phases the published numbers were measured with.)
            let ph = 628.0 / 100.0 * next();
            let s = (2.0 * std::f32::consts::PI * (fx * u + fy * v) + ph).sin();
            acc += if (i + j) % 3 == 0 {
                (3.0 * s).tanh()
            } else {
                s
            } * (24.0 + 20.0 * next());
        }
        *ch = (128.0 + acc + 40.0 * (next() - 0.5)).clamp(0.0, 255.0);
    }
    c.map(|v| v.round() as u8)
}

/// Renders both views of `patches` (later, nearer patches win by disparity) exactly.
fn build(name: &str, w: usize, h: usize, patches: &[Patch]) -> Scene {
    let front = |u: f32, v: usize| {
        patches
            .iter()
            .enumerate()
            .filter(|(_, p)| p.covers(u, v))
            .max_by(|a, b| a.1.disp(u, v).total_cmp(&b.1.disp(u, v)))
            .map(|(i, _)| i)
    };
    let (mut left, mut right) = (vec![0u8; w * h * 3], vec![0u8; w * h * 3]);
    let mut disp = vec![0.0f32; w * h];
    let mut visible = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            let u = x as f32;
            if let Some(i) = front(u, y) {
                let p = &patches[i];
                left[(y * w + x) * 3..][..3].copy_from_slice(&texture(p.seed, u, y as f32));
                disp[y * w + x] = p.disp(u, y);
            }
            // The right view: the nearest patch that reaches this pixel.
            let mut best: Option<(usize, f32, f32)> = None;
            for (i, p) in patches.iter().enumerate() {
                let u = p.seen_from_right(x as f32, y);
                if p.covers(u, y) && best.is_none_or(|b| p.disp(u, y) > b.1) {
                    best = Some((i, p.disp(u, y), u));
                }
            }
            if let Some((i, _, u)) = best {
                let p = &patches[i];
                right[(y * w + x) * 3..][..3].copy_from_slice(&texture(p.seed, u, y as f32));
                visible[y * w + x] = u >= 0.0 && u <= (w - 1) as f32 && front(u, y) == Some(i);
            }
        }
    }
    Scene {
        name: format!("synthetic: {name}"),
        w,
        h,
        left,
        right,
        disp,
        visible,
    }
}

fn synthetic_scenes() -> Vec<Scene> {
    let (w, h) = (640usize, 360usize);
    let plane = |a: f32, b: f32, y0: usize, y1: usize, d0: f32, seed: u32| Patch {
        a,
        b,
        y0,
        y1,
        d0,
        gx: 0.0,
        gy: 0.0,
        seed,
    };
    let bg = |d0: f32| plane(-100.0, w as f32 + 100.0, 0, h, d0, 1);
    vec![
        build(
            "fronto-parallel planes and boxes",
            w,
            h,
            &[
                bg(2.5),
                plane(60.0, 260.0, 40.0 as usize, 200, 6.3, 2),
                plane(200.0, 330.0, 150, 330, 9.7, 3),
                plane(400.0, 452.0, 60, 300, 14.2, 4),
                plane(480.0, 600.0, 220, 280, 11.1, 5),
            ],
        ),
        build(
            "slanted wall with a box in front",
            w,
            h,
            &[
                Patch {
                    gx: 0.02,
                    ..plane(-100.0, w as f32 + 100.0, 0, h, 3.0, 6)
                },
                plane(250.0, 380.0, 100, 260, 18.3, 7),
            ],
        ),
        build(
            "ground plane with boxes",
            w,
            h,
            &[
                Patch {
                    gy: 0.04,
                    ..plane(-100.0, w as f32 + 100.0, 0, h, 1.0, 8)
                },
                plane(120.0, 220.0, 150, 300, 13.4, 9),
                plane(420.0, 470.0, 90, 340, 16.8, 10),
            ],
        ),
    ]
}

/// PSNR (8-bit RGB) and SSIM (luma, 11x11 Gaussian window, sigma 1.5, the usual constants) of
/// `img` against `truth` over the pixels where `mask` is set.
fn metrics(img: &[u8], truth: &[u8], w: usize, h: usize, mask: &[bool]) -> (f64, f64) {
    let (mut se, mut n) = (0.0f64, 0usize);
    for (i, &m) in mask.iter().enumerate() {
        if m {
            for c in 0..3 {
                let d = img[i * 3 + c] as f64 - truth[i * 3 + c] as f64;
                se += d * d;
            }
            n += 3;
        }
    }
    let psnr = if se == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64.powi(2) * n as f64 / se).log10()
    };
    let luma = |p: &[u8]| -> Vec<f64> {
        p.chunks_exact(3)
            .map(|c| 0.299 * c[0] as f64 + 0.587 * c[1] as f64 + 0.114 * c[2] as f64)
            .collect()
    };
    let (x, y) = (luma(img), luma(truth));
    let prod = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).collect::<Vec<_>>();
    let (mx, my) = (blur(&x, w, h), blur(&y, w, h));
    let (sxx, syy, sxy) = (
        blur(&prod(&x, &x), w, h),
        blur(&prod(&y, &y), w, h),
        blur(&prod(&x, &y), w, h),
    );
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let (mut sum, mut cnt) = (0.0, 0usize);
    for i in 0..w * h {
        if !mask[i] {
            continue;
        }
        let (a, b) = (mx[i], my[i]);
        let (va, vb, cov) = (sxx[i] - a * a, syy[i] - b * b, sxy[i] - a * b);
        sum += ((2.0 * a * b + c1) * (2.0 * cov + c2)) / ((a * a + b * b + c1) * (va + vb + c2));
        cnt += 1;
    }
    (psnr, sum / cnt.max(1) as f64)
}

/// Separable Gaussian blur (sigma 1.5, radius 5, edges clamped).
fn blur(v: &[f64], w: usize, h: usize) -> Vec<f64> {
    let k: Vec<f64> = (-5i32..=5)
        .map(|i| (-(i * i) as f64 / (2.0 * 1.5 * 1.5)).exp())
        .collect();
    let s: f64 = k.iter().sum();
    let k: Vec<f64> = k.iter().map(|x| x / s).collect();
    let mut tmp = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            tmp[y * w + x] = (0..11)
                .map(|j| k[j] * v[y * w + (x + j).saturating_sub(5).min(w - 1)])
                .sum();
        }
    }
    let mut out = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            out[y * w + x] = (0..11)
                .map(|j| k[j] * tmp[(y + j).saturating_sub(5).min(h - 1) * w + x])
                .sum();
        }
    }
    out
}
