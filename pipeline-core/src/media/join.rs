//! Join stereo segments frame-exactly and carry the original audio over.
use super::process::{check, ffmpeg, ffprobe, run};
use crate::domain::MediaInfo;
use crate::{PipelineError, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Audio codecs an MP4 can hold as they are; anything else is re-encoded to AAC.
const MP4_AUDIO_COPY: &[&str] = &["aac", "mp3", "ac3", "eac3", "alac"];

/// Concatenate `segments` (our own MP4 encodes: they join exactly) with the first audio stream of
/// `original`, writing `out`. Audio is shifted by the original video's start time to stay in sync.
pub fn join_segments(
    segments: &[PathBuf],
    original: &Path,
    info: &MediaInfo,
    out: &Path,
) -> Result<()> {
    let dir = out
        .parent()
        .ok_or_else(|| PipelineError::State(format!("{} has no parent", out.display())))?;
    let list = dir.join("concat.txt");
    let mut text = String::new();
    for s in segments {
        // The concat demuxer resolves relative paths against the list's directory: use absolute
        // ones. Quoting: single quotes, with ' written as '\''.
        let abs = std::path::absolute(s).map_err(|e| PipelineError::io(s, e))?;
        let p = abs.display().to_string().replace('\'', r"'\''");
        let _ = writeln!(text, "file '{p}'");
    }
    std::fs::write(&list, text).map_err(|e| PipelineError::io(&list, e))?;
    let mut cmd = ffmpeg();
    cmd.args(["-f", "concat", "-safe", "0", "-i"]).arg(&list);
    if info.audio.is_some() {
        if info.video_start.abs() > 0.001 {
            cmd.args(["-itsoffset", &format!("{:.6}", -info.video_start)]);
        }
        cmd.arg("-i")
            .arg(original)
            .args(["-map", "0:v:0", "-map", "1:a:0"]);
        let copy = info
            .audio
            .as_ref()
            .is_some_and(|a| MP4_AUDIO_COPY.contains(&a.codec.as_str()));
        if copy {
            cmd.args(["-c:a", "copy"]);
        } else {
            cmd.args(["-c:a", "aac", "-b:a", "192k"]);
        }
    } else {
        cmd.args(["-map", "0:v:0"]);
    }
    cmd.args([
        "-c:v",
        "copy",
        "-video_track_timescale",
        &info.time_base.1.to_string(),
    ])
    .args(["-movflags", "+faststart", "-f", "mp4", "-y"])
    .arg(out);
    let res = run("ffmpeg", &mut cmd);
    let _ = std::fs::remove_file(&list);
    check("ffmpeg", &res?)
}

/// Number of video frames an MP4 declares (its sample table: exact for our own files).
pub fn count_video_frames(path: &Path) -> Result<u64> {
    let out = run(
        "ffprobe",
        ffprobe()
            .args([
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=nb_frames",
                "-of",
                "csv=p=0",
            ])
            .arg(path),
    )?;
    check("ffprobe", &out)?;
    let s = String::from_utf8_lossy(&out.stdout);
    s.trim().parse().map_err(|_| {
        PipelineError::media(
            "ffprobe",
            format!("no frame count for {}: {s:?}", path.display()),
        )
    })
}
