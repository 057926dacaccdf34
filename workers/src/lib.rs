//! Wiring shared by the StereoSpot binaries: logging, progress display, the convert command.
//! The pipeline itself lives in `pipeline-core`; binaries only wire and loop.
#[cfg(feature = "aws")]
pub mod aws_worker;
pub mod batch;
pub mod convert_cmd;
pub mod inference_server;
pub mod logging;
pub mod models_cmd;
pub mod photo_cmd;
pub mod progress;
#[cfg(feature = "aws")]
pub mod web;
