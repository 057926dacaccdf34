//! `stereospot convert photo.jpg -o photo_sbs.png`: the photo path of `convert`.
use crate::convert_cmd::{layout_options, stereo_params, ConvertArgs, LoadedModel};
use pipeline_core::photo::{convert_photo, PhotoOptions, PhotoSummary};

/// JPEG quality of photo outputs on ffmpeg's 2 (best) .. 31 scale: 2 keeps the 3D photo close
/// to the original.
pub const JPEG_QUALITY: u8 = 2;

/// Convert the photo `args.input` with the loaded model.
pub async fn run_with(args: &ConvertArgs, loaded: &LoadedModel) -> anyhow::Result<PhotoSummary> {
    if args.start.is_some() || args.end.is_some() {
        anyhow::bail!(
            "{}: --start/--end apply to videos, not photos",
            args.input.display()
        );
    }
    if args.export_depth.is_some() || args.depth.is_some() {
        anyhow::bail!(
            "{}: --export-depth/--depth apply to videos, not photos",
            args.input.display()
        );
    }
    let opts = PhotoOptions {
        input: args.input.clone(),
        output: args.output.clone(),
        layout: args.layout,
        params: stereo_params(args)?,
        layout_options: layout_options(args)?,
        depth: loaded.factory.clone(),
        jpeg_q: JPEG_QUALITY,
    };
    let summary = tokio::task::spawn_blocking(move || convert_photo(&opts)).await??;
    Ok(summary)
}
