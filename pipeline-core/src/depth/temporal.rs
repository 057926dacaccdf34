//! Temporal stability of relative depth, exact across segment seams.
//!
//! Learned models give *relative* depth: each frame is normalised with its own robust range
//! (2nd..98th percentile, [`super::postprocess`]). That range follows the frame's extremes, so
//! when the nearest object's estimate wobbles, or an object enters, the whole scene's nearness
//! rescales from one frame to the next: flicker.
//!
//! [`Stabiliser`] replaces each frame's range with the mean of the ranges of the last `window`
//! frames of the same shot, all expressed in the current frame's units. Frames are related by
//! their inner quartiles (25th/75th percentile of nearness), which follow the bulk of the scene
//! rather than its extremes: for frame `i` and the current frame `t`, the affine map `g·x + h`
//! that takes `i`'s quartiles onto `t`'s carries `i`'s range `[0, 1]` to `[h, g + h]` in `t`'s
//! units. A model whose output only changes by scale and offset between frames (the part of a
//! learned model's jitter that per-frame normalisation already removes) therefore gives the
//! per-frame result unchanged; what changes is that the extremes' jitter is averaged over the
//! window (a box filter: frame-to-frame changes shrink by about `window`).
//!
//! A scene cut (mean absolute difference of 32x18 luma thumbnails of consecutive frames above
//! [`CUT_THRESHOLD`]) empties the window, so one shot's range never leaks into the next.
//!
//! **Seam-exact.** The state at a frame is a function of that frame and the `window - 1` frames
//! before it (and nothing older): it is a finite window, not a recursive filter. A segment that
//! first feeds the last `window - 1` frames of the previous piece through [`Stabiliser::push`]
//! without rendering them (the pre-roll, see `steps::segment_pipeline`) reaches exactly the state
//! a continuous run has at its first frame, up to the model's own determinism on those frames.
//!
//! Absolute-nearness profiles (`stereospot-cues`) are not normalised per frame and are left
//! alone: their nearness keeps its meaning (`--convergence` is a nearness).
use crate::ports::{DepthMap, FrameRef};
use std::collections::VecDeque;

/// Default window (frames, the current one included). 8 frames is a third of a second at
/// 24 fps: long enough to cut the extremes' jitter about eightfold, short enough to follow a
/// real change of the scene's depth range within a few frames.
pub const DEFAULT_WINDOW: usize = 8;
/// Largest accepted window: every segment decodes and runs the model on `window - 1` extra
/// frames of the previous piece.
pub const MAX_WINDOW: usize = 120;
/// Mean absolute luma difference (0..255) between consecutive thumbnails that counts as a cut.
pub const CUT_THRESHOLD: f32 = 20.0;

const THUMB_W: usize = 32;
const THUMB_H: usize = 18;
/// Quartile spread below which a frame is flat (no usable anchors).
const MIN_SPREAD: f32 = 1e-4;

/// Windowed normalisation of relative depth with scene-cut resets. One per segment pipeline.
#[derive(Debug, Clone)]
pub struct Stabiliser {
    window: usize,
    /// Per frame of the window: the 25th and 75th percentile of its (per-frame normalised)
    /// nearness, `None` if it is flat.
    history: VecDeque<Option<(f32, f32)>>,
    prev_thumb: Option<Vec<f32>>,
    thumb: Vec<f32>,
    scratch: Vec<f32>,
    cuts: u64,
}

impl Stabiliser {
    /// `window` frames (the current one included); 0 or 1 leaves every map as it is.
    pub fn new(window: usize) -> Stabiliser {
        let window = window.clamp(1, MAX_WINDOW);
        Stabiliser {
            window,
            history: VecDeque::with_capacity(window),
            prev_thumb: None,
            thumb: Vec::with_capacity(THUMB_W * THUMB_H),
            scratch: Vec::new(),
            cuts: 0,
        }
    }

    /// Frames of the previous piece a segment needs before its first frame to start in the
    /// state of a continuous run.
    pub fn preroll_frames(&self) -> usize {
        self.window - 1
    }

    /// Scene cuts seen so far.
    pub fn cuts(&self) -> u64 {
        self.cuts
    }

    /// Take the next frame (presentation order) and its per-frame normalised nearness map, and
    /// rewrite the map with the window's range. Pre-roll frames go through here too (their
    /// rewritten maps are simply not rendered).
    pub fn push(&mut self, frame: &FrameRef<'_>, map: &mut DepthMap) {
        if self.window <= 1 {
            return;
        }
        luma_thumbnail(frame, &mut self.thumb);
        let cut = self
            .prev_thumb
            .as_ref()
            .is_some_and(|prev| mean_abs_diff(prev, &self.thumb) > CUT_THRESHOLD);
        if cut {
            self.history.clear();
            self.cuts += 1;
        }
        // The current thumbnail becomes the previous one; the old buffer is reused next frame.
        match &mut self.prev_thumb {
            Some(prev) => std::mem::swap(prev, &mut self.thumb),
            None => self.prev_thumb = Some(std::mem::take(&mut self.thumb)),
        }
        let anchors = quartiles(&map.data, &mut self.scratch);
        if self.history.len() == self.window {
            self.history.pop_front();
        }
        self.history.push_back(anchors);
        if let Some((lo, hi)) = self.range() {
            let inv = 1.0 / (hi - lo);
            for v in &mut map.data {
                *v = ((*v - lo) * inv).clamp(0.0, 1.0);
            }
        }
    }

    /// The window's mean range in the current frame's units, or `None` to leave the map as is
    /// (a single frame, a flat current frame, or a degenerate mean).
    fn range(&self) -> Option<(f32, f32)> {
        let (a_t, b_t) = (*self.history.back()?)?;
        if self.history.len() < 2 {
            return None;
        }
        let (mut lo, mut hi, mut n) = (0.0f64, 0.0f64, 0u32);
        for &(a_i, b_i) in self.history.iter().flatten() {
            let g = f64::from(b_t - a_t) / f64::from(b_i - a_i);
            let h = f64::from(a_t) - g * f64::from(a_i);
            lo += h;
            hi += g + h;
            n += 1;
        }
        let (lo, hi) = ((lo / f64::from(n)) as f32, (hi / f64::from(n)) as f32);
        (hi - lo > MIN_SPREAD && lo.is_finite() && hi.is_finite()).then_some((lo, hi))
    }
}

/// 25th / 75th percentile of the finite values; `None` when they (nearly) coincide.
fn quartiles(values: &[f32], scratch: &mut Vec<f32>) -> Option<(f32, f32)> {
    scratch.clear();
    scratch.extend(values.iter().copied().filter(|v| v.is_finite()));
    if scratch.len() < 4 {
        return None;
    }
    let last = scratch.len() - 1;
    let (i25, i75) = (last / 4, (3 * last) / 4);
    let (_, a, upper) = scratch.select_nth_unstable_by(i25, f32::total_cmp);
    let a = *a;
    let b = if i75 == i25 {
        a
    } else {
        *upper
            .select_nth_unstable_by(i75 - i25 - 1, f32::total_cmp)
            .1
    };
    (b - a > MIN_SPREAD).then_some((a, b))
}

/// Box-averaged Rec. 601 luma on a 32x18 grid (0..255).
fn luma_thumbnail(frame: &FrameRef<'_>, out: &mut Vec<f32>) {
    out.clear();
    out.resize(THUMB_W * THUMB_H, 0.0);
    let (w, h) = (frame.width as usize, frame.height as usize);
    if w == 0 || h == 0 || frame.rgb.len() < w * h * 3 {
        return;
    }
    let mut counts = [0u32; THUMB_W * THUMB_H];
    // Every second row and column: plenty for a 32x18 grid, a quarter of the reads.
    for y in (0..h).step_by(2) {
        let ty = y * THUMB_H / h;
        let row = &frame.rgb[y * w * 3..(y + 1) * w * 3];
        for x in (0..w).step_by(2) {
            let p = &row[x * 3..x * 3 + 3];
            let l = 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]);
            let i = ty * THUMB_W + x * THUMB_W / w;
            out[i] += l;
            counts[i] += 1;
        }
    }
    for (v, c) in out.iter_mut().zip(counts) {
        if c > 0 {
            *v /= c as f32;
        }
    }
}

fn mean_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

#[cfg(test)]
#[path = "temporal_tests.rs"]
mod tests;
