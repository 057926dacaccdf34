//! Every audio and subtitle track, chapters and metadata reach the 3D output (or are named in
//! one warning): generated clips, `stereospot convert`, then ffprobe/ffmpeg on the output.
use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const FPS: f64 = 24.0;
/// One frame, plus the AAC encoder's priming slack (as the single-track sync test allows).
const SYNC_SLACK: f64 = 1.0 / FPS + 0.025;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// 3 s, 320x180, 24 fps, B-frames, a keyframe a second, a white flash at 1.5 s.
const FLASH_VIDEO: &str = "testsrc2=size=320x180:rate=24:duration=3,\
    drawbox=c=white:t=fill:enable='between(t,1.5,1.54)'";

/// A tone of `freq` Hz switched on at exactly 1.5 s (silence before).
fn tone_at_1_5(freq: u32) -> String {
    format!("sine=frequency={freq}:sample_rate=48000:duration=3,volume=enable='lt(t,1.5)':volume=0")
}

/// Parse SRT text into (start s, end s, text) cues.
fn srt_cues(text: &str) -> Vec<(f64, f64, String)> {
    let time = |t: &str| -> f64 {
        let t = t.trim().replace(',', ".");
        let parts: Vec<f64> = t.split(':').map(|p| p.parse().expect("srt time")).collect();
        parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
    };
    text.replace('\r', "")
        .split("\n\n")
        .filter_map(|block| {
            let mut lines = block.lines().filter(|l| !l.trim().is_empty());
            lines.next()?; // cue number
            let (a, b) = lines.next()?.split_once("-->")?;
            let body: Vec<&str> = lines.collect();
            Some((time(a), time(b), body.join("\n")))
        })
        .collect()
}

/// Start of the first video frame on the file's timeline: other tracks are compared with the
/// picture, in the input and in the output, relative to it.
fn picture_start(path: &Path) -> f64 {
    frame_times(path)[0]
}

/// Subtitle cues of a file as SRT, on the file's own timeline (no shift to zero).
fn cues_of(path: &Path) -> Vec<(f64, f64, String)> {
    let got = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-copyts", "-i"])
        .arg(path)
        .args(["-map", "0:s:0", "-f", "srt", "-"])
        .output()
        .unwrap();
    assert!(got.status.success());
    srt_cues(&String::from_utf8_lossy(&got.stdout))
}

/// (tone onset - flash) in seconds for audio track `track`, on the file's timeline.
fn tone_after_flash(path: &Path, track: usize) -> f64 {
    let flash = frame_times(path)[brightest_frame(path)];
    let pcm = decode_audio_on_timeline(path, &format!("a:{track}"), 48000);
    onset(&pcm, 48000) - flash
}

fn tag<'a>(s: &'a Value, key: &str) -> &'a str {
    s["tags"][key].as_str().unwrap_or("")
}

/// Run the conversion: (output, summary, stderr).
fn convert_ok(input: &Path, dir: &Path, args: &[&str]) -> (PathBuf, Value, String) {
    let output = dir.join("out.mp4");
    // CPU explicitly: `auto` warns that there is no GPU, and the warnings are counted here.
    let args = [&["--device", "cpu"], args].concat();
    let out = convert(input, &output, &dir.join("wd"), &args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let sum = summary(&out);
    (output, sum, stderr)
}

/// Warnings about what the output does not carry: the CLI's one line, or a log line of the
/// same (which would be a duplicate). Other warnings (a transient retry on a loaded machine)
/// are not about tracks.
fn warning_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("warn") && (l.contains("carry") || l.contains("carried"))
        })
        .collect()
}

/// Every audio track starts its tone with the flash (within one frame), as in the input.
fn assert_tracks_in_sync(input: &Path, output: &Path, tracks: usize) {
    assert_eq!(
        brightest_frame(output),
        36,
        "the flash is frame 36 (1.5 s at 24 fps)"
    );
    for i in 0..tracks {
        let (din, dout) = (tone_after_flash(input, i), tone_after_flash(output, i));
        assert!(
            din.abs() < SYNC_SLACK,
            "input track {i}: tone {din:.4} s after the flash"
        );
        assert!(
            dout.abs() < SYNC_SLACK && (dout - din).abs() < 1.0 / FPS,
            "audio track {i}: tone {dout:.4} s after the flash (input: {din:.4} s)"
        );
    }
}

#[test]
fn tracks_two_audio_and_text_subtitles_keep_order_tags_cues_and_sync() {
    let dir = tempfile::tempdir().unwrap();
    let srt = dir.path().join("in.srt");
    let cues = "1\n00:00:00,500 --> 00:00:01,250\nHello, 3D world\n\n\
                2\n00:00:01,500 --> 00:00:02,750\nSecond cue\nwith two lines\n";
    std::fs::write(&srt, cues).unwrap();
    let input = dir.path().join("in.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        FLASH_VIDEO,
        "-f",
        "lavfi",
        "-i",
        &tone_at_1_5(1000),
        "-f",
        "lavfi",
        "-i",
        &tone_at_1_5(500),
        "-i",
        s(&srt),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        "-map",
        "3:s",
        "-c:v",
        "libx264",
        "-bf",
        "2",
        "-g",
        "24",
        "-c:a:0",
        "aac",
        "-c:a:1",
        "ac3",
        "-c:s",
        "srt",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:0",
        "title=English stereo",
        "-metadata:s:a:1",
        "language=fra",
        "-metadata:s:a:1",
        "title=Français",
        "-metadata:s:s:0",
        "language=eng",
        "-metadata:s:s:0",
        "title=English subtitles",
        "-disposition:a:0",
        "default",
        "-disposition:a:1",
        "0",
        "-disposition:s:0",
        "forced",
        s(&input),
    ]);
    let (output, sum, stderr) = convert_ok(&input, dir.path(), &["--segment-seconds", "1"]);
    assert!(sum["segments"].as_u64().unwrap() >= 3, "{sum}");
    assert_eq!(sum["dropped"], serde_json::json!([]), "{sum}");
    assert!(warning_lines(&stderr).is_empty(), "{stderr}");

    let p = probe(&output);
    assert_eq!(decoded_frames(&p), 72);
    let audio = streams(&p, "audio");
    let subs = streams(&p, "subtitle");
    assert_eq!((audio.len(), subs.len()), (2, 1), "{p}");
    // In order: video, the two audio tracks as they were, then the subtitles.
    let order: Vec<u64> = [audio[0], audio[1], subs[0]]
        .iter()
        .map(|s| s["index"].as_u64().unwrap())
        .collect();
    assert_eq!(order, vec![1, 2, 3]);
    assert_eq!(audio[0]["codec_name"], "aac");
    assert_eq!(audio[1]["codec_name"], "ac3", "AC-3 is copied");
    assert_eq!(
        (tag(audio[0], "language"), tag(audio[0], "handler_name")),
        ("eng", "English stereo")
    );
    assert_eq!(
        (tag(audio[1], "language"), tag(audio[1], "handler_name")),
        ("fra", "Français")
    );
    let defaults: Vec<_> = audio
        .iter()
        .map(|a| a["disposition"]["default"].as_i64())
        .collect();
    assert_eq!(defaults, vec![Some(1), Some(0)]);
    assert_eq!(subs[0]["codec_name"], "mov_text");
    assert_eq!(
        (tag(subs[0], "language"), tag(subs[0], "handler_name")),
        ("eng", "English subtitles")
    );
    assert_eq!(subs[0]["disposition"]["forced"], 1);

    // Cue text and timing relative to the picture: the input's cues against the output's.
    let (want, got) = (cues_of(&input), cues_of(&output));
    assert_eq!(want.len(), srt_cues(cues).len());
    assert_eq!(got.len(), want.len(), "{got:?}");
    let (vin, vout) = (picture_start(&input), picture_start(&output));
    for ((ws, we, wt), (gs, ge, gt)) in want.iter().zip(&got) {
        assert_eq!(wt, gt);
        assert!(
            ((ws - vin) - (gs - vout)).abs() <= 0.002 && ((we - vin) - (ge - vout)).abs() <= 0.002,
            "cue {wt:?}: {gs}-{ge} (picture at {vout}), input {ws}-{we} (picture at {vin})"
        );
    }
    assert_tracks_in_sync(&input, &output, 2);
}

/// A transport stream (broadcast, Blu-ray) starts at 1.4 s, not 0: the tracks must still line up.
#[test]
fn tracks_transport_stream_with_late_start_keeps_both_audio_tracks_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.ts");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        FLASH_VIDEO,
        "-f",
        "lavfi",
        "-i",
        &tone_at_1_5(1000),
        "-f",
        "lavfi",
        "-i",
        &tone_at_1_5(500),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        "-c:v",
        "libx264",
        "-bf",
        "2",
        "-g",
        "24",
        "-c:a:0",
        "aac",
        "-c:a:1",
        "mp2",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:1",
        "language=deu",
        s(&input),
    ]);
    let start = num(&probe(&input)["format"]["start_time"]);
    assert!(start > 1.0, "a TS input starting late ({start})");
    let (output, sum, _) = convert_ok(&input, dir.path(), &["--segment-seconds", "1"]);
    assert_eq!(sum["output_frames"], 72, "{sum}");
    let p = probe(&output);
    let audio = streams(&p, "audio");
    assert_eq!(audio.len(), 2, "{p}");
    assert_eq!(audio[0]["codec_name"], "aac");
    assert_ne!(
        audio[1]["codec_name"], "aac",
        "MPEG audio is copied, not re-encoded"
    );
    assert_eq!(
        (tag(audio[0], "language"), tag(audio[1], "language")),
        ("eng", "deu")
    );
    assert_tracks_in_sync(&input, &output, 2);
}

/// Power of `freq` in `x` (Goertzel): which tone a channel carries.
fn tone_power(x: &[f32], freq: f64, rate: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate;
    let (re, im) = x.iter().enumerate().fold((0.0, 0.0), |(re, im), (i, v)| {
        let a = w * i as f64;
        (re + *v as f64 * a.cos(), im + *v as f64 * a.sin())
    });
    (re * re + im * im).sqrt()
}

/// For each of `channels` channels, which of `freqs` it carries (decoded by ffmpeg's own order).
fn channel_tones(path: &Path, channels: usize, freqs: &[f64]) -> Vec<usize> {
    let pcm = decode_audio_channels(path, "a:0", 48000);
    (0..channels)
        .map(|c| {
            let x: Vec<f32> = pcm
                .iter()
                .skip(c)
                .step_by(channels)
                .skip(4800)
                .take(9600)
                .copied()
                .collect();
            let p: Vec<f64> = freqs.iter().map(|f| tone_power(&x, *f, 48000.0)).collect();
            let best = (0..freqs.len())
                .max_by(|a, b| p[*a].total_cmp(&p[*b]))
                .unwrap();
            let second = p
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != best)
                .map(|(_, v)| *v)
                .fold(0.0, f64::max);
            assert!(
                p[best] > 20.0 * second.max(1e-9),
                "channel {c} of {}: {p:?}",
                path.display()
            );
            best
        })
        .collect()
}

#[test]
fn tracks_5_1_flac_becomes_aac_5_1_and_chapters_and_metadata_survive() {
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join("meta.txt");
    std::fs::write(
        &meta,
        ";FFMETADATA1\ntitle=A Film in 3D\nartist=Test Artist\ncomment=made by a test\n\n\
         [CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=Opening\n\n\
         [CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=Finale\n",
    )
    .unwrap();
    let input = dir.path().join("in.mkv");
    let freqs = [300.0, 450.0, 600.0, 60.0, 900.0, 1200.0];
    let mut graph = String::new();
    for (i, f) in freqs.iter().enumerate() {
        graph += &format!("sine=frequency={f}:sample_rate=48000:duration=2[a{i}];");
    }
    graph += "[a0][a1][a2][a3][a4][a5]join=inputs=6:channel_layout=5.1(side)[a]";
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=24:duration=2",
        "-i",
        s(&meta),
        "-filter_complex",
        &graph,
        "-map",
        "0:v",
        "-map",
        "[a]",
        "-map_metadata",
        "1",
        "-map_chapters",
        "1",
        "-c:v",
        "libx264",
        "-g",
        "24",
        "-c:a",
        "flac",
        s(&input),
    ]);
    let pin = probe(&input);
    let ain = stream(&pin, "audio").unwrap();
    assert_eq!(
        (ain["codec_name"].as_str(), ain["channels"].as_u64()),
        (Some("flac"), Some(6))
    );

    let (output, sum, stderr) = convert_ok(&input, dir.path(), &[]);
    assert_eq!(sum["dropped"], serde_json::json!([]), "{sum}");
    assert!(warning_lines(&stderr).is_empty(), "{stderr}");
    let p = probe(&output);
    let audio = streams(&p, "audio");
    assert_eq!(audio.len(), 1);
    assert_eq!(
        audio[0]["codec_name"], "aac",
        "MP4 cannot hold FLAC without -strict"
    );
    assert_eq!(audio[0]["channels"], 6);
    assert_eq!(audio[0]["channel_layout"], "5.1");
    // Each channel still carries its own tone (no downmix, no shuffle).
    assert_eq!(
        channel_tones(&output, 6, &freqs),
        channel_tones(&input, 6, &freqs)
    );

    let tags = &p["format"]["tags"];
    assert_eq!(
        (
            tags["title"].as_str(),
            tags["artist"].as_str(),
            tags["comment"].as_str()
        ),
        (
            Some("A Film in 3D"),
            Some("Test Artist"),
            Some("made by a test")
        )
    );
    // Chapters: titles and times relative to the picture, as in the input.
    let chapters = |p: &Value| -> Vec<(String, f64, f64)> {
        p["chapters"]
            .as_array()
            .expect("chapters")
            .iter()
            .map(|c| {
                (
                    tag(c, "title").to_string(),
                    num(&c["start_time"]),
                    num(&c["end_time"]),
                )
            })
            .collect()
    };
    let (cin, cout) = (chapters(&pin), chapters(&p));
    let titles: Vec<&str> = cout.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(titles, vec!["Opening", "Finale"]);
    let (vin, vout) = (picture_start(&input), picture_start(&output));
    for ((title, start, end), (_, s0, e0)) in cout.iter().zip(&cin) {
        assert!(
            ((start - vout) - (s0 - vin)).abs() <= 0.002 && ((end - vout) - (e0 - vin)).abs() <= 0.002,
            "chapter {title}: {start}-{end} (picture at {vout}), input {s0}-{e0} (picture at {vin})"
        );
    }
}

/// A minimal Blu-ray PGS (.sup) stream: one 40x10 box shown from 0.5 s to 1.0 s on a w x h
/// canvas (presentation, window, palette, object and end segments, then a clearing set).
fn write_pgs(path: &Path, w: u16, h: u16) {
    fn seg(out: &mut Vec<u8>, pts_90k: u32, kind: u8, data: &[u8]) {
        out.extend(b"PG");
        out.extend(pts_90k.to_be_bytes());
        out.extend(pts_90k.to_be_bytes());
        out.push(kind);
        out.extend((data.len() as u16).to_be_bytes());
        out.extend(data);
    }
    let (ow, oh, x, y) = (40u16, 10u16, 140u16, 160u16);
    let pcs = |number: u16, state: u8, objects: u8| {
        let mut d = Vec::new();
        d.extend(w.to_be_bytes());
        d.extend(h.to_be_bytes());
        d.extend([0x10]);
        d.extend(number.to_be_bytes());
        d.extend([state, 0, 0, objects]);
        if objects > 0 {
            d.extend([0, 0, 0, 0]); // object 0, window 0, not cropped
            d.extend(x.to_be_bytes());
            d.extend(y.to_be_bytes());
        }
        d
    };
    let mut wds = vec![1, 0];
    for v in [x, y, ow, oh] {
        wds.extend(v.to_be_bytes());
    }
    let mut rle = Vec::new();
    for _ in 0..oh {
        rle.extend([0x00, 0x80 | ow as u8, 0x01, 0x00, 0x00]); // a run of colour 1, end of line
    }
    let mut ods = vec![0, 0, 0, 0xC0];
    ods.extend(&((rle.len() + 4) as u32).to_be_bytes()[1..]);
    ods.extend(ow.to_be_bytes());
    ods.extend(oh.to_be_bytes());
    ods.extend(&rle);
    let mut out = Vec::new();
    seg(&mut out, 45_000, 0x16, &pcs(0, 0x80, 1));
    seg(&mut out, 45_000, 0x17, &wds);
    seg(&mut out, 45_000, 0x14, &[0, 0, 1, 235, 128, 128, 255]);
    seg(&mut out, 45_000, 0x15, &ods);
    seg(&mut out, 45_000, 0x80, &[]);
    seg(&mut out, 90_000, 0x16, &pcs(1, 0x00, 0));
    seg(&mut out, 90_000, 0x17, &wds);
    seg(&mut out, 90_000, 0x80, &[]);
    std::fs::write(path, out).unwrap();
}

#[test]
fn tracks_what_mp4_cannot_carry_is_named_in_one_warning_and_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let sup = dir.path().join("subs.sup");
    write_pgs(&sup, 320, 180);
    let font = dir.path().join("font.ttf");
    std::fs::write(&font, b"not really a font").unwrap();
    let cover = dir.path().join("cover.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=red:size=64x64",
        "-frames:v",
        "1",
        s(&cover),
    ]);
    let input = dir.path().join("in.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=24:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1",
        "-i",
        s(&sup),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:s",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        "-c:s",
        "copy",
        "-metadata:s:s:0",
        "language=eng",
        "-attach",
        s(&font),
        "-metadata:s:t:0",
        "mimetype=font/ttf",
        "-attach",
        s(&cover),
        "-metadata:s:t:1",
        "mimetype=image/png",
        s(&input),
    ]);
    let pin = probe(&input);
    assert_eq!(
        stream(&pin, "subtitle").map(|s| s["codec_name"].clone()),
        Some("hdmv_pgs_subtitle".into()),
        "{pin}"
    );

    let (output, sum, stderr) = convert_ok(&input, dir.path(), &[]);
    let dropped: Vec<&str> = sum["dropped"]
        .as_array()
        .expect("dropped array")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    assert!(
        dropped[0].contains("hdmv_pgs_subtitle") && dropped[0].contains("bitmap"),
        "{dropped:?}"
    );
    assert!(
        dropped[1].contains("font.ttf") && dropped[1].contains("attachments"),
        "{dropped:?}"
    );
    let warnings = warning_lines(&stderr);
    assert_eq!(warnings.len(), 1, "exactly one warning line: {stderr}");
    assert!(
        warnings[0].contains("hdmv_pgs_subtitle") && warnings[0].contains("font.ttf"),
        "{stderr}"
    );

    let p = probe(&output);
    assert_eq!(decoded_frames(&p), 24);
    assert_eq!(streams(&p, "audio").len(), 1);
    assert!(streams(&p, "subtitle").is_empty());
    // The PNG cover is kept as MP4 cover art.
    let videos = streams(&p, "video");
    assert_eq!(videos.len(), 2, "{p}");
    assert_eq!(videos[1]["codec_name"], "png");
    assert_eq!(videos[1]["disposition"]["attached_pic"], 1);
}
