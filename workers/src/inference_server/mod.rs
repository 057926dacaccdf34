//! `inference-server`: the depth model behind SageMaker's bring-your-own-container contract
//! (`GET /ping`, `POST /invocations`, port 8080 or `SAGEMAKER_BIND_TO_PORT`, model from
//! `/opt/ml/model`), plus `POST /endpoints/{name}/invocations` so the real SageMaker Runtime SDK
//! can be pointed at it. Wire format: `docs/inference.md`.
//!
//! Built on hyper 1 + hyper-util (already in the dependency tree through the AWS SDK's HTTP
//! client): three routes do not need a framework.
pub mod config;
pub mod pool;
pub mod routes;

use anyhow::Context as _;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use pipeline_core::depth::factory_from_args;
use pool::Pool;
use routes::State;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub use config::{ServerArgs, ServerConfig};

/// Load the model, check it, and create the worker sessions.
pub fn build_state(cfg: &ServerConfig) -> anyhow::Result<Arc<State>> {
    match &cfg.model {
        Some(p) => tracing::info!(model = %p.display(), "loading model"),
        None => tracing::info!(
            "no model file named and none in the model directory: serving the embedded \
             stereospot-cues model"
        ),
    }
    let factory = factory_from_args(
        cfg.model.clone(),
        cfg.profile.as_deref(),
        &cfg.device,
        cfg.batch,
    )?;
    let profile = factory.profile().name.clone();
    let description = factory.describe();
    let pool = Pool::new(Arc::new(factory), cfg.workers, cfg.queue_timeout)?;
    Ok(Arc::new(State {
        pool: Arc::new(pool),
        profile,
        description,
        max_payload: cfg.max_payload,
        body_timeout: cfg.body_timeout,
    }))
}

/// Serve on `listener` until `shutdown` resolves, then stop accepting and give in-flight
/// requests up to `grace` to finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let state = state.clone();
                    let service = service_fn(move |req| routes::handle(state.clone(), req));
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(30))
                        .serve_connection(TokioIo::new(stream), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: no new connections; waiting for in-flight requests");
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(grace) => tracing::warn!(?grace, "grace period over; closing"),
    }
}

/// Resolves on SIGTERM (how ECS and SageMaker stop containers) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}

/// The whole server: load, bind, announce the address on stdout, serve until a signal.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let cfg = ServerConfig::from_args(&args).map_err(anyhow::Error::msg)?;
    let state = tokio::task::spawn_blocking({
        let cfg = cfg.clone();
        move || build_state(&cfg)
    })
    .await
    .context("loading the model")??;
    let listener = TcpListener::bind(cfg.bind)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.bind))?;
    let addr = listener.local_addr().context("listening address")?;
    tracing::info!(%addr, model = %state.description, workers = state.pool.workers(), "inference server ready");
    // One machine-readable line for scripts and tests that start the server on port 0.
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {addr}");
        let _ = out.flush();
    }
    serve(listener, state, shutdown_signal(), cfg.grace).await;
    Ok(())
}
