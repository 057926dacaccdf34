//! Conversions of generated clips, checked with ffprobe and decoded pixels.
use crate::util::*;

/// 6 s, 320x240, 24 fps, x264 with B-frames, a keyframe every second, a white flash at 3.0 s
/// and a 1 kHz tone starting at exactly 3.0 s (for the sync check).
fn clip_with_audio(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("in.mp4");
    ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=24:duration=6,drawbox=c=white:t=fill:enable='between(t,3,3.04)'",
        "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:duration=6,volume=enable='lt(t,3)':volume=0",
        "-c:v", "libx264", "-bf", "2", "-g", "24", "-c:a", "aac", "-shortest", p.to_str().unwrap(),
    ]);
    p
}

#[test]
fn converts_clip_with_audio_across_segments_frame_exact_and_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let input = clip_with_audio(dir.path());
    let output = dir.path().join("out.mp4");
    let s = summary(&convert(
        &input,
        &output,
        &dir.path().join("wd"),
        &["--segment-seconds", "2"],
    ));
    assert_eq!(s["segments"], 3, "{s}");
    assert_eq!(s["output_frames"], 144);
    for k in ["decode_s", "depth_s", "render_s", "encode_s"] {
        assert!(
            s["stages"][k].as_f64().unwrap() > 0.0,
            "stage {k} timed: {s}"
        );
    }

    let pin = probe(&input);
    let pout = probe(&output);
    let (vin, vout) = (
        stream(&pin, "video").unwrap(),
        stream(&pout, "video").unwrap(),
    );
    assert_eq!(decoded_frames(&pout), decoded_frames(&pin));
    assert_eq!(decoded_frames(&pout), 144);
    assert_eq!(
        (vout["width"].as_u64(), vout["height"].as_u64()),
        (Some(640), Some(240))
    );
    assert_eq!(vout["r_frame_rate"], vin["r_frame_rate"]);
    assert_eq!(vout["time_base"], vin["time_base"]);
    let (din, dout) = (num(&vin["duration"]), num(&vout["duration"]));
    assert!(
        (din - dout).abs() <= 1.0 / 24.0 + 1e-6,
        "duration {dout} vs {din}"
    );
    let aout = stream(&pout, "audio").expect("audio carried over");
    assert_eq!(aout["codec_name"], "aac");
    assert!((num(&aout["duration"]) - 6.0).abs() < 0.1);

    // Sync: the flash frame and the tone onset line up within one frame (+ AAC priming slack).
    let (w, _, frames) = decode_rgb(&output);
    let bright: Vec<f64> = frames
        .iter()
        .map(|f| crop_cols(f, w, 0, w / 2).iter().map(|&v| v as f64).sum())
        .collect();
    let flash = bright
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    let t_video = flash as f64 / 24.0;
    let pcm = decode_audio(&output, 48000);
    let onset = pcm
        .iter()
        .position(|v| v.abs() > 0.05)
        .expect("tone present") as f64
        / 48000.0;
    assert!((t_video - 3.0).abs() < 0.5 / 24.0, "flash at {t_video}");
    assert!(
        (onset - t_video).abs() < 1.0 / 24.0 + 0.025,
        "audio onset {onset} vs flash {t_video}"
    );

    // Joins: every frame-to-frame pts step is one frame (no gap at the seams).
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts",
            "-of",
            "csv=p=0",
        ])
        .arg(&output)
        .output()
        .unwrap();
    let mut pts: Vec<i64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    pts.sort_unstable();
    let tb = 12288.0 / 24.0;
    for w in pts.windows(2) {
        assert!(
            ((w[1] - w[0]) as f64 - tb).abs() <= 8.0,
            "pts step {} at {}",
            w[1] - w[0],
            w[0]
        );
    }
    // Temporary names never remain.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn no_audio_60fps_odd_size_gives_even_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("odd.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=321x241:rate=60:duration=2",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv444p",
        input.to_str().unwrap(),
    ]);
    let output = dir.path().join("out.mp4");
    let s = summary(&convert(
        &input,
        &output,
        &dir.path().join("wd"),
        &["--layout", "half-sbs"],
    ));
    assert_eq!(s["output_frames"], 120);
    let p = probe(&output);
    let v = stream(&p, "video").unwrap();
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert_eq!(v["r_frame_rate"], "60/1");
    assert_eq!(decoded_frames(&p), 120);
    assert!(stream(&p, "audio").is_none());
}

#[test]
fn rotation_and_non_square_pixels_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    // 200x100 coded with SAR 2:1 -> 400x100 display; rotated 90 degrees -> 100x400.
    let raw = dir.path().join("raw.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=200x100:rate=10:duration=1",
        "-vf",
        "setsar=2/1",
        "-c:v",
        "libx264",
        raw.to_str().unwrap(),
    ]);
    let input = dir.path().join("rot.mp4");
    ffmpeg(&[
        "-i",
        raw.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        input.to_str().unwrap(),
    ]);
    let output = dir.path().join("out.mp4");
    summary(&convert(
        &input,
        &output,
        &dir.path().join("wd"),
        &["--layout", "full-tb"],
    ));
    let p = probe(&output);
    let v = stream(&p, "video").unwrap();
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(100), Some(800)),
        "{v}"
    );
    assert_eq!(decoded_frames(&p), 10);
}

#[test]
fn layouts_have_their_geometry_and_cross_eyed_swaps_the_views() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=10:duration=0.5",
        "-c:v",
        "libx264",
        "-crf",
        "10",
        input.to_str().unwrap(),
    ]);
    let expect = [
        ("full-sbs", 640, 240),
        ("half-sbs", 320, 240),
        ("full-tb", 320, 480),
        ("half-tb", 320, 240),
        ("anaglyph", 320, 240),
        ("cross-eyed", 640, 240),
    ];
    let mut decoded = std::collections::HashMap::new();
    for (layout, w, h) in expect {
        let out = dir.path().join(format!("{layout}.mp4"));
        summary(&convert(
            &input,
            &out,
            &dir.path().join("wd"),
            &["--layout", layout, "--crf", "8"],
        ));
        let (ow, oh, frames) = decode_rgb(&out);
        assert_eq!((ow, oh, frames.len()), (w, h, 5), "{layout}");
        decoded.insert(layout, frames);
    }
    let (sbs, cross) = (&decoded["full-sbs"][2], &decoded["cross-eyed"][2]);
    let (l, r) = (crop_cols(sbs, 640, 0, 320), crop_cols(sbs, 640, 320, 320));
    let views = mad(&l, &r);
    assert!(views > 1.0, "views differ where depth varies ({views})");
    assert!(
        mad(&crop_cols(cross, 640, 0, 320), &r) < views / 3.0,
        "cross-eyed left half = right view"
    );
    assert!(
        mad(&crop_cols(cross, 640, 320, 320), &l) < views / 3.0,
        "cross-eyed right half = left view"
    );
}

#[test]
fn views_equal_where_depth_is_flat_at_convergence_and_differ_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=10:duration=0.5",
        "-c:v",
        "libx264",
        "-crf",
        "10",
        input.to_str().unwrap(),
    ]);
    let flat = flat_model(dir.path());
    let out_flat = dir.path().join("flat.mp4");
    summary(&convert(
        &input,
        &out_flat,
        &dir.path().join("wd"),
        &[
            "--model",
            flat.to_str().unwrap(),
            "--model-profile",
            "stereospot-cues",
            "--crf",
            "8",
        ],
    ));
    let out_cues = dir.path().join("cues.mp4");
    summary(&convert(
        &input,
        &out_cues,
        &dir.path().join("wd"),
        &["--crf", "8", "--divergence", "4"],
    ));
    for f in decode_rgb(&out_flat).2 {
        let d = mad(&crop_cols(&f, 640, 0, 320), &crop_cols(&f, 640, 320, 320));
        assert!(
            d < 0.8,
            "flat depth at convergence: left == right (mad {d})"
        );
    }
    for f in decode_rgb(&out_cues).2 {
        let d = mad(&crop_cols(&f, 640, 0, 320), &crop_cols(&f, 640, 320, 320));
        assert!(d > 2.5, "varying depth: left != right (mad {d})");
    }
}

#[test]
fn vp9_webm_with_opus_audio_uses_matroska_pieces_and_copies_opus() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.webm");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=3",
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-g",
        "25",
        "-c:a",
        "libopus",
        "-shortest",
        input.to_str().unwrap(),
    ]);
    let output = dir.path().join("out.mp4");
    let s = summary(&convert(
        &input,
        &output,
        &dir.path().join("wd"),
        &["--segment-seconds", "1"],
    ));
    assert!(s["segments"].as_u64().unwrap() >= 3, "{s}");
    let (pin, pout) = (probe(&input), probe(&output));
    assert_eq!(decoded_frames(&pout), decoded_frames(&pin));
    assert_eq!(
        stream(&pout, "audio").unwrap()["codec_name"],
        "opus",
        "MP4 holds Opus as it is (ffmpeg 5.1, no -strict): copied"
    );
}
