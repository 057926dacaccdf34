//! `media-worker`: consumes the chunking queue. Probes each uploaded video, records the job and
//! splits it at keyframes into `segments/<job>/<i>.ts` in the input bucket.
//! Configuration comes from the environment (see `docs/aws.md`); SIGTERM drains and exits 0.
fn main() -> std::process::ExitCode {
    stereospot_workers::aws_worker::main(stereospot_workers::aws_worker::Worker::Media)
}
