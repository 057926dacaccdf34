//! Plan which of the input's tracks, chapters and tags reach the MP4 output (pure: ffprobe's
//! JSON in, a [`Tracks`] plan out). What ffmpeg 5.1's MP4 muxer accepts was measured:
//!
//! - audio copied: aac, mp3, mp2, ac3, eac3, alac, opus, dts; every other codec (flac and
//!   truehd are "experimental" in MP4, PCM and vorbis have no standard MP4 entry) is re-encoded
//!   to AAC, one track at a time, keeping its channel count (AAC holds up to 8);
//! - text subtitles become mov_text (mov_text is copied); bitmap subtitles cannot be carried:
//!   PGS and DVB have no MP4 tag, and DVD subtitles written to MP4 read back as a data stream;
//! - cover art (attached JPEG/PNG/BMP pictures) is kept as MP4 `covr`;
//! - attachments (fonts), data streams and further video streams are not carried;
//! - global tags: MP4 keeps the iTunes-style keys in [`MP4_TAGS`], nothing else.
use crate::domain::{StreamTags, TrackAction, TrackKind, TrackPlan, Tracks};
use serde_json::Value;

/// Audio codecs the MP4 muxer takes as they are (without `-strict experimental`).
pub const MP4_AUDIO_COPY: &[&str] = &["aac", "mp3", "mp2", "ac3", "eac3", "alac", "opus", "dts"];

/// AAC (ffmpeg's encoder) holds at most this many channels (7.1).
pub const AAC_MAX_CHANNELS: u32 = 8;

/// Subtitle codecs ffmpeg decodes to text, which the mov_text encoder can then write.
const TEXT_SUBTITLES: &[&str] = &[
    "subrip",
    "srt",
    "ass",
    "ssa",
    "webvtt",
    "text",
    "microdvd",
    "subviewer",
    "subviewer1",
    "sami",
    "realtext",
    "mpl2",
    "pjs",
    "jacosub",
    "vplayer",
    "stl",
    "eia_608",
];

/// Bitmap subtitle codecs and the name users know them by.
const BITMAP_SUBTITLES: &[(&str, &str)] = &[
    ("hdmv_pgs_subtitle", "PGS"),
    ("dvd_subtitle", "DVD/VobSub"),
    ("dvb_subtitle", "DVB"),
    ("xsub", "DivX XSUB"),
];

/// Cover art formats MP4 `covr` holds.
const COVER_CODECS: &[&str] = &["mjpeg", "png", "bmp"];

/// Global tags ffmpeg's MP4 muxer writes (as iTunes-style `ilst` items, `creation_time` in
/// `mvhd`); ffmpeg matches them case-insensitively.
pub const MP4_TAGS: &[&str] = &[
    "title",
    "artist",
    "album_artist",
    "composer",
    "album",
    "date",
    "encoding_tool",
    "comment",
    "genre",
    "copyright",
    "grouping",
    "lyrics",
    "description",
    "synopsis",
    "show",
    "episode_id",
    "network",
    "keywords",
    "episode_sort",
    "season_number",
    "media_type",
    "hd_video",
    "gapless_playback",
    "compilation",
    "track",
    "disc",
    "creation_time",
];

/// Technical global tags that are rewritten for the output, not lost.
const TECHNICAL_TAGS: &[&str] = &[
    "major_brand",
    "minor_version",
    "compatible_brands",
    "encoder",
    "duration",
];

fn text<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn flag(v: &Value, name: &str) -> bool {
    v.pointer(&format!("/disposition/{name}"))
        .and_then(Value::as_i64)
        == Some(1)
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn tags(s: &Value) -> StreamTags {
    StreamTags {
        language: text(s, "/tags/language")
            .filter(|l| *l != "und")
            .map(str::to_string),
        title: text(s, "/tags/title").map(str::to_string),
    }
}

/// `3 (hdmv_pgs_subtitle, eng)`: how a track is named in the dropped lines.
fn describe(index: u32, codec: &str, t: &StreamTags, extra: Option<&str>) -> String {
    let mut parts = vec![codec.to_string()];
    parts.extend(extra.map(str::to_string));
    parts.extend(t.language.clone());
    parts.extend(t.title.as_ref().map(|s| format!("\"{s}\"")));
    format!("{index} ({})", parts.join(", "))
}

/// Build the plan. `main_video` is the ffprobe index of the video stream that is converted.
pub fn plan(json: &Value, main_video: Option<u32>) -> Tracks {
    let streams = json
        .get("streams")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let chapters = json
        .get("chapters")
        .and_then(Value::as_array)
        .map_or(0, |c| c.len() as u32);
    let mut out = Tracks {
        planned: true,
        container_start: number(json.pointer("/format/start_time"))
            .filter(|t| t.is_finite())
            .unwrap_or(0.0),
        chapters,
        ..Tracks::default()
    };
    for (pos, s) in streams.iter().enumerate() {
        let index = s
            .get("index")
            .and_then(Value::as_u64)
            .map_or(pos as u32, |i| i as u32);
        let kind = s.get("codec_type").and_then(Value::as_str).unwrap_or("");
        let codec = text(s, "/codec_name").filter(|c| *c != "none" && *c != "unknown");
        let shown = codec
            .map(str::to_string)
            .or_else(|| text(s, "/codec_tag_string").map(|t| format!("'{t}'")))
            .unwrap_or_else(|| "unknown codec".into());
        let t = tags(s);
        let track = |kind, action, channels, channel_layout: Option<&str>| TrackPlan {
            index,
            kind,
            codec: shown.clone(),
            action,
            channels,
            channel_layout: channel_layout.map(str::to_string),
            tags: t.clone(),
            default: flag(s, "default"),
            forced: flag(s, "forced"),
        };
        match kind {
            "video" if Some(index) == main_video => {
                out.video = t.clone();
                if s.get("closed_captions").and_then(Value::as_i64) == Some(1) {
                    out.dropped.push(format!(
                        "closed captions in video track {index}: the stereo encode does not carry \
                         captions embedded in the picture stream"
                    ));
                }
            }
            "video" if flag(s, "attached_pic") => {
                if codec.is_some_and(|c| COVER_CODECS.contains(&c)) {
                    out.streams
                        .push(track(TrackKind::CoverArt, TrackAction::Copy, 0, None));
                } else {
                    out.dropped.push(format!(
                        "cover art {}: MP4 cover art must be JPEG, PNG or BMP",
                        describe(index, &shown, &t, None)
                    ));
                }
            }
            "video" => out.dropped.push(format!(
                "video track {}: only the main video is converted to 3D",
                describe(index, &shown, &t, None)
            )),
            "audio" => {
                let channels = s.get("channels").and_then(Value::as_u64).unwrap_or(0) as u32;
                let layout = text(s, "/channel_layout");
                match codec {
                    None => out.dropped.push(format!(
                        "audio track {}: unknown codec, nothing can decode it",
                        describe(index, &shown, &t, None)
                    )),
                    Some(c) if MP4_AUDIO_COPY.contains(&c) => {
                        out.streams.push(track(
                            TrackKind::Audio,
                            TrackAction::Copy,
                            channels,
                            layout,
                        ));
                    }
                    Some(_) => {
                        if channels > AAC_MAX_CHANNELS {
                            out.dropped.push(format!(
                                "audio track {}: {channels} channels downmixed to \
                                 {AAC_MAX_CHANNELS} (MP4 cannot hold the codec, and AAC holds \
                                 at most {AAC_MAX_CHANNELS})",
                                describe(index, &shown, &t, None)
                            ));
                        }
                        let ch = channels.min(AAC_MAX_CHANNELS);
                        out.streams
                            .push(track(TrackKind::Audio, TrackAction::Aac, ch, layout));
                    }
                }
            }
            "subtitle" => match codec {
                Some("mov_text") => {
                    out.streams
                        .push(track(TrackKind::Subtitle, TrackAction::Copy, 0, None));
                }
                Some(c) if TEXT_SUBTITLES.contains(&c) => {
                    out.streams
                        .push(track(TrackKind::Subtitle, TrackAction::MovText, 0, None));
                }
                Some(c) => {
                    let why = match BITMAP_SUBTITLES.iter().find(|(k, _)| *k == c) {
                        Some((_, name)) => format!("MP4 cannot hold bitmap ({name}) subtitles"),
                        None => "MP4 has no way to hold this subtitle format".to_string(),
                    };
                    out.dropped.push(format!(
                        "subtitle track {}: {why}",
                        describe(index, &shown, &t, None)
                    ));
                }
                None => out.dropped.push(format!(
                    "subtitle track {}: unknown subtitle format",
                    describe(index, &shown, &t, None)
                )),
            },
            // MP4 inputs with chapters carry them in a QuickTime text track too: that track is
            // the chapters (copied as chapters), not a loss.
            "data" if chapters > 0 && text(s, "/codec_tag_string") == Some("text") => {}
            "data" => out.dropped.push(format!(
                "data track {}: MP4 output carries no data tracks",
                describe(index, &shown, &t, text(s, "/codec_tag_string"))
            )),
            "attachment" => {
                let name = text(s, "/tags/filename").unwrap_or("unnamed");
                out.dropped.push(format!(
                    "attachment {index} ({name}): MP4 cannot hold attachments"
                ));
            }
            other => out.dropped.push(format!(
                "stream {index} ({} {shown}): not carried to MP4",
                if other.is_empty() { "unknown" } else { other }
            )),
        }
    }
    let mut lost = Vec::new();
    if let Some(tags) = json.pointer("/format/tags").and_then(Value::as_object) {
        for (key, value) in tags {
            let k = key.to_ascii_lowercase();
            if MP4_TAGS.contains(&k.as_str()) {
                out.metadata.push(key.clone());
            } else if !TECHNICAL_TAGS.contains(&k.as_str())
                && !k.starts_with('_')
                && value.as_str().is_some_and(|v| !v.trim().is_empty())
            {
                lost.push(key.clone());
            }
        }
    }
    if !lost.is_empty() {
        out.dropped.push(format!(
            "metadata {}: MP4 has no field for {}",
            lost.join(", "),
            if lost.len() == 1 { "it" } else { "them" }
        ));
    }
    // Titles and file names come from the input: keep each reason on one line.
    for line in &mut out.dropped {
        if line.contains(char::is_control) {
            *line = line.replace(char::is_control, " ");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn video() -> Value {
        json!({"index":0,"codec_type":"video","codec_name":"h264",
            "tags":{"language":"eng","title":"Main"}})
    }

    #[test]
    fn two_audio_tracks_and_text_subtitles_are_carried_in_order() {
        let j = json!({"streams":[video(),
            {"index":1,"codec_type":"audio","codec_name":"aac","channels":2,
             "channel_layout":"stereo","tags":{"language":"eng","title":"Stereo"},
             "disposition":{"default":1,"forced":0}},
            {"index":2,"codec_type":"audio","codec_name":"ac3","channels":6,
             "channel_layout":"5.1(side)","tags":{"language":"fra"}},
            {"index":3,"codec_type":"subtitle","codec_name":"subrip",
             "tags":{"language":"eng","title":"Full"},"disposition":{"default":0,"forced":1}}],
            "format":{"start_time":"1.400000"}});
        let p = plan(&j, Some(0));
        assert!(p.planned);
        assert!(p.dropped.is_empty(), "{:?}", p.dropped);
        assert_eq!(p.container_start, 1.4);
        assert_eq!(p.video.language.as_deref(), Some("eng"));
        assert_eq!(p.video.title.as_deref(), Some("Main"));
        let got: Vec<_> = p
            .streams
            .iter()
            .map(|t| (t.index, t.kind, t.action, t.channels))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, TrackKind::Audio, TrackAction::Copy, 2),
                (2, TrackKind::Audio, TrackAction::Copy, 6),
                (3, TrackKind::Subtitle, TrackAction::MovText, 0),
            ]
        );
        assert!(p.streams[0].default && !p.streams[0].forced);
        assert_eq!(p.streams[0].tags.title.as_deref(), Some("Stereo"));
        assert_eq!(p.streams[1].channel_layout.as_deref(), Some("5.1(side)"));
        assert_eq!(p.streams[1].tags.title, None);
        assert!(p.streams[2].forced && !p.streams[2].default);
    }

    #[test]
    fn codecs_mp4_cannot_hold_are_transcoded_keeping_channels() {
        let j = json!({"streams":[video(),
            {"index":1,"codec_type":"audio","codec_name":"flac","channels":6,
             "channel_layout":"5.1(side)"},
            {"index":2,"codec_type":"audio","codec_name":"pcm_s16le","channels":2},
            {"index":3,"codec_type":"audio","codec_name":"pcm_s24le","channels":12},
            {"index":4,"codec_type":"audio","codec_name":"opus","channels":2}]});
        let p = plan(&j, Some(0));
        let got: Vec<_> = p.streams.iter().map(|t| (t.action, t.channels)).collect();
        assert_eq!(
            got,
            vec![
                (TrackAction::Aac, 6),
                (TrackAction::Aac, 2),
                (TrackAction::Aac, 8),
                (TrackAction::Copy, 2)
            ]
        );
        assert_eq!(p.dropped.len(), 1, "{:?}", p.dropped);
        assert!(
            p.dropped[0].starts_with("audio track 3 (pcm_s24le): 12 channels downmixed to 8"),
            "{}",
            p.dropped[0]
        );
    }

    #[test]
    fn what_mp4_cannot_carry_is_named_with_the_reason() {
        let j = json!({"streams":[video(),
            {"index":1,"codec_type":"subtitle","codec_name":"hdmv_pgs_subtitle",
             "tags":{"language":"eng"}},
            {"index":2,"codec_type":"attachment","codec_name":"ttf",
             "tags":{"filename":"font.ttf","mimetype":"font/ttf"}},
            {"index":3,"codec_type":"data","codec_name":"bin_data","codec_tag_string":"gpmd"},
            {"index":4,"codec_type":"video","codec_name":"h264"},
            {"index":5,"codec_type":"video","codec_name":"png","disposition":{"attached_pic":1}},
            {"index":6,"codec_type":"video","codec_name":"gif","disposition":{"attached_pic":1}},
            {"index":7,"codec_type":"subtitle","codec_name":"dvd_subtitle"},
            {"index":8,"codec_type":"audio","codec_tag_string":"XYZW"}],
            "format":{"tags":{"title":"T","ARTIST":"A","major_brand":"isom","DIRECTOR":"D",
                "com.apple.quicktime.make":"Apple","encoder":"x"}}});
        let p = plan(&j, Some(0));
        assert_eq!(
            p.dropped,
            vec![
                "subtitle track 1 (hdmv_pgs_subtitle, eng): MP4 cannot hold bitmap (PGS) subtitles",
                "attachment 2 (font.ttf): MP4 cannot hold attachments",
                "data track 3 (bin_data, gpmd): MP4 output carries no data tracks",
                "video track 4 (h264): only the main video is converted to 3D",
                "cover art 6 (gif): MP4 cover art must be JPEG, PNG or BMP",
                "subtitle track 7 (dvd_subtitle): MP4 cannot hold bitmap (DVD/VobSub) subtitles",
                "audio track 8 ('XYZW'): unknown codec, nothing can decode it",
                "metadata DIRECTOR, com.apple.quicktime.make: MP4 has no field for them",
            ]
        );
        let kept: Vec<_> = p.streams.iter().map(|t| (t.index, t.kind)).collect();
        assert_eq!(kept, vec![(5, TrackKind::CoverArt)]);
        let mut meta = p.metadata.clone();
        meta.sort();
        assert_eq!(meta, vec!["ARTIST", "title"]);
    }

    #[test]
    fn chapters_are_counted_and_their_mp4_text_track_is_not_a_loss() {
        let j = json!({"streams":[video(),
            {"index":1,"codec_type":"data","codec_name":"bin_data","codec_tag_string":"text"}],
            "chapters":[{"id":0},{"id":1}]});
        let p = plan(&j, Some(0));
        assert_eq!(p.chapters, 2);
        assert!(p.dropped.is_empty(), "{:?}", p.dropped);
        assert!(p.needs_original());
        let bare = plan(
            &json!({"streams":[{"index":0,"codec_type":"video"}]}),
            Some(0),
        );
        assert!(!bare.needs_original() && bare.dropped.is_empty());
        assert_eq!(bare.container_start, 0.0);
    }

    #[test]
    fn embedded_closed_captions_are_reported() {
        let j = json!({"streams":[{"index":0,"codec_type":"video","codec_name":"h264",
            "closed_captions":1}]});
        let p = plan(&j, Some(0));
        assert_eq!(p.dropped.len(), 1);
        assert!(p.dropped[0].starts_with("closed captions in video track 0"));
    }
}
