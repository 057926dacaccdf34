//! Wiring shared by the StereoSpot binaries: logging, progress display, the convert command.
//! The pipeline itself lives in `pipeline-core`; binaries only wire and loop.
pub mod convert_cmd;
pub mod logging;
pub mod progress;
