//! Depth export and re-render: `--export-depth` writes the maps the renderer used (after the
//! temporal window) as a lossless 16-bit video with a sidecar; `--depth` renders from it
//! without a model, refusing a depth file made from another input.
use crate::util::*;
use std::path::Path;

fn psnr(a: &[Vec<u8>], b: &[Vec<u8>]) -> f64 {
    let (mut se, mut n) = (0.0f64, 0usize);
    for (x, y) in a.iter().zip(b) {
        for (p, q) in x.iter().zip(y) {
            let d = f64::from(*p) - f64::from(*q);
            se += d * d;
        }
        n += x.len();
    }
    let mse = se / n.max(1) as f64;
    if mse == 0.0 {
        99.0
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

fn clip(path: &Path, source: &str) {
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        source,
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2",
        "-c:v",
        "libx264",
        "-g",
        "24",
        "-c:a",
        "aac",
        "-shortest",
        path.to_str().unwrap(),
    ]);
}

#[test]
fn exported_depth_re_renders_the_same_film_without_the_model_and_refuses_other_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    clip(&input, "testsrc2=size=320x180:rate=24:duration=2");
    let model = crate::temporal::wobbling_model(dir.path());
    let depth = dir.path().join("in.depth.mkv");
    let work = dir.path().join("work");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (m, d) = (s(&model), s(&depth));
    let direct = dir.path().join("direct.mp4");
    let o = convert(
        &input,
        &direct,
        &work,
        &[
            "--model",
            &m,
            "--model-profile",
            "depth-anything-v2",
            "--segment-seconds",
            "1",
            "--export-depth",
            &d,
            "--crf",
            "0",
        ],
    );
    let sum = summary(&o);
    assert!(sum["segments"].as_u64().unwrap() >= 2, "{sum}");

    // The depth video: FFV1 16-bit grey, one map per frame, and its sidecar.
    let p = probe(&depth);
    let v = stream(&p, "video").expect("depth stream");
    assert_eq!(v["codec_name"], "ffv1");
    assert_eq!(v["pix_fmt"], "gray16le");
    assert_eq!(decoded_frames(&p), 48);
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(depth.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(side["format"], "stereospot-depth");
    assert_eq!(side["frames"], 48);
    assert_eq!(side["timestamps_ns"].as_array().map(Vec::len), Some(48));
    assert_eq!(
        side["input"]["size"],
        std::fs::metadata(&input).unwrap().len()
    );
    assert!(
        side["model"].as_str().unwrap().contains("wobble.onnx"),
        "{side}"
    );
    assert!(
        !dir.path().read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".stereospot")),
        "no temporary files left"
    );

    // Same settings from the depth file: the same film (the maps are stored after the
    // temporal window, which a re-render does not apply again).
    let again = dir.path().join("again.mp4");
    // Lossless encodes on both sides: what is compared is the depth path, not x264's noise.
    let o = convert(&input, &again, &work, &["--depth", &d, "--crf", "0"]);
    let sum = summary(&o);
    assert_eq!(sum["segments"], 1, "a depth file renders as one segment");
    let (a, b) = (decode_rgb(&direct).2, decode_rgb(&again).2);
    assert_eq!((a.len(), b.len()), (48, 48));
    let same = psnr(&a, &b);
    println!("re-render PSNR {same:.1} dB");
    assert!(same >= 45.0, "re-render PSNR {same:.1} dB");

    // New settings from the same depth: a different picture, same frames.
    let stronger = dir.path().join("stronger.mp4");
    let o = convert(
        &input,
        &stronger,
        &work,
        &["--depth", &d, "--divergence", "5", "--crf", "0"],
    );
    summary(&o);
    let c = decode_rgb(&stronger).2;
    assert_eq!(c.len(), 48);
    let changed = psnr(&a, &c);
    assert!(
        changed < same - 5.0,
        "divergence 5 changes the picture: {changed:.1} dB"
    );

    // Another input: refused before any work, with the reason.
    let other = dir.path().join("other.mp4");
    clip(&other, "testsrc2=size=320x180:rate=24:duration=2,hflip");
    let out = dir.path().join("x.mp4");
    let o = convert(&other, &out, &work, &["--depth", &d]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("made from another input"), "{err}");
    assert!(!out.exists());

    // A depth file without its sidecar.
    std::fs::remove_file(depth.with_extension("json")).unwrap();
    let o = convert(&input, &out, &work, &["--depth", &d]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("sidecar") && err.contains("cannot be read"),
        "{err}"
    );
}
