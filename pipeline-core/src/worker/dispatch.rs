//! Which step handles which queue's messages.
use crate::domain::keys::{self, KeyKind};
use crate::domain::JobId;
use crate::events::{parse_s3_message, ObjectCreated, ReassemblyRequest, S3Message};
use crate::ports::ReceivedMessage;
use crate::steps::{self, Context};
use crate::{PipelineError, Result};
use std::fmt;
use tracing::info;

/// The four consumers of the pipeline, one per queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Chunking queue (input/ uploads) -> media-worker.
    Chunk,
    /// Video-worker queue (segments/ chunks) -> video-worker.
    Stereo,
    /// Segment-output queue (jobs/*/segments/*.mp4) -> reassembler.
    Complete,
    /// Reassembly queue (our own requests) -> reassembler.
    Reassemble,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Chunk => "chunk",
            Role::Stereo => "stereo",
            Role::Complete => "complete",
            Role::Reassemble => "reassemble",
        })
    }
}

fn object_events(body: &str) -> Result<Vec<ObjectCreated>> {
    match parse_s3_message(body).map_err(PipelineError::Malformed)? {
        S3Message::TestEvent => {
            info!("s3:TestEvent skipped");
            Ok(Vec::new())
        }
        S3Message::Created(evs) => Ok(evs),
    }
}

/// Test hook, debug builds only: `STEREOSPOT_TEST_PANIC=<role>` (`chunk`, `stereo`, `complete`)
/// makes that role's step panic on every object event, so the fault tests can show a panic is
/// logged, its message released and the job finished by another worker.
fn injected_panic(role: Role) {
    if cfg!(debug_assertions)
        && std::env::var("STEREOSPOT_TEST_PANIC").is_ok_and(|r| r == role.to_string())
    {
        panic!("injected panic (STEREOSPOT_TEST_PANIC={role})");
    }
}

/// Run the step for one message. Errors carry their class (transient, job-permanent or
/// worker-fatal); the message loop decides what follows.
pub async fn handle_message(ctx: &Context, role: Role, msg: &ReceivedMessage) -> Result<()> {
    match role {
        Role::Reassemble => {
            let req = ReassemblyRequest::parse(&msg.body).map_err(PipelineError::Malformed)?;
            steps::reassemble(ctx, &req.job_id).await.map(|_| ())
        }
        _ => {
            for ev in object_events(&msg.body)? {
                injected_panic(role);
                match role {
                    Role::Chunk => steps::chunk(ctx, &ev).await.map(|_| ())?,
                    Role::Stereo => steps::stereo(ctx, &ev).await.map(|_| ())?,
                    Role::Complete => steps::record_completion(ctx, &ev, &msg.id)
                        .await
                        .map(|_| ())?,
                    Role::Reassemble => {}
                }
            }
            Ok(())
        }
    }
}

/// The job a message is about, when it can be told (to fail it after the last retry).
pub fn job_of_message(ctx: &Context, role: Role, body: &str) -> Option<JobId> {
    if role == Role::Reassemble {
        return ReassemblyRequest::parse(body).ok().map(|r| r.job_id);
    }
    let Ok(S3Message::Created(evs)) = parse_s3_message(body) else {
        return None;
    };
    let ev = evs.into_iter().next()?;
    match keys::classify(&ev.key) {
        KeyKind::Input => Some(steps::chunk::job_id_for(ctx, &ev)),
        KeyKind::SourceSegment { job, .. }
        | KeyKind::OutputSegment { job, .. }
        | KeyKind::Final { job } => Some(job),
        KeyKind::Other => None,
    }
}
