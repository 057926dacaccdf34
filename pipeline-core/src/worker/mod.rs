//! The message loop every consumer runs (local convert and the AWS workers alike): receive,
//! dispatch to a step, heartbeat long work, and turn the outcome into what happens to the
//! message and the job (delete, back off, fail the job, or release it and stop the worker), drain
//! on shutdown. `preflight` holds the start-up checks of a worker, `sweeper` the stuck-job sweeper.
pub mod dispatch;
pub mod preflight;
pub mod run_loop;
pub mod sweeper;

pub use dispatch::{handle_message, job_of_message, Role};
pub use run_loop::{run_loop, LoopExit, LoopOptions, OnWorkerFatal};
pub use sweeper::{SweepSettings, Sweeper};
