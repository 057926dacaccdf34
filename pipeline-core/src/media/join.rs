//! Join stereo segments frame-exactly and carry the original's tracks over: every planned audio
//! and subtitle track, cover art, chapters, global metadata, languages, titles and dispositions
//! (the plan is `MediaInfo::tracks`, made at chunk time by `media::tracks::plan`).
use super::process::{check, ffmpeg, ffprobe, run};
use super::tracks::MP4_AUDIO_COPY;
use crate::domain::{MediaInfo, StreamTags, TrackAction, TrackKind, TrackPlan};
use crate::{PipelineError, Result};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Concatenate `segments` (our own MP4 encodes: they join exactly) with the tracks of
/// `original` that `info.tracks` plans, writing `out`.
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
    write_concat_list(&list, segments, info)?;
    let mut cmd = ffmpeg();
    cmd.args(["-f", "concat", "-safe", "0", "-i"])
        .arg(&list)
        .args(join_args(info, original))
        .args([
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
fn write_concat_list(list: &Path, segments: &[PathBuf], info: &MediaInfo) -> Result<()> {
    let starts = (info.segment_starts.len() == segments.len()).then_some(&info.segment_starts);
    let us = |ticks: i64| -> i64 {
        (super::timestamps::ticks_to_ns(ticks, info.time_base) + 500).div_euclid(1000)
    };
    let mut text = String::new();
    for (i, s) in segments.iter().enumerate() {
        // The concat demuxer resolves relative paths against the list's directory: use absolute
        // ones. Quoting: single quotes, with ' written as '\''.
        let abs = std::path::absolute(s).map_err(|e| PipelineError::io(s, e))?;
        let p = abs.display().to_string().replace('\'', r"'\''");
        let _ = writeln!(text, "file '{p}'");
        if let Some((a, b)) = starts.and_then(|st| Some((st[i], *st.get(i + 1)?))) {
            let d = (us(b) - us(a)).max(0);
            let _ = writeln!(text, "duration {}.{:06}", d / 1_000_000, d % 1_000_000);
        }
    }
    std::fs::write(list, text).map_err(|e| PipelineError::io(list, e))
}

/// AAC bitrate for a re-encoded track: 192 kb/s for stereo (as before), 64 kb/s a channel for
/// more (5.1: 384 kb/s), 128 kb/s for mono.
pub fn aac_kbps(channels: u32) -> u32 {
    match channels {
        1 => 128,
        0 | 2 => 192,
        n => 64 * n,
    }
}

/// Everything after the concat input: the original as input 1 (when anything of it is carried),
/// the maps, codecs, tags and dispositions of every output stream. Output stream 0 is the video.
fn join_args(info: &MediaInfo, original: &Path) -> Vec<OsString> {
    let plan = &info.tracks;
    let mut a = Args::default();
    if !plan.planned {
        // A job record from before tracks were planned: the first audio stream, as then.
        let Some(audio) = &info.audio else {
            a.add(["-map", "0:v:0"]);
            return a.0;
        };
        if info.video_start.abs() > 0.001 {
            a.add([
                "-itsoffset".to_string(),
                format!("{:.6}", -info.video_start),
            ]);
        }
        a.add(["-i"]).add([original]);
        a.add(["-map", "0:v:0", "-map", "1:a:0"]);
        if MP4_AUDIO_COPY.contains(&audio.codec.as_str()) {
            a.add(["-c:a", "copy"]);
        } else {
            a.add(["-c:a", "aac", "-b:a", "192k"]);
        }
        return a.0;
    }
    if !plan.needs_original() {
        a.add(["-map", "0:v:0"]);
        return a.0;
    }
    // ffmpeg shifts each input to start at 0 (by its container start); the stereo video starts
    // at 0 with the original's frame at `video_start`. So the original moves by
    // container_start - video_start, and all of it moves together (audio, subtitles, chapters).
    let offset = plan.container_start - info.video_start;
    if offset.abs() > 0.0005 {
        a.add(["-itsoffset".to_string(), format!("{offset:.6}")]);
    }
    a.add(["-i"]).add([original]);
    a.add(["-map", "0:v:0", "-disposition:0", "default"]);
    a.add(stream_tags(0, &plan.video));
    for (i, t) in plan.streams.iter().enumerate() {
        let o = i + 1;
        a.add(["-map".to_string(), format!("1:{}", t.index)]);
        a.add(codec_args(o, t));
        a.add(stream_tags(o, &t.tags));
        a.add([format!("-disposition:{o}"), disposition(t)]);
    }
    let meta = if plan.metadata.is_empty() { "-1" } else { "1" };
    let chapters = if plan.chapters > 0 { "1" } else { "-1" };
    a.add(["-map_metadata", meta, "-map_chapters", chapters]);
    a.0
}

#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn add<T: Into<OsString>>(&mut self, args: impl IntoIterator<Item = T>) -> &mut Self {
        self.0.extend(args.into_iter().map(Into::into));
        self
    }
}

fn codec_args(o: usize, t: &TrackPlan) -> Vec<String> {
    let c = format!("-c:{o}");
    match t.action {
        TrackAction::Copy => vec![c, "copy".into()],
        TrackAction::MovText => vec![c, "mov_text".into()],
        TrackAction::Aac => {
            let mut v = vec![
                c,
                "aac".into(),
                format!("-b:{o}"),
                format!("{}k", aac_kbps(t.channels)),
            ];
            if t.channels > 0 {
                v.extend([format!("-ac:{o}"), t.channels.to_string()]);
            }
            v
        }
    }
}

/// Language (MP4 `mdhd`) and title: ffmpeg writes a title into a track `name` box that few
/// readers (ffprobe 5.1 included) read, so it goes into the handler name too, which players
/// and ffprobe show as the track's name.
fn stream_tags(o: usize, t: &StreamTags) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(l) = &t.language {
        v.extend([format!("-metadata:s:{o}"), format!("language={l}")]);
    }
    if let Some(title) = &t.title {
        v.extend([format!("-metadata:s:{o}"), format!("title={title}")]);
        v.extend([format!("-metadata:s:{o}"), format!("handler_name={title}")]);
    }
    v
}

fn disposition(t: &TrackPlan) -> String {
    if t.kind == TrackKind::CoverArt {
        return "attached_pic".into();
    }
    let mut flags = Vec::new();
    if t.default {
        flags.push("default");
    }
    if t.forced {
        flags.push("forced");
    }
    if flags.is_empty() {
        "0".into()
    } else {
        flags.join("+")
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AudioInfo, Tracks};

    fn info(tracks: Tracks, video_start: f64) -> MediaInfo {
        MediaInfo {
            coded_width: 320,
            coded_height: 180,
            sar: (1, 1),
            rotation: 0,
            frame_rate: (24, 1),
            time_base: (1, 12288),
            duration: 3.0,
            frames: 72,
            video_codec: "h264".into(),
            video_start,
            audio: Some(AudioInfo {
                codec: "flac".into(),
                channels: 6,
                sample_rate: 48000,
            }),
            tracks: Box::new(tracks),
            ..Default::default()
        }
    }

    fn track(index: u32, kind: TrackKind, action: TrackAction, channels: u32) -> TrackPlan {
        TrackPlan {
            index,
            kind,
            codec: "x".into(),
            action,
            channels,
            channel_layout: None,
            tags: StreamTags::default(),
            default: false,
            forced: false,
        }
    }

    fn args(m: &MediaInfo) -> String {
        join_args(m, Path::new("/in.mkv"))
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn every_planned_track_is_mapped_with_its_codec_tags_and_disposition() {
        let mut sub = track(4, TrackKind::Subtitle, TrackAction::MovText, 0);
        sub.tags.language = Some("eng".into());
        sub.tags.title = Some("Full".into());
        sub.forced = true;
        let mut a0 = track(1, TrackKind::Audio, TrackAction::Copy, 2);
        a0.default = true;
        let tracks = Tracks {
            planned: true,
            container_start: 1.4,
            chapters: 2,
            metadata: vec!["title".into()],
            streams: vec![
                a0,
                track(2, TrackKind::Audio, TrackAction::Aac, 6),
                sub,
                track(5, TrackKind::CoverArt, TrackAction::Copy, 0),
            ],
            ..Tracks::default()
        };
        let a = args(&info(tracks, 1.483));
        assert!(
            a.starts_with("-itsoffset -0.083000 -i /in.mkv -map 0:v:0 -disposition:0 default"),
            "{a}"
        );
        for want in [
            "-map 1:1 -c:1 copy -disposition:1 default",
            "-map 1:2 -c:2 aac -b:2 384k -ac:2 6 -disposition:2 0",
            "-map 1:4 -c:3 mov_text -metadata:s:3 language=eng -metadata:s:3 title=Full \
             -metadata:s:3 handler_name=Full -disposition:3 forced",
            "-map 1:5 -c:4 copy -disposition:4 attached_pic",
            "-map_metadata 1 -map_chapters 1",
        ] {
            let want = want.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(a.contains(&want), "{want:?} in {a}");
        }
    }

    #[test]
    fn nothing_to_carry_maps_the_video_alone_and_old_records_carry_the_first_audio() {
        let bare = Tracks {
            planned: true,
            ..Tracks::default()
        };
        let mut m = info(bare, 0.0);
        m.audio = None;
        assert_eq!(args(&m), "-map 0:v:0");
        let legacy = info(Tracks::default(), 0.05);
        assert_eq!(
            args(&legacy),
            "-itsoffset -0.050000 -i /in.mkv -map 0:v:0 -map 1:a:0 -c:a aac -b:a 192k"
        );
    }

    #[test]
    fn aac_bitrate_scales_with_channels() {
        assert_eq!([1, 2, 6, 8].map(aac_kbps), [128, 192, 384, 512]);
    }
}
