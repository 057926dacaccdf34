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
