//! Probe an input with ffprobe and turn every way it can be unusable into one clear reason.
//! The tracks plan (`media::tracks`) is made from the same JSON.
use super::process::{check, ffmpeg, ffprobe, last_line, run};
use crate::domain::colour::hdr_from_side_data;
use crate::domain::{AudioInfo, ColourInfo, MediaInfo};
use crate::{PipelineError, Result};
use serde_json::Value;
use std::path::Path;

/// Largest frame we accept (8K UHD is 7680x4320): anything bigger is an absurd or hostile size.
pub const MAX_PIXELS: u64 = 8192 * 8192;
/// Longest input we accept: 24 hours.
pub const MAX_DURATION_SECS: f64 = 24.0 * 3600.0;

/// A `BadInput` naming `path` unless it is a readable, non-empty regular file.
pub fn check_readable(path: &Path) -> Result<()> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| PipelineError::bad_input(&shown, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(PipelineError::bad_input(&shown, "not a regular file"));
    }
    if meta.len() == 0 {
        return Err(PipelineError::bad_input(&shown, "empty file (0 bytes)"));
    }
    Ok(())
}

/// Probe `path`: the video facts, or a `BadInput` naming the file and the reason.
pub fn probe(path: &Path) -> Result<MediaInfo> {
    let shown = path.display();
    check_readable(path)?;
    let out = run(
        "ffprobe",
        ffprobe()
            .args([
                "-count_packets",
                "-show_streams",
                "-show_format",
                "-show_chapters",
                "-of",
                "json",
            ])
            .arg(path),
    )?;
    if !out.status.success() {
        let why = last_line(&out.stderr);
        let mut head = [0u8; 8];
        let looks_mp4 = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok_and(|_| &head[4..8] == b"ftyp");
        let reason = if why.contains("moov atom not found") || looks_mp4 {
            "truncated or incomplete MP4 (moov atom not found)".to_string()
        } else if why.contains("Invalid data found") {
            "not a video file ffmpeg can read (invalid data)".to_string()
        } else {
            format!("not a readable media file ({why})")
        };
        return Err(PipelineError::bad_input(&shown, reason));
    }
    let json: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| PipelineError::media("ffprobe", format!("unparseable output: {e}")))?;
    let mut info = parse_probe(&json).map_err(|reason| PipelineError::bad_input(&shown, reason))?;
    check_decodable(path, &info)?;
    if info.colour.is_hdr() || info.colour.is_high_depth() {
        info.colour.hdr = probe_hdr(path)?;
    }
    Ok(info)
}

/// HDR10 mastering-display and content-light metadata, read from the first frame's side data
/// (HEVC and AV1 carry it per frame, not in the stream header).
fn probe_hdr(path: &Path) -> Result<Option<crate::domain::HdrMetadata>> {
    let out = run(
        "ffprobe",
        ffprobe()
            .args(["-select_streams", "v:0", "-read_intervals", "%+#1"])
            .args(["-show_entries", "frame_side_data", "-of", "json"])
            .arg(path),
    )?;
    check("ffprobe", &out)?;
    let json: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| PipelineError::media("ffprobe", format!("unparseable output: {e}")))?;
    let side = json
        .pointer("/frames/0/side_data_list")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(hdr_from_side_data(&side))
}

/// Decode the first video frame: catches codecs ffprobe names but nothing can decode, and files
/// whose headers are fine but whose data is cut off before the first frame.
fn check_decodable(path: &Path, info: &MediaInfo) -> Result<()> {
    let out = run(
        "ffmpeg",
        ffmpeg()
            .arg("-i")
            .arg(path)
            .args(["-map", "0:v:0", "-frames:v", "1", "-f", "null", "-"]),
    )?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success()
        || stderr.contains("Decoder (codec")
        || stderr.contains("Output file is empty")
    {
        let why = if stderr.contains("Decoder (codec") {
            format!("unsupported video codec {} (no decoder)", info.video_codec)
        } else {
            format!("video cannot be decoded ({})", last_line(&out.stderr))
        };
        return Err(PipelineError::bad_input(path.display(), why));
    }
    check("ffmpeg", &out)
}

fn ratio(v: Option<&Value>) -> Option<(u32, u32)> {
    let s = v?.as_str()?;
    let (a, b) = s.split_once(['/', ':'])?;
    let (a, b) = (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?);
    (a > 0 && b > 0).then_some((a, b))
}

fn num(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// Clockwise display rotation from the display matrix side data or the legacy `rotate` tag.
fn rotation(stream: &Value) -> u32 {
    let from_side = stream
        .get("side_data_list")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().find_map(|sd| num(sd.get("rotation"))))
        .map(|r| -r);
    let from_tag = num(stream.pointer("/tags/rotate"));
    let deg = from_side.or(from_tag).unwrap_or(0.0).round() as i64;
    (deg.rem_euclid(360) as u32 / 90) * 90
}

/// Turn ffprobe's JSON into [`MediaInfo`] or a one-line reason.
pub fn parse_probe(json: &Value) -> std::result::Result<MediaInfo, String> {
    let streams = json
        .get("streams")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let is = |s: &Value, t: &str| s.get("codec_type").and_then(Value::as_str) == Some(t);
    let video = streams.iter().find(|s| {
        is(s, "video")
            && s.pointer("/disposition/attached_pic")
                .and_then(Value::as_i64)
                != Some(1)
    });
    let Some(video) = video else {
        return Err(if streams.iter().any(|s| is(s, "audio")) {
            "no video stream (audio-only file)".into()
        } else {
            "no video stream".into()
        });
    };
    let codec = match video.get("codec_name").and_then(Value::as_str) {
        Some(c) if c != "unknown" && c != "none" => c.to_string(),
        _ => format!(
            "'{}'",
            video
                .get("codec_tag_string")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
        ),
    };
    let w = video.get("width").and_then(Value::as_u64).unwrap_or(0);
    let h = video.get("height").and_then(Value::as_u64).unwrap_or(0);
    if w < 2 || h < 2 {
        return Err(format!("invalid frame size {w}x{h}"));
    }
    if w * h > MAX_PIXELS || w > 16384 || h > 16384 {
        return Err(format!(
            "frame size {w}x{h} is larger than supported (max {MAX_PIXELS} pixels)"
        ));
    }
    let frame_rate = ratio(video.get("avg_frame_rate"))
        .or_else(|| ratio(video.get("r_frame_rate")))
        .ok_or_else(|| "unknown frame rate".to_string())?;
    let fps = frame_rate.0 as f64 / frame_rate.1 as f64;
    if !(0.5..=480.0).contains(&fps) {
        return Err(format!("unsupported frame rate {fps:.3} fps"));
    }
    let time_base = ratio(video.get("time_base")).unwrap_or((1, 90000));
    let duration = num(video.get("duration"))
        .or_else(|| num(json.pointer("/format/duration")))
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or_else(|| "unknown or zero duration".to_string())?;
    if duration > MAX_DURATION_SECS {
        return Err(format!(
            "duration {duration:.0} s is longer than supported (24 h)"
        ));
    }
    let stated = num(video.get("nb_frames"))
        .map(|f| f as u64)
        .filter(|f| *f > 0);
    let present = num(video.get("nb_read_packets")).map(|f| f as u64);
    if let (Some(stated), Some(present)) = (stated, present) {
        // The header promises more frames than the file holds: cut off after the index.
        if present < stated {
            return Err(format!(
                "truncated: only {present} of {stated} video frames are present"
            ));
        }
    }
    if present == Some(0) {
        return Err("no video frames".into());
    }
    let frames = stated
        .or(present)
        .unwrap_or_else(|| (duration * fps).round() as u64);
    let sar = ratio(video.get("sample_aspect_ratio")).unwrap_or((1, 1));
    let audio = streams.iter().find(|s| is(s, "audio")).map(|a| AudioInfo {
        codec: a
            .get("codec_name")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
        channels: a.get("channels").and_then(Value::as_u64).unwrap_or(0) as u32,
        sample_rate: num(a.get("sample_rate")).unwrap_or(0.0) as u32,
    });
    let tag = |k: &str| video.get(k).and_then(Value::as_str);
    let pix_fmt = tag("pix_fmt").unwrap_or("yuv420p");
    let mut colour = ColourInfo::resolve(
        tag("color_space"),
        tag("color_primaries"),
        tag("color_transfer"),
        tag("color_range"),
        pix_fmt,
        w as u32,
        h as u32,
    );
    if let Some(bits) = num(video.get("bits_per_raw_sample")).filter(|b| *b > 8.0 && *b <= 16.0) {
        colour.bit_depth = colour.bit_depth.max(bits as u32);
    }
    let main_video = video.get("index").and_then(Value::as_u64).map(|i| i as u32);
    Ok(MediaInfo {
        coded_width: w as u32,
        coded_height: h as u32,
        sar,
        rotation: rotation(video),
        frame_rate,
        time_base,
        duration,
        frames,
        video_codec: codec,
        video_start: num(video.get("start_time")).unwrap_or(0.0),
        audio,
        colour,
        segment_starts: Vec::new(),
        open_gop: false,
        tracks: Box::new(super::tracks::plan(json, main_video)),
        options: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn video(extra: Value) -> Value {
        let mut v = json!({"codec_type":"video","codec_name":"h264","width":640,"height":360,
            "avg_frame_rate":"24/1","time_base":"1/12288","duration":"10.0","nb_frames":"240"});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    }

    #[test]
    fn parses_a_normal_stream_with_audio() {
        let j = json!({"streams":[video(json!({})),
            {"codec_type":"audio","codec_name":"aac","channels":2,"sample_rate":"44100"}]});
        let m = parse_probe(&j).unwrap();
        assert_eq!((m.coded_width, m.coded_height, m.frames), (640, 360, 240));
        assert_eq!(
            (m.frame_rate, m.time_base, m.rotation),
            ((24, 1), (1, 12288), 0)
        );
        assert_eq!(m.audio.unwrap().sample_rate, 44100);
        assert_eq!(m.colour.matrix, "smpte170m", "untagged SD reads as BT.601");
        assert_eq!(m.colour.bit_depth, 8);
    }

    #[test]
    fn colour_tags_and_bit_depth() {
        let j = json!({"streams":[video(json!({"pix_fmt":"yuv420p10le","color_space":"bt2020nc",
            "color_primaries":"bt2020","color_transfer":"smpte2084","color_range":"tv"}))]});
        let c = parse_probe(&j).unwrap().colour;
        assert_eq!(
            (c.matrix.as_str(), c.transfer.as_str(), c.bit_depth),
            ("bt2020nc", "smpte2084", 10)
        );
        assert!(c.assumed.is_empty());
    }

    #[test]
    fn fewer_packets_than_the_header_states_is_truncation() {
        let j = json!({"streams":[video(json!({"nb_read_packets":"100"}))]});
        assert!(parse_probe(&j).unwrap_err().contains("only 100 of 240"));
        let j = json!({"streams":[video(json!({"nb_read_packets":"240"}))]});
        assert_eq!(parse_probe(&j).unwrap().frames, 240);
    }

    #[test]
    fn rotation_from_display_matrix_and_tag() {
        let j = json!({"streams":[video(json!({"side_data_list":[{"rotation":-90}]}))]});
        assert_eq!(parse_probe(&j).unwrap().rotation, 90);
        let j = json!({"streams":[video(json!({"tags":{"rotate":"270"}}))]});
        assert_eq!(parse_probe(&j).unwrap().rotation, 270);
    }

    #[test]
    fn rejects_unusable_streams_with_reasons() {
        let audio_only = json!({"streams":[{"codec_type":"audio","codec_name":"mp3"}]});
        assert!(parse_probe(&audio_only).unwrap_err().contains("audio-only"));
        let huge = json!({"streams":[video(json!({"width":100000,"height":100000}))]});
        assert!(parse_probe(&huge)
            .unwrap_err()
            .contains("larger than supported"));
        let no_rate =
            json!({"streams":[video(json!({"avg_frame_rate":"0/0","r_frame_rate":"0/0"}))]});
        assert!(parse_probe(&no_rate).unwrap_err().contains("frame rate"));
        let no_dur = json!({"streams":[video(json!({"duration":"0"}))]});
        assert!(parse_probe(&no_dur).unwrap_err().contains("duration"));
        let cover_art = json!({"streams":[video(json!({"disposition":{"attached_pic":1}})),
            {"codec_type":"audio","codec_name":"mp3"}]});
        assert!(parse_probe(&cover_art).unwrap_err().contains("audio-only"));
    }
}
