//! Faithful output: timing (VFR), colour tags and values, 10-bit / HDR and stereo signalling of
//! `stereospot convert`, checked frame by frame with ffprobe and decoded pixels.
use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Sorted presentation timestamps (ticks) of the first video stream, and its time base.
pub(crate) fn video_pts(path: &Path) -> (Vec<i64>, String) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "packet=pts:stream=time_base",
            "-of",
            "csv=p=1",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut tb = String::new();
    let mut pts: Vec<i64> = Vec::new();
    for l in text.lines() {
        if let Some(v) = l.strip_prefix("packet,") {
            pts.push(v.trim().trim_end_matches(',').parse().expect("pts"));
        } else if let Some(v) = l.strip_prefix("stream,") {
            tb = v.split(',').next().unwrap_or("").trim().to_string();
        }
    }
    pts.sort_unstable();
    (pts, tb)
}

/// Frame `n` of `path` as packed RGB (`rgb24` or `rgb48le`), the YUV read with `matrix`/`range`
/// (`scale` filter names), after an optional crop (`W:H:X:Y`) in the coded picture.
fn frame_rgb(
    path: &Path,
    n: u32,
    crop: Option<&str>,
    matrix: &str,
    range: &str,
    fmt: &str,
) -> Vec<u8> {
    let mut vf = format!("select=eq(n\\,{n})");
    if let Some(c) = crop {
        vf.push_str(&format!(",crop={c}"));
    }
    vf.push_str(&format!(
        ",scale=flags=bicubic+accurate_rnd+full_chroma_int:in_color_matrix={matrix}:in_range={range},format={fmt}"
    ));
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-vf", &vf, "-frames:v", "1", "-f", "rawvideo", "-"])
        .output()
        .expect("ffmpeg decode");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.stdout.is_empty(),
        "frame {n} of {} not decoded",
        path.display()
    );
    out.stdout
}

/// Mean absolute difference of two rgb48le buffers, in 8-bit units.
fn mad16(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let s = |x: &[u8]| {
        x.chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]) as f64)
            .collect::<Vec<_>>()
    };
    let (a, b) = (s(a), s(b));
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64 / 257.0
}

fn scale_name(matrix: &str) -> &'static str {
    match matrix {
        "bt709" => "bt709",
        "bt2020nc" => "bt2020",
        _ => "bt601",
    }
}

fn colour_tags(v: &Value) -> [String; 4] {
    [
        "color_space",
        "color_primaries",
        "color_transfer",
        "color_range",
    ]
    .map(|k| v[k].as_str().unwrap_or("").to_string())
}

/// First-frame side data of the video stream (ffprobe JSON list).
fn frame_side_data(path: &Path) -> Vec<Value> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-read_intervals",
            "%+#1",
        ])
        .args(["-show_entries", "frame_side_data", "-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe");
    let j: Value = serde_json::from_slice(&out.stdout).expect("json");
    j.pointer("/frames/0/side_data_list")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn side(list: &[Value], kind: &str) -> Option<Value> {
    list.iter().find(|s| s["side_data_type"] == kind).cloned()
}

/// The left view of frame `n` of a full-sbs output against frame `n` of the input, both read
/// by their own tags, 8-bit: (mean abs diff, and the same with the output misread as BT.601 /
/// BT.709 — the error a wrong matrix would cause).
fn colour_error(input: &Path, output: &Path, n: u32) -> (f64, f64) {
    let pi = probe(input);
    let po = probe(output);
    let (vi, vo) = (stream(&pi, "video").unwrap(), stream(&po, "video").unwrap());
    let (w, h) = (
        vi["width"].as_u64().unwrap(),
        vi["height"].as_u64().unwrap(),
    );
    let ti = colour_tags(vi);
    let to = colour_tags(vo);
    let range = |r: &str| if r == "pc" { "full" } else { "limited" };
    // The input as a player shows it: tags, else the HD/SD convention.
    let in_matrix = if ti[0].is_empty() || ti[0] == "unknown" {
        if w >= 1280 || h >= 720 {
            "bt709"
        } else {
            "bt601"
        }
    } else {
        scale_name(&ti[0])
    };
    let a = frame_rgb(input, n, None, in_matrix, range(&ti[3]), "rgb24");
    let crop = format!("{w}:{h}:0:0");
    let b = frame_rgb(
        output,
        n,
        Some(&crop),
        scale_name(&to[0]),
        range(&to[3]),
        "rgb24",
    );
    let wrong = if scale_name(&to[0]) == "bt709" {
        "bt601"
    } else {
        "bt709"
    };
    let c = frame_rgb(output, n, Some(&crop), wrong, range(&to[3]), "rgb24");
    (mad(&a, &b), mad(&a, &c))
}

/// Every frame of `path` as gray bytes (no CFR duplication: `-fps_mode passthrough`), after
/// the filter `vf` (crop / scale), `w`x`h` each.
fn gray_frames(path: &Path, vf: &str, w: usize, h: usize) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args([
            "-fps_mode",
            "passthrough",
            "-vf",
            &format!("{vf},format=gray"),
        ])
        .args(["-f", "rawvideo", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.chunks_exact(w * h).map(<[u8]>::to_vec).collect()
}

/// A 1 s 160x90 8-bit H.264 clip.
fn tiny_clip(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    let src = "testsrc2=size=160x90:rate=10:duration=1";
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        src,
        "-c:v",
        "libx264",
        p.to_str().unwrap(),
    ]);
    p
}

fn run_convert(input: &Path, dir: &Path, args: &[&str]) -> (PathBuf, Value) {
    std::fs::create_dir_all(dir).unwrap();
    let output = dir.join(format!(
        "{}_3d.mp4",
        input.file_stem().unwrap().to_string_lossy()
    ));
    let s = summary(&convert(input, &output, &dir.join("wd"), args));
    (output, s)
}

#[test]
fn vfr_keeps_every_frame_time_across_segments_and_audio_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("vfr.mp4");
    // A phone-style clip: 4 s at 30 fps, then 4 s at 10 fps; a white flash and a tone onset at
    // exactly 6.0 s (in the 10 fps part, where evenly spaced frames would drift most).
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=30:duration=4",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=10:duration=4",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=1000:sample_rate=48000:duration=8,volume=enable='lt(t,6)':volume=0",
        "-filter_complex",
        "[0:v][1:v]concat=n=2:v=1:a=0,drawbox=c=white:t=fill:enable='between(t,5.99,6.01)'[v]",
        "-map",
        "[v]",
        "-map",
        "2:a",
        "-fps_mode",
        "vfr",
        "-video_track_timescale",
        "12288",
        "-c:v",
        "libx264",
        "-g",
        "15",
        "-threads",
        "1",
        "-c:a",
        "aac",
        input.to_str().unwrap(),
    ]);
    let (pin, tb_in) = video_pts(&input);
    assert_eq!(pin.len(), 160, "test clip");
    let (output, s) = run_convert(&input, dir.path(), &["--segment-seconds", "2"]);
    assert!(s["segments"].as_u64().unwrap() >= 3, "{s}");
    let (pout, tb_out) = video_pts(&output);
    assert_eq!(tb_out, tb_in, "time base kept");
    assert_eq!(pout.len(), pin.len(), "every frame");
    let first = (pin[0], pout[0]);
    for (i, (a, b)) in pin.iter().zip(&pout).enumerate() {
        assert!(
            ((a - first.0) - (b - first.1)).abs() <= 1,
            "frame {i}: input pts {a}, output {b} (ticks of {tb_in})"
        );
    }
    // Frame 130 is at 5.0 s (120 frames at 30 fps, then 10 at 10 fps), not at 130/20 s.
    let t130 = (pout[130] - pout[0]) as f64 / 12288.0;
    assert!((t130 - 5.0).abs() < 1e-3, "frame 130 at {t130} s");

    // The flash frame, found by its brightness, sits at 6.0 s; the tone starts with it.
    // Every decoded frame, left view only.
    let frames = gray_frames(&output, "crop=320:180:0:0", 320, 180);
    assert_eq!(frames.len(), pout.len(), "decoded frames");
    let flash = frames
        .iter()
        .map(|f| f.iter().map(|&v| v as u64).sum::<u64>())
        .enumerate()
        .max_by_key(|(_, b)| *b)
        .unwrap()
        .0;
    let t_flash = (pout[flash] - pout[0]) as f64 / 12288.0;
    assert!((t_flash - 6.0).abs() < 0.02, "flash at {t_flash}");
    let pcm = decode_audio(&output, 48000);
    let onset = pcm.iter().position(|v| v.abs() > 0.05).expect("tone") as f64 / 48000.0;
    assert!(
        (onset - t_flash).abs() < 0.1 + 0.025,
        "tone at {onset}, flash at {t_flash}"
    );
    let aout = stream(&probe(&output), "audio").cloned().expect("audio");
    assert!((num(&aout["duration"]) - 8.0).abs() < 0.1);
}

#[test]
fn bt709_tagged_hd_keeps_its_tags_and_colours() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bt709.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=10:duration=1",
        "-vf",
        "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
        "-colorspace",
        "bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-color_range",
        "tv",
        "-c:v",
        "libx264",
        "-crf",
        "12",
        input.to_str().unwrap(),
    ]);
    let (output, s) = run_convert(&input, dir.path(), &["--divergence", "0"]);
    let vo = stream(&probe(&output), "video").cloned().unwrap();
    assert_eq!(colour_tags(&vo), ["bt709", "bt709", "bt709", "tv"], "{vo}");
    assert_eq!(s["colour"]["assumed"], serde_json::json!([]), "{s}");
    let (err, wrong) = colour_error(&input, &output, 5);
    println!("bt709 HD: mean abs diff {err:.3}/255 (misread: {wrong:.3})");
    assert!(err <= 1.5, "mean abs diff {err:.2}/255");
    assert!(
        wrong > err + 1.0,
        "test must see a matrix error: {wrong:.2} vs {err:.2}"
    );
}

#[test]
fn untagged_sd_and_hd_follow_the_conventions_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    for (size, matrix, scale) in [
        ("640x360", "smpte170m", "bt601"),
        ("1280x720", "bt709", "bt709"),
    ] {
        let input = dir.path().join(format!("untagged_{size}.mp4"));
        // Encoded with the matrix the convention names, and no tags at all.
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={size}:rate=10:duration=1"),
            "-vf",
            &format!("scale=out_color_matrix={scale}:out_range=tv,format=yuv420p"),
            "-c:v",
            "libx264",
            "-crf",
            "12",
            input.to_str().unwrap(),
        ]);
        let vi = stream(&probe(&input), "video").cloned().unwrap();
        assert!(
            vi.get("color_space").is_none(),
            "input must be untagged: {vi}"
        );
        let (output, s) = run_convert(&input, dir.path(), &["--divergence", "0"]);
        let vo = stream(&probe(&output), "video").cloned().unwrap();
        assert_eq!(colour_tags(&vo)[0], matrix, "{size}: {vo}");
        assert_eq!(colour_tags(&vo)[3], "tv");
        assert_eq!(s["colour"]["matrix"], matrix, "{s}");
        let assumed = s["colour"]["assumed"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            assumed.iter().any(|a| a == "matrix"),
            "--json says it was assumed: {s}"
        );
        let (err, wrong) = colour_error(&input, &output, 5);
        println!("untagged {size}: mean abs diff {err:.3}/255 (misread: {wrong:.3})");
        assert!(err <= 1.5, "{size}: mean abs diff {err:.2}/255");
        assert!(wrong > err + 1.0, "{size}: {wrong:.2} vs {err:.2}");
    }
}

/// 640x360 10-bit HEVC: testsrc2 on top, a 10-bit horizontal luma ramp below (1023 levels over
/// 640 px: an 8-bit path leaves at most 256 of them).
fn ten_bit_clip(path: &Path, transfer: &str, hdr10: bool) {
    let mut x265 = "log-level=error".to_string();
    if hdr10 {
        x265.push_str(":hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):max-cll=1000,400");
    }
    ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=size=640x240:rate=12:duration=1,format=yuv420p10le",
        "-f", "lavfi", "-i", "nullsrc=size=640x120:rate=12:duration=1,format=yuv420p10le,geq=lum='X*1023/639':cb=512:cr=512",
        "-filter_complex", "[0:v]scale=out_color_matrix=bt2020:out_range=tv,format=yuv420p10le[a];[a][1:v]vstack[v]",
        "-map", "[v]", "-c:v", "libx265", "-x265-params", &x265, "-crf", "10",
        "-colorspace", "bt2020nc", "-color_primaries", "bt2020", "-color_trc", transfer, "-color_range", "tv",
        "-tag:v", "hvc1", path.to_str().unwrap(),
    ]);
}

/// Distinct luma values along the middle row of the ramp (the bottom band) of frame 3.
fn ramp_levels(path: &Path, crop_w: u32) -> usize {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args([
            "-vf",
            &format!("select=eq(n\\,3),crop={crop_w}:2:0:300,extractplanes=y,format=gray16le"),
        ])
        .args(["-frames:v", "1", "-f", "rawvideo", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row: std::collections::BTreeSet<u16> = out.stdout[..crop_w as usize * 2]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    row.len()
}

#[test]
fn hdr10_hevc_stays_ten_bit_pq_with_its_mastering_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hdr10.mp4");
    ten_bit_clip(&input, "smpte2084", true);
    let (output, s) = run_convert(&input, dir.path(), &["--divergence", "0"]);
    let vo = stream(&probe(&output), "video").cloned().unwrap();
    assert_eq!(vo["codec_name"], "hevc", "{vo}");
    assert_eq!(vo["pix_fmt"], "yuv420p10le");
    assert_eq!(colour_tags(&vo), ["bt2020nc", "bt2020", "smpte2084", "tv"]);
    assert_eq!(s["video"]["codec"], "hevc", "{s}");
    let (si, so) = (frame_side_data(&input), frame_side_data(&output));
    for kind in ["Mastering display metadata", "Content light level metadata"] {
        let (a, b) = (side(&si, kind).expect("input side data"), side(&so, kind));
        assert_eq!(Some(&a), b.as_ref(), "{kind} kept");
    }
    // Pixels at 16 bits by the output's own tags against the input's, left view.
    let a = frame_rgb(&input, 3, None, "bt2020", "limited", "rgb48le");
    let b = frame_rgb(
        &output,
        3,
        Some("640:360:0:0"),
        "bt2020",
        "limited",
        "rgb48le",
    );
    let err = mad16(&a, &b);
    println!("hdr10: mean abs diff {err:.3}/255");
    assert!(err <= 1.5, "mean abs diff {err:.3}/255");
    // No 8-bit bottleneck: the ramp keeps far more than 256 levels.
    let (li, lo) = (ramp_levels(&input, 640), ramp_levels(&output, 640));
    assert!(li > 500, "input ramp {li}");
    assert!(lo > 400, "output ramp has only {lo} levels (input {li})");
}

#[test]
fn hlg_keeps_its_transfer_and_ten_bits() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hlg.mp4");
    ten_bit_clip(&input, "arib-std-b67", false);
    let (output, _) = run_convert(&input, dir.path(), &["--layout", "half-sbs"]);
    let vo = stream(&probe(&output), "video").cloned().unwrap();
    assert_eq!(
        colour_tags(&vo),
        ["bt2020nc", "bt2020", "arib-std-b67", "tv"],
        "{vo}"
    );
    assert_eq!(vo["pix_fmt"], "yuv420p10le");
    assert!(frame_side_data(&output)
        .iter()
        .all(|s| s["side_data_type"] != "Mastering display metadata"));
}

#[test]
fn stereo_layout_is_signalled_to_players() {
    let dir = tempfile::tempdir().unwrap();
    let input = tiny_clip(dir.path(), "tiny.mp4");
    for (layout, kind) in [
        ("full-sbs", Some("side by side")),
        ("half-tb", Some("top and bottom")),
        ("anaglyph", None),
        ("cross-eyed", None),
    ] {
        let wd = dir.path().join(layout);
        let (output, _) = run_convert(&input, &wd, &["--layout", layout]);
        let p = probe(&output);
        let v = stream(&p, "video").cloned().unwrap();
        let st3d = v["side_data_list"].as_array().and_then(|l| {
            l.iter()
                .find(|s| s["side_data_type"] == "Stereo 3D")
                .cloned()
        });
        let sei = side(&frame_side_data(&output), "Stereo 3D");
        match kind {
            Some(k) => {
                let st3d = st3d.unwrap_or_else(|| panic!("{layout}: no st3d box: {v}"));
                assert_eq!(st3d["type"], k, "{layout}");
                // ffprobe 5.1 names the SEI's side data but not its arrangement.
                assert!(sei.is_some(), "{layout}: no frame-packing SEI");
            }
            None => assert!(
                st3d.is_none() && sei.is_none(),
                "{layout} must not claim frame packing"
            ),
        }
        assert_eq!(v["sample_aspect_ratio"], "1:1", "{layout}: square pixels");
        let handler = v["tags"]["handler_name"].as_str().unwrap_or("");
        assert!(
            handler.contains(layout),
            "{layout}: handler_name {handler:?}"
        );
    }
}

#[test]
fn output_codec_and_pix_fmt_can_be_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let input = tiny_clip(dir.path(), "eight.mp4");
    for (args, codec, pix, profile) in [
        (
            vec!["--pix-fmt", "yuv420p10le"],
            "hevc",
            "yuv420p10le",
            "Main 10",
        ),
        (
            vec!["--output-codec", "h264", "--pix-fmt", "yuv420p10le"],
            "h264",
            "yuv420p10le",
            "High 10",
        ),
        (vec!["--output-codec", "hevc"], "hevc", "yuv420p", "Main"),
    ] {
        let wd = dir.path().join(args.join("_"));
        let (output, s) = run_convert(&input, &wd, &args);
        let v = stream(&probe(&output), "video").cloned().unwrap();
        assert_eq!(
            (v["codec_name"].as_str(), v["pix_fmt"].as_str()),
            (Some(codec), Some(pix)),
            "{args:?}"
        );
        assert_eq!(v["profile"], profile, "{args:?}");
        assert_eq!(s["video"]["pix_fmt"], pix);
    }
    let bad = convert(
        &input,
        &dir.path().join("x.mp4"),
        &dir.path().join("wd"),
        &["--output-codec", "vp9"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("h264 or hevc"));
}

#[test]
fn open_gop_hevc_keeps_every_frame_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("open_gop.mp4");
    // x265's default open GOPs: each CRA keyframe after the first is preceded in display order
    // by leading pictures that reference the previous GOP (they sit in the next piece).
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=24:duration=6",
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=error:keyint=24:min-keyint=24:open-gop=1:scenecut=0",
        "-pix_fmt",
        "yuv420p10le",
        input.to_str().unwrap(),
    ]);
    let (pin, _) = video_pts(&input);
    assert_eq!(pin.len(), 144);
    let (output, s) = run_convert(&input, dir.path(), &["--segment-seconds", "2"]);
    assert_eq!(s["segments"], 3, "{s}");
    assert_eq!(
        s["output_frames"], 144,
        "no leading picture lost at a cut: {s}"
    );
    let (pout, _) = video_pts(&output);
    assert_eq!(pout.len(), 144);
    for (i, (a, b)) in pin.iter().zip(&pout).enumerate() {
        assert!(
            ((a - pin[0]) - (b - pout[0])).abs() <= 1,
            "frame {i}: {a} vs {b}"
        );
    }
    // The frames are the right pictures, in order: each output left view matches its input
    // frame far better than its neighbours do (testsrc2 moves every frame).
    let decode = |p: &Path| gray_frames(p, "crop=320:180:0:0,scale=80:45", 80, 45);
    let (fi, fo) = (decode(&input), decode(&output));
    assert_eq!(fo.len(), 144);
    for i in [46usize, 47, 48, 94, 95, 96] {
        let same = mad(&fi[i], &fo[i]);
        let next = mad(&fi[i + 1], &fo[i]);
        assert!(same < next, "frame {i}: {same:.2} vs neighbour {next:.2}");
    }
}
