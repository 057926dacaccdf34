//! Integration tests of the `stereospot` binary (one test target, modules per concern).
//! They run the real ffmpeg and the real ONNX Runtime (ORT_DYLIB_PATH, set by `make test`).
mod bad_input;
mod convert;
mod resume;
mod util;
