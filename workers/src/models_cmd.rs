//! `stereospot models fetch NAME` and `stereospot models list`: the model registry on the
//! command line (`pipeline_core::depth::catalog`), downloads with a progress bar on a terminal
//! and plain lines otherwise.
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipeline_core::depth::catalog::{self, CatalogEntry, MODEL_SHA256_ENV, MODEL_URL_ENV};
use pipeline_core::depth::download::{self, Download, Fetched};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download a model into the models directory and check its pinned SHA-256.
    Fetch(FetchArgs),
    /// The known models: name, size, licence, whether downloaded, path.
    List(DirArgs),
}

#[derive(Debug, Args)]
pub struct DirArgs {
    /// Models go to $STEREOSPOT_MODELS, else WORKDIR/models (WORKDIR: $STEREOSPOT_WORKDIR, else
    /// ~/.cache/stereospot), as `convert --workdir` reads them.
    #[arg(long)]
    pub workdir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Registry name (see `stereospot models list`).
    pub name: String,
    /// Download again even when the file is already there and verified.
    #[arg(long)]
    pub force: bool,
    /// Download from this URL instead (a mirror of the same file; also $STEREOSPOT_MODEL_URL).
    #[arg(long)]
    pub url: Option<String>,
    /// No progress output.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub dir: DirArgs,
}

pub fn run(cmd: ModelsCommand) -> anyhow::Result<()> {
    match cmd {
        ModelsCommand::Fetch(args) => fetch(args),
        ModelsCommand::List(args) => {
            let dir = catalog::models_dir_from_env(args.workdir.as_deref());
            print!("{}", list_table(&dir));
            Ok(())
        }
    }
}

fn fetch(args: FetchArgs) -> anyhow::Result<()> {
    let entry = catalog::lookup(&args.name)?;
    let dir = catalog::models_dir_from_env(args.dir.workdir.as_deref());
    let url = args
        .url
        .or_else(|| std::env::var(MODEL_URL_ENV).ok())
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| entry.url.to_string());
    let dest = entry.path_in(&dir);
    let (sha256, size) = match std::env::var(MODEL_SHA256_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        None => (entry.sha256.to_string(), Some(entry.size)),
        Some(v) => {
            let v = v.trim().to_string();
            if !catalog::is_sha256_hex(&v) {
                anyhow::bail!("{MODEL_SHA256_ENV}={v:?}: expected 64 lowercase hex digits");
            }
            eprintln!(
                "warning: checking against {MODEL_SHA256_ENV} {v} instead of the pinned SHA-256 {}",
                entry.sha256
            );
            (v, None)
        }
    };
    let req = Download {
        url: url.clone(),
        dest: dest.clone(),
        sha256: sha256.clone(),
        size,
        force: args.force,
    };
    let mut display = ByteProgress::new(
        std::io::stderr().is_terminal(),
        args.quiet,
        entry.name,
        &url,
    );
    let result = download::fetch(&req, &mut |done, total| display.update(done, total));
    display.finish();
    let verb = match result? {
        Fetched::AlreadyPresent => "already present, verified",
        Fetched::Downloaded => "downloaded, verified",
        Fetched::Resumed { .. } => "download resumed, verified",
    };
    eprintln!(
        "{}: {verb} (SHA-256 {sha256}) at {}",
        entry.name,
        dest.display()
    );
    eprintln!("use: stereospot convert IN -o OUT --model {}", entry.name);
    Ok(())
}

/// Human size: `99.1 MB`.
pub fn human_size(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Whether a model is in `dir`: `cached`, `missing`, or `cached (N bytes, not the pinned
/// size)` for a file that is not the pinned one (put there by hand or fetched with
/// STEREOSPOT_MODEL_SHA256; `models fetch` replaces it).
pub fn cache_state(entry: &CatalogEntry, dir: &Path) -> String {
    match std::fs::metadata(entry.path_in(dir)) {
        Ok(m) if m.is_file() && m.len() == entry.size => "cached".into(),
        Ok(m) if m.is_file() => format!("cached ({} bytes, not the pinned size)", m.len()),
        Ok(_) => "not a file".into(),
        Err(_) => "missing".into(),
    }
}

/// The `models list` table (one line per model, tab-separated after the header).
pub fn list_table(dir: &Path) -> String {
    let mut out = format!("models directory: {}\n", dir.display());
    out.push_str("NAME\tSIZE\tSTATE\tPROFILE\tLICENSE\tPATH\n");
    for e in catalog::CATALOG {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            e.name,
            human_size(e.size),
            cache_state(e, dir),
            e.profile,
            e.license,
            e.path_in(dir).display()
        ));
    }
    out
}

/// Bytes-done display: an indicatif bar on a terminal, a plain line every 5 s otherwise.
struct ByteProgress {
    bar: Option<ProgressBar>,
    quiet: bool,
    last_line: Option<Instant>,
    started: Instant,
    name: String,
}

impl ByteProgress {
    fn new(interactive: bool, quiet: bool, name: &str, url: &str) -> ByteProgress {
        if !quiet {
            eprintln!("fetching {name} from {url}");
        }
        let bar = (interactive && !quiet).then(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} [{bar:30}] {bytes}/{total_bytes}  {bytes_per_sec}  ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            b.set_style(style);
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        ByteProgress {
            bar,
            quiet,
            last_line: None,
            started: Instant::now(),
            name: name.to_string(),
        }
    }

    fn update(&mut self, done: u64, total: Option<u64>) {
        if let Some(b) = &self.bar {
            if let Some(t) = total {
                b.set_length(t);
            }
            b.set_position(done);
            return;
        }
        if self.quiet {
            return;
        }
        let complete = total == Some(done);
        let due = self
            .last_line
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(5));
        if !(due || complete) {
            return;
        }
        self.last_line = Some(Instant::now());
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-3) / 1e6;
        match total {
            Some(t) if t > 0 => eprintln!(
                "{}: {} of {} ({:.0}%), {rate:.1} MB/s",
                self.name,
                human_size(done),
                human_size(t),
                100.0 * done as f64 / t as f64
            ),
            _ => eprintln!("{}: {}, {rate:.1} MB/s", self.name, human_size(done)),
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
    fn list_shows_state_per_model() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = list_table(dir.path());
        for e in catalog::CATALOG {
            let line = table
                .lines()
                .find(|l| l.starts_with(e.name))
                .unwrap_or_else(|| panic!("{table}"));
            assert!(
                line.contains("\tmissing\t") && line.contains(e.license),
                "{line}"
            );
        }
        let e = &catalog::CATALOG[0];
        std::fs::write(e.path_in(dir.path()), b"short").expect("write");
        assert_eq!(
            cache_state(e, dir.path()),
            "cached (5 bytes, not the pinned size)"
        );
        assert_eq!(human_size(99_060_839), "99.1 MB");
    }
}
