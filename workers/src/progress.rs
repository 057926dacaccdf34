//! Progress display for `convert`: a bar (frames, fps, ETA) on a terminal, plain lines otherwise.
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipeline_core::domain::JobId;
use pipeline_core::steps::Progress;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct ConsoleProgress {
    bar: Option<ProgressBar>,
    done: AtomicU64,
    total: AtomicU64,
    started: Mutex<Option<(Instant, u64)>>,
    last_line: Mutex<Instant>,
    quiet: bool,
}

impl ConsoleProgress {
    /// `interactive`: draw a bar (stderr is a terminal). `quiet`: print nothing.
    pub fn new(interactive: bool, quiet: bool) -> ConsoleProgress {
        let bar = (interactive && !quiet).then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} {msg:14} [{bar:30}] {pos}/{len} frames  {fps}  ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "fps",
                |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.1} fps", s.per_sec());
                },
            )
            .progress_chars("=> ");
            b.set_style(style);
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        ConsoleProgress {
            bar,
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            started: Mutex::new(None),
            last_line: Mutex::new(Instant::now()),
            quiet,
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    fn line(&self, force: bool) {
        if self.quiet || self.bar.is_some() {
            return;
        }
        let Ok(mut last) = self.last_line.lock() else {
            return;
        };
        if !force && last.elapsed() < Duration::from_secs(5) {
            return;
        }
        *last = Instant::now();
        let (done, total) = (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        );
        let rate = self
            .started
            .lock()
            .ok()
            .and_then(|s| *s)
            .map(|(t, base)| done.saturating_sub(base) as f64 / t.elapsed().as_secs_f64().max(1e-3))
            .unwrap_or(0.0);
        let eta = if rate > 0.0 {
            format!("{:.0}s", total.saturating_sub(done) as f64 / rate)
        } else {
            "?".into()
        };
        let pct = if total > 0 {
            100.0 * done as f64 / total as f64
        } else {
            0.0
        };
        eprintln!("progress: {done}/{total} frames ({pct:.0}%), {rate:.1} fps, ETA {eta}");
    }
}

impl Progress for ConsoleProgress {
    fn frames_rendered(&self, _job: &JobId, _segment: u32, frames: u64) {
        self.done.fetch_add(frames, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(frames);
        }
        self.line(false);
    }

    fn planned(&self, job: &JobId, segments: u32, frames: u64, frames_done: u64) {
        self.total.store(frames, Ordering::Relaxed);
        self.done.store(frames_done, Ordering::Relaxed);
        if let Ok(mut s) = self.started.lock() {
            *s = Some((Instant::now(), frames_done));
        }
        if let Some(b) = &self.bar {
            b.set_length(frames);
            b.set_position(frames_done);
            b.reset_eta();
        } else if !self.quiet {
            let resumed = if frames_done > 0 {
                format!(", resuming with {frames_done} frames done")
            } else {
                String::new()
            };
            eprintln!("job {job}: {frames} frames in {segments} segment(s){resumed}");
        }
    }

    fn phase(&self, name: &str) {
        if let Some(b) = &self.bar {
            b.set_message(name.to_string());
        } else if !self.quiet {
            if name == "joining" || name == "writing output" {
                self.line(true);
            }
            eprintln!("{name}...");
        }
    }
}
