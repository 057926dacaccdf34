//! `make quality`, part 2: temporal stability of relative depth and its seams.
//!
//! A static camera looks at a static textured scene with known inverse depth (a floor-to-sky
//! gradient and a near box); every frame carries fresh sensor noise. A stand-in for a learned
//! model turns each frame into relative depth whose scale and offset jitter per frame (±20 %,
//! ±0.1) and whose nearest object's estimate wobbles (±`tail`), seeded by a hash of the frame's
//! pixels so the same frame always gives the same output (as a real model does, whichever
//! machine runs it). Its output is normalised per frame exactly as the ONNX backends do
//! ([`to_nearness`]), then optionally through the [`Stabiliser`].
//!
//! Printed, against per-frame normalisation measured in the same run:
//! - **flicker**: mean absolute frame-to-frame nearness change over the static background
//!   (pixels the near objects never cover), per window length and jitter kind; also a clip where
//!   a near object slides into view;
//! - **seams**: the clip cut into 24-frame segments, each warmed up on the previous segment's
//!   last `window - 1` frames (as the video-worker does): the largest difference from a
//!   continuous run at any seam frame, against the typical in-segment frame-to-frame change, and
//!   the same without the warm-up;
//! - **cuts**: scene cuts detected on a clip with one real cut (want 1) and on the noisy static
//!   clip (want 0).
//!
//! Usage: `cargo run --release -p pipeline-core --no-default-features --example temporal_quality`
use pipeline_core::depth::{to_nearness, OutputMeaning, Stabiliser};
use pipeline_core::ports::{DepthMap, FrameRef};

const W: u32 = 320;
const H: u32 = 180;
/// The model's output grid (a learned model's is coarser than the frame).
const MW: u32 = 80;
const MH: u32 = 45;
const FRAMES: usize = 120;
const SEGMENT: usize = 24;

/// Deterministic pseudo-random in [-1, 1].
fn unit(seed: u64) -> f32 {
    let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 29;
    (z % 20_001) as f32 / 10_000.0 - 1.0
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Near objects on the model grid at frame `i`: the fixed box, and (when `slide`) a second box
/// entering from the right between frames 40 and 70.
fn near_at(x: u32, y: u32, i: usize, slide: bool) -> bool {
    let fixed = (10..26).contains(&x) && (15..34).contains(&y);
    let left = MW as i64 - ((i as i64 - 40).clamp(0, 30) * 24 / 30);
    let moving = slide && (x as i64) >= left && (x as i64) < left + 20 && (5..25).contains(&y);
    fixed || moving
}

/// Frame `i`: a fixed texture around `mean` plus per-frame noise; `shot` changes the texture
/// (a scene cut).
fn frame(i: usize, shot: u64, mean: f32) -> Vec<u8> {
    let mut rgb = Vec::with_capacity((W * H * 3) as usize);
    for y in 0..H {
        for x in 0..W {
            let base = mean + 60.0 * unit(shot * 1_000_003 + u64::from((x / 8) + 40 * (y / 8)));
            let noise = 3.0 * unit((i as u64 + 1) * 7_919 + u64::from(x + W * y));
            let v = (base + noise).clamp(0.0, 255.0) as u8;
            rgb.extend_from_slice(&[v, v.saturating_add(10), v.saturating_sub(10)]);
        }
    }
    rgb
}

#[derive(Clone, Copy)]
struct Jitter {
    scale: f32,
    tail: f32,
    slide: bool,
}

/// The stand-in model's per-frame-normalised output for frame `i` (its pixels seed the jitter).
fn model(rgb: &[u8], i: usize, j: Jitter) -> DepthMap {
    let seed = fnv(rgb);
    let (a, b, t) = (
        1.0 + j.scale * unit(seed ^ 1),
        0.5 * j.scale * unit(seed ^ 2),
        j.tail * unit(seed ^ 3),
    );
    let mut raw = Vec::with_capacity((MW * MH) as usize);
    for y in 0..MH {
        for x in 0..MW {
            let d = if near_at(x, y, i, j.slide) {
                1.0 + t
            } else {
                0.6 * y as f32 / MH as f32
            };
            raw.push(a * d + b);
        }
    }
    to_nearness(&raw, MW, MH, OutputMeaning::InverseDepth, &mut Vec::new())
}

fn fref(rgb: &[u8]) -> FrameRef<'_> {
    FrameRef {
        width: W,
        height: H,
        rgb,
    }
}

/// Maps of frames `range`, through a stabiliser of `window` (1 = per frame) started fresh at
/// `range.start - warm` (the warm-up frames' maps are not returned).
fn run(
    frames: &[Vec<u8>],
    range: std::ops::Range<usize>,
    warm: usize,
    window: usize,
    j: Jitter,
) -> Vec<DepthMap> {
    let mut st = Stabiliser::new(window);
    let from = range.start.saturating_sub(warm);
    (from..range.end)
        .filter_map(|i| {
            let mut m = model(&frames[i], i, j);
            st.push(&fref(&frames[i]), &mut m);
            (i >= range.start).then_some(m)
        })
        .collect()
}

/// Background pixels: never covered by a near object in the clip.
fn background(slide: bool) -> Vec<bool> {
    (0..MH)
        .flat_map(|y| (0..MW).map(move |x| (x, y)))
        .map(|(x, y)| (0..FRAMES).all(|i| !near_at(x, y, i, slide)))
        .collect()
}

fn change(a: &DepthMap, b: &DepthMap, mask: &[bool]) -> f64 {
    let (mut s, mut n) = (0.0f64, 0usize);
    for ((x, y), m) in a.data.iter().zip(&b.data).zip(mask) {
        if *m {
            s += f64::from((x - y).abs());
            n += 1;
        }
    }
    s / n.max(1) as f64
}

fn flicker(maps: &[DepthMap], mask: &[bool]) -> f64 {
    let v: Vec<f64> = maps
        .windows(2)
        .map(|p| change(&p[0], &p[1], mask))
        .collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn main() {
    let frames: Vec<Vec<u8>> = (0..FRAMES).map(|i| frame(i, 1, 128.0)).collect();
    let kinds = [
        (
            "scale/offset jitter only",
            Jitter {
                scale: 0.2,
                tail: 0.0,
                slide: false,
            },
        ),
        (
            "nearest object wobbles ±0.3",
            Jitter {
                scale: 0.0,
                tail: 0.3,
                slide: false,
            },
        ),
        (
            "both",
            Jitter {
                scale: 0.2,
                tail: 0.3,
                slide: false,
            },
        ),
        (
            "both + object enters",
            Jitter {
                scale: 0.2,
                tail: 0.3,
                slide: true,
            },
        ),
    ];
    println!("## Flicker: mean |Δ nearness| per frame on the static background ({FRAMES} frames, {W}x{H}, model grid {MW}x{MH})");
    println!("| jitter | per frame | window 4 | window 8 | window 16 | ratio at 8 |");
    println!("|---|---|---|---|---|---|");
    for (name, j) in kinds {
        let mask = background(j.slide);
        let per = flicker(&run(&frames, 0..FRAMES, 0, 1, j), &mask);
        let w: Vec<f64> = [4, 8, 16]
            .iter()
            .map(|&k| flicker(&run(&frames, 0..FRAMES, 0, k, j), &mask))
            .collect();
        let ratio = if per < 1e-4 {
            "none either way".to_string()
        } else {
            format!("{:.1}x less", per / w[1].max(1e-9))
        };
        println!(
            "| {name} | {per:.5} | {:.5} | {:.5} | {:.5} | {ratio} |",
            w[0], w[1], w[2]
        );
    }

    let j = kinds[3].1;
    let mask = background(j.slide);
    let window = 8;
    let continuous = run(&frames, 0..FRAMES, 0, window, j);
    let mut inside = Vec::new();
    let mut seams = Vec::new();
    let (mut worst_warm, mut worst_cold) = (0.0f64, 0.0f64);
    let all = vec![true; (MW * MH) as usize];
    for start in (0..FRAMES).step_by(SEGMENT) {
        let end = (start + SEGMENT).min(FRAMES);
        let warm = run(&frames, start..end, window - 1, window, j);
        let cold = run(&frames, start..end, 0, window, j);
        inside.extend(warm.windows(2).map(|p| change(&p[0], &p[1], &mask)));
        if start > 0 {
            worst_warm = worst_warm.max(change(&warm[0], &continuous[start], &all));
            worst_cold = worst_cold.max(change(&cold[0], &continuous[start], &all));
            // The segmented run's own step across the seam: the previous segment's last frame
            // (also warmed up, hence equal to the continuous run's) to this segment's first.
            seams.push(change(&continuous[start - 1], &warm[0], &mask));
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    println!();
    println!(
        "## Seams: {SEGMENT}-frame segments, window {window}, jitter \"both + object enters\""
    );
    println!("| measure | value |");
    println!("|---|---|");
    println!("| largest difference from the continuous run at a seam frame (all pixels), warmed up on {} frames | {worst_warm:.6} |", window - 1);
    println!("| the same without the warm-up | {worst_cold:.6} |");
    println!(
        "| frame-to-frame change across the {} seams (background): mean / max | {:.5} / {:.5} |",
        seams.len(),
        mean(&seams),
        max(&seams)
    );
    println!(
        "| frame-to-frame change inside segments (background): mean / max | {:.5} / {:.5} |",
        mean(&inside),
        max(&inside)
    );

    let cuts = |second: Vec<Vec<u8>>| {
        let clip = frames[..30].iter().cloned().chain(second);
        let mut st = Stabiliser::new(window);
        for (i, f) in clip.enumerate() {
            let mut m = model(&f, i, j);
            st.push(&fref(&f), &mut m);
        }
        st.cuts()
    };
    let darker = cuts((30..60).map(|i| frame(i, 2, 90.0)).collect());
    let alike = cuts((30..60).map(|i| frame(i, 2, 128.0)).collect());
    let none = cuts(frames[30..60].to_vec());
    println!();
    println!("## Cuts (want 1, 1, 0)");
    println!("| clip | cuts found |");
    println!("|---|---|");
    println!("| cut to another texture, darker | {darker} |");
    println!("| cut to another texture, same brightness and contrast | {alike} |");
    println!("| no cut (static scene, sensor noise) | {none} |");
    cost();
}

/// Time of one `Stabiliser::push` at Depth Anything's map size for a 16:9 frame (448x252) with
/// a 640x360 frame, against the per-frame normalisation it follows, in the same run.
fn cost() {
    let (mw, mh, fw, fh) = (448u32, 252u32, 640u32, 360u32);
    let raw: Vec<f32> = (0..mw * mh).map(|i| unit(u64::from(i)).abs()).collect();
    let rgb: Vec<u8> = (0..fw * fh * 3).map(|i| (i % 251) as u8).collect();
    let frame = FrameRef {
        width: fw,
        height: fh,
        rgb: &rgb,
    };
    let mut scratch = Vec::new();
    let mut st = Stabiliser::new(8);
    let rounds = 200;
    let (mut norm, mut stab) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        let mut m = to_nearness(&raw, mw, mh, OutputMeaning::InverseDepth, &mut scratch);
        norm += t.elapsed();
        let t = std::time::Instant::now();
        st.push(&frame, &mut m);
        stab += t.elapsed();
        std::hint::black_box(&m);
    }
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3 / f64::from(rounds);
    println!();
    println!(
        "## Cost per frame ({mw}x{mh} map, {fw}x{fh} frame): per-frame normalisation {:.3} ms, stabiliser {:.3} ms ({:.2}x)",
        ms(norm),
        ms(stab),
        ms(stab) / ms(norm)
    );
}
