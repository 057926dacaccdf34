//! Split a video into keyframe-aligned pieces with stream copy (no re-encode).
use super::process::{check, ffmpeg, run};
use super::timestamps::{frame_times, piece_starts, rescale};
use crate::{PipelineError, Result};
use std::path::{Path, PathBuf};

/// Container for source chunks of `codec`: MPEG-TS where it can carry the codec (it joins and
/// decodes without the B-frame start gap of `-c copy` MP4 pieces), Matroska otherwise.
pub fn segment_container(codec: &str) -> &'static str {
    match codec {
        "h264" | "hevc" | "mpeg2video" | "mpeg1video" | "mpeg4" => "ts",
        _ => "mkv",
    }
}

/// Split the first video stream of `input` into `out_dir/NNNNN.<ext>` pieces of about
/// `segment_seconds` each, cut at the first keyframe after each boundary. Audio is left out: the
/// reassembler takes it from the original. Returns the pieces in order.
pub fn split_at_keyframes(
    input: &Path,
    out_dir: &Path,
    segment_seconds: f64,
    ext: &str,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out_dir).map_err(|e| PipelineError::io(out_dir, e))?;
    let format = if ext == "ts" { "mpegts" } else { "matroska" };
    let pattern = out_dir.join(format!("%05d.{ext}"));
    let out = run(
        "ffmpeg",
        ffmpeg()
            .arg("-i")
            .arg(input)
            .args([
                "-map", "0:v:0", "-c", "copy", "-an", "-sn", "-dn", "-f", "segment",
            ])
            .args([
                "-segment_time",
                &format!("{segment_seconds:.3}"),
                "-segment_format",
                format,
            ])
            // Pieces keep the input's timestamps: a piece appended to its predecessor (the
            // pre-roll of an open-GOP source) is then one continuous stream.
            .args(["-reset_timestamps", "0"])
            .arg(&pattern),
    )?;
    check("ffmpeg", &out)?;
    let mut pieces: Vec<PathBuf> = std::fs::read_dir(out_dir)
        .map_err(|e| PipelineError::io(out_dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some(ext))
        .collect();
    pieces.sort();
    if pieces.is_empty() {
        return Err(PipelineError::media(
            "ffmpeg",
            "segmenter produced no pieces",
        ));
    }
    Ok(pieces)
}

/// Timing of the pieces: where each starts and whether the source has open GOPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceTiming {
    /// Start of each piece in ticks of the input's video time base from its first frame.
    pub starts: Vec<i64>,
    /// Some piece after the first begins with leading pictures that reference the previous
    /// piece (open GOP): those pieces are decoded after a pre-roll of their predecessor.
    pub open_gop: bool,
}

/// Where each piece starts, in ticks of `time_base` from the input's first video frame: the
/// join places each stereo segment there, so variable frame rates survive segmentation. The
/// pieces' packet counts partition the input's packets in decode order (cuts are at keyframes,
/// stream copy); when they do not, the nominal frame rate stands in and a warning says so.
pub fn piece_start_ticks(
    input: &Path,
    pieces: &[PathBuf],
    time_base: (u32, u32),
    frame_rate: (u32, u32),
) -> Result<PieceTiming> {
    let original = frame_times(input)?;
    let mut counts = Vec::with_capacity(pieces.len());
    let mut open_gop = false;
    for (i, p) in pieces.iter().enumerate() {
        let t = frame_times(p)?;
        open_gop |= i > 0 && t.has_leading_pictures();
        counts.push(t.pts.len());
    }
    if let Some(starts) = piece_starts(&original, &counts) {
        let starts = starts
            .into_iter()
            .map(|t| rescale(t, original.time_base, time_base))
            .collect();
        return Ok(PieceTiming { starts, open_gop });
    }
    tracing::warn!(
        pieces = ?counts,
        frames = original.pts.len(),
        "piece frame counts do not partition the input; placing segments at the nominal frame rate"
    );
    let mut at = 0i64;
    let frame = (frame_rate.1.max(1), frame_rate.0.max(1));
    let starts = counts
        .iter()
        .map(|c| {
            let start = rescale(at, frame, time_base);
            at += *c as i64;
            start
        })
        .collect();
    Ok(PieceTiming { starts, open_gop })
}
