//! A small JPEG of the input for the web UI: a frame 10 % into the video (past black leaders and
//! fades), displayed as a player shows it (rotation and pixel aspect applied), 320 px wide.
use super::process::{check, ffmpeg, run};
use crate::domain::MediaInfo;
use crate::{PipelineError, Result};
use std::path::Path;

/// Width of the thumbnail (the height keeps the display aspect, rounded to even).
pub const THUMBNAIL_WIDTH: u32 = 320;

/// Where in the video the thumbnail is taken, in seconds from its start.
pub fn thumbnail_time(media: &MediaInfo) -> f64 {
    (media.duration.max(0.0) * 0.1).min(30.0)
}

/// Write the thumbnail of `input` (probed as `media`) to `out` (JPEG).
pub fn write_thumbnail(input: &Path, media: &MediaInfo, out: &Path) -> Result<()> {
    // A seek past the last frame (a one-frame or badly timed input) yields nothing: the first
    // frame then.
    for at in [thumbnail_time(media), 0.0] {
        let _ = std::fs::remove_file(out);
        let mut cmd = ffmpeg();
        cmd.args(["-ss", &format!("{at:.3}")])
            .arg("-i")
            .arg(input)
            .args([
                "-map",
                "0:V:0",
                "-frames:v",
                "1",
                // ffmpeg applies the rotation itself (autorotate); square the pixels, then size.
                "-vf",
                &format!(
                    "scale=trunc(iw*sar/2)*2:ih,setsar=1,scale={THUMBNAIL_WIDTH}:-2:flags=bicubic"
                ),
                "-q:v",
                "4",
                "-f",
                "image2",
                "-y",
            ])
            .arg(out);
        check("ffmpeg", &run("ffmpeg", &mut cmd)?)?;
        if std::fs::metadata(out).is_ok_and(|m| m.len() > 0) {
            return Ok(());
        }
    }
    Err(PipelineError::media("ffmpeg", "no frame for a thumbnail"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbnail_comes_from_early_in_the_film() {
        let m = |duration| MediaInfo {
            duration,
            ..Default::default()
        };
        assert_eq!(thumbnail_time(&m(60.0)), 6.0);
        assert_eq!(
            thumbnail_time(&m(7200.0)),
            30.0,
            "never deep into a long film"
        );
        assert_eq!(thumbnail_time(&m(-1.0)), 0.0);
    }
}
