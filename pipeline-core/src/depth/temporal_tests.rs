use super::*;
use crate::depth::profile::OutputMeaning;
use crate::depth::to_nearness;

const W: u32 = 64;
const H: u32 = 36;

/// A static scene's true inverse depth: a floor-to-sky gradient (0..0.6 by row) and a near box
/// (1.0) over 10 % of the frame.
fn scene() -> (Vec<f32>, Vec<bool>) {
    let mut d = Vec::new();
    let mut near = Vec::new();
    for y in 0..H {
        for x in 0..W {
            let boxed = (40..56).contains(&x) && (10..25).contains(&y);
            d.push(if boxed {
                1.0
            } else {
                0.6 * y as f32 / H as f32
            });
            near.push(boxed);
        }
    }
    (d, near)
}

/// Deterministic pseudo-random in [-1, 1] (frame index and stream).
fn jitter(i: usize, stream: u64) -> f32 {
    let mut z = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream.wrapping_mul(0xD1B5);
    z = (z ^ (z >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 29;
    (z % 20_001) as f32 / 10_000.0 - 1.0
}

/// Frame `i` of a model whose output scale and offset jitter per frame (±20 %, ±0.1) and whose
/// nearest object's estimate wobbles (±`tail`), normalised per frame as the backends do.
fn model_frame(i: usize, tail: f32) -> DepthMap {
    let (d, near) = scene();
    let (a, b, t) = (
        1.0 + 0.2 * jitter(i, 1),
        0.1 * jitter(i, 2),
        tail * jitter(i, 3),
    );
    let raw: Vec<f32> = d
        .iter()
        .zip(&near)
        .map(|(v, n)| a * (v + if *n { t } else { 0.0 }) + b)
        .collect();
    to_nearness(&raw, W, H, OutputMeaning::InverseDepth, &mut Vec::new())
}

fn grey(level: u8) -> Vec<u8> {
    vec![level; (W * H * 3) as usize]
}

fn frame(rgb: &[u8]) -> FrameRef<'_> {
    FrameRef {
        width: W,
        height: H,
        rgb,
    }
}

/// Mean absolute frame-to-frame change of nearness over the static background.
fn flicker(maps: &[DepthMap]) -> f32 {
    let (_, near) = scene();
    let mut sum = 0.0;
    let mut n = 0;
    for pair in maps.windows(2) {
        for ((a, b), is_near) in pair[0].data.iter().zip(&pair[1].data).zip(&near) {
            if !is_near {
                sum += (a - b).abs();
                n += 1;
            }
        }
    }
    sum / n as f32
}

fn run(st: &mut Stabiliser, range: std::ops::Range<usize>, tail: f32) -> Vec<DepthMap> {
    let rgb = grey(100);
    range
        .map(|i| {
            let mut m = model_frame(i, tail);
            st.push(&frame(&rgb), &mut m);
            m
        })
        .collect()
}

#[test]
fn window_one_leaves_maps_alone() {
    let mut st = Stabiliser::new(1);
    let before: Vec<_> = (0..5).map(|i| model_frame(i, 0.3)).collect();
    assert_eq!(run(&mut st, 0..5, 0.3), before);
    assert_eq!(st.preroll_frames(), 0);
}

#[test]
fn scale_and_offset_jitter_alone_gives_the_per_frame_maps() {
    let mut st = Stabiliser::new(8);
    let out = run(&mut st, 0..30, 0.0);
    for (i, m) in out.iter().enumerate() {
        let per_frame = model_frame(i, 0.0);
        let worst = m
            .data
            .iter()
            .zip(&per_frame.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "frame {i}: {worst}");
    }
}

#[test]
fn wobbling_extremes_flicker_several_times_less() {
    let per_frame: Vec<_> = (0..60).map(|i| model_frame(i, 0.4)).collect();
    let mut st = Stabiliser::new(8);
    let smooth = run(&mut st, 0..60, 0.4);
    let (before, after) = (flicker(&per_frame), flicker(&smooth));
    assert!(
        before > 0.01,
        "the test model must flicker per frame: {before}"
    );
    assert!(after * 4.0 < before, "flicker {before} -> {after}");
}

#[test]
fn a_segment_warmed_up_on_the_preroll_matches_a_continuous_run_exactly() {
    let mut whole = Stabiliser::new(8);
    let continuous = run(&mut whole, 0..40, 0.4);
    let mut seg = Stabiliser::new(8);
    let start = 20;
    let pre = seg.preroll_frames();
    let _preroll = run(&mut seg, start - pre..start, 0.4);
    let segment = run(&mut seg, start..40, 0.4);
    assert_eq!(segment, continuous[start..].to_vec());
    // Without the pre-roll the seam frame differs: the test can tell.
    let mut cold = Stabiliser::new(8);
    let unwarmed = run(&mut cold, start..40, 0.4);
    assert_ne!(unwarmed[0], continuous[start]);
}

#[test]
fn a_scene_cut_empties_the_window() {
    let mut st = Stabiliser::new(8);
    let (a, b) = (grey(30), grey(200));
    for i in 0..10 {
        let mut m = model_frame(i, 0.4);
        st.push(&frame(&a), &mut m);
    }
    let mut first_of_b = model_frame(10, 0.4);
    st.push(&frame(&b), &mut first_of_b);
    assert_eq!(st.cuts(), 1);
    assert_eq!(
        first_of_b,
        model_frame(10, 0.4),
        "a new shot starts from its own range"
    );
    // The same frames without the cut would have carried the old shot's range.
    let mut same = Stabiliser::new(8);
    for i in 0..10 {
        let mut m = model_frame(i, 0.4);
        same.push(&frame(&a), &mut m);
    }
    let mut carried = model_frame(10, 0.4);
    same.push(&frame(&a), &mut carried);
    assert_eq!(same.cuts(), 0);
    assert_ne!(carried, model_frame(10, 0.4));
}

#[test]
fn flat_maps_pass_through() {
    let mut st = Stabiliser::new(8);
    let rgb = grey(50);
    for _ in 0..3 {
        let mut m = DepthMap {
            width: W,
            height: H,
            data: vec![0.5; (W * H) as usize],
        };
        st.push(&frame(&rgb), &mut m);
        assert!(m.data.iter().all(|v| *v == 0.5));
    }
}

#[test]
fn thumbnail_difference_detects_a_cut_not_noise() {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let noisy: Vec<u8> = (0..W * H * 3).map(|i| 100 + (i % 7) as u8).collect();
    luma_thumbnail(&frame(&grey(100)), &mut a);
    luma_thumbnail(&frame(&noisy), &mut b);
    assert!(mean_abs_diff(&a, &b) < CUT_THRESHOLD);
    luma_thumbnail(&frame(&grey(180)), &mut b);
    assert!(mean_abs_diff(&a, &b) > CUT_THRESHOLD);
}
