//! `stereospot convert DIR -o OUTDIR [--recursive]`: every image and video in a folder, the
//! output tree mirroring the input tree, one progress bar for the batch, and a summary of the
//! failures at the end (one bad file never stops the batch).
use crate::convert_cmd::{self, ConvertArgs, LoadedModel};
use crate::photo_cmd;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipeline_core::media::image::{extension, is_image};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Video inputs a batch picks up (by extension, case-insensitive).
pub const VIDEO_INPUTS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "m2ts", "mts", "mpg", "mpeg", "wmv", "flv",
    "3gp",
];

/// Exit code of a batch in which some items failed (the others were converted).
pub const EXIT_SOME_FAILED: u8 = 2;

/// One file of the batch and where its 3D version goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub input: PathBuf,
    /// Path relative to the input folder (how the file is named in progress and summary).
    pub rel: PathBuf,
    pub output: PathBuf,
    pub photo: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// Relative to the input folder.
    pub input: String,
    pub reason: String,
}

/// What `--json` prints for a batch.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BatchSummary {
    pub input_dir: String,
    pub output_dir: String,
    pub total: usize,
    pub converted: usize,
    pub failed: Vec<Failure>,
    pub wall_s: f64,
}

/// Output name of a file: videos become `.mp4`, JPEG and PNG keep their format, WebP becomes
/// PNG (photos are written as PNG or JPEG).
fn output_name(path: &Path, photo: bool) -> Option<PathBuf> {
    let stem = path.file_stem()?;
    let lower = extension(path);
    let ext = match (photo, lower.as_deref()) {
        (false, _) => "mp4",
        (true, Some(e @ ("jpg" | "jpeg" | "png"))) => e,
        (true, _) => "png",
    };
    let mut name = stem.to_os_string();
    name.push(".");
    name.push(ext);
    Some(PathBuf::from(name))
}

/// The files of `dir` to convert, sorted, and the ones that cannot be planned (two inputs that
/// would write the same output). Hidden files and folders are skipped, as is `out_dir` when it
/// lies inside `dir`; symlinked folders are not followed.
pub fn plan(
    dir: &Path,
    out_dir: &Path,
    recursive: bool,
) -> std::io::Result<(Vec<Item>, Vec<Failure>)> {
    let skip = out_dir.canonicalize().ok();
    let mut files = Vec::new();
    walk(dir, Path::new(""), recursive, skip.as_deref(), &mut files)?;
    let mut items = Vec::new();
    let mut failures = Vec::new();
    let mut taken: HashMap<PathBuf, PathBuf> = HashMap::new();
    for (input, rel) in files {
        let photo = is_image(&input);
        let Some(name) = output_name(&rel, photo) else {
            continue;
        };
        let out_rel = rel.parent().unwrap_or(Path::new("")).join(name);
        if let Some(first) = taken.get(&out_rel) {
            failures.push(Failure {
                input: rel.display().to_string(),
                reason: format!(
                    "its output {} is already the output of {}",
                    out_rel.display(),
                    first.display()
                ),
            });
            continue;
        }
        taken.insert(out_rel.clone(), rel.clone());
        items.push(Item {
            output: out_dir.join(&out_rel),
            input,
            rel,
            photo,
        });
    }
    Ok((items, failures))
}

fn walk(
    dir: &Path,
    rel: &Path,
    recursive: bool,
    skip: Option<&Path>,
    out: &mut Vec<(PathBuf, PathBuf)>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = e.path();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            if recursive && skip != path.canonicalize().ok().as_deref() {
                walk(&path, &rel.join(&name), recursive, skip, out)?;
            }
            continue;
        }
        let wanted =
            extension(&path).is_some_and(|x| VIDEO_INPUTS.contains(&x.as_str())) || is_image(&path);
        // A symlink to a file counts as that file.
        if wanted && std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            out.push((path, rel.join(&name)));
        }
    }
    Ok(())
}

/// One line: the error chain without the item's own path in front (the summary names it).
fn reason(e: &anyhow::Error, input: &Path) -> String {
    let text = format!("{e:#}").replace('\n', " ");
    let shown = format!("{}: ", input.display());
    text.strip_prefix(&shown).unwrap_or(&text).to_string()
}

/// Convert every item of the folder `args.input` into `args.output`. Errors only when the batch
/// cannot run at all (no such folder, output is a file, no model); failed items are listed in
/// the summary.
pub async fn run(args: ConvertArgs) -> anyhow::Result<BatchSummary> {
    let started = Instant::now();
    let (dir, out_dir) = (args.input.clone(), args.output.clone());
    if out_dir.exists() && !out_dir.is_dir() {
        anyhow::bail!(
            "{}: the output of a folder must be a folder, and this is a file",
            out_dir.display()
        );
    }
    if args.start.is_some() || args.end.is_some() {
        anyhow::bail!("--start/--end apply to one video, not to a folder");
    }
    if args.export_depth.is_some() || args.depth.is_some() {
        anyhow::bail!("--export-depth/--depth apply to one video, not to a folder");
    }
    let (items, mut failed) = plan(&dir, &out_dir, args.recursive)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the folder ({e})", dir.display()))?;
    let total = items.len() + failed.len();
    if total == 0 {
        anyhow::bail!(
            "{}: no images or videos to convert{}",
            dir.display(),
            if args.recursive {
                ""
            } else {
                " (--recursive includes subfolders)"
            }
        );
    }
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot create ({e})", out_dir.display()))?;
    let loaded = convert_cmd::load_model(&args)?;
    let bar = BatchProgress::new(
        std::io::stderr().is_terminal(),
        args.quiet,
        total as u64,
        failed.len() as u64,
    );
    let mut converted = 0;
    for item in &items {
        bar.start(&item.rel);
        let result = convert_one(&args, &loaded, item).await;
        match result {
            Ok(()) => {
                converted += 1;
                bar.done(&item.rel, None);
            }
            Err(e) => {
                let why = reason(&e, &item.input);
                bar.done(&item.rel, Some(&why));
                failed.push(Failure {
                    input: item.rel.display().to_string(),
                    reason: why,
                });
            }
        }
    }
    bar.finish();
    failed.sort_by(|a, b| a.input.cmp(&b.input));
    Ok(BatchSummary {
        input_dir: dir.display().to_string(),
        output_dir: out_dir.display().to_string(),
        total,
        converted,
        failed,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

async fn convert_one(args: &ConvertArgs, loaded: &LoadedModel, item: &Item) -> anyhow::Result<()> {
    if let Some(parent) = item.output.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("{}: cannot create ({e})", parent.display()))?;
    }
    let mut one = args.clone();
    one.input = item.input.clone();
    one.output = item.output.clone();
    one.quiet = true;
    one.json = false;
    if item.photo {
        photo_cmd::run_with(&one, loaded).await?;
    } else {
        convert_cmd::run_with(one, loaded.clone()).await?;
    }
    Ok(())
}

/// The summary lines on stderr: how many were converted, then each failure with its reason.
pub fn summary_lines(s: &BatchSummary) -> Vec<String> {
    let mut lines = vec![format!(
        "converted {} of {} files into {} in {:.1} s{}",
        s.converted,
        s.total,
        s.output_dir,
        s.wall_s,
        if s.failed.is_empty() {
            String::new()
        } else {
            format!("; {} failed:", s.failed.len())
        }
    )];
    lines.extend(
        s.failed
            .iter()
            .map(|f| format!("  failed: {}: {}", f.input, f.reason)),
    );
    lines
}

/// Items done / total: a bar on a terminal, a line per item otherwise.
struct BatchProgress {
    bar: Option<ProgressBar>,
    quiet: bool,
    total: u64,
    done: std::sync::atomic::AtomicU64,
}

impl BatchProgress {
    fn new(interactive: bool, quiet: bool, total: u64, done: u64) -> BatchProgress {
        let bar = (interactive && !quiet).then(|| {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} [{bar:30}] {pos}/{len} files  ETA {eta}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            b.set_style(style);
            b.set_position(done);
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        BatchProgress {
            bar,
            quiet,
            total,
            done: std::sync::atomic::AtomicU64::new(done),
        }
    }

    fn start(&self, rel: &Path) {
        if let Some(b) = &self.bar {
            b.set_message(rel.display().to_string());
        }
    }

    fn done(&self, rel: &Path, failed: Option<&str>) {
        let n = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if let Some(b) = &self.bar {
            if let Some(why) = failed {
                b.println(format!("failed: {}: {why}", rel.display()));
            }
            b.inc(1);
        } else if !self.quiet {
            match failed {
                None => eprintln!("progress: {n}/{} files, {} done", self.total, rel.display()),
                Some(why) => eprintln!(
                    "progress: {n}/{} files, {} failed: {why}",
                    self.total,
                    rel.display()
                ),
            }
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_mirrors_the_tree_skips_hidden_and_reports_clashes() {
        let d = tempfile::tempdir().expect("tempdir");
        let root = d.path().join("in");
        for f in [
            "a.JPG",
            "b.webp",
            "clip.MOV",
            "clip.mkv",
            "notes.txt",
            ".hidden.png",
            "sub/c.png",
            ".git/d.png",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"x").unwrap();
        }
        let out = d.path().join("out");
        let (items, failed) = plan(&root, &out, true).unwrap();
        let got: Vec<(String, String, bool)> = items
            .iter()
            .map(|i| {
                (
                    i.rel.display().to_string(),
                    i.output.strip_prefix(&out).unwrap().display().to_string(),
                    i.photo,
                )
            })
            .collect();
        let want = [
            ("a.JPG", "a.jpg", true),
            ("b.webp", "b.png", true),
            ("clip.MOV", "clip.mp4", false),
            ("sub/c.png", "sub/c.png", true),
        ];
        let want: Vec<(String, String, bool)> = want
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
            .collect();
        assert_eq!(got, want);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].input, "clip.mkv");
        assert!(failed[0].reason.contains("already the output of clip.MOV"));
        let (flat, _) = plan(&root, &out, false).unwrap();
        assert_eq!(flat.len(), 3, "no subfolders without --recursive");
        // An output folder inside the input folder is not converted again.
        let inner = root.join("3d");
        std::fs::create_dir_all(&inner).unwrap();
        std::fs::write(inner.join("old.png"), b"x").unwrap();
        let (items, _) = plan(&root, &inner, true).unwrap();
        assert!(items.iter().all(|i| !i.rel.starts_with("3d")));
    }
}
