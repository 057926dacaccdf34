//! The receive loop with bounded concurrency, heartbeats, retries and graceful shutdown. It is
//! the one place that turns an error's class into an outcome (see `crate::error`):
//!
//! | class | message | job |
//! |---|---|---|
//! | transient | visibility set to a backoff delay (it comes back) | untouched; FAILED "gave up after N attempts" on the queue's last receive |
//! | job-permanent | deleted | FAILED once, with the reason |
//! | worker-fatal | released at once (visibility 0) for another worker | untouched (FAILED "gave up" on the last receive); the loop stops and reports [`LoopExit::Fatal`] |
use super::dispatch::{handle_message, job_of_message, Role};
use crate::ports::{Queue, ReceivedMessage};
use crate::steps::Context;
use crate::{ErrorClass, PipelineError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{error, info, info_span, warn, Instrument};

/// What a worker-fatal error does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnWorkerFatal {
    /// Release the message for another worker and stop this loop (the AWS workers: the process
    /// exits non-zero and is replaced).
    StopWorker,
    /// Fail the job like a job-permanent error (the local convert: there is no other worker,
    /// and the user must see the reason).
    FailJob,
}

#[derive(Debug, Clone)]
pub struct LoopOptions {
    /// Messages handled at once.
    pub concurrency: usize,
    /// Long-poll wait (SQS maximum: 20 s).
    pub wait: Duration,
    /// Visibility granted on every heartbeat.
    pub visibility: Duration,
    /// Heartbeat period (well under `visibility`).
    pub heartbeat: Duration,
    /// The receive on which a still-failing message is given up (the queue's DLQ takes it after
    /// this: its redrive `maxReceiveCount`), and its job marked FAILED.
    pub max_receives: u32,
    /// First retry delay of a transient failure; doubles per receive, capped at 5 minutes.
    pub retry_base: Duration,
    /// After shutdown is signalled, how long in-flight messages may run before being released.
    pub grace: Duration,
    pub on_worker_fatal: OnWorkerFatal,
}

impl Default for LoopOptions {
    fn default() -> Self {
        LoopOptions {
            concurrency: 1,
            wait: Duration::from_secs(20),
            visibility: Duration::from_secs(120),
            heartbeat: Duration::from_secs(30),
            max_receives: 4,
            retry_base: Duration::from_secs(5),
            grace: Duration::from_secs(90),
            on_worker_fatal: OnWorkerFatal::StopWorker,
        }
    }
}

/// Why [`run_loop`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoopExit {
    /// Shutdown was signalled; in-flight work finished or was released.
    Stopped,
    /// This worker cannot work (the reason): the message was released, the loop stopped.
    Fatal(String),
}

/// Longest pause between two failed receives (transient errors only).
const MAX_RECEIVE_BACKOFF: Duration = Duration::from_secs(30);

/// Consume `queue` until `shutdown` turns true or a worker-fatal error occurs; returns when
/// in-flight work is finished or released.
pub async fn run_loop(
    ctx: Context,
    queue: Arc<dyn Queue>,
    role: Role,
    opts: LoopOptions,
    mut shutdown: watch::Receiver<bool>,
) -> LoopExit {
    let mut tasks: JoinSet<Option<String>> = JoinSet::new();
    let (release_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut fatal: Option<String> = None;
    let mut failed_receives: u32 = 0;
    info!(queue = queue.name(), %role, "consumer started");
    loop {
        while let Some(r) = tasks.try_join_next() {
            note(&mut fatal, r);
        }
        if *shutdown.borrow() || fatal.is_some() {
            break;
        }
        while tasks.len() >= opts.concurrency.max(1) {
            tokio::select! {
                r = tasks.join_next() => if let Some(r) = r { note(&mut fatal, r) },
                _ = shutdown.changed() => break,
            }
        }
        if *shutdown.borrow() || fatal.is_some() {
            break;
        }
        let want = opts.concurrency.max(1) - tasks.len();
        let msgs = tokio::select! {
            r = queue.receive(want.min(10), opts.wait) => r,
            _ = shutdown.changed() => break,
        };
        let msgs = match msgs {
            Ok(m) => {
                failed_receives = 0;
                m
            }
            Err(e) if e.is_transient() => {
                failed_receives += 1;
                let delay = Duration::from_secs(1)
                    .saturating_mul(1 << failed_receives.min(6))
                    .min(MAX_RECEIVE_BACKOFF);
                warn!(queue = queue.name(), error = %e, retry_in_s = delay.as_secs(), "receive failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            Err(e) => {
                fatal = Some(format!("cannot receive from {}: {e}", queue.name()));
                break;
            }
        };
        for msg in msgs {
            let (ctx, queue, opts) = (ctx.clone(), queue.clone(), opts.clone());
            let release = release_tx.subscribe();
            tasks.spawn(async move { process(ctx, queue, role, opts, msg, release).await });
        }
    }
    info!(
        queue = queue.name(),
        in_flight = tasks.len(),
        "shutting down"
    );
    let drained = tokio::time::timeout(opts.grace, async {
        let mut found = None;
        while let Some(r) = tasks.join_next().await {
            note(&mut found, r);
        }
        found
    })
    .await;
    match drained {
        Ok(found) => fatal = fatal.or(found),
        Err(_) => {
            warn!("grace period over: releasing in-flight messages");
            let _ = release_tx.send(());
            while let Some(r) = tasks.join_next().await {
                note(&mut fatal, r);
            }
        }
    }
    match fatal {
        Some(reason) => {
            error!(queue = queue.name(), %role, reason = %reason, "consumer stopped: worker-fatal error");
            LoopExit::Fatal(reason)
        }
        None => LoopExit::Stopped,
    }
}

/// Record the outcome of a message task: a worker-fatal reason, or a task that itself panicked
/// (never expected: the handler's panics are caught inside it).
fn note(fatal: &mut Option<String>, r: Result<Option<String>, tokio::task::JoinError>) {
    let reason = match r {
        Ok(reason) => reason,
        Err(e) => {
            let e = PipelineError::from_join("message task", e);
            error!(error = %e, "message task failed");
            Some(e.to_string())
        }
    };
    if fatal.is_none() {
        *fatal = reason;
    }
}

/// Aborts a spawned handler when dropped (released at shutdown, or the loop gone).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);
impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Handle one message; returns the reason when the error was worker-fatal (and the loop must
/// stop).
async fn process(
    ctx: Context,
    queue: Arc<dyn Queue>,
    role: Role,
    opts: LoopOptions,
    msg: ReceivedMessage,
    mut release: tokio::sync::broadcast::Receiver<()>,
) -> Option<String> {
    let span = info_span!("message", %role, message_id = %msg.id, receive = msg.receive_count);
    async {
        // The handler runs as its own task so that a panic in it is caught here (logged, the
        // message released) instead of vanishing with the task.
        let handler = {
            let (ctx, msg) = (ctx.clone(), msg.clone());
            tokio::spawn(async move { handle_message(&ctx, role, &msg).await }.in_current_span())
        };
        let mut work = AbortOnDrop(handler);
        let mut beat = tokio::time::interval(opts.heartbeat);
        beat.tick().await;
        let result = loop {
            tokio::select! {
                r = &mut work.0 => break Some(r.unwrap_or_else(|e| Err(PipelineError::from_join("message handler", e)))),
                _ = beat.tick() => {
                    if let Err(e) = queue.set_visibility(&msg.receipt, opts.visibility).await {
                        warn!(error = %e, "heartbeat failed");
                    }
                }
                _ = release.recv() => break None,
            }
        };
        drop(work);
        let e = match result {
            None => {
                warn!("released unfinished at shutdown");
                let _ = queue.set_visibility(&msg.receipt, Duration::ZERO).await;
                return None;
            }
            Some(Ok(())) => {
                delete(&*queue, &msg).await;
                return None;
            }
            Some(Err(e)) => e,
        };
        let last = msg.receive_count >= opts.max_receives;
        match (e.class(), opts.on_worker_fatal) {
            (ErrorClass::WorkerFatal, OnWorkerFatal::StopWorker) => {
                error!(error = %e, class = "worker-fatal", "worker-fatal error: message released for another worker; this worker stops");
                if last {
                    give_up(&ctx, role, &msg, &e).await;
                }
                let _ = queue.set_visibility(&msg.receipt, Duration::ZERO).await;
                Some(e.to_string())
            }
            (ErrorClass::JobPermanent, _) | (ErrorClass::WorkerFatal, OnWorkerFatal::FailJob) => {
                let job = job_of_message(&ctx, role, &msg.body);
                if let Some(job) = &job {
                    let reason = e.to_string();
                    // This line feeds the job-failure alarm (`infra/lib/alarms.ts`).
                    tracing::error!(job_id = %job, reason = %reason, "job failed");
                    if let Err(err) = ctx.jobs.fail_job(job, &reason).await {
                        // Not deleted: the message comes back and the failure is recorded then.
                        warn!(job_id = %job, error = %err, "could not record the failure; the message will return");
                        let _ = queue.set_visibility(&msg.receipt, opts.retry_base).await;
                        return None;
                    }
                }
                error!(error = %e, class = e.class().as_str(), "permanent failure; message deleted");
                delete(&*queue, &msg).await;
                None
            }
            (ErrorClass::Transient, _) if last => {
                give_up(&ctx, role, &msg, &e).await;
                let _ = queue.set_visibility(&msg.receipt, Duration::ZERO).await;
                None
            }
            (ErrorClass::Transient, _) => {
                let delay = opts.retry_base.saturating_mul(1 << msg.receive_count.min(6)).min(Duration::from_secs(300));
                warn!(error = %e, retry_in_s = delay.as_secs(), "transient failure; will retry");
                let _ = queue.set_visibility(&msg.receipt, delay).await;
                None
            }
        }
    }
    .instrument(span)
    .await
}

/// The queue's last receive: fail the job (the DLQ takes the message). The log line feeds the
/// job-failure alarm (`infra/lib/alarms.ts`).
async fn give_up(ctx: &Context, role: Role, msg: &ReceivedMessage, e: &PipelineError) {
    error!(error = %e, "still failing after {} receives; leaving it to the dead-letter queue", msg.receive_count);
    if let Some(job) = job_of_message(ctx, role, &msg.body) {
        let reason = format!("gave up after {} attempts: {e}", msg.receive_count);
        if let Err(err) = ctx.jobs.fail_job(&job, &reason).await {
            warn!(job_id = %job, error = %err, "could not record the failure");
        }
    }
}

async fn delete(queue: &dyn Queue, msg: &ReceivedMessage) {
    if let Err(e) = queue.delete(&msg.receipt).await {
        warn!(error = %e, "delete failed; the message will be redelivered and handled idempotently");
    }
}

#[cfg(test)]
mod tests {
    //! The outcome of each error class, on the local adapters (no processes): a segment whose
    //! depth backend cannot start (worker-fatal) and a completion whose output vanished
    //! (job-permanent).
    use super::*;
    use crate::adapters::local::{DirObjectStore, MemQueue, SqliteJobStore};
    use crate::domain::{keys, JobId, JobRecord, JobStatus};
    use crate::ports::{DepthError, DepthEstimator, DepthEstimatorFactory, JobStore, ObjectStore};
    use crate::steps::{NoProgress, Settings};
    use crate::worker::sweeper::object_created_body;

    struct BrokenRuntime;
    impl DepthEstimatorFactory for BrokenRuntime {
        fn create(&self) -> Result<Box<dyn DepthEstimator>, DepthError> {
            Err(DepthError::Runtime("libonnxruntime.so: cannot open".into()))
        }
    }

    struct Fixture {
        ctx: Context,
        queue: Arc<MemQueue>,
        job: JobId,
        _dir: tempfile::TempDir,
    }

    /// A PROCESSING job of one segment whose source exists (a real 1 s clip) and a message
    /// announcing `key` on the queue.
    async fn fixture(key_of: impl Fn(&JobId) -> String) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let input = DirObjectStore::new(dir.path().join("in"), "in").unwrap();
        let output = DirObjectStore::new(dir.path().join("out"), "out").unwrap();
        let jobs = SqliteJobStore::open(&dir.path().join("jobs.db")).unwrap();
        let job = JobId::derive("in", "input/a.mp4", "e", "");
        jobs.create_job(&JobRecord::new(job.clone(), "in", "input/a.mp4"))
            .await
            .unwrap();
        let clip = dir.path().join("a.mp4");
        let ok = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg("testsrc2=size=64x48:rate=24:duration=1")
            .args(["-c:v", "libx264", "-preset", "ultrafast"])
            .arg(&clip)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ffmpeg (make deps)");
        let media = crate::media::probe(&clip).unwrap();
        jobs.set_chunked(&job, &media, 1).await.unwrap();
        let src = keys::source_segment_key_ext(&job, 0, "ts");
        input.put_file(&src, &clip, &[]).await.unwrap();
        let queue = Arc::new(MemQueue::new("q"));
        queue
            .send(&object_created_body("in", &key_of(&job), "e", 1))
            .await
            .unwrap();
        let ctx = Context {
            input: Arc::new(input),
            output: Arc::new(output),
            jobs: Arc::new(jobs),
            reassembly_queue: Arc::new(MemQueue::new("r")),
            depth: Arc::new(BrokenRuntime),
            settings: Settings::default(),
            scratch: dir.path().join("scratch"),
            progress: Arc::new(NoProgress),
        };
        Fixture {
            ctx,
            queue,
            job,
            _dir: dir,
        }
    }

    fn opts(on_worker_fatal: OnWorkerFatal) -> LoopOptions {
        LoopOptions {
            wait: Duration::from_millis(50),
            grace: Duration::from_secs(5),
            on_worker_fatal,
            ..LoopOptions::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn worker_fatal_releases_the_message_stops_the_loop_and_leaves_the_job() {
        let f = fixture(|j| keys::source_segment_key_ext(j, 0, "ts")).await;
        let (_stop, rx) = watch::channel(false);
        let exit = tokio::time::timeout(
            Duration::from_secs(30),
            run_loop(
                f.ctx.clone(),
                f.queue.clone(),
                Role::Stereo,
                opts(OnWorkerFatal::StopWorker),
                rx,
            ),
        )
        .await
        .expect("the loop stops by itself");
        let LoopExit::Fatal(reason) = exit else {
            panic!("expected a fatal exit, got {exit:?}")
        };
        assert!(reason.contains("cannot open"), "{reason}");
        // Released at once: visible again, for another worker.
        let again = f.queue.receive(1, Duration::ZERO).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].receive_count, 2);
        let job = f.ctx.jobs.get_job(&f.job).await.unwrap().unwrap();
        assert_eq!((job.status, job.error), (JobStatus::Processing, None));
    }

    /// Run the loop on `f`'s queue until its job is FAILED (at most 6 s); the job's error and
    /// how the loop ended once stopped.
    async fn until_failed(
        f: &Fixture,
        role: Role,
        fatal: OnWorkerFatal,
    ) -> (Option<String>, LoopExit) {
        let (stop, rx) = watch::channel(false);
        let lp = tokio::spawn(run_loop(
            f.ctx.clone(),
            f.queue.clone(),
            role,
            opts(fatal),
            rx,
        ));
        let mut failed = None;
        for _ in 0..300 {
            let j = f.ctx.jobs.get_job(&f.job).await.unwrap().unwrap();
            if j.status == JobStatus::Failed {
                failed = j.error;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
        (failed, lp.await.unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn worker_fatal_in_a_local_run_fails_the_job_with_the_reason() {
        let f = fixture(|j| keys::source_segment_key_ext(j, 0, "ts")).await;
        let (failed, exit) = until_failed(&f, Role::Stereo, OnWorkerFatal::FailJob).await;
        assert_eq!(exit, LoopExit::Stopped);
        assert!(failed.is_some_and(|e| e.contains("cannot open")));
        assert!(f.queue.is_empty(), "message deleted");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_vanished_output_fails_the_job_once_and_deletes_the_message() {
        let f = fixture(|j| keys::output_segment_key(j, 0)).await;
        let (failed, exit) = until_failed(&f, Role::Complete, OnWorkerFatal::StopWorker).await;
        assert_eq!(exit, LoopExit::Stopped, "bad data does not stop the worker");
        assert!(failed.is_some_and(|e| e.contains("vanished")));
        assert!(f.queue.is_empty(), "message deleted");
    }
}
