//! The receive loop with bounded concurrency, heartbeats, retries and graceful shutdown.
use super::dispatch::{handle_message, job_of_message, Role};
use crate::ports::{Queue, ReceivedMessage};
use crate::steps::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{error, info, info_span, warn, Instrument};

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
    /// this), and its job marked FAILED.
    pub max_receives: u32,
    /// First retry delay of a transient failure; doubles per receive, capped at 5 minutes.
    pub retry_base: Duration,
    /// After shutdown is signalled, how long in-flight messages may run before being released.
    pub grace: Duration,
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
        }
    }
}

/// Consume `queue` until `shutdown` turns true; returns when in-flight work is finished or
/// released.
pub async fn run_loop(
    ctx: Context,
    queue: Arc<dyn Queue>,
    role: Role,
    opts: LoopOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tasks: JoinSet<()> = JoinSet::new();
    let (release_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    info!(queue = queue.name(), %role, "consumer started");
    loop {
        if *shutdown.borrow() {
            break;
        }
        while tasks.len() >= opts.concurrency.max(1) {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = shutdown.changed() => break,
            }
        }
        if *shutdown.borrow() {
            break;
        }
        let want = opts.concurrency.max(1) - tasks.len();
        let msgs = tokio::select! {
            r = queue.receive(want.min(10), opts.wait) => r,
            _ = shutdown.changed() => break,
        };
        let msgs = match msgs {
            Ok(m) => m,
            Err(e) => {
                warn!(queue = queue.name(), error = %e, "receive failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
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
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!("grace period over: releasing in-flight messages");
        let _ = release_tx.send(());
        while tasks.join_next().await.is_some() {}
    }
}

async fn process(
    ctx: Context,
    queue: Arc<dyn Queue>,
    role: Role,
    opts: LoopOptions,
    msg: ReceivedMessage,
    mut release: tokio::sync::broadcast::Receiver<()>,
) {
    let span = info_span!("message", %role, message_id = %msg.id, receive = msg.receive_count);
    async {
        let work = handle_message(&ctx, role, &msg);
        tokio::pin!(work);
        let mut beat = tokio::time::interval(opts.heartbeat);
        beat.tick().await;
        let result = loop {
            tokio::select! {
                r = &mut work => break Some(r),
                _ = beat.tick() => {
                    if let Err(e) = queue.set_visibility(&msg.receipt, opts.visibility).await {
                        warn!(error = %e, "heartbeat failed");
                    }
                }
                _ = release.recv() => break None,
            }
        };
        match result {
            None => {
                warn!("released unfinished at shutdown");
                let _ = queue.set_visibility(&msg.receipt, Duration::ZERO).await;
            }
            Some(Ok(())) => delete(&*queue, &msg).await,
            Some(Err(e)) if !e.is_transient() => {
                // The step has marked the job FAILED; retrying cannot help: no retry storm.
                error!(error = %e, "permanent failure; message deleted");
                delete(&*queue, &msg).await;
            }
            Some(Err(e)) if msg.receive_count >= opts.max_receives => {
                error!(error = %e, "still failing after {} receives; leaving it to the dead-letter queue", msg.receive_count);
                if let Some(job) = job_of_message(&ctx, role, &msg.body) {
                    let reason = format!("gave up after {} attempts: {e}", msg.receive_count);
                    let _ = ctx.jobs.fail_job(&job, &reason).await;
                }
                let _ = queue.set_visibility(&msg.receipt, Duration::ZERO).await;
            }
            Some(Err(e)) => {
                let delay = opts.retry_base.saturating_mul(1 << msg.receive_count.min(6)).min(Duration::from_secs(300));
                warn!(error = %e, retry_in_s = delay.as_secs(), "transient failure; will retry");
                let _ = queue.set_visibility(&msg.receipt, delay).await;
            }
        }
    }
    .instrument(span)
    .await
}

async fn delete(queue: &dyn Queue, msg: &ReceivedMessage) {
    if let Err(e) = queue.delete(&msg.receipt).await {
        warn!(error = %e, "delete failed; the message will be redelivered and handled idempotently");
    }
}
