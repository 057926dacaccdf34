//! Depth must not jump at segment seams: a continuous clip split into keyframe-aligned pieces
//! (as the chunk step does) gives, at every seam, a depth change no larger than the typical
//! frame-to-frame change inside a segment — and exactly the depth the unsplit clip gives.
use pipeline_core::depth::{init_ort_from, OrtConfig, OrtFactory};
use pipeline_core::media::{probe, split_at_keyframes, Decoder};
use pipeline_core::ports::depth::{DepthEstimatorFactory, DepthMap, FrameRef};
use std::path::{Path, PathBuf};
use std::process::Command;

fn ort_lib() -> PathBuf {
    std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../.deps/onnxruntime/libonnxruntime.so.1.31.1")
        })
}

fn depth_of_file(
    path: &Path,
    info: &pipeline_core::domain::MediaInfo,
    f: &OrtFactory,
) -> Vec<DepthMap> {
    let mut est = f.create().expect("estimator");
    let mut dec = Decoder::open(path, info, false).expect("decoder");
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while dec.read_frame(&mut buf).expect("decode") {
        let fr = FrameRef {
            width: dec.width,
            height: dec.height,
            rgb: &buf,
        };
        out.extend(est.estimate(&[fr]).expect("depth"));
    }
    out
}

fn mean_abs(a: &DepthMap, b: &DepthMap) -> f64 {
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs() as f64)
        .sum::<f64>()
        / a.data.len() as f64
}

#[test]
fn depth_is_continuous_across_segment_seams() {
    init_ort_from(&ort_lib()).expect("ONNX Runtime (run `make deps` or set ORT_DYLIB_PATH)");
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("zoom.mp4");
    // A continuously changing scene (a Mandelbrot zoom), keyframe every 24 frames, B-frames.
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "mandelbrot=size=320x240:rate=24,trim=duration=6",
        ])
        .args(["-c:v", "libx264", "-g", "24", "-bf", "2"])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(st.success());
    let info = probe(&clip).unwrap();
    let pieces = split_at_keyframes(&clip, &dir.path().join("pieces"), 1.0, "ts").unwrap();
    assert!(pieces.len() >= 5, "several segments: {}", pieces.len());

    let factory = OrtFactory::new(OrtConfig::embedded()).unwrap();
    let whole = depth_of_file(&clip, &info, &factory);
    let per_segment: Vec<Vec<DepthMap>> = pieces
        .iter()
        .map(|p| depth_of_file(p, &info, &factory))
        .collect();
    let joined: Vec<&DepthMap> = per_segment.iter().flatten().collect();
    assert_eq!(
        joined.len(),
        whole.len(),
        "segments decode to the same frames"
    );
    // Same frames, same depth: normalisation has no state that a seam could reset.
    for (i, (a, b)) in whole.iter().zip(&joined).enumerate() {
        assert!(
            mean_abs(a, b) < 1e-6,
            "frame {i}: depth differs when processed in a segment"
        );
    }

    let mut inside = Vec::new();
    let mut seams = Vec::new();
    for (si, seg) in per_segment.iter().enumerate() {
        inside.extend(seg.windows(2).map(|w| mean_abs(&w[0], &w[1])));
        if let (Some(last), Some(next)) =
            (seg.last(), per_segment.get(si + 1).and_then(|s| s.first()))
        {
            seams.push(mean_abs(last, next));
        }
    }
    inside.sort_by(f64::total_cmp);
    let median = inside[inside.len() / 2];
    let p90 = inside[inside.len() * 9 / 10];
    let seam_mean = seams.iter().sum::<f64>() / seams.len() as f64;
    println!("seam mean {seam_mean:.5}, inside median {median:.5}, p90 {p90:.5}, seams {seams:?}");
    assert!(
        median > 0.0,
        "the scene moves, so depth changes inside segments"
    );
    assert!(
        seam_mean <= 1.5 * median,
        "seam change {seam_mean} vs typical {median}"
    );
    assert!(
        seams.iter().all(|&s| s <= p90 * 1.5),
        "no seam jumps: {seams:?} vs p90 {p90}"
    );
}
