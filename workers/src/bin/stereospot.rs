//! `stereospot`: convert a 2D video to 3D on this machine, no cloud needed.
use clap::{Parser, Subcommand};
use pipeline_core::media::image::is_image;
use std::process::ExitCode;
use stereospot_workers::{batch, convert_cmd, logging, models_cmd, photo_cmd};

#[derive(Parser)]
#[command(name = "stereospot", version, about = "2D-to-3D video conversion")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert INPUT (a video, a photo or a folder of them) to stereo 3D.
    Convert(Box<convert_cmd::ConvertArgs>),
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
        Command::Convert(args) => {
            let args = *args;
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
            if args.input.is_dir() {
                convert_folder(&rt, args)
            } else if is_image(&args.input) {
                convert_photo(&rt, args)
            } else {
                convert(&rt, args)
            }
        }
    }
}

/// A folder: exit 0 when every file converted, 2 when some failed (the summary lists them), 1
/// when the batch could not run.
fn convert_folder(rt: &tokio::runtime::Runtime, args: convert_cmd::ConvertArgs) -> ExitCode {
    let json = args.json;
    match rt.block_on(batch::run(args)) {
        Ok(summary) => {
            for line in batch::summary_lines(&summary) {
                eprintln!("{line}");
            }
            if json {
                println!("{}", serde_json::to_string(&summary).unwrap_or_default());
            }
            if summary.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(batch::EXIT_SOME_FAILED)
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn convert_photo(rt: &tokio::runtime::Runtime, args: convert_cmd::ConvertArgs) -> ExitCode {
    let json = args.json;
    let result = rt.block_on(async {
        let model = convert_cmd::load_model(&args)?;
        photo_cmd::run_with(&args, &model).await
    });
    match result {
        Ok(s) => {
            if json {
                println!("{}", serde_json::to_string(&s).unwrap_or_default());
            } else if !args.quiet {
                eprintln!(
                    "wrote {} ({}x{}, {}-bit) in {:.1} s",
                    s.output, s.width, s.height, s.bits, s.wall_s
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

fn convert(rt: &tokio::runtime::Runtime, args: convert_cmd::ConvertArgs) -> ExitCode {
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
