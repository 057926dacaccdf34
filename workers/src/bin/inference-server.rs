//! `inference-server`: the depth model as a SageMaker-compatible HTTP service (see
//! `docs/inference.md`). SageMaker runs it as `inference-server serve`.
use clap::Parser;
use std::process::ExitCode;
use stereospot_workers::{inference_server, logging};

#[derive(Parser)]
#[command(
    name = "inference-server",
    version,
    about = "Depth inference over HTTP: GET /ping, POST /invocations (SageMaker container contract)"
)]
struct Cli {
    #[command(flatten)]
    args: inference_server::ServerArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init("info");
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(inference_server::run(cli.args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
