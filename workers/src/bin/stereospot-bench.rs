//! `make bench`: throughput of each stage alone (decode, depth inference, render, encode) and of
//! the whole `stereospot convert` in the same run, the ratio of end-to-end fps to the slowest
//! stage, and the peak memory of the conversion (its process tree).
use anyhow::{bail, Context as _, Result};
use pipeline_core::depth::{OrtConfig, OrtFactory};
use pipeline_core::media::{output_format, probe, Decoder, EncodeSettings, Encoder};
use pipeline_core::ports::depth::{DepthEstimatorFactory, FrameRef};
use pipeline_core::stereo::{Layout, Renderer, StereoParams};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Frames used for the in-memory stage measurements (10 s at 24 fps).
const SAMPLE: usize = 240;

fn main() -> Result<()> {
    let media = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/media/big_buck_bunny_360p_24fps_60s.mp4".into()),
    );
    if !media.exists() {
        println!(
            "skipped: {} not found (the shared media folder is not beside this checkout)",
            media.display()
        );
        return Ok(());
    }
    let info = probe(&media)?;
    let (w, h) = info.display_size();
    println!(
        "input: {} ({}x{}, {} frames, {:.1} fps)",
        media.display(),
        w,
        h,
        info.frames,
        info.fps()
    );
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        cpu_model()
    );

    // Decode alone (whole file), keeping the first SAMPLE frames.
    let t = Instant::now();
    let mut dec = Decoder::open(&media, &info, false)?;
    let (mut n, mut frames, mut buf) = (0u64, Vec::new(), Vec::new());
    while dec.read_frame(&mut buf)? {
        if frames.len() < SAMPLE {
            frames.push(buf.clone());
        }
        n += 1;
    }
    let decode_fps = n as f64 / t.elapsed().as_secs_f64();

    // Depth inference alone (embedded model, CPU, batch 4 as convert uses).
    let factory = OrtFactory::new(OrtConfig {
        device: pipeline_core::depth::Device::Cpu,
        ..OrtConfig::embedded()
    })?;
    let mut est = factory.create()?;
    let t = Instant::now();
    let mut depths = Vec::with_capacity(frames.len());
    for chunk in frames.chunks(est.max_batch().max(1)) {
        let refs: Vec<FrameRef<'_>> = chunk
            .iter()
            .map(|f| FrameRef {
                width: w,
                height: h,
                rgb: f,
            })
            .collect();
        depths.extend(est.estimate(&refs)?);
    }
    let depth_fps = frames.len() as f64 / t.elapsed().as_secs_f64();

    // Render alone (full SBS, default parameters).
    let mut r = Renderer::new(w, h, Layout::FullSbs, StereoParams::default());
    let (ow, oh) = r.output_size();
    let mut rendered = Vec::with_capacity(frames.len());
    let t = Instant::now();
    for (f, d) in frames.iter().zip(&depths) {
        let mut out = Vec::new();
        r.render(f, &d.data, d.width, d.height, &mut out)
            .map_err(anyhow::Error::msg)?;
        rendered.push(out);
    }
    let render_fps = frames.len() as f64 / t.elapsed().as_secs_f64();

    // Encode alone (x264 veryfast crf 18, the convert default).
    let tmp = tempfile::tempdir()?;
    let t = Instant::now();
    let format = output_format::choose(&info, Layout::FullSbs, None, None);
    let frame_ns = (1e9 / info.fps()) as u64;
    let mut enc = Encoder::start(
        &tmp.path().join("enc.mp4"),
        ow,
        oh,
        &format,
        &EncodeSettings::default(),
        frame_ns,
    )?;
    for (i, f) in rendered.iter().enumerate() {
        enc.write_frame(f, i as u64 * frame_ns)?;
    }
    enc.finish()?;
    let encode_fps = rendered.len() as f64 / t.elapsed().as_secs_f64();

    // End to end: the real binary, as a user runs it.
    let exe = std::env::current_exe()?.with_file_name("stereospot");
    let out = tmp.path().join("out.mp4");
    let t = Instant::now();
    let mut child = Command::new(&exe)
        .arg("convert")
        .arg(&media)
        .arg("-o")
        .arg(&out)
        .args(["--json", "--quiet", "--device", "cpu", "--workdir"])
        .arg(tmp.path().join("wd"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("running {}", exe.display()))?;
    let pid = child.id();
    let mut peak_kib = 0u64;
    while child.try_wait()?.is_none() {
        peak_kib = peak_kib.max(tree_rss_kib(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    let wall = t.elapsed().as_secs_f64();
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("convert failed");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(output.stdout.trim_ascii()).context("convert summary")?;
    let e2e_frames = summary["output_frames"].as_u64().unwrap_or(0);
    let e2e_fps = e2e_frames as f64 / wall;

    let stages = [
        ("decode", decode_fps),
        ("depth", depth_fps),
        ("render", render_fps),
        ("encode", encode_fps),
    ];
    let (slow_name, slow) =
        stages
            .iter()
            .copied()
            .fold(("", f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
    println!();
    println!("| stage (alone) | fps |");
    println!("|---|---|");
    for (name, fps) in stages {
        println!("| {name} | {fps:.1} |");
    }
    println!("| **end-to-end** (`stereospot convert`, {e2e_frames} frames, {wall:.1} s) | {e2e_fps:.1} |");
    println!();
    println!(
        "ratio end-to-end / slowest stage alone ({slow_name}): {:.2} (target >= 0.8)",
        e2e_fps / slow
    );
    println!(
        "peak RSS of the conversion (stereospot + ffmpeg children): {:.0} MiB (target < 1024)",
        peak_kib as f64 / 1024.0
    );
    bit_depth_paths(&media, &exe, tmp.path())?;
    Ok(())
}

/// The 10-bit path against the 8-bit path on the same 10 s of the clip, in the same run: the
/// 8-bit H.264 source converted by default (8-bit render, x264), the same source forced through
/// the 16-bit render and a 10-bit x264 encode (the cost of 16-bit samples alone), and a 10-bit
/// HEVC copy of it converted by default (16-bit render, x265 Main10: what HDR sources take).
fn bit_depth_paths(media: &Path, exe: &Path, tmp: &Path) -> Result<()> {
    let eight = tmp.join("clip8.mp4");
    let ten = tmp.join("clip10.mp4");
    let ff = |args: &[&str]| -> Result<()> {
        let st = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-y"])
            .args(args)
            .status()?;
        if !st.success() {
            bail!("ffmpeg {args:?} failed");
        }
        Ok(())
    };
    let m = media.to_string_lossy();
    ff(&[
        "-i",
        &m,
        "-t",
        "10",
        "-an",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "18",
        &eight.to_string_lossy(),
    ])?;
    ff(&[
        "-i",
        &m,
        "-t",
        "10",
        "-an",
        "-pix_fmt",
        "yuv420p10le",
        "-c:v",
        "libx265",
        "-preset",
        "veryfast",
        "-x265-params",
        "log-level=error",
        "-tag:v",
        "hvc1",
        &ten.to_string_lossy(),
    ])?;
    let run =
        |input: &Path, extra: &[&str], name: &str| timed_convert(exe, tmp, input, extra, name);
    let base = run(&eight, &[], "8bit")?;
    let forced = run(
        &eight,
        &["--output-codec", "h264", "--pix-fmt", "yuv420p10le"],
        "8bit-as-16",
    )?;
    let hevc10 = run(&ten, &[], "10bit-hevc")?;
    println!();
    println!("| 10 s of the clip, end to end | fps | vs 8-bit |");
    println!("|---|---|---|");
    println!("| 8-bit H.264 in, 8-bit render, x264 8-bit out (default) | {base:.1} | 1.00 |");
    println!("| same input, 16-bit render, x264 High10 out (`--pix-fmt yuv420p10le --output-codec h264`) | {forced:.1} | {:.2} |", forced / base);
    println!("| 10-bit HEVC in, 16-bit render, x265 Main10 out (default for 10-bit) | {hevc10:.1} | {:.2} |", hevc10 / base);
    depth_reuse(exe, tmp, &eight, base)
}

/// Depth export and re-render on the 8-bit clip, against the plain conversion (`base` fps,
/// same run): the cost of keeping the depth, and a re-render from it (no model, one segment).
/// With the embedded model, and with `STEREOSPOT_BENCH_MODEL` (an ONNX file of a learned
/// model's cost, `scripts/heavy_model.py`; `make bench` makes one) when it is set.
fn depth_reuse(exe: &Path, tmp: &Path, clip: &Path, base: f64) -> Result<()> {
    reuse_table(exe, tmp, clip, "embedded model", &[], Some(base))?;
    match std::env::var("STEREOSPOT_BENCH_MODEL") {
        Ok(m) if !m.is_empty() => {
            let args = [
                "--model",
                m.as_str(),
                "--model-profile",
                "depth-anything-v2",
            ];
            let label = "a learned model's cost (scripts/heavy_model.py)";
            reuse_table(exe, tmp, clip, label, &args, None)
        }
        _ => {
            println!("(STEREOSPOT_BENCH_MODEL not set: the learned-model-cost rows are skipped)");
            Ok(())
        }
    }
}

fn reuse_table(
    exe: &Path,
    tmp: &Path,
    clip: &Path,
    label: &str,
    model: &[&str],
    base: Option<f64>,
) -> Result<()> {
    let tag = if model.is_empty() { "cues" } else { "heavy" };
    let depth = tmp.join(format!("clip8-{tag}.depth.mkv"));
    let d = depth.to_string_lossy().into_owned();
    let base = match base {
        Some(b) => b,
        None => timed_convert(exe, tmp, clip, model, &format!("plain-{tag}"))?,
    };
    let mut with_export = model.to_vec();
    with_export.extend(["--export-depth", d.as_str()]);
    let export = timed_convert(exe, tmp, clip, &with_export, &format!("export-{tag}"))?;
    let args = ["--depth", d.as_str(), "--divergence", "3"];
    let again = timed_convert(exe, tmp, clip, &args, &format!("rerender-{tag}"))?;
    println!();
    println!("| 10 s of the clip, end to end, {label} | fps | vs plain conversion |");
    println!("|---|---|---|");
    println!("| plain conversion | {base:.1} | 1.00 |");
    println!(
        "| with `--export-depth` | {export:.1} | {:.2} |",
        export / base
    );
    println!(
        "| re-render from the depth file (`--depth`, one segment, no model) | {again:.1} | {:.2} |",
        again / base
    );
    Ok(())
}

/// Frames per wall second of one `stereospot convert` of `input` with `extra` arguments.
fn timed_convert(exe: &Path, tmp: &Path, input: &Path, extra: &[&str], name: &str) -> Result<f64> {
    let out = tmp.join(format!("{name}.mp4"));
    let t = Instant::now();
    let o = Command::new(exe)
        .arg("convert")
        .arg(input)
        .arg("-o")
        .arg(&out)
        .args(["--json", "--quiet", "--device", "cpu", "--workdir"])
        .arg(tmp.join(format!("wd-{name}")))
        .args(extra)
        .stderr(Stdio::inherit())
        .output()?;
    if !o.status.success() {
        bail!("convert {name} failed");
    }
    let s: serde_json::Value = serde_json::from_slice(o.stdout.trim_ascii())?;
    Ok(s["output_frames"].as_f64().unwrap_or(0.0) / t.elapsed().as_secs_f64())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Resident memory of `pid` and all its descendants, in KiB (from /proc).
fn tree_rss_kib(pid: u32) -> u64 {
    let mut parent_of = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            // Field 4 (ppid) follows the ")" that closes the command name.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(pp) = ppid {
                parent_of.push((p, pp));
            }
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let cur = tree[i];
        tree.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| *pp == cur)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree.iter()
        .map(|p| rss_kib(Path::new(&format!("/proc/{p}/status"))))
        .sum()
}

fn rss_kib(status: &Path) -> u64 {
    std::fs::read_to_string(status)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
