//! Stereo rendering (DIBR, depth-image-based rendering) and output layouts.
//!
//! A [`Renderer`] turns one packed RGB frame and its nearness map into one packed RGB frame
//! holding a left and a right view in the chosen [`Layout`]. Frames in and out share one
//! [`SampleFormat`]: 8-bit `rgb24` ([`Renderer::new`]) or 16-bit little-endian `rgb48le` for
//! 10-bit and HDR sources ([`Renderer::with_format`]), rendered as they are, without a
//! conversion or a copy per frame. Pure computation: no I/O, no allocation per frame once the
//! first frame has been rendered (buffers are reused). [`rgb48_to_rgb24`] narrows a 16-bit
//! frame for the depth model, which wants 8 bits.
//!
//! # Geometry
//!
//! * **Depth.** The nearness map (`depth_w x depth_h`, values in `[0, 1]`, 1 = nearest, any
//!   resolution) is resampled bilinearly to the frame size, pixel-centre aligned: frame pixel
//!   `x` samples the map at `(x + 0.5) * depth_w / width - 0.5`, clamped to the map (edges
//!   replicate). Values are clamped to `[0, 1]`, NaN reads as 0 (farthest).
//! * **Edges.** Before the warp, the near side of every depth edge is dilated by one pixel
//!   along the row: a pixel takes the largest nearness within 1 px when that exceeds its own by
//!   more than `0.75 / k` (a shift difference above 0.75 px, `k` below), so the mixed colour
//!   pixels along an object's outline move with the object instead of staying behind on the
//!   background. Smooth depth (slopes below 0.75 px of shift per pixel) is not changed.
//! * **Shift.** Per eye, in pixels: `s = k * (nearness - convergence)` with `k = divergence /
//!   100 * width * 0.5`, so the total left-right disparity is at most `divergence`% of the
//!   width. Source pixel `x` lands at `p(x) = x + s` in the left view and `x - s` in the right
//!   view, subpixel: between two neighbours whose shifts differ by at most 0.75 px (one
//!   surface), the targets between `p(x)` and `p(x + 1)` read the source by linear
//!   interpolation (target `t` reads position `x + (t - p(x)) / (p(x+1) - p(x))`, its colour a
//!   blend of the two source pixels around it, weights in 1/256). Across a larger difference (a
//!   depth edge) each side keeps only its own half pixel (`[p(x), p(x) + 0.5)` and `[p(x+1) -
//!   0.5, p(x+1))`), unblended, so colours never mix across an edge and a one-pixel object
//!   survives. Near pixels (nearness > convergence) move right in the left view and left in the
//!   right view (crossed disparity: they appear in front of the screen); pixels at the
//!   convergence nearness do not move and read their own pixel exactly, so a flat map at
//!   convergence gives `left == right == input`. Rows are independent: there is no vertical
//!   shift.
//! * **Occlusion.** When several sources land on one target, the nearest wins. No z-buffer is
//!   needed: sources are drawn in occlusion-compatible order (left to right for the right view,
//!   right to left for the left view), in which a later source on a target is always the
//!   nearer one, and overwrites.
//! * **Holes** (disocclusions, and the strip along the border the source never saw: targets no
//!   source landed on). For each run of holes, of its nearest written neighbours on the left
//!   and on the right the one whose source is farther (lower nearness) is the background, so a
//!   foreground edge is never stretched. Ties go to the left neighbour in the left view and to
//!   the right one in the right view; a run touching the image edge takes its only neighbour.
//!   The hole pixel `j` px from that neighbour (`j = 0` next to it) is the mean of the `2j + 1`
//!   source columns from the neighbour's source column on, away from the hole (at most 48,
//!   stopping at the first column more than 0.75 px of shift nearer than the neighbour), each
//!   averaged over the `2r + 1` rows around the hole's row (`r = len / 2` clamped to 2..=8 for
//!   a run of `len` holes), in integer arithmetic: the background continues into the hole
//!   from its edge and smooths out towards its local mean, without the horizontal streaks of a
//!   repeated pixel.
//! * **Layouts.** See [`Layout`]: half-size layouts average pixel (or row) pairs per sample
//!   (per `u16` in 16-bit frames), rounding half up; the anaglyph is red-cyan with the matrices
//!   of the chosen [`AnaglyphMethod`] (Dubois' least-squares ones by default) applied to the
//!   encoded values with clamping (see [`anaglyph`]); VR180 maps each view onto a flat screen
//!   inside an equirectangular half-sphere (see [`vr180`]). The RGBD layouts render no views:
//!   the source frame is packed beside its depth picture, grey `round(nearness * max)` (255 or
//!   65535) of the nearness resampled to the frame as above (before the edge dilation), so
//!   white is near and black far.
//! * **Sample formats.** The geometry (warp, occlusion, holes) depends only on the map, so a
//!   16-bit frame is moved exactly like an 8-bit one, and every colour is a blend with integer
//!   weights rounded at the sample's own precision: adding a constant to every sample of a
//!   frame adds it to every sample of the full- and half-size layouts, exactly. An `rgb48le`
//!   frame whose samples are `v * 257` renders within one 8-bit step of `257 *` the `rgb24`
//!   output (two for the anaglyph), exactly `257 *` where nothing moves.
//!
//! # Performance
//!
//! Row by row: resample one depth row (vertical blend of two map rows, then a horizontal pass
//! with precomputed taps), dilate its depth edges (vectorised running maximum), round the
//! shifts to 1/4096 px (vectorised), warp it into each view as source *positions* (integer
//! fixed point, a reciprocal table instead of a division, two branch-free slot writes per
//! source pixel), find the hole runs (eight targets at a time), gather colours (two-tap blends;
//! 8-bit pixels in one 64-bit multiply), fill the runs' colours (running sums); then pack the
//! two views. Only the gather, the fill and the packing touch colours, so only they cost more
//! for 16-bit frames: they are generic over the sample type and monomorphised, and the format
//! is matched once per frame. Measured in release with `cargo test --release -p pipeline-core
//! --no-default-features --lib -- stereo::tests::timing --ignored --nocapture`
//! (`timing_640x360`: 640x360 and 1280x720 frames, 344x192 map, one thread, best of several
//! rounds; `timing_views_old_vs_new`: the old integer warp, `baseline`, against this renderer
//! on the same frame, rounds interleaved) on the 2-vCPU dev machine (Intel Xeon) at a load
//! average of 2-4: see BENCHMARKS.md section 6 for the figures (views at 640x360, rgb24:
//! 1.90-2.02x the old integer warp's time, median 1.92x, ~2.65 ms against ~1.38 ms).
pub mod anaglyph;
#[doc(hidden)]
pub mod baseline;
mod compose;
mod dibr;
mod layout;
mod params;
mod resample;
mod sample;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_layouts;
pub mod vr180;

pub use anaglyph::{AnaglyphMethod, ParseAnaglyphMethodError};
#[doc(hidden)]
pub use dibr::{Fill, Tuning};
pub use layout::{Layout, LayoutOptions, ParseLayoutError};
pub use params::StereoParams;
pub use sample::{rgb48_to_rgb24, SampleFormat};

use crate::ports::depth::{DepthMap, FrameRef};
use dibr::{
    dilate_row, fill_holes_row, gather_row, gather_row_plain, round_offset, shift_row, smooth_run,
    warp_view,
};
use resample::DepthResampler;
use sample::Sample;

/// The VR180 mapping a renderer of `layout` for `w x h` frames needs (none for other layouts or
/// an invalid size).
fn vr_map(layout: Layout, w: usize, h: usize, options: &LayoutOptions) -> Option<vr180::EyeMap> {
    (layout.is_vr180() && w > 0 && h > 0 && options.validate().is_ok())
        .then(|| vr180::EyeMap::new(w as u32, h as u32, options.vr_screen_deg))
}

/// Largest accepted frame width or height.
pub const MAX_DIMENSION: u32 = 16384;

/// Renders stereo frames of one size, sample format, layout and strength; holds every buffer it
/// needs.
pub struct Renderer {
    width: u32,
    height: u32,
    format: SampleFormat,
    layout: Layout,
    params: StereoParams,
    options: LayoutOptions,
    /// The VR180 mapping, for the VR180 layouts (built for `options`).
    vr: Option<vr180::EyeMap>,
    tuning: Tuning,
    resampler: DepthResampler,
    /// Nearness of the current row at frame width, then after edge dilation.
    near_row: Vec<f32>,
    near_dil: Vec<f32>,
    /// Per-eye shift of the current row (fixed point, see `dibr`).
    shift_row: Vec<i32>,
    /// Source positions (fixed point, see `dibr`) for each view, with the warp's margins for
    /// the largest divergence on both sides and one spare element.
    pos_left: Vec<u32>,
    pos_right: Vec<u32>,
    /// The current row's hole runs for the smooth fill, per view.
    runs_left: Vec<dibr::Run>,
    runs_right: Vec<dibr::Run>,
    /// The two full-size views, packed in `format`.
    left: Vec<u8>,
    right: Vec<u8>,
}

impl std::fmt::Debug for Renderer {
    /// Sizes and settings only (the buffers are megabytes).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("format", &self.format)
            .field("layout", &self.layout)
            .field("params", &self.params)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The warp's margin (see `dibr::warp_view`) for a row of `w` pixels at the largest divergence.
fn warp_margin(w: usize) -> usize {
    let k = StereoParams::MAX_DIVERGENCE / 100.0 * w as f32 * 0.5;
    round_offset(k) as usize
}

/// Why a frame size cannot be rendered, if it cannot.
fn check_frame_size(width: u32, height: u32) -> Result<(), String> {
    if width == 0 || height == 0 || width & 1 == 1 || height & 1 == 1 {
        return Err(format!(
            "frame size {width}x{height}: width and height must be even and non-zero"
        ));
    }
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(format!(
            "frame size {width}x{height}: larger than {MAX_DIMENSION} pixels on a side"
        ));
    }
    Ok(())
}

impl Renderer {
    /// A renderer for `width x height` packed RGB24 frames ([`SampleFormat::Rgb24`]); see
    /// [`Self::with_format`].
    pub fn new(width: u32, height: u32, layout: Layout, params: StereoParams) -> Renderer {
        Renderer::with_format(width, height, layout, params, SampleFormat::Rgb24)
    }

    /// A renderer for `width x height` frames in `format`: frames in and out are packed bytes of
    /// that format. Buffers are allocated here when the size is valid (even, non-zero, at most
    /// [`MAX_DIMENSION`]); otherwise every render returns an error. Parameters are validated on
    /// each render.
    pub fn with_format(
        width: u32,
        height: u32,
        layout: Layout,
        params: StereoParams,
        format: SampleFormat,
    ) -> Renderer {
        let (w, h) = if check_frame_size(width, height).is_ok() {
            (width as usize, height as usize)
        } else {
            (0, 0)
        };
        let frame_len = w * h * format.bytes_per_pixel();
        let options = LayoutOptions::default();
        Renderer {
            width,
            height,
            format,
            layout,
            params,
            options,
            vr: vr_map(layout, w, h, &options),
            tuning: Tuning::default(),
            resampler: DepthResampler::new(w, h),
            near_row: vec![0.0; w],
            near_dil: vec![0.0; w],
            shift_row: vec![0; w + 1],
            pos_left: vec![0; w + 2 * warp_margin(w) + 1],
            pos_right: vec![0; w + 2 * warp_margin(w) + 1],
            // At most one run per two pixels: no allocation per frame.
            runs_left: Vec::with_capacity(w / 2 + 1),
            runs_right: Vec::with_capacity(w / 2 + 1),
            left: vec![0; frame_len],
            right: vec![0; frame_len],
        }
    }

    /// Sample format of the frames in and out.
    pub fn format(&self) -> SampleFormat {
        self.format
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn params(&self) -> StereoParams {
        self.params
    }

    /// Changes strength for the next frames (validated on render).
    pub fn set_params(&mut self, params: StereoParams) {
        self.params = params;
    }

    /// This renderer with `options` (anaglyph method, VR180 screen; validated on render).
    pub fn with_options(mut self, options: LayoutOptions) -> Renderer {
        self.set_options(options);
        self
    }

    /// Changes the layout options for the next frames (the output size of VR180 follows them).
    pub fn set_options(&mut self, options: LayoutOptions) {
        if options != self.options {
            let (w, h) = if check_frame_size(self.width, self.height).is_ok() {
                (self.width as usize, self.height as usize)
            } else {
                (0, 0)
            };
            self.options = options;
            self.vr = vr_map(self.layout, w, h, &options);
        }
    }

    pub fn options(&self) -> LayoutOptions {
        self.options
    }

    /// Replaces the rendering settings that are not part of the API (for the quality
    /// benchmark's comparisons).
    #[doc(hidden)]
    pub fn set_tuning(&mut self, tuning: Tuning) {
        self.tuning = tuning;
    }

    /// Input frame size.
    pub fn input_size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Output frame size for this renderer's layout and options.
    pub fn output_size(&self) -> (u32, u32) {
        self.layout
            .output_size_with(self.width, self.height, &self.options)
    }

    /// Bytes of one output frame (packed, in [`Self::format`]); saturates instead of overflowing.
    pub fn output_len(&self) -> usize {
        let (w, h) = self.output_size();
        (w as usize)
            .saturating_mul(h as usize)
            .saturating_mul(self.format.bytes_per_pixel())
    }

    /// Renders one frame (`frame`: packed bytes in [`Self::format`]) into `out` (resized to
    /// [`Self::output_len`], same format; no allocation once it has that capacity). Errors (never
    /// panics) on a bad frame size, buffer lengths that do not match the sizes, or invalid
    /// parameters; `out` is left untouched then.
    pub fn render(
        &mut self,
        frame: &[u8],
        depth: &[f32],
        depth_w: u32,
        depth_h: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        // The one branch on the format: everything below is monomorphised per sample type.
        match self.format {
            SampleFormat::Rgb24 => self.render_as::<u8>(frame, depth, depth_w, depth_h, out),
            SampleFormat::Rgb48 => self.render_as::<u16>(frame, depth, depth_w, depth_h, out),
        }
    }

    fn render_as<S: Sample>(
        &mut self,
        frame: &[u8],
        depth: &[f32],
        depth_w: u32,
        depth_h: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        if self.layout.is_rgbd() {
            self.colour_and_depth_as::<S>(frame, depth, depth_w, depth_h)?;
        } else {
            self.views_as::<S>(frame, depth, depth_w, depth_h)?;
        }
        out.resize(self.output_len(), 0);
        let packing = compose::Packing {
            anaglyph: self.options.anaglyph,
            vr: self.vr.as_ref(),
        };
        compose::compose_with::<S>(
            self.layout,
            packing,
            &self.left,
            &self.right,
            self.width as usize,
            self.height as usize,
            out,
        );
        Ok(())
    }

    /// [`Self::render`] taking the port types; the frame must be this renderer's size, its bytes
    /// in this renderer's format.
    pub fn render_frame(
        &mut self,
        frame: FrameRef<'_>,
        depth: &DepthMap,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        if (frame.width, frame.height) != (self.width, self.height) {
            return Err(format!(
                "frame is {}x{}, renderer was made for {}x{}",
                frame.width, frame.height, self.width, self.height
            ));
        }
        self.render(frame.rgb, &depth.data, depth.width, depth.height, out)
    }

    /// The two views at full input size, `(left, right)`, packed in [`Self::format`] (for tests
    /// and debugging; allocates).
    pub fn render_views(
        &mut self,
        frame: &[u8],
        depth: &[f32],
        depth_w: u32,
        depth_h: u32,
    ) -> Result<(Vec<u8>, Vec<u8>), String> {
        match self.format {
            SampleFormat::Rgb24 => self.views_as::<u8>(frame, depth, depth_w, depth_h)?,
            SampleFormat::Rgb48 => self.views_as::<u16>(frame, depth, depth_w, depth_h)?,
        }
        Ok((self.left.clone(), self.right.clone()))
    }

    fn check_inputs(
        &self,
        frame: &[u8],
        depth: &[f32],
        depth_w: u32,
        depth_h: u32,
    ) -> Result<(), String> {
        check_frame_size(self.width, self.height)?;
        self.params.validate()?;
        self.options.validate()?;
        let frame_len = self.width as usize * self.height as usize * self.format.bytes_per_pixel();
        if frame.len() != frame_len {
            return Err(format!(
                "frame buffer is {} bytes, expected {frame_len} for {}x{} {}",
                frame.len(),
                self.width,
                self.height,
                self.format
            ));
        }
        if depth_w == 0 || depth_h == 0 {
            return Err(format!("depth map size {depth_w}x{depth_h} is empty"));
        }
        let depth_len = (depth_w as usize).checked_mul(depth_h as usize);
        if depth_len != Some(depth.len()) {
            return Err(format!(
                "depth map holds {} values, expected {depth_w}x{depth_h}",
                depth.len()
            ));
        }
        Ok(())
    }

    /// The RGBD pictures: `self.left` = the frame, `self.right` = its nearness (resampled to the
    /// frame, before edge dilation) as grey, `round(nearness * S::MAX)`.
    fn colour_and_depth_as<S: Sample>(
        &mut self,
        frame: &[u8],
        depth: &[f32],
        depth_w: u32,
        depth_h: u32,
    ) -> Result<(), String> {
        self.check_inputs(frame, depth, depth_w, depth_h)?;
        self.left.copy_from_slice(frame);
        let row = S::PIXEL * self.width as usize;
        self.resampler.configure(depth_w as usize, depth_h as usize);
        let max = S::MAX as f32;
        for (y, dst) in self.right.chunks_exact_mut(row).enumerate() {
            self.resampler.row(depth, y, &mut self.near_row);
            for (px, &n) in dst.chunks_exact_mut(S::PIXEL).zip(&self.near_row) {
                let g = (n * max + 0.5) as u32;
                S::write_rgb([g; 3], px);
            }
        }
        Ok(())
    }

    /// Fills `self.left` and `self.right`; `S` is the sample type of `self.format`.
    fn views_as<S: Sample>(
        &mut self,
        frame: &[u8],
        depth: &[f32],
        depth_w: u32,
        depth_h: u32,
    ) -> Result<(), String> {
        debug_assert_eq!(S::PIXEL, self.format.bytes_per_pixel());
        self.check_inputs(frame, depth, depth_w, depth_h)?;
        let (w, h) = (self.width as usize, self.height as usize);
        let row = S::PIXEL * w;
        let k = self.params.shift_scale(self.width);
        let conv = self.params.convergence;
        let off = round_offset(k);
        let t = self.tuning;
        let edge = t.edge_px.clamp(0.0, 0.95);
        // The edge threshold in nearness units (no shift at all when k is 0: nothing to do).
        let gate = if k > 0.0 { edge / k } else { f32::INFINITY };
        let edge_fx = (edge * (1 << dibr::WARP_BITS) as f32) as i32;
        self.resampler.configure(depth_w as usize, depth_h as usize);
        let views = self
            .left
            .chunks_exact_mut(row)
            .zip(self.right.chunks_exact_mut(row));
        for (y, (dst_l, dst_r)) in views.enumerate() {
            self.resampler.row(depth, y, &mut self.near_row);
            let near = if t.dilate > 0 && k > 0.0 {
                dilate_row(&self.near_row, t.dilate, gate, &mut self.near_dil);
                &self.near_dil
            } else {
                &self.near_row
            };
            shift_row(near, k, conv, &mut self.shift_row);
            let m = off as usize;
            warp_view(&self.shift_row, 1, edge_fx, m, &mut self.pos_left);
            warp_view(&self.shift_row, -1, edge_fx, m, &mut self.pos_right);
            let pl = &mut self.pos_left[m..m + w];
            let pr = &mut self.pos_right[m..m + w];
            fill_holes_row(pl, near, gate, true, t.fill, &mut self.runs_left);
            fill_holes_row(pr, near, gate, false, t.fill, &mut self.runs_right);
            if t.fill == Fill::MirrorRows {
                gather_row::<S>(frame, w, h, y, pl, dst_l);
                gather_row::<S>(frame, w, h, y, pr, dst_r);
            } else {
                gather_row_plain::<S>(frame, w, h, y, pl, dst_l);
                gather_row_plain::<S>(frame, w, h, y, pr, dst_r);
            }
            for run in &self.runs_left {
                smooth_run::<S>(frame, w, h, y, run, dst_l);
            }
            for run in &self.runs_right {
                smooth_run::<S>(frame, w, h, y, run, dst_r);
            }
        }
        Ok(())
    }
}
