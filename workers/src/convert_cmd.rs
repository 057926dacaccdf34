//! `stereospot convert`: arguments, defaults and wiring onto `pipeline_core::convert`.
use crate::progress::ConsoleProgress;
use clap::Args;
use pipeline_core::convert::{convert, convert_range, ConvertOptions, ConvertSummary};
use pipeline_core::depth::catalog;
use pipeline_core::depth::remote::{build_factory, Backend, BackendArgs};
use pipeline_core::media::trim::{parse_time, TrimRange};
use pipeline_core::media::{EncodeSettings, PixFmt, VideoCodec};
use pipeline_core::ports::DepthEstimatorFactory;
use pipeline_core::steps::{Settings, StereoSettings};
use pipeline_core::stereo::{vr180, AnaglyphMethod, Layout, LayoutOptions, StereoParams};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Args)]
pub struct ConvertArgs {
    /// Input video (mp4, mov, mkv, ...), photo (jpg, png, webp) or folder of them.
    pub input: PathBuf,
    /// Output MP4 for a video, .png/.jpg for a photo, a folder for a folder (written under a
    /// temporary name, renamed when complete).
    #[arg(short, long)]
    pub output: PathBuf,
    /// full-sbs | half-sbs | full-tb | half-tb | anaglyph | cross-eyed | rgbd | half-rgbd |
    /// vr180 | vr180-tb (rgbd: the frame beside its depth; vr180: a virtual screen for
    /// headsets, with spherical metadata)
    #[arg(long, default_value = "full-sbs")]
    pub layout: Layout,
    /// Anaglyph matrices, for --layout anaglyph: dubois | dubois2 | color | half-color | gray |
    /// wimmer
    #[arg(long, default_value = "dubois")]
    pub anaglyph_method: AnaglyphMethod,
    /// Width of the virtual screen of --layout vr180 / vr180-tb, in degrees (20-160).
    #[arg(long, default_value_t = vr180::DEFAULT_SCREEN_DEG)]
    pub vr_screen_deg: f32,
    /// Strength of the 3D effect: the largest disparity between the views, in % of the width.
    #[arg(long, default_value_t = 2.0)]
    pub divergence: f32,
    /// Which depth sits on the screen plane: 0 = farthest, 1 = nearest.
    #[arg(long, default_value_t = 0.5)]
    pub convergence: f32,
    /// Temporal window of learned (relative) depth models, in frames: their per-frame range is
    /// averaged over this many frames of the same shot, against flicker (1 = per frame). The
    /// embedded absolute model is not affected.
    #[arg(long, default_value_t = pipeline_core::depth::temporal::DEFAULT_WINDOW)]
    pub depth_smoothing: usize,
    /// Also write the depth maps (lossless 16-bit FFV1 video, .mkv) to this file, with a JSON
    /// sidecar beside it (same name, .json), to re-render later with `--depth`.
    #[arg(long, value_name = "FILE")]
    pub export_depth: Option<PathBuf>,
    /// Render from a depth file made by `--export-depth` for this same input instead of running a
    /// model (new layout, divergence or convergence without paying for depth again).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["model", "model_profile", "export_depth"])]
    pub depth: Option<PathBuf>,
    /// ONNX depth model: a file, or a name fetched with `stereospot models fetch NAME` (see
    /// `stereospot models list`; default: the embedded stereospot-cues heuristic model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// stereospot-cues | depth-anything-v2 | midas-small
    #[arg(long)]
    pub model_profile: Option<String>,
    /// cpu | cuda | tensorrt | auto (auto falls back to CPU; `--json` says so in device_note)
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Frames per inference call.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// local | http | sagemaker: where depth inference runs (remote backends: docs/inference.md;
    /// INFERENCE_TIMEOUT_SECONDS and INFERENCE_MAX_ATTEMPTS tune their calls).
    #[arg(long, default_value = "local")]
    pub inference_backend: Backend,
    /// Base URL of an inference-server, for --inference-backend http.
    #[arg(long)]
    pub inference_url: Option<String>,
    /// SageMaker endpoint name, for --inference-backend sagemaker.
    #[arg(long)]
    pub sagemaker_endpoint: Option<String>,
    /// Target segment length; pieces are cut at the next keyframe.
    #[arg(long, default_value_t = 10.0)]
    pub segment_seconds: f64,
    /// Segments rendered at once (default: half the CPU cores, between 2 and 8).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Video codec of the 3D output: h264 | hevc (default: h264 for 8-bit sources, hevc Main10
    /// for 10-bit and HDR ones).
    #[arg(long, value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<VideoCodec>()))]
    pub output_codec: Option<VideoCodec>,
    /// Pixel format of the 3D output: yuv420p | yuv420p10le (default: the source's depth).
    #[arg(long, value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<PixFmt>()))]
    pub pix_fmt: Option<PixFmt>,
    /// x264/x265 preset of the stereo encode.
    #[arg(long, default_value = "veryfast")]
    pub preset: String,
    /// x264/x265 CRF of the stereo encode (lower = better, bigger).
    #[arg(long, default_value_t = 18)]
    pub crf: u8,
    /// Resume state and scratch space (default: $STEREOSPOT_WORKDIR, else ~/.cache/stereospot).
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// Keep the job's intermediate segments after success.
    #[arg(long)]
    pub keep_intermediates: bool,
    /// Print one JSON summary line on stdout at the end.
    #[arg(long)]
    pub json: bool,
    /// Convert from this time on (seconds like 12.5, or hh:mm:ss[.ms] / mm:ss), frame-exact:
    /// the first frame at or after it starts the output.
    #[arg(long, value_parser = parse_time_arg)]
    pub start: Option<f64>,
    /// Convert up to this time (exclusive; same forms as --start); audio is cut to match.
    #[arg(long, value_parser = parse_time_arg)]
    pub end: Option<f64>,
    /// With a folder as INPUT: also convert the files in its subfolders.
    #[arg(short, long)]
    pub recursive: bool,
    /// No progress output.
    #[arg(short, long)]
    pub quiet: bool,
}

fn default_workdir() -> PathBuf {
    if let Some(p) = std::env::var_os("STEREOSPOT_WORKDIR") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("stereospot")
}

/// Settings that change the output: part of the job id, so a re-run with other settings is a
/// new job rather than a resume of mismatched segments.
fn fingerprint(a: &ConvertArgs, model: Option<&Path>, profile: Option<&str>) -> String {
    // A file by its canonical path and length.
    let file = |p: &Path| {
        let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let canon = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        format!("{}:{len}", canon.display())
    };
    let model = match (model, &a.depth) {
        (_, Some(d)) => format!("depth-file:{}", file(d)),
        (None, None) => "embedded".to_string(),
        (Some(p), None) => file(p),
    };
    let model = if a.export_depth.is_some() {
        format!("{model};export-depth")
    } else {
        model
    };
    // Remote backends differ from local by quantisation only, but a resumed job must not mix them.
    let backend = match a.inference_backend {
        Backend::Local => String::new(),
        other => format!(";backend={other}"),
    };
    let mut out = String::new();
    // Only where they change the output, so other layouts keep their job ids.
    if a.layout == Layout::Anaglyph && a.anaglyph_method != AnaglyphMethod::default() {
        out.push_str(&format!(";anaglyph={}", a.anaglyph_method));
    }
    if a.layout.is_vr180() {
        out.push_str(&format!(";vr_screen={}", a.vr_screen_deg));
    }
    if let Some(c) = a.output_codec {
        out.push_str(&format!(";codec={c}"));
    }
    if let Some(p) = a.pix_fmt {
        out.push_str(&format!(";pix_fmt={p}"));
    }
    format!(
        "layout={};div={};conv={};smooth={};model={model};profile={};seg={};preset={};crf={}{backend}{out}",
        a.layout,
        a.divergence,
        a.convergence,
        a.depth_smoothing,
        profile.unwrap_or(""),
        a.segment_seconds,
        a.preset,
        a.crf
    )
}

/// The depth model `convert` runs, loaded once (a batch shares it between its items).
#[derive(Clone)]
pub struct LoadedModel {
    pub factory: Arc<dyn DepthEstimatorFactory>,
    model: Option<PathBuf>,
    profile: Option<String>,
}

/// Check the stereo options and load the model of `args` (before touching any file: a bad
/// model fails in a second).
pub fn load_model(args: &ConvertArgs) -> anyhow::Result<LoadedModel> {
    stereo_params(args)?;
    layout_options(args)?;
    let max_window = pipeline_core::depth::temporal::MAX_WINDOW;
    if !(1..=max_window).contains(&args.depth_smoothing) {
        anyhow::bail!("--depth-smoothing must be 1..{max_window} frames");
    }
    let workdir = args.workdir.clone().unwrap_or_else(default_workdir);
    let (model, profile) = resolve_model(
        args.model.as_deref(),
        args.model_profile.as_deref(),
        &catalog::models_dir_from_env(Some(&workdir)),
    )?;
    let factory = match &args.depth {
        Some(depth) => depth_file_factory(depth, &args.input)?,
        None => build_factory(
            &BackendArgs {
                backend: args.inference_backend,
                model: model.clone(),
                profile: profile.clone(),
                device: args.device.clone(),
                batch: args.batch,
                inference_url: args.inference_url.clone(),
                sagemaker_endpoint: args.sagemaker_endpoint.clone(),
                ..BackendArgs::default()
            }
            .with_tuning_from_env()?,
        )?,
    };
    Ok(LoadedModel {
        factory,
        model,
        profile,
    })
}

/// `--divergence` / `--convergence`, validated.
pub fn stereo_params(args: &ConvertArgs) -> anyhow::Result<StereoParams> {
    let params = StereoParams {
        divergence: args.divergence,
        convergence: args.convergence,
    };
    params
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid stereo parameters: {e}"))?;
    Ok(params)
}

pub async fn run(args: ConvertArgs) -> anyhow::Result<ConvertSummary> {
    let model = load_model(&args)?;
    run_with(args, model).await
}

/// `--anaglyph-method` / `--vr-screen-deg`, validated.
pub fn layout_options(args: &ConvertArgs) -> anyhow::Result<LayoutOptions> {
    let o = LayoutOptions {
        anaglyph: args.anaglyph_method,
        vr_screen_deg: args.vr_screen_deg,
    };
    o.validate()
        .map_err(|e| anyhow::anyhow!("invalid --vr-screen-deg: {e}"))?;
    Ok(o)
}

/// [`run`] with the model already loaded.
pub async fn run_with(args: ConvertArgs, loaded: LoadedModel) -> anyhow::Result<ConvertSummary> {
    let params = stereo_params(&args)?;
    let layout_options = layout_options(&args)?;
    if !(args.segment_seconds.is_finite() && (0.5..=3600.0).contains(&args.segment_seconds)) {
        anyhow::bail!("--segment-seconds must be between 0.5 and 3600");
    }
    if args.crf > 51 {
        anyhow::bail!("--crf must be 0..51");
    }
    let trim = TrimRange::new(args.start, args.end).map_err(anyhow::Error::msg)?;
    if trim.is_some() && (args.export_depth.is_some() || args.depth.is_some()) {
        // A depth file belongs to a whole input (its sidecar names the file and frame count).
        anyhow::bail!("--export-depth/--depth apply to a whole video, not with --start/--end");
    }
    let workdir = args.workdir.clone().unwrap_or_else(default_workdir);
    let LoadedModel {
        factory,
        model,
        profile,
    } = loaded;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let settings = Settings {
        segment_seconds: args.segment_seconds,
        stereo: StereoSettings {
            layout: args.layout,
            params,
            layout_options,
            encode: EncodeSettings {
                preset: args.preset.clone(),
                crf: args.crf,
                codec: args.output_codec,
                pix_fmt: args.pix_fmt,
            },
            depth_window: args.depth_smoothing,
            keep_depth: args.export_depth.is_some(),
        },
        job_salt: fingerprint(&args, model.as_deref(), profile.as_deref()),
        ..Settings::default()
    };
    let mut settings = settings;
    if args.depth.is_some() {
        // A depth file is read in one pass: the film is rendered as one segment.
        settings.segment_seconds = 1e9;
    }
    let export_depth = args
        .export_depth
        .clone()
        .map(|p| (p, model_label(model.as_deref(), profile.as_deref())));
    let opts = ConvertOptions {
        input: args.input.clone(),
        output: args.output.clone(),
        workdir,
        settings,
        // Two segments at once even on 2 cores: one pipeline's start-up and drain overlap the
        // other's steady state (measured: +14% fps on 2 cores, see BENCHMARKS.md).
        concurrency: args.jobs.unwrap_or((cores / 2).clamp(2, 8)),
        depth: factory,
        keep_intermediates: args.keep_intermediates,
        export_depth,
    };
    let progress = Arc::new(ConsoleProgress::new(
        std::io::stderr().is_terminal(),
        args.quiet,
    ));
    let result = match trim {
        Some(range) => convert_range(opts, range, progress.clone()).await,
        None => convert(opts, progress.clone()).await,
    };
    progress.finish();
    let summary = result?;
    if let Some(line) = dropped_warning(&summary.dropped) {
        eprintln!("{line}");
    }
    Ok(summary)
}

/// `--start` / `--end` values (clap shows the reason with the option name).
fn parse_time_arg(s: &str) -> Result<f64, String> {
    parse_time(s)
}

/// `--model` and `--model-profile` as the factory takes them: a path stays a path (as before);
/// a value that is not a file and looks like a name (no `/`, no extension) is a registry model,
/// resolved to its downloaded file in `models_dir` and, unless `--model-profile` is given, its
/// profile. Unknown names list the known ones; a known name not fetched yet says how to fetch it.
pub fn resolve_model(
    model: Option<&Path>,
    profile: Option<&str>,
    models_dir: &Path,
) -> Result<(Option<PathBuf>, Option<String>), catalog::CatalogError> {
    let profile = profile.map(str::to_string);
    let Some(model) = model else {
        return Ok((None, profile));
    };
    match model.to_str() {
        Some(name) if !model.exists() && catalog::looks_like_name(name) => {
            let resolved = catalog::resolve(name, models_dir)?;
            let profile = profile.or_else(|| Some(resolved.entry.profile.to_string()));
            Ok((Some(resolved.path), profile))
        }
        _ => Ok((Some(model.to_path_buf()), profile)),
    }
}

/// The one warning line for what the output does not carry (None when it carries everything).
pub fn dropped_warning(dropped: &[String]) -> Option<String> {
    (!dropped.is_empty()).then(|| {
        format!(
            "warning: the 3D output does not carry everything of the input: {}",
            dropped.join("; ")
        )
    })
}

/// The depth file of `--depth`, checked against the input before anything runs: its sidecar
/// must name this input (size and sampled SHA-256) and its frame count.
fn depth_file_factory(
    depth: &Path,
    input: &Path,
) -> anyhow::Result<Arc<dyn pipeline_core::ports::DepthEstimatorFactory>> {
    use pipeline_core::depth::depth_file::{DepthFileFactory, DepthSidecar};
    let sidecar = DepthSidecar::read_for(depth)?;
    let info = pipeline_core::media::probe(input)?;
    sidecar.check_matches(depth, input, info.frames)?;
    Ok(Arc::new(DepthFileFactory::new(
        depth.to_path_buf(),
        sidecar,
    )))
}

/// How the sidecar of `--export-depth` names the model.
fn model_label(model: Option<&Path>, profile: Option<&str>) -> String {
    let file = model.map_or_else(
        || "embedded stereospot-cues".to_string(),
        |p| {
            p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        },
    );
    match profile {
        Some(p) => format!("{file} (profile {p})"),
        None => file,
    }
}

#[cfg(test)]
mod tests {
    use super::{dropped_warning, resolve_model};
    use std::path::Path;

    #[test]
    fn model_names_resolve_and_paths_stay_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let models = dir.path();
        assert_eq!(resolve_model(None, None, models), Ok((None, None)));
        let path = Path::new("/m/model.onnx");
        assert_eq!(
            resolve_model(Some(path), Some("midas-small"), models),
            Ok((Some(path.to_path_buf()), Some("midas-small".into())))
        );
        let err = resolve_model(Some(Path::new("midas-small")), None, models)
            .expect_err("not fetched")
            .to_string();
        assert!(err.contains("stereospot models fetch midas-small"), "{err}");
        let err = resolve_model(Some(Path::new("dpt-large")), None, models)
            .expect_err("unknown")
            .to_string();
        assert!(
            err.contains("depth-anything-v2-small, midas-small"),
            "{err}"
        );
        let file = models.join("depth-anything-v2-small.onnx");
        std::fs::write(&file, b"onnx").expect("write");
        assert_eq!(
            resolve_model(Some(Path::new("depth-anything-v2-small")), None, models),
            Ok((Some(file.clone()), Some("depth-anything-v2".into())))
        );
        assert_eq!(
            resolve_model(
                Some(Path::new("depth-anything-v2-small")),
                Some("stereospot-cues"),
                models
            ),
            Ok((Some(file), Some("stereospot-cues".into())))
        );
    }

    #[test]
    fn layout_options_change_the_job_only_where_they_change_the_picture() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            a: super::ConvertArgs,
        }
        let fp = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["x", "in.mp4", "-o", "o.mp4"], args].concat())
                .expect("args parse");
            super::fingerprint(&cli.a, None, None)
        };
        let base = fp(&["--layout", "anaglyph"]);
        assert_eq!(
            base,
            fp(&["--layout", "anaglyph", "--anaglyph-method", "dubois"])
        );
        assert_ne!(
            base,
            fp(&["--layout", "anaglyph", "--anaglyph-method", "gray"])
        );
        assert_eq!(
            fp(&["--layout", "full-sbs"]),
            fp(&[
                "--layout",
                "full-sbs",
                "--anaglyph-method",
                "gray",
                "--vr-screen-deg",
                "60"
            ])
        );
        assert_ne!(
            fp(&["--layout", "vr180"]),
            fp(&["--layout", "vr180", "--vr-screen-deg", "60"])
        );
    }

    #[test]
    fn one_warning_line_lists_everything_dropped() {
        assert_eq!(dropped_warning(&[]), None);
        let line = dropped_warning(&[
            "attachment 4 (font.ttf): MP4 cannot hold attachments".into(),
            "data track 5 (bin_data): MP4 output carries no data tracks".into(),
        ])
        .unwrap();
        assert_eq!(line.lines().count(), 1);
        assert!(line.starts_with("warning: "));
        assert!(line.contains("font.ttf): MP4 cannot hold attachments; data track 5"));
    }
}
