//! Temporal depth stability through the real converter: a relative ("learned") model whose
//! extremes wobble from frame to frame, on a clip split into pieces. With the temporal window
//! the segmented run gives the same 3D frames as one continuous run (each piece warms up on the
//! previous piece's last frames), and the window really changes the picture.
use crate::util::*;
use std::path::{Path, PathBuf};

/// A relative-depth model: inverse depth is the pixel's mean channel value, and its brightest
/// parts get an extra push proportional to the frame's mean brightness, so the per-frame
/// percentile range (and with it the whole scene's nearness) wobbles when the light flickers.
pub fn wobbling_model(dir: &Path) -> PathBuf {
    let path = dir.join("wobble.onnx");
    let script = r#"
import sys, onnx
from onnx import helper, TensorProto
inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])
out = helper.make_tensor_value_info("depth", TensorProto.FLOAT, ["n", 1, "h", "w"])
c = lambda n, v: helper.make_tensor(n, TensorProto.FLOAT, [], [v])
nodes = [
    helper.make_node("ReduceMean", ["image"], ["g"], axes=[1], keepdims=1),
    helper.make_node("ReduceMean", ["image"], ["m"], axes=[1, 2, 3], keepdims=1),
    helper.make_node("Sub", ["g", "t"], ["gt"]),
    helper.make_node("Relu", ["gt"], ["top"]),
    helper.make_node("Add", ["m", "one"], ["m1"]),
    helper.make_node("Mul", ["m1", "k"], ["km"]),
    helper.make_node("Mul", ["top", "km"], ["push"]),
    helper.make_node("Add", ["g", "push"], ["depth"]),
]
g = helper.make_graph(nodes, "wobble", [inp], [out],
                      initializer=[c("t", 0.8), c("one", 1.0), c("k", 6.0)])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="stereospot-tests")
m.ir_version = 8
onnx.save(m, sys.argv[1])
"#;
    onnx_from_python(script, &path);
    path
}

#[test]
fn segmented_run_with_temporal_depth_equals_a_continuous_run() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("bars.mp4");
    // Static bars under flickering light (brightness ±0.04 per frame), a keyframe a second.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "smptehdbars=size=320x180:rate=24,eq=brightness='0.04*sin(1.7*n)':eval=frame,trim=duration=3",
        "-c:v",
        "libx264",
        "-g",
        "24",
        "-bf",
        "0",
        clip.to_str().unwrap(),
    ]);
    let model = wobbling_model(dir.path());
    let run = |name: &str, seg: &str, window: &str| {
        let out = dir.path().join(format!("{name}.mp4"));
        let work = dir.path().join(format!("work-{name}"));
        let o = convert(
            &clip,
            &out,
            &work,
            &[
                "--model",
                model.to_str().unwrap(),
                "--model-profile",
                "depth-anything-v2",
                "--batch",
                "1",
                "--crf",
                "0",
                "--segment-seconds",
                seg,
                "--depth-smoothing",
                window,
            ],
        );
        let s = summary(&o);
        (decode_rgb(&out).2, s["segments"].as_u64().unwrap_or(0))
    };
    let (continuous, one) = run("continuous", "3600", "8");
    let (segmented, pieces) = run("segmented", "1", "8");
    let (per_frame, _) = run("per-frame", "1", "1");
    assert_eq!(one, 1);
    assert!(pieces >= 3, "the clip is split: {pieces} segments");
    assert_eq!(continuous.len(), 72);
    assert_eq!(segmented.len(), 72);
    assert_eq!(per_frame.len(), 72);
    let worst = continuous
        .iter()
        .zip(&segmented)
        .map(|(a, b)| mad(a, b))
        .fold(0.0, f64::max);
    assert!(
        worst < 0.01,
        "segmented vs continuous, worst frame MAD {worst}: a seam differs"
    );
    let changed = continuous
        .iter()
        .zip(&per_frame)
        .map(|(a, b)| mad(a, b))
        .fold(0.0, f64::max);
    assert!(
        changed > 0.2,
        "the temporal window changes the picture of this model (MAD {changed})"
    );
}

#[test]
fn depth_smoothing_out_of_range_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = convert(
        Path::new("/nonexistent.mp4"),
        &dir.path().join("o.mp4"),
        dir.path(),
        &["--depth-smoothing", "0"],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--depth-smoothing must be 1..120"), "{err}");
}
