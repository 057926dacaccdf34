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
    std::fs::write(&list, concat_list(segments, info)?).map_err(|e| PipelineError::io(&list, e))?;
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
    // `unofficial`: keep the stereo (`st3d`) box the segments carry.
    .args([
        "-strict",
        "unofficial",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        "-y",
    ])
    .arg(out);
    let res = run("ffmpeg", &mut cmd);
    let _ = std::fs::remove_file(&list);
    check("ffmpeg", &res?)
}

/// The concat demuxer's list: every segment by absolute path, each but the last with a
/// `duration` that places the next one at its recorded start (`info.segment_starts`), so a
/// variable frame rate or a gap before a segment's first frame survives the join. Durations are
/// differences of start times rounded to microseconds (the directive's precision), so rounding
/// never accumulates along the film.
fn concat_list(segments: &[PathBuf], info: &MediaInfo) -> Result<String> {
    let starts = (info.segment_starts.len() == segments.len()).then_some(&info.segment_starts);
    let us = |ticks: i64| -> i64 {
        (super::timestamps::ticks_to_ns(ticks, info.time_base) + 500) / 1000
    };
    let mut text = String::new();
    for (i, s) in segments.iter().enumerate() {
        // The concat demuxer resolves relative paths against the list's directory: use absolute
        // ones. Quoting: single quotes, with ' written as '\''.
        let abs = std::path::absolute(s).map_err(|e| PipelineError::io(s, e))?;
        let p = abs.display().to_string().replace('\'', r"'\''");
        let _ = writeln!(text, "file '{p}'");
        if let Some(next) = starts.and_then(|st| st.get(i + 1).map(|n| (st[i], *n))) {
            let d = us(next.1) - us(next.0);
            let _ = writeln!(text, "duration {}.{:06}", d / 1_000_000, d % 1_000_000);
        }
    }
    Ok(text)
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
    // The first field: stream side data (the st3d box) adds empty csv fields after it.
    let first = s.trim().split([',', '\n']).next().unwrap_or("").trim();
    first.parse().map_err(|_| {
        PipelineError::media(
            "ffprobe",
            format!("no frame count for {}: {s:?}", path.display()),
        )
    })
}
