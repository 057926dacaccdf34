//! `video-worker`: consumes the video-worker queue. Renders each source segment (depth model,
//! stereo layout) to `jobs/<job>/segments/<i>.mp4` in the output bucket.
//! Configuration comes from the environment (see `docs/aws.md`); SIGTERM drains and exits 0.
fn main() -> std::process::ExitCode {
    stereospot_workers::aws_worker::main(stereospot_workers::aws_worker::Worker::Video)
}
