//! `stereospot convert`: the cloud's event flow in one process. A directory object store whose
//! puts notify in-process queues, an SQLite job store, and the same consumers the AWS workers
//! run. Resumable: a re-run of the same command reuses the segments already rendered.
use crate::adapters::local::{DirObjectStore, MemQueue, SqliteJobStore};
use crate::domain::TrackKind;
use crate::domain::{keys, JobId, JobStatus};
use crate::events::{s3_notification, ObjectCreated, ReassemblyRequest};
use crate::media::trim::{self, TrimRange};
use crate::media::{count_video_frames, probe};
use crate::ports::{DepthEstimatorFactory, JobStore, ObjectStore, Queue};
use crate::steps::{chunk::job_id_for, Context, Progress, SegmentStats, Settings};
use crate::worker::{run_loop, LoopOptions, OnWorkerFatal, Role};
use crate::{PipelineError, Result};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{info, warn};

pub struct ConvertOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    /// Holds the local buckets, the job database and scratch files (resume state).
    pub workdir: PathBuf,
    pub settings: Settings,
    /// Segments rendered at once.
    pub concurrency: usize,
    pub depth: Arc<dyn DepthEstimatorFactory>,
    /// Keep the job's intermediate files after success (for debugging).
    pub keep_intermediates: bool,
    /// Also write the depth maps to this file (`crate::convert_depth`), with the model's name.
    pub export_depth: Option<(PathBuf, String)>,
}

/// What `--json` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConvertSummary {
    pub job_id: String,
    pub input: String,
    pub output: String,
    pub input_frames: u64,
    pub output_frames: u64,
    pub duration_s: f64,
    pub width: u32,
    pub height: u32,
    pub segments: u32,
    pub segments_reused: u32,
    pub wall_s: f64,
    /// Frames rendered in this run per wall second.
    pub fps: f64,
    pub stages: StageSeconds,
    /// The source's colour as read (`assumed` lists what was untagged and filled by convention).
    pub colour: crate::domain::ColourInfo,
    /// What the 3D video was encoded as.
    pub video: OutputVideo,
    /// What the output does not carry of the input, one line each naming it and why (empty
    /// when everything was carried).
    pub dropped: Vec<String>,
    /// Why depth ran somewhere else than asked (`--device auto` on CPU), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_note: Option<String>,
}

/// Codec, pixel format and stereo signalling of the output video.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutputVideo {
    pub codec: String,
    pub pix_fmt: String,
    pub layout: String,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StageSeconds {
    pub chunk_s: f64,
    /// Busy seconds summed over segments (stages overlap, so these add up to more than wall).
    pub decode_s: f64,
    pub depth_s: f64,
    pub render_s: f64,
    pub encode_s: f64,
    pub reassemble_s: f64,
}

/// Collects per-segment stats from the stereo consumer for the summary.
struct Tap {
    inner: Arc<dyn Progress>,
    stats: Mutex<SegmentStats>,
}

impl Progress for Tap {
    fn frames_rendered(&self, job: &JobId, segment: u32, frames: u64) {
        self.inner.frames_rendered(job, segment, frames);
    }
    fn segment_rendered(&self, job: &JobId, segment: u32, stats: &SegmentStats) {
        if let Ok(mut s) = self.stats.lock() {
            s.add(stats);
        }
        self.inner.segment_rendered(job, segment, stats);
    }
    fn planned(&self, job: &JobId, segments: u32, frames: u64, done: u64) {
        self.inner.planned(job, segments, frames, done);
    }
    fn phase(&self, name: &str) {
        self.inner.phase(name);
    }
    /// Not logged here: the summary lists them and the CLI prints them once.
    fn dropped(&self, _job: &JobId, _lines: &[String]) {}
}

pub(crate) fn check_output_writable(output: &Path, input: &Path) -> Result<PathBuf> {
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let shown = output.display();
    if output.is_dir() {
        return Err(PipelineError::bad_input(
            &shown,
            "output path is a directory",
        ));
    }
    if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize()) {
        if a == b {
            return Err(PipelineError::bad_input(
                &shown,
                "output would overwrite the input",
            ));
        }
    }
    if !parent.is_dir() {
        return Err(PipelineError::bad_input(
            &shown,
            format!("output directory {} does not exist", parent.display()),
        ));
    }
    tempfile::NamedTempFile::new_in(&parent).map_err(|e| {
        PipelineError::bad_input(&shown, format!("output directory is not writable ({e})"))
    })?;
    Ok(parent)
}

/// Run the whole conversion. Errors are one line: the file and the reason.
pub async fn convert(
    mut opts: ConvertOptions,
    progress: Arc<dyn Progress>,
) -> Result<ConvertSummary> {
    let started = Instant::now();
    opts.settings.stereo.keep_depth |= opts.export_depth.is_some();
    // ffmpeg runs with paths inside the workdir: make it absolute once.
    opts.workdir =
        std::path::absolute(&opts.workdir).map_err(|e| PipelineError::io(&opts.workdir, e))?;
    let out_dir = check_output_writable(&opts.output, &opts.input)?;
    let meta = std::fs::metadata(&opts.input).map_err(|e| {
        PipelineError::bad_input(opts.input.display(), format!("cannot read input: {e}"))
    })?;
    if !meta.is_file() {
        return Err(PipelineError::bad_input(
            opts.input.display(),
            "not a regular file",
        ));
    }
    let file_name = opts
        .input
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("input.mp4")
        .replace('/', "_");

    let buckets = opts.workdir.join("buckets");
    let chunk_q = Arc::new(MemQueue::new("chunking"));
    let video_q = Arc::new(MemQueue::new("video-worker"));
    let output_q = Arc::new(MemQueue::new("segment-output"));
    let reassembly_q = Arc::new(MemQueue::new("reassembly"));
    let input_store = Arc::new(
        DirObjectStore::new(buckets.join("input"), "local-input")?
            .with_notification(keys::INPUT_PREFIX, "", chunk_q.clone())
            .with_notification(keys::SEGMENTS_PREFIX, "", video_q.clone()),
    );
    let output_store = Arc::new(
        DirObjectStore::new(buckets.join("output"), "local-output")?.with_notification(
            keys::JOBS_PREFIX,
            ".mp4",
            output_q.clone(),
        ),
    );
    let jobs = Arc::new(SqliteJobStore::open(&opts.workdir.join("jobs.db"))?);
    let tap = Arc::new(Tap {
        inner: progress.clone(),
        stats: Mutex::new(SegmentStats::default()),
    });
    let ctx = Context {
        input: input_store.clone(),
        output: output_store.clone(),
        jobs: jobs.clone(),
        reassembly_queue: reassembly_q.clone(),
        depth: opts.depth.clone(),
        settings: opts.settings.clone(),
        scratch: opts.workdir.join("scratch"),
        progress: tap.clone(),
    };

    // Upload: the notification queues the chunk step, as S3 would.
    progress.phase("reading input");
    let key = keys::input_key(&file_name);
    input_store.put_file(&key, &opts.input, &[]).await?;
    let head = input_store
        .head(&key)
        .await?
        .ok_or_else(|| PipelineError::State("input vanished".into()))?;
    let ev = ObjectCreated {
        bucket: input_store.bucket().to_string(),
        key: key.clone(),
        etag: head.etag,
        size: head.size,
    };
    let job_id = job_id_for(&ctx, &ev);
    let mut resume = false;
    if let Some(j) = jobs.get_job(&job_id).await? {
        if j.status.is_terminal() {
            // FAILED: try again; COMPLETED: its files were cleaned up, so convert afresh.
            info!(job_id = %job_id, status = %j.status, "previous run finished; starting over");
            cleanup(&ctx, &job_id, None).await;
            jobs.forget_job(&job_id)?;
        } else {
            resume = matches!(j.status, JobStatus::Processing | JobStatus::Reassembling);
        }
    }
    let resumed = jobs.completed_segments(&job_id).await?;
    let reused_frames: u64 = resumed.iter().map(|(_, f)| f).sum();

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let local = LoopOptions {
        concurrency: 1,
        wait: Duration::from_millis(250),
        visibility: Duration::from_secs(600),
        heartbeat: Duration::from_secs(120),
        max_receives: 3,
        retry_base: Duration::from_millis(500),
        grace: Duration::ZERO,
        // No other worker to hand a message to: a worker-fatal error fails the job with its
        // reason, which `drive` reports.
        on_worker_fatal: OnWorkerFatal::FailJob,
    };
    let mut loops = tokio::task::JoinSet::new();
    let consumers: [(Arc<MemQueue>, Role, usize); 4] = [
        (chunk_q.clone(), Role::Chunk, 1),
        (video_q.clone(), Role::Stereo, opts.concurrency.max(1)),
        (output_q.clone(), Role::Complete, 1),
        (reassembly_q.clone(), Role::Reassemble, 1),
    ];
    for (q, role, concurrency) in consumers {
        let o = LoopOptions {
            concurrency,
            ..local.clone()
        };
        loops.spawn(run_loop(
            ctx.clone(),
            q as Arc<dyn Queue>,
            role,
            o,
            stop_rx.clone(),
        ));
    }

    progress.phase("chunking");
    let queues = Queues {
        all: [
            chunk_q.clone(),
            video_q.clone(),
            output_q.clone(),
            reassembly_q.clone(),
        ],
    };
    let result = drive(&ctx, &job_id, &queues, resume, &tap, reused_frames).await;
    let _ = stop_tx.send(true);
    while loops.join_next().await.is_some() {}
    let (final_key, chunk_s, reassemble_s) = result?;

    // Deliver: temporary name in the output directory, then rename.
    progress.phase("writing output");
    let final_path = output_store
        .local_path(&final_key)
        .ok_or_else(|| PipelineError::State(format!("{final_key} missing after completion")))?;
    let tmp = tempfile::Builder::new()
        .prefix(".stereospot-partial-")
        .suffix(".mp4")
        .tempfile_in(&out_dir)
        .map_err(|e| PipelineError::io(&out_dir, e))?;
    std::fs::copy(&final_path, tmp.path()).map_err(|e| PipelineError::io(tmp.path(), e))?;
    tmp.persist(&opts.output)
        .map_err(|e| PipelineError::io(&opts.output, e.error))?;

    let job = jobs
        .get_job(&job_id)
        .await?
        .ok_or_else(|| PipelineError::State("job vanished".into()))?;
    let media = job
        .media
        .clone()
        .ok_or_else(|| PipelineError::State("job without media".into()))?;
    let out_info = tokio::task::spawn_blocking({
        let o = opts.output.clone();
        move || probe(&o)
    })
    .await
    .map_err(|e| PipelineError::State(e.to_string()))??;
    let output_frames = count_video_frames(&opts.output)?;
    if let Some((to, model)) = &opts.export_depth {
        progress.phase("writing depth");
        let export = crate::convert_depth::DepthExport {
            to,
            input: &opts.input,
            model,
            depth_window: opts.settings.stereo.depth_window,
            film: &opts.output,
        };
        let segments = job.segments_total.unwrap_or(0);
        crate::convert_depth::export_depth(&*ctx.output, &job_id, segments, &ctx.scratch, &export)
            .await?;
    }
    if !opts.keep_intermediates {
        cleanup(&ctx, &job_id, Some(&key)).await;
    }
    let stats = *tap
        .stats
        .lock()
        .map_err(|_| PipelineError::State("stats lock".into()))?;
    let wall = started.elapsed().as_secs_f64();
    let rendered = output_frames.saturating_sub(reused_frames);
    Ok(ConvertSummary {
        job_id: job_id.to_string(),
        input: opts.input.display().to_string(),
        output: opts.output.display().to_string(),
        input_frames: media.frames,
        output_frames,
        duration_s: out_info.duration,
        width: out_info.coded_width,
        height: out_info.coded_height,
        segments: job.segments_total.unwrap_or(0),
        segments_reused: resumed.len() as u32,
        colour: media.colour.clone(),
        video: {
            let st = &opts.settings.stereo;
            let f = crate::media::output_format::choose(
                &media,
                st.layout,
                st.encode.codec,
                st.encode.pix_fmt,
            );
            OutputVideo {
                codec: f.codec.name().into(),
                pix_fmt: f.pix_fmt.name().into(),
                layout: st.layout.name().into(),
            }
        },
        wall_s: wall,
        fps: if wall > 0.0 {
            rendered as f64 / wall
        } else {
            0.0
        },
        stages: StageSeconds {
            chunk_s,
            decode_s: stats.decode_s,
            depth_s: stats.depth_s,
            render_s: stats.render_s,
            encode_s: stats.encode_s,
            reassemble_s,
        },
        dropped: media.tracks.dropped.clone(),
        device_note: ctx.depth.device_note(),
    })
}

/// [`convert`] of part of the input (`--start` / `--end`): a lossless, frame-exact trimmed copy
/// ([`crate::media::trim`]) is made in the work directory first and converted like any input.
/// The copy is kept until the conversion succeeds, so a re-run after an interruption reuses it
/// (and the segments already rendered from it). The summary names the user's input.
pub async fn convert_range(
    mut opts: ConvertOptions,
    range: TrimRange,
    progress: Arc<dyn Progress>,
) -> Result<ConvertSummary> {
    let started = Instant::now();
    opts.workdir =
        std::path::absolute(&opts.workdir).map_err(|e| PipelineError::io(&opts.workdir, e))?;
    check_output_writable(&opts.output, &opts.input)?;
    progress.phase("trimming");
    let original = opts.input.clone();
    let dir = opts.workdir.join("trim");
    let (copy, lost) = tokio::task::spawn_blocking({
        let input = original.clone();
        move || trimmed_copy(&input, &dir, range)
    })
    .await
    .map_err(|e| PipelineError::from_join("trim task", e))??;
    let trim_s = started.elapsed().as_secs_f64();
    opts.input = copy.clone();
    let keep = opts.keep_intermediates;
    let mut summary = convert(opts, progress).await?;
    if !keep {
        let _ = std::fs::remove_file(&copy);
    }
    summary.input = original.display().to_string();
    summary.stages.chunk_s += trim_s;
    summary.wall_s += trim_s;
    for line in lost {
        if !summary.dropped.contains(&line) {
            summary.dropped.push(line);
        }
    }
    Ok(summary)
}

/// Make (or reuse) the trimmed copy of `input` in `dir`; also returns what the original has
/// that the output will not carry (its own dropped lines, plus cover art, which the copy
/// leaves out).
fn trimmed_copy(input: &Path, dir: &Path, range: TrimRange) -> Result<(PathBuf, Vec<String>)> {
    use sha2::Digest;
    let info = probe(input)?;
    let times = crate::media::frame_times(input)?;
    let plan =
        trim::plan(&times, range).map_err(|r| PipelineError::bad_input(input.display(), r))?;
    std::fs::create_dir_all(dir).map_err(|e| PipelineError::io(dir, e))?;
    // Named after the input's identity and the range: a re-run finds the same copy.
    let meta = std::fs::metadata(input).map_err(|e| PipelineError::io(input, e))?;
    let mut h = sha2::Sha256::new();
    h.update(
        input
            .canonicalize()
            .unwrap_or_else(|_| input.to_path_buf())
            .as_os_str()
            .as_encoded_bytes(),
    );
    h.update(meta.len().to_le_bytes());
    if let Ok(m) = meta.modified().and_then(|m| {
        m.duration_since(std::time::UNIX_EPOCH)
            .map_err(std::io::Error::other)
    }) {
        h.update(m.as_nanos().to_le_bytes());
    }
    h.update(range.start.to_le_bytes());
    h.update(range.end.unwrap_or(-1.0).to_le_bytes());
    let stem = input
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("input")
        .replace(['/', '.'], "_");
    let name = format!("{stem}.{}.mov", &hex::encode(h.finalize())[..12]);
    let path = dir.join(&name);
    if !path.is_file() {
        let partial = dir.join(format!(".partial-{name}"));
        let made = trim::write_trimmed(input, &partial, &info, &plan);
        if let Err(e) = made {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        std::fs::rename(&partial, &path).map_err(|e| PipelineError::io(&path, e))?;
    }
    let mut lost = info.tracks.dropped.clone();
    for t in info
        .tracks
        .streams
        .iter()
        .filter(|t| t.kind == TrackKind::CoverArt)
    {
        lost.push(format!(
            "cover art {} ({}): not carried through --start/--end",
            t.index, t.codec
        ));
    }
    Ok((path, lost))
}

/// The local queues: chunking, video-worker, segment-output, reassembly.
struct Queues {
    all: [Arc<MemQueue>; 4],
}

/// Wait for the job to finish. A resumed job's unfinished work is announced again: the
/// in-process queues died with the previous process (SQS would still hold those messages).
async fn drive(
    ctx: &Context,
    job_id: &JobId,
    queues: &Queues,
    resume: bool,
    tap: &Arc<Tap>,
    reused_frames: u64,
) -> Result<(String, f64, f64)> {
    let t0 = Instant::now();
    let (mut planned, mut chunk_s, mut join_started) = (false, 0.0, None::<Instant>);
    let mut idle_since: Option<Instant> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Some(job) = ctx.jobs.get_job(job_id).await? else {
            continue; // the chunk consumer has not created it yet
        };
        match job.status {
            JobStatus::Completed => {
                let key = job.output_key.unwrap_or_else(|| keys::final_key(job_id));
                let join_s = join_started
                    .map(|t| t.elapsed().as_secs_f64())
                    .unwrap_or(0.0);
                return Ok((key, chunk_s, join_s));
            }
            JobStatus::Failed => {
                return Err(PipelineError::JobFailed(
                    job.error.unwrap_or_else(|| "job failed".into()),
                ));
            }
            JobStatus::Processing | JobStatus::Reassembling if !planned => {
                planned = true;
                chunk_s = t0.elapsed().as_secs_f64();
                let total = job.segments_total.unwrap_or(0);
                let frames = job.media.as_ref().map(|m| m.frames).unwrap_or(0);
                tap.planned(job_id, total, frames, reused_frames);
                tap.phase("rendering");
                if resume {
                    resume_sweep(ctx, job_id, total, queues).await?;
                }
            }
            JobStatus::Reassembling if join_started.is_none() => {
                join_started = Some(Instant::now());
                tap.phase("joining");
            }
            _ => {}
        }
        // Nothing queued or in flight, yet not finished: a bug, not a reason to hang forever.
        if queues.all.iter().all(|q| q.is_empty()) {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(10) {
                return Err(PipelineError::State(format!(
                    "pipeline stalled with job {job_id} in {}",
                    job.status
                )));
            }
        } else {
            idle_since = None;
        }
    }
}

async fn resume_sweep(ctx: &Context, job_id: &JobId, total: u32, queues: &Queues) -> Result<()> {
    let [_, video_q, output_q, reassembly_q] = &queues.all;
    let done: Vec<u32> = ctx
        .jobs
        .completed_segments(job_id)
        .await?
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    if total > 0 && done.len() as u32 == total {
        reassembly_q
            .send(
                &ReassemblyRequest {
                    job_id: job_id.clone(),
                }
                .to_body(),
            )
            .await?;
        return Ok(());
    }
    let sources = ctx
        .input
        .list(&keys::source_segments_prefix(job_id))
        .await?;
    for i in (0..total).filter(|i| !done.contains(i)) {
        let out_key = keys::output_segment_key(job_id, i);
        if let Some(h) = ctx.output.head(&out_key).await? {
            let ev = ObjectCreated {
                bucket: ctx.output.bucket().into(),
                key: out_key,
                etag: h.etag,
                size: h.size,
            };
            output_q.send(&s3_notification(&ev)).await?;
        } else if let Some(src) = sources.iter().find(|k| {
            keys::classify(k)
                == keys::KeyKind::SourceSegment {
                    job: job_id.clone(),
                    index: i,
                }
        }) {
            let ev = ObjectCreated {
                bucket: ctx.input.bucket().into(),
                key: src.clone(),
                etag: String::new(),
                size: 0,
            };
            video_q.send(&s3_notification(&ev)).await?;
        }
    }
    Ok(())
}

/// Delete a job's objects (and the input copy, when given).
async fn cleanup(ctx: &Context, job_id: &JobId, input_key: Option<&str>) {
    let mut keys_in: Vec<String> = ctx
        .input
        .list(&keys::source_segments_prefix(job_id))
        .await
        .unwrap_or_default();
    keys_in.extend(input_key.map(str::to_string));
    for k in keys_in {
        if let Err(e) = ctx.input.delete(&k).await {
            warn!(key = %k, error = %e, "cleanup");
        }
    }
    for k in ctx
        .output
        .list(&format!("{}{}/", keys::JOBS_PREFIX, job_id))
        .await
        .unwrap_or_default()
    {
        if let Err(e) = ctx.output.delete(&k).await {
            warn!(key = %k, error = %e, "cleanup");
        }
    }
}
