//! Bad input: non-zero exit, one clear line naming the file and the reason, no panic, no output.
use crate::util::*;
use std::path::{Path, PathBuf};

fn small_clip(dir: &Path) -> PathBuf {
    let p = dir.join("ok.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x48:rate=10:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        "-shortest",
        p.to_str().unwrap(),
    ]);
    p
}

/// Convert `input` to `output` and check the failure contract; returns the error line.
fn expect_failure(input: &Path, output: &Path, args: &[&str], must_contain: &[&str]) -> String {
    let wd = output.parent().unwrap().join("wd");
    let out = convert(input, output, &wd, args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "expected failure, got success: {stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "exit code: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "exactly one error line: {stderr}");
    for needle in must_contain {
        assert!(
            errors[0].contains(needle),
            "{needle:?} not in {:?}",
            errors[0]
        );
    }
    assert!(!output.exists(), "no output file may be left");
    let partial = std::fs::read_dir(output.parent().unwrap())
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains("partial"));
    assert!(!partial, "no partial file may be left");
    assert!(out.stdout.is_empty(), "no JSON summary on failure");
    errors[0].to_string()
}

#[test]
fn not_a_video() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("notes.mp4");
    std::fs::write(&input, "this is a text file, not a video\n".repeat(50)).unwrap();
    expect_failure(
        &input,
        &d.path().join("o.mp4"),
        &[],
        &["notes.mp4", "not a video"],
    );
}

#[test]
fn zero_bytes() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("empty.mp4");
    std::fs::write(&input, b"").unwrap();
    expect_failure(
        &input,
        &d.path().join("o.mp4"),
        &[],
        &["empty.mp4", "empty file (0 bytes)"],
    );
}

#[test]
fn truncated_mp4() {
    let d = tempfile::tempdir().unwrap();
    let full = std::fs::read(small_clip(d.path())).unwrap();
    let input = d.path().join("cut.mp4");
    std::fs::write(&input, &full[..full.len() / 2]).unwrap();
    expect_failure(
        &input,
        &d.path().join("o.mp4"),
        &[],
        &["cut.mp4", "truncated"],
    );
}

#[test]
fn truncated_faststart_mp4() {
    // Index at the front, media data cut off: the header promises frames that are not there.
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("fs.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=24:duration=4",
        "-c:v",
        "libx264",
        "-movflags",
        "+faststart",
        src.to_str().unwrap(),
    ]);
    let full = std::fs::read(&src).unwrap();
    let input = d.path().join("cut-fs.mp4");
    std::fs::write(&input, &full[..full.len() * 6 / 10]).unwrap();
    expect_failure(
        &input,
        &d.path().join("o.mp4"),
        &[],
        &["cut-fs.mp4", "truncated"],
    );
}

#[test]
fn audio_only() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("song.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1",
        "-c:a",
        "aac",
        input.to_str().unwrap(),
    ]);
    expect_failure(
        &input,
        &d.path().join("o.mp4"),
        &[],
        &["song.mp4", "audio-only"],
    );
}

#[test]
fn unsupported_codec() {
    let d = tempfile::tempdir().unwrap();
    // An H.264 file whose codec tags are overwritten: no decoder knows 'zzzz'.
    let bytes = std::fs::read(small_clip(d.path())).unwrap();
    let mut b = bytes;
    for (from, to) in [(b"avc1", b"zzzz"), (b"avcC", b"zzzC")] {
        let mut i = 0;
        while i + 4 <= b.len() {
            if &b[i..i + 4] == from {
                b[i..i + 4].copy_from_slice(to);
            }
            i += 1;
        }
    }
    let input = d.path().join("odd-codec.mp4");
    std::fs::write(&input, b).unwrap();
    expect_failure(
        &input,
        &d.path().join("o.mp4"),
        &[],
        &["odd-codec.mp4", "unsupported video codec"],
    );
}

#[test]
fn missing_input_file() {
    let d = tempfile::tempdir().unwrap();
    expect_failure(
        &d.path().join("nope.mp4"),
        &d.path().join("o.mp4"),
        &[],
        &["nope.mp4", "cannot read"],
    );
}

#[test]
fn output_not_writable() {
    let d = tempfile::tempdir().unwrap();
    let input = small_clip(d.path());
    let out = d.path().join("no-such-dir").join("o.mp4");
    let wd = d.path().join("wd");
    let res = convert(&input, &out, &wd, &[]);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(1));
    assert!(
        stderr.contains("o.mp4") && stderr.contains("does not exist"),
        "{stderr}"
    );
    // A directory as output.
    let dir_out = d.path().join("adir");
    std::fs::create_dir(&dir_out).unwrap();
    let res = convert(&input, &dir_out, &wd, &[]);
    assert!(String::from_utf8_lossy(&res.stderr).contains("is a directory"));
    assert!(dir_out.is_dir());
}

#[test]
fn missing_model_file() {
    let d = tempfile::tempdir().unwrap();
    let input = small_clip(d.path());
    expect_failure(
        &input,
        &d.path().join("o.mp4"),
        &[
            "--model",
            "/nonexistent/depth.onnx",
            "--model-profile",
            "midas-small",
        ],
        &["depth.onnx", "not found"],
    );
}

#[test]
fn wrong_model_io() {
    let d = tempfile::tempdir().unwrap();
    let input = small_clip(d.path());
    let out = python()
        .arg(workspace().join("pipeline-core/models/gen_models.py"))
        .arg("--test-doubles")
        .arg(d.path())
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let model = d.path().join("wrong-io.onnx");
    expect_failure(
        &input,
        &d.path().join("o.mp4"),
        &[
            "--model",
            model.to_str().unwrap(),
            "--model-profile",
            "depth-anything-v2",
        ],
        &["wrong-io.onnx"],
    );
}

#[test]
fn cuda_without_gpu_fails_fast() {
    let d = tempfile::tempdir().unwrap();
    let input = small_clip(d.path());
    let t = std::time::Instant::now();
    expect_failure(
        &input,
        &d.path().join("o.mp4"),
        &["--device", "cuda"],
        &["cuda"],
    );
    assert!(t.elapsed().as_secs() < 20);
}
