//! `stereospot convert photo.jpg -o photo_sbs.png`: one still through the same depth model and
//! renderer as video frames (EXIF orientation applied first; 16-bit PNG stays 16-bit when the
//! output is PNG).
use crate::media::image::{decode_image, encode_image, probe_image, ImageFormat};
use crate::ports::{DepthEstimatorFactory, FrameRef};
use crate::stereo::{rgb48_to_rgb24, Layout, Renderer, SampleFormat, StereoParams};
use crate::{PipelineError, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

pub struct PhotoOptions {
    pub input: PathBuf,
    /// `.png` or `.jpg`/`.jpeg`: the format follows the extension.
    pub output: PathBuf,
    pub layout: Layout,
    pub params: StereoParams,
    /// Anaglyph method and VR180 screen size.
    pub layout_options: crate::stereo::LayoutOptions,
    pub depth: Arc<dyn DepthEstimatorFactory>,
    /// JPEG quality on ffmpeg's scale, 2 (best) .. 31.
    pub jpeg_q: u8,
}

/// What `--json` prints for a photo.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PhotoSummary {
    pub input: String,
    pub output: String,
    /// Upright input size (what was rendered) and output size.
    pub input_width: u32,
    pub input_height: u32,
    pub width: u32,
    pub height: u32,
    /// EXIF orientation of the input (1: none).
    pub orientation: u8,
    /// Bits per sample of the output (16 for a 16-bit PNG in and PNG out).
    pub bits: u32,
    pub layout: String,
    pub depth_s: f64,
    pub wall_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_note: Option<String>,
}

/// Convert one photo (blocking: ffmpeg and the model run on this thread). The output is written
/// under a temporary name in its directory and renamed when complete.
pub fn convert_photo(opts: &PhotoOptions) -> Result<PhotoSummary> {
    let started = Instant::now();
    let kind = ImageFormat::for_output(&opts.output)
        .map_err(|r| PipelineError::bad_input(opts.output.display(), r))?;
    let out_dir = crate::convert::check_output_writable(&opts.output, &opts.input)?;
    let info = probe_image(&opts.input)?;
    let (w, h) = info.upright_size();
    let sample = if info.sixteen_bit && kind == ImageFormat::Png {
        SampleFormat::Rgb48
    } else {
        SampleFormat::Rgb24
    };
    let frame = decode_image(&opts.input, &info, sample)?;
    let t = Instant::now();
    let mut est = opts.depth.create()?;
    let narrow;
    let rgb: &[u8] = match sample {
        SampleFormat::Rgb24 => &frame,
        SampleFormat::Rgb48 => {
            let mut n = Vec::new();
            rgb48_to_rgb24(&frame, &mut n);
            narrow = n;
            &narrow
        }
    };
    let depth = est
        .estimate(&[FrameRef {
            width: w,
            height: h,
            rgb,
        }])?
        .pop()
        .ok_or_else(|| PipelineError::State("depth model returned no map".into()))?;
    let depth_s = t.elapsed().as_secs_f64();
    let mut renderer = Renderer::with_format(w, h, opts.layout, opts.params, sample)
        .with_options(opts.layout_options);
    let mut out = Vec::new();
    renderer
        .render(&frame, &depth.data, depth.width, depth.height, &mut out)
        .map_err(|e| PipelineError::bad_input(opts.input.display(), format!("render: {e}")))?;
    let (ow, oh) = renderer.output_size();
    let suffix = match kind {
        ImageFormat::Png => ".png",
        ImageFormat::Jpeg => ".jpg",
    };
    let tmp = tempfile::Builder::new()
        .prefix(".stereospot-partial-")
        .suffix(suffix)
        .tempfile_in(&out_dir)
        .map_err(|e| PipelineError::io(&out_dir, e))?;
    encode_image(&out, ow, oh, sample, kind, opts.jpeg_q, tmp.path())?;
    tmp.persist(&opts.output)
        .map_err(|e| PipelineError::io(&opts.output, e.error))?;
    Ok(PhotoSummary {
        input: opts.input.display().to_string(),
        output: opts.output.display().to_string(),
        input_width: w,
        input_height: h,
        width: ow,
        height: oh,
        orientation: info.orientation,
        bits: if sample == SampleFormat::Rgb48 { 16 } else { 8 },
        layout: opts.layout.name().into(),
        depth_s,
        wall_s: started.elapsed().as_secs_f64(),
        device_note: opts.depth.device_note(),
    })
}
