//! Depth adapter against the real ONNX Runtime library.
//!
//! Needs libonnxruntime: `$ORT_DYLIB_PATH`, else `<workspace>/.deps/onnxruntime/libonnxruntime.so.1.31.1`
//! (`make deps` downloads it). Test-double models are generated with
//! `$STEREOSPOT_PYTHON pipeline-core/models/gen_models.py --test-doubles DIR` (the venv `make test`
//! provides; see `support/tools.rs`: those tests fail under `make test` when it lacks onnx/numpy,
//! and skip, saying why, under a plain `cargo test`).
#[path = "support/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pipeline_core::depth::{
    factory_from_args, init_ort_from, Device, ModelSource, Normalization, OrtConfig, OrtFactory,
    Profile, Resampler, EMBEDDED_MODEL,
};
use pipeline_core::ports::depth::{DepthError, DepthEstimatorFactory, DepthMap, FrameRef};

const W: u32 = 640;
const H: u32 = 360;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Load ONNX Runtime once for this test binary.
fn ort() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let path = match std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => workspace().join(".deps/onnxruntime/libonnxruntime.so.1.31.1"),
        };
        assert!(
            path.is_file(),
            "ONNX Runtime library not found at {} (ORT_DYLIB_PATH unset or wrong): run `make deps` \
             or `make test`, or point ORT_DYLIB_PATH at libonnxruntime.so",
            path.display()
        );
        if let Err(e) = init_ort_from(&path) {
            panic!("loading ONNX Runtime from {}: {e}", path.display());
        }
    });
}

/// Deterministic pseudo-random bytes (xorshift), so tests need no RNG crate.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed.max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// Frame from a per-pixel function.
fn frame_with(f: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity((W * H * 3) as usize);
    for y in 0..H {
        for x in 0..W {
            rgb.extend_from_slice(&f(x, y));
        }
    }
    rgb
}

/// Flat pale sky above, sharp high-contrast texture below.
fn sky_over_texture() -> Vec<u8> {
    let tex = noise(7, (W * H) as usize);
    frame_with(|x, y| {
        if y < H / 2 {
            [170, 190, 215]
        } else {
            let v = tex[(y * W + x) as usize];
            [v, v / 2 + 60, v / 3]
        }
    })
}

/// Same texture left and right, the right half box-blurred (out of focus).
fn sharp_left_blurry_right() -> Vec<u8> {
    let tex = noise(11, (W * H) as usize);
    let at = |x: i64, y: i64| {
        tex[(y.clamp(0, H as i64 - 1) * W as i64 + x.clamp(0, W as i64 - 1)) as usize]
    };
    frame_with(|x, y| {
        let v = if x < W / 2 {
            at(x as i64, y as i64)
        } else {
            let mut sum = 0u32;
            for dy in -4..=4 {
                for dx in -4..=4 {
                    sum += at(x as i64 + dx, y as i64 + dy) as u32;
                }
            }
            (sum / 81) as u8
        };
        [v, v, v]
    })
}

fn gradient_frame(seed: u8) -> Vec<u8> {
    let tex = noise(seed as u64 + 100, (W * H) as usize);
    frame_with(|x, y| {
        let t = tex[(y * W + x) as usize] / 4;
        [
            (x / 3) as u8 ^ seed,
            (y / 2) as u8 + t,
            seed.wrapping_mul(7) ^ t,
        ]
    })
}

fn fr(rgb: &[u8]) -> FrameRef<'_> {
    FrameRef {
        width: W,
        height: H,
        rgb,
    }
}

fn mean_rect(m: &DepthMap, x0: u32, y0: u32, x1: u32, y1: u32) -> f32 {
    let mut sum = 0.0f64;
    for y in y0..y1 {
        for x in x0..x1 {
            sum += m.data[(y * m.width + x) as usize] as f64;
        }
    }
    (sum / ((x1 - x0) * (y1 - y0)) as f64) as f32
}

fn assert_valid(m: &DepthMap, w: u32, h: u32) {
    assert_eq!((m.width, m.height), (w, h));
    assert_eq!(m.data.len(), (w * h) as usize);
    assert!(
        m.data
            .iter()
            .all(|v| v.is_finite() && (0.0..=1.0).contains(v)),
        "values outside [0,1]"
    );
}

fn embedded() -> OrtFactory {
    ort();
    OrtFactory::new(OrtConfig::embedded()).expect("embedded model must load")
}

#[test]
fn embedded_model_lower_textured_half_is_nearer() {
    let factory = embedded();
    assert_eq!(factory.device(), Device::Cpu);
    assert_eq!(factory.input_size(W, H), (344, 192));
    let mut est = factory.create().expect("estimator");
    let rgb = sky_over_texture();
    let maps = est.estimate(&[fr(&rgb)]).expect("estimate");
    assert_eq!(maps.len(), 1);
    let m = &maps[0];
    assert_valid(m, 344, 192);
    let top = mean_rect(m, 0, 0, 344, 96);
    let bottom = mean_rect(m, 0, 96, 344, 192);
    assert!(
        bottom > top + 0.25,
        "textured lower half should be nearer: top {top}, bottom {bottom}"
    );
    // Not saturated: a heuristic should leave room at both ends.
    assert!(top > 0.0 && bottom < 1.0, "top {top}, bottom {bottom}");
}

#[test]
fn embedded_model_sharp_is_nearer_than_blurred() {
    let mut est = embedded().create().expect("estimator");
    let rgb = sharp_left_blurry_right();
    let m = &est.estimate(&[fr(&rgb)]).expect("estimate")[0];
    assert_valid(m, 344, 192);
    // Same rows on both sides, so the vertical prior cancels; stay clear of the seam.
    let left = mean_rect(m, 0, 0, 150, 192);
    let right = mean_rect(m, 194, 0, 344, 192);
    assert!(
        left > right + 0.1,
        "sharp left should be nearer: left {left}, right {right}"
    );
}

#[test]
fn embedded_model_flat_frame_follows_the_vertical_prior_only() {
    let mut est = embedded().create().expect("estimator");
    let rgb = frame_with(|_, _| [128, 128, 128]);
    let m = &est.estimate(&[fr(&rgb)]).expect("estimate")[0];
    assert_valid(m, 344, 192);
    let rows: Vec<f32> = (0..192).map(|y| mean_rect(m, 0, y, 344, y + 1)).collect();
    assert!(
        rows.windows(2).all(|w| w[1] >= w[0] - 1e-4),
        "lower rows are nearer on a flat frame"
    );
    assert!(rows[191] - rows[0] > 0.3, "{} .. {}", rows[0], rows[191]);
    // No texture anywhere: each row is constant across the width.
    for y in [0u32, 95, 191] {
        let row = &m.data[(y * 344) as usize..((y + 1) * 344) as usize];
        let spread = row.iter().cloned().fold(f32::MIN, f32::max)
            - row.iter().cloned().fold(f32::MAX, f32::min);
        assert!(spread < 1e-4, "row {y} spread {spread}");
    }
}

#[test]
fn embedded_model_is_deterministic_and_batch_invariant() {
    let factory = embedded();
    let frames: Vec<Vec<u8>> = (1..=3).map(gradient_frame).collect();
    let refs: Vec<FrameRef<'_>> = frames.iter().map(|f| fr(f)).collect();
    let mut est = factory.create().expect("estimator");
    let batch = est.estimate(&refs).expect("batch of 3");
    assert_eq!(batch.len(), 3);
    let again = est.estimate(&refs).expect("same batch again");
    assert_eq!(batch, again, "same input, same estimator: identical output");
    let mut other = factory.create().expect("second estimator");
    for (i, f) in refs.iter().enumerate() {
        let single = other.estimate(std::slice::from_ref(f)).expect("single");
        assert_eq!(
            single[0], batch[i],
            "frame {i}: batch of 3 differs from running it alone"
        );
    }
    assert_ne!(batch[0], batch[1], "different frames give different maps");
    // More frames than the batch size are split into runs.
    let many: Vec<FrameRef<'_>> = refs.iter().cycle().take(7).copied().collect();
    let out = est.estimate(&many).expect("7 frames");
    assert_eq!(out.len(), 7);
    assert_eq!(out[6], batch[0]);
}

#[test]
fn mismatched_frames_are_rejected() {
    let mut est = embedded().create().expect("estimator");
    let a = gradient_frame(1);
    let small = vec![0u8; 32 * 32 * 3];
    let b = FrameRef {
        width: 32,
        height: 32,
        rgb: &small,
    };
    let err = est.estimate(&[fr(&a), b]).unwrap_err();
    assert!(matches!(err, DepthError::Inference(_)), "{err}");
    let short = FrameRef {
        width: W,
        height: H,
        rgb: &a[..100],
    };
    assert!(matches!(
        est.estimate(&[short]).unwrap_err(),
        DepthError::Inference(_)
    ));
    assert!(est.estimate(&[]).expect("empty").is_empty());
}

/// Generate the test doubles (with the Python `make test` provides), or say why not: a failure
/// under `make test`, a skip under a plain `cargo test`.
fn test_doubles(test: &str) -> Option<tempfile::TempDir> {
    tools::need(test, tools::python_missing(&["onnx", "numpy"])).ok()?;
    let dir = tempfile::tempdir().expect("tempdir");
    let script = workspace().join("pipeline-core/models/gen_models.py");
    let out = tools::python()
        .arg(&script)
        .arg("--test-doubles")
        .arg(dir.path())
        .output()
        .expect("run gen_models.py");
    assert!(
        out.status.success(),
        "gen_models.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(dir)
}

#[test]
fn depth_anything_v2_double_loads_and_maps_frames() {
    let Some(dir) = test_doubles("depth_anything_v2_double_loads_and_maps_frames") else {
        return;
    };
    ort();
    let path = dir.path().join("depth-anything-v2-small.onnx");
    let mut cfg = OrtConfig::new(
        ModelSource::Path(path.clone()),
        Profile::depth_anything_v2(),
    );
    cfg.batch_size = 2;
    let factory = OrtFactory::new(cfg).expect("DA-V2 double");
    assert_eq!(factory.input_size(W, H), (448, 252));
    let mut est = factory.create().expect("estimator");
    assert_eq!(est.max_batch(), 2);
    let frames: Vec<Vec<u8>> = (1..=3).map(gradient_frame).collect();
    let refs: Vec<FrameRef<'_>> = frames.iter().map(|f| fr(f)).collect();
    let maps = est.estimate(&refs).expect("estimate");
    assert_eq!(maps.len(), 3);
    for m in &maps {
        assert_valid(m, 448, 252);
        // Relative output normalised per frame: it spans (almost) the whole range.
        let lo = m.data.iter().cloned().fold(f32::MAX, f32::min);
        let hi = m.data.iter().cloned().fold(f32::MIN, f32::max);
        assert!(lo == 0.0 && hi == 1.0, "p2..p98 normalisation: {lo}..{hi}");
    }
    // The file name makes the profile obvious.
    let guessed = factory_from_args(Some(path), None, "cpu", 4).expect("profile from file name");
    assert_eq!(guessed.profile().name, "depth-anything-v2");
}

#[test]
fn midas_double_runs_fixed_size_one_frame_at_a_time() {
    let Some(dir) = test_doubles("midas_double_runs_fixed_size_one_frame_at_a_time") else {
        return;
    };
    ort();
    let path = dir.path().join("midas-small.onnx");
    let factory =
        factory_from_args(Some(path), Some("midas-small"), "cpu", 4).expect("MiDaS double");
    assert_eq!(factory.input_size(W, H), (256, 256));
    assert!(
        factory.describe().contains("batch 1"),
        "{}",
        factory.describe()
    );
    let mut est = factory.create().expect("estimator");
    assert_eq!(est.max_batch(), 4);
    let frames: Vec<Vec<u8>> = (1..=3).map(gradient_frame).collect();
    let refs: Vec<FrameRef<'_>> = frames.iter().map(|f| fr(f)).collect();
    let maps = est.estimate(&refs).expect("estimate");
    assert_eq!(maps.len(), 3);
    for m in &maps {
        assert_valid(m, 256, 256);
    }
    let single = est.estimate(&refs[1..2]).expect("single");
    assert_eq!(single[0], maps[1]);
}

#[test]
fn wrong_io_model_is_bad_model() {
    let Some(dir) = test_doubles("wrong_io_model_is_bad_model") else {
        return;
    };
    ort();
    let path = dir.path().join("wrong-io.onnx");
    let cfg = OrtConfig::new(ModelSource::Path(path), Profile::depth_anything_v2());
    match OrtFactory::new(cfg) {
        Err(DepthError::BadModel { reason, .. }) => {
            assert!(
                reason.contains("[N, 3, H, W]"),
                "names the expectation: {reason}"
            );
            assert!(
                reason.contains("`x`: float32 [1, 1, 64, 64]"),
                "names the actual input: {reason}"
            );
        }
        other => panic!("expected BadModel, got {other:?}"),
    }
}

#[test]
fn missing_and_corrupt_model_files() {
    ort();
    let cfg = OrtConfig::new(
        ModelSource::Path("/nonexistent/model.onnx".into()),
        Profile::midas_small(),
    );
    assert!(matches!(
        OrtFactory::new(cfg),
        Err(DepthError::ModelNotFound { .. })
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"this is not an onnx model").expect("write");
    let cfg = OrtConfig::new(ModelSource::Path(junk), Profile::midas_small());
    assert!(matches!(
        OrtFactory::new(cfg),
        Err(DepthError::BadModel { .. })
    ));
}

#[test]
fn gpu_devices_fail_fast_without_a_gpu_build() {
    ort();
    use ort::ep::ExecutionProvider;
    // With a CUDA-capable ONNX Runtime library an explicit GPU device may work; it must then be
    // the device asked for. Without one (or without a GPU) it must fail fast and say what to do.
    let has_cuda = ort::ep::CUDA::is_available().unwrap_or(false);
    for device in ["cuda", "tensorrt"] {
        let start = Instant::now();
        let result = factory_from_args(None, None, device, 4);
        let took = start.elapsed();
        match result {
            Ok(f) if has_cuda => assert_ne!(f.device(), Device::Cpu, "{device} fell back to CPU"),
            Err(DepthError::DeviceUnavailable { device: d, reason }) => {
                assert_eq!(d, device);
                assert!(
                    reason.contains("--device cpu"),
                    "actionable message: {reason}"
                );
            }
            other => panic!("{device}: expected DeviceUnavailable, got {other:?}"),
        }
        assert!(took < Duration::from_secs(10), "{device} took {took:?}");
    }
    let auto = factory_from_args(None, None, "auto", 4).expect("auto falls back to CPU");
    if !has_cuda {
        assert_eq!(auto.device(), Device::Cpu);
        // Said once (debug log, `--json`), not as a warning: the note carries the reason.
        let note = auto.device_note().expect("a note on the CPU fallback");
        assert!(note.contains("CUDA unavailable"), "{note}");
    }
    let cpu = factory_from_args(None, None, "cpu", 4).expect("cpu");
    assert_eq!(cpu.device_note(), None, "asked for CPU: nothing to say");
    let rgb = sky_over_texture();
    let maps = auto
        .create()
        .expect("estimator")
        .estimate(&[fr(&rgb)])
        .expect("estimate");
    assert_valid(&maps[0], 344, 192);
}

#[test]
fn committed_cue_model_regenerates_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("stereospot-cues.onnx");
    let script = workspace().join("pipeline-core/models/gen_models.py");
    if tools::need(
        "committed_cue_model_regenerates_byte_identical",
        tools::python_missing(&["onnx", "numpy"]),
    )
    .is_err()
    {
        return;
    }
    let o = tools::python()
        .arg(&script)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run gen_models.py");
    assert!(
        o.status.success(),
        "gen_models.py failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let fresh = std::fs::read(&out).expect("generated file");
    let committed = std::fs::read(workspace().join("pipeline-core/models/stereospot-cues.onnx"))
        .expect("committed");
    assert!(
        fresh == committed,
        "models/stereospot-cues.onnx is stale: rerun gen_models.py"
    );
    assert!(
        fresh == EMBEDDED_MODEL,
        "the binary embeds a different model than the committed file"
    );
}

/// CPU time of the calling thread in ns (Linux schedstat), for timings that survive a busy machine.
/// With one intra-op thread, ONNX Runtime runs everything on the calling thread.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Wall and thread-CPU milliseconds per call of `f`, over `runs` calls.
fn time_ms(runs: usize, mut f: impl FnMut()) -> (f64, Option<f64>) {
    let cpu0 = thread_cpu_ns();
    let start = Instant::now();
    for _ in 0..runs {
        f();
    }
    let wall = start.elapsed().as_secs_f64() * 1000.0 / runs as f64;
    let cpu = match (cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) => Some((b - a) as f64 / 1e6 / runs as f64),
        _ => None,
    };
    (wall, cpu)
}

/// `cargo test -p pipeline-core --test depth -- --ignored --nocapture bench` prints ms/frame.
#[test]
#[ignore = "benchmark"]
fn bench_embedded_model() {
    let factory = embedded();
    let frames: Vec<Vec<u8>> = (1..=4).map(gradient_frame).collect();
    let refs: Vec<FrameRef<'_>> = frames.iter().map(|f| fr(f)).collect();
    let show = |what: &str, frames_per_call: usize, (wall, cpu): (f64, Option<f64>)| {
        let n = frames_per_call as f64;
        let cpu = cpu.map_or("n/a".to_string(), |c| format!("{:.2}", c / n));
        println!(
            "{what}: {:.2} ms/frame wall, {cpu} ms/frame thread CPU",
            wall / n
        );
    };
    for batch in [1usize, 4] {
        let mut est = factory.create().expect("estimator");
        let set = &refs[..batch];
        for _ in 0..5 {
            est.estimate(set).expect("warm-up");
        }
        let t = time_ms(400 / batch, || {
            est.estimate(set).expect("estimate");
        });
        show(
            &format!("stereospot-cues 640x360 -> 344x192, 1 thread, batch {batch}, end to end"),
            batch,
            t,
        );
    }
    let mut resampler = Resampler::new();
    let mut dst = vec![0.0f32; 3 * 344 * 192];
    let t = time_ms(400, || {
        resampler
            .resize_normalize(&refs[0], 344, 192, &Normalization::UNIT, &mut dst)
            .expect("resize");
    });
    show("of which resize + normalise 640x360 -> 344x192", 1, t);
}
