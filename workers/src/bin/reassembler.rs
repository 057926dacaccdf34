//! `reassembler`: consumes the segment-output queue (records each finished segment, and the
//! first to see the last one claims the job's reassembly and queues it) and the reassembly queue
//! (joins the segments with the original audio into `jobs/<job>/final.mp4`), concurrently.
//! Configuration comes from the environment (see `docs/aws.md`); SIGTERM drains and exits 0.
fn main() -> std::process::ExitCode {
    stereospot_workers::aws_worker::main(stereospot_workers::aws_worker::Worker::Reassembler)
}
