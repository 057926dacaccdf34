//! Model output -> [`DepthMap`] of nearness in [0, 1] (1 = nearest).
//!
//! Strictly per frame: relative outputs are normalised with the frame's own robust range
//! (2nd..98th percentile), never with statistics carried over from other frames, so a frame gives
//! the same map whichever batch, segment or machine processes it.
use super::profile::OutputMeaning;
use crate::ports::depth::DepthMap;

/// Lower / upper percentiles used to normalise relative outputs.
pub const LOW_PERCENTILE: f32 = 0.02;
pub const HIGH_PERCENTILE: f32 = 0.98;

/// Convert one frame's raw model output (`width * height` values, row-major) to nearness.
///
/// - [`OutputMeaning::Nearness01`]: clamped to [0, 1].
/// - [`OutputMeaning::InverseDepth`]: `(v - p2) / (p98 - p2)`, clamped.
/// - [`OutputMeaning::Depth`]: the same, then `1 - x` (larger depth = farther = less near).
///
/// A flat output (no spread between the percentiles) gives 0.5 everywhere. Non-finite values
/// (NaN, inf) are ignored by the statistics and map to 0 (far). `scratch` is reused between calls.
pub fn to_nearness(
    raw: &[f32],
    width: u32,
    height: u32,
    meaning: OutputMeaning,
    scratch: &mut Vec<f32>,
) -> DepthMap {
    let n = (width as usize) * (height as usize);
    let raw = &raw[..n.min(raw.len())];
    let data = match meaning {
        OutputMeaning::Nearness01 => raw
            .iter()
            .map(|&v| {
                if v.is_finite() {
                    v.clamp(0.0, 1.0)
                } else {
                    0.0
                }
            })
            .collect(),
        OutputMeaning::InverseDepth | OutputMeaning::Depth => {
            let invert = meaning == OutputMeaning::Depth;
            match robust_range(raw, scratch) {
                Some((lo, hi)) => {
                    let inv_span = 1.0 / (hi - lo);
                    raw.iter()
                        .map(|&v| {
                            if !v.is_finite() {
                                return 0.0;
                            }
                            let x = ((v - lo) * inv_span).clamp(0.0, 1.0);
                            if invert {
                                1.0 - x
                            } else {
                                x
                            }
                        })
                        .collect()
                }
                None => raw
                    .iter()
                    .map(|&v| if v.is_finite() { 0.5 } else { 0.0 })
                    .collect(),
            }
        }
    };
    DepthMap {
        width,
        height,
        data,
    }
}

/// `(p_low, p_high)` of the finite values, or `None` when there is no usable spread.
fn robust_range(values: &[f32], scratch: &mut Vec<f32>) -> Option<(f32, f32)> {
    scratch.clear();
    scratch.extend(values.iter().copied().filter(|v| v.is_finite()));
    if scratch.is_empty() {
        return None;
    }
    let last = scratch.len() - 1;
    let lo_idx = ((last as f32) * LOW_PERCENTILE).round() as usize;
    let hi_idx = ((last as f32) * HIGH_PERCENTILE).round() as usize;
    let (_, lo, upper) = scratch.select_nth_unstable_by(lo_idx, f32::total_cmp);
    let lo = *lo;
    // hi_idx >= lo_idx: select within the upper part (its elements are all >= lo).
    let hi = if hi_idx == lo_idx {
        lo
    } else {
        let (_, hi, _) = upper.select_nth_unstable_by(hi_idx - lo_idx - 1, f32::total_cmp);
        *hi
    };
    let span = hi - lo;
    let tiny = 1e-6 * lo.abs().max(hi.abs()).max(1.0);
    if span.is_finite() && span > tiny {
        Some((lo, hi))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(raw: &[f32], meaning: OutputMeaning) -> Vec<f32> {
        to_nearness(raw, raw.len() as u32, 1, meaning, &mut Vec::new()).data
    }

    #[test]
    fn nearness01_is_only_clamped() {
        let out = near(
            &[-0.5, 0.0, 0.25, 1.0, 3.0, f32::NAN],
            OutputMeaning::Nearness01,
        );
        assert_eq!(out, vec![0.0, 0.0, 0.25, 1.0, 1.0, 0.0]);
    }

    #[test]
    fn inverse_depth_maps_percentiles_to_unit_range() {
        // 0..=100: p2 = 2, p98 = 98.
        let raw: Vec<f32> = (0..=100).map(|v| v as f32).collect();
        let out = near(&raw, OutputMeaning::InverseDepth);
        assert_eq!(out[0], 0.0);
        assert_eq!(out[2], 0.0);
        assert!((out[50] - 0.5).abs() < 1e-6);
        assert_eq!(out[98], 1.0);
        assert_eq!(out[100], 1.0);
        assert!(
            out.windows(2).all(|w| w[0] <= w[1]),
            "larger inverse depth = nearer"
        );
    }

    #[test]
    fn depth_is_inverted() {
        let raw: Vec<f32> = (0..=100).map(|v| 10.0 + v as f32 * 0.5).collect();
        let inv = near(&raw, OutputMeaning::InverseDepth);
        let dep = near(&raw, OutputMeaning::Depth);
        for (a, b) in inv.iter().zip(&dep) {
            assert!((a + b - 1.0).abs() < 1e-6);
        }
        assert_eq!(dep[0], 1.0, "smallest depth is nearest");
        assert_eq!(dep[100], 0.0);
    }

    #[test]
    fn outliers_do_not_stretch_the_range() {
        let mut raw: Vec<f32> = (0..1000).map(|v| (v % 10) as f32).collect();
        raw[0] = 1e9; // one hot pixel
        raw[1] = -1e9;
        let out = near(&raw, OutputMeaning::InverseDepth);
        // Without robust limits every ordinary pixel would be ~0.5.
        assert_eq!(out[10], 0.0); // value 0
        assert_eq!(out[19], 1.0); // value 9
        assert!((out[15] - 5.0 / 9.0).abs() < 1e-6);
        assert_eq!(out[0], 1.0);
        assert_eq!(out[1], 0.0);
    }

    #[test]
    fn flat_output_is_half_without_nan() {
        for v in [0.0f32, 7.5, -3.0, 1e30] {
            let out = near(&[v; 64], OutputMeaning::InverseDepth);
            assert!(out.iter().all(|x| *x == 0.5), "{v}: {out:?}");
            let out = near(&[v; 64], OutputMeaning::Depth);
            assert!(out.iter().all(|x| *x == 0.5), "{v}: {out:?}");
        }
        let out = near(&[f32::NAN; 8], OutputMeaning::InverseDepth);
        assert!(out.iter().all(|x| *x == 0.0));
        let out = near(&[], OutputMeaning::Depth);
        assert!(out.is_empty());
    }

    #[test]
    fn non_finite_values_are_ignored_by_the_statistics() {
        let mut raw: Vec<f32> = (0..=100).map(|v| v as f32).collect();
        let clean = near(&raw, OutputMeaning::InverseDepth);
        raw.push(f32::INFINITY);
        raw.push(f32::NAN);
        let out = near(&raw, OutputMeaning::InverseDepth);
        assert_eq!(&out[..101], &clean[..]);
        assert_eq!(&out[101..], &[0.0, 0.0]);
    }

    #[test]
    fn each_frame_is_normalised_alone() {
        // The same frame gives the same map whatever was processed before (scratch reuse).
        let a: Vec<f32> = (0..256).map(|v| (v as f32).sin()).collect();
        let b: Vec<f32> = (0..256).map(|v| 1000.0 + v as f32).collect();
        let mut scratch = Vec::new();
        let first = to_nearness(&a, 16, 16, OutputMeaning::InverseDepth, &mut scratch);
        let _ = to_nearness(&b, 16, 16, OutputMeaning::InverseDepth, &mut scratch);
        let again = to_nearness(&a, 16, 16, OutputMeaning::InverseDepth, &mut scratch);
        assert_eq!(first, again);
        assert_eq!((first.width, first.height, first.data.len()), (16, 16, 256));
        assert!(first.data.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
