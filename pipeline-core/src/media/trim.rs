//! `--start` / `--end`: a frame-exact, lossless trimmed copy of the input, made before the chunk
//! step, which then runs on it as on any input.
//!
//! The range is snapped to frames: the copy holds exactly the source frames whose presentation
//! time (from the first video frame) lies in `[start, end)`, each at its own time relative to
//! the first of them, and every audio track covers the same span (the first kept frame to the
//! first frame at or after `end`), so sound stays in sync and lasts as long as the picture.
//!
//! The copy is a MOV holding lossless video (x264 `-qp 0` for the 8- and 10-bit YUV formats
//! it takes, FFV1 for any other: the pixel format is kept, 10-bit stays 10-bit, the colour tags
//! are carried) in the source's video time base, PCM audio (sample-exact cuts; the
//! join re-encodes it to AAC like any PCM source), text subtitles as `mov_text` (cues shifted;
//! a cue that started before `start` is left out, one that runs past `end` is kept), chapters
//! shifted and clipped by ffmpeg, and the global tags.
use super::process::{check, ffmpeg, run};
use super::timestamps::FrameTimes;
use crate::domain::{MediaInfo, TrackKind};
use crate::{PipelineError, Result};
use std::path::Path;

/// The part of the input to convert, in seconds from its first video frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrimRange {
    pub start: f64,
    /// Exclusive; `None`: to the end.
    pub end: Option<f64>,
}

impl TrimRange {
    /// A range from the two optional command-line values (`None` when neither is given).
    pub fn new(start: Option<f64>, end: Option<f64>) -> std::result::Result<Option<Self>, String> {
        if start.is_none() && end.is_none() {
            return Ok(None);
        }
        let r = TrimRange {
            start: start.unwrap_or(0.0),
            end,
        };
        if let Some(e) = r.end {
            if r.start >= e {
                return Err(format!(
                    "--start ({}) must be before --end ({})",
                    show_time(r.start),
                    show_time(e)
                ));
            }
        }
        Ok(Some(r))
    }
}

/// `12.5`, `75`, `1:15.5` (mm:ss) or `01:02:03.250` (hh:mm:ss): seconds, or a one-line reason.
pub fn parse_time(s: &str) -> std::result::Result<f64, String> {
    let t = s.trim();
    let bad = |why: &str| {
        format!("invalid time '{s}': {why} (use seconds like 12.5, or hh:mm:ss[.ms] / mm:ss)")
    };
    if t.is_empty() {
        return Err(bad("empty"));
    }
    let parts: Vec<&str> = t.split(':').collect();
    if parts.len() > 3 {
        return Err(bad("too many ':'"));
    }
    let number = |p: &str| -> std::result::Result<f64, String> {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(bad("not a number"));
        }
        p.parse::<f64>().map_err(|_| bad("not a number"))
    };
    let mut secs = 0.0;
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if !last && p.contains('.') {
            return Err(bad("only the seconds may have a fraction"));
        }
        let v = number(p)?;
        if parts.len() > 1 && i > 0 && v >= 60.0 {
            return Err(bad("minutes and seconds must be below 60"));
        }
        secs = secs * 60.0 + v;
    }
    if !secs.is_finite() || secs > super::probe::MAX_DURATION_SECS {
        return Err(bad("out of range"));
    }
    Ok(secs)
}

/// `75.5` -> `75.5 s`.
fn show_time(s: f64) -> String {
    format!("{} s", (s * 1000.0).round() / 1000.0)
}

/// Which frames the range keeps and how to cut there.
#[derive(Debug, Clone, PartialEq)]
pub struct TrimPlan {
    /// Index (presentation order) of the first kept frame, and how many are kept.
    pub first: usize,
    pub frames: u64,
    /// Where to seek (absolute stream time, s): just before the first kept frame; `None` when
    /// it is the input's first frame.
    pub seek: Option<f64>,
    /// Length of the copy (s): up to the first frame not kept; `None`: to the end.
    pub duration: Option<f64>,
}

/// Plan the cut over the video's frame times (`times.pts` sorted). Errors name the option.
pub fn plan(times: &FrameTimes, range: TrimRange) -> std::result::Result<TrimPlan, String> {
    let tb = times.time_base;
    let secs = |ticks: i64| ticks as f64 * tb.0 as f64 / tb.1.max(1) as f64;
    let pts = &times.pts;
    let Some(&origin) = pts.first() else {
        return Err("the video has no frames".into());
    };
    let rel: Vec<f64> = pts.iter().map(|p| secs(p - origin)).collect();
    let step = if rel.len() > 1 {
        rel[rel.len() - 1] - rel[rel.len() - 2]
    } else {
        0.0
    };
    let length = rel.last().copied().unwrap_or(0.0) + step;
    // A time within a microsecond of a frame's counts as that frame's (typed values are decimal).
    const SLACK: f64 = 1e-6;
    let first = rel
        .iter()
        .position(|t| *t >= range.start - SLACK)
        .ok_or_else(|| {
            format!(
                "--start {} is beyond the end of the video ({})",
                show_time(range.start),
                show_time(length)
            )
        })?;
    let next = match range.end {
        Some(e) => rel.iter().position(|t| *t >= e - SLACK),
        None => None,
    };
    let last_excl = next.unwrap_or(rel.len());
    if last_excl <= first {
        return Err(format!(
            "no video frame lies in --start {} .. --end {}",
            show_time(range.start),
            show_time(range.end.unwrap_or(length))
        ));
    }
    // Seek a little before the first kept frame (well under half a frame, far above ffmpeg's
    // microsecond rounding) so that frame, and not its predecessor, starts the copy.
    let seek = (first > 0).then(|| {
        let gap = rel[first] - rel[first - 1];
        secs(pts[first]) - (gap / 4.0).min(0.0002)
    });
    let duration = next.map(|n| rel[n] - rel[first]);
    Ok(TrimPlan {
        first,
        frames: (last_excl - first) as u64,
        seek,
        duration,
    })
}

/// Write the trimmed lossless copy of `input` to `out` (a `.mov`), following `plan`. `info` is
/// the probe of `input` (its tracks plan says which subtitle tracks are text).
pub fn write_trimmed(input: &Path, out: &Path, info: &MediaInfo, plan: &TrimPlan) -> Result<()> {
    let scratch = out.with_extension("subs.mov");
    let text_subs: Vec<u32> = info
        .tracks
        .streams
        .iter()
        .filter(|t| t.kind == TrackKind::Subtitle)
        .map(|t| t.index)
        .collect();
    // Subtitles: ffmpeg 5.1 shifts cues wrongly after an input seek, so they are cut in a pass
    // of their own with an output seek (it reads the file but decodes only the subtitles).
    if !text_subs.is_empty() {
        let mut cmd = ffmpeg();
        cmd.arg("-i").arg(input);
        if let Some(s) = plan.seek {
            cmd.args(["-ss", &format!("{:.6}", s - info.tracks.container_start)]);
        }
        if let Some(d) = plan.duration {
            cmd.args(["-t", &format!("{d:.6}")]);
        }
        for i in &text_subs {
            cmd.args(["-map", &format!("0:{i}")]);
        }
        cmd.args([
            "-c:s",
            "mov_text",
            "-map_metadata",
            "-1",
            "-map_chapters",
            "-1",
        ]);
        cmd.arg("-y").arg(&scratch);
        check("ffmpeg", &run("ffmpeg", &mut cmd)?)?;
    }
    // An input seek starts decoding near the cut (fast); ffmpeg 5.1 seeks MPEG-TS and other
    // unindexed containers unreliably (it landed past the only keyframe: zero frames), so those
    // decode from the start and cut on the output side, as does any input whose fast cut does
    // not hold exactly the planned frames.
    let fast = plan.seek.is_some() && indexed_container(input);
    let mut result = main_pass(input, out, info, plan, &text_subs, &scratch, fast);
    if fast && result.is_err() {
        tracing::info!("input seek missed the planned frames; cutting after a full decode");
        result = main_pass(input, out, info, plan, &text_subs, &scratch, false);
    }
    let _ = std::fs::remove_file(&scratch);
    result
}

/// Whether `input`'s container has an index ffmpeg seeks by exactly (MP4/MOV, Matroska/WebM).
fn indexed_container(input: &Path) -> bool {
    let out = run(
        "ffprobe",
        super::process::ffprobe()
            .args(["-show_entries", "format=format_name", "-of", "csv=p=0"])
            .arg(input),
    );
    out.is_ok_and(|o| {
        let name = String::from_utf8_lossy(&o.stdout);
        o.status.success() && (name.contains("mp4") || name.contains("matroska"))
    })
}

/// The video/audio pass (subtitles from `scratch`): seek on the input (`fast`) or cut on the
/// output after decoding from the start; checks the copy holds exactly the planned frames.
fn main_pass(
    input: &Path,
    out: &Path,
    info: &MediaInfo,
    plan: &TrimPlan,
    text_subs: &[u32],
    scratch: &Path,
    fast: bool,
) -> Result<()> {
    let mut cmd = ffmpeg();
    match plan.seek {
        // Absolute stream time (not from the container start).
        Some(s) if fast => {
            cmd.args(["-seek_timestamp", "1", "-ss", &format!("{s:.6}")]);
        }
        _ => {}
    }
    cmd.arg("-i").arg(input);
    if !text_subs.is_empty() {
        cmd.arg("-i").arg(scratch);
    }
    match plan.seek {
        // Output-side: from the container start, as the subtitle pass.
        Some(s) if !fast => {
            cmd.args(["-ss", &format!("{:.6}", s - info.tracks.container_start)]);
        }
        _ => {}
    }
    if let Some(d) = plan.duration {
        cmd.args(["-t", &format!("{d:.6}")]);
    }
    cmd.args(["-map", "0:V:0", "-map", "0:a?"]);
    for (n, index) in text_subs.iter().enumerate() {
        cmd.args(["-map", &format!("1:{n}")]);
        // Language and title come from the original track (`0:s:I`: its absolute index).
        cmd.args([&format!("-map_metadata:s:s:{n}"), &format!("0:s:{index}")]);
    }
    cmd.args(lossless_video(&info.colour));
    // Every frame at its own time (VFR stays VFR): MOV's default would make the rate constant.
    cmd.args(["-fps_mode", "passthrough"]);
    cmd.args(["-c:a", "pcm_s24le", "-c:s", "copy"])
        .args(["-map_metadata", "0", "-map_chapters", "0"])
        .args(["-movflags", "+use_metadata_tags"]);
    if info.time_base.0 == 1 {
        cmd.args(["-video_track_timescale", &info.time_base.1.to_string()]);
    }
    cmd.arg("-y").arg(out);
    check("ffmpeg", &run("ffmpeg", &mut cmd)?)?;
    let got = super::count_video_frames(out).unwrap_or(0);
    if got != plan.frames {
        return Err(PipelineError::media(
            "ffmpeg",
            format!(
                "the trimmed copy holds {got} frames, {} were expected",
                plan.frames
            ),
        ));
    }
    Ok(())
}

/// Pixel formats libx264 encodes as they are (Debian's build: 8 and 10 bits).
const X264_FORMATS: &[&str] = &[
    "yuv420p",
    "yuvj420p",
    "yuv422p",
    "yuvj422p",
    "yuv444p",
    "yuvj444p",
    "yuv420p10le",
    "yuv422p10le",
    "yuv444p10le",
    "gray",
];

/// Lossless video codec arguments for a source with `colour`: x264 `-qp 0` (ultrafast) where it
/// holds the pixel format (about 3x faster than FFV1 at 1080p, same size), FFV1 otherwise, and
/// x265 lossless for HDR10 sources with mastering-display or content-light metadata (which
/// StereoSpot reads from the stream's SEI: x264 and FFV1 cannot carry it).
fn lossless_video(colour: &crate::domain::ColourInfo) -> Vec<String> {
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if let Some(hdr) = &colour.hdr {
        let mut params = vec!["log-level=error".to_string(), "lossless=1".to_string()];
        params.extend(
            hdr.master_display
                .as_ref()
                .map(|m| format!("master-display={m}")),
        );
        params.extend(hdr.max_cll.as_ref().map(|c| format!("max-cll={c}")));
        let mut args = owned(&["-c:v", "libx265", "-preset", "ultrafast", "-x265-params"]);
        args.push(params.join(":"));
        return args;
    }
    if X264_FORMATS.contains(&colour.pix_fmt.as_str()) {
        owned(&["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"])
    } else {
        owned(&["-c:v", "ffv1"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(pts: &[i64], tb: (u32, u32)) -> FrameTimes {
        FrameTimes {
            pts: pts.to_vec(),
            first_decoded: pts[0],
            decode_order: pts.to_vec(),
            time_base: tb,
        }
    }

    #[test]
    fn times_parse_in_every_form_and_bad_ones_say_why() {
        assert_eq!(parse_time("12.5"), Ok(12.5));
        assert_eq!(parse_time("75"), Ok(75.0));
        assert_eq!(parse_time("1:15.5"), Ok(75.5));
        assert_eq!(parse_time("01:02:03.250"), Ok(3723.25));
        assert_eq!(parse_time(" 0:00 "), Ok(0.0));
        for bad in [
            "", "abc", "-3", "1:2:3:4", "1:75", "1.5:00", "1e3", "12s", "nan",
        ] {
            let e = parse_time(bad).expect_err(bad);
            assert!(e.starts_with(&format!("invalid time '{bad}'")), "{e}");
        }
    }

    #[test]
    fn start_must_come_before_end() {
        assert_eq!(TrimRange::new(None, None), Ok(None));
        assert_eq!(
            TrimRange::new(None, Some(2.0)),
            Ok(Some(TrimRange {
                start: 0.0,
                end: Some(2.0)
            }))
        );
        let e = TrimRange::new(Some(5.0), Some(5.0)).unwrap_err();
        assert!(
            e.contains("--start (5 s) must be before --end (5 s)"),
            "{e}"
        );
    }

    #[test]
    fn plan_keeps_exactly_the_frames_in_range() {
        // 24 fps in 1/12288, starting at 0.5 s (as MPEG-TS inputs do).
        let pts: Vec<i64> = (0..96).map(|i| 6144 + i * 512).collect();
        let t = times(&pts, (1, 12288));
        let p = plan(
            &t,
            TrimRange {
                start: 1.0,
                end: Some(2.5),
            },
        )
        .unwrap();
        assert_eq!((p.first, p.frames), (24, 36));
        let seek = p.seek.unwrap();
        assert!(seek < 1.5 && seek > 1.5 - 0.0003, "{seek}");
        assert!((p.duration.unwrap() - 1.5).abs() < 1e-9);
        // Between frames: the first frame at or after start, up to the last before end.
        let p = plan(
            &t,
            TrimRange {
                start: 1.01,
                end: Some(1.02),
            },
        );
        assert!(p.unwrap_err().contains("no video frame lies in"));
        let p = plan(
            &t,
            TrimRange {
                start: 1.01,
                end: None,
            },
        )
        .unwrap();
        assert_eq!((p.first, p.frames, p.duration), (25, 71, None));
        let p = plan(
            &t,
            TrimRange {
                start: 0.0,
                end: Some(0.1),
            },
        )
        .unwrap();
        assert_eq!((p.first, p.frames, p.seek), (0, 3, None));
        let e = plan(
            &t,
            TrimRange {
                start: 4.0,
                end: None,
            },
        )
        .unwrap_err();
        assert_eq!(e, "--start 4 s is beyond the end of the video (4 s)");
    }
}
