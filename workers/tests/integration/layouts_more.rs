//! Anaglyph methods and the RGBD layouts end to end: `stereospot convert` on generated clips,
//! checked on decoded frames and with ffprobe.
use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn testsrc(dir: &Path) -> PathBuf {
    let p = dir.join("src.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=10:duration=1",
        "-c:v",
        "libx264",
        "-crf",
        "10",
        p.to_str().unwrap(),
    ]);
    p
}

/// A model whose nearness is the mean of the frame's RGB (scaled to 0..1 by the
/// stereospot-cues profile): the depth picture of a grey frame is the frame itself.
fn brightness_model(dir: &Path) -> PathBuf {
    let path = dir.join("brightness.onnx");
    let script = r#"
import sys, onnx
from onnx import helper, TensorProto
inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])
out = helper.make_tensor_value_info("nearness", TensorProto.FLOAT, ["n", 1, "h", "w"])
nodes = [helper.make_node("ReduceMean", ["image"], ["nearness"], axes=[1], keepdims=1)]
g = helper.make_graph(nodes, "brightness", [inp], [out])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="stereospot-tests")
m.ir_version = 8
onnx.save(m, sys.argv[1])
"#;
    onnx_from_python(script, &path);
    path
}

fn run(input: &Path, dir: &Path, name: &str, model: &Path, args: &[&str]) -> (PathBuf, Value) {
    let out = dir.join(format!("{name}.mp4"));
    let mut all = vec![
        "--model",
        model.to_str().unwrap(),
        "--model-profile",
        "stereospot-cues",
        "--crf",
        "8",
    ];
    all.extend_from_slice(args);
    let s = summary(&convert(input, &out, &dir.join(format!("wd-{name}")), &all));
    (out, s)
}

fn no_stereo_signal(path: &Path) -> bool {
    let p = probe(path);
    let v = stream(&p, "video").unwrap();
    v["side_data_list"].as_array().is_none_or(|l| {
        l.iter().all(|s| {
            s["side_data_type"] != "Stereo 3D" && s["side_data_type"] != "Spherical Mapping"
        })
    })
}

#[test]
fn anaglyph_methods_mix_the_views_as_their_matrices_say() {
    let dir = tempfile::tempdir().unwrap();
    let input = testsrc(dir.path());
    // A flat depth model: both views are the source, so each method is its matrices applied
    // to one picture.
    let flat = flat_model(dir.path());
    let (_, _, src) = decode_rgb(&input);
    let (color, _) = run(
        &input,
        dir.path(),
        "color",
        &flat,
        &["--layout", "anaglyph", "--anaglyph-method", "color"],
    );
    let (gray, _) = run(
        &input,
        dir.path(),
        "gray",
        &flat,
        &["--layout", "anaglyph", "--anaglyph-method", "gray"],
    );
    let (dubois, s) = run(
        &input,
        dir.path(),
        "dubois",
        &flat,
        &["--layout", "anaglyph"],
    );
    assert_eq!(s["video"]["layout"], "anaglyph");
    let (wimmer, _) = run(
        &input,
        dir.path(),
        "wimmer",
        &flat,
        &["--layout", "anaglyph", "--anaglyph-method", "wimmer"],
    );
    let (w, h, c) = decode_rgb(&color);
    assert_eq!((w, h, c.len()), (160, 90, 10));
    // Colour anaglyph of equal views = the source (up to a second 4:2:0 encode of
    // testsrc2's saturated colours: ~2 of 255).
    for (a, b) in c.iter().zip(&src) {
        let d = mad(a, b);
        assert!(
            d < 3.0,
            "color anaglyph of equal views differs from the source: {d}"
        );
    }
    // Gray: R = G = B = the BT.601 luma of the source.
    let g = &decode_rgb(&gray).2;
    for (f, s) in g.iter().zip(&src) {
        let mut err = 0.0;
        for (p, q) in f.chunks_exact(3).zip(s.chunks_exact(3)) {
            let luma = 0.299 * q[0] as f64 + 0.587 * q[1] as f64 + 0.114 * q[2] as f64;
            err += (p[0] as f64 - luma).abs()
                + (p[1] as f64 - luma).abs()
                + (p[2] as f64 - luma).abs();
        }
        let err = err / (f.len() as f64);
        assert!(err < 3.0, "gray anaglyph is not the luma: {err}");
    }
    // Wimmer: green and blue of the (right) view, red from the left's green and blue.
    let wi = &decode_rgb(&wimmer).2;
    let mut err = 0.0;
    for (p, q) in wi[3].chunks_exact(3).zip(src[3].chunks_exact(3)) {
        let r = 0.7 * q[1] as f64 + 0.3 * q[2] as f64;
        err += (p[0] as f64 - r).abs() + (p[1] as f64 - q[1] as f64).abs();
    }
    let err = err / (wi[3].len() as f64 / 3.0 * 2.0);
    assert!(err < 4.0, "wimmer: {err}");
    // Dubois (the default, as before) differs from all of them.
    let du = &decode_rgb(&dubois).2;
    assert!(mad(&du[0], &c[0]) > 10.0 && mad(&du[0], &g[0]) > 5.0);
    for f in [&color, &gray, &dubois] {
        assert!(no_stereo_signal(f), "anaglyph must not claim frame packing");
    }
}

#[test]
fn rgbd_puts_the_frame_beside_its_depth() {
    let dir = tempfile::tempdir().unwrap();
    // A grey ramp left to right (dark to bright), over a darker lower third.
    let input = dir.path().join("ramp.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=black:size=160x90:rate=10:duration=1",
        "-vf",
        "format=yuv444p,geq=lum='16+200*X/W-60*gt(Y\\,60)':cb=128:cr=128,format=yuv420p",
        "-c:v",
        "libx264",
        "-crf",
        "6",
        input.to_str().unwrap(),
    ]);
    let model = brightness_model(dir.path());
    let (_, _, src) = decode_rgb(&input);
    let (out, s) = run(&input, dir.path(), "rgbd", &model, &["--layout", "rgbd"]);
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(320), Some(90))
    );
    assert_eq!(s["video"]["layout"], "rgbd");
    let (w, h, frames) = decode_rgb(&out);
    assert_eq!((w, h, frames.len()), (320, 90, 10));
    for (f, s) in frames.iter().zip(&src) {
        let colour = crop_cols(f, 320, 0, 160);
        let depth = crop_cols(f, 320, 160, 160);
        let d = mad(&colour, s);
        assert!(d < 1.5, "left half is the source: mad {d}");
        // The depth of a grey frame under this model is the frame (the model sees it at 192
        // rows and the renderer resamples it back: a little blur at the step).
        let d = mad(&depth, s);
        assert!(d < 4.0, "right half is the depth: mad {d}");
        // Grey, white = near = bright: increasing to the right.
        let g = |x: usize, y: usize| depth[(y * 160 + x) * 3] as i32;
        assert!(depth
            .chunks_exact(3)
            .all(|p| p[0].abs_diff(p[1]) <= 3 && p[1].abs_diff(p[2]) <= 3));
        assert!(
            g(150, 30) > g(80, 30) + 60 && g(80, 30) > g(10, 30) + 60,
            "{} {} {}",
            g(10, 30),
            g(80, 30),
            g(150, 30)
        );
        assert!(g(80, 80) < g(80, 30) - 40, "lower third is farther");
    }
    assert!(no_stereo_signal(&out), "rgbd is not a stereo pair");
    let p = probe(&out);
    let handler = stream(&p, "video").unwrap()["tags"]["handler_name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(handler.contains("rgbd"), "{handler}");

    // half-rgbd: both halves squeezed into the source's size.
    let (half, _) = run(
        &input,
        dir.path(),
        "half",
        &model,
        &["--layout", "half-rgbd"],
    );
    let (w, h, hf) = decode_rgb(&half);
    assert_eq!((w, h), (160, 90));
    let squeeze = |f: &[u8], x0: usize| -> Vec<u8> {
        // Average pixel pairs of columns [x0, x0 + 160) of a 320-wide frame.
        let mut v = Vec::new();
        for y in 0..90 {
            for x in 0..80 {
                for c in 0..3 {
                    let a = f[(y * 320 + x0 + 2 * x) * 3 + c] as u32;
                    let b = f[(y * 320 + x0 + 2 * x + 1) * 3 + c] as u32;
                    v.push((a + b).div_ceil(2) as u8);
                }
            }
        }
        v
    };
    let d = mad(&crop_cols(&hf[4], 160, 0, 80), &squeeze(&frames[4], 0));
    assert!(d < 2.0, "half-rgbd colour: {d}");
    let d = mad(&crop_cols(&hf[4], 160, 80, 80), &squeeze(&frames[4], 160));
    assert!(d < 2.0, "half-rgbd depth: {d}");
}
