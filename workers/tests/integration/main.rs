//! Integration tests of the `stereospot` binary (one test target, modules per concern).
//! They run the real ffmpeg and the real ONNX Runtime (ORT_DYLIB_PATH, set by `make test`).
#[cfg(feature = "aws")]
mod aws_e2e;
#[cfg(feature = "aws")]
mod aws_faults;
#[cfg(feature = "aws")]
mod aws_retries;
#[cfg(feature = "aws")]
mod aws_support;
#[cfg(feature = "aws")]
mod aws_worker_faults;
mod bad_input;
mod convert;
#[cfg(feature = "aws")]
mod coordination_bench;
mod depth_export;
mod faithful;
mod images;
mod inference;
mod layouts_more;
mod layouts_vr;
mod models;
mod resume;
mod temporal;
#[path = "../../../pipeline-core/tests/support/tools.rs"]
mod tools;
mod tracks;
mod trim;
mod util;
#[cfg(feature = "aws")]
mod web_api;
#[cfg(feature = "aws")]
mod web_control;
#[cfg(feature = "aws")]
mod web_support;
