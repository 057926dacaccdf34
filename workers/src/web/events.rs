//! `GET /api/jobs/{id}/events`: Server-Sent Events of a job's progress.
//!
//! The server reads the job record every `WEB_EVENTS_POLL_MS` (1 s) and sends an event only when
//! the view changed: `progress` while the job runs, then one `done` (COMPLETED, FAILED or
//! CANCELLED) and the
//! stream ends. Browsers' EventSource reconnects by itself after an end, so clients close it on
//! `done`. Every event's data is the job's JSON view (as `GET /api/jobs/{id}`).
use super::auth::Caller;
use super::error::ApiResult;
use super::jobs_api::{load, parse_id, view_of};
use super::state::AppState;
use super::view::JobView;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use futures_util::Stream;
use pipeline_core::domain::{JobId, JobRecord};
use std::convert::Infallible;
use std::time::Duration;

/// Comment lines keep idle connections open through proxies (the ALB's idle timeout is 60 s).
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// What EventSource waits before reconnecting after a lost connection.
pub const RETRY: Duration = Duration::from_secs(2);

pub const EVENT_PROGRESS: &str = "progress";
pub const EVENT_DONE: &str = "done";
/// Sent when the job record vanished (never "error": EventSource reserves that name for
/// connection failures).
pub const EVENT_MISSING: &str = "missing";

struct Follow {
    st: AppState,
    id: JobId,
    /// Read before the stream started (the 404 check): sent first, without waiting.
    pending: Option<JobRecord>,
    last: Option<String>,
    first: bool,
    finished: bool,
}

/// The event for `view` unless it repeats the last one sent.
fn event_for(f: &mut Follow, view: &JobView) -> Option<Event> {
    let data = serde_json::to_string(&view).unwrap_or_default();
    if f.last.as_deref() == Some(data.as_str()) {
        return None;
    }
    f.last = Some(data.clone());
    let name = if view.status.is_terminal() {
        f.finished = true;
        EVENT_DONE
    } else {
        EVENT_PROGRESS
    };
    let mut ev = Event::default().event(name).data(data);
    if std::mem::take(&mut f.first) {
        ev = ev.retry(RETRY);
    }
    Some(ev)
}

async fn next_event(mut f: Follow) -> Option<(Result<Event, Infallible>, Follow)> {
    if f.finished {
        return None;
    }
    let mut shutdown = f.st.shutdown.clone();
    loop {
        let job = match f.pending.take() {
            Some(j) => j,
            None => {
                tokio::select! {
                    _ = tokio::time::sleep(f.st.cfg.events_poll) => {}
                    // Shutdown (or its sender gone): end the stream so the server can stop.
                    _ = shutdown.wait_for(|stop| *stop) => return None,
                }
                match f.st.jobs.get_job(&f.id).await {
                    Ok(Some(j)) => j,
                    Ok(None) => {
                        f.finished = true;
                        let ev = Event::default().event(EVENT_MISSING).data(
                            r#"{"error":{"code":"not_found","message":"the job disappeared"}}"#,
                        );
                        return Some((Ok(ev), f));
                    }
                    Err(e) => {
                        // A throttled or failed read: try again at the next tick.
                        tracing::warn!(job_id = %f.id, error = %e, "events: reading the job failed");
                        continue;
                    }
                }
            }
        };
        let view = view_of(&f.st, &job).await;
        if let Some(ev) = event_for(&mut f, &view) {
            return Some((Ok(ev), f));
        }
    }
}

pub async fn job_events(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let id = parse_id(id)?;
    // Unknown ids (and other users' jobs) are a plain 404 before any stream starts.
    let job = load(&st, &caller, &id).await?;
    let follow = Follow {
        st,
        id,
        pending: Some(job),
        last: None,
        first: true,
        finished: false,
    };
    let stream = futures_util::stream::unfold(follow, next_event);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
