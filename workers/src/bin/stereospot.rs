//! `stereospot`: convert a 2D video to 3D on this machine, no cloud needed.
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use stereospot_workers::{convert_cmd, logging, models_cmd};

#[derive(Parser)]
#[command(name = "stereospot", version, about = "2D-to-3D video conversion")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert INPUT to a stereo 3D video.
    Convert(convert_cmd::ConvertArgs),
    /// Download and list learned depth models (`convert --model NAME` then uses them).
    #[command(subcommand)]
    Models(models_cmd::ModelsCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Progress has its own display (bar or plain lines); logs show warnings unless RUST_LOG asks.
    logging::init("warn");
    match cli.command {
        Command::Models(cmd) => match models_cmd::run(cmd) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Convert(args) => convert(args),
    }
}

fn convert(args: convert_cmd::ConvertArgs) -> ExitCode {
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
    let json = args.json;
    match rt.block_on(convert_cmd::run(args)) {
        Ok(summary) => {
            if json {
                println!("{}", serde_json::to_string(&summary).unwrap_or_default());
            } else {
                eprintln!(
                    "wrote {} ({} frames, {}x{}, {:.2} s) in {:.1} s ({:.1} fps)",
                    summary.output,
                    summary.output_frames,
                    summary.width,
                    summary.height,
                    summary.duration_s,
                    summary.wall_s,
                    summary.fps
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
