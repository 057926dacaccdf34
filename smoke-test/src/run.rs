//! `smoke-test run`: upload a video as a user would, follow its job in DynamoDB, download the
//! result and verify it with ffprobe against the input.
use anyhow::{anyhow, bail, Context as _, Result};
use aws_config::SdkConfig;
use pipeline_core::adapters::aws::{AwsResources, DynamoJobStore, S3Store};
use pipeline_core::domain::{keys, JobId, JobRecord, JobStatus};
use pipeline_core::media::probe;
use pipeline_core::ports::{JobStore, ObjectStore};
use pipeline_core::stereo::Layout;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Give up (exit 1) when the job is not finished after this long.
    pub timeout: Duration,
    /// How often the job record is read.
    pub poll: Duration,
    /// The layout the workers are configured for (decides the expected output size).
    pub layout: Layout,
    /// Keep the downloaded `final.mp4` here (otherwise it is deleted after verification).
    pub keep_final: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            timeout: Duration::from_secs(900),
            poll: Duration::from_secs(1),
            layout: Layout::FullSbs,
            keep_final: None,
        }
    }
}

/// What ffprobe says about a video, reduced to what the verification compares.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaFacts {
    /// Frames of the first video stream, counted by decoding (`-count_frames`).
    pub frames: u64,
    /// Duration of the video stream in seconds.
    pub duration: f64,
    pub fps: f64,
    /// Coded size of the video stream.
    pub coded: (u32, u32),
    /// Display size (rotation and pixel aspect applied).
    pub display: (u32, u32),
    pub audio: bool,
}

/// Probe `path` (a readable video, or a one-line error naming it).
pub fn media_facts(path: &Path) -> Result<MediaFacts> {
    let info = probe(path).map_err(|e| anyhow!("{e}"))?;
    Ok(MediaFacts {
        frames: decoded_frames(path)?,
        duration: info.duration,
        fps: info.fps(),
        coded: (info.coded_width, info.coded_height),
        display: info.display_size(),
        audio: info.audio.is_some(),
    })
}

/// Frames of the first video stream, by decoding them all.
pub fn decoded_frames(path: &Path) -> Result<u64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .context("cannot run ffprobe")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "ffprobe {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    text.trim().trim_end_matches(',').parse().map_err(|_| {
        anyhow!(
            "ffprobe gave no frame count for {}: {text:?}",
            path.display()
        )
    })
}

/// Compare the delivered video with the input. `Err` is a one-line reason.
pub fn verify(input: &MediaFacts, output: &MediaFacts, layout: Layout) -> Result<(), String> {
    if output.frames != input.frames {
        return Err(format!(
            "final.mp4 has {} frames, the input {}",
            output.frames, input.frames
        ));
    }
    let frame = if input.fps > 0.0 {
        1.0 / input.fps
    } else {
        0.0
    };
    if (output.duration - input.duration).abs() > frame + 1e-3 {
        return Err(format!(
            "final.mp4 lasts {:.3} s, the input {:.3} s (more than one frame apart)",
            output.duration, input.duration
        ));
    }
    let expected = layout.output_size(input.display.0, input.display.1);
    if output.coded != expected {
        return Err(format!(
            "final.mp4 is {}x{}, expected {}x{} ({layout} of {}x{})",
            output.coded.0,
            output.coded.1,
            expected.0,
            expected.1,
            input.display.0,
            input.display.1
        ));
    }
    if output.audio != input.audio {
        return Err(if input.audio {
            "final.mp4 has no audio, the input has".to_string()
        } else {
            "final.mp4 has audio, the input has none".to_string()
        });
    }
    Ok(())
}

/// An uploaded input and the job it will become.
#[derive(Debug, Clone)]
pub struct Upload {
    pub key: String,
    pub job_id: JobId,
    pub input: MediaFacts,
}

/// `input/<name>-<unix ms>.mp4`: a new key per run (a new job even for the same file).
pub fn unique_input_key(path: &Path) -> String {
    let stem: String = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let stem = if stem.is_empty() {
        "video".into()
    } else {
        stem
    };
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    keys::input_key(&format!("{stem}-{ms}.mp4"))
}

/// Probe `input` (it must be a video: the result is compared with it), upload it under a
/// unique key and compute its job id the way the media-worker does.
pub async fn upload(conf: &SdkConfig, res: &AwsResources, input: &Path) -> Result<Upload> {
    let facts = {
        let p = input.to_path_buf();
        tokio::task::spawn_blocking(move || media_facts(&p)).await??
    };
    upload_as(conf, res, input, &unique_input_key(input), facts).await
}

/// Upload any file under `key` (no probing), with `facts` to verify against later.
pub async fn upload_as(
    conf: &SdkConfig,
    res: &AwsResources,
    input: &Path,
    key: &str,
    facts: MediaFacts,
) -> Result<Upload> {
    let store = S3Store::new(conf, &res.input_bucket);
    store
        .put_file(key, input, &[])
        .await
        .map_err(|e| anyhow!("upload {}: {e}", input.display()))?;
    let head = store
        .head(key)
        .await
        .map_err(|e| anyhow!("head s3://{}/{key}: {e}", res.input_bucket))?
        .ok_or_else(|| anyhow!("s3://{}/{key} missing right after upload", res.input_bucket))?;
    // The cloud's job salt is "": the id depends on the object alone.
    let job_id = JobId::derive(&res.input_bucket, key, &head.etag, "");
    Ok(Upload {
        key: key.to_string(),
        job_id,
        input: facts,
    })
}

/// A finished job.
#[derive(Debug, Clone)]
pub struct Finished {
    pub job: JobRecord,
    pub elapsed: Duration,
}

fn progress_line(job: &JobRecord) -> String {
    let total = job
        .segments_total
        .map(|t| t.to_string())
        .unwrap_or_else(|| "?".into());
    let frames = job
        .media
        .as_ref()
        .map(|m| m.frames.to_string())
        .unwrap_or_else(|| "?".into());
    format!(
        "job {} {}: segments {}/{total}, frames {}/{frames}",
        job.job_id, job.status, job.segments_done, job.frames_done
    )
}

/// Follow the job until it is COMPLETED (Ok), FAILED, CANCELLED or the timeout passes (Err, one
/// line).
/// `on_line` gets a progress line whenever the record changes.
pub async fn follow(
    conf: &SdkConfig,
    res: &AwsResources,
    job_id: &JobId,
    opts: &RunOptions,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<Finished> {
    let jobs = DynamoJobStore::new(
        conf,
        &res.jobs_table,
        &res.segment_completions_table,
        &res.reassembly_triggered_table,
    );
    let started = Instant::now();
    let mut last = String::new();
    let mut status = "not created yet".to_string();
    loop {
        match jobs.get_job(job_id).await {
            Ok(Some(job)) => {
                status = job.status.to_string();
                let line = progress_line(&job);
                if line != last {
                    on_line(&format!(
                        "[{:6.1}s] {line}",
                        started.elapsed().as_secs_f64()
                    ));
                    last = line;
                }
                match job.status {
                    JobStatus::Completed => {
                        return Ok(Finished {
                            job,
                            elapsed: started.elapsed(),
                        })
                    }
                    JobStatus::Failed => bail!(
                        "job {job_id} FAILED: {}",
                        job.error.as_deref().unwrap_or("(no reason recorded)")
                    ),
                    JobStatus::Cancelled => {
                        bail!("job {job_id} was CANCELLED (through the web UI or its API)")
                    }
                    _ => {}
                }
            }
            Ok(None) => {}
            // A read can fail transiently: keep following until the timeout.
            Err(e) => on_line(&format!("warning: reading job {job_id}: {e}")),
        }
        if started.elapsed() >= opts.timeout {
            bail!(
                "timed out after {} s in status {status}",
                opts.timeout.as_secs()
            );
        }
        tokio::time::sleep(opts.poll).await;
    }
}

/// The verified result of a run.
#[derive(Debug, Clone)]
pub struct Verified {
    pub job_id: JobId,
    pub input_key: String,
    pub output_key: String,
    pub input: MediaFacts,
    pub output: MediaFacts,
    /// Upload to COMPLETED.
    pub elapsed: Duration,
    /// Where final.mp4 was kept (`RunOptions::keep_final`).
    pub kept: Option<PathBuf>,
}

/// Download the job's `final.mp4` and verify it against the input.
pub async fn download_and_verify(
    conf: &SdkConfig,
    res: &AwsResources,
    up: &Upload,
    finished: &Finished,
    opts: &RunOptions,
) -> Result<Verified> {
    let key = finished
        .job
        .output_key
        .clone()
        .unwrap_or_else(|| keys::final_key(&up.job_id));
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let path = match &opts.keep_final {
        Some(p) => p.clone(),
        None => tmp.path().join("final.mp4"),
    };
    S3Store::new(conf, &res.output_bucket)
        .get_to_file(&key, &path)
        .await
        .map_err(|e| anyhow!("download s3://{}/{key}: {e}", res.output_bucket))?;
    let output = {
        let p = path.clone();
        tokio::task::spawn_blocking(move || media_facts(&p)).await??
    };
    verify(&up.input, &output, opts.layout).map_err(|e| anyhow!("{e}"))?;
    Ok(Verified {
        job_id: up.job_id.clone(),
        input_key: up.key.clone(),
        output_key: key,
        input: up.input.clone(),
        output,
        elapsed: finished.elapsed,
        kept: opts.keep_final.clone(),
    })
}

/// Upload, follow, download, verify.
pub async fn run(
    conf: &SdkConfig,
    res: &AwsResources,
    input: &Path,
    opts: &RunOptions,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<Verified> {
    let up = upload(conf, res, input).await?;
    on_line(&format!(
        "uploaded s3://{}/{} -> job {}",
        res.input_bucket, up.key, up.job_id
    ));
    let finished = follow(conf, res, &up.job_id, opts, on_line).await?;
    download_and_verify(conf, res, &up, &finished, opts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(frames: u64, duration: f64, size: (u32, u32), audio: bool) -> MediaFacts {
        MediaFacts {
            frames,
            duration,
            fps: 24.0,
            coded: size,
            display: size,
            audio,
        }
    }

    #[test]
    fn verification_checks_every_property() {
        let input = facts(144, 6.0, (320, 240), true);
        assert_eq!(
            verify(&input, &facts(144, 6.02, (640, 240), true), Layout::FullSbs),
            Ok(())
        );
        assert_eq!(
            verify(&input, &facts(144, 6.0, (320, 480), true), Layout::FullTb),
            Ok(())
        );
        let e = verify(&input, &facts(143, 6.0, (640, 240), true), Layout::FullSbs).unwrap_err();
        assert!(e.contains("143 frames"), "{e}");
        let e = verify(&input, &facts(144, 6.1, (640, 240), true), Layout::FullSbs).unwrap_err();
        assert!(e.contains("6.100"), "{e}");
        let e = verify(&input, &facts(144, 6.0, (320, 240), true), Layout::FullSbs).unwrap_err();
        assert!(e.contains("expected 640x240"), "{e}");
        let e = verify(&input, &facts(144, 6.0, (640, 240), false), Layout::FullSbs).unwrap_err();
        assert!(e.contains("no audio"), "{e}");
        let silent = facts(144, 6.0, (320, 240), false);
        let e = verify(&silent, &facts(144, 6.0, (640, 240), true), Layout::FullSbs).unwrap_err();
        assert!(e.contains("has audio"), "{e}");
    }

    #[test]
    fn input_keys_are_unique_safe_and_notified() {
        let k = unique_input_key(Path::new("/tmp/my film (1).mov"));
        assert!(k.starts_with("input/my_film__1_-"), "{k}");
        assert!(k.ends_with(".mp4"), "{k}");
        assert_eq!(keys::classify(&k), keys::KeyKind::Input);
        assert!(unique_input_key(Path::new("/")).starts_with("input/video-"));
    }
}
