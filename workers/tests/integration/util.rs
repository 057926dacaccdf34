//! Helpers: generate clips with ffmpeg lavfi, run the binary, inspect results with ffprobe.
#![allow(dead_code)]
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The ONNX Runtime library: `ORT_DYLIB_PATH`, else the copy `make deps` puts in `.deps/`.
pub fn ort_lib() -> PathBuf {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return PathBuf::from(p);
    }
    let p = workspace().join(".deps/onnxruntime/libonnxruntime.so.1.31.1");
    assert!(
        p.exists(),
        "ONNX Runtime library missing: run `make deps` or set ORT_DYLIB_PATH"
    );
    p
}

pub fn stereospot() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stereospot"));
    c.env("ORT_DYLIB_PATH", ort_lib())
        .env_remove("RUST_LOG")
        .env_remove("LOG_FORMAT");
    c
}

/// Run `stereospot convert INPUT -o OUTPUT --json --workdir WORKDIR ARGS...`.
pub fn convert(input: &Path, output: &Path, workdir: &Path, args: &[&str]) -> Output {
    stereospot()
        .arg("convert")
        .arg(input)
        .arg("-o")
        .arg(output)
        .arg("--workdir")
        .arg(workdir)
        .arg("--json")
        .args(args)
        .output()
        .expect("run stereospot")
}

/// Parse the `--json` summary line of a successful run (panics with stderr otherwise).
pub fn summary(out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "convert failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no JSON summary; stderr: {stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"))
}

pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ffprobe -count_frames -show_streams -show_format -show_chapters as JSON.
pub fn probe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_streams",
            "-show_format",
            "-show_chapters",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe json")
}

pub fn stream<'a>(p: &'a Value, kind: &str) -> Option<&'a Value> {
    p["streams"]
        .as_array()?
        .iter()
        .find(|s| s["codec_type"] == kind)
}

pub fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(f64::NAN),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// Frames ffprobe decoded (`-count_frames`).
pub fn decoded_frames(p: &Value) -> u64 {
    num(&stream(p, "video").expect("video stream")["nb_read_frames"]) as u64
}

/// Decode every frame of `path` as RGB24 at its own size.
pub fn decode_rgb(path: &Path) -> (u32, u32, Vec<Vec<u8>>) {
    let p = probe(path);
    let v = stream(&p, "video").expect("video");
    let (w, h) = (
        v["width"].as_u64().expect("w") as u32,
        v["height"].as_u64().expect("h") as u32,
    );
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg decode");
    assert!(out.status.success());
    let n = (w * h * 3) as usize;
    (
        w,
        h,
        out.stdout.chunks_exact(n).map(|c| c.to_vec()).collect(),
    )
}

/// Mean absolute difference of two equal-length byte slices.
pub fn mad(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as f64)
        .sum::<f64>()
        / a.len() as f64
}

/// Crop columns [x0, x0+cw) of a packed RGB frame of width w.
pub fn crop_cols(frame: &[u8], w: u32, x0: u32, cw: u32) -> Vec<u8> {
    let row = (w * 3) as usize;
    frame
        .chunks_exact(row)
        .flat_map(|r| {
            r[(x0 * 3) as usize..((x0 + cw) * 3) as usize]
                .iter()
                .copied()
        })
        .collect()
}

/// Every stream of one kind (`audio`, `subtitle`, ...), in file order.
pub fn streams<'a>(p: &'a Value, kind: &str) -> Vec<&'a Value> {
    p["streams"]
        .as_array()
        .map(|a| a.iter().filter(|s| s["codec_type"] == kind).collect())
        .unwrap_or_default()
}

/// Mono f32 PCM at `rate` Hz of the first audio stream.
pub fn decode_audio(path: &Path, rate: u32) -> Vec<f32> {
    decode_audio_stream(path, "a:0", rate)
}

/// Interleaved f32 PCM at `rate` Hz of one audio stream (`spec` like `a:1`), all its channels.
pub fn decode_audio_channels(path: &Path, spec: &str, rate: u32) -> Vec<f32> {
    let (map, rate) = (format!("0:{spec}"), rate.to_string());
    pcm_f32(path, &[], &["-map", &map, "-ar", &rate])
}

/// The f32le PCM ffmpeg writes for `path`, with input options `before` and output options
/// `after`.
fn pcm_f32(path: &Path, before: &[&str], after: &[&str]) -> Vec<f32> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin"])
        .args(before)
        .arg("-i")
        .arg(path)
        .args(after)
        .args(["-f", "f32le", "-"])
        .output()
        .expect("ffmpeg audio");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Mono f32 PCM of one audio stream on the file's own timeline: sample 0 is timestamp 0 (what
/// comes before the stream's first sample is silence), so onsets compare with frame times.
pub fn decode_audio_on_timeline(path: &Path, spec: &str, rate: u32) -> Vec<f32> {
    let (map, rate) = (format!("0:{spec}"), rate.to_string());
    let resample = "aresample=async=1:first_pts=0";
    pcm_f32(
        path,
        &["-copyts"],
        &["-map", &map, "-af", resample, "-ac", "1", "-ar", &rate],
    )
}

/// Presentation time of every decoded video frame (file timeline, display order).
pub fn frame_times(path: &Path) -> Vec<f64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=best_effort_timestamp_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().trim_end_matches(','))
        .filter(|l| !l.is_empty())
        .map(|l| l.parse().expect("frame time"))
        .collect()
}

/// Seconds until the first sample louder than 0.05 (a tone switched on in silence).
pub fn onset(pcm: &[f32], rate: u32) -> f64 {
    pcm.iter()
        .position(|v| v.abs() > 0.05)
        .expect("tone present") as f64
        / rate as f64
}

/// Index of the brightest frame in the left half (a white flash) among the coded frames in
/// display order (no frames duplicated or dropped to a constant rate, so the index matches
/// [`frame_times`]).
pub fn brightest_frame(path: &Path) -> usize {
    let p = probe(path);
    let v = stream(&p, "video").expect("video");
    let (w, h) = (
        v["width"].as_u64().expect("w") as u32,
        v["height"].as_u64().expect("h") as u32,
    );
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-map", "0:v:0", "-fps_mode", "passthrough"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg decode");
    assert!(out.status.success());
    out.stdout
        .chunks_exact((w * h * 3) as usize)
        .map(|f| {
            crop_cols(f, w, 0, w / 2)
                .iter()
                .map(|&v| v as u64)
                .sum::<u64>()
        })
        .enumerate()
        .max_by_key(|(_, b)| *b)
        .expect("frames")
        .0
}

/// Mono f32 PCM at `rate` Hz of one audio stream (`spec` like `a:1`).
pub fn decode_audio_stream(path: &Path, spec: &str, rate: u32) -> Vec<f32> {
    let (map, rate) = (format!("0:{spec}"), rate.to_string());
    pcm_f32(path, &[], &["-map", &map, "-ac", "1", "-ar", &rate])
}

/// Python with `onnx` (the test venv of `make test`, else python3): `tools::python`.
pub fn python() -> Command {
    crate::tools::python()
}

/// A model that says every pixel is at nearness 0.5 (the default convergence plane).
pub fn flat_model(dir: &Path) -> PathBuf {
    let path = dir.join("flat.onnx");
    let script = r#"
import sys, onnx
from onnx import helper, TensorProto
inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])
out = helper.make_tensor_value_info("nearness", TensorProto.FLOAT, ["n", 1, "h", "w"])
half = helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])
zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
nodes = [
    helper.make_node("ReduceMean", ["image"], ["m"], axes=[1], keepdims=1),
    helper.make_node("Mul", ["m", "zero"], ["z"]),
    helper.make_node("Add", ["z", "half"], ["nearness"]),
]
g = helper.make_graph(nodes, "flat", [inp], [out], initializer=[half, zero])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="stereospot-tests")
m.ir_version = 8
onnx.save(m, sys.argv[1])
"#;
    onnx_from_python(script, &path);
    path
}

/// Run a Python script that writes an ONNX model to its first argument, `path`.
pub fn onnx_from_python(script: &str, path: &Path) {
    let out = python()
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
