//! `smoke-test`: provision StereoSpot's AWS resources (on AWS, or on a local AWS-protocol server
//! via `AWS_ENDPOINT_URL`) and check a conversion end to end through the deployed workers.
//!
//! Exit codes: 0 success (for `run`: final.mp4 verified), 1 failure with a one-line reason,
//! 2 usage or configuration error (a missing environment variable).
use clap::{Parser, Subcommand};
use pipeline_core::adapters::aws::{load_sdk_config, AwsResources};
use pipeline_core::stereo::Layout;
use smoke_test::provision::{provision, write_env_file, ResourceNames};
use smoke_test::run::{run, RunOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "smoke-test",
    version,
    about = "Provision StereoSpot's AWS resources and check a conversion end to end"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create (or update) the buckets, queues with their dead-letter queues, bucket
    /// notifications and tables; print the workers' environment.
    Provision {
        /// Also write the environment (NAME=value lines) to this file.
        #[arg(long)]
        env_file: Option<PathBuf>,
        /// Prefix of every resource name.
        #[arg(long, default_value = "stereospot-local")]
        prefix: String,
    },
    /// Upload INPUT, follow its job, download jobs/<id>/final.mp4 and verify it with ffprobe.
    /// Reads the resource names from the environment (as the workers do).
    Run {
        /// A video file (uploaded as input/<name>-<time>.mp4).
        input: PathBuf,
        /// Seconds to wait for the job to finish.
        #[arg(long, default_value_t = 900)]
        timeout: u64,
        /// The layout the video-workers produce (decides the expected size).
        #[arg(long, default_value = "full-sbs")]
        expect_layout: Layout,
        /// Keep the downloaded final.mp4 at this path.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
}

/// AWS_ENDPOINT_URL / AWS_REGION, when set, so the env file alone points the workers at the
/// same server and region.
fn endpoint_env() -> Vec<(String, String)> {
    ["AWS_ENDPOINT_URL", "AWS_REGION"]
        .iter()
        .filter_map(|k| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (k.to_string(), v))
        })
        .collect()
}

async fn cmd_provision(env_file: Option<PathBuf>, prefix: String) -> ExitCode {
    let conf = load_sdk_config().await;
    let res = match provision(&conf, &ResourceNames { prefix }).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: provisioning failed: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let extra = endpoint_env();
    for (k, v) in res.to_env_pairs() {
        println!("{k}={v}");
    }
    for (k, v) in &extra {
        println!("{k}={v}");
    }
    if let Some(path) = env_file {
        if let Err(e) = write_env_file(&path, &res, &extra) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}

async fn cmd_run(res: AwsResources, input: PathBuf, opts: RunOptions) -> ExitCode {
    let conf = load_sdk_config().await;
    let mut print = |line: &str| println!("{line}");
    match run(&conf, &res, &input, &opts, &mut print).await {
        Ok(v) => {
            println!(
                "verified s3://{}/{}: {} frames, {:.3} s, {}x{}, audio {} ({:.1} s after upload)",
                res.output_bucket,
                v.output_key,
                v.output.frames,
                v.output.duration,
                v.output.coded.0,
                v.output.coded.1,
                if v.output.audio { "yes" } else { "no" },
                v.elapsed.as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            // One line: join anyhow's context chain.
            let line = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {line}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    match cli.command {
        Cmd::Provision { env_file, prefix } => rt.block_on(cmd_provision(env_file, prefix)),
        Cmd::Run {
            input,
            timeout,
            expect_layout,
            keep,
        } => {
            let res = match AwsResources::from_env() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let opts = RunOptions {
                timeout: Duration::from_secs(timeout),
                layout: expect_layout,
                keep_final: keep,
                ..RunOptions::default()
            };
            rt.block_on(cmd_run(res, input, opts))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn arguments_parse() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "smoke-test",
            "run",
            "a.mp4",
            "--timeout",
            "30",
            "--expect-layout",
            "half-sbs",
        ])
        .unwrap();
        match cli.command {
            Cmd::Run {
                input,
                timeout,
                expect_layout,
                keep,
            } => {
                assert_eq!(input, PathBuf::from("a.mp4"));
                assert_eq!((timeout, expect_layout, keep), (30, Layout::HalfSbs, None));
            }
            _ => panic!("not run"),
        }
        assert!(
            Cli::try_parse_from(["smoke-test", "run", "a.mp4", "--expect-layout", "x"]).is_err()
        );
        let cli = Cli::try_parse_from(["smoke-test", "provision"]).unwrap();
        assert!(
            matches!(cli.command, Cmd::Provision { env_file: None, ref prefix } if prefix == "stereospot-local")
        );
    }
}
