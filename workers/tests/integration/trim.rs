//! `convert --start/--end`: exactly the frames in range, each at its own time, audio, subtitles
//! and chapters cut to match; bad values give one clear error. Generated clips whose frames are
//! flat grey levels numbering them (level = 16 + 4 * frame), so any decoded frame says which
//! source frame it is.
use crate::util::*;
use std::path::Path;

const FPS: f64 = 12.0;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Flat frames numbered by their grey level (4 levels apart, so encoding error cannot blur
/// neighbours), `seconds` long at 12 fps.
fn numbered(seconds: u32, size: &str) -> String {
    format!("color=c=black:s={size}:r=12:d={seconds},geq=lum='16+4*N':cb=128:cr=128")
}

/// Which source frame a decoded RGB frame is (from the mean red of its left quarter, which a
/// flat frame keeps whatever the depth shift).
fn frame_number(frame: &[u8], w: u32) -> f64 {
    let part = crop_cols(frame, w, 0, w / 4);
    let red: f64 = part.chunks_exact(3).map(|p| p[0] as f64).sum::<f64>() / (part.len() / 3) as f64;
    // Full-range red of limited-range luma Y is (Y - 16) * 255 / 219; Y = 16 + 4 N.
    red * 219.0 / 255.0 / 4.0
}

fn srt_cues(path: &Path) -> Vec<(f64, f64, String)> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-map", "0:s:0", "-f", "srt", "-"])
        .output()
        .expect("ffmpeg");
    assert!(out.status.success());
    let time = |t: &str| -> f64 {
        let p: Vec<f64> = t
            .trim()
            .replace(',', ".")
            .split(':')
            .map(|x| x.parse().expect("time"))
            .collect();
        p[0] * 3600.0 + p[1] * 60.0 + p[2]
    };
    String::from_utf8_lossy(&out.stdout)
        .replace('\r', "")
        .split("\n\n")
        .filter_map(|b| {
            let mut l = b.lines().filter(|l| !l.trim().is_empty());
            l.next()?;
            let (a, e) = l.next()?.split_once("-->")?;
            Some((time(a), time(e), l.collect::<Vec<_>>().join("\n")))
        })
        .collect()
}

#[test]
fn trimming_keeps_exactly_the_frames_in_range_with_audio_subtitles_and_chapters() {
    let d = tempfile::tempdir().expect("tempdir");
    let (src, out, work) = (
        d.path().join("film.mp4"),
        d.path().join("part.mp4"),
        d.path().join("work"),
    );
    let srt = d.path().join("subs.srt");
    std::fs::write(
        &srt,
        "1\n00:00:00,500 --> 00:00:01,000\nbefore\n\n\
         2\n00:00:02,200 --> 00:00:02,800\ninside\n\n\
         3\n00:00:03,200 --> 00:00:03,600\nafter\n",
    )
    .expect("srt");
    let chapters = d.path().join("chapters.txt");
    std::fs::write(
        &chapters,
        ";FFMETADATA1\ntitle=Film\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=2000\ntitle=One\n\
         [CHAPTER]\nTIMEBASE=1/1000\nSTART=2000\nEND=4000\ntitle=Two\n",
    )
    .expect("chapters");
    // 4 s, B-frames, a keyframe a second (the cut at 1.5 s is mid-GOP); a tone from 2.0 s.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &numbered(4, "160x96"),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=4,volume=enable='lt(t,2)':volume=0",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=880:sample_rate=44100:duration=4,volume=enable='lt(t,2.5)':volume=0",
        "-i",
        s(&srt),
        "-i",
        s(&chapters),
        "-map",
        "0",
        "-map",
        "1",
        "-map",
        "2",
        "-map",
        "3",
        "-map_metadata",
        "4",
        "-map_chapters",
        "4",
        "-c:v",
        "libx264",
        "-g",
        "12",
        "-qp",
        "0",
        "-c:a",
        "aac",
        "-c:s",
        "mov_text",
        "-metadata:s:s:0",
        "language=fra",
        s(&src),
    ]);
    let run = convert(
        &src,
        &out,
        &work,
        &[
            "--start",
            "00:00:01.5",
            "--end",
            "3",
            "--layout",
            "half-sbs",
        ],
    );
    let sum = summary(&run);
    // Frames 18..=35: the ones whose time is in [1.5, 3.0).
    assert_eq!(sum["input_frames"], 18, "{sum}");
    assert_eq!(sum["output_frames"], 18, "{sum}");
    assert_eq!(sum["input"], s(&src));
    let p = probe(&out);
    assert_eq!(decoded_frames(&p), 18);
    let (w, _, frames) = decode_rgb(&out);
    assert_eq!(frames.len(), 18);
    let first = frame_number(&frames[0], w);
    let last = frame_number(&frames[17], w);
    assert!(
        (first - 18.0).abs() < 0.5,
        "first frame is source frame {first}"
    );
    assert!(
        (last - 35.0).abs() < 0.5,
        "last frame is source frame {last}"
    );
    // Each frame at its own time relative to the first kept one.
    let times = frame_times(&out);
    assert_eq!(times.len(), 18);
    for (i, t) in times.iter().enumerate() {
        let want = i as f64 / FPS;
        assert!(
            (t - times[0] - want).abs() < 1e-3,
            "frame {i} at {t}, want {want}"
        );
    }
    // Audio: as long as the picture (within one AAC frame), the tone starting 0.5 s in.
    let pcm = decode_audio(&out, 48000);
    let audio_s = pcm.len() as f64 / 48000.0;
    let video_s = 18.0 / FPS;
    assert!(
        (audio_s - video_s).abs() <= 1024.0 / 48000.0,
        "audio {audio_s} s, video {video_s} s"
    );
    let a = stream(&p, "audio").expect("audio");
    assert!(
        (num(&a["duration"]) - video_s).abs() <= 1024.0 / 48000.0,
        "{a}"
    );
    let on = onset(&pcm, 48000);
    assert!((on - 0.5).abs() < 1.0 / FPS, "tone at {on} s, want 0.5");
    // The second audio track is cut the same way: its tone (from 2.5 s) starts 1.0 s in.
    assert_eq!(streams(&p, "audio").len(), 2);
    let pcm2 = decode_audio_stream(&out, "a:1", 48000);
    let audio2_s = pcm2.len() as f64 / 48000.0;
    assert!(
        (audio2_s - video_s).abs() <= 1024.0 / 44100.0,
        "second audio {audio2_s} s"
    );
    let on2 = onset(&pcm2, 48000);
    assert!(
        (on2 - 1.0).abs() < 1.0 / FPS,
        "second tone at {on2} s, want 1.0"
    );
    // Subtitles shifted, those outside the range left out; language kept.
    let cues = srt_cues(&out);
    assert_eq!(cues.len(), 1, "{cues:?}");
    assert_eq!(cues[0].2, "inside");
    assert!(
        (cues[0].0 - 0.7).abs() < 0.01 && (cues[0].1 - 1.3).abs() < 0.01,
        "{cues:?}"
    );
    let sub = stream(&p, "subtitle").expect("subtitle");
    assert_eq!(sub["tags"]["language"], "fra");
    // Chapters shifted and clipped to the 1.5 s part.
    let ch = p["chapters"].as_array().expect("chapters");
    assert_eq!(ch.len(), 2, "{ch:?}");
    assert!(num(&ch[1]["start_time"]) - 0.5 < 0.01, "{ch:?}");
    assert_eq!(ch[1]["tags"]["title"], "Two");
    assert!(num(&ch[1]["end_time"]) <= 1.51, "{ch:?}");
    assert_eq!(p["format"]["tags"]["title"], "Film");
    // The trimmed copy is removed after success.
    let left: Vec<_> = std::fs::read_dir(work.join("trim"))
        .map(|r| r.filter_map(|e| e.ok()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn trimming_a_10_bit_source_keeps_its_depth_and_colour() {
    let d = tempfile::tempdir().expect("tempdir");
    let (src, out) = (d.path().join("ten.mkv"), d.path().join("ten_3d.mp4"));
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &numbered(2, "128x64"),
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p10le",
        "-colorspace",
        "bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        s(&src),
    ]);
    let sum = summary(&convert(
        &src,
        &out,
        &d.path().join("work"),
        &["--start", "0.5", "--end", "1.5"],
    ));
    assert_eq!(sum["output_frames"], 12, "{sum}");
    assert_eq!(sum["video"]["pix_fmt"], "yuv420p10le", "{sum}");
    let p = probe(&out);
    let v = stream(&p, "video").expect("video");
    assert_eq!(v["pix_fmt"], "yuv420p10le");
    assert_eq!(v["color_space"], "bt709");
    assert_eq!(v["color_primaries"], "bt709");
    assert_eq!(v["color_transfer"], "bt709");
    let (w, _, frames) = decode_rgb(&out);
    let first = frame_number(&frames[0], w / 2);
    assert!(
        (first - 6.0).abs() < 0.5,
        "first frame is source frame {first}"
    );
}

#[test]
fn bad_start_and_end_values_give_clear_errors() {
    let d = tempfile::tempdir().expect("tempdir");
    let (src, out, work) = (
        d.path().join("short.mp4"),
        d.path().join("o.mp4"),
        d.path().join("work"),
    );
    ffmpeg(&["-f", "lavfi", "-i", &numbered(2, "64x48"), s(&src)]);
    for (args, want) in [
        (&["--start", "abc"][..], "invalid time 'abc'"),
        (
            &["--end", "1:75"][..],
            "minutes and seconds must be below 60",
        ),
        (&["--start=-1"][..], "invalid time '-1'"),
        (
            &["--start", "1.5", "--end", "0:01"][..],
            "--start (1.5 s) must be before --end (1 s)",
        ),
        (
            &["--start", "10"][..],
            "--start 10 s is beyond the end of the video (2 s)",
        ),
    ] {
        let run = convert(&src, &out, &work, args);
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} left an output");
    }
}

#[test]
fn trimming_a_variable_frame_rate_clip_keeps_each_frame_at_its_own_time() {
    let d = tempfile::tempdir().expect("tempdir");
    let (src, out) = (d.path().join("phone.mkv"), d.path().join("phone_3d.mp4"));
    // 24 frames 1/24 s apart, then frames 1/12 s apart (a phone slowing down in low light).
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=black:s=64x48:r=24:d=4,geq=lum='16+4*N':cb=128:cr=128",
        "-vf",
        "setpts='if(lt(N,24),N/24,1+(N-24)/12)/TB'",
        "-fps_mode",
        "passthrough",
        "-frames:v",
        "40",
        "-c:v",
        "libx264",
        s(&src),
    ]);
    let sum = summary(&convert(
        &src,
        &out,
        &d.path().join("work"),
        &["--start", "0.5", "--end", "2"],
    ));
    // 0.5 <= t < 2: frames 12..=23 (1/24 apart), then 24..=35 (1/12 apart from 1.0 s).
    assert_eq!(sum["output_frames"], 24, "{sum}");
    let times = frame_times(&out);
    assert_eq!(times.len(), 24);
    for (i, t) in times.iter().enumerate() {
        let want = if i < 12 {
            i as f64 / 24.0
        } else {
            0.5 + (i - 12) as f64 / 12.0
        };
        assert!(
            (t - times[0] - want).abs() < 2e-3,
            "frame {i} at {t}, want {want}"
        );
    }
}

#[test]
fn trimming_an_hdr10_source_keeps_its_mastering_metadata() {
    let d = tempfile::tempdir().expect("tempdir");
    let (src, out) = (d.path().join("hdr.mkv"), d.path().join("hdr_3d.mp4"));
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=128x64:rate=24:duration=1",
        "-pix_fmt",
        "yuv420p10le",
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:\
         master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):\
         max-cll=1000,400",
        "-color_primaries",
        "bt2020",
        "-color_trc",
        "smpte2084",
        "-colorspace",
        "bt2020nc",
        s(&src),
    ]);
    let sum = summary(&convert(
        &src,
        &out,
        &d.path().join("work"),
        &["--start", "0.5"],
    ));
    assert_eq!(sum["output_frames"], 12, "{sum}");
    assert_eq!(sum["colour"]["hdr"]["max_cll"], "1000,400", "{sum}");
    let side = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-read_intervals",
            "%+#1",
        ])
        .args([
            "-show_entries",
            "frame_side_data=side_data_type",
            "-of",
            "csv",
        ])
        .arg(&out)
        .output()
        .expect("ffprobe");
    let side = String::from_utf8_lossy(&side.stdout);
    assert!(side.contains("Mastering display metadata"), "{side}");
    assert!(side.contains("Content light level metadata"), "{side}");
}

#[test]
fn trimming_an_mpeg_ts_source_cuts_at_the_same_frames_and_keeps_sync() {
    // MPEG-TS starts at 1.4 s or so and has no index (ffmpeg 5.1's input seek misses frames
    // there: a decode from the start is the path), one keyframe in 4 s.
    let d = tempfile::tempdir().expect("tempdir");
    let (src, out) = (d.path().join("broadcast.ts"), d.path().join("part.mp4"));
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &numbered(4, "64x48"),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=4,volume=enable='lt(t,2)':volume=0",
        "-c:v",
        "libx264",
        "-g",
        "250",
        "-c:a",
        "aac",
        s(&src),
    ]);
    let sum = summary(&convert(
        &src,
        &out,
        &d.path().join("work"),
        &["--start", "1", "--end", "3"],
    ));
    assert_eq!(sum["output_frames"], 24, "{sum}");
    let (w, _, frames) = decode_rgb(&out);
    let (first, last) = (frame_number(&frames[0], w), frame_number(&frames[23], w));
    assert!(
        (first - 12.0).abs() < 0.5,
        "first frame is source frame {first}"
    );
    assert!(
        (last - 35.0).abs() < 0.5,
        "last frame is source frame {last}"
    );
    let pcm = decode_audio(&out, 48000);
    let audio_s = pcm.len() as f64 / 48000.0;
    assert!(
        (audio_s - 2.0).abs() <= 1024.0 / 48000.0,
        "audio {audio_s} s"
    );
    let on = onset(&pcm, 48000);
    assert!((on - 1.0).abs() < 1.0 / FPS, "tone at {on} s, want 1.0");
}
