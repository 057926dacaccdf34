//! `web-ui`: the JSON job API and the pages, over the same buckets and tables as the workers.
//!
//! It lives in `workers/` (not its own crate) because it shares the workers' AWS wiring
//! (`load_sdk_config`, `AwsResources`, the S3/DynamoDB adapters), the job-id derivation and the
//! environment-variable contract, and one image (`docker/worker.Dockerfile`) carries it. The API
//! is documented in `docs/web-api.md` and `docs/openapi.yaml`.
//!
//! Exit codes: 0 after SIGTERM / Ctrl-C, 2 when the configuration is invalid or the port cannot
//! be bound, 1 when the runtime cannot start.
pub mod auth;
pub mod config;
pub mod control;
pub mod cursor;
pub mod error;
pub mod events;
pub mod jobs_api;
pub mod listing;
pub mod pages;
pub mod preview;
pub mod queue;
pub mod rerender;
pub mod routes;
pub mod state;
pub mod upload_rules;
pub mod uploads;
pub mod view;

use crate::aws_worker::{shutdown_signal, EXIT_STARTUP};
use crate::logging;
use config::WebConfig;
use pipeline_core::adapters::aws::{load_sdk_config, AwsResources};
use state::AppState;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{error, info};

/// How long in-flight requests get after SIGTERM (event streams end at once).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The whole life of the `web-ui` binary.
pub fn main() -> ExitCode {
    let resources = match AwsResources::from_env() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_STARTUP);
        }
    };
    let config = match WebConfig::from_lookup(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_STARTUP);
        }
    };
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
    rt.block_on(serve(resources, config))
}

async fn serve(res: AwsResources, cfg: WebConfig) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(cfg.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", cfg.listen);
            return ExitCode::from(EXIT_STARTUP);
        }
    };
    let sdk = load_sdk_config().await;
    let (stop_tx, stop_rx) = watch::channel(false);
    info!(
        listen = %cfg.listen,
        auth = cfg.auth.name(),
        max_upload_bytes = cfg.max_upload_bytes,
        single_put_max_bytes = cfg.single_put_max_bytes,
        "web-ui started"
    );
    let app = routes::router(AppState::new(&sdk, res, cfg, stop_rx.clone()));
    let mut stopped = stop_rx.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let server = tokio::spawn(async move { server.await });
    // Stop waiting for slow requests SHUTDOWN_GRACE after the signal.
    let deadline = async {
        let _ = stopped.wait_for(|s| *s).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        r = server => match r {
            Ok(Ok(())) => {
                info!("web-ui stopped");
                ExitCode::SUCCESS
            }
            Ok(Err(e)) => {
                error!(error = %e, "server failed");
                ExitCode::FAILURE
            }
            Err(e) => {
                error!(error = %e, "server task panicked");
                ExitCode::FAILURE
            }
        },
        _ = deadline => {
            info!("web-ui stopped (requests cut off after the grace period)");
            ExitCode::SUCCESS
        }
    }
}
