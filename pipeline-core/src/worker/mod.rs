//! The message loop every consumer runs (local convert and the AWS workers alike): receive,
//! dispatch to a step, heartbeat long work, delete on success or permanent failure, back off on
//! transient failure, give up (and fail the job) on the last allowed receive, drain on shutdown.
pub mod dispatch;
pub mod run_loop;

pub use dispatch::{handle_message, job_of_message, Role};
pub use run_loop::{run_loop, LoopOptions};
